#!/usr/bin/env bash
# A hostile agent on the channel (issue 16): the test agent
# (tests/hostile-agent/evil.c), packed as /init of its own image, turns
# hostile once its run is ready, in the mode the run's env MLVM_EVIL
# names. For each mode the run fails or is contained, the monitor's peak
# memory and CPU time stay under generous caps (its own last line in
# monitor.log, and /proc while it lives), its logs stay under their caps,
# ps, logs and down answer within a deadline, and nothing is left after
# the end: no domain, volume, monitor or socket. An honest run started
# beside the flooding one reaches ready and answers through its published
# port. (Hostile artifact streams are experiments.sh's.)
. "$TOP_SRCDIR/tests/lib.sh"
. "$TOP_SRCDIR/tests/lib-runs.sh"
runs_setup_minimal

RSS_CAP_KB=65536        # the monitor's peak resident set
CPU_CAP_S=60            # its CPU time over a whole hostile run
DEADLINE=30             # ps, logs, down: each answers within this

mkdir -p "$tmp/evil-image"
sed 's/^name minimal$/name minimal-evil/' "$TOP_SRCDIR/images/minimal/recipe" > "$tmp/evil-image/recipe"
cp "$TOP_SRCDIR/images/minimal/kernel.config" "$tmp/evil-image/"
MLVM_AGENT="$TOP_BUILDDIR/guest-agent/mlvm-agent-evil" "$MLVM" -q image build "$tmp/evil-image" 2>"$tmp/evil.err"; st=$?
check_eq "the hostile test image builds (mlvm-agent-evil as /init)" 0 $st
[ $st -eq 0 ] || { sed 's/^/# /' "$tmp/evil.err"; done_testing; exit 1; }
printf 'not-a-real-token' | "$MLVM" -q secret set tok

pc=$(free_port) ph=$(free_port)
cat > mlvm.yaml <<EOF
x-evil: &evil
  image: minimal-evil
  memory: 256M
  command: ["/bin/sh", "-c", "exec sleep 3600"]
  secrets:
    TOKEN: { from: "store:tok", ttl: 10m }
models:
  oversize: { <<: *evil, env: { MLVM_EVIL: oversize } }
  unknown-type: { <<: *evil, env: { MLVM_EVIL: unknown-type } }
  short-body: { <<: *evil, env: { MLVM_EVIL: short-body } }
  half-header: { <<: *evil, env: { MLVM_EVIL: half-header } }
  garbage: { <<: *evil, env: { MLVM_EVIL: garbage } }
  contained:
    <<: *evil
    env: { MLVM_EVIL: contained }
    publish: ["127.0.0.1:$pc:8080"]
  flood: { <<: *evil, env: { MLVM_EVIL: flood } }
  overrun: { <<: *evil, exec: allow, env: { MLVM_EVIL: exec-overrun } }
  honest:
    image: minimal
    memory: 256M
    exec: allow
    command: ["/bin/sh", "-c", "nc -ll -p 8080 -e /bin/sh -c 'echo honest answer'"]
    publish: ["127.0.0.1:$ph:8080"]
EOF

rec() { json_get "$MLVM_STATE_DIR/runs/$1/run.json" "$2" 2>/dev/null; }
run_of() { sed -n "s/^$1: run \([0-9a-f]\{8\}\) .*/\1/p" "$tmp/$1.out"; }
mon_log() { cat "$MLVM_STATE_DIR/runs/$1/monitor.log" 2>/dev/null; }

# The monitor's VmRSS (kB) now, or empty when it is gone.
rss_now() {
        local pid
        pid=$(rec "$1" 'j.get("monitor_pid","")')
        [ -n "$pid" ] && awk '/^VmRSS:/ {print $2}' "/proc/$pid/status" 2>/dev/null
}

