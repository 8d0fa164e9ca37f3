/* artifact-parser.c: running the artifact tar parser and moving bytes
 * both ways; see artifacts-internal.h. The parser is as hostile as the
 * guest whose stream it reads: its records go through artrec.h's decoder,
 * it gets a deadline for progress, and its death or silence fails the
 * collection. */
#include "mlvm-build.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include "artifact-tar.h"
#include "artifacts-internal.h"
#include "util.h"

/* Room for several chunks in flight each way (best effort: F_SETPIPE_SZ). */
#define PIPE_SIZE (1 << 20)
#define REC_READ_SIZE (64 * 1024)

/* ---- the default parser: a thread of this process ----------------------- */

struct thread_parser {
        pthread_t t;
        int tar_fd, rec_fd;
        const struct artifact_limits *lim;
};

static void *parse_thread(void *u)
{
        struct thread_parser *tp = u;
        sigset_t all;
        /* Writing to a closed pipe must not kill the process: the
         * thread's SIGPIPE stays blocked and dies with it. */
        sigfillset(&all);
        (void)pthread_sigmask(SIG_BLOCK, &all, NULL);
        (void)artifact_tar_parse(tp->tar_fd, tp->rec_fd, tp->lim, NULL, NULL);
        (void)close(tp->tar_fd);
        (void)close(tp->rec_fd);
        return NULL;
}

static int thread_start(void *opaque, int tar_fd, int rec_fd, const struct artifact_limits *lim, struct mlvm_err *e)
{
        struct thread_parser *tp = opaque;
        tp->tar_fd = tar_fd;
        tp->rec_fd = rec_fd;
        tp->lim = lim;
        int r = pthread_create(&tp->t, NULL, parse_thread, tp);
        if (r != 0) {
                (void)close(tar_fd);
                (void)close(rec_fd);
                return err_set(e, -r, "artifact parser: start a thread");
        }
        return 0;
}

static int thread_finish(void *opaque, bool kill, struct mlvm_err *e)
{
        struct thread_parser *tp = opaque;
        /* Our ends are closed by now: a thread that reads or writes returns. */
        (void)pthread_join(tp->t, NULL);
        return 0;
}

/* ---- the pump ------------------------------------------------------------ */

/* write(2) to a pipe whose reader may be gone: EPIPE, never SIGPIPE (the
 * signal is blocked in this thread and a pending one taken back). */
static ssize_t write_nosigpipe(int fd, const void *buf, size_t n)
{
        sigset_t pipe_set, old, pending;
        sigemptyset(&pipe_set);
        sigaddset(&pipe_set, SIGPIPE);
        sigemptyset(&pending);
        (void)pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
        (void)sigpending(&pending);
        bool was_pending = sigismember(&pending, SIGPIPE);
        ssize_t w = write(fd, buf, n);
        int saved = errno;
        if (w < 0 && errno == EPIPE && !was_pending) {
                struct timespec zero = { 0, 0 };
                (void)sigtimedwait(&pipe_set, NULL, &zero);
        }
        (void)pthread_sigmask(SIG_SETMASK, &old, NULL);
        errno = saved;
        return w;
}

struct pump {
        int tw, rr;                     /* the stream's write end, the records' read end */
        const uint8_t *pend;            /* pulled, not yet written */
        size_t pend_len;
        struct artrec_decoder *dec;
        int (*on_rec)(const struct artrec *r, void *opaque);
        void *opaque;
        const struct artifact_parser *ps;
        int rec_err;                    /* ON_REC's error, E filled by it */
};

static void close_fd(int *fd)
{
        if (*fd >= 0)
                (void)close(*fd);
        *fd = -1;
}

static int on_rec(const struct artrec *r, void *u)
{
        struct pump *p = u;
        if (r->kind == ARTREC_READY && p->ps->ready)
                p->ps->ready(p->ps->opaque);
        int x = p->on_rec(r, p->opaque);
        if (x < 0)
                p->rec_err = x;
        return x;
}

/* Take what the parser wrote. 1: still going; 0: its records ended; < 0: stop. */
static int take_records(struct pump *p, uint8_t *buf, struct mlvm_err *e)
{
        ssize_t n = read(p->rr, buf, REC_READ_SIZE);
        if (n < 0)
                return errno == EINTR || errno == EAGAIN ? 1 : err_set(e, -errno, "artifact parser: read its records");
        if (n == 0)
                return 0;
        int r = artrec_feed(p->dec, buf, (size_t)n, on_rec, p, e);
        if (r < 0)
                return r;
        return artrec_complete(p->dec) ? 0 : 1;
}

