#!/usr/bin/env bash
# mlvm config: golden JSON, YAML output that loads back, one-line errors.
. "$TOP_SRCDIR/tests/lib.sh"

tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
good="$TOP_SRCDIR/tests/data/config/good"
real=$(cd "$good" && pwd -P)

for f in "$good"/*.yaml; do
        name=$(basename "$f" .yaml)
        "$MLVM" config --json -f "$f" | sed "s#$real#/base#g" > "$tmp/$name.json"
        check "config --json $name matches golden" diff -u "$good/$name.json" "$tmp/$name.json"
        # Human output is YAML that normalizes to the same JSON.
        "$MLVM" config -f "$f" > "$tmp/$name.yaml"
        "$MLVM" config --json -f "$tmp/$name.yaml" | sed "s#$real#/base#g" > "$tmp/$name.again.json"
        check "config YAML output of $name loads back identically" diff -u "$tmp/$name.json" "$tmp/$name.again.json"
done

out=$("$MLVM" config check -f "$TOP_SRCDIR/examples/mlvm.yaml"); check_eq "config check ok exits 0" 0 $?
check_match "config check names the file" "examples/mlvm.yaml: ok \(2 models and experiments\)" "$out"
out=$("$MLVM" -q config check -f "$TOP_SRCDIR/examples/mlvm.yaml"); check_eq "config check -q prints nothing" "" "$out"

printf 'models:\n  a:\n    image: minimal\n    memory: lots\n' > "$tmp/bad.yaml"
err=$("$MLVM" config -f "$tmp/bad.yaml" 2>&1); st=$?
check_eq "bad file exits 1" 1 $st
check_eq "bad file: one line with FILE:LINE:COL: KEY" \
        "mlvm: config: $tmp/bad.yaml:4:13: models.a.memory: invalid size \"lots\": expected a whole number and a unit K, M, G or T (e.g. 256M)" "$err"

# restart and healthcheck (config-upkeep.c): config check refuses a bad value in one line.
printf 'models:\n  a:\n    image: minimal\n    restart: sometimes\n' > "$tmp/restart.yaml"
err=$("$MLVM" config check -f "$tmp/restart.yaml" 2>&1); st=$?
check_eq "config check: bad restart exits 1" 1 $st
check_eq "naming FILE:LINE:COL, the key and the choices" \
        "mlvm: config: $tmp/restart.yaml:4:14: models.a.restart: \"sometimes\" is not one of no, on-failure, always" "$err"
printf 'models:\n  a:\n    image: minimal\n    healthcheck:\n      http: {port: 8080, path: health}\n' > "$tmp/hc.yaml"
err=$("$MLVM" config check -f "$tmp/hc.yaml" 2>&1); st=$?
check_eq "config check: a healthcheck path without / exits 1" 1 $st
check_eq "naming FILE:LINE:COL and the key" \
        "mlvm: config: $tmp/hc.yaml:5:32: models.a.healthcheck.http.path: \"health\" must start with /" "$err"

err=$(cd "$tmp" && "$MLVM" config 2>&1); st=$?
check_eq "missing ./mlvm.yaml exits 1" 1 $st
check_eq "missing file message" "mlvm: config: mlvm.yaml: No such file or directory" "$err"

# Names that YAML would read as null or a boolean: a model named null, env
# variables named NULL, Null and YES. Plain in the input (the loader takes
# keys as the names they spell), quoted in the YAML output.
printf 'models:\n  null:\n    image: minimal\n    env: {NULL: a, Null: b, YES: c}\n' > "$tmp/nullkeys.yaml"
"$MLVM" config --json -f "$tmp/nullkeys.yaml" > "$tmp/nullkeys.json"; check_eq "null-looking keys load" 0 $?
check_eq "model named null, env NULL/Null/YES" "{'NULL': 'a', 'Null': 'b', 'YES': 'c'}" \
        "$(json_get "$tmp/nullkeys.json" 'j["models"]["null"]["env"]')"
"$MLVM" config -f "$tmp/nullkeys.yaml" > "$tmp/nullkeys.out.yaml"
check_match "YAML output quotes the model named null" '^  "null":$' "$(cat "$tmp/nullkeys.out.yaml")"
check_match "YAML output quotes NULL, Null and YES" '^      "NULL": "a"$' "$(cat "$tmp/nullkeys.out.yaml")"
"$MLVM" config --json -f "$tmp/nullkeys.out.yaml" > "$tmp/nullkeys.again.json"
check "YAML output with null-looking keys loads back identically" diff -u "$tmp/nullkeys.json" "$tmp/nullkeys.again.json"

# A FIFO is refused at once, not read (or waited on): timeout turns a hang into a failure.
mkfifo "$tmp/fifo"
err=$(timeout 10 "$MLVM" config -f "$tmp/fifo" 2>&1); st=$?
check_eq "FIFO as the file exits 1 (no hang)" 1 $st
check_eq "FIFO as the file: one line" "mlvm: config: $tmp/fifo: not a regular file" "$err"

head -c 1100000 /dev/zero | tr '\0' '#' > "$tmp/big.yaml"
err=$("$MLVM" config -f "$tmp/big.yaml" 2>&1)
check_eq "oversized file refused" "mlvm: config: $tmp/big.yaml: larger than 1048576 bytes" "$err"

done_testing
