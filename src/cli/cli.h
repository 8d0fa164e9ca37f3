/* cli.h: what every verb of the mlvm command shares. The CLI files only
 * parse arguments, call the library and print (docs/style.md, rule 1). */
#pragma once

#include <getopt.h>
#include <stdbool.h>

#include <json-c/json.h>

#include "accel.h"
#include "err.h"

enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

enum cli_progress { PROGRESS_AUTO, PROGRESS_PLAIN, PROGRESS_NONE, PROGRESS_INVALID };

struct cli {
        const char *verb;
        const char *uri;      /* --connect, $MLVM_CONNECT, qemu:///system */
        const char *file;     /* -f, ./mlvm.yaml */
        bool json;
        int verbosity;        /* -1 quiet, 0 normal, 1+ verbose */
        enum cli_progress progress;   /* --progress */
        const char *progress_arg;     /* its value, for the error when invalid */
};

/* Whether long steps (build, import, upload, setup's uploads) say each
 * step on stderr: --progress=auto (the default) when stderr is a
 * terminal, plain always, none never; -q and --json silence them. */
bool cli_progress(const struct cli *cli);

/* The operands a verb (or one of its subcommands) takes after its options:
 * at least MIN, at most MAX (ARGS_ANY: no limit). NAME says what they are
 * in the usage error for a wrong count: a verb "needs one NAME" (MIN 1) or
 * "needs NAME" (MIN 2 or more: NAME lists them); without a NAME, an
 * operand past MAX is an "unexpected argument 'X'". A subcommand's error
 * names it: "image rm needs one NAME", "key gen takes at most one NAME",
 * "image ls takes no arguments". WORD, when set, is the one word the
 * (optional) operand may be: "mlvm audit verify". */
#define ARGS_ANY (-1)
struct operands {
        int min, max;
        const char *name;
        const char *word;
};

/* A subcommand: the verb's first operand names it ("mlvm image build DIR").
 * It shares the verb's options; ARGS counts the operands after its name. */
struct subverb {
        const char *name;
        struct operands args;
        int (*run)(struct cli *cli, void *opts, int argc, char **argv);
};

/* A word on the command line after the verb that means the verb's own
 * option rather than a global one: "mlvm logs -f" follows, where -f
 * elsewhere is --file. Before the verb the word keeps its global meaning,
 * GLOBAL the long form that says it anywhere ("--file FILE"). */
struct alias {
        const char *word, *means, *global;
};

/* One verb of the mlvm command, declared as a table (like virsh's
 * vshCmdDef): cli_run_verb() parses its options together with the global
 * ones, answers --help and --version, checks its operands, and only then
 * calls RUN (or the subcommand's) with the parsed options and the operands.
 * Every verb's help has the one format of cli_print_verb_help(). */
struct verb {
        const char *name;
        const char *summary;
        const char *usage;    /* options and operands after "mlvm VERB" */
        const char *help;     /* the verb's own options, one per line */

        /* Its own options: getopt's short letters and long options (NULL
         * name last). ON_OPT stores one into the verb's options struct, of
         * OPTS_SIZE bytes and zeroed before parsing, and returns 0, or -1
         * after printing a usage error for a bad value. */
        const char *shortopts;
        const struct option *options;
        int (*on_opt)(struct cli *cli, int c, const char *arg, void *opts);
        size_t opts_size;
        const struct alias *aliases;     /* NULL word last */

        /* Its operands; or SUBS, subcommands named by the first operand
         * (NULL name last). */
        struct operands args;
        const struct subverb *subs;
        /* A rule across the options and the operands, checked once the
         * operands are there: after their count, or for subcommands once
         * one is named, before it is looked up. 0, or -1 after a usage
         * error ("--from-file goes with 'secret set'"). */
        int (*check)(struct cli *cli, const void *opts, int argc, char **argv);
        /* When set, the one usage error for any wrong operand or subcommand. */
        const char *args_error;
        int (*run)(struct cli *cli, void *opts, int argc, char **argv);
};

