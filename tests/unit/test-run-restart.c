/* test-run-restart.c: restart: in mlvm.yaml (src/lib/run/run-restart.c):
 * which ends restart under which policy, the backoff, and the marks in
 * the records of a temporary state directory: a restart claims the name
 * only while pending, a down cancels it, and after a claim the down finds
 * the run it restarted as. */
#include "mlvm-build.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "run-restart.h"
#include "util.h"

static void test_wanted(void **state)
{
        /* no: never. */
        assert_false(run_restart_wanted(MLVM_RESTART_NO, RUN_FAILED, true, 1, false, 0, 5));
        /* on-failure: a failed run or a non-zero exit, not a clean one. */
        assert_true(run_restart_wanted(MLVM_RESTART_ON_FAILURE, RUN_EXITED, true, 1, false, 0, 5));
        assert_true(run_restart_wanted(MLVM_RESTART_ON_FAILURE, RUN_FAILED, false, 0, false, 0, 5));
        assert_false(run_restart_wanted(MLVM_RESTART_ON_FAILURE, RUN_EXITED, true, 0, false, 0, 5));
        assert_false(run_restart_wanted(MLVM_RESTART_ON_FAILURE, RUN_STOPPED, false, 0, false, 0, 5));
        /* always: any end. */
        assert_true(run_restart_wanted(MLVM_RESTART_ALWAYS, RUN_EXITED, true, 0, false, 0, 5));
        assert_true(run_restart_wanted(MLVM_RESTART_ALWAYS, RUN_STOPPED, false, 0, false, 4, 5));
        /* Never after mlvm down, nor past the cap. */
        assert_false(run_restart_wanted(MLVM_RESTART_ALWAYS, RUN_STOPPED, false, 0, true, 0, 5));
        assert_false(run_restart_wanted(MLVM_RESTART_ON_FAILURE, RUN_FAILED, true, 1, true, 0, 5));
        assert_false(run_restart_wanted(MLVM_RESTART_ALWAYS, RUN_EXITED, true, 1, false, 5, 5));
        assert_false(run_restart_wanted(MLVM_RESTART_ON_FAILURE, RUN_FAILED, true, 1, false, 1000, 1));
}

static void test_backoff(void **state)
{
        const usec_t s = USEC_PER_SEC;
        assert_true(run_restart_backoff(s, 0) == s);
        assert_true(run_restart_backoff(s, 1) == 2 * s);
        assert_true(run_restart_backoff(s, 5) == 32 * s);
        assert_true(run_restart_backoff(s, 6) == 60 * s);          /* capped */
        assert_true(run_restart_backoff(s, 999) == 60 * s);        /* no overflow */
        assert_true(run_restart_backoff(45 * s, 1) == 60 * s);
        assert_true(run_restart_backoff(600 * s, 0) == 600 * s);   /* a longer delay is its own cap */
        assert_true(run_restart_backoff(600 * s, 3) == 600 * s);
}

struct env {
        char *dir;
};

static void put_run(const char *dir, const char *id, const char *text)
{
        struct mlvm_err e = { 0 };
        json_object *o = json_tokener_parse(text);
        assert_non_null(o);
        _cleanup_free_ char *rd = run_dir(dir, id);
        assert_int_equal(mkdir_p(rd, 0700), 0);
        assert_int_equal(run_save(dir, id, o, &e), 0);
        json_object_put(o);
}

static bool field_true(const char *dir, const char *id, const char *key)
{
        json_object *o = NULL, *x;
        assert_int_equal(run_load(dir, id, &o, NULL), 0);
        bool r = json_object_object_get_ex(o, key, &x) && json_object_get_boolean(x);
        json_object_put(o);
        return r;
}

static int setup(void **state)
{
        char tmpl[] = "/tmp/test-run-restart-XXXXXX";
        struct env *v = xcalloc(1, sizeof(*v));
        assert_non_null(mkdtemp(tmpl));
        v->dir = xstrdup(tmpl);
        put_run(v->dir, "aaaaaaaa", "{\"name\":\"m\",\"state\":\"failed\",\"restart_pending\":true,\"restart_count\":2}");
        assert_int_equal(run_name_set(v->dir, "m", "aaaaaaaa", NULL), 0);
        *state = v;
        return 0;
}

