/* cmd-secret.c: mlvm secret set NAME [--from-file FILE] | ls | rm NAME.
 * Values go in through stdin or a file, never the command line (where ps
 * would show them), and never come out: what is printed and audited is the
 * fingerprint. */
#include "mlvm-build.h"

#include <fcntl.h>
#include <time.h>

#include "audit.h"
#include "cleanup.h"
#include "cli.h"
#include "paths.h"
#include "secret-store.h"
#include "util.h"

struct secret_opts {
        const char *from_file;
};

static int on_opt(struct cli *cli, int c, const char *arg, void *u)
{
        struct secret_opts *o = u;
        if (c == 'F') {
                o->from_file = arg;
                return 0;
        }
        return -1;
}

/* Read at most SECRET_VALUE_MAX + 1 bytes from FD into BUF: one byte past
 * the cap tells an oversize value from one exactly at it. */
static ssize_t read_value(int fd, uint8_t *buf)
{
        size_t len = 0;

        while (len <= SECRET_VALUE_MAX) {
                ssize_t n = read(fd, buf + len, SECRET_VALUE_MAX + 1 - len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                if (n == 0)
                        break;
                len += (size_t)n;
        }
        return (ssize_t)len;
}

static json_object *info_json(const struct secret_info *i, const char *created)
{
        json_object *o = json_object_new_object();
        json_object_object_add(o, "name", json_object_new_string(i->name));
        json_object_object_add(o, "created_at", json_object_new_string(created));
        json_object_object_add(o, "size", json_object_new_int64((int64_t)i->size));
        json_object_object_add(o, "fingerprint", json_object_new_string(i->fingerprint));
        return o;
}

static void iso_time(int64_t t, char buf[32])
{
        struct tm tm;
        time_t tt = (time_t)t;
        if (!gmtime_r(&tt, &tm) || !strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm))
                (void)snprintf(buf, 32, "%lld", (long long)t);
}

/* Audit fields: the name, and what identifies the value without revealing it. */
static int audit(const char *state, const char *event, const struct secret_info *i, struct mlvm_err *e)
{
        _cleanup_json_ json_object *f = json_object_new_object();
        json_object_object_add(f, "name", json_object_new_string(i->name));
        json_object_object_add(f, "fingerprint", i->fingerprint[0] ? json_object_new_string(i->fingerprint) : NULL);
        json_object_object_add(f, "size", json_object_new_int64((int64_t)i->size));
        return audit_append(state, event, f, e);
}

