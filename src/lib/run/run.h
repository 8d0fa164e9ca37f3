/* run.h: run records under STATE_DIR/runs/<RUNID>/:
 *   run.json      the record (state, timings, image, volumes, config), written atomically
 *   domain.xml    the domain as generated
 *   console.log   the guest's serial console (capped)
 *   output.log    the workload's stdout and stderr (capped)
 *   monitor.log   the monitor's own messages
 *   qemu.log      the tail of libvirt's QEMU log, kept when a run failed to start
 *   control.sock  the monitor's control socket (mode 0600, JSON lines)
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
int run_name_set(const char *state_dir, const char *name, const char *id, struct mlvm_err *e);
/* Remove the name entry if it still points to ID. */
void run_name_clear(const char *state_dir, const char *name, const char *id);

/* Remove the run's directory and the files mlvm keeps in it. */
void run_remove_record(const char *state_dir, const char *id);

/* Run ids in the state dir, sorted by creation time. */
int run_list(const char *state_dir, char (**ret)[RUN_ID_LEN + 1], size_t *ret_n, struct mlvm_err *e);

/* Is PID alive and really the monitor of run ID (guards against pid reuse)? */
bool run_monitor_alive(pid_t pid, const char *id);
/* The run's live state as ps shows it: a live record whose monitor is gone is "failed (monitor gone)". */
const char *run_effective_state(json_object *run, const char *id);

/* A live run (starting or ready) that uses image DIGEST: its id in RET; -ENOENT if none. */
int run_using_image(const char *state_dir, const char *digest, char ret[RUN_ID_LEN + 1]);

double run_now(void);
/* Append to a capped log file; once over CAP, one marker line, then nothing. */
void run_log_append(const char *path, const void *data, size_t len, size_t cap);
