/* proto.c: encoder and strict decoder for the agent protocol (PROTOCOL.md).
 * One table describes every message: which tags it may carry, their kind,
 * size limit, where they land in struct proto_msg and whether they are
 * required. Decoding never allocates and never writes past a field. */
#include "proto.h"

#include <string.h>

/* K_BLOB: variable-length bytes with a length field; K_STRV: a blob that
 * must be a run of NUL-terminated strings, counted into a count field. */
enum kind { K_U32, K_U64, K_STR, K_BYTES, K_BLOB, K_STRV };

struct field {
        uint16_t tag;
        uint8_t kind;
        uint8_t required;
        size_t offset;     /* in struct proto_msg */
        size_t size;       /* field size: strings include the terminating NUL */
        size_t len_offset; /* K_BLOB, K_STRV: where the length goes */
        size_t count_offset; /* K_STRV: where the number of strings goes */
};

#define F(tag, kind, req, member) \
        { tag, kind, req, offsetof(struct proto_msg, member), sizeof(((struct proto_msg *)0)->member), 0, 0 }
#define FB(tag, req, member, lenmember) \
        { tag, K_BLOB, req, offsetof(struct proto_msg, member), sizeof(((struct proto_msg *)0)->member), \
          offsetof(struct proto_msg, lenmember), 0 }
#define FV(tag, req, v) \
        { tag, K_STRV, req, offsetof(struct proto_msg, v.buf), sizeof(((struct proto_msg *)0)->v.buf), \
          offsetof(struct proto_msg, v.len), offsetof(struct proto_msg, v.count) }

static const struct field hello_fields[] = {
        F(PROTO_T_AGENT_VERSION, K_STR, 1, u.hello.agent_version),
        F(PROTO_T_PROTO_VERSION, K_U32, 1, u.hello.proto_version),
        F(PROTO_T_UPTIME_MS, K_U64, 1, u.hello.uptime_ms),
        F(PROTO_T_TRANSPORT, K_STR, 1, u.hello.transport),
        F(PROTO_T_BOOT_ID, K_STR, 0, u.hello.boot_id),
        F(PROTO_T_ROOT, K_STR, 0, u.hello.root),
        F(PROTO_T_SESSION, K_BYTES, 0, u.hello.session),
        F(PROTO_T_LAST_ID, K_U32, 0, u.hello.last_id),
};
static const struct field hello_ack_fields[] = {
        F(PROTO_T_SESSION, K_BYTES, 1, u.hello_ack.session),
};
static const struct field error_fields[] = {
        F(PROTO_T_CODE, K_U32, 1, u.error.code),
        F(PROTO_T_MESSAGE, K_STR, 1, u.error.message),
};
static const struct field ping_fields[] = {
        F(PROTO_T_NONCE, K_U64, 1, u.ping.nonce),
};
static const struct field exec_fields[] = {
        FV(PROTO_T_ARGV, 1, u.exec.argv),
        FV(PROTO_T_ENV, 0, u.exec.env),
        F(PROTO_T_CWD, K_STR, 0, u.exec.cwd),
        F(PROTO_T_ARTIFACTS_DIR, K_STR, 0, u.exec.artifacts_dir),
        F(PROTO_T_ARTIFACTS_SERIAL, K_STR, 0, u.exec.artifacts_serial),
};
static const struct field stdio_fields[] = {
        F(PROTO_T_STREAM, K_U32, 1, u.stdio.stream),
        FB(PROTO_T_DATA, 1, u.stdio.data, u.stdio.len),
};
static const struct field exit_fields[] = {
        F(PROTO_T_CODE, K_U32, 1, u.exit.code),
        F(PROTO_T_SIGNAL, K_U32, 1, u.exit.signal),
        F(PROTO_T_STREAM_ID, K_U32, 0, u.exit.stream),
};
static const struct field mount_fields[] = {
        F(PROTO_T_SERIAL, K_STR, 1, u.mount.serial),
        F(PROTO_T_PATH, K_STR, 1, u.mount.path),
        F(PROTO_T_FSTYPE, K_STR, 1, u.mount.fstype),
};