# Its cost as it said when it exited; checks both caps, prints them.
check_cost() {   # CASE RUN
        local line kb cpu
        for _ in $(seq 1 150); do
                line=$(mon_log "$2" | sed -n 's/.*monitor exits (peak RSS \([0-9]*\) KiB, CPU \([0-9.]*\) s).*/\1 \2/p')
                [ -n "$line" ] && break
                sleep 0.2
        done
        kb=${line% *} cpu=${line#* }
        if [ -n "$line" ] && [ "$kb" -lt $RSS_CAP_KB ] && awk "BEGIN{exit !($cpu < $CPU_CAP_S)}"; then
                pass "$1: the monitor's peak RSS and CPU stayed bounded ($kb KiB, $cpu s)"
        else
                fail "$1: the monitor's peak RSS and CPU stayed bounded" "caps: $RSS_CAP_KB KiB, $CPU_CAP_S s" "got: ${line:-no exit line}" "$(mon_log "$2" | tail -n 5)"
        fi
        echo "# cost $1: peak RSS $kb KiB, CPU $cpu s"
}

# Its logs under their caps (console 16 MiB, output 64 MiB, monitor.log 1 MiB).
check_logs() {   # CASE RUN
        local d="$MLVM_STATE_DIR/runs/$2" c o m
        c=$(stat -c %s "$d/console.log" 2>/dev/null || echo 0)
        o=$(stat -c %s "$d/output.log" 2>/dev/null || echo 0)
        m=$(stat -c %s "$d/monitor.log" 2>/dev/null || echo 0)
        if [ "$c" -le 16777216 ] && [ "$o" -le 67108864 ] && [ "$m" -le 1048576 ]; then
                pass "$1: logs within their caps (console $c, output $o, monitor $m bytes)"
        else
                fail "$1: logs within their caps" "console $c, output $o, monitor $m bytes"
        fi
}

# Within DEADLINE s and successfully: CMD.
responsive() {   # DESC CMD...
        local desc=$1 st; shift
        timeout $DEADLINE "$@" >"$tmp/resp.out" 2>&1; st=$?
        if [ $st -eq 0 ]; then pass "$desc"; else fail "$desc" "exit $st (124: no answer within $DEADLINE s)" "$(head -c 2000 "$tmp/resp.out")"; fi
}

# Nothing of run RUN is left: its domain, volumes, monitor, control socket.
run_gone() {   # CASE RUN
        local dom vols mon sock pid
        dom=$($V list --all --name | grep -- "-$2\$")
        vols=$($V vol-list "$pool" | awk '{print $1}' | grep "^mlvm-run-$2-")
        pid=$(rec "$2" 'j.get("monitor_pid","")')
        mon=; [ -n "$pid" ] && grep -qs "mlvm-monitor" "/proc/$pid/cmdline" && mon=$pid
        sock=; [ -e "$MLVM_STATE_DIR/runs/$2/control.sock" ] && sock=control.sock
        if [ -z "$dom$vols$mon$sock" ]; then pass "$1: nothing left"; else
                fail "$1: nothing left" "domain: $dom" "volumes: $vols" "monitor: $mon" "socket: $sock"; fi
}

# Wait until run RUN has ended, at most SECS (by the clock, however slow each look is).
ended_within() {   # RUN SECS
        local end=$(($(date +%s) + $2))
        while [ "$(date +%s)" -lt $end ]; do
                case "$(rec "$1" 'j["state"]')" in starting|ready|"") sleep 0.5 ;; *) return 0 ;; esac
        done
        return 1
}

up_bg() { "$MLVM" up "$1" >"$tmp/$1.out" 2>"$tmp/$1.err"; echo $? >"$tmp/$1.st"; }

