/* channel.c: agent channel over a libvirt stream; see channel.h. */
#include "mlvm-build.h"

#include <openssl/crypto.h>

#include <sys/socket.h>

#include "channel.h"
#include "gate-wire.h"
#include "mtime.h"
#include "util.h"
#include "virt.h"

struct channel {
        virStreamPtr st;
        uint8_t *buf;              /* one frame at most: header + PROTO_MAX_PAYLOAD */
        size_t len;
        bool have_hdr;
        struct proto_hdr hdr;
        usec_t partial_since;      /* the first byte of the frame in buf; 0: none begun */
        int events;                /* what the stream callback last reported */
        bool broken;
        bool waiting;              /* inside wait_events: no user callback */
        void (*cb)(void *opaque);
        void *opaque;
        /* Frames waiting to go out: sends never run the event loop, so no
         * callback runs in the middle of one and no frame is interleaved. */
        uint8_t *out;
        size_t out_len, out_cap;
        bool send_failed;
        /* The throttle (channel.h): re-checked by this timer while full. */
        int throttle_timer;
        void (*unthrottle)(void *opaque);
        void *unthrottle_opaque;
        /* With a frame gate (gate.h): the stream's bytes go to it
         * unread, its records come back. At most GATE_INFLIGHT chunks
         * wait for its SYNC; CHUNK holds the message being sent. */
        int gate_fd, gate_watch;
        uint32_t gen;
        unsigned inflight;
        bool in_eof;               /* the stream ended: GATE_IN_EOF queued or sent */
        usec_t gate_since;         /* the gate's partial_since, from its last SYNC */
        uint32_t skipped;          /* bytes the gate skipped before the first frame header */
        struct mlvm_err stream_err;
        int stream_code;           /* how the stream ended: 0 EOF, else err_virt's */
        uint8_t *chunk, *rec;
        size_t chunk_len;
};

#define GATE_INFLIGHT 2

#define CHANNEL_OUT_MAX (16u << 20)
#define THROTTLE_RECHECK_MS 20

static int event_mask(struct channel *ch, int want)
{
        int in = VIR_STREAM_EVENT_READABLE;
        /* With a gate, read the stream only while the gate takes more. */
        if (ch->gate_fd >= 0)
                in = ch->broken || ch->in_eof || ch->chunk_len || ch->inflight >= GATE_INFLIGHT
                             ? 0
                             : VIR_STREAM_EVENT_READABLE | VIR_STREAM_EVENT_ERROR | VIR_STREAM_EVENT_HANGUP;
        return want | in | (ch->out_len ? VIR_STREAM_EVENT_WRITABLE : 0);
}

static void gate_pump(struct channel *ch);

/* Send what the stream takes now; what it does not wait for WRITABLE.
 * Sent bytes are wiped: a frame may carry a credential. */
static void flush_out(struct channel *ch)
{
        size_t off = 0;
        while (off < ch->out_len && !ch->send_failed) {
                int n = virStreamSend(ch->st, (const char *)ch->out + off, ch->out_len - off);
                if (n > 0)
                        off += (size_t)n;
                else if (n == -2)
                        break;
                else
                        ch->send_failed = true;
        }
        if (ch->send_failed)
                off = ch->out_len;
        OPENSSL_cleanse(ch->out, off);
        memmove(ch->out, ch->out + off, ch->out_len - off);
        ch->out_len -= off;
        if (!ch->waiting)
                (void)virStreamEventUpdateCallback(ch->st, event_mask(ch, 0));
}

static void on_stream(virStreamPtr st, int events, void *opaque)
{
        struct channel *ch = opaque;
        if ((events & VIR_STREAM_EVENT_WRITABLE) && ch->out_len)
                flush_out(ch);
        ch->events |= events;
        if (ch->gate_fd >= 0) {
                if (events & (VIR_STREAM_EVENT_READABLE | VIR_STREAM_EVENT_ERROR | VIR_STREAM_EVENT_HANGUP))
                        gate_pump(ch);
                return;
        }
        if (ch->cb && !ch->waiting && (events & (VIR_STREAM_EVENT_READABLE | VIR_STREAM_EVENT_ERROR |
                                                 VIR_STREAM_EVENT_HANGUP)))
                ch->cb(ch->opaque);
}

void channel_on_readable(struct channel *ch, void (*cb)(void *opaque), void *opaque)
{
        ch->cb = cb;
        ch->opaque = opaque;
}

static void on_timeout(int timer, void *opaque)
{
        *(bool *)opaque = true;
}

/* Run libvirt's event loop until the stream reports one of WANT or the
 * deadline passes. Returns 0, or -ETIMEDOUT. */
