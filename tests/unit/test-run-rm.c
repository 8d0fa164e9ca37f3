/* test-run-rm.c: what `mlvm prune` selects and when a run ended
 * (src/lib/run/run-rm.c), fed records as run.json holds them; and run_rm
 * on records in a temporary state directory: a live run is refused and
 * kept, an ended one goes with its name entry and artifacts. */
#include "mlvm-build.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "run-rm.h"
#include "util.h"

#define NOW 1000000.0

static json_object *rec(const char *text)
{
        json_object *o = json_tokener_parse(text);
        assert_non_null(o);
        return o;
}

static bool selects(const char *text, uint64_t until)
{
        json_object *o = rec(text);
        bool r = run_prune_selects(o, NOW, until);
        json_object_put(o);
        return r;
}

static void test_ended_at(void **state)
{
        double t = 0;
        json_object *o = rec("{\"state\":\"exited\",\"exited_at\":900.5,\"stopped_at\":10}");
        assert_true(run_ended_at(o, &t));
        assert_true(t == 900.5);   /* the end the run is in, not another stamp */
        json_object_put(o);
        o = rec("{\"state\":\"failed\",\"stopped_at\":77}");
        assert_true(run_ended_at(o, &t));
        assert_true(t == 77);
        json_object_put(o);
        o = rec("{\"state\":\"ready\",\"stopped_at\":77}");
        assert_false(run_ended_at(o, &t));
        json_object_put(o);
        o = rec("{\"state\":\"stopped\",\"stopped_at\":\"yesterday\"}");
        assert_false(run_ended_at(o, &t));
        json_object_put(o);
}

static void test_prune_all_ended(void **state)
{
        assert_true(selects("{\"state\":\"exited\",\"exited_at\":999999}", 0));
        assert_true(selects("{\"state\":\"failed\"}", 0));
        assert_true(selects("{\"state\":\"stopped\",\"stopped_at\":1}", 0));
        assert_false(selects("{\"state\":\"ready\"}", 0));
        assert_false(selects("{\"state\":\"starting\"}", 0));
        assert_false(selects("{\"state\":\"paused-by-a-newer-mlvm\"}", 0));
        assert_false(selects("{}", 0));
}

static void test_prune_until(void **state)
{
        /* Ended 3600 s before NOW: an hour or less selects it, more does not. */
        assert_true(selects("{\"state\":\"exited\",\"exited_at\":996400}", 3600));
        assert_true(selects("{\"state\":\"exited\",\"exited_at\":996400}", 60));
        assert_false(selects("{\"state\":\"exited\",\"exited_at\":996400}", 3601));
        /* No end stamp: counted from its creation; with neither, kept. */
        assert_true(selects("{\"state\":\"failed\",\"created_at\":1000}", 3600));
        assert_false(selects("{\"state\":\"failed\",\"created_at\":999000}", 3600));
        assert_false(selects("{\"state\":\"failed\"}", 3600));
        /* A live run, however old, never. */
        assert_false(selects("{\"state\":\"ready\",\"created_at\":1}", 60));
}

static bool retained(const char *yaml, const char *text)
{
        struct mlvm_config *c = NULL;
        assert_int_equal(mlvm_config_parse("t.yaml", "/tmp", yaml, strlen(yaml), &c, NULL), 0);
        json_object *o = rec(text);
        bool r = run_retention_selects(o, c, NOW);
        json_object_put(o);
        mlvm_config_free(c);
        return r;
}

