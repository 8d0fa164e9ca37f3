#!/usr/bin/env bash
# Runs over qemu+tcp://127.0.0.1:PORT/system against a libvirtd this test
# starts (loopback only, own namespace): setup, image import (uploaded
# through libvirt streams), up, ps, logs, down; and a libvirtd restart
# while a run is up: the run survives, the monitor reconnects, a PING/PONG
# through the channel works afterwards, and ps/logs/down still work.
. "$TOP_SRCDIR/tests/lib.sh"
. "$TOP_SRCDIR/tests/lib-libvirtd.sh"
lvd_test_env mlvm-remote
cleanup() {
        if [ -n "$LVD_PID" ]; then
                for d in $(virsh -q -c "$LVD_URI" list --name 2>/dev/null); do virsh -q -c "$LVD_URI" destroy "$d" >/dev/null 2>&1; done
        fi
        for p in $(pgrep -f "mlvm-monitor $MLVM_STATE_DIR"); do kill -9 "$p" 2>/dev/null; done
        lvd_stop
        # Guests of a daemon that could not be reached: their QEMU processes, by pid file.
        for f in "$tmp"/lvd/ns/run/qemu/*.pid; do [ -f "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null; done
        rm -rf "$tmp"
}
trap cleanup EXIT

lvd_start "$tmp/lvd"; check_eq "second libvirtd answers" 0 $?
export MLVM_CONNECT="$LVD_URI"
check "setup over tcp" "$MLVM" setup
"$MLVM" -q image build "$TOP_SRCDIR/images/minimal" 2>"$tmp/build.err"
check_eq "image build and upload over tcp" 0 $?
check "image verify over tcp (reads the volumes back through libvirt)" "$MLVM" -q image verify minimal
cp "$TOP_SRCDIR/tests/data/runs/mlvm.yaml" "$tmp/mlvm.yaml"
cd "$tmp"

out=$("$MLVM" up server 2>"$tmp/err"); st=$?
check_eq "up over tcp" 0 $st
[ $st -eq 0 ] || sed 's/^/# /' "$tmp/err"
run=$(printf '%s\n' "$out" | sed -n 's/^server: run \([0-9a-f]*\) .*/\1/p')
check_match "ps over tcp" "^server +$run +ready " "$("$MLVM" ps)"
check_eq "ps on the local daemon does not list it" "" "$("$MLVM" --connect qemu:///system ps | grep "$run")"
check_match "the domain runs in the second daemon" "mlvm-server-$run" "$(virsh -q -c "$LVD_URI" list --name)"

# Restart libvirtd under the running guest.
mpid=$(json_get "$MLVM_STATE_DIR/runs/$run/run.json" 'j["monitor_pid"]')
lvd_stop
sleep 1
lvd_start "$tmp/lvd"; check_eq "libvirtd restarted" 0 $?
check_match "the guest survived the restart" "mlvm-server-$run" "$(virsh -q -c "$LVD_URI" list --name)"
ok=no
for _ in $(seq 1 60); do
        grep -q "reconnected to" "$MLVM_STATE_DIR/runs/$run/monitor.log" && { ok=yes; break; }
        sleep 1
done
check_eq "the monitor reconnected" yes "$ok"
check_eq "it is the same monitor" 0 "$(kill -0 "$mpid"; echo $?)"
pong=$("${PYTHON3:-python3}" - "$MLVM_STATE_DIR/runs/$run/control.sock" <<'PY'
import json, socket, sys, time
deadline = time.time() + 60
while time.time() < deadline:
    s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.settimeout(20)
    s.sendall(b'{"cmd": "ping"}\n')
    line = s.makefile().readline()
    r = json.loads(line) if line else {}
    if r.get("ok"):
        print("pong", round(r["rtt_ms"], 1)); break
    time.sleep(1)
PY
)
check_match "PING/PONG through the channel after the restart" '^pong [0-9.]+$' "$pong"
check_match "ps still works" "^server +$run +ready " "$("$MLVM" ps)"
check_match "logs still work" '^serving$' "$("$MLVM" logs server --output)"
out=$("$MLVM" down server); check_match "down still works" "^server: run $run stopped" "$out"
check_eq "no domain left in the second daemon" "" "$(virsh -q -c "$LVD_URI" list --all --name)"
check_eq "no run volume left" "" "$(virsh -q -c "$LVD_URI" vol-list mlvm-remote | awk '{print $1}' | grep '^mlvm-run-')"
check_eq "no monitor left" "" "$(pgrep -f "mlvm-monitor $MLVM_STATE_DIR")"
done_testing
