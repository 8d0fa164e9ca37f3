/* cmd-down.c: mlvm down NAME|RUN: stop a run and discard its disks. */
#include "mlvm-build.h"

#include "cleanup.h"
#include "cli.h"
#include "paths.h"
#include "run-down.h"
#include "run.h"
#include "units.h"
#include "util.h"

static int run(struct cli *cli, void *opts, int argc, char **argv)
{
        _cleanup_free_ char *state = mlvm_state_dir();
        struct mlvm_err e = { 0 };
        struct down_result res = { 0 };
        char id[RUN_ID_LEN + 1];
        const char *ref = argv[0];

        /* A name means its current run; else a run id (prefix). A name
         * whose runs all ended is not running: down is idempotent. A name
         * or id never seen is a mistake, reported as one. */
        if (run_name_get(state, ref, id) < 0 && run_resolve_id(state, ref, id) < 0) {
                if (run_resolve(state, ref, id, &e) < 0)
                        return cli_fail(cli, &e);
                if (cli->json) {
                        _cleanup_json_ json_object *j = json_object_new_object();
                        json_object_object_add(j, "run", json_object_new_string(id));
                        json_object_object_add(j, "was_running", json_object_new_boolean(false));
                        cli_print_json(j);
                } else if (cli->verbosity >= 0)
                        printf("%s: not running (last run %s)\n", ref, id);
                return EXIT_OK;
        }
        if (run_down(state, id, &res, &e) < 0)
                return cli_fail(cli, &e);
        if (cli->json) {
                _cleanup_json_ json_object *j = json_object_new_object();
                json_object_object_add(j, "run", json_object_new_string(id));
                json_object_object_add(j, "was_running", json_object_new_boolean(res.was_live));
                json_object_object_add(j, "seconds", json_object_new_double(res.seconds));
                json_object_object_add(j, "record_removed", json_object_new_boolean(res.removed));
                cli_print_json(j);
        } else if (cli->verbosity >= 0)
                printf("%s: run %s %s in %.2f s\n", ref, id,
                       res.was_live ? "stopped" : res.removed ? "(failed to start) removed" : "cleaned up", res.seconds);
        return EXIT_OK;
}

const struct verb verb_down = {
        .name = "down",
        .summary = "Stop a run: the agent syncs and powers off, then the guest and its disks are gone",
        .usage = "NAME|RUN",
        .help = "",
        .args = { .min = 1, .max = 1, .name = "name or run id" },
        .run = run,
};