static int teardown(void **state)
{
        struct env *v = *state;
        _cleanup_free_ char *cmd = xasprintf("rm -rf '%s'", v->dir);
        assert_int_equal(system(cmd), 0);
        free(v->dir);
        free(v);
        return 0;
}

static void test_claim_then_down(void **state)
{
        struct env *v = *state;
        struct mlvm_err e = { 0 };
        char next[RUN_ID_LEN + 1] = "", id[RUN_ID_LEN + 1];
        unsigned count = 0;
        bool cancelled = true;

        assert_true(run_restart_pending(v->dir, "m", id));
        assert_string_equal(id, "aaaaaaaa");
        assert_int_equal(run_restart_claim(v->dir, "aaaaaaaa", &count, &e), 0);
        assert_int_equal(count, 3);
        /* The next run takes the name, as up_claim does. */
        put_run(v->dir, "bbbbbbbb", "{\"name\":\"m\",\"state\":\"starting\",\"restart_of\":\"aaaaaaaa\"}");
        assert_int_equal(run_name_set(v->dir, "m", "bbbbbbbb", NULL), 0);
        assert_int_equal(run_restart_claimed(v->dir, "aaaaaaaa", "bbbbbbbb", &e), 0);
        assert_false(field_true(v->dir, "aaaaaaaa", "restart_pending"));
        assert_false(run_restart_pending(v->dir, "m", id));
        /* A second claim of the same restart is refused. */
        assert_int_equal(run_restart_claim(v->dir, "aaaaaaaa", &count, &e), -ECANCELED);
        /* down of the ended run finds the one it restarted as. */
        assert_int_equal(run_restart_cancel(v->dir, "aaaaaaaa", &cancelled, next, &e), 1);
        assert_false(cancelled);
        assert_string_equal(next, "bbbbbbbb");
}

static void test_down_cancels(void **state)
{
        struct env *v = *state;
        struct mlvm_err e = { 0 };
        char next[RUN_ID_LEN + 1] = "";
        unsigned count = 0;
        bool cancelled = false;

        assert_int_equal(run_restart_cancel(v->dir, "aaaaaaaa", &cancelled, next, &e), 0);
        assert_true(cancelled);
        assert_string_equal(next, "");
        assert_true(field_true(v->dir, "aaaaaaaa", "restart_cancelled"));
        /* The restart that comes after the down does not start. */
        assert_int_equal(run_restart_check(v->dir, "aaaaaaaa", &e), -ECANCELED);
        assert_string_equal(e.msg, "restart of run aaaaaaaa: cancelled by mlvm down");
        assert_int_equal(run_restart_claim(v->dir, "aaaaaaaa", &count, &e), -ECANCELED);
}

static void test_name_taken(void **state)
{
        struct env *v = *state;
        struct mlvm_err e = { 0 };
        unsigned count = 0;

        /* mlvm up NAME by hand during the backoff: the restart gives way. */
        assert_int_equal(run_name_set(v->dir, "m", "cccccccc", NULL), 0);
        assert_int_equal(run_restart_claim(v->dir, "aaaaaaaa", &count, &e), -ECANCELED);
        assert_string_equal(e.msg, "restart of run aaaaaaaa: m was started again or removed since");
}

static void test_abandon(void **state)
{
        struct env *v = *state;
        char id[RUN_ID_LEN + 1];

        run_restart_abandon(v->dir, "aaaaaaaa", "image gone");
        assert_false(field_true(v->dir, "aaaaaaaa", "restart_pending"));
        assert_int_equal(run_name_get(v->dir, "m", id), -ENOENT);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_wanted),
                cmocka_unit_test(test_backoff),
                cmocka_unit_test_setup_teardown(test_claim_then_down, setup, teardown),
                cmocka_unit_test_setup_teardown(test_down_cancels, setup, teardown),
                cmocka_unit_test_setup_teardown(test_name_taken, setup, teardown),
                cmocka_unit_test_setup_teardown(test_abandon, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
