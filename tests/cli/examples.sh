#!/usr/bin/env bash
# The example workloads (examples/README) on the host, no VM: the trainer
# learns iris well, deterministically, and the shipped model-a/model.txt is
# its real output; it reports a RUN_TOKEN's claims without leaking the token
# and names the file and line of bad input. The model server answers,
# refuses bad requests and survives garbage, slow, idle and half-closed
# clients. The binaries are the static musl builds that the guests run.
. "$TOP_SRCDIR/tests/lib.sh"

PY=${PYTHON3:-python3}
command -v "$PY" >/dev/null || skip_all "python3 is not installed"
TRAINER="$TOP_BUILDDIR/examples/exp-1/bin/trainer"
SERVER="$TOP_BUILDDIR/examples/model-a/bin/model-server"
IRIS="$TOP_SRCDIR/examples/data/iris.csv"
SHIPPED="$TOP_SRCDIR/examples/model-a/model.txt"

tmp=$(mktemp -d)
spid=
cleanup() {
        [ -n "$spid" ] && kill "$spid" 2>/dev/null
        rm -rf "$tmp"
}
trap cleanup EXIT
NOTOKEN="$tmp/no-token"   # never the host's /run/mlvm/secrets/RUN_TOKEN

# --- training
mkdir "$tmp/a" "$tmp/b" "$tmp/env"
out=$("$TRAINER" --token "$NOTOKEN" --out "$tmp/a" "$IRIS" 2>&1); st=$?
check_eq "trainer: exit 0" 0 $st
check_match "it reports the split" 'loaded 150 rows \(4 features, 3 classes\) .*: 120 to train, 30 to test' "$out"
check_match "and the test accuracy" '^test accuracy 0\.[0-9]{4} \([0-9]+ of 30\)$' "$out"
m="$tmp/a/metrics.json"
check_eq "metrics.json: accuracy >= 0.9" True "$(json_get "$m" 'j["accuracy"] >= 0.9')"
check_eq "metrics.json: sizes, iterations, a finite loss" "120 30 2000 True" \
        "$(json_get "$m" '"%d %d %d %s" % (j["train_size"], j["test_size"], j["iterations"], 0 < j["final_loss"] < 1)')"
check_eq "metrics.json: no trained_for_run without a token" False "$(json_get "$m" '"trained_for_run" in j')"
"$TRAINER" --token "$NOTOKEN" --out "$tmp/b" "$IRIS" >/dev/null 2>&1
check "a second run writes a byte-identical model.txt" cmp "$tmp/a/model.txt" "$tmp/b/model.txt"
check "and the same metrics.json" cmp "$tmp/a/metrics.json" "$tmp/b/metrics.json"
check "the shipped examples/model-a/model.txt is the trainer's output" cmp "$SHIPPED" "$tmp/a/model.txt"
MLVM_ARTIFACTS="$tmp/env" "$TRAINER" --token "$NOTOKEN" "$IRIS" >/dev/null 2>&1
check "without --out it writes to \$MLVM_ARTIFACTS" cmp "$tmp/env/model.txt" "$tmp/a/model.txt"
err=$(env -u MLVM_ARTIFACTS "$TRAINER" --token "$NOTOKEN" "$IRIS" 2>&1 >/dev/null); st=$?
check_eq "with neither it refuses" "1 trainer: no output directory: give --out DIR or set MLVM_ARTIFACTS" "$st $err"

# --- the run's JWT: the claims are reported, the token never
b64() { printf '%s' "$1" | basenc --base64url -w 0 | tr -d '='; }
jwt() { printf '%s.%s.%s' "$(b64 '{"alg":"EdDSA","typ":"JWT","kid":"0123abcd"}')" "$(b64 "$1")" \
        "$(b64 'sixty-four bytes of a signature that nobody checks here, padding')"; }
jwt '{"iss":"mlvm:0123abcd","note":"\"run_id\": \"decoy\"","nested":{"run_id":"decoy2","x":[1,{"model":"no"}]},"sub":"0a1b2c3d","run_id":"0a1b2c3d","model":"exp-1","aud":"mlvm","iat":1700000000,"exp":1700000300,"jti":"lease-1","scope":"read:datasets","ok":true,"n":null,"f":-1.5e3}' > "$tmp/token"
mkdir "$tmp/t"
out=$("$TRAINER" --token "$tmp/token" --out "$tmp/t" "$IRIS" 2>&1); st=$?
check_eq "with a token: exit 0" 0 $st
check_contains "it says which credential and run" "using credential RUN_TOKEN for run 0a1b2c3d (model exp-1)" "$out"
check_eq "metrics.json records trained_for_run (top-level claims, not the decoys)" "0a1b2c3d exp-1" \
        "$(json_get "$tmp/t/metrics.json" 'j["trained_for_run"]["run_id"] + " " + j["trained_for_run"]["model"]')"
