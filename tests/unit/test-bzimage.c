/* test-bzimage.c: the PVH vmlinux inside a bzImage (src/lib/image/bzimage.c).
 * A small bzImage is built here: a setup header, a stand-in decompressor,
 * and an LZ4 payload (literal-only blocks, which are valid LZ4) holding a
 * small ELF with a PVH note; then each field is damaged in turn. Every
 * input is handed over in a heap block of exactly its size, so that a read
 * past the end shows under valgrind or ASan. No download: the one test on
 * Debian's real kernel runs only when a build already left its package in
 * the .deb cache. */
#include "mlvm-build.h"

#include <dirent.h>
#include <elf.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <archive.h>
#include <archive_entry.h>

#include "bzimage.h"
#include "deb.h"
#include "paths.h"
#include "util.h"

/* The ELF: Ehdr | PT_LOAD, PT_NOTE, room for a third | notes (GNU, then
 * Xen PVH) | code |
 * .shstrtab | 2 section headers | bytes past the ELF (a stand-in for the
 * relocation table). The PVH kernel made of it keeps the headers, the code
 * and the notes only. */
#define OFF_PHDR    64
#define OFF_NOTES   232
#define GNU_NOTE    20      /* 12 + "GNU\0" + 4 */
#define PVH_NOTE    24      /* 12 + "Xen\0" + 8 */
#define OFF_CODE    320
#define CODE_LEN    256
#define OFF_STRTAB  576
#define STRTAB      "\0.shstrtab"
#define OFF_SHDR    592
#define ELF_END  (OFF_SHDR + 2 * 64)
#define ELF_LEN     (ELF_END + 64)
#define LOAD_PADDR  0x1000000ULL
#define PVH_ENTRY   (LOAD_PADDR + 0x10)

struct elf {
        uint8_t b[ELF_LEN];
};

static void put32(uint8_t *p, uint32_t v)
{
        for (int i = 0; i < 4; i++)
                p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
        put32(p, (uint32_t)v);
        put32(p + 4, (uint32_t)(v >> 32));
}

static Elf64_Ehdr *ehdr(struct elf *f) { return (Elf64_Ehdr *)(void *)f->b; }
static Elf64_Phdr *phdr(struct elf *f, size_t i) { return (Elf64_Phdr *)(void *)(f->b + OFF_PHDR + i * 56); }
static Elf64_Shdr *shdr(struct elf *f, size_t i) { return (Elf64_Shdr *)(void *)(f->b + OFF_SHDR + i * 64); }
static uint8_t *pvh_note(struct elf *f) { return f->b + OFF_NOTES + GNU_NOTE; }

static void build_elf(struct elf *f)
{
        memset(f, 0, sizeof(*f));
        *ehdr(f) = (Elf64_Ehdr){
                .e_ident = { ELFMAG0, ELFMAG1, ELFMAG2, ELFMAG3, ELFCLASS64, ELFDATA2LSB, EV_CURRENT },
                .e_type = ET_EXEC, .e_machine = EM_X86_64, .e_version = EV_CURRENT,
                .e_entry = LOAD_PADDR, .e_phoff = OFF_PHDR, .e_shoff = OFF_SHDR, .e_ehsize = 64,
                .e_phentsize = 56, .e_phnum = 2, .e_shentsize = 64, .e_shnum = 2, .e_shstrndx = 1,
        };
        *phdr(f, 0) = (Elf64_Phdr){ .p_type = PT_LOAD, .p_flags = PF_R | PF_X, .p_offset = OFF_CODE,
                                    .p_vaddr = 0xffffffff81000000ULL, .p_paddr = LOAD_PADDR,
                                    .p_filesz = CODE_LEN, .p_memsz = 4096, .p_align = 4096 };
        *phdr(f, 1) = (Elf64_Phdr){ .p_type = PT_NOTE, .p_offset = OFF_NOTES, .p_filesz = GNU_NOTE + PVH_NOTE,
                                    .p_memsz = GNU_NOTE + PVH_NOTE, .p_align = 4 };
        uint8_t *n = f->b + OFF_NOTES;
        put32(n, 4), put32(n + 4, 4), put32(n + 8, NT_GNU_BUILD_ID), memcpy(n + 12, "GNU", 4), put32(n + 16, 0xfeedf00d);
        n = pvh_note(f);
        put32(n, 4), put32(n + 4, 8), put32(n + 8, 18), memcpy(n + 12, "Xen", 4), put64(n + 16, PVH_ENTRY);
        memset(f->b + OFF_CODE, 0x90, CODE_LEN);
        memcpy(f->b + OFF_STRTAB, STRTAB, sizeof(STRTAB));
        *shdr(f, 1) = (Elf64_Shdr){ .sh_name = 1, .sh_type = SHT_STRTAB, .sh_offset = OFF_STRTAB,
                                    .sh_size = sizeof(STRTAB), .sh_addralign = 1 };
        memset(f->b + ELF_END, 0xab, ELF_LEN - ELF_END);
}

