#!/usr/bin/env bash
# mlvm info and mlvm setup against the real libvirtd on qemu:///system.
. "$TOP_SRCDIR/tests/lib.sh"
require_root_libvirt

tmp=$(mktemp -d)
pool="mlvm-test-$$-$RANDOM"
export MLVM_STATE_DIR="$tmp/state" MLVM_POOL="$pool" MLVM_POOL_PATH="$tmp/pool"
# Always the system daemon: LIBVIRT_DEFAULT_URI may point elsewhere.
vsh() { virsh -q -c qemu:///system "$@"; }
cleanup() {
        vsh pool-destroy "$pool" >/dev/null 2>&1
        vsh pool-undefine "$pool" >/dev/null 2>&1
        rm -rf "$tmp"
}
trap cleanup EXIT

# What this machine really has decides what info must say: KVM only with a
# vendor module (not PVM) and a /dev/kvm that libvirt's QEMU user can open.
kvm_usable() {
        { [ -d /sys/module/kvm_intel ] || [ -d /sys/module/kvm_amd ]; } && [ -c /dev/kvm ] &&
                runuser -u libvirt-qemu -- test -r /dev/kvm -a -w /dev/kvm 2>/dev/null
}
if kvm_usable; then accel=kvm; accel_text='KVM \(hardware virtualization\)'; else accel=tcg; accel_text='TCG \(software emulation\)'; fi
if [ -e /dev/vhost-vsock ]; then vsock=True; else vsock=False; fi

out=$("$MLVM" info 2>&1); st=$?
check_eq "info exits 0" 0 $st
check_match "info reports the accelerator ($accel)" "^Accelerator: +$accel_text$" "$out"
if [ "$accel" = tcg ]; then
        check_match "info says why not KVM" '^  not KVM: +.*(KVM|kvm)' "$out"
        if [ -d /sys/module/kvm_pvm ]; then
                check_match "PVM is named as the reason" '^  not KVM: +KVM here is PVM \(kvm_pvm\), which boots only PVM guest kernels$' "$out"
        fi
fi
check_match "info lists the resource controls, the I/O weight among them" '^  I/O weight +(enforced|not enforced): ' "$out"
if grep -qw bfq /sys/block/*/queue/scheduler 2>/dev/null || [ -e /sys/fs/cgroup/blkio/blkio.weight ]; then weight=True; else weight=False; fi
if [ "$vsock" = False ]; then
        check_match "info says vsock is not available, and why" '^vsock: +not available: .*vhost-vsock' "$out"
        check_match "info picks virtio-serial" '^Agent transport: +virtio-serial$' "$out"
else
        check_match "info says vsock is available" '^vsock: +available' "$out"
fi
check_match "info: pool not defined yet" "^Storage pool: +$pool: not defined \(run 'mlvm setup'\)$" "$out"
check_match "info: state directory" "^State directory: +$tmp/state$" "$out"

"$MLVM" info --json > "$tmp/info.json"; check_eq "info --json exits 0" 0 $?
check_eq "json: accelerator" "$accel" "$(json_get "$tmp/info.json" 'j["accelerator"]')"
check_eq "json: accel.chosen" "$accel" "$(json_get "$tmp/info.json" 'j["accel"]["chosen"]')"
check_eq "json: the I/O weight is enforced only with BFQ or CFQ" "$weight" \
        "$(json_get "$tmp/info.json" 'j["resource_controls"]["controls"]["io_weight"]["enforced"]')"
check_eq "json: per-disk I/O limits need no cgroup" True \
        "$(json_get "$tmp/info.json" 'j["resource_controls"]["controls"]["disk_iotune"]["enforced"]')"
if [ -c /dev/kvm ]; then
        check_eq "json: /dev/kvm's mode as ls shows it" "$(stat -c %04a /dev/kvm)" \
                "$(json_get "$tmp/info.json" 'j["accel"]["dev_kvm"]["mode"]')"
else
        check_eq "json: no /dev/kvm" False "$(json_get "$tmp/info.json" 'j["accel"]["dev_kvm"]["exists"]')"
fi
check_eq "json: vsock.available" "$vsock" "$(json_get "$tmp/info.json" 'j["vsock"]["available"]')"
check_eq "json: second call uses the cached probe" True "$(json_get "$tmp/info.json" 'j["vsock"]["cached"]')"
check_eq "json: uri" "qemu:///system" "$(json_get "$tmp/info.json" 'j["uri"]')"
hv=$(virsh -c qemu:///system version | sed -n 's/^Running hypervisor: QEMU //p')
check_eq "json: QEMU version matches virsh" "$hv" "$(json_get "$tmp/info.json" 'j["hypervisor"]["version"]')"
check_eq "json: images (empty store)" "[]" "$(json_get "$tmp/info.json" 'j["images"]')"
"$MLVM" info --refresh --json > "$tmp/refresh.json"
check_eq "--refresh probes again" False "$(json_get "$tmp/refresh.json" 'j["vsock"]["cached"]')"
check_eq "no probe domain left behind" 0 "$(vsh list --all --name | grep -c '^mlvm-probe-')"

out=$("$MLVM" setup); st=$?
check_eq "setup exits 0" 0 $st
check_match "setup creates the pool" "storage pool $pool created and started" "$out"
check_eq "state directory is 0700" 700 "$(stat -c %a "$tmp/state")"
check_match "pool is running in libvirt" '^State: +running' "$(vsh pool-info "$pool")"
check_match "pool autostarts" '^Autostart: +yes' "$(vsh pool-info "$pool")"
out=$("$MLVM" setup); check_match "setup is idempotent" "storage pool $pool already active$" "$out"
"$MLVM" info --json > "$tmp/info2.json"
check_eq "info: pool active" True "$(json_get "$tmp/info2.json" 'j["pool"]["active"]')"
check_eq "info: pool path" "$tmp/pool" "$(json_get "$tmp/info2.json" 'j["pool"]["path"]')"
check_eq "info: pool volumes" 0 "$(json_get "$tmp/info2.json" 'j["pool"]["volumes"]')"

# setup says what it did: only autostart was off.
vsh pool-autostart --disable "$pool" >/dev/null
out=$("$MLVM" setup); check_match "setup: autostart enabled, and says only that" \
        "storage pool $pool already active, autostart enabled$" "$out"
check_match "setup: pool autostarts again" '^Autostart: +yes' "$(vsh pool-info "$pool")"
# A stopped pool whose directory was removed is rebuilt when started.
vsh pool-destroy "$pool" >/dev/null
rm -rf "$tmp/pool"
out=$("$MLVM" setup); st=$?
check_eq "setup: restarting a pool whose directory is gone exits 0" 0 $st
check_match "setup: says it started the pool" "storage pool $pool started$" "$out"
check_match "setup: the pool is running again" '^State: +running' "$(vsh pool-info "$pool")"
check_eq "setup: its directory is back" yes "$([ -d "$tmp/pool" ] && echo yes)"

# libvirtd down: one line that says so and how to start it; exit 1.
err=$("$MLVM" --connect "qemu:///system?socket=$tmp/no-such-sock" info 2>&1); st=$?
check_eq "libvirtd down: exit 1" 1 $st
check_eq "libvirtd down: one line" 1 "$(printf '%s\n' "$err" | wc -l)"
check_match "libvirtd down: says so and how to start it" \
        "^mlvm: info: connect qemu:///system\?socket=.*: libvirtd is not running .*start it with 'virtlogd -d; libvirtd -d'" "$err"
err=$(MLVM_CONNECT="qemu:///system?socket=$tmp/no-such-sock" "$MLVM" info 2>&1)
check_match "MLVM_CONNECT is used" "connect qemu:///system\?socket=$tmp/no-such-sock: libvirtd is not running" "$err"

# A socket this user may not open: permission, not "not running".
if command -v runuser >/dev/null && [ -x "$MLVM" ]; then
        mkdir -m 755 "$tmp/sockdir"
        "${PYTHON3:-python3}" -c 'import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$tmp/sockdir/sock"
        chmod 600 "$tmp/sockdir/sock"
        chmod 755 "$tmp"
        err=$(cd / && runuser -u nobody -- env HOME=/ "$MLVM" --connect "qemu:///system?socket=$tmp/sockdir/sock" info 2>&1); st=$?
        check_eq "socket permission denied: exit 1" 1 $st
        check_match "socket permission denied: says so and what to do" \
                "^mlvm: info: connect qemu:///system\?socket=$tmp/sockdir/sock: permission denied on the libvirt socket \(.*\); run as root or join the libvirt group$" "$err"
fi

done_testing
