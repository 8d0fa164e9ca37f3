/* test-disk-iso.c: the data disk's ISO 9660 writer (src/lib/virt/disk-iso.c).
 * The ISO images are read back with libarchive; tarballs, including hostile
 * ones, are made here with libarchive too. Per-run volumes: test-disk.c. */
#include "mlvm-build.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <fcntl.h>
#include <locale.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <archive.h>
#include <archive_entry.h>
#include <cmocka.h>

#include "digest.h"
#include "disk-iso.h"
#include "disk.h"
#include "util.h"
#include "virt.h"

/* ---- helpers ---------------------------------------------------------- */

static char *make_dir(void)
{
        char tmpl[] = "/tmp/mlvm-test-disk-XXXXXX";
        assert_non_null(mkdtemp(tmpl));
        return xstrdup(tmpl);
}

static void rm_dir(const char *dir)
{
        _cleanup_free_ char *cmd = xasprintf("rm -rf -- '%s'", dir);
        assert_int_equal(system(cmd), 0);
}

static void put(const char *dir, const char *rel, const void *data, size_t len, mode_t mode)
{
        _cleanup_free_ char *path = xasprintf("%s/%s", dir, rel);
        _cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, data, len), (ssize_t)len);
        assert_int_equal(fchmod(fd, mode), 0);
}

static void mkd(const char *dir, const char *rel, mode_t mode)
{
        _cleanup_free_ char *path = xasprintf("%s/%s", dir, rel);
        assert_int_equal(mkdir(path, mode), 0);
}

struct item {
        char *path;
        mode_t mode;
        int64_t size;
        char sha256[SHA256_HEX_LEN + 1];
        char head[16]; /* first bytes, NUL-terminated */
};

struct listing {
        struct item v[64];
        size_t n;
};

static void listing_clear(struct listing *l)
{
        for (size_t i = 0; i < l->n; i++)
                free(l->v[i].path);
        l->n = 0;
}

static const struct item *find(const struct listing *l, const char *path)
{
        for (size_t i = 0; i < l->n; i++)
                if (streq(l->v[i].path, path))
                        return &l->v[i];
        return NULL;
}

static const struct item *get(const struct listing *l, const char *path)
{
        const struct item *it = find(l, path);
        if (!it) {
                fail_msg("%s: not in the image", path);
                abort();
        }
        return it;
}

/* Read the ISO image in FD back with libarchive's ISO 9660 reader. */
static void read_iso(int fd, struct listing *l)
{
        struct archive *a = archive_read_new();
        struct archive_entry *ent;
        _cleanup_free_ char *buf = xmalloc(1 << 20);

        assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
        assert_int_equal(archive_read_support_format_iso9660(a), ARCHIVE_OK);
        assert_int_equal(archive_read_open_fd(a, fd, 65536), ARCHIVE_OK);
        while (archive_read_next_header(a, &ent) == ARCHIVE_OK) {
                assert_true(l->n < ARRAY_SIZE(l->v));
                struct item *it = &l->v[l->n++];
                size_t len = 0;
                la_ssize_t n;
                it->path = xstrdup(archive_entry_pathname(ent));
                it->mode = archive_entry_mode(ent);
                it->size = archive_entry_size(ent);
                while ((n = archive_read_data(a, buf + len, (1 << 20) - len)) > 0)
                        len += (size_t)n;
                assert_true(n == 0);
                sha256_hex(buf, len, it->sha256);
                (void)snprintf(it->head, sizeof(it->head), "%.*s", (int)(len < 15 ? len : 15), buf);
        }
        assert_int_equal(archive_read_free(a), ARCHIVE_OK);
}

static int tmpfile_fd(void)
{
        char tmpl[] = "/tmp/mlvm-test-disk-iso-XXXXXX";
        int fd = mkostemp(tmpl, O_CLOEXEC);
        assert_true(fd >= 0);
        (void)unlink(tmpl);
        return fd;
}