/* An LZ4 block of literals only (the last sequence of any block has no
 * match): a token, the length past 15 in 255s, then the bytes. */
static size_t lz4_literals(uint8_t *out, const uint8_t *in, size_t n)
{
        size_t o = 0, rest = n;
        out[o++] = (uint8_t)((n >= 15 ? 15 : n) << 4);
        if (n >= 15) {
                for (rest = n - 15; rest >= 255; rest -= 255)
                        out[o++] = 255;
                out[o++] = (uint8_t)rest;
        }
        memcpy(out + o, in, n);
        return o + n;
}

struct buf {
        uint8_t b[16384];
        size_t len;
};

/* The kernel's format: the legacy magic, blocks of (LE32 size, block),
 * and the decompressed size as an LE32 trailer. Two blocks. */
static void lz4_legacy(struct buf *out, const uint8_t *in, size_t n, uint32_t trailer)
{
        size_t half = n / 2;
        out->len = 0;
        put32(out->b, 0x184c2102u);
        out->len = 4;
        for (int i = 0; i < 2; i++) {
                const uint8_t *p = i ? in + half : in;
                size_t len = i ? n - half : half;
                size_t bl = lz4_literals(out->b + out->len + 4, p, len);
                put32(out->b + out->len, (uint32_t)bl);
                out->len += 4 + bl;
        }
        put32(out->b + out->len, trailer);
        out->len += 4;
}

/* The bzImage: 4 setup sectors after the boot sector, the header, then
 * the protected-mode part (a stand-in decompressor, the payload, padding
 * to syssize), then a stand-in signature. */
#define SETUP       (5 * 512)
#define PAYLOAD_OFF 64

static void build_bz(struct buf *bz, const struct buf *payload)
{
        memset(bz, 0, sizeof(*bz));
        uint8_t *h = bz->b;
        h[0x1f1] = 4;
        h[0x1fe] = 0x55, h[0x1ff] = 0xaa;
        memcpy(h + 0x202, "HdrS", 4);
        h[0x206] = 0x0f, h[0x207] = 0x02;   /* 2.15 */
        h[0x211] = 0x01;                   /* LOADED_HIGH */
        size_t pm = (PAYLOAD_OFF + payload->len + 15) & ~(size_t)15;
        put32(h + 0x1f4, (uint32_t)(pm / 16));
        put32(h + 0x248, PAYLOAD_OFF);
        put32(h + 0x24c, (uint32_t)payload->len);
        memset(h + SETUP, 0xcc, PAYLOAD_OFF);
        memcpy(h + SETUP + PAYLOAD_OFF, payload->b, payload->len);
        bz->len = SETUP + pm + 32;
        assert_true(bz->len <= sizeof(bz->b));
        memset(h + SETUP + pm, 0x5e, 32);
}

static void build_good(struct buf *bz, struct elf *f)
{
        struct buf payload;
        build_elf(f);
        lz4_legacy(&payload, f->b, ELF_LEN, ELF_LEN);
        build_bz(bz, &payload);
}

/* The three calls on exact-size heap copies. */
static int to_pvh(const void *p, size_t len, void **ret, size_t *ret_len, struct pvh_elf *info, struct mlvm_err *e)
{
        _cleanup_free_ void *copy = xmalloc(len ? len : 1);
        memcpy(copy, p, len);
        return bzimage_to_pvh(copy, len, ret, ret_len, info, e);
}

static int elf_check(const struct elf *f, size_t len, struct pvh_elf *ret, struct mlvm_err *e)
{
        _cleanup_free_ void *copy = xmalloc(len);
        memcpy(copy, f->b, len);
        return pvh_elf_check(copy, len, ret, e);
}

static int decompress(const struct buf *p, size_t max, void **ret, size_t *ret_len, struct mlvm_err *e)
{
        _cleanup_free_ void *copy = xmalloc(p->len ? p->len : 1);
        memcpy(copy, p->b, p->len);
        return bzimage_decompress(copy, p->len, max, ret, ret_len, e);
}

static void expect_bz_fail(const struct buf *bz, int code, const char *msg)
{
        void *out = (void *)(uintptr_t)0x5a5a5a5a;
        size_t len = 77;
        struct mlvm_err e = { 0 };

        assert_int_equal(to_pvh(bz->b, bz->len, &out, &len, NULL, &e), code);
        assert_string_equal(e.msg, msg);
        assert_ptr_equal(out, (void *)(uintptr_t)0x5a5a5a5a);   /* untouched on failure */
        assert_int_equal(len, 77);
}

static void expect_elf_fail(const struct elf *f, int code, const char *msg)
{
        struct pvh_elf info = { .entry = 1 };
        struct mlvm_err e = { 0 };

        assert_int_equal(elf_check(f, ELF_LEN, &info, &e), code);
        assert_string_equal(e.msg, msg);
        assert_int_equal(info.entry, 1);
}

