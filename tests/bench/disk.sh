#!/usr/bin/env bash
# Benchmark (not a test) of per-run disk creation, in one run on this
# machine, medians of ROUNDS (default 3) rounds, the variants interleaved
# (their order alternating): images/minimal with a root filesystem part of
# 1 GiB and of 10 GiB added (zeroes, re-signed, imported: the guest does
# not mount it, it only has to be there), and images/minimal as it is (no
# root filesystem, so no overlay);
#   overlay: the run's root disk, a qcow2 overlay over the image's rootfs
#            volume, as `mlvm up` creates it through libvirt's storage API
#            (create_overlay_s in the run record)  vs  `qemu-img create -f
#            qcow2 -b BASE -F raw` of the same overlay in the same pool
#            directory (what libvirt runs)  vs  `fallocate` of a raw disk of
#            the same size there (a preallocated disk instead of an
#            overlay); the 10 GiB overlay against the 1 GiB one (O(1));
#   up:      `mlvm up` to ready with each image: what a bigger root
#            filesystem costs a run end to end. The first up of an image
#            reads every byte of it (the store's copy and the pool's
#            volume: verify_image_s); later ups of the unchanged image
#            re-check each part's fstat against that reading instead
#            (src/lib/image/verify-cache.h), measured in every round.
# Import times are printed too (UPLOAD_MAX_GIB, below).
# Usage (root, libvirtd running): [ROUNDS=N] tests/bench/disk.sh
set -euo pipefail
. "$(dirname "$0")/lib.sh"
bench_guests
rounds=${ROUNDS:-3}
sizes="1 10"   # GiB
# Images with a rootfs up to this size are imported into the pool by
# `mlvm image import` (through libvirt: a 10 GiB one took 5 minutes here);
# bigger ones go into the store by `mlvm image import --local`, and their
# pool volumes are copied in sparse by the benchmark. The runs cannot tell.
upload_max=${UPLOAD_MAX_GIB:-1}

"$mlvm" -q setup
pooldir=$($V pool-dumpxml "$pool" | sed -n 's|.*<path>\(.*\)</path>.*|\1|p' | head -1)
"$mlvm" -q image build "$top/images/minimal" --out "$tmp/img" 2>/dev/null
declare -A import_s
for g in $sizes; do
        d="$tmp/img-$g"
        mkdir "$d"
        cp "$tmp/img/kernel" "$tmp/img/initramfs" "$tmp/img/manifest.json" "$d/"
        truncate -s "${g}G" "$d/rootfs"
        bench_add_rootfs "$d"
        "$mlvm" -q image sign "$d"
        t0=$(now)
        if [ "$g" -le "$upload_max" ]; then
                "$mlvm" -q image import "$d" --tag "disk$g:latest"
        else
                # Into the store as import does (copy, hash, fsync), then the
                # pool volumes as import would name them, copied sparse.
                "$mlvm" -q image import --local "$d" --tag "disk$g:latest"
                digest=$(sed -n 's/^sha256:\(.*\)$/\1/p' "$MLVM_STATE_DIR/images/tags/disk$g:latest")
                for part in kernel initramfs rootfs; do
                        cp --sparse=always "$d/$part" "$pooldir/mlvm-img-${digest:0:16}-$part"
                        chmod 0444 "$pooldir/mlvm-img-${digest:0:16}-$part"
                done
                $V pool-refresh "$pool" >/dev/null
        fi
        import_s[$g]=$(since "$t0")
        rm -rf "$d"
done
rm -rf "$tmp/img"
{
        echo "models:"
        echo "  d0: { image: minimal }"
        for g in $sizes; do echo "  d$g: { image: disk$g }"; done
} > "$tmp/mlvm.yaml"
cd "$tmp"
base_of() {   # the pool volume of the image's rootfs of $1 GiB
        local p
        for p in $($V vol-list "$pool" | awk '{print $2}' | grep -- "-rootfs\$"); do
                if [ "$(stat -c %s "$p")" -eq $(($1 << 30)) ]; then echo "$p"; return 0; fi
        done
        return 1
}

