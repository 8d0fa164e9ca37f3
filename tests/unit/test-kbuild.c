/* test-kbuild.c: the kernel builder's parts that take input
 * (src/lib/image/kbuild.c and kbuild-kconfig.c): the recipe's config
 * fragment (parse: every malformed line is a FILE:LINE error; verify: a
 * symbol Kconfig dropped is caught), and the source package's tarball, unpacked under caps and
 * refused when an entry would land outside the tree (crafted packages,
 * built here with libarchive). The compiler itself runs in the
 * integration tests (image.sh builds the default image). */
#include "mlvm-build.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include <archive.h>
#include <archive_entry.h>

#include "kbuild.h"
#include "util.h"

#define FILE_ "images/t/kernel.config"

/* ---- the fragment ------------------------------------------------------ */

static void test_parse_ok(void **state)
{
        static const char text[] = "# comment\n\nCONFIG_SMP=y\r\n# CONFIG_ACPI is not set\nCONFIG_NR_CPUS=8\n"
                                   "CONFIG_CMDLINE=\"console=ttyS0 quiet\"\nCONFIG_PHYS=0x1000000  \n"
                                   "## CONFIG_X is not set, says a comment about it\n";
        struct kconfig_fragment f;
        struct mlvm_err e = { 0 };
        assert_int_equal(kconfig_parse(FILE_, text, strlen(text), &f, &e), 0);
        assert_int_equal(f.n, 5);
        assert_string_equal(f.v[0].name, "SMP");
        assert_string_equal(f.v[0].value, "y");
        assert_int_equal(f.v[0].line, 3);
        assert_string_equal(f.v[1].name, "ACPI");
        assert_string_equal(f.v[1].value, "n");
        assert_string_equal(f.v[2].value, "8");
        assert_string_equal(f.v[3].value, "\"console=ttyS0 quiet\"");
        assert_string_equal(f.v[4].name, "PHYS");
        assert_string_equal(f.v[4].value, "0x1000000");
        kconfig_fragment_clear(&f);
}

struct bad_case {
        const char *name;
        const char *text;
        const char *error;
};

static const struct bad_case bad[] = {
        { "module", "CONFIG_SMP=y\nCONFIG_EXT4_FS=m\n",
          FILE_ ":2: \"CONFIG_EXT4_FS=m\": an mlvm kernel has everything built in (no modules)" },
        { "modules on", "CONFIG_MODULES=y\n", FILE_ ":1: \"CONFIG_MODULES=y\": an mlvm kernel has everything built in (no modules)" },
        { "not a line", "SMP=y\n", FILE_ ":1: \"SMP=y\" is not CONFIG_NAME=VALUE or \"# CONFIG_NAME is not set\"" },
        { "no value", "CONFIG_SMP\n", FILE_ ":1: \"CONFIG_SMP\" is not CONFIG_NAME=VALUE or \"# CONFIG_NAME is not set\"" },
        { "lower case", "CONFIG_smp=y\n", FILE_ ":1: \"CONFIG_smp=y\": a symbol is CONFIG_ then A-Z, 0-9 and _" },
        { "empty symbol", "CONFIG_=y\n", FILE_ ":1: \"CONFIG_=y\": a symbol is CONFIG_ then A-Z, 0-9 and _" },
        { "shell in a value", "CONFIG_X=$(reboot)\n", FILE_ ":1: \"CONFIG_X=$(reboot)\": a value is y, n, a number or a \"quoted string\"" },
        { "open quote", "CONFIG_X=\"a\n", FILE_ ":1: \"CONFIG_X=\"a\": a value is y, n, a number or a \"quoted string\"" },
        { "quote inside", "CONFIG_X=\"a\"b\"\n", FILE_ ":1: \"CONFIG_X=\"a\"b\"\": a value is y, n, a number or a \"quoted string\"" },
        { "empty value", "CONFIG_X=\n", FILE_ ":1: \"CONFIG_X=\": a value is y, n, a number or a \"quoted string\"" },
        { "bad hex", "CONFIG_X=0x\n", FILE_ ":1: \"CONFIG_X=0x\": a value is y, n, a number or a \"quoted string\"" },
        { "repeated", "CONFIG_SMP=y\n\n# CONFIG_SMP is not set\n", FILE_ ":3: CONFIG_SMP is already set on line 1" },
        { "only comments", "# nothing\n\n", FILE_ ": no CONFIG_ line" },
        { "NUL byte", "CONFIG_SMP=y\nCONFIG_A\0=y\n", FILE_ ":2: a NUL byte" },
};

