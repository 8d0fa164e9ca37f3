/* gate-sandbox.h: how the frame gate (gate.h) and the artifact parser
 * (untar.h) give up privilege: the drop before their exec, the check
 * after it, and their seccomp filters. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "err.h"

/* The environment variable that turns the filter's verdict from killing
 * the gate (SECCOMP_RET_KILL_PROCESS, the default, or "kill") into
 * logging the call (SECCOMP_RET_LOG, "log"): for finding a missing
 * syscall, never for production. */
#define GATE_SECCOMP_ENV "MLVM_MONITOR_SECCOMP"

/* Check $MLVM_MONITOR_SECCOMP: 0 (unset or "kill"), 1 ("log"), or -EINVAL
 * naming the value. */
int gate_sandbox_mode(struct mlvm_err *e);
/* In the forked child, as root, before the exec: no supplementary groups,
 * GID and UID (real, effective, saved), no capability in any set
 * (bounding, inheritable, ambient; permitted and effective go with the
 * uid), no new privileges. -errno naming the step that failed. */
int gate_sandbox_drop(uid_t uid, gid_t gid, struct mlvm_err *e);
/* After the exec: -EPERM unless the process runs with no root id, no
 * capability and no new privileges. */
int gate_sandbox_check(struct mlvm_err *e);
/* Install the filter: only the calls the gate's loop makes, reading and
 * writing its socket (fd 3) alone; anything else kills the process (or
 * is logged, under "log"). */
int gate_sandbox_seccomp(struct mlvm_err *e);

/* One call a filter allows: NR, only on descriptor FD (its first
 * argument) when FD >= 0, or, when ARG2_CLEAR is not 0 (and FD < 0),
 * only with those bits clear in its third argument (mmap's PROT_EXEC). */
struct sandbox_call {
        int nr, fd;
        uint32_t arg2_clear;
};
/* Install a filter allowing CALLS alone (on this architecture; anything
 * else kills the process, or is logged under "log"). WHO names the
 * process in errors. */
int sandbox_seccomp(const struct sandbox_call *calls, size_t n, const char *who, struct mlvm_err *e);
