/* cmd-down.c: mlvm down [NAME|RUN...]: stop runs and discard their disks;
 * without operands every running model of mlvm.yaml (run-batch.h). */
#include "mlvm-build.h"

#include "cleanup.h"
#include "cli.h"
#include "config.h"
#include "paths.h"
#include "run-batch.h"
#include "run-down.h"
#include "run.h"
#include "units.h"
#include "util.h"

/* Down REF; what happened goes to LIST (--json) or stdout. A failure is
 * printed as its own line, "mlvm: down: REF: WHY" when BATCH. */
static int down_one(struct cli *cli, const char *state, const char *ref, bool batch, json_object *list)
{
        struct mlvm_err e = { 0 };
        struct down_result res = { 0 };
        char id[RUN_ID_LEN + 1];
        bool ended;
        json_object *j = json_object_new_object();

        if (run_down_resolve(state, ref, id, &ended, &e) < 0 || (!ended && run_down(state, id, &res, &e) < 0)) {
                json_object_put(j);
                return batch ? cli_fail_for(cli, ref, &e) : cli_fail(cli, &e);
        }
        if (res.pool_restarted)
                fprintf(stderr, "mlvm: down: notice: storage pool %s was not active (was its directory removed?): "
                        "started it again; 'mlvm setup' uploads the stored images' volumes again\n", mlvm_pool_name());
        json_object_object_add(j, "run", json_object_new_string(id));
        json_object_object_add(j, "was_running", json_object_new_boolean(!ended && res.was_live));
        if (!ended) {
                json_object_object_add(j, "seconds", json_object_new_double(res.seconds));
                json_object_object_add(j, "record_removed", json_object_new_boolean(res.removed));
                json_object_object_add(j, "restart_cancelled", json_object_new_boolean(res.restart_cancelled));
                if (res.restarted_as[0])
                        json_object_object_add(j, "restarted_as", json_object_new_string(res.restarted_as));
        }
        if (!cli->json && cli->verbosity >= 0) {
                if (ended)
                        printf("%s: not running (last run %s)\n", ref, id);
                else
                        printf("%s: run %s %s in %.2f s\n", ref, id,
                               res.was_live ? "stopped" : res.removed ? "(failed to start) removed"
                               : res.restart_cancelled ? "ended, its restart cancelled"
                               : res.restarted_as[0] ? "ended; its restart stopped" : "cleaned up",
                               res.seconds);
        }
        json_object_array_add(list, j);
        return EXIT_OK;
}

static int run(struct cli *cli, void *opts, int argc, char **argv)
{
        _cleanup_free_ char *state = mlvm_state_dir();
        _cleanup_json_ json_object *list = json_object_new_array();
        int failed = 0;

        if (argc == 1) {
                /* One operand: its result alone, as an object. */
                int st = down_one(cli, state, argv[0], false, list);
                if (st == EXIT_OK && cli->json)
                        cli_print_json(json_object_array_get_idx(list, 0));
                return st;
        }
        if (argc > 1) {
                for (int i = 0; i < argc; i++)
                        failed += down_one(cli, state, argv[i], true, list) != EXIT_OK;
        } else {
                _cleanup_(mlvm_config_freep) struct mlvm_config *c = NULL;
                struct batch_run *runs = NULL;
                size_t n = 0;
                struct mlvm_err e = { 0 };
                if (mlvm_config_load(cli->file, &c, &e) < 0)
                        return cli_fail(cli, &e);
                (void)batch_down_select(state, cli->uri, c, &runs, &n);
                if (n == 0 && !cli->json && cli->verbosity >= 0)
                        printf("no model of %s is running\n", cli->file);
                for (size_t i = 0; i < n; i++)
                        failed += down_one(cli, state, runs[i].name, true, list) != EXIT_OK;
                free(runs);
        }
        if (cli->json)
                cli_print_json(list);
        /* Each failure had its line; the count says it was not all of them. */
        if (failed && !cli->json)
                cli_error(cli, "%d of %zu failed to stop", failed, json_object_array_length(list) + (size_t)failed);
        return failed ? EXIT_FAIL : EXIT_OK;
}

const struct verb verb_down = {
        .name = "down",
        .summary = "Stop runs: the agent syncs and powers off, then the guest and its disks are gone",
        .usage = "[NAME|RUN...]",
        .help = "  Without operands: every running model of mlvm.yaml (-f) on this connection. With\n"
                "  several, each is stopped in turn; one that fails is reported on its own line and\n"
                "  the others still stop; the exit status is then 1\n",
        .args = { .min = 0, .max = ARGS_ANY },
        .run = run,
};