/* What the compacted good ELF must be: the headers (no section table),
 * the code at the next page (its address is page-aligned), then the notes,
 * which no PT_LOAD holds, at the next 4-byte boundary. */
#define COMPACT_CODE  4096
#define COMPACT_NOTES (COMPACT_CODE + CODE_LEN)
#define COMPACT_LEN   (COMPACT_NOTES + GNU_NOTE + PVH_NOTE)

static void expect_compact_good(const struct elf *f, const uint8_t *out, size_t len)
{
        Elf64_Ehdr eh;
        Elf64_Phdr ph[2];

        assert_int_equal(len, COMPACT_LEN);
        memcpy(&eh, out, sizeof(eh));
        memcpy(ph, out + 64, sizeof(ph));
        assert_memory_equal(eh.e_ident, f->b, EI_NIDENT);
        assert_int_equal(eh.e_phoff, 64);
        assert_int_equal(eh.e_phnum, 2);
        assert_int_equal(eh.e_shoff, 0);
        assert_int_equal(eh.e_shnum, 0);
        assert_int_equal(eh.e_shentsize, 0);
        assert_int_equal(eh.e_shstrndx, 0);
        assert_int_equal(eh.e_entry, LOAD_PADDR);
        assert_int_equal(ph[0].p_offset, COMPACT_CODE);
        assert_int_equal(ph[0].p_filesz, CODE_LEN);
        assert_int_equal(ph[0].p_memsz, 4096);
        assert_int_equal(ph[0].p_paddr, LOAD_PADDR);
        assert_int_equal(ph[0].p_align, 4096);
        assert_int_equal(ph[1].p_offset, COMPACT_NOTES);
        assert_int_equal(ph[1].p_filesz, GNU_NOTE + PVH_NOTE);
        assert_memory_equal(out + COMPACT_CODE, f->b + OFF_CODE, CODE_LEN);
        assert_memory_equal(out + COMPACT_NOTES, f->b + OFF_NOTES, GNU_NOTE + PVH_NOTE);
        for (size_t i = 64 + sizeof(ph); i < COMPACT_CODE; i++)
                assert_int_equal(out[i], 0);
}

static void test_good(void **state)
{
        struct buf bz;
        struct elf f;
        void *out = NULL;
        size_t len = 0;
        struct pvh_elf info;
        struct mlvm_err e = { 0 };

        build_good(&bz, &f);
        if (to_pvh(bz.b, bz.len, &out, &len, &info, &e) < 0)
                fail_msg("bzimage_to_pvh: %s", e.msg);
        expect_compact_good(&f, out, len);
        assert_int_equal(info.entry, PVH_ENTRY);
        free(out);
}

static int compact(const struct elf *f, void **ret, size_t *ret_len, struct mlvm_err *e)
{
        _cleanup_free_ void *copy = xmalloc(ELF_LEN);
        memcpy(copy, f->b, ELF_LEN);
        return pvh_elf_compact(copy, ELF_LEN, ret, ret_len, e);
}