static int wait_events(struct channel *ch, int want, usec_t deadline)
{
        bool fired = false;
        usec_t now = now_usec();

        if (now >= deadline)
                return -ETIMEDOUT;
        if (ch->waiting)
                return -EBUSY;   /* one wait per channel: callers already run inside the event loop */
        ch->events = 0;
        if (virStreamEventUpdateCallback(ch->st, event_mask(ch, want) | VIR_STREAM_EVENT_ERROR |
                                                     VIR_STREAM_EVENT_HANGUP) < 0)
                return -EIO;
        int timer = virEventAddTimeout(usec_ms_left(deadline), on_timeout, &fired, NULL);
        if (timer < 0)
                return -EIO;
        ch->waiting = true;
        while (!ch->events && !fired)
                if (virEventRunDefaultImpl() < 0)
                        break;
        ch->waiting = false;
        virEventRemoveTimeout(timer);
        (void)virStreamEventUpdateCallback(ch->st, event_mask(ch, 0));
        return ch->events ? 0 : -ETIMEDOUT;
}

/* The gate is there: hand it on to the core's callback. */
static void on_gate(int watch, int fd, int events, void *opaque)
{
        struct channel *ch = opaque;
        ch->events |= VIR_STREAM_EVENT_READABLE;
        if (ch->cb && !ch->waiting)
                ch->cb(ch->opaque);
}

int channel_open(virDomainPtr dom, const char *name, int gate_fd, struct channel **ret, struct mlvm_err *e)
{
        static uint32_t generation;
        struct channel *ch = xcalloc(1, sizeof(*ch));

        ch->gate_fd = gate_fd;
        ch->gate_watch = -1;
        ch->throttle_timer = -1;
        ch->st = virStreamNew(virDomainGetConnect(dom), VIR_STREAM_NONBLOCK);
        if (!ch->st) {
                free(ch);
                return err_virt(e, "channel %s", name);
        }
        if (gate_fd >= 0) {
                ch->gen = ++generation;
                ch->chunk = xmalloc(GATE_IN_MAX);
                ch->rec = xmalloc(GATE_REC_MAX + 1);
                ch->gate_watch = virEventAddHandle(gate_fd, VIR_EVENT_HANDLE_READABLE, on_gate, ch, NULL);
        } else
                ch->buf = xmalloc(PROTO_HDR_SIZE + PROTO_MAX_PAYLOAD);
        if ((gate_fd >= 0 && ch->gate_watch < 0) || virDomainOpenChannel(dom, name, ch->st, 0) < 0 ||
            virStreamEventAddCallback(ch->st, event_mask(ch, 0), on_stream, ch, NULL) < 0) {
                int r = err_virt(e, "open channel %s", name);
                ch->st = (virStreamFree(ch->st), NULL);
                channel_close(ch);
                return r;
        }
        *ret = ch;
        return 0;
}

void channel_close(struct channel *ch)
{
        if (!ch)
                return;
        if (ch->throttle_timer >= 0)
                virEventRemoveTimeout(ch->throttle_timer);
        if (ch->gate_watch >= 0)
                virEventRemoveHandle(ch->gate_watch);
        if (ch->st) {
                (void)virStreamEventRemoveCallback(ch->st);
                (void)virStreamAbort(ch->st);
                (void)virStreamFree(ch->st);
        }
        free(ch->chunk);
        free(ch->rec);
        if (ch->out)
                OPENSSL_cleanse(ch->out, ch->out_cap);
        free(ch->out);
        free(ch->buf);
        free(ch);
}

/* ---- through the gate ---------------------------------------------------------- */

/* The gate failed or broke the protocol: stop reading it and the stream. */
static int gate_break(struct channel *ch, int r)
{
        ch->broken = true;
        if (ch->gate_watch >= 0)
                virEventRemoveHandle(ch->gate_watch);
        ch->gate_watch = -1;
        if (!ch->waiting)
                (void)virStreamEventUpdateCallback(ch->st, event_mask(ch, 0));
        return r;
}

/* Send the waiting message; false while the socket has no room. */
static bool gate_send(struct channel *ch)
{
        ssize_t n;
        while ((n = send(ch->gate_fd, ch->chunk, ch->chunk_len, MSG_DONTWAIT | MSG_NOSIGNAL)) < 0 && errno == EINTR)
                ;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                return false;
        /* Any other failure: the gate is gone, which its socket says next. */
        ch->chunk_len = 0;
        return true;
}

/* Move what the stream has into the gate, as far as it takes it. The
 * stream's bytes are copied, never looked at. */
