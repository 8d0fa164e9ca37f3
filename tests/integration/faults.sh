#!/usr/bin/env bash
# Faults in a run's life (issue 16), against the real libvirtd under TCG:
# SIGKILL of `mlvm up` at each phase of its start-up (stopped there by the
# test hook MLVM_TEST_PAUSE_AT), of the monitor and of QEMU. After each:
# ps tells the truth, `mlvm gc` or `mlvm down` leaves no domain, volume,
# monitor, socket, stale record, name or temporary file, and the audit log
# verifies. gc never touches what an up still creates, nor domains of
# another state directory (decoys defined here, never started).
# Elsewhere: a full file system or pool and volumes removed under a run
# (faults-host.sh), libvirtd killed mid-up (faults-libvirtd.sh, on a
# libvirtd of its own so as not to disturb other work on this one).
. "$TOP_SRCDIR/tests/lib.sh"
DATA="$TOP_SRCDIR/tests/data/runs"
. "$TOP_SRCDIR/tests/lib-runs.sh"

upid="" sleeper="" decoys=""
faults_cleanup() {
        # Only what this test started, by the pids it recorded.
        [ -n "$upid" ] && kill -9 "$upid" 2>/dev/null
        [ -n "$sleeper" ] && kill "$sleeper" 2>/dev/null
        for d in $decoys; do $V undefine "$d" >/dev/null 2>&1; done
        cleanup
}
trap faults_cleanup EXIT

runs_setup_minimal

# Decoys: domains of another state directory, and a name with no metadata.
other=fedcba9876543210fedcba9876543210
decoy_xml() {
        printf "<domain type='qemu'><name>%s</name><memory unit='MiB'>64</memory><os><type>hvm</type></os>%s</domain>\n" "$1" "$2"
}
d1="mlvm-faultdecoy-$(printf '%08x' $((RANDOM * 32768 + RANDOM)))"
d2="mlvm-faultbare-$(printf '%08x' $((RANDOM * 32768 + RANDOM)))"
decoy_xml "$d1" "<metadata><mlvm:run xmlns:mlvm='https://mlvm.dev/xmlns/run/1' id='0badc0de' workload='x' kind='model' owner='$other'/></metadata>" > "$tmp/d1.xml"
decoy_xml "$d2" "" > "$tmp/d2.xml"
$V define "$tmp/d1.xml" >/dev/null && decoys="$decoys $d1"
$V define "$tmp/d2.xml" >/dev/null && decoys="$decoys $d2"

# up NAME stopped by the hook at PHASE: sets upid and run.
up_paused() {
        local phase=$1 name=$2 s=""
        up_stopped_at "$phase" "$name"; s=$up_state
        run=$(cat "$MLVM_STATE_DIR/names/$name" 2>/dev/null)
        if [ "$s" = T ] && [ -n "$run" ]; then pass "$phase: up stops there (run $run)"
        else fail "$phase: up stops there" "state: $s" "$(cat "$tmp/up.err")"; fi
}

kill_up() {
        kill -9 "$upid"; wait "$upid" 2>/dev/null; upid=""
}

state_of() { "$MLVM" ps --all --json | json_get /dev/stdin '[r["state"] for r in j if r["run"]=="'"$1"'"][0] if [r for r in j if r["run"]=="'"$1"'"] else "gone"'; }