struct member {
        const char *path;
        mode_t type;        /* AE_IFREG, AE_IFDIR, AE_IFLNK, AE_IFIFO, AE_IFCHR */
        mode_t perm;
        const char *data;   /* regular files */
        const char *link;   /* symlink target, or hard link target for AE_IFREG */
};

/* A tarball of MEMBERS, as written by libarchive (pax), through FILTER. */
static void *make_tar(const struct member *m, size_t n, int filter, size_t *ret_len)
{
        struct archive *a = archive_write_new();
        struct archive_entry *ent = archive_entry_new();
        size_t cap = 1 << 20, used = 0;
        void *buf = xmalloc(cap);

        assert_int_equal(archive_write_set_format_pax_restricted(a), ARCHIVE_OK);
        assert_int_equal(archive_write_add_filter(a, filter), ARCHIVE_OK);
        assert_int_equal(archive_write_open_memory(a, buf, cap, &used), ARCHIVE_OK);
        for (size_t i = 0; i < n; i++) {
                archive_entry_clear(ent);
                archive_entry_set_pathname(ent, m[i].path);
                archive_entry_set_filetype(ent, m[i].type);
                archive_entry_set_perm(ent, m[i].perm);
                archive_entry_set_mtime(ent, 1700000000, 0);
                if (m[i].type == AE_IFLNK)
                        archive_entry_set_symlink(ent, m[i].link);
                else if (m[i].link)
                        archive_entry_set_hardlink(ent, m[i].link);
                size_t dlen = m[i].type == AE_IFREG && m[i].data && !m[i].link ? strlen(m[i].data) : 0;
                archive_entry_set_size(ent, (la_int64_t)dlen);
                assert_int_equal(archive_write_header(a, ent), ARCHIVE_OK);
                if (dlen)
                        assert_int_equal(archive_write_data(a, m[i].data, dlen), (la_ssize_t)dlen);
        }
        assert_int_equal(archive_write_close(a), ARCHIVE_OK);
        archive_write_free(a);
        archive_entry_free(ent);
        *ret_len = used;
        return buf;
}

static int iso_of_tar(const struct member *m, size_t n, const struct disk_iso_limits *lim, struct listing *l,
                      struct mlvm_err *e)
{
        size_t len;
        _cleanup_free_ void *tar = make_tar(m, n, ARCHIVE_FILTER_NONE, &len);
        _cleanup_close_ int fd = tmpfile_fd();
        char hex[SHA256_HEX_LEN + 1];
        int r = disk_iso_write_tar_memory(tar, len, "t.tar", fd, lim ? lim : &disk_iso_default_limits, hex, NULL, e);
        if (r == 0 && l)
                read_iso(fd, l);
        return r;
}

/* ---- the ISO writer: directories -------------------------------------- */