static void test_bad(void **state)
{
        const struct bad_case *c = *state;
        struct kconfig_fragment f = { .n = 77 };
        struct mlvm_err e = { 0 };
        size_t len = strlen(c->text);
        if (strstr(c->name, "NUL"))
                len = 25;
        assert_int_equal(kconfig_parse(FILE_, c->text, len, &f, &e), -EINVAL);
        assert_string_equal(e.msg, c->error);
        assert_int_equal(f.n, 77);
}

static void test_caps(void **state)
{
        struct kconfig_fragment f;
        struct mlvm_err e = { 0 };
        _cleanup_free_ char *big = xmalloc(KCONFIG_MAX_BYTES + 2), *lines = NULL, *longline = xmalloc(KCONFIG_LINE_MAX + 16);

        memset(big, '#', KCONFIG_MAX_BYTES + 1);
        assert_int_equal(kconfig_parse(FILE_, big, KCONFIG_MAX_BYTES + 1, &f, &e), -EFBIG);
        assert_string_equal(e.msg, FILE_ ": larger than 65536 bytes");

        lines = xmalloc(2 * (KCONFIG_MAX_LINES + 1));
        for (size_t i = 0; i < KCONFIG_MAX_LINES + 1; i++)
                memcpy(lines + 2 * i, "#\n", 2);
        assert_int_equal(kconfig_parse(FILE_, lines, 2 * (KCONFIG_MAX_LINES + 1), &f, &e), -EFBIG);
        assert_string_equal(e.msg, FILE_ ": more than 4096 lines");

        memset(longline, 'A', KCONFIG_LINE_MAX + 8);
        memcpy(longline, "CONFIG_", 7);
        assert_int_equal(kconfig_parse(FILE_, longline, KCONFIG_LINE_MAX + 8, &f, &e), -EINVAL);
        assert_string_equal(e.msg, FILE_ ":1: line longer than 1024 bytes");
}

static void test_verify(void **state)
{
        static const char frag[] = "CONFIG_SMP=y\nCONFIG_EROFS_FS=y\n# CONFIG_ACPI is not set\nCONFIG_NR_CPUS=8\n";
        static const char good[] = "#\n# Automatically generated file; DO NOT EDIT.\nCONFIG_SMP=y\n"
                                   "CONFIG_EROFS_FS=y\n# CONFIG_ACPI is not set\nCONFIG_NR_CPUS=8\n";
        /* Kconfig drops a symbol whose dependency is off without a word. */
        static const char dropped[] = "CONFIG_SMP=y\n# CONFIG_EROFS_FS is not set\nCONFIG_NR_CPUS=8\n";
        static const char other[] = "CONFIG_SMP=y\nCONFIG_EROFS_FS=y\nCONFIG_NR_CPUS=64\n";
        static const char on[] = "CONFIG_SMP=y\nCONFIG_EROFS_FS=y\nCONFIG_ACPI=y\nCONFIG_NR_CPUS=8\n";
        /* A longer name that starts the same is another symbol. */
        static const char prefix[] = "CONFIG_SMP_X=y\nCONFIG_EROFS_FS=y\nCONFIG_NR_CPUS=8\n";
        struct kconfig_fragment f;
        struct mlvm_err e = { 0 };

        assert_int_equal(kconfig_parse(FILE_, frag, strlen(frag), &f, &e), 0);
        assert_int_equal(kconfig_verify(FILE_, &f, good, strlen(good), &e), 0);
        assert_int_equal(kconfig_verify(FILE_, &f, dropped, strlen(dropped), &e), -EINVAL);
        assert_string_equal(e.msg, FILE_ ":2: CONFIG_EROFS_FS=y did not take: the configured kernel has it off "
                                   "(a symbol it depends on is off; add that one too)");
        assert_int_equal(kconfig_verify(FILE_, &f, other, strlen(other), &e), -EINVAL);
        assert_string_equal(e.msg, FILE_ ":4: CONFIG_NR_CPUS=8 did not take: the configured kernel has 64");
        assert_int_equal(kconfig_verify(FILE_, &f, on, strlen(on), &e), -EINVAL);
        assert_string_equal(e.msg, FILE_ ":3: CONFIG_ACPI=n did not take: the configured kernel has y");
        assert_int_equal(kconfig_verify(FILE_, &f, prefix, strlen(prefix), &e), -EINVAL);
        assert_string_equal(e.msg, FILE_ ":1: CONFIG_SMP=y did not take: the configured kernel has it off "
                                   "(a symbol it depends on is off; add that one too)");
        kconfig_fragment_clear(&f);
}

