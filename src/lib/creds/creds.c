/* creds.c: credential sources, leases and the in-memory hand-over; see
 * creds.h. */
#include "mlvm-build.h"

#include <time.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "creds.h"
#include "jwt.h"
#include "keys.h"
#include "run.h"
#include "spawn.h"
#include "util.h"

const char *cred_kind(const struct cred *c)
{
        return strstartswith(c->from, "store:") ? "store" : strstartswith(c->from, "exec:") ? "exec" : "jwt";
}

void cred_clear_value(struct cred *c)
{
        if (c->value) {
                OPENSSL_cleanse(c->value, c->len);
                free(c->value);
        }
        c->value = NULL;
        c->len = 0;
}

void cred_free(struct cred *c)
{
        cred_clear_value(c);
        free(c->name);
        free(c->from);
        for (size_t i = 0; i < c->n_scope; i++)
                free(c->scope[i]);
        free(c->scope);
        memset(c, 0, sizeof(*c));
}

static int new_lease(char ret[CRED_LEASE_LEN + 1])
{
        uint8_t raw[CRED_LEASE_LEN / 2];
        if (RAND_bytes(raw, sizeof(raw)) != 1)
                return -EIO;
        for (size_t i = 0; i < sizeof(raw); i++)
                snprintf(ret + 2 * i, 3, "%02x", raw[i]);
        return 0;
}

static int fetch_exec(const struct cred_ctx *x, const struct cred *c, uint8_t **ret, size_t *ret_len, struct mlvm_err *e)
{
        char *argv[] = { (char *)"/bin/sh", (char *)"-c", c->from + 5, NULL };
        _cleanup_free_ char *run = xasprintf("MLVM_RUN_ID=%s", x->run_id);
        _cleanup_free_ char *model = xasprintf("MLVM_MODEL=%s", x->model);
        _cleanup_free_ char *secret = xasprintf("MLVM_SECRET=%s", c->name);
        char *env[] = { run, model, secret, NULL };
        struct spawn_opts o = { .argv = argv, .cwd = x->config_dir, .env_add = env, .max_out = SECRET_VALUE_MAX,
                                .timeout_ms = CRED_EXEC_TIMEOUT_S * 1000,
                                .stderr_mode = x->exec_stderr_inherit ? SPAWN_STDERR_INHERIT : SPAWN_STDERR_DISCARD };
        char *out = NULL;
        size_t len = 0;
        struct mlvm_err why = { 0 };

        if (spawn_run(&o, &out, &len, &why) < 0) {
                /* spawn's message starts with "/bin/sh": say which source instead. */
                const char *m = strstartswith(why.msg, "/bin/sh") ? why.msg + 7 : why.msg;
                while (*m == ':' || *m == ' ')
                        m++;
                return err_setx(e, why.code ? why.code : -EIO, "the command failed: %s", m);
        }
        while (len && (out[len - 1] == '\n' || out[len - 1] == '\r'))
                out[--len] = '\0';
        if (len == 0) {
                free(out);
                return err_setx(e, -ENODATA, "the command printed nothing");
        }
        *ret = (uint8_t *)out;
        *ret_len = len;
        return 0;
}

static int fetch_jwt(const struct cred_ctx *x, const struct cred *c, const char *lease, uint8_t **ret, size_t *ret_len,
                     struct mlvm_err *e)
{
        _cleanup_pkey_ EVP_PKEY *key = NULL;
        char kid[KEY_ID_LEN + 1];
        char *tok = NULL;
        int r;

        if ((r = key_load_private(x->state_dir, KEY_HOST, true, &key, e)) < 0)
                return r;
        if (key_id(key, kid) < 0)
                return err_setx(e, -EIO, "host key id");
        struct jwt_claims cl = { .run_id = x->run_id, .model = x->model, .lease = lease,
                                 .scope = (const char *const *)c->scope, .n_scope = c->n_scope,
                                 .iat = (int64_t)time(NULL), .ttl_s = c->ttl_s };
        if ((r = jwt_mint(key, kid, &cl, &tok, e)) < 0)
                return r;
        *ret = (uint8_t *)tok;
        *ret_len = strlen(tok);
        return 0;
}

