/* audit.h: the hash-chained, checkpoint-signed audit log.
 *
 * STATE_DIR/audit.log holds one JSON object per line, in key order
 *   {"seq":N,"time":"2026-11-23T00:20:00Z","event":"image.import",<fields...>,"prev":"<hex>"}
 * where prev is the SHA-256 of the previous line's bytes (without its
 * newline; 64 zeros for line 1), so editing, removing or reordering a line
 * breaks the chain. After every append STATE_DIR/audit.checkpoint records
 *   {"seq":N,"hash":"<sha256 of line N>","key":"<host key id>","sig":"<base64>"}
 * with an Ed25519 signature by the host key over exactly
 *   "mlvm-audit-checkpoint-v1\n<seq>\n<hash>\n",
 * so truncating the tail, appending by hand or rewriting every hash is
 * detected too. Writers serialize on an exclusive flock of STATE_DIR/audit.lock.
 * Nothing secret belongs in a field (docs/architecture.md, principles):
 * callers record fingerprints, never values. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <json-c/json.h>

#include "err.h"
#include "keys.h"

#define AUDIT_LINE_MAX (64u * 1024)             /* bytes per line, newline excluded */
#define AUDIT_LOG_MAX (256u * 1024 * 1024)      /* bytes in the whole log */
#define AUDIT_EVENT_MAX 64

struct audit_status {
        uint64_t lines;                         /* lines in audit.log */
        uint64_t checkpoint_seq;                /* line the signed checkpoint covers; 0 when empty */
        char key_id[KEY_ID_LEN + 1];            /* host key that signed it; "" when empty */
};

/* Events match [a-z][a-z0-9.-]{0,63}, e.g. "image.import". */
bool audit_event_is_valid(const char *event);

/* Append one event. FIELDS (borrowed, may be NULL) is a JSON object whose
 * keys follow "event" in the line; "seq", "time", "event" and "prev" are
 * reserved. Creates the state directory (0700), the log (0600) and the host
 * key when missing. Refuses to append (-EBADMSG) when the end of the log is
 * not the line the checkpoint signed: signing again would hide a truncation
 * or a line added by hand. */
int audit_append(const char *state_dir, const char *event, json_object *fields, struct mlvm_err *e);

/* One EVENT listing what was removed: {"removed": REMOVED, "more": MORE}
 * (MORE: how many were left out of the list, omitted when 0). Takes
 * REMOVED; an empty list writes nothing. */
int audit_removed(const char *state_dir, const char *event, json_object *removed, size_t more, struct mlvm_err *e);

/* Check the chain and the checkpoint. -EBADMSG with a one-line message
 * naming the first bad line when the log was tampered with; other negative
 * errnos when it cannot be read. An absent log with no checkpoint is an
 * empty, valid log. */
int audit_verify(const char *state_dir, struct audit_status *ret, struct mlvm_err *e);

/* The log's lines as a JSON array of objects, oldest first, keeping those
 * whose event starts with EVENT_PREFIX (NULL keeps all). Does not verify
 * the chain: that is audit_verify's job. */
int audit_read(const char *state_dir, const char *event_prefix, json_object **ret_array, struct mlvm_err *e);