static void test_compact(void **state)
{
        struct elf f;
        void *out = NULL;
        size_t len = 0;
        struct pvh_elf info;
        struct mlvm_err e = { 0 };
        Elf64_Phdr ph[3];

        build_elf(&f);
        assert_int_equal(compact(&f, &out, &len, &e), 0);
        expect_compact_good(&f, out, len);
        free(out);
        /* Trailing zeroes leave the file; memsz keeps them. */
        build_elf(&f);
        memset(f.b + OFF_CODE + CODE_LEN - 16, 0, 16);
        assert_int_equal(compact(&f, &out, &len, &e), 0);
        memcpy(ph, (uint8_t *)out + 64, 2 * sizeof(Elf64_Phdr));
        assert_int_equal(ph[0].p_filesz, CODE_LEN - 16);
        assert_int_equal(ph[0].p_memsz, 4096);
        assert_int_equal(ph[1].p_offset, COMPACT_NOTES - 16);
        assert_int_equal(len, COMPACT_LEN - 16);
        assert_int_equal(pvh_elf_check(out, len, &info, &e), 0);
        free(out);
        /* Notes inside a loaded segment move with it (Debian's kernel has
         * them in its first PT_LOAD); an address not on a page boundary
         * keeps its offset in the page. */
        build_elf(&f);
        phdr(&f, 0)->p_offset = OFF_NOTES;
        phdr(&f, 0)->p_filesz = OFF_CODE + CODE_LEN - OFF_NOTES;
        phdr(&f, 0)->p_paddr = LOAD_PADDR - (OFF_CODE - OFF_NOTES);
        phdr(&f, 0)->p_vaddr = 0xffffffff81000000ULL + 0x123;
        assert_int_equal(compact(&f, &out, &len, &e), 0);
        memcpy(ph, (uint8_t *)out + 64, 2 * sizeof(Elf64_Phdr));
        assert_int_equal(ph[0].p_offset, 4096 + 0x123);
        assert_int_equal(ph[1].p_offset, 4096 + 0x123);
        assert_int_equal(len, 4096 + 0x123 + OFF_CODE + CODE_LEN - OFF_NOTES);
        assert_memory_equal((uint8_t *)out + 4096 + 0x123, f.b + OFF_NOTES, OFF_CODE + CODE_LEN - OFF_NOTES);
        assert_int_equal(pvh_elf_check(out, len, &info, &e), 0);
        assert_int_equal(info.entry, PVH_ENTRY);
        free(out);
        /* Other segments: kept when they have no file bytes, else refused. */
        build_elf(&f);
        ehdr(&f)->e_phnum = 3;
        phdr(&f, 2)->p_type = PT_GNU_STACK;
        phdr(&f, 2)->p_offset = 77;
        assert_int_equal(compact(&f, &out, &len, &e), 0);
        memcpy(ph, (uint8_t *)out + 64, 3 * sizeof(Elf64_Phdr));
        assert_int_equal(ph[2].p_type, PT_GNU_STACK);
        assert_int_equal(ph[2].p_offset, 0);
        free(out);
        phdr(&f, 2)->p_filesz = 8;
        out = (void *)(uintptr_t)1;
        assert_int_equal(compact(&f, &out, &len, &e), -EINVAL);
        assert_string_equal(e.msg, "ELF: segment 2 (type 0x6474e551) has file bytes that only PT_LOAD and PT_NOTE may have");
        assert_ptr_equal(out, (void *)(uintptr_t)1);
        /* It checks what it is given first. */
        build_elf(&f);
        ehdr(&f)->e_machine = EM_386;
        assert_int_equal(compact(&f, &out, &len, &e), -EINVAL);
        assert_string_equal(e.msg, "ELF: not an x86-64 executable (machine 3, type 2)");
}

/* An entry in what compacting drops is refused, not signed. */
static void test_entry_in_trailing_zeroes(void **state)
{
        struct elf f;
        struct buf p, bz;

        build_elf(&f);
        memset(f.b + OFF_CODE + CODE_LEN - 16, 0, 16);
        put64(pvh_note(&f) + 16, LOAD_PADDR + CODE_LEN - 8);
        lz4_legacy(&p, f.b, ELF_LEN, ELF_LEN);
        build_bz(&bz, &p);
        expect_bz_fail(&bz, -EINVAL, "compacted: ELF: PVH entry 0x10000f8 is not inside a loaded segment below 4 GiB");
}

static void test_setup_sects_zero_means_four(void **state)
{
        struct buf bz;
        struct elf f;
        void *out = NULL;
        size_t len = 0;
        struct mlvm_err e = { 0 };

        build_good(&bz, &f);
        bz.b[0x1f1] = 0;
        assert_int_equal(to_pvh(bz.b, bz.len, &out, &len, NULL, &e), 0);
        expect_compact_good(&f, out, len);
        free(out);
}

static void test_setup_header(void **state)
{
        struct buf bz;
        struct elf f;

        build_good(&bz, &f);
        expect_bz_fail(&(struct buf){ .len = 0x24f }, -EINVAL, "bzImage: 591 bytes, too short for a setup header");
        bz.b[0x1fe] = 0;
        expect_bz_fail(&bz, -EINVAL, "bzImage: no setup header (boot flag 0xAA55 and \"HdrS\")");
        build_good(&bz, &f);
        bz.b[0x205] = 'T';
        expect_bz_fail(&bz, -EINVAL, "bzImage: no setup header (boot flag 0xAA55 and \"HdrS\")");
        build_good(&bz, &f);
        bz.b[0x206] = 0x07;
        expect_bz_fail(&bz, -EINVAL, "bzImage: boot protocol 2.07, payload fields need 2.08 or later");
        build_good(&bz, &f);
        bz.b[0x211] = 0;
        expect_bz_fail(&bz, -EINVAL, "bzImage: a zImage (loaded low), not a bzImage");
        /* 255 setup sectors: 128 KiB of setup code in a file of a few KiB. */
        build_good(&bz, &f);
        bz.b[0x1f1] = 255;
        expect_bz_fail(&bz, -EINVAL, "bzImage: setup code of 131072 bytes, past the end of the 3472-byte file");
}

