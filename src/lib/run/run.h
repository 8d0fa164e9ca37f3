/* run.h: run records under STATE_DIR/runs/<RUNID>/:
 *   run.json      the record (state, timings, image, volumes, config), written atomically
 *   domain.xml    the domain as generated
 *   console.log   the guest's serial console (capped)
 *   output.log    the workload's stdout and stderr (capped)
 *   *.log.times   when each chunk of console.log and output.log was written (capped)
 *   monitor.log   the monitor's own messages
 *   qemu.log      the tail of libvirt's QEMU log, kept when a run failed to start
 *   control.sock  the monitor's control socket (mode 0600, JSON lines)
 *   up.lock       held (flock) by the `mlvm up` that is creating the run
 * and STATE_DIR/names/<NAME> holding the RUNID of the name's current run.
 * Writers (up, the monitor, down) update run.json under an flock on
 * run.lock, read-modify-write. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include <json-c/json.h>

#include "err.h"
#include "json-util.h"

#define RUN_ID_LEN 8
#define RUN_CONSOLE_MAX (16u << 20)
#define RUN_OUTPUT_MAX  (64u << 20)
#define RUN_JSON_MAX    (4u << 20)

/* States; starting and ready are live, the rest are ends. */
#define RUN_STARTING "starting"
#define RUN_READY    "ready"
#define RUN_EXITED   "exited"
#define RUN_FAILED   "failed"
#define RUN_STOPPED  "stopped"

bool run_state_is_live(const char *state);

char *run_dir(const char *state_dir, const char *id);
char *run_file(const char *state_dir, const char *id, const char *name);
int run_new_id(char ret[RUN_ID_LEN + 1]);
bool run_id_is_valid(const char *id);

int run_load(const char *state_dir, const char *id, json_object **ret, struct mlvm_err *e);
int run_save(const char *state_dir, const char *id, json_object *run, struct mlvm_err *e);
/* Load, let FN change it, save, all under the run's lock. */
int run_update(const char *state_dir, const char *id, void (*fn)(json_object *run, void *u), void *u,
               struct mlvm_err *e);
/* Set state (and "error" when WHY), stamping "<state>_at". */
int run_set_state(const char *state_dir, const char *id, const char *state, const char *why, struct mlvm_err *e);

/* NAME or a run id (or a unique prefix of one) to a run id. */
int run_resolve(const char *state_dir, const char *ref, char ret[RUN_ID_LEN + 1], struct mlvm_err *e);
/* A run id or a unique prefix (at least 4 digits) of one; -ENOENT if none. */
int run_resolve_id(const char *state_dir, const char *prefix, char ret[RUN_ID_LEN + 1]);
/* The name's current run, if any. */
int run_name_get(const char *state_dir, const char *name, char ret[RUN_ID_LEN + 1]);
/* Does NAME's current run say starting or ready? Its id in RET then. */
bool run_name_is_live(const char *state_dir, const char *name, char ret[RUN_ID_LEN + 1]);
int run_name_set(const char *state_dir, const char *name, const char *id, struct mlvm_err *e);
/* Remove the name entry if it still points to ID. */
void run_name_clear(const char *state_dir, const char *name, const char *id);

/* Remove the run's directory and the files mlvm keeps in it (its logs,
 * artifacts and provenance too): 0, or -errno when the directory stays
 * (it holds something mlvm did not put there). */
int run_remove_record(const char *state_dir, const char *id);

/* Run ids in the state dir, sorted by creation time. */
int run_list(const char *state_dir, char (**ret)[RUN_ID_LEN + 1], size_t *ret_n, struct mlvm_err *e);

/* Is PID alive and really the monitor of run ID (guards against pid reuse)? */
bool run_monitor_alive(pid_t pid, const char *id);
/* The process's start time (/proc/PID/stat, field 22, in clock ticks since
 * boot): with the pid, what names one process for its whole life. */
int run_proc_start_time(pid_t pid, unsigned long long *ret);
/* Is the record's monitor (monitor_pid, monitor_start) that very process,
 * still running mlvm-monitor (/proc/PID/exe) for run ID? A record without
 * monitor_start is proven by nothing but the command line: false. */
bool run_monitor_matches(json_object *run, const char *id);
/* The run's live state as ps shows it: a live record whose monitor is gone
 * is "failed (monitor gone)", unless an `mlvm up` still holds its up.lock. */
const char *run_effective_state(const char *state_dir, json_object *run, const char *id);

/* The live run's health as its monitor last wrote it (healthcheck: in
 * mlvm.yaml): "starting", "healthy" or "unhealthy"; NULL without a
 * healthcheck or for anything else in the field. */
#define RUN_HEALTH_STARTING  "starting"
#define RUN_HEALTH_HEALTHY   "healthy"
#define RUN_HEALTH_UNHEALTHY "unhealthy"
const char *run_health(json_object *run);

/* `mlvm up` holds runs/ID/up.lock from the claim until it returns, so
 * that down and gc never take a run that is still being created for dead.
 * run_up_lock creates and takes it (blocking); run_up_trylock takes an
 * existing one without waiting: -EWOULDBLOCK while an up holds it,
 * -ENOENT when there is none (a run being removed, or from an older mlvm). */
int run_up_lock(const char *state_dir, const char *id, int *ret_fd, struct mlvm_err *e);
int run_up_trylock(const char *state_dir, const char *id, int *ret_fd);
bool run_up_in_progress(const char *state_dir, const char *id);

/* The state directory's identity: 32 hex digits in STATE_DIR/owner, made
 * once. It goes into every run's record and domain metadata, so that gc
 * tells this state directory's objects from those of another one sharing
 * the libvirtd. CREATE false: -ENOENT when there is none yet. */
#define RUN_OWNER_LEN 32
int run_owner(const char *state_dir, bool create, char ret[RUN_OWNER_LEN + 1], struct mlvm_err *e);
bool run_owner_is_valid(const char *owner);

/* A live run (starting or ready) that uses image DIGEST: its id in RET; -ENOENT if none. */
int run_using_image(const char *state_dir, const char *digest, char ret[RUN_ID_LEN + 1]);

double run_now(void);
/* Append to a capped log file; once over CAP, one marker line, then
 * nothing. Each chunk's offset and time go to PATH.times (run-logs.h),
 * up to RUN_LOG_TIMES_MAX bytes of it. Returns how many of the LEN bytes
 * were not written (dropped at the cap, or lost to a failed open or
 * write), for the caller to count. */
#define RUN_LOG_TIMES_MAX (4u << 20)
size_t run_log_append(const char *path, const void *data, size_t len, size_t cap);
