/* cmd-ps.c: mlvm ps [--all] [--json]: runs on this libvirt connection. */
#include "mlvm-build.h"

#include "cleanup.h"
#include "cli.h"
#include "paths.h"
#include "run.h"
#include "units.h"
#include "util.h"
#include "virt.h"

struct ps_opts {
        bool all;
};

static int on_opt(struct cli *cli, int c, const char *arg, void *u)
{
        struct ps_opts *o = u;
        if (c != 'a')
                return -1;
        o->all = true;
        return 0;
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
        else
                (void)snprintf(buf, len, "%.1fh", seconds / 3600);
}

static int run(struct cli *cli, void *opts, int argc, char **argv)
{
        const bool all = ((const struct ps_opts *)opts)->all;
        _cleanup_free_ char *state = mlvm_state_dir();
        char (*ids)[RUN_ID_LEN + 1] = NULL;
        struct mlvm_err e = { 0 };
        size_t n = 0;

        /* ps lists records without connecting, but a URI that names no
         * libvirt connection would only ever give an empty list. */
        if (virt_uri_check(cli->uri, &e) < 0 || run_list(state, &ids, &n, &e) < 0)
                return cli_fail(cli, &e);
        _cleanup_json_ json_object *list = json_object_new_array();
        if (!cli->json)
                printf("%-20s %-8s %-22s %-7s %-5s %-5s %-7s %s\n", "NAME", "RUN", "STATE", "UPTIME", "ACCEL", "VCPUS",
                       "MEMORY", "IMAGE");
        for (size_t i = 0; i < n; i++) {
                json_object *run = NULL, *cfg, *x;
                if (run_load(state, ids[i], &run, NULL) < 0)
                        continue;
                const char *st = run_effective_state(state, run, ids[i]);
                /* Without --all: live records, including orphans whose monitor died (they need a down). */
                if (!streq(str(run, "uri", ""), cli->uri) || (!all && !run_state_is_live(str(run, "state", "")))) {
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
                if (cli->json) {
                        json_object *o = json_object_new_object();
                        json_object_object_add(o, "name", json_object_new_string(str(run, "name", "")));
                        json_object_object_add(o, "run", json_object_new_string(ids[i]));
                        json_object_object_add(o, "state", json_object_new_string(st));
                        json_object_object_add(o, "uptime_s", up >= 0 ? json_object_new_double(up) : NULL);
                        json_object_object_add(o, "accel", json_object_new_string(str(run, "accel", "")));
                        json_object_object_add(o, "vcpus", json_object_new_int(vcpus));
                        json_object_object_add(o, "memory", json_object_new_string(mem));
                        json_object_object_add(o, "image", json_object_new_string(str(run, "image", "")));
                        json_object_object_add(o, "domain", json_object_new_string(str(run, "domain", "")));
                        if (json_object_object_get_ex(run, "exit_code", &x))
                                json_object_object_add(o, "exit_code", json_object_get(x));
                        json_object_array_add(list, o);
                } else
                        printf("%-20s %-8s %-22s %-7s %-5s %-5d %-7s %s\n", str(run, "name", "?"), ids[i], st, ut,
                               str(run, "accel", "-"), vcpus, mem, str(run, "image", "-"));
                json_object_put(run);
        }
        free(ids);
        if (cli->json)
                cli_print_json(list);
        return EXIT_OK;
}

static const struct option options[] = {
        { "all", no_argument, NULL, 'a' },
        { NULL, 0, NULL, 0 },
};

const struct verb verb_ps = {
        .name = "ps",
        .summary = "List the runs on this libvirt connection",
        .usage = "[--all] [--json]",
        .help = "  -a, --all           also runs that ended (exited, failed, stopped)\n",
        .shortopts = "a",
        .options = options,
        .on_opt = on_opt,
        .opts_size = sizeof(struct ps_opts),
        .args = { .min = 0, .max = 0 },
        .run = run,
};
