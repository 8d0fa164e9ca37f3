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
