#!/usr/bin/env python3
"""Write the seed corpus of tests/fuzz/fuzz-artrec.c into
tests/fuzz/corpus/artrec/ (run once; the files are committed): record
streams as the artifact tar parser sends them (src/lib/artifacts/
artrec.h), honest ones and the breaches the decoder must refuse. A
record is an 8-byte header (kind, three zero bytes, a uint32 length in
host order, little-endian here) and its payload."""
import os
import struct
import sys

top = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "corpus")
out = os.path.join(top, "artrec")
os.makedirs(out, exist_ok=True)

READY, DIR, FILE, DATA, END, ERROR = 1, 2, 3, 4, 5, 6


def rec(kind, payload=b""):
    return struct.pack("<B3xI", kind, len(payload)) + payload


def file(path, size):
    return rec(FILE, struct.pack("<Q", size) + path)


seeds = {
    "good-tree": rec(READY) + rec(DIR, b"a") + rec(DIR, b"a/b") + file(b"a/b/c.txt", 5) + rec(DATA, b"hel")
    + rec(DATA, b"lo") + file(b"empty", 0) + rec(END),
    "good-utf8": rec(READY) + file("caf\u00e9/r\u00e9sum\u00e9.txt".encode(), 1) + rec(DATA, b"x") + rec(END),
    "good-empty": rec(READY) + rec(END),
    "error-mid-file": rec(READY) + file(b"cut.bin", 4096) + rec(DATA, b"x" * 100)
    + rec(ERROR, b"artifact cut.bin: truncated: the stream ends inside it, after 612 bytes"),
    "error-first": rec(READY) + rec(ERROR, b"artifact stream: not a valid tar stream after 0 bytes: x"),
    "bad-before-ready": rec(DIR, b"a") + rec(END),
    "bad-escape": rec(READY) + rec(DIR, b"../etc"),
    "bad-absolute": rec(READY) + file(b"/etc/passwd", 1) + rec(DATA, b"x"),
    "bad-data-over": rec(READY) + file(b"f", 2) + rec(DATA, b"xyz"),
    "bad-data-outside": rec(READY) + rec(DATA, b"x"),
    "bad-end-in-file": rec(READY) + file(b"f", 2) + rec(END),
    "bad-after-end": rec(READY) + rec(END) + rec(DIR, b"late"),
    "bad-kind": rec(READY) + rec(9, b"??"),
    "bad-reserved": rec(READY) + b"\x05\x00\x01\x00\x00\x00\x00\x00",
    "bad-huge-len": rec(READY) + struct.pack("<B3xI", DATA, 1 << 30),
    "bad-message": rec(READY) + rec(ERROR, b"line\nbreak"),
    "partial": rec(READY) + file(b"f", 10) + rec(DATA, b"abc")[:6],
}
for name, data in seeds.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)
