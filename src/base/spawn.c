/* spawn.c: fork/exec with captured output; see spawn.h. */
#include "mlvm-build.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <openssl/crypto.h>

#include "mtime.h"
#include "spawn.h"
#include "util.h"

#define STDERR_KEEP 4096

struct sink {
        char *buf;
        size_t len, cap;
        bool overflow;
};

static void sink_add(struct sink *s, const char *data, size_t n, bool keep_tail)
{
        if (s->len + n > s->cap) {
                if (!keep_tail) {
                        s->overflow = true;
                        return;
                }
                /* stderr: keep the last STDERR_KEEP bytes */
                if (n >= s->cap) {
                        data += n - s->cap;
                        n = s->cap;
                        s->len = 0;
                } else {
                        size_t drop = s->len + n - s->cap;
                        memmove(s->buf, s->buf + drop, s->len - drop);
                        s->len -= drop;
                }
        }
        memcpy(s->buf + s->len, data, n);
        s->len += n;
}

static const char *last_line(char *s, size_t len)
{
        s[len] = '\0';
        while (len && (s[len - 1] == '\n' || s[len - 1] == '\r'))
                s[--len] = '\0';
        char *nl = strrchr(s, '\n');
        return nl ? nl + 1 : s;
}

int spawn_capture(char *const argv[], const char *cwd, size_t max_out, char **ret_out, struct mlvm_err *e)
{
        struct spawn_opts o = { .argv = argv, .cwd = cwd, .max_out = max_out };
        return spawn_run(&o, ret_out, NULL, e);
}

/* Milliseconds left until DEADLINE for poll() (-1: no deadline, 0: past). */
static int remaining_ms(usec_t deadline)
{
        return deadline ? usec_ms_left(deadline) : -1;
}

/* In the child: stdin from /dev/null, stdout and stderr as asked, its own
 * process group (so a timeout kills everything it started), then exec. */
static _Noreturn void child_exec(const struct spawn_opts *o, int out_w, int err_w)
{
        int null = open("/dev/null", O_RDWR | O_CLOEXEC);
        int errfd = o->stderr_mode == SPAWN_STDERR_CAPTURE   ? err_w
                    : o->stderr_mode == SPAWN_STDERR_DISCARD ? null
                    : o->stderr_mode == SPAWN_STDERR_TO_OUT && out_w >= 0 ? out_w
                                                              : 2;
        if (null < 0 || dup2(null, 0) < 0 || (out_w >= 0 && dup2(out_w, 1) < 0) || dup2(errfd, 2) < 0)
                _exit(127);
        if (o->cwd && chdir(o->cwd) < 0)
                _exit(127);
        (void)setpgid(0, 0);
        for (char *const *v = o->env_add; v && *v; v++)
                (void)putenv(*v);
        execvp(o->argv[0], o->argv);
        _exit(127);
}

/* Read stderr (P[0]) and stdout (P[1], when N is 2) into their sinks
 * until both close or the deadline passes (then the group is killed).
 * Returns whether it timed out. */
