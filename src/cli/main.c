/* main.c: the mlvm command: global options and verb dispatch. */
#include "mlvm-build.h"

#include <signal.h>

#include "cli.h"
#include "util.h"
#include "virt.h"

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
        &verb_ps,
        &verb_run,
        &verb_secret,
        &verb_setup,
        &verb_up,
        &verb_verify,
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
        fprintf(f, "  %-10s %s\n", "help", "Show help for mlvm or for one verb");
        fprintf(f, "\nGlobal options:\n%s\n"
                   "Run 'mlvm VERB --help' for a verb's own options.\n"
                   "Exit status: 0 success, 1 failure, 2 usage error.\n", cli_global_help);
}

static const struct verb *find_verb(const char *name)
{
        for (size_t i = 0; i < ARRAY_SIZE(verbs); i++)
                if (streq(verbs[i]->name, name))
                        return verbs[i];
        return NULL;
}

int main(int argc, char **argv)
{
        const char *env_uri = getenv("MLVM_CONNECT");
        struct cli cli = {
                .verb = NULL,  /* set once the verb is known */
                .uri = env_uri && *env_uri ? env_uri : "qemu:///system",
                .file = "mlvm.yaml",
        };
        int c;

        opterr = 0;
        /* "+": stop at the verb; its own options are parsed by the verb. */
        while ((c = getopt_long(argc, argv, "+" CLI_GLOBAL_SHORTOPTS, cli_global_options, NULL)) != -1) {
                if (cli_global_option(&cli, c, optarg))
                        continue;
                switch (c) {
                case 'h': usage(stdout); return EXIT_OK;
                case 'V': printf("mlvm %s\n", PACKAGE_VERSION); return EXIT_OK;
                default:
                        cli_option_error(&cli, cli_global_options, c, argv[optind - 1]);
                        return EXIT_USAGE;
                }
        }
        if (optind >= argc) {
                usage(stderr);
                return EXIT_USAGE;
        }
        const char *name = argv[optind];
        if (streq(name, "help")) {
                if (optind + 1 >= argc) {
                        usage(stdout);
                        return EXIT_OK;
                }
                const struct verb *v = find_verb(argv[optind + 1]);
                if (!v) {
                        cli_error(&cli, "unknown verb '%s' (see 'mlvm --help')", argv[optind + 1]);
                        return EXIT_USAGE;
                }
                cli_print_verb_help(v);
                return EXIT_OK;
        }
        const struct verb *v = find_verb(name);
        if (!v) {
                cli.verb = name;
                cli_error(&cli, "unknown verb (see 'mlvm --help')");
                return EXIT_USAGE;
        }
        cli.verb = v->name;
        /* A peer that goes away (libvirtd, a monitor) is an error to report, not a signal. */
        signal(SIGPIPE, SIG_IGN);
        virt_init();
        return cli_run_verb(v, &cli, argc - optind, argv + optind);
}
