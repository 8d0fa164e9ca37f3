#!/usr/bin/env bash
# Benchmark (not a test) of what the monitor's frame gate costs
# (docs/security.md, the monitor's privilege separation): with
# BEFORE_MONITOR=PATH (an mlvm-monitor built without the gate), each
# round runs both monitors on the same image and host, their order
# alternating, and prints medians of N rounds (N=${ROUNDS:-5}):
#   up:    `mlvm up` of a model of images/minimal to ready, in s;
#   exec:  `mlvm exec` of `head -c 32 MiB /dev/zero`, in MiB/s (the
#          agent's STREAM_DATA frames, every byte through the gate);
#   port:  16 MiB read from a published port (the same frames), MiB/s.
# Usage (root, libvirtd running): [ROUNDS=N] BEFORE_MONITOR=PATH tests/bench/monitor.sh
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
mlvm="${MLVM:-$top/mlvm}"
after="${MLVM_MONITOR:-$top/mlvm-monitor}"
before=${BEFORE_MONITOR:?BEFORE_MONITOR=PATH of the monitor to compare with}
rounds=${ROUNDS:-5}
tmp=$(mktemp -d); chmod 0711 "$tmp"
pool="mlvm-bench-$$"
export MLVM_STATE_DIR="$tmp/state" MLVM_POOL="$pool" MLVM_POOL_PATH="$tmp/pool" MLVM_BOOT_TIMEOUT=120
export MLVM_DEB_CACHE="${MLVM_DEB_CACHE:-$top/tests/.debcache}"
export MLVM_KERNEL_CACHE="${MLVM_KERNEL_CACHE:-$top/tests/.kernelcache}"
V="virsh -q -c qemu:///system"
cleanup() {
        set +e
        "$mlvm" -q down m >/dev/null 2>&1
        for v in $($V vol-list "$pool" 2>/dev/null | awk '{print $1}'); do $V vol-delete --pool "$pool" "$v" >/dev/null 2>&1; done
        $V pool-destroy "$pool" >/dev/null 2>&1; $V pool-undefine "$pool" >/dev/null 2>&1
        rm -rf "$tmp"
}
trap cleanup EXIT
# A free loopback port of our own (never serving.sh's or examples.sh's).
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$mlvm" -q setup
"$mlvm" -q image build "$top/images/minimal" 2>/dev/null
cat > "$tmp/mlvm.yaml" <<YAML
models:
  m:
    image: minimal
    memory: 256M
    exec: allow
    command: ["/bin/sh", "-c", "nc -ll -p 8080 -e head -c 16777216 /dev/zero"]
    publish: ["127.0.0.1:$port:8080"]
YAML
cd "$tmp"
now() { date +%s.%N; }
mibps() { python3 -c "import sys; print(round(int(sys.argv[1]) / 1048576 / (float(sys.argv[3]) - float(sys.argv[2])), 2))" "$@"; }
read_port() {
        python3 - "$port" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
n = 0
while True:
    b = s.recv(1 << 20)
    if not b:
        break
    n += len(b)
print(n)
PY
}
one() { # $1 = before|after: prints "up exec port"
        local bin=$before t0 t1 n
        [ "$1" = after ] && bin=$after
        t0=$(now); MLVM_MONITOR=$bin "$mlvm" -q up m >/dev/null; t1=$(now)
        local up; up=$(python3 -c "print(round($t1 - $t0, 2))")
        t0=$(now); n=$("$mlvm" exec m -- head -c 33554432 /dev/zero | wc -c); t1=$(now)
        [ "$n" = 33554432 ] || { echo "exec gave $n bytes" >&2; exit 1; }
        local ex; ex=$(mibps "$n" "$t0" "$t1")
        t0=$(now); n=$(read_port); t1=$(now)
        [ "$n" = 16777216 ] || { echo "the port gave $n bytes" >&2; exit 1; }
        local po; po=$(mibps "$n" "$t0" "$t1")
        "$mlvm" -q down m >/dev/null
        echo "$up $ex $po"
}
: > "$tmp/before"; : > "$tmp/after"
for r in $(seq 1 "$rounds"); do
        if [ $((r % 2)) = 1 ]; then order="before after"; else order="after before"; fi
        for v in $order; do
                res=$(one "$v"); echo "round $r $v: up ${res%% *} s, exec/port MiB/s ${res#* }"
                echo "$res" >> "$tmp/$v"
        done
done
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
for v in before after; do
        printf '%-6s median of %s: up %s s, exec %s MiB/s, port %s MiB/s\n' "$v" "$rounds" \
                "$(cut -d' ' -f1 "$tmp/$v" | median)" "$(cut -d' ' -f2 "$tmp/$v" | median)" "$(cut -d' ' -f3 "$tmp/$v" | median)"
done
echo "host: $(nproc) CPUs, $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg)"