/* Give the parser more of the stream. < 0: the source failed. */
static int give_stream(struct pump *p, short revents,
                       ssize_t (*pull)(void *opaque, const void **ret_buf, struct mlvm_err *e), void *opaque,
                       struct mlvm_err *e)
{
        if (!(revents & POLLOUT) || (revents & (POLLERR | POLLHUP))) {
                close_fd(&p->tw);       /* the parser stopped reading: it is about to say why, or to die */
                return 0;
        }
        if (p->pend_len == 0) {
                const void *b = NULL;
                ssize_t n = pull(opaque, &b, e);
                if (n < 0)
                        return (int)n;
                if (n == 0) {
                        close_fd(&p->tw);       /* all of it: the parser sees its end */
                        return 0;
                }
                p->pend = b;
                p->pend_len = (size_t)n;
        }
        ssize_t w = write_nosigpipe(p->tw, p->pend, p->pend_len);
        if (w < 0 && (errno == EAGAIN || errno == EINTR))
                return 0;
        if (w < 0) {
                close_fd(&p->tw);
                return 0;
        }
        p->pend += w;
        p->pend_len -= (size_t)w;
        return 0;
}

static int pump_loop(struct pump *p, unsigned timeout_ms,
                     ssize_t (*pull)(void *opaque, const void **ret_buf, struct mlvm_err *e), void *opaque,
                     struct mlvm_err *e)
{
        _cleanup_free_ uint8_t *buf = xmalloc(REC_READ_SIZE);

        for (;;) {
                /* Not a byte of the stream before READY: the parser is confined first. */
                bool give = p->tw >= 0 && p->dec->ready;
                struct pollfd fds[2] = { { .fd = p->rr, .events = POLLIN }, { .fd = p->tw, .events = POLLOUT } };
                int k = poll(fds, give ? 2 : 1, (int)timeout_ms);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return err_set(e, -errno, "artifact parser: poll");
                if (k == 0)
                        return err_setx(e, -ETIMEDOUT, "artifact stream: the parser made no progress for %g s",
                                        timeout_ms / 1000.0);
                if (fds[0].revents) {
                        int r = take_records(p, buf, e);
                        if (r <= 0)
                                return r == 0 && !artrec_complete(p->dec) ? -EPIPE : r;
                }
                if (give && p->tw >= 0 && fds[1].revents) {
                        int r = give_stream(p, fds[1].revents, pull, opaque, e);
                        if (r < 0)
                                return r;
                }
        }
}

int artifact_pump(const struct artifact_parser *parser, const struct artifact_limits *lim,
                  ssize_t (*pull)(void *opaque, const void **ret_buf, struct mlvm_err *e),
                  int (*rec)(const struct artrec *r, void *opaque), void *opaque, struct mlvm_err *e)
{
        struct thread_parser tp;
        struct artifact_parser threaded = { thread_start, thread_finish, NULL, &tp, 0 };
        const struct artifact_parser *ps = parser ? parser : &threaded;
        unsigned timeout_ms = ps->timeout_ms ? ps->timeout_ms : ARTIFACT_PARSER_TIMEOUT_MS;
        struct pump p = { .tw = -1, .rr = -1, .on_rec = rec, .opaque = opaque, .ps = ps };
        int in[2], out[2], r;

        if (pipe2(in, O_CLOEXEC) < 0)
                return err_set(e, -errno, "artifact parser: pipe");
        if (pipe2(out, O_CLOEXEC) < 0) {
                r = err_set(e, -errno, "artifact parser: pipe");
                (void)close(in[0]);
                (void)close(in[1]);
                return r;
        }
        (void)fcntl(in[1], F_SETPIPE_SZ, PIPE_SIZE);
        (void)fcntl(out[1], F_SETPIPE_SZ, PIPE_SIZE);
        p.tw = in[1];
        p.rr = out[0];
        if (fcntl(p.tw, F_SETFL, O_NONBLOCK) < 0 || fcntl(p.rr, F_SETFL, O_NONBLOCK) < 0) {
                r = err_set(e, -errno, "artifact parser: pipe");
                (void)close(in[0]);
                (void)close(out[1]);
                close_fd(&p.tw);
                close_fd(&p.rr);
                return r;
        }
        if ((r = ps->start(ps->opaque, in[0], out[1], lim, e)) < 0) {
                close_fd(&p.tw);
                close_fd(&p.rr);
                return r;
        }
        p.dec = xcalloc(1, sizeof(*p.dec));
        r = pump_loop(&p, timeout_ms, pull, opaque, e);
        close_fd(&p.tw);
        close_fd(&p.rr);
        struct mlvm_err how = { 0 };
        int f = ps->finish(ps->opaque, r < 0 || !artrec_complete(p.dec), &how);
        if (r == -EPIPE && !p.rec_err) {
                /* Its records stopped short: say how it ended. */
                r = err_setx(e, -EPIPE, "artifact stream: the parser stopped before its last record%s%s",
                             f < 0 ? ": " : "", f < 0 ? how.msg : "");
        } else if (r == 0 && f < 0) {
                *e = how;
                r = err_prefix(e, "artifact stream: the parser");
        }
        free(p.dec);
        return r;
}
