/* test-run-filter.c: `ps --filter` parsing and matching
 * (src/lib/run/run-filter.c): every malformed spec is refused with its
 * one-line reason; states, groups and name patterns select what they say. */
#include "mlvm-build.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "run-filter.h"
#include "util.h"

static void refused(const char *spec, const char *msg)
{
        struct run_filter f = { 0 };
        struct mlvm_err e = { 0 };
        assert_int_equal(run_filter_add(&f, spec, &e), -EINVAL);
        assert_string_equal(e.msg, msg);
        run_filter_clear(&f);
}

static void test_bad_specs(void **state)
{
        refused("", "empty filter: expected KEY=VALUE (state, name)");
        refused("state", "state: expected KEY=VALUE (state, name)");
        refused("=ready", "=ready: expected KEY=VALUE (state, name)");
        refused("state=", "state: expected a value of 1 to 128 characters");
        refused("state=runing", "state=runing: unknown state (starting, ready, exited, failed, stopped, live, ended)");
        refused("status=ready", "status: unknown filter key (state, name)");
        refused("state=ready,", "state=ready,: ends with a comma");
        refused("state=ready,,name=a", ": expected KEY=VALUE (state, name)");
}

static bool match(const char *spec, const char *name, const char *st)
{
        struct run_filter f = { 0 };
        struct mlvm_err e = { 0 };
        assert_int_equal(run_filter_add(&f, spec, &e), 0);
        bool r = run_filter_match(&f, name, st);
        run_filter_clear(&f);
        return r;
}

static void test_match(void **state)
{
        assert_true(match("state=ready", "a", "ready"));
        assert_false(match("state=ready", "a", "exited"));
        assert_true(match("state=exited,state=failed", "a", "failed"));
        assert_true(match("state=failed", "a", "failed (monitor gone)"));
        assert_true(match("state=live", "a", "starting"));
        assert_false(match("state=live", "a", "stopped"));
        assert_true(match("state=ended", "a", "stopped"));
        assert_false(match("state=ended", "a", "ready"));
        assert_true(match("name=model-a", "model-a", "ready"));
        assert_false(match("name=model-a", "model-ab", "ready"));
        assert_true(match("name=model-*", "model-ab", "ready"));
        assert_true(match("name=x,name=exp-?", "exp-1", "ready"));
        /* Keys together: all must match. */
        assert_true(match("state=exited,name=exp-*", "exp-1", "exited"));
        assert_false(match("state=exited,name=exp-*", "exp-1", "ready"));
        assert_false(match("state=exited,name=exp-*", "model-a", "exited"));
}

static void test_repeated(void **state)
{
        struct run_filter f = { 0 };
        struct mlvm_err e = { 0 };
        assert_int_equal(run_filter_add(&f, "name=a", &e), 0);
        assert_false(run_filter_has_state(&f));
        assert_int_equal(run_filter_add(&f, "state=ended", &e), 0);
        assert_true(run_filter_has_state(&f));
        assert_true(run_filter_match(&f, "a", "exited"));
        assert_false(run_filter_match(&f, "b", "exited"));
        run_filter_clear(&f);
        for (int i = 0; i < RUN_FILTER_MAX; i++)
                assert_int_equal(run_filter_add(&f, "name=x", &e), 0);
        assert_int_equal(run_filter_add(&f, "name=x", &e), -EINVAL);
        assert_string_equal(e.msg, "more than 32 name filters");
        run_filter_clear(&f);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_bad_specs),
                cmocka_unit_test(test_match),
                cmocka_unit_test(test_repeated),
        };
        return cmocka_run_group_tests_name("run-filter", tests, NULL, NULL);
}
