#!/usr/bin/env bash
# Credentials end to end on real guests (issue 5): the secret store, the
# three sources, delivery into the guest's tmpfs (mode, owner), a grant
# that is not there, expiry after the TTL, forced and automatic rotation,
# revocation at down (confirmed by the agent before the domain goes, and
# "revoke-unconfirmed" when the guest cannot answer), the JWT verified by
# PyJWT, the audit trail, and a scan of every file the run touched for the
# values (raw, base64, hex).
. "$TOP_SRCDIR/tests/lib.sh"
# PyJWT as Debian ships it (python3-jwt): the system python first.
PY=
for p in /usr/bin/python3 "${PYTHON3:-python3}"; do
        "$p" -c 'import jwt, cryptography' 2>/dev/null && { PY=$p; break; }
done
[ -n "$PY" ] || skip_all "python3-jwt/python3-cryptography missing (run scripts/setup)"
DATA="$TOP_SRCDIR/tests/data/creds"
. "$TOP_SRCDIR/tests/lib-runs.sh"
runs_setup_minimal

rand() { head -c 24 /dev/urandom | base64 | tr -d '/+=' | head -c 32; }
sha() { printf '%s' "$1" | sha256sum | cut -c1-64; }
v_api=api-$(rand) v_short=short-$(rand) v_other=other-$(rand) v_tok1=tok1-$(rand) v_tok2=tok2-$(rand)
printf '%s' "$v_api" | "$MLVM" -q secret set api-key
printf '%s' "$v_short" | "$MLVM" -q secret set short
printf '%s' "$v_other" | "$MLVM" -q secret set OTHER
printf '%s\n' "$v_tok1" > token.txt

# The latest STATE line of the run's output; waits up to $2 s for one matching $1.
state_line() {
        local i
        for i in $(seq 1 $(($2 * 5))); do
                line=$("$MLVM" logs "$run" --output 2>/dev/null | grep '^STATE' | tail -n 1)
                printf '%s\n' "$line" | grep -qE -- "$1" && { printf '%s\n' "$line"; return 0; }
                sleep 0.2
        done
        printf '%s\n' "$line"
        return 1
}
creds_json() { "$MLVM" creds ls holder --json > "$tmp/creds.json"; }
lease_of() { creds_json; json_get "$tmp/creds.json" '[c["lease"] for c in j["creds"] if c["name"]=="'"$1"'"][0]'; }

# --- up: every grant delivered before the workload starts
out=$("$MLVM" up holder 2>"$tmp/err"); st=$?
check_eq "up holder" 0 $st
[ $st -eq 0 ] || { sed 's/^/# /' "$tmp/err"; done_testing; exit 1; }
run=$(printf '%s\n' "$out" | sed -n 's/^holder: run \([0-9a-f]*\) .*/\1/p')
dom="mlvm-holder-$run"
line=$(state_line "API_KEY=400:1000:" 60)
check_match "the workload saw its directory: mode 0550, owner root (group 1000), the five grants" \
        '^DIR 550 0 (API_KEY|AUTO|RUN_JWT|SHORT|TOKEN)( (API_KEY|AUTO|RUN_JWT|SHORT|TOKEN)){4} $' \
        "$("$MLVM" logs "$run" --output | grep '^DIR')"
check_contains "store: readable by the workload, mode 0400, uid 1000, the right bytes" "API_KEY=400:1000:$(sha "$v_api")" "$line"
check_contains "exec: the command's stdout (trailing newline dropped)" "TOKEN=400:1000:$(sha "$v_tok1")" "$line"
check_contains "store: a short-lived one is there at first" "SHORT=400:1000:$(sha "$v_short")" "$line"
check_match "jwt: delivered" "RUN_JWT=400:1000:[0-9a-f]{64}" "$line"
check_contains "a secret that was not granted is not there" "OTHER=absent" "$line"
creds_json
check_eq "creds ls: five live leases" "live live live live live" \
        "$(json_get "$tmp/creds.json" '" ".join(c["state"] for c in j["creds"])')"