static bool collect(const struct spawn_opts *o, pid_t pid, struct pollfd *p, int n, struct sink *se,
                    struct sink *so, usec_t deadline)
{
        int open_fds = n;
        while (open_fds > 0) {
                int left = remaining_ms(deadline), pn;
                if (left == 0 || (pn = poll(p, (nfds_t)n, left)) == 0) {
                        (void)kill(-pid, SIGKILL);
                        return true;
                }
                if (pn < 0) {
                        if (errno == EINTR)
                                continue;
                        return false;
                }
                for (int i = 0; i < n; i++) {
                        if (p[i].fd < 0 || !(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
                                continue;
                        char buf[16384];
                        ssize_t r = read(p[i].fd, buf, sizeof(buf));
                        if (r <= 0) {
                                p[i].fd = -1;
                                open_fds--;
                                continue;
                        }
                        if (i == 1 && o->on_out)
                                o->on_out(o->on_out_u, buf, (size_t)r);
                        else
                                sink_add(i == 0 ? se : so, buf, (size_t)r, i == 0);
                        OPENSSL_cleanse(buf, (size_t)r);
                }
        }
        return false;
}

/* Its pipes are closed; it may still run (a daemon): the deadline holds
 * here too. Sets *TIMED_OUT when it had to be killed. */
static void reap(pid_t pid, int *status, usec_t deadline, bool *timed_out)
{
        for (;;) {
                pid_t w = waitpid(pid, status, deadline && !*timed_out ? WNOHANG : 0);
                if (w == pid || (w < 0 && errno != EINTR))
                        return;
                if (w == 0 && remaining_ms(deadline) == 0) {
                        *timed_out = true;
                        (void)kill(-pid, SIGKILL);
                } else if (w == 0) {
                        struct timespec ts = { 0, 10000000 };
                        nanosleep(&ts, NULL);
                }
        }
}

/* What the outcome means, as one error (or 0). */
static int verdict(const struct spawn_opts *o, int status, bool timed_out, struct sink *so, struct sink *se,
                   struct mlvm_err *e)
{
        const char *prog = o->argv[0];
        bool quiet = o->stderr_mode != SPAWN_STDERR_CAPTURE;
        bool failed = !WIFEXITED(status) || WEXITSTATUS(status) != 0;

        if (timed_out)
                return err_setx(e, -ETIMEDOUT, "%s: no answer within %d s (killed)", prog, (o->timeout_ms + 999) / 1000);
        if (so->overflow)
                return err_setx(e, -EFBIG, "%s: output larger than %zu bytes", prog, o->max_out);
        if (WIFEXITED(status) && WEXITSTATUS(status) == 127 && se->len == 0 && !quiet)
                return err_setx(e, -ENOENT, "%s: cannot run it (not installed?)", prog);
        if (failed && !WIFEXITED(status))
                return err_setx(e, -EIO, "%s was killed by signal %d", prog, WTERMSIG(status));
        if (failed && quiet)
                return err_setx(e, -EIO, "%s exited with status %d", prog, WEXITSTATUS(status));
        if (failed)
                return err_setx(e, -EIO, "%s exited with status %d: %s", prog, WEXITSTATUS(status),
                                se->len ? last_line(se->buf, se->len) : "no message");
        return 0;
}

int spawn_run(const struct spawn_opts *o, char **ret_out, size_t *ret_len, struct mlvm_err *e)
{
        usec_t deadline = o->timeout_ms > 0 ? now_usec() + usec_from_ms((uint64_t)o->timeout_ms) : 0;
        int out[2] = { -1, -1 }, err[2] = { -1, -1 };
        struct sink so = { .cap = o->max_out }, se = { .cap = STDERR_KEEP };
        int status = 0, r = 0;
        bool timed_out;

        bool want_out = ret_out || o->on_out;
        if ((want_out && pipe2(out, O_CLOEXEC) < 0) || pipe2(err, O_CLOEXEC) < 0)
                return err_set(e, -errno, "run %s", o->argv[0]);
        pid_t pid = fork();
        if (pid < 0) {
                r = err_set(e, -errno, "run %s", o->argv[0]);
                goto out;
        }
        if (pid == 0)
                child_exec(o, want_out ? out[1] : -1, err[1]);
        if (out[1] >= 0)
                close(out[1]);
        close(err[1]);
        out[1] = err[1] = -1;
        so.buf = xmalloc(o->max_out + 1);
        se.buf = xmalloc(STDERR_KEEP + 1);
        struct pollfd p[2] = { { .fd = err[0], .events = POLLIN }, { .fd = out[0], .events = POLLIN } };
        (void)setpgid(pid, pid);   /* also here: no race with the kill below */
        timed_out = collect(o, pid, p, want_out ? 2 : 1, &se, &so, deadline);
        reap(pid, &status, deadline, &timed_out);
        r = verdict(o, status, timed_out, &so, &se, e);
        if (r == 0 && ret_out && !o->on_out) {
                so.buf[so.len] = '\0';
                if (ret_len)
                        *ret_len = so.len;
                *ret_out = TAKE_PTR(so.buf);
        }
out:
        for (int i = 0; i < 2; i++) {
                if (out[i] >= 0)
                        close(out[i]);
                if (err[i] >= 0)
                        close(err[i]);
        }
        if (so.buf)
                OPENSSL_cleanse(so.buf, so.cap + 1);   /* stdout may be a credential */
        free(so.buf);
        if (se.buf)
                OPENSSL_cleanse(se.buf, STDERR_KEEP + 1);
        free(se.buf);
        return r;
}
