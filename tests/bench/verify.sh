#!/usr/bin/env bash
# Benchmark (not a test): `mlvm image verify --local` throughput against
# `openssl dgst -sha256` over the very same bytes (the image's parts, with a
# 1 GiB rootfs), in the same run, page cache warm for both. Prints the
# ratio; the target is >= 0.9x.  Usage: tests/bench/verify.sh [SIZE_MIB]
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
mlvm="${MLVM:-$top/mlvm}"
size_mib=${1:-1024}
runs=${RUNS:-5}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export MLVM_STATE_DIR="$tmp/state"
export MLVM_DEB_CACHE="${MLVM_DEB_CACHE:-$top/tests/.debcache}"
export MLVM_KERNEL_CACHE="${MLVM_KERNEL_CACHE:-$top/tests/.kernelcache}"

"$mlvm" -q image build "$top/images/minimal" --out "$tmp/img" --no-import
head -c $((size_mib << 20)) /dev/urandom > "$tmp/img/rootfs"
python3 - "$tmp/img" <<'PY'
import hashlib, json, os, sys
d = sys.argv[1]
m = json.load(open(d + "/manifest.json"))
h = hashlib.sha256()
with open(d + "/rootfs", "rb") as f:
    for b in iter(lambda: f.read(1 << 20), b""):
        h.update(b)
m["parts"].append({"name": "rootfs", "size": os.path.getsize(d + "/rootfs"), "sha256": h.hexdigest()})
open(d + "/manifest.json", "w").write(json.dumps(m, indent=2) + "\n")
PY
"$mlvm" image sign "$tmp/img"
"$mlvm" -q image import --local "$tmp/img" --tag bench:1
rm -rf "$tmp/img"
store=$(ls -d "$tmp"/state/images/sha256/*)
bytes=$(cat "$store"/kernel "$store"/initramfs "$store"/rootfs | wc -c)

best() { sort -n | head -1; }
time_cmd() {
        for _ in $(seq 1 "$runs"); do
                local t0 t1
                t0=$(date +%s.%N); "$@" >/dev/null; t1=$(date +%s.%N)
                echo "$t1 - $t0" | bc -l
        done
}
"$mlvm" -q image verify --local bench:1 >/dev/null          # warm the page cache
openssl dgst -sha256 "$store"/kernel "$store"/initramfs "$store"/rootfs >/dev/null
m=$(time_cmd "$mlvm" -q image verify --local bench:1 | best)
o=$(time_cmd openssl dgst -sha256 "$store"/kernel "$store"/initramfs "$store"/rootfs | best)
mib=$(echo "$bytes / 1048576" | bc -l)
printf 'bytes hashed:            %d (%.0f MiB; kernel + initramfs + %d MiB rootfs)\n' "$bytes" "$mib" "$size_mib"
printf 'openssl dgst -sha256:    %.3f s  %.0f MiB/s (best of %d)\n' "$o" "$(echo "$mib / $o" | bc -l)" "$runs"
printf 'mlvm image verify:       %.3f s  %.0f MiB/s (best of %d; also checks signature and manifest)\n' "$m" "$(echo "$mib / $m" | bc -l)" "$runs"
printf 'ratio (mlvm / openssl throughput): %.2fx  (target >= 0.90x)\n' "$(echo "$o / $m" | bc -l)"
