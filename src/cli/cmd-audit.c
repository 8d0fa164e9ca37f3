/* cmd-audit.c: mlvm audit [--event PREFIX] shows the audit log;
 * mlvm audit verify checks its hash chain and signed checkpoint. */
#include "mlvm-build.h"

#include <inttypes.h>

#include "audit.h"
#include "cleanup.h"
#include "cli.h"
#include "paths.h"
#include "util.h"

struct audit_opts {
        const char *event;
};

static int on_opt(struct cli *cli, int c, const char *arg, void *u)
{
        struct audit_opts *o = u;
        if (c == 'E') {
                o->event = arg;
                return 0;
        }
        return -1;
}

static bool is_plain(const char *s)
{
        if (!*s)
                return false;
        for (const unsigned char *p = (const unsigned char *)s; *p; p++)
                if (*p <= ' ' || *p == '"' || *p == '\\' || *p == '=' || *p == 0x7f)
                        return false;
        return true;
}

/* The log is input that may have been edited: anything that is not a plain
 * word is printed JSON-quoted, so control characters cannot reach the terminal. */
static void print_word(json_object *v)
{
        if (json_object_is_type(v, json_type_string) && is_plain(json_object_get_string(v)))
                fputs(json_object_get_string(v), stdout);
        else
                fputs(json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE),
                      stdout);
}

static void print_key(const char *k)
{
        if (is_plain(k)) {
                fputs(k, stdout);
                return;
        }
        _cleanup_json_ json_object *s = json_object_new_string(k);
        print_word(s);
}

/* SEQ TIME EVENT key=value ... (the chain's prev hashes are left to --json). */
static void print_line(json_object *o)
{
        static const char *const head[] = { "seq", "time", "event" };
        json_object *v;

        for (size_t i = 0; i < ARRAY_SIZE(head); i++) {
                if (i)
                        fputc(' ', stdout);
                if (json_object_object_get_ex(o, head[i], &v))
                        print_word(v);
                else
                        fputc('-', stdout);
        }
        json_object_object_foreach(o, k, val) {
                if (streq(k, "seq") || streq(k, "time") || streq(k, "event") || streq(k, "prev"))
                        continue;
                fputc(' ', stdout);
                print_key(k);
                fputc('=', stdout);
                print_word(val);
        }
        fputc('\n', stdout);
}

static int show(struct cli *cli, const char *state_dir, const char *prefix)
{
        _cleanup_json_ json_object *a = NULL;
        struct mlvm_err e = { 0 };

        if (audit_read(state_dir, prefix, &a, &e) < 0)
                return cli_fail(cli, &e);
        if (cli->json)
                cli_print_json(a);
        else
                for (size_t i = 0; i < json_object_array_length(a); i++)
                        print_line(json_object_array_get_idx(a, i));
        return EXIT_OK;
}

static int verify(struct cli *cli, const char *state_dir)
{
        struct audit_status st;
        struct mlvm_err e = { 0 };

        if (audit_verify(state_dir, &st, &e) < 0)
                return cli_fail(cli, &e);
        if (cli->json) {
                _cleanup_json_ json_object *o = json_object_new_object();
                json_object_object_add(o, "ok", json_object_new_boolean(true));
                json_object_object_add(o, "lines", json_object_new_int64((int64_t)st.lines));
                json_object_object_add(o, "checkpoint", json_object_new_int64((int64_t)st.checkpoint_seq));
                json_object_object_add(o, "key", st.key_id[0] ? json_object_new_string(st.key_id) : NULL);
                cli_print_json(o);
        } else if (cli->verbosity >= 0) {
                if (st.lines == 0)
                        printf("audit log ok: empty\n");
                else
                        printf("audit log ok: %" PRIu64 " line%s, checkpoint at line %" PRIu64
                               " signed by host key %s\n",
                               st.lines, st.lines == 1 ? "" : "s", st.checkpoint_seq, st.key_id);
        }
        return EXIT_OK;
}

/* "verify" checks the whole log: there is nothing for --event to filter. */
static int check(struct cli *cli, const void *opts, int argc, char **argv)
{
        const struct audit_opts *o = opts;
        if (argc > 0 && o->event)
                return cli_usage_error(cli, "--event filters what 'mlvm audit' shows; 'verify' checks the whole log"), -1;
        return 0;
}

static int run(struct cli *cli, void *opts, int argc, char **argv)
{
        const struct audit_opts *o = opts;
        _cleanup_free_ char *state_dir = mlvm_state_dir();
        return argc > 0 ? verify(cli, state_dir) : show(cli, state_dir, o->event);
}

static const struct option options[] = {
        { "event", required_argument, NULL, 'E' },
        { NULL, 0, NULL, 0 },
};

const struct verb verb_audit = {
        .name = "audit",
        .summary = "Show the hash-chained audit log, or verify its chain and signed checkpoint",
        .usage = "[verify] [--event PREFIX] [--json]",
        .help = "  verify              check every line's hash chain and the host-signed checkpoint;\n"
                "                      name the first bad line\n"
                "      --event PREFIX  show only events whose name starts with PREFIX (e.g. image.)\n",
        .options = options,
        .on_opt = on_opt,
        .opts_size = sizeof(struct audit_opts),
        .args = { .min = 0, .max = 1, .word = "verify" },
        .check = check,
        .run = run,
};
