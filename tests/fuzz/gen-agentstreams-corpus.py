#!/usr/bin/env python3
"""Write the seed corpus of tests/fuzz/fuzz-agentstreams.c into
tests/fuzz/corpus/agentstreams/ (run once; the files are committed):
steps of OP, STREAM, A (16 bits), V (32 bits), big-endian, as the
target reads them."""
import os
import struct
import sys

top = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "corpus")
out = os.path.join(top, "agentstreams")
os.makedirs(out, exist_ok=True)
OPEN, EXEC, DATA, WINDOW, CLOSE, ANY, CONNECTED, WRITTEN, RELAY, STDIN_GONE, FAIL, ALL = range(12)
CREDIT = 262144


def step(op, sid, a=0, v=0):
    return struct.pack(">BBHI", op, sid, a, v)


port = [step(OPEN, 1, 8080, CREDIT), step(CONNECTED, 1), step(DATA, 1, 0, 1000), step(WRITTEN, 1, 0, 1000),
        step(RELAY, 1, 0, 5000), step(WINDOW, 1, 0, 5000), step(CLOSE, 1, 0, 1), step(CLOSE, 1, 0, 2)]
exec_ = [step(EXEC, 2, 0, CREDIT), step(DATA, 2, 0, 65536), step(DATA, 2, 0, 65536), step(WRITTEN, 2, 0, 70000),
         step(STDIN_GONE, 2), step(DATA, 2, 0, 100), step(CLOSE, 2, 0, 1)]
seeds = {
    "port": port,
    "exec": exec_,
    "data-before-connected": [step(OPEN, 1, 80, CREDIT), step(DATA, 1, 0, 10)],
    "over-credit": [step(EXEC, 3, 0, 0)] + [step(DATA, 3, 0, 65536)] * 5,
    "window-overflow": [step(OPEN, 1, 80, CREDIT), step(CONNECTED, 1), step(WINDOW, 1, 0, 1)],
    "many": [step(OPEN, i % 8, 80 + i, CREDIT) for i in range(70)] + [step(ALL, 0)],
    # All the credit spent and some written but no WINDOW yet: one more DATA is over the credit.
    "credit-spent": [step(OPEN, 4, 80, CREDIT), step(CONNECTED, 4)] + [step(DATA, 4, 0, 65536)] * 4 +
                    [step(WRITTEN, 4, 0, 1000), step(RELAY, 4, 0, 9)],
    "bad-open": [step(OPEN, 0, 80, 1), step(OPEN, 1, 0, 1), step(EXEC, 1, 0, 1), step(OPEN, 1, 80, 1)],
}
for name, steps in seeds.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(b"".join(steps))
