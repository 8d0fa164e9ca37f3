/* spawn.c: fork/exec with captured output; see spawn.h. */
#include "mlvm-build.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <openssl/crypto.h>

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

static int remaining_ms(double deadline)
{
        if (deadline <= 0)
                return -1;
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        double left = deadline - (ts.tv_sec + ts.tv_nsec / 1e9);
        return left <= 0 ? 0 : (int)(left * 1000) + 1;
}

int spawn_run(const struct spawn_opts *o, char **ret_out, size_t *ret_len, struct mlvm_err *e)
{
        char *const *argv = o->argv;
        const char *cwd = o->cwd;
        size_t max_out = o->max_out;
        double deadline = 0;
        bool timed_out = false;
        if (o->timeout_ms > 0) {
                struct timespec ts;
                clock_gettime(CLOCK_MONOTONIC, &ts);
                deadline = ts.tv_sec + ts.tv_nsec / 1e9 + o->timeout_ms / 1000.0;
        }
        int out[2] = { -1, -1 }, err[2] = { -1, -1 };
        struct sink so = { .cap = max_out }, se = { .cap = STDERR_KEEP };
        int status = 0, r = 0;

        if ((ret_out && pipe2(out, O_CLOEXEC) < 0) || pipe2(err, O_CLOEXEC) < 0)
                return err_set(e, -errno, "run %s", argv[0]);
        pid_t pid = fork();
        if (pid < 0) {
                r = err_set(e, -errno, "run %s", argv[0]);
                goto out;
        }
        if (pid == 0) {
                int null = open("/dev/null", O_RDWR | O_CLOEXEC);
                int errfd = o->stderr_mode == SPAWN_STDERR_CAPTURE ? err[1] : o->stderr_mode == SPAWN_STDERR_DISCARD ? null : 2;
                if (null < 0 || dup2(null, 0) < 0 || (ret_out && dup2(out[1], 1) < 0) || dup2(errfd, 2) < 0)
                        _exit(127);
                if (cwd && chdir(cwd) < 0)
                        _exit(127);
                (void)setpgid(0, 0);
                for (char *const *v = o->env_add; v && *v; v++)
                        (void)putenv(*v);
                execvp(argv[0], argv);
                _exit(127);
        }
        if (out[1] >= 0)
                close(out[1]);
        close(err[1]);
        out[1] = err[1] = -1;
        so.buf = xmalloc(max_out + 1);
        se.buf = xmalloc(STDERR_KEEP + 1);
        struct pollfd p[2] = { { .fd = err[0], .events = POLLIN }, { .fd = out[0], .events = POLLIN } };
        int open_fds = ret_out ? 2 : 1;
        (void)setpgid(pid, pid);   /* also here: no race with the kill below */
        while (open_fds > 0) {
                int left = remaining_ms(deadline), pn;
                if (left == 0 || (pn = poll(p, ret_out ? 2 : 1, left)) == 0) {
                        timed_out = true;
                        (void)kill(-pid, SIGKILL);
                        break;
                }
                if (pn < 0) {
                        if (errno == EINTR)
                                continue;
                        break;
                }
                for (int i = 0; i < (ret_out ? 2 : 1); i++) {
                        if (p[i].fd < 0 || !(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
                                continue;
                        char buf[16384];
                        ssize_t n = read(p[i].fd, buf, sizeof(buf));
                        if (n <= 0) {
                                p[i].fd = -1;
                                open_fds--;
                                continue;
                        }
                        sink_add(i == 0 ? &se : &so, buf, (size_t)n, i == 0);
                        OPENSSL_cleanse(buf, (size_t)n);
                }
        }
        /* Its pipes are closed; it may still run (a daemon): the deadline holds here too. */
        for (;;) {
                pid_t w = waitpid(pid, &status, deadline > 0 && !timed_out ? WNOHANG : 0);
                if (w == pid || (w < 0 && errno != EINTR))
                        break;
                if (w == 0 && remaining_ms(deadline) == 0) {
                        timed_out = true;
                        (void)kill(-pid, SIGKILL);
                } else if (w == 0) {
                        struct timespec ts = { 0, 10000000 };
                        nanosleep(&ts, NULL);
                }
        }
        bool quiet = o->stderr_mode != SPAWN_STDERR_CAPTURE;
        if (timed_out)
                r = err_setx(e, -ETIMEDOUT, "%s: no answer within %d s (killed)", argv[0], (o->timeout_ms + 999) / 1000);
        else if (so.overflow)
                r = err_setx(e, -EFBIG, "%s: output larger than %zu bytes", argv[0], max_out);
        else if (WIFEXITED(status) && WEXITSTATUS(status) == 127 && se.len == 0 && !quiet)
                r = err_setx(e, -ENOENT, "%s: cannot run it (not installed?)", argv[0]);
        else if (quiet && (!WIFEXITED(status) || WEXITSTATUS(status) != 0)) {
                if (WIFEXITED(status))
                        r = err_setx(e, -EIO, "%s exited with status %d", argv[0], WEXITSTATUS(status));
                else
                        r = err_setx(e, -EIO, "%s was killed by signal %d", argv[0], WTERMSIG(status));
        } else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                const char *why = se.len ? last_line(se.buf, se.len) : "no message";
                if (WIFEXITED(status))
                        r = err_setx(e, -EIO, "%s exited with status %d: %s", argv[0], WEXITSTATUS(status), why);
                else
                        r = err_setx(e, -EIO, "%s was killed by signal %d", argv[0], WTERMSIG(status));
        } else if (ret_out) {
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
