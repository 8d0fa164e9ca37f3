/* test-run-batch.c: which models `mlvm up` and `mlvm down` act on with
 * several names or none (src/lib/run/run-batch.c): every model in file
 * order, names in the order given and once each, a mistyped name or an
 * experiment refused before anything starts; down's live runs of the
 * file's models on one URI, from records in a temporary state directory. */
#include "mlvm-build.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "cleanup.h"
#include "run-batch.h"
#include "util.h"

static const char yaml[] = "models:\n"
                           "  b:\n"
                           "    image: minimal\n"
                           "  a:\n"
                           "    image: minimal\n"
                           "  c:\n"
                           "    image: minimal\n"
                           "experiments:\n"
                           "  exp-1:\n"
                           "    image: minimal\n";

static struct mlvm_config *load(const char *text)
{
        struct mlvm_config *c = NULL;
        struct mlvm_err e = { 0 };
        assert_int_equal(mlvm_config_parse("mlvm.yaml", "/tmp", text, strlen(text), &c, &e), 0);
        return c;
}

/* The names selected, space-separated, or the error message. */
static char *select_names(const struct mlvm_config *c, const char *const *names, size_t n)
{
        const struct mlvm_workload **sel = (const struct mlvm_workload **)0x1;
        struct mlvm_err e = { 0 };
        size_t k = 99;
        if (batch_up_select(c, "mlvm.yaml", (char *const *)names, n, &sel, &k, &e) < 0) {
                assert_true(sel == (const struct mlvm_workload **)0x1 && k == 99);   /* RET untouched */
                return xstrdup(e.msg);
        }
        char buf[256] = "";
        for (size_t i = 0; i < k; i++)
                text_set(buf + strlen(buf), sizeof(buf) - strlen(buf), "%s%s", i ? " " : "", sel[i]->name);
        free(sel);
        return xstrdup(buf);
}

static void test_up_select(void **state)
{
        _cleanup_(mlvm_config_freep) struct mlvm_config *c = load(yaml);
        _cleanup_free_ char *all = select_names(c, NULL, 0);
        assert_string_equal(all, "b a c");   /* every model, file order, no experiment */
        const char *two[] = { "c", "b", "c" };
        _cleanup_free_ char *given = select_names(c, two, 3);
        assert_string_equal(given, "c b");   /* the order given, once each */
        const char *typo[] = { "a", "bb" };
        _cleanup_free_ char *t = select_names(c, typo, 2);
        assert_string_equal(t, "mlvm.yaml: no model or experiment bb (did you mean b?)");
        const char *exp[] = { "a", "exp-1" };
        _cleanup_free_ char *x = select_names(c, exp, 2);
        assert_string_equal(x, "mlvm.yaml:9:3: experiments.exp-1 is an experiment: start it with `mlvm run exp-1`");
}

static void test_up_select_no_models(void **state)
{
        _cleanup_(mlvm_config_freep) struct mlvm_config *c = load("experiments:\n  e:\n    image: minimal\n");
        _cleanup_free_ char *none = select_names(c, NULL, 0);
        assert_string_equal(none, "mlvm.yaml: no models to start (experiments start with `mlvm run NAME`)");
}

static void write_file(const char *path, const char *text)
{
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        fputs(text, f);
        fclose(f);
}

static void record(const char *dir, const char *id, const char *name, const char *st, const char *uri)
{
        _cleanup_free_ char *d = xasprintf("%s/runs/%s", dir, id), *j = xasprintf("%s/run.json", d);
        _cleanup_free_ char *t = xasprintf("{\"name\":\"%s\",\"state\":\"%s\",\"uri\":\"%s\"}", name, st, uri);
        _cleanup_free_ char *n = xasprintf("%s/names/%s", dir, name), *nid = xasprintf("%s\n", id);
        assert_int_equal(mkdir(d, 0700), 0);
        write_file(j, t);
        write_file(n, nid);
}

static void test_down_select(void **state)
{
        char tmpl[] = "/tmp/test-run-batch.XXXXXX";
        char *dir = mkdtemp(tmpl);
        assert_non_null(dir);
        _cleanup_free_ char *runs = xasprintf("%s/runs", dir), *names = xasprintf("%s/names", dir);
        assert_int_equal(mkdir(runs, 0700), 0);
        assert_int_equal(mkdir(names, 0700), 0);
        record(dir, "aaaa1111", "a", "ready", "qemu:///system");
        record(dir, "bbbb2222", "b", "exited", "qemu:///system");          /* ended */
        record(dir, "cccc3333", "c", "starting", "qemu+tcp://h/system");   /* another connection */
        record(dir, "eeee5555", "exp-1", "ready", "qemu:///system");       /* an experiment */
        record(dir, "ffff6666", "other", "ready", "qemu:///system");       /* not in the file */
        _cleanup_(mlvm_config_freep) struct mlvm_config *c = load(yaml);
        struct batch_run *v = NULL;
        size_t n = 0;
        assert_int_equal(batch_down_select(dir, "qemu:///system", c, &v, &n), 0);
        assert_int_equal(n, 1);
        assert_string_equal(v[0].id, "aaaa1111");
        assert_string_equal(v[0].name, "a");
        free(v);
        assert_int_equal(batch_down_select(dir, "qemu+tcp://h/system", c, &v, &n), 0);
        assert_int_equal(n, 1);
        assert_string_equal(v[0].name, "c");
        free(v);
        _cleanup_free_ char *cmd = xasprintf("rm -rf '%s'", dir);
        assert_int_equal(system(cmd), 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_up_select),
                cmocka_unit_test(test_up_select_no_models),
                cmocka_unit_test(test_down_select),
        };
        return cmocka_run_group_tests_name("run-batch", tests, NULL, NULL);
}
