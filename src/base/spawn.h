/* spawn.h: run a host command (never through a shell) and capture its
 * output under a size cap. */
#pragma once

#include <stddef.h>

#include "err.h"

/* Run ARGV in CWD (NULL: inherit), stdin from /dev/null. Captures stdout
 * (at most MAX_OUT bytes) into *ret_out when non-NULL, else passes it
 * through; stderr is captured too and its last line used in errors. Fails
 * unless the command exits 0. */
int spawn_capture(char *const argv[], const char *cwd, size_t max_out, char **ret_out, struct mlvm_err *e);

struct spawn_opts {
        char *const *argv;
        const char *cwd;          /* NULL: inherit */
        char *const *env_add;     /* NAME=value strings added to the environment, or NULL */
        size_t max_out;           /* stdout cap: more is an error */
        int timeout_ms;           /* <= 0: none; else the process group is killed (SIGKILL) and -ETIMEDOUT */
        enum { SPAWN_STDERR_CAPTURE, SPAWN_STDERR_INHERIT, SPAWN_STDERR_DISCARD, SPAWN_STDERR_TO_OUT } stderr_mode;
        /* CAPTURE: its last line goes into the error message; TO_OUT: into
         * stdout's pipe, interleaved as the command wrote them; otherwise the
         * message has the exit status only (stderr may hold a secret). */
        /* When set, stdout is handed here as it comes, and not kept (a long
         * build's log, its progress); spawn_run's *RET_OUT stays NULL. */
        void (*on_out)(void *u, const char *data, size_t len);
        void *on_out_u;
};
/* spawn_capture with options; stdout may hold any bytes (*ret_len says
 * how many; a NUL is appended). The command runs in its own process group. */
int spawn_run(const struct spawn_opts *o, char **ret_out, size_t *ret_len, struct mlvm_err *e);
