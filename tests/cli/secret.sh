#!/usr/bin/env bash
# mlvm secret set | ls | rm: values in through stdin or a file, never out;
# files 0600 in a 0700 store; every change audited by fingerprint only.
. "$TOP_SRCDIR/tests/lib.sh"

py=${PYTHON3:-python3}
command -v "$py" >/dev/null || skip_all "python3 is not installed"

tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
export MLVM_STATE_DIR="$tmp/state"
store="$MLVM_STATE_DIR/secrets"
value='sk-test-Zq8v3JmW1xYt'
value2='second-value-with-no-newline'

mode() { stat -c %a "$1"; }

out=$("$MLVM" secret ls); st=$?
check_eq "ls on an empty store exits 0" 0 $st
check_eq "ls on an empty store prints the header only" "NAME                     CREATED                SIZE  FINGERPRINT" "$out"

out=$(printf '%s' "$value" | "$MLVM" secret set API_KEY 2>&1); st=$?
check_eq "set from stdin exits 0" 0 $st
check_match "set names the secret, size and fingerprint" \
        '^secret API_KEY: stored 20 bytes, fingerprint hmac-sha256:[0-9a-f]{32}$' "$out"
fp=${out##* }
printf '%s\n' "$value2" > "$tmp/value2"
out=$("$MLVM" secret set --from-file "$tmp/value2" db.password 2>&1); st=$?
check_eq "set --from-file exits 0" 0 $st
check_contains "the trailing newline of the file is kept" "stored 29 bytes" "$out"

check_eq "store directory mode" 700 "$(mode "$store")"
check_eq "store key mode" 600 "$(mode "$store/store.key")"
check_eq "secret file mode" 600 "$(mode "$store/API_KEY.secret")"
check_eq "second secret file mode" 600 "$(mode "$store/db.password.secret")"

out=$("$MLVM" secret ls)
check_eq "ls lists both, sorted" "API_KEY db.password" "$(printf '%s\n' "$out" | awk 'NR > 1 { print $1 }' | paste -sd' ')"
check_match "ls shows created (UTC), size and fingerprint" \
        "^API_KEY +[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z +20  $fp\$" "$(printf '%s\n' "$out" | sed -n 2p)"
"$MLVM" secret ls --json > "$tmp/ls.json"
check_eq "ls --json" "2 API_KEY 20 $fp db.password 29" \
        "$(json_get "$tmp/ls.json" '" ".join([str(len(j))] + [str(x) for x in (j[0]["name"], j[0]["size"], j[0]["fingerprint"], j[1]["name"], j[1]["size"])])')"
check_eq "ls --json fields" "created_at fingerprint name size" \
        "$(json_get "$tmp/ls.json" '" ".join(sorted(j[0]))')"

# The value is nowhere: not in what ls prints, not in any file.
check "ls never shows the value" bash -c '! "$MLVM" secret ls | grep -qF "$0" && ! "$MLVM" secret ls --json | grep -qF "$0"' "$value"
check "no file holds the value" bash -c '! grep -rqF "$0" "$MLVM_STATE_DIR"' "$value"
check "no file holds the second value" bash -c '! grep -rqF "$0" "$MLVM_STATE_DIR"' "$value2"
hex=$(printf '%s' "$value" | od -An -tx1 | tr -d ' \n')
b64=$(printf '%s' "$value" | base64 -w0 | tr -d '=')
check "no file holds the value's hex" bash -c '! grep -rqiF "$0" "$MLVM_STATE_DIR"' "$hex"
check "no file holds the value's base64" bash -c '! grep -rqF "$0" "$MLVM_STATE_DIR"' "${b64:0:24}"

# Setting the same value again gives the same fingerprint; another value another.
out=$(printf '%s' "$value" | "$MLVM" -q secret set API_KEY 2>&1); st=$?
check_eq "set -q prints nothing" "0 " "$st $out"
"$MLVM" secret ls --json > "$tmp/ls2.json"
check_eq "same value, same fingerprint" "$fp" "$(json_get "$tmp/ls2.json" 'j[0]["fingerprint"]')"
out=$(printf 'other' | "$MLVM" secret set --json OTHER)
printf '%s\n' "$out" > "$tmp/set.json"
check "another value, another fingerprint" test "$(json_get "$tmp/set.json" 'j["fingerprint"]')" != "$fp"

# Errors name the secret.
err=$(printf '' | "$MLVM" secret set EMPTY 2>&1); st=$?
check_eq "an empty value is refused" "1 mlvm: secret: secret EMPTY: the value from stdin is empty" "$st $err"
head -c 65537 /dev/zero | tr '\0' x > "$tmp/big"
err=$("$MLVM" secret set BIG --from-file "$tmp/big" 2>&1); st=$?
check_eq "an oversize value is refused" \
        "1 mlvm: secret: secret BIG: the value from $tmp/big is larger than 65536 bytes" "$st $err"
head -c 65536 /dev/zero | tr '\0' x > "$tmp/max"
check "a value of exactly 65536 bytes is stored" "$MLVM" -q secret set MAX --from-file "$tmp/max"
err=$("$MLVM" secret set NOFILE --from-file "$tmp/absent" 2>&1); st=$?
check_eq "a missing file is named" "1 mlvm: secret: secret NOFILE: $tmp/absent: No such file or directory" "$st $err"
err=$(printf x | "$MLVM" secret set '../evil' 2>&1); st=$?
check_eq "a bad name is a usage error" 2 $st
check_contains "a bad name is named" 'secret name "../evil"' "$err"
check "a bad name creates nothing" test ! -e "$MLVM_STATE_DIR/evil.secret"
err=$("$MLVM" secret rm NOPE 2>&1); st=$?
check_eq "rm of an absent secret fails and names it" "1 mlvm: secret: secret NOPE: no such secret" "$st $err"
"$MLVM" secret set 2>/dev/null; st=$?
check_eq "set without NAME is a usage error" 2 $st
"$MLVM" secret ls --from-file x 2>/dev/null; st=$?
check_eq "--from-file with ls is a usage error" 2 $st
"$MLVM" secret frob 2>/dev/null; st=$?
check_eq "an unknown subcommand is a usage error" 2 $st

# A tampered file is refused by name; a group-readable key refuses everything.
chmod 644 "$store/store.key"
err=$(printf x | "$MLVM" secret set X 2>&1); st=$?
check_eq "a 0644 store key is refused" \
        "1 mlvm: secret: secret store key $store/store.key has mode 644: group or others can read it; chmod 600 it" \
        "$st $err"
chmod 600 "$store/store.key"
chmod 755 "$store"
err=$("$MLVM" secret ls 2>&1); st=$?
check_eq "a 0755 store directory is refused" 1 $st
check_contains "the store directory is named" "secret store $store has mode 0755" "$err"
chmod 700 "$store"

out=$("$MLVM" secret rm db.password 2>&1); st=$?
check_eq "rm exits 0" "0 secret db.password: removed" "$st $out"
check "rm removes the file" test ! -e "$store/db.password.secret"
check_eq "ls no longer lists it" "API_KEY MAX OTHER" "$("$MLVM" secret ls | awk 'NR > 1 { print $1 }' | paste -sd' ')"

# The audit log: one line per change, fingerprints and sizes, no values.
"$MLVM" audit --json --event secret. > "$tmp/audit.json"
check_eq "audit events" "secret.set secret.set secret.set secret.set secret.set secret.rm" \
        "$(json_get "$tmp/audit.json" '" ".join(x["event"] for x in j)')"
check_eq "secret.set fields" "API_KEY $fp 20" \
        "$(json_get "$tmp/audit.json" '" ".join(str(j[0][k]) for k in ("name", "fingerprint", "size"))')"
check_eq "secret.rm fields" "db.password 29" \
        "$(json_get "$tmp/audit.json" '" ".join(str(j[-1][k]) for k in ("name", "size"))')"
check_match "secret.rm has the fingerprint" '^hmac-sha256:[0-9a-f]{32}$' "$(json_get "$tmp/audit.json" 'j[-1]["fingerprint"]')"
check "the audit log holds no value" bash -c '! grep -qF "$0" "$MLVM_STATE_DIR/audit.log" && ! grep -qF "$1" "$MLVM_STATE_DIR/audit.log"' "$value" "$value2"
out=$("$MLVM" audit verify 2>&1); st=$?
check_eq "audit verify passes" 0 $st
check_match "audit verify counts the lines" '^audit log ok: 6 lines' "$out"

done_testing
