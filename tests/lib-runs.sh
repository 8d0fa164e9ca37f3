# tests/lib-runs.sh: what the integration tests that boot runs on the
# local libvirtd share: a private state dir and pool, a cleanup that
# removes every domain, volume and monitor of this test even when it
# fails, "nothing left" checks, and the minimal image.
# Source after tests/lib.sh; DATA names a directory copied into $tmp.
require_root_libvirt

tmp=$(mktemp -d)
chmod 0711 "$tmp"
pool="mlvm-test-$$-$RANDOM"
export MLVM_STATE_DIR="$tmp/state" MLVM_POOL="$pool" MLVM_POOL_PATH="$tmp/pool"
export MLVM_DEB_CACHE="${MLVM_DEB_CACHE:-$TOP_BUILDDIR/tests/.debcache}"
# The kernel built for the default image: once per build tree (minutes), then seconds.
export MLVM_KERNEL_CACHE="${MLVM_KERNEL_CACHE:-$TOP_BUILDDIR/tests/.kernelcache}"
export MLVM_BOOT_TIMEOUT=120
V="virsh -q -c qemu:///system"
[ -n "${DATA:-}" ] && cp -r "$DATA/." "$tmp/"
cd "$tmp" || exit 1

cleanup() {
        for d in $($V list --all --name 2>/dev/null | grep "^mlvm-.*-[0-9a-f]\{8\}$"); do
                $V dumpxml "$d" 2>/dev/null | grep -q "$tmp" && $V destroy "$d" >/dev/null 2>&1
        done
        for p in $(pgrep -f "mlvm-monitor $MLVM_STATE_DIR"); do kill -9 "$p" 2>/dev/null; done
        for v in $($V vol-list "$pool" 2>/dev/null | awk '{print $1}'); do $V vol-delete --pool "$pool" "$v" >/dev/null 2>&1; done
        for c in $(uid_claims); do rm -f "$c"; done
        $V pool-destroy "$pool" >/dev/null 2>&1
        $V pool-undefine "$pool" >/dev/null 2>&1
        cd / && rm -rf "$tmp"
}
trap cleanup EXIT

# The per-run QEMU uid claims (src/lib/run/qemu-id.h) of this test's state dir.
UID_CLAIMS=/run/mlvm/qemu-uids
uid_claims() {
        grep -lF "\"state_dir\":\"$MLVM_STATE_DIR\"" "$UID_CLAIMS"/[0-9]* 2>/dev/null
}

# Nothing of this test's runs is left: no domain, no run volume, no monitor, no uid claim.
nothing_left() {
        local doms vols mons uids
        doms=$($V list --all --name | while read -r d; do [ -n "$d" ] && $V dumpxml "$d" 2>/dev/null | grep -q "$tmp" && echo "$d"; done)
        vols=$($V vol-list "$pool" | awk '{print $1}' | grep '^mlvm-run-')
        mons=$(pgrep -f "mlvm-monitor $MLVM_STATE_DIR")
        uids=$(uid_claims)
        if [ -z "$doms$vols$mons$uids" ]; then pass "$1: nothing left"; else fail "$1: nothing left" "domains: $doms" "volumes: $vols" "monitors: $mons" "uid claims: $uids"; fi
}

# Wait until run $1 is no longer starting or ready (at most 120 s).
wait_ended() {
        local s
        for _ in $(seq 1 600); do
                s=$(json_get "$MLVM_STATE_DIR/runs/$1/run.json" 'j["state"]' 2>/dev/null)
                case "$s" in starting|ready|"") sleep 0.2 ;; *) return 0 ;; esac
        done
        return 1
}

# setup, and the minimal image built, imported and verified; bails out
# (with the build's messages) when it cannot be built.
runs_setup_minimal() {
        local st
        check "setup" "$MLVM" setup
        "$MLVM" -q image build "$TOP_SRCDIR/images/minimal" 2>"$tmp/build.err"; st=$?
        check_eq "the minimal image builds and imports" 0 $st
        [ $st -eq 0 ] || { sed 's/^/# /' "$tmp/build.err"; "$MLVM" image ls | sed 's/^/# /'; done_testing; exit 1; }
        check "the minimal image verifies" "$MLVM" -q image verify minimal
}
