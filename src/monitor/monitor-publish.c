/* monitor-publish.c: published ports, the host's side. The monitor
 * listens on each published address (TCP or a Unix socket) and turns
 * every accepted connection into a stream over the agent channel
 * (STREAM_OPEN; the agent connects to the guest port on the guest's
 * loopback). Bytes flow under per-direction credit (proto.h): the monitor
 * reads from a client only as much as the agent granted and buffers from
 * the agent no more than it granted, so a slow or stalled client never
 * blocks the others or the channel. Caps: PROTO_STREAMS_MAX open streams
 * per run (more connections are refused at once), PROTO_STREAM_CREDIT
 * bytes buffered per stream and direction. */
#include "mlvm-build.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "monitor-handlers.h"
#include "util.h"

#define LISTENERS_MAX 64

struct listener {
        int fd, watch;
        uint16_t guest_port;
        char *unix_path;            /* to unlink at the end */
        char *desc;
};

struct conn {
        uint32_t id;                /* 0: free */
        int fd, watch;
        bool tcp;
        bool opened;
        bool client_eof;            /* the client said EOF; we sent END */
        bool agent_eof;             /* the agent sent END: shut the client's write side once drained */
        bool shut_wr;
        uint32_t credit;            /* bytes we may still send the agent */
        uint32_t granted;           /* bytes the agent may still send us */
        uint32_t consumed;          /* written to the client since our last WINDOW */
        uint8_t *obuf;
        size_t olen;
};

static struct listener listeners[LISTENERS_MAX];
static size_t n_listeners;
static struct conn conns[PROTO_STREAMS_MAX];
static uint64_t accepted, refused;

static int send_stream(uint8_t type, uint32_t id, uint32_t port, uint32_t window, uint32_t how)
{
        struct mlvm_err e = { 0 };
        struct proto_msg m = { .type = type, .id = 0 };
        m.u.stream.id = id;
        m.u.stream.port = port;
        m.u.stream.window = window;
        m.u.stream.how = how;
        int r = monitor_send(&m, &e);
        if (r == -ENOTCONN)
                return r;
        if (r < 0) {
                monitor_log("publish: %s", e.msg);
                return -EIO;
        }
        return 0;
}

static void update(struct conn *c);

/* The channel has room again (channel.h, the throttle): read the clients. */
static void publish_unthrottle(void)
{
        for (size_t i = 0; i < PROTO_STREAMS_MAX; i++)
                if (conns[i].id)
                        update(&conns[i]);
}

static struct conn *find(uint32_t id)
{
        for (size_t i = 0; i < PROTO_STREAMS_MAX; i++)
                if (id && conns[i].id == id)
                        return &conns[i];
        return NULL;
}

/* Close a client; RESET makes a TCP client see a reset, not an orderly end. */
static void drop(struct conn *c, bool rst)
{
        if (c->watch >= 0)
                virEventRemoveHandle(c->watch);
        if (c->fd >= 0) {
                if (rst && c->tcp) {
                        struct linger l = { 1, 0 };
                        (void)setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
                }
                close(c->fd);
        }
        free(c->obuf);
        memset(c, 0, sizeof(*c));
        c->fd = c->watch = -1;
}

static void update(struct conn *c)
{
        int ev = 0;
        if (c->opened && !c->client_eof && c->credit > 0 && !monitor_throttled())
                ev |= VIR_EVENT_HANDLE_READABLE;
        if (c->olen)
                ev |= VIR_EVENT_HANDLE_WRITABLE;
        virEventUpdateHandle(c->watch, ev);
}

static void flush_client(struct conn *c)
{
        while (c->olen) {
                ssize_t n = send(c->fd, c->obuf, c->olen, MSG_NOSIGNAL | MSG_DONTWAIT);
                if (n < 0 && (errno == EAGAIN || errno == EINTR))
                        break;
                if (n <= 0) {
                        send_stream(PROTO_STREAM_CLOSE, c->id, 0, 0, PROTO_CLOSE_RESET);
                        drop(c, true);
                        return;
                }
                memmove(c->obuf, c->obuf + n, c->olen - (size_t)n);
                c->olen -= (size_t)n;
                c->consumed += (uint32_t)n;
        }
        if ((c->consumed >= PROTO_STREAM_CREDIT / 4 || (c->olen == 0 && c->consumed)) &&
            send_stream(PROTO_STREAM_WINDOW, c->id, 0, c->consumed, 0) == 0) {
                c->granted += c->consumed;   /* only credit that reached the queue counts */
                c->consumed = 0;
        }
        if (c->agent_eof && c->olen == 0 && !c->shut_wr) {
                (void)shutdown(c->fd, SHUT_WR);
                c->shut_wr = true;
        }
        if (c->shut_wr && c->client_eof) {
                drop(c, false);
                return;
        }
        update(c);
}

