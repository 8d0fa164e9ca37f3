/* cmd-completion.c: mlvm completion bash | zsh | words [VERB]: the shell
 * completion script, and the words it completes, read from the verb table
 * itself (verbs, subcommands, getopt options) so that they cannot drift
 * from what the command accepts. The script is src/cli/completion.bash,
 * built into the binary as mlvm-completion-bash.h (Makefile.am). */
#include "mlvm-build.h"

#include "cli.h"
#include "util.h"

static const char completion_bash[] =
#include "mlvm-completion-bash.h"
        ;

static int cmd_bash(struct cli *cli, void *opts, int argc, char **argv)
{
        fputs(completion_bash, stdout);
        return EXIT_OK;
}

/* zsh runs bash completion functions through its bashcompinit layer. */
static int cmd_zsh(struct cli *cli, void *opts, int argc, char **argv)
{
        fputs("#compdef mlvm\nautoload -U +X bashcompinit && bashcompinit\n", stdout);
        fputs(completion_bash, stdout);
        return EXIT_OK;
}

/* OPTS as getopt sees them: "--long" (with a trailing '=' when it takes a
 * value) and "-x" for each short letter of SHORTOPTS that has a long name.
 * A word that V's aliases give another meaning is V's, not the global one. */
static void print_options(const struct verb *v, const char *shortopts, const struct option *opts)
{
        for (const struct option *o = opts; o && o->name; o++) {
                const char *eq = o->has_arg == required_argument ? "=" : "";
                char shortword[3] = { '-', (char)o->val, '\0' };
                const char *s = o->val > ' ' && o->val < 127 && shortopts ? strchr(shortopts, o->val) : NULL;
                bool aliased = false;

                for (const struct alias *a = v ? v->aliases : NULL; a && a->word; a++)
                        aliased |= streq(a->word, shortword);
                if (s && !aliased)
                        printf("%s%s\n", shortword, eq);
                printf("--%s%s\n", o->name, eq);
        }
}

/* "mlvm completion words": the verbs (and help), one a line.
 * "mlvm completion words VERB": VERB's subcommands, then its options and
 * the global ones. The completion script reads these, and so does the man
 * page's generator (scripts/gen-man). */
static int cmd_words(struct cli *cli, void *opts, int argc, char **argv)
{
        if (argc == 0) {
                for (size_t i = 0; i < cli_n_verbs; i++)
                        puts(cli_verbs[i]->name);
                puts("help");
                return EXIT_OK;
        }
        const struct verb *v = NULL;
        for (size_t i = 0; i < cli_n_verbs && !v; i++)
                if (streq(cli_verbs[i]->name, argv[0]))
                        v = cli_verbs[i];
        if (!v && !streq(argv[0], "help")) {
                cli_error(cli, "unknown verb '%s' (see 'mlvm --help')", argv[0]);
                return EXIT_USAGE;
        }
        for (const struct subverb *s = v ? v->subs : NULL; s && s->name; s++)
                puts(s->name);
        if (v && v->args.word)
                puts(v->args.word);
        if (v)
                print_options(v, v->shortopts, v->options);
        for (const struct alias *a = v ? v->aliases : NULL; a && a->word; a++)
                puts(a->word);
        print_options(v, CLI_GLOBAL_SHORTOPTS, cli_global_options);
        return EXIT_OK;
}

static const struct subverb subs[] = {
        { "bash", { .min = 0, .max = 0 }, cmd_bash },
        { "zsh", { .min = 0, .max = 0 }, cmd_zsh },
        { "words", { .min = 0, .max = 1, .name = "VERB" }, cmd_words },
        { NULL },
};

const struct verb verb_completion = {
        .name = "completion",
        .summary = "Print the shell completion script for bash or zsh",
        .usage = "bash | zsh | words [VERB]",
        .help = "  bash                the bash completion script (make install puts it in\n"
                "                      bash-completion's directory; or: . <(mlvm completion bash))\n"
                "  zsh                 the same for zsh, through bashcompinit\n"
                "  words [VERB]        the verbs, or VERB's subcommands and options, one a line\n"
                "                      ('=' after an option that takes a value)\n",
        .subs = subs,
};
