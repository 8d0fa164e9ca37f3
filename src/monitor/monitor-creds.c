/* monitor-creds.c: the monitor's side of credentials. It delivers each
 * granted credential once the agent is there (CRED_PUT, before the
 * workload starts), rotates it before its TTL ends (a new lease from its
 * source, fetched by a child `mlvm-monitor fetch` so that a slow source
 * never stalls the event loop), records the agent's CRED_EXPIRED, and
 * revokes all of them before the domain is destroyed, waiting a bounded
 * time for the agent's confirmation. Each step goes into the audit log
 * with name, lease id and fingerprint; values live only in the messages
 * waiting for the agent's DONE and are wiped then. */
#include "mlvm-build.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <openssl/crypto.h>

#include "audit.h"
#include "creds.h"
#include "monitor-handlers.h"
#include "run.h"
#include "util.h"

#define FETCH_TIMEOUT ((CRED_EXEC_TIMEOUT_S + 15) * USEC_PER_SEC)
#define FETCH_OUT_MAX (256 * 1024)
#define RETRY_MAX (30 * USEC_PER_SEC)

enum cstate { C_PENDING, C_LIVE, C_EXPIRED, C_REVOKED };
static const char *const cstate_name[] = { "pending", "live", "expired", "revoked" };

struct mcred {
        struct cred c;               /* the grant; lease and fingerprint of the current lease */
        enum cstate state;
        double delivered_at, expires_at;   /* wall clock, for the record */
        usec_t expires;                    /* the same end on CLOCK_MONOTONIC, to plan by */
        unsigned rotations;
        char prev_lease[CRED_LEASE_LEN + 1];
        int timer;                   /* rotation (or retry) */
        /* A lease on its way to the agent. */
        struct proto_msg *msg;       /* holds the value until DONE */
        uint32_t put_id;
        bool put_queued;             /* sent by the request queue (the first lease) */
        usec_t put_sent;
        char next_lease[CRED_LEASE_LEN + 1], next_fp[SECRET_FP_LEN + 1];
        /* A fetch in progress. */
        pid_t fetch_pid;
        int fetch_fd, fetch_watch, fetch_timer;
        char *fetch_buf;
        size_t fetch_len;
        /* A control client waiting for this rotation. */
        struct monitor_client *waiter;
        /* Every lease delivered, for the provenance (the first LEASES_KEPT). */
        json_object *leases;
};

#define LEASES_KEPT 1024

static struct mcred *creds;
static size_t n_creds;
static uint32_t revoke_id;
static int revoke_timer = -1;
static usec_t revoke_timeout;
static bool draining;                /* monitor_drained() is owed once the revocation is confirmed */

/* A control client's rotation request: one reply once all are done. */
struct waiter {
        struct monitor_client *c;    /* NULL: free */
        int rotations;               /* still under way */
        json_object *rotated;        /* their results so far */
};
static struct waiter waiters[MONITOR_CLIENTS_MAX];

static void audit_cred(const char *event, const struct mcred *m, const char *lease, const char *fp, json_object *more)
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

static void save(void)
{
        struct mlvm_err e = { 0 };
        if (n_creds && run_update(monitor_state_dir(), monitor_run_id(), save_one, NULL, &e) < 0)
                monitor_log("run record: %s", e.msg);
}

static void free_msg(struct mcred *m)
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
                m->fetch_fd = -1;
                m->fetch_watch = m->fetch_timer = -1;
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
        revoke_timeout = monitor_record_usec("revoke_timeout_ms", USEC_PER_MSEC, 2000 * USEC_PER_MSEC);
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
        for (size_t i = 0; i < MONITOR_CLIENTS_MAX; i++)
                if (waiters[i].c == c) {
                        json_object_put(waiters[i].rotated);
                        waiters[i] = (struct waiter){ 0 };
                }
}

static void arm(struct mcred *m, usec_t in)
{
        virEventUpdateTimeout(m->timer, monitor_timer_ms(in, 1));
}

static double ms_since(usec_t t)
{
        return (double)(now_usec() - t) / USEC_PER_MSEC;
}

static struct waiter *waiter_of(struct monitor_client *c)
{
        for (size_t i = 0; i < MONITOR_CLIENTS_MAX; i++)
                if (waiters[i].c == c)
                        return &waiters[i];
        return NULL;
}

/* The last result a client waited for: one reply with all of them. */
static void reply_rotated(struct waiter *w)
{
        json_object *rep = json_object_new_object();
        bool all = true;
        for (size_t k = 0; k < json_object_array_length(w->rotated); k++) {
                json_object *x;
                if (json_object_object_get_ex(json_object_array_get_idx(w->rotated, k), "ok", &x))
                        all &= json_object_get_boolean(x);
        }
        json_object_object_add(rep, "ok", json_object_new_boolean(all));
        json_object_object_add(rep, "rotated", w->rotated);
        w->rotated = NULL;
        monitor_client_send(w->c, rep);
        json_object_put(rep);
}

