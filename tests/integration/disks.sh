#!/usr/bin/env bash
# Per-run disks (src/lib/virt/disk.c) against the real libvirtd, through
# tests/integration/disk-tool, in a private pool: qcow2 overlays over sparse
# raw bases of 1 and 10 GiB (qemu-img says what they are; the base is left
# as it was), data disks from a directory and a tarball read back from the
# pool, refusals that leave no volume, a sparse artifact disk, and
# disk_delete_run removing one run's volumes and nothing else. It also
# prints timings (comments, not tests): overlay creation against a bare
# qemu-img create in the same run, and the data disk's throughput.
. "$TOP_SRCDIR/tests/lib.sh"
require_root_libvirt
command -v qemu-img >/dev/null || skip_all "qemu-img not installed (run scripts/setup)"

tool="$TOP_BUILDDIR/tests/integration/disk-tool"
uri=qemu:///system
tmp=$(mktemp -d)
chmod 0711 "$tmp"
pool="mlvm-test-disks-$$-$RANDOM"
cleanup() {
        for v in $(virsh -q vol-list "$pool" 2>/dev/null | awk '{print $1}'); do virsh -q vol-delete --pool "$pool" "$v" >/dev/null 2>&1; done
        virsh -q pool-destroy "$pool" >/dev/null 2>&1
        virsh -q pool-undefine "$pool" >/dev/null 2>&1
        rm -rf "$tmp"
}
trap cleanup EXIT

