/* monitor-spawn.h: how `up` starts a run's monitor, the mlvm-monitor
 * binary (src/monitor/), as a detached process. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "err.h"

/* The monitor binary: $MLVM_MONITOR, else next to the running mlvm in the
 * build tree, else the installed one. */
char *monitor_find_binary(void);

/* Start run ID's monitor detached (its own session, reparented to init):
 * *RET_PID is its pid. With CREDS, *RET_CREDS_FD is the write end of the
 * pipe the monitor reads the first credential leases from (its fd 3). */
int monitor_spawn(const char *state_dir, const char *id, bool creds, pid_t *ret_pid, int *ret_creds_fd,
                  struct mlvm_err *e);