static void finish_waiter(struct mcred *m, bool ok, const char *why)
{
        struct waiter *w = m->waiter ? waiter_of(m->waiter) : NULL;
        if (w && w->rotations > 0) {
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
                json_object_array_add(w->rotated, r);
                if (--w->rotations == 0)
                        reply_rotated(w);
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
        free_msg(m);
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
                audit_cred("cred.put", m, m->c.lease, m->c.fingerprint, more);
        } else {
                m->rotations++;
                monitor_log("credential %s rotated (lease %s -> %s, %.1f ms)", m->c.name, m->prev_lease, m->c.lease, rtt_ms);
                json_object_object_add(more, "previous_lease", json_object_new_string(m->prev_lease));
                audit_cred("cred.rotate", m, m->c.lease, m->c.fingerprint, more);
        }
        /* Renew when two thirds of the TTL have passed. */
        if (m->c.rotate)
                arm(m, usec_from_sec(m->c.ttl_s) * 2 / 3);
        else
                virEventUpdateTimeout(m->timer, -1);
        save();
        finish_waiter(m, true, NULL);
}

/* A DONE from the agent: true when it was for a credential request. */
static bool on_done_id(uint32_t id, uint32_t count)
{
        if (id == 0)
                return false;
        if (id == revoke_id) {
                revoke_id = 0;
                if (revoke_timer >= 0) {
                        virEventRemoveTimeout(revoke_timer);
                        revoke_timer = -1;
                }
                for (size_t i = 0; i < n_creds; i++) {
                        struct mcred *m = &creds[i];
                        if (m->state != C_LIVE)
                                continue;
                        m->state = C_REVOKED;
                        json_object *more = json_object_new_object();
                        json_object_object_add(more, "confirmed", json_object_new_boolean(1));
                        json_object_object_add(more, "removed_by_agent", json_object_new_int((int)count));
                        audit_cred("cred.revoke", m, m->c.lease, m->c.fingerprint, more);
                }
                monitor_log("credentials revoked; the agent confirmed (%u removed)", count);
                save();
                if (draining) {
                        draining = false;
                        monitor_drained();
                }
                return true;
        }
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
                audit_cred("cred.expire", m, m->c.lease, m->c.fingerprint, more);
                save();
                return;
        }
        _cleanup_free_ char *n = monitor_ascii(msg->u.cred.name);
        if (log_noise())
                monitor_log("ignoring the expiry of %s: no such credential", n);
}

/* ---- rotation ----------------------------------------------------------- */

static void fetch_end(struct mcred *m)
{
        if (m->fetch_watch >= 0)
                virEventRemoveHandle(m->fetch_watch);
        if (m->fetch_timer >= 0)
                virEventRemoveTimeout(m->fetch_timer);
        if (m->fetch_fd >= 0)
                close(m->fetch_fd);
        if (m->fetch_pid > 0) {
                (void)kill(m->fetch_pid, SIGKILL);   /* our own child; gone already when it finished */
                while (waitpid(m->fetch_pid, NULL, 0) < 0 && errno == EINTR)
                        ;
        }
        if (m->fetch_buf) {
                OPENSSL_cleanse(m->fetch_buf, m->fetch_len);
                free(m->fetch_buf);
        }
        m->fetch_buf = NULL;
        m->fetch_len = 0;
        m->fetch_pid = 0;
        m->fetch_fd = m->fetch_watch = m->fetch_timer = -1;
}

