#!/usr/bin/env bash
# Benchmark (not a test) for runs, all in one run on this machine, medians
# of N rounds (N=${ROUNDS:-3}), printed with the ratios that
# docs/performance.md targets:
#   up:   `mlvm up` to agent-ready  vs  `virsh create` of the very XML mlvm
#         generated, to the same HELLO (agent-hello)  vs  a bare
#         qemu-system-x86_64 direct boot of the same kernel + initramfs to
#         the same HELLO;
#   down: `mlvm down` to everything gone  vs  `virsh destroy`;
#   memory: QEMU's own memory per idle guest (smaps, guest RAM excluded).
# Usage (root, libvirtd running): tests/bench/up.sh
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
mlvm="${MLVM:-$top/mlvm}"
hello="$top/tests/integration/agent-hello"
rounds=${ROUNDS:-3}
tmp=$(mktemp -d); chmod 0711 "$tmp"
pool="mlvm-bench-$$"
export MLVM_STATE_DIR="$tmp/state" MLVM_POOL="$pool" MLVM_POOL_PATH="$tmp/pool" MLVM_BOOT_TIMEOUT=120
export MLVM_DEB_CACHE="${MLVM_DEB_CACHE:-$top/tests/.debcache}"
V="virsh -q -c qemu:///system"
cleanup() {
        "$mlvm" -q down bench >/dev/null 2>&1 || true
        for d in $($V list --name | grep '^mlvm-benchx-'); do $V destroy "$d" >/dev/null 2>&1; done
        [ -n "${qpid:-}" ] && kill "$qpid" 2>/dev/null
        for v in $($V vol-list "$pool" 2>/dev/null | awk '{print $1}'); do $V vol-delete --pool "$pool" "$v" >/dev/null 2>&1; done
        $V pool-destroy "$pool" >/dev/null 2>&1; $V pool-undefine "$pool" >/dev/null 2>&1
        rm -rf "$tmp"
}
trap cleanup EXIT
now() { date +%s.%N; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

"$mlvm" -q setup
"$mlvm" -q image build "$top/images/minimal" 2>/dev/null
printf 'models:\n  bench:\n    image: minimal\n' > "$tmp/mlvm.yaml"
cd "$tmp"

up_t=(); down_t=(); create_t=(); destroy_t=(); qemu_t=(); mem=()
for i in $(seq 1 "$rounds"); do
        t0=$(now); "$mlvm" -q up bench; t1=$(now)
        up_t+=("$(echo "$t1 - $t0" | bc -l)")
        run=$(ls -t "$MLVM_STATE_DIR/runs" | head -1)
        xml="$MLVM_STATE_DIR/runs/$run/domain.xml"
        # QEMU's own memory: all of its resident memory minus the guest RAM mapping.
        qp=$(pgrep -f "guest=mlvm-bench-$run" | head -1)
        if [ -n "$qp" ]; then
                mem+=("$(python3 - "$qp" <<'PY'
import sys
# Sum Rss over QEMU's mappings, leaving out the largest one (the guest RAM).
total = big = 0
size = 0
for line in open("/proc/%s/smaps" % sys.argv[1]):
    f = line.split()
    if "-" in f[0] and len(f) >= 5 and ":" not in f[0]:
        a, b = f[0].split("-"); size = int(b, 16) - int(a, 16)
    elif f[0] == "Rss:":
        rss = int(f[1]); total += rss
        if size >= 200 << 20: big = max(big, rss)
print("%.1f" % ((total - big) / 1024))
PY
)")
        fi
        t0=$(now); "$mlvm" -q down bench; t1=$(now)
        down_t+=("$(echo "$t1 - $t0" | bc -l)")

        # The same XML through virsh, to the same HELLO.
        name="mlvm-benchx-$i-$$"
        sed "s|<name>mlvm-bench-$run</name>|<name>$name</name>|" "$xml" > "$tmp/x.xml"
        t0=$(now); $V create "$tmp/x.xml" >/dev/null; "$hello" qemu:///system "$name" 120 >/dev/null; t1=$(now)
        create_t+=("$(echo "$t1 - $t0" | bc -l)")
        t0=$(now); $V destroy "$name" >/dev/null; t1=$(now)
        destroy_t+=("$(echo "$t1 - $t0" | bc -l)")

        # Bare QEMU, the same kernel, initramfs and command line, to the same HELLO.
        digest=$(sed -n 's/^sha256:\(.*\)$/\1/p' "$MLVM_STATE_DIR/images/tags/minimal:latest")
        img="$MLVM_STATE_DIR/images/sha256/$digest"
        cmdline=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["cmdline"])' "$img/manifest.json")
        sock="$tmp/q.sock"; rm -f "$sock"
        t0=$(now)
        qemu-system-x86_64 -M q35,accel=tcg -m 256 -nodefaults -no-user-config -nographic -no-reboot \
                -kernel "$img/kernel" -initrd "$img/initramfs" -append "$cmdline mlvm.timeout=120" \
                -serial null -device virtio-serial-pci -chardev socket,id=c0,path="$sock",server=on,wait=off \
                -device virtserialport,chardev=c0,name=org.mlvm.agent.0 >/dev/null 2>&1 &
        qpid=$!
        python3 - "$sock" <<'PY'
import os, socket, struct, sys, time
deadline = time.time() + 120
while not os.path.exists(sys.argv[1]):
    time.sleep(0.005)
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.settimeout(120)
h = b""
while len(h) < 16:
    h += s.recv(16 - len(h))
assert struct.unpack(">I", h[:4])[0] == 0x4d4c5641 and h[5] == 1, "not a HELLO"
PY
        t1=$(now)
        qemu_t+=("$(echo "$t1 - $t0" | bc -l)")
        kill "$qpid"; wait "$qpid" 2>/dev/null || true; qpid=
done

m_up=$(printf '%s\n' "${up_t[@]}" | median); m_cr=$(printf '%s\n' "${create_t[@]}" | median)
m_q=$(printf '%s\n' "${qemu_t[@]}" | median); m_dn=$(printf '%s\n' "${down_t[@]}" | median)
m_ds=$(printf '%s\n' "${destroy_t[@]}" | median)
printf 'rounds: %d (TCG; medians)\n' "$rounds"
printf 'mlvm up to agent ready:          %6.2f s   (%s)\n' "$m_up" "${up_t[*]}"
printf 'virsh create same XML to HELLO:  %6.2f s   ratio mlvm/virsh %.2fx (target <= 1.1x)\n' "$m_cr" "$(echo "$m_up / $m_cr" | bc -l)"
printf 'bare qemu same kernel to HELLO:  %6.2f s   ratio mlvm/qemu  %.2fx (goal toward 1.2x)\n' "$m_q" "$(echo "$m_up / $m_q" | bc -l)"
printf 'mlvm down to everything gone:    %6.2f s   (%s)\n' "$m_dn" "${down_t[*]}"
printf 'virsh destroy:                   %6.2f s   ratio mlvm/virsh %.2fx (target <= 1.2x)\n' "$m_ds" "$(echo "$m_dn / $m_ds" | bc -l)"
[ ${#mem[@]} -gt 0 ] && printf "QEMU's own memory per idle guest: %s MiB (guest RAM excluded; goal <= 30 MiB)\n" "$(printf '%s\n' "${mem[@]}" | median)"
