/* agent.h: what agent.c (boot, channel, main loop) and workload.c (mounts
 * and the workload process) share. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "agent-util.h"
#include "proto.h"
#include "transport.h"

#define WORKLOAD_UID 1000          /* the mlvm user of every image */
#define WORKLOAD_GID 1000

/* Root of the workload: "" (the initramfs, the default) or "/sysroot". */
void workload_set_root(const char *root);
const char *workload_root(void);

/* Mount the disk with M's serial read-only at M's path (under the workload
 * root). Returns 0, or -errno with WHY filled. */
int workload_mount(const struct proto_mount *m, uint64_t deadline, char *why, size_t cap);

struct workload {
        pid_t pid;                 /* 0: none started */
        int out, err;              /* pipes from its stdout and stderr; -1 once closed */
        bool exited;
        int status;                /* wait status once exited */
};

/* Mount /proc, /dev, /tmp, /run inside /sysroot (once; nothing for an
 * initramfs root). */
int workload_prepare_root(char *why, size_t cap);

/* Start the workload of E as WORKLOAD_UID with no capabilities. */
int workload_start(const struct proto_exec *e, struct workload *w, char *why, size_t cap);
/* Start ARGV as the workload's user, like the workload, on the given
 * descriptors (TTY: they are a terminal's, which becomes the controlling one). */
int workload_spawn_exec(const struct proto_strv *argv, int in, int out, int err, bool tty, pid_t *ret, char *why,
                        size_t cap);
/* Reap children (PID 1 adopts orphans); records the workload's status
 * and tells streams.c of its exec commands. */
void workload_reap(struct workload *w);
/* SIGTERM the workload's process group, SIGKILL after GRACE_MS. */
void workload_stop(struct workload *w, unsigned grace_ms);

/* secrets.c: credentials in tmpfs with a TTL from delivery. */
int secrets_put(const struct proto_cred *c, char *why, size_t cap);
/* Remove NAME ("" for all); returns how many were removed. */
unsigned secrets_revoke(const char *name);
/* Milliseconds until the next TTL ends (at most 60 s), -1 when none. */
int secrets_next_timeout_ms(void);
/* Would a mount at PATH cover or enter /run/mlvm/secrets? */
bool secrets_path_covers(const char *path);
/* Remove every credential whose TTL ended, calling REPORT for each. */
void secrets_expire(void (*report)(const char *name, const char *lease));

/* artifacts.c: an experiment's artifact directory and stream. */
int artifacts_prepare(const struct proto_exec *e, char *why, size_t cap);
bool artifacts_wanted(void);
/* Hash, report and write the artifacts; then ARTIFACTS_DONE. */
int artifacts_finish(char *why, size_t cap);
#ifdef MLVM_AGENT_EVIL
#include "tar.h"
/* Test builds only: when the artifact directory holds .mlvm-evil, write
 * the hostile stream it names instead; > 0 when it did. */
int evil_artifacts(const char *dir, struct tarw *w, uint32_t *files, char *why, size_t cap);
#endif

/* streams.c: published ports inside the guest. */
#include <poll.h>
void streams_init(void);
void streams_on_frame(const struct proto_msg *m);
size_t streams_poll_fill(struct pollfd *p);      /* at most 3 * PROTO_STREAMS_MAX entries */
void streams_poll_handle(const struct pollfd *p, size_t n);
void streams_reset_all(void);
void streams_child_exited(pid_t pid, int status);
void streams_tick(void);
bool streams_running(void);