check "the model does not depend on the token" cmp "$tmp/t/model.txt" "$tmp/a/model.txt"
sig=$(cut -d. -f3 "$tmp/token")
if printf '%s' "$out" | grep -qF "$sig" || grep -rqF "$sig" "$tmp/t"; then
        fail "the token is neither printed nor written"
else
        pass "the token is neither printed nor written"
fi
bad_token() {   # DESC TOKEN-TEXT REGEX
        printf '%s' "$2" > "$tmp/bad-token"
        local err st
        err=$("$TRAINER" --token "$tmp/bad-token" --out "$tmp/t" "$IRIS" 2>&1 >/dev/null); st=$?
        check_eq "token $1: exit 1 with one line" "1 1" "$st $(printf '%s\n' "$err" | wc -l)"
        check_match "token $1: says why" "^trainer: $tmp/bad-token: not a usable JWT: .*$3" "$err"
}
bad_token "of two parts" "$(b64 '{}').$(b64 '{"run_id":"a","model":"b"}')" 'not three'
bad_token "with a non-base64url payload" "$(b64 '{}').not+base64.sig" 'base64url'
bad_token "whose payload is not JSON" "$(jwt 'run_id=1')" 'not a JSON object'
bad_token "with a quote in run_id" "$(jwt '{"run_id":"a\"b","model":"m"}')" 'not \[A-Za-z0-9._-\]'
bad_token "with a 65-byte run_id" "$(jwt "{\"run_id\":\"$(printf 'a%.0s' $(seq 65))\",\"model\":\"m\"}")" 'not \[A-Za-z0-9._-\]'
bad_token "with run_id twice" "$(jwt '{"run_id":"a","model":"m","run_id":"b"}')" 'twice'
bad_token "without model" "$(jwt '{"run_id":"a"}')" 'no run_id or model'
bad_token "nested 100 deep" "$(jwt "{\"x\":$(printf '[%.0s' $(seq 100))$(printf ']%.0s' $(seq 100)),\"run_id\":\"a\",\"model\":\"m\"}")" 'not a JSON object'
bad_token "with trailing data" "$(jwt '{"run_id":"a","model":"m"} x')" 'not a JSON object'
head -c 9000 /dev/zero | tr '\0' a > "$tmp/bad-token"
err=$("$TRAINER" --token "$tmp/bad-token" --out "$tmp/t" "$IRIS" 2>&1 >/dev/null); st=$?
check_match "token over 8 KiB: refused" 'larger than|longer than' "$st $err"

