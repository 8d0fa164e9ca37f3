/* monitor-creds.c: the monitor's side of credentials. It delivers each
 * granted credential once the agent is there (CRED_PUT, before the
 * workload starts), rotates it before its TTL ends (a new lease from its
 * source, fetched by a child `mlvm-monitor fetch` so that a slow source
 * never stalls the event loop), records the agent's CRED_EXPIRED, and
 * revokes all of them before the domain is destroyed, waiting a bounded
 * time for the agent's confirmation (monitor-creds-revoke.c). Each step
 * goes into the audit log with name, lease id and fingerprint; values live
 * only in the messages waiting for the agent's DONE and are wiped then.
 * See monitor-creds.h. */
#include "mlvm-build.h"

#include <openssl/crypto.h>

#include "audit.h"
#include "creds.h"
#include "monitor-creds.h"
#include "monitor-handlers.h"
#include "run.h"
#include "util.h"

#define RETRY_MAX (30 * USEC_PER_SEC)

static const char *const cstate_name[] = { "pending", "live", "expired", "revoked" };

static struct mcred *creds;
static size_t n_creds;

size_t monitor_creds_count(void)
{
        return n_creds;
}

struct mcred *monitor_cred(size_t i)
{
        return &creds[i];
}

void monitor_creds_audit(const char *event, const struct mcred *m, const char *lease, const char *fp,
                         json_object *more)
{
        struct mlvm_err e = { 0 };
        json_object *f = json_object_new_object();
        json_object_object_add(f, "run", json_object_new_string(monitor_run_id()));
        json_object_object_add(f, "name", json_object_new_string(monitor_name()));
        json_object_object_add(f, "secret", json_object_new_string(m->c.name));
        json_object_object_add(f, "source", json_object_new_string(cred_kind(&m->c)));
        if (lease)
                json_object_object_add(f, "lease", json_object_new_string(lease));
        if (fp)
                json_object_object_add(f, "fingerprint", json_object_new_string(fp));
        if (more) {
                json_object_object_foreach(more, k, v) json_object_object_add(f, k, json_object_get(v));
        }
        if (audit_append(monitor_state_dir(), event, f, &e) < 0)
                monitor_log("audit %s: %s", event, e.msg);
        json_object_put(f);
        json_object_put(more);
}

static void save_one(json_object *run, void *u)
{
        json_object *a = json_object_new_array();
        for (size_t i = 0; i < n_creds; i++) {
                const struct mcred *m = &creds[i];
                json_object *o = cred_grant_json(&m->c);
                json_object_object_add(o, "state", json_object_new_string(cstate_name[m->state]));
                if (m->c.lease[0]) {
                        json_object_object_add(o, "lease", json_object_new_string(m->c.lease));
                        json_object_object_add(o, "fingerprint", json_object_new_string(m->c.fingerprint));
                }
                if (m->prev_lease[0])
                        json_object_object_add(o, "previous_lease", json_object_new_string(m->prev_lease));
                if (m->delivered_at > 0) {
                        json_object_object_add(o, "delivered_at", json_object_new_double(m->delivered_at));
                        json_object_object_add(o, "expires_at", json_object_new_double(m->expires_at));
                }
                json_object_object_add(o, "rotations", json_object_new_int((int)m->rotations));
                if (m->leases)
                        json_object_object_add(o, "leases", json_object_get(m->leases));
                json_object_array_add(a, o);
        }
        json_object_object_add(run, "creds", a);
}

void monitor_creds_save(void)
{
        struct mlvm_err e = { 0 };
        if (n_creds && run_update(monitor_state_dir(), monitor_run_id(), save_one, NULL, &e) < 0)
                monitor_log("run record: %s", e.msg);
}

void monitor_creds_free_msg(struct mcred *m)
{
        if (m->msg) {
                OPENSSL_cleanse(m->msg, sizeof(*m->msg));
                free(m->msg);
        }
        m->msg = NULL;
        m->put_id = 0;
        m->put_queued = false;
}