static void test_iso_directory(void **state)
{
        _cleanup_free_ char *dir = make_dir();
        _cleanup_close_ int fd = tmpfile_fd();
        const size_t big = 300 * 1024 + 7;
        _cleanup_free_ char *pattern = xmalloc(big);
        char hex[SHA256_HEX_LEN + 1], want[SHA256_HEX_LEN + 1], got[SHA256_HEX_LEN + 1];
        const char *longname = "a-name-that-is-much-longer-than-the-thirty-one-characters-of-iso-9660-"
                               "level-3-identifiers-and-has-MixedCase-and-spaces in it.safetensors";
        struct listing l = { 0 };
        struct mlvm_err e = { 0 };
        uint64_t size = 0;

        for (size_t i = 0; i < big; i++)
                pattern[i] = (char)(i * 7 + i / 4096);
        put(dir, "hello.txt", "hello", 5, 0640);
        put(dir, "empty", "", 0, 0600);
        mkd(dir, "bin", 0700);
        put(dir, "bin/run.sh", "#!/bin/sh\n", 10, 0750);
        mkd(dir, "models", 0755);
        mkd(dir, "models/a", 0755);
        mkd(dir, "models/a/b", 0755);
        mkd(dir, "models/empty-dir", 0700);
        put(dir, "models/a/b/weights.bin", pattern, big, 0644);
        _cleanup_free_ char *lrel = xasprintf("models/%s", longname);
        put(dir, lrel, "L", 1, 0644);
        put(dir, "models/caf\xc3\xa9.txt", "utf8", 4, 0644);

        assert_int_equal(disk_iso_write(dir, fd, &disk_iso_default_limits, hex, &size, &e), 0);
        struct stat st;
        assert_int_equal(fstat(fd, &st), 0);
        assert_int_equal((uint64_t)st.st_size, size);
        assert_int_equal(size % 2048, 0);
        assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
        assert_int_equal(sha256_fd(fd, UINT64_MAX, NULL, got), 0);
        assert_string_equal(hex, got); /* the returned digest is the image's */

        read_iso(fd, &l);
        const struct item *it;
        it = get(&l, "hello.txt");
        assert_int_equal(it->size, 5);
        assert_string_equal(it->head, "hello");
        /* Only the execute bit survives; everything is world-readable, nothing writable. */
        assert_int_equal(it->mode, S_IFREG | 0444);
        it = get(&l, "empty");
        assert_int_equal(it->size, 0);
        assert_int_equal(it->mode, S_IFREG | 0444);
        it = get(&l, "bin");
        assert_int_equal(it->mode, S_IFDIR | 0555);
        it = get(&l, "bin/run.sh");
        assert_int_equal(it->mode, S_IFREG | 0555);
        assert_string_equal(it->head, "#!/bin/sh\n");
        it = get(&l, "models/a/b/weights.bin");
        assert_int_equal(it->size, (int64_t)big);
        sha256_hex(pattern, big, want);
        assert_string_equal(it->sha256, want);
        it = get(&l, "models/empty-dir");
        assert_int_equal(it->mode, S_IFDIR | 0555);
        it = get(&l, lrel);
        assert_string_equal(it->head, "L");
        assert_non_null(find(&l, "models/caf\xc3\xa9.txt"));
        assert_non_null(find(&l, "models/a"));
        assert_int_equal(l.n, 12); /* ".", 4 dirs below models plus bin, and 6 files */
        listing_clear(&l);
        rm_dir(dir);
}

