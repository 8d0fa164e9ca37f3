/* test-bzimage.c: the PVH vmlinux inside a bzImage (src/lib/image/bzimage.c).
 * A small bzImage is built here: a setup header, a stand-in decompressor,
 * and an LZ4 payload (literal-only blocks, which are valid LZ4) holding a
 * small ELF with a PVH note; then each field is damaged in turn. Every
 * input is handed over in a heap block of exactly its size, so that a read
 * past the end shows under valgrind or ASan. No download: the one test on
 * Debian's real kernel runs only when a build already left its package in
 * the .deb cache. The ELF checks themselves are test-bzimage-elf.c's; both
 * build their inputs with bzimage-craft.h. */
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
                cmocka_unit_test(test_compact),
                cmocka_unit_test(test_entry_in_trailing_zeroes),
                cmocka_unit_test(test_bad_elf_in_bzimage),
                cmocka_unit_test(test_debian_kernel),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
