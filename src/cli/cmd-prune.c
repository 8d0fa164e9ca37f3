/* cmd-prune.c: mlvm prune [--until DURATION]: remove the records of the
 * runs on this connection that ended (at least DURATION ago); run-rm.h. */
#include "mlvm-build.h"

#include "cleanup.h"
#include "cli.h"
#include "paths.h"
#include "run-rm.h"
#include "units.h"
#include "util.h"
#include "virt.h"

struct prune_opts {
        const char *until;
};

static int on_opt(struct cli *cli, int c, const char *arg, void *u)
{
        struct prune_opts *o = u;
        uint64_t s;
        if (c != 'u')
                return -1;
        if (parse_duration(arg, &s) < 0) {
                char b[SHOWN_MAX];
                cli_usage_error(cli, "--until %s: not a duration (e.g. 30m, 12h, 7d)", shown(arg, b));
                return -1;
        }
        o->until = arg;
        return 0;
}

static int run(struct cli *cli, void *opts, int argc, char **argv)
{
        const struct prune_opts *o = opts;
        _cleanup_free_ char *state = mlvm_state_dir();
        struct mlvm_err e = { 0 };
        struct rm_item *v = NULL;
        uint64_t until = 0;
        size_t n = 0, removed = 0;
        int failed = 0;

        if (o->until)
                (void)parse_duration(o->until, &until);   /* checked by on_opt */
        if (virt_uri_check(cli->uri, &e) < 0)
                return cli_fail(cli, &e);
        int r = run_prune(state, cli->uri, until, &v, &n, &e);
        if (r < 0 && !v)
                return cli_fail(cli, &e);
        failed += cli_print_removed(cli, v, n, &removed);
        rm_items_free(v, n);
        if (!cli->json && cli->verbosity >= 0) {
                char d[32] = "";
                if (until)
                        format_duration(until, d, sizeof(d));
                printf("prune: removed %zu run%s%s%s%s\n", removed, removed == 1 ? "" : "s",
                       until ? " that ended more than " : " that ended", d, until ? " ago" : "");
        }
        if (r < 0)
                return cli_fail(cli, &e);
        return failed ? EXIT_FAIL : EXIT_OK;
}

static const struct option options[] = {
        { "until", required_argument, NULL, 'u' },
        { NULL, 0, NULL, 0 },
};

const struct verb verb_prune = {
        .name = "prune",
        .summary = "Remove the records of the runs on this connection that ended (--until: that long ago)",
        .usage = "[--until DURATION] [--json]",
        .help = "      --until DURATION  only runs that ended at least DURATION ago (30m, 12h, 7d;\n"
                "                      default: every run that ended)\n"
                "Live runs are never touched. One audit event, run.prune, lists the runs removed.\n"
                "retention: DURATION in mlvm.yaml does this for a file's runs at each up and run.\n",
        .options = options,
        .on_opt = on_opt,
        .opts_size = sizeof(struct prune_opts),
        .args = { .min = 0, .max = 0 },
        .run = run,
};