static void test_payload_bounds(void **state)
{
        struct buf bz;
        struct elf f;

        build_good(&bz, &f);
        put32(bz.b + 0x1f4, 0x10000000);
        expect_bz_fail(&bz, -EINVAL, "bzImage: syssize says 4294967296 bytes of kernel, the file has 912 after the setup code");
        /* Offsets that would wrap a 32-bit sum. */
        build_good(&bz, &f);
        put32(bz.b + 0x248, 0xffffffffu);
        expect_bz_fail(&bz, -EINVAL, "bzImage: payload at 4294967295, 806 bytes, is not inside the 880-byte kernel");
        build_good(&bz, &f);
        put32(bz.b + 0x24c, 0xffffffffu);
        expect_bz_fail(&bz, -EINVAL, "bzImage: payload at 64, 4294967295 bytes, is not inside the 880-byte kernel");
        /* One byte past the protected-mode code (into the signature). */
        build_good(&bz, &f);
        put32(bz.b + 0x24c, 880 - 64 + 1);
        expect_bz_fail(&bz, -EINVAL, "bzImage: payload at 64, 817 bytes, is not inside the 880-byte kernel");
        build_good(&bz, &f);
        put32(bz.b + 0x24c, 7);
        expect_bz_fail(&bz, -EINVAL, "bzImage: payload at 64, 7 bytes, is not inside the 880-byte kernel");
}

static void test_not_lz4(void **state)
{
        struct buf bz, payload = { .b = { 0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 1, 0, 0, 0 }, .len = 14 };

        build_bz(&bz, &payload);
        expect_bz_fail(&bz, -EINVAL, "payload: gzip-compressed, not LZ4: only an LZ4 kernel (CONFIG_KERNEL_LZ4, "
                                     "as Debian's) can become a PVH kernel here");
        memcpy(payload.b, "\x28\xb5\x2f\xfd", 4);
        build_bz(&bz, &payload);
        expect_bz_fail(&bz, -EINVAL, "payload: zstd-compressed, not LZ4: only an LZ4 kernel (CONFIG_KERNEL_LZ4, "
                                     "as Debian's) can become a PVH kernel here");
        memcpy(payload.b, "\x7f" "ELF", 4);
        build_bz(&bz, &payload);
        expect_bz_fail(&bz, -EINVAL, "payload: unknown-compressed, not LZ4: only an LZ4 kernel (CONFIG_KERNEL_LZ4, "
                                     "as Debian's) can become a PVH kernel here");
}

static void test_size_trailer(void **state)
{
        struct elf f;
        struct buf p;
        void *out = (void *)(uintptr_t)1;
        size_t len = 0;
        struct mlvm_err e = { 0 };

        build_elf(&f);
        /* The cap is checked against the trailer before anything is decoded. */
        lz4_legacy(&p, f.b, ELF_LEN, ELF_LEN);
        assert_int_equal(decompress(&p, ELF_LEN - 1, &out, &len, &e), -EFBIG);
        assert_string_equal(e.msg, "payload: decompresses to 784 bytes, more than 783");
        assert_int_equal(decompress(&p, ELF_LEN, &out, &len, &e), 0);
        assert_int_equal(len, ELF_LEN);
        free(out);
        lz4_legacy(&p, f.b, ELF_LEN, ELF_LEN - 1);
        assert_int_equal(decompress(&p, 1 << 20, &out, &len, &e), -EINVAL);
        assert_string_equal(e.msg, "payload: decompresses to more than the 783 bytes its size trailer says");
        lz4_legacy(&p, f.b, ELF_LEN, ELF_LEN + 1);
        assert_int_equal(decompress(&p, 1 << 20, &out, &len, &e), -EINVAL);
        assert_string_equal(e.msg, "payload: decompresses to 784 bytes, its size trailer says 785");
        lz4_legacy(&p, f.b, ELF_LEN, 0);
        assert_int_equal(decompress(&p, 1 << 20, &out, &len, &e), -EINVAL);
        assert_string_equal(e.msg, "payload: its size trailer says 0 bytes");
        lz4_legacy(&p, f.b, ELF_LEN, 0xffffffffu);
        assert_int_equal(decompress(&p, BZIMAGE_VMLINUX_MAX, &out, &len, &e), -EFBIG);
}

static void test_bad_lz4(void **state)
{
        struct elf f;
        struct buf p, cut;
        void *out = NULL;
        size_t len = 0;
        struct mlvm_err e = { 0 };

        build_elf(&f);
        /* The second block cut short, the trailer kept. */
        lz4_legacy(&p, f.b, ELF_LEN, ELF_LEN);
        cut = p;
        cut.len = p.len - 40;
        put32(cut.b + cut.len - 4, ELF_LEN);
        assert_int_equal(decompress(&cut, 1 << 20, &out, &len, &e), -EINVAL);
        assert_true(strstartswith(e.msg, "payload: "));
        /* A literal length past the end of its block. */
        cut = p;
        cut.b[10] = 0xfe;   /* 15 + 255 + 254 literals in a block of 392 */
        assert_int_equal(decompress(&cut, 1 << 20, &out, &len, &e), -EINVAL);
        assert_true(strstartswith(e.msg, "payload: "));
        /* A block size larger than what follows. */
        cut = p;
        put32(cut.b + 4, 0x7fffffff);
        assert_int_equal(decompress(&cut, 1 << 20, &out, &len, &e), -EINVAL);
        assert_true(strstartswith(e.msg, "payload: "));
        /* Only a magic and a trailer. */
        struct buf tiny = { .len = 8 };
        put32(tiny.b, 0x184c2102u);
        put32(tiny.b + 4, 1);
        assert_int_equal(decompress(&tiny, 1 << 20, &out, &len, &e), -EINVAL);
        tiny.len = 7;
        assert_int_equal(decompress(&tiny, 1 << 20, &out, &len, &e), -EINVAL);
        assert_string_equal(e.msg, "payload: 7 bytes, too short");
}