check_match "creds ls: fingerprints are HMACs" '^(hmac-sha256:[0-9a-f]{32} ?){5}$' \
        "$(json_get "$tmp/creds.json" '" ".join(c["fingerprint"] for c in j["creds"])')"
check_eq "creds ls --json carries no value" "" "$(grep -F -e "$v_api" -e "$v_tok1" -e "$v_short" "$tmp/creds.json")"
check_match "creds ls (text)" '^API_KEY +store +600s +live +[0-9a-f]{32} ' "$("$MLVM" creds ls holder)"

# --- the JWT, verified by PyJWT with the public key from mlvm key export
"$MLVM" key export host > "$tmp/host.pem"
tok=$("$MLVM" logs "$run" --output | sed -n 's/^JWT //p' | tail -n 1)
"$PY" "$TOP_SRCDIR/tests/integration/jwt-verify.py" "$tok" "$tmp/host.pem" > "$tmp/jwt.json"; st=$?
check_eq "the run's JWT verifies with PyJWT and the host's public key" 0 $st
[ $st -eq 0 ] || sed 's/^/# /' "$tmp/jwt.json"
check_eq "jwt: alg EdDSA" EdDSA "$(json_get "$tmp/jwt.json" 'j["header"]["alg"]')"
check_eq "jwt: run id" "$run" "$(json_get "$tmp/jwt.json" 'j["claims"]["run_id"]')"
check_eq "jwt: model name" holder "$(json_get "$tmp/jwt.json" 'j["claims"]["model"]')"
check_eq "jwt: scopes" "read:datasets write:metrics" "$(json_get "$tmp/jwt.json" 'j["claims"]["scope"]')"
check_eq "jwt: expiry is iat + ttl" 300 "$(json_get "$tmp/jwt.json" 'j["claims"]["exp"] - j["claims"]["iat"]')"
check_eq "jwt: jti is the lease id" "$(lease_of RUN_JWT)" "$(json_get "$tmp/jwt.json" 'j["claims"]["jti"]')"
# One character of the payload changed: the signature no longer holds.
h=${tok%%.*} rest=${tok#*.} p=${rest%%.*} s=${rest#*.}
c=${p:5:1}; [ "$c" = A ] && r=B || r=A
bad="$h.${p:0:5}$r${p:6}.$s"
out=$("$PY" "$TOP_SRCDIR/tests/integration/jwt-verify.py" "$bad" "$tmp/host.pem"); st=$?
check_eq "a tampered JWT does not verify" 1 $st
check_match "PyJWT says why" 'InvalidSignatureError|DecodeError' "$out"

# --- expiry: SHORT (ttl 10s, rotate: false) is gone after its TTL
line=$(state_line "SHORT=absent" 60)
check_contains "after its TTL the file is gone" "SHORT=absent" "$line"
check_contains "the others are still there" "API_KEY=400:1000:$(sha "$v_api")" "$line"
for _ in $(seq 1 50); do "$MLVM" audit --json 2>/dev/null | grep -q '"cred.expire"' && break; sleep 0.2; done
"$MLVM" audit --json > "$tmp/audit.json"
check_eq "audit: the agent's expiry of SHORT" "$(lease_of SHORT)" \
        "$(json_get "$tmp/audit.json" '[x["lease"] for x in j if x["event"]=="cred.expire" and x["secret"]=="SHORT" and x["run"]=="'"$run"'"][0]')"
check_eq "creds ls: SHORT expired" expired "$(json_get "$tmp/creds.json" '[c["state"] for c in j["creds"] if c["name"]=="SHORT"][0]')"

# --- forced rotation: the workload reads the new value under a new lease
old=$(lease_of TOKEN)
printf '%s\n' "$v_tok2" > token.txt
out=$("$MLVM" creds rotate holder TOKEN 2>&1); st=$?
check_eq "creds rotate holder TOKEN" 0 $st
check_match "rotate prints old and new lease and the round trip" "^TOKEN: lease $old -> [0-9a-f]{32} \([0-9.]+ ms\)$" "$out"
new=$(lease_of TOKEN)
check_match "the lease id changed" '^[0-9a-f]{32}$' "$new"
[ "$new" != "$old" ] && pass "new lease differs from the old" || fail "new lease differs from the old" "$old"
line=$(state_line "TOKEN=400:1000:$(sha "$v_tok2")" 30)
check_contains "after a rotation the workload reads the new value" "TOKEN=400:1000:$(sha "$v_tok2")" "$line"
out=$("$MLVM" creds rotate holder NOPE 2>&1); st=$?
check_eq "rotating a credential the run does not have: exit 1" 1 $st
check_match "and says so" '^mlvm: creds: holder: the run has no credential NOPE$' "$out"

# --- automatic rotation: AUTO (ttl 10s) is renewed at two thirds of its TTL
for _ in $(seq 1 150); do
        creds_json
        [ "$(json_get "$tmp/creds.json" '[c["rotations"] for c in j["creds"] if c["name"]=="AUTO"][0]')" -ge 2 ] && break
        sleep 0.2
done
check_match "AUTO was rotated by the monitor, twice, before it expired" '^[2-9]' \
        "$(json_get "$tmp/creds.json" '[c["rotations"] for c in j["creds"] if c["name"]=="AUTO"][0]')"
check_eq "and is still live" live "$(json_get "$tmp/creds.json" '[c["state"] for c in j["creds"] if c["name"]=="AUTO"][0]')"

# --- no value on any per-run volume, while the run is up
leaks() {   # leaks FILE...: the names of files holding any value in any encoding
        local v f
        for v in "$v_api" "$v_short" "$v_tok1" "$v_tok2" "$v_other"; do
                for enc in "$v" "$(printf '%s' "$v" | base64 -w0)" "$(printf '%s' "$v" | od -An -tx1 | tr -d ' \n')"; do
                        for f in "$@"; do [ -f "$f" ] && grep -qaF -- "$enc" "$f" && echo "$f"; done
                done
        done | sort -u
}
vols=$($V vol-list "$pool" | awk '$1 ~ /^mlvm-run-'"$run"'-/ {print $2}')
check_match "the run has per-run volumes to scan" . "$vols"
check_eq "no value on any per-run volume" "" "$(leaks $vols)"

# --- down: revoked, and confirmed by the agent before the domain went
out=$("$MLVM" down holder 2>&1); st=$?
check_eq "down holder" 0 $st
"$MLVM" audit --json > "$tmp/audit.json"
ev() { json_get "$tmp/audit.json" '" ".join(x["event"]+":"+x.get("secret","") for x in j if x.get("run")=="'"$run"'")'; }
events=$(ev)
check_match "audit: put of each grant" '(cred.put:[A-Z_]+ ){5}' "$events"
check_match "audit: the forced and the automatic rotations" 'cred.rotate:TOKEN.*cred.rotate:AUTO|cred.rotate:AUTO.*cred.rotate:TOKEN' "$events"
check_match "audit: the expiry" 'cred.expire:SHORT' "$events"
check_match "audit: four revocations, then the end of the run" '(cred.revoke:[A-Z_]+ ){4}(run.provenance: )?run.end:( |$)' "$events"
check_eq "audit: every revocation confirmed by the agent" "True True True True" \
        "$(json_get "$tmp/audit.json" '" ".join(str(x["confirmed"]) for x in j if x["event"]=="cred.revoke" and x["run"]=="'"$run"'")')"
check_match "audit: fingerprints on every credential event" '^True$' \
        "$(json_get "$tmp/audit.json" 'all(x["fingerprint"].startswith("hmac-sha256:") for x in j if x["event"].startswith("cred.") and x["event"]!="cred.rotate-failed" and x["run"]=="'"$run"'")')"
check_match "the agent removed them (its console)" "credential API_KEY \(lease [0-9a-f]+\) revoked" "$("$MLVM" logs "$run" --console)"
mlog="$MLVM_STATE_DIR/runs/$run/monitor.log"
check_match "the monitor: confirmed before teardown" 'credentials revoked; the agent confirmed' "$(cat "$mlog")"
check_eq "revocation logged before the teardown" 1 \
        "$(awk '/credentials revoked; the agent confirmed/ {r=NR} /teardown:/ {t=NR} END {print (r && t && r < t) ? 1 : 0}' "$mlog")"
check "audit verify" "$MLVM" audit verify
nothing_left "holder"

# --- no value anywhere the run wrote: state dir, logs, audit, libvirt's log
files=$(find "$MLVM_STATE_DIR" -type f; ls /var/log/libvirt/qemu/"$dom".log* 2>/dev/null)
check_match "state dir and libvirt's log are there to scan" "audit.log" "$files"
check_match "libvirt's own log for the domain is scanned" "$dom.log" "$files"
check_eq "no value (raw, base64, hex) in the state dir, run logs, audit log or libvirt's log" "" \
        "$(leaks $files | grep -v '/secrets/')"
check_eq "the store itself holds no value in clear" "" "$(leaks "$MLVM_STATE_DIR"/secrets/*)"

# --- sources that fail: up fails with a clear error, nothing left behind
runs_before=$(ls "$MLVM_STATE_DIR/runs" | wc -l)
err=$("$MLVM" up exec-fails 2>&1); st=$?
check_eq "an exec: source that fails: exit 1" 1 $st
check_match "names file, line, secret and the exit status" \
        '^mlvm: up: mlvm.yaml:[0-9]+:[0-9]+: models.exec-fails.secrets.TOKEN: secret TOKEN \(from exec\): the command failed: exited with status 3$' "$err"
check_match "the command's own stderr goes to the terminal" '^no token for you$' "$err"
check_eq "and never into the audit log (it may hold the credential)" 0 "$(grep -c 'no token for you' "$MLVM_STATE_DIR/audit.log")"
err=$("$MLVM" up exec-empty 2>&1); st=$?
check_eq "an exec: source that prints nothing: exit 1" 1 $st
check_match "says it printed nothing" 'models.exec-empty.secrets.TOKEN: secret TOKEN \(from exec\): the command printed nothing$' "$err"
err=$("$MLVM" up store-missing 2>&1); st=$?
check_eq "a store: secret that does not exist: exit 1" 1 $st
check_match "names it" 'models.store-missing.secrets.KEY: .*nope' "$err"
check_eq "no run record left by the failed ups" "$runs_before" "$(ls "$MLVM_STATE_DIR/runs" | wc -l)"
nothing_left "failed sources"

# --- a guest that cannot confirm: revoke-unconfirmed, destroyed anyway
out=$("$MLVM" up paused 2>"$tmp/err"); st=$?
check_eq "up paused" 0 $st
prun=$(printf '%s\n' "$out" | sed -n 's/^paused: run \([0-9a-f]*\) .*/\1/p')
check "the guest is suspended (it cannot answer)" $V suspend "mlvm-paused-$prun"
out=$("$MLVM" down paused 2>&1); st=$?
check_eq "down of a guest that cannot confirm still succeeds" 0 $st
"$MLVM" audit --json > "$tmp/audit.json"
check_eq "audit: revoke-unconfirmed, with the lease" "cred.revoke-unconfirmed" \
        "$(json_get "$tmp/audit.json" '[x["event"] for x in j if x.get("run")=="'"$prun"'" and x["event"].startswith("cred.revoke")][0]')"
nothing_left "unconfirmed revocation"
check "audit verify at the end" "$MLVM" audit verify

done_testing
