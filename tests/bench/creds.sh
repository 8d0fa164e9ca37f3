#!/usr/bin/env bash
# Benchmark (not a test) for credentials (issue 5), all in one run on this
# machine, medians of N rounds:
#   delivery: agent ready (HELLO) -> a secret's file written in the guest
#             and confirmed (the agent answers DONE after the rename), for
#             the first grant of each of ROUNDS ups;
#   rotation: host sends CRED_PUT -> agent confirms, for a 40-byte and a
#             60 KiB value (ROT rotations each, through the control socket),
#             and the same `mlvm creds rotate` end to end (source fetch
#             included), next to a PING/PONG over the same channel in the
#             same run as the baseline.
# Usage (root, libvirtd running): tests/bench/creds.sh
set -euo pipefail
. "$(dirname "$0")/lib.sh"
bench_guests
rounds=${ROUNDS:-5} rot=${ROT:-20}
p90() { sort -n | awk '{a[NR]=$1} END {i=int(NR*0.9); if (i<1) i=1; print a[i]}'; }

"$mlvm" -q setup
"$mlvm" -q image build "$top/images/minimal" 2>/dev/null
head -c 30 /dev/urandom | base64 | "$mlvm" -q secret set small
head -c 46000 /dev/urandom | base64 -w0 | head -c 61440 | "$mlvm" -q secret set big
cat > "$tmp/mlvm.yaml" <<'YAML'
models:
  bench:
    image: minimal
    secrets:
      SMALL: { from: "store:small", ttl: 10m }
      BIG: { from: "store:big", ttl: 10m }
YAML
cd "$tmp"

# Control-socket client: send one command, print the reply's rtt_ms values.
ctl() {
        python3 - "$MLVM_STATE_DIR/runs/$1/control.sock" "$2" "${3:-}" <<'PY'
import json, socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
req = {"cmd": sys.argv[2]}
if sys.argv[3]: req["name"] = sys.argv[3]
s.sendall((json.dumps(req) + "\n").encode())
buf = b""
while b"\n" not in buf:
    buf += s.recv(65536)
r = json.loads(buf.split(b"\n")[0])
if "rtt_ms" in r: print(r["rtt_ms"])
for x in r.get("rotated", []): print(x["rtt_ms"])
PY
}

deliver=()
for i in $(seq 1 "$rounds"); do
        "$mlvm" -q up bench
        run=$(ls -t "$MLVM_STATE_DIR/runs" | head -1)
        deliver+=("$(python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); c=[x for x in j["creds"] if x["name"]=="SMALL"][0]; print((c["delivered_at"]-j["hello_at"])*1000)' "$MLVM_STATE_DIR/runs/$run/run.json")")
        [ "$i" -lt "$rounds" ] && "$mlvm" -q down bench
done
ping=(); small=(); big=(); e2e=()
for i in $(seq 1 "$rot"); do
        ping+=("$(ctl "$run" ping)")
        small+=("$(ctl "$run" rotate SMALL)")
        big+=("$(ctl "$run" rotate BIG)")
        t0=$(date +%s.%N); "$mlvm" -q creds rotate bench SMALL; t1=$(date +%s.%N)
        e2e+=("$(echo "($t1 - $t0) * 1000" | bc -l)")
done
"$mlvm" -q down bench
m() { printf '%s\n' "$@" | median; }
p() { printf '%s\n' "$@" | p90; }
pm=$(m "${ping[@]}")
printf 'credentials, %s ups / %s rotations each, under %s\n' "$rounds" "$rot" "$("$mlvm" info --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["accelerator"])')"
printf '  agent ready -> first secret confirmed in the guest: median %.1f ms (p90 %.1f)\n' "$(m "${deliver[@]}")" "$(p "${deliver[@]}")"
printf '  PING/PONG over the channel (baseline):              median %.2f ms (p90 %.2f)\n' "$pm" "$(p "${ping[@]}")"
printf '  rotation round trip, 40 B value:                    median %.2f ms (p90 %.2f)  = %.1fx PING\n' "$(m "${small[@]}")" "$(p "${small[@]}")" "$(echo "$(m "${small[@]}") / $pm" | bc -l)"
printf '  rotation round trip, 60 KiB value:                  median %.2f ms (p90 %.2f)  = %.1fx PING\n' "$(m "${big[@]}")" "$(p "${big[@]}")" "$(echo "$(m "${big[@]}") / $pm" | bc -l)"
printf '  mlvm creds rotate end to end (fetch + deliver):     median %.1f ms (p90 %.1f)\n' "$(m "${e2e[@]}")" "$(p "${e2e[@]}")"
bench_row "secret delivery: agent ready to the first secret confirmed in the guest" "$(printf '%.1f ms' "$(m "${deliver[@]}")")" \
        "$(printf 'PING/PONG over the same channel %.2f ms' "$pm")" "$(printf '%.1fx' "$(echo "$(m "${deliver[@]}") / $pm" | bc -l)")"
bench_row "secret rotation round trip, 40 B value" "$(printf '%.2f ms' "$(m "${small[@]}")")" \
        "$(printf 'PING/PONG %.2f ms' "$pm")" "$(printf '%.1fx' "$(echo "$(m "${small[@]}") / $pm" | bc -l)")"
bench_row "secret rotation round trip, 60 KiB value" "$(printf '%.2f ms' "$(m "${big[@]}")")" \
        "$(printf 'PING/PONG %.2f ms' "$pm")" "$(printf '%.1fx' "$(echo "$(m "${big[@]}") / $pm" | bc -l)")"
