#!/usr/bin/env bash
# The examples of examples/README end to end on real guests (issue 7), in
# a copy of examples/ (the port is a free one instead of 8080): exp-1
# trains on iris in the minimal image with its run's JWT, its model and
# metrics come back as checked artifacts with signed provenance; model-a
# serves those weights and answers real predictions through its published
# port, to curl on the host.
. "$TOP_SRCDIR/tests/lib.sh"
. "$TOP_SRCDIR/tests/lib-runs.sh"
runs_setup_minimal
[ -x "$TOP_BUILDDIR/examples/exp-1/bin/trainer" ] || { fail "the examples are built" "run make"; done_testing; exit 1; }
cp -r "$TOP_SRCDIR/examples/." "$tmp/ex/" 2>/dev/null || { mkdir -p "$tmp/ex" && cp -r "$TOP_SRCDIR/examples/." "$tmp/ex/"; }
cp "$TOP_BUILDDIR/examples/exp-1/bin/trainer" "$tmp/ex/exp-1/bin/" 2>/dev/null || true
cp "$TOP_BUILDDIR/examples/model-a/bin/model-server" "$tmp/ex/model-a/bin/" 2>/dev/null || true
port=$("${PYTHON3:-python3}" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
sed -i "s/127.0.0.1:8080:8080/127.0.0.1:$port:8080/" "$tmp/ex/mlvm.yaml"
E="$MLVM -f $tmp/ex/mlvm.yaml"

# --- exp-1: train
out=$($E run exp-1 2>"$tmp/err"); st=$?
check_eq "run exp-1: exit 0" 0 $st
[ $st -eq 0 ] || sed 's/^/# /' "$tmp/err"
check_match "the trainer used the run's JWT" '^using credential RUN_TOKEN for run [0-9a-f]{8} \(model exp-1\)$' "$out"
check_match "it trained on the 150 iris rows" 'loaded 150 rows \(4 features, 3 classes\)' "$out"
check_match "test accuracy" '^test accuracy 0\.9[0-9]* ' "$out"
check_match "the summary: two artifacts checked, provenance signed" 'exited 0 in [0-9.]+ s; 2 artifacts .* checked; provenance signed' "$(cat "$tmp/err")"
run=$(printf '%s\n' "$out" | sed -n 's/^using credential RUN_TOKEN for run \([0-9a-f]*\) .*/\1/p')
check "mlvm verify exp-1's run" $MLVM verify "$run"
$MLVM artifacts "$run" --out "$tmp/trained" >/dev/null
check_eq "metrics.json records the run it trained for" "$run" \
        "$(json_get "$tmp/trained/metrics.json" 'j["trained_for_run"]["run_id"]')"
check_match "and its accuracy" '^0\.9' "$(json_get "$tmp/trained/metrics.json" 'j["accuracy"]')"
check_eq "the weights trained in the guest are the shipped ones, byte for byte" \
        "$(sha256sum < "$TOP_SRCDIR/examples/model-a/model.txt")" "$(sha256sum < "$tmp/trained/model.txt")"
nothing_left "exp-1"

# --- model-a: serve what exp-1 trained, through the published port
cp "$tmp/trained/model.txt" "$tmp/ex/model-a/model.txt"
out=$($E up model-a 2>"$tmp/err"); st=$?
check_eq "up model-a" 0 $st
[ $st -eq 0 ] || sed 's/^/# /' "$tmp/err"
check_eq "health through the published port" '{"status":"ok","model":"iris-logreg"}' \
        "$(curl -s --max-time 60 "http://127.0.0.1:$port/health")"
p=$(curl -s --max-time 60 -X POST -d '{"features":[5.1,3.5,1.4,0.2]}' "http://127.0.0.1:$port/predict")
check_match "a setosa flower is predicted setosa" '^\{"label":"setosa","probabilities":\[0\.9' "$p"
p=$(curl -s --max-time 60 -X POST -d '{"features":[6.3,3.3,6.0,2.5]}' "http://127.0.0.1:$port/predict")
check_match "a virginica flower is predicted virginica" '^\{"label":"virginica"' "$p"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 60 -X POST -d '{"features":[1,2]}' "http://127.0.0.1:$port/predict")
check_eq "bad input: 400" 400 "$code"
check_match "the server's own lines are in the run's log" 'model-server listening on 127.0.0.1:8080' "$($MLVM logs model-a --output)"
check "down model-a" $E down model-a
nothing_left "model-a"

done_testing
