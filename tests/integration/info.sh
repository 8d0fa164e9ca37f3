#!/usr/bin/env bash
# mlvm info and mlvm setup against the real libvirtd on qemu:///system.
. "$TOP_SRCDIR/tests/lib.sh"
require_root_libvirt

tmp=$(mktemp -d)
pool="mlvm-test-$$-$RANDOM"
export MLVM_STATE_DIR="$tmp/state" MLVM_POOL="$pool" MLVM_POOL_PATH="$tmp/pool"
cleanup() {
        virsh -q pool-destroy "$pool" >/dev/null 2>&1
        virsh -q pool-undefine "$pool" >/dev/null 2>&1
        rm -rf "$tmp"
}
trap cleanup EXIT

# What this machine really has decides what info must say.
if [ -e /dev/kvm ]; then accel=kvm; accel_text='KVM \(hardware virtualization\)'; else accel=tcg; accel_text='TCG \(software emulation\)'; fi
if [ -e /dev/vhost-vsock ]; then vsock=True; else vsock=False; fi

out=$("$MLVM" info 2>&1); st=$?
check_eq "info exits 0" 0 $st
check_match "info reports the accelerator ($accel)" "^Accelerator: +$accel_text$" "$out"
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
check_eq "json: vsock.available" "$vsock" "$(json_get "$tmp/info.json" 'j["vsock"]["available"]')"
check_eq "json: second call uses the cached probe" True "$(json_get "$tmp/info.json" 'j["vsock"]["cached"]')"
check_eq "json: uri" "qemu:///system" "$(json_get "$tmp/info.json" 'j["uri"]')"
hv=$(virsh -c qemu:///system version | sed -n 's/^Running hypervisor: QEMU //p')
check_eq "json: QEMU version matches virsh" "$hv" "$(json_get "$tmp/info.json" 'j["hypervisor"]["version"]')"
check_eq "json: images (empty store)" "[]" "$(json_get "$tmp/info.json" 'j["images"]')"
"$MLVM" info --refresh --json > "$tmp/refresh.json"
check_eq "--refresh probes again" False "$(json_get "$tmp/refresh.json" 'j["vsock"]["cached"]')"
check_eq "no probe domain left behind" 0 "$(virsh -q -c qemu:///system list --all --name | grep -c '^mlvm-probe-')"

out=$("$MLVM" setup); st=$?
check_eq "setup exits 0" 0 $st
check_match "setup creates the pool" "storage pool $pool created and started" "$out"
check_eq "state directory is 0700" 700 "$(stat -c %a "$tmp/state")"
check_match "pool is running in libvirt" '^State: +running' "$(virsh pool-info "$pool")"
check_match "pool autostarts" '^Autostart: +yes' "$(virsh pool-info "$pool")"
out=$("$MLVM" setup); check_match "setup is idempotent" "storage pool $pool already active" "$out"
"$MLVM" info --json > "$tmp/info2.json"
check_eq "info: pool active" True "$(json_get "$tmp/info2.json" 'j["pool"]["active"]')"
check_eq "info: pool path" "$tmp/pool" "$(json_get "$tmp/info2.json" 'j["pool"]["path"]')"
check_eq "info: pool volumes" 0 "$(json_get "$tmp/info2.json" 'j["pool"]["volumes"]')"

# libvirtd down: one line that says so and how to start it; exit 1.
err=$("$MLVM" --connect "qemu:///system?socket=$tmp/no-such-sock" info 2>&1); st=$?
check_eq "libvirtd down: exit 1" 1 $st
check_eq "libvirtd down: one line" 1 "$(printf '%s\n' "$err" | wc -l)"
check_match "libvirtd down: says so and how to start it" \
        "^mlvm: info: connect qemu:///system\?socket=.*: libvirtd is not running .*start it with 'virtlogd -d; libvirtd -d'" "$err"
err=$(MLVM_CONNECT="qemu:///system?socket=$tmp/no-such-sock" "$MLVM" info 2>&1)
check_match "MLVM_CONNECT is used" "connect qemu:///system\?socket=$tmp/no-such-sock: libvirtd is not running" "$err"

done_testing