static void on_client(int watch, int fd, int events, void *opaque)
{
        static struct proto_msg m;
        struct mlvm_err e = { 0 };
        struct conn *c = opaque;

        if (events & VIR_EVENT_HANDLE_WRITABLE) {
                flush_client(c);
                if (!c->id)
                        return;
        }
        if (!(events & (VIR_EVENT_HANDLE_READABLE | VIR_EVENT_HANDLE_HANGUP | VIR_EVENT_HANDLE_ERROR)) ||
            !c->opened || c->client_eof || c->credit == 0)
                return;
        size_t want = c->credit < sizeof(m.u.stream.data) ? c->credit : sizeof(m.u.stream.data);
        ssize_t n = recv(fd, m.u.stream.data, want, MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
                return;
        if (n < 0) {
                send_stream(PROTO_STREAM_CLOSE, c->id, 0, 0, PROTO_CLOSE_RESET);
                drop(c, true);
                return;
        }
        if (n == 0) {
                /* A half-close: the client is done sending; its answer may still come. */
                c->client_eof = true;
                send_stream(PROTO_STREAM_CLOSE, c->id, 0, 0, PROTO_CLOSE_END);
                if (c->shut_wr)
                        drop(c, false);
                else
                        update(c);
                return;
        }
        m.type = PROTO_STREAM_DATA;
        m.id = 0;
        m.u.stream.id = c->id;
        m.u.stream.len = (uint32_t)n;
        c->credit -= (uint32_t)n;
        if (monitor_send(&m, &e) < 0) {
                drop(c, true);
                return;
        }
        update(c);
}

static void on_accept(int watch, int fd, int events, void *opaque)
{
        struct listener *l = opaque;
        int cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        struct conn *c = NULL;

        if (cfd < 0)
                return;
        for (size_t i = 0; i < PROTO_STREAMS_MAX && !c; i++)
                if (!conns[i].id)
                        c = &conns[i];
        if (!c || !monitor_serving() || monitor_channel_full()) {
                /* Over the cap, or no agent to hand it to: refused at once, never queued. */
                struct linger lg = { 1, 0 };
                if (!l->unix_path)
                        (void)setsockopt(cfd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
                close(cfd);
                refused++;
                return;
        }
        *c = (struct conn){ .id = monitor_stream_id(&monitor_publish_handler), .fd = cfd, .tcp = !l->unix_path,
                            .granted = PROTO_STREAM_CREDIT,
                            .obuf = xmalloc(PROTO_STREAM_CREDIT) };
        c->watch = virEventAddHandle(cfd, 0, on_client, c, NULL);
        accepted++;
        send_stream(PROTO_STREAM_OPEN, c->id, l->guest_port, PROTO_STREAM_CREDIT, 0);
}

static void publish_on_stream(const struct proto_msg *m)
{
        if (m->type == PROTO_EXIT)
                return;   /* a command's end: there are none on published ports */
        const struct proto_conn *s = &m->u.stream;
        struct conn *c = find(s->id);
        if (!c)
                return;   /* closed on our side already */
        switch (m->type) {
        case PROTO_STREAM_OPENED:
                if (c->opened || s->window > PROTO_STREAM_CREDIT)
                        goto broken;
                c->opened = true;
                c->credit = s->window;
                update(c);
                return;
        case PROTO_STREAM_DATA:
                if (!c->opened || c->agent_eof || s->len > c->granted || c->olen + s->len > PROTO_STREAM_CREDIT)
                        goto broken;
                memcpy(c->obuf + c->olen, s->data, s->len);
                c->olen += s->len;
                c->granted -= s->len;
                flush_client(c);
                return;
        case PROTO_STREAM_WINDOW:
                if ((uint64_t)c->credit + s->window > PROTO_STREAM_CREDIT)
                        goto broken;
                c->credit += s->window;
                update(c);
                return;
        case PROTO_STREAM_CLOSE:
                if (s->how == PROTO_CLOSE_END && c->opened) {
                        c->agent_eof = true;
                        flush_client(c);
                } else
                        drop(c, true);   /* refused or reset: the client sees a reset */
                return;
        default:
                return;
        }
broken:
        /* The guest broke the stream rules: that stream ends, the others go on. */
        send_stream(PROTO_STREAM_CLOSE, c->id, 0, 0, PROTO_CLOSE_RESET);
        drop(c, true);
}

static int listen_one(json_object *p, struct mlvm_err *e)
{
        const char *path = json_str(p, "unix"), *addr = json_str(p, "addr");
        json_object *x;
        int port = json_object_object_get_ex(p, "port", &x) ? json_object_get_int(x) : 0;
        int gport = json_object_object_get_ex(p, "guest_port", &x) ? json_object_get_int(x) : 0;
        struct listener *l = &listeners[n_listeners];
        int fd = -1, r;

        if (n_listeners >= LISTENERS_MAX)
                return err_setx(e, -E2BIG, "more than %d published ports", LISTENERS_MAX);
        if (path) {
                struct sockaddr_un sa = { .sun_family = AF_UNIX };
                if (strlen(path) >= sizeof(sa.sun_path))
                        return err_setx(e, -ENAMETOOLONG, "publish unix:%s: path too long", path);
                memcpy(sa.sun_path, path, strlen(path) + 1);
                fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
                mode_t old = umask(0177);   /* owner only, like the control socket */
                r = fd < 0 ? -1 : bind(fd, (struct sockaddr *)&sa, sizeof(sa));
                umask(old);
                l->desc = xasprintf("unix:%s", path);
        } else {
                struct sockaddr_storage ss = { 0 };
                socklen_t len;
                bool v6 = addr && addr[0] == '[';
                if (v6) {
                        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
                        _cleanup_free_ char *a = xstrndup(addr + 1, strlen(addr) - 2);
                        s6->sin6_family = AF_INET6;
                        s6->sin6_port = htons((uint16_t)port);
                        (void)inet_pton(AF_INET6, a, &s6->sin6_addr);
                        len = sizeof(*s6);
                } else {
                        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
                        s4->sin_family = AF_INET;
                        s4->sin_port = htons((uint16_t)port);
                        (void)inet_pton(AF_INET, addr ? addr : "127.0.0.1", &s4->sin_addr);
                        len = sizeof(*s4);
                }
                fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
                int one = 1;
                if (fd >= 0)
                        (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
                r = fd < 0 ? -1 : bind(fd, (struct sockaddr *)&ss, len);
                l->desc = xasprintf("%s:%d", addr ? addr : "127.0.0.1", port);
        }
        if (r < 0 || listen(fd, 128) < 0) {
                r = err_set(e, -errno, "publish %s", l->desc);
                if (fd >= 0)
                        close(fd);
                free(l->desc);
                l->desc = NULL;
                return r;
        }
        l->fd = fd;
        l->guest_port = (uint16_t)gport;
        l->unix_path = path ? xstrdup(path) : NULL;
        l->watch = virEventAddHandle(fd, VIR_EVENT_HANDLE_READABLE, on_accept, l, NULL);
        n_listeners++;
        monitor_log("publishing %s -> guest port %d", l->desc, gport);
        return 0;
}

static int publish_open(struct mlvm_err *e)
{
        json_object *a;
        for (size_t i = 0; i < PROTO_STREAMS_MAX; i++)
                conns[i].fd = conns[i].watch = -1;
        if (!json_object_object_get_ex(monitor_record(), "publish", &a))
                return 0;
        for (size_t i = 0; i < json_object_array_length(a); i++) {
                int r = listen_one(json_object_array_get_idx(a, i), e);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* The channel is gone (libvirt restarted): the streams went with it. */
static void publish_reset_streams(void)
{
        for (size_t i = 0; i < PROTO_STREAMS_MAX; i++)
                if (conns[i].id)
                        drop(&conns[i], true);
}

/* The run ends: ports closed, sockets removed, first in the teardown:
 * nothing new reaches a guest that is going. */
static void publish_close(void)
{
        publish_reset_streams();
        for (size_t i = 0; i < n_listeners; i++) {
                struct listener *l = &listeners[i];
                virEventRemoveHandle(l->watch);
                close(l->fd);
                if (l->unix_path)
                        (void)unlink(l->unix_path);
                free(l->unix_path);
                free(l->desc);
        }
        if (n_listeners)
                monitor_log("published ports closed (%llu connections, %llu refused)", (unsigned long long)accepted,
                            (unsigned long long)refused);
        n_listeners = 0;
}

const struct monitor_handler monitor_publish_handler = {
        .name = "publish",
        /* Stream ids from 1 up, in the first quarter (health has the second, exec the upper half). */
        .stream_base = 0,
        .stream_mask = 0x3fffffffu,
        .on_stream = publish_on_stream,
        .open = publish_open,
        .channel_reset = publish_reset_streams,
        .unthrottle = publish_unthrottle,
        .stop = publish_close,
};