int cred_fetch(const struct cred_ctx *x, struct cred *c, struct mlvm_err *e)
{
        char lease[CRED_LEASE_LEN + 1], fp[SECRET_FP_LEN + 1];
        uint8_t *v = NULL;
        size_t len = 0;
        int r;

        if (new_lease(lease) < 0)
                return err_setx(e, -EIO, "secret %s: no random bytes for a lease id", c->name);
        if (strstartswith(c->from, "store:"))
                r = secret_get(x->state_dir, c->from + 6, &v, &len, NULL, e);
        else if (strstartswith(c->from, "exec:"))
                r = fetch_exec(x, c, &v, &len, e);
        else if (streq(c->from, "jwt"))
                r = fetch_jwt(x, c, lease, &v, &len, e);
        else
                r = err_setx(e, -EINVAL, "unknown source");
        if (r == 0 && len > SECRET_VALUE_MAX)
                r = err_setx(e, -EFBIG, "%zu bytes, more than %d", len, SECRET_VALUE_MAX);
        if (r == 0)
                r = secret_fingerprint(x->state_dir, v, len, fp, e);
        if (r < 0) {
                if (v) {
                        OPENSSL_cleanse(v, len);
                        free(v);
                }
                return err_prefix(e, "secret %s (from %s%s)", c->name, cred_kind(c),
                                  streq(cred_kind(c), "store") ? c->from + 5 : "");
        }
        cred_clear_value(c);
        c->value = v;
        c->len = len;
        memcpy(c->lease, lease, sizeof(lease));
        memcpy(c->fingerprint, fp, sizeof(fp));
        return 0;
}

json_object *cred_grant_json(const struct cred *c)
{
        json_object *o = json_object_new_object();
        json_object_object_add(o, "name", json_object_new_string(c->name));
        json_object_object_add(o, "from", json_object_new_string(c->from));
        json_object_object_add(o, "ttl_s", json_object_new_uint64(c->ttl_s));
        json_object_object_add(o, "rotate", json_object_new_boolean(c->rotate));
        if (c->n_scope) {
                json_object *a = json_object_new_array();
                for (size_t i = 0; i < c->n_scope; i++)
                        json_object_array_add(a, json_object_new_string(c->scope[i]));
                json_object_object_add(o, "scope", a);
        }
        return o;
}

static const char *jget_str(json_object *o, const char *k)
{
        json_object *v;
        return json_object_object_get_ex(o, k, &v) && json_object_is_type(v, json_type_string)
                       ? json_object_get_string(v) : NULL;
}

int cred_grant_parse(json_object *o, struct cred *c, struct mlvm_err *e)
{
        json_object *v;
        const char *name = jget_str(o, "name"), *from = jget_str(o, "from");
        if (!name || !from || !json_object_object_get_ex(o, "ttl_s", &v))
                return err_setx(e, -EINVAL, "run record: a credential grant without name, from or ttl_s");
        memset(c, 0, sizeof(*c));
        c->name = xstrdup(name);
        c->from = xstrdup(from);
        c->ttl_s = (uint64_t)json_object_get_int64(v);
        c->rotate = !json_object_object_get_ex(o, "rotate", &v) || json_object_get_boolean(v);
        if (json_object_object_get_ex(o, "scope", &v) && json_object_is_type(v, json_type_array)) {
                c->n_scope = json_object_array_length(v);
                c->scope = xcalloc(c->n_scope + 1, sizeof(char *));
                for (size_t i = 0; i < c->n_scope; i++)
                        c->scope[i] = xstrdup(json_object_get_string(json_object_array_get_idx(v, i)) ?: "");
        }
        return 0;
}

/* The hand-over is binary, so that no parser keeps copies of the values
 * in buffers of its own that nobody wipes:
 *   "MLVMCRED1\n", u32 count, then per lease: u16 name length, name,
 *   32 bytes lease id, 44 bytes fingerprint, u32 value length, value;
 * or "MLVMERR1\n", u32 length, a message. Integers big-endian. */
