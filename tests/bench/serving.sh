#!/usr/bin/env bash
# Benchmark (not a test) for serving (issue 7), in one run on this machine:
#   requests/s and p50/p99 latency of POST /predict to examples' model-server
#   (a) in model-a's guest through its published port (monitor -> virtio-serial
#       channel -> agent -> guest loopback) and (b) the same binary run directly
#       on the host, with the same client (CONNS keep-alive connections, DURATION
#       seconds each, a Python closed-loop client: its own cost is in both);
#   bulk throughput of one stream: the guest sends SIZE_MIB MiB of zeros through
#   a published port, next to the same transfer between two host processes.
# Usage (root, libvirtd running, after make): tests/bench/serving.sh
set -euo pipefail
. "$(dirname "$0")/lib.sh"
bench_guests
conns=${CONNS:-8} dur=${DURATION:-10} mib=${SIZE_MIB:-64}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
"$mlvm" -q setup
"$mlvm" -q image build "$top/images/minimal" 2>/dev/null
mkdir -p "$tmp/ex" && cp -r "$top/examples/." "$tmp/ex/"
pg=$(free_port) ph=$(free_port) pb=$(free_port)
sed -i "s/127.0.0.1:8080:8080/127.0.0.1:$pg:8080/" "$tmp/ex/mlvm.yaml"
cat >> "$tmp/ex/mlvm.yaml" <<YAML
  bulk:
    image: minimal
    command: ["/bin/sh", "-c", "nc -ll -p 9000 -e sh -c 'head -c $((mib * 1048576)) /dev/zero'"]
    publish: ["127.0.0.1:$pb:9000"]
YAML
sed -i 's/^experiments:/# experiments moved below\nexperiments:/' "$tmp/ex/mlvm.yaml"
python3 - "$tmp/ex/mlvm.yaml" <<'PY'
import sys
p = sys.argv[1]; s = open(p).read()
# Move the bulk model (appended at the end) into the models section.
bulk = s[s.index("  bulk:"):]
s = s[:s.index("  bulk:")]
s = s.replace("# experiments moved below\nexperiments:", bulk + "\nexperiments:")
open(p, "w").write(s)
PY
"$mlvm" -q -f "$tmp/ex/mlvm.yaml" up model-a
"$mlvm" -q -f "$tmp/ex/mlvm.yaml" up bulk
"$top/examples/model-a/bin/model-server" --port "$ph" --weights "$top/examples/model-a/model.txt" >/dev/null 2>&1 &
bench_pids+=($!)
sleep 0.5

load() {   # PORT: requests/s, p50 ms, p99 ms
        python3 - "$1" "$conns" "$dur" <<'PY'
import socket, sys, threading, time
port, conns, dur = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
body = b'{"features":[5.1,3.5,1.4,0.2]}'
req = (b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body)) + body
lat, lock = [], threading.Lock()
def worker():
    s = socket.create_connection(("127.0.0.1", port)); s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    end = time.time() + dur; mine = []
    while time.time() < end:
        t = time.perf_counter(); s.sendall(req); buf = b""
        while True:
            buf += s.recv(65536)
            h = buf.find(b"\r\n\r\n")
            if h >= 0:
                cl = [l for l in buf[:h].split(b"\r\n") if l.lower().startswith(b"content-length:")]
                n = int(cl[0].split(b":")[1]) if cl else 0
                if len(buf) >= h + 4 + n: break
        mine.append(time.perf_counter() - t)
    with lock: lat.extend(mine)
    s.close()
ths = [threading.Thread(target=worker) for _ in range(conns)]
t0 = time.time(); [t.start() for t in ths]; [t.join() for t in ths]; el = time.time() - t0
lat.sort()
print("%.0f %.2f %.2f" % (len(lat) / el, lat[len(lat) // 2] * 1000, lat[int(len(lat) * 0.99)] * 1000))
PY
}
bulk() {   # PORT: MiB/s receiving until EOF
        python3 - "$1" <<'PY'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1]))); s.shutdown(socket.SHUT_WR)
t = time.time(); n = 0
while True:
    b = s.recv(1 << 20)
    if not b: break
    n += len(b)
print("%.1f %d" % (n / 1048576 / (time.time() - t), n))
PY
}
read -r g_rps g_p50 g_p99 <<<"$(load "$pg")"
read -r h_rps h_p50 h_p99 <<<"$(load "$ph")"
read -r g_bulk g_bytes <<<"$(bulk "$pb")"
# The host baseline for bulk: the same bytes between two host processes.
python3 - "$mib" > "$tmp/hostbulk" <<'PY' &
import socket, sys
ls = socket.socket(); ls.bind(("127.0.0.1", 0)); ls.listen(1); print(ls.getsockname()[1], flush=True)
c, _ = ls.accept(); z = b"\0" * (1 << 20)
for _ in range(int(sys.argv[1])): c.sendall(z)
c.close()
PY
spid=$!
bench_pids+=("$spid")
for _ in $(seq 1 100); do [ -s "$tmp/hostbulk" ] && break; sleep 0.1; done
read -r h_bulk h_bytes <<<"$(bulk "$(head -1 "$tmp/hostbulk")")"
wait "$spid"
accel=$("$mlvm" info --json | python3 -c 'import json,sys; print(json.load(sys.stdin).get("accelerator","?"))')
printf 'serving, %s connections x %s s, POST /predict to examples/model-server, under %s\n' "$conns" "$dur" "$accel"
printf '  through the published port (guest): %6s req/s  p50 %7s ms  p99 %7s ms\n' "$g_rps" "$g_p50" "$g_p99"
printf '  the same server on the host:        %6s req/s  p50 %7s ms  p99 %7s ms\n' "$h_rps" "$h_p50" "$h_p99"
printf '  ratio guest/host: %.2fx the requests/s, %.1fx the p50 latency\n' "$(echo "$g_rps / $h_rps" | bc -l)" "$(echo "$g_p50 / $h_p50" | bc -l)"
printf '  one stream, guest -> host, %s MiB: %s MiB/s (host process to host process: %s MiB/s)\n' "$mib" "$g_bulk" "$h_bulk"
bench_row "serving: POST /predict through the published port, $conns connections" "$(printf '%s req/s, p50 %s ms' "$g_rps" "$g_p50")" \
        "$(printf 'the same server on the host %s req/s, p50 %s ms' "$h_rps" "$h_p50")" \
        "$(printf '%.3fx the req/s, %.0fx the p50' "$(echo "$g_rps / $h_rps" | bc -l)" "$(echo "$g_p50 / $h_p50" | bc -l)")"
bench_row "serving: one stream guest to host through a published port, $mib MiB" "$(printf '%s MiB/s' "$g_bulk")" \
        "$(printf 'host process to host process %s MiB/s' "$h_bulk")" "$(printf '%.3fx' "$(echo "$g_bulk / $h_bulk" | bc -l)")"