/* Fill (or refill, in place) the CRED_PUT of a lease; NULL when the value
 * does not fit one frame. */
static struct proto_msg *put_msg_into(struct proto_msg *msg, const struct mcred *m, const char *lease,
                                      const uint8_t *value, size_t len)
{
        if (len == 0 || len > PROTO_VALUE_MAX)
                return NULL;
        uint32_t id = msg->id;
        OPENSSL_cleanse(msg, sizeof(*msg));
        msg->id = id;
        msg->type = PROTO_CRED_PUT;
        proto_strlcpy(msg->u.cred.name, m->c.name, sizeof(msg->u.cred.name));
        proto_strlcpy(msg->u.cred.lease, lease, sizeof(msg->u.cred.lease));
        msg->u.cred.ttl_ms = m->c.ttl_s * 1000;
        memcpy(msg->u.cred.value, value, len);
        msg->u.cred.len = (uint32_t)len;
        return msg;
}

static struct proto_msg *put_msg(const struct mcred *m, const char *lease, const uint8_t *value, size_t len)
{
        struct proto_msg *msg = xcalloc(1, sizeof(*msg));
        if (!put_msg_into(msg, m, lease, value, len)) {
                free(msg);
                return NULL;
        }
        return msg;
}

static void on_timer(int timer, void *opaque);

/* The grants from the run record, the first leases from FD (the
 * hand-over from up; -1 when the run has none). */
static int read_grants(int fd, struct mlvm_err *e)
{
        json_object *a;
        if (!json_object_object_get_ex(monitor_record(), "creds", &a) || json_object_array_length(a) == 0)
                return 0;
        n_creds = json_object_array_length(a);
        creds = xcalloc(n_creds, sizeof(*creds));
        struct cred *tmp = xcalloc(n_creds, sizeof(*tmp));
        int r = 0;
        for (size_t i = 0; i < n_creds && r == 0; i++)
                r = cred_grant_parse(json_object_array_get_idx(a, i), &tmp[i], e);
        if (r == 0 && fd < 0)
                r = err_setx(e, -EINVAL, "the run has credentials but no hand-over from mlvm up");
        if (r == 0)
                r = creds_read(fd, tmp, n_creds, e);
        for (size_t i = 0; i < n_creds; i++) {
                struct mcred *m = &creds[i];
                m->c = tmp[i];
                m->fetch = (struct monitor_fetch)MONITOR_FETCH_INIT;
                m->timer = virEventAddTimeout(-1, on_timer, m, NULL);
                if (r == 0) {
                        /* The first lease travels in the request queue. */
                        m->msg = put_msg(m, m->c.lease, m->c.value, m->c.len);
                        if (!m->msg)
                                r = err_setx(e, -EFBIG, "credential %s: %zu bytes do not fit one frame", m->c.name,
                                             m->c.len);
                        memcpy(m->next_lease, m->c.lease, sizeof(m->next_lease));
                        memcpy(m->next_fp, m->c.fingerprint, sizeof(m->next_fp));
                        m->c.lease[0] = '\0';
                }
                cred_clear_value(&m->c);
        }
        free(tmp);
        if (fd >= 0)
                close(fd);
        return r;
}

/* A JWT is minted again right before its first delivery, so that its exp
 * counts from delivery like the guest's TTL (up minted one to check the
 * source long before the guest booted). */
static void put_before_send(struct proto_msg *msg, void *opaque)
{
        struct mlvm_err e = { 0 };
        struct mcred *m = opaque;
        if (m->msg != msg || !streq(cred_kind(&m->c), "jwt"))
                return;
        struct cred_ctx x = { .state_dir = monitor_state_dir(), .run_id = monitor_run_id(), .model = monitor_name(),
                              .config_dir = "/" };
        if (cred_fetch(&x, &m->c, &e) < 0) {
                monitor_log("credential %s: minting again failed, the first token goes: %s", m->c.name, e.msg);
                return;
        }
        if (put_msg_into(msg, m, m->c.lease, m->c.value, m->c.len)) {
                memcpy(m->next_lease, m->c.lease, sizeof(m->next_lease));
                memcpy(m->next_fp, m->c.fingerprint, sizeof(m->next_fp));
        }
        m->c.lease[0] = '\0';
        cred_clear_value(&m->c);
}

