/* monitor-creds.h: what the credentials' two files call of each other:
 * monitor-creds.c (delivery, renewal, expiry, revocation) and
 * monitor-creds-rotate.c (the rotate command and its one reply). */
#pragma once

#include <json-c/json.h>

#include "err.h"
#include "monitor-core.h"

/* monitor-creds.c: rotate NAME (NULL: every credential) now, for C. Each
 * rotation that starts reports to monitor_creds_rotated when it is over.
 * Returns how many started, or a negative errno when none did. */
int monitor_creds_rotate(struct monitor_client *c, const char *name, struct mlvm_err *e);

/* monitor-creds-rotate.c: a rotation C waited for is over; RESULT is its
 * entry in the reply (taken). */
void monitor_creds_rotated(struct monitor_client *c, json_object *result);
void monitor_creds_rotate_client_gone(struct monitor_client *c);
/* The command, for monitor-creds.c's table. */
extern const struct monitor_command monitor_creds_commands[];
