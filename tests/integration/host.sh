#!/usr/bin/env bash
# mlvm on the host it is given: the accelerator `info` names is the one a
# run uses; kvm asked for where it cannot work fails in seconds naming the
# reason; the resource controls a run gets are the ones the host enforces;
# a run that fails to start keeps its logs (not its domain or volumes)
# until `down` removes it.
. "$TOP_SRCDIR/tests/lib.sh"
DATA="$TOP_SRCDIR/tests/data/host"
. "$TOP_SRCDIR/tests/lib-runs.sh"
runs_setup_minimal

"$MLVM" info --json > "$tmp/info.json"; check_eq "info --json exits 0" 0 $?
accel=$(json_get "$tmp/info.json" 'j["accelerator"]')
weight=$(json_get "$tmp/info.json" 'j["resource_controls"]["controls"]["io_weight"]["enforced"]')

# --- up uses what info names
out=$("$MLVM" up idle 2>"$tmp/err"); st=$?
check_eq "up idle exits 0" 0 $st
[ $st -eq 0 ] || sed 's/^/# /' "$tmp/err"
run=$(printf '%s\n' "$out" | sed -n 's/^idle: run \([0-9a-f]*\) .*/\1/p')
"$MLVM" inspect "$run" > "$tmp/inspect.json"
check_eq "the run's accelerator is the one info names ($accel)" "$accel" "$(json_get "$tmp/inspect.json" 'j["accel"]')"
check_eq "inspect: what was asked for" auto "$(json_get "$tmp/inspect.json" 'j["accel_requested"]')"
check_eq "inspect: the I/O weight enforced or not, as info says" "$weight" \
        "$(json_get "$tmp/inspect.json" 'j["resources"]["controls"]["io_weight"]["enforced"]')"
check_match "inspect: with the reason (the word weight or a mechanism)" '.' \
        "$(json_get "$tmp/inspect.json" 'j["resources"]["controls"]["io_weight"]["why"]')"
live=$($V dumpxml "mlvm-idle-$run")
if [ "$accel" = tcg ]; then
        check_match "the live domain runs under TCG" "<domain type='qemu'" "$live"
        check_match "up says why not KVM" '^mlvm: up: notice: .*: using TCG' "$(cat "$tmp/err")"
else
        check_match "the live domain runs under KVM" "<domain type='kvm'" "$live"
fi
if [ "$weight" = False ]; then
        check_eq "no blkio weight in the live domain" 0 "$(printf '%s\n' "$live" | grep -c '<blkiotune>')"
        check_match "up says the I/O weight is left out" '^mlvm: up: notice: the I/O weight is not enforced on this host \(.*\): left out$' "$(cat "$tmp/err")"
else
        check_match "the blkio weight is in the live domain" '<weight>500</weight>' "$live"
fi
check "down idle" "$MLVM" down idle
nothing_left "idle"

# --- accel: tcg in the file, and $MLVM_ACCEL over the file
out=$("$MLVM" up forced-tcg 2>"$tmp/err"); st=$?
check_eq "accel: tcg in mlvm.yaml: up exits 0" 0 $st
run=$(printf '%s\n' "$out" | sed -n 's/^forced-tcg: run \([0-9a-f]*\) .*/\1/p')
check_eq "accel: tcg is what the run got" tcg "$(json_get "$tmp/state/runs/$run/run.json" 'j["accel"]')"
check_eq "asked for tcg, nothing to explain" 0 "$(grep -c 'using TCG' "$tmp/err")"
check "down forced-tcg" "$MLVM" down forced-tcg
err=$(MLVM_ACCEL=warp "$MLVM" up idle 2>&1); st=$?
check_eq "a bad \$MLVM_ACCEL is a usage error" 2 $st
check_match "naming the variable and the value" '^mlvm: up: \$MLVM_ACCEL=warp: expected auto, kvm or tcg' "$err"
err=$("$MLVM" up idle --accel warp 2>&1); st=$?
check_eq "a bad --accel is a usage error" 2 $st

# --- kvm asked for where it cannot work: seconds, the reason, nothing left
if [ "$accel" = tcg ]; then
        runs_before=$(ls "$tmp/state/runs" | wc -l)
        t0=$(date +%s%N)
        err=$("$MLVM" up idle --accel kvm 2>&1); st=$?
        ms=$(( ($(date +%s%N) - t0) / 1000000 ))
        check_eq "--accel kvm on a host without usable KVM: exit 1" 1 $st
        check_eq "--accel kvm: one line" 1 "$(printf '%s\n' "$err" | wc -l)"
        check_match "--accel kvm: names KVM and why" '^mlvm: up: accel kvm: .*(KVM|kvm)' "$err"
        echo "# --accel kvm failed in $ms ms"
        check_eq "--accel kvm: fails within 15 s" yes "$([ "$ms" -lt 15000 ] && echo yes)"
        err=$(MLVM_ACCEL=kvm "$MLVM" up idle 2>&1); st=$?
        check_eq "MLVM_ACCEL=kvm does the same" 1 $st
        err=$("$MLVM" up forced-kvm 2>&1); st=$?
        check_eq "accel: kvm in mlvm.yaml does the same" 1 $st
        check_eq "no run record from a refused accelerator" "$runs_before" "$(ls "$tmp/state/runs" | wc -l)"
        nothing_left "--accel kvm"
        err=$(MLVM_ACCEL=tcg "$MLVM" up forced-kvm 2>&1); st=$?
        check_eq "... unless \$MLVM_ACCEL says otherwise" 0 $st
        check "down forced-kvm" "$MLVM" down forced-kvm
fi

# --- a run that fails to start keeps its logs, not its domain or volumes
err=$("$MLVM" up idle --timeout 8 --kernel-args "rdinit=/bin/sh" 2>&1); st=$?
check_eq "no HELLO: up fails" 1 $st
check_match "no HELLO: says so, and where the logs are" 'the agent did not say HELLO within 8 s \(see mlvm logs [0-9a-f]{8}\)' "$err"
run=$(printf '%s\n' "$err" | sed -n 's/.*see mlvm logs \([0-9a-f]\{8\}\).*/\1/p' | head -1)
nothing_left "failed start"
check_eq "its record stays, failed" failed "$(json_get "$tmp/state/runs/$run/run.json" 'j["state"]')"
check_eq "marked as a start that failed" True "$(json_get "$tmp/state/runs/$run/run.json" 'j["start_failed"]')"
logs=$("$MLVM" logs "$run" 2>&1); st=$?
check_eq "mlvm logs RUN works for it" 0 $st
check_match "logs: the guest's console (a shell instead of the agent)" 'BusyBox' "$logs"
check_match "logs: why the run failed" '^--- the run failed: the agent did not say HELLO within 8 s' "$logs"
if [ -f "/var/log/libvirt/qemu/mlvm-idle-$run.log" ]; then
        check_match "logs: the tail of libvirt's QEMU log" '^--- qemu.log: ' "$logs"
fi
check_match "ps --all lists it failed" "^idle +$run +failed" "$("$MLVM" ps --all)"
out=$("$MLVM" down "$run"); st=$?
check_eq "down RUN of a failed start exits 0" 0 $st
check_match "down says it removed it" "removed" "$out"
check_eq "its record is gone" no "$([ -e "$tmp/state/runs/$run" ] && echo yes || echo no)"
check_eq "ps --all no longer lists it" 0 "$("$MLVM" ps --all | grep -c "$run")"
check "the audit log verifies" "$MLVM" audit verify
nothing_left "after down"
done_testing
