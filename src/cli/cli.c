/* cli.c: option parsing and printing shared by the verbs; see cli.h. */
#include "mlvm-build.h"

#include <stdarg.h>
#include <unistd.h>

#include "cleanup.h"
#include "cli.h"
#include "run-rm.h"
#include "units.h"
#include "util.h"

const struct option cli_global_options[] = {
        { "connect", required_argument, NULL, 'c' },
        { "file", required_argument, NULL, 'f' },
        { "json", no_argument, NULL, CLI_OPT_JSON },
        { "quiet", no_argument, NULL, 'q' },
        { "verbose", no_argument, NULL, 'v' },
        { "progress", required_argument, NULL, CLI_OPT_PROGRESS },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 },
};

const char cli_global_help[] =
        "  -c, --connect URI   libvirt URI (also $MLVM_CONNECT; default qemu:///system)\n"
        "  -f, --file FILE     configuration file (default ./mlvm.yaml)\n"
        "      --json          machine-readable output\n"
        "  -q, --quiet         print less\n"
        "  -v, --verbose       print more\n"
        "      --progress=WHEN the steps of long work (build, import, upload, verify, artifact\n"
        "                      collection) on stderr: auto (on a terminal; the default), plain\n"
        "                      (always, for logs) or none\n"
        "  -h, --help          show this help\n"
        "  -V, --version       print the version\n";

static void print_line(FILE *f, const char *prefix, const char *msg)
{
        fputs(prefix, f);
        for (const char *p = msg; *p; p++)
                fputc(*p == '\n' || *p == '\r' ? ' ' : *p, f);
        fputc('\n', f);
}

/* One line on stderr: "mlvm: VERB: MESSAGE", or with --json the object
 * {"error":{"code":KIND,"message":MESSAGE}} that scripts read instead. */
static void report(const struct cli *cli, const char *kind, const char *msg)
{
        char prefix[128];

        if (cli->json) {
                _cleanup_json_ json_object *o = json_object_new_object(), *in = json_object_new_object();
                char line[4096];
                size_t i = 0;
                for (; msg[i] && i + 1 < sizeof(line); i++)
                        line[i] = msg[i] == '\n' || msg[i] == '\r' ? ' ' : msg[i];
                line[i] = '\0';
                json_object_object_add(in, "code", json_object_new_string(kind));
                json_object_object_add(in, "message", json_object_new_string(line));
                json_object_object_add(o, "error", json_object_get(in));
                fprintf(stderr, "%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
                                                                          JSON_C_TO_STRING_NOSLASHESCAPE));
                return;
        }
        if (cli->verb)
                (void)snprintf(prefix, sizeof(prefix), "mlvm: %s: ", cli->verb);
        else
                (void)snprintf(prefix, sizeof(prefix), "mlvm: ");
        print_line(stderr, prefix, msg);
}

static void vreport(const struct cli *cli, const char *kind, const char *fmt, va_list ap)
        __attribute__((format(printf, 3, 0)));
static void vreport(const struct cli *cli, const char *kind, const char *fmt, va_list ap)
{
        char msg[4096];
        text_vset(msg, sizeof(msg), fmt, ap);
        report(cli, kind, msg);
}

void cli_error(const struct cli *cli, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        vreport(cli, err_kind(0), fmt, ap);
        va_end(ap);
}

int cli_error_as(const struct cli *cli, int code, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        vreport(cli, err_kind(code), fmt, ap);
        va_end(ap);
        return EXIT_FAIL;
}

int cli_fail(const struct cli *cli, const struct mlvm_err *e)
{
        report(cli, err_kind(e->code), e->msg[0] ? e->msg : "failed");
        return EXIT_FAIL;
}

int cli_fail_for(const struct cli *cli, const char *what, struct mlvm_err *e)
{
        size_t len = strlen(what);
        /* "idle is already running ...", "idle: no such run ...": named already. */
        if (strncmp(e->msg, what, len) != 0 || (e->msg[len] != ':' && e->msg[len] != ' '))
                err_prefix(e, "%s", what);
        return cli_fail(cli, e);
}

