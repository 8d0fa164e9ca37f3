#!/usr/bin/env bash
# Each run's QEMU runs as a uid of its own (src/lib/run/qemu-id.h), read
# from outside mlvm: two runs up at once, their QEMU processes' uids from
# /proc differ and lie in the range; acting as one run's uid (setpriv) its
# own volumes open and the other's do not, for reading or writing; nobody
# reads none; the image volumes stay root's, unwritable by a run's uid;
# each uid claim goes at down, and gc removes one a crash left behind.
. "$TOP_SRCDIR/tests/lib.sh"
DATA="$TOP_SRCDIR/tests/data/isolation-uid"
. "$TOP_SRCDIR/tests/lib-runs.sh"
command -v setpriv >/dev/null || skip_all "setpriv not installed (util-linux)"
unset MLVM_QEMU_UIDS
FIRST=6553600 LAST=6619135
runs_setup_minimal

out=$("$MLVM" up tenant-a 2>"$tmp/err-a"); st=$?
check_eq "tenant-a: up exits 0" 0 $st
[ $st -eq 0 ] || sed 's/^/# /' "$tmp/err-a"
"$MLVM" run tenant-b >"$tmp/out-b" 2>&1 &
runner=$!
ra=$(cat "$MLVM_STATE_DIR/names/tenant-a" 2>/dev/null)
rb=""
for _ in $(seq 1 600); do
        rb=$(cat "$MLVM_STATE_DIR/names/tenant-b" 2>/dev/null)
        [ -n "$rb" ] && [ "$(json_get "$MLVM_STATE_DIR/runs/$rb/run.json" 'j["state"]' 2>/dev/null)" = ready ] && break
        sleep 0.2
done
check_eq "tenant-b: ready" ready "$(json_get "$MLVM_STATE_DIR/runs/$rb/run.json" 'j["state"]' 2>/dev/null)"

# What the kernel says the QEMU of run $1 runs as: "UID GID GROUPS".
qemu_ids() {
        local dom pid
        dom=$(json_get "$MLVM_STATE_DIR/runs/$1/run.json" 'j["domain"]')
        pid=$(pgrep -f -- "-name guest=$dom," | head -1)
        [ -n "$pid" ] || return 1
        awk '/^Uid:/ {u=$2} /^Gid:/ {g=$2} /^Groups:/ {$1=""; gr=$0} END {print u, g, gr}' "/proc/$pid/status"
}
read -r ua ga groups_a <<<"$(qemu_ids "$ra")"
read -r ub gb groups_b <<<"$(qemu_ids "$rb")"
echo "# QEMU of tenant-a: uid $ua gid $ga groups [$groups_a]; tenant-b: uid $ub gid $gb groups [$groups_b]"
check "tenant-a's QEMU uid lies in the range" test "${ua:-0}" -ge $FIRST -a "${ua:-0}" -le $LAST
check "tenant-b's QEMU uid lies in the range" test "${ub:-0}" -ge $FIRST -a "${ub:-0}" -le $LAST
check "the two QEMUs run as different uids" test "${ua:-x}" != "${ub:-x}"
# QEMU's own seccomp sandbox (libvirt's seccomp_sandbox, on by default).
for r in "$ra" "$rb"; do
        dom=$(json_get "$MLVM_STATE_DIR/runs/$r/run.json" 'j["domain"]')
        qpid=$(pgrep -f -- "-name guest=$dom," | head -1)
        check_eq "the QEMU of run $r is under a seccomp filter" 2 "$(awk '/^Seccomp:/ {print $2}' "/proc/${qpid:-0}/status" 2>/dev/null)"
done
check_eq "the record says the uid the kernel says (a)" "$ua" "$(json_get "$MLVM_STATE_DIR/runs/$ra/run.json" 'j["qemu_uid"]')"
check_eq "no supplementary group but libvirt's QEMU group" "$ga" "$(echo $groups_a)"
check "nobody has a passwd entry for tenant-a's uid" test -z "$(getent passwd "$ua")"
check "tenant-a's uid is claimed for its run" grep -qF "\"run\":\"$ra\"" "$UID_CLAIMS/$ua"

