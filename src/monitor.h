/* monitor.h: the per-run supervisor process (mlvm-monitor STATE_DIR RUNID). */
#pragma once

/* Supervise run RUN_ID until it ends; returns the process exit status. */
int monitor_run(const char *state_dir, const char *run_id);
/* The monitor binary: $MLVM_MONITOR, else next to the running mlvm in the
 * build tree, else the installed one. */
char *monitor_find_binary(void);
