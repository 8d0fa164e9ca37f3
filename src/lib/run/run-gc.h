/* run-gc.h: `mlvm gc` as a library call: find every domain, volume,
 * monitor, control socket, run record, name and temporary file of THIS
 * state directory that no live run owns, and remove it.
 *
 * Ownership is proven, never guessed from a name (docs/architecture.md,
 * "What gc removes"): a domain is ours when its mlvm metadata carries this
 * state directory's owner identity (run.h, run_owner); a run volume
 * (mlvm-run-RUNID-*) when this state directory holds run RUNID's record with
 * that identity, or one of our domains names the run; a monitor when its
 * pid and start time are the record's and /proc/PID/exe is mlvm-monitor; a
 * temporary file (PATH.tmp.PID) when the process that wrote it is gone; a
 * QEMU uid claim when it names this state directory's owner identity and
 * its run is gone.
 * Everything else is "not ours" and left alone.
 *
 * The decision (gc_decide) is a pure function of what was collected, so
 * that tests feed it recorded inputs (tests/unit/test-run-gc.c). */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <json-c/json.h>

#include "err.h"
#include "run.h"

/* A monitor alive after its run looks dead (domain gone, end state
 * written) is most likely still tearing it down: left alone this long
 * after run.json last changed. */
#define GC_GRACE_S 120.0

enum gc_kind { GC_MONITOR, GC_DOMAIN, GC_VOLUME, GC_SOCKET, GC_TMPFILE, GC_RECORD, GC_NAME, GC_UID, GC_KIND_MAX };
enum gc_action { GC_REMOVE, GC_LIVE, GC_NOT_OURS, GC_DONE, GC_FAILED };

struct gc_run {                /* one record in this state directory */
        char id[RUN_ID_LEN + 1];
        json_object *record;   /* borrowed */
        int lock_fd;           /* its up.lock, held by gc while it acts (-1: not taken) */
        bool up_locked;        /* an mlvm up (or down) holds up.lock */
        bool monitor_matches;  /* the record's monitor: pid, start time, exe */
        bool socket_present;   /* runs/ID/control.sock exists */
        bool socket_answers;   /* and a monitor answers ping on it */
        double mtime;          /* run.json's, wall clock */
};

struct gc_domain {
        char *name;
        bool active, persistent;
        bool has_meta;         /* <mlvm:run> in mlvm's namespace */
        char *meta_id, *meta_owner;
};

struct gc_tmpfile {
        char *path;
        bool writer_alive;     /* the PID in its name runs, and started before the file was written */
};

struct gc_name {
        char *name;
        char id[RUN_ID_LEN + 1];
};

struct gc_uid {                /* a QEMU uid claim (qemu-id.h) that names this state directory */
        uint32_t uid;
        char run[RUN_ID_LEN + 1];
};

struct gc_input {
        const char *owner;     /* this state directory's identity; "" when it has none yet */
        const char *uri;       /* the connection gc works on */
        double now;
        struct gc_run *runs;
        size_t n_runs;
        struct gc_domain *domains;
        size_t n_domains;
        char **volumes;        /* names in the pool */
        size_t n_volumes;
        struct gc_tmpfile *tmpfiles;
        size_t n_tmpfiles;
        struct gc_name *names;
        size_t n_names;
        struct gc_uid *uids;
        size_t n_uids;
};

struct gc_item {
        enum gc_kind kind;
        enum gc_action action;
        char *name;            /* domain, volume, path, "pid N" */
        char run[RUN_ID_LEN + 1];   /* "" when none */
        char *why;
        pid_t pid;             /* GC_MONITOR */
};

struct gc_plan {
        struct gc_item *items;
        size_t n;
        bool pool_restarted;   /* the pool was not active (its directory removed?): started again */
};

const char *gc_kind_to_string(enum gc_kind k);
const char *gc_action_to_string(enum gc_action a, bool dry_run);

/* What to do with each object of IN; items in the order gc acts on them. */
void gc_decide(const struct gc_input *in, struct gc_plan *ret);
void gc_plan_clear(struct gc_plan *p);

struct gc_opts {
        const char *state_dir, *uri, *pool_name;
        bool dry_run;
};

/* Collect, decide and (unless dry_run) remove, under runs.lock, holding
 * each acted-on run's up.lock; one audit event "gc" lists what was
 * removed. RET gets every item, including the failed ones; -EIO when any
 * removal failed (the items say which). */
int run_gc(const struct gc_opts *o, struct gc_plan *ret, struct mlvm_err *e);