static int do_set(struct cli *cli, void *opts, int argc, char **argv)
{
        const char *name = argv[0], *from_file = ((const struct secret_opts *)opts)->from_file;
        _cleanup_free_ char *state = mlvm_state_dir();
        struct mlvm_err e = { 0 };
        struct secret_info info;
        _cleanup_close_ int fd = -1;
        char created[32];

        if (!secret_name_is_valid(name))
                return cli_usage_error(cli, "secret name \"%.80s\": must match [A-Za-z0-9_][A-Za-z0-9_.-]{0,63}",
                                       name), EXIT_USAGE;
        if (from_file && (fd = open(from_file, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0)
                return cli_error(cli, "secret %s: %s: %s", name, from_file, strerror(errno)), EXIT_FAIL;
        /* A value typed at a terminal would be echoed onto the screen. */
        if (!from_file && isatty(STDIN_FILENO))
                return cli_error(cli, "secret %s: stdin is a terminal; pipe the value in or use --from-file",
                                 name), EXIT_FAIL;
        uint8_t *buf = xmalloc(SECRET_VALUE_MAX + 1);
        ssize_t n = read_value(from_file ? fd : STDIN_FILENO, buf);
        const char *src = from_file ? from_file : "stdin";
        int r = 0;
        if (n < 0)
                cli_error(cli, "secret %s: read %s: %s", name, src, strerror((int)-n));
        else if (n == 0)
                cli_error(cli, "secret %s: the value from %s is empty", name, src);
        else if (n > SECRET_VALUE_MAX)
                cli_error(cli, "secret %s: the value from %s is larger than %d bytes", name, src, SECRET_VALUE_MAX);
        else
                r = secret_set(state, name, buf, (size_t)n, &info, &e) < 0 ? -1 : 1;
        secret_wipe(buf, SECRET_VALUE_MAX + 1);
        if (r <= 0)
                return r < 0 ? cli_fail(cli, &e) : EXIT_FAIL;
        if (audit(state, "secret.set", &info, &e) < 0) {
                err_prefix(&e, "secret %s was stored, but the audit log refused the event", name);
                return cli_fail(cli, &e);
        }
        iso_time(info.created_at, created);
        if (cli->json) {
                _cleanup_json_ json_object *o = info_json(&info, created);
                cli_print_json(o);
        } else if (cli->verbosity >= 0)
                printf("secret %s: stored %zu bytes, fingerprint %s\n", name, info.size, info.fingerprint);
        return EXIT_OK;
}

static int do_ls(struct cli *cli, void *opts, int argc, char **argv)
{
        _cleanup_free_ char *state = mlvm_state_dir();
        struct mlvm_err e = { 0 };
        _cleanup_free_ struct secret_info *v = NULL;
        size_t n = 0;
        char created[32];

        if (secret_list(state, &v, &n, &e) < 0)
                return cli_fail(cli, &e);
        if (cli->json) {
                _cleanup_json_ json_object *a = json_object_new_array();
                for (size_t i = 0; i < n; i++) {
                        iso_time(v[i].created_at, created);
                        json_object_array_add(a, info_json(&v[i], created));
                }
                cli_print_json(a);
                return EXIT_OK;
        }
        printf("%-24s %-20s %6s  %s\n", "NAME", "CREATED", "SIZE", "FINGERPRINT");
        for (size_t i = 0; i < n; i++) {
                iso_time(v[i].created_at, created);
                printf("%-24s %-20s %6zu  %s\n", v[i].name, created, v[i].size, v[i].fingerprint);
        }
        return EXIT_OK;
}

static int do_rm(struct cli *cli, void *opts, int argc, char **argv)
{
        _cleanup_free_ char *state = mlvm_state_dir();
        const char *name = argv[0];
        struct mlvm_err e = { 0 };
        struct secret_info info = { 0 };

        if (!secret_name_is_valid(name))
                return cli_usage_error(cli, "secret name \"%.80s\": must match [A-Za-z0-9_][A-Za-z0-9_.-]{0,63}",
                                       name), EXIT_USAGE;
        /* What is removed, for the audit log; a damaged file is removed too,
         * and logged by name only. */
        int r = secret_stat(state, name, &info, &e);
        if (r == -ENOENT)
                return cli_fail(cli, &e);
        if (r < 0) {
                memset(&info, 0, sizeof(info));
                memcpy(info.name, name, strlen(name) + 1);
        }
        err_clear(&e);
        if (secret_rm(state, name, &e) < 0)
                return cli_fail(cli, &e);
        if (audit(state, "secret.rm", &info, &e) < 0) {
                err_prefix(&e, "secret %s was removed, but the audit log refused the event", name);
                return cli_fail(cli, &e);
        }
        if (cli->verbosity >= 0 && !cli->json)
                printf("secret %s: removed\n", name);
        return EXIT_OK;
}

/* The value is read from --from-file only by set. */
static int check(struct cli *cli, const void *opts, int argc, char **argv)
{
        const struct secret_opts *o = opts;
        if (o->from_file && !streq(argv[0], "set"))
                return cli_usage_error(cli, "--from-file goes with 'secret set'"), -1;
        return 0;
}

static const struct subverb subs[] = {
        { "set", { .min = 1, .max = 1, .name = "NAME (the value comes from stdin or --from-file)" }, do_set },
        { "ls", { .min = 0, .max = 0 }, do_ls },
        { "rm", { .min = 1, .max = 1, .name = "NAME" }, do_rm },
        { NULL },
};

static const struct option options[] = {
        { "from-file", required_argument, NULL, 'F' },
        { NULL, 0, NULL, 0 },
};

const struct verb verb_secret = {
        .name = "secret",
        .summary = "Keep secrets encrypted on this host (AES-256-GCM); values are never printed",
        .usage = "set NAME [--from-file FILE] | ls | rm NAME",
        .help = "  set NAME            store the value read from stdin (bytes as given; no newline is\n"
                "                      stripped), replacing any old one\n"
                "      --from-file FILE  read the value from FILE instead\n"
                "  ls                  list names, creation times, sizes and fingerprints\n"
                "  rm NAME             remove a secret\n",
        .options = options,
        .on_opt = on_opt,
        .opts_size = sizeof(struct secret_opts),
        .subs = subs,
        .check = check,
};
