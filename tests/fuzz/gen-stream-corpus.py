#!/usr/bin/env python3
"""Write the seed corpora of tests/fuzz/fuzz-stream.c and fuzz-control.c
into tests/fuzz/corpus/{stream,control}/ (run once; the files are
committed): an honest exec stream and its ways of breaking the rules, and
the control lines the CLI and the monitor exchange."""
import os
import struct
import sys

top = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "corpus")
MAGIC, VERSION = 0x4D4C5641, 1
OPENED, DATA, WINDOW, CLOSE, EXIT, PING = 18, 19, 20, 21, 8, 4
T_CODE, T_SIGNAL, T_STREAM, T_DATA, T_NONCE = 6, 17, 15, 16, 5
T_STREAM_ID, T_WINDOW, T_HOW = 30, 32, 33
CREDIT = 262144


def tlv(tag, value):
    return struct.pack(">HI", tag, len(value)) + value


def u32(tag, v):
    return tlv(tag, struct.pack(">I", v))


def frame(ftype, fields, fid=0):
    payload = b"".join(fields)
    return struct.pack(">IBBHII", MAGIC, VERSION, ftype, 0, fid, len(payload)) + payload


def opened(window=CREDIT):
    return frame(OPENED, [u32(T_STREAM_ID, 1), u32(T_WINDOW, window)])


def data(b, fd=1):
    return frame(DATA, [u32(T_STREAM_ID, 1), tlv(T_DATA, b), u32(T_STREAM, fd)])


def window(n):
    return frame(WINDOW, [u32(T_STREAM_ID, 1), u32(T_WINDOW, n)])


def close(how):
    return frame(CLOSE, [u32(T_STREAM_ID, 1), u32(T_HOW, how)])


def exit_(code, sig=0):
    return frame(EXIT, [u32(T_CODE, code), u32(T_SIGNAL, sig), u32(T_STREAM_ID, 1)])


stream = {
    "honest": opened() + data(b"hello\n") + data(b"oops\n", 2) + window(4096) + close(1) + exit_(0),
    "signal": opened() + data(b"x" * 3000) + exit_(0, 9),
    "refused": close(3),
    "reset": opened() + close(2),
    "opened-twice": opened() + opened(),
    "opened-over-credit": opened(CREDIT + 1),
    "window-overflow": opened() + window(0xFFFFFFFF),
    "window-before-opened": window(10) + opened(),
    "data-before-opened": data(b"early") + opened(),
    "other-frame": opened() + frame(PING, [tlv(T_NONCE, b"\0" * 8)]) + exit_(3),
    "truncated": (opened() + data(b"half"))[:-3],
    "oversized-header": struct.pack(">IBBHII", MAGIC, VERSION, DATA, 0, 0, 1 << 21),
}
control = {
    "status": b'{"cmd":"status"}\n',
    "follow": b'{"cmd":"follow","replay":true}\n',
    "exec": b'{"cmd":"exec","argv":["sh","-c","echo hi"],"tty":true,"rows":24,"cols":80}\n',
    "exec-bad": b'{"cmd":"exec","argv":["a\\u0000b"],"rows":-1}\n{"cmd":"exec","argv":[],"tty":"yes"}\n'
                b'{"cmd":"exec","argv":[1],"cols":70000}\n',
    "rotate": b'{"cmd":"rotate","name":"HF_TOKEN"}\n',
    "down-then-junk": b'{"cmd":"down"} trailing\n{"cmd":"ping"}\n',
    "nul-cmd": b'{"cmd":"status\\u0000x"}\n{"cmd":"st\x00atus"}\n',
    "replies": b'{"ok":true,"state":"ready","connected":true}\n'
               b'{"ok":true,"rotated":[{"name":"A","ok":true,"lease":"l1"},{"name":"B","ok":false,"error":"e"}]}\n'
               b'{"stdout":"\xff\xfe raw bytes \\u001b[0m"}\n{"ok":true,"rtt_ms":0.25}\n{"error":"unknown command"}\n',
    "deep": b'{"a":' * 20 + b'1' + b'}' * 20 + b'\n',
    "not-object": b'[1,2]\n"cmd"\n{}\n{"cmd":\n',
}
for name, corpus in (("stream", stream), ("control", control)):
    os.makedirs(os.path.join(top, name), exist_ok=True)
    for k, v in corpus.items():
        with open(os.path.join(top, name, k), "wb") as f:
            f.write(v)
