/* bzimage-craft.h: a small bzImage made in memory for the bzimage.c tests:
 * a setup header, a stand-in decompressor and an LZ4 payload (literal-only
 * blocks, which are valid LZ4) holding a small ELF with a PVH note, and the
 * checks that hand each input over in a heap block of exactly its size.
 * Included by test-bzimage.c and test-bzimage-elf.c; cmocka asserts. */
#pragma once

#include <elf.h>

#include "bzimage.h"
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

static inline void put32(uint8_t *p, uint32_t v)
{
        for (int i = 0; i < 4; i++)
                p[i] = (uint8_t)(v >> (8 * i));
}

static inline void put64(uint8_t *p, uint64_t v)
{
        put32(p, (uint32_t)v);
        put32(p + 4, (uint32_t)(v >> 32));
}

static inline Elf64_Ehdr *ehdr(struct elf *f) { return (Elf64_Ehdr *)(void *)f->b; }
static inline Elf64_Phdr *phdr(struct elf *f, size_t i) { return (Elf64_Phdr *)(void *)(f->b + OFF_PHDR + i * 56); }
static inline Elf64_Shdr *shdr(struct elf *f, size_t i) { return (Elf64_Shdr *)(void *)(f->b + OFF_SHDR + i * 64); }
static inline uint8_t *pvh_note(struct elf *f) { return f->b + OFF_NOTES + GNU_NOTE; }

static inline void build_elf(struct elf *f)
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
static inline size_t lz4_literals(uint8_t *out, const uint8_t *in, size_t n)
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
static inline void lz4_legacy(struct buf *out, const uint8_t *in, size_t n, uint32_t trailer)
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

static inline void build_bz(struct buf *bz, const struct buf *payload)
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

static inline void build_good(struct buf *bz, struct elf *f)
{
        struct buf payload;
        build_elf(f);
        lz4_legacy(&payload, f->b, ELF_LEN, ELF_LEN);
        build_bz(bz, &payload);
}

/* The three calls on exact-size heap copies. */
static inline int to_pvh(const void *p, size_t len, void **ret, size_t *ret_len, struct pvh_elf *info, struct mlvm_err *e)
{
        _cleanup_free_ void *copy = xmalloc(len ? len : 1);
        memcpy(copy, p, len);
        return bzimage_to_pvh(copy, len, ret, ret_len, info, e);
}

static inline int elf_check(const struct elf *f, size_t len, struct pvh_elf *ret, struct mlvm_err *e)
{
        _cleanup_free_ void *copy = xmalloc(len);
        memcpy(copy, f->b, len);
        return pvh_elf_check(copy, len, ret, e);
}

static inline int decompress(const struct buf *p, size_t max, void **ret, size_t *ret_len, struct mlvm_err *e)
{
        _cleanup_free_ void *copy = xmalloc(p->len ? p->len : 1);
        memcpy(copy, p->b, p->len);
        return bzimage_decompress(copy, p->len, max, ret, ret_len, e);
}

static inline void expect_bz_fail(const struct buf *bz, int code, const char *msg)
{
        void *out = (void *)(uintptr_t)0x5a5a5a5a;
        size_t len = 77;
        struct mlvm_err e = { 0 };

        assert_int_equal(to_pvh(bz->b, bz->len, &out, &len, NULL, &e), code);
        assert_string_equal(e.msg, msg);
        assert_ptr_equal(out, (void *)(uintptr_t)0x5a5a5a5a);   /* untouched on failure */
        assert_int_equal(len, 77);
}

static inline void expect_elf_fail(const struct elf *f, int code, const char *msg)
{
        struct pvh_elf info = { .entry = 1 };
        struct mlvm_err e = { 0 };

        assert_int_equal(elf_check(f, ELF_LEN, &info, &e), code);
        assert_string_equal(e.msg, msg);
        assert_int_equal(info.entry, 1);
}
