#!/usr/bin/env python3
"""Clients of a published port, for tests/integration/serving.sh and the
serving benchmark. Prints one JSON object; exits 0 when the check held.

  stream-client.py echo ADDR NBYTES          one echo round trip, half-closed
  stream-client.py concurrent ADDR N NBYTES  N echoes at once
  stalled ADDR                              a client that sends 8 MiB and never
                                            reads, while another echoes
  refused ADDR                              connect and expect a reset/EOF, no data
  hold ADDR N                               N idle connections at once; how many
                                            were accepted (echo "x") or refused
  closed ADDR                               nothing listens any more

ADDR is HOST:PORT or a Unix socket path.
"""
import json
import socket
import sys
import threading
import time


def connect(addr, timeout=30):
    if addr.startswith("/"):
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(timeout)
        s.connect(addr)
        return s
    host, port = addr.rsplit(":", 1)
    return socket.create_connection((host, int(port)), timeout=timeout)


def echo(addr, n, timeout=60):
    data = bytes((i * 7 + 3) % 251 for i in range(n))
    s = connect(addr, timeout)
    t0 = time.time()
    err = []

    def writer():
        try:
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)   # half-close: the answer still comes
        except OSError as e:
            err.append(repr(e))

    th = threading.Thread(target=writer)
    th.start()
    got = bytearray()
    try:
        while True:
            b = s.recv(1 << 16)
            if not b:
                break
            got += b
    except OSError as e:
        err.append(repr(e))
    th.join()
    s.close()
    return {"ok": bytes(got) == data and not err, "bytes": len(got), "seconds": time.time() - t0, "errors": err}


def main():
    cmd, addr = sys.argv[1], sys.argv[2]
    if cmd == "echo":
        r = echo(addr, int(sys.argv[3]))
    elif cmd == "concurrent":
        n, size = int(sys.argv[3]), int(sys.argv[4])
        res = [None] * n

        def one(i):
            try:
                res[i] = echo(addr, size)
            except OSError as e:
                res[i] = {"ok": False, "errors": [repr(e)]}

        ths = [threading.Thread(target=one, args=(i,)) for i in range(n)]
        for t in ths:
            t.start()
        for t in ths:
            t.join()
        r = {"ok": all(x["ok"] for x in res), "n": n, "good": sum(x["ok"] for x in res)}
    elif cmd == "stalled":
        a = connect(addr)
        a.setblocking(False)
        sent = 0
        chunk = b"s" * 65536
        deadline = time.time() + 10
        while sent < 8 << 20 and time.time() < deadline:
            try:
                sent += a.send(chunk)
            except BlockingIOError:
                time.sleep(0.05)
        b = echo(addr, 100000, timeout=60)
        r = {"ok": b["ok"], "stalled_sent": sent, "other_seconds": b["seconds"], "other": b}
        a.close()
    elif cmd == "refused":
        try:
            s = connect(addr)
            s.sendall(b"hello?\n")
            data = s.recv(100)
            r = {"ok": data == b"", "got": data.decode(errors="replace")}
        except (ConnectionResetError, BrokenPipeError) as e:
            r = {"ok": True, "reset": repr(e)}
    elif cmd == "hold":
        n = int(sys.argv[3])
        socks, accepted, refused = [], 0, 0
        for _ in range(n):
            socks.append(connect(addr))
        time.sleep(3)   # let every stream open or be refused
        for s in socks:
            try:
                s.sendall(b"x")
                s.settimeout(30)
                if s.recv(1) == b"x":
                    accepted += 1
                else:
                    refused += 1
            except OSError:
                refused += 1
        for s in socks:
            s.close()
        r = {"ok": True, "accepted": accepted, "refused": refused}
    elif cmd == "closed":
        try:
            connect(addr, 5).close()
            r = {"ok": False, "error": "still accepting"}
        except OSError as e:
            r = {"ok": True, "error": repr(e)}
    else:
        print(__doc__)
        return 2
    print(json.dumps(r))
    return 0 if r["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
