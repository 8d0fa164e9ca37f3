/* gate-sandbox.c: the frame gate's privilege drop, check and seccomp
 * filter; see gate-sandbox.h. The filter is raw BPF through prctl(2):
 * a dozen instructions for a handful of calls do not need libseccomp. */
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
#define ALLOW_NR(sys) BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (sys), 0, 1), BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)
/* The call NR only on GATE_FD: compare the low word of args[0]
 * (little-endian; the high word must be 0 too). Leaves nr reloaded.
 * Jumps count the instructions skipped: keep them in step. */
#define ALLOW_NR_FD(sys)                                                                        \
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (sys), 0, 6),                                        \
        LOAD(args[0]),                                                                          \
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, GATE_FD, 0, 3),                                     \
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0]) + 4),         \
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 1),                                           \
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),                                           \
        LOAD(nr)

int gate_sandbox_seccomp(struct mlvm_err *e)
{
#ifndef GATE_AUDIT_ARCH
        return err_setx(e, -ENOTSUP, "frame gate: no seccomp filter for this architecture");
#else
        int mode = gate_sandbox_mode(e);
        if (mode < 0)
                return mode;
        /* What the loop calls (strace -f -c of a gate through exec,
         * published ports and down; the integration tests run under this
         * filter: docs/security.md): recv and send on its socket, the
         * clock (the vDSO's fallback), and the ways out. */
        struct sock_filter f[] = {
                LOAD(arch),
                BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, GATE_AUDIT_ARCH, 1, 0),
                BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
                LOAD(nr),
                ALLOW_NR_FD(__NR_recvfrom),
                ALLOW_NR_FD(__NR_sendto),
                ALLOW_NR(__NR_clock_gettime),
                ALLOW_NR(__NR_rt_sigreturn),
                ALLOW_NR(__NR_restart_syscall),
                ALLOW_NR(__NR_exit_group),
                ALLOW_NR(__NR_exit),
                BPF_STMT(BPF_RET | BPF_K, mode == 1 ? SECCOMP_RET_LOG : SECCOMP_RET_KILL_PROCESS),
        };
        struct sock_fprog prog = { .len = (unsigned short)(sizeof(f) / sizeof(f[0])), .filter = f };
        if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) < 0)
                return err_set(e, -errno, "frame gate: seccomp");
        return 0;
#endif
}
