#!/usr/bin/env bash
# Runs end to end against the real libvirtd under TCG: up, ps, logs,
# inspect, down, the workload's exit code and output, data disks, and the
# failure behaviours of issue 4, each checked to leave nothing behind.
. "$TOP_SRCDIR/tests/lib.sh"
DATA="$TOP_SRCDIR/tests/data/runs"
. "$TOP_SRCDIR/tests/lib-runs.sh"
runs_setup_minimal

# --- a model that idles until down
out=$("$MLVM" up idle 2>"$tmp/err"); st=$?
check_eq "up idle exits 0" 0 $st
[ $st -eq 0 ] || sed 's/^/# /' "$tmp/err"
check_match "up prints the run id and time to ready" '^idle: run [0-9a-f]{8} ready in [0-9.]+ s$' "$out"
check_match "up says TCG on this machine, and why" 'notice: .*: using TCG' "$(cat "$tmp/err")"
run=$(printf '%s\n' "$out" | sed -n 's/^idle: run \([0-9a-f]*\) .*/\1/p')
dom="mlvm-idle-$run"
check_match "ps lists it ready" "^idle +$run +ready +[0-9]+s +tcg +1 +256M +minimal$" "$("$MLVM" ps)"
"$MLVM" ps --json > "$tmp/ps.json"
check_eq "ps --json" "ready" "$(json_get "$tmp/ps.json" '[r["state"] for r in j if r["run"]=="'"$run"'"][0]')"
"$MLVM" inspect idle > "$tmp/inspect.json"
check_eq "inspect: image digest" "$(sed -n 's/^sha256:\(.*\)$/\1/p' "$tmp/state/images/tags/minimal:latest")" "$(json_get "$tmp/inspect.json" 'j["image_digest"]')"
check_eq "inspect: transport" virtio-serial "$(json_get "$tmp/inspect.json" 'j["transport"]')"
check_eq "inspect: parts re-verified at boot" "['kernel', 'initramfs']" "$(json_get "$tmp/inspect.json" 'j["verified_at_boot"]')"
check_eq "inspect: agent said HELLO" virtio-serial "$(json_get "$tmp/inspect.json" 'j["agent"]["transport"]')"
check_match "inspect: domain XML" "<name>$dom</name>" "$(json_get "$tmp/inspect.json" 'j["domain_xml"]')"
live=$($V dumpxml "$dom")
check_eq "live XML: no network interface" 0 "$(printf '%s\n' "$live" | grep -c '<interface')"
check_match "live XML: USB controller none" "<controller type='usb'[^>]*model='none'" "$live"
check_match "live XML: memballoon none" "<memballoon model='none'" "$live"
check_match "live XML: nosharepages" '<nosharepages/>' "$live"
check_match "live XML: domain type qemu (TCG)" "<domain type='qemu'" "$live"
check_match "logs show the console" 'mlvm-agent: HELLO sent over virtio-serial' "$("$MLVM" logs idle --console)"
err=$("$MLVM" image rm minimal 2>&1); st=$?
check_eq "image rm of an image in use exits 1" 1 $st
check_match "and names the run" "^mlvm: image: minimal: in use by run $run \(mlvm down it first\)$" "$err"
err=$("$MLVM" up idle 2>&1); st=$?
check_eq "a second up of a running name exits 1" 1 $st
check_match "and says it is already running" "^mlvm: up: idle is already running as run $run \(mlvm down idle first\)$" "$err"
out=$("$MLVM" down idle); st=$?
check_eq "down exits 0" 0 $st
check_match "down reports the run stopped" "^idle: run $run stopped in [0-9.]+ s$" "$out"
check_eq "the domain is gone" "" "$($V list --all --name | grep -x "$dom")"
nothing_left "up/down"
downs=$("$MLVM" audit --json | grep -c '"run.down"')
out=$("$MLVM" down idle); st=$?
check_eq "down again exits 0" 0 $st
check_match "down again is a no-op that names the last run" "^idle: not running \(last run $run\)$" "$out"
check_eq "down again is not audited" "$downs" "$("$MLVM" audit --json | grep -c '"run.down"')"
check_match "ps --all shows it stopped" "^idle +$run +stopped " "$("$MLVM" ps --all)"

# --- a workload that exits 3: output and exit code come back
out=$("$MLVM" up echo 2>/dev/null); check_eq "up echo exits 0" 0 $?
run=$(printf '%s\n' "$out" | sed -n 's/^echo: run \([0-9a-f]*\) .*/\1/p')
wait_ended "$run"
"$MLVM" inspect "$run" > "$tmp/echo.json"
check_eq "the workload's exit code is recorded" 3 "$(json_get "$tmp/echo.json" 'j.get("exit_code")')"
check_eq "state exited" exited "$(json_get "$tmp/echo.json" 'j["state"]')"
logs=$("$MLVM" logs "$run" --output)
check_match "stdout reached the run's log" '^out-line$' "$logs"
check_match "stderr reached the run's log" '^err-line$' "$logs"
check_match "the workload ran as uid 1000" '^1000$' "$logs"
nothing_left "a workload that exits"