/* ---- crafted source packages ------------------------------------------- */

struct entry {
        const char *path;
        unsigned type;          /* AE_IFREG, AE_IFDIR, AE_IFLNK; 0: a hard link to link */
        const char *body;       /* file content, or the link's target */
};

/* A tar (xz-compressed when XZ) of ENTRIES, in memory. */
static void *make_tar(const struct entry *ents, size_t n, bool xz, size_t *ret_len)
{
        size_t cap = 1 << 20, used = 0;
        char *buf = xmalloc(cap);
        struct archive *a = archive_write_new();
        archive_write_set_format_pax_restricted(a);
        if (xz)
                archive_write_add_filter_xz(a);
        assert_int_equal(archive_write_open_memory(a, buf, cap, &used), ARCHIVE_OK);
        for (size_t i = 0; i < n; i++) {
                struct archive_entry *en = archive_entry_new();
                archive_entry_set_pathname(en, ents[i].path);
                archive_entry_set_mtime(en, 1700000000 + (time_t)i, 0);
                if (ents[i].type == 0) {
                        archive_entry_set_filetype(en, AE_IFREG);
                        archive_entry_set_hardlink(en, ents[i].body);
                } else {
                        archive_entry_set_filetype(en, ents[i].type);
                        archive_entry_set_perm(en, ents[i].type == AE_IFDIR ? 0755 : 04777);
                }
                if (ents[i].type == AE_IFLNK)
                        archive_entry_set_symlink(en, ents[i].body);
                if (ents[i].type == AE_IFREG)
                        archive_entry_set_size(en, (la_int64_t)strlen(ents[i].body));
                assert_int_equal(archive_write_header(a, en), ARCHIVE_OK);
                if (ents[i].type == AE_IFREG)
                        archive_write_data(a, ents[i].body, strlen(ents[i].body));
                archive_entry_free(en);
        }
        assert_int_equal(archive_write_close(a), ARCHIVE_OK);
        archive_write_free(a);
        *ret_len = used;
        return buf;
}

/* DIR/src.deb: an ar archive whose data.tar.xz holds the source tarball
 * (named TARBALL) made of ENTRIES. */
