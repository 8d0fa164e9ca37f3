#!/usr/bin/env bash
# make bench: every benchmark in one go, then one table of each figure
# beside its baseline and their ratio, all measured in the same run on this
# machine, with the machine (CPUs, memory, kernel, QEMU and libvirt, the
# load average at the start and at the end) and how long it took. Each
# benchmark writes its rows through bench_row (tests/bench/lib.sh); its
# full output is kept in $BENCH_OUT (default: a temporary directory,
# printed at the end). Root and a running libvirtd are needed (all but
# verify.sh boot guests). ROUNDS (default 3) scales the rounds of up.sh,
# disk.sh, creds.sh and concurrent.sh (ceil(ROUNDS/3) rounds of N=10);
# SIZE_MIB (default 256) goes to artifacts.sh. A benchmark that fails is
# named, its rows are missing, and make bench exits non-zero.
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
out=${BENCH_OUT:-$(mktemp -d /tmp/mlvm-bench-out.XXXXXX)}
mkdir -p "$out"
export ROUNDS=${ROUNDS:-3}
export BENCH_ROWS="$out/rows.tsv"
: > "$BENCH_ROWS"
load() { cut -d' ' -f1-3 /proc/loadavg; }
load0=$(load) start=$(date -u +%Y-%m-%dT%H:%MZ) t_all=$(date +%s)
status=0 failed=
for b in verify disk up concurrent creds artifacts serving; do
        printf 'bench: %s ...\n' "$b" >&2
        t0=$(date +%s)
        if ! bash "$top/tests/bench/$b.sh" > "$out/$b.txt" 2>&1; then
                printf 'bench: %s failed (its output: %s/%s.txt)\n' "$b" "$out" "$b" >&2
                status=1 failed="$failed $b"
        fi
        printf 'bench: %s took %d s\n' "$b" $(($(date +%s) - t0)) >&2
done
took=$(($(date +%s) - t_all))

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
echo
printf 'make bench, %s, ROUNDS=%s, took %d min %d s\n' "$start" "$ROUNDS" $((took / 60)) $((took % 60))
printf 'machine: %s CPUs (%s), %s GiB RAM, %s, kernel %s\n' "$(nproc)" "$cpu" \
        "$(awk '/MemTotal/ {printf "%.0f", $2 / 1048576}' /proc/meminfo)" "$(. /etc/os-release; echo "$PRETTY_NAME")" \
        "$(uname -r)"
printf 'software: %s; libvirt %s; accelerator %s\n' "$(qemu-system-x86_64 --version | head -1)" "$(virsh -v)" \
        "$("$top/mlvm" info 2>/dev/null | sed -n 's/^Accelerator: *//p')"
printf 'load average (1, 5, 15 min): %s at the start, %s at the end\n' "$load0" "$(load)"
echo
echo '| what | figure | baseline, same run | ratio | target |'
echo '| --- | --- | --- | --- | --- |'
awk -F'\t' '{printf "| %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5}' "$BENCH_ROWS"
for b in $failed; do printf '| %s.sh failed | see %s/%s.txt | | | |\n' "$b" "$out" "$b"; done
echo
echo "every benchmark's own output: $out"
exit "$status"
