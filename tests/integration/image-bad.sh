#!/usr/bin/env bash
# Bad images are refused with one line naming the part and the reason, and
# leave nothing imported: one case each for every way an image can be wrong.
. "$TOP_SRCDIR/tests/lib.sh"
[ "$(id -u)" -eq 0 ] || skip_all "needs root (apt-get download for the kernel package)"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export MLVM_STATE_DIR="$tmp/state"
export MLVM_DEB_CACHE="${MLVM_DEB_CACHE:-$TOP_BUILDDIR/tests/.debcache}"
# The kernel built for the default image: once per build tree (minutes), then seconds.
export MLVM_KERNEL_CACHE="${MLVM_KERNEL_CACHE:-$TOP_BUILDDIR/tests/.kernelcache}"
py="${PYTHON3:-python3}"

"$MLVM" -q image build "$TOP_SRCDIR/images/minimal" --out "$tmp/good" --no-import 2>"$tmp/build.err"; st=$?
check_eq "image build --no-import exits 0" 0 $st
[ $st -eq 0 ] || { sed 's/^/# /' "$tmp/build.err"; refused=$("$MLVM" audit --event image.import-refused | wc -l)
check_eq "every refused import is in the audit log" "$n" "$refused"
check_match "the audit log verifies" '^audit log ok' "$("$MLVM" audit verify)"

done_testing; exit 1; }
"$MLVM" -q key gen tester
"$MLVM" key export tester > "$tmp/tester.pem"
"$MLVM" -q key trust "$tmp/tester.pem"
# A third part, rootfs, so that the rootfs cases have something to break.
head -c 1048576 /dev/urandom > "$tmp/rootfs"
"$py" - "$tmp/good/manifest.json" "$tmp/rootfs" <<'PY'
import hashlib, json, os, sys
m = json.load(open(sys.argv[1]))
data = open(sys.argv[2], "rb").read()
m["parts"].append({"name": "rootfs", "size": len(data), "sha256": hashlib.sha256(data).hexdigest()})
open(sys.argv[1], "w").write(json.dumps(m, indent=2) + "\n")
PY
cp "$tmp/rootfs" "$tmp/good/rootfs"
"$MLVM" image sign "$tmp/good" --key tester
check "the reference image (with rootfs) imports" "$MLVM" image import --local "$tmp/good" --tag ref:1
"$MLVM" -q image rm --local ref:1

store_is_empty() {
        [ -z "$(ls -A "$tmp/state/images/sha256" 2>/dev/null)" ] && [ -z "$(ls -A "$tmp/state/images/tags" 2>/dev/null)" ]
}
n=0
# refuse DESC REGEX: import $case and expect exit 1, one line matching REGEX, nothing left.
refuse() {
        local err st
        err=$("$MLVM" image import --local "$case" --tag bad:1 2>&1); st=$?
        check_eq "$1: exit 1" 1 $st
        # Progress lines ("mlvm: image import: ...") may come first; the error is one line.
        check_eq "$1: one error line" 1 "$(printf '%s\n' "$err" | grep -vc '^mlvm: image import: ')"
        check_match "$1: says why" "^mlvm: image: .*$2" "$err"
        if store_is_empty; then pass "$1: nothing imported"; else fail "$1: nothing imported" "$(ls -R "$tmp/state/images")"; fi
}
fresh() { n=$((n + 1)); case="$tmp/case$n"; cp -a "$tmp/good" "$case"; }
flip() { "$py" -c 'import sys; p=sys.argv[1]; o=int(sys.argv[2]); b=bytearray(open(p,"rb").read()); b[o]^=1; open(p,"wb").write(b)' "$1" "$2"; }
edit() { "$py" - "$case/manifest.json" "$1" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
exec(sys.argv[2])
open(sys.argv[1], "w").write(json.dumps(m, indent=2) + "\n")
PY
"$MLVM" image sign "$case" --key tester; }

fresh; flip "$case/kernel" 4096;        refuse "flipped byte in the kernel" "part kernel: SHA-256 [0-9a-f]{64} does not match"
fresh; flip "$case/initramfs" 100;      refuse "flipped byte in the initramfs" "part initramfs: SHA-256 .* does not match"
fresh; flip "$case/rootfs" 777;         refuse "flipped byte in the rootfs" "part rootfs: SHA-256 .* does not match"
fresh; flip "$case/manifest.json" 40;   refuse "flipped byte in the manifest" "manifest.json: signature does not verify with trusted key"
fresh; sed -i 's/"sig":"A/"sig":"B/; t; s/"sig":"./"sig":"A/' "$case/manifest.sig"
                                        refuse "flipped byte in the signature" "signature does not verify|not a base64"
fresh; "$MLVM" -q key gen stranger; "$MLVM" image sign "$case" --key stranger
                                        refuse "signed by an unknown key" "signed by key [0-9a-f]{16}, which is not trusted"
fresh; truncate -s -1 "$case/initramfs"; refuse "truncated part" "part initramfs: size [0-9]+, the manifest says [0-9]+ \(truncated or padded\)"
fresh; rm "$case/rootfs";               refuse "a listed part is missing" "part rootfs: missing from"
fresh; echo extra > "$case/notes.txt";  refuse "a present file is not listed" "notes.txt: not listed in the manifest"
fresh; edit 'm["parts"][2]["name"] = "../rootfs"'; refuse "part name with .." 'part name "../rootfs" contains / or \.\.'
fresh; edit 'm["parts"][2]["name"] = "sub/rootfs"'; refuse "part name with /" 'part name "sub/rootfs" contains / or \.\.'
fresh; edit 'm["parts"][0]["size"] = "14186432"'; refuse "wrong type in the manifest" "part kernel: size must be an integer"
fresh; edit 'm["parts"][0]["size"] = 1 << 40'; refuse "huge size in the manifest" "part kernel: size [0-9]+ is out of range"
fresh; edit 'm["parts"][2]["name"] = "kernel"'; refuse "duplicate part names" "part kernel is listed twice"
fresh; edit 'm["colour"] = "red"';         refuse "unknown manifest key" 'unknown key "colour"'
fresh; edit 'del m["parts"][1]'; rm "$case/initramfs"; refuse "manifest without an initramfs" "parts must include kernel and initramfs"
fresh; printf 'not json' > "$case/manifest.json"; "$MLVM" image sign "$case" --key tester
                                        refuse "manifest that is not JSON" "not one valid JSON value"

# A tag that points to a digest that is not in the store.
mkdir -p "$tmp/state/images/tags"
printf 'sha256:%064d\n' 0 > "$tmp/state/images/tags/ghost:latest"
err=$("$MLVM" image verify --local ghost 2>&1); st=$?
check_eq "tag to a missing digest: verify exits 1" 1 $st
check_match "tag to a missing digest: says so" "^mlvm: image: image ghost:latest: sha256:0{64} is not in the store$" "$err"
check_match "image ls flags it" "^ghost:latest .*\(missing from the store\)$" "$("$MLVM" image ls)"

refused=$("$MLVM" audit --event image.import-refused | wc -l)
check_eq "every refused import is in the audit log" "$n" "$refused"
check_match "the audit log verifies" '^audit log ok' "$("$MLVM" audit verify)"

done_testing
