/* streams.c: published ports, the guest's side. The host opens a stream
 * per accepted connection (STREAM_OPEN with a guest port); the agent
 * connects it to 127.0.0.1:PORT inside the guest and relays bytes both
 * ways with per-direction credit (proto.h): the agent reads from the
 * socket only as much as the host granted, and buffers from the host no
 * more than it granted, so one slow or stalled connection never holds up
 * the others or the channel. See streams.h. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "agent-util.h"
#include "proto.h"
#include "stream-rules.h"
#include "streams.h"
#include "transport.h"
#include "workload.h"

struct stream {
        struct stream_book b;      /* id, state and credit (stream-rules.h) */
        int fd;
        bool sock_eof;             /* the socket said EOF: we sent END */
        uint8_t *wbuf;             /* from the host, not yet written to the socket (b.wlen bytes) */
        /* An exec stream (mlvm exec, b.exec): fd is the command's stdout (or its
         * terminal), in_fd its stdin (the same terminal), err_fd stderr. */
        bool tty;
        pid_t pid;
        int in_fd, err_fd;
        bool exited, err_eof;
        int status;
};

static struct stream streams[PROTO_STREAMS_MAX];

static struct stream *find(uint32_t id)
{
        for (size_t i = 0; i < PROTO_STREAMS_MAX; i++)
                if (id && streams[i].b.id == id)
                        return &streams[i];
        return NULL;
}

static void send_simple(uint8_t type, uint32_t id, uint32_t window, uint32_t how)
{
        struct proto_msg m = { .type = type, .id = 0 };
        m.u.stream.id = id;
        m.u.stream.window = window;
        m.u.stream.how = how;
        (void)transport_send(&m);
}

static void drop(struct stream *s)
{
        if (s->b.exec && s->pid > 0 && !s->exited)
                (void)kill(-s->pid, SIGKILL);   /* its own session: the whole command goes */
        if (s->in_fd >= 0 && s->in_fd != s->fd)
                close(s->in_fd);
        if (s->err_fd >= 0)
                close(s->err_fd);
        if (s->fd >= 0)
                close(s->fd);
        free(s->wbuf);
        memset(s, 0, sizeof(*s));
        s->fd = s->in_fd = s->err_fd = -1;
}

static void reset(struct stream *s)
{
        send_simple(PROTO_STREAM_CLOSE, s->b.id, 0, PROTO_CLOSE_RESET);
        drop(s);
}

void streams_init(void)
{
        for (size_t i = 0; i < PROTO_STREAMS_MAX; i++)
                streams[i].fd = streams[i].in_fd = streams[i].err_fd = -1;
}

static struct stream *free_slot(void)
{
        for (size_t i = 0; i < PROTO_STREAMS_MAX; i++)
                if (!streams[i].b.id)
                        return &streams[i];
        return NULL;
}

