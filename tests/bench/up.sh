#!/usr/bin/env bash
# Benchmark (not a test) of booting to ready, all in one run on this
# machine: medians of N rounds (N=${ROUNDS:-5}), the variants interleaved
# within each round (their order alternating) so that a busy moment of a
# shared host hits all of them, printed with the ratios that
# docs/performance.md targets, and the machine it ran on:
#   up:     `mlvm up` of the default image (images/minimal: a kernel built
#           for mlvm, PVH, no modules) to agent-ready  vs  `mlvm up` of the
#           previous default image (images/cloud: Debian's cloud kernel as a
#           PVH vmlinux, 16 modules)  vs  `virsh create` of the very
#           XML mlvm generated, to the same HELLO (agent-hello)  vs  a bare
#           qemu-system-x86_64 direct boot of the same kernel, initramfs
#           and command line to the same HELLO;
#           with BEFORE=DIR (a built tree of an earlier mlvm), also that
#           mlvm's `up` of its own images/minimal, in its own state
#           directory and pool: the whole change, domain XML included;
#   kernel: bare QEMU to the kernel's "Run /init": Debian's stock cloud
#           bzImage vs the default image's PVH vmlinux (the image's command
#           line without quiet, so that the kernel says it);
#   down:   `mlvm down` to everything gone  vs  `virsh destroy`;
#   memory: QEMU's own memory per idle guest (smaps, guest RAM excluded).
# The bare QEMU runs get what the domain has that changes a boot: q35, TCG
# with the same translation-block cache, CPU model max, the same RAM and
# one vCPU; of devices only the agent's virtio-serial port.
# Usage (root, libvirtd running): [ROUNDS=N] [BEFORE=DIR] tests/bench/up.sh
set -euo pipefail
. "$(dirname "$0")/lib.sh"
bench_guests
hello="$top/tests/integration/agent-hello"
rounds=${ROUNDS:-5}
before=${BEFORE:-}
qpid=
# The earlier mlvm, in its own state directory and pool.
old() {
        MLVM_STATE_DIR="$tmp/state-before" MLVM_POOL="$pool-before" MLVM_POOL_PATH="$tmp/pool-before" \
                "$before/mlvm" "$@"
}
# What bench_cleanup does not know: the earlier mlvm's run and pool, the
# domains virsh created, a bare QEMU.
undo() {
        [ -n "$before" ] && { old -q down bench >/dev/null 2>&1 || true; }
        for d in $($V list --name | grep "^mlvm-benchx-.*-$$\$"); do $V destroy "$d" >/dev/null 2>&1; done
        [ -n "$qpid" ] && kill "$qpid" 2>/dev/null
        for v in $($V vol-list "$pool-before" 2>/dev/null | awk '{print $1}'); do
                $V vol-delete --pool "$pool-before" "$v" >/dev/null 2>&1
        done
        $V pool-destroy "$pool-before" >/dev/null 2>&1; $V pool-undefine "$pool-before" >/dev/null 2>&1
}
bench_on_exit=undo
load() { cut -d' ' -f1-3 /proc/loadavg; }

load0=$(load)
"$mlvm" -q setup
"$mlvm" -q image build "$top/images/minimal" 2>/dev/null
# The previous default (images/cloud), and Debian's stock bzImage as it is.
"$mlvm" -q image build "$top/images/cloud" 2>/dev/null
mkdir "$tmp/bzimage"
sed -e 's/^name cloud$/name cloud-bzimage/' -e '/^kernel-boot /d' \
        -e '/^cmdline /s/ cryptomgr\.notests//' "$top/images/cloud/recipe" > "$tmp/bzimage/recipe"
echo "kernel-boot bzimage" >> "$tmp/bzimage/recipe"
"$mlvm" -q image build "$tmp/bzimage" 2>/dev/null
printf 'models:\n  bench:\n    image: minimal\n  benchprev:\n    image: cloud\n' > "$tmp/mlvm.yaml"
if [ -n "$before" ]; then
        old -q setup
        old -q image build "$before/images/minimal" 2>/dev/null