int cli_usage_error(const struct cli *cli, const char *fmt, ...)
{
        char msg[1024];
        va_list ap;

        va_start(ap, fmt);
        text_vset(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        if (cli->verb)
                cli_usage_report(cli, "%s (see 'mlvm %s --help')", msg, cli->verb);
        else
                cli_usage_report(cli, "%s (see 'mlvm --help')", msg);
        return -EXIT_USAGE;
}

void cli_usage_report(const struct cli *cli, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        vreport(cli, CLI_USAGE_KIND, fmt, ap);
        va_end(ap);
}

void cli_print_verb_help(const struct verb *v)
{
        printf("Usage: mlvm %s %s\n\n%s\n", v->name, v->usage, v->summary);
        if (v->help && *v->help)
                printf("\nOptions:\n%s", v->help);
        printf("\nGlobal options (before or after the verb):\n%s", cli_global_help);
}

/* getopt_long reports a value given to a no_argument option ("--json=1")
 * as '?' with optopt set to the option's val, just like an unknown short
 * option (-J): only the "--NAME=" form tells them apart. */
static const char *option_given_value(const struct option *opts, int val, const char *arg)
{
        if (!val || !strstartswith(arg, "--") || !strchr(arg, '='))
                return NULL;
        for (; opts->name; opts++)
                if (opts->val == val && opts->has_arg == no_argument && !opts->flag)
                        return opts->name;
        return NULL;
}

int cli_option_error(const struct cli *cli, const struct option *opts, int c, const char *arg)
{
        const char *name;

        if (c == ':')
                return cli_usage_error(cli, "option %s needs a value", arg);
        if ((name = option_given_value(opts, optopt, arg)))
                return cli_usage_error(cli, "option --%s takes no value", name);
        if (optopt)
                return cli_usage_error(cli, "unknown option -%c", optopt);
        return cli_usage_error(cli, "unknown option %s", arg);
}

bool cli_global_option(struct cli *cli, int c, const char *arg)
{
        switch (c) {
        case 'c': cli->uri = arg; return true;
        case 'f': cli->file = arg; return true;
        case CLI_OPT_JSON: cli->json = true; return true;
        case 'q': cli->verbosity = -1; return true;
        case 'v': cli->verbosity++; return true;
        case CLI_OPT_PROGRESS:
                cli->progress_arg = arg;
                cli->progress = streq(arg, "auto") ? PROGRESS_AUTO : streq(arg, "plain") ? PROGRESS_PLAIN
                                : streq(arg, "none") ? PROGRESS_NONE : PROGRESS_INVALID;
                return true;
        default: return false;
        }
}

bool cli_progress(const struct cli *cli)
{
        if (cli->verbosity < 0 || cli->json || cli->progress == PROGRESS_NONE)
                return false;
        return cli->progress == PROGRESS_PLAIN || isatty(STDERR_FILENO);
}

/* Parse V's options together with the global ones into CLI and OPTS.
 * Returns the index of the first operand, -EXIT_USAGE after a usage
 * error, or HELP_DONE after --help or --version. */
#define HELP_DONE (-1000)
static int parse(struct cli *cli, const struct verb *v, void *opts, int argc, char **argv)
{
        size_t nv = 0, ng = ARRAY_SIZE(cli_global_options) - 1;
        _cleanup_free_ char *shorts = xasprintf("%s%s", CLI_GLOBAL_SHORTOPTS, v->shortopts ? v->shortopts : "");
        int c;

        while (v->options && v->options[nv].name)
                nv++;
        _cleanup_free_ struct option *all = xcalloc(nv + ng + 1, sizeof(*all));
        memcpy(all, cli_global_options, ng * sizeof(*all));
        if (nv)
                memcpy(all + ng, v->options, nv * sizeof(*all));

        optind = 0; /* glibc: full reinitialization for each verb */
        opterr = 0;
        while ((c = getopt_long(argc, argv, shorts, all, NULL)) != -1) {
                if (cli_global_option(cli, c, optarg))
                        continue;
                switch (c) {
                case 'h':
                        cli_print_verb_help(v);
                        return HELP_DONE;
                case 'V':
                        printf("mlvm %s\n", PACKAGE_VERSION);
                        return HELP_DONE;
                case ':':
                case '?':
                        return cli_option_error(cli, all, c, argv[optind - 1]);
                default:
                        if (!v->on_opt || v->on_opt(cli, c, optarg, opts) < 0)
                                return -EXIT_USAGE;
                }
        }
        return optind;
}

/* The verb's own meaning of a word that is a global option elsewhere.
 * Returns the alias used, if any, for the message about a stray operand. */
static const struct alias *apply_aliases(const struct verb *v, int argc, char **argv)
{
        const struct alias *used = NULL;
        for (const struct alias *a = v->aliases; a && a->word; a++)
                for (int i = 1; i < argc && !streq(argv[i], "--"); i++)
                        if (streq(argv[i], a->word)) {
                                argv[i] = (char *)a->means;
                                used = a;
                        }
        return used;
}

static bool count_ok(const struct operands *a, int n)
{
        return n >= a->min && (a->max == ARGS_ANY || n <= a->max);
}

/* The usage error for a wrong number of operands, if any: 0, or -1 after
 * it. SUB names the subcommand they follow (NULL: the verb's own);
 * ARGS_ERROR, when set, replaces the generated message. */
static int check_operands(struct cli *cli, const char *sub, const struct operands *a, const char *args_error,
                          const struct alias *alias, int argc, char **argv)
{
        if (a->word && argc > 0 && !streq(argv[0], a->word))
                return cli_usage_error(cli, "unexpected argument '%s'", argv[0]), -1;
        if (count_ok(a, argc))
                return 0;
        /* "logs RUN -f FILE": say what -f meant, rather than only that FILE is extra. */
        if (alias && a->max != ARGS_ANY && argc > a->max)
                cli_usage_error(cli, "unexpected argument '%s' (%s is %s here; the global option is %s)",
                                argv[a->max], alias->word, alias->means, alias->global);
        else if (args_error)
                cli_usage_error(cli, "%s", args_error);
        else if (sub && a->max == 0)
                cli_usage_error(cli, "%s %s takes no arguments", cli->verb, sub);
        else if (sub && a->min == 0)
                cli_usage_error(cli, "%s %s takes at most one %s", cli->verb, sub, a->name);
        else if (sub)
                cli_usage_error(cli, "%s %s needs one %s", cli->verb, sub, a->name);
        else if (!a->name)
                cli_usage_error(cli, "unexpected argument '%s'", argv[a->max]);
        else if (a->min == 1)
                cli_usage_error(cli, "needs one %s", a->name);
        else
                cli_usage_error(cli, "needs %s", a->name);
        return -1;
}

/* "missing subcommand: build, import, verify, ls, rm or sign" */
static void missing_sub(struct cli *cli, const struct subverb *subs)
{
        char names[256] = "";
        size_t n = 0, at = 0;

        while (subs[n].name)
                n++;
        for (size_t i = 0; i < n && at < sizeof(names); i++) {
                int w = snprintf(names + at, sizeof(names) - at, "%s%s", i == 0 ? "" : i + 1 == n ? " or " : ", ",
                                 subs[i].name);
                at += w > 0 ? (size_t)w : 0;
        }
        cli_usage_error(cli, "missing subcommand: %s", names);
}

/* The subcommand ARGV[0] names, once V's check passed; NULL after a usage error. */
static const struct subverb *find_sub(struct cli *cli, const struct verb *v, const void *opts, int argc, char **argv)
{
        if (argc == 0) {
                if (v->args_error)
                        cli_usage_error(cli, "%s", v->args_error);
                else
                        missing_sub(cli, v->subs);
                return NULL;
        }
        if (v->check && v->check(cli, opts, argc, argv) < 0)
                return NULL;
        for (const struct subverb *s = v->subs; s->name; s++)
                if (streq(argv[0], s->name))
                        return s;
        if (v->args_error)
                cli_usage_error(cli, "%s", v->args_error);
        else
                cli_usage_error(cli, "unknown subcommand '%s'", argv[0]);
        return NULL;
}

/* Whether getopt could take VAL, a verb's option value, for a global option:
 * the same value, or a short letter the globals use. */
static bool global_value(int val)
{
        for (const struct option *g = cli_global_options; g->name; g++)
                if (val == g->val)
                        return true;
        return val > 0 && val < 0x100 && val != ':' && strchr(CLI_GLOBAL_SHORTOPTS, val);
}

/* The first of V's options that clashes with a global one, written into
 * BUF ("--publish", "-c"); NULL when none. */
static const char *clashing_option(const struct verb *v, char buf[static 64])
{
        for (const struct option *o = v->options; o && o->name; o++)
                if (global_value(o->val)) {
                        snprintf(buf, 64, "--%.56s", o->name);
                        return buf;
                }
        for (const char *s = v->shortopts; s && *s; s++)
                if (global_value(*s)) {
                        snprintf(buf, 64, "-%c", *s);
                        return buf;
                }
        return NULL;
}

int cli_run_verb(const struct verb *v, struct cli *cli, int argc, char **argv)
{
        _cleanup_free_ void *opts = xcalloc(1, v->opts_size ? v->opts_size : 1);
        char buf[64];
        const char *clash;
        int r;

        /* A mistake in the verb's table, not the caller's: every verb's
         * --help runs this in tests/cli/help.sh. */
        if ((clash = clashing_option(v, buf))) {
                fprintf(stderr, "mlvm: %s: internal error: option %s has the value of a global option\n", v->name,
                        clash);
                return EXIT_FAIL;
        }
        const struct alias *alias = apply_aliases(v, argc, argv);
        r = parse(cli, v, opts, argc, argv);
        if (r == HELP_DONE)
                return EXIT_OK;
        if (r < 0)
                return EXIT_USAGE;
        if (cli->progress == PROGRESS_INVALID) {
                (void)cli_usage_error(cli, "--progress: \"%.64s\" is not auto, plain or none", cli->progress_arg);
                return EXIT_USAGE;
        }
        argc -= r;
        argv += r;
        if (v->subs) {
                const struct subverb *s = find_sub(cli, v, opts, argc, argv);
                if (!s || check_operands(cli, s->name, &s->args, v->args_error, alias, argc - 1, argv + 1) < 0)
                        return EXIT_USAGE;
                return s->run(cli, opts, argc - 1, argv + 1);
        }
        if (check_operands(cli, NULL, &v->args, v->args_error, alias, argc, argv) < 0 ||
            (v->check && v->check(cli, opts, argc, argv) < 0))
                return EXIT_USAGE;
        return v->run(cli, opts, argc, argv);
}

void cli_print_json(json_object *o)
{
        /* json-c prints an empty list as "[" and "]" on two lines; an empty
         * listing is "[]", which line-oriented scripts compare most easily. */
        if (json_object_is_type(o, json_type_array) && json_object_array_length(o) == 0) {
                puts("[]");
                return;
        }
        puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                               JSON_C_TO_STRING_NOSLASHESCAPE));
}

