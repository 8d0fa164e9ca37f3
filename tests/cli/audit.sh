#!/usr/bin/env bash
# mlvm audit [verify]: no verb writes events yet, so the log here is written
# by an independent implementation of the documented format (Python for the
# JSON lines and SHA-256 chain, the openssl command for the Ed25519
# checkpoint). That it verifies shows the format is what src/lib/trust/audit.h says.
. "$TOP_SRCDIR/tests/lib.sh"

command -v openssl >/dev/null || skip_all "the openssl command is not installed"
py=${PYTHON3:-python3}
command -v "$py" >/dev/null || skip_all "python3 is not installed"

tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
export MLVM_STATE_DIR="$tmp/state"

# Empty store: nothing to show, verifies as empty, creates nothing.
out=$("$MLVM" audit verify 2>&1); st=$?
check_eq "verify on an empty store exits 0" 0 $st
check_eq "verify on an empty store" "audit log ok: empty" "$out"
out=$("$MLVM" audit 2>&1); check_eq "audit on an empty store prints nothing" "" "$out"
"$MLVM" audit --json > "$tmp/empty.json"
check_eq "audit --json on an empty store is []" 0 "$(json_get "$tmp/empty.json" 'len(j)')"
check "reading creates no state directory" test ! -e "$MLVM_STATE_DIR"

# The host key pair, as mlvm keeps it, and its id (16 hex of SHA-256 of the DER SPKI).
mkdir -p "$MLVM_STATE_DIR/keys"
openssl genpkey -algorithm ed25519 -out "$MLVM_STATE_DIR/keys/host.key" 2>/dev/null
chmod 600 "$MLVM_STATE_DIR/keys/host.key"
openssl pkey -in "$MLVM_STATE_DIR/keys/host.key" -pubout -out "$MLVM_STATE_DIR/keys/host.pub"
id=$(openssl pkey -pubin -in "$MLVM_STATE_DIR/keys/host.pub" -outform DER | openssl dgst -sha256 -r | cut -c1-16)

# write_log: three events, chained, and a checkpoint signed with the host key.
write_log() {
        "$py" - "$MLVM_STATE_DIR" "$id" <<'EOF'
import base64, hashlib, json, subprocess, sys
state, keyid = sys.argv[1], sys.argv[2]
events = [("image.build", {"recipe": "images/minimal"}),
          ("image.import", {"tag": "minimal", "note": 'say "hi"\n'}),
          ("run.start", {"run": "r1"})]
prev, lines = "0" * 64, []
for i, (ev, fields) in enumerate(events, 1):
    o = {"seq": i, "time": "2026-11-23T00:20:0%dZ" % i, "event": ev, **fields, "prev": prev}
    line = json.dumps(o, separators=(",", ":"), ensure_ascii=False).encode()
    lines.append(line)
    prev = hashlib.sha256(line).hexdigest()
open(state + "/audit.log", "wb").write(b"".join(l + b"\n" for l in lines))
msg = ("mlvm-audit-checkpoint-v1\n%d\n%s\n" % (len(lines), prev)).encode()
open(state + "/../msg", "wb").write(msg)   # pkeyutl -rawin needs a file, not a pipe
sig = subprocess.run(["openssl", "pkeyutl", "-sign", "-rawin", "-inkey", state + "/keys/host.key",
                      "-in", state + "/../msg"], stdout=subprocess.PIPE, check=True).stdout
cp = {"seq": len(lines), "hash": prev, "key": keyid, "sig": base64.b64encode(sig).decode()}
open(state + "/audit.checkpoint", "w").write(json.dumps(cp, separators=(",", ":")) + "\n")
EOF
}
write_log

out=$("$MLVM" audit verify 2>&1); st=$?
check_eq "a log written to the documented format verifies" 0 $st
check_eq "verify names lines, checkpoint and key" \
        "audit log ok: 3 lines, checkpoint at line 3 signed by host key $id" "$out"
out=$("$MLVM" -q audit verify 2>&1); check_eq "verify -q prints nothing" "" "$out"
"$MLVM" audit verify --json > "$tmp/ok.json"
check_eq "verify --json" "True 3 3 $id" "$(json_get "$tmp/ok.json" '" ".join(str(x) for x in (j["ok"], j["lines"], j["checkpoint"], j["key"]))')"

out=$("$MLVM" audit)
check_eq "audit prints one line per event, odd values JSON-quoted" \
        "1 2026-11-23T00:20:01Z image.build recipe=images/minimal
2 2026-11-23T00:20:02Z image.import tag=minimal note=\"say \\\"hi\\\"\\n\"
3 2026-11-23T00:20:03Z run.start run=r1" "$out"
out=$("$MLVM" audit --event image.)
check_eq "--event filters by prefix" 2 "$(printf '%s\n' "$out" | wc -l)"
"$MLVM" audit --json --event run > "$tmp/run.json"
check_eq "--json --event" "run.start r1" "$(json_get "$tmp/run.json" 'j[0]["event"] + " " + j[0]["run"]')"

# Tampering, each named in one line.
sed -i 's/"tag":"minimal"/"tag":"maximal"/' "$MLVM_STATE_DIR/audit.log"
err=$("$MLVM" audit verify 2>&1); st=$?
check_eq "an edited line fails verify with exit 1" 1 $st
check_eq "an edited line is named" \
        "mlvm: audit: audit.log line 3: prev does not match line 2 (a line was edited, removed or reordered)" "$err"

write_log
sed -i '$d' "$MLVM_STATE_DIR/audit.log"
err=$("$MLVM" audit verify 2>&1); st=$?
check_eq "a truncated log fails verify with exit 1" 1 $st
check_eq "a truncated log is named" \
        "mlvm: audit: audit.log ends at line 2 but the signed checkpoint covers line 3 (truncated)" "$err"

write_log
rm "$MLVM_STATE_DIR/audit.checkpoint"
err=$("$MLVM" audit verify 2>&1)
check_eq "a deleted checkpoint is named" \
        "mlvm: audit: audit.checkpoint is missing but audit.log has 3 lines (the checkpoint was deleted)" "$err"

"$MLVM" audit verify --event image >/dev/null 2>&1; st=$?
check_eq "verify --event is a usage error" 2 $st
"$MLVM" audit frobnicate >/dev/null 2>&1; st=$?
check_eq "an unknown operand is a usage error" 2 $st

done_testing