fi
cd "$tmp"
img_dir() { echo "$MLVM_STATE_DIR/images/sha256/$(sed -n 's/^sha256:\(.*\)$/\1/p' "$MLVM_STATE_DIR/images/tags/$1:latest")"; }
pvh=$(img_dir minimal); bz=$(img_dir cloud-bzimage)
cmdline=$(json "$pvh/manifest.json" 'j["cmdline"]')
loud=$(printf '%s\n' "$cmdline" | sed -e 's/\(^\| \)quiet\( \|$\)/\1/' -e 's/ *$//')

# QEMU's own memory, the guest RAM mapping left out: resident, and of that
# anonymous (file pages, such as a kernel QEMU maps, are in the page cache,
# shared by every guest that boots the same volume): "rss/anon" in MiB.
qemu_mem() {
        python3 - "$1" <<'PY'
import sys
total = big = anon = big_anon = 0
size = 0
for line in open("/proc/%s/smaps" % sys.argv[1]):
    f = line.split()
    if "-" in f[0] and len(f) >= 5 and ":" not in f[0]:
        a, b = f[0].split("-"); size = int(b, 16) - int(a, 16)
    elif f[0] == "Rss:":
        rss = int(f[1]); total += rss
        if size >= 200 << 20: big = max(big, rss)
    elif f[0] == "Anonymous:":
        n = int(f[1]); anon += n
        if size >= 200 << 20: big_anon = max(big_anon, n)
print("%.1f/%.1f" % ((total - big) / 1024, (anon - big_anon) / 1024))
PY
}

# One `up` to ready with $1 (mlvm or old) of model $2, then its memory and
# `down`: prints "up_s verify_image_s qemu_mib down_s run_id".
up_down() {
        local t0 up_s run sd qp mib=0/0 down_s
        sd=$MLVM_STATE_DIR; [ "$1" = old ] && sd="$tmp/state-before"
        t0=$(now)
        if [ "$1" = old ]; then old -q up "$2"; else "$mlvm" -q up "$2"; fi
        up_s=$(since "$t0")
        run=$(cat "$sd/names/$2")
        qp=$(pgrep -f "guest=mlvm-$2-$run" | head -1 || true)
        [ -n "$qp" ] && mib=$(qemu_mem "$qp")
        t0=$(now)
        if [ "$1" = old ]; then old -q down "$2"; else "$mlvm" -q down "$2"; fi
        down_s=$(since "$t0")
        echo "$up_s $(json "$sd/runs/$run/run.json" 'j["timings"]["verify_image_s"]') $mib $down_s $run"
}

# Bare QEMU; $1 kernel, $2 what to wait for (hello or init), $3 command line.
bare() {
        local sock="$tmp/q.sock" con="$tmp/con.sock" t0
        rm -f "$sock" "$con"
        t0=$(now)
        qemu-system-x86_64 -M q35 -accel tcg,tb-size=64 -cpu max -m 256 -smp 1 -nodefaults -no-user-config \
                -nographic -no-reboot -kernel "$1" -initrd "$pvh/initramfs" -append "$3 mlvm.timeout=120" \
                -chardev socket,id=con,path="$con",server=on,wait=off -serial chardev:con \
                -device virtio-serial-pci -chardev socket,id=c0,path="$sock",server=on,wait=off \
                -device virtserialport,chardev=c0,name=org.mlvm.agent.0 >/dev/null 2>&1 &
        qpid=$!
        python3 - "$2" "$sock" "$con" <<'PY'
import os, socket, struct, sys, time
what, agent, console = sys.argv[1], sys.argv[2], sys.argv[3]
path = agent if what == "hello" else console
deadline = time.time() + 120
while not os.path.exists(path):
    assert time.time() < deadline, "QEMU did not start"
    time.sleep(0.002)
while True:   # the path exists a moment before QEMU listens on it
    s = socket.socket(socket.AF_UNIX)
    try:
        s.connect(path)
        break
    except ConnectionRefusedError:
        s.close()
        assert time.time() < deadline, "QEMU does not listen"
        time.sleep(0.002)
s.settimeout(120)
if what == "hello":
    h = b""
    while len(h) < 16:
        c = s.recv(16 - len(h))
        assert c, "channel closed before HELLO"
        h += c
    assert struct.unpack(">I", h[:4])[0] == 0x4d4c5641 and h[5] == 1, "not a HELLO"
else:
    seen = b""
    while b"Run /init" not in seen:
        chunk = s.recv(4096)
        assert chunk, "console closed before Run /init"
        seen = seen[-64:] + chunk
PY
        since "$t0"
        kill "$qpid"; wait "$qpid" 2>/dev/null || true; qpid=
}