static void put_sent(const struct proto_msg *msg, void *opaque)
{
        struct mcred *m = opaque;
        if (m->msg == msg) {
                m->put_id = msg->id;
                m->put_sent = now_usec();
        }
}

static bool on_done_id(uint32_t id, uint32_t count);

static void put_done(uint32_t id, uint32_t count, void *opaque)
{
        (void)on_done_id(id, count);
}

/* The first lease of each travels in the request queue, before the
 * workload starts. */
static const struct monitor_request_ops put_ops = {
        .before_send = put_before_send,
        .sent = put_sent,
        .done = put_done,
};

static int creds_init(const struct monitor_start *s, struct mlvm_err *e)
{
        monitor_creds_revoke_init();
        int r = read_grants(s->creds_fd, e);
        for (size_t i = 0; i < n_creds && r == 0; i++) {
                creds[i].put_queued = true;
                if (monitor_queue(creds[i].msg, &put_ops, &creds[i]) < 0)
                        r = err_setx(e, -E2BIG, "too many credentials");
        }
        return r;
}

/* A control client went away: its pending rotations answer nobody. */
static void creds_client_gone(struct monitor_client *c)
{
        for (size_t i = 0; i < n_creds; i++)
                if (creds[i].waiter == c)
                        creds[i].waiter = NULL;
        monitor_creds_rotate_client_gone(c);
}

static void arm(struct mcred *m, usec_t in)
{
        virEventUpdateTimeout(m->timer, monitor_timer_ms(in, 1));
}

static double ms_since(usec_t t)
{
        return (double)(now_usec() - t) / USEC_PER_MSEC;
}

/* The rotation of M is over: the client that asked for it hears how. */
void monitor_creds_finish_waiter(struct mcred *m, bool ok, const char *why)
{
        if (m->waiter) {
                json_object *r = json_object_new_object();
                json_object_object_add(r, "name", json_object_new_string(m->c.name));
                json_object_object_add(r, "ok", json_object_new_boolean(ok));
                if (ok) {
                        json_object_object_add(r, "lease", json_object_new_string(m->c.lease));
                        json_object_object_add(r, "previous_lease", json_object_new_string(m->prev_lease));
                        json_object_object_add(r, "fingerprint", json_object_new_string(m->c.fingerprint));
                        json_object_object_add(r, "rtt_ms", json_object_new_double(ms_since(m->put_sent)));
                } else
                        json_object_object_add(r, "error", json_object_new_string(why));
                monitor_creds_rotated(m->waiter, r);
        }
        m->waiter = NULL;
}

/* The agent confirmed a CRED_PUT. */
static void on_put_done(struct mcred *m)
{
        bool first = m->put_queued;
        double rtt_ms = ms_since(m->put_sent);

        if (m->c.lease[0] && !streq(m->c.lease, m->next_lease))
                memcpy(m->prev_lease, m->c.lease, sizeof(m->prev_lease));
        memcpy(m->c.lease, m->next_lease, sizeof(m->c.lease));
        memcpy(m->c.fingerprint, m->next_fp, sizeof(m->c.fingerprint));
        monitor_creds_free_msg(m);
        if (!m->leases)
                m->leases = json_object_new_array();
        if (json_object_array_length(m->leases) < LEASES_KEPT)
                json_object_array_add(m->leases, json_object_new_string(m->c.lease));
        m->state = C_LIVE;
        m->delivered_at = run_now();
        m->expires_at = m->delivered_at + (double)m->c.ttl_s;
        m->expires = now_usec() + usec_from_sec(m->c.ttl_s);
        json_object *more = json_object_new_object();
        json_object_object_add(more, "ttl_s", json_object_new_uint64(m->c.ttl_s));
        json_object_object_add(more, "rtt_ms", json_object_new_double(rtt_ms));
        if (first) {
                monitor_log("credential %s delivered (lease %s, ttl %llu s, %.1f ms)", m->c.name, m->c.lease,
                            (unsigned long long)m->c.ttl_s, rtt_ms);
                monitor_creds_audit("cred.put", m, m->c.lease, m->c.fingerprint, more);
        } else {
                m->rotations++;
                monitor_log("credential %s rotated (lease %s -> %s, %.1f ms)", m->c.name, m->prev_lease, m->c.lease,
                            rtt_ms);
                json_object_object_add(more, "previous_lease", json_object_new_string(m->prev_lease));
                monitor_creds_audit("cred.rotate", m, m->c.lease, m->c.fingerprint, more);
        }
        /* Renew when two thirds of the TTL have passed. */
        if (m->c.rotate)
                arm(m, usec_from_sec(m->c.ttl_s) * 2 / 3);
        else
                virEventUpdateTimeout(m->timer, -1);
        monitor_creds_save();
        monitor_creds_finish_waiter(m, true, NULL);
}