/* mlvm exec: the command as the workload's user, its stdio on this stream. */
static void exec_stream(const struct proto_conn *c)
{
        char why[256];
        struct stream *s = c->id && !find(c->id) ? free_slot() : NULL;
        int in[2] = { -1, -1 }, out[2] = { -1, -1 }, err[2] = { -1, -1 }, master = -1, slave = -1;
        pid_t pid = 0;
        uint8_t *buf = malloc(PROTO_STREAM_CREDIT);
        int r = s && buf ? 0 : -EINVAL;

        if (r == 0 && c->tty) {
                master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
                char name[64];
                if (master < 0 || grantpt(master) < 0 || unlockpt(master) < 0 ||
                    ptsname_r(master, name, sizeof(name)) != 0 || (slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC)) < 0)
                        r = -errno;
                else {
                        /* The command's terminal belongs to its user. */
                        (void)fchown(slave, WORKLOAD_UID, WORKLOAD_GID);
                        if (c->rows && c->cols) {
                                struct winsize ws = { .ws_row = (unsigned short)c->rows, .ws_col = (unsigned short)c->cols };
                                (void)ioctl(master, TIOCSWINSZ, &ws);
                        }
                        r = workload_spawn_exec(&c->argv, slave, slave, slave, true, &pid, why, sizeof(why));
                }
        } else if (r == 0) {
                if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0)
                        r = -errno;
                else
                        r = workload_spawn_exec(&c->argv, in[0], out[1], err[1], false, &pid, why, sizeof(why));
        }
        if (slave >= 0)
                close(slave);
        for (int i = 0; i < 2; i++) {
                if (i == 0 && in[0] >= 0)
                        close(in[0]);
                if (i == 1) {
                        if (out[1] >= 0)
                                close(out[1]);
                        if (err[1] >= 0)
                                close(err[1]);
                }
        }
        if (r < 0) {
                util_log("exec: %s", r == -EINVAL ? "refused" : strerror(-r));
                if (master >= 0)
                        close(master);
                for (int i = 0; i < 2; i += 1) {
                        if (in[1] >= 0 && i == 0)
                                close(in[1]);
                        if (out[0] >= 0 && i == 0)
                                close(out[0]);
                        if (err[0] >= 0 && i == 0)
                                close(err[0]);
                }
                free(buf);
                send_simple(PROTO_STREAM_CLOSE, c->id, 0, PROTO_CLOSE_REFUSED);
                return;
        }
        *s = (struct stream){ .b = stream_book_new(c, true), .tty = c->tty != 0, .pid = pid, .wbuf = buf };
        if (c->tty) {
                s->fd = s->in_fd = master;
                s->err_fd = -1;
                s->err_eof = true;
        } else {
                s->fd = out[0];
                s->in_fd = in[1];
                s->err_fd = err[0];
        }
        (void)fcntl(s->fd, F_SETFL, O_NONBLOCK);
        (void)fcntl(s->in_fd, F_SETFL, O_NONBLOCK);
        if (s->err_fd >= 0)
                (void)fcntl(s->err_fd, F_SETFL, O_NONBLOCK);
        util_log("exec: pid %d on stream %u%s", (int)pid, c->id, c->tty ? " (terminal)" : "");
        send_simple(PROTO_STREAM_OPENED, c->id, PROTO_STREAM_CREDIT, 0);
}

void streams_child_exited(pid_t pid, int status)
{
        for (size_t i = 0; i < PROTO_STREAMS_MAX; i++)
                if (streams[i].b.id && streams[i].b.exec && streams[i].pid == pid && !streams[i].exited) {
                        streams[i].exited = true;
                        streams[i].status = status;
                }
}

/* An exec stream is done once its command exited and its output is drained. */
static void exec_maybe_done(struct stream *s)
{
        if (!s->b.exec || !s->exited || !s->sock_eof || !s->err_eof)
                return;
        struct proto_msg m = { .type = PROTO_EXIT, .id = 0 };
        m.u.exit.stream = s->b.id;
        if (WIFSIGNALED(s->status))
                m.u.exit.signal = (uint32_t)WTERMSIG(s->status);
        else
                m.u.exit.code = (uint32_t)WEXITSTATUS(s->status);
        (void)transport_send(&m);
        drop(s);
}

static void open_stream(const struct proto_conn *c)
{
        struct stream *s = NULL;
        if (stream_open_refusal(c, find(c->id) != NULL)) {
                send_simple(PROTO_STREAM_CLOSE, c->id, 0, PROTO_CLOSE_RESET);
                return;
        }
        for (size_t i = 0; i < PROTO_STREAMS_MAX && !s; i++)
                if (!streams[i].b.id)
                        s = &streams[i];
        if (!s) {
                send_simple(PROTO_STREAM_CLOSE, c->id, 0, PROTO_CLOSE_REFUSED);
                return;
        }
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)c->port),
                                  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        uint8_t *buf = malloc(PROTO_STREAM_CREDIT);
        if (fd < 0 || !buf || (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno != EINPROGRESS)) {
                if (fd >= 0)
                        close(fd);
                free(buf);
                send_simple(PROTO_STREAM_CLOSE, c->id, 0, PROTO_CLOSE_REFUSED);
                return;
        }
        *s = (struct stream){ .b = stream_book_new(c, false), .fd = fd, .in_fd = -1, .err_fd = -1, .wbuf = buf };
}

