#!/usr/bin/env python3
"""Write the seed corpus of tests/fuzz/fuzz-bzimage.c into
tests/fuzz/corpus/bzimage/ (run once; the files are committed). Small
synthetic bzImages (setup header, stand-in decompressor, an LZ4 legacy
payload of literal-only blocks) around a small ELF with a PVH note, and
the ELF alone, each good or damaged in one field, as tests/unit/test-bzimage.c
builds them."""
import os
import struct
import sys

out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "corpus", "bzimage")
os.makedirs(out, exist_ok=True)

PADDR = 0x1000000
ENTRY = PADDR + 0x10


def note(name, ntype, desc):
    n = name + b"\0"
    pad = lambda b: b + b"\0" * (-len(b) % 4)
    return struct.pack("<III", len(n), len(desc), ntype) + pad(n) + pad(desc)


def elf(notes=None, entry=ENTRY, machine=62, cls=2, phnum=2, with_sections=True, tail=b"\xab" * 64):
    notes = notes if notes is not None else note(b"GNU", 3, b"\x0d\xf0\xed\xfe") + note(b"Xen", 18, struct.pack("<Q", entry))
    off_notes, off_code, code = 232, 320, b"\x90" * 256
    strtab = b"\0.shstrtab\0"
    off_strtab, off_shdr = 576, 592
    shnum = 2 if with_sections else 0
    eh = b"\x7fELF" + bytes([cls, 1, 1]) + b"\0" * 9
    eh += struct.pack("<HHIQQQIHHHHHH", 2, machine, 1, PADDR, 64, off_shdr if with_sections else 0, 0, 64, 56,
                      phnum, 64, shnum, 1 if with_sections else 0)
    ph = struct.pack("<IIQQQQQQ", 1, 5, off_code, 0xffffffff81000000, PADDR, len(code), 4096, 4096)
    ph += struct.pack("<IIQQQQQQ", 4, 4, off_notes, 0, 0, len(notes), len(notes), 4)
    b = bytearray(off_shdr + 128 if with_sections else off_code + len(code))
    b[0:64] = eh
    b[64:64 + len(ph)] = ph
    b[off_notes:off_notes + len(notes)] = notes
    b[off_code:off_code + len(code)] = code
    if with_sections:
        b[off_strtab:off_strtab + len(strtab)] = strtab
        b[off_shdr + 64:off_shdr + 128] = struct.pack("<IIQQQQIIQQ", 1, 3, 0, 0, off_strtab, len(strtab), 0, 0, 1, 0)
    return bytes(b) + tail


def lz4_literals(data):
    n = len(data)
    out = bytearray([(15 if n >= 15 else n) << 4])
    if n >= 15:
        rest = n - 15
        while rest >= 255:
            out.append(255)
            rest -= 255
        out.append(rest)
    return bytes(out) + data


def lz4_legacy(data, trailer=None):
    half = len(data) // 2
    out = struct.pack("<I", 0x184C2102)
    for part in (data[:half], data[half:]):
        blk = lz4_literals(part)
        out += struct.pack("<I", len(blk)) + blk
    return out + struct.pack("<I", len(data) if trailer is None else trailer)


def bzimage(payload, setup_sects=4, version=0x20F, loadflags=1, magic=b"HdrS", off=None, plen=None, syssize=None):
    setup = ((setup_sects or 4) + 1) * 512
    pm = (64 + len(payload) + 15) & ~15
    b = bytearray(setup + pm + 32)
    b[0x1F1] = setup_sects
    b[0x1F4:0x1F8] = struct.pack("<I", pm // 16 if syssize is None else syssize)
    b[0x1FE:0x200] = b"\x55\xaa"
    b[0x202:0x206] = magic
    b[0x206:0x208] = struct.pack("<H", version)
    b[0x211] = loadflags
    b[0x248:0x250] = struct.pack("<II", 64 if off is None else off, len(payload) if plen is None else plen)
    b[setup:setup + 64] = b"\xcc" * 64
    b[setup + 64:setup + 64 + len(payload)] = payload
    b[setup + pm:] = b"\x5e" * 32
    return bytes(b)


good = elf()
seeds = {
    "seed-good": bzimage(lz4_legacy(good)),
    "seed-setup-sects-0": bzimage(lz4_legacy(good), setup_sects=0),
    "seed-version-2.07": bzimage(lz4_legacy(good), version=0x207),
    "seed-zimage": bzimage(lz4_legacy(good), loadflags=0),
    "seed-no-hdrs": bzimage(lz4_legacy(good), magic=b"HdrT"),
    "seed-payload-wraps": bzimage(lz4_legacy(good), off=0xFFFFFFFF),
    "seed-payload-past-end": bzimage(lz4_legacy(good), plen=0xFFFFFF00),
    "seed-syssize-huge": bzimage(lz4_legacy(good), syssize=0x10000000),
    "seed-gzip-payload": bzimage(b"\x1f\x8b\x08\0\0\0\0\0\0\x03\x01\0\0\0"),
    "seed-trailer-short": bzimage(lz4_legacy(good, len(good) - 1)),
    "seed-trailer-long": bzimage(lz4_legacy(good, len(good) + 1)),
    "seed-trailer-huge": bzimage(lz4_legacy(good, 0xFFFFFFFF)),
    "seed-block-cut": bzimage(lz4_legacy(good)[:-40] + struct.pack("<I", len(good))),
    "seed-no-pvh-note": bzimage(lz4_legacy(elf(notes=note(b"Xen", 17, b"\0" * 8)))),
    "seed-elf": good,
    "seed-elf-no-sections": elf(with_sections=False, tail=b""),
    "seed-elf-32bit": elf(cls=1),
    "seed-elf-i386": elf(machine=3),
    "seed-elf-phnum-0": elf(phnum=0),
    "seed-elf-entry-outside": elf(entry=PADDR + 0x100),
    "seed-elf-entry-high": elf(entry=ENTRY + (1 << 32)),
    "seed-elf-two-pvh-notes": elf(notes=note(b"Xen", 18, struct.pack("<Q", ENTRY)) * 2),
    "seed-elf-pvh-desc-4": elf(notes=note(b"Xen", 18, struct.pack("<I", ENTRY))),
    "seed-elf-note-namesz-huge": elf(notes=struct.pack("<III", 0xFFFFFFFF, 8, 18) + b"Xen\0" + b"\0" * 8),
    "seed-elf-note-descsz-wraps": elf(notes=struct.pack("<III", 4, 0xFFFFFFFD, 18) + b"Xen\0" + b"\0" * 8),
}
for name, data in seeds.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)