/* Scalars are printed as JSON strings/numbers, which YAML reads back as-is. */
static void yaml_value(json_object *o, int indent, bool in_list);

static void yaml_scalar(json_object *o)
{
        fputs(json_object_to_json_string_ext(o, JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE), stdout);
}

/* Words a YAML reader resolves to null or (YAML 1.1) a boolean when plain. */
static bool yaml_reserved(const char *k)
{
        static const char *const words[] = {
                "null", "Null", "NULL", "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO",
                "true", "True", "TRUE", "false", "False", "FALSE", "on", "On", "ON", "off", "Off", "OFF",
        };
        for (size_t i = 0; i < ARRAY_SIZE(words); i++)
                if (streq(k, words[i]))
                        return true;
        return false;
}

/* Plain keys stay plain; anything else is quoted so it reads back the same
 * (a model named null, an env variable named NULL or YES). */
static void yaml_key(const char *k)
{
        bool plain = *k && !(*k >= '0' && *k <= '9') && !yaml_reserved(k);
        for (const char *p = k; *p && plain; p++)
                plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                        *p == '_' || *p == '-';
        if (plain) {
                fputs(k, stdout);
                return;
        }
        json_object *key = json_object_new_string(k);
        yaml_scalar(key);
        json_object_put(key);
}