static char *make_deb(const char *dir, const char *tarball, const struct entry *ents, size_t n)
{
        size_t src_len, data_len;
        _cleanup_free_ void *src = make_tar(ents, n, true, &src_len);
        struct entry data_ent[] = { { "./usr/share/doc/linux-source-6.1/copyright", AE_IFREG, "GPL-2\n" },
                                    { tarball, AE_IFREG, NULL } };
        /* The tarball's bytes are binary: write it by hand below. */
        struct archive *d = archive_write_new();
        size_t cap = 4 << 20, used = 0;
        _cleanup_free_ char *dbuf = xmalloc(cap);
        archive_write_set_format_pax_restricted(d);
        archive_write_add_filter_xz(d);
        assert_int_equal(archive_write_open_memory(d, dbuf, cap, &used), ARCHIVE_OK);
        for (size_t i = 0; i < 2; i++) {
                struct archive_entry *en = archive_entry_new();
                const void *body = i == 0 ? data_ent[0].body : src;
                size_t len = i == 0 ? strlen(data_ent[0].body) : src_len;
                archive_entry_set_pathname(en, data_ent[i].path);
                archive_entry_set_filetype(en, AE_IFREG);
                archive_entry_set_perm(en, 0644);
                archive_entry_set_mtime(en, 1710000000 + (time_t)i, 0);
                archive_entry_set_size(en, (la_int64_t)len);
                assert_int_equal(archive_write_header(d, en), ARCHIVE_OK);
                archive_write_data(d, body, len);
                archive_entry_free(en);
        }
        assert_int_equal(archive_write_close(d), ARCHIVE_OK);
        archive_write_free(d);
        data_len = used;

        char *path = xasprintf("%s/src.deb", dir);
        struct archive *ar = archive_write_new();
        archive_write_set_format_ar_svr4(ar);
        assert_int_equal(archive_write_open_filename(ar, path), ARCHIVE_OK);
        const char *names[] = { "debian-binary", "data.tar.xz" };
        const void *bodies[] = { "2.0\n", dbuf };
        size_t lens[] = { 4, data_len };
        for (size_t i = 0; i < 2; i++) {
                struct archive_entry *en = archive_entry_new();
                archive_entry_set_pathname(en, names[i]);
                archive_entry_set_filetype(en, AE_IFREG);
                archive_entry_set_perm(en, 0644);
                archive_entry_set_size(en, (la_int64_t)lens[i]);
                assert_int_equal(archive_write_header(ar, en), ARCHIVE_OK);
                archive_write_data(ar, bodies[i], lens[i]);
                archive_entry_free(en);
        }
        assert_int_equal(archive_write_close(ar), ARCHIVE_OK);
        archive_write_free(ar);
        return path;
}

static void rm_rf(const char *dir)
{
        assert_int_equal(remove_tree(dir), 0);
}

/* Build from a crafted package: the error, and what is left (only the
 * cache directory, its lock and an empty build log may stay). */
static void expect_refused(const struct entry *ents, size_t n, const char *tarball, const char *want)
{
        char tmpl[] = "/tmp/mlvm-test-kbuild-XXXXXX";
        assert_non_null(mkdtemp(tmpl));
        _cleanup_free_ char *deb = make_deb(tmpl, tarball, ents, n);
        _cleanup_free_ char *frag = xasprintf("%s/kernel.config", tmpl), *cache = xasprintf("%s/cache", tmpl);
        _cleanup_free_ char *outside = xasprintf("%s/escaped", tmpl), *build = xasprintf("%s/cache/build", tmpl);
        assert_int_equal(write_file_atomic(frag, "CONFIG_SMP=y\n", 13, 0644), 0);
        struct kbuild_opts o = { .source_deb = deb, .source_sha256 = "00", .config_file = frag, .cache_dir = cache };
        struct kbuild_result k = { 0 };
        struct mlvm_err e = { 0 };
        int r = kbuild_kernel(&o, &k, &e);
        assert_true(r < 0);
        if (!strstr(e.msg, want))
                fail_msg("error \"%s\" does not say \"%s\"", e.msg, want);
        assert_null(k.vmlinux);
        struct stat st;
        assert_int_equal(lstat(outside, &st), -1);
        assert_int_equal(lstat(build, &st), -1);     /* the unpacked tree is gone */
        assert_int_equal(lstat("/tmp/mlvm-kbuild-escaped", &st), -1);
        rm_rf(tmpl);
}

static void test_source_dotdot(void **state)
{
        const struct entry ents[] = { { "linux-source-6.1/", AE_IFDIR, NULL },
                                      { "linux-source-6.1/Makefile", AE_IFREG, "all:\n" },
                                      { "linux-source-6.1/../../escaped", AE_IFREG, "x" } };
        expect_refused(ents, ARRAY_SIZE(ents), "./usr/src/linux-source-6.1.tar.xz",
                       "source tarball entry \"linux-source-6.1/../../escaped\" is not under linux-source-*/");
}

