/* test-err.c: the error convention (src/base/err.c): messages that
 * accumulate context, and the stable kinds --json errors carry. */
#include "mlvm-build.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "err.h"

static void test_kind(void **state)
{
        static const struct { int code; const char *kind; } cases[] = {
                { -ENOENT, "not-found" }, { -ESRCH, "not-found" },
                { -EINVAL, "invalid" }, { -EBADMSG, "invalid" }, { -EFBIG, "invalid" },
                { -EPERM, "denied" }, { -EACCES, "denied" },
                { -EEXIST, "conflict" }, { -EBUSY, "conflict" },
                { -ECONNREFUSED, "unavailable" }, { -ETIMEDOUT, "unavailable" },
                { -ENOTSUP, "unsupported" }, { -EPROTONOSUPPORT, "unsupported" },
                { -EIO, "failed" }, { 0, "failed" }, { -ENOMEM, "failed" },
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
                assert_string_equal(err_kind(cases[i].code), cases[i].kind);
}

static void test_prefix(void **state)
{
        struct mlvm_err e = { 0 };
        assert_int_equal(err_setx(&e, -ENOENT, "no such tag"), -ENOENT);
        assert_int_equal(err_prefix(&e, "image %s", "x"), -ENOENT);
        assert_string_equal(e.msg, "image x: no such tag");
        assert_string_equal(err_kind(e.code), "not-found");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_kind),
                cmocka_unit_test(test_prefix),
        };
        return cmocka_run_group_tests_name("err", tests, NULL, NULL);
}