static void gate_pump(struct channel *ch)
{
        while (!ch->broken) {
                if (ch->chunk_len && !gate_send(ch))
                        break;
                if (ch->in_eof || ch->inflight >= GATE_INFLIGHT)
                        break;
                struct gate_in_hdr h = { GATE_IN_DATA, ch->gen };
                int n = virStreamRecv(ch->st, (char *)ch->chunk + sizeof(h), GATE_CHUNK_MAX);
                if (n == -2)
                        break;
                if (n <= 0) {
                        h.kind = GATE_IN_EOF;
                        ch->in_eof = true;
                        if (n < 0)
                                ch->stream_code = err_virt(&ch->stream_err, "agent channel");
                        n = 0;
                } else
                        ch->inflight++;
                memcpy(ch->chunk, &h, sizeof(h));
                ch->chunk_len = sizeof(h) + (size_t)n;
        }
        if (!ch->waiting)
                (void)virStreamEventUpdateCallback(ch->st, event_mask(ch, 0));
}

static int gate_try_recv(struct channel *ch, struct proto_msg *m, struct mlvm_err *e)
{
        for (;;) {
                ssize_t n = recv(ch->gate_fd, ch->rec, GATE_REC_MAX + 1, MSG_DONTWAIT | MSG_TRUNC);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                        gate_pump(ch);
                        return -EAGAIN;
                }
                if (n <= 0)
                        return gate_break(ch, err_setx(e, -EPROTO, "agent channel: the frame gate ended"));
                if ((size_t)n > GATE_REC_MAX)
                        return gate_break(ch, err_setx(e, -EPROTO, "agent channel: frame gate: a record of %zd bytes", n));
                struct gate_event ev;
                int r = gate_rec_decode(ch->rec, (size_t)n, now_usec(), &ev, m, e);
                if (r < 0) {
                        err_prefix(e, "agent channel");
                        return gate_break(ch, r);
                }
                if (ev.gen != ch->gen)
                        continue;   /* an earlier channel's */
                switch (ev.kind) {
                case GATE_REC_FRAME:
                        return 0;
                case GATE_REC_BAD:
                        ch->broken = true;
                        if (ev.type == 0)
                                return gate_break(ch, err_setx(e, -EPROTO, "agent channel: bad frame header: %s",
                                                               proto_strerror(ev.status)));
                        return gate_break(ch, err_setx(e, -EPROTO, "agent channel: bad %s frame: %s",
                                                       proto_type_name(ev.type), proto_strerror(ev.status)));
                case GATE_REC_SYNC:
                        if (!ch->inflight)
                                return gate_break(ch, err_setx(e, -EPROTO, "agent channel: frame gate: SYNC for nothing"));
                        ch->inflight--;
                        ch->gate_since = ev.since;
                        ch->skipped = (uint32_t)ev.status;
                        gate_pump(ch);
                        continue;
                default: /* GATE_REC_EOF */
                        if (!ch->in_eof || ch->chunk_len)
                                return gate_break(ch, err_setx(e, -EPROTO, "agent channel: frame gate: EOF before the end"));
                        if (ch->stream_code) {
                                err_setx(e, ch->stream_code, "%s", ch->stream_err.msg);
                                return ch->stream_code;
                        }
                        return err_setx(e, -EPIPE, "agent channel: closed by the guest");
                }
        }
}

/* ---- in this process (no gate: the test tools) ------------------------------------ */

int channel_try_recv(struct channel *ch, struct proto_msg *m, struct mlvm_err *e)
{
        if (ch->broken)
                return err_setx(e, -EPROTO, "agent channel: closed after a protocol error");
        if (ch->gate_fd >= 0)
                return gate_try_recv(ch, m, e);
        for (;;) {
                /* Check the header as soon as it is complete, before the payload arrives. */
                if (!ch->have_hdr && ch->len >= PROTO_HDR_SIZE) {
                        int r = proto_hdr_decode(ch->buf, &ch->hdr);
                        if (r < 0) {
                                ch->broken = true;
                                return err_setx(e, -EPROTO, "agent channel: bad frame header: %s", proto_strerror(r));
                        }
                        ch->have_hdr = true;
                }
                if (ch->have_hdr && ch->len >= PROTO_HDR_SIZE + ch->hdr.len) {
                        size_t flen = PROTO_HDR_SIZE + ch->hdr.len;
                        int r = proto_payload_decode(&ch->hdr, ch->buf + PROTO_HDR_SIZE, m);
                        if (r < 0) {
                                ch->broken = true;
                                return err_setx(e, -EPROTO, "agent channel: bad %s frame: %s",
                                                proto_type_name(ch->hdr.type), proto_strerror(r));
                        }
                        memmove(ch->buf, ch->buf + flen, ch->len - flen);
                        ch->len -= flen;
                        ch->have_hdr = false;
                        ch->partial_since = ch->len ? now_usec() : 0;
                        return 0;
                }
                /* Read no further than the end of the current frame. */
                size_t want = ch->have_hdr ? PROTO_HDR_SIZE + ch->hdr.len - ch->len : PROTO_HDR_SIZE - ch->len;
                int n = virStreamRecv(ch->st, (char *)ch->buf + ch->len, want);
                if (n > 0) {
                        if (ch->len == 0)
                                ch->partial_since = now_usec();
                        ch->len += (size_t)n;
                        continue;
                }
                if (n == 0)
                        return err_setx(e, -EPIPE, "agent channel: closed by the guest");
                if (n == -1)
                        return err_virt(e, "agent channel");
                return -EAGAIN;
        }
}

