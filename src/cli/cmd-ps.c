/* cmd-ps.c: mlvm ps [--all] [--filter KEY=VALUE] [-q] [--json]: runs on
 * this libvirt connection; -q prints their ids only. */
#include "mlvm-build.h"

#include "cleanup.h"
#include "cli.h"
#include "paths.h"
#include "run-filter.h"
#include "run-rm.h"
#include "run.h"
#include "units.h"
#include "util.h"
#include "virt.h"

struct ps_opts {
        bool all;
        struct run_filter filter;
};

static int on_opt(struct cli *cli, int c, const char *arg, void *u)
{
        struct ps_opts *o = u;
        struct mlvm_err e = { 0 };
        switch (c) {
        case 'a': o->all = true; return 0;
        case 'F':
                if (run_filter_add(&o->filter, arg, &e) < 0) {
                        cli_usage_error(cli, "--filter %s", e.msg);
                        run_filter_clear(&o->filter);
                        return -1;
                }
                return 0;
        default: return -1;
        }
}

static const char *str(json_object *o, const char *k, const char *dflt)
{
        json_object *v;
        return json_object_object_get_ex(o, k, &v) && json_object_is_type(v, json_type_string) ? json_object_get_string(v)
                                                                                               : dflt;
}

static void uptime(double seconds, char *buf, size_t len)
{
        if (seconds < 0)
                (void)snprintf(buf, len, "-");
        else if (seconds < 120)
                (void)snprintf(buf, len, "%.0fs", seconds);
        else if (seconds < 7200)
                (void)snprintf(buf, len, "%.0fm", seconds / 60);
        else if (seconds < 172800)
                (void)snprintf(buf, len, "%.1fh", seconds / 3600);
        else
                (void)snprintf(buf, len, "%.0fd", seconds / 86400);
}

