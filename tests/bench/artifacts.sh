#!/usr/bin/env bash
# Benchmark (not a test) for artifacts (issue 6), in one run on this
# machine: an experiment writes SIZE_MIB (default 256) MiB of output;
#   - collection end to end: from the workload's exit (the agent's EXIT,
#     which follows the agent's hashing and writing of the stream) to
#     `mlvm run` returning, and the host-side part alone (download through
#     libvirt + strict parse + re-hash + write), in MiB/s;
#   - next to `sha256sum` of the same bytes on the host (the baseline).
# Usage (root, libvirtd running): tests/bench/artifacts.sh
set -euo pipefail
. "$(dirname "$0")/lib.sh"
bench_guests
mib=${SIZE_MIB:-256}
"$mlvm" -q setup
"$mlvm" -q image build "$top/images/minimal" 2>/dev/null
cat > "$tmp/mlvm.yaml" <<YAML
experiments:
  bench:
    image: minimal
    memory: $((mib * 2 + 256))M
    artifacts: /out
    command: ["/bin/sh", "-c", "head -c $((mib * 1048576)) /dev/urandom > \$MLVM_ARTIFACTS/data.bin; echo WORKLOAD-DONE"]
YAML
cd "$tmp"
# The workload's last line arrives live, as it exits: its arrival time is
# the workload's exit as the host sees it (the agent hashes and writes the
# stream after that, before its EXIT).
"$mlvm" -q run bench | python3 -c '
import sys, time
for line in sys.stdin:
    if line.strip() == "WORKLOAD-DONE":
        open(sys.argv[1], "w").write(repr(time.time()))
' "$tmp/done_at"
t_end=$(date +%s.%N)
done_at=$(cat "$tmp/done_at")
run=$(ls -t "$MLVM_STATE_DIR/runs" | head -1)
j="$MLVM_STATE_DIR/runs/$run/run.json"
exit_at=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["workload_exit_at"])' "$j")
collect=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["artifacts"]["collect_s"])' "$j")
f="$MLVM_STATE_DIR/runs/$run/artifacts/data.bin"
cat "$f" > /dev/null
t0=$(date +%s.%N); sha256sum "$f" > /dev/null; t1=$(date +%s.%N)
base=$(echo "$t1 - $t0" | bc -l)
e2e=$(echo "$t_end - $done_at" | bc -l)
agent=$(echo "$exit_at - $done_at" | bc -l)
printf 'artifacts: %s MiB of output (one file), under %s\n' "$mib" "$("$mlvm" info --json | python3 -c 'import json,sys; print(json.load(sys.stdin).get("accelerator","?"))')"
printf '  host sha256sum of the same bytes (baseline): %6.2f s  %7.1f MiB/s\n' "$base" "$(echo "$mib / $base" | bc -l)"
printf '  host collection (download, parse, re-hash):  %6.2f s  %7.1f MiB/s  = %.1fx sha256sum\n' "$collect" "$(echo "$mib / $collect" | bc -l)" "$(echo "$collect / $base" | bc -l)"
printf '  agent: hash + write the stream (to EXIT):    %6.2f s  %7.1f MiB/s\n' "$agent" "$(echo "$mib / $agent" | bc -l)"
printf '  workload exit -> mlvm run returns:           %6.2f s  %7.1f MiB/s (end to end)\n' "$e2e" "$(echo "$mib / $e2e" | bc -l)"
bench_row "artifacts, $mib MiB: host collection (download, parse, re-hash, write)" "$(printf '%.2f s (%.0f MiB/s)' "$collect" "$(echo "$mib / $collect" | bc -l)")" \
        "$(printf '`sha256sum` of the same bytes %.2f s (%.0f MiB/s)' "$base" "$(echo "$mib / $base" | bc -l)")" \
        "$(printf '%.1fx' "$(echo "$collect / $base" | bc -l)")"
bench_row "artifacts, $mib MiB: workload exit to \`mlvm run\` returning" "$(printf '%.2f s (%.0f MiB/s)' "$e2e" "$(echo "$mib / $e2e" | bc -l)")" \
        "$(printf '`sha256sum` %.2f s' "$base")" "$(printf '%.1fx' "$(echo "$e2e / $base" | bc -l)")"
