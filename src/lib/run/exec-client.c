/* exec-client.c: relay an exec stream between the caller's descriptors and
 * a monitor's control connection; see exec-client.h. */
#include "mlvm-build.h"

#include <poll.h>
#include <sys/socket.h>

#include "cleanup.h"
#include "exec-client.h"
#include "exec-client-internal.h"
#include "proto.h"
#include "util.h"

/* The client's one stream; the monitor maps it to the agent's. */
#define STREAM_ID 1

struct relay {
        int sock, in_fd, out_fd, err_fd;
        struct exec_stream s;     /* what the monitor sent, and the stream's state */
        uint8_t out[PROTO_HDR_SIZE + PROTO_MAX_PAYLOAD];  /* one encoded frame to the monitor */
        struct proto_msg msg;     /* the frame being sent */
        struct proto_msg ack;     /* the WINDOW frame that gives credit back */
        bool in_eof;
};

static int send_frame(struct relay *r, const struct proto_msg *m)
{
        long n = proto_encode(m, r->out, sizeof(r->out));
        if (n < 0)
                return -EINVAL;
        for (long off = 0; off < n;) {
                ssize_t w = send(r->sock, r->out + off, (size_t)(n - off), MSG_NOSIGNAL);
                if (w < 0 && errno == EINTR)
                        continue;
                if (w <= 0)
                        return -EPIPE;
                off += w;
        }
        return 0;
}

static int write_all(int fd, const uint8_t *p, size_t len)
{
        while (len) {
                ssize_t w = write(fd, p, len);
                if (w < 0 && errno == EINTR)
                        continue;
                if (w <= 0)
                        return -errno;
                p += w;
                len -= (size_t)w;
        }
        return 0;
}

/* IN_FD is readable: send what it has (as much as the credit allows) as
 * DATA, or its end as CLOSE. */
static void forward_input(struct relay *r)
{
        struct proto_msg *m = &r->msg;

        memset(m, 0, sizeof(*m));
        size_t want = r->s.credit < sizeof(m->u.stream.data) ? r->s.credit : sizeof(m->u.stream.data);
        ssize_t n = read(r->in_fd, m->u.stream.data, want);
        if (n <= 0 && !(n < 0 && errno == EINTR)) {
                r->in_eof = true;
                m->type = PROTO_STREAM_CLOSE;
                m->u.stream.id = STREAM_ID;
                m->u.stream.how = PROTO_CLOSE_END;
        } else if (n > 0) {
                m->type = PROTO_STREAM_DATA;
                m->u.stream.id = STREAM_ID;
                m->u.stream.len = (uint32_t)n;
                r->s.credit -= (uint32_t)n;
        }
        /* A failed send: the monitor is closing (after the EXIT, which is
         * still to be read) or gone (then the next read says so). */
        if (m->type && send_frame(r, m) < 0)
                r->in_eof = true;
}

/* The command's output: write it out and give the agent that much credit back. */
static void output(struct relay *r, const struct proto_conn *data)
{
        (void)write_all(data->fd == 2 ? r->err_fd : r->out_fd, data->data, data->len);
        r->ack.u.stream.window = data->len;
        /* The monitor may have sent the EXIT and closed already: what it
         * sent is still read; only a missing EXIT is a failure. */
        (void)send_frame(r, &r->ack);
}

/* The guest is hostile: these are the agent's frames as the monitor
 * relays them, so a header is checked (its 1 MiB cap too) before its
 * payload is waited for, a bad one ends the relay rather than waiting for
 * bytes that would never make it good, and the agent is held to the
 * credit rules (proto.h) the way the monitor holds it on published ports. */
