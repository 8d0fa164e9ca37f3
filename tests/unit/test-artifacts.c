/* test-artifacts.c: the artifact tar reader (src/lib/artifacts/artifacts.c). Good
 * streams are written with libarchive, hostile ones by hand (tar-craft.h).
 * Every refusal must name the entry and the rule, and leave nothing behind:
 * no staging directory, nothing next to it, nothing in the current
 * directory. Scanning and copying out: test-artifacts-dir.c. */
#include "mlvm-build.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <dirent.h>
#include <fcntl.h>
#include <locale.h>
#include <sys/stat.h>
#include <archive.h>
#include <archive_entry.h>
#include <cmocka.h>

#include "artifacts.h"
#include "digest.h"
#include "util.h"
#include "virt.h"

#include "tar-craft.h"

/* ---- reports and the reader ------------------------------------------ */

struct rep {
        struct artifact f[16];
        struct artifact_report r;
};

static void rep_stream(struct rep *rp, const struct buf *b)
{
        rp->r.files = rp->f;
        rp->r.tar_size = b->len;
        sha256_hex(b->p, b->len, rp->r.tar_sha256);
}

static void rep_file(struct rep *rp, const char *path, const void *data, size_t len)
{
        struct artifact *a = &rp->f[rp->r.n++];
        rp->r.files = rp->f;
        (void)snprintf(a->path, sizeof(a->path), "%s", path);
        a->size = len;
        sha256_hex(data, len, a->sha256);
}

struct mem {
        const uint8_t *p;
        size_t len, pos, chunk;
        uint64_t limit;     /* the reported size: never asked for more */
        bool over;
        int fail_at;        /* > 0: fail once pos reaches it */
};

static ssize_t mem_read(void *opaque, void *buf, size_t len, struct mlvm_err *e)
{
        struct mem *m = opaque;
        if (m->pos + len > m->limit)
                m->over = true;
        if (m->fail_at > 0 && m->pos >= (size_t)m->fail_at)
                return err_setx(e, -EIO, "disk on fire");
        size_t n = m->len - m->pos;
        n = n < len ? n : len;
        n = n < m->chunk ? n : m->chunk;
        memcpy(buf, m->p + m->pos, n);
        m->pos += n;
        return (ssize_t)n;
}

struct fx {
        char *top, *base, *cwd, *dest;
        struct mlvm_err e;
        struct mem m;
};

static int setup(void **state)
{
        struct fx *f = xcalloc(1, sizeof(*f));
        char tmpl[] = "/tmp/mlvm-test-artifacts-XXXXXX";
        assert_non_null(mkdtemp(tmpl));
        f->top = xstrdup(tmpl);
        f->base = xasprintf("%s/base", tmpl);
        f->cwd = xasprintf("%s/cwd", tmpl);
        f->dest = xasprintf("%s/base/out", tmpl);
        assert_int_equal(mkdir(f->base, 0755), 0);
        assert_int_equal(mkdir(f->cwd, 0755), 0);
        assert_int_equal(chdir(f->cwd), 0); /* a path used relative to cwd would land here */
        *state = f;
        return 0;
}

static int teardown(void **state)
{
        struct fx *f = *state;
        _cleanup_free_ char *cmd = xasprintf("rm -rf -- '%s'", f->top);
        assert_int_equal(chdir("/"), 0);
        assert_int_equal(system(cmd), 0);
        free(f->top), free(f->base), free(f->cwd), free(f->dest), free(f);
        return 0;
}

static int count_entries(const char *dir)
{
        DIR *d = opendir(dir);
        struct dirent *de;
        int n = 0;
        assert_non_null(d);
        while ((de = readdir(d)))
                n += !streq(de->d_name, ".") && !streq(de->d_name, "..");
        closedir(d);
        return n;
}

static void assert_nothing_left(struct fx *f)
{
        assert_int_equal(access(f->dest, F_OK), -1);
        assert_int_equal(count_entries(f->base), 0);
        assert_int_equal(count_entries(f->cwd), 0);
        assert_int_equal(count_entries(f->top), 2);
}

static int run(struct fx *f, const struct buf *b, const struct rep *rp, const struct artifact_limits *lim)
{
        f->m = (struct mem){ .p = b->p, .len = b->len, .chunk = 4093, .limit = rp->r.tar_size };
        return artifacts_extract(mem_read, &f->m, &rp->r, lim ? lim : &artifact_default_limits, NULL, f->dest, &f->e);
}

