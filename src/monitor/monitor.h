/* monitor.h: the per-run supervisor process (mlvm-monitor STATE_DIR RUNID).
 * How `up` starts one is src/lib/run/monitor-spawn.h. */
#pragma once

/* Supervise run RUN_ID until it ends; returns the process exit status.
 * CREDS_FD carries the first leases from `up` (-1: none). */
int monitor_run(const char *state_dir, const char *run_id, int creds_fd);
