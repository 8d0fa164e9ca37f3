/* run-restart.h: restart: on-failure | always (mlvm.yaml), the chain of
 * runs it makes. When a model's run ends by itself, its monitor decides
 * (run_restart_wanted), marks the ended record restart_pending, keeps the
 * name pointing at it, waits the backoff and then runs `mlvm up
 * --restart-of ID NAME`, which claims the name only if the record still
 * says pending (run_restart_claim, under runs.lock). `mlvm down NAME`
 * cancels a pending restart under the same lock (run_restart_cancel), so
 * a down during the backoff always wins or, when the next run got in
 * first, finds it and stops it too. Each restart is a new run linked to
 * the one before: restart_of, restart_count in its record, and the
 * ended record's restarted_as. */
#pragma once

#include <stdbool.h>

#include "config.h"
#include "err.h"
#include "mtime.h"
#include "run.h"

#define RUN_RESTART_BACKOFF_MAX   (60 * USEC_PER_SEC)

/* Does a run that ended in END_STATE (the workload's exit code CODE when
 * HAVE_CODE) restart under POLICY? Never after mlvm down (BY_DOWN), nor
 * once COUNT restarts (those before this run) reached MAX. on-failure:
 * the run failed, or its workload exited non-zero. */
bool run_restart_wanted(enum mlvm_restart policy, const char *end_state, bool have_code, int code, bool by_down,
                        unsigned count, unsigned max);
/* The wait before restart number COUNT + 1: DELAY (restart_delay),
 * doubling with each restart, at most 60 s or DELAY if that is longer. */
usec_t run_restart_backoff(usec_t delay, unsigned count);

/* Is a restart of run ID still wanted: its record restart_pending, not
 * cancelled, and NAME still naming it? -ECANCELED with why not. */
int run_restart_check(const char *state_dir, const char *id, struct mlvm_err *e);
/* Does NAME's current run wait to restart? Its id in RET then. */
bool run_restart_pending(const char *state_dir, const char *name, char ret[RUN_ID_LEN + 1]);
/* For `up --restart-of PREV`, called under runs.lock: the restart is
 * still wanted (run_restart_check); *RET_COUNT is the new run's
 * restart_count. */
int run_restart_claim(const char *state_dir, const char *prev, unsigned *ret_count, struct mlvm_err *e);
/* Under runs.lock too, once the new run NEXT holds the name: PREV's
 * record says restarted_as NEXT, no longer pending. */
int run_restart_claimed(const char *state_dir, const char *prev, const char *next, struct mlvm_err *e);
/* The restart of PREV failed to start (WHY): not pending any more, its
 * name entry gone if it still names PREV. */
void run_restart_abandon(const char *state_dir, const char *prev, const char *why);
/* `mlvm down`: cancel run ID's pending restart, if any (*RET_CANCELLED).
 * When its restart already started, *RET_NEXT is the new run's id (the
 * name's current run, linked to ID) and 1 is returned; else 0. */
int run_restart_cancel(const char *state_dir, const char *id, bool *ret_cancelled, char ret_next[RUN_ID_LEN + 1],
                       struct mlvm_err *e);
