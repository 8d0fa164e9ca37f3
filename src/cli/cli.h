/* cli.h: what every verb of the mlvm command shares. The CLI files only
 * parse arguments, call the library and print (docs/style.md, rule 1). */
#pragma once

#include <getopt.h>
#include <stdbool.h>

#include <json-c/json.h>

#include "accel.h"
#include "err.h"

enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

struct cli {
        const char *verb;
        const char *uri;      /* --connect, $MLVM_CONNECT, qemu:///system */
        const char *file;     /* -f, ./mlvm.yaml */
        bool json;
        int verbosity;        /* -1 quiet, 0 normal, 1+ verbose */
};

struct verb {
        const char *name;
        int (*run)(struct cli *cli, int argc, char **argv);
        const char *summary;
        const char *usage;    /* options and operands after "mlvm VERB" */
        const char *help;     /* the verb's own options, one per line */
};

extern const struct verb verb_info, verb_config, verb_setup, verb_image, verb_key;
extern const struct verb verb_up, verb_down, verb_ps, verb_logs, verb_inspect;
extern const struct verb verb_audit, verb_creds, verb_secret, verb_run, verb_verify, verb_artifacts, verb_exec;

/* Parse the verb's options together with the global ones (which may come
 * before or after the verb). ON_OPT handles the verb's own; it returns 0,
 * or -1 for a bad value (after printing). Returns the index of the first
 * operand, -EXIT_USAGE after a usage error, or -1000 after --help. */
#define CLI_HELP_DONE (-1000)
int cli_parse(struct cli *cli, const struct verb *v, int argc, char **argv, const char *shortopts,
              const struct option *longopts, int (*on_opt)(struct cli *, int c, const char *arg, void *u),
              void *u);

/* "mlvm: VERB: MESSAGE" on one line (newlines in MESSAGE become spaces). */
void cli_error(const struct cli *cli, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int cli_fail(const struct cli *cli, const struct mlvm_err *e);   /* prints e, returns EXIT_FAIL */
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

/* JSON value rendered as block YAML: what `mlvm config` prints for people. */
void cli_print_yaml(json_object *o);