#define HAND_MAGIC "MLVMCRED1\n"
#define HAND_ERR "MLVMERR1\n"

struct obuf {
        uint8_t *p;
        size_t len, cap;
};

static void ob_put(struct obuf *b, const void *data, size_t len)
{
        if (b->len + len > b->cap) {
                size_t cap = (b->len + len) * 2;
                uint8_t *bigger = xmalloc(cap);
                if (b->p) {
                        memcpy(bigger, b->p, b->len);
                        OPENSSL_cleanse(b->p, b->cap);
                        free(b->p);
                }
                b->p = bigger;
                b->cap = cap;
        }
        memcpy(b->p + b->len, data, len);
        b->len += len;
}

static void ob_u32(struct obuf *b, uint32_t v)
{
        uint8_t x[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v };
        ob_put(b, x, 4);
}

int creds_write(int fd, struct cred *c, size_t n, struct mlvm_err *e)
{
        struct obuf b = { 0 };
        ob_put(&b, HAND_MAGIC, strlen(HAND_MAGIC));
        ob_u32(&b, (uint32_t)n);
        for (size_t i = 0; i < n; i++) {
                size_t nl = strlen(c[i].name);
                uint8_t x[2] = { (uint8_t)(nl >> 8), (uint8_t)nl };
                ob_put(&b, x, 2);
                ob_put(&b, c[i].name, nl);
                ob_put(&b, c[i].lease, CRED_LEASE_LEN);
                ob_put(&b, c[i].fingerprint, SECRET_FP_LEN);
                ob_u32(&b, (uint32_t)c[i].len);
                ob_put(&b, c[i].value, c[i].len);
        }
        int r = write_full(fd, b.p, b.len);
        if (r < 0)
                r = err_set(e, r, "hand-over of the credentials");
        OPENSSL_cleanse(b.p, b.cap);
        free(b.p);
        return r;
}

static void write_error(int fd, const char *msg)
{
        struct obuf b = { 0 };
        ob_put(&b, HAND_ERR, strlen(HAND_ERR));
        ob_u32(&b, (uint32_t)strlen(msg));
        ob_put(&b, msg, strlen(msg));
        (void)write_full(fd, b.p, b.len);
        free(b.p);
}

struct ibuf {
        const uint8_t *p;
        size_t len, off;
};

static const uint8_t *ib_take(struct ibuf *b, size_t n)
{
        if (b->len - b->off < n)
                return NULL;
        b->off += n;
        return b->p + b->off - n;
}

static bool ib_u32(struct ibuf *b, uint32_t *v)
{
        const uint8_t *x = ib_take(b, 4);
        if (!x)
                return false;
        *v = (uint32_t)x[0] << 24 | (uint32_t)x[1] << 16 | (uint32_t)x[2] << 8 | x[3];
        return true;
}