# Nothing of run $2 left in libvirt or the state dir; $3 "record" if its
# (ended) record may stay as history.
all_clean() {
        local desc=$1 id=$2 left=""
        nothing_left "$desc"
        [ "${3:-}" = record ] || { [ -e "$MLVM_STATE_DIR/runs/$id" ] && left="$left record"; }
        [ -e "$MLVM_STATE_DIR/runs/$id/run.json" ] &&
                case "$(json_get "$MLVM_STATE_DIR/runs/$id/run.json" 'j["state"]')" in starting|ready) left="$left live-record" ;; esac
        left="$left $(find "$MLVM_STATE_DIR" -name control.sock) $(find "$MLVM_STATE_DIR" -name '*.tmp.*')"
        for n in "$MLVM_STATE_DIR"/names/*; do [ -e "$n" ] && [ "$(cat "$n")" = "$id" ] && left="$left name:$n"; done
        left=$(echo $left)
        check_eq "$desc: no record, socket, name or temporary file left" "" "$left"
        check "$desc: the audit log verifies" "$MLVM" audit verify
}

vols_of() { $V vol-list "$pool" | awk '{print $1}' | grep "^mlvm-run-$1-"; }

# --- up killed right after the claim: gc waits for it, then removes the record
up_paused claim data
check_eq "claim: ps says starting while up lives" starting "$(state_of "$run")"
out=$("$MLVM" gc --dry-run)
check_match "claim: gc --dry-run calls the run live" "^live record $run \(an mlvm up or down holds it" "$out"
"$MLVM" -q gc
check_eq "claim: gc leaves the record of a running up" yes "$([ -e "$MLVM_STATE_DIR/runs/$run/run.json" ] && echo yes)"
kill_up
check_eq "claim: ps says failed once up is gone" "failed (monitor gone)" "$(state_of "$run")"
out=$("$MLVM" gc); st=$?
check_eq "claim: gc exits 0" 0 $st
check_match "claim: gc reports the record removed" "^removed record $run \(its monitor is gone, run $run\)$" "$out"
check_match "claim: gc's summary" "^gc: removed 3 \(1 record, 1 name, 1 uid\); 0 live runs kept; [0-9]+ not ours$" "$out"
all_clean "claim" "$run"

# --- up killed after its volumes; a down racing it waits instead of deleting under it
up_paused volumes data
v=$(vols_of "$run")
check_match "volumes: the data disk exists" "^mlvm-run-$run-data-in$" "$v"
"$MLVM" -q gc
check_eq "volumes: gc leaves the volumes of a running up" "$v" "$(vols_of "$run")"
"$MLVM" down data >"$tmp/down.out" 2>&1 &
dpid=$!
sleep 3
check_eq "volumes: down waits for the up that holds the run" yes "$(kill -0 $dpid 2>/dev/null && echo yes)"
check_eq "volumes: and deletes nothing meanwhile" "$v" "$(vols_of "$run")"
kill_up
wait $dpid; st=$?
check_eq "volumes: down exits 0 once up is gone" 0 $st
check_match "volumes: down cleaned it up" "^data: run $run (stopped|cleaned up) in " "$(cat "$tmp/down.out")"
check_eq "volumes: ps --all says failed" failed "$(state_of "$run")"
all_clean "volumes (down)" "$run" record

# --- up killed after the domain started, before the monitor: gc destroys it
up_paused domain data
check_eq "domain: the domain runs" running "$($V domstate "mlvm-data-$run" 2>/dev/null)"
kill_up
check_eq "domain: ps says failed" "failed (monitor gone)" "$(state_of "$run")"
out=$("$MLVM" gc)
check_match "domain: gc destroys the domain" "^removed domain mlvm-data-$run \(its monitor is gone, run $run\)$" "$out"
check_match "domain: and deletes the volume" "^removed volume mlvm-run-$run-data-in " "$out"
all_clean "domain" "$run"
check_match "domain: one audit event lists what gc removed" "\"event\":\"gc\",\"removed\":\[.*\"kind\":\"domain\",\"name\":\"mlvm-data-$run\"" "$(grep "mlvm-data-$run" "$MLVM_STATE_DIR/audit.log")"

# --- up killed after the monitor started: the monitor carries the run on
up_paused monitor idle
kill_up
for _ in $(seq 1 900); do s=$(state_of "$run"); [ "$s" = starting ] || break; sleep 0.2; done
check_eq "monitor: the run still comes up without its up" ready "$(state_of "$run")"
survivors_sandboxed "monitor: up killed"
out=$("$MLVM" gc --dry-run)
check_match "monitor: gc calls it live" "^live record $run \(its monitor and domain run" "$out"
check "monitor: down stops it" "$MLVM" down idle
all_clean "monitor (down)" "$run" record

# --- Ctrl-C during up (SIGINT while stopped after a phase, then let go):
# the run is undone, nothing stays, not even a failed record.
for at in volumes monitor; do
        up_paused "$at" data
        kill -INT "$upid"; kill -CONT "$upid"; wait "$upid"; st=$?; upid=""
        check_eq "Ctrl-C after $at: up exits 1" 1 $st
        check_match "Ctrl-C after $at: says so" "^mlvm: up: interrupted \(Interrupt\): the run is undone" "$(cat "$tmp/up.err")"
        all_clean "Ctrl-C after $at" "$run"
done

# --- the monitor killed
out=$("$MLVM" up idle 2>"$tmp/err"); st=$?
check_eq "monitor killed: up idle" 0 $st
run=$(printf '%s\n' "$out" | sed -n 's/^idle: run \([0-9a-f]*\) .*/\1/p')
mpid=$(json_get "$MLVM_STATE_DIR/runs/$run/run.json" 'j["monitor_pid"]')
if [ -n "$mpid" ] && [ "$(basename "$(readlink "/proc/$mpid/exe")")" = mlvm-monitor ] &&
        tr '\0' ' ' < "/proc/$mpid/cmdline" | grep -q "$MLVM_STATE_DIR $run"; then
        kill -9 "$mpid"; pass "monitor killed: it was this run's monitor"