# --- a workload killed by a signal: 128 + N
out=$("$MLVM" up killed 2>/dev/null); run=$(printf '%s\n' "$out" | sed -n 's/^killed: run \([0-9a-f]*\) .*/\1/p')
wait_ended "$run"
"$MLVM" inspect "$run" > "$tmp/killed.json"
check_eq "a signal death is 128+N (SIGTERM: 143)" 143 "$(json_get "$tmp/killed.json" 'j.get("exit_code")')"
nothing_left "a workload killed by a signal"

# --- env, logs -f
out=$("$MLVM" up server 2>/dev/null); run=$(printf '%s\n' "$out" | sed -n 's/^server: run \([0-9a-f]*\) .*/\1/p')
timeout 20 "$MLVM" logs server -f --output > "$tmp/follow.txt" &
fpid=$!
sleep 3
"$MLVM" -q down server
wait "$fpid"; st=$?
check_eq "logs -f ends when the run ends" 0 $st
check_match "logs -f printed the output" '^serving$' "$(cat "$tmp/follow.txt")"
nothing_left "logs -f and down"

# --- a read-only data disk built on the host
out=$("$MLVM" up data 2>"$tmp/err"); st=$?
check_eq "up data exits 0" 0 $st
[ $st -eq 0 ] || sed 's/^/# /' "$tmp/err"
run=$(printf '%s\n' "$out" | sed -n 's/^data: run \([0-9a-f]*\) .*/\1/p')
wait_ended "$run"
logs=$("$MLVM" logs "$run" --output)
check_match "the data disk's file is readable" '^hello from the data disk$' "$logs"
check_match "nested directories are there" '^nested.txt$' "$logs"
check_match "the data disk is read-only" 'read-only|Read-only' "$logs"
nothing_left "data disk"

# --- failure behaviours
err=$("$MLVM" up published 2>&1); st=$?
check_eq "publishing beyond loopback without --publish-public: exit 1" 1 $st
check_match "names file, line, key and the flag" "^mlvm: up: mlvm.yaml:[0-9]+:[0-9]+: models.published.publish: 0.0.0.0:18080 is not a loopback address; pass --publish-public" "$err"
err=$("$MLVM" up limited 2>&1); st=$?
check_eq "memtune hard limit: exit 1 on this machine" 1 $st
check_eq "memtune hard limit: one line (besides notices)" 1 "$(printf '%s\n' "$err" | grep -vc '^mlvm: up: notice: ')"
check_match "memtune hard limit: libvirt's reason" '^mlvm: up: start domain mlvm-limited-[0-9a-f]{8}: ' "$err"
nothing_left "memtune hard limit"
# The domain was handed to libvirt: the record stays as evidence, failed, until down.
lrun=$(printf '%s\n' "$err" | sed -n 's/.*see mlvm logs \([0-9a-f]\{8\}\).*/\1/p' | head -1)
check_eq "the failed up keeps its record, failed" failed "$(json_get "$tmp/state/runs/$lrun/run.json" 'j["state"]' 2>&1)"
check "down removes that record" "$MLVM" down "$lrun"
check_eq "no run record is left after down" "" "$(ls "$tmp/state/runs" | while read -r r; do grep -l '"limited"' "$tmp/state/runs/$r/run.json" 2>/dev/null; done)"

err=$("$MLVM" up idle --timeout 8 --kernel-args "rdinit=/bin/sh" 2>&1); st=$?
check_eq "no HELLO: up fails" 1 $st
check_match "no HELLO: says so" "the agent did not say HELLO within 8 s" "$err"
nothing_left "no HELLO"

# The image fails verification at boot: flip one byte of the kernel volume.
digest=$(sed -n 's/^sha256:\(.*\)$/\1/p' "$tmp/state/images/tags/minimal:latest")
kvol="$tmp/pool/mlvm-img-${digest:0:16}-kernel"
cp "$kvol" "$tmp/kernel.good"
chmod u+w "$kvol"; printf 'X' | dd of="$kvol" bs=1 seek=5000 conv=notrunc 2>/dev/null
nrec=$(ls "$MLVM_STATE_DIR/runs" | wc -l)
err=$("$MLVM" up idle 2>&1); st=$?
check_eq "tampered image: up fails" 1 $st
check_match "tampered image: names the part" "image minimal: image part kernel \(volume mlvm-img-[0-9a-f]{16}-kernel\) fails verification" "$err"
nothing_left "tampered image"
# The domain may have existed, paused (verification ends once QEMU has read
# the kernel): its vCPUs never ran, and no record of it stays.
check_eq "tampered image: no run record stays" "$nrec" "$(ls "$MLVM_STATE_DIR/runs" | wc -l)"
cp "$tmp/kernel.good" "$kvol"; chmod 0444 "$kvol"