int creds_parse(const char *buf, size_t len, struct cred *c, size_t n, struct mlvm_err *e)
{
        struct ibuf b = { (const uint8_t *)buf, len, 0 };
        uint32_t count, l;

        if (len >= strlen(HAND_ERR) && memcmp(buf, HAND_ERR, strlen(HAND_ERR)) == 0) {
                b.off = strlen(HAND_ERR);
                const uint8_t *m;
                if (!ib_u32(&b, &l) || l > 4096 || !(m = ib_take(&b, l)))
                        return err_setx(e, -EBADMSG, "credential hand-over: a malformed error");
                _cleanup_free_ char *msg = xstrndup((const char *)m, l);
                return err_setx(e, -EIO, "%s", msg);
        }
        if (!ib_take(&b, strlen(HAND_MAGIC)) || memcmp(buf, HAND_MAGIC, strlen(HAND_MAGIC)) != 0 || !ib_u32(&b, &count) ||
            count > 4096)
                return err_setx(e, -EBADMSG, "credential hand-over: not one");
        for (uint32_t k = 0; k < count; k++) {
                const uint8_t *x = ib_take(&b, 2), *name, *lease, *fp, *v;
                size_t nl = x ? (size_t)x[0] << 8 | x[1] : 0;
                if (!x || !(name = ib_take(&b, nl)) || !(lease = ib_take(&b, CRED_LEASE_LEN)) ||
                    !(fp = ib_take(&b, SECRET_FP_LEN)) || !ib_u32(&b, &l) || l == 0 || l > SECRET_VALUE_MAX ||
                    !(v = ib_take(&b, l)))
                        return err_setx(e, -EBADMSG, "credential hand-over: entry %u is malformed", k);
                for (size_t i = 0; i < n; i++) {
                        if (strlen(c[i].name) != nl || memcmp(c[i].name, name, nl) != 0)
                                continue;
                        cred_clear_value(&c[i]);
                        c[i].value = xmalloc(l);
                        memcpy(c[i].value, v, l);
                        c[i].len = l;
                        memcpy(c[i].lease, lease, CRED_LEASE_LEN);
                        c[i].lease[CRED_LEASE_LEN] = '\0';
                        memcpy(c[i].fingerprint, fp, SECRET_FP_LEN);
                        c[i].fingerprint[SECRET_FP_LEN] = '\0';
                }
        }
        if (b.off != b.len)
                return err_setx(e, -EBADMSG, "credential hand-over: trailing bytes");
        for (size_t i = 0; i < n; i++)
                if (!c[i].value)
                        return err_setx(e, -EBADMSG, "credential hand-over: %s is missing", c[i].name);
        return 0;
}

int creds_read(int fd, struct cred *c, size_t n, struct mlvm_err *e)
{
        size_t cap = 65536, len = 0;
        char *buf = xmalloc(cap + 1);
        int r = 0;
        for (;;) {
                if (len == cap) {
                        if (cap >= CRED_HANDOVER_MAX) {
                                r = err_setx(e, -EFBIG, "credential hand-over larger than %u bytes", CRED_HANDOVER_MAX);
                                break;
                        }
                        /* Grow by copying, so no old buffer with values is left unwiped. */
                        char *bigger = xmalloc(cap * 2 + 1);
                        memcpy(bigger, buf, len);
                        OPENSSL_cleanse(buf, len);
                        free(buf);
                        buf = bigger;
                        cap *= 2;
                }
                ssize_t got = read(fd, buf + len, cap - len);
                if (got < 0 && errno == EINTR)
                        continue;
                if (got < 0) {
                        r = err_set(e, -errno, "credential hand-over");
                        break;
                }
                if (got == 0)
                        break;
                len += (size_t)got;
        }
        if (r == 0)
                r = creds_parse(buf, len, c, n, e);
        OPENSSL_cleanse(buf, len);
        free(buf);
        return r;
}

int creds_fetch_for_run(const char *state_dir, const char *run_id, const char *name, int out_fd)
{
        struct mlvm_err e = { 0 };
        json_object *run = NULL, *a;
        struct cred c = { 0 };
        int r = -ENOENT;

        if (run_load(state_dir, run_id, &run, &e) < 0) {
                write_error(out_fd, e.msg);
                return -EIO;
        }
        if (json_object_object_get_ex(run, "creds", &a))
                for (size_t i = 0; i < json_object_array_length(a) && r == -ENOENT; i++) {
                        json_object *o = json_object_array_get_idx(a, i);
                        const char *n = jget_str(o, "name");
                        if (n && streq(n, name))
                                r = cred_grant_parse(o, &c, &e);
                }
        if (r == -ENOENT)
                err_setx(&e, r, "run %s has no credential %s", run_id, name);
        if (r == 0) {
                const char *dir = jget_str(run, "config_dir") ?: "/";
                struct cred_ctx x = { .state_dir = state_dir, .run_id = run_id, .model = jget_str(run, "name") ?: "",
                                      .config_dir = dir };
                r = cred_fetch(&x, &c, &e);
                if (r == 0)
                        r = creds_write(out_fd, &c, 1, &e);
        }
        if (r < 0)
                write_error(out_fd, e.msg);
        cred_free(&c);
        json_object_put(run);
        return r;
}
