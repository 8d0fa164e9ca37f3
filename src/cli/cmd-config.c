/* cmd-config.c: mlvm config [check]: validate mlvm.yaml and print it
 * normalized (defaults filled in), as YAML or --json. */
#include "mlvm-build.h"

#include "cleanup.h"
#include "cli.h"
#include "config.h"
#include "run-up.h"

static int run(struct cli *cli, void *opts, int argc, char **argv)
{
        _cleanup_(mlvm_config_freep) struct mlvm_config *c = NULL;
        struct mlvm_err e = { 0 };
        bool check_only = argc > 0;

        if (mlvm_config_load(cli->file, &c, &e) < 0)
                return cli_fail(cli, &e);
        /* check: also what up and run would refuse in the file itself
         * (their own decision, up_check_workload), so that ok means ok. */
        for (size_t i = 0; check_only && i < c->n; i++)
                if (up_check_workload(c, &c->w[i], &e) < 0)
                        return cli_fail(cli, &e);
        if (check_only) {
                if (cli->verbosity >= 0 && !cli->json)
                        printf("%s: ok (%zu model%s and experiment%s)\n", cli->file, c->n, c->n == 1 ? "" : "s",
                               c->n == 1 ? "" : "s");
                if (!cli->json)
                        return EXIT_OK;
        }
        _cleanup_json_ json_object *j = mlvm_config_to_json(c);
        if (cli->json)
                cli_print_json(j);
        else
                cli_print_yaml(j);
        return EXIT_OK;
}

const struct verb verb_config = {
        .name = "config",
        .summary = "Validate mlvm.yaml and print it normalized (defaults filled in)",
        .usage = "[check] [-f FILE] [--json]",
        .help = "  check               only validate, also what up and run would refuse in the file (a\n"
                "                      model's timeout, transport: vsock); print one line (nothing with -q)\n",
        .args = { .min = 0, .max = 1, .word = "check" },
        .run = run,
};