static void test_iso_directory_refusals(void **state)
{
        _cleanup_free_ char *dir = make_dir();
        _cleanup_free_ char *sub = xasprintf("%s/sub", dir);
        _cleanup_free_ char *link = xasprintf("%s/sub/passwd", dir);
        _cleanup_free_ char *fifo = xasprintf("%s/sub/fifo", dir);
        _cleanup_free_ char *sock = xasprintf("%s/sub/sock", dir);
        _cleanup_free_ char *ctl = xasprintf("%s/sub/a\nb", dir);
        _cleanup_free_ char *want = NULL;
        char hex[SHA256_HEX_LEN + 1];
        struct mlvm_err e = { 0 };

        mkd(dir, "sub", 0755);
        put(dir, "sub/ok", "x", 1, 0644);
        assert_int_equal(symlink("/etc/passwd", link), 0);
        assert_int_equal(disk_iso_write(dir, -1, &disk_iso_default_limits, hex, NULL, &e), -EINVAL);
        want = xasprintf("data disk %s: sub/passwd: symbolic link: only regular files and directories go on a data disk",
                         dir);
        assert_string_equal(e.msg, want);
        assert_int_equal(unlink(link), 0);

        /* A symlink to a directory is not followed either. */
        assert_int_equal(symlink("/etc", link), 0);
        assert_int_equal(disk_iso_write(dir, -1, &disk_iso_default_limits, hex, NULL, &e), -EINVAL);
        assert_string_equal(e.msg, want);
        assert_int_equal(unlink(link), 0);

        assert_int_equal(mkfifo(fifo, 0600), 0);
        assert_int_equal(disk_iso_write(dir, -1, &disk_iso_default_limits, hex, NULL, &e), -EINVAL);
        assert_non_null(strstr(e.msg, ": sub/fifo: FIFO: only regular files"));
        assert_int_equal(unlink(fifo), 0);

        int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        assert_true(s >= 0 && strlen(sock) < sizeof(sa.sun_path));
        memcpy(sa.sun_path, sock, strlen(sock) + 1);
        assert_int_equal(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
        assert_int_equal(disk_iso_write(dir, -1, &disk_iso_default_limits, hex, NULL, &e), -EINVAL);
        assert_non_null(strstr(e.msg, ": sub/sock: socket: only regular files"));
        (void)close(s);
        assert_int_equal(unlink(sock), 0);

        /* Control characters never reach an error line (one line) nor the disk. */
        put(dir, "sub/a\nb", "x", 1, 0644);
        assert_int_equal(disk_iso_write(dir, -1, &disk_iso_default_limits, hex, NULL, &e), -EINVAL);
        assert_non_null(strstr(e.msg, ": sub/a?b: control character in a name"));
        assert_null(strchr(e.msg, '\n'));
        assert_int_equal(unlink(ctl), 0);

        assert_int_equal(disk_iso_write(dir, -1, &disk_iso_default_limits, hex, NULL, &e), 0);
        (void)sub;
        rm_dir(dir);
}

static void test_iso_missing_and_bad_sources(void **state)
{
        _cleanup_free_ char *dir = make_dir();
        _cleanup_free_ char *junk = xasprintf("%s/junk.tar.gz", dir);
        _cleanup_free_ char *want = NULL;
        char hex[SHA256_HEX_LEN + 1];
        struct mlvm_err e = { 0 };

        assert_int_equal(disk_iso_write("/nonexistent/weights", -1, &disk_iso_default_limits, hex, NULL, &e), -ENOENT);
        assert_string_equal(e.msg, "data disk /nonexistent/weights: No such file or directory");

        put(dir, "junk.tar.gz", "this is not a tarball, not even gzip\n", 37, 0644);
        assert_int_equal(disk_iso_write(junk, -1, &disk_iso_default_limits, hex, NULL, &e), -EINVAL);
        want = xasprintf("data disk %s: not a readable tar archive: ", junk);
        assert_true(strstartswith(e.msg, want));

        assert_int_equal(disk_iso_write("/dev/null", -1, &disk_iso_default_limits, hex, NULL, &e), -EINVAL);
        assert_string_equal(e.msg, "data disk /dev/null: neither a directory nor a tar archive");
        rm_dir(dir);
}

/* ---- the ISO writer: tarballs ------------------------------------------ */

static const struct member good_members[] = {
        { "./", AE_IFDIR, 0755, NULL, NULL },
        { "./data/", AE_IFDIR, 0700, NULL, NULL },
        { "./data/train.csv", AE_IFREG, 0600, "a,b\n1,2\n", NULL },
        { "./data/empty.csv", AE_IFREG, 0644, "", NULL },
        { "./tool", AE_IFREG, 0711, "#!/bin/true\n", NULL },
};

static void test_iso_tarball_files(void **state)
{
        const int filters[] = { ARCHIVE_FILTER_NONE, ARCHIVE_FILTER_GZIP, ARCHIVE_FILTER_XZ, ARCHIVE_FILTER_ZSTD };
        const char *names[] = { "w.tar", "w.tar.gz", "w.tar.xz", "w.tar.zst" };
        _cleanup_free_ char *dir = make_dir();

        for (size_t i = 0; i < ARRAY_SIZE(filters); i++) {
                size_t len;
                _cleanup_free_ void *tar = make_tar(good_members, ARRAY_SIZE(good_members), filters[i], &len);
                _cleanup_close_ int fd = tmpfile_fd();
                char hex[SHA256_HEX_LEN + 1];
                struct listing l = { 0 };
                struct mlvm_err e = { 0 };
                const struct item *it;

                put(dir, names[i], tar, len, 0644);
                _cleanup_free_ char *path = xasprintf("%s/%s", dir, names[i]);
                assert_int_equal(disk_iso_write(path, fd, &disk_iso_default_limits, hex, NULL, &e), 0);
                read_iso(fd, &l);
                assert_int_equal(l.n, 5);
                it = get(&l, "data");
                assert_int_equal(it->mode, S_IFDIR | 0555);
                it = get(&l, "data/train.csv");
                assert_string_equal(it->head, "a,b\n1,2\n");
                assert_int_equal(it->mode, S_IFREG | 0444);
                it = get(&l, "data/empty.csv");
                assert_int_equal(it->size, 0);
                it = get(&l, "tool");
                assert_int_equal(it->mode, S_IFREG | 0555);
                listing_clear(&l);
        }
        rm_dir(dir);
}

/* pax stores names as UTF-8; mlvm runs in the C locale, where libarchive
 * would refuse to convert them. Non-ASCII names must come through as bytes. */
static void test_iso_tarball_utf8_names(void **state)
{
        const char *name = "donn\xc3\xa9" "es/caf\xc3\xa9-\xe6\x97\xa5\xe6\x9c\xac.txt";
        struct archive *a = archive_write_new();
        struct archive_entry *ent = archive_entry_new();
        size_t cap = 65536, used = 0;
        _cleanup_free_ char *tar = xmalloc(cap);
        _cleanup_close_ int fd = tmpfile_fd();
        char hex[SHA256_HEX_LEN + 1];
        struct listing l = { 0 };
        struct mlvm_err e = { 0 };

        /* Written as a UTF-8 system (GNU tar, bsdtar) writes it. */
        locale_t utf8 = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
        assert_non_null(utf8);
        locale_t old = uselocale(utf8);
        assert_int_equal(archive_write_set_format_pax(a), ARCHIVE_OK);
        assert_int_equal(archive_write_open_memory(a, tar, cap, &used), ARCHIVE_OK);
        archive_entry_set_pathname(ent, name);
        archive_entry_set_filetype(ent, AE_IFREG);
        archive_entry_set_perm(ent, 0644);
        archive_entry_set_size(ent, 2);
        assert_int_equal(archive_write_header(a, ent), ARCHIVE_OK);
        assert_int_equal(archive_write_data(a, "ok", 2), 2);
        assert_int_equal(archive_write_close(a), ARCHIVE_OK);
        archive_write_free(a);
        archive_entry_free(ent);
        (void)uselocale(old);
        freelocale(utf8);
        assert_non_null(memmem(tar, used, "path=", 5)); /* a pax header carries the name */

        assert_int_equal(disk_iso_write_tar_memory(tar, used, "u.tar", fd, &disk_iso_default_limits, hex, NULL, &e), 0);
        read_iso(fd, &l);
        assert_string_equal(get(&l, name)->head, "ok");
        listing_clear(&l);
}

static void test_iso_tarball_implicit_parents(void **state)
{
        /* Contents before their directory, and parents never listed at all. */
        const struct member m[] = {
                { "a/b/c.txt", AE_IFREG, 0644, "c", NULL },
                { "a/", AE_IFDIR, 0755, NULL, NULL },
                { "x/y/z/w.txt", AE_IFREG, 0644, "w", NULL },
        };
        struct listing l = { 0 };
        struct mlvm_err e = { 0 };

        assert_int_equal(iso_of_tar(m, ARRAY_SIZE(m), NULL, &l, &e), 0);
        assert_non_null(find(&l, "a"));
        assert_non_null(find(&l, "a/b"));
        assert_non_null(find(&l, "a/b/c.txt"));
        assert_non_null(find(&l, "x/y/z"));
        assert_string_equal(get(&l, "x/y/z/w.txt")->head, "w");
        listing_clear(&l);
}

struct refusal {
        struct member m[3];
        size_t n;
        int code;
        const char *msg;
};

static void test_iso_tarball_refusals(void **state)
{
        const struct refusal cases[] = {
                { { { "../x", AE_IFREG, 0644, "x", NULL } }, 1, -EINVAL,
                  "data disk t.tar: ../x: '.' or '..' in a path (it could leave the disk's root)" },
                { { { "a/../../x", AE_IFREG, 0644, "x", NULL } }, 1, -EINVAL,
                  "data disk t.tar: a/../../x: '.' or '..' in a path (it could leave the disk's root)" },
                { { { "/etc/x", AE_IFREG, 0644, "x", NULL } }, 1, -EINVAL,
                  "data disk t.tar: /etc/x: absolute path (it could leave the disk's root)" },
                { { { "a", AE_IFREG, 0644, "x", NULL }, { "b", AE_IFREG, 0644, NULL, "a" } }, 2, -EINVAL,
                  "data disk t.tar: b: hard link: only regular files and directories go on a data disk" },
                { { { "l", AE_IFLNK, 0777, NULL, "/etc/passwd" } }, 1, -EINVAL,
                  "data disk t.tar: l: symbolic link: only regular files and directories go on a data disk" },
                { { { "p", AE_IFIFO, 0644, NULL, NULL } }, 1, -EINVAL,
                  "data disk t.tar: p: FIFO: only regular files and directories go on a data disk" },
                { { { "dev/sda", AE_IFBLK, 0600, NULL, NULL } }, 1, -EINVAL,
                  "data disk t.tar: dev/sda: block device: only regular files and directories go on a data disk" },
                { { { "a", AE_IFREG, 0644, "1", NULL }, { "./a", AE_IFREG, 0644, "2", NULL } }, 2, -EEXIST,
                  "data disk t.tar: a: listed twice in the archive" },
                { { { "d/", AE_IFDIR, 0755, NULL, NULL }, { "d", AE_IFDIR, 0755, NULL, NULL } }, 2, -EEXIST,
                  "data disk t.tar: d: listed twice in the archive" },
                { { { "a", AE_IFREG, 0644, "1", NULL }, { "a/b", AE_IFREG, 0644, "2", NULL } }, 2, -EINVAL,
                  "data disk t.tar: a/b: below a member that is a regular file" },
                { { { "a//b", AE_IFREG, 0644, "1", NULL } }, 1, -EINVAL, "data disk t.tar: a//b: empty path component" },
                { { { "bell\a", AE_IFREG, 0644, "1", NULL } }, 1, -EINVAL,
                  "data disk t.tar: bell?: control character in a name" },
        };
        for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
                struct mlvm_err e = { 0 };
                int r = iso_of_tar(cases[i].m, cases[i].n, NULL, NULL, &e);
                if (r != cases[i].code || !streq(e.msg, cases[i].msg))
                        fail_msg("case %zu: got %d \"%s\", want %d \"%s\"", i, r, e.msg, cases[i].code, cases[i].msg);
        }
}