static bool is_container(json_object *o)
{
        return json_object_is_type(o, json_type_object) ||
               (json_object_is_type(o, json_type_array) && json_object_array_length(o) > 0 &&
                json_object_is_type(json_object_array_get_idx(o, 0), json_type_object));
}

static void yaml_value(json_object *o, int indent, bool in_list)
{
        if (json_object_is_type(o, json_type_object)) {
                bool first = true;
                json_object_object_foreach(o, k, v) {
                        if (!(first && in_list))
                                printf("%*s", indent, "");
                        first = false;
                        yaml_key(k);
                        if (is_container(v)) {
                                fputs(":\n", stdout);
                                yaml_value(v, indent + 2, false);
                        } else {
                                fputs(": ", stdout);
                                yaml_value(v, indent + 2, false);
                        }
                }
                return;
        }
        if (json_object_is_type(o, json_type_array) && is_container(o)) {
                for (size_t i = 0; i < json_object_array_length(o); i++) {
                        printf("%*s- ", indent, "");
                        yaml_value(json_object_array_get_idx(o, i), indent + 2, true);
                }
                return;
        }
        yaml_scalar(o);   /* flow style for scalars and lists of scalars */
        fputc('\n', stdout);
}

void cli_print_yaml(json_object *o)
{
        yaml_value(o, 0, false);
}