static void expect_bad(struct fx *f, const struct buf *b, const struct rep *rp, const struct artifact_limits *lim,
                       const char *want)
{
        int r = run(f, b, rp, lim);
        if (r != -EBADMSG || !strstr(f->e.msg, want))
                fail_msg("got %d '%s', wanted -EBADMSG with '%s'", r, f->e.msg, want);
        assert_null(strchr(f->e.msg, '\n'));
        assert_int_equal(f->e.code, -EBADMSG);
        assert_false(f->m.over);
        assert_nothing_left(f);
}

static void check_file(struct fx *f, const struct artifact *a)
{
        _cleanup_free_ char *p = xasprintf("%s/%s", f->dest, a->path);
        _cleanup_close_ int fd = open(p, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        char hex[SHA256_HEX_LEN + 1];
        uint64_t size = 0;
        struct stat st;
        assert_true(fd >= 0);
        assert_int_equal(fstat(fd, &st), 0);
        assert_int_equal(st.st_mode, S_IFREG | 0644);
        assert_int_equal(sha256_fd(fd, UINT64_MAX, &size, hex), 0);
        assert_int_equal(size, a->size);
        assert_string_equal(hex, a->sha256);
}

/* ---- good streams ------------------------------------------------------ */

static void test_paths(void **state)
{
        static const char *const good[] = { "a", "model.bin", "out/a/b.txt", ".hidden", "a/..b", "caf\xc3\xa9", "a b" };
        static const char *const bad[] = { "", "/a", "../x", "a/../b", "a/..", ".", "./a", "a/./b", "a//b", "a/",
                                           "a\nb", "a\tb", "x\x7f" };
        char longp[300];
        for (size_t i = 0; i < ARRAY_SIZE(good); i++)
                assert_true(artifact_path_is_valid(good[i]));
        for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
                if (artifact_path_is_valid(bad[i]))
                        fail_msg("'%s' accepted", bad[i]);
        memset(longp, 'a', sizeof(longp));
        longp[255] = '\0';
        assert_true(artifact_path_is_valid(longp));
        longp[255] = 'a', longp[256] = '\0';
        assert_false(artifact_path_is_valid(longp));
        assert_false(artifact_path_is_valid(NULL));
}

static void test_good_tree(void **state)
{
        struct fx *f = *state;
        const size_t big = 3 * 1024 * 1024 + 11;
        _cleanup_free_ char *data = xmalloc(big);
        struct buf b = { 0 };
        struct rep rp = { 0 };
        struct stat st;

        for (size_t i = 0; i < big; i++)
                data[i] = (char)(i * 31 + i / 977);
        const struct member m[] = {
                { "out/", AE_IFDIR, NULL, 0 },
                { "out/a.txt", AE_IFREG, "alpha\n", 0 },
                { "out/nested/deep/b.bin", AE_IFREG, "\0\1\2", 3 },
                { "empty", AE_IFREG, NULL, 0 },
                { "model/weights.bin", AE_IFREG, data, big },
                { "caf\xc3\xa9.txt", AE_IFREG, "utf8", 0 },
                { "logs/", AE_IFDIR, NULL, 0 },
        };
        lib_tar(&b, m, ARRAY_SIZE(m), false);
        assert_int_equal(b.len % 10240, 0); /* zero blocks after the end: hashed, not parsed */
        rep_stream(&rp, &b);
        rep_file(&rp, "model/weights.bin", data, big);
        rep_file(&rp, "out/a.txt", "alpha\n", 6);
        rep_file(&rp, "empty", "", 0);
        rep_file(&rp, "out/nested/deep/b.bin", "\0\1\2", 3);
        rep_file(&rp, "caf\xc3\xa9.txt", "utf8", 4);
        umask(022);
        if (run(f, &b, &rp, NULL) != 0)
                fail_msg("%s", f->e.msg);
        assert_int_equal(f->m.pos, b.len);
        assert_false(f->m.over);
        assert_int_equal(stat(f->dest, &st), 0);
        assert_int_equal(st.st_mode, S_IFDIR | 0700);
        _cleanup_free_ char *logs = xasprintf("%s/logs", f->dest);
        assert_int_equal(lstat(logs, &st), 0);
        assert_int_equal(st.st_mode, S_IFDIR | 0755);
        for (size_t i = 0; i < rp.r.n; i++)
                check_file(f, &rp.f[i]);

        /* scan finds the same files, sorted by path */
        _cleanup_free_ struct artifact *v = NULL;
        size_t n = 0;
        assert_int_equal(artifacts_scan(f->dest, &v, &n, &f->e), 0);
        assert_int_equal(n, 5);
        const char *order[] = { "caf\xc3\xa9.txt", "empty", "model/weights.bin", "out/a.txt", "out/nested/deep/b.bin" };
        for (size_t i = 0; i < n; i++) {
                assert_string_equal(v[i].path, order[i]);
                for (size_t j = 0; j < rp.r.n; j++)
                        if (streq(rp.f[j].path, v[i].path)) {
                                assert_int_equal(v[i].size, rp.f[j].size);
                                assert_string_equal(v[i].sha256, rp.f[j].sha256);
                        }
        }
        /* the same stream again: the staging directory must be new */
        assert_int_equal(run(f, &b, &rp, NULL), -EEXIST);
        assert_int_equal(count_entries(f->dest), 5);
        free(b.p);
}

static void test_good_raw(void **state)
{
        struct fx *f = *state;
        struct buf b = { 0 };
        struct rep rp = { 0 };
        char longname[240];

        /* A GNU long name (past ustar's 100 bytes), a directory named after its contents. */
        (void)snprintf(longname, sizeof(longname), "d/%0200d/file.txt", 0);
        hdr(&b, "././@LongLink", 'L', strlen(longname) + 1, NULL, true);
        put(&b, longname, strlen(longname) + 1);
        pad(&b);
        hdr(&b, "d/trunc", '0', 2, NULL, true);
        put(&b, "hi", 2);
        pad(&b);
        raw_dir(&b, "d/");
        pax(&b, "path=renamed.txt");
        raw_file(&b, "original.txt", "pax");
        end(&b);
        put(&b, "trailing junk within the reported size", 38);
        put(&b, NULL, 100000); /* far past anything libarchive reads ahead */
        put(&b, "last", 4);
        rep_stream(&rp, &b);
        rep_file(&rp, longname, "hi", 2);
        rep_file(&rp, "renamed.txt", "pax", 3);
        /* the stream runs on past the reported size: those bytes are never read */
        put(&b, "and more beyond it", 18);
        if (run(f, &b, &rp, NULL) != 0)
                fail_msg("%s", f->e.msg);
        assert_int_equal(f->m.pos, rp.r.tar_size);
        assert_false(f->m.over);
        check_file(f, &rp.f[0]);
        check_file(f, &rp.f[1]);
        free(b.p);
}

/* ---- refusals ------------------------------------------------------- */

/* One raw entry NAME of TYPE (with LINK), reported as a file with DATA when REPORT. */
static void bad_one(struct fx *f, const char *name, char type, const char *link, bool report, const char *want)
{
        struct buf b = { 0 };
        struct rep rp = { 0 };
        raw_file(&b, "first.txt", "first"); /* something extracted already must go too */
        hdr(&b, name, type, type == '0' ? 4 : 0, link, false);
        if (type == '0')
                put(&b, "data", 4), pad(&b);
        end(&b);
        rep_stream(&rp, &b);
        rep_file(&rp, "first.txt", "first", 5);
        if (report)
                rep_file(&rp, name, "data", 4);
        expect_bad(f, &b, &rp, NULL, want);
        free(b.p);
}

static void test_bad_names(void **state)
{
        struct fx *f = *state;
        _cleanup_free_ char *abs = xasprintf("%s/evil", f->base);
        bad_one(f, "../x", '0', NULL, false, "artifact ../x: path escapes the artifact directory");
        bad_one(f, "a/../../x", '0', NULL, false, "artifact a/../../x: path escapes the artifact directory");
        bad_one(f, abs, '0', NULL, false, "absolute path");
        bad_one(f, "./x", '0', NULL, false, "artifact ./x: '.' component in the path");
        bad_one(f, "a//b", '0', NULL, false, "artifact a//b: empty component");
        bad_one(f, "a\nb", '0', NULL, false, "artifact a?b: control character in the path");
        bad_one(f, "../up/", '5', NULL, false, "artifact ../up/: path escapes");
        bad_one(f, "first.txt", '0', NULL, false, "artifact first.txt: listed twice in the stream");
        bad_one(f, "first.txt/x", '0', NULL, true, "artifact first.txt/x: first.txt is not a directory");
}

static void test_bad_types(void **state)
{
        struct fx *f = *state;
        bad_one(f, "out/link", '2', "/etc/passwd", false,
                "artifact out/link: a symbolic link (only regular files and directories are allowed)");
        bad_one(f, "hard", '1', "first.txt", false, "artifact hard: a hard link");
        bad_one(f, "tty", '3', NULL, false, "artifact tty: a character device");
        bad_one(f, "sda", '4', NULL, false, "artifact sda: a block device");
        bad_one(f, "fifo", '6', NULL, false, "artifact fifo: a FIFO");
}

static void test_bad_pax_and_gnu(void **state)
{
        struct fx *f = *state;
        struct buf b = { 0 };
        struct rep rp = { 0 };
        char longname[300];

        /* A pax header renames an innocent entry to ../x. */
        raw_dir(&b, "d/");
        pax(&b, "path=../x");
        raw_file(&b, "innocent", "data");
        end(&b);
        rep_stream(&rp, &b);
        rep_file(&rp, "innocent", "data", 4);
        expect_bad(f, &b, &rp, NULL, "artifact ../x: path escapes the artifact directory");

        /* A pax linkpath turns a regular file into a symlink. */
        b.len = 0;
        pax(&b, "linkpath=/etc/shadow");
        hdr(&b, "shadow", '2', 0, NULL, false);
        end(&b);
        rep_stream(&rp, &b);
        expect_bad(f, &b, &rp, NULL, "artifact shadow: a symbolic link");

        /* A GNU long name past 255 bytes. */
        b.len = 0;
        memset(longname, 'n', 299);
        longname[299] = '\0';
        hdr(&b, "././@LongLink", 'L', 300, NULL, true);
        put(&b, longname, 300);
        pad(&b);
        raw_file(&b, "short", "data");
        end(&b);
        rep_stream(&rp, &b);
        expect_bad(f, &b, &rp, NULL, "path longer than 255 bytes");

        /* An old GNU sparse file: 512 bytes stored of 1024. */
        b.len = 0;
        uint8_t *h = hdr(&b, "holes", 'S', 512, NULL, true);
        memcpy(h + 386, "00000000000", 12);
        memcpy(h + 398, "00000001000", 12);
        memcpy(h + 483, "00000002000", 12);
        unsigned sum = 0;
        memset(h + 148, ' ', 8);
        for (size_t i = 0; i < 512; i++)
                sum += h[i];
        (void)snprintf((char *)h + 148, 8, "%06o", sum);
        h[155] = ' ';
        put(&b, NULL, 512);
        end(&b);
        rep_stream(&rp, &b);
        rp.r.n = 0;
        rep_file(&rp, "holes", b.p + 512, 512);
        expect_bad(f, &b, &rp, NULL, "artifact holes: a sparse file");
        free(b.p);
}

static void test_bad_stream(void **state)
{
        struct fx *f = *state;
        struct buf b = { 0 };
        struct rep rp = { 0 };

        /* A header declares 4096 bytes; the stream ends after 100 of them. */
        raw_file(&b, "ok.txt", "ok");
        hdr(&b, "cut.bin", '0', 4096, NULL, false);
        put(&b, NULL, 100);
        rep_stream(&rp, &b);
        rep_file(&rp, "ok.txt", "ok", 2);
        rep_file(&rp, "cut.bin", "", 0);
        rp.f[1].size = 4096;
        expect_bad(f, &b, &rp, NULL, "artifact cut.bin: truncated");

        /* The source ends before the reported size. */
        b.len = 0;
        raw_file(&b, "ok.txt", "ok");
        end(&b);
        rep_stream(&rp, &b);
        rp.r.n = 0;
        rep_file(&rp, "ok.txt", "ok", 2);
        rp.r.tar_size += 512;
        expect_bad(f, &b, &rp, NULL, "artifact stream: it ended after 2048 bytes, but the agent reported 2560");

        /* Garbage after the end, inside the reported size, with the wrong digest. */
        put(&b, "junk", 4);
        rep_stream(&rp, &b);
        char good[SHA256_HEX_LEN + 1];
        memcpy(good, rp.r.tar_sha256, sizeof(good));
        sha256_hex("other", 5, rp.r.tar_sha256);
        expect_bad(f, &b, &rp, NULL, "artifact stream: SHA-256 ");
        assert_non_null(strstr(f->e.msg, good));
        assert_non_null(strstr(f->e.msg, rp.r.tar_sha256));

        /* Not tar: gzip (no filters), text, nothing at all. */
        b.len = 0;
        const struct member m[] = { { "x", AE_IFREG, "x", 0 } };
        lib_tar(&b, m, 1, true);
        rep_stream(&rp, &b);
        rp.r.n = 0;
        rep_file(&rp, "x", "x", 1);
        expect_bad(f, &b, &rp, NULL, "artifact stream: not a valid tar stream");
        b.len = 0;
        put(&b, "hello world, this is not a tar archive at all", 45);
        rep_stream(&rp, &b);
        expect_bad(f, &b, &rp, NULL, "artifact stream: not a valid tar stream");
        b.len = 0;
        rep_stream(&rp, &b);
        expect_bad(f, &b, &rp, NULL, "artifact stream: not a valid tar stream");

        /* The source fails: its error, not EBADMSG, and nothing left. */
        b.len = 0;
        raw_file(&b, "ok.txt", "ok");
        raw_file(&b, "two.txt", "two");
        end(&b);
        rep_stream(&rp, &b);
        rp.r.n = 0;
        rep_file(&rp, "ok.txt", "ok", 2);
        rep_file(&rp, "two.txt", "two", 3);
        f->m = (struct mem){ .p = b.p, .len = b.len, .chunk = 1024, .limit = b.len, .fail_at = 1024 };
        assert_int_equal(artifacts_extract(mem_read, &f->m, &rp.r, &artifact_default_limits, NULL, f->dest, &f->e), -EIO);
        assert_string_equal(f->e.msg, "artifact stream: disk on fire");
        assert_nothing_left(f);
        free(b.p);
}

static void test_bad_report(void **state)
{
        struct fx *f = *state;
        struct buf b = { 0 };
        struct rep rp = { 0 };

        raw_file(&b, "a.txt", "aaaa");
        raw_file(&b, "b.txt", "bbbb");
        end(&b);
        rep_stream(&rp, &b);
        rep_file(&rp, "a.txt", "aaaa", 4);
        expect_bad(f, &b, &rp, NULL, "artifact b.txt: a regular file the agent did not report");
        rep_file(&rp, "b.txt", "bbb", 3);
        expect_bad(f, &b, &rp, NULL, "artifact b.txt: 4 bytes but the agent reported 3");
        rp.r.n = 1;
        rep_file(&rp, "b.txt", "BBBB", 4);
        char want[200];
        char got[SHA256_HEX_LEN + 1];
        sha256_hex("bbbb", 4, got);
        (void)snprintf(want, sizeof(want), "artifact b.txt: SHA-256 %s but the agent reported %s", got, rp.f[1].sha256);
        expect_bad(f, &b, &rp, NULL, want);
        rp.r.n = 1;
        rep_file(&rp, "b.txt", "bbbb", 4);
        rep_file(&rp, "c.txt", "c", 1);
        expect_bad(f, &b, &rp, NULL, "artifact c.txt: reported by the agent but not in the stream");
        rp.r.n = 2;
        assert_int_equal(run(f, &b, &rp, NULL), 0); /* and right, for once */
        _cleanup_free_ char *cmd = xasprintf("rm -rf -- '%s'", f->dest);
        assert_int_equal(system(cmd), 0);

        rep_file(&rp, "a.txt", "aaaa", 4);
        expect_bad(f, &b, &rp, NULL, "artifact a.txt: reported twice by the agent");
        rp.r.n = 2;
        rep_file(&rp, "../evil", "x", 1);
        expect_bad(f, &b, &rp, NULL, "artifact ../evil: path escapes the artifact directory (in the agent's report)");
        rp.r.n = 2;
        memcpy(rp.r.tar_sha256, "XYZ", 4);
        expect_bad(f, &b, &rp, NULL, "artifact report: the stream's SHA-256 is not 64 lowercase hex digits");
        free(b.p);
}

static void test_caps(void **state)
{
        struct fx *f = *state;
        struct buf b = { 0 };
        struct rep rp = { 0 };
        struct artifact_limits lim = { .max_entries = 2, .max_file = 10, .max_total = 15 };

        raw_dir(&b, "d/");
        raw_file(&b, "d/a", "12345678");
        raw_file(&b, "d/b", "12345678");
        end(&b);
        rep_stream(&rp, &b);
        rep_file(&rp, "d/a", "12345678", 8);
        rep_file(&rp, "d/b", "12345678", 8);
        lim.max_total = 100;
        expect_bad(f, &b, &rp, &lim, "artifact stream: more than 2 entries, the cap");
        lim = (struct artifact_limits){ .max_entries = 10, .max_file = 10, .max_total = 15 };
        rp.r.n = 1;
        expect_bad(f, &b, &rp, &lim, "artifact d/b: the files add up to more than the cap of 15 bytes");
        rp.r.n = 2;
        expect_bad(f, &b, &rp, &lim, "artifact d/b: the reported files add up to more than the cap of 15 bytes");
        lim.max_entries = 1;
        expect_bad(f, &b, &rp, &lim, "artifact report: 2 files, more than the cap of 1");
        b.len = 0;
        rp.r.n = 0;
        raw_file(&b, "big", "12345678901");
        end(&b);
        rep_stream(&rp, &b);
        lim.max_entries = 10;
        expect_bad(f, &b, &rp, &lim, "artifact big: 11 bytes, more than the cap of 10 per file");
        rep_file(&rp, "big", "12345678901", 11);
        expect_bad(f, &b, &rp, &lim, "artifact big: reported as 11 bytes, more than the cap of 10 per file");
        free(b.p);
}

static void test_dest(void **state)
{
        struct fx *f = *state;
        struct buf b = { 0 };
        struct rep rp = { 0 };
        raw_file(&b, "a", "a");
        end(&b);
        rep_stream(&rp, &b);
        rep_file(&rp, "a", "a", 1);
        assert_int_equal(mkdir(f->dest, 0755), 0);
        assert_int_equal(run(f, &b, &rp, NULL), -EEXIST);
        assert_int_equal(count_entries(f->dest), 0); /* untouched, not removed */
        assert_int_equal(rmdir(f->dest), 0);
        assert_int_equal(symlink(f->cwd, f->dest), 0);
        assert_int_equal(run(f, &b, &rp, NULL), -EEXIST);
        assert_int_equal(count_entries(f->cwd), 0);
        free(b.p);
}

/* ---- from a volume: test:///default cannot download ------------------------ */

static void test_collect(void **state)
{
        struct fx *f = *state;
        _cleanup_virConnect_ virConnectPtr conn = NULL;
        _cleanup_virStoragePool_ virStoragePoolPtr pool = NULL;
        struct rep rp = { 0 };
        struct buf b = { 0 };

        assert_int_equal(virt_connect("test:///default", &conn, &f->e), 0);
        assert_non_null(pool = virStoragePoolLookupByName(conn, "default-pool"));
        virStorageVolPtr vol = virStorageVolCreateXML(
                pool, "<volume><name>art</name><capacity unit='bytes'>1048576</capacity></volume>", 0);
        assert_non_null(vol);
        raw_file(&b, "a", "a");
        end(&b);
        rep_stream(&rp, &b);
        rp.r.tar_size = 1048577;
        assert_int_equal(artifacts_collect(vol, &rp.r, &artifact_default_limits, NULL, NULL, f->dest, &f->e), -EBADMSG);
        assert_string_equal(f->e.msg,
                            "artifact stream: 1048577 bytes reported, more than the artifact volume's 1048576");
        assert_nothing_left(f);
        rp.r.tar_size = b.len;
        assert_int_equal(artifacts_collect(vol, &rp.r, &artifact_default_limits, NULL, NULL, f->dest, &f->e), -EIO);
        assert_true(strstartswith(f->e.msg, "read the artifact volume: "));
        assert_nothing_left(f);
        (void)virStorageVolDelete(vol, 0);
        virStorageVolFree(vol);
        free(b.p);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
        const struct CMUnitTest tests[] = {
                T(test_paths),           T(test_good_tree), T(test_good_raw),  T(test_bad_names),
                T(test_bad_types),       T(test_bad_pax_and_gnu), T(test_bad_stream), T(test_bad_report),
                T(test_caps),            T(test_dest),      T(test_collect),
        };
        virt_init();
        return cmocka_run_group_tests_name("artifacts", tests, NULL, NULL);
}
