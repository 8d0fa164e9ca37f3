/* monitor.h: the per-run supervisor process (mlvm-monitor STATE_DIR RUNID). */
#pragma once

/* Supervise run RUN_ID until it ends; returns the process exit status.
 * CREDS_FD carries the first leases from `up` (-1: none). */
int monitor_run(const char *state_dir, const char *run_id, int creds_fd);
/* The monitor binary: $MLVM_MONITOR, else next to the running mlvm in the
 * build tree, else the installed one. */
char *monitor_find_binary(void);

#include <stdbool.h>
#include <sys/types.h>

#include "err.h"

/* Start run ID's monitor detached (its own session, reparented to init):
 * *RET_PID is its pid. With CREDS, *RET_CREDS_FD is the write end of the
 * pipe the monitor reads the first credential leases from (its fd 3). */
int monitor_spawn(const char *state_dir, const char *id, bool creds, pid_t *ret_pid, int *ret_creds_fd,
                  struct mlvm_err *e);
