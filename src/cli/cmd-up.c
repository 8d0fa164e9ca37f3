/* cmd-up.c: mlvm up [NAME...]: start models from mlvm.yaml, each waited
 * for until its agent is ready; without operands every model of the file
 * (run-batch.h). */
#include "mlvm-build.h"

#include <sys/prctl.h>

#include "cleanup.h"
#include "cli.h"
#include "config.h"
#include "paths.h"
#include "run-batch.h"
#include "run-health.h"
#include "run-restart.h"
#include "run-up.h"
#include "units.h"
#include "util.h"

/* --wait-healthy's default deadline: generous, boots under TCG are slow. */
#define UP_HEALTH_TIMEOUT_S 900

struct up_cli {
        bool no_wait, publish_public, wait_healthy;
        unsigned timeout, health_timeout;
        const char *kernel_args, *accel, *restart_of;
        struct mlvm_publish publish[MLVM_CONFIG_MAX_PUBLISH];
        size_t n_publish;
};

static int on_opt(struct cli *cli, int c, const char *arg, void *u)
{
        struct up_cli *o = u;
        uint64_t v;
        switch (c) {
        case 'W': o->no_wait = true; return 0;
        case 'T':
                if (parse_uint(arg, 1, 3600, &v) < 0) {
                        cli_usage_error(cli, "--timeout %s: expected seconds, 1 to 3600", arg);
                        return -1;
                }
                o->timeout = (unsigned)v;
                return 0;
        case 'A': o->kernel_args = arg; return 0;
        case 'P':
                if (o->n_publish >= MLVM_CONFIG_MAX_PUBLISH) {
                        cli_usage_error(cli, "--publish: more than %d", MLVM_CONFIG_MAX_PUBLISH);
                        return -1;
                }
                if (mlvm_publish_parse(arg, &o->publish[o->n_publish]) < 0) {
                        cli_usage_error(cli, "--publish %s: expected [ADDR:]HOST_PORT:GUEST_PORT or unix:/PATH:GUEST_PORT",
                                        arg);
                        return -1;
                }
                o->n_publish++;
                return 0;
        case 'U': o->publish_public = true; return 0;
        case 'X': o->accel = arg; return 0;
        case 'H': o->wait_healthy = true; return 0;
        case 'D':
                if (parse_uint(arg, 1, 86400, &v) < 0) {
                        cli_usage_error(cli, "--health-timeout %s: expected seconds, 1 to 86400", arg);
                        return -1;
                }
                o->health_timeout = (unsigned)v;
                return 0;
        case 'R':
                if (!run_id_is_valid(arg)) {
                        cli_usage_error(cli, "--restart-of %s: expected a run id", arg);
                        return -1;
                }
                o->restart_of = arg;
                return 0;
        default: return -1;
        }
}

/* Start W; what happened goes to LIST (--json) or stdout. A failure is
 * its own line, "mlvm: up: NAME: WHY" when BATCH. */
static int up_one(struct cli *cli, const struct up_cli *o, const struct up_opts *base, const struct mlvm_workload *w,
                  bool batch, json_object *list)
{
        struct mlvm_err e = { 0 };
        struct up_result res = { 0 };
        enum mlvm_accel_request accel;

        if (cli_accel_request(cli, o->accel, w->accel, &accel) < 0)
                return EXIT_USAGE;
        struct up_opts uo = *base;
        uo.workload = w;
        uo.accel = accel;
        int ur = run_up(&uo, &res, &e);
        cli_print_notices(cli, res.notices, res.n_notices);
        if (ur < 0) {
                /* A restart that cannot start ends its chain (run-restart.h). */
                if (uo.restart_of && ur != -ECANCELED)
                        run_restart_abandon(base->state_dir, uo.restart_of, e.msg);
                return batch ? cli_fail_for(cli, w->name, &e) : cli_fail(cli, &e);
        }
        json_object *j = json_object_new_object();
        json_object_object_add(j, "name", json_object_new_string(w->name));
        json_object_object_add(j, "run", json_object_new_string(res.id));
        json_object_object_add(j, "ready", json_object_new_boolean(!o->no_wait));
        json_object_object_add(j, "ready_s", json_object_new_double(res.ready_s));
        json_object_object_add(j, "accel", json_object_new_string(mlvm_accel_to_string(res.accel)));
        json_object_array_add(list, j);
        if (!cli->json && cli->verbosity >= 0) {
                if (o->no_wait)
                        printf("%s: run %s started\n", w->name, res.id);
                else
                        printf("%s: run %s ready in %.2f s\n", w->name, res.id, res.ready_s);
                fflush(stdout);
        }
        return EXIT_OK;
}

