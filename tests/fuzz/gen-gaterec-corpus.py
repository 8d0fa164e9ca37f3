#!/usr/bin/env python3
"""Write the seed corpus of tests/fuzz/fuzz-gaterec.c into
tests/fuzz/corpus/gaterec/ (run once; the files are committed): one
record of each kind the frame gate sends the monitor (src/monitor/
gate-wire.h), a FRAME record for every frame type the agent may send,
and two agent frames for the target's other direction. Records are in
host order with the C layout of x86-64 (natural alignment; FUZZ_NOW in the target is later than every SYNC here)."""
import os
import struct
import sys

top = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "corpus")
out = os.path.join(top, "gaterec")
os.makedirs(out, exist_ok=True)

FRAME, BAD, SYNC, EOF = 1, 2, 3, 4
HELLO, ERROR, PING, PONG, STDIO, EXIT, DONE = 1, 3, 4, 5, 7, 8, 11
CRED_EXPIRED, ARTIFACT, ARTIFACTS_DONE = 14, 15, 16
OPENED, DATA, WINDOW, CLOSE = 18, 19, 20, 21
GEN = 1


def hdr(kind, ftype=0, fid=0, status=0, since=0):
    return struct.pack("=BBHIIiQ", kind, ftype, 0, GEN, fid, status, since)


def s(text, size):
    return text.encode().ljust(size, b"\0")


def rec(ftype, body, fid=0):
    return hdr(FRAME, ftype, fid) + body


def conn(sid, window=0, how=0, fd=0, port=0):
    # struct proto_conn up to data: id, port, window, how, fd
    return struct.pack("=IIIII", sid, port, window, how, fd)


hello = (s("0.1.0", 64) + struct.pack("=I4xQ", 1, 1234) + s("virtio-serial", 64) + s("boot", 64) +
         s("initramfs", 64) + bytes(16) + struct.pack("=I", 0) + bytes(4))
artifact = s("out/model.bin", 256) + struct.pack("=Q", 42) + s("a" * 64, 65) + bytes(3) + struct.pack("=I", 0)
done = s("", 256) + struct.pack("=Q", 42) + s("b" * 64, 65) + bytes(3) + struct.pack("=I", 1)

seeds = {
    "rec-hello": rec(HELLO, hello),
    "rec-error": rec(ERROR, struct.pack("=I", 2) + s("bad frame", 1024)),
    "rec-ping": rec(PING, struct.pack("=Q", 99), 5),
    "rec-pong": rec(PONG, struct.pack("=Q", 99), 5),
    "rec-stdio": rec(STDIO, struct.pack("=I", 1) + b"hello\n"),
    "rec-stdio-empty": rec(STDIO, struct.pack("=I", 2)),
    "rec-exit": rec(EXIT, struct.pack("=III", 0, 9, 0), 3),
    "rec-done": rec(DONE, struct.pack("=I", 1), 4),
    "rec-cred-expired": rec(CRED_EXPIRED, s("TOKEN", 64) + s("lease-1", 64)),
    "rec-artifact": rec(ARTIFACT, artifact),
    "rec-artifacts-done": rec(ARTIFACTS_DONE, done),
    "rec-stream-opened": rec(OPENED, conn(1, window=262144)),
    "rec-stream-data": rec(DATA, conn(1, fd=2) + b"some bytes"),
    "rec-stream-window": rec(WINDOW, conn(1, window=65536)),
    "rec-stream-close": rec(CLOSE, conn(1, how=1)),
    "rec-bad": hdr(BAD, STDIO, status=-6),
    "rec-bad-header": hdr(BAD, 0, status=-1),
    "rec-sync": hdr(SYNC, since=0),
    "rec-sync-since": hdr(SYNC, since=500000000000000),
    "rec-eof": hdr(EOF),
}


# Agent frames (big-endian TLV, proto/PROTOCOL.md) for the codec-to-record direction.
def tlv(tag, value):
    return struct.pack(">HI", tag, len(value)) + value


def frame(ftype, fields, fid=0):
    payload = b"".join(fields)
    return struct.pack(">IBBHII", 0x4D4C5641, 1, ftype, 0, fid, len(payload)) + payload


seeds["frame-stdio"] = frame(STDIO, [tlv(15, struct.pack(">I", 1)), tlv(16, b"out\n")])
seeds["frame-hello"] = frame(HELLO, [tlv(1, b"0.1.0"), tlv(2, struct.pack(">I", 1)), tlv(3, struct.pack(">Q", 5)),
                                     tlv(4, b"vsock")])

for name, data in seeds.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)
