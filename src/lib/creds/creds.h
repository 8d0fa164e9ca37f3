/* creds.h: the credentials granted to a run (docs/architecture.md, components).
 *
 * A grant comes from mlvm.yaml (secrets: NAME: {from, ttl, scope, rotate});
 * each delivery of a value is a lease with its own random id. Sources:
 *   store:NAME  the host secret store (secret-store.h)
 *   exec:CMD    stdout of `/bin/sh -c CMD`, run in the config file's
 *               directory with MLVM_RUN_ID, MLVM_MODEL and MLVM_SECRET set,
 *               stdin /dev/null, at most CRED_EXEC_TIMEOUT_S; trailing
 *               newlines are dropped (as $(CMD) does); empty output, a
 *               non-zero exit or a timeout is an error, told by exit
 *               status only (its stderr is never captured or logged)
 *   jwt         a JWT minted by the host key for this run (jwt.h)
 * Values stay in memory: `up` fetches the first leases (so that a broken
 * source fails before anything is created) and hands them to the monitor
 * over a pipe; the monitor fetches the next ones through `mlvm-monitor
 * fetch`, a child whose stdout is another pipe. Records (run.json, audit)
 * carry the name, lease id and fingerprint only. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "err.h"
#include "secret-store.h"

#define CRED_LEASE_LEN 32            /* hex of 16 random bytes */
#define CRED_EXEC_TIMEOUT_S 30
#define CRED_HANDOVER_MAX (8u << 20) /* bytes of the up -> monitor hand-over */

struct cred {
        /* The grant. */
        char *name;
        char *from;
        uint64_t ttl_s;
        bool rotate;
        char **scope;
        size_t n_scope;
        /* The current lease, once fetched. */
        char lease[CRED_LEASE_LEN + 1];
        char fingerprint[SECRET_FP_LEN + 1];
        uint8_t *value;
        size_t len;
};

struct cred_ctx {
        const char *state_dir;
        const char *run_id;
        const char *model;
        const char *config_dir;     /* exec: runs here */
        bool exec_stderr_inherit;   /* exec: its stderr to ours (a terminal); else discarded. Never
                                     * captured: it may print the credential */
};

/* "store", "exec" or "jwt". */
const char *cred_kind(const struct cred *c);
/* A fresh value from C's source, with a new lease id and its fingerprint.
 * The old value, if any, is wiped. Errors name the secret and the source. */
int cred_fetch(const struct cred_ctx *x, struct cred *c, struct mlvm_err *e);
/* Wipe and free the value (the grant stays). */
void cred_clear_value(struct cred *c);
void cred_free(struct cred *c);

/* The grant as stored in run.json: {"name","from","ttl_s","rotate","scope"}. */
json_object *cred_grant_json(const struct cred *c);
int cred_grant_parse(json_object *o, struct cred *c, struct mlvm_err *e);

/* The hand-over: leases WITH values, as one JSON document written to FD
 * (up -> monitor, fetch -> monitor) and read back. */
int creds_write(int fd, struct cred *c, size_t n, struct mlvm_err *e);
/* Read the document from FD (at most CRED_HANDOVER_MAX bytes) and fill
 * the lease of each cred in C whose name it holds; every one of C must be
 * there. An {"error": "..."} document is returned as that error. */
int creds_read(int fd, struct cred *c, size_t n, struct mlvm_err *e);
/* The same on a buffer (what the monitor collects from a fetch child). */
int creds_parse(const char *buf, size_t len, struct cred *c, size_t n, struct mlvm_err *e);

/* `mlvm-monitor fetch`: load run RUN_ID's grant NAME, fetch a new lease
 * and write the hand-over document (or {"error": "..."}) to OUT_FD. */
int creds_fetch_for_run(const char *state_dir, const char *run_id, const char *name, int out_fd);