int exec_stream_next(struct exec_stream *s, int *ret_status, struct mlvm_err *e)
{
        const struct proto_conn *c = &s->msg.u.stream;
        struct proto_hdr h;

        if (s->in_len < PROTO_HDR_SIZE)
                return EXEC_MORE;
        if (proto_hdr_decode(s->in, &h) < 0)
                return err_setx(e, -EPROTO, "a malformed frame from the monitor");
        if (s->in_len - PROTO_HDR_SIZE < h.len)
                return EXEC_MORE;
        int d = proto_payload_decode(&h, s->in + PROTO_HDR_SIZE, &s->msg);
        size_t used = PROTO_HDR_SIZE + h.len;
        memmove(s->in, s->in + used, s->in_len - used);
        s->in_len -= used;
        if (d < 0)
                return err_setx(e, -EPROTO, "a malformed frame from the monitor");
        switch (s->msg.type) {
        case PROTO_STREAM_OPENED:
                if (s->opened || c->window > PROTO_STREAM_CREDIT)
                        break;
                s->opened = true;
                s->credit = c->window;
                return EXEC_NEXT;
        case PROTO_STREAM_WINDOW:
                if (!s->opened || (uint64_t)s->credit + c->window > PROTO_STREAM_CREDIT)
                        break;
                s->credit += c->window;
                return EXEC_NEXT;
        case PROTO_STREAM_DATA:
                if (!s->opened)
                        break;
                return EXEC_OUTPUT;
        case PROTO_EXIT:
                *ret_status = s->msg.u.exit.signal ? 128 + (int)(s->msg.u.exit.signal & 127)
                                                   : (int)(s->msg.u.exit.code & 255);
                return EXEC_EXIT;
        case PROTO_STREAM_CLOSE:
                if (c->how == PROTO_CLOSE_END)
                        return EXEC_NEXT;
                if (c->how == PROTO_CLOSE_REFUSED)
                        return err_setx(e, -ECONNREFUSED, "the agent could not start the command");
                return err_setx(e, -ECONNRESET, "the command's stream was reset");
        default:
                return EXEC_NEXT;
        }
        return err_setx(e, -EPROTO, "the agent broke the stream's rules (%s)", proto_type_name(s->msg.type));
}

/* SOCK is readable: read what the monitor sent and handle each whole
 * frame. 1 after the EXIT, 0 to go on, or a negative errno. */
static int read_frames(struct relay *r, int *ret_status, struct mlvm_err *e)
{
        ssize_t n = recv(r->sock, r->s.in + r->s.in_len, sizeof(r->s.in) - r->s.in_len, 0);
        if (n <= 0)
                return err_setx(e, -ECONNRESET, "the monitor closed the connection before the command ended");
        r->s.in_len += (size_t)n;
        for (;;) {
                int k = exec_stream_next(&r->s, ret_status, e);
                if (k < 0)
                        return k;
                if (k == EXEC_MORE)
                        return 0;
                if (k == EXEC_EXIT)
                        return 1;
                if (k == EXEC_OUTPUT)
                        output(r, &r->s.msg.u.stream);
        }
}

int exec_client_relay(int sock, int in_fd, int out_fd, int err_fd, int *ret_status, struct mlvm_err *e)
{
        _cleanup_free_ struct relay *r = xcalloc(1, sizeof(*r));
        int status = 0;

        r->sock = sock;
        r->in_fd = in_fd;
        r->out_fd = out_fd;
        r->err_fd = err_fd;
        r->ack.type = PROTO_STREAM_WINDOW;
        r->ack.u.stream.id = STREAM_ID;
        for (;;) {
                struct pollfd p[2] = {
                        { .fd = sock, .events = POLLIN },
                        { .fd = r->s.opened && !r->in_eof && r->s.credit ? in_fd : -1, .events = POLLIN },
                };
                if (poll(p, 2, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        return err_set(e, -errno, "poll");
                }
                if (p[1].revents)
                        forward_input(r);
                if (!p[0].revents)
                        continue;
                int k = read_frames(r, &status, e);
                if (k < 0)
                        return k;
                if (k > 0) {
                        *ret_status = status;
                        return 0;
                }
        }
}
