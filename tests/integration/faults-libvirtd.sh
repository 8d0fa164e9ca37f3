#!/usr/bin/env bash
# libvirtd killed (SIGKILL) and restarted in the middle of `mlvm up`, and
# under a running guest that floods its channel
# (issue 16): up stopped by the test hook MLVM_TEST_PAUSE_AT after its
# volumes, and after the domain started, the daemon killed and started
# again, then up let go on. After each: up ends (ready, or a one-line
# error), ps tells the truth, down and gc leave no domain, volume,
# monitor, socket, record or temporary file, and the audit log verifies.
# The daemon is a second libvirtd this test starts (tests/lib-libvirtd.sh:
# loopback only, its own namespace), so that killing it disturbs nothing
# else on this host; it runs again at the end, until the cleanup stops it.
. "$TOP_SRCDIR/tests/lib.sh"
. "$TOP_SRCDIR/tests/lib-libvirtd.sh"
lvd_test_env mlvm-faults
upid=""
cleanup() {
        [ -n "$upid" ] && kill -9 "$upid" 2>/dev/null
        [ -n "$LVD_PID" ] && for d in $(virsh -q -c "$LVD_URI" list --name 2>/dev/null); do
                virsh -q -c "$LVD_URI" destroy "$d" >/dev/null 2>&1; done
        for p in $(pgrep -f "mlvm-monitor $MLVM_STATE_DIR"); do kill -9 "$p" 2>/dev/null; done
        lvd_stop
        for f in "$tmp"/lvd/ns/run/qemu/*.pid; do [ -f "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null; done
        rm -rf "$tmp"
}
trap cleanup EXIT

lvd_start "$tmp/lvd"; check_eq "second libvirtd answers" 0 $?
export MLVM_CONNECT="$LVD_URI"
V="virsh -q -c $LVD_URI"
check "setup" "$MLVM" setup
"$MLVM" -q image build "$TOP_SRCDIR/images/minimal" 2>"$tmp/build.err"; st=$?
check_eq "the minimal image builds and uploads" 0 $st
[ $st -eq 0 ] || { sed 's/^/# /' "$tmp/build.err"; done_testing; exit 1; }
cp "$TOP_SRCDIR/tests/data/runs/mlvm.yaml" "$tmp/mlvm.yaml"
cp -r "$TOP_SRCDIR/tests/data/runs/datadir" "$tmp/datadir"
cd "$tmp" || exit 1

state_of() { "$MLVM" ps --all --json | json_get /dev/stdin '[r["state"] for r in j if r["run"]=="'"$1"'"][0] if [r for r in j if r["run"]=="'"$1"'"] else "gone"'; }

all_clean() {
        local desc=$1 left="" f doms vols mons
        doms=$($V list --all --name | grep '^mlvm-')
        vols=$($V vol-list "$MLVM_POOL" | awk '{print $1}' | grep '^mlvm-run-')
        mons=$(pgrep -f "mlvm-monitor $MLVM_STATE_DIR")
        check_eq "$desc: no domain, volume or monitor left" "" "$(echo $doms $vols $mons)"
        for f in "$MLVM_STATE_DIR"/runs/*/run.json; do
                [ -e "$f" ] || continue
                case "$(json_get "$f" 'j["state"]')" in starting|ready) left="$left live-record:$f" ;; esac
        done
        left="$left $(find "$MLVM_STATE_DIR" -name control.sock -o -name '*.tmp.*') $(ls "$MLVM_STATE_DIR/names")"
        check_eq "$desc: no live record, socket, name or temporary file left" "" "$(echo $left)"
        check "$desc: the audit log verifies" "$MLVM" audit verify
}