static void test_iso_caps(void **state)
{
        struct disk_iso_limits lim = disk_iso_default_limits;
        _cleanup_free_ char *dir = make_dir();
        _cleanup_free_ char *want = NULL;
        char hex[SHA256_HEX_LEN + 1];
        struct mlvm_err e = { 0 };

        for (int i = 0; i < 6; i++) {
                char name[8];
                (void)snprintf(name, sizeof(name), "f%d", i);
                put(dir, name, "0123456789", 10, 0644);
        }
        lim.max_entries = 6;
        assert_int_equal(disk_iso_write(dir, -1, &lim, hex, NULL, &e), 0);
        lim.max_entries = 5;
        assert_int_equal(disk_iso_write(dir, -1, &lim, hex, NULL, &e), -E2BIG);
        want = xasprintf("data disk %s: more than 5 files and directories", dir);
        assert_string_equal(e.msg, want);

        lim = disk_iso_default_limits;
        lim.max_dir_entries = 5;
        assert_int_equal(disk_iso_write(dir, -1, &lim, hex, NULL, &e), -E2BIG);
        assert_non_null(strstr(e.msg, ": .: more than 5 entries in one directory"));
        mkd(dir, "sub", 0755);
        for (int i = 0; i < 6; i++) {
                char name[16];
                (void)snprintf(name, sizeof(name), "sub/g%d", i);
                put(dir, name, "", 0, 0644);
        }
        lim.max_dir_entries = 7;
        assert_int_equal(disk_iso_write(dir, -1, &lim, hex, NULL, &e), 0);
        lim.max_dir_entries = 5;
        assert_int_equal(disk_iso_write(dir, -1, &lim, hex, NULL, &e), -E2BIG);
        lim.max_dir_entries = 6;
        assert_int_equal(disk_iso_write(dir, -1, &lim, hex, NULL, &e), -E2BIG);
        assert_non_null(strstr(e.msg, ": .: more than 6 entries in one directory"));
        _cleanup_free_ char *subdir = xasprintf("rm -r -- '%s/sub'", dir);
        assert_int_equal(system(subdir), 0);

        lim = disk_iso_default_limits;
        lim.max_bytes = 60;
        assert_int_equal(disk_iso_write(dir, -1, &lim, hex, NULL, &e), 0);
        lim.max_bytes = 59;
        assert_int_equal(disk_iso_write(dir, -1, &lim, hex, NULL, &e), -EFBIG);
        assert_non_null(strstr(e.msg, ": f5: the files add up to more than 59 bytes"));

        /* In a tarball, parents that were never listed count as entries too. */
        const struct member deep[] = { { "a/b/c/d/e", AE_IFREG, 0644, "x", NULL } };
        lim = disk_iso_default_limits;
        lim.max_entries = 4;
        assert_int_equal(iso_of_tar(deep, 1, &lim, NULL, &e), -E2BIG);
        assert_string_equal(e.msg, "data disk t.tar: more than 4 files and directories");
        lim.max_entries = 5;
        assert_int_equal(iso_of_tar(deep, 1, &lim, NULL, &e), 0);
        lim.max_depth = 3;
        assert_int_equal(iso_of_tar(deep, 1, &lim, NULL, &e), -ELOOP);
        assert_string_equal(e.msg, "data disk t.tar: a/b/c/d/e: more than 3 directory levels deep");
        lim = disk_iso_default_limits;
        lim.max_path = 8;
        assert_int_equal(iso_of_tar(deep, 1, &lim, NULL, &e), -ENAMETOOLONG);
        assert_string_equal(e.msg, "data disk t.tar: a/b/c/d/e: path longer than 8 bytes");

        /* Per directory, implicit parents included. */
        const struct member wide[] = {
                { "d/x/1", AE_IFREG, 0644, "", NULL }, { "d/2", AE_IFREG, 0644, "", NULL },
                { "d/3", AE_IFREG, 0644, "", NULL },
        };
        lim = disk_iso_default_limits;
        lim.max_dir_entries = 3;
        assert_int_equal(iso_of_tar(wide, 3, &lim, NULL, &e), 0);
        lim.max_dir_entries = 2;
        assert_int_equal(iso_of_tar(wide, 3, &lim, NULL, &e), -E2BIG);
        assert_string_equal(e.msg, "data disk t.tar: d: more than 2 entries in one directory");

        char longname[300];
        memset(longname, 'n', 256);
        longname[256] = '\0';
        const struct member lng[] = { { longname, AE_IFREG, 0644, "x", NULL } };
        assert_int_equal(iso_of_tar(lng, 1, NULL, NULL, &e), -ENAMETOOLONG);
        assert_non_null(strstr(e.msg, "...: name longer than 255 bytes"));
        longname[255] = '\0';
        struct listing l = { 0 };
        assert_int_equal(iso_of_tar(lng, 1, NULL, &l, &e), 0);
        assert_non_null(find(&l, longname)); /* Rock Ridge keeps a 255-byte name whole */
        listing_clear(&l);
        rm_dir(dir);
}

