/* audit-internal.h: shared by audit.c (appending, and the signed checkpoint)
 * and audit-read.c (verifying and listing): the files' names, the line hash,
 * the strict line parser and the checkpoint's reading and checking. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <json-c/json.h>
#include <openssl/evp.h>

#include "audit.h"

#define LOG_NAME "audit.log"
#define CHECKPOINT_NAME "audit.checkpoint"
#define LOCK_NAME "audit.lock"
#define HASH_HEX_LEN 64

/* The prev of line 1: 64 zeros. */
extern const char audit_zero_hash[HASH_HEX_LEN + 1];

struct checkpoint {
        uint64_t seq;
        char hash[HASH_HEX_LEN + 1];
        char key[KEY_ID_LEN + 1];
        uint8_t sig[KEY_SIG_LEN];
};

/* S is exactly N lowercase hex digits. */
bool audit_is_hex(const char *s, size_t n);
/* SHA-256 of DATA in lowercase hex; -EIO when OpenSSL fails. */
int audit_sha256_hex(const void *data, size_t len, char ret[HASH_HEX_LEN + 1]);
/* A line or the checkpoint as exactly one JSON object, or NULL; caller puts. */
json_object *audit_parse_object(const char *s, size_t len);
/* STATE_DIR/audit.checkpoint parsed strictly; *ret_exists false when absent. */
int audit_checkpoint_read(const char *state_dir, struct checkpoint *ret, bool *ret_exists, struct mlvm_err *e);
/* -EBADMSG unless CP is signed by KEY, the host key (either half). */
int audit_checkpoint_check_sig(const struct checkpoint *cp, EVP_PKEY *key, struct mlvm_err *e);