else fail "monitor killed: it was this run's monitor" "pid: $mpid"; fi
sleep 0.5
check_eq "monitor killed: ps says so" "failed (monitor gone)" "$(state_of "$run")"
out=$("$MLVM" gc)
check_match "monitor killed: gc destroys the domain" "^removed domain mlvm-idle-$run " "$out"
check_match "monitor killed: and removes the socket" "^removed socket runs/$run/control.sock " "$out"
all_clean "monitor killed" "$run"

# --- QEMU killed (the one of this run's domain, by libvirt's pid file)
out=$("$MLVM" up idle 2>"$tmp/err"); st=$?
check_eq "qemu killed: up idle" 0 $st
run=$(printf '%s\n' "$out" | sed -n 's/^idle: run \([0-9a-f]*\) .*/\1/p')
qpid=$(cat "/run/libvirt/qemu/mlvm-idle-$run.pid" 2>/dev/null)
if [ -n "$qpid" ] && tr '\0' ' ' < "/proc/$qpid/cmdline" | grep -q "guest=mlvm-idle-$run"; then
        kill -9 "$qpid"; pass "qemu killed: it was this run's QEMU"
else fail "qemu killed: it was this run's QEMU" "pid: $qpid"; fi
wait_ended "$run"
check_eq "qemu killed: ps --all says failed" failed "$(state_of "$run")"
check_match "qemu killed: and why" "QEMU died" "$(json_get "$MLVM_STATE_DIR/runs/$run/run.json" 'j.get("error")')"
"$MLVM" -q gc
all_clean "qemu killed" "$run" record

# --- temporary files: a dead writer's goes, a live writer's stays
sh -c 'exit 0' & dead=$!; wait $dead
sleep 600 & sleeper=$!
sleep 1.1
: > "$MLVM_STATE_DIR/names/x.tmp.$dead"
: > "$MLVM_STATE_DIR/cache/y.tmp.$sleeper" 2>/dev/null || { mkdir -p "$MLVM_STATE_DIR/cache"; : > "$MLVM_STATE_DIR/cache/y.tmp.$sleeper"; }
out=$("$MLVM" gc)
check_match "tmpfile: a dead writer's goes" "^removed tmpfile names/x.tmp.$dead \(its writer is gone\)$" "$out"
check_eq "tmpfile: a live writer's stays" yes "$([ -e "$MLVM_STATE_DIR/cache/y.tmp.$sleeper" ] && echo yes)"
kill "$sleeper"; wait "$sleeper" 2>/dev/null; sleeper=""
rm -f "$MLVM_STATE_DIR/cache/y.tmp."*

# --- a transport error on the agent channel while libvirt's connection
# stays alive (how libvirtd's death can look before its close callback
# runs), injected once after ready by the test hook
# MLVM_TEST_FAULT=channel-error: the monitor reopens the channel, the
# agent resumes its session, the run stays ready and sandboxed.
cat >> mlvm.yaml <<'EOF'
  ticker:
    <<: *base
    command: ["/bin/sh", "-c", "while sleep 1; do echo tick; done"]
