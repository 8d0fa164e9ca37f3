/* test-initramfs.c: the reproducible cpio writer (src/lib/image/initramfs.c). The
 * archive is read back with libarchive and checked entry by entry (order,
 * modes, owners, times, link targets, device numbers, contents); the same
 * entries added in another order must give the same bytes. */
#include "mlvm-build.h"

#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <cmocka.h>
#include <archive.h>
#include <archive_entry.h>

#include "initramfs.h"
#include "util.h"

static const char INIT[] = "#!/bin/sh\nexec /bin/busybox sh\n";
static const uint8_t BUSYBOX[] = { 0x7f, 'E', 'L', 'F', 2, 1, 1, 0, 0, 0, 0xff, 0x00, 0x80 };

struct want {
        const char *path;
        mode_t mode;
        const void *data;
        size_t len;
        const char *target;
        unsigned major, minor;
};

/* In the order the archive must hold them: sorted by path. */
static const struct want entries[] = {
        { .path = "bin", .mode = S_IFDIR | 0755 },
        { .path = "bin/busybox", .mode = S_IFREG | 0755, .data = BUSYBOX, .len = sizeof(BUSYBOX) },
        { .path = "bin/sh", .mode = S_IFLNK | 0777, .target = "busybox" },
        { .path = "bin/su", .mode = S_IFREG | 04711, .data = "x", .len = 1 },
        { .path = "dev", .mode = S_IFDIR | 0755 },
        { .path = "dev/console", .mode = S_IFCHR | 0600, .major = 5, .minor = 1 },
        { .path = "dev/null", .mode = S_IFCHR | 0666, .major = 1, .minor = 3 },
        { .path = "etc", .mode = S_IFDIR | 0700 },
        { .path = "etc/empty", .mode = S_IFREG | 0644, .data = "", .len = 0 },
        { .path = "init", .mode = S_IFREG | 0755, .data = INIT, .len = sizeof(INIT) - 1 },
        { .path = "tmp", .mode = S_IFDIR | 01777 },
};

static void add(struct initramfs *ir, const struct want *w)
{
        int r;
        if (S_ISDIR(w->mode))
                r = initramfs_add_dir(ir, w->path, w->mode & 07777);
        else if (S_ISREG(w->mode))
                r = initramfs_add_file(ir, w->path, w->mode & 07777, w->data, w->len);
        else if (S_ISLNK(w->mode))
                r = initramfs_add_symlink(ir, w->path, w->target);
        else
                r = initramfs_add_chardev(ir, w->path, w->mode & 07777, w->major, w->minor);
        assert_int_equal(r, 0);
}

/* Write IR to a fresh temp file (unlinked at once: nothing is left behind
 * even when a test aborts) and return its bytes. */
static char *write_archive(struct initramfs *ir, size_t *ret_len)
{
        char path[] = "/tmp/mlvm-test-initramfs-XXXXXX";
        _cleanup_close_ int fd = mkostemp(path, O_CLOEXEC);
        struct mlvm_err e = { 0 };
        struct stat st;

        assert_true(fd >= 0);
        assert_int_equal(unlink(path), 0);
        if (initramfs_write(ir, fd, &e) < 0)
                fail_msg("initramfs_write: %s", e.msg);
        assert_int_equal(fstat(fd, &st), 0);
        char *buf = xmalloc((size_t)st.st_size + 1);
        assert_int_equal(pread(fd, buf, (size_t)st.st_size + 1, 0), st.st_size);
        *ret_len = (size_t)st.st_size;
        return buf;
}

static void archive_read_freep(struct archive **a) { if (*a) archive_read_free(*a); }

static void test_read_back(void **state)
{
        __attribute__((cleanup(initramfs_freep))) struct initramfs *ir = initramfs_new();
        __attribute__((cleanup(archive_read_freep))) struct archive *a = archive_read_new();
        struct archive_entry *entry;
        size_t len, i = 0;

        /* Added out of order: written sorted. */
        for (size_t k = 0; k < ARRAY_SIZE(entries); k++)
                add(ir, &entries[(k * 7) % ARRAY_SIZE(entries)]);
        _cleanup_free_ char *buf = write_archive(ir, &len);

        /* newc ("070701"), no block padding, ends in the trailer. */
        assert_memory_equal(buf, "070701", 6);
        assert_int_equal(len % 4, 0);
        assert_non_null(memmem(buf + len - 16, 16, "TRAILER!!!", 10));

        assert_int_equal(archive_read_support_format_cpio(a), ARCHIVE_OK);
        assert_int_equal(archive_read_open_memory(a, buf, len), ARCHIVE_OK);
        while (archive_read_next_header(a, &entry) == ARCHIVE_OK) {
                const struct want *w = &entries[i];
                assert_true(i < ARRAY_SIZE(entries));
                assert_int_equal(archive_format(a), ARCHIVE_FORMAT_CPIO_SVR4_NOCRC);
                assert_string_equal(archive_entry_pathname(entry), w->path);
                assert_int_equal(archive_entry_mode(entry), w->mode);
                assert_int_equal(archive_entry_uid(entry), 0);
                assert_int_equal(archive_entry_gid(entry), 0);
                assert_int_equal(archive_entry_mtime(entry), 0);
                assert_int_equal(archive_entry_ino64(entry), i + 1);   /* by position */
                assert_int_equal(archive_entry_nlink(entry), S_ISDIR(w->mode) ? 2 : 1);
                if (S_ISLNK(w->mode))
                        assert_string_equal(archive_entry_symlink(entry), w->target);
                else
                        assert_null(archive_entry_symlink(entry));
                if (S_ISCHR(w->mode)) {
                        assert_int_equal(archive_entry_rdevmajor(entry), w->major);
                        assert_int_equal(archive_entry_rdevminor(entry), w->minor);
                } else {
                        assert_int_equal(archive_entry_rdev(entry), 0);
                }
                if (S_ISREG(w->mode)) {
                        char data[256];
                        assert_int_equal(archive_entry_size(entry), w->len);
                        assert_int_equal(archive_read_data(a, data, sizeof(data)), w->len);
                        assert_memory_equal(data, w->data, w->len);
                } else if (!S_ISLNK(w->mode)) {
                        assert_int_equal(archive_entry_size(entry), 0);
                }
                i++;
        }
        assert_int_equal(i, ARRAY_SIZE(entries));
}

