#!/usr/bin/env python3
"""Write the seed corpus of tests/fuzz/fuzz-artifacts.c into
tests/fuzz/corpus/artifacts/ (run once; the files are committed). The
fuzz target reports no files, so only directory-only streams are accepted;
the rest are refused at the entry each one is about."""
import io
import os
import sys
import tarfile

out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "corpus", "artifacts")
os.makedirs(out, exist_ok=True)


def tar(members, fmt=tarfile.PAX_FORMAT, tail=b""):
    b = io.BytesIO()
    with tarfile.open(fileobj=b, mode="w", format=fmt) as t:
        for name, kind, data in members:
            ti = tarfile.TarInfo(name)
            ti.mtime = 1700000000
            if kind == "dir":
                ti.type = tarfile.DIRTYPE
            elif kind == "sym":
                ti.type, ti.linkname = tarfile.SYMTYPE, data
            elif kind == "hard":
                ti.type, ti.linkname = tarfile.LNKTYPE, data
            elif kind == "fifo":
                ti.type = tarfile.FIFOTYPE
            elif kind == "chr":
                ti.type, ti.devmajor, ti.devminor = tarfile.CHRTYPE, 1, 3
            else:
                ti.size = len(data)
            t.addfile(ti, io.BytesIO(data) if kind == "file" else None)
    return b.getvalue() + tail


def raw_header(name, typeflag, size, gnu=False, extra=None):
    h = bytearray(512)
    h[0:len(name)] = name
    h[100:108] = b"0000644\0"
    h[108:116] = b"0000000\0"
    h[116:124] = b"0000000\0"
    h[124:136] = b"%011o\0" % size
    h[136:148] = b"14541440000\0"
    h[156:157] = typeflag
    h[257:265] = b"ustar  \0" if gnu else b"ustar\x0000"
    for off, val in (extra or {}).items():
        h[off:off + len(val)] = val
    h[148:156] = b" " * 8
    h[148:156] = b"%06o\0 " % sum(h)
    return bytes(h)


END = b"\0" * 1024
seeds = {
    "good-empty.tar": tar([]),
    "good-dirs.tar": tar([("a", "dir", None), ("a/b", "dir", None), ("c/d/e", "dir", None)]),
    "good-dirs-gnu-longname.tar": tar([("d/" + "x" * 150, "dir", None)], fmt=tarfile.GNU_FORMAT),
    "good-dirs-trailing.tar": tar([("a", "dir", None)], tail=b"junk after the end" * 40),
    "file-unreported.tar": tar([("model.bin", "file", b"weights" * 100)]),
    "pax-utf8-file.tar": tar([("caf\u00e9/r\u00e9sum\u00e9.txt", "file", b"x")]),
    "symlink.tar": tar([("out/link", "sym", "/etc/passwd")]),
    "hardlink.tar": tar([("a", "dir", None), ("h", "hard", "a")]),
    "fifo.tar": tar([("fifo", "fifo", None)]),
    "chardev.tar": tar([("tty", "chr", None)]),
    "dotdot.tar": tar([("../x", "dir", None)]),
    "absolute.tar": tar([("/tmp/x", "dir", None)]),
    "dup-dir.tar": tar([("a", "dir", None), ("a/", "dir", None)]),
    "too-many.tar": tar([("d%03d" % i, "dir", None) for i in range(70)]),
    "pax-rename.tar": raw_header(b"PaxHeader/x", b"x", 13) + b"13 path=../x\n".ljust(512, b"\0")
    + raw_header(b"innocent", b"5", 0) + END,
    "gnu-sparse.tar": raw_header(b"holes", b"S", 512, gnu=True,
                                 extra={386: b"00000000000\0", 398: b"00000001000\0", 483: b"00000002000\0"})
    + b"\0" * 512 + END,
    "truncated.tar": raw_header(b"cut.bin", b"0", 4096) + b"\1" * 100,
    "good-dirs-parent-later.tar": raw_header(b"a/b/", b"5", 0) + raw_header(b"a", b"5", 0)
    + raw_header(b"a/b/c/", b"5", 0) + END,
}
for name, data in seeds.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)
print("wrote %d seeds to %s" % (len(seeds), out))