/* An LZ4 frame (what the lz4 tool writes by default), from libarchive's writer. */
static void test_lz4_frame(void **state)
{
        struct elf f;
        struct buf p = { 0 };
        size_t used = 0;
        void *out = NULL;
        size_t len = 0;
        struct mlvm_err e = { 0 };

        build_elf(&f);
        struct archive *a = archive_write_new();
        struct archive_entry *ent = archive_entry_new();
        assert_int_equal(archive_write_add_filter_lz4(a), ARCHIVE_OK);
        assert_int_equal(archive_write_set_format_raw(a), ARCHIVE_OK);
        assert_int_equal(archive_write_set_bytes_in_last_block(a, 1), ARCHIVE_OK);
        assert_int_equal(archive_write_open_memory(a, p.b, sizeof(p.b) - 4, &used), ARCHIVE_OK);
        archive_entry_set_pathname(ent, "vmlinux");
        archive_entry_set_filetype(ent, AE_IFREG);
        archive_entry_set_size(ent, ELF_LEN);
        assert_int_equal(archive_write_header(a, ent), ARCHIVE_OK);
        assert_int_equal(archive_write_data(a, f.b, ELF_LEN), ELF_LEN);
        assert_int_equal(archive_write_close(a), ARCHIVE_OK);
        archive_entry_free(ent);
        archive_write_free(a);
        assert_int_equal(p.b[0], 0x04);
        put32(p.b + used, ELF_LEN);
        p.len = used + 4;
        if (decompress(&p, 1 << 20, &out, &len, &e) < 0)
                fail_msg("frame: %s", e.msg);
        assert_int_equal(len, ELF_LEN);
        assert_memory_equal(out, f.b, ELF_LEN);
        free(out);
}

static void test_elf_header(void **state)
{
        struct elf f;
        struct pvh_elf info;
        struct mlvm_err e = { 0 };

        build_elf(&f);
        assert_int_equal(elf_check(&f, 63, &info, &e), -EINVAL);
        assert_string_equal(e.msg, "not an ELF file");
        f.b[EI_CLASS] = ELFCLASS32;
        expect_elf_fail(&f, -EINVAL, "ELF: not 64-bit little-endian");
        build_elf(&f);
        f.b[EI_DATA] = ELFDATA2MSB;
        expect_elf_fail(&f, -EINVAL, "ELF: not 64-bit little-endian");
        build_elf(&f);
        ehdr(&f)->e_machine = EM_386;
        expect_elf_fail(&f, -EINVAL, "ELF: not an x86-64 executable (machine 3, type 2)");
        build_elf(&f);
        ehdr(&f)->e_type = ET_REL;
        expect_elf_fail(&f, -EINVAL, "ELF: not an x86-64 executable (machine 62, type 1)");
        build_elf(&f);
        ehdr(&f)->e_phentsize = 32;
        expect_elf_fail(&f, -EINVAL, "ELF: bad program header table");
        build_elf(&f);
        ehdr(&f)->e_phnum = 0;
        expect_elf_fail(&f, -EINVAL, "ELF: bad program header table");
        build_elf(&f);
        ehdr(&f)->e_phnum = 65;
        expect_elf_fail(&f, -EINVAL, "ELF: bad program header table");
        build_elf(&f);
        ehdr(&f)->e_phoff = ELF_LEN - 56;
        expect_elf_fail(&f, -EINVAL, "ELF: bad program header table");
        build_elf(&f);
        ehdr(&f)->e_phoff = UINT64_MAX - 8;
        expect_elf_fail(&f, -EINVAL, "ELF: bad program header table");
}