uint32_t channel_skipped(const struct channel *ch)
{
        return ch ? ch->skipped : 0;
}

usec_t channel_partial_since(const struct channel *ch)
{
        if (ch && ch->gate_fd >= 0)
                return ch->gate_since;
        return ch && ch->len ? ch->partial_since : 0;
}

int channel_recv(struct channel *ch, struct proto_msg *m, int timeout_ms, struct mlvm_err *e)
{
        usec_t deadline = now_usec() + usec_from_ms((uint64_t)timeout_ms);

        for (;;) {
                int r = channel_try_recv(ch, m, e);
                if (r != -EAGAIN)
                        return r;
                r = wait_events(ch, VIR_STREAM_EVENT_READABLE, deadline);
                if (r == -ETIMEDOUT)
                        return err_setx(e, -ETIMEDOUT, "agent channel: nothing from the guest within %d ms", timeout_ms);
                if (r < 0)
                        return err_virt(e, "agent channel");
        }
}

int channel_send(struct channel *ch, const struct proto_msg *m, int timeout_ms, struct mlvm_err *e)
{
        const size_t max = PROTO_HDR_SIZE + PROTO_MAX_PAYLOAD;

        if (ch->send_failed)
                return err_setx(e, -EPIPE, "agent channel: send %s: the channel failed earlier", proto_type_name(m->type));
        if (ch->out_len + max > CHANNEL_OUT_MAX)
                return err_setx(e, -ENOBUFS, "agent channel: send %s: %zu bytes are waiting; the guest is not reading",
                                proto_type_name(m->type), ch->out_len);
        if (ch->out_cap < ch->out_len + max) {
                /* Grow by copying, so the old buffer can be wiped. */
                size_t cap = ch->out_len + max;
                uint8_t *bigger = xmalloc(cap);
                if (ch->out) {
                        memcpy(bigger, ch->out, ch->out_len);
                        OPENSSL_cleanse(ch->out, ch->out_cap);
                        free(ch->out);
                }
                ch->out = bigger;
                ch->out_cap = cap;
        }
        long len = proto_encode(m, ch->out + ch->out_len, max);
        if (len < 0)
                return err_setx(e, -EINVAL, "agent channel: cannot encode %s: %s", proto_type_name(m->type),
                                proto_strerror((int)len));
        ch->out_len += (size_t)len;
        flush_out(ch);
        if (ch->send_failed)
                return err_virt(e, "agent channel: send %s", proto_type_name(m->type));
        (void)timeout_ms;   /* nothing waits here; the callers' own timers bound the run */
        return 0;
}

bool channel_full(const struct channel *ch)
{
        return ch && ch->out_len > CHANNEL_HIGH_WATER;
}

/* While full, look again every 20 ms (the queue drains from the loop). */
static void on_throttle(int timer, void *opaque)
{
        struct channel *ch = opaque;
        if (channel_full(ch))
                return;
        virEventUpdateTimeout(timer, -1);
        if (ch->unthrottle)
                ch->unthrottle(ch->unthrottle_opaque);
}

bool channel_throttled(struct channel *ch)
{
        if (!channel_full(ch))
                return false;
        if (ch->throttle_timer < 0)
                ch->throttle_timer = virEventAddTimeout(THROTTLE_RECHECK_MS, on_throttle, ch, NULL);
        else
                virEventUpdateTimeout(ch->throttle_timer, THROTTLE_RECHECK_MS);
        return true;
}

void channel_on_unthrottle(struct channel *ch, void (*cb)(void *opaque), void *opaque)
{
        ch->unthrottle = cb;
        ch->unthrottle_opaque = opaque;
}
