#!/usr/bin/env bash
# mlvm artifacts RUN [--out DIR] [--json]: over a run record made here by
# hand (runs/<id>/run.json, runs/<id>/artifacts/, names/<name>, as src/lib/run/run.h
# lays them out), with digests from sha256sum, not from mlvm.
. "$TOP_SRCDIR/tests/lib.sh"

command -v sha256sum >/dev/null || skip_all "sha256sum is not installed"
command -v "${PYTHON3:-python3}" >/dev/null || skip_all "python3 is not installed"

tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
export MLVM_STATE_DIR="$tmp/state"
id=0a1b2c3d
other=9f8e7d6c
run="$MLVM_STATE_DIR/runs/$id"
arts="$run/artifacts"

mkdir -p "$arts/model/shards" "$arts/empty-dir" "$MLVM_STATE_DIR/runs/$other" "$MLVM_STATE_DIR/names"
printf '{"id": "%s", "name": "exp", "state": "exited", "created_at": 1700000000}\n' "$id" > "$run/run.json"
printf '{"id": "%s", "name": "bare", "state": "exited", "created_at": 1700000001}\n' "$other" \
        > "$MLVM_STATE_DIR/runs/$other/run.json"
echo "$id" > "$MLVM_STATE_DIR/names/exp"
echo "$other" > "$MLVM_STATE_DIR/names/bare"
printf 'accuracy=0.93\n' > "$arts/metrics.txt"
head -c 300000 /dev/urandom > "$arts/model/shards/w-00001.bin"
: > "$arts/model/EMPTY"
sum() { sha256sum "$1" | cut -d' ' -f1; }

out=$("$MLVM" artifacts exp 2>&1); st=$?
check_eq "list exits 0" 0 $st
check_eq "list: path, size, SHA-256, sorted by path" \
        "metrics.txt 14 $(sum "$arts/metrics.txt")|model/EMPTY 0 $(sum "$arts/model/EMPTY")|model/shards/w-00001.bin 300000 $(sum "$arts/model/shards/w-00001.bin")" \
        "$(printf '%s\n' "$out" | awk 'NR > 1 { printf "%s%s %s %s", sep, $1, $2, $3; sep = "|" }')"
check_match "list has a header" '^PATH +SIZE +SHA256$' "$(printf '%s\n' "$out" | head -1)"

"$MLVM" artifacts --json exp > "$tmp/list.json"; st=$?
check_eq "--json exits 0" 0 $st
check_eq "--json: an array of path, size, sha256" \
        "3 metrics.txt 14 $(sum "$arts/metrics.txt") model/shards/w-00001.bin 300000" \
        "$(json_get "$tmp/list.json" '" ".join(str(x) for x in [len(j), j[0]["path"], j[0]["size"], j[0]["sha256"], j[2]["path"], j[2]["size"]])')"
check_eq "--json fields" "path sha256 size" "$(json_get "$tmp/list.json" '" ".join(sorted(j[1]))')"

out=$("$MLVM" artifacts 0a1b 2>&1); st=$?
check_eq "a run id prefix works too" "0 4" "$st $(printf '%s\n' "$out" | wc -l)"

out=$("$MLVM" artifacts exp --out "$tmp/copy/here" 2>&1); st=$?
check_eq "--out exits 0" 0 $st
check_eq "--out says how many files and bytes" "copied 3 files (300014 bytes) of run $id to $tmp/copy/here" "$out"
check "--out keeps the layout and the bytes" diff -r "$arts/model" "$tmp/copy/here/model"
check "--out copies metrics.txt" cmp "$arts/metrics.txt" "$tmp/copy/here/metrics.txt"
check_eq "--out makes DIR 0755" 755 "$(stat -c %a "$tmp/copy/here")"

echo mine > "$tmp/copy/here/metrics.txt"
out=$("$MLVM" artifacts exp --out "$tmp/copy/here" 2>&1); st=$?
check_eq "--out onto existing files exits 1" 1 $st
check_eq "--out refuses to overwrite" "mlvm: artifacts: $tmp/copy/here/metrics.txt: already exists (not overwritten)" "$out"
check_eq "the existing file is untouched" mine "$(cat "$tmp/copy/here/metrics.txt")"

# A symlink planted in the output directory is not followed.
mkdir "$tmp/trap"; ln -s "$tmp/outside" "$tmp/trap/model"
out=$("$MLVM" artifacts exp --out "$tmp/trap" 2>&1); st=$?
check_eq "--out through a symlinked subdirectory exits 1" 1 $st
check_eq "and says where" "mlvm: artifacts: $tmp/trap/model: Not a directory" "$out"
check "nothing was written through the symlink" test ! -e "$tmp/outside"
check_eq "nothing was copied before the refusal" model "$(ls "$tmp/trap")"

out=$("$MLVM" artifacts nope 2>&1); st=$?
check_eq "a missing run exits 1" 1 $st
check_eq "a missing run, one line" "mlvm: artifacts: nope: no such run or name (see mlvm ps --all)" "$out"

out=$("$MLVM" artifacts bare 2>&1); st=$?
check_eq "a run without artifacts exits 1" 1 $st
check_eq "a run without artifacts, one line" "mlvm: artifacts: run $other has no artifacts (none were collected)" "$out"
out=$("$MLVM" artifacts bare --json 2>&1); st=$?
check_eq "a run without artifacts, --json: exits 0" 0 $st
check_eq "a run without artifacts, --json: an empty list" "[]" "$out"
err=$("$MLVM" artifacts nope --json 2>&1 >/dev/null); st=$?
check_eq "a missing run, --json: exits 1" 1 $st
check_eq "a missing run, --json: the error as JSON on stderr" \
        '{"error":{"code":"not-found","message":"nope: no such run or name (see mlvm ps --all)"}}' "$err"

ln -s /etc/passwd "$arts/model/link"
out=$("$MLVM" artifacts exp 2>&1); st=$?
check_eq "a symlink among the artifacts exits 1" 1 $st
check_contains "and is named" "model/link: a symbolic link (only regular files and directories are allowed)" "$out"

out=$("$MLVM" artifacts 2>&1); st=$?
check_eq "no RUN is a usage error" 2 $st
out=$("$MLVM" artifacts exp bare 2>&1); st=$?
check_eq "two RUNs is a usage error" 2 $st

done_testing
