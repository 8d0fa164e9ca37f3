/* test-recipe.c: the image recipe parser (src/lib/image/recipe.c). A valid recipe in
 * every layout it may come in (comments, blank lines, CRLF, tabs) must give
 * the same fields; each malformed one must fail with its exact
 * "FILE:LINE: KEY: ..." message and leave the output untouched. */
#include "mlvm-build.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "recipe.h"
#include "util.h"

#define FILE_ "images/t/recipe"
#define DIR_ "/srv/mlvm/images/t"
/* The three required keys, to which cases add one line. */
#define REQ "name t\nkernel-package linux-image-cloud-amd64\ncmdline console=hvc0\n"

struct bad_case {
        const char *name;
        const char *text;
        const char *error;
};

static const struct bad_case bad[] = {
        { "unknown key", REQ "kernel linux-image-amd64\n", FILE_ ":4: kernel: unknown key" },
        { "key is case sensitive", "Name t\n", FILE_ ":1: Name: unknown key" },
        { "unknown key after comments", "# a\n\n   # b\r\n\t\nname t\nfirmware x\n", FILE_ ":6: firmware: unknown key" },
        { "repeated name", REQ "name u\n", FILE_ ":4: name: repeated key" },
        { "repeated modules", REQ "modules a\nmodules b\n", FILE_ ":5: modules: repeated key" },
        { "repeated cmdline", REQ "cmdline quiet\n", FILE_ ":4: cmdline: repeated key" },
        { "name without value", "name\n", FILE_ ":1: name: needs a value" },
        { "modules without value", REQ "modules   # none yet\n", FILE_ ":4: modules: needs a value" },
        { "cmdline without value (CRLF, tab)", "name t\nkernel-package k\ncmdline\t\r\n", FILE_ ":3: cmdline: needs a value" },
        { "busybox without value", REQ "busybox \t\r\n", FILE_ ":4: busybox: needs a value" },
        { "modules with /", REQ "modules virtio_blk kernel/fs/ext4\n",
          FILE_ ":4: modules: bad word \"kernel/fs/ext4\"" },
        { "modules with $", REQ "modules virtio_blk $(reboot)\n", FILE_ ":4: modules: bad word \"$(reboot)\"" },
        { "modules with a quote", REQ "modules \"ext4\"\n", FILE_ ":4: modules: bad word \"\"ext4\"\"" },
        { "modules with non-ASCII", REQ "modules \xc3\xa9xt4\n", FILE_ ":4: modules: bad word \"\xc3\xa9xt4\"" },
        { "module name over 64 bytes", REQ "modules a "
                                           "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab\n",
          FILE_ ":4: modules: bad word \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"" },
        { "applet with /", REQ "busybox busybox-static\nbusybox-applets sh ../../sbin/x\n",
          FILE_ ":5: busybox-applets: bad word \"../../sbin/x\"" },
        { "cmdline with a control character", "name t\nkernel-package k\nmodules a\ncmdline quiet\x01 x\n",
          FILE_ ":4: cmdline: control character" },
        { "cmdline with a tab", "name t\nkernel-package k\ncmdline console=hvc0\tquiet\n",
          FILE_ ":3: cmdline: control character" },
        { "cmdline with a CR inside", "name t\ncmdline a\rb\n", FILE_ ":2: cmdline: control character" },
        { "cmdline with ESC", "cmdline a \x1b[31m\n", FILE_ ":1: cmdline: control character" },
        { "cmdline with DEL", "cmdline a\x7f\n", FILE_ ":1: cmdline: control character" },
        { "multi-word name", "name foo bar\n", FILE_ ":1: name: \"foo bar\" is not one word" },
        { "multi-word name with tab", "name foo\tbar\n", FILE_ ":1: name: \"foo\tbar\" is not one word" },
        { "name with /", "name ../t\n", FILE_ ":1: name: \"../t\" is not one word" },
        { "multi-word kernel-package", "name t\nkernel-package linux-image amd64\n",
          FILE_ ":2: kernel-package: \"linux-image amd64\" is not one word" },
        { "busybox with a quote", REQ "busybox busybox'static\n", FILE_ ":4: busybox: \"busybox'static\" is not one word" },
        { "rootfs-script absolute", REQ "rootfs-script /bin/sh\n", FILE_ ":4: rootfs-script: \"/bin/sh\" is not one word" },
        { "rootfs-script in a parent", REQ "rootfs-script ../other/mk\n",
          FILE_ ":4: rootfs-script: \"../other/mk\" is not one word" },
        { "name not valid", "name Minimal\nkernel-package k\ncmdline c\n",
          FILE_ ": name: must match [a-z0-9][a-z0-9-]{0,62}" },
        { "name starting with -", "name -t\nkernel-package k\ncmdline c\n",
          FILE_ ": name: must match [a-z0-9][a-z0-9-]{0,62}" },
        { "name missing", "kernel-package k\ncmdline c\n", FILE_ ": name: missing" },
        { "empty recipe", "", FILE_ ": name: missing" },
        { "only comments", "# name t\n\n", FILE_ ": name: missing" },
        { "kernel-package missing", "name t\ncmdline c\nmodules ext4\n", FILE_ ": kernel-package or kernel-source: missing" },
        { "kernel-package and kernel-source", REQ "kernel-source linux-source-6.1\nkernel-config k.config\n",
          FILE_ ": kernel-package and kernel-source: give one (a packaged kernel, or one built)" },
        { "kernel-source without kernel-config", "name t\ncmdline c\nkernel-source linux-source-6.1\n",
          FILE_ ": kernel-config: missing (kernel-source builds with it)" },
        { "kernel-config without kernel-source", REQ "kernel-config k.config\n",
          FILE_ ": kernel-config: only with kernel-source" },
        { "kernel-source with modules", "name t\ncmdline c\nkernel-source linux-source-6.1\nkernel-config k\nmodules ext4\n",
          FILE_ ": modules: a kernel built from kernel-source has every driver built in" },
        { "kernel-source booted as bzimage", "name t\ncmdline c\nkernel-source linux-source-6.1\nkernel-config k\nkernel-boot bzimage\n",
          FILE_ ": kernel-boot: a kernel built from kernel-source boots as pvh" },
        { "kernel-source not a source package", "name t\ncmdline c\nkernel-source linux-image-amd64\n",
          FILE_ ":3: kernel-source: \"linux-image-amd64\" is not a linux-source-* package" },
        { "kernel-config in a parent", "kernel-config ../k.config\n",
          FILE_ ":1: kernel-config: \"../k.config\" is not one word" },
        { "cmdline missing", "name t\nkernel-package k\n", FILE_ ": cmdline: missing" },
        { "applets without busybox", REQ "busybox-applets sh ls\n", FILE_ ": busybox-applets: needs busybox" },
        { "kernel-boot unknown", REQ "kernel-boot elf\n", FILE_ ":4: kernel-boot: \"elf\" is not bzimage or pvh" },
        { "kernel-boot is case sensitive", REQ "kernel-boot PVH\n", FILE_ ":4: kernel-boot: \"PVH\" is not bzimage or pvh" },
        { "kernel-boot two words", REQ "kernel-boot pvh bzimage\n",
          FILE_ ":4: kernel-boot: \"pvh bzimage\" is not one word" },
        { "kernel-boot repeated", REQ "kernel-boot pvh\nkernel-boot pvh\n", FILE_ ":5: kernel-boot: repeated key" },
        { "kernel-boot without value", REQ "kernel-boot\n", FILE_ ":4: kernel-boot: needs a value" },
};

static void expect_fail(const char *text, const char *msg)
{
        struct recipe r, before;
        struct mlvm_err e = { 0 };

        memset(&r, 0x5a, sizeof(r));
        before = r;
        assert_int_equal(recipe_parse(FILE_, DIR_, text, &r, &e), -EINVAL);
        assert_string_equal(e.msg, msg);
        assert_int_equal(e.code, -EINVAL);
        assert_memory_equal(&r, &before, sizeof(r));
}

static void test_bad(void **state)
{
        const struct bad_case *c = *state;
        expect_fail(c->text, c->error);
}

static void parse_ok(const char *text, struct recipe *r)
{
        struct mlvm_err e = { 0 };
        if (recipe_parse(FILE_, DIR_, text, r, &e) < 0)
                fail_msg("recipe_parse: %s", e.msg);
}

static void assert_strv(char **v, const char *const *want)
{
        size_t i = 0;
        assert_non_null(v);
        for (; want[i]; i++) {
                assert_non_null(v[i]);
                assert_string_equal(v[i], want[i]);
        }
        assert_null(v[i]);
}

static void test_kernel_source(void **state)
{
        struct recipe r;
        parse_ok("name t\ncmdline c\nkernel-source linux-source-6.1\nkernel-config kernel.config\n", &r);
        assert_string_equal(r.kernel_source, "linux-source-6.1");
        assert_string_equal(r.kernel_config, DIR_ "/kernel.config");
        assert_null(r.kernel_package);
        assert_null(r.modules);
        assert_true(recipe_kernel_pvh(&r));
        recipe_clear(&r);
}

static const char *const FULL_LF =
        "# The minimal image: a kernel, its modules and busybox.\n"
        "\n"
        "name minimal\n"
        "kernel-package linux-image-cloud-amd64    # a metapackage\n"
        "modules virtio_console virtio-blk ext4\n"
        "busybox busybox-static\n"
        "busybox-applets sh ls cat [\n"
        "cmdline console=hvc0 quiet panic=-1 init=/init\n"
        "rootfs-script mkrootfs.sh\n";

/* The same recipe in another layout: CRLF, tabs, indentation, comments. */
static const char *const FULL_CRLF =
        "\t# The minimal image\r\n"
        "\r\n"
        "   \t\r\n"
        "  name\tminimal\t\r\n"
        "kernel-package\t \tlinux-image-cloud-amd64#no space before the comment\r\n"
        "\tmodules\tvirtio_console \t virtio-blk\text4   \r\n"
        "busybox busybox-static\r\n"
        "busybox-applets\tsh\tls\tcat [\r\n"
        "cmdline   console=hvc0 quiet panic=-1 init=/init  \r\n"
        "rootfs-script\tmkrootfs.sh\r\n"
        "# no newline at the end";

static void check_full(const struct recipe *r)
{
        static const char *const mods[] = { "virtio_console", "virtio-blk", "ext4", NULL };
        static const char *const applets[] = { "sh", "ls", "cat", "[", NULL };

        assert_string_equal(r->dir, DIR_);
        assert_string_equal(r->name, "minimal");
        assert_string_equal(r->kernel_package, "linux-image-cloud-amd64");
        assert_strv(r->modules, mods);
        assert_string_equal(r->busybox, "busybox-static");
        assert_strv(r->applets, applets);
        assert_string_equal(r->cmdline, "console=hvc0 quiet panic=-1 init=/init");
        assert_string_equal(r->rootfs_script, DIR_ "/mkrootfs.sh");
}

static void test_full(void **state)
{
        struct recipe r;

        parse_ok(FULL_LF, &r);
        check_full(&r);
        recipe_clear(&r);
        assert_null(r.name);
        assert_null(r.modules);
        parse_ok(FULL_CRLF, &r);
        check_full(&r);
        recipe_clear(&r);
        recipe_clear(&r);   /* idempotent */
}

static void test_minimal(void **state)
{
        struct recipe r;

        parse_ok("name t\nkernel-package k\ncmdline c", &r);
        assert_string_equal(r.name, "t");
        assert_string_equal(r.kernel_package, "k");
        assert_string_equal(r.cmdline, "c");
        assert_null(r.modules);
        assert_null(r.busybox);
        assert_null(r.applets);
        assert_null(r.rootfs_script);
        recipe_clear(&r);
        /* busybox alone (no applets) is fine; a comment ends the cmdline. */
        parse_ok("name t\nkernel-package k\nbusybox busybox-static\ncmdline console=hvc0 # quiet\n", &r);
        assert_string_equal(r.busybox, "busybox-static");
        assert_null(r.applets);
        assert_string_equal(r.cmdline, "console=hvc0");
        recipe_clear(&r);
}

/* kernel-boot: the bzImage unless the recipe says pvh. */
static void test_kernel_boot(void **state)
{
        struct recipe r;

        parse_ok(REQ, &r);
        assert_null(r.kernel_boot);
        assert_false(recipe_kernel_pvh(&r));
        recipe_clear(&r);
        parse_ok(REQ "kernel-boot bzimage\n", &r);
        assert_string_equal(r.kernel_boot, "bzimage");
        assert_false(recipe_kernel_pvh(&r));
        recipe_clear(&r);
        parse_ok(REQ "kernel-boot pvh   # the vmlinux inside\n", &r);
        assert_true(recipe_kernel_pvh(&r));
        recipe_clear(&r);
        assert_null(r.kernel_boot);
}

static void test_cmdline_cap(void **state)
{
        _cleanup_free_ char *v = xmalloc(2050);
        struct recipe r;

        memset(v, 'q', 2049);
        v[2048] = '\0';
        _cleanup_free_ char *ok = xasprintf("name t\nkernel-package k\ncmdline %s\n", v);
        parse_ok(ok, &r);
        assert_int_equal(strlen(r.cmdline), 2048);
        recipe_clear(&r);
        v[2048] = 'q';
        v[2049] = '\0';
        _cleanup_free_ char *over = xasprintf("name t\nkernel-package k\ncmdline %s\n", v);
        expect_fail(over, FILE_ ":3: cmdline: longer than 2048 bytes");
}

static void test_word_cap(void **state)
{
        char w[66];
        struct recipe r;

        memset(w, 'm', 64);
        w[64] = '\0';
        _cleanup_free_ char *ok = xasprintf(REQ "modules %s\n", w);
        parse_ok(ok, &r);
        assert_int_equal(strlen(r.modules[0]), 64);
        recipe_clear(&r);

        /* 256 words are fine; 257 fail closed instead of being cut off. */
        _cleanup_free_ char *list = xstrdup("");
        for (int i = 0; i < RECIPE_MAX_WORDS; i++) {
                char *next = xasprintf("%s m%d", list, i);
                free(list);
                list = next;
        }
        _cleanup_free_ char *max = xasprintf(REQ "modules%s\n", list);
        parse_ok(max, &r);
        assert_string_equal(r.modules[RECIPE_MAX_WORDS - 1], "m255");
        assert_null(r.modules[RECIPE_MAX_WORDS]);
        recipe_clear(&r);
        _cleanup_free_ char *over = xasprintf(REQ "modules%s m256\n", list);
        struct mlvm_err e = { 0 };
        assert_int_equal(recipe_parse(FILE_, DIR_, over, &r, &e), -E2BIG);
        assert_string_equal(e.msg, FILE_ ":4: modules: more than 256 words");
}

/* ---- recipe_load: the file side --------------------------------------- */

static char *make_dir(void)
{
        char tmpl[] = "/tmp/mlvm-test-recipe-XXXXXX";
        assert_non_null(mkdtemp(tmpl));
        return xstrdup(tmpl);
}

static void rm_dir(const char *dir)
{
        _cleanup_free_ char *cmd = xasprintf("rm -rf -- '%s'", dir);
        assert_int_equal(system(cmd), 0);
}

static void test_load(void **state)
{
        _cleanup_free_ char *dir = make_dir();
        _cleanup_free_ char *sub = xasprintf("%s/images/t", dir), *file = xasprintf("%s/recipe", sub);
        _cleanup_free_ char *indirect = xasprintf("%s/images/../images/./t", dir);
        _cleanup_free_ char *script = xasprintf("%s/mk.sh", sub);
        char *msg;
        static const char text[] = "name t\nkernel-package k\ncmdline c\nrootfs-script mk.sh\nbogus 1\n";
        struct recipe r;
        struct mlvm_err e = { 0 };

        assert_int_equal(mkdir_p(sub, 0755), 0);
        assert_int_equal(write_file_atomic(file, text, strlen(text) - strlen("bogus 1\n"), 0644), 0);
        /* The directory is made absolute and canonical, and the script with it. */
        assert_int_equal(recipe_load(indirect, &r, &e), 0);
        assert_string_equal(r.dir, sub);
        assert_string_equal(r.rootfs_script, script);
        recipe_clear(&r);

        /* Errors name the file as given. */
        assert_int_equal(write_file_atomic(file, text, strlen(text), 0644), 0);
        assert_int_equal(recipe_load(indirect, &r, &e), -EINVAL);
        msg = xasprintf("%s/recipe:5: bogus: unknown key", indirect);
        assert_string_equal(e.msg, msg);
        free(msg);

        _cleanup_free_ char *missing = xasprintf("%s/nope", dir);
        assert_int_equal(recipe_load(missing, &r, &e), -ENOENT);
        msg = xasprintf("recipe directory %s: No such file or directory", missing);
        assert_string_equal(e.msg, msg);
        free(msg);

        assert_int_equal(unlink(file), 0);
        assert_int_equal(recipe_load(sub, &r, &e), -ENOENT);
        msg = xasprintf("%s: No such file or directory", file);
        assert_string_equal(e.msg, msg);
        free(msg);

        /* Over the cap: refused before parsing. */
        _cleanup_free_ char *big = xmalloc(RECIPE_MAX_BYTES + 1);
        memset(big, '#', RECIPE_MAX_BYTES + 1);
        assert_int_equal(write_file_atomic(file, big, RECIPE_MAX_BYTES + 1, 0644), 0);
        assert_int_equal(recipe_load(sub, &r, &e), -EFBIG);
        msg = xasprintf("%s: File too large", file);
        assert_string_equal(e.msg, msg);
        free(msg);

        rm_dir(dir);
}

int main(void)
{
        static const struct CMUnitTest fixed[] = {
                cmocka_unit_test(test_full),
                cmocka_unit_test(test_minimal),
                cmocka_unit_test(test_kernel_boot),
                cmocka_unit_test(test_kernel_source),
                cmocka_unit_test(test_cmdline_cap),
                cmocka_unit_test(test_word_cap),
                cmocka_unit_test(test_load),
        };
        size_t nb = ARRAY_SIZE(bad), nf = ARRAY_SIZE(fixed), n = 0;
        struct CMUnitTest *t = xcalloc(nb + nf, sizeof(*t));

        for (size_t i = 0; i < nf; i++)
                t[n++] = fixed[i];
        for (size_t i = 0; i < nb; i++)
                t[n++] = (struct CMUnitTest){ .name = bad[i].name, .test_func = test_bad,
                                              .initial_state = (void *)&bad[i] };
        int r = _cmocka_run_group_tests("recipe", t, n, NULL, NULL);
        free(t);
        return r;
}
