/* cmd-gc.c: mlvm gc [--dry-run] [--json]: remove what no live run of this
 * state directory owns (run-gc.h), one line each, then a summary. */
#include "mlvm-build.h"

#include "cleanup.h"
#include "cli.h"
#include "paths.h"
#include "run-gc.h"
#include "util.h"

struct gc_cli_opts {
        bool dry_run;
};

static int on_opt(struct cli *cli, int c, const char *arg, void *u)
{
        struct gc_cli_opts *o = u;
        if (c != 'n')
                return -1;
        o->dry_run = true;
        return 0;
}

static void print_json(const struct gc_plan *p, bool dry_run)
{
        _cleanup_json_ json_object *j = json_object_new_object(), *items = json_object_new_array();
        size_t counts[5] = { 0 };
        for (size_t i = 0; i < p->n; i++) {
                const struct gc_item *it = &p->items[i];
                json_object *x = json_object_new_object();
                json_object_object_add(x, "kind", json_object_new_string(gc_kind_to_string(it->kind)));
                json_object_object_add(x, "name", json_object_new_string(it->name));
                json_object_object_add(x, "run", it->run[0] ? json_object_new_string(it->run) : NULL);
                json_object_object_add(x, "action", json_object_new_string(gc_action_to_string(it->action, dry_run)));
                json_object_object_add(x, "why", json_object_new_string(it->why));
                json_object_array_add(items, x);
                counts[it->action]++;
        }
        json_object_object_add(j, "dry_run", json_object_new_boolean(dry_run));
        json_object_object_add(j, "items", json_object_get(items));
        json_object_object_add(j, dry_run ? "would_remove" : "removed",
                               json_object_new_int64((int64_t)(dry_run ? counts[GC_REMOVE] : counts[GC_DONE])));
        json_object_object_add(j, "failed", json_object_new_int64((int64_t)counts[GC_FAILED]));
        json_object_object_add(j, "live", json_object_new_int64((int64_t)counts[GC_LIVE]));
        json_object_object_add(j, "not_ours", json_object_new_int64((int64_t)counts[GC_NOT_OURS]));
        cli_print_json(j);
}

static void print_text(const struct cli *cli, const struct gc_plan *p, bool dry_run)
{
        size_t by_kind[GC_KIND_MAX] = { 0 }, live = 0, not_ours = 0, failed = 0, removed = 0;
        for (size_t i = 0; i < p->n; i++) {
                const struct gc_item *it = &p->items[i];
                bool gone = it->action == GC_DONE || (dry_run && it->action == GC_REMOVE);
                live += it->action == GC_LIVE && it->kind == GC_RECORD;
                not_ours += it->action == GC_NOT_OURS;
                failed += it->action == GC_FAILED;
                if (gone) {
                        removed++;
                        by_kind[it->kind]++;
                }
                /* What was (or would be) removed and what failed, always; the rest with -v or --dry-run. */
                bool show = gone || it->action == GC_FAILED || dry_run || cli->verbosity > 0;
                if (!show || cli->verbosity < 0)
                        continue;
                _cleanup_free_ char *run = it->run[0] ? xasprintf(", run %s", it->run) : xstrdup("");
                char b1[SHOWN_MAX], b2[SHOWN_MAX];
                printf("%s %s %s (%s%s)\n", gc_action_to_string(it->action, dry_run), gc_kind_to_string(it->kind),
                       shown(it->name, b1), shown(it->why, b2), run);
        }
        if (cli->verbosity < 0)
                return;
        printf("gc: %s %zu", dry_run ? "would remove" : "removed", removed);
        const char *sep = " (";
        for (int k = 0; k < GC_KIND_MAX; k++)
                if (by_kind[k]) {
                        printf("%s%zu %s%s", sep, by_kind[k], gc_kind_to_string((enum gc_kind)k),
                               by_kind[k] == 1 ? "" : "s");
                        sep = ", ";
                }
        printf("%s; %zu live run%s kept; %zu not ours", removed ? ")" : "", live, live == 1 ? "" : "s", not_ours);
        if (failed)
                printf("; %zu failed", failed);
        printf("\n");
}

static int run(struct cli *cli, void *opts, int argc, char **argv)
{
        const bool dry_run = ((const struct gc_cli_opts *)opts)->dry_run;
        _cleanup_free_ char *state = mlvm_state_dir();
        struct mlvm_err e = { 0 };
        struct gc_plan p = { 0 };
        struct gc_opts o = { .state_dir = state, .uri = cli->uri, .pool_name = mlvm_pool_name(), .dry_run = dry_run };
        int r = run_gc(&o, &p, &e);

        if (p.pool_restarted)
                fprintf(stderr, "mlvm: gc: notice: storage pool %s was not active (was its directory removed?): "
                        "started it again; 'mlvm setup' uploads the stored images' volumes again\n", o.pool_name);

        if (cli->json)
                print_json(&p, dry_run);
        else
                print_text(cli, &p, dry_run);
        gc_plan_clear(&p);
        return r < 0 ? cli_fail(cli, &e) : EXIT_OK;
}

static const struct option options[] = {
        { "dry-run", no_argument, NULL, 'n' },
        { NULL, 0, NULL, 0 },
};

const struct verb verb_gc = {
        .name = "gc",
        .summary = "Remove the domains, volumes, monitors and files that no live run owns",
        .usage = "[--dry-run] [--json]",
        .help = "  -n, --dry-run       say what would be removed (and what is live or not ours), remove nothing\n"
                "Only objects of this state directory are touched: domains whose mlvm metadata carries its\n"
                "identity, volumes of its runs, monitors proven by pid, start time and binary, QEMU uid\n"
                "claims (/run/mlvm/qemu-uids) that name this state directory and a run that is gone.\n",
        .shortopts = "n",
        .options = options,
        .on_opt = on_opt,
        .opts_size = sizeof(struct gc_cli_opts),
        .args = { .min = 0, .max = 0 },
        .run = run,
};