static const struct field cred_put_fields[] = {
        F(PROTO_T_NAME, K_STR, 1, u.cred.name),
        F(PROTO_T_LEASE, K_STR, 1, u.cred.lease),
        F(PROTO_T_TTL_MS, K_U64, 1, u.cred.ttl_ms),
        FB(PROTO_T_VALUE, 1, u.cred.value, u.cred.len),
};
static const struct field cred_revoke_fields[] = {
        F(PROTO_T_NAME, K_STR, 0, u.cred.name),
};
static const struct field cred_expired_fields[] = {
        F(PROTO_T_NAME, K_STR, 1, u.cred.name),
        F(PROTO_T_LEASE, K_STR, 1, u.cred.lease),
};
static const struct field artifact_fields[] = {
        F(PROTO_T_PATH, K_STR, 1, u.artifact.path),
        F(PROTO_T_SIZE, K_U64, 1, u.artifact.size),
        F(PROTO_T_DIGEST, K_STR, 1, u.artifact.digest),
};
static const struct field artifacts_done_fields[] = {
        F(PROTO_T_COUNT, K_U32, 1, u.artifact.count),
        F(PROTO_T_SIZE, K_U64, 1, u.artifact.size),
        F(PROTO_T_DIGEST, K_STR, 1, u.artifact.digest),
};
static const struct field stream_open_fields[] = {
        F(PROTO_T_STREAM_ID, K_U32, 1, u.stream.id),
        F(PROTO_T_PORT, K_U32, 1, u.stream.port),
        F(PROTO_T_WINDOW, K_U32, 1, u.stream.window),
};
static const struct field stream_opened_fields[] = {
        F(PROTO_T_STREAM_ID, K_U32, 1, u.stream.id),
        F(PROTO_T_WINDOW, K_U32, 1, u.stream.window),
};
static const struct field stream_data_fields[] = {
        F(PROTO_T_STREAM_ID, K_U32, 1, u.stream.id),
        FB(PROTO_T_DATA, 1, u.stream.data, u.stream.len),
        F(PROTO_T_STREAM, K_U32, 0, u.stream.fd),
};
static const struct field stream_exec_fields[] = {
        F(PROTO_T_STREAM_ID, K_U32, 1, u.stream.id),
        F(PROTO_T_WINDOW, K_U32, 1, u.stream.window),
        FV(PROTO_T_ARGV, 1, u.stream.argv),
        F(PROTO_T_TTY, K_U32, 0, u.stream.tty),
        F(PROTO_T_ROWS, K_U32, 0, u.stream.rows),
        F(PROTO_T_COLS, K_U32, 0, u.stream.cols),
};
static const struct field stream_window_fields[] = {
        F(PROTO_T_STREAM_ID, K_U32, 1, u.stream.id),
        F(PROTO_T_WINDOW, K_U32, 1, u.stream.window),
};
static const struct field stream_close_fields[] = {
        F(PROTO_T_STREAM_ID, K_U32, 1, u.stream.id),
        F(PROTO_T_HOW, K_U32, 1, u.stream.how),
};
static const struct field done_fields[] = {
        F(PROTO_T_COUNT, K_U32, 0, u.done.count),
};

struct schema {
        const char *name;
        const struct field *fields;
        size_t n;
};

#define S(name, f) { name, f, sizeof(f) / sizeof((f)[0]) }
#define S0(name) { name, NULL, 0 }
static const struct schema schemas[PROTO_TYPE_MAX + 1] = {
        [PROTO_HELLO] = S("HELLO", hello_fields),
        [PROTO_HELLO_ACK] = S("HELLO_ACK", hello_ack_fields),
        [PROTO_ERROR] = S("ERROR", error_fields),
        [PROTO_PING] = S("PING", ping_fields),
        [PROTO_PONG] = S("PONG", ping_fields),
        [PROTO_EXEC] = S("EXEC", exec_fields),
        [PROTO_STDIO] = S("STDIO", stdio_fields),
        [PROTO_EXIT] = S("EXIT", exit_fields),
        [PROTO_SHUTDOWN] = S0("SHUTDOWN"),
        [PROTO_MOUNT] = S("MOUNT", mount_fields),
        [PROTO_DONE] = S("DONE", done_fields),
        [PROTO_CRED_PUT] = S("CRED_PUT", cred_put_fields),
        [PROTO_CRED_REVOKE] = S("CRED_REVOKE", cred_revoke_fields),
        [PROTO_CRED_EXPIRED] = S("CRED_EXPIRED", cred_expired_fields),
        [PROTO_ARTIFACT] = S("ARTIFACT", artifact_fields),
        [PROTO_ARTIFACTS_DONE] = S("ARTIFACTS_DONE", artifacts_done_fields),
        [PROTO_STREAM_OPEN] = S("STREAM_OPEN", stream_open_fields),
        [PROTO_STREAM_OPENED] = S("STREAM_OPENED", stream_opened_fields),
        [PROTO_STREAM_DATA] = S("STREAM_DATA", stream_data_fields),
        [PROTO_STREAM_WINDOW] = S("STREAM_WINDOW", stream_window_fields),
        [PROTO_STREAM_CLOSE] = S("STREAM_CLOSE", stream_close_fields),
        [PROTO_STREAM_EXEC] = S("STREAM_EXEC", stream_exec_fields),
};

