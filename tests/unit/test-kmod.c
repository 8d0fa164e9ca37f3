/* test-kmod.c: the .modinfo reader (src/lib/image/kmod.c kmod_depends). Small ELF64
 * images are built here, then damaged one field at a time; each is handed
 * over in a heap block of exactly its size, so that any read past the end
 * shows under valgrind or ASan. */
#include "mlvm-build.h"

#include <elf.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "kmod.h"
#include "util.h"

/* Layout: Ehdr | .shstrtab | .modinfo | pad to 8 | 4 section headers. */
#define SHSTRTAB "\0.shstrtab\0.text\0.modinfo\0"
#define NAME_SHSTRTAB 1
#define NAME_TEXT 11
#define NAME_MODINFO 17
#define STD_MODINFO "license=GPL\0depends=virtio,virtio_ring\0name=x\0"
#define SEC_TEXT 1
#define SEC_MODINFO 2
#define SEC_SHSTRTAB 3

struct elf {
        uint8_t buf[4096];
        size_t len;
};

static void put_shdr(struct elf *f, size_t i, uint32_t name, uint32_t type, uint64_t off, uint64_t size)
{
        Elf64_Ehdr eh;
        Elf64_Shdr sh = { .sh_name = name, .sh_type = type, .sh_offset = off, .sh_size = size, .sh_addralign = 1 };
        memcpy(&eh, f->buf, sizeof(eh));
        memcpy(f->buf + eh.e_shoff + i * sizeof(sh), &sh, sizeof(sh));
}

static void build(struct elf *f, const void *modinfo, size_t mlen)
{
        Elf64_Ehdr eh = {
                .e_ident = { ELFMAG0, ELFMAG1, ELFMAG2, ELFMAG3, ELFCLASS64, ELFDATA2LSB, EV_CURRENT },
                .e_type = ET_REL, .e_machine = EM_X86_64, .e_version = EV_CURRENT,
                .e_ehsize = sizeof(Elf64_Ehdr), .e_shentsize = sizeof(Elf64_Shdr), .e_shnum = 4,
                .e_shstrndx = SEC_SHSTRTAB,
        };
        size_t strtab = sizeof(eh), info = strtab + sizeof(SHSTRTAB) - 1;
        size_t shoff = (info + mlen + 7) & ~(size_t)7;

        memset(f, 0, sizeof(*f));
        eh.e_shoff = shoff;
        memcpy(f->buf, &eh, sizeof(eh));
        memcpy(f->buf + strtab, SHSTRTAB, sizeof(SHSTRTAB) - 1);
        memcpy(f->buf + info, modinfo, mlen);
        f->len = shoff + 4 * sizeof(Elf64_Shdr);
        assert_true(f->len <= sizeof(f->buf));
        put_shdr(f, 0, 0, SHT_NULL, 0, 0);
        put_shdr(f, SEC_TEXT, NAME_TEXT, SHT_PROGBITS, info, 0);
        put_shdr(f, SEC_MODINFO, NAME_MODINFO, SHT_PROGBITS, info, mlen);
        put_shdr(f, SEC_SHSTRTAB, NAME_SHSTRTAB, SHT_STRTAB, strtab, sizeof(SHSTRTAB) - 1);
}

#define BUILD(f, lit) build(f, lit, sizeof(lit) - 1)

static Elf64_Ehdr *ehdr(struct elf *f) { return (Elf64_Ehdr *)(void *)f->buf; }

static Elf64_Shdr *shdr(struct elf *f, size_t i)
{
        return (Elf64_Shdr *)(void *)(f->buf + ehdr(f)->e_shoff + i * sizeof(Elf64_Shdr));
}

/* kmod_depends on an exact-size heap copy of the first LEN bytes. */
static int depends_len(const struct elf *f, size_t len, char ***ret, struct mlvm_err *e)
{
        _cleanup_free_ void *copy = xmalloc(len);
        memcpy(copy, f->buf, len);
        return kmod_depends(copy, len, ret, e);
}

static void expect_deps(const struct elf *f, const char *const *want)
{
        char **v = NULL;
        struct mlvm_err e = { 0 };
        size_t i = 0;

        if (depends_len(f, f->len, &v, &e) < 0)
                fail_msg("kmod_depends: %s", e.msg);
        assert_non_null(v);
        for (; want[i]; i++) {
                assert_non_null(v[i]);
                assert_string_equal(v[i], want[i]);
        }
        assert_null(v[i]);
        kmod_strv_free(v);
}

static void expect_fail_len(const struct elf *f, size_t len, const char *msg)
{
        char **sentinel = (char **)(uintptr_t)0x5a5a5a5a, **v = sentinel;
        struct mlvm_err e = { 0 };

        assert_int_equal(depends_len(f, len, &v, &e), -EINVAL);
        assert_string_equal(e.msg, msg);
        assert_ptr_equal(v, sentinel);   /* untouched on failure */
}

