#!/usr/bin/env bash
# make bench: every benchmark in one go, then one table of each figure
# beside its baseline and ratio (all measured in the same run, on this
# machine), with the machine it came from. Each benchmark's full output is
# kept in $BENCH_OUT (default: a temporary directory, printed at the end).
# Root and a running libvirtd are needed (all but verify.sh boot guests).
# ROUNDS (default 3) goes to up.sh; SIZE_MIB (default 256) to artifacts.sh.
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
out=${BENCH_OUT:-$(mktemp -d /tmp/mlvm-bench.XXXXXX)}
mkdir -p "$out"
export ROUNDS=${ROUNDS:-3}
status=0
for b in verify up creds artifacts serving; do
        printf 'bench: %s ...\n' "$b" >&2
        t0=$(date +%s)
        if ! bash "$top/tests/bench/$b.sh" > "$out/$b.txt" 2>&1; then
                printf 'bench: %s failed (its output: %s/%s.txt)\n' "$b" "$out" "$b" >&2
                status=1
        fi
        printf 'bench: %s took %d s\n' "$b" $(($(date +%s) - t0)) >&2
done

pick() { grep -h -m1 -- "$2" "$out/$1.txt" 2>/dev/null | sed -e 's/^ *//' -e 's/  */ /g' || true; }
row() { local v; v=$(pick "$2" "$3"); printf '| %s | %s |\n' "$1" "${v:-(no figure: see $out/$2.txt)}"; }
echo
head -3 "$out/up.txt" 2>/dev/null
echo
echo '| what | figure, baseline and ratio (same run) |'
echo '| --- | --- |'
row 'up to ready, default image' up 'mlvm up, default image'
row 'up, previous default image' up 'mlvm up, previous default'
row 'virsh create, same XML, to HELLO' up 'virsh create same XML'
row 'bare QEMU, same kernel, to HELLO' up 'bare qemu same kernel'
row 'bare QEMU, stock bzImage, Run /init' up 'stock bzImage'
row 'down vs virsh destroy' up 'virsh destroy:'
row "QEMU's own memory per idle guest" up 'default, .* previous'
row 'image verify vs openssl dgst' verify 'ratio (mlvm / openssl'
row 'secret delivery (ready to first secret)' creds 'first secret confirmed'
row 'secret rotation vs PING' creds 'rotation round trip, 40 B'
row 'artifacts vs sha256sum' artifacts 'host collection'
row 'publish vs direct' serving 'ratio guest/host'
echo '| per-run disk at 1 and 10 GiB | not measured yet (create_overlay_s in mlvm inspect shows one run) |'
echo '| 10 concurrent ups vs 10 sequential | not measured yet (tests/integration/load.sh times 20 concurrent ups) |'
echo
echo "every benchmark's own output: $out"
exit "$status"