/* A DONE from the agent: true when it was for a credential request. */
static bool on_done_id(uint32_t id, uint32_t count)
{
        if (id == 0)
                return false;
        if (monitor_creds_revoke_done(id, count))
                return true;
        for (size_t i = 0; i < n_creds; i++)
                if (creds[i].msg && creds[i].put_id && creds[i].put_id == id) {
                        on_put_done(&creds[i]);
                        return true;
                }
        return false;
}

/* A guest that reports expiries of credentials it never had is noise:
 * logged a few times, then ignored. */
static bool log_noise(void)
{
        static unsigned n;
        return ++n <= 5;
}

static void on_expired(const struct proto_msg *msg)
{
        for (size_t i = 0; i < n_creds; i++) {
                struct mcred *m = &creds[i];
                if (!streq(m->c.name, msg->u.cred.name))
                        continue;
                if (m->state != C_LIVE || !streq(m->c.lease, msg->u.cred.lease)) {
                        _cleanup_free_ char *l = monitor_ascii(msg->u.cred.lease);
                        if (log_noise())
                                monitor_log("ignoring the expiry of %s lease %s: not its live lease", m->c.name, l);
                        return;
                }
                m->state = C_EXPIRED;
                virEventUpdateTimeout(m->timer, -1);
                monitor_log("credential %s expired in the guest (lease %s)", m->c.name, m->c.lease);
                json_object *more = json_object_new_object();
                json_object_object_add(more, "ttl_s", json_object_new_uint64(m->c.ttl_s));
                monitor_creds_audit("cred.expire", m, m->c.lease, m->c.fingerprint, more);
                monitor_creds_save();
                return;
        }
        _cleanup_free_ char *n = monitor_ascii(msg->u.cred.name);
        if (log_noise())
                monitor_log("ignoring the expiry of %s: no such credential", n);
}

/* ---- rotation ----------------------------------------------------------- */

static void rotation_failed(struct mcred *m, const char *why)
{
        monitor_log("credential %s: rotation failed: %s", m->c.name, why);
        json_object *more = json_object_new_object();
        json_object_object_add(more, "reason", json_object_new_string(why));
        monitor_creds_audit("cred.rotate-failed", m, m->c.lease[0] ? m->c.lease : NULL, NULL, more);
        monitor_creds_finish_waiter(m, false, why);
        /* Try again while the lease lives; the agent removes it when it ends. */
        usec_t now = now_usec();
        if (m->state == C_LIVE && m->c.rotate && m->expires > now + 2 * USEC_PER_SEC) {
                usec_t left = m->expires - now;
                arm(m, left / 3 < RETRY_MAX ? left / 3 : RETRY_MAX);
        }
}

static void send_put(struct mcred *m)
{
        struct mlvm_err e = { 0 };
        m->msg->id = m->put_id = monitor_next_id();
        m->put_sent = now_usec();
        if (!monitor_agent_up())
                return;   /* sent again after the agent's re-HELLO */
        if (monitor_send(m->msg, &e) < 0)
                monitor_log("CRED_PUT %s: %s (sent again when the agent is back)", m->c.name, e.msg);
}