/* Without operands a running model is left as it is, as Compose's up does. */
static bool already_running(struct cli *cli, const char *state, const struct mlvm_workload *w, json_object *list)
{
        char id[RUN_ID_LEN + 1];
        if (!run_name_is_live(state, w->name, id))
                return false;
        json_object *j = json_object_new_object();
        json_object_object_add(j, "name", json_object_new_string(w->name));
        json_object_object_add(j, "run", json_object_new_string(id));
        json_object_object_add(j, "already_running", json_object_new_boolean(true));
        json_object_array_add(list, j);
        if (!cli->json && cli->verbosity >= 0)
                printf("%s: already running as run %s\n", w->name, id);
        return true;
}

/* --wait-healthy: every model of LIST (started or already running). */
static int wait_healthy(struct cli *cli, const struct up_cli *o, const char *state, json_object *list)
{
        size_t n = json_object_array_length(list);
        _cleanup_free_ char (*ids)[RUN_ID_LEN + 1] = xcalloc(n ? n : 1, sizeof(*ids));
        _cleanup_free_ const char **names = xcalloc(n ? n : 1, sizeof(*names));
        struct mlvm_err e = { 0 };

        for (size_t i = 0; i < n; i++) {
                json_object *j = json_object_array_get_idx(list, i);
                (void)snprintf(ids[i], sizeof(ids[i]), "%s", json_str(j, "run") ?: "");
                names[i] = json_str(j, "name") ?: "";
        }
        usec_t deadline = now_usec() + (usec_t)(o->health_timeout ? o->health_timeout : UP_HEALTH_TIMEOUT_S) * USEC_PER_SEC;
        if (run_health_wait(state, ids, names, n, deadline, &e) < 0)
                return cli_fail(cli, &e), -1;
        for (size_t i = 0; i < n; i++)
                json_object_object_add(json_object_array_get_idx(list, i), "healthy", json_object_new_boolean(1));
        if (!cli->json && cli->verbosity >= 0 && n)
                printf("%zu model%s healthy\n", n, n == 1 ? "" : "s");
        return 0;
}

