/* secrets.h: credentials in the guest (secrets.c): a tmpfs at
 * /run/mlvm/secrets in the workload's root, one file per credential
 * (0400), each with a TTL from delivery on the monotonic clock. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "proto.h"

/* Write C's value (replacing the file atomically), start its TTL. 0, or
 * -errno with WHY filled. */
int secrets_put(const struct proto_cred *c, char *why, size_t cap);
/* Remove NAME ("" for all); returns how many were removed. */
unsigned secrets_revoke(const char *name);
/* Milliseconds until the next TTL ends (at most 60 s), -1 when none. */
int secrets_next_timeout_ms(void);
/* Would a mount at PATH cover or enter /run/mlvm/secrets? */
bool secrets_path_covers(const char *path);
/* Remove every credential whose TTL ended, calling REPORT for each. */
void secrets_expire(void (*report)(const char *name, const char *lease));