int cli_accel_request(const struct cli *cli, const char *arg, enum mlvm_accel_request from_config,
                      enum mlvm_accel_request *ret)
{
        const char *env = getenv("MLVM_ACCEL");
        if (arg) {
                if (mlvm_accel_request_parse(arg, ret) < 0)
                        return cli_usage_error(cli, "--accel %.32s: expected auto, kvm or tcg", arg), -1;
                return 0;
        }
        if (env && *env) {
                if (mlvm_accel_request_parse(env, ret) < 0)
                        return cli_usage_error(cli, "$MLVM_ACCEL=%.32s: expected auto, kvm or tcg", env), -1;
                return 0;
        }
        *ret = from_config;
        return 0;
}

void cli_print_notices(const struct cli *cli, const char (*notices)[768], size_t n)
{
        if (cli->verbosity < 0 || cli->json)
                return;
        for (size_t i = 0; i < n; i++)
                fprintf(stderr, "mlvm: %s: notice: %s\n", cli->verb ? cli->verb : "up", notices[i]);
}

void cli_apply_retention(const struct cli *cli, const char *state_dir, const struct mlvm_config *c)
{
        struct rm_item *v = NULL;
        struct mlvm_err e = { 0 };
        char notice[1][768], d[32], list[512] = "";
        size_t n = 0, removed = 0;

        if (c->retention_s == 0)
                return;
        format_duration(c->retention_s, d, sizeof(d));
        /* Housekeeping, not the verb's work: a failure is a notice, never the verb's failure. */
        if (run_retention(state_dir, cli->uri, c, &v, &n, &e) < 0) {
                text_set(notice[0], sizeof(notice[0]), "retention %s: %s", d, e.msg);
                cli_print_notices(cli, notice, 1);
                return;
        }
        for (size_t i = 0; i < n; i++) {
                if (!v[i].removed) {
                        text_set(notice[0], sizeof(notice[0]), "retention %s: kept run %s: %s", d, v[i].id,
                                 v[i].err.msg);
                        cli_print_notices(cli, notice, 1);
                        continue;
                }
                if (removed++ < 8)
                        text_set(list + strlen(list), sizeof(list) - strlen(list), "%s%s (%s)", removed > 1 ? ", " : "",
                                 v[i].id, v[i].name);
        }
        rm_items_free(v, n);
        if (removed == 0)
                return;
        text_set(notice[0], sizeof(notice[0]), "retention %s: removed %zu ended run%s: %s%s", d, removed,
                 removed == 1 ? "" : "s", list, removed > 8 ? ", ..." : "");
        cli_print_notices(cli, notice, 1);
}
