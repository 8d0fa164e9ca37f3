/* run-batch.h: what `mlvm up` and `mlvm down` act on when they are given
 * several names or none, as Compose's up and down: every model of the
 * file. The selection is decided whole before anything starts or stops,
 * so a mistyped name starts nothing (tests/unit/test-run-batch.c). */
#pragma once

#include <stddef.h>

#include "config.h"
#include "err.h"
#include "run.h"

/* The models up starts: NAMES in the order given, each once, or, with no
 * NAMES, every model of C in file order (experiments start with run).
 * Every name is checked first: one that FILE lacks is -ENOENT (with the
 * closest name), an experiment -ENOTSUP naming `mlvm run`; RET is then
 * not written and nothing may start. No NAMES and no model in FILE:
 * -ENOENT "FILE: no models to start". RET points into C. */
int batch_up_select(const struct mlvm_config *c, const char *file, char *const *names, size_t n,
                    const struct mlvm_workload ***ret, size_t *ret_n, struct mlvm_err *e);

/* A live run that down stops without operands. */
struct batch_run {
        char id[RUN_ID_LEN + 1];
        const char *name;     /* the model's name, in C */
};

/* The runs `mlvm down` stops without operands: for each model of C in
 * file order, its current run when that is live (starting or ready, also
 * when its monitor is gone) and was started on URI, as ps lists them. */
int batch_down_select(const char *state_dir, const char *uri, const struct mlvm_config *c, struct batch_run **ret,
                      size_t *ret_n);
