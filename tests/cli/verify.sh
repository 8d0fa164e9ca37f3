#!/usr/bin/env bash
# mlvm verify RUN: a fake finished run (record, artifacts, name) whose
# provenance is written by tests/unit/provenance-tool (the monitor writes
# it for real runs), checked by mlvm and by an independent DSSE verifier in
# Python (python3-cryptography), then tampered with.
. "$TOP_SRCDIR/tests/lib.sh"

: "${TOP_BUILDDIR:?TOP_BUILDDIR must be set}"
tool="$TOP_BUILDDIR/tests/unit/provenance-tool"
[ -x "$tool" ] || skip_all "tests/unit/provenance-tool is not built (make check builds it)"
# Debian's python3-cryptography: the system python first (PYTHON3 may be a pyenv one without it).
PY=
for p in /usr/bin/python3 "${PYTHON3:-python3}"; do
        "$p" -c 'import cryptography.hazmat.primitives.asymmetric.ed25519' 2>/dev/null && { PY=$p; break; }
done
[ -n "$PY" ] || skip_all "no python3 with python3-cryptography (run scripts/setup)"
export PYTHON3=$PY   # for json_get

tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
export MLVM_STATE_DIR="$tmp/state"
id=1a2b3c4d
run="$MLVM_STATE_DIR/runs/$id"
mkdir -p "$run/artifacts/sub" "$run/artifacts/empty" "$MLVM_STATE_DIR/names"
chmod -R go-rwx "$MLVM_STATE_DIR"
cat > "$run/run.json" <<JSON
{"id":"$id","name":"exp-1","kind":"experiment","state":"exited","created_at":1763857200.5,
 "exited_at":1763857260.5,"uri":"qemu:///system","image":"minimal",
 "image_digest":"$(printf 'a%.0s' $(seq 64))","accel":"tcg","transport":"virtio-serial",
 "config":{"image":"minimal","command":["python3","/opt/exp/train.py"]},
 "command":["python3","/opt/exp/train.py"],"data_disks":[],
 "creds":[{"name":"RUN_TOKEN","from":"jwt","lease":"j-2","previous_lease":"j-1"}],
 "exit_code":0,"exit_signal":0,"timed_out":false}
JSON
printf 'weights\n' > "$run/artifacts/model.bin"
printf '{"acc":0.9}\n' > "$run/artifacts/metrics.json"
printf 'epoch 1\n' > "$run/artifacts/sub/log.txt"
echo "$id" > "$MLVM_STATE_DIR/names/exp-1"

out=$("$MLVM" verify exp-1 2>&1); st=$?
check_eq "no provenance yet: exit 1" 1 $st
check_eq "no provenance yet: the file is named" \
        "mlvm: verify: run $id: $run/provenance.json: No such file or directory" "$out"

out=$("$tool" write "$MLVM_STATE_DIR" "$id" 2>&1); st=$?
check_eq "provenance-tool write exits 0" 0 $st
check_eq "provenance-tool prints the file's SHA-256" "$(sha256sum "$run/provenance.json" | cut -c1-64)" "$out"
check_eq "provenance.json is mode 600" 600 "$(stat -c %a "$run/provenance.json")"

"$MLVM" key export host > "$tmp/host.pem"
"$PY" "$TOP_SRCDIR/tests/integration/dsse-verify.py" "$run/provenance.json" "$tmp/host.pem" > "$tmp/py.json"; st=$?
check_eq "an independent DSSE verifier (Python) accepts the envelope" 0 $st
key=$(json_get "$tmp/py.json" 'j["keyid"]')
check_match "the keyid is the host key's id" '^[0-9a-f]{16}$' "$key"
check_eq "the statement's subjects, sorted" "metrics.json model.bin sub/log.txt" \
        "$(json_get "$tmp/py.json" '" ".join(s["name"] for s in j["statement"]["subject"])')"
check_eq "the statement's digests" "$(cd "$run/artifacts" && sha256sum model.bin | cut -c1-64)" \
        "$(json_get "$tmp/py.json" '[s["digest"]["sha256"] for s in j["statement"]["subject"] if s["name"] == "model.bin"][0]')"
check_eq "the statement's invocationId, times and leases" "$id 2025-11-23T00:20:00Z 2025-11-23T00:21:00Z j-1,j-2" \
        "$(json_get "$tmp/py.json" '" ".join([j["statement"]["predicate"]["runDetails"]["metadata"][k] for k in ("invocationId", "startedOn", "finishedOn")] + [",".join(j["statement"]["predicate"]["buildDefinition"]["internalParameters"]["mlvm_run"]["credentials"][0]["leases"])])')"

