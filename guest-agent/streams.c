/* streams.c: published ports, the guest's side. The host opens a stream
 * per accepted connection (STREAM_OPEN with a guest port); the agent
 * connects it to 127.0.0.1:PORT inside the guest and relays bytes both
 * ways with per-direction credit (proto.h): the agent reads from the
 * socket only as much as the host granted, and buffers from the host no
 * more than it granted, so one slow or stalled connection never holds up
 * the others or the channel. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent.h"

struct stream {
        uint32_t id;               /* 0: free slot */
        int fd;
        bool connecting;
        bool host_eof;             /* the host sent END: shut our write side once wbuf drains */
        bool shut_wr;
        bool sock_eof;             /* the socket said EOF: we sent END */
        uint32_t credit;           /* bytes we may still send to the host */
        uint8_t *wbuf;             /* from the host, not yet written to the socket */
        size_t wlen;
        uint32_t granted;          /* bytes the host may still send us */
        uint32_t consumed;         /* written to the socket since our last WINDOW */
};

static struct stream streams[PROTO_STREAMS_MAX];

static struct stream *find(uint32_t id)
{
        for (size_t i = 0; i < PROTO_STREAMS_MAX; i++)
                if (id && streams[i].id == id)
                        return &streams[i];
        return NULL;
}

static void send_simple(uint8_t type, uint32_t id, uint32_t window, uint32_t how)
{
        struct proto_msg m = { .type = type, .id = 0 };
        m.u.stream.id = id;
        m.u.stream.window = window;
        m.u.stream.how = how;
        (void)agent_send(&m);
}

static void drop(struct stream *s)
{
        if (s->fd >= 0)
                close(s->fd);
        free(s->wbuf);
        memset(s, 0, sizeof(*s));
        s->fd = -1;
}

static void reset(struct stream *s)
{
        send_simple(PROTO_STREAM_CLOSE, s->id, 0, PROTO_CLOSE_RESET);
        drop(s);
}

void streams_init(void)
{
        for (size_t i = 0; i < PROTO_STREAMS_MAX; i++)
                streams[i].fd = -1;
}

static void open_stream(const struct proto_conn *c)
{
        struct stream *s = NULL;
        if (c->id == 0 || find(c->id) || c->port == 0 || c->port > 65535) {
                send_simple(PROTO_STREAM_CLOSE, c->id, 0, PROTO_CLOSE_RESET);
                return;
        }
        for (size_t i = 0; i < PROTO_STREAMS_MAX && !s; i++)
                if (!streams[i].id)
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
        *s = (struct stream){ .id = c->id, .fd = fd, .connecting = true, .credit = c->window, .wbuf = buf,
                              .granted = PROTO_STREAM_CREDIT };
}

static void flush_socket(struct stream *s)
{
        while (s->wlen) {
                ssize_t n = send(s->fd, s->wbuf, s->wlen, MSG_NOSIGNAL);
                if (n < 0 && (errno == EAGAIN || errno == EINTR))
                        break;
                if (n <= 0) {
                        reset(s);
                        return;
                }
                memmove(s->wbuf, s->wbuf + n, s->wlen - (size_t)n);
                s->wlen -= (size_t)n;
                s->consumed += (uint32_t)n;
        }
        /* Give credit back once a quarter of the window is free again. */
        if (s->consumed >= PROTO_STREAM_CREDIT / 4 || (s->wlen == 0 && s->consumed)) {
                send_simple(PROTO_STREAM_WINDOW, s->id, s->consumed, 0);
                s->granted += s->consumed;
                s->consumed = 0;
        }
        if (s->host_eof && s->wlen == 0 && !s->shut_wr) {
                (void)shutdown(s->fd, SHUT_WR);
                s->shut_wr = true;
        }
        if (s->shut_wr && s->sock_eof)
                drop(s);
}