static void expect_fail(const struct elf *f, const char *msg) { expect_fail_len(f, f->len, msg); }

static const char *const NONE[] = { NULL };

static void test_depends(void **state)
{
        static const char *const want[] = { "virtio", "virtio_ring", NULL };
        struct elf f;

        BUILD(&f, STD_MODINFO);
        expect_deps(&f, want);
}

static void test_dash_becomes_underscore(void **state)
{
        static const char *const want[] = { "virtio_pci", "crc32c_generic", "a_b_c", NULL };
        struct elf f;

        BUILD(&f, "depends=virtio-pci,crc32c-generic,a-b_c\0");
        expect_deps(&f, want);
}

static void test_empty_lists(void **state)
{
        static const char *const ab[] = { "a", "b", NULL };
        struct elf f;

        /* Built-in-only modules have an empty depends=; the scan goes on. */
        BUILD(&f, "license=GPL\0depends=\0name=x\0");
        expect_deps(&f, NONE);
        BUILD(&f, "depends=\0depends=a,b\0");
        expect_deps(&f, ab);
        BUILD(&f, "depends=,,a,,b,\0");
        expect_deps(&f, ab);
        BUILD(&f, "depends=,\0");
        expect_deps(&f, NONE);
        BUILD(&f, "license=GPL\0name=x\0");
        expect_deps(&f, NONE);
        /* Only "depends=" at the start of a string counts. */
        BUILD(&f, "xdepends=a\0softdep=pre: b\0");
        expect_deps(&f, NONE);
        BUILD(&f, "");
        expect_deps(&f, NONE);
}

static void test_unterminated(void **state)
{
        static const char *const ab[] = { "a", "b", NULL };
        struct elf f;

        /* The last string runs to the end of the section (and of the file's
         * data before the headers): read within the section only. */
        BUILD(&f, "license=GPL\0depends=a,b");
        expect_deps(&f, ab);
        BUILD(&f, "license=GPL");
        expect_deps(&f, NONE);
}

static void test_no_modinfo(void **state)
{
        struct elf f;

        BUILD(&f, STD_MODINFO);
        shdr(&f, SEC_MODINFO)->sh_name = NAME_TEXT;       /* two .text, no .modinfo */
        expect_deps(&f, NONE);
        BUILD(&f, STD_MODINFO);
        shdr(&f, SEC_MODINFO)->sh_name = NAME_MODINFO + 1; /* "modinfo" */
        expect_deps(&f, NONE);
        /* A name offset past the string table is skipped, not read. */
        BUILD(&f, STD_MODINFO);
        shdr(&f, SEC_MODINFO)->sh_name = 0xffffffffu;
        expect_deps(&f, NONE);
        /* ".modinfo" cut from its NUL by the table's size: not that name. */
        BUILD(&f, STD_MODINFO);
        shdr(&f, SEC_SHSTRTAB)->sh_size--;
        expect_deps(&f, NONE);
        /* Only one section: the string table itself. */
        BUILD(&f, STD_MODINFO);
        ehdr(&f)->e_shnum = 1;
        ehdr(&f)->e_shstrndx = 0;
        expect_deps(&f, NONE);
}

static void test_other_section_damaged(void **state)
{
        static const char *const want[] = { "virtio", "virtio_ring", NULL };
        struct elf f;

        /* Sections other than .modinfo are not followed. */
        BUILD(&f, STD_MODINFO);
        shdr(&f, SEC_TEXT)->sh_offset = UINT64_MAX;
        shdr(&f, SEC_TEXT)->sh_size = UINT64_MAX;
        expect_deps(&f, want);
}

#define NOT_ELF "not a 64-bit little-endian ELF module"
#define BAD_TABLE "bad ELF section table"
#define BAD_NAMES "bad ELF section name table"
#define BAD_MODINFO "bad .modinfo section"

static void test_bad_header(void **state)
{
        struct elf f;

        BUILD(&f, STD_MODINFO);
        expect_fail_len(&f, 0, NOT_ELF);
        expect_fail_len(&f, 4, NOT_ELF);
        expect_fail_len(&f, sizeof(Elf64_Ehdr) - 1, NOT_ELF);
        f.buf[EI_CLASS] = ELFCLASS32;
        expect_fail(&f, NOT_ELF);
        f.buf[EI_CLASS] = ELFCLASSNONE;
        expect_fail(&f, NOT_ELF);
        BUILD(&f, STD_MODINFO);
        f.buf[EI_DATA] = ELFDATA2MSB;
        expect_fail(&f, NOT_ELF);
        BUILD(&f, STD_MODINFO);
        f.buf[EI_MAG3] = 'G';
        expect_fail(&f, NOT_ELF);
        memcpy(f.buf, "!<arch>\n", 8);
        expect_fail(&f, NOT_ELF);
}

