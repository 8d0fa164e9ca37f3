#!/usr/bin/env bash
# restart: in mlvm.yaml, on real guests: a model that exits 1 with
# restart: on-failure comes back as new runs linked to the one before
# (restart_of, restart_count, restarted_as, a run.restart audit event)
# and up's own --publish and --kernel-args, until restart_max; restart: no leaves it ended; mlvm down during the
# backoff ends the chain with nothing left. Deadlines are generous
# (MLVM_TEST_RESTART_WAIT, default 900 s): boots under TCG are slow.
. "$TOP_SRCDIR/tests/lib.sh"
DATA="$TOP_SRCDIR/tests/data/restart"
. "$TOP_SRCDIR/tests/lib-runs.sh"
runs_setup_minimal
WAIT=${MLVM_TEST_RESTART_WAIT:-900}

rec() { json_get "$MLVM_STATE_DIR/runs/$1/run.json" "$2" 2>/dev/null; }
# The ids of NAME's runs, oldest first.
runs_of() {
        "$MLVM" ps --all --json | "${PYTHON3:-python3}" -c '
import json, sys
print(" ".join(r["run"] for r in json.load(sys.stdin) if r["name"] == sys.argv[1]))' "$1"
}
# Wait (up to $WAIT s) until the python expression $2 over run $1's record holds.
wait_rec() {
        for _ in $(seq 1 $((WAIT * 5))); do
                [ "$(rec "$1" "$2")" = True ] && return 0
                sleep 0.2
        done
        return 1
}
monitor_gone() {
        for _ in $(seq 1 $((WAIT * 5))); do
                pgrep -f "mlvm-monitor $MLVM_STATE_DIR $1" >/dev/null || return 0
                sleep 0.2
        done
        return 1
}

# ---- on-failure, capped -----------------------------------------------------
# With up's own options, which every restart of the chain is given again.
port=$(free_port)
out=$("$MLVM" up crash --publish "127.0.0.1:$port:8080" --kernel-args mlvm_restart_probe=7 2>&1); st=$?
check_eq "up crash exits 0" 0 $st
r0=$(printf '%s\n' "$out" | sed -n 's/^crash: run \([0-9a-f]*\) .*/\1/p')
check_match "a first run" '^[0-9a-f]{8}$' "$r0"
# The chain: r0 -> r1 -> r2; r2 is the last (restart_max 2).
r1="" r2=""
wait_rec "$r0" '"restarted_as" in j' && r1=$(rec "$r0" 'j["restarted_as"]')
check_match "the failed run was restarted as a new run" '^[0-9a-f]{8}$' "$r1"
[ -n "$r1" ] && wait_rec "$r1" '"restarted_as" in j' && r2=$(rec "$r1" 'j["restarted_as"]')
check_match "and that one again" '^[0-9a-f]{8}$' "$r2"
check_eq "three distinct run ids" 3 "$(printf '%s\n' "$r0" "$r1" "$r2" | sort -u | grep -c .)"
check_eq "the first restart links the first run" "$r0 1" "$(rec "$r1" 'j.get("restart_of"), j.get("restart_count")' | tr -d "(),'")"
check_eq "the second links the first restart" "$r1 2" "$(rec "$r2" 'j.get("restart_of"), j.get("restart_count")' | tr -d "(),'")"
want="[{'addr': '127.0.0.1', 'port': $port, 'guest_port': 8080}] mlvm_restart_probe=7"
check_eq "the first restart has up's --publish and --kernel-args" "$want" \
        "$(rec "$r1" '"%s %s" % (j.get("publish"), j.get("up_options", {}).get("kernel_args"))')"
check_eq "and so has the second" "$want" "$(rec "$r2" '"%s %s" % (j.get("publish"), j.get("up_options", {}).get("kernel_args"))')"
wait_rec "$r2" 'j["state"] not in ("starting", "ready") and "restart_stopped" in j'
check_eq "the last run ended and says why it was not restarted" "exited restart_max 2 reached 1" \
        "$(rec "$r2" 'j["state"], j["restart_stopped"], j["exit_code"]' | tr -d "(),'")"
monitor_gone "$r2"
check_match "the restarted guest booted with them" "mlvm_restart_probe=7" "$("$MLVM" logs "$r2" 2>&1)"
check_eq "no fourth run" "$r0 $r1 $r2" "$(runs_of crash)"
check_eq "the name is free again" "" "$(cat "$MLVM_STATE_DIR/names/crash" 2>/dev/null)"
"$MLVM" audit --event run.restart --json > "$tmp/audit.json"
check_eq "two run.restart audit events, with the links" "$r1 $r0 1,$r2 $r1 2," \
        "$(json_get "$tmp/audit.json" '"".join("%s %s %s," % (e["run"], e["restart_of"], e["restart_count"]) for e in j)' 2>&1)"
check "the audit chain verifies" "$MLVM" -q audit verify
nothing_left "restart: on-failure, capped"

# ---- no ------------------------------------------------------------------------
out=$("$MLVM" up once 2>&1)
ro=$(printf '%s\n' "$out" | sed -n 's/^once: run \([0-9a-f]*\) .*/\1/p')
check_match "up once" '^[0-9a-f]{8}$' "$ro"
wait_ended "$ro"
monitor_gone "$ro"
check_eq "restart: no: the failed run ended, no restart pending or made" "exited 1 False False" \
        "$(rec "$ro" 'j["state"], j["exit_code"], "restart_pending" in j, "restarted_as" in j' | tr -d "(),'")"
check_eq "and it is the name's only run" "$ro" "$(runs_of once)"
nothing_left "restart: no"

# ---- down during the backoff -------------------------------------------------
out=$("$MLVM" up waits 2>&1)
rw=$(printf '%s\n' "$out" | sed -n 's/^waits: run \([0-9a-f]*\) .*/\1/p')
check_match "up waits" '^[0-9a-f]{8}$' "$rw"
wait_rec "$rw" 'j.get("restart_pending") is True'
check_eq "exit 0 with restart: always: a restart is pending" "exited 0" "$(rec "$rw" 'j["state"], j["exit_code"]' | tr -d "(),'")"
check_match "ps shows it restarting" "^waits +$rw +exited \(restarting\)" "$("$MLVM" ps)"
check_eq "ps --json says so" "True" "$("$MLVM" ps --json | "${PYTHON3:-python3}" -c 'import json,sys; print([r["restarting"] for r in json.load(sys.stdin) if r["name"] == "waits"][0])')"
out=$("$MLVM" down waits 2>&1); st=$?
check_eq "down during the backoff exits 0" 0 $st
check_match "and says the restart is cancelled" "^waits: run $rw ended, its restart cancelled in [0-9.]+ s$" "$out"
monitor_gone "$rw"
check_eq "the record says cancelled, nothing pending" "True False" \
        "$(rec "$rw" 'j.get("restart_cancelled"), j.get("restart_pending")' | tr -d "(),'")"
check_eq "no second run" "$rw" "$(runs_of waits)"
check_eq "the name is free" "" "$(cat "$MLVM_STATE_DIR/names/waits" 2>/dev/null)"
"$MLVM" audit --event run.down --json > "$tmp/down.json"
check_eq "run.down audited with restart_cancelled" "True" \
        "$(json_get "$tmp/down.json" '[e.get("restart_cancelled") for e in j if e["run"] == "'"$rw"'"][-1]')"
out=$("$MLVM" down waits 2>&1)
check_eq "a second down: not running" "waits: not running (last run $rw)" "$out"
nothing_left "down during the backoff"

done_testing