declare -A T   # variant -> samples, space-separated
add() { T[$1]="${T[$1]:-} $2"; }
for i in $(seq 1 "$rounds"); do
        ups="mlvm:bench mlvm:benchprev"
        [ -n "$before" ] && ups="$ups old:bench"
        [ $((i % 2)) -eq 0 ] && ups=$(printf '%s\n' $ups | tac | tr '\n' ' ')
        for u in $ups; do
                out=$(up_down "${u%%:*}" "${u#*:}")
                read -r s v mib d run <<<"$out"
                add "up:$u" "$s"; add "verify:$u" "$v"; add "rss:$u" "${mib%/*}"; add "anon:$u" "${mib#*/}"
                if [ "$u" = mlvm:bench ]; then
                        add down "$d"
                        xml="$MLVM_STATE_DIR/runs/$run/domain.xml"
                        xrun=$run
                fi
        done

        # The same XML through virsh, to the same HELLO.
        name="mlvm-benchx-$i-$$"
        sed "s|<name>mlvm-bench-$xrun</name>|<name>$name</name>|" "$xml" > "$tmp/x.xml"
        t0=$(now); $V create "$tmp/x.xml" >/dev/null; "$hello" qemu:///system "$name" 120 >/dev/null
        add create "$(since "$t0")"
        t0=$(now); $V destroy "$name" >/dev/null
        add destroy "$(since "$t0")"

        add qemu "$(bare "$pvh/kernel" hello "$cmdline")"
        if [ $((i % 2)) -eq 1 ]; then
                add init:bz "$(bare "$bz/kernel" init "$loud")"; add init:pvh "$(bare "$pvh/kernel" init "$loud")"
        else
                add init:pvh "$(bare "$pvh/kernel" init "$loud")"; add init:bz "$(bare "$bz/kernel" init "$loud")"
        fi
done

m() { med ${T[$1]}; }
samples() { printf '%s\n' ${T[$1]} | awk '{printf "%s%.2f", (NR > 1 ? " " : ""), $1}'; }
m_up=$(m up:mlvm:bench); m_bz=$(m up:mlvm:benchprev); m_cr=$(m create); m_q=$(m qemu)
m_ib=$(m init:bz); m_ip=$(m init:pvh); m_dn=$(m down); m_ds=$(m destroy)
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
printf 'machine: %s; %s, %s CPUs, %s GiB RAM; %s\n' "$(uname -n)" "$cpu" "$(nproc)" \
        "$(awk '/MemTotal/ {printf "%.0f", $2 / 1048576}' /proc/meminfo)" "$(. /etc/os-release; echo "$PRETTY_NAME")"
printf 'software: kernel %s; %s; libvirt %s; accelerator: %s\n' "$(uname -r)" \
        "$(qemu-system-x86_64 --version | head -1)" "$(virsh -v)" \
        "$("$mlvm" info 2>/dev/null | sed -n 's/^Accelerator: *//p')"
printf 'load average: %s at the start, %s at the end; %s\n' "$load0" "$(load)" "$(date -u +%Y-%m-%dT%H:%MZ)"
printf 'rounds: %d (medians; every sample in parentheses)\n' "$rounds"
printf 'mlvm up, default image to ready:         %6.2f s   (%s)\n' "$m_up" "$(samples up:mlvm:bench)"
printf 'mlvm up, previous default (cloud, PVH):  %6.2f s   ratio default/previous %.2fx  (%s)\n' "$m_bz" \
        "$(ratio "$m_up" "$m_bz")" "$(samples up:mlvm:benchprev)"
