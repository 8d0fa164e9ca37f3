/* workload.h: the workload (workload.c): its root filesystem, its process
 * (chroot, uid 1000, no capabilities, no_new_privs, its own session), the
 * `mlvm exec` commands started the same way, reaping and stopping. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "proto.h"

#define WORKLOAD_UID 1000          /* the mlvm user of every image */
#define WORKLOAD_GID 1000

/* Root of the workload: "" (the initramfs, the default) or "/sysroot";
 * set once by main() from what boot found. */
void workload_set_root(const char *root);
const char *workload_root(void);

/* Mount /proc, /dev, /tmp, /run inside /sysroot (once; nothing for an
 * initramfs root). 0, or -errno with WHY filled. */
int workload_prepare_root(char *why, size_t cap);

struct workload {
        pid_t pid;                 /* 0: none started */
        int out, err;              /* pipes from its stdout and stderr; -1 once closed */
        bool exited;
        int status;                /* wait status once exited */
};

/* Start the workload of E as WORKLOAD_UID with no capabilities. */
int workload_start(const struct proto_exec *e, struct workload *w, char *why, size_t cap);
/* Start ARGV as the workload's user, like the workload, on the given
 * descriptors (TTY: they are a terminal's, which becomes the controlling
 * one); its pid in RET_PID. */
int workload_spawn_exec(const struct proto_strv *argv, int in, int out, int err, bool tty, pid_t *ret_pid, char *why,
                        size_t cap);
/* Reap children (PID 1 adopts orphans): records the workload's status in
 * W and passes every other child to OTHER (the exec commands). */
void workload_reap(struct workload *w, void (*other)(pid_t pid, int status));
/* SIGTERM the workload's process group, SIGKILL after GRACE_MS; reaps
 * meanwhile as workload_reap() does. */
void workload_stop(struct workload *w, unsigned grace_ms, void (*other)(pid_t pid, int status));
