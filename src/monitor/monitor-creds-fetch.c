/* monitor-creds-fetch.c: the child that fetches a credential's next
 * lease, and its pipe; see monitor-creds-fetch.h. What it writes is a
 * credential: wiped wherever it was held. */
#include "mlvm-build.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <openssl/crypto.h>

#include "creds.h"
#include "monitor-core.h"
#include "monitor-creds-fetch.h"
#include "util.h"

/* An exec: source has CRED_EXEC_TIMEOUT_S (creds.h); the whole fetch
 * gets 15 s beyond that. */
#define FETCH_TIMEOUT ((CRED_EXEC_TIMEOUT_S + 15) * USEC_PER_SEC)
#define FETCH_OUT_MAX (256 * 1024)

bool monitor_fetch_busy(const struct monitor_fetch *f)
{
        return f->pid > 0;
}

void monitor_fetch_cancel(struct monitor_fetch *f)
{
        if (f->watch >= 0)
                virEventRemoveHandle(f->watch);
        if (f->timer >= 0)
                virEventRemoveTimeout(f->timer);
        if (f->fd >= 0)
                close(f->fd);
        if (f->pid > 0) {
                (void)kill(f->pid, SIGKILL);   /* our own child; gone already when it finished */
                while (waitpid(f->pid, NULL, 0) < 0 && errno == EINTR)
                        ;
        }
        if (f->buf) {
                OPENSSL_cleanse(f->buf, f->len);
                free(f->buf);
        }
        f->buf = NULL;
        f->len = 0;
        f->pid = 0;
        f->fd = f->watch = f->timer = -1;
}

/* Stop the fetch, then tell its caller why it failed. */
static void failed(struct monitor_fetch *f, const char *why)
{
        monitor_fetch_cancel(f);
        f->done(NULL, 0, why, f->opaque);
}

/* The child closed its end: done, with what it wrote. */
static void finished(struct monitor_fetch *f)
{
        close(f->fd);
        f->fd = -1;
        while (waitpid(f->pid, NULL, 0) < 0 && errno == EINTR)
                ;
        f->pid = 0;
        char *buf = f->buf;
        size_t len = f->len;
        f->buf = NULL;
        f->len = 0;
        monitor_fetch_cancel(f);
        f->done(buf ? buf : "", len, NULL, f->opaque);
        if (buf) {
                OPENSSL_cleanse(buf, len);
                free(buf);
        }
}

static void on_data(int watch, int fd, int events, void *opaque)
{
        struct monitor_fetch *f = opaque;
        char buf[16384];
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
                return;
        if (n <= 0) {
                finished(f);
                return;
        }
        if (f->len + (size_t)n > FETCH_OUT_MAX) {
                OPENSSL_cleanse(buf, sizeof(buf));
                failed(f, "the fetch helper wrote too much");
                return;
        }
        f->buf = xreallocarray(f->buf, 1, FETCH_OUT_MAX + 1);
        memcpy(f->buf + f->len, buf, (size_t)n);
        f->len += (size_t)n;
        OPENSSL_cleanse(buf, sizeof(buf));
}

static void on_timeout(int timer, void *opaque)
{
        failed(opaque, "the source did not answer in time");
}

int monitor_fetch_start(struct monitor_fetch *f, const char *secret,
                        void (*done)(const char *buf, size_t len, const char *why, void *opaque), void *opaque,
                        struct mlvm_err *e)
{
        int p[2];
        const char *state_dir = monitor_state_dir(), *run_id = monitor_run_id();
        if (pipe2(p, O_CLOEXEC) < 0)
                return err_set(e, -errno, "pipe");
        pid_t pid = fork();
        if (pid < 0) {
                close(p[0]);
                close(p[1]);
                return err_set(e, -errno, "fork");
        }
        if (pid == 0) {
                /* Straight to exec: nothing of the monitor's state is touched here. */
                if (dup2(p[1], 1) < 0)
                        _exit(127);
                execl("/proc/self/exe", "mlvm-monitor", "fetch", state_dir, run_id, secret, (char *)NULL);
                _exit(127);
        }
        close(p[1]);
        (void)fcntl(p[0], F_SETFL, O_NONBLOCK);
        f->pid = pid;
        f->fd = p[0];
        f->done = done;
        f->opaque = opaque;
        f->watch = virEventAddHandle(p[0], VIR_EVENT_HANDLE_READABLE, on_data, f, NULL);
        f->timer = virEventAddTimeout(monitor_timer_ms(FETCH_TIMEOUT, 0), on_timeout, f, NULL);
        return 0;
}
