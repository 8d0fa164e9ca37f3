/* monitor-creds.h: what the credentials' three files call of each other:
 * monitor-creds.c (the credentials: delivery, renewal, expiry, their
 * record and audit), monitor-creds-revoke.c (revoking them all at the
 * run's end, and the end's hooks) and monitor-creds-rotate.c (the rotate
 * command and its one reply). The fetch child has its own header,
 * monitor-creds-fetch.h. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "creds.h"
#include "err.h"
#include "monitor-core.h"
#include "monitor-creds-fetch.h"

/* ---- monitor-creds.c ---------------------------------------------------------- */

enum cstate { C_PENDING, C_LIVE, C_EXPIRED, C_REVOKED };

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
        /* The next lease, on its way from the source. */
        struct monitor_fetch fetch;
        /* A control client waiting for this rotation. */
        struct monitor_client *waiter;
        /* Every lease delivered, for the provenance (the first LEASES_KEPT). */
        json_object *leases;
};

#define LEASES_KEPT 1024

/* The run's credentials, in the run record's order: I below the count. */
size_t monitor_creds_count(void);
struct mcred *monitor_cred(size_t i);
/* EVENT for M into the audit log, with LEASE and FP when not NULL and the
 * keys of MORE (taken, may be NULL). */
void monitor_creds_audit(const char *event, const struct mcred *m, const char *lease, const char *fp,
                         json_object *more);
/* Every credential's state into run.json. */
void monitor_creds_save(void);
/* M's lease on its way is wiped and forgotten. */
void monitor_creds_free_msg(struct mcred *m);
/* M's rotation is over: its waiting client, if any, hears how (WHY: the
 * error when not OK). */
void monitor_creds_finish_waiter(struct mcred *m, bool ok, const char *why);

/* Rotate NAME (NULL: every credential) now, for C. Each rotation that
 * starts reports to monitor_creds_rotated when it is over. Returns how
 * many started, or a negative errno when none did. */
int monitor_creds_rotate(struct monitor_client *c, const char *name, struct mlvm_err *e);

/* ---- monitor-creds-revoke.c --------------------------------------------------- */

/* Read how long the revocation waits for the agent (the run record's
 * revoke_timeout_ms). */
void monitor_creds_revoke_init(void);
/* A DONE from the agent (ID not 0): true when it confirmed the revocation. */
bool monitor_creds_revoke_done(uint32_t id, uint32_t count);
/* After a re-HELLO: a revocation on its way is sent again. */
void monitor_creds_revoke_resend(void);
/* The handler's drain and stop hooks, for monitor-creds.c's table. */
bool monitor_creds_drain(void);
void monitor_creds_stop(void);

/* ---- monitor-creds-rotate.c --------------------------------------------------- */

/* A rotation C waited for is over; RESULT is its entry in the reply
 * (taken). */
void monitor_creds_rotated(struct monitor_client *c, json_object *result);
void monitor_creds_rotate_client_gone(struct monitor_client *c);
/* The command, for monitor-creds.c's table. */
extern const struct monitor_command monitor_creds_commands[];
