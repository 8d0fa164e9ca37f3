/* test-suggest.c: "did you mean" by edit distance (src/base/suggest.c). */
#include "mlvm-build.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "suggest.h"
#include "util.h"

static const char *const verbs[] = { "artifacts", "audit", "config", "down", "exec", "image", "info",
                                     "inspect", "key", "logs", "ps", "run", "secret", "setup", "up", "version" };

static const char *near(const char *w)
{
        return suggest_word(w, verbs, ARRAY_SIZE(verbs));
}

static void test_close(void **state)
{
        assert_string_equal(near("lgos"), "logs");        /* two letters swapped: one edit */
        assert_string_equal(near("dwn"), "down");         /* one letter left out */
        assert_string_equal(near("verison"), "version");
        assert_string_equal(near("imagee"), "image");
        assert_string_equal(near("artefacts"), "artifacts");
        assert_string_equal(near("setpu"), "setup");
}

static void test_far(void **state)
{
        /* Nothing close: no suggestion rather than a misleading one. */
        assert_null(near("frobnicate"));
        assert_null(near("rm"));          /* 2 edits from ps, run and up: too far for 2 letters */
        assert_null(near("colour"));
        assert_null(near(""));
        /* The word itself is not a suggestion. */
        assert_null(near("logs"));
        char longw[200];
        memset(longw, 'a', sizeof(longw) - 1);
        longw[sizeof(longw) - 1] = '\0';
        assert_null(near(longw));
}

static void test_keys(void **state)
{
        static const char *const keys[] = { "image", "vcpus", "memory", "memory_limit", "transport", "timeout" };
        assert_string_equal(suggest_word("memroy", keys, ARRAY_SIZE(keys)), "memory");
        assert_string_equal(suggest_word("vcpu", keys, ARRAY_SIZE(keys)), "vcpus");
        assert_string_equal(suggest_word("memory_limt", keys, ARRAY_SIZE(keys)), "memory_limit");
        assert_string_equal(suggest_word("timeoute", keys, ARRAY_SIZE(keys)), "timeout");
        assert_null(suggest_word("cpus_max", keys, ARRAY_SIZE(keys)));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_close),
                cmocka_unit_test(test_far),
                cmocka_unit_test(test_keys),
        };
        return cmocka_run_group_tests_name("suggest", tests, NULL, NULL);
}