if [ -n "$before" ]; then
        m_old=$(m up:old:bench)
        printf 'mlvm up, BEFORE (its own default image): %6.2f s   ratio now/before %.2fx  (%s)\n' "$m_old" \
                "$(ratio "$m_up" "$m_old")" "$(samples up:old:bench)"
        printf '  BEFORE is %s\n' "$(git -C "$before" describe --always --dirty 2>/dev/null || echo "$before")"
fi
printf '  image verification at up:             %6.2f s the default image, %.2f s images/cloud%s\n' "$(m verify:mlvm:bench)" \
        "$(m verify:mlvm:benchprev)" "$([ -n "$before" ] && printf ', %.2f s before' "$(m verify:old:bench)")"
printf 'virsh create same XML to HELLO:          %6.2f s   ratio mlvm/virsh %.2fx (target <= 1.1x)\n' "$m_cr" \
        "$(ratio "$m_up" "$m_cr")"
printf 'bare qemu same kernel to HELLO:          %6.2f s   ratio mlvm/qemu  %.2fx (target <= 1.15x)\n' "$m_q" \
        "$(ratio "$m_up" "$m_q")"
printf 'bare qemu to "Run /init", stock bzImage: %6.2f s   ratio mlvm up/this %.2fx (target <= 0.6x)  (%s)\n' \
        "$m_ib" "$(ratio "$m_up" "$m_ib")" "$(samples init:bz)"
printf 'bare qemu to "Run /init", the default image:   %6.2f s   ratio this/stock bzImage %.2fx  (%s)\n' "$m_ip" \
        "$(ratio "$m_ip" "$m_ib")" "$(samples init:pvh)"
printf 'mlvm down to everything gone:            %6.2f s   (%s)\n' "$m_dn" "$(samples down)"
printf 'virsh destroy:                           %6.2f s   ratio mlvm/virsh %.2fx (target <= 1.2x)\n' "$m_ds" \
        "$(ratio "$m_dn" "$m_ds")"
mem() { printf '%s/%s' "$(m "rss:$1")" "$(m "anon:$1")"; }
printf "QEMU's own memory per idle guest, resident/anonymous MiB (guest RAM excluded; goal <= 30 MiB):\n"
printf '  %s the default image, %s images/cloud%s\n' "$(mem mlvm:bench)" "$(mem mlvm:benchprev)" \
        "$([ -n "$before" ] && printf ', %s before' "$(mem old:bench)")"
row() { bench_row "$1" "$(printf '%.2f s' "$2")" "$(printf "$3" "$4")" "$(printf '%.2fx' "$(ratio "$2" "$4")")" "${5:-}"; }
row '`mlvm up` to ready, the default image' "$m_up" '`virsh create` of the same XML to the same HELLO %.2f s' "$m_cr" '<= 1.1x'
row '`mlvm up` to ready, the default image' "$m_up" 'bare QEMU, same kernel and initramfs, to HELLO %.2f s' "$m_q" '<= 1.15x'
row '`mlvm up` to ready, images/cloud (the previous default)' "$m_bz" '`mlvm up` of the default image %.2f s' "$m_up"
row "bare QEMU to \"Run /init\", the default image's kernel" "$m_ip" "Debian's stock cloud bzImage %.2f s" "$m_ib"
row '`mlvm down` to everything gone' "$m_dn" '`virsh destroy` %.2f s' "$m_ds" '<= 1.2x'
mib() { m "rss:$1"; }
bench_row "QEMU's own memory per idle guest (resident, guest RAM excluded), the default image" \
        "$(printf '%.1f MiB (anonymous %.1f)' "$(mib mlvm:bench)" "$(m anon:mlvm:bench)")" \
        "$(printf 'images/cloud %.1f MiB (anonymous %.1f)' "$(mib mlvm:benchprev)" "$(m anon:mlvm:benchprev)")" \
        "$(printf '%.2fx' "$(ratio "$(mib mlvm:bench)" "$(mib mlvm:benchprev)")")" '<= 30 MiB'
exit 0
