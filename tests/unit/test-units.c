/* test-units.c: size, duration, integer and name parsers (src/units.c). */
#include "mlvm-build.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "units.h"
#include "util.h"

static void test_size_ok(void **state)
{
        static const struct { const char *s; uint64_t v; } ok[] = {
                { "1K", 1024 }, { "256M", 256ULL << 20 }, { "1G", 1ULL << 30 }, { "2T", 2ULL << 40 },
                { "512m", 512ULL << 20 }, { "0K", 0 }, { "16777215T", 16777215ULL << 40 },
        };
        for (size_t i = 0; i < ARRAY_SIZE(ok); i++) {
                uint64_t v = 1;
                assert_int_equal(parse_size(ok[i].s, &v), 0);
                assert_int_equal(v, ok[i].v);
        }
}

static void test_size_bad(void **state)
{
        static const char *const bad[] = {
                "", "M", "256", "256MB", "256 M", " 256M", "256M ", "-1M", "+1M", "1.5G", "0x10M",
                "010M", "1P", "1Mi", "1KK",
        };
        for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
                uint64_t v = 7;
                assert_int_equal(parse_size(bad[i], &v), -EINVAL);
                assert_int_equal(v, 7); /* ret_* untouched on failure */
        }
        uint64_t v = 7;
        assert_int_equal(parse_size("16777216T", &v), -ERANGE);
        assert_int_equal(parse_size("99999999999999999999K", &v), -ERANGE);
        assert_int_equal(v, 7);
}

static void test_size_format(void **state)
{
        static const struct { uint64_t v; const char *s; } f[] = {
                { 256ULL << 20, "256M" }, { 1ULL << 30, "1G" }, { 1536ULL << 10, "1536K" },
                { 3ULL << 40, "3T" }, { 1025ULL << 20, "1025M" },
        };
        char buf[32];
        for (size_t i = 0; i < ARRAY_SIZE(f); i++) {
                uint64_t back;
                format_size(f[i].v, buf, sizeof(buf));
                assert_string_equal(buf, f[i].s);
                assert_int_equal(parse_size(buf, &back), 0);
                assert_int_equal(back, f[i].v);
        }
}

static void test_duration(void **state)
{
        static const struct { const char *s; uint64_t v; const char *canon; } ok[] = {
                { "30s", 30, "30s" }, { "10m", 600, "10m" }, { "1h30m", 5400, "1h30m" },
                { "90m", 5400, "1h30m" }, { "2d", 172800, "2d" }, { "1d1h1m1s", 90061, "1d1h1m1s" },
                { "3600s", 3600, "1h" }, { "0s", 0, "0s" }, { "366d", 366 * 86400ULL, "366d" },
        };
        static const char *const bad[] = {
                "", "10", "s", "10x", "10m5h", "1s1s", "1h 30m", "-5s", "1.5h", "05s", "10S", "1m1h",
        };
        char buf[64];
        uint64_t v;

        for (size_t i = 0; i < ARRAY_SIZE(ok); i++) {
                assert_int_equal(parse_duration(ok[i].s, &v), 0);
                assert_int_equal(v, ok[i].v);
                format_duration(v, buf, sizeof(buf));
                assert_string_equal(buf, ok[i].canon);
        }
        for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
                assert_int_equal(parse_duration(bad[i], &v), -EINVAL);
        assert_int_equal(parse_duration("367d", &v), -ERANGE);
        assert_int_equal(parse_duration("99999999999999999999s", &v), -ERANGE);
}

static void test_uint(void **state)
{
        uint64_t v = 0;
        assert_int_equal(parse_uint("5", 1, 10, &v), 0);
        assert_int_equal(v, 5);
        assert_int_equal(parse_uint("0", 0, 10, &v), 0);
        assert_int_equal(parse_uint("11", 1, 10, &v), -ERANGE);
        assert_int_equal(parse_uint("0", 1, 10, &v), -ERANGE);
        assert_int_equal(parse_uint("05", 1, 10, &v), -EINVAL);
        assert_int_equal(parse_uint("5 ", 1, 10, &v), -EINVAL);
        assert_int_equal(parse_uint("", 1, 10, &v), -EINVAL);
        assert_int_equal(parse_uint("18446744073709551616", 0, UINT64_MAX, &v), -ERANGE);
        assert_int_equal(parse_uint("18446744073709551615", 0, UINT64_MAX, &v), 0);
        assert_true(v == UINT64_MAX);
}

static void test_names(void **state)
{
        assert_true(name_is_valid("model-a"));
        assert_true(name_is_valid("0"));
        assert_true(name_is_valid("a12345678901234567890123456789012345678901234567890123456789012"));
        assert_false(name_is_valid("a123456789012345678901234567890123456789012345678901234567890123"));
        assert_false(name_is_valid(""));
        assert_false(name_is_valid("-a"));
        assert_false(name_is_valid("A"));
        assert_false(name_is_valid("a_b"));
        assert_false(name_is_valid("a/b"));
        assert_false(name_is_valid("a<b"));
        assert_false(name_is_valid("a.b"));
        assert_true(env_name_is_valid("API_KEY"));
        assert_true(env_name_is_valid("_x1"));
        assert_false(env_name_is_valid("1X"));
        assert_false(env_name_is_valid("A-B"));
        assert_false(env_name_is_valid(""));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_size_ok),
                cmocka_unit_test(test_size_bad),
                cmocka_unit_test(test_size_format),
                cmocka_unit_test(test_duration),
                cmocka_unit_test(test_uint),
                cmocka_unit_test(test_names),
        };
        return cmocka_run_group_tests_name("units", tests, NULL, NULL);
}