static void test_retention(void **state)
{
        static const char day[] = "retention: 1d\nmodels:\n  m:\n    image: minimal\n"
                                  "experiments:\n  e:\n    image: minimal\n";
        static const char none[] = "models:\n  m:\n    image: minimal\n";
        /* Ended more than a day ago, a workload of the file: removed. */
        assert_true(retained(day, "{\"name\":\"m\",\"state\":\"stopped\",\"stopped_at\":900000}"));
        assert_true(retained(day, "{\"name\":\"e\",\"state\":\"exited\",\"exited_at\":913600}"));
        /* Less than a day ago: kept. */
        assert_false(retained(day, "{\"name\":\"m\",\"state\":\"stopped\",\"stopped_at\":913601}"));
        /* Another file's run, however old: kept. */
        assert_false(retained(day, "{\"name\":\"other\",\"state\":\"stopped\",\"stopped_at\":1}"));
        /* A live run, however old: kept. */
        assert_false(retained(day, "{\"name\":\"m\",\"state\":\"ready\",\"created_at\":1}"));
        /* No retention: nothing goes. */
        assert_false(retained(none, "{\"name\":\"m\",\"state\":\"stopped\",\"stopped_at\":1}"));
}

static void write_file(const char *path, const char *text)
{
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        fputs(text, f);
        fclose(f);
}

static void test_rm_refuses_live_removes_ended(void **state)
{
        char tmpl[] = "/tmp/test-run-rm.XXXXXX";
        char *dir = mkdtemp(tmpl);
        assert_non_null(dir);
        _cleanup_free_ char *runs = xasprintf("%s/runs", dir), *names = xasprintf("%s/names", dir);
        assert_int_equal(mkdir(runs, 0700), 0);
        assert_int_equal(mkdir(names, 0700), 0);
        static const char ids[2][RUN_ID_LEN + 1] = { "aaaa1111", "bbbb2222" };
        static const char *const states[] = { "ready", "exited" };
        for (int i = 0; i < 2; i++) {
                _cleanup_free_ char *d = xasprintf("%s/%s", runs, ids[i]), *j = xasprintf("%s/run.json", d);
                _cleanup_free_ char *t = xasprintf("{\"name\":\"m%d\",\"state\":\"%s\"}", i, states[i]);
                _cleanup_free_ char *n = xasprintf("%s/m%d", names, i), *nid = xasprintf("%s\n", ids[i]);
                assert_int_equal(mkdir(d, 0700), 0);
                write_file(j, t);
                write_file(n, nid);
        }
        _cleanup_free_ char *art = xasprintf("%s/%s/artifacts", runs, ids[1]), *af = xasprintf("%s/model.bin", art);
        assert_int_equal(mkdir(art, 0700), 0);
        write_file(af, "weights");

        struct rm_item *v = NULL;
        struct mlvm_err e = { 0 };
        assert_int_equal(run_rm(dir, ids, 2, "run.rm", &v, &e), 1);
        assert_false(v[0].removed);
        assert_int_equal(v[0].err.code, -EBUSY);
        assert_string_equal(v[0].err.msg, "run aaaa1111 is ready: stop it first (mlvm down aaaa1111)");
        assert_true(v[1].removed);
        assert_string_equal(v[1].name, "m1");
        rm_items_free(v, 2);

        struct stat st;
        _cleanup_free_ char *live = xasprintf("%s/%s/run.json", runs, ids[0]), *gone = xasprintf("%s/%s", runs, ids[1]);
        _cleanup_free_ char *n0 = xasprintf("%s/m0", names), *n1 = xasprintf("%s/m1", names);
        _cleanup_free_ char *log = xasprintf("%s/audit.log", dir);
        assert_int_equal(stat(live, &st), 0);
        assert_int_equal(stat(n0, &st), 0);
        assert_int_equal(stat(gone, &st), -1);
        assert_int_equal(stat(n1, &st), -1);
        assert_int_equal(stat(log, &st), 0);   /* the removal is audited */
        _cleanup_free_ char *cmd = xasprintf("rm -rf '%s'", dir);
        assert_int_equal(system(cmd), 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_ended_at),
                cmocka_unit_test(test_prune_all_ended),
                cmocka_unit_test(test_prune_until),
                cmocka_unit_test(test_retention),
                cmocka_unit_test(test_rm_refuses_live_removes_ended),
        };
        return cmocka_run_group_tests_name("run-rm", tests, NULL, NULL);
}
