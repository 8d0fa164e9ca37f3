/* run-down.h: `mlvm down` as a library call. */
#pragma once

#include <stdbool.h>

#include "err.h"

struct down_result {
        bool was_live;        /* the run was starting or ready */
        bool via_monitor;     /* the monitor did the teardown */
        bool removed;         /* a run that failed to start: its record is gone too */
        double seconds;
};

/* Stop run ID: ask its monitor (SHUTDOWN to the agent, then destroy), or,
 * when the monitor is gone, destroy the domain and delete the volumes
 * here. Idempotent: a run that already ended is cleaned up again. */
int run_down(const char *state_dir, const char *id, struct down_result *ret, struct mlvm_err *e);
