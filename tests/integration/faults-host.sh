#!/usr/bin/env bash
# Host faults in a run's life (issue 16), against the real libvirtd under
# TCG: the state directory's file system full (a small tmpfs), the storage
# pool's full (its directory on another), a run's volume files deleted
# under it. After each: a one-line error naming what could not be
# written, ps tells the truth, down and gc leave no domain, volume,
# monitor, socket, record or temporary file, and the audit log verifies.
# The tmpfs mounts are this test's own, under its temporary directory,
# and are unmounted at the end whatever happens.
. "$TOP_SRCDIR/tests/lib.sh"
DATA="$TOP_SRCDIR/tests/data/runs"
. "$TOP_SRCDIR/tests/lib-runs.sh"
command -v mount >/dev/null && command -v umount >/dev/null || skip_all "mount/umount missing"

mnts=""
host_cleanup() {
        cleanup 2>/dev/null   # lib-runs.sh's: domains, monitors, volumes, the pool, $tmp but its mounts
        for m in $mnts; do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null; done
        rm -rf "$tmp"
}
trap host_cleanup EXIT

# A tmpfs of SIZE at DIR, this test's own.
small_fs() {
        mkdir -p "$2" && mount -t tmpfs -o "size=$1,mode=0700" mlvm-test-tmpfs "$2" && mnts="$2 $mnts"
}
# Fill the file system of DIR: one file, FILLER, until ENOSPC.
fill() { dd if=/dev/zero of="$1" bs=64k status=none 2>/dev/null; sync; }

# The state holds the image store too (the image build writes there).
small_fs 256m "$MLVM_STATE_DIR" || skip_all "cannot mount a tmpfs"
small_fs 512m "$MLVM_POOL_PATH" || skip_all "cannot mount a tmpfs"
runs_setup_minimal
echo "# state: $(df -h --output=used,size "$MLVM_STATE_DIR" | tail -1), pool: $(df -h --output=used,size "$MLVM_POOL_PATH" | tail -1)"

state_of() { "$MLVM" ps --all --json | json_get /dev/stdin '[r["state"] for r in j if r["run"]=="'"$1"'"][0] if [r for r in j if r["run"]=="'"$1"'"] else "gone"'; }
vols() { $V pool-refresh "$pool" >/dev/null 2>&1; $V vol-list "$pool" | awk '{print $1}' | grep '^mlvm-run-'; }

# Nothing of any run left: libvirt, monitors, sockets, live records,
# names, temporary files; and the audit log verifies.
all_clean() {
        local desc=$1 left="" f
        nothing_left "$desc"
        for f in "$MLVM_STATE_DIR"/runs/*/run.json; do
                [ -e "$f" ] || continue
                case "$(json_get "$f" 'j["state"]')" in starting|ready) left="$left live-record:$f" ;; esac
        done
        left="$left $(find "$MLVM_STATE_DIR" "$MLVM_POOL_PATH" -name control.sock -o -name '*.tmp.*')"
        left="$left $(ls "$MLVM_STATE_DIR/names" 2>/dev/null)"
        left=$(echo $left)
        check_eq "$desc: no live record, socket, name or temporary file left" "" "$left"
        check "$desc: the audit log verifies" "$MLVM" audit verify
}

# --- 1. the state directory's file system full
runs_before=$(ls "$MLVM_STATE_DIR/runs" 2>/dev/null | wc -l)
fill "$MLVM_STATE_DIR/filler"
# Notices about this host (TCG, I/O weight) are not errors.
errors() { grep -v '^mlvm: up: notice: '; }
"$MLVM" up idle >"$tmp/out" 2>&1; st=$?
out=$(errors < "$tmp/out")
check_eq "state full: up fails" 1 $st
check_eq "state full: with one line" 1 "$(printf '%s\n' "$out" | wc -l)"
check_match "state full: naming what could not be written" "^mlvm: up: .*$MLVM_STATE_DIR.*No space left on device" "$out"
check_eq "state full: no run record made" "$runs_before" "$(ls "$MLVM_STATE_DIR/runs" 2>/dev/null | wc -l)"
check_eq "state full: no volume made" "" "$(vols)"
rm -f "$MLVM_STATE_DIR/filler"
all_clean "state full"

out=$("$MLVM" up idle 2>"$tmp/err"); st=$?
check_eq "state fills under a run: up idle first" 0 $st
[ $st -eq 0 ] || sed 's/^/# /' "$tmp/err"
run=$(printf '%s\n' "$out" | sed -n 's/^idle: run \([0-9a-f]*\) .*/\1/p')
fill "$MLVM_STATE_DIR/filler"
check_eq "state fills under a run: ps still says ready" ready "$(state_of "$run")"
survivors_sandboxed "state fills under a run"
# down stops it; that its audit event could not be written is an error,
# and says so (the log stays a valid chain without it).
out=$("$MLVM" down idle 2>&1); st=$?
check_eq "state fills under a run: down exits 1" 1 $st
check_eq "state fills under a run: down says it stopped the run, and what it could not write" \
        "mlvm: down: run $run stopped, but its audit event was not written: $MLVM_STATE_DIR/audit.checkpoint: No space left on device" "$out"
check_eq "state fills under a run: ps --all says stopped" stopped "$(state_of "$run")"
rm -f "$MLVM_STATE_DIR/filler"
"$MLVM" -q gc
all_clean "state fills under a run"

# --- 2. the storage pool full (a data disk: an idle run on the minimal
# image has only sparse volumes, which a full file system still takes)
fill "$MLVM_POOL_PATH/filler"
echo "# pool: $(df -h --output=used,size,avail "$MLVM_POOL_PATH" | tail -1)"
"$MLVM" up data >"$tmp/out" 2>&1; st=$?
out=$(errors < "$tmp/out")
check_eq "pool full: up fails" 1 $st
check_eq "pool full: with one line" 1 "$(printf '%s\n' "$out" | wc -l)"
check_match "pool full: naming the volume" "^mlvm: up: .*mlvm-run-[0-9a-f]+-" "$out"
printf '%s\n' "$out" | sed 's/^/# up: /'
rm -f "$MLVM_POOL_PATH/filler"
check_eq "pool full: no volume left" "" "$(vols)"
check_match "pool full: ps --all says failed, or has no record" "^(failed|gone)" "$(state_of "$(cat "$MLVM_STATE_DIR/names/data" 2>/dev/null || echo none)")"
all_clean "pool full"

# --- 3. a run's volume files deleted under it
out=$("$MLVM" up idle 2>"$tmp/err"); st=$?
check_eq "volumes deleted: up idle" 0 $st
run=$(printf '%s\n' "$out" | sed -n 's/^idle: run \([0-9a-f]*\) .*/\1/p')
rm -f "$MLVM_POOL_PATH"/mlvm-run-"$run"-*
survivors_sandboxed "volumes deleted"
out=$("$MLVM" down idle 2>&1); st=$?
printf '%s\n' "$out" | sed 's/^/# down: /'
check_eq "volumes deleted: down exits 0" 0 $st
check_match "volumes deleted: down reports" "^idle: run $run (stopped|cleaned up)" "$out"
out=$("$MLVM" gc 2>&1); st=$?
printf '%s\n' "$out" | sed 's/^/# gc: /'
check_eq "volumes deleted: gc exits 0" 0 $st
check_eq "volumes deleted: no volume left in libvirt" "" "$(vols)"
all_clean "volumes deleted"

done_testing