void streams_on_frame(const struct proto_msg *m)
{
        const struct proto_conn *c = &m->u.stream;
        if (m->type == PROTO_STREAM_OPEN) {
                open_stream(c);
                return;
        }
        struct stream *s = find(c->id);
        if (!s)
                return;   /* already gone: the host learns from our CLOSE */
        switch (m->type) {
        case PROTO_STREAM_DATA:
                if (s->connecting || s->host_eof || c->len > s->granted || s->wlen + c->len > PROTO_STREAM_CREDIT) {
                        reset(s);   /* the host broke the credit rules */
                        return;
                }
                memcpy(s->wbuf + s->wlen, c->data, c->len);
                s->wlen += c->len;
                s->granted -= c->len;
                flush_socket(s);
                return;
        case PROTO_STREAM_WINDOW:
                if ((uint64_t)s->credit + c->window > 16u * PROTO_STREAM_CREDIT) {
                        reset(s);
                        return;
                }
                s->credit += c->window;
                return;
        case PROTO_STREAM_CLOSE:
                if (c->how == PROTO_CLOSE_END) {
                        s->host_eof = true;
                        flush_socket(s);
                } else
                        drop(s);
                return;
        default:
                return;
        }
}

/* Poll entries for the streams, from P[0]; returns how many. */
size_t streams_poll_fill(struct pollfd *p)
{
        size_t n = 0;
        for (size_t i = 0; i < PROTO_STREAMS_MAX; i++) {
                struct stream *s = &streams[i];
                short ev = 0;
                if (!s->id)
                        continue;
                if (s->connecting || s->wlen)
                        ev |= POLLOUT;
                if (!s->connecting && !s->sock_eof && s->credit > 0)
                        ev |= POLLIN;
                p[n++] = (struct pollfd){ .fd = ev ? s->fd : -1, .events = ev };
        }
        return n;
}

void streams_poll_handle(const struct pollfd *p, size_t n)
{
        static struct proto_msg m;
        size_t k = 0;
        for (size_t i = 0; i < PROTO_STREAMS_MAX && k < n; i++) {
                struct stream *s = &streams[i];
                if (!s->id)
                        continue;
                const struct pollfd *e = &p[k++];
                if (e->fd < 0 || !e->revents)
                        continue;
                if (s->connecting) {
                        int err = 0;
                        socklen_t len = sizeof(err);
                        if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err) {
                                send_simple(PROTO_STREAM_CLOSE, s->id, 0, PROTO_CLOSE_REFUSED);
                                drop(s);
                                continue;
                        }
                        s->connecting = false;
                        send_simple(PROTO_STREAM_OPENED, s->id, PROTO_STREAM_CREDIT, 0);
                        continue;
                }
                if (e->revents & POLLOUT)
                        flush_socket(s);
                if (!s->id)
                        continue;
                if ((e->revents & (POLLIN | POLLHUP | POLLERR)) && !s->sock_eof && s->credit > 0) {
                        size_t want = s->credit < sizeof(m.u.stream.data) ? s->credit : sizeof(m.u.stream.data);
                        ssize_t r = recv(s->fd, m.u.stream.data, want, 0);
                        if (r < 0 && (errno == EAGAIN || errno == EINTR))
                                continue;
                        if (r < 0) {
                                reset(s);
                                continue;
                        }
                        if (r == 0) {
                                s->sock_eof = true;
                                send_simple(PROTO_STREAM_CLOSE, s->id, 0, PROTO_CLOSE_END);
                                if (s->shut_wr)
                                        drop(s);
                                continue;
                        }
                        m.type = PROTO_STREAM_DATA;
                        m.id = 0;
                        m.u.stream.id = s->id;
                        m.u.stream.len = (uint32_t)r;
                        s->credit -= (uint32_t)r;
                        (void)agent_send(&m);
                }
        }
}

/* The host went away: its streams are gone with it. */
void streams_reset_all(void)
{
        for (size_t i = 0; i < PROTO_STREAMS_MAX; i++)
                if (streams[i].id)
                        drop(&streams[i]);
}