static void test_bad_section_table(void **state)
{
        struct elf f;

        BUILD(&f, STD_MODINFO);
        /* The header alone, or the table cut short by one byte. */
        expect_fail_len(&f, sizeof(Elf64_Ehdr), BAD_TABLE);
        expect_fail_len(&f, f.len - 1, BAD_TABLE);
        ehdr(&f)->e_shentsize = sizeof(Elf32_Shdr);
        expect_fail(&f, BAD_TABLE);
        BUILD(&f, STD_MODINFO);
        ehdr(&f)->e_shnum = 0;
        expect_fail(&f, BAD_TABLE);
        BUILD(&f, STD_MODINFO);
        ehdr(&f)->e_shoff = f.len + 1;
        expect_fail(&f, BAD_TABLE);
        ehdr(&f)->e_shoff = f.len;     /* at the end: no room for any header */
        expect_fail(&f, BAD_TABLE);
        ehdr(&f)->e_shoff = UINT64_MAX;
        expect_fail(&f, BAD_TABLE);
        ehdr(&f)->e_shoff = UINT64_MAX - sizeof(Elf64_Shdr) + 1;
        expect_fail(&f, BAD_TABLE);
        BUILD(&f, STD_MODINFO);
        ehdr(&f)->e_shnum = 5;         /* one more than the file holds */
        expect_fail(&f, BAD_TABLE);
        ehdr(&f)->e_shnum = 0xffff;
        expect_fail(&f, BAD_TABLE);
        BUILD(&f, STD_MODINFO);
        ehdr(&f)->e_shstrndx = 4;      /* == e_shnum */
        expect_fail(&f, BAD_TABLE);
        ehdr(&f)->e_shstrndx = SHN_XINDEX;
        expect_fail(&f, BAD_TABLE);
}

static void test_bad_name_table(void **state)
{
        struct elf f;

        BUILD(&f, STD_MODINFO);
        shdr(&f, SEC_SHSTRTAB)->sh_offset = f.len + 1;
        expect_fail(&f, BAD_NAMES);
        BUILD(&f, STD_MODINFO);
        shdr(&f, SEC_SHSTRTAB)->sh_size = f.len - shdr(&f, SEC_SHSTRTAB)->sh_offset + 1;
        expect_fail(&f, BAD_NAMES);
        BUILD(&f, STD_MODINFO);
        shdr(&f, SEC_SHSTRTAB)->sh_size = UINT64_MAX;   /* offset + size wraps */
        expect_fail(&f, BAD_NAMES);
        BUILD(&f, STD_MODINFO);
        shdr(&f, SEC_SHSTRTAB)->sh_offset = UINT64_MAX;
        shdr(&f, SEC_SHSTRTAB)->sh_size = 2;
        expect_fail(&f, BAD_NAMES);
        /* Exactly to the end of the file is fine (names then run into the
         * headers, which hold no ".modinfo\0"). */
        BUILD(&f, STD_MODINFO);
        shdr(&f, SEC_SHSTRTAB)->sh_size = f.len - shdr(&f, SEC_SHSTRTAB)->sh_offset;
        char **v = NULL;
        struct mlvm_err e = { 0 };
        assert_int_equal(depends_len(&f, f.len, &v, &e), 0);
        kmod_strv_free(v);
}

static void test_bad_modinfo(void **state)
{
        struct elf f;

        BUILD(&f, STD_MODINFO);
        shdr(&f, SEC_MODINFO)->sh_offset = f.len + 1;
        expect_fail(&f, BAD_MODINFO);
        BUILD(&f, STD_MODINFO);
        shdr(&f, SEC_MODINFO)->sh_size = f.len - shdr(&f, SEC_MODINFO)->sh_offset + 1;
        expect_fail(&f, BAD_MODINFO);
        BUILD(&f, STD_MODINFO);
        shdr(&f, SEC_MODINFO)->sh_size = UINT64_MAX;
        expect_fail(&f, BAD_MODINFO);
        BUILD(&f, STD_MODINFO);
        shdr(&f, SEC_MODINFO)->sh_offset = UINT64_MAX - 1;
        shdr(&f, SEC_MODINFO)->sh_size = 4;
        expect_fail(&f, BAD_MODINFO);
        /* An empty section at the very end of the file is fine. */
        BUILD(&f, STD_MODINFO);
        shdr(&f, SEC_MODINFO)->sh_offset = f.len;
        shdr(&f, SEC_MODINFO)->sh_size = 0;
        expect_deps(&f, NONE);
}

int main(void)
{
        static const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_depends),
                cmocka_unit_test(test_dash_becomes_underscore),
                cmocka_unit_test(test_empty_lists),
                cmocka_unit_test(test_unterminated),
                cmocka_unit_test(test_no_modinfo),
                cmocka_unit_test(test_other_section_damaged),
                cmocka_unit_test(test_bad_header),
                cmocka_unit_test(test_bad_section_table),
                cmocka_unit_test(test_bad_name_table),
                cmocka_unit_test(test_bad_modinfo),
        };
        return cmocka_run_group_tests_name("kmod", tests, NULL, NULL);
}
