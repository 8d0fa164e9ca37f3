/* workload.c: the workload process of the agent and the exec commands
 * started like it; see workload.h. The workload runs as an unprivileged
 * uid with no capabilities, no new privileges, in its own session, inside
 * the image's root filesystem. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent-util.h"
#include "proto.h"
#include "workload.h"

static const char *root = "";

void workload_set_root(const char *r) { root = r; }
const char *workload_root(void) { return root; }

/* The first time a workload runs inside /sysroot, give it /proc, /dev, /tmp, /run. */
int workload_prepare_root(char *why, size_t cap)
{
        static bool done;
        static const struct { const char *src, *dst, *type; unsigned long flags; const char *data; } m[] = {
                { "proc", "/sysroot/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL },
                { "/dev", "/sysroot/dev", NULL, MS_BIND | MS_REC, NULL },
                { "tmpfs", "/sysroot/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777,size=64m" },
                { "tmpfs", "/sysroot/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=16m" },
        };
        if (done || !root[0])
                return 0;
        for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
                (void)mkdir(m[i].dst, 0755);
                if (mount(m[i].src, m[i].dst, m[i].type, m[i].flags, m[i].data) < 0) {
                        (void)snprintf(why, cap, "mount %s: %s", m[i].dst, strerror(errno));
                        return -errno;
                }
        }
        done = true;
        return 0;
}

static void __attribute__((noreturn)) child(const struct proto_exec *e, int in, int out, int err, bool tty)
{
        char *argv[PROTO_STRV_COUNT + 1], *envp[PROTO_STRV_COUNT + 2];
        size_t n = 0, k = 0;
        bool have_path = false;

        for (const char *p = proto_strv_next(&e->argv, NULL); p; p = proto_strv_next(&e->argv, p))
                argv[n++] = (char *)p;
        argv[n] = NULL;
        for (const char *p = proto_strv_next(&e->env, NULL); p; p = proto_strv_next(&e->env, p)) {
                envp[k++] = (char *)p;
                have_path |= strncmp(p, "PATH=", 5) == 0;
        }
        if (!have_path)
                envp[k++] = (char *)"PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin";
        envp[k] = NULL;

        (void)signal(SIGPIPE, SIG_DFL);   /* the agent ignores it; SIG_IGN would survive execve */
        int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (null < 0 || dup2(in >= 0 ? in : null, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0)
                _exit(126);
        (void)setsid();
        if (tty)
                (void)ioctl(0, TIOCSCTTY, 0);   /* the terminal becomes its controlling one */
        if (root[0] && (chroot(root) < 0 || chdir("/") < 0)) {
                dprintf(2, "mlvm-agent: chroot %s: %s\n", root, strerror(errno));
                _exit(126);
        }
        if (chdir(e->cwd[0] ? e->cwd : "/") < 0) {
                dprintf(2, "mlvm-agent: cwd %s: %s\n", e->cwd, strerror(errno));
                _exit(126);
        }
        /* Narrow privileges: drop every capability from the bounding set, no
         * new privileges through exec, then become the unprivileged user. */
        for (int cap = 0; cap < 64; cap++)
                (void)prctl(PR_CAPBSET_DROP, cap, 0, 0, 0);
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || setgroups(0, NULL) < 0 || setgid(WORKLOAD_GID) < 0 ||
            setuid(WORKLOAD_UID) < 0) {
                dprintf(2, "mlvm-agent: dropping privileges: %s\n", strerror(errno));
                _exit(126);
        }
        if (setuid(0) == 0) {   /* must be impossible now */
                dprintf(2, "mlvm-agent: still able to become root; refusing to run the workload\n");
                _exit(126);
        }
        execvpe(argv[0], argv, envp);
        dprintf(2, "mlvm-agent: exec %s: %s\n", argv[0], strerror(errno));
        _exit(errno == ENOENT ? 127 : 126);
}

int workload_start(const struct proto_exec *e, struct workload *w, char *why, size_t cap)
{
        int out[2], err[2];

        if (e->argv.count == 0) {
                (void)snprintf(why, cap, "EXEC without a command");
                return -EINVAL;
        }
        int r = workload_prepare_root(why, cap);
        if (r < 0)
                return r;
        if (pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0) {
                (void)snprintf(why, cap, "pipe: %s", strerror(errno));
                return -errno;
        }
        pid_t pid = fork();
        if (pid < 0) {
                (void)snprintf(why, cap, "fork: %s", strerror(errno));
                return -errno;
        }
        if (pid == 0)
                child(e, -1, out[1], err[1], false);
        close(out[1]);
        close(err[1]);
        (void)fcntl(out[0], F_SETFL, O_NONBLOCK);
        (void)fcntl(err[0], F_SETFL, O_NONBLOCK);
        *w = (struct workload){ .pid = pid, .out = out[0], .err = err[0] };
        util_log("workload started as pid %d (uid %d)", (int)pid, WORKLOAD_UID);
        return 0;
}

void workload_reap(struct workload *w, void (*other)(pid_t pid, int status))
{
        int status;
        pid_t pid;
        while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
                if (w->pid && pid == w->pid && !w->exited) {
                        w->exited = true;
                        w->status = status;
                } else
                        other(pid, status);
        }
}

int workload_spawn_exec(const struct proto_strv *argv, int in, int out, int err, bool tty, pid_t *ret_pid, char *why,
                        size_t cap)
{
        static struct proto_exec e;
        memset(&e, 0, sizeof(e));
        e.argv = *argv;
        (void)proto_strv_add(&e.env, "HOME=/home/mlvm");
        (void)proto_strv_add(&e.env, tty ? "TERM=xterm" : "TERM=dumb");
        proto_strlcpy(e.cwd, "/home/mlvm", sizeof(e.cwd));
        int r = workload_prepare_root(why, cap);
        if (r < 0)
                return r;
        if (e.argv.count == 0) {
                (void)snprintf(why, cap, "exec without a command");
                return -EINVAL;
        }
        pid_t pid = fork();
        if (pid < 0) {
                (void)snprintf(why, cap, "fork: %s", strerror(errno));
                return -errno;
        }
        if (pid == 0)
                child(&e, in, out, err, tty);
        *ret_pid = pid;
        return 0;
}

void workload_stop(struct workload *w, unsigned grace_ms, void (*other)(pid_t pid, int status))
{
        if (!w->pid || w->exited)
                return;
        (void)kill(-w->pid, SIGTERM);
        uint64_t deadline = util_now_ms() + grace_ms;
        while (!w->exited && util_now_ms() < deadline) {
                workload_reap(w, other);
                util_sleep_ms(20);
        }
        if (!w->exited) {
                (void)kill(-w->pid, SIGKILL);
                (void)kill(w->pid, SIGKILL);
                while (!w->exited && util_now_ms() < deadline + 2000) {
                        workload_reap(w, other);
                        util_sleep_ms(20);
                }
        }
}