# --- malformed frames: each run fails, at once or within the frame deadline (15 s).
# All five boot at once; each fails on its own.
for c in oversize unknown-type short-body half-header garbage; do up_bg "$c" & done
wait
declare -A why=(
        [oversize]='bad frame header: .*(too large|cap|length)'
        [unknown-type]='bad frame header: .*type'
        [short-body]='stopped in the middle of a frame'
        [half-header]='stopped in the middle of a frame'
        [garbage]='bad frame header: .*magic'
)
for c in oversize unknown-type short-body half-header garbage; do
        st=$(cat "$tmp/$c.st")
        check_eq "$c: up reaches ready (the agent turns hostile after EXEC)" 0 "$st"
        [ "$st" = 0 ] || { sed 's/^/# /' "$tmp/$c.err"; continue; }
        r=$(run_of "$c")
        ended_within "$r" 90 || fail "$c: the run ended" "still $(rec "$r" 'j["state"]') after 90 s"
        check_eq "$c: the run failed" failed "$(rec "$r" 'j["state"]')"
        check_match "$c: it says why" "${why[$c]}" "$(rec "$r" 'j.get("error","")')"
        check_cost "$c" "$r"
        check_logs "$c" "$r"
        responsive "$c: logs answers" "$MLVM" logs "$r"
        run_gone "$c" "$r"
done

# --- the contained one: replayed and out-of-order reply ids, a storm of
# frames for streams nobody opened, then 100 connections to its published
# port (the cap is 64 open streams), then deaf to CRED_REVOKE and SHUTDOWN.
up_bg contained
check_eq "contained: up reaches ready" 0 "$(cat "$tmp/contained.st")"
r=$(run_of contained)
for _ in $(seq 1 600); do
        grep -qs 'evil: storm sent' "$MLVM_STATE_DIR/runs/$r/output.log" && break
        sleep 0.2
done
check_contains "contained: the agent sent its replays and its storm" "evil: storm sent" "$(cat "$MLVM_STATE_DIR/runs/$r/output.log" 2>/dev/null)"
check_eq "contained: the run is still ready (nothing it said was for a request or stream of ours)" ready "$(rec "$r" 'j["state"]')"
"${PYTHON3:-python3}" - "$pc" > "$tmp/storm.json" <<'PY'
import json, socket, sys, time
port = int(sys.argv[1])
held, refused = [], 0
for i in range(100):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    held.append(s)
time.sleep(3)
for s in held:
    s.setblocking(False)
    try:
        if s.recv(1) == b"":
            refused += 1
    except BlockingIOError:
        pass
    except OSError:
        refused += 1
print(json.dumps({"open": len(held) - refused, "refused": refused}))
PY
check_eq "contained: 64 connections stay open, the other 36 are refused" "64 36" \
        "$(json_get "$tmp/storm.json" '"%d %d" % (j["open"], j["refused"])')"
kb=$(rss_now "$r")
[ -n "$kb" ] && [ "$kb" -lt $RSS_CAP_KB ] && pass "contained: monitor RSS bounded while the streams are held ($kb kB)" ||
        fail "contained: monitor RSS bounded while the streams are held" "VmRSS: ${kb:-gone}"
responsive "contained: ps answers" "$MLVM" ps
responsive "contained: down answers though the agent confirms nothing" "$MLVM" down contained
ended_within "$r" 120
check_eq "contained: stopped" stopped "$(rec "$r" 'j["state"]')"
check_match "contained: the revocation went unconfirmed" "did not confirm the revocation" "$(mon_log "$r")"
check_match "contained: the guest was destroyed after its grace" "did not power off within" "$(mon_log "$r")"
check_match "contained: the host counted the refused connections" "published ports closed \(64 connections, 36 refused\)" "$(mon_log "$r")"
check_eq "contained: the bogus expiries were logged at most five times" 5 "$(mon_log "$r" | grep -c 'ignoring the expiry')"
check_cost contained "$r"
check_logs contained "$r"
run_gone contained "$r"

# --- an exec stream's output far past the credit the host granted (2 MiB
# against 256 KiB): the monitor ends that exec, buffers no more than the
# window, and the run stays ready.
up_bg overrun
check_eq "overrun: up reaches ready" 0 "$(cat "$tmp/overrun.st")"
r=$(run_of overrun)
# The client's stdout is a pipe nobody reads for 10 s, so it gives back no
# more credit than one frame: the agent's 2 MiB are past its window
# whatever the timing (a fast reader would have granted it more as it went).
{ timeout "$DEADLINE" "$MLVM" exec overrun -- cat /dev/zero 2>"$tmp/overrun.err"; echo $? > "$tmp/overrun.rc"; } |
        { sleep 10; cat > "$tmp/overrun.exec"; }