EOF
out=$(MLVM_TEST_FAULT=channel-error "$MLVM" up ticker 2>/dev/null); st=$?
check_eq "channel error: up ticker" 0 $st
run=$(printf '%s\n' "$out" | sed -n 's/^ticker: run \([0-9a-f]*\) .*/\1/p')
mlog="$MLVM_STATE_DIR/runs/$run/monitor.log"
for _ in $(seq 1 600); do grep -qs 'agent resumed the session' "$mlog" && break; sleep 0.2; done
check_match "channel error: the monitor took it for the stream's, not the agent's" "injected transport error.*reopening it" "$(cat "$mlog")"
check_match "channel error: it reopened the channel" "agent channel reopened" "$(cat "$mlog")"
check_match "channel error: the agent resumed its session" "agent resumed the session" "$(cat "$mlog")"
check_eq "channel error: the run is still ready" ready "$(state_of "$run")"
survivors_sandboxed "channel error"
check "channel error: down" "$MLVM" -q down ticker
all_clean "channel error" "$run" record

# --- the pool's whole directory removed under a running run: QEMU keeps
# what it has open; down stops the run and starts the pool again (its
# directory rebuilt), gc finds nothing more, up names the image volume
# that is missing and what to run, setup uploads the stored image again,
# and up works.
out=$("$MLVM" up idle 2>/dev/null); st=$?
check_eq "pool removed: up idle" 0 $st
run=$(printf '%s\n' "$out" | sed -n 's/^idle: run \([0-9a-f]*\) .*/\1/p')
rm -rf "$MLVM_POOL_PATH"
check_match "pool removed: ps tells the run's state" "^idle +$run +(ready|failed)" "$("$MLVM" ps --all)"
survivors_sandboxed "pool removed"
out=$("$MLVM" down idle 2>&1); st=$?
printf '%s\n' "$out" | sed 's/^/# down: /'
check_eq "pool removed: down exits 0" 0 $st
out=$("$MLVM" gc 2>&1); st=$?
printf '%s\n' "$out" | sed 's/^/# gc: /'
check_eq "pool removed: gc exits 0" 0 $st
check_match "pool removed: the pool runs again" "State: +running" "$($V pool-info "$pool")"
check_eq "pool removed: its directory is back" yes "$([ -d "$MLVM_POOL_PATH" ] && echo yes)"
all_clean "pool removed" "$run" record
err=$("$MLVM" up idle 2>&1 | grep -v '^mlvm: up: notice: '); st=$?
check_match "pool removed: up names the missing image volume and what to run" \
        "^mlvm: up: image minimal: part kernel: volume mlvm-img-[0-9a-f]{16}-kernel is not in storage pool $pool \(run 'mlvm setup'" "$err"
check_eq "pool removed: in one line" 1 "$(printf '%s\n' "$err" | wc -l)"
nothing_left "pool removed: the refused up"
check_match "pool removed: setup uploads the stored image's volumes again" \
        "uploaded again from the store: 2$" "$("$MLVM" setup 2>/dev/null)"
check_match "pool removed: a second setup has nothing to upload" "already active$" "$("$MLVM" setup 2>&1)"
check "pool removed: up works again" "$MLVM" -q up idle
check "pool removed: down" "$MLVM" -q down idle
nothing_left "pool removed: at the end"

# --- never another state directory's
out=$("$MLVM" gc --dry-run)
check_match "decoys: called not ours (another state directory)" "^not ours domain $d1 \(another state directory's, run 0badc0de\)$" "$out"
check_match "decoys: called not ours (no metadata)" "^not ours domain $d2 \(no mlvm metadata\)$" "$out"
"$MLVM" gc --json > "$tmp/gc.json"
check_eq "gc --json: nothing left to remove" 0 "$(json_get "$tmp/gc.json" 'j["removed"]')"
check_eq "decoys: both still defined" "$(printf '%s\n' "$d1" "$d2" | sort | tr '\n' ' ')" "$($V list --all --name | grep -x -e "$d1" -e "$d2" | sort | tr '\n' ' ')"
check "the audit log verifies at the end" "$MLVM" audit verify

done_testing