vol() { virsh -q -c qemu:///system vol-path --pool "$pool" "$1"; }
va=$(vol "mlvm-run-$ra-data-d") vb=$(vol "mlvm-run-$rb-data-d") vbo=$(vol "mlvm-run-$rb-artifacts")
check_eq "tenant-a's data disk: its uid's, 0400" "$ua 400" "$(stat -c '%u %a' "$va")"
check_eq "tenant-b's data disk: its uid's, 0400" "$ub 400" "$(stat -c '%u %a' "$vb")"
check_eq "tenant-b's artifact disk: its uid's, 0600" "$ub 600" "$(stat -c '%u %a' "$vbo")"

# as UID GID CMD...: run CMD as that uid and gid, with no other group.
as() { local u=$1 g=$2; shift 2; setpriv --reuid "$u" --regid "$g" --clear-groups -- "$@"; }
can_read() { as "$1" "$2" head -c 1 "$3" >/dev/null 2>&1; }
can_write() { as "$1" "$2" sh -c 'exec 3<>"$1"' sh "$3" 2>/dev/null; }
check "as tenant-a's uid: its own data disk reads" can_read "$ua" "$ga" "$va"
check "as tenant-b's uid: its own artifact disk opens for writing" can_write "$ub" "$gb" "$vbo"
for t in "$vb" "$vbo"; do
        if can_read "$ua" "$ga" "$t"; then fail "as tenant-a's uid: $(basename "$t") is unreadable"; else pass "as tenant-a's uid: $(basename "$t") is unreadable"; fi
        if can_write "$ua" "$ga" "$t"; then fail "as tenant-a's uid: $(basename "$t") is unwritable"; else pass "as tenant-a's uid: $(basename "$t") is unwritable"; fi
done
if can_read "$ub" "$gb" "$va"; then fail "as tenant-b's uid: tenant-a's data disk is unreadable"; else pass "as tenant-b's uid: tenant-a's data disk is unreadable"; fi
for t in "$va" "$vb" "$vbo"; do
        if can_read 65534 65534 "$t"; then fail "nobody cannot read $(basename "$t")"; else pass "nobody cannot read $(basename "$t")"; fi
done
digest=$(sed -n 's/^sha256:\(.*\)$/\1/p' "$tmp/state/images/tags/minimal:latest")
for part in kernel initramfs; do
        iv=$(vol "mlvm-img-${digest:0:16}-$part")
        check_eq "image volume $part: root's, 0444, while runs use it" "0 444" "$(stat -c '%u %a' "$iv")"
        if can_write "$ua" "$ga" "$iv"; then fail "as tenant-a's uid: image $part is unwritable"; else pass "as tenant-a's uid: image $part is unwritable"; fi
done

check "down tenant-a" "$MLVM" down tenant-a
check "down tenant-b" "$MLVM" down tenant-b
wait "$runner"
check "tenant-a's uid claim is released" test ! -e "$UID_CLAIMS/$ua"
check "tenant-b's uid claim is released" test ! -e "$UID_CLAIMS/$ub"
nothing_left "two tenants"

# A claim a crash left behind (its run's record is gone) is gc's to remove.
owner=$(cat "$MLVM_STATE_DIR/owner")
stale=$LAST
printf '{"owner":"%s","run":"0badc0de","state_dir":"%s","pid":1}\n' "$owner" "$MLVM_STATE_DIR" >"$tmp/claim"
if ln "$tmp/claim" "$UID_CLAIMS/$stale" 2>/dev/null; then
        check_match "gc names the stale uid claim" "uid $stale" "$("$MLVM" gc 2>&1)"
        check "and removes it" test ! -e "$UID_CLAIMS/$stale"
else
        fail "uid $stale was free for a stale claim"
fi

# A range with a passwd entry in it is refused before anything is created.
err=$(MLVM_QEMU_UIDS=0-100 "$MLVM" up tenant-a 2>&1); st=$?
check_eq "a range over root: up exits 1" 1 $st
check_match "and says why" '^mlvm: up: \$MLVM_QEMU_UIDS "0-100": must lie within 65536-' "$err"
nothing_left "refused range"
done_testing