static void test_reproducible(void **state)
{
        __attribute__((cleanup(initramfs_freep))) struct initramfs *fwd = initramfs_new();
        __attribute__((cleanup(initramfs_freep))) struct initramfs *rev = initramfs_new();
        size_t n = ARRAY_SIZE(entries), la, lb, lc;

        for (size_t k = 0; k < n; k++) {
                add(fwd, &entries[k]);
                add(rev, &entries[n - 1 - k]);
        }
        _cleanup_free_ char *a = write_archive(fwd, &la), *b = write_archive(rev, &lb);
        _cleanup_free_ char *c = write_archive(fwd, &lc);   /* written twice */
        assert_int_equal(la, lb);
        assert_memory_equal(a, b, la);
        assert_int_equal(la, lc);
        assert_memory_equal(a, c, la);

        /* One changed mode is a different archive. */
        __attribute__((cleanup(initramfs_freep))) struct initramfs *other = initramfs_new();
        for (size_t k = 0; k < n; k++)
                if (!streq(entries[k].path, "etc"))
                        add(other, &entries[k]);
        assert_int_equal(initramfs_add_dir(other, "etc", 0755), 0);
        _cleanup_free_ char *d = write_archive(other, &lb);
        assert_int_equal(la, lb);
        assert_memory_not_equal(a, d, la);
}

static void test_rejects(void **state)
{
        __attribute__((cleanup(initramfs_freep))) struct initramfs *ir = initramfs_new();
        __attribute__((cleanup(initramfs_freep))) struct initramfs *ref = initramfs_new();
        size_t la, lb;

        assert_int_equal(initramfs_add_dir(ir, "bin", 0755), 0);
        assert_int_equal(initramfs_add_file(ir, "bin/sh", 0755, "x", 1), 0);
        assert_int_equal(initramfs_add_dir(ref, "bin", 0755), 0);
        assert_int_equal(initramfs_add_file(ref, "bin/sh", 0755, "x", 1), 0);

        /* Duplicates, whatever the type of either. */
        assert_int_equal(initramfs_add_dir(ir, "bin", 0700), -EEXIST);
        assert_int_equal(initramfs_add_file(ir, "bin", 0644, "y", 1), -EEXIST);
        assert_int_equal(initramfs_add_symlink(ir, "bin/sh", "busybox"), -EEXIST);
        assert_int_equal(initramfs_add_chardev(ir, "bin/sh", 0600, 5, 1), -EEXIST);
        /* Absolute, empty or climbing paths. */
        assert_int_equal(initramfs_add_dir(ir, "/bin", 0755), -EINVAL);
        assert_int_equal(initramfs_add_file(ir, "/init", 0755, "x", 1), -EINVAL);
        assert_int_equal(initramfs_add_file(ir, "", 0755, "x", 1), -EINVAL);
        assert_int_equal(initramfs_add_symlink(ir, "..", "x"), -EINVAL);
        assert_int_equal(initramfs_add_symlink(ir, "bin/../../etc", "x"), -EINVAL);
        assert_int_equal(initramfs_add_chardev(ir, "../dev/console", 0600, 5, 1), -EINVAL);
        assert_int_equal(initramfs_add_file(ir, "bin/..", 0755, "x", 1), -EINVAL);

        /* What was refused is not in the archive. */
        _cleanup_free_ char *a = write_archive(ir, &la), *b = write_archive(ref, &lb);
        assert_int_equal(la, lb);
        assert_memory_equal(a, b, la);
}

static void test_empty_and_bad_fd(void **state)
{
        __attribute__((cleanup(initramfs_freep))) struct initramfs *ir = initramfs_new();
        __attribute__((cleanup(archive_read_freep))) struct archive *a = archive_read_new();
        struct archive_entry *entry;
        struct mlvm_err e = { 0 };
        size_t len;

        _cleanup_free_ char *buf = write_archive(ir, &len);
        assert_int_equal(archive_read_support_format_cpio(a), ARCHIVE_OK);
        assert_int_equal(archive_read_open_memory(a, buf, len), ARCHIVE_OK);
        assert_int_equal(archive_read_next_header(a, &entry), ARCHIVE_EOF);

        /* A descriptor that cannot be written: an error, not a short archive. */
        _cleanup_close_ int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        assert_int_equal(initramfs_add_file(ir, "init", 0755, INIT, sizeof(INIT) - 1), 0);
        assert_int_equal(initramfs_write(ir, fd, &e), -EIO);
        assert_true(strstartswith(e.msg, "initramfs: "));
        initramfs_free(NULL);   /* destructors accept NULL */
}

int main(void)
{
        static const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_read_back),
                cmocka_unit_test(test_reproducible),
                cmocka_unit_test(test_rejects),
                cmocka_unit_test(test_empty_and_bad_fd),
        };
        return cmocka_run_group_tests_name("initramfs", tests, NULL, NULL);
}
