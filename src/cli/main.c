/* main.c: the mlvm command: global options and verb dispatch. */
#include "mlvm-build.h"

#include <signal.h>

#include "cli.h"
#include "suggest.h"
#include "util.h"
#include "virt.h"

static const struct verb verb_help;

static const struct verb *const verbs[] = {
        &verb_artifacts,
        &verb_audit,
        &verb_completion,
        &verb_config,
        &verb_creds,
        &verb_down,
        &verb_exec,
        &verb_gc,
        &verb_image,
        &verb_info,
        &verb_inspect,
        &verb_key,
        &verb_logs,
        &verb_prune,
        &verb_ps,
        &verb_rm,
        &verb_run,
        &verb_secret,
        &verb_setup,
        &verb_stats,
        &verb_up,
        &verb_verify,
        &verb_version,
        &verb_help,
};
const struct verb *const *const cli_verbs = verbs;
const size_t cli_n_verbs = ARRAY_SIZE(verbs);

static void usage(FILE *f)
{
        fprintf(f, "Usage: mlvm [GLOBAL OPTIONS] VERB [ARGS]\n\n"
                   "mlvm boots one minimal, isolated libvirt/QEMU guest per ML model or experiment.\n\n"
                   "Verbs:\n");
        for (size_t i = 0; i < ARRAY_SIZE(verbs); i++)
                fprintf(f, "  %-10s %s\n", verbs[i]->name, verbs[i]->summary);
        fprintf(f, "\nGlobal options:\n%s\n"
                   "Run 'mlvm VERB --help' for a verb's own options.\n"
                   "Exit status: 0 success, 1 failure, 2 usage error. With --json an error is one\n"
                   "JSON object on stderr: {\"error\":{\"code\":CODE,\"message\":TEXT}}, CODE one of\n"
                   "usage, not-found, invalid, denied, conflict, unavailable, unsupported, failed.\n",
                cli_global_help);
}

static const struct verb *find_verb(const char *name)
{
        for (size_t i = 0; i < ARRAY_SIZE(verbs); i++)
                if (streq(verbs[i]->name, name))
                        return verbs[i];
        return NULL;
}

/* "unknown verb (did you mean 'logs'?)": only when one is close. */
static int unknown_verb(const struct cli *cli, const char *name)
{
        const char *names[ARRAY_SIZE(verbs)];
        for (size_t i = 0; i < ARRAY_SIZE(verbs); i++)
                names[i] = verbs[i]->name;
        const char *near = suggest_word(name, names, ARRAY_SIZE(names));
        char what[SHOWN_MAX + 16] = "unknown verb", word[SHOWN_MAX];
        /* The text form names the verb in its prefix; JSON has no prefix. */
        if (cli->json)
                (void)snprintf(what, sizeof(what), "unknown verb '%s'", shown(name, word));
        if (near)
                cli_usage_report(cli, "%s (did you mean '%s'?) (see 'mlvm --help')", what, near);
        else
                cli_usage_report(cli, "%s (see 'mlvm --help')", what);
        return EXIT_USAGE;
}

static int help_run(struct cli *cli, void *opts, int argc, char **argv)
{
        if (argc == 0) {
                usage(stdout);
                return EXIT_OK;
        }
        const struct verb *v = find_verb(argv[0]);
        if (!v) {
                struct cli named = *cli;
                named.verb = argv[0];
                return unknown_verb(&named, argv[0]);
        }
        cli_print_verb_help(v);
        return EXIT_OK;
}

static const struct verb verb_help = {
        .name = "help",
        .summary = "Show help for mlvm or for one verb",
        .usage = "[VERB]",
        .help = "",
        .args = { .min = 0, .max = 1, .name = "VERB" },
        .run = help_run,
};

/* --json anywhere before "--" asks for JSON errors too, also for the
 * usage errors found before the parser reaches it. */
static bool wants_json(int argc, char **argv)
{
        for (int i = 1; i < argc && !streq(argv[i], "--"); i++)
                if (streq(argv[i], "--json"))
                        return true;
        return false;
}

int main(int argc, char **argv)
{
        const char *env_uri = getenv("MLVM_CONNECT");
        struct cli cli = {
                .verb = NULL,  /* set once the verb is known */
                .uri = env_uri && *env_uri ? env_uri : "qemu:///system",
                .file = "mlvm.yaml",
                .json = wants_json(argc, argv),
        };
        bool version = false;
        int c;

        opterr = 0;
        /* "+": stop at the verb; its own options are parsed by the verb. */
        while ((c = getopt_long(argc, argv, "+" CLI_GLOBAL_SHORTOPTS, cli_global_options, NULL)) != -1) {
                if (cli_global_option(&cli, c, optarg))
                        continue;
                switch (c) {
                case 'h': usage(stdout); return EXIT_OK;
                case 'V': version = true; break;
                default:
                        cli_option_error(&cli, cli_global_options, c, argv[optind - 1]);
                        return EXIT_USAGE;
                }
        }
        /* A peer that goes away (libvirtd, a monitor) is an error to report, not a signal. */
        signal(SIGPIPE, SIG_IGN);
        if (version && cli.json) {
                /* --version --json is `mlvm version --json`. */
                char *vargv[] = { (char *)"version", NULL };
                cli.verb = verb_version.name;
                virt_init();
                return cli_run_verb(&verb_version, &cli, 1, vargv);
        }
        if (version) {
                printf("mlvm %s\n", PACKAGE_VERSION);
                return EXIT_OK;
        }
        if (optind >= argc) {
                usage(stderr);
                return EXIT_USAGE;
        }
        const char *name = argv[optind];
        const struct verb *v = find_verb(name);
        if (!v) {
                cli.verb = name;
                return unknown_verb(&cli, name);
        }
        cli.verb = v->name;
        virt_init();
        virt_event_thread();
        return cli_run_verb(v, &cli, argc - optind, argv + optind);
}
