/* untar.c: the monitor's artifact parser, started and confined; see
 * untar.h. The guest is hostile: this child is the only process of the
 * monitor that parses the artifact disk's tar stream, and it runs
 * without privilege under seccomp. */
#include "mlvm-build.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/close_range.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "artifact-tar.h"
#include "gate-sandbox.h"
#include "untar.h"
#include "util.h"

/* How long a parser that sent its last record has to exit by itself. */
#define UNTAR_EXIT_WAIT_MS 5000

static int untar_start(void *opaque, int tar_fd, int rec_fd, const struct artifact_limits *lim,
                       struct mlvm_err *e)
{
        struct untar *u = opaque;
        char ne[24], nf[24], nt[24];
        int mode = gate_sandbox_mode(e);
        _cleanup_close_ int tfd = tar_fd, rfd = rec_fd;

        if (mode < 0)
                return mode;
        /* A fresh image of this binary, no memory of ours. */
        _cleanup_close_ int exe = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
        if (exe < 0)
                return err_set(e, -errno, "artifact parser: /proc/self/exe");
        (void)snprintf(ne, sizeof(ne), "%" PRIu64, lim->max_entries);
        (void)snprintf(nf, sizeof(nf), "%" PRIu64, lim->max_file);
        (void)snprintf(nt, sizeof(nt), "%" PRIu64, lim->max_total);
        pid_t pid = fork();
        if (pid < 0)
                return err_set(e, -errno, "artifact parser: fork");
        if (pid == 0) {
                struct mlvm_err ce = { 0 };
                /* Only the two pipes (0 and 1) and /dev/null (2); the binary
                 * stays open (CLOEXEC, above 9) until the exec. */
                int null = open("/dev/null", O_RDWR | O_CLOEXEC);
                int x = fcntl(exe, F_DUPFD_CLOEXEC, 10), t = fcntl(tfd, F_DUPFD_CLOEXEC, 10),
                    r = fcntl(rfd, F_DUPFD_CLOEXEC, 10);
                if (null < 0 || x < 0 || t < 0 || r < 0 || dup2(t, 0) < 0 || dup2(r, 1) < 0 || dup2(null, 2) < 0)
                        _exit(127);
                (void)close_range(3, (unsigned)x - 1, 0);
                (void)close_range((unsigned)x + 1, ~0U, 0);
                /* Narrow privileges: the run's QEMU identity, nothing more. */
                if (gate_sandbox_drop(u->uid, u->gid, &ce) < 0)
                        _exit(126);
                char *argv[] = { (char *)"mlvm-monitor", (char *)"untar", (char *)u->run_id, ne, nf, nt, NULL };
                char *envp[] = { mode == 1 ? (char *)GATE_SECCOMP_ENV "=log" : NULL, NULL };
                fexecve(x, argv, envp);
                _exit(127);
        }
        u->pid = pid;
        return 0;
}

/* 1: reaped (*STATUS), 0: still running after WAIT_MS, -errno: cannot be waited for. */
static int reap(pid_t pid, int *status, int wait_ms)
{
        for (int waited = 0;; waited += 10) {
                pid_t w = waitpid(pid, status, WNOHANG);
                if (w == pid)
                        return 1;
                if (w < 0 && errno != EINTR)
                        return -errno;
                if (waited >= wait_ms)
                        return 0;
                (void)nanosleep(&(struct timespec){ 0, 10 * 1000 * 1000 }, NULL);
        }
}

static int untar_finish(void *opaque, bool kill_it, struct mlvm_err *e)
{
        struct untar *u = opaque;
        int status = 0;

        if (u->pid <= 0)
                return 0;
        /* One that stopped by itself (its records end) says how; give it a moment. */
        int r = reap(u->pid, &status, kill_it ? 200 : UNTAR_EXIT_WAIT_MS);
        if (r == 0) {
                (void)kill(u->pid, SIGKILL);
                while ((r = waitpid(u->pid, &status, 0)) < 0 && errno == EINTR)
                        ;
                u->pid = 0;
                return r < 0 ? err_set(e, -errno, "cannot be waited for") : err_setx(e, -ETIMEDOUT, "was stopped");
        }
        u->pid = 0;
        if (r < 0)
                return err_set(e, r, "cannot be waited for");
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
                return 0;
        if (WIFEXITED(status))
                return err_setx(e, -EPROTO, "exited with status %d", WEXITSTATUS(status));
        if (WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS)
                return err_setx(e, -EPERM, "was killed by its seccomp filter (SIGSYS)");
        return err_setx(e, -EPROTO, "was killed by signal %d", WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

static void untar_ready(void *opaque)
{
        const char *at = getenv("MLVM_TEST_PAUSE_AT");
        if (at && streq(at, "untar"))
                (void)raise(SIGSTOP);
}

void untar_parser(struct untar *u, struct artifact_parser *ret)
{
        *ret = (struct artifact_parser){
                .start = untar_start, .finish = untar_finish, .ready = untar_ready, .opaque = u,
        };
}

/* ---- the child ------------------------------------------------------------ */

int untar_seccomp(struct mlvm_err *e)
{
        /* What libarchive's tar reader and our loop call once set up,
         * found with strace -f of the parser (after its PR_SET_SECCOMP)
         * over the fuzz corpus, pax and GNU tars with long and UTF-8
         * names, 9,000 entries (brk), pax headers of 300 KB to 900 KB
         * (mmap, mremap, munmap) and a 200 MB file (read and write
         * alone): read the stream, write the records, memory, and out.
         * No executable memory: mmap with PROT_EXEC is refused (mprotect
         * is not allowed at all), so a parser bug cannot map code.
         * docs/security.md lists them. */
        static const struct sandbox_call calls[] = {
                { .nr = __NR_read, .fd = 0 },
                { .nr = __NR_write, .fd = 1 },
                { .nr = __NR_brk, .fd = -1 },
                { .nr = __NR_mmap, .fd = -1, .arg2_clear = PROT_EXEC },
                { .nr = __NR_munmap, .fd = -1 },
                { .nr = __NR_mremap, .fd = -1 },
                { .nr = __NR_exit_group, .fd = -1 },
        };
        return sandbox_seccomp(calls, sizeof(calls) / sizeof(calls[0]), "artifact parser", e);
}

static int confine(void *opaque)
{
        struct mlvm_err e = { 0 };
        return untar_seccomp(&e);
}

static bool parse_u64(const char *s, uint64_t *ret)
{
        char *end;
        errno = 0;
        unsigned long long v = strtoull(s, &end, 10);
        if (errno || end == s || *end || s[0] == '-')
                return false;
        *ret = v;
        return true;
}

int untar_main(int argc, char **argv)
{
        struct artifact_limits lim;
        struct mlvm_err e = { 0 };

        (void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
        if (argc != 5 || !parse_u64(argv[2], &lim.max_entries) || !parse_u64(argv[3], &lim.max_file) ||
            !parse_u64(argv[4], &lim.max_total))
                return 2;
        /* Narrow privileges: refuse to parse anything unless the spawn
         * really left us nothing; the filter comes once libarchive is set up. */
        if (gate_sandbox_check(&e) < 0)
                return 1;
        return artifact_tar_parse(0, 1, &lim, confine, NULL) == 0 ? 0 : 1;
}
