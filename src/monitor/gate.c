/* gate.c: the frame gate's decoder and main loop; see gate.h. The guest
 * is hostile: this is the only code of the monitor that parses its bytes,
 * and it runs unprivileged under seccomp (gate-sandbox.c). */
#include "mlvm-build.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gate-sandbox.h"
#include "gate-wire.h"
#include "gate.h"

static int emit_plain(struct gate_decoder *d, uint8_t kind, uint8_t type, int32_t status,
                      int (*emit)(const uint8_t *, size_t, void *), void *opaque)
{
        uint8_t rec[sizeof(struct gate_rec_hdr)];
        size_t n = gate_rec_plain(kind, d->gen, type, status, 0, rec);
        return emit(rec, n, opaque);
}

int gate_feed(struct gate_decoder *d, uint32_t gen, const uint8_t *data, size_t n,
              int (*emit)(const uint8_t *rec, size_t len, void *opaque), void *opaque)
{
        static uint8_t rec[GATE_REC_MAX];
        static struct proto_msg m;   /* large: not on the stack */
        size_t off = 0;

        if (gen != d->gen) {
                d->gen = gen;
                d->len = 0;
                d->have_hdr = d->broken = d->synced = false;
                d->skipped = 0;
                d->partial_since = 0;
        }
        while (!d->broken && off < n) {
                /* Take no more than the end of the current frame. */
                size_t want = d->have_hdr ? PROTO_HDR_SIZE + d->hdr.len - d->len : PROTO_HDR_SIZE - d->len;
                size_t take = n - off < want ? n - off : want;
                if (d->len == 0)
                        d->partial_since = now_usec();
                memcpy(d->buf + d->len, data + off, take);
                d->len += take;
                off += take;
                /* Check the header as soon as it is complete, before the payload arrives. */
                if (!d->have_hdr && d->len == PROTO_HDR_SIZE) {
                        int r = proto_hdr_decode(d->buf, &d->hdr);
                        if (r < 0 && !d->synced && d->skipped < GATE_RESYNC_MAX) {
                                /* Not yet this connection's first header: slide by one byte. */
                                memmove(d->buf, d->buf + 1, PROTO_HDR_SIZE - 1);
                                d->len--;
                                d->skipped++;
                                continue;
                        }
                        if (r < 0) {
                                d->broken = true;
                                return emit_plain(d, GATE_REC_BAD, 0, r, emit, opaque);
                        }
                        d->synced = true;
                        d->have_hdr = true;
                }
                if (d->have_hdr && d->len == PROTO_HDR_SIZE + d->hdr.len) {
                        int r = proto_payload_decode(&d->hdr, d->buf + PROTO_HDR_SIZE, &m);
                        d->len = 0;
                        d->have_hdr = false;
                        d->partial_since = 0;
                        if (r < 0) {
                                d->broken = true;
                                return emit_plain(d, GATE_REC_BAD, d->hdr.type, r, emit, opaque);
                        }
                        size_t rl = gate_rec_frame(&m, d->gen, rec, sizeof(rec));
                        if ((r = emit(rec, rl, opaque)) < 0)
                                return r;
                }
        }
        return 0;
}

usec_t gate_partial_since(const struct gate_decoder *d)
{
        return d->len ? d->partial_since : 0;
}

static int send_rec(const uint8_t *rec, size_t len, void *opaque)
{
        int fd = *(int *)opaque;
        while (send(fd, rec, len, MSG_NOSIGNAL) < 0)
                if (errno != EINTR)
                        return -errno;
        return 0;
}

int gate_main(int fd)
{
        static uint8_t frame[PROTO_HDR_SIZE + PROTO_MAX_PAYLOAD];
        static uint8_t in[GATE_IN_MAX];
        struct gate_decoder d = { .buf = frame };
        struct mlvm_err e = { 0 };

        (void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
        /* Narrow privileges: refuse to parse anything unless the spawn
         * really left us nothing, then confine what is left. */
        if (gate_sandbox_check(&e) < 0 || gate_sandbox_seccomp(&e) < 0) {
                /* stderr is /dev/null: the monitor sees the gate end and says so. */
                return 1;
        }
        for (;;) {
                ssize_t n = recv(fd, in, sizeof(in), 0);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return 0;
                struct gate_in_hdr h;
                if ((size_t)n < sizeof(h))
                        return 0;
                memcpy(&h, in, sizeof(h));
                uint8_t rec[sizeof(struct gate_rec_hdr)];
                if (h.kind == GATE_IN_DATA) {
                        if (gate_feed(&d, h.gen, in + sizeof(h), (size_t)n - sizeof(h), send_rec, &fd) < 0)
                                return 0;
                        size_t rl = gate_rec_plain(GATE_REC_SYNC, h.gen, 0, (int32_t)d.skipped, gate_partial_since(&d), rec);
                        if (send_rec(rec, rl, &fd) < 0)
                                return 0;
                } else if (h.kind == GATE_IN_EOF) {
                        size_t rl = gate_rec_plain(GATE_REC_EOF, h.gen, 0, 0, 0, rec);
                        if (send_rec(rec, rl, &fd) < 0)
                                return 0;
                } else
                        return 0;
        }
}