static const struct schema *schema_of(uint8_t type)
{
        if (type == 0 || type > PROTO_TYPE_MAX || !schemas[type].name)
                return NULL;
        return &schemas[type];
}

const char *proto_type_name(uint8_t type)
{
        const struct schema *s = schema_of(type);
        return s ? s->name : "UNKNOWN";
}

const char *proto_strerror(int status)
{
        switch (status) {
        case PROTO_OK: return "ok";
        case PROTO_EMAGIC: return "bad magic";
        case PROTO_EVERSION: return "unsupported protocol version";
        case PROTO_EFLAGS: return "reserved flags set";
        case PROTO_ETYPE: return "unknown message type";
        case PROTO_ETOOBIG: return "frame too large";
        case PROTO_ETLV: return "truncated field";
        case PROTO_ETAG: return "field not allowed for this message";
        case PROTO_EDUP: return "repeated field";
        case PROTO_EVALUE: return "bad field value";
        case PROTO_EMISSING: return "required field missing";
        default: return "unknown error";
        }
}

static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t get32(const uint8_t *p)
{
        return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static uint64_t get64(const uint8_t *p) { return (uint64_t)get32(p) << 32 | get32(p + 4); }
static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static void put32(uint8_t *p, uint32_t v)
{
        p[0] = (uint8_t)(v >> 24);
        p[1] = (uint8_t)(v >> 16);
        p[2] = (uint8_t)(v >> 8);
        p[3] = (uint8_t)v;
}
static void put64(uint8_t *p, uint64_t v)
{
        put32(p, (uint32_t)(v >> 32));
        put32(p + 4, (uint32_t)v);
}

int proto_hdr_decode(const uint8_t *buf, struct proto_hdr *h)
{
        if (get32(buf) != PROTO_MAGIC)
                return PROTO_EMAGIC;
        if (buf[4] != PROTO_VERSION)
                return PROTO_EVERSION;
        if (get16(buf + 6) != 0)
                return PROTO_EFLAGS;
        if (!schema_of(buf[5]))
                return PROTO_ETYPE;
        uint32_t len = get32(buf + 12);
        if (len > PROTO_MAX_PAYLOAD)
                return PROTO_ETOOBIG;
        h->version = buf[4];
        h->type = buf[5];
        h->flags = 0;
        h->id = get32(buf + 8);
        h->len = len;
        return PROTO_OK;
}

int proto_payload_decode(const struct proto_hdr *h, const uint8_t *payload, struct proto_msg *m)
{
        const struct schema *s = schema_of(h->type);
        struct proto_msg out;
        uint32_t seen = 0;   /* bit i: fields[i] present; schemas have < 32 fields */
        size_t off = 0;

        if (!s)
                return PROTO_ETYPE;
        if (h->len > PROTO_MAX_PAYLOAD)
                return PROTO_ETOOBIG;
        memset(&out, 0, sizeof(out));
        out.type = h->type;
        out.id = h->id;
        while (off < h->len) {
                if (h->len - off < 6)
                        return PROTO_ETLV;
                uint16_t tag = get16(payload + off);
                uint32_t vlen = get32(payload + off + 2);
                off += 6;
                if (vlen > h->len - off)
                        return PROTO_ETLV;
                const uint8_t *v = payload + off;
                off += vlen;
                size_t i;
                for (i = 0; i < s->n && s->fields[i].tag != tag; i++)
                        ;
                if (i == s->n)
                        return PROTO_ETAG;
                if (seen & (1u << i))
                        return PROTO_EDUP;
                seen |= 1u << i;
                const struct field *f = &s->fields[i];
                uint8_t *dst = (uint8_t *)&out + f->offset;
                switch (f->kind) {
                case K_U32: {
                        if (vlen != 4)
                                return PROTO_EVALUE;
                        uint32_t x = get32(v);
                        memcpy(dst, &x, sizeof(x));
                        break;
                }
                case K_U64: {
                        if (vlen != 8)
                                return PROTO_EVALUE;
                        uint64_t x = get64(v);
                        memcpy(dst, &x, sizeof(x));
                        break;
                }
                case K_STR:
                        /* Room for the NUL we add; no NUL inside. */
                        if (vlen >= f->size || memchr(v, 0, vlen))
                                return PROTO_EVALUE;
                        memcpy(dst, v, vlen);
                        dst[vlen] = 0;
                        break;
                case K_BYTES:
                        if (vlen != f->size)
                                return PROTO_EVALUE;
                        memcpy(dst, v, vlen);
                        break;
                case K_BLOB:
                case K_STRV: {
                        uint32_t count = 0;
                        if (vlen > f->size)
                                return PROTO_EVALUE;
                        if (f->kind == K_STRV) {
                                /* Every string ends in NUL; the list ends with one. */
                                if (vlen > 0 && v[vlen - 1] != 0)
                                        return PROTO_EVALUE;
                                for (uint32_t k = 0; k < vlen; k++)
                                        count += v[k] == 0;
                                if (count > PROTO_STRV_COUNT)
                                        return PROTO_EVALUE;
                                memcpy((uint8_t *)&out + f->count_offset, &count, sizeof(count));
                        }
                        memcpy(dst, v, vlen);
                        memcpy((uint8_t *)&out + f->len_offset, &vlen, sizeof(vlen));
                        break;
                }
                default:
                        return PROTO_EVALUE;
                }
        }
        for (size_t i = 0; i < s->n; i++)
                if (s->fields[i].required && !(seen & (1u << i)))
                        return PROTO_EMISSING;
        *m = out;
        return PROTO_OK;
}

int proto_decode(const uint8_t *buf, size_t len, struct proto_msg *m)
{
        struct proto_hdr h;
        int r;

        if (len < PROTO_HDR_SIZE)
                return PROTO_ETLV;
        if ((r = proto_hdr_decode(buf, &h)) < 0)
                return r;
        if (len - PROTO_HDR_SIZE != h.len)
                return PROTO_ETLV;
        return proto_payload_decode(&h, buf + PROTO_HDR_SIZE, m);
}

long proto_encode(const struct proto_msg *m, uint8_t *buf, size_t cap)
{
        const struct schema *s = schema_of(m->type);
        size_t off = PROTO_HDR_SIZE;

        if (!s)
                return PROTO_ETYPE;
        if (cap < PROTO_HDR_SIZE)
                return PROTO_ETOOBIG;
        for (size_t i = 0; i < s->n; i++) {
                const struct field *f = &s->fields[i];
                const uint8_t *src = (const uint8_t *)m + f->offset;
                uint32_t vlen32;
                size_t vlen;
                switch (f->kind) {
                case K_U32: vlen = 4; break;
                case K_U64: vlen = 8; break;
                case K_STR:
                        vlen = strnlen((const char *)src, f->size);
                        if (vlen == f->size)
                                return PROTO_EVALUE;   /* unterminated */
                        if (vlen == 0 && !f->required)
                                continue;              /* optional and empty: omitted */
                        break;
                case K_BLOB:
                case K_STRV:
                        memcpy(&vlen32, (const uint8_t *)m + f->len_offset, sizeof(vlen32));
                        vlen = vlen32;
                        if (vlen > f->size || (f->kind == K_STRV && vlen > 0 && src[vlen - 1] != 0))
                                return PROTO_EVALUE;
                        if (vlen == 0 && !f->required)
                                continue;
                        break;
                default: vlen = f->size; break;
                }
                if (cap - off < 6 + vlen || off + 6 + vlen - PROTO_HDR_SIZE > PROTO_MAX_PAYLOAD)
                        return PROTO_ETOOBIG;
                put16(buf + off, f->tag);
                put32(buf + off + 2, (uint32_t)vlen);
                off += 6;
                if (f->kind == K_U32) {
                        uint32_t x;
                        memcpy(&x, src, sizeof(x));
                        put32(buf + off, x);
                } else if (f->kind == K_U64) {
                        uint64_t x;
                        memcpy(&x, src, sizeof(x));
                        put64(buf + off, x);
                } else
                        memcpy(buf + off, src, vlen);
                off += vlen;
        }
        put32(buf, PROTO_MAGIC);
        buf[4] = PROTO_VERSION;
        buf[5] = m->type;
        put16(buf + 6, 0);
        put32(buf + 8, m->id);
        put32(buf + 12, (uint32_t)(off - PROTO_HDR_SIZE));
        return (long)off;
}

int proto_strv_add(struct proto_strv *v, const char *s)
{
        size_t n = strlen(s) + 1;
        if (v->count >= PROTO_STRV_COUNT || n > sizeof(v->buf) - v->len)
                return -1;
        memcpy(v->buf + v->len, s, n);
        v->len += (uint32_t)n;
        v->count++;
        return 0;
}

const char *proto_strv_next(const struct proto_strv *v, const char *p)
{
        const char *end = v->buf + v->len;
        if (!p)
                return v->len ? v->buf : NULL;
        p += strnlen(p, (size_t)(end - p)) + 1;
        return p < end ? p : NULL;
}

void proto_strlcpy(char *dst, const char *src, size_t cap)
{
        size_t n = strnlen(src, cap - 1);
        memcpy(dst, src, n);
        dst[n] = 0;
}