static void rotation_failed(struct mcred *m, const char *why)
{
        monitor_log("credential %s: rotation failed: %s", m->c.name, why);
        json_object *more = json_object_new_object();
        json_object_object_add(more, "reason", json_object_new_string(why));
        audit_cred("cred.rotate-failed", m, m->c.lease[0] ? m->c.lease : NULL, NULL, more);
        finish_waiter(m, false, why);
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

static void fetch_done(struct mcred *m)
{
        struct mlvm_err e = { 0 };
        struct cred tmp = { .name = m->c.name };
        int status = 0;

        close(m->fetch_fd);
        m->fetch_fd = -1;
        while (waitpid(m->fetch_pid, &status, 0) < 0 && errno == EINTR)
                ;
        m->fetch_pid = 0;
        int r = creds_parse(m->fetch_buf ? m->fetch_buf : "", m->fetch_len, &tmp, 1, &e);
        fetch_end(m);
        if (r < 0) {
                cred_clear_value(&tmp);
                rotation_failed(m, e.msg);
                return;
        }
        if (monitor_ending() || m->state == C_REVOKED) {
                cred_clear_value(&tmp);
                return;
        }
        free_msg(m);
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

static void on_fetch_data(int watch, int fd, int events, void *opaque)
{
        struct mcred *m = opaque;
        char buf[16384];
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
                return;
        if (n <= 0) {
                fetch_done(m);
                return;
        }
        if (m->fetch_len + (size_t)n > FETCH_OUT_MAX) {
                OPENSSL_cleanse(buf, sizeof(buf));
                fetch_end(m);
                rotation_failed(m, "the fetch helper wrote too much");
                return;
        }
        m->fetch_buf = xreallocarray(m->fetch_buf, 1, FETCH_OUT_MAX + 1);
        memcpy(m->fetch_buf + m->fetch_len, buf, (size_t)n);
        m->fetch_len += (size_t)n;
        OPENSSL_cleanse(buf, sizeof(buf));
}

static void on_fetch_timeout(int timer, void *opaque)
{
        struct mcred *m = opaque;
        fetch_end(m);
        rotation_failed(m, "the source did not answer in time");
}

static int start_fetch(struct mcred *m, struct mlvm_err *e)
{
        int p[2];
        const char *state_dir = monitor_state_dir(), *run_id = monitor_run_id();
        if (m->fetch_pid > 0 || m->msg)
                return err_setx(e, -EBUSY, "a rotation of %s is already under way", m->c.name);
        if (pipe2(p, O_CLOEXEC) < 0)
                return err_set(e, -errno, "pipe");
        pid_t pid = fork();
        if (pid < 0) {
                close(p[0]);
                close(p[1]);
                return err_set(e, -errno, "fork");
        }
        if (pid == 0) {
                /* Straight to exec: nothing of the monitor's state is touched here. */
                if (dup2(p[1], 1) < 0)
                        _exit(127);
                execl("/proc/self/exe", "mlvm-monitor", "fetch", state_dir, run_id, m->c.name, (char *)NULL);
                _exit(127);
        }
        close(p[1]);
        (void)fcntl(p[0], F_SETFL, O_NONBLOCK);
        m->fetch_pid = pid;
        m->fetch_fd = p[0];
        m->fetch_watch = virEventAddHandle(p[0], VIR_EVENT_HANDLE_READABLE, on_fetch_data, m, NULL);
        m->fetch_timer = virEventAddTimeout(monitor_timer_ms(FETCH_TIMEOUT, 0), on_fetch_timeout, m, NULL);
        return 0;
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

/* Rotate NAME (NULL: all) now; W's client gets one reply when all are done. */
static int rotate(struct waiter *w, const char *name, struct mlvm_err *e)
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
                        return started ? 0 : -EBUSY;
                m->waiter = w->c;
                w->rotations++;
                started++;
        }
        if (!started)
                return err_setx(e, -ENOENT, name ? "the run has no credential %s" : "the run has no credentials%s",
                                name ? name : "");
        return 0;
}

/* {"cmd":"rotate","name":NAME}: NAME (or every credential) now. */
static void cmd_rotate(struct monitor_client *c, json_object *req)
{
        struct mlvm_err e = { 0 };
        _cleanup_json_ json_object *rep = json_object_new_object();
        struct waiter *w = waiter_of(c) ?: waiter_of(NULL);   /* one per client at most: always one free */

        if (!w || w->rotations > 0) {
                json_object_object_add(rep, "error", json_object_new_string("a rotation is already under way"));
                monitor_client_send(c, rep);
                return;
        }
        w->c = c;
        json_object_put(w->rotated);
        w->rotated = json_object_new_array();
        if (rotate(w, json_str(req, "name"), &e) < 0 && w->rotations == 0) {
                json_object_object_add(rep, "error", json_object_new_string(e.msg));
                monitor_client_send(c, rep);
        }
}

/* ---- revocation and the end ---------------------------------------------- */

/* Every lease the agent has or may have (sent, not yet confirmed) that
 * nobody confirmed removing. */
static void unconfirmed(const char *why)
{
        bool any = false;
        for (size_t i = 0; i < n_creds; i++) {
                struct mcred *m = &creds[i];
                const char *lease = NULL, *fp = NULL;
                if (m->msg && m->put_id) {
                        lease = m->next_lease;
                        fp = m->next_fp;
                } else if (m->state == C_LIVE) {
                        lease = m->c.lease;
                        fp = m->c.fingerprint;
                }
                if (!lease)
                        continue;
                m->state = C_REVOKED;
                json_object *more = json_object_new_object();
                json_object_object_add(more, "reason", json_object_new_string(why));
                audit_cred("cred.revoke-unconfirmed", m, lease, fp, more);
                any = true;
        }
        if (any)
                save();
}

static void on_revoke_timeout(int timer, void *opaque)
{
        virEventRemoveTimeout(timer);
        revoke_timer = -1;
        revoke_id = 0;
        monitor_log("the agent did not confirm the revocation within %llu ms",
                    (unsigned long long)(revoke_timeout / USEC_PER_MSEC));
        unconfirmed("the agent did not confirm in time");
        if (draining) {
                draining = false;
                monitor_drained();
        }
}

/* The run begins to end: revoke every live credential. True when the
 * agent's confirmation (or the deadline) is waited for, false when there
 * was nothing to wait for (no live credential, or no channel: audited as
 * unconfirmed). */
static bool creds_drain(void)
{
        struct mlvm_err e = { 0 };
        bool live = false;
        for (size_t i = 0; i < n_creds; i++) {
                struct mcred *m = &creds[i];
                virEventUpdateTimeout(m->timer, -1);
                if (m->fetch_pid > 0)
                        fetch_end(m);
                live |= m->state == C_LIVE || (m->msg && m->put_id);
        }
        if (!live)
                return false;
        if (!monitor_agent_up()) {
                unconfirmed("no channel to the agent");
                return false;
        }
        struct proto_msg r = { .type = PROTO_CRED_REVOKE, .id = monitor_next_id() };
        if (monitor_send(&r, &e) < 0) {
                monitor_log("CRED_REVOKE: %s", e.msg);
                unconfirmed("sending the revocation failed");
                return false;
        }
        /* A put on its way counts as delivered: the revocation covers it. Its
         * message stays (the request queue may point at it) until teardown;
         * its DONE no longer matches. */
        for (size_t i = 0; i < n_creds; i++)
                if (creds[i].msg && creds[i].put_id) {
                        memcpy(creds[i].c.lease, creds[i].next_lease, sizeof(creds[i].c.lease));
                        memcpy(creds[i].c.fingerprint, creds[i].next_fp, sizeof(creds[i].c.fingerprint));
                        creds[i].state = C_LIVE;
                        creds[i].put_id = 0;
                }
        revoke_id = r.id;
        draining = true;
        revoke_timer = virEventAddTimeout(monitor_timer_ms(revoke_timeout, 0), on_revoke_timeout, NULL, NULL);
        monitor_log("revoking %zu credential(s); waiting up to %llu ms for the agent", n_creds,
                    (unsigned long long)(revoke_timeout / USEC_PER_MSEC));
        return true;
}

/* After a re-HELLO: what was on its way is sent again (puts replace). */
static void creds_resend(void)
{
        struct mlvm_err e = { 0 };
        for (size_t i = 0; i < n_creds; i++)
                if (creds[i].msg && !creds[i].put_queued && monitor_send(creds[i].msg, &e) < 0)
                        monitor_log("CRED_PUT %s: %s", creds[i].c.name, e.msg);
        if (revoke_id) {
                struct proto_msg r = { .type = PROTO_CRED_REVOKE, .id = revoke_id };
                if (monitor_send(&r, &e) < 0)
                        monitor_log("CRED_REVOKE: %s", e.msg);
        }
}

/* The run ends: stop timers and fetches; audit what was not confirmed,
 * before the domain goes. */
static void creds_stop(void)
{
        const char *why = monitor_said_hello() ? "the run ended before the agent confirmed" : "the guest never said HELLO";
        if (revoke_timer >= 0) {
                virEventRemoveTimeout(revoke_timer);
                revoke_timer = -1;
        }
        draining = false;
        for (size_t i = 0; i < n_creds; i++) {
                if (creds[i].fetch_pid > 0)
                        fetch_end(&creds[i]);
                virEventUpdateTimeout(creds[i].timer, -1);
        }
        unconfirmed(why);
        for (size_t i = 0; i < n_creds; i++) {
                free_msg(&creds[i]);
                finish_waiter(&creds[i], false, "the run ended");
        }
}

static void creds_on_frame(const struct proto_msg *m)
{
        if (m->type == PROTO_DONE)
                (void)on_done_id(m->id, m->u.done.count);
        else if (m->type == PROTO_CRED_EXPIRED)
                on_expired(m);
}

static const struct monitor_command creds_commands[] = {
        { "rotate", cmd_rotate },
        { NULL, NULL },
};

const struct monitor_handler monitor_creds_handler = {
        .name = "creds",
        .frames = (const uint8_t[]){ PROTO_DONE, PROTO_CRED_EXPIRED, 0 },
        .on_frame = creds_on_frame,
        .commands = creds_commands,
        .init = creds_init,
        .resumed = creds_resend,
        .drain = creds_drain,
        .client_gone = creds_client_gone,
        .stop = creds_stop,
};
