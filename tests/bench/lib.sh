# tests/bench/lib.sh: what the benchmarks share. Sourced (not run).
#   bench_row WHAT FIGURE BASELINE RATIO [TARGET]
#       one line of make bench's table (tests/bench/all.sh), appended to
#       $BENCH_ROWS when it is set: the figure, the baseline measured in the
#       same run (what it is and its value) and their ratio.
#   bench_add_rootfs DIR
#       add DIR/rootfs to the parts of DIR/manifest.json (an image directory
#       written by `mlvm image build --out`); sign it again after
#   bench_guests
#       for a benchmark that boots guests: its own temporary state directory
#       ($tmp/state) and storage pool, and a cleanup that runs however the
#       benchmark ends (its own exit, a failure under set -e, Ctrl-C,
#       SIGTERM, SIGHUP): background processes it registered are killed by
#       pid, every run of its state directory is taken down, `mlvm gc`
#       removes what a failed down left (it touches only objects of this
#       state directory), every volume of its pool is deleted, the pool
#       goes, and the directory with it.
#   bench_pids+=(PID)       a background process of the benchmark (it and
#                           its children are killed on cleanup)
#   bench_on_exit=CMD       run first on cleanup (the benchmark's own undo)
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
mlvm="${MLVM:-$top/mlvm}"
V="virsh -q -c qemu:///system"
export MLVM_DEB_CACHE="${MLVM_DEB_CACHE:-$top/tests/.debcache}"
export MLVM_KERNEL_CACHE="${MLVM_KERNEL_CACHE:-$top/tests/.kernelcache}"
bench_pids=()
bench_on_exit=

bench_row() {
        [ -n "${BENCH_ROWS:-}" ] || return 0
        printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "${5:-}" >> "$BENCH_ROWS"
}

bench_add_rootfs() {
        python3 - "$1" <<'PY'
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
}

bench_guests() {
        tmp=$(mktemp -d /tmp/mlvm-bench.XXXXXX); chmod 0711 "$tmp"
        pool="mlvm-bench-$$"
        export MLVM_STATE_DIR="$tmp/state" MLVM_POOL="$pool" MLVM_POOL_PATH="$tmp/pool" MLVM_BOOT_TIMEOUT=120
        trap bench_cleanup EXIT
        trap 'exit 130' INT
        trap 'exit 143' TERM
        trap 'exit 129' HUP
}

bench_cleanup() {
        set +e
        trap - EXIT INT TERM HUP
        local p r d
        for p in "${bench_pids[@]}"; do pkill -P "$p" 2>/dev/null; kill "$p" 2>/dev/null; done
        for p in "${bench_pids[@]}"; do wait "$p" 2>/dev/null; done
        [ -n "$bench_on_exit" ] && eval "$bench_on_exit"
        for r in "$MLVM_STATE_DIR"/runs/*/; do
                [ -d "$r" ] && "$mlvm" -q down "$(basename "$r")" >/dev/null 2>&1
        done
        [ -d "$MLVM_STATE_DIR" ] && "$mlvm" -q gc >/dev/null 2>&1
        # A domain gc could not prove ours (no record at all): by its run id.
        for r in "$MLVM_STATE_DIR"/runs/*/; do
                [ -d "$r" ] || continue
                for d in $($V list --name 2>/dev/null | grep -- "-$(basename "$r")\$"); do
                        $V destroy "$d" >/dev/null 2>&1
                done
        done
        for d in $($V vol-list "$pool" 2>/dev/null | awk '{print $1}'); do
                $V vol-delete --pool "$pool" "$d" >/dev/null 2>&1
        done
        $V pool-destroy "$pool" >/dev/null 2>&1; $V pool-undefine "$pool" >/dev/null 2>&1
        rm -rf "$tmp"
}
now() { date +%s.%N; }
since() { echo "$(now) - $1" | bc -l; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
med() { printf '%s\n' "$@" | median; }
ratio() { echo "$1 / $2" | bc -l; }
json() { python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"; }
# The run id a name points at, in this state directory.
run_of() { cat "$MLVM_STATE_DIR/names/$1"; }
# Domains of this state directory's runs that libvirt still lists (0 when all are gone).
bench_domains_left() {
        local n=0 r
        for r in "$MLVM_STATE_DIR"/runs/*/; do
                [ -d "$r" ] || continue
                n=$((n + $($V list --name 2>/dev/null | grep -c -- "-$(basename "$r")\$" || true)))
        done
        echo "$n"
}
