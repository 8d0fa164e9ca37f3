#!/usr/bin/env bash
# Tenant isolation on the host, the parts that hold today: a config file
# cannot hand a guest the host's keys, the pool or /etc as a data disk
# (refused with FILE:LINE:COL before anything is created), and `up` checks
# the image as `image verify` does (signature, store parts) before use.
. "$TOP_SRCDIR/tests/lib.sh"
DATA="$TOP_SRCDIR/tests/data/isolation"
. "$TOP_SRCDIR/tests/lib-runs.sh"
runs_setup_minimal
check "a key exists to be stolen" test -s "$tmp/state/keys/host.key" -o -s "$tmp/state/keys/builder.key"
ln -s "$tmp/state/keys" "$tmp/innocent"

runs_before=$(ls "$tmp/state/runs" 2>/dev/null | wc -l)
for m in keys via-link etc; do
        err=$("$MLVM" up "$m" 2>&1); st=$?
        check_eq "$m: up exits 1" 1 $st
        check_eq "$m: one line" 1 "$(printf '%s\n' "$err" | grep -vc '^mlvm: up: notice: ')"
        case $m in
        keys) check_match "$m: names file, line, key and the state directory" \
                "^mlvm: up: mlvm.yaml:[0-9]+:[0-9]+: models.keys.disks.k.source: $tmp/state/keys is inside $tmp/state, mlvm's state directory" "$err" ;;
        via-link) check_match "$m: the symlink is resolved" \
                "^mlvm: up: mlvm.yaml:[0-9]+:[0-9]+: models.via-link.disks.k.source: $tmp/innocent \(that is $tmp/state/keys\) is inside $tmp/state" "$err" ;;
        etc) check_match "$m: /etc is a host system directory" \
                "^mlvm: up: mlvm.yaml:[0-9]+:[0-9]+: models.etc.disks.e.source: /etc is inside /etc, a host system directory" "$err" ;;
        esac
done
check_eq "refused sources create no run record" "$runs_before" "$(ls "$tmp/state/runs" 2>/dev/null | wc -l)"
nothing_left "refused sources"

# An allowed source still works end to end.
out=$("$MLVM" up fine 2>"$tmp/err"); st=$?
check_eq "an allowed source: up exits 0" 0 $st
[ $st -eq 0 ] || sed 's/^/# /' "$tmp/err"
run=$(printf '%s\n' "$out" | sed -n 's/^fine: run \([0-9a-f]*\) .*/\1/p')
wait_ended "$run"
check_match "the guest reads it" '^hello from an allowed source$' "$("$MLVM" logs "$run" --output)"
check "down fine" "$MLVM" down fine
nothing_left "allowed source"

# --- up verifies the image as `image verify` does
digest=$(sed -n 's/^sha256:\(.*\)$/\1/p' "$tmp/state/images/tags/minimal:latest")
img="$tmp/state/images/sha256/$digest"
flip() { # flip the last byte of $1
        "${PYTHON3:-python3}" -c 'import sys; p=sys.argv[1]; b=bytearray(open(p,"rb").read()); b[-2]^=1; open(p,"wb").write(b)' "$1"
}
cp "$img/manifest.sig" "$tmp/sig.good"
chmod u+w "$img" "$img/manifest.sig" 2>/dev/null
flip "$img/manifest.sig"
err=$("$MLVM" up idle 2>&1); st=$?
check_eq "a flipped byte in manifest.sig: up refuses" 1 $st
check_match "and says the signature failed" '^mlvm: up: image minimal: .*(signature|sig)' "$err"
nothing_left "bad signature"
cp "$tmp/sig.good" "$img/manifest.sig"
cp "$img/initramfs" "$tmp/initramfs.good"
chmod u+w "$img/initramfs" 2>/dev/null
flip "$img/initramfs"
err=$("$MLVM" up idle 2>&1); st=$?
check_eq "a flipped byte in the stored initramfs: up refuses" 1 $st
check_match "and names the part" '^mlvm: up: image minimal: part initramfs: .* SHA-256 ' "$err"
nothing_left "bad stored part"
cp "$tmp/initramfs.good" "$img/initramfs"
# The caller's open descriptors (a shell's, this test's fd 9) do not
# follow into the monitor, which lives as long as the run.
exec 9>"$tmp/caller-fd"
out=$("$MLVM" up idle 2>&1); st=$?
exec 9>&-
check_eq "restored: up works again" 0 $st
mon=$(json_get "$MLVM_STATE_DIR/runs/$(cat "$MLVM_STATE_DIR/names/idle")/run.json" 'j["monitor_pid"]')
check_eq "the monitor holds none of its caller's descriptors" "" \
        "$(ls -l /proc/"$mon"/fd 2>/dev/null | grep -F "$tmp/caller-fd")"
check "and it has its own" test "$(ls /proc/"$mon"/fd 2>/dev/null | wc -l)" -gt 3
# The monitor's frame gate, the one process that reads the agent's bytes,
# holds no privilege (docs/security.md), read here from /proc alone.
gate=$(pgrep -P "$mon" -f '^mlvm-monitor gate ' | head -n 1)
check "the monitor has a frame gate" test -n "$gate"
st_of() { sed -n "s/^$1:[[:space:]]*//p" /proc/"$gate"/status 2>/dev/null; }
quid=$(json_get "$MLVM_STATE_DIR/runs/$(cat "$MLVM_STATE_DIR/names/idle")/run.json" 'j.get("qemu_uid", 65534)')
check_eq "the gate runs as the run's QEMU uid (real, effective, saved, fs), not root" \
        "$quid	$quid	$quid	$quid" "$(st_of Uid)"
check_eq "with that number as its gid" "$quid	$quid	$quid	$quid" "$(st_of Gid)"
check_eq "and no supplementary groups" "" "$(st_of Groups)"
for c in CapInh CapPrm CapEff CapBnd CapAmb; do
        check_eq "$c of the gate is empty" 0000000000000000 "$(st_of $c)"
done
check_eq "the gate has no_new_privs" 1 "$(st_of NoNewPrivs)"
check_eq "the gate is under a seccomp filter" 2 "$(st_of Seccomp)"
# Non-dumpable: its /proc files are root's, so QEMU (same uid) cannot ptrace it.
check_eq "the gate is not dumpable (QEMU shares its uid)" 0 "$(stat -c %u /proc/"$gate"/status)"
check_eq "the gate holds /dev/null on 0-2 and its socket on 3, nothing else" \
        "0 /dev/null|1 /dev/null|2 /dev/null|3 socket|" \
        "$(for f in /proc/"$gate"/fd/*; do printf '%s %s|' "${f##*/}" "$(readlink "$f" | sed 's/:.*//')"; done)"
check_eq "the monitor itself is the privileged part, root" 0 "$(awk '/^Uid:/ {print $2}' /proc/"$mon"/status)"
check "down idle" "$MLVM" down idle
check_eq "the audit log verifies" 0 "$("$MLVM" audit verify >/dev/null 2>&1; echo $?)"
nothing_left "after the image checks"
done_testing