# up NAME stopped at PHASE, libvirtd killed and started again, up let go on.
restart_under_up() {
        local phase=$1 name=$2 s=""
        up_stopped_at "$phase" "$name"; s=$up_state
        run=$(cat "$MLVM_STATE_DIR/names/$name" 2>/dev/null)
        if [ "$s" = T ] && [ -n "$run" ]; then pass "$phase: up stops there (run $run)"
        else fail "$phase: up stops there" "state: $s" "$(cat "$tmp/up.err")"; fi
        kill -9 "$LVD_PID"; wait "$LVD_PID" 2>/dev/null; LVD_PID=
        lvd_start "$tmp/lvd"; check_eq "$phase: libvirtd killed and started again" 0 $?
        kill -CONT "$upid"
        wait "$upid"; upst=$?; upid=""
        uperr=$(grep -v '^mlvm: up: notice: ' "$tmp/up.err")
        printf '%s\n' "$(cat "$tmp/up.out")" "$uperr" | sed "s/^/# $phase: /"
}

for phase in volumes domain; do
        restart_under_up $phase data
        if [ $upst -eq 0 ]; then
                check_eq "$phase: up succeeded: ps says ready" ready "$(state_of "$run")"
        else
                check_eq "$phase: up failed with one line" 1 "$(printf '%s\n' "$uperr" | wc -l)"
                # Failed before the domain: undone whole, no record (run-up.c).
                check_match "$phase: ps says failed, or knows no such run" "^(failed|gone)" "$(state_of "$run")"
        fi
        if [ "$(state_of "$run")" != gone ]; then
                out=$("$MLVM" down data 2>&1); st=$?
                check_eq "$phase: down exits 0" 0 $st
                [ $st -eq 0 ] || printf '%s\n' "$out" | sed 's/^/# down: /'
        fi
        out=$("$MLVM" gc 2>&1); st=$?
        check_eq "$phase: gc exits 0" 0 $st
        printf '%s\n' "$out" | sed 's/^/# gc: /'
        all_clean "$phase"
done

# --- libvirtd killed and started again under a running guest that floods
# its channel with output, three times: the agent's write in flight is
# cut, and the rest of that frame comes first on the next connection (the
# frame gate skips it up to the HELLO, gate.h). The run stays ready and
# resumes its session each time; down then leaves nothing.
cat >> "$tmp/mlvm.yaml" <<'EOF'
  chatty:
    <<: *base
    command: ["/bin/sh", "-c", "yes 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"]
EOF
out=$("$MLVM" up chatty 2>"$tmp/up.err"); st=$?
check_eq "flooding guest: up exits 0" 0 $st
run=$(cat "$MLVM_STATE_DIR/names/chatty" 2>/dev/null)
mlog="$MLVM_STATE_DIR/runs/$run/monitor.log"
for i in 1 2 3; do
        sleep 1
        kill -9 "$LVD_PID"; wait "$LVD_PID" 2>/dev/null; LVD_PID=
        lvd_start "$tmp/lvd"; check_eq "flooding guest, restart $i: libvirtd killed and started again" 0 $?
        for _ in $(seq 1 "${MLVM_TEST_WAIT_S:-120}"); do
                [ "$(grep -c 'agent resumed the session' "$mlog" 2>/dev/null)" -ge $i ] && break
                [ "$(state_of "$run")" = ready ] || break
                sleep 1
        done
        check_eq "flooding guest, restart $i: the agent resumed its session" $i "$(grep -c 'agent resumed the session' "$mlog")"
        check_eq "flooding guest, restart $i: ps says ready" ready "$(state_of "$run")"
        survivors_sandboxed "flooding guest, restart $i"
done
grep -E 'skipped|reopen|reconnect|closed' "$mlog" | sed 's/^/# monitor: /'
out=$("$MLVM" down chatty 2>&1); st=$?
check_eq "flooding guest: down exits 0" 0 $st
[ $st -eq 0 ] || printf '%s\n' "$out" | sed 's/^/# down: /'
all_clean "flooding guest"
check_eq "libvirtd runs at the end" 0 "$($V version >/dev/null 2>&1; echo $?)"

done_testing
