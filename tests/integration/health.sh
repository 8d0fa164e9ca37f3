#!/usr/bin/env bash
# healthcheck: in mlvm.yaml, on real guests: probes go through the agent
# (the guest has no network card). An HTTP server and a TCP listener make
# their models healthy and up --wait-healthy returns 0; a port nobody
# listens on, or an HTTP 500, makes the model unhealthy and up
# --wait-healthy fails naming it. Deadlines are generous (--health-timeout
# 600, MLVM_BOOT_TIMEOUT from lib-runs.sh): no timed assertion.
. "$TOP_SRCDIR/tests/lib.sh"
DATA="$TOP_SRCDIR/tests/data/health"
. "$TOP_SRCDIR/tests/lib-runs.sh"
runs_setup_minimal

rec() { json_get "$MLVM_STATE_DIR/runs/$1/run.json" "$2" 2>/dev/null; }
ps_field() {
        "$MLVM" ps --json | "${PYTHON3:-python3}" -c '
import json, sys
print(" ".join(str(r[sys.argv[2]]) for r in json.load(sys.stdin) if r["name"] == sys.argv[1]))' "$1" "$2"
}

# ---- healthy: HTTP and TCP, both waited for in one up --------------------------
out=$("$MLVM" up web tcp --wait-healthy --health-timeout 600 2>"$tmp/err"); st=$?
check_eq "up --wait-healthy of an HTTP and a TCP model exits 0" 0 $st
[ $st -eq 0 ] || sed 's/^/# /' "$tmp/err"
check_match "says both are healthy" '^2 models healthy$' "$out"
rweb=$(printf '%s\n' "$out" | sed -n 's/^web: run \([0-9a-f]*\) .*/\1/p')
rtcp=$(printf '%s\n' "$out" | sed -n 's/^tcp: run \([0-9a-f]*\) .*/\1/p')
check_eq "the records say healthy" "healthy healthy" "$(rec "$rweb" 'j["health"]') $(rec "$rtcp" 'j["health"]')"
check_match "ps shows it" "^web +$rweb +ready \(healthy\)" "$("$MLVM" ps)"
check_eq "ps --json has the health" "healthy" "$(ps_field web health)"
check_match "the monitor logged the probe through the agent" "health: healthy" \
        "$(cat "$MLVM_STATE_DIR/runs/$rweb/monitor.log")"
out=$("$MLVM" up --wait-healthy --health-timeout 600 web tcp 2>&1); st=$?
check_eq "an explicit up of running models still fails" 1 $st
check "down web tcp" "$MLVM" down web tcp
nothing_left "healthy models"

# ---- unhealthy: nobody listens ------------------------------------------------
err=$("$MLVM" up deaf --wait-healthy --health-timeout 600 2>&1 >"$tmp/out"); st=$?
check_eq "up --wait-healthy of a model nobody answers for exits 1" 1 $st
check_match "one line naming the model and why" \
        '^mlvm: up: deaf: run [0-9a-f]{8} is unhealthy: connection refused$' "$err"
rdeaf=$(sed -n 's/^deaf: run \([0-9a-f]*\) .*/\1/p' "$tmp/out")
check_eq "the record says unhealthy after 2 failures" "unhealthy 2" \
        "$(rec "$rdeaf" 'j["health"], j["health_failures"]' | tr -d "(),'")"
check_eq "ps --json: unhealthy, still ready" "unhealthy ready" "$(ps_field deaf health) $(ps_field deaf state)"
check "down deaf" "$MLVM" down deaf

# ---- unhealthy: HTTP 500 --------------------------------------------------------
err=$("$MLVM" up sick --wait-healthy --health-timeout 600 2>&1 >/dev/null); st=$?
check_eq "up --wait-healthy of a model answering 500 exits 1" 1 $st
check_match "naming the model and the answer" \
        '^mlvm: up: sick: run [0-9a-f]{8} is unhealthy: HTTP answer "HTTP/1.0 500 Internal Server Error"$' "$err"
check "down sick" "$MLVM" down sick
nothing_left "unhealthy models"

# ---- usage ----------------------------------------------------------------------
err=$("$MLVM" up web --wait-healthy --no-wait 2>&1); st=$?
check_eq "--wait-healthy with --no-wait: usage error" 2 $st
check_match "saying so" "exclude each other" "$err"

done_testing