static void test_elf_segments(void **state)
{
        struct elf f;

        build_elf(&f);
        phdr(&f, 0)->p_filesz = ELF_LEN;
        expect_elf_fail(&f, -EINVAL, "ELF: segment 0 runs past the end of the file");
        build_elf(&f);
        phdr(&f, 0)->p_offset = UINT64_MAX;
        expect_elf_fail(&f, -EINVAL, "ELF: segment 0 runs past the end of the file");
        build_elf(&f);
        phdr(&f, 0)->p_memsz = 1;
        expect_elf_fail(&f, -EINVAL, "ELF: segment 0 has bad sizes");
        build_elf(&f);
        phdr(&f, 0)->p_paddr = UINT64_MAX - 100;
        expect_elf_fail(&f, -EINVAL, "ELF: segment 0 has bad sizes");
        build_elf(&f);
        phdr(&f, 1)->p_filesz = UINT64_MAX;
        expect_elf_fail(&f, -EINVAL, "ELF: segment 1 runs past the end of the file");
        /* Other segment types are not followed. */
        struct pvh_elf info;
        struct mlvm_err e = { 0 };
        build_elf(&f);
        ehdr(&f)->e_phnum = 3;   /* the third is all zeroes: PT_NULL */
        phdr(&f, 2)->p_type = PT_GNU_STACK;
        phdr(&f, 2)->p_offset = UINT64_MAX;
        assert_int_equal(elf_check(&f, ELF_LEN, &info, &e), 0);
}

static void test_elf_notes(void **state)
{
        struct elf f;

        build_elf(&f);
        put32(pvh_note(&f) + 8, 17);
        expect_elf_fail(&f, -ENOENT, "ELF: no PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY): a kernel built without CONFIG_PVH");
        build_elf(&f);
        memcpy(pvh_note(&f) + 12, "Xe", 3);
        expect_elf_fail(&f, -ENOENT, "ELF: no PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY): a kernel built without CONFIG_PVH");
        build_elf(&f);
        ehdr(&f)->e_phnum = 1;
        expect_elf_fail(&f, -ENOENT, "ELF: no PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY): a kernel built without CONFIG_PVH");
        /* Sizes that would run past the segment, or wrap. */
        build_elf(&f);
        put32(pvh_note(&f) + 4, 9);
        expect_elf_fail(&f, -EINVAL, "ELF: a note runs past the end of its segment");
        build_elf(&f);
        put32(f.b + OFF_NOTES, 0xffffffffu);
        expect_elf_fail(&f, -EINVAL, "ELF: a note runs past the end of its segment");
        build_elf(&f);
        put32(f.b + OFF_NOTES + 4, 0xfffffffdu);
        expect_elf_fail(&f, -EINVAL, "ELF: a note runs past the end of its segment");
        build_elf(&f);
        put32(pvh_note(&f) + 4, 2);
        phdr(&f, 1)->p_filesz -= 4;
        expect_elf_fail(&f, -EINVAL, "ELF: PVH entry note of 2 bytes, not 4 or 8");
        /* A 4-byte entry works as an 8-byte one (then 4 bytes of padding after it). */
        struct pvh_elf info;
        struct mlvm_err e = { 0 };
        build_elf(&f);
        put32(pvh_note(&f) + 4, 4);
        put32(pvh_note(&f) + 20, 0);
        assert_int_equal(elf_check(&f, ELF_LEN, &info, &e), 0);
        assert_int_equal(info.entry, PVH_ENTRY);
        /* Non-zero bytes after the last note. */
        build_elf(&f);
        phdr(&f, 1)->p_filesz += 4;
        f.b[OFF_NOTES + GNU_NOTE + PVH_NOTE] = 1;
        expect_elf_fail(&f, -EINVAL, "ELF: bytes after the last note");
        /* The same note twice. */
        build_elf(&f);
        memcpy(f.b + OFF_NOTES + GNU_NOTE + PVH_NOTE, pvh_note(&f), PVH_NOTE);
        phdr(&f, 1)->p_filesz = GNU_NOTE + 2 * PVH_NOTE;
        expect_elf_fail(&f, -EINVAL, "ELF: two PVH entry notes");
}

static void test_elf_entry(void **state)
{
        struct elf f;

        build_elf(&f);
        put64(pvh_note(&f) + 16, 0);
        expect_elf_fail(&f, -EINVAL, "ELF: PVH entry 0x0 is not inside a loaded segment below 4 GiB");
        build_elf(&f);
        put64(pvh_note(&f) + 16, LOAD_PADDR + CODE_LEN);   /* in memsz, not in the file */
        expect_elf_fail(&f, -EINVAL, "ELF: PVH entry 0x1000100 is not inside a loaded segment below 4 GiB");
        build_elf(&f);
        put64(pvh_note(&f) + 16, LOAD_PADDR - 1);
        expect_elf_fail(&f, -EINVAL, "ELF: PVH entry 0xffffff is not inside a loaded segment below 4 GiB");
        build_elf(&f);
        phdr(&f, 0)->p_paddr += 1ULL << 32;
        put64(pvh_note(&f) + 16, PVH_ENTRY + (1ULL << 32));
        expect_elf_fail(&f, -EINVAL, "ELF: PVH entry 0x101000010 is not inside a loaded segment below 4 GiB");
}

