#!/usr/bin/env bash
# Benchmark (not a test): `mlvm image verify --local` throughput against
# `openssl dgst -sha256` over the very same bytes (the image's parts, with a
# 1 GiB rootfs), in the same run, page cache warm for both. Prints the
# ratio; the target is >= 0.9x.  Usage: tests/bench/verify.sh [SIZE_MIB]
set -euo pipefail
. "$(dirname "$0")/lib.sh"
size_mib=${1:-1024}
runs=${RUNS:-5}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export MLVM_STATE_DIR="$tmp/state"

"$mlvm" -q image build "$top/images/minimal" --out "$tmp/img" --no-import
head -c $((size_mib << 20)) /dev/urandom > "$tmp/img/rootfs"
bench_add_rootfs "$tmp/img"
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
bench_row "\`mlvm image verify --local\`, kernel + initramfs + $size_mib MiB rootfs" \
        "$(printf '%.0f MiB/s' "$(echo "$mib / $m" | bc -l)")" \
        "$(printf '`openssl dgst -sha256` of the same bytes %.0f MiB/s' "$(echo "$mib / $o" | bc -l)")" \
        "$(printf '%.2fx' "$(echo "$o / $m" | bc -l)")" '>= 0.9x'