extern const struct verb verb_info, verb_config, verb_setup, verb_image, verb_key;
extern const struct verb verb_gc, verb_rm, verb_prune, verb_stats;
extern const struct verb verb_up, verb_down, verb_ps, verb_logs, verb_inspect;
extern const struct verb verb_audit, verb_creds, verb_secret, verb_run, verb_verify, verb_artifacts, verb_exec;
extern const struct verb verb_completion;
/* The verbs of main.c's table, for `mlvm completion words`. */
extern const struct verb *const *const cli_verbs;
extern const size_t cli_n_verbs;
extern const struct verb verb_version;

/* Run verb V on ARGV (ARGV[0] is the verb's name; the global options may
 * come before or after it): parse, check, call. Returns the exit status:
 * EXIT_OK after --help or --version, EXIT_USAGE after a usage error, else
 * what the verb's run function returns. */
int cli_run_verb(const struct verb *v, struct cli *cli, int argc, char **argv);

/* The global options, taken before the verb (main.c) and after it
 * (cli_run_verb): getopt's short letters (after a leading ':'), the long
 * options (NULL name last) and their help lines. */
#define CLI_GLOBAL_SHORTOPTS ":c:f:qvhV"
/* The values of the global options that have no short letter: above any
 * character, so that no verb's option value can be taken for them (a
 * verb's 'P' for --publish once was read as --progress). */
enum { CLI_OPT_JSON = 0x100, CLI_OPT_PROGRESS };
extern const struct option cli_global_options[];
extern const char cli_global_help[];
/* Store global option C (from getopt) in CLI; false when C is not one
 * that takes a value or sets a flag (-h, -V and errors are the caller's). */
bool cli_global_option(struct cli *cli, int c, const char *arg);
/* The usage error for getopt's ':' or '?' (C) on ARG, the word it refused:
 * a missing value, a value given to an option that takes none, or an
 * unknown option. Returns -EXIT_USAGE. */
int cli_option_error(const struct cli *cli, const struct option *opts, int c, const char *arg);

/* "mlvm: VERB: MESSAGE" on one line (newlines in MESSAGE become spaces);
 * with --json instead {"error":{"code":KIND,"message":MESSAGE}} on one
 * line, KIND being err_kind() of the error's code (err.h), "failed" when
 * there is none, "usage" for a usage error. */
#define CLI_USAGE_KIND "usage"
void cli_error(const struct cli *cli, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The same with CODE (a negative errno) saying which kind of error it is; returns EXIT_FAIL. */
int cli_error_as(const struct cli *cli, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int cli_fail(const struct cli *cli, const struct mlvm_err *e);   /* prints e, returns EXIT_FAIL */
/* The same for one of several operands: "WHAT: " in front of the message
 * unless it names WHAT first already. */
int cli_fail_for(const struct cli *cli, const char *what, struct mlvm_err *e);
/* A usage error as is, without the "(see ...)" hint cli_usage_error adds. */
void cli_usage_report(const struct cli *cli, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The same, with "(see 'mlvm VERB --help')" after it ('mlvm --help' before a verb). */
int cli_usage_error(const struct cli *cli, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void cli_print_verb_help(const struct verb *v);
void cli_print_json(json_object *o);
/* The accelerator a run asks for: --accel ARG (NULL when not given), else
 * $MLVM_ACCEL, else the workload's accel: key. A bad value is a usage
 * error naming where it came from (-1). */
int cli_accel_request(const struct cli *cli, const char *arg, enum mlvm_accel_request from_config,
                      enum mlvm_accel_request *ret);
/* "mlvm: VERB: notice: LINE" for each of up's notices, unless -q or --json. */
void cli_print_notices(const struct cli *cli, const char (*notices)[768], size_t n);

/* retention: of mlvm.yaml (C): remove the ended runs of its workloads past
 * it (run_retention), before up or run starts anything; what went, and
 * any failure, are notices (the verb goes on). */
struct mlvm_config;
void cli_apply_retention(const struct cli *cli, const char *state_dir, const struct mlvm_config *c);

/* What rm and prune removed (run-rm.h): one line each, or with --json one
 * array; a run that could not go is an error line. Returns how many could
 * not go; RET_REMOVED how many went. */
struct rm_item;
int cli_print_removed(const struct cli *cli, const struct rm_item *v, size_t n, size_t *ret_removed);

/* JSON value rendered as block YAML: what `mlvm config` prints for people. */
void cli_print_yaml(json_object *o);