/* A ustar member whose header says SIZE bytes, followed by 1 MiB of them. */
static char *lying_tar(uint64_t size, size_t *ret_len)
{
        char *t = xcalloc(1, 512 + (1 << 20));
        unsigned sum = 0;

        memcpy(t, "big.bin", 7);
        memcpy(t + 100, "0000644", 7);
        memcpy(t + 108, "0000000", 7);
        memcpy(t + 116, "0000000", 7);
        (void)snprintf(t + 124, 12, "%011llo", (unsigned long long)size);
        memcpy(t + 136, "00000000000", 11);
        memset(t + 148, ' ', 8);
        t[156] = '0';
        memcpy(t + 257, "ustar", 6);
        memcpy(t + 263, "00", 2);
        for (int i = 0; i < 512; i++)
                sum += (unsigned char)t[i];
        (void)snprintf(t + 148, 8, "%06o", sum);
        t[155] = ' ';
        memset(t + 512, 'x', 1 << 20);
        *ret_len = 512 + (1 << 20);
        return t;
}

/* A member cut short must fail without libarchive padding it to its
 * declared size on close: a 1 MiB tarball must not cost 1 GiB of disk.
 * The child may write 64 MiB at most (else SIGXFSZ kills it). */
static void test_iso_truncated_member_not_padded(void **state)
{
        size_t len;
        _cleanup_free_ char *tar = lying_tar(1ULL << 30, &len);
        int status;
        pid_t pid = fork();

        assert_true(pid >= 0);
        if (pid == 0) {
                struct rlimit rl = { .rlim_cur = 64 << 20, .rlim_max = 64 << 20 };
                char hex[SHA256_HEX_LEN + 1];
                struct mlvm_err e = { 0 };
                if (setrlimit(RLIMIT_FSIZE, &rl) < 0)
                        _exit(2);
                int r = disk_iso_write_tar_memory(tar, len, "t.tar", -1, &disk_iso_default_limits, hex, NULL, &e);
                _exit(r == -EINVAL && strstartswith(e.msg, "data disk t.tar: not a readable tar archive: ") ? 0 : 1);
        }
        assert_int_equal(waitpid(pid, &status, 0), pid);
        if (!WIFEXITED(status))
                fail_msg("child killed by signal %d (SIGXFSZ: the member was padded)", WTERMSIG(status));
        assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_iso_empty(void **state)
{
        _cleanup_free_ char *dir = make_dir();
        _cleanup_close_ int fd = tmpfile_fd();
        char hex[SHA256_HEX_LEN + 1];
        struct listing l = { 0 };
        struct mlvm_err e = { 0 };

        assert_int_equal(disk_iso_write(dir, fd, &disk_iso_default_limits, hex, NULL, &e), 0);
        read_iso(fd, &l);
        assert_int_equal(l.n, 1);
        assert_string_equal(l.v[0].path, ".");
        listing_clear(&l);
        rm_dir(dir);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_iso_directory),
                cmocka_unit_test(test_iso_directory_refusals),
                cmocka_unit_test(test_iso_missing_and_bad_sources),
                cmocka_unit_test(test_iso_tarball_files),
                cmocka_unit_test(test_iso_tarball_utf8_names),
                cmocka_unit_test(test_iso_tarball_implicit_parents),
                cmocka_unit_test(test_iso_tarball_refusals),
                cmocka_unit_test(test_iso_caps),
                cmocka_unit_test(test_iso_truncated_member_not_padded),
                cmocka_unit_test(test_iso_empty),
        };
        return cmocka_run_group_tests_name("disk-iso", tests, NULL, NULL);
}