static void flush_socket(struct stream *s)
{
        int wfd = s->b.exec ? s->in_fd : s->fd;
        while (s->b.wlen && wfd >= 0) {
                ssize_t n = s->b.exec ? write(wfd, s->wbuf, s->b.wlen) : send(wfd, s->wbuf, s->b.wlen, MSG_NOSIGNAL);
                if (n < 0 && (errno == EAGAIN || errno == EINTR))
                        break;
                if (n <= 0 && s->b.exec) {
                        /* The command stopped reading (EPIPE) or its terminal is gone (EIO):
                         * its stdin is over; its output and exit status still come. */
                        stream_book_written(&s->b, s->b.wlen);
                        if (!s->tty && s->in_fd >= 0) {
                                close(s->in_fd);
                                s->in_fd = -1;
                        }
                        s->b.shut_wr = true;
                        s->b.host_eof = true;
                        break;
                }
                if (n <= 0) {
                        reset(s);
                        return;
                }
                memmove(s->wbuf, s->wbuf + n, s->b.wlen - (size_t)n);
                stream_book_written(&s->b, (size_t)n);
        }
        uint32_t w = stream_book_window_due(&s->b);
        if (w)
                send_simple(PROTO_STREAM_WINDOW, s->b.id, w, 0);
        if (s->b.host_eof && s->b.wlen == 0 && !s->b.shut_wr) {
                if (!s->b.exec)
                        (void)shutdown(s->fd, SHUT_WR);
                else if (!s->tty) {
                        close(s->in_fd);   /* the command sees the end of its stdin */
                        s->in_fd = -1;
                } else {
                        /* A terminal has no end of input but the EOF character (^D):
                         * what a user's terminal would send. */
                        static const char veof = 4;
                        (void)!write(s->in_fd, &veof, 1);
                }
                s->b.shut_wr = true;
        }
        if (!s->b.exec && s->b.shut_wr && s->sock_eof)
                drop(s);
}

void streams_on_frame(const struct proto_msg *m)
{
        const struct proto_conn *c = &m->u.stream;
        if (m->type == PROTO_STREAM_OPEN) {
                open_stream(c);
                return;
        }
        if (m->type == PROTO_STREAM_EXEC) {
                exec_stream(c);
                return;
        }
        struct stream *s = find(c->id);
        if (!s)
                return;   /* already gone: the host learns from our CLOSE */
        switch (stream_on_host_frame(&s->b, m)) {
        case STREAM_DISCARD:
                send_simple(PROTO_STREAM_WINDOW, s->b.id, c->len, 0);   /* stdin is over: dropped */
                return;
        case STREAM_RESET:
                reset(s);   /* the host broke the credit rules */
                return;
        case STREAM_TAKE:
                if (m->type == PROTO_STREAM_DATA) {
                        memcpy(s->wbuf + s->b.wlen, c->data, c->len);
                        stream_book_take(&s->b, m);
                        flush_socket(s);
                }
                return;
        case STREAM_END:
                flush_socket(s);
                return;
        case STREAM_DROP:
                drop(s);
                return;
        case STREAM_IGNORE:
                return;
        }
}

/* Poll entries for the streams, three per stream (output, stderr,
 * input), from P[0]; returns how many. */
size_t streams_poll_fill(struct pollfd *p)
{
        size_t n = 0;
        for (size_t i = 0; i < PROTO_STREAMS_MAX; i++) {
                struct stream *s = &streams[i];
                if (!s->b.id)
                        continue;
                short ev = 0;
                bool can_read = !s->b.connecting && s->b.credit > 0;
                if (!s->b.exec && (s->b.connecting || s->b.wlen))
                        ev |= POLLOUT;
                if (can_read && !s->sock_eof)
                        ev |= POLLIN;
                p[n++] = (struct pollfd){ .fd = ev ? s->fd : -1, .events = ev };
                bool err = s->b.exec && s->err_fd >= 0 && can_read && !s->err_eof;
                p[n++] = (struct pollfd){ .fd = err ? s->err_fd : -1, .events = POLLIN };
                bool in = s->b.exec && s->in_fd >= 0 && s->b.wlen;
                p[n++] = (struct pollfd){ .fd = in ? s->in_fd : -1, .events = POLLOUT };
        }
        return n;
}