/* The fetch of M's next lease ended: the new lease goes to the agent. */
static void on_fetched(const char *buf, size_t len, const char *why, void *opaque)
{
        struct mlvm_err e = { 0 };
        struct mcred *m = opaque;
        struct cred tmp = { .name = m->c.name };

        if (why) {
                rotation_failed(m, why);
                return;
        }
        if (creds_parse(buf, len, &tmp, 1, &e) < 0) {
                cred_clear_value(&tmp);
                rotation_failed(m, e.msg);
                return;
        }
        if (monitor_ending() || m->state == C_REVOKED) {
                cred_clear_value(&tmp);
                return;
        }
        monitor_creds_free_msg(m);
        m->msg = put_msg(m, tmp.lease, tmp.value, tmp.len);
        if (!m->msg) {
                cred_clear_value(&tmp);
                rotation_failed(m, "the new value does not fit one frame");
                return;
        }
        memcpy(m->next_lease, tmp.lease, sizeof(m->next_lease));
        memcpy(m->next_fp, tmp.fingerprint, sizeof(m->next_fp));
        cred_clear_value(&tmp);
        send_put(m);
}

static int start_fetch(struct mcred *m, struct mlvm_err *e)
{
        if (monitor_fetch_busy(&m->fetch) || m->msg)
                return err_setx(e, -EBUSY, "a rotation of %s is already under way", m->c.name);
        return monitor_fetch_start(&m->fetch, m->c.name, on_fetched, m, e);
}

static void on_timer(int timer, void *opaque)
{
        struct mlvm_err e = { 0 };
        struct mcred *m = opaque;
        virEventUpdateTimeout(timer, -1);
        if (monitor_ending() || m->state != C_LIVE)
                return;
        if (start_fetch(m, &e) < 0)
                rotation_failed(m, e.msg);
}

int monitor_creds_rotate(struct monitor_client *c, const char *name, struct mlvm_err *e)
{
        size_t started = 0;
        if (!monitor_ready())
                return err_setx(e, -EAGAIN, "the run is not ready yet");
        if (monitor_ending())
                return err_setx(e, -ESHUTDOWN, "the run is ending");
        for (size_t i = 0; i < n_creds; i++) {
                struct mcred *m = &creds[i];
                if (name && !streq(name, m->c.name))
                        continue;
                if (m->state == C_REVOKED)
                        continue;
                if (start_fetch(m, e) < 0)
                        return started ? (int)started : -EBUSY;
                m->waiter = c;
                started++;
        }
        if (!started)
                return err_setx(e, -ENOENT, name ? "the run has no credential %s" : "the run has no credentials%s",
                                name ? name : "");
        return (int)started;
}

/* After a re-HELLO: what was on its way is sent again (puts replace). */
static void creds_resend(void)
{
        struct mlvm_err e = { 0 };
        for (size_t i = 0; i < n_creds; i++)
                if (creds[i].msg && !creds[i].put_queued && monitor_send(creds[i].msg, &e) < 0)
                        monitor_log("CRED_PUT %s: %s", creds[i].c.name, e.msg);
        monitor_creds_revoke_resend();
}

static void creds_on_frame(const struct proto_msg *m)
{
        if (m->type == PROTO_DONE)
                (void)on_done_id(m->id, m->u.done.count);
        else if (m->type == PROTO_CRED_EXPIRED)
                on_expired(m);
}

const struct monitor_handler monitor_creds_handler = {
        .name = "creds",
        .frames = (const uint8_t[]){ PROTO_DONE, PROTO_CRED_EXPIRED, 0 },
        .on_frame = creds_on_frame,
        .commands = monitor_creds_commands,
        .init = creds_init,
        .resumed = creds_resend,
        .drain = monitor_creds_drain,
        .client_gone = creds_client_gone,
        .stop = monitor_creds_stop,
};
