/* run-down.h: `mlvm down` as a library call. */
#pragma once

#include <stdbool.h>

#include "err.h"
#include "run.h"

struct down_result {
        bool was_live;        /* the run was starting or ready */
        bool via_monitor;     /* the monitor did the teardown */
        bool removed;         /* a run that failed to start: its record is gone too */
        bool destroyed;       /* a domain was still there and was destroyed here */
        bool pool_restarted;  /* the pool was not active (its directory removed?): started again */
        bool restart_cancelled;   /* the run waited to restart (run-restart.h): no more */
        char restarted_as[RUN_ID_LEN + 1];   /* its restart had begun: that run was stopped too */
        double seconds;
};

/* Did the down change anything: a run that was live, a monitor or a
 * domain stopped, a record removed? Only then is it audited ("run.down"):
 * the audit log records what changed state, not a down of a run that had
 * already ended (docs/security.md). */
bool run_down_is_audited(const struct down_result *res);

/* What `mlvm down REF` acts on: the current run of name REF, else the run
 * with id (or unique prefix of at least 4 digits) REF; *RET_ENDED false.
 * A name whose runs all ended gives its newest run with *RET_ENDED true:
 * nothing to stop, down is idempotent. A name or id never seen is a
 * mistake: -ENOENT ("no such run or name"). */
int run_down_resolve(const char *state_dir, const char *ref, char ret[RUN_ID_LEN + 1], bool *ret_ended,
                     struct mlvm_err *e);

/* Stop run ID: ask its monitor (SHUTDOWN to the agent, then destroy), or,
 * when the monitor is gone, destroy the domain and delete the volumes
 * here. Idempotent: a run that already ended is cleaned up again, and
 * only audited when that changed something (run_down_is_audited). */
int run_down(const char *state_dir, const char *id, struct down_result *ret, struct mlvm_err *e);