/* Read what the credit allows from FD into a DATA frame (FDNO 2: stderr).
 * Returns bytes sent, 0 at EOF, -1 after an error or nothing to read. */
static int relay(struct stream *s, int fd, uint32_t fdno)
{
        static struct proto_msg m;
        size_t want = s->b.credit < sizeof(m.u.stream.data) ? s->b.credit : sizeof(m.u.stream.data);
        ssize_t r = read(fd, m.u.stream.data, want);
        if (r < 0 && (errno == EAGAIN || errno == EINTR))
                return -1;
        if (r < 0 && !(s->b.exec && errno == EIO))   /* a terminal whose command is gone says EIO */
                return -2;
        if (r <= 0)
                return 0;
        m.type = PROTO_STREAM_DATA;
        m.id = 0;
        m.u.stream.id = s->b.id;
        m.u.stream.fd = fdno;
        m.u.stream.len = (uint32_t)r;
        s->b.credit -= (uint32_t)r;
        (void)transport_send(&m);
        return (int)r;
}

void streams_poll_handle(const struct pollfd *p, size_t n)
{
        size_t k = 0;
        for (size_t i = 0; i < PROTO_STREAMS_MAX && k + 2 < n + 2 && k < n; i++) {
                struct stream *s = &streams[i];
                if (!s->b.id)
                        continue;
                const struct pollfd *e = &p[k], *ee = &p[k + 1], *ei = &p[k + 2];
                k += 3;
                if (s->b.connecting && e->fd >= 0 && e->revents) {
                        int err = 0;
                        socklen_t len = sizeof(err);
                        if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err) {
                                send_simple(PROTO_STREAM_CLOSE, s->b.id, 0, PROTO_CLOSE_REFUSED);
                                drop(s);
                                continue;
                        }
                        s->b.connecting = false;
                        send_simple(PROTO_STREAM_OPENED, s->b.id, PROTO_STREAM_CREDIT, 0);
                        continue;
                }
                if ((e->fd >= 0 && (e->revents & POLLOUT)) || (ei->fd >= 0 && ei->revents))
                        flush_socket(s);
                if (!s->b.id)
                        continue;
                if (e->fd >= 0 && (e->revents & (POLLIN | POLLHUP | POLLERR)) && !s->sock_eof && s->b.credit > 0) {
                        int r = relay(s, s->fd, 1);
                        if (r == -2) {
                                if (!s->b.exec) {
                                        reset(s);
                                        continue;
                                }
                                r = 0;
                        }
                        if (r == 0) {
                                s->sock_eof = true;
                                if (!s->b.exec) {
                                        send_simple(PROTO_STREAM_CLOSE, s->b.id, 0, PROTO_CLOSE_END);
                                        if (s->b.shut_wr) {
                                                drop(s);
                                                continue;
                                        }
                                }
                        }
                }
                if (s->b.exec && ee->fd >= 0 && (ee->revents & (POLLIN | POLLHUP | POLLERR)) && !s->err_eof &&
                    s->b.credit > 0) {
                        int r = relay(s, s->err_fd, 2);
                        if (r == 0 || r == -2)
                                s->err_eof = true;
                }
                if (s->b.exec)
                        exec_maybe_done(s);
        }
}

/* The host went away: its streams are gone with it. */
void streams_reset_all(void)
{
        for (size_t i = 0; i < PROTO_STREAMS_MAX; i++)
                if (streams[i].b.id)
                        drop(&streams[i]);
}

/* Called after reaping: exec commands that ended with their output drained. */
void streams_tick(void)
{
        for (size_t i = 0; i < PROTO_STREAMS_MAX; i++)
                if (streams[i].b.id && streams[i].b.exec)
                        exec_maybe_done(&streams[i]);
}

/* While an exec command runs, the agent must look for its end regularly. */
bool streams_running(void)
{
        for (size_t i = 0; i < PROTO_STREAMS_MAX; i++)
                if (streams[i].b.id && streams[i].b.exec && !streams[i].exited)
                        return true;
        return false;
}