out=$("$MLVM" verify exp-1 2>&1); st=$?
check_eq "verify NAME exits 0" 0 $st
check_eq "verify says who signed and how many artifacts match" \
        "run $id: provenance signed by host key $key; 3 artifacts match" "$out"
out=$("$MLVM" verify 1a2b 2>&1); st=$?
check_eq "verify by a run id prefix" "0 run $id: provenance signed by host key $key; 3 artifacts match" "$st $out"
out=$("$MLVM" -q verify exp-1 2>&1); check_eq "verify -q prints nothing" "" "$out"
"$MLVM" verify --json exp-1 > "$tmp/v.json"; st=$?
check_eq "verify --json exits 0" 0 $st
check_eq "verify --json" "$id True $key 3 $id" \
        "$(json_get "$tmp/v.json" '" ".join(str(x) for x in (j["run"], j["ok"], j["key"], j["artifacts"], j["statement"]["predicate"]["runDetails"]["metadata"]["invocationId"]))')"
check_eq "verify --json carries the statement Python decoded" "True" \
        "$(json_get "$tmp/v.json" 'j["statement"] == json.load(open(sys.argv[1].replace("v.json", "py.json")))["statement"]')"

# One byte of an artifact.
cp "$run/artifacts/model.bin" "$tmp/model.bin"
printf 'weightS\n' > "$run/artifacts/model.bin"
out=$("$MLVM" verify exp-1 2>&1); st=$?
check_eq "a changed artifact: exit 1" 1 $st
check_match "a changed artifact is named, in one line" \
        "^mlvm: verify: run $id: artifact \"model.bin\": SHA-256 [0-9a-f]{64}, the provenance says [0-9a-f]{64}\$" "$out"
check_eq "one line" 1 "$(printf '%s\n' "$out" | wc -l)"
cp "$tmp/model.bin" "$run/artifacts/model.bin"
rm "$run/artifacts/sub/log.txt"
out=$("$MLVM" verify exp-1 2>&1); st=$?
check_eq "a removed artifact is named" "1 mlvm: verify: run $id: artifact \"sub/log.txt\" is missing (it is in the provenance)" "$st $out"
printf 'epoch 1\n' > "$run/artifacts/sub/log.txt"
ln -s model.bin "$run/artifacts/alias"
out=$("$MLVM" verify exp-1 2>&1); st=$?
check_eq "a symlink is refused" "1 mlvm: verify: run $id: artifact \"alias\" is a symlink: only regular files and directories are allowed" "$st $out"
rm "$run/artifacts/alias"
check "restored, it verifies again" "$MLVM" verify exp-1

# One byte of provenance.json: in the payload, then in the signature.
# flip FILE MARKER OFFSET: change the byte OFFSET bytes after MARKER.
flip() {
        "$PY" - "$@" <<'PY'
import sys
p, marker, off = sys.argv[1], sys.argv[2].encode(), int(sys.argv[3])
b = bytearray(open(p, "rb").read())
i = b.index(marker) + len(marker) + off
b[i] = ord("A") if b[i] != ord("A") else ord("B")
open(p, "wb").write(b)
PY
}
cp "$run/provenance.json" "$tmp/good.json"
flip "$run/provenance.json" '"payload":"' 200
out=$("$MLVM" verify exp-1 2>&1); st=$?
check_eq "a changed payload byte fails, named in one line" \
        "1 mlvm: verify: run $id: provenance.json: signature does not verify with the host key $key" "$st $out"
out=$("$PY" "$TOP_SRCDIR/tests/integration/dsse-verify.py" "$run/provenance.json" "$tmp/host.pem"); st=$?
check_eq "the Python verifier rejects it too" "1 InvalidSignature: the signature does not verify over the PAE" "$st $out"
cp "$tmp/good.json" "$run/provenance.json"
flip "$run/provenance.json" '"sig":"' 5
out=$("$MLVM" verify exp-1 2>&1); st=$?
check_eq "a changed signature fails" \
        "1 mlvm: verify: run $id: provenance.json: signature does not verify with the host key $key" "$st $out"
cp "$tmp/good.json" "$run/provenance.json"
check "restored, it verifies again" "$MLVM" verify exp-1

out=$("$MLVM" verify nosuch 2>&1); st=$?
check_eq "an unknown run" "1 mlvm: verify: nosuch: no such run or name (see mlvm ps --all)" "$st $out"
"$MLVM" verify >/dev/null 2>&1; st=$?
check_eq "no RUN is a usage error" 2 $st
out=$("$MLVM" help verify 2>&1); st=$?
check_eq "help verify exits 0" 0 $st
check_contains "help verify shows the usage" "mlvm verify RUN [--json]" "$out"

done_testing
