/* test-digest.c: SHA-256 of memory and of open files (src/base/digest.c): the
 * FIPS 180-2 vectors, the fd variants against the memory one, the copy,
 * the size cap and the hex check that guards every digest read from input. */
#include "mlvm-build.h"

#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "digest.h"
#include "util.h"

#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define ABC_SHA256 "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
/* FIPS 180-2 appendix B.2: two blocks. */
#define ABCDB "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"
#define ABCDB_SHA256 "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"

static void test_vectors(void **state)
{
        char hex[SHA256_HEX_LEN + 1];

        memset(hex, 'x', sizeof(hex));
        sha256_hex("", 0, hex);
        assert_string_equal(hex, EMPTY_SHA256);
        sha256_hex("abc", 3, hex);
        assert_string_equal(hex, ABC_SHA256);
        sha256_hex(ABCDB, strlen(ABCDB), hex);
        assert_string_equal(hex, ABCDB_SHA256);
        /* Bytes, not a C string: a NUL counts. */
        sha256_hex("abc", 4, hex);
        assert_string_not_equal(hex, ABC_SHA256);
}

struct tmp {
        char path[64];
        int fd;
};

static void tmp_open(struct tmp *t)
{
        (void)snprintf(t->path, sizeof(t->path), "/tmp/mlvm-test-digest-XXXXXX");
        t->fd = mkostemp(t->path, O_CLOEXEC);
        assert_true(t->fd >= 0);
}

static void tmp_close(struct tmp *t)
{
        assert_int_equal(close(t->fd), 0);
        assert_int_equal(unlink(t->path), 0);
}

static void write_all(int fd, const void *buf, size_t len)
{
        assert_int_equal(write(fd, buf, len), (ssize_t)len);
}

/* 3 MiB + 17 bytes: more than one of the 1 MiB chunks read at a time. */
#define BIG (3 * 1024 * 1024 + 17)

static void test_fd_and_copy(void **state)
{
        _cleanup_free_ uint8_t *data = xmalloc(BIG);
        _cleanup_free_ char *copied = NULL;
        char want[SHA256_HEX_LEN + 1], hex[SHA256_HEX_LEN + 1], hex2[SHA256_HEX_LEN + 1];
        uint64_t size = 0, size2 = 0;
        struct tmp in, out;
        size_t len;

        for (size_t i = 0; i < BIG; i++)
                data[i] = (uint8_t)(i ^ (i >> 8) ^ (i >> 16));
        sha256_hex(data, BIG, want);
        tmp_open(&in);
        tmp_open(&out);
        write_all(in.fd, data, BIG);

        assert_int_equal(lseek(in.fd, 0, SEEK_SET), 0);
        assert_int_equal(sha256_fd(in.fd, UINT64_MAX, &size, hex), 0);
        assert_string_equal(hex, want);
        assert_true(size == BIG);

        assert_int_equal(lseek(in.fd, 0, SEEK_SET), 0);
        assert_int_equal(sha256_copy_fd(in.fd, out.fd, BIG, &size2, hex2), 0);
        assert_string_equal(hex2, want);
        assert_true(size2 == BIG);
        assert_int_equal(read_file_capped(out.path, BIG, &copied, &len), 0);
        assert_int_equal(len, BIG);
        assert_memory_equal(copied, data, BIG);

        /* From the current offset to the end; ret_size may be NULL. */
        assert_int_equal(lseek(in.fd, 1000, SEEK_SET), 1000);
        assert_int_equal(sha256_fd(in.fd, UINT64_MAX, NULL, hex), 0);
        sha256_hex(data + 1000, BIG - 1000, want);
        assert_string_equal(hex, want);
        /* At the end: the digest of nothing. */
        assert_int_equal(sha256_fd(in.fd, 0, &size, hex), 0);
        assert_string_equal(hex, EMPTY_SHA256);
        assert_true(size == 0);

        tmp_close(&in);
        tmp_close(&out);
}

static void test_cap(void **state)
{
        char hex[SHA256_HEX_LEN + 1] = "untouched";
        uint64_t size = 12345;
        struct tmp in, out;
        struct stat st;

        tmp_open(&in);
        tmp_open(&out);
        write_all(in.fd, "abc", 3);

        /* Exactly the cap is fine, one byte over is not. */
        assert_int_equal(lseek(in.fd, 0, SEEK_SET), 0);
        assert_int_equal(sha256_fd(in.fd, 3, &size, hex), 0);
        assert_string_equal(hex, ABC_SHA256);
        assert_true(size == 3);
        (void)snprintf(hex, sizeof(hex), "untouched");
        size = 12345;
        assert_int_equal(lseek(in.fd, 0, SEEK_SET), 0);
        assert_int_equal(sha256_fd(in.fd, 2, &size, hex), -EFBIG);
        assert_string_equal(hex, "untouched");
        assert_true(size == 12345);
        assert_int_equal(lseek(in.fd, 0, SEEK_SET), 0);
        assert_int_equal(sha256_copy_fd(in.fd, out.fd, 0, &size, hex), -EFBIG);
        assert_string_equal(hex, "untouched");
        /* Nothing past the cap reached the output. */
        assert_int_equal(fstat(out.fd, &st), 0);
        assert_int_equal(st.st_size, 0);

        /* A read error is reported, not hashed over. */
        assert_int_equal(sha256_fd(-1, UINT64_MAX, &size, hex), -EBADF);
        /* A negative output fd: hash only. */
        assert_int_equal(lseek(in.fd, 0, SEEK_SET), 0);
        assert_int_equal(sha256_copy_fd(in.fd, -1, UINT64_MAX, &size, hex), 0);
        assert_string_equal(hex, ABC_SHA256);
        tmp_close(&in);
        tmp_close(&out);
}

static void test_is_sha256_hex(void **state)
{
        assert_true(is_sha256_hex(EMPTY_SHA256));
        assert_true(is_sha256_hex("0000000000000000000000000000000000000000000000000000000000000000"));
        assert_false(is_sha256_hex(""));
        assert_false(is_sha256_hex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85"));    /* 63 */
        assert_false(is_sha256_hex(EMPTY_SHA256 "5"));                                                     /* 65 */
        assert_false(is_sha256_hex("E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855"));
        assert_false(is_sha256_hex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85g"));
        assert_false(is_sha256_hex("sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b78"));
        assert_false(is_sha256_hex(" 3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
        assert_false(is_sha256_hex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85\n"));
}

int main(void)
{
        static const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_vectors),
                cmocka_unit_test(test_fd_and_copy),
                cmocka_unit_test(test_cap),
                cmocka_unit_test(test_is_sha256_hex),
        };
        return cmocka_run_group_tests_name("digest", tests, NULL, NULL);
}