# --- bad datasets: one line naming the file and line
bad_csv() {   # DESC REGEX (the file is $tmp/bad.csv)
        local err st
        err=$("$TRAINER" --token "$NOTOKEN" --out "$tmp/t" "$tmp/bad.csv" 2>&1 >/dev/null); st=$?
        check_eq "csv $1: exit 1 with one line" "1 1" "$st $(printf '%s\n' "$err" | wc -l)"
        check_match "csv $1: names the place" "^trainer: $tmp/bad.csv$2" "$err"
}
sed '12s/^\([^,]*,[^,]*,\)[^,]*/\1abc/' "$IRIS" > "$tmp/bad.csv"
bad_csv "a word for a number" ':12: field 3: "abc" is not a number'
sed '20s/,0$//' "$IRIS" > "$tmp/bad.csv"
bad_csv "a missing field" ':20: expected 5 fields \(4 features and a class\), got 4'
sed '30s/$/,7/' "$IRIS" > "$tmp/bad.csv"
bad_csv "an extra field" ':30: expected 5 fields .*, got more than 5'
sed '40s/,0$/,3/' "$IRIS" > "$tmp/bad.csv"
bad_csv "a class out of range" ':40: field 5: class "3" is not a number in 0..2'
sed '41s/^[^,]*/inf/' "$IRIS" > "$tmp/bad.csv"
bad_csv "inf" ':41: field 1: "inf" is not a number'
sed '42s/^[^,]*/0x1p2/' "$IRIS" > "$tmp/bad.csv"
bad_csv "a hex float" ':42: field 1: "0x1p2" is not a number'
sed '43s/^/ /' "$IRIS" > "$tmp/bad.csv"
bad_csv "a leading space" ':43: field 1: " [0-9.]+" is not a number'
head -n 100 "$IRIS" > "$tmp/bad.csv"
bad_csv "fewer rows than the header says" ':100: the header says 150 rows, the file has 99'
sed '1s/^150/149/' "$IRIS" > "$tmp/bad.csv"
bad_csv "more rows than the header says" ':151: more rows than the header.s 149'
sed '1s/virginica/setosa/' "$IRIS" > "$tmp/bad.csv"
bad_csv "a class named twice" ':1: header: class name "setosa" appears twice'
sed '1s/virginica/vir"ginica/' "$IRIS" > "$tmp/bad.csv"
bad_csv "a class name with a quote" ':1: header: class name 3 is not'
sed '50s/^/'"$(printf '1%.0s' $(seq 5000))"'/' "$IRIS" > "$tmp/bad.csv"
bad_csv "a line over 4 KiB" ':50: line longer than 4096 bytes'
sed '60s/.*//' "$IRIS" > "$tmp/bad.csv"
bad_csv "an empty line" ':60: empty line'
printf 'x' > "$tmp/bad.csv"; truncate -s 17M "$tmp/bad.csv"
bad_csv "a 17 MiB file" ': larger than 16777216 bytes'
: > "$tmp/bad.csv"
bad_csv "an empty file" ': empty file'
rm -f "$tmp/bad.csv"
bad_csv "a missing file" ': No such file or directory'
tr '\n' '\r' < "$IRIS" > "$tmp/bad.csv"
bad_csv "old Mac line ends" ':1: header'
sed 's/$/\r/' "$IRIS" > "$tmp/crlf.csv"
mkdir "$tmp/crlf"
"$TRAINER" --token "$NOTOKEN" --out "$tmp/crlf" "$tmp/crlf.csv" >/dev/null 2>&1
check "CRLF line ends train the same model" cmp "$tmp/crlf/model.txt" "$tmp/a/model.txt"

# --- the model server refuses a malformed model.txt
grep -v '^class 2 ' "$SHIPPED" > "$tmp/bad-model.txt"
err=$("$SERVER" --port 0 --weights "$tmp/bad-model.txt" 2>&1); st=$?
check_eq "server: a truncated model.txt: exit 1" 1 $st
check_eq "with one line naming the file" "model-server: $tmp/bad-model.txt: truncated: ends before the last class line" "$err"
sed 's/^std .*/std 1 0 1 1/' "$SHIPPED" > "$tmp/bad-model.txt"
err=$("$SERVER" --port 0 --weights "$tmp/bad-model.txt" 2>&1); st=$?
check_eq "a zero std: refused at its line" "1 model-server: $tmp/bad-model.txt:9: std 2 is not positive" "$st $err"
sed 's/^class 1 versicolor /class 1 versicolor nan /' "$SHIPPED" > "$tmp/bad-model.txt"
err=$("$SERVER" --port 0 --weights "$tmp/bad-model.txt" 2>&1); st=$?
check_match "a nan weight: refused at its line" "^model-server: $tmp/bad-model.txt:11: expected \"class 1 NAME BIAS\" and 4 weights$" "$err"

