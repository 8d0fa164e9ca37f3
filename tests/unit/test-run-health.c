/* test-run-health.c: a run's health from its probes and the HTTP verdict
 * (src/lib/run/run-health.c), and up --wait-healthy's wait on records in
 * a temporary state directory. */
#include "mlvm-build.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "run-health.h"
#include "util.h"

static void test_step(void **state)
{
        unsigned f = 0;
        const char *h = RUN_HEALTH_STARTING;

        /* Within the start period a starting run's failures do not count. */
        h = run_health_step(h, &f, false, true, 2);
        assert_string_equal(h, RUN_HEALTH_STARTING);
        assert_int_equal(f, 0);
        /* Past it they do: RETRIES in a row make it unhealthy. */
        h = run_health_step(h, &f, false, false, 2);
        assert_string_equal(h, RUN_HEALTH_STARTING);
        assert_int_equal(f, 1);
        h = run_health_step(h, &f, false, false, 2);
        assert_string_equal(h, RUN_HEALTH_UNHEALTHY);
        /* One success: healthy, the count starts again. */
        h = run_health_step(h, &f, true, false, 2);
        assert_string_equal(h, RUN_HEALTH_HEALTHY);
        assert_int_equal(f, 0);
        /* A healthy run's failures count even within the start period. */
        h = run_health_step(h, &f, false, true, 2);
        assert_string_equal(h, RUN_HEALTH_HEALTHY);
        assert_int_equal(f, 1);
        h = run_health_step(h, &f, true, false, 2);
        assert_int_equal(f, 0);
        h = run_health_step(h, &f, false, false, 1);
        assert_string_equal(h, RUN_HEALTH_UNHEALTHY);
}

static int verdict(const char *s, bool final)
{
        return run_health_http_verdict(s, strlen(s), final);
}

static void test_http_verdict(void **state)
{
        assert_int_equal(verdict("HTTP/1.0 200 OK\r\n", false), 1);
        assert_int_equal(verdict("HTTP/1.1 204\r\n", false), 1);
        assert_int_equal(verdict("HTTP/1.1 301 Moved\n", false), 1);
        assert_int_equal(verdict("HTTP/1.0 404 Not Found\r\n", false), 0);
        assert_int_equal(verdict("HTTP/1.0 500 Oops\r\n", false), 0);
        assert_int_equal(verdict("HTTP/1.0 199 Hm\r\n", false), 0);
        /* Not a status line. */
        assert_int_equal(verdict("HTTP/2 200\r\n", false), 0);
        assert_int_equal(verdict("HTTP/1.0 2000 OK\r\n", false), 0);
        assert_int_equal(verdict("HTTP/1.0  200 OK\r\n", false), 0);
        assert_int_equal(verdict("SSH-2.0-OpenSSH\r\n", false), 0);
        assert_int_equal(verdict("\n", false), 0);
        /* Incomplete: wait for more, unless the stream ended. */
        assert_int_equal(verdict("HTTP/1.0 200 OK", false), -EAGAIN);
        assert_int_equal(verdict("HTTP/1.0 200 OK", true), 0);
        assert_int_equal(verdict("", false), -EAGAIN);
        /* A line longer than what is read is never complete. */
        char big[RUN_HEALTH_READ_MAX];
        memset(big, 'x', sizeof(big));
        assert_int_equal(run_health_http_verdict(big, sizeof(big), false), 0);
}

static char dir[64];

static void put(const char *id, const char *text)
{
        json_object *o = json_tokener_parse(text);
        assert_non_null(o);
        _cleanup_free_ char *rd = run_dir(dir, id);
        assert_int_equal(mkdir_p(rd, 0700), 0);
        assert_int_equal(run_save(dir, id, o, NULL), 0);
        json_object_put(o);
}

static int setup(void **state)
{
        (void)snprintf(dir, sizeof(dir), "/tmp/test-run-health-XXXXXX");
        assert_non_null(mkdtemp(dir));
        return 0;
}

static int teardown(void **state)
{
        _cleanup_free_ char *cmd = xasprintf("rm -rf '%s'", dir);
        assert_int_equal(system(cmd), 0);
        return 0;
}

#define HC "\"config\":{\"healthcheck\":{\"tcp\":80}}"

static void test_wait(void **state)
{
        char ids[2][RUN_ID_LEN + 1] = { "aaaaaaaa", "bbbbbbbb" };
        const char *names[2] = { "a", "b" };
        struct mlvm_err e = { 0 };

        /* Both healthy (b without a healthcheck: ready is enough). up.lock
         * held by nobody and no monitor: the effective state would be
         * "failed (monitor gone)", so the records carry an up.lock held here. */
        put("aaaaaaaa", "{\"state\":\"ready\",\"health\":\"healthy\"," HC "}");
        put("bbbbbbbb", "{\"state\":\"ready\",\"config\":{}}");
        int la = -1, lb = -1;
        assert_int_equal(run_up_lock(dir, "aaaaaaaa", &la, NULL), 0);
        assert_int_equal(run_up_lock(dir, "bbbbbbbb", &lb, NULL), 0);
        assert_int_equal(run_health_wait(dir, ids, names, 2, now_usec() + USEC_PER_SEC, &e), 0);
        /* Unhealthy: the model and why. */
        put("aaaaaaaa", "{\"state\":\"ready\",\"health\":\"unhealthy\",\"health_error\":\"connection refused\"," HC "}");
        assert_int_equal(run_health_wait(dir, ids, names, 2, now_usec() + USEC_PER_SEC, &e), -EIO);
        assert_string_equal(e.msg, "a: run aaaaaaaa is unhealthy: connection refused");
        /* Still starting at the deadline. */
        put("aaaaaaaa", "{\"state\":\"ready\",\"health\":\"starting\"," HC "}");
        assert_int_equal(run_health_wait(dir, ids, names, 2, now_usec(), &e), -ETIMEDOUT);
        assert_string_equal(e.msg, "a: run aaaaaaaa not healthy in time");
        /* Ended first. */
        put("aaaaaaaa", "{\"state\":\"exited\"," HC "}");
        assert_int_equal(run_health_wait(dir, ids, names, 2, now_usec() + USEC_PER_SEC, &e), -EIO);
        assert_string_equal(e.msg, "a: run aaaaaaaa ended (exited) before it was healthy");
        close(la);
        close(lb);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_step),
                cmocka_unit_test(test_http_verdict),
                cmocka_unit_test_setup_teardown(test_wait, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
