/* cmd-rm.c: mlvm rm NAME|RUN...: remove the records of runs that ended
 * (run-rm.h); a live run is refused with one line naming it. */
#include "mlvm-build.h"

#include "cleanup.h"
#include "cli.h"
#include "paths.h"
#include "run-rm.h"
#include "util.h"

int cli_print_removed(const struct cli *cli, const struct rm_item *v, size_t n, size_t *ret_removed)
{
        _cleanup_json_ json_object *list = json_object_new_array();
        size_t removed = 0;
        int failed = 0;
        for (size_t i = 0; i < n; i++) {
                char b[SHOWN_MAX];
                if (!v[i].removed) {
                        cli_error_as(cli, v[i].err.code, "%s", v[i].err.msg);
                        failed++;
                        continue;
                }
                removed++;
                if (cli->json) {
                        json_object *o = json_object_new_object();
                        json_object_object_add(o, "run", json_object_new_string(v[i].id));
                        json_object_object_add(o, "name", json_object_new_string(v[i].name));
                        json_object_object_add(o, "state", json_object_new_string(v[i].state));
                        json_object_array_add(list, o);
                } else if (cli->verbosity >= 0)
                        printf("removed run %s (%s, %s)\n", v[i].id, shown(v[i].name, b), v[i].state);
        }
        if (cli->json)
                cli_print_json(list);
        if (ret_removed)
                *ret_removed = removed;
        return failed;
}

static int run(struct cli *cli, void *opts, int argc, char **argv)
{
        _cleanup_free_ char *state = mlvm_state_dir();
        char (*ids)[RUN_ID_LEN + 1] = xcalloc((size_t)argc, sizeof(*ids));
        struct rm_item *v = NULL;
        struct mlvm_err e = { 0 };
        size_t n = 0;
        int failed = 0;

        for (int i = 0; i < argc; i++) {
                struct mlvm_err re = { 0 };
                if (run_resolve(state, argv[i], ids[n], &re) < 0) {
                        cli_error_as(cli, re.code, "%s", re.msg);
                        failed++;
                        continue;
                }
                bool dup = false;   /* a name and its run id: once */
                for (size_t j = 0; j < n; j++)
                        dup |= streq(ids[j], ids[n]);
                n += !dup;
        }
        int r = run_rm(state, (const char (*)[RUN_ID_LEN + 1])ids, n, "run.rm", &v, &e);
        free(ids);
        if (r < 0 && !v)
                return cli_fail(cli, &e);
        failed += cli_print_removed(cli, v, n, NULL);
        rm_items_free(v, n);
        if (r < 0)   /* removed, but the audit event could not be written */
                return cli_fail(cli, &e);
        return failed ? EXIT_FAIL : EXIT_OK;
}

const struct verb verb_rm = {
        .name = "rm",
        .summary = "Remove the records of runs that ended: run.json, logs, artifacts, provenance",
        .usage = "NAME|RUN... [--json]",
        .help = "A live run is refused (stop it with mlvm down first), one line each; the others still go.\n"
                "Exit status 1 when any was refused. One audit event, run.rm, lists the runs removed.\n",
        .args = { .min = 1, .max = ARGS_ANY, .name = "name or run id" },
        .run = run,
};