static int run(struct cli *cli, void *opts, int argc, char **argv)
{
        struct up_cli *o = opts;
        _cleanup_(mlvm_config_freep) struct mlvm_config *c = NULL;
        _cleanup_free_ char *state = mlvm_state_dir();
        _cleanup_free_ const struct mlvm_workload **sel = NULL;
        _cleanup_json_ json_object *list = json_object_new_array();
        struct mlvm_err e = { 0 };
        size_t n = 0;
        int failed = 0;

        if (!o->timeout) {
                const char *env = getenv("MLVM_BOOT_TIMEOUT");
                uint64_t v;
                if (env && parse_uint(env, 1, 3600, &v) == 0)
                        o->timeout = (unsigned)v;
        }
        unsigned revoke_ms = 0;
        {
                const char *env = getenv("MLVM_REVOKE_TIMEOUT_MS");
                uint64_t v;
                if (env && parse_uint(env, 100, 600000, &v) == 0)
                        revoke_ms = (unsigned)v;
        }
        /* Every name is checked before anything starts. */
        if (mlvm_config_load(cli->file, &c, &e) < 0 ||
            batch_up_select(c, cli->file, argv, (size_t)argc, &sel, &n, &e) < 0)
                return cli_fail(cli, &e);
        const bool batch = argc != 1;
        if (o->wait_healthy && o->no_wait)
                return cli_usage_error(cli, "--wait-healthy and --no-wait exclude each other"), EXIT_USAGE;
        if (o->health_timeout && !o->wait_healthy)
                return cli_usage_error(cli, "--health-timeout goes with --wait-healthy"), EXIT_USAGE;
        if (o->restart_of && argc != 1)
                return cli_usage_error(cli, "--restart-of goes with one model"), EXIT_USAGE;
        if (n > 1 && o->n_publish > 0)
                return cli_usage_error(cli, "--publish goes with one model, not %zu", n), EXIT_USAGE;
        struct up_opts base = {
                .state_dir = state, .uri = cli->uri, .pool_name = mlvm_pool_name(), .config = c,
                .boot_timeout_s = o->timeout, .kernel_args = o->kernel_args, .no_wait = o->no_wait,
                .revoke_timeout_ms = revoke_ms, .publish = o->publish, .n_publish = o->n_publish,
                .publish_public = o->publish_public, .restart_of = o->restart_of,
        };
        cli_apply_retention(cli, state, c);
        /* Credential values pass through this process: no core dump of it. */
        (void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
        /* One at a time, in order; a failure does not stop the others. */
        for (size_t i = 0; i < n; i++) {
                if (argc == 0 && already_running(cli, state, sel[i], list))
                        continue;
                int st = up_one(cli, o, &base, sel[i], batch, list);
                if (st == EXIT_USAGE)   /* --accel or $MLVM_ACCEL: the same for every model */
                        return st;
                failed += st != EXIT_OK;
                if (run_up_interrupted())   /* Ctrl-C: this one is undone, the rest do not start */
                        break;
        }
        if (o->wait_healthy && !run_up_interrupted() && wait_healthy(cli, o, state, list) < 0)
                failed++;
        if (cli->json && !batch && !failed)
                cli_print_json(json_object_array_get_idx(list, 0));
        else if (cli->json && batch)
                cli_print_json(list);
        /* Each failure had its line; the count says it was not all of them. */
        if (batch && failed && !cli->json)
                cli_error(cli, "%d of %zu models failed to start", failed, n);
        return failed ? EXIT_FAIL : EXIT_OK;
}

static const struct option options[] = {
        { "no-wait", no_argument, NULL, 'W' },
        { "timeout", required_argument, NULL, 'T' },
        { "kernel-args", required_argument, NULL, 'A' },
        { "publish", required_argument, NULL, 'P' },
        { "publish-public", no_argument, NULL, 'U' },
        { "accel", required_argument, NULL, 'X' },
        { "restart-of", required_argument, NULL, 'R' },
        { "wait-healthy", no_argument, NULL, 'H' },
        { "health-timeout", required_argument, NULL, 'D' },
        { NULL, 0, NULL, 0 },
};

const struct verb verb_up = {
        .name = "up",
        .summary = "Start models from mlvm.yaml and wait until they are ready (credentials in, workload started)",
        .usage = "[NAME...] [--no-wait] [--timeout SECONDS] [--accel auto|kvm|tcg] [--publish SPEC]... [--publish-public]\n"
                 "       [--wait-healthy [--health-timeout SECONDS]] [--kernel-args ARGS] [--restart-of RUNID]",
        .help = "      --no-wait       return once the guest and its monitor started\n"
                "      --timeout S     how long the agent has to say HELLO (default 60 under TCG, 20 with KVM;\n"
                "                      also $MLVM_BOOT_TIMEOUT)\n"
                "      --accel A       auto (default: KVM only where it is known to boot a guest), kvm (never\n"
                "                      falls back: fails in seconds with the reason) or tcg; also $MLVM_ACCEL\n"
                "                      and accel: in mlvm.yaml (this flag, then the variable, then the file)\n"
                "      --wait-healthy  then wait until every model is healthy (its healthcheck: in mlvm.yaml;\n"
                "                      ready is enough without one); exit 1 naming the model when one turns\n"
                "                      unhealthy, ends, or the deadline passes\n"
                "      --health-timeout S  --wait-healthy's deadline (default 900)\n"
                "      --publish SPEC  also publish [ADDR:]HOST_PORT:GUEST_PORT or unix:/PATH:GUEST_PORT\n"
                "      --publish-public  allow publishing on addresses other than loopback\n"
                "      --kernel-args A append A to the image's kernel command line (debugging boots)\n"
                "      --restart-of ID used by a run's monitor for restart: in mlvm.yaml: start NAME again\n"
                "                      as the next run of the chain, if run ID's restart is still pending\n"
                "  Without NAME: every model of the file, in file order; those already running are left\n"
                "  as they are. Each name is checked before anything starts. Models start one at a time;\n"
                "  one that fails is undone, reported on its own line, and the others still start; the\n"
                "  exit status is then 1. --publish goes with one model\n"
                "  Ctrl-C (SIGINT, SIGTERM, SIGHUP) before ready undoes the run being started, leaving\n"
                "  nothing, and starts no other (exit status 1)\n"
                "  $MLVM_REVOKE_TIMEOUT_MS: how long down waits for the agent to confirm that the run's\n"
                "  credentials are gone before destroying the domain anyway (default 2000)\n",
        .options = options,
        .on_opt = on_opt,
        .opts_size = sizeof(struct up_cli),
        .args = { .min = 0, .max = ARGS_ANY },
        .run = run,
};