/* An ended run's end as UTC RFC 3339, for --json. */
static json_object *rfc3339(double t)
{
        char buf[32];
        time_t s = (time_t)t;
        struct tm tm;
        if (!gmtime_r(&s, &tm) || strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
                return NULL;
        return json_object_new_string(buf);
}

static int run(struct cli *cli, void *opts, int argc, char **argv)
{
        struct ps_opts *po = opts;
        /* A state filter looks at every run: state=exited needs no --all. */
        const bool all = po->all || run_filter_has_state(&po->filter);
        const bool ids_only = cli->verbosity < 0 && !cli->json;
        _cleanup_free_ char *state = mlvm_state_dir();
        char (*ids)[RUN_ID_LEN + 1] = NULL;
        struct mlvm_err e = { 0 };
        size_t n = 0;

        /* ps lists records without connecting, but a URI that names no
         * libvirt connection would only ever give an empty list. */
        if (virt_uri_check(cli->uri, &e) < 0 || run_list(state, &ids, &n, &e) < 0) {
                run_filter_clear(&po->filter);
                return cli_fail(cli, &e);
        }
        _cleanup_json_ json_object *list = json_object_new_array();
        /* With --all, when each run ended and how: EXIT is the workload's exit code. */
        if (!cli->json && !ids_only && all)
                printf("%-20s %-8s %-22s %-7s %-9s %-4s %-5s %-5s %-7s %s\n", "NAME", "RUN", "STATE", "UPTIME", "ENDED",
                       "EXIT", "ACCEL", "VCPUS", "MEMORY", "IMAGE");
        else if (!cli->json && !ids_only)
                printf("%-20s %-8s %-22s %-7s %-5s %-5s %-7s %s\n", "NAME", "RUN", "STATE", "UPTIME", "ACCEL", "VCPUS",
                       "MEMORY", "IMAGE");
        for (size_t i = 0; i < n; i++) {
                json_object *run = NULL, *cfg, *x;
                if (run_load(state, ids[i], &run, NULL) < 0)
                        continue;
                const char *st = run_effective_state(state, run, ids[i]);
                /* Without --all: live records, including orphans whose monitor died (they need a
                 * down), and ended ones waiting to restart (run-restart.h). */
                bool restarting = json_object_object_get_ex(run, "restart_pending", &x) &&
                                  json_object_get_boolean(x) && run_monitor_matches(run, ids[i]);
                const char *health = run_state_is_live(st) ? run_health(run) : NULL;
                /* The table: the health of a ready run (a starting one is "starting" anyway). */
                const char *shown_health = streq(st, RUN_READY) ? health : NULL;
                char shown_st[64];
                (void)snprintf(shown_st, sizeof(shown_st), "%s%s%s%s", st, restarting || shown_health ? " (" : "",
                               restarting ? "restarting" : shown_health ?: "", restarting || shown_health ? ")" : "");
                if (!streq(str(run, "uri", ""), cli->uri) ||
                    (!all && !restarting && !run_state_is_live(str(run, "state", ""))) ||
                    !run_filter_match(&po->filter, str(run, "name", ""), st)) {
                        json_object_put(run);
                        continue;
                }
                double ready = json_object_object_get_ex(run, "ready_at", &x) ? json_object_get_double(x) : -1;
                double up = run_state_is_live(st) && ready > 0 ? run_now() - ready : -1;
                char ut[32];
                uptime(up, ut, sizeof(ut));
                int vcpus = 0;
                const char *mem = "-";
                if (json_object_object_get_ex(run, "config", &cfg)) {
                        vcpus = json_object_object_get_ex(cfg, "vcpus", &x) ? json_object_get_int(x) : 0;
                        mem = str(cfg, "memory", "-");
                }
                double ended = 0;
                bool has_end = run_ended_at(run, &ended);
                bool has_code = json_object_object_get_ex(run, "exit_code", &x) && json_object_is_type(x, json_type_int);
                int code = has_code ? json_object_get_int(x) : 0;
                if (ids_only)
                        printf("%s\n", ids[i]);
                else if (cli->json) {
                        json_object *o = json_object_new_object();
                        json_object_object_add(o, "name", json_object_new_string(str(run, "name", "")));
                        json_object_object_add(o, "run", json_object_new_string(ids[i]));
                        json_object_object_add(o, "state", json_object_new_string(st));
                        json_object_object_add(o, "health", health ? json_object_new_string(health) : NULL);
                        json_object_object_add(o, "restarting", json_object_new_boolean(restarting));
                        if (json_object_object_get_ex(run, "restart_of", &x))
                                json_object_object_add(o, "restart_of", json_object_get(x));
                        if (json_object_object_get_ex(run, "restart_count", &x))
                                json_object_object_add(o, "restart_count", json_object_get(x));
                        json_object_object_add(o, "uptime_s", up >= 0 ? json_object_new_double(up) : NULL);
                        json_object_object_add(o, "accel", json_object_new_string(str(run, "accel", "")));
                        json_object_object_add(o, "vcpus", json_object_new_int(vcpus));
                        json_object_object_add(o, "memory", json_object_new_string(mem));
                        json_object_object_add(o, "image", json_object_new_string(str(run, "image", "")));
                        json_object_object_add(o, "domain", json_object_new_string(str(run, "domain", "")));
                        if (has_code)
                                json_object_object_add(o, "exit_code", json_object_new_int(code));
                        if (has_end)
                                json_object_object_add(o, "ended_at", rfc3339(ended));
                        json_object_array_add(list, o);
                } else if (all) {
                        char ago[40] = "-", ex[16] = "-", age[32];
                        if (has_end) {
                                uptime(run_now() - ended, age, sizeof(age));
                                (void)snprintf(ago, sizeof(ago), "%s ago", age);
                        }
                        if (has_code)
                                (void)snprintf(ex, sizeof(ex), "%d", code);
                        printf("%-20s %-8s %-22s %-7s %-9s %-4s %-5s %-5d %-7s %s\n", str(run, "name", "?"), ids[i], shown_st,
                               ut, ago, ex, str(run, "accel", "-"), vcpus, mem, str(run, "image", "-"));
                } else
                        printf("%-20s %-8s %-22s %-7s %-5s %-5d %-7s %s\n", str(run, "name", "?"), ids[i], shown_st, ut,
                               str(run, "accel", "-"), vcpus, mem, str(run, "image", "-"));
                json_object_put(run);
        }
        free(ids);
        run_filter_clear(&po->filter);
        if (cli->json)
                cli_print_json(list);
        return EXIT_OK;
}

static const struct option options[] = {
        { "all", no_argument, NULL, 'a' },
        { "filter", required_argument, NULL, 'F' },
        { NULL, 0, NULL, 0 },
};

const struct verb verb_ps = {
        .name = "ps",
        .summary = "List the runs on this libvirt connection",
        .usage = "[--all] [--filter KEY=VALUE[,...]] [-q] [--json]",
        .help = "  -a, --all           also runs that ended (exited, failed, stopped), with when they ended\n"
                "                      (ENDED) and the workload's exit code (EXIT)\n"
                "      --filter KEY=VALUE[,KEY=VALUE...]\n"
                "                      only runs that match: state=STATE (starting, ready, exited, failed,\n"
                "                      stopped; live or ended for either group; a state filter looks at\n"
                "                      ended runs without --all) and name=PATTERN (a shell pattern).\n"
                "                      Values of one key are alternatives; keys must all match;\n"
                "                      repeatable\n"
                "  -q, --quiet         print only the run ids, one a line\n",
        .shortopts = "a",
        .options = options,
        .on_opt = on_opt,
        .opts_size = sizeof(struct ps_opts),
        .args = { .min = 0, .max = 0 },
        .run = run,
};
