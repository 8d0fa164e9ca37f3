/* err.h: the one error convention (docs/style.md, rule 2).
 * Library functions return 0 or a negative errno and fill a struct mlvm_err
 * whose message accumulates context, outermost first:
 *   "open image store: /var/lib/mlvm/images: Permission denied".
 * Only the CLI prints it, as "mlvm: VERB: MESSAGE". */
#pragma once

#include <stddef.h>

#define MLVM_ERR_MAX 2048

struct mlvm_err {
        int code;                  /* negative errno, 0 when unset */
        char msg[MLVM_ERR_MAX];
};

/* Set the message to FMT plus ": strerror(-code)"; returns code (negative). */
int err_set(struct mlvm_err *e, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Set the message to FMT alone (it already says why); returns code. */
int err_setx(struct mlvm_err *e, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Set FMT plus ": " and libvirt's last error message; returns -EIO. */
int err_virt(struct mlvm_err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prepend "FMT: " to the message; returns the stored code. */
int err_prefix(struct mlvm_err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void err_clear(struct mlvm_err *e);

/* The stable word for CODE (a negative errno, 0 for "unknown") that --json
 * errors carry, so scripts need not match messages. The set is small and
 * documented (README, Exit status; docs/architecture.md): not-found,
 * invalid, denied, conflict, unavailable, unsupported, and failed for
 * anything else. "usage" is the CLI's own, for a wrong command line. */
const char *err_kind(int code);
