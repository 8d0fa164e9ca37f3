#!/usr/bin/env bash
# mlvm never assumes the hypervisor is local: info and setup over
# qemu+tcp://127.0.0.1:PORT/system against a second libvirtd that this test
# starts, loopback only, in its own mount namespace (its own /etc, /run,
# /var/lib and /var/log for libvirt), and stops again by pid.
. "$TOP_SRCDIR/tests/lib.sh"
. "$TOP_SRCDIR/tests/lib-libvirtd.sh"
require_root_libvirt
command -v unshare >/dev/null || skip_all "unshare (util-linux) is missing"

tmp=$(mktemp -d)
cleanup() {
        lvd_stop
        rm -rf "$tmp"
}
trap cleanup EXIT

lvd_start "$tmp/lvd"; st=$?
uri=$LVD_URI
port=$LVD_PORT
check_eq "second libvirtd answers on $uri" 0 $st
[ $st -eq 0 ] || { done_testing; exit 1; }
check_eq "it listens on loopback only" "127.0.0.1:$port" "$(ss -ltnH "sport = :$port" | awk '{print $4}' | sort -u)"

export MLVM_STATE_DIR="$tmp/state" MLVM_POOL="mlvm-remote-test"
# Over a URI mlvm cannot read the host's files: libvirt's word decides,
# until a first KVM boot there has shown otherwise.
if virsh -c "$uri" capabilities | grep -q "<domain type='kvm'"; then accel=kvm; else accel=tcg; fi
"$MLVM" --connect "$uri" info --json > "$tmp/info.json"; check_eq "info over tcp exits 0" 0 $?
check_eq "json: uri" "$uri" "$(json_get "$tmp/info.json" 'j["uri"]')"
check_eq "json: accelerator over tcp" "$accel" "$(json_get "$tmp/info.json" 'j["accelerator"]')"
check_eq "json: not read as a local host" False "$(json_get "$tmp/info.json" 'j["accel"]["local"]')"
# Resource controls over tcp come from a paused probe domain, set live one by one.
check_eq "json: resource controls asked through a probe domain" "probe domain" \
        "$(json_get "$tmp/info.json" 'j["resource_controls"]["source"]')"
if grep -qw bfq /sys/block/*/queue/scheduler 2>/dev/null || [ -e /sys/fs/cgroup/blkio/blkio.weight ]; then
        check_eq "json: the remote host enforces the I/O weight" True \
                "$(json_get "$tmp/info.json" 'j["resource_controls"]["controls"]["io_weight"]["enforced"]')"
else
        check_eq "json: the remote host does not enforce the I/O weight" False \
                "$(json_get "$tmp/info.json" 'j["resource_controls"]["controls"]["io_weight"]["enforced"]')"
        check_match "json: and libvirt's reason is kept" 'weight' \
                "$(json_get "$tmp/info.json" 'j["resource_controls"]["controls"]["io_weight"]["why"]')"
fi
check_eq "no probe domain left in the remote daemon" 0 "$(virsh -q -c "$uri" list --all --name | grep -c '^mlvm-probe-')"
[ -e /dev/vhost-vsock ] && vs=True || vs=False
check_eq "json: vsock probed over tcp" "$vs" "$(json_get "$tmp/info.json" 'j["vsock"]["available"]')"
check_eq "json: pool not defined on the remote" False "$(json_get "$tmp/info.json" 'j["pool"]["exists"]')"

out=$("$MLVM" --connect "$uri" setup); check_eq "setup over tcp exits 0" 0 $?
check_match "setup over tcp creates the pool there" "storage pool mlvm-remote-test created and started" "$out"
check_match "the pool exists in the remote daemon" '^State: +running' "$(virsh -c "$uri" pool-info mlvm-remote-test 2>&1)"
virsh -c qemu:///system pool-info mlvm-remote-test >/dev/null 2>&1; st=$?
check_eq "and not in the local one" 1 $st
out=$(MLVM_CONNECT="$uri" "$MLVM" info); check_contains "MLVM_CONNECT selects the remote" "URI:             $uri" "$out"
check_match "info over tcp shows the remote pool" "^Storage pool: +mlvm-remote-test: active" "$out"

dpid=$LVD_PID
lvd_stop; st=$?
check_eq "second libvirtd stopped on SIGTERM" 0 $st
lvd_alive "$dpid"; st=$?
check_eq "and is gone" 1 $st
err=$("$MLVM" --connect "$uri" info 2>&1); st=$?
check_eq "info against the stopped daemon exits 1" 1 $st
check_contains "and says it is not reachable" "mlvm: info: connect $uri: libvirtd is not reachable" "$err"

done_testing