# --- the model server, on a free loopback port
"$SERVER" --port 0 --weights "$SHIPPED" --idle-timeout 2 > "$tmp/server.out" 2>&1 &
spid=$!
port=
for _ in $(seq 1 100); do
        port=$(sed -n 's/^model-server listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$tmp/server.out")
        [ -n "$port" ] && break
        sleep 0.05
done
check_match "server: says where it listens" '^model-server listening on 127\.0\.0\.1:[0-9]+$' "$(cat "$tmp/server.out")"
cat > "$tmp/client.py" <<'PY'
import socket, sys, time
port, what = int(sys.argv[1]), sys.argv[2]
def conn():
    return socket.create_connection(("127.0.0.1", port), timeout=10)
def read_all(s):
    data = b""
    while True:
        try:
            b = s.recv(65536)
        except (ConnectionResetError, socket.timeout):
            return data + b"<reset-or-timeout>"
        if not b:
            return data
        data += b
def show(r):   # "STATUS BODY" of each response in r
    out = []
    while r.startswith(b"HTTP/1.1 "):
        head, _, rest = r.partition(b"\r\n\r\n")
        n = int([l.split(b":")[1] for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")][0])
        out.append(head.split(b" ")[1].decode() + " " + rest[:n].decode().strip())
        r = rest[n:]
    return "\n".join(out) if out else "no response: %r" % r[:80]
def req(method, path, body=None, extra=b""):
    h = b"%s %s HTTP/1.1\r\nHost: t\r\n%s" % (method.encode(), path.encode(), extra)
    if body is not None:
        h += b"Content-Length: %d\r\n" % len(body)
    s = conn()
    s.sendall(h + b"Connection: close\r\n\r\n" + (body or b""))
    r = read_all(s)
    s.close()
    return r
a = sys.argv[3:]
if what == "pipeline":   # three requests in one write on one connection
    s = conn()
    s.sendall(b"GET /health HTTP/1.1\r\n\r\n"
              b"POST /predict HTTP/1.1\r\nContent-Length: 30\r\n\r\n{\"features\":[5.1,3.5,1.4,0.2]}"
              b"GET /nope HTTP/1.1\r\nConnection: close\r\n\r\n")
    print(show(read_all(s)))
elif what == "keepalive":   # two requests on one connection, one after the other
    s = conn(); out = []
    for i in range(2):
        s.sendall(b"GET /health HTTP/1.1\r\n\r\n")
        r = b""
        while not r.endswith(b"}\n"):
            r += s.recv(4096)
        out.append(show(r))
    print(" / ".join(out))
elif what == "halfclose":   # a whole request, then shutdown(SHUT_WR)
    s = conn()
    s.sendall(b"POST /predict HTTP/1.1\r\nContent-Length: 30\r\n\r\n{\"features\":[5.1,3.5,1.4,0.2]}")
    s.shutdown(socket.SHUT_WR); print(show(read_all(s)))
elif what == "halfclose-partial":   # half a head, then shutdown(SHUT_WR)
    s = conn(); s.sendall(b"GET /hea"); s.shutdown(socket.SHUT_WR)
    print("closed" if read_all(s) == b"" else "answered")
elif what == "abuse":   # garbage, resets and floods; each must leave the server up
    s = conn(); s.sendall(bytes(range(256)) * 40); s.close()
    s = conn(); s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\1\0\0\0\0\0\0\0"); s.sendall(b"POST /predict HTTP/1.1\r\nContent-Length: 10\r\n\r\n{\"f"); s.close()
    for _ in range(50):
        conn().close()
    print(show(req("GET", "/health")))
elif what == "slow":   # many connections that never finish a request; others still get answers
    idle = [conn() for _ in range(int(a[0]))]
    for s in idle:
        s.sendall(b"GET /hea")
    print(show(req("GET", "/health")))
    t = time.time()
    closed = sum(1 for s in idle if read_all(s) == b"")
    print("%d of %d closed by the server in %.0f s" % (closed, len(idle), time.time() - t))
PY
client() { "$PY" "$tmp/client.py" "$port" "$@" 2>&1; }
# raw BYTES (printf %b escapes): sends them, prints "STATUS BODY" of the answer.
raw() {
        local resp
        exec 3<>"/dev/tcp/127.0.0.1/$port" || { echo "no connection"; return; }
        printf '%b' "$1" >&3
        resp=$(timeout 10 cat <&3 | tr -d '\r')
        exec 3<&-
        printf '%s %s\n' "$(printf '%s\n' "$resp" | sed -n '1s/^HTTP\/1\.1 \([0-9]*\) .*/\1/p')" \
                "$(printf '%s\n' "$resp" | sed '1,/^$/d')"
}
get() { raw "GET $1 HTTP/1.1\r\nConnection: close\r\n\r\n"; }
post() { raw "POST $1 HTTP/1.1\r\nConnection: close\r\nContent-Length: ${#2}\r\n\r\n$2"; }

check_eq "GET /health" '200 {"status":"ok","model":"iris-logreg"}' "$(get /health)"
check_match "a setosa row (5.1,3.5,1.4,0.2) is setosa" '^200 \{"label":"setosa","probabilities":\[0\.9[0-9]{5},0\.[0-9]{6},0\.[0-9]{6}\]\}$' \
        "$(post /predict '{"features":[5.1,3.5,1.4,0.2]}')"
check_match "a virginica row (6.3,3.3,6.0,2.5) is virginica" '^200 \{"label":"virginica",' \
        "$(post /predict '{"features":[6.3,3.3,6.0,2.5]}')"
check_match "a versicolor row (7.0,3.2,4.7,1.4) is versicolor" '^200 \{"label":"versicolor",' \
        "$(post /predict ' { "features" : [ 7.0 , 3.2 , 4.7 , 1.4e0 ] } ')"
check_eq "three probabilities that sum to 1" True \
        "$(post /predict '{"features":[6,3,4,1]}' | "$PY" -c 'import json,sys; p=json.loads(sys.stdin.read()[4:])["probabilities"]; print(len(p)==3 and abs(sum(p)-1)<1e-5)')"
bad_req() {   # DESC BODY REGEX
        check_match "400 for $1" "^400 \\{\"error\":\".*$3.*\"\\}\$" "$(post /predict "$2")"
}
bad_req "bad JSON" '{"features":[5.1,3.5,1.4,0.2' 'invalid JSON|array'
bad_req "three numbers" '{"features":[5.1,3.5,1.4]}' 'too few'
bad_req "five numbers" '{"features":[5.1,3.5,1.4,0.2,1]}' 'too many'
bad_req "a string" '{"features":[5.1,"3.5",1.4,0.2]}' 'finite numbers'
bad_req "1e999" '{"features":[1e999,3.5,1.4,0.2]}' 'finite numbers'
bad_req "NaN" '{"features":[NaN,3.5,1.4,0.2]}' 'finite numbers'
bad_req "a leading zero" '{"features":[05.1,3.5,1.4,0.2]}' 'finite numbers|invalid'
bad_req "another field" '{"features":[5.1,3.5,1.4,0.2],"x":1}' 'exactly one field'
bad_req "a wrong key" '{"feature":[5.1,3.5,1.4,0.2]}' 'exactly one field'
bad_req "trailing data" '{"features":[5.1,3.5,1.4,0.2]}{}' 'trailing'
bad_req "an empty body" '' 'JSON object'
bad_req "overflowing logits" '{"features":[1e308,3.5,1.4,0.2]}' 'out of range'
check_eq "404 on an unknown path" '404 {"error":"not found"}' "$(get /nope)"
check_eq "405 on GET /predict" '405 {"error":"method not allowed"}' "$(get /predict)"
check_match "400 on a garbage request line" '^400 .*malformed request line' "$(raw 'HELLO THERE\r\n\r\n')"
check_match "400 on HTTP/2.0" '^400 ' "$(raw 'GET /health HTTP/2.0\r\n\r\n')"
check_match "400 on a header without a colon" '^400 .*malformed header' "$(raw 'GET /health HTTP/1.1\r\nbroken\r\n\r\n')"
check_match "400 on two Content-Lengths" '^400 ' "$(raw 'POST /predict HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}')"
check_match "501 on a chunked body" '^501 ' "$(raw 'POST /predict HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n')"
check_match "413 on a 100 KiB body, received before the close" '^413 ' "$(post /predict "$(head -c 100000 /dev/zero | tr '\0' x)")"
check_match "413 on a 20-digit Content-Length" '^413 ' "$(raw 'POST /predict HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n')"
check_match "431 on a head over 8 KiB" '^431 ' "$(raw "GET /health HTTP/1.1\\r\\nX: $(printf 'a%.0s' $(seq 9000))\\r\\n\\r\\n")"
check_eq "pipelined requests on one connection" \
        "$(printf '200 {"status":"ok","model":"iris-logreg"}\n200 {"label":"setosa",\n404 {"error":"not found"}')" \
        "$(client pipeline | sed 's/\("setosa",\).*/\1/')"
check_eq "keep-alive: two requests, one connection" \
        '200 {"status":"ok","model":"iris-logreg"} / 200 {"status":"ok","model":"iris-logreg"}' "$(client keepalive)"
check_match "half-closed after a whole request: still answered" '^200 \{"label":"setosa"' "$(client halfclose)"
check_eq "half-closed in the middle of a head: closed" closed "$(client halfclose-partial)"
check_eq "garbage, resets and 50 empty connections: still up" '200 {"status":"ok","model":"iris-logreg"}' "$(client abuse)"
out=$(client slow 200)
check_contains "200 slow clients do not block another" '200 {"status":"ok","model":"iris-logreg"}' "$out"
check_match "and each is closed by the idle timeout" '^200 of 200 closed by the server in [0-9] s$' "$(printf '%s\n' "$out" | tail -n 1)"
if kill -0 "$spid" 2>/dev/null; then pass "the server is still running"; else fail "the server is still running"; fi
kill "$spid"; wait "$spid" 2>/dev/null; spid=

done_testing