/* Section headers are neither read nor kept: damage there does not matter. */
static void test_elf_sections_ignored(void **state)
{
        struct elf f;
        struct pvh_elf info;
        struct mlvm_err e = { 0 };

        build_elf(&f);
        ehdr(&f)->e_shnum = 0xffff;
        ehdr(&f)->e_shoff = UINT64_MAX - 60;
        ehdr(&f)->e_shentsize = 40;
        shdr(&f, 1)->sh_size = UINT64_MAX;
        assert_int_equal(elf_check(&f, ELF_LEN, &info, &e), 0);
        assert_int_equal(info.entry, PVH_ENTRY);
}

/* The ELF inside the bzImage is checked as the ELF alone is. */
static void test_bad_elf_in_bzimage(void **state)
{
        struct elf f;
        struct buf p, bz;

        build_elf(&f);
        put32(pvh_note(&f) + 8, 17);
        lz4_legacy(&p, f.b, ELF_LEN, ELF_LEN);
        build_bz(&bz, &p);
        expect_bz_fail(&bz, -ENOENT, "ELF: no PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY): a kernel built without CONFIG_PVH");
}

struct find_kernel {
        void *data;
        size_t len;
};

static int take_kernel(const char *path, struct archive *a, struct archive_entry *entry, void *u, struct mlvm_err *e)
{
        struct find_kernel *k = u;
        if (!strstartswith(path, "boot/vmlinuz-"))
                return 0;
        int r = deb_read_entry(a, entry, BZIMAGE_MAX, &k->data, &k->len, e);
        return r < 0 ? r : 1;
}

static char *find_deb(const char *dir)
{
        char *deb = NULL;
        DIR *d = opendir(dir);
        for (struct dirent *de; d && !deb && (de = readdir(d));)
                if (strstartswith(de->d_name, "linux-image-") && strstr(de->d_name, "cloud-amd64") &&
                    strlen(de->d_name) > 4 && streq(de->d_name + strlen(de->d_name) - 4, ".deb"))
                        deb = xasprintf("%s/%s", dir, de->d_name);
        if (d)
                closedir(d);
        return deb;
}

/* Debian's own kernel, when an earlier image build left it in a .deb cache
 * (MLVM_DEB_CACHE, the tests' cache, the state directory's); a test never
 * downloads, so without one there is nothing to check. */
static void test_debian_kernel(void **state)
{
        const char *env = getenv("MLVM_DEB_CACHE"), *top = getenv("TOP_BUILDDIR");
        _cleanup_free_ char *state_dir = mlvm_state_dir();
        char *dirs[] = {
                env && env[0] == '/' ? xstrdup(env) : NULL,
                top ? xasprintf("%s/tests/.debcache", top) : NULL,
                state_dir ? xasprintf("%s/cache/debs", state_dir) : NULL,
        };
        _cleanup_free_ char *deb = NULL;
        for (size_t i = 0; i < ARRAY_SIZE(dirs) && !deb; i++)
                if (dirs[i])
                        deb = find_deb(dirs[i]);
        for (size_t i = 0; i < ARRAY_SIZE(dirs); i++)
                free(dirs[i]);
        if (!deb) {
                print_message("# no linux-image-*cloud-amd64 .deb in a cache yet: Debian's kernel not checked\n");
                return;
        }
        print_message("# %s\n", deb);
        struct find_kernel k = { 0 };
        struct mlvm_err e = { 0 };
        void *out = NULL;
        size_t len = 0;
        struct pvh_elf info;

        if (deb_each_file(deb, take_kernel, &k, &e) < 0)
                fail_msg("%s: %s", deb, e.msg);
        assert_non_null(k.data);
        if (bzimage_to_pvh(k.data, k.len, &out, &len, &info, &e) < 0)
                fail_msg("%s: %s", deb, e.msg);
        assert_true(len > (8u << 20) && len <= BZIMAGE_VMLINUX_MAX);
        print_message("# %zu-byte bzImage: %zu-byte PVH kernel, entry 0x%llx\n", k.len, len,
                      (unsigned long long)info.entry);
        assert_memory_equal(out, ELFMAG, SELFMAG);
        assert_true(info.entry >= 0x100000 && info.entry < (1ULL << 32));
        free(out);
        free(k.data);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_good),
                cmocka_unit_test(test_setup_sects_zero_means_four),
                cmocka_unit_test(test_setup_header),
                cmocka_unit_test(test_payload_bounds),
                cmocka_unit_test(test_not_lz4),
                cmocka_unit_test(test_size_trailer),
                cmocka_unit_test(test_bad_lz4),
                cmocka_unit_test(test_lz4_frame),
                cmocka_unit_test(test_elf_header),
                cmocka_unit_test(test_elf_segments),
                cmocka_unit_test(test_elf_notes),
                cmocka_unit_test(test_elf_entry),
                cmocka_unit_test(test_elf_sections_ignored),
                cmocka_unit_test(test_compact),
                cmocka_unit_test(test_entry_in_trailing_zeroes),
                cmocka_unit_test(test_bad_elf_in_bzimage),
                cmocka_unit_test(test_debian_kernel),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
