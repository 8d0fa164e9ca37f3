/* test-bzimage-elf.c: the checks bzimage.c makes of the PVH vmlinux ELF
 * itself (header, segments, notes, entry; section headers ignored), on the
 * small ELF bzimage-craft.h makes, each field damaged in turn. The bzImage
 * around it, the LZ4 payload and the compacted kernel are test-bzimage.c's. */
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
#include "bzimage-craft.h"

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

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_elf_header),
                cmocka_unit_test(test_elf_segments),
                cmocka_unit_test(test_elf_notes),
                cmocka_unit_test(test_elf_entry),
                cmocka_unit_test(test_elf_sections_ignored),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
