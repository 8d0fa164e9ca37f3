#!/usr/bin/env bash
# mlvm up and mlvm down with several names or none, as Compose's: every
# model of the file (not its experiments), running ones left alone, a
# mistyped name starting nothing, a partial failure reported on its own
# line with the others still started or stopped, exit 1, and nothing left
# of the one that failed.
. "$TOP_SRCDIR/tests/lib.sh"
DATA="$TOP_SRCDIR/tests/data/up-all"
. "$TOP_SRCDIR/tests/lib-runs.sh"
runs_setup_minimal

err=$("$MLVM" up a nosuch 2>&1); st=$?
check_eq "a mistyped name among several: exit 1" 1 $st
check_eq "one line naming it" "mlvm: up: mlvm.yaml: no model or experiment nosuch" "$err"
err=$("$MLVM" up a exp 2>&1); st=$?
check_eq "an experiment among the names: exit 1" 1 $st
check_match "says to use run" 'experiments.exp is an experiment: start it with `mlvm run exp`$' "$err"
check_eq "and nothing started" "" "$("$MLVM" ps -q)"

out=$("$MLVM" up 2>"$tmp/err"); st=$?
check_eq "up without a name exits 0" 0 $st
[ $st -eq 0 ] || sed 's/^/# /' "$tmp/err"
check_match "a started" '^a: run [0-9a-f]{8} ready in [0-9.]+ s$' "$out"
check_match "b started" '^b: run [0-9a-f]{8} ready in [0-9.]+ s$' "$out"
check_eq "in file order, two lines" "a b" "$(printf '%s\n' "$out" | cut -d: -f1 | tr '\n' ' ' | sed 's/ $//')"
ra=$(printf '%s\n' "$out" | sed -n 's/^a: run \([0-9a-f]*\) .*/\1/p')
rb=$(printf '%s\n' "$out" | sed -n 's/^b: run \([0-9a-f]*\) .*/\1/p')
check_eq "ps: both ready, the experiment not started" "a ready,b ready," \
        "$("$MLVM" ps --json | "${PYTHON3:-python3}" -c 'import json,sys; print("".join("%s %s," % (r["name"], r["state"]) for r in sorted(json.load(sys.stdin), key=lambda r: r["name"])))')"
"$MLVM" stats --json > "$tmp/stats.json"
check_eq "stats shows both" "$(printf '%s\n' "$ra" "$rb" | sort | tr '\n' ' ')" \
        "$(json_get "$tmp/stats.json" '" ".join(sorted(r["run"] for r in j)) + " "')"

out=$("$MLVM" up); st=$?
check_eq "up again: exit 0" 0 $st
check_eq "running models are left as they are" "a: already running as run $ra
b: already running as run $rb" "$out"
err=$("$MLVM" up a 2>&1); st=$?
check_eq "an explicit up of a running model still fails" 1 $st
check_match "saying so" "^mlvm: up: a is already running as run $ra" "$err"

out=$("$MLVM" down a "${rb:0:6}"); st=$?
check_eq "down of a name and a run id: exit 0" 0 $st
check_match "a stopped" "^a: run $ra stopped in [0-9.]+ s$" "$out"
check_match "b stopped" "^${rb:0:6}: run $rb stopped in [0-9.]+ s$" "$out"
out=$("$MLVM" down); st=$?
check_eq "down without a name, nothing running: exit 0" 0 $st
check_eq "says so" "no model of mlvm.yaml is running" "$out"
nothing_left "up and down of several"

# A partial failure: ok starts, published is refused; both reported.
"$MLVM" -f bad.yaml up --json > "$tmp/up.json" 2>"$tmp/up.err"; st=$?
check_eq "one of two failed: exit 1" 1 $st
check_eq "--json: the one that started" "1 ok True" \
        "$(json_get "$tmp/up.json" '"%d %s %s" % (len(j), j[0]["name"], j[0]["ready"])')"
check_eq "the failure: one JSON error on stderr" 1 "$(grep -c . "$tmp/up.err")"
check_match "naming the model, the file and the key" \
        '^\{"error":\{"code":"denied","message":"published: bad.yaml:[0-9]+:[0-9]+: models.published.publish: 0.0.0.0:18080 is not a loopback address' \
        "$(cat "$tmp/up.err")"
check_eq "nothing of the failed one: no record, no name" "" \
        "$(grep -l '"published"' "$tmp"/state/runs/*/run.json 2>/dev/null; ls "$tmp/state/names/published" 2>/dev/null)"
out=$("$MLVM" -f bad.yaml down 2>&1); st=$?
check_eq "down without a name stops the file's running model" 0 $st
check_match "ok stopped" '^ok: run [0-9a-f]{8} stopped in [0-9.]+ s$' "$out"
out=$("$MLVM" down ok nosuch 2>"$tmp/err"); st=$?
check_eq "down of a stopped name and an unknown one: exit 1" 1 $st
check_match "the stopped one is not running" '^ok: not running \(last run [0-9a-f]{8}\)$' "$out"
check_eq "the unknown one, and the count" "mlvm: down: nosuch: no such run or name (see mlvm ps --all)
mlvm: down: 1 of 2 failed to stop" "$(cat "$tmp/err")"
nothing_left "a partial failure"
done_testing
