/* run-filter.h: `mlvm ps --filter KEY=VALUE[,KEY=VALUE...]`: which runs a
 * listing shows. Keys: state (starting, ready, exited, failed, stopped;
 * live and ended for either group) and name (a shell pattern, fnmatch).
 * Values of one key are alternatives, different keys must all match, and
 * --filter may be given more than once (as docker ps). The parser is pure
 * and strict (tests/unit/test-run-filter.c). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "err.h"

#define RUN_FILTER_MAX 32          /* name patterns */
#define RUN_FILTER_VALUE_MAX 128

struct run_filter {
        unsigned states;           /* bits of run-filter.c's state words; 0: any */
        char *names[RUN_FILTER_MAX];
        size_t n_names;
};

/* Add SPEC's conditions to F. -EINVAL with a one-line message naming what
 * is wrong ("state=runing: unknown state (starting, ready, ...)"). */
int run_filter_add(struct run_filter *f, const char *spec, struct mlvm_err *e);
/* Does a run named NAME in STATE (ps's effective state: "failed (monitor
 * gone)" is failed) pass F? */
bool run_filter_match(const struct run_filter *f, const char *name, const char *state);
/* Does F ask for a state (then ps looks at ended runs too, without --all)? */
bool run_filter_has_state(const struct run_filter *f);
void run_filter_clear(struct run_filter *f);
