/* run-rm.h: removing the records of runs that ended: `mlvm rm` and
 * `mlvm prune`. A run's directory goes whole (run.json, its logs, its
 * artifacts and provenance) through run_remove_record, the code gc uses
 * for the records it removes, and its name entry goes when it still names
 * that run. One audit event per call lists the runs removed; what they
 * held is not kept (docs/architecture.md, "Run housekeeping").
 *
 * The choice of what prune removes (run_prune_selects) is a pure function
 * of a record and the time, so that tests feed it records
 * (tests/unit/test-run-rm.c). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <json-c/json.h>

#include "config.h"
#include "err.h"
#include "run.h"

/* When the run ended: its end state's "<state>_at", else any end stamp.
 * False for a live run, or an ended one with no stamp at all. */
bool run_ended_at(json_object *run, double *ret_time);

/* Does prune remove this run? Its record's state is an end (exited,
 * failed, stopped) and it ended at least UNTIL_S seconds before NOW
 * (UNTIL_S 0: any ended run). An ended run without an end stamp counts
 * from its created_at; one with neither is removed only when UNTIL_S is 0. */
bool run_prune_selects(json_object *run, double now, uint64_t until_s);

struct rm_item {
        char id[RUN_ID_LEN + 1];
        char *name;            /* the record's, "" when none */
        char *state;           /* the record's state when it was looked at */
        bool removed;
        struct mlvm_err err;   /* why not, when !removed */
};

/* Remove the records of runs IDS, under runs.lock. A run is refused (its
 * item says why, with -EBUSY) when its record says live, when its monitor
 * still runs, or while an up or down holds its up.lock. EVENT ("run.rm",
 * "run.prune") is the audit event listing the removed ones, written only
 * when one was. RET gets one item per id. Returns the number refused or
 * failed, or a negative errno (with E) when nothing could be looked at. */
int run_rm(const char *state_dir, const char (*ids)[RUN_ID_LEN + 1], size_t n, const char *event,
           struct rm_item **ret, struct mlvm_err *e);
void rm_items_free(struct rm_item *v, size_t n);

/* prune: the ended runs of URI's records that run_prune_selects, removed
 * by run_rm (event "run.prune"). */
int run_prune(const char *state_dir, const char *uri, uint64_t until_s, struct rm_item **ret, size_t *ret_n,
              struct mlvm_err *e);

/* retention: in mlvm.yaml: does C's retention remove this run? C sets
 * one (retention_s > 0), the run's name is a model or experiment of C
 * (another file's history is not this file's to drop), and
 * run_prune_selects it with UNTIL_S the retention. */
bool run_retention_selects(json_object *run, const struct mlvm_config *c, double now);
/* What `mlvm up` and `mlvm run` apply before they start anything: the
 * ended runs of URI's records that run_retention_selects, removed by
 * run_rm with the audit event "run.retention". Nothing when C sets no
 * retention. */
int run_retention(const char *state_dir, const char *uri, const struct mlvm_config *c, struct rm_item **ret,
                  size_t *ret_n, struct mlvm_err *e);
