/* cmd-artifacts.c: mlvm artifacts RUN [--out DIR]: list a run's accepted
 * artifacts (path, size, SHA-256 as hashed now), or copy them out. */
#include "mlvm-build.h"

#include <sys/stat.h>

#include "artifacts.h"
#include "cleanup.h"
#include "cli.h"
#include "paths.h"
#include "run.h"
#include "util.h"

#define PATH_COL_MAX 60

struct artifacts_opts {
        const char *out;
};

static int on_opt(struct cli *cli, int c, const char *arg, void *u)
{
        struct artifacts_opts *o = u;
        if (c == 'o') {
                o->out = arg;
                return 0;
        }
        return -1;
}

static void print_list(const struct cli *cli, const struct artifact *v, size_t n)
{
        if (cli->json) {
                _cleanup_json_ json_object *a = json_object_new_array();
                for (size_t i = 0; i < n; i++) {
                        json_object *x = json_object_new_object();
                        json_object_object_add(x, "path", json_object_new_string(v[i].path));
                        json_object_object_add(x, "size", json_object_new_int64((int64_t)v[i].size));
                        json_object_object_add(x, "sha256", json_object_new_string(v[i].sha256));
                        json_object_array_add(a, x);
                }
                cli_print_json(a);
                return;
        }
        int w = 4;
        for (size_t i = 0; i < n; i++)
                if (strlen(v[i].path) > (size_t)w)
                        w = strlen(v[i].path) > PATH_COL_MAX ? PATH_COL_MAX : (int)strlen(v[i].path);
        printf("%-*s %12s  %s\n", w, "PATH", "SIZE", "SHA256");
        for (size_t i = 0; i < n; i++)
                printf("%-*s %12llu  %s\n", w, v[i].path, (unsigned long long)v[i].size, v[i].sha256);
}

static int run(struct cli *cli, void *opts, int argc, char **argv)
{
        const struct artifacts_opts *o = opts;
        struct mlvm_err e = { 0 };
        char id[RUN_ID_LEN + 1];
        struct stat st;

        if (o->out && !*o->out)
                return cli_usage_error(cli, "--out needs a directory"), EXIT_USAGE;
        _cleanup_free_ char *state = mlvm_state_dir();
        if (run_resolve(state, argv[0], id, &e) < 0)
                return cli_fail(cli, &e);
        _cleanup_free_ char *dir = run_file(state, id, "artifacts");
        if (lstat(dir, &st) < 0 && errno == ENOENT) {
                /* An empty listing, for scripts; for people, why it is empty. */
                if (cli->json && !o->out) {
                        _cleanup_json_ json_object *a = json_object_new_array();
                        cli_print_json(a);
                        return EXIT_OK;
                }
                return cli_error_as(cli, -ENOENT, "run %s has no artifacts (none were collected)", id);
        }
        _cleanup_free_ struct artifact *v = NULL;
        size_t n = 0;
        if (artifacts_scan(dir, &v, &n, &e) < 0)
                return cli_fail(cli, &e);
        if (!o->out) {
                print_list(cli, v, n);
                return EXIT_OK;
        }
        uint64_t bytes = 0;
        if (artifacts_copy(dir, v, n, o->out, &bytes, &e) < 0)
                return cli_fail(cli, &e);
        if (cli->json) {
                _cleanup_json_ json_object *j = json_object_new_object();
                json_object_object_add(j, "run", json_object_new_string(id));
                json_object_object_add(j, "out", json_object_new_string(o->out));
                json_object_object_add(j, "files", json_object_new_int64((int64_t)n));
                json_object_object_add(j, "bytes", json_object_new_int64((int64_t)bytes));
                cli_print_json(j);
        } else if (cli->verbosity >= 0)
                printf("copied %zu file%s (%llu bytes) of run %s to %s\n", n, n == 1 ? "" : "s",
                       (unsigned long long)bytes, id, o->out);
        return EXIT_OK;
}

static const struct option options[] = {
        { "out", required_argument, NULL, 'o' },
        { NULL, 0, NULL, 0 },
};

const struct verb verb_artifacts = {
        .name = "artifacts",
        .summary = "List a run's artifacts (path, size, SHA-256) or copy them out",
        .usage = "NAME|RUN [--out DIR]",
        .help = "  --out DIR           copy every artifact into DIR (made if missing), keeping the layout;\n"
                "                      an existing file is never overwritten\n",
        .options = options,
        .on_opt = on_opt,
        .opts_size = sizeof(struct artifacts_opts),
        .args = { .min = 1, .max = 1, .name = "name or run id" },
        .run = run,
};