st=$(cat "$tmp/overrun.rc")
check "overrun: the exec fails" test "$st" -ne 0 -a "$st" -ne 124
check_match "overrun: the monitor ended it, saying why" "exec stream [0-9]+: the agent sent [0-9]+ bytes with [0-9]+ of credit" "$(mon_log "$r")"
check "overrun: no more than the window and the credit given back reached the client" \
        test "$(stat -c %s "$tmp/overrun.exec")" -le $((256 * 1024 + 128 * 1024))
check_eq "overrun: the run is still ready" ready "$(rec "$r" 'j["state"]')"
responsive "overrun: down answers" "$MLVM" down overrun
ended_within "$r" 120
check_cost overrun "$r"
run_gone overrun "$r"

# --- a flood of console output and STDIO frames, and an honest run beside it.
up_bg flood &
fpid=$!
up_bg honest
wait $fpid
check_eq "flood: up reaches ready" 0 "$(cat "$tmp/flood.st")"
check_eq "honest: up reaches ready beside the flood" 0 "$(cat "$tmp/honest.st")"
[ "$(cat "$tmp/honest.st")" = 0 ] || sed 's/^/# /' "$tmp/honest.err"
r=$(run_of flood) h=$(run_of honest)
body=$(curl -s --max-time 60 "http://127.0.0.1:$ph/" 2>/dev/null || timeout 60 "${PYTHON3:-python3}" -c '
import socket,sys; s=socket.create_connection(("127.0.0.1",int(sys.argv[1])),timeout=50); print(s.recv(100).decode().strip())' "$ph")
check_eq "honest: answers through its published port during the flood" "honest answer" "$(printf '%s' "$body" | head -n 1)"
check_eq "honest: exec works during the flood" "exec ok" "$(timeout $DEADLINE "$MLVM" exec honest -- echo exec ok 2>&1)"
# Let the flood fill output.log past its cap (64 MiB), sampling the monitor.
peak=0
for _ in $(seq 1 120); do
        kb=$(rss_now "$r"); [ -n "$kb" ] && [ "$kb" -gt $peak ] && peak=$kb
        grep -qs 'output.log reached its cap' "$MLVM_STATE_DIR/runs/$r/monitor.log" && break
        sleep 1
done
echo "# flood: monitor VmRSS peak sampled $peak kB"
check_contains "flood: output.log reached its cap" "output.log reached its cap" "$(mon_log "$r")"
[ "$peak" -lt $RSS_CAP_KB ] && pass "flood: monitor RSS bounded while flooded ($peak kB)" || fail "flood: monitor RSS bounded while flooded" "$peak kB"
responsive "flood: ps answers" "$MLVM" ps
responsive "flood: logs answers" "$MLVM" logs flood
responsive "flood: down answers" "$MLVM" down flood
ended_within "$r" 120
check_match "flood: the dropped output is counted" '^[1-9][0-9]*$' "$(rec "$r" 'j.get("output_dropped")')"
check_match "flood: console bytes dropped are recorded (0 or more)" '^[0-9]+$' "$(rec "$r" 'j.get("console_dropped")')"
echo "# flood: console.log $(stat -c %s "$MLVM_STATE_DIR/runs/$r/console.log") bytes, output_dropped $(rec "$r" 'j.get("output_dropped")'), console_dropped $(rec "$r" 'j.get("console_dropped")')"
check_cost flood "$r"
check_logs flood "$r"
run_gone flood "$r"
check_eq "honest: still ready after the flood ended" ready "$(rec "$h" 'j["state"]')"
responsive "honest: down" "$MLVM" down honest
run_gone honest "$h"

nothing_left "hostile"
check "audit verify" "$MLVM" audit verify
done_testing
