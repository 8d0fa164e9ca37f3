/* cmd-creds.c: mlvm creds ls|rotate NAME|RUN [SECRET]: a run's credential
 * leases (names, lease ids, fingerprints, expiry: never values), and a
 * forced rotation through the run's monitor. */
#include "mlvm-build.h"

#include <time.h>

#include "cleanup.h"
#include "cli.h"
#include "control.h"
#include "paths.h"
#include "run.h"
#include "util.h"

#define ROTATE_TIMEOUT_MS 120000   /* the source may take 30 s; the guest is slow under TCG */

static int resolve(struct cli *cli, const char *state, const char *ref, char id[RUN_ID_LEN + 1])
{
        struct mlvm_err e = { 0 };
        if (run_resolve(state, ref, id, &e) < 0)
                return cli_fail(cli, &e);
        return 0;
}

static void print_time(double t)
{
        char buf[32];
        time_t s = (time_t)t;
        struct tm tm;
        strftime(buf, sizeof(buf), "%H:%M:%S", gmtime_r(&s, &tm));
        printf("%-9s ", buf);
}

static int ls(struct cli *cli, void *opts, int argc, char **argv)
{
        _cleanup_free_ char *state = mlvm_state_dir();
        const char *ref = argv[0];
        struct mlvm_err e = { 0 };
        char id[RUN_ID_LEN + 1];
        _cleanup_json_ json_object *run = NULL;
        json_object *a = NULL;

        if (resolve(cli, state, ref, id))
                return EXIT_FAIL;
        if (run_load(state, id, &run, &e) < 0)
                return cli_fail(cli, &e);
        if (!json_object_object_get_ex(run, "creds", &a))
                a = NULL;
        if (cli->json) {
                _cleanup_json_ json_object *o = json_object_new_object();
                json_object_object_add(o, "run", json_object_new_string(id));
                json_object_object_add(o, "creds", a ? json_object_get(a) : json_object_new_array());
                cli_print_json(o);
                return EXIT_OK;
        }
        printf("%-20s %-6s %-8s %-8s %-32s %-9s %s\n", "NAME", "SOURCE", "TTL", "STATE", "LEASE", "EXPIRES", "FINGERPRINT");
        for (size_t i = 0; a && i < json_object_array_length(a); i++) {
                json_object *c = json_object_array_get_idx(a, i), *x;
                const char *from = json_str(c, "from") ?: "";
                char ttl[32];
                snprintf(ttl, sizeof(ttl), "%llus",
                         json_object_object_get_ex(c, "ttl_s", &x) ? (unsigned long long)json_object_get_int64(x) : 0ULL);
                printf("%-20s %-6s %-8s %-8s %-32s ", json_str(c, "name") ?: "", strstartswith(from, "store:") ? "store"
                       : strstartswith(from, "exec:") ? "exec" : "jwt", ttl, json_str(c, "state") ?: "", json_str(c, "lease") ?: "-");
                if (json_object_object_get_ex(c, "expires_at", &x))
                        print_time(json_object_get_double(x));
                else
                        printf("%-9s ", "-");
                printf("%s\n", json_str(c, "fingerprint") ?: "-");
        }
        return EXIT_OK;
}

static int rotate(struct cli *cli, void *opts, int argc, char **argv)
{
        _cleanup_free_ char *state = mlvm_state_dir();
        const char *ref = argv[0], *secret = argc > 1 ? argv[1] : NULL;
        struct mlvm_err e = { 0 };
        char id[RUN_ID_LEN + 1];
        _cleanup_close_ int fd = -1;
        _cleanup_json_ json_object *args = json_object_new_object(), *rep = NULL;

        if (resolve(cli, state, ref, id))
                return EXIT_FAIL;
        if (secret)
                json_object_object_add(args, "name", json_object_new_string(secret));
        if (control_connect(state, id, &fd, &e) < 0 || control_send_args(fd, "rotate", args, &e) < 0 ||
            control_recv(fd, ROTATE_TIMEOUT_MS, &rep, &e) < 0)
                return cli_fail(cli, &e);
        if (json_str(rep, "error")) {
                cli_error(cli, "%s: %s", ref, json_str(rep, "error"));
                return EXIT_FAIL;
        }
        json_object *ok, *list;
        bool all = json_object_object_get_ex(rep, "ok", &ok) && json_object_get_boolean(ok);
        if (cli->json)
                cli_print_json(rep);
        else if (json_object_object_get_ex(rep, "rotated", &list))
                for (size_t i = 0; i < json_object_array_length(list); i++) {
                        json_object *r = json_object_array_get_idx(list, i), *x;
                        if (json_object_object_get_ex(r, "ok", &x) && json_object_get_boolean(x)) {
                                if (cli->verbosity >= 0)
                                        printf("%s: lease %s -> %s (%.1f ms)\n", json_str(r, "name") ?: "",
                                               json_str(r, "previous_lease") ?: "-", json_str(r, "lease") ?: "",
                                               json_object_object_get_ex(r, "rtt_ms", &x) ? json_object_get_double(x) : 0);
                        } else
                                cli_error(cli, "%s: %s: %s", ref, json_str(r, "name") ?: "", json_str(r, "error") ?: "failed");
                }
        return all ? EXIT_OK : EXIT_FAIL;
}

static const struct subverb subs[] = {
        { "ls", { .min = 1, .max = 1 }, ls },
        { "rotate", { .min = 1, .max = 2 }, rotate },
        { NULL },
};

const struct verb verb_creds = {
        .name = "creds",
        .summary = "A run's credential leases; rotate them now",
        .usage = "ls NAME|RUN | rotate NAME|RUN [SECRET]",
        .help = "  ls       names, sources, TTLs, states, lease ids, expiry and fingerprints (never values)\n"
                "  rotate   fetch a new value from each source (or SECRET's) and deliver it with a new\n"
                "           lease id; returns once the agent confirmed\n",
        .subs = subs,
        .args_error = "expected: ls NAME|RUN, or rotate NAME|RUN [SECRET]",
};