declare -A T
add() { T[$1]="${T[$1]:-} $2"; }
m() { med ${T[$1]}; }
up_once() {   # $1: up (an unchanged image) or cold (its first up), $2: model
        local t0 j
        t0=$(now)
        "$mlvm" -q up "$2"
        add "$1:$2" "$(since "$t0")"
        j="$MLVM_STATE_DIR/runs/$(run_of "$2")/run.json"
        add "verify-$1:$2" "$(json "$j" 'j["timings"]["verify_image_s"]')"
        add "overlay:$2" "$(json "$j" 'j["timings"]["create_overlay_s"]')"
        "$mlvm" -q down "$2"
}
sleep 2   # the imported parts settle (VCACHE_SETTLE_NS) before the first up hashes them
for w in d0 $(for g in $sizes; do echo "d$g"; done); do up_once cold "$w"; done
for i in $(seq 1 "$rounds"); do
        order="d0"; for g in $sizes; do order="$order d$g"; done
        [ $((i % 2)) -eq 0 ] && order=$(printf '%s\n' $order | tac | tr '\n' ' ')
        for w in $order; do up_once up "$w"; done
        for g in $sizes; do
                base=$(base_of "$g")
                t0=$(now)
                qemu-img create -q -f qcow2 -b "$base" -F raw "$pooldir/bench-overlay.qcow2" "${g}G"
                add "qemu-img:$g" "$(since "$t0")"
                rm -f "$pooldir/bench-overlay.qcow2"
                t0=$(now)
                fallocate -l "${g}G" "$pooldir/bench-raw.img"
                add "fallocate:$g" "$(since "$t0")"
                rm -f "$pooldir/bench-raw.img"
        done
done
$V pool-refresh "$pool" >/dev/null
left=$(bench_domains_left)

ms() { echo "$1 * 1000" | bc -l; }
samples() { printf '%s\n' ${T[$1]} | awk -v k="${2:-1}" '{printf (NR > 1 ? " " : "") (k == 1000 ? "%.1f" : "%.2f"), $1 * k}'; }
printf 'per-run disk creation, %d rounds (medians; every sample in parentheses)\n' "$rounds"
for g in $sizes; do
        if [ "$g" -le "$upload_max" ]; then how="mlvm image import: copy, hash, upload, read back"
        else how="mlvm image import --local, volumes copied sparse"; fi
        printf 'image import with a %2d GiB rootfs (%s): %.1f s\n' "$g" "$how" "${import_s[$g]}"
done
for g in $sizes; do
        o=$(m "overlay:d$g") q=$(m "qemu-img:$g") f=$(m "fallocate:$g")
        printf 'root overlay over a %2d GiB base: mlvm %6.1f ms  qemu-img create %6.1f ms  ratio %.2fx  fallocate %2d GiB raw %6.1f ms  (mlvm %s; qemu-img %s)\n' \
                "$g" "$(ms "$o")" "$(ms "$q")" "$(ratio "$o" "$q")" "$g" "$(ms "$f")" "$(samples "overlay:d$g" 1000)" \
                "$(samples "qemu-img:$g" 1000)"
        bench_row "per-run root disk (overlay) over a $g GiB base" "$(printf '%.1f ms' "$(ms "$o")")" \
                "$(printf '`qemu-img create` of the same overlay %.1f ms; `fallocate` %d GiB %.1f ms' "$(ms "$q")" "$g" "$(ms "$f")")" \
                "$(printf '%.2fx' "$(ratio "$o" "$q")")" '<= 50 ms'
done
o1=$(m overlay:d1) o10=$(m overlay:d10)
printf 'overlay 10 GiB / 1 GiB: %.2fx (O(1) in the base size: about 1x)\n' "$(ratio "$o10" "$o1")"
bench_row "per-run root disk, 10 GiB base" "$(printf '%.1f ms' "$(ms "$o10")")" \
        "$(printf 'same over a 1 GiB base %.1f ms' "$(ms "$o1")")" "$(printf '%.2fx' "$(ratio "$o10" "$o1")")" 'about 1x (O(1))'
u0=$(m up:d0)
printf 'mlvm up to ready, no rootfs:   %6.2f s  verify_image_s %.2f  (%s); first up %.2f s\n' "$u0" "$(m verify-up:d0)" \
        "$(samples up:d0)" "$(m cold:d0)"
for g in $sizes; do
        u=$(m "up:d$g") c=$(m "cold:d$g")
        printf 'mlvm up to ready, %2d GiB rootfs: %6.2f s  verify_image_s %.2f  ratio to no rootfs %.2fx  (%s); first up %.2f s (verify_image_s %.2f)\n' \
                "$g" "$u" "$(m "verify-up:d$g")" "$(ratio "$u" "$u0")" "$(samples "up:d$g")" "$c" "$(m "verify-cold:d$g")"
        bench_row "\`mlvm up\` to ready, unchanged image with a $g GiB rootfs" \
                "$(printf '%.2f s (verification %.2f s)' "$u" "$(m "verify-up:d$g")")" \
                "$(printf 'no rootfs %.2f s (verification %.2f s)' "$u0" "$(m verify-up:d0)")" "$(printf '%.2fx' "$(ratio "$u" "$u0")")"
        bench_row "first \`mlvm up\` of an image with a $g GiB rootfs (reads every byte)" \
                "$(printf '%.2f s (verification %.2f s)' "$c" "$(m "verify-cold:d$g")")" \
                "$(printf 'its later ups %.2f s' "$u")" "$(printf '%.2fx' "$(ratio "$c" "$u")")"
done
printf 'domains of this benchmark left after its downs: %d\n' "$left"
[ "$left" -eq 0 ]