static void test_source_outside_top(void **state)
{
        const struct entry ents[] = { { "linux-source-6.1/Makefile", AE_IFREG, "all:\n" },
                                      { "etc/passwd", AE_IFREG, "x" } };
        expect_refused(ents, ARRAY_SIZE(ents), "./usr/src/linux-source-6.1.tar.xz",
                       "source tarball entry \"etc/passwd\" is not under linux-source-*/");
}

static void test_source_absolute(void **state)
{
        const struct entry ents[] = { { "/tmp/mlvm-kbuild-escaped", AE_IFREG, "x" } };
        expect_refused(ents, ARRAY_SIZE(ents), "./usr/src/linux-source-6.1.tar.xz",
                       "is not under linux-source-*/");
}

static void test_source_hardlink(void **state)
{
        const struct entry ents[] = { { "linux-source-6.1/Makefile", AE_IFREG, "all:\n" },
                                      { "linux-source-6.1/shadow", 0, "/etc/shadow" } };
        expect_refused(ents, ARRAY_SIZE(ents), "./usr/src/linux-source-6.1.tar.xz",
                       "source tarball entry \"linux-source-6.1/shadow\" is not a file, directory or symlink");
}

/* A symlink out of the tree, then a file through it: libarchive's secure
 * extraction refuses to write through the link. */
static void test_source_symlink_escape(void **state)
{
        char tmpl[] = "/tmp/mlvm-test-kbuild-target-XXXXXX";
        assert_non_null(mkdtemp(tmpl));
        const struct entry ents[] = { { "linux-source-6.1/Makefile", AE_IFREG, "all:\n" },
                                      { "linux-source-6.1/out", AE_IFLNK, tmpl },
                                      { "linux-source-6.1/out/planted", AE_IFREG, "x" } };
        expect_refused(ents, ARRAY_SIZE(ents), "./usr/src/linux-source-6.1.tar.xz", "planted");
        _cleanup_free_ char *planted = xasprintf("%s/planted", tmpl);
        struct stat st;
        assert_int_equal(lstat(planted, &st), -1);
        rm_rf(tmpl);
}

static void test_not_source_package(void **state)
{
        const struct entry ents[] = { { "linux-source-6.1/Makefile", AE_IFREG, "all:\n" } };
        expect_refused(ents, ARRAY_SIZE(ents), "./usr/src/other.tar.xz",
                       "no usr/src/linux-source-*.tar.*: not a kernel source package");
}

/* A well-formed tree with no kernel in it: unpacked, then make fails and
 * the error names make's own message and the log. */
static void test_make_fails(void **state)
{
        const struct entry ents[] = { { "linux-source-6.1/", AE_IFDIR, NULL },
                                      { "linux-source-6.1/Makefile", AE_IFREG,
                                        "allnoconfig:\n\t@echo 'scripts/kconfig: error: no Kconfig here' >&2; exit 2\n" } };
        expect_refused(ents, ARRAY_SIZE(ents), "./usr/src/linux-source-6.1.tar.xz",
                       "kernel build: scripts/kconfig: error: no Kconfig here (the whole log: ");
}

int main(void)
{
        static const struct CMUnitTest fixed[] = {
                cmocka_unit_test(test_parse_ok),
                cmocka_unit_test(test_caps),
                cmocka_unit_test(test_verify),
                cmocka_unit_test(test_source_dotdot),
                cmocka_unit_test(test_source_outside_top),
                cmocka_unit_test(test_source_absolute),
                cmocka_unit_test(test_source_hardlink),
                cmocka_unit_test(test_source_symlink_escape),
                cmocka_unit_test(test_not_source_package),
                cmocka_unit_test(test_make_fails),
        };
        size_t nb = ARRAY_SIZE(bad), nf = ARRAY_SIZE(fixed), n = 0;
        struct CMUnitTest *t = xcalloc(nb + nf, sizeof(*t));

        for (size_t i = 0; i < nf; i++)
                t[n++] = fixed[i];
        for (size_t i = 0; i < nb; i++)
                t[n++] = (struct CMUnitTest){ .name = bad[i].name, .test_func = test_bad,
                                              .initial_state = (void *)&bad[i] };
        int r = _cmocka_run_group_tests("kbuild", t, n, NULL, NULL);
        free(t);
        return r;
}
