/* gate-sandbox.c: the privilege drop, check and seccomp filter of the
 * monitor's unprivileged children, the frame gate and the artifact
 * parser; see gate-sandbox.h. The filter is raw BPF through prctl(2): a
 * few dozen instructions for a handful of calls do not need libseccomp. */
#include "mlvm-build.h"

#include <errno.h>
#include <grp.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/audit.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

#include "gate-sandbox.h"
#include "util.h"

#if defined(__x86_64__)
#define GATE_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define GATE_AUDIT_ARCH AUDIT_ARCH_AARCH64
#endif

/* The socket to the monitor, in the gate (gate.h). */
#define GATE_FD 3

int gate_sandbox_mode(struct mlvm_err *e)
{
        const char *v = getenv("MLVM_MONITOR_SECCOMP");   /* GATE_SECCOMP_ENV */
        if (!v || !*v || streq(v, "kill"))
                return 0;
        if (streq(v, "log"))
                return 1;
        char sh[SHOWN_MAX];
        return err_setx(e, -EINVAL, "$%s: '%s' is neither kill nor log", GATE_SECCOMP_ENV, shown(v, sh));
}

static int last_cap(void)
{
        int last = CAP_LAST_CAP;
        /* A newer kernel may know more capabilities than our headers. */
        while (last < 63 && prctl(PR_CAPBSET_READ, (unsigned long)last + 1, 0, 0, 0) >= 0)
                last++;
        return last;
}

static int capset_empty(void)
{
        struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
        struct __user_cap_data_struct d[2];
        memset(d, 0, sizeof(d));
        return (int)syscall(SYS_capset, &h, d);
}

int gate_sandbox_drop(uid_t uid, gid_t gid, struct mlvm_err *e)
{
        if (uid == 0 || gid == 0)
                return err_setx(e, -EINVAL, "frame gate: refusing uid %u gid %u", (unsigned)uid, (unsigned)gid);
        if (setgroups(0, NULL) < 0)
                return err_set(e, -errno, "frame gate: setgroups");
        if (setresgid(gid, gid, gid) < 0)
                return err_set(e, -errno, "frame gate: setresgid %u", (unsigned)gid);
        /* The bounding set needs CAP_SETPCAP: empty it while still root. */
        for (int c = 0, last = last_cap(); c <= last; c++)
                if (prctl(PR_CAPBSET_DROP, (unsigned long)c, 0, 0, 0) < 0)
                        return err_set(e, -errno, "frame gate: drop capability %d from the bounding set", c);
        if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
                return err_set(e, -errno, "frame gate: clear the ambient set");
        /* Without SECBIT_KEEP_CAPS, leaving uid 0 clears permitted and effective. */
        if (setresuid(uid, uid, uid) < 0)
                return err_set(e, -errno, "frame gate: setresuid %u", (unsigned)uid);
        if (capset_empty() < 0)
                return err_set(e, -errno, "frame gate: capset");
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                return err_set(e, -errno, "frame gate: no_new_privs");
        return 0;
}

int gate_sandbox_check(struct mlvm_err *e)
{
        uid_t r, ef, s;
        gid_t gr, ge, gs;
        struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
        struct __user_cap_data_struct d[2];

        if (getresuid(&r, &ef, &s) < 0 || getresgid(&gr, &ge, &gs) < 0 || !r || !ef || !s || !gr || !ge || !gs)
                return err_setx(e, -EPERM, "frame gate: still has a root id");
        if (getgroups(0, NULL) != 0)
                return err_setx(e, -EPERM, "frame gate: still has supplementary groups");
        memset(d, 0, sizeof(d));
        if (syscall(SYS_capget, &h, d) < 0)
                return err_set(e, -errno, "frame gate: capget");
        for (int i = 0; i < 2; i++)
                if (d[i].effective || d[i].permitted || d[i].inheritable)
                        return err_setx(e, -EPERM, "frame gate: still has capabilities");
        for (int c = 0, last = last_cap(); c <= last; c++)
                if (prctl(PR_CAPBSET_READ, (unsigned long)c, 0, 0, 0) != 0)
                        return err_setx(e, -EPERM, "frame gate: capability %d still in the bounding set", c);
        if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1)
                return err_setx(e, -EPERM, "frame gate: no_new_privs is not set");
        return 0;
}

#define LOAD(field) BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, field))

int sandbox_seccomp(const struct sandbox_call *calls, size_t n, const char *who, struct mlvm_err *e)
{
#ifndef GATE_AUDIT_ARCH
        return err_setx(e, -ENOTSUP, "%s: no seccomp filter for this architecture", who);
#else
        int mode = gate_sandbox_mode(e);
        if (mode < 0)
                return mode;
        /* The arch check, then per call either "nr: allow"; or, for a call
         * on one descriptor, "nr and the low word of args[0] is FD and its
         * high word 0: allow" (little-endian); or, for a call with bits it
         * must not have, "nr and none of them in the low word of args[2]:
         * allow" (prot and flags are ints); the nr reloaded after the last
         * two. The default verdict last. Jumps count the instructions
         * skipped. */
        size_t max = 4 + 7 * n + 1, k = 0;
        _cleanup_free_ struct sock_filter *f = xcalloc(max, sizeof(*f));
        f[k++] = (struct sock_filter)LOAD(arch);
        f[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, GATE_AUDIT_ARCH, 1, 0);
        f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
        f[k++] = (struct sock_filter)LOAD(nr);
        for (size_t i = 0; i < n; i++) {
                if (calls[i].fd < 0 && calls[i].arg2_clear) {
                        f[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)calls[i].nr, 0, 4);
                        f[k++] = (struct sock_filter)LOAD(args[2]);
                        f[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, calls[i].arg2_clear, 1, 0);
                        f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
                        f[k++] = (struct sock_filter)LOAD(nr);
                        continue;
                }
                if (calls[i].fd < 0) {
                        f[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)calls[i].nr, 0, 1);
                        f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
                        continue;
                }
                f[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)calls[i].nr, 0, 6);
                f[k++] = (struct sock_filter)LOAD(args[0]);
                f[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)calls[i].fd, 0, 3);
                f[k++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0]) + 4);
                f[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 1);
                f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
                f[k++] = (struct sock_filter)LOAD(nr);
        }
        f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, mode == 1 ? SECCOMP_RET_LOG : SECCOMP_RET_KILL_PROCESS);
        struct sock_fprog prog = { .len = (unsigned short)k, .filter = f };
        if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) < 0)
                return err_set(e, -errno, "%s: seccomp", who);
        return 0;
#endif
}

int gate_sandbox_seccomp(struct mlvm_err *e)
{
        /* What the loop calls (strace -f -c of a gate through exec,
         * published ports and down; the integration tests run under this
         * filter: docs/security.md): recv and send on its socket, the
         * clock (the vDSO's fallback), and the ways out. */
        static const struct sandbox_call calls[] = {
                { .nr = __NR_recvfrom, .fd = GATE_FD },
                { .nr = __NR_sendto, .fd = GATE_FD },
                { .nr = __NR_clock_gettime, .fd = -1 },
                { .nr = __NR_rt_sigreturn, .fd = -1 },
                { .nr = __NR_restart_syscall, .fd = -1 },
                { .nr = __NR_exit_group, .fd = -1 },
                { .nr = __NR_exit, .fd = -1 },
        };
        return sandbox_seccomp(calls, sizeof(calls) / sizeof(calls[0]), "frame gate", e);
}
