/* cmd-verify.c: mlvm verify RUN: check a run's signed provenance and that
 * its artifacts are still exactly what it says. */
#include "mlvm-build.h"

#include "cleanup.h"
#include "cli.h"
#include "paths.h"
#include "provenance.h"
#include "run.h"
#include "util.h"

static int run(struct cli *cli, void *opts, int argc, char **argv)
{
        _cleanup_free_ char *state = mlvm_state_dir();
        _cleanup_json_ json_object *st = NULL;
        struct provenance_result res;
        struct mlvm_err e = { 0 };
        char id[RUN_ID_LEN + 1];

        if (run_resolve(state, argv[0], id, &e) < 0 || provenance_verify_ex(state, id, &st, &res, &e) < 0)
                return cli_fail(cli, &e);
        if (cli->json) {
                _cleanup_json_ json_object *o = json_object_new_object();
                json_object_object_add(o, "run", json_object_new_string(id));
                json_object_object_add(o, "ok", json_object_new_boolean(true));
                json_object_object_add(o, "key", json_object_new_string(res.keyid));
                json_object_object_add(o, "host_key", json_object_new_boolean(res.host_key));
                json_object_object_add(o, "artifacts", json_object_new_int64((int64_t)res.n_artifacts));
                json_object_object_add(o, "statement", TAKE_PTR(st));
                cli_print_json(o);
        } else if (cli->verbosity >= 0)
                printf("run %s: provenance signed by %s key %s; %zu artifact%s match%s\n", id,
                       res.host_key ? "host" : "trusted", res.keyid, res.n_artifacts, res.n_artifacts == 1 ? "" : "s",
                       res.n_artifacts == 1 ? "es" : "");
        return EXIT_OK;
}

const struct verb verb_verify = {
        .name = "verify",
        .summary = "Check a run's signed provenance and that its artifacts still match it",
        .usage = "RUN [--json]",
        .help = "  RUN                 a name (its current run) or a run id; checks the DSSE signature\n"
                "                      of runs/RUN/provenance.json (host key or a trusted key), the\n"
                "                      in-toto statement, and every artifact's SHA-256; names the\n"
                "                      first file that differs\n",
        .args = { .min = 1, .max = 1, .name = "name or run id" },
        .run = run,
};
