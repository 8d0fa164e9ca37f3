/* monitor-creds-revoke.c: the end of a run's credentials. When the run
 * begins to end (the handler's drain hook), every live credential is
 * revoked by one CRED_REVOKE, before the domain is destroyed, and the
 * agent's confirmation is waited for a bounded time (revoke_timeout_ms).
 * Whatever the agent has or may have that nobody confirmed removing is
 * audited as cred.revoke-unconfirmed: at the deadline, or by the stop
 * hook, which also ends the timers, the fetches and the waiting clients.
 * See monitor-creds.h. */
#include "mlvm-build.h"

#include "monitor-creds.h"
#include "util.h"

static uint32_t revoke_id;
static int revoke_timer = -1;
static usec_t revoke_timeout;
static bool draining;                /* monitor_drained() is owed once the revocation is confirmed */

void monitor_creds_revoke_init(void)
{
        revoke_timeout = monitor_record_usec("revoke_timeout_ms", USEC_PER_MSEC, 2000 * USEC_PER_MSEC);
}

bool monitor_creds_revoke_done(uint32_t id, uint32_t count)
{
        if (id == 0 || id != revoke_id)
                return false;
        revoke_id = 0;
        if (revoke_timer >= 0) {
                virEventRemoveTimeout(revoke_timer);
                revoke_timer = -1;
        }
        for (size_t i = 0; i < monitor_creds_count(); i++) {
                struct mcred *m = monitor_cred(i);
                if (m->state != C_LIVE)
                        continue;
                m->state = C_REVOKED;
                json_object *more = json_object_new_object();
                json_object_object_add(more, "confirmed", json_object_new_boolean(1));
                json_object_object_add(more, "removed_by_agent", json_object_new_int((int)count));
                monitor_creds_audit("cred.revoke", m, m->c.lease, m->c.fingerprint, more);
        }
        monitor_log("credentials revoked; the agent confirmed (%u removed)", count);
        monitor_creds_save();
        if (draining) {
                draining = false;
                monitor_drained();
        }
        return true;
}

/* Every lease the agent has or may have (sent, not yet confirmed) that
 * nobody confirmed removing. */
static void unconfirmed(const char *why)
{
        bool any = false;
        for (size_t i = 0; i < monitor_creds_count(); i++) {
                struct mcred *m = monitor_cred(i);
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
                monitor_creds_audit("cred.revoke-unconfirmed", m, lease, fp, more);
                any = true;
        }
        if (any)
                monitor_creds_save();
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
bool monitor_creds_drain(void)
{
        struct mlvm_err e = { 0 };
        bool live = false;
        for (size_t i = 0; i < monitor_creds_count(); i++) {
                struct mcred *m = monitor_cred(i);
                virEventUpdateTimeout(m->timer, -1);
                if (monitor_fetch_busy(&m->fetch))
                        monitor_fetch_cancel(&m->fetch);
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
        for (size_t i = 0; i < monitor_creds_count(); i++) {
                struct mcred *m = monitor_cred(i);
                if (m->msg && m->put_id) {
                        memcpy(m->c.lease, m->next_lease, sizeof(m->c.lease));
                        memcpy(m->c.fingerprint, m->next_fp, sizeof(m->c.fingerprint));
                        m->state = C_LIVE;
                        m->put_id = 0;
                }
        }
        revoke_id = r.id;
        draining = true;
        revoke_timer = virEventAddTimeout(monitor_timer_ms(revoke_timeout, 0), on_revoke_timeout, NULL, NULL);
        monitor_log("revoking %zu credential(s); waiting up to %llu ms for the agent", monitor_creds_count(),
                    (unsigned long long)(revoke_timeout / USEC_PER_MSEC));
        return true;
}

void monitor_creds_revoke_resend(void)
{
        struct mlvm_err e = { 0 };
        if (revoke_id) {
                struct proto_msg r = { .type = PROTO_CRED_REVOKE, .id = revoke_id };
                if (monitor_send(&r, &e) < 0)
                        monitor_log("CRED_REVOKE: %s", e.msg);
        }
}

/* The run ends: stop timers and fetches; audit what was not confirmed,
 * before the domain goes. */
void monitor_creds_stop(void)
{
        const char *why = monitor_said_hello() ? "the run ended before the agent confirmed"
                                               : "the guest never said HELLO";
        if (revoke_timer >= 0) {
                virEventRemoveTimeout(revoke_timer);
                revoke_timer = -1;
        }
        draining = false;
        for (size_t i = 0; i < monitor_creds_count(); i++) {
                struct mcred *m = monitor_cred(i);
                if (monitor_fetch_busy(&m->fetch))
                        monitor_fetch_cancel(&m->fetch);
                virEventUpdateTimeout(m->timer, -1);
        }
        unconfirmed(why);
        for (size_t i = 0; i < monitor_creds_count(); i++) {
                monitor_creds_free_msg(monitor_cred(i));
                monitor_creds_finish_waiter(monitor_cred(i), false, "the run ended");
        }
}
