/* test-run-logs.c: the logs' write times (src/lib/run/run-logs.c): the
 * .times parser keeps what is well formed up to the first bad or torn
 * line, a byte's time is its chunk's, and --since reads durations and UTC
 * times only. */
#include "mlvm-build.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "run-logs.h"
#include "run.h"
#include "util.h"

static size_t parsed(const char *text)
{
        struct log_times lt;
        log_times_parse(text, strlen(text), &lt);
        size_t n = lt.n;
        log_times_clear(&lt);
        return n;
}

static void test_parse(void **state)
{
        assert_int_equal(parsed(""), 0);
        assert_int_equal(parsed("0 100.5\n12 101\n"), 2);
        assert_int_equal(parsed("0 100.5\n12 101"), 1);              /* torn last line */
        assert_int_equal(parsed("0 100\n5 x\n9 102\n"), 1);           /* bad time: stop there */
        assert_int_equal(parsed("10 100\n5 101\n"), 1);               /* offsets go back */
        assert_int_equal(parsed("-1 100\n"), 0);
        assert_int_equal(parsed("01 100\n"), 0);
        assert_int_equal(parsed("0 0\n"), 0);
        assert_int_equal(parsed("0 100 7\n"), 0);
}

static void test_time_at(void **state)
{
        struct log_times lt;
        double t = 0;
        const char *text = "0 100\n10 200\n25 300\n";
        log_times_parse(text, strlen(text), &lt);
        assert_true(log_times_at(&lt, 0, &t) && t == 100);
        assert_true(log_times_at(&lt, 9, &t) && t == 100);
        assert_true(log_times_at(&lt, 10, &t) && t == 200);
        assert_true(log_times_at(&lt, 24, &t) && t == 200);
        assert_true(log_times_at(&lt, 1000, &t) && t == 300);
        log_times_clear(&lt);
        text = "5 100\n";
        log_times_parse(text, strlen(text), &lt);
        assert_false(log_times_at(&lt, 4, &t));   /* before the first chunk recorded: unknown */
        log_times_clear(&lt);
}

static void test_since(void **state)
{
        double t = 0;
        assert_int_equal(logs_parse_since("10m", 10000, &t), 0);
        assert_true(t == 9400);
        assert_int_equal(logs_parse_since("2026-01-02T03:04:05Z", 0, &t), 0);
        assert_true(t == 1767323045);
        assert_int_equal(logs_parse_since("2026-01-02T03:04:05", 0, &t), -EINVAL);
        assert_int_equal(logs_parse_since("2026-01-02 03:04:05Z", 0, &t), -EINVAL);
        assert_int_equal(logs_parse_since("yesterday", 0, &t), -EINVAL);
        assert_int_equal(logs_parse_since("", 0, &t), -EINVAL);
        assert_int_equal(logs_parse_since("10", 0, &t), -EINVAL);
}

/* run_log_append (run.c) records each chunk's offset beside the log, and
 * nothing once the log is full. */
static void test_append_records_times(void **state)
{
        char tmpl[] = "/tmp/test-run-logs.XXXXXX";
        char *dir = mkdtemp(tmpl);
        assert_non_null(dir);
        _cleanup_free_ char *log = xasprintf("%s/output.log", dir), *times = xasprintf("%s.times", log);
        double before = run_now();
        run_log_append(log, "hello\n", 6, 1024);
        run_log_append(log, "", 0, 1024);
        run_log_append(log, "world\n", 6, 1024);
        run_log_append(log, "x", 1, 20);   /* a full log: nothing written, no time recorded */
        struct log_times lt = { 0 };
        assert_int_equal(log_times_load(log, &lt), 0);
        assert_int_equal(lt.n, 2);
        assert_true(lt.off[0] == 0 && lt.off[1] == 6);
        assert_true(lt.t[0] >= before - 1 && lt.t[1] <= run_now() + 1);
        log_times_clear(&lt);
        (void)unlink(times);
        (void)unlink(log);
        (void)rmdir(dir);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse),
                cmocka_unit_test(test_time_at),
                cmocka_unit_test(test_since),
                cmocka_unit_test(test_append_records_times),
        };
        return cmocka_run_group_tests_name("run-logs", tests, NULL, NULL);
}
