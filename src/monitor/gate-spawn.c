/* gate-spawn.c: the monitor starts its frame gate; see gate.h. */
#include "mlvm-build.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gate-sandbox.h"
#include "gate-wire.h"
#include "gate.h"
#include "json-util.h"
#include "qemu-id.h"
#include "util.h"

/* Enough for two chunks in flight plus the records of an earlier channel. */
#define GATE_SNDBUF (1u << 20)

void gate_identity(json_object *run, uid_t *ret_uid, gid_t *ret_gid)
{
        json_object *x;
        const char *how = json_object_object_get_ex(run, "qemu_identity", &x) ? json_object_get_string(x) : NULL;
        int64_t uid = json_object_object_get_ex(run, "qemu_uid", &x) && json_object_is_type(x, json_type_int)
                              ? json_object_get_int64(x)
                              : -1;
        /* The record is read back from disk: a uid outside the range any
         * run's could come from is not taken (qemu-id.h). */
        if (how && streq(how, "own-uid") && uid >= QEMU_ID_MIN && uid <= QEMU_ID_MAX) {
                *ret_uid = (uid_t)uid;
                *ret_gid = (gid_t)uid;
        } else {
                *ret_uid = GATE_FALLBACK_ID;
                *ret_gid = GATE_FALLBACK_ID;
        }
}

int gate_spawn(const char *run_id, uid_t uid, gid_t gid, int *ret_fd, pid_t *ret_pid, struct mlvm_err *e)
{
        int sv[2], mode = gate_sandbox_mode(e);
        if (mode < 0)
                return mode;
        /* The gate re-executes this binary: a fresh image, no memory of ours. */
        _cleanup_close_ int exe = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
        if (exe < 0)
                return err_set(e, -errno, "frame gate: /proc/self/exe");
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
                return err_set(e, -errno, "frame gate: socketpair");
        int sz = GATE_SNDBUF;
        (void)setsockopt(sv[0], SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof(sz));
        (void)setsockopt(sv[1], SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof(sz));

        pid_t pid = fork();
        if (pid < 0) {
                int r = err_set(e, -errno, "frame gate: fork");
                close(sv[0]);
                close(sv[1]);
                return r;
        }
        if (pid == 0) {
                struct mlvm_err ce = { 0 };
                /* Only the socket (as fd 3, without CLOEXEC) and /dev/null on 0-2;
                 * the binary stays open (CLOEXEC, above 9) until the exec. */
                int null = open("/dev/null", O_RDWR | O_CLOEXEC);
                int x = fcntl(exe, F_DUPFD_CLOEXEC, 10), s = fcntl(sv[1], F_DUPFD_CLOEXEC, 10);
                if (null < 0 || x < 0 || s < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 || dup2(null, 2) < 0 ||
                    dup2(s, 3) < 0)
                        _exit(127);
                (void)close_range(4, (unsigned)x - 1, 0);
                (void)close_range((unsigned)x + 1, ~0U, 0);
                if (gate_sandbox_drop(uid, gid, &ce) < 0) {
                        /* stdio is /dev/null now: the monitor sees the gate end at once. */
                        _exit(126);
                }
                char *argv[] = { (char *)"mlvm-monitor", (char *)"gate", (char *)run_id, NULL };
                char *envp[] = { mode == 1 ? (char *)GATE_SECCOMP_ENV "=log" : NULL, NULL };
                fexecve(x, argv, envp);
                _exit(127);
        }
        close(sv[1]);
        *ret_fd = sv[0];
        *ret_pid = pid;
        return 0;
}
