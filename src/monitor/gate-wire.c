/* gate-wire.c: the records between the frame gate and the monitor; see
 * gate-wire.h. */
#include "mlvm-build.h"

#include <errno.h>
#include <string.h>

#include "gate-wire.h"

/* Each frame type's record: the first HEAD bytes of the decoded struct
 * (the fixed fields, as the codec filled them), then for the types with
 * data the data bytes, whose count the monitor writes at LEN_OFF. STRS
 * are the char arrays (offset, size) that must hold their NUL. A type
 * with HEAD 0 carries only its type and id: the host never takes it from
 * the agent (the core fails the run on it), so nothing of it crosses. */
struct layout {
        uint32_t head;
        uint32_t data_off, len_off;     /* data_off 0: no data */
        struct { uint16_t off, size; } strs[4];
};

#define STR(type, field) { offsetof(type, field), sizeof(((type *)0)->field) }

static const struct layout layouts[PROTO_TYPE_MAX + 1] = {
        [PROTO_HELLO] = { sizeof(struct proto_hello), 0, 0,
                          { STR(struct proto_hello, agent_version), STR(struct proto_hello, transport),
                            STR(struct proto_hello, boot_id), STR(struct proto_hello, root) } },
        [PROTO_ERROR] = { sizeof(struct proto_error), 0, 0, { STR(struct proto_error, message) } },
        [PROTO_PING] = { sizeof(struct proto_ping), 0, 0, { { 0, 0 } } },
        [PROTO_PONG] = { sizeof(struct proto_ping), 0, 0, { { 0, 0 } } },
        [PROTO_STDIO] = { offsetof(struct proto_stdio, data), offsetof(struct proto_stdio, data),
                          offsetof(struct proto_stdio, len), { { 0, 0 } } },
        [PROTO_EXIT] = { sizeof(struct proto_exit), 0, 0, { { 0, 0 } } },
        [PROTO_DONE] = { sizeof(struct proto_done), 0, 0, { { 0, 0 } } },
        [PROTO_CRED_EXPIRED] = { offsetof(struct proto_cred, ttl_ms), 0, 0,
                                 { STR(struct proto_cred, name), STR(struct proto_cred, lease) } },
        [PROTO_ARTIFACT] = { sizeof(struct proto_artifact), 0, 0,
                             { STR(struct proto_artifact, path), STR(struct proto_artifact, digest) } },
        [PROTO_ARTIFACTS_DONE] = { sizeof(struct proto_artifact), 0, 0,
                                   { STR(struct proto_artifact, path), STR(struct proto_artifact, digest) } },
#define CONN { offsetof(struct proto_conn, data), offsetof(struct proto_conn, data), offsetof(struct proto_conn, len), { { 0, 0 } } }
        [PROTO_STREAM_OPENED] = CONN,
        [PROTO_STREAM_DATA] = CONN,
        [PROTO_STREAM_WINDOW] = CONN,
        [PROTO_STREAM_CLOSE] = CONN,
#undef CONN
};

size_t gate_rec_plain(uint8_t kind, uint32_t gen, uint8_t type, int32_t status, usec_t since, uint8_t *buf)
{
        struct gate_rec_hdr h = { .kind = kind, .type = type, .gen = gen, .status = status, .since = since };
        memcpy(buf, &h, sizeof(h));
        return sizeof(h);
}

size_t gate_rec_frame(const struct proto_msg *m, uint32_t gen, uint8_t *buf, size_t cap)
{
        struct gate_rec_hdr h = { .kind = GATE_REC_FRAME, .type = m->type, .gen = gen, .id = m->id };
        const struct layout *l = m->type <= PROTO_TYPE_MAX ? &layouts[m->type] : &layouts[0];
        const uint8_t *u = (const uint8_t *)&m->u;
        size_t off = sizeof(h);
        uint32_t n = 0;

        if (l->data_off) {
                memcpy(&n, u + l->len_off, sizeof(n));
                if (n > PROTO_DATA_MAX)
                        n = PROTO_DATA_MAX;   /* the codec never gives more */
        }
        if (cap < off + l->head + n)
                return 0;
        memcpy(buf, &h, sizeof(h));
        memcpy(buf + off, u, l->head);
        off += l->head;
        if (n)
                memcpy(buf + off, u + l->data_off, n);
        return off + n;
}

int gate_rec_decode(const uint8_t *buf, size_t len, usec_t now, struct gate_event *ret, struct proto_msg *ret_msg,
                    struct mlvm_err *e)
{
        struct gate_rec_hdr h;

        if (len < sizeof(h))
                return err_setx(e, -EPROTO, "frame gate: a record of %zu bytes (header: %zu)", len, sizeof(h));
        memcpy(&h, buf, sizeof(h));
        if (h.reserved)
                return err_setx(e, -EPROTO, "frame gate: reserved bits set");
        size_t plen = len - sizeof(h);
        const uint8_t *p = buf + sizeof(h);
        struct gate_event ev = { .kind = h.kind, .gen = h.gen };

        switch (h.kind) {
        case GATE_REC_BAD:
                if (plen || h.type > PROTO_TYPE_MAX || h.status > -1 || h.status < PROTO_EMISSING)
                        return err_setx(e, -EPROTO, "frame gate: bad BAD record (type %u, status %d, %zu bytes)",
                                        h.type, h.status, plen);
                ev.type = h.type;
                ev.status = h.status;
                break;
        case GATE_REC_SYNC:
                if (plen || h.since > now || h.status < 0 || (uint32_t)h.status > GATE_RESYNC_MAX)
                        return err_setx(e, -EPROTO, "frame gate: bad SYNC record");
                ev.since = h.since;
                ev.status = h.status;
                break;
        case GATE_REC_EOF:
                if (plen)
                        return err_setx(e, -EPROTO, "frame gate: bad EOF record");
                break;
        case GATE_REC_FRAME: {
                if (h.type < 1 || h.type > PROTO_TYPE_MAX)
                        return err_setx(e, -EPROTO, "frame gate: frame type %u", h.type);
                const struct layout *l = &layouts[h.type];
                size_t n = plen >= l->head ? plen - l->head : 0;
                if (plen < l->head || (!l->data_off && n) || n > PROTO_DATA_MAX)
                        return err_setx(e, -EPROTO, "frame gate: a %s record of %zu bytes", proto_type_name(h.type),
                                        plen);
                for (size_t i = 0; i < 4 && l->strs[i].size; i++)
                        if (!memchr(p + l->strs[i].off, 0, l->strs[i].size))
                                return err_setx(e, -EPROTO, "frame gate: a %s record with an unterminated string",
                                                proto_type_name(h.type));
                memset(ret_msg, 0, sizeof(*ret_msg));
                ret_msg->type = h.type;
                ret_msg->id = h.id;
                uint8_t *u = (uint8_t *)&ret_msg->u;
                memcpy(u, p, l->head);
                if (l->data_off) {
                        uint32_t n32 = (uint32_t)n;
                        memcpy(u + l->data_off, p + l->head, n);
                        memcpy(u + l->len_off, &n32, sizeof(n32));
                }
                ev.type = h.type;
                break;
        }
        default:
                return err_setx(e, -EPROTO, "frame gate: unknown record kind %u", h.kind);
        }
        *ret = ev;
        return 0;
}