# A part swapped after it was verified and before QEMU reads it (up stopped
# right after the hashing): the guest does not run the swapped bytes.
ivol="$tmp/pool/mlvm-img-${digest:0:16}-initramfs"
up_stopped_at verified idle
check_eq "swapped part: up stops once the parts are hashed" T "$up_state"
mv "$ivol" "$tmp/initramfs.good"
cp "$tmp/initramfs.good" "$ivol"; printf 'X' | dd of="$ivol" bs=1 seek=100 conv=notrunc 2>/dev/null
kill -CONT "$upid"; wait "$upid"; st=$?
mv -f "$tmp/initramfs.good" "$ivol"
check_eq "swapped part: up fails" 1 $st
check_match "swapped part: says the part changed after its verification" \
        "image minimal: part initramfs \(.*\) changed between its verification and QEMU's start: not booting it" "$(cat "$tmp/up.err")"
nothing_left "swapped part"
check "the image verifies again once restored" "$MLVM" -q image verify minimal

# A part unchanged since an earlier up hashed it is not read again
# (src/lib/image/verify-cache.h): the second up of a settled image finds
# every part known. A change is still seen with its mtime put back, since
# its ctime moved.
sleep 2   # the parts settle (VCACHE_SETTLE_NS) before the first hash
check "up idle (hashes the settled parts)" "$MLVM" -q up idle
check "down idle" "$MLVM" -q down idle
check "up idle again" "$MLVM" -q up idle
"$MLVM" inspect idle > "$tmp/known.json"
check_eq "an unchanged image: every part verified" "['kernel', 'initramfs']" "$(json_get "$tmp/known.json" 'j["verified_at_boot"]')"
check_eq "an unchanged image: no part read again" "['kernel', 'initramfs']" "$(json_get "$tmp/known.json" 'j["verified_unchanged"]')"
check "down idle" "$MLVM" down idle
check_eq "the cache is root's alone" 600 "$(stat -c %a "$tmp/state/cache/verified/$digest.json")"
cp -p "$ivol" "$tmp/initramfs.good"
printf 'X' | dd of="$ivol" bs=1 seek=100 conv=notrunc 2>/dev/null; touch -r "$tmp/initramfs.good" "$ivol"
err=$("$MLVM" up idle 2>&1); st=$?
check_eq "a changed volume, mtime put back: up fails" 1 $st
check_match "and names the part" "image minimal: image part initramfs \(volume mlvm-img-[0-9a-f]{16}-initramfs\) fails verification" "$err"
nothing_left "changed volume, mtime put back"
cp -p "$tmp/initramfs.good" "$ivol"; chmod 0444 "$ivol"

# The monitor is killed: ps says so, down still removes everything.
out=$("$MLVM" up idle 2>/dev/null); run=$(printf '%s\n' "$out" | sed -n 's/^idle: run \([0-9a-f]*\) .*/\1/p')
mpid=$(json_get "$tmp/state/runs/$run/run.json" 'j["monitor_pid"]')
kill -9 "$mpid"
sleep 0.5
check_match "ps shows the run failed (monitor gone)" "^idle +$run +failed \(monitor gone\)" "$("$MLVM" ps)"
check "down after the monitor died" "$MLVM" down idle
nothing_left "monitor killed"

# Two ups of the same name at once: one wins, the other says so; no shared volume.
"$MLVM" up idle > "$tmp/a.out" 2>&1 &
a=$!
"$MLVM" up idle > "$tmp/b.out" 2>&1 &
b=$!
wait $a; sa=$?; wait $b; sb=$?
check_eq "two ups at once: exactly one succeeds" 1 $(( (sa == 0) + (sb == 0) ))
check_match "the other says already running" 'already running as run' "$(cat "$tmp/a.out" "$tmp/b.out")"
check_eq "one run's volumes only" 0 "$($V vol-list "$pool" | awk '{print $1}' | grep '^mlvm-run-' | wc -l)"
"$MLVM" -q down idle
nothing_left "two ups at once"

check_match "the audit log has the runs" 'run.start' "$("$MLVM" audit --event run. | awk '{print $3}' | sort -u | tr '\n' ' ')"
check_match "and verifies" '^audit log ok' "$("$MLVM" audit verify)"
done_testing