mkdir "$tmp/pool"
check "a private dir pool is defined" virsh -q pool-define-as "$pool" dir --target "$tmp/pool"
check "and started" virsh -q pool-start "$pool"
vols() { virsh -q vol-list "$pool" | awk '{print $1}' | LC_ALL=C sort | tr '\n' ' '; }
names() { printf '%s\n' "$@" | LC_ALL=C sort | tr '\n' ' '; }
median() { sort -n | awk '{v[NR] = $1} END {printf "%.1f", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }

# ---- overlays ----------------------------------------------------------------
check "a sparse 1 GiB raw base" virsh -q vol-create-as --pool "$pool" base1g 1G --format raw --allocation 0
check "a sparse 10 GiB raw base" virsh -q vol-create-as --pool "$pool" base10g 10G --format raw --allocation 0
base1=$tmp/pool/base1g
printf 'mlvm base marker' | dd of="$base1" bs=1 seek=4096 conv=notrunc status=none
head -c 65536 /dev/urandom | dd of="$base1" bs=65536 seek=1000 conv=notrunc status=none
before=$(sha256sum < "$base1")
mtime_before=$(stat -c %Y "$base1")

for b in 1 10; do
        ov=mlvm-run-ov$b-root
        out=$("$tool" overlay "$uri" "$pool" "$ov" base${b}g 2>&1); check_eq "overlay on the $b GiB base: exit 0" 0 $?
        [ -f "$tmp/pool/$ov" ] || { fail "overlay file exists" "$out"; continue; }
        qemu-img info -U --output=json "$tmp/pool/$ov" > "$tmp/info$b.json"
        check_eq "$b GiB: qemu-img says qcow2" qcow2 "$(json_get "$tmp/info$b.json" 'j["format"]')"
        check_eq "$b GiB: backing file is the base volume" "$tmp/pool/base${b}g" "$(json_get "$tmp/info$b.json" 'j["backing-filename"]')"
        check_eq "$b GiB: backing format is raw, stated not probed" raw "$(json_get "$tmp/info$b.json" 'j["backing-filename-format"]')"
        check_eq "$b GiB: capacity is the base's" $((b << 30)) "$(json_get "$tmp/info$b.json" 'j["virtual-size"]')"
        check_eq "$b GiB: the overlay is mode 0600" 600 "$(stat -c %a "$tmp/pool/$ov")"
        size=$(stat -c %s "$tmp/pool/$ov")
        check "$b GiB: the overlay is a header, not a copy ($size bytes)" test "$size" -lt 1048576
done
# What a guest would see through the overlay is the base, byte for byte.
check "reading through the 1 GiB overlay gives the base's bytes" \
        qemu-img compare -U -f qcow2 -F raw "$tmp/pool/mlvm-run-ov1-root" "$base1"
err=$("$tool" overlay "$uri" "$pool" mlvm-run-ov1-root base1g 2>&1); check_eq "the same overlay name twice fails" 1 $?
check_match "saying the volume exists" '^disk-tool: create volume mlvm-run-ov1-root: .*exists' "$err"
err=$("$tool" overlay "$uri" "$pool" mlvm-run-ov2-root nosuch 2>&1); check_eq "an overlay over a missing base fails" 1 $?
check_eq "the base is unchanged (SHA-256)" "$before" "$(sha256sum < "$base1")"
check_eq "the base's mtime is unchanged" "$mtime_before" "$(stat -c %Y "$base1")"

# Timing: 10 overlays on each base, and the floor: a bare qemu-img create (what libvirt runs).
for b in 1 10; do
        for i in 0 1 2 3 4 5 6 7 8 9; do "$tool" overlay "$uri" "$pool" "mlvm-run-t${b}x$i-root" base${b}g; done > "$tmp/t$b"
        for i in 0 1 2 3 4 5 6 7 8 9; do "$tool" delete "$uri" "$pool" "t${b}x$i"; done
done
for i in 0 1 2 3 4 5 6 7 8 9; do
        s=$(date +%s%N); qemu-img create -q -f qcow2 -b "$base1" -F raw "$tmp/bare$i.qcow2" 1G; e=$(date +%s%N)
        echo $(( (e - s) / 1000 ))
done | awk '{printf "%.2f\n", $1 / 1000}' > "$tmp/bare"
check_eq "10 timed overlays per base" "10 10" "$(wc -l < "$tmp/t1") $(wc -l < "$tmp/t10")"
m1=$(median < "$tmp/t1"); m10=$(median < "$tmp/t10"); mb=$(median < "$tmp/bare")
echo "# disk_create_overlay, median of 10: 1 GiB base $m1 ms, 10 GiB base $m10 ms; bare qemu-img create $mb ms; load $(cut -d' ' -f1-3 /proc/loadavg)"

# ---- data disks ------------------------------------------------------------------
src=$tmp/src
mkdir -p "$src/models/a/b" "$src/empty-dir"
printf 'hello\n' > "$src/hello.txt"
: > "$src/models/empty"
head -c $((5 << 20)) /dev/urandom > "$src/models/a/b/weights.bin"
chmod 0750 "$src/models"; chmod 0600 "$src/models/a/b/weights.bin"; chmod 0755 "$src/hello.txt"
out=$("$tool" data "$uri" "$pool" mlvm-run-r1-data-w "$src" 2>&1); check_eq "data disk from a directory: exit 0" 0 $?
sha=${out%% *}
dpath=$tmp/pool/mlvm-run-r1-data-w
check_eq "the returned SHA-256 is the volume's" "$sha" "$(sha256sum < "$dpath" | cut -d' ' -f1)"
check_eq "the data volume is read-only and private (0400)" 400 "$(stat -c %a "$dpath")"
check "another local user cannot read it" sh -c "! setpriv --reuid=nobody --regid=nogroup --clear-groups head -c1 '$dpath' >/dev/null 2>&1"
"$tool" ls "$dpath" > "$tmp/ls" 2>&1; check_eq "the volume reads back as ISO 9660" 0 $?
wsha=$(sha256sum < "$src/models/a/b/weights.bin" | cut -d' ' -f1)
check_match "the 5 MiB file, whole, world-readable, not writable" "^100444 5242880 $wsha models/a/b/weights.bin$" "$(cat "$tmp/ls")"
check_match "the empty file" '^100444 0 [0-9a-f]{64} models/empty$' "$(cat "$tmp/ls")"
check_match "an executable keeps its x bits" '^100555 6 [0-9a-f]{64} hello.txt$' "$(cat "$tmp/ls")"
check_match "nested directories" '^40555 [0-9]+ [0-9a-f]{64} models/a/b$' "$(cat "$tmp/ls")"
check_match "the empty directory" '^40555 [0-9]+ [0-9a-f]{64} empty-dir$' "$(cat "$tmp/ls")"
check_eq "8 entries with the root" 8 "$(wc -l < "$tmp/ls")"

tar -C "$src" -czf "$tmp/src.tar.gz" .
out=$("$tool" data "$uri" "$pool" mlvm-run-r1-data-t "$tmp/src.tar.gz" 2>&1); check_eq "data disk from a .tar.gz: exit 0" 0 $?
"$tool" ls "$tmp/pool/mlvm-run-r1-data-t" > "$tmp/lst" 2>&1
check_eq "the tarball gives the same files" "$(awk '{print $1, $2, $3, $4}' "$tmp/ls" | grep -v ' \.$' | sort)" \
        "$(awk '{print $1, $2, $3, $4}' "$tmp/lst" | grep -v ' \.$' | sort)"

ln -s /etc/shadow "$src/models/leak"
err=$("$tool" data "$uri" "$pool" mlvm-run-r1-data-x "$src" 2>&1); check_eq "a symlink in the source is refused" 1 $?
check_eq "with one line naming it" "disk-tool: data disk $src: models/leak: symbolic link: only regular files and directories go on a data disk" "$err"
rm "$src/models/leak"
err=$("$tool" data "$uri" "$pool" mlvm-run-r1-data-x "$tmp/nosuch" 2>&1); check_eq "a missing source is refused" 1 $?
check_eq "naming it" "disk-tool: data disk $tmp/nosuch: No such file or directory" "$err"
check_eq "refusals leave no volume" \
        "$(names base10g base1g mlvm-run-ov10-root mlvm-run-ov1-root mlvm-run-r1-data-t mlvm-run-r1-data-w)" "$(vols)"

# Throughput (not a test): a 200 MiB directory, built and uploaded.
mkdir "$tmp/big"
for i in $(seq 1 20); do head -c $((10 << 20)) /dev/urandom > "$tmp/big/f$i"; done
out=$("$tool" data "$uri" "$pool" mlvm-run-bench-data-big "$tmp/big" 2>&1); check_eq "data disk of 200 MiB: exit 0" 0 $?
ms=${out##* }
echo "# data disk of 200 MiB (20 files): $ms ms, $(awk -v ms="$ms" 'BEGIN {printf "%.0f", 200 / (ms / 1000)}') MiB/s build + upload"
"$tool" delete "$uri" "$pool" bench
rm -rf "$tmp/big"

# ---- artifact disk ---------------------------------------------------------------
check "artifact disk of 1 GiB" "$tool" artifacts "$uri" "$pool" mlvm-run-r1-artifacts 1073741824
apath=$tmp/pool/mlvm-run-r1-artifacts
check_eq "its size is 1 GiB" 1073741824 "$(stat -c %s "$apath")"
check_eq "it is sparse (du: 0 KiB)" 0 "$(du -k "$apath" | cut -f1)"
check_eq "it is raw" raw "$(qemu-img info -U --output=json "$apath" | "${PYTHON3:-python3}" -c 'import json,sys; print(json.load(sys.stdin)["format"])')"
check_eq "it is mode 0600" 600 "$(stat -c %a "$apath")"

# ---- disk_delete_run -------------------------------------------------------------
check "run r10 gets a root overlay" "$tool" overlay "$uri" "$pool" mlvm-run-r10-root base1g
check "a volume named like run r1 without the dash" virsh -q vol-create-as --pool "$pool" mlvm-run-r1 1M --format raw
check_eq "before: the run's volumes and the others" "$(names base10g base1g mlvm-run-ov10-root mlvm-run-ov1-root \
        mlvm-run-r1 mlvm-run-r1-artifacts mlvm-run-r10-root mlvm-run-r1-data-t mlvm-run-r1-data-w)" "$(vols)"
rm "$tmp/pool/mlvm-run-r1-data-t"   # one already gone behind libvirt's back
check "disk_delete_run r1" "$tool" delete "$uri" "$pool" r1
check_eq "r1's volumes are gone, nothing else" \
        "$(names base10g base1g mlvm-run-ov10-root mlvm-run-ov1-root mlvm-run-r1 mlvm-run-r10-root)" "$(vols)"
check "deleting r1 again is fine" "$tool" delete "$uri" "$pool" r1
check_eq "the base is still unchanged" "$before" "$(sha256sum < "$base1")"
err=$("$tool" delete "$uri" "$pool" 'r-1' 2>&1); check_eq "a run id with '-' is refused" 1 $?

done_testing
