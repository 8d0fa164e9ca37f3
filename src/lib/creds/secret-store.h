/* secret-store.h: the host's secret store (docs/security.md, credential leak).
 *
 * STATE_DIR/secrets/ (0700) holds
 *   store.key        32 random bytes, mode 0600, created on first use;
 *   NAME.secret      one JSON object per secret, mode 0600:
 *     {"version":1,"name":NAME,"created_at":<unix s>,"size":N,
 *      "fingerprint":"hmac-sha256:<32 hex>",
 *      "nonce":"<b64 12 bytes>","ciphertext":"<b64>","tag":"<b64 16 bytes>"}
 *   the value encrypted with AES-256-GCM under store.key, with the AAD
 *   "mlvm-secret-v1\n" NAME "\n" <created_at> "\n", so a file renamed to
 *   another secret's name, or with its metadata edited, fails to decrypt.
 *
 * Fingerprints are HMAC-SHA256 under a key derived from store.key
 * (HMAC(store.key, "mlvm fingerprint v1")), truncated to 128 bits: equal
 * values have equal fingerprints on one host, and a fingerprint says
 * nothing about a value without the key. They are what the audit log,
 * `secret ls` and the run records show; values are never written anywhere
 * but the encrypted file. Everything here refuses a store directory or
 * file that group or others can read. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "secret-file.h"   /* struct secret_info, the limits */

/* Store VALUE (LEN bytes, 1..SECRET_VALUE_MAX) under NAME, replacing any
 * old value; creates the store and its key on first use. INFO (may be
 * NULL) receives what was stored. */
int secret_set(const char *state_dir, const char *name, const void *value, size_t len, struct secret_info *info,
               struct mlvm_err *e);
/* Decrypt NAME into a fresh buffer (*ret, *ret_len; the caller wipes it
 * with secret_wipe). -ENOENT when there is no such secret; -EBADMSG when
 * the file fails authentication. */
int secret_get(const char *state_dir, const char *name, uint8_t **ret, size_t *ret_len, struct secret_info *info,
               struct mlvm_err *e);
/* NAME's metadata (what `secret ls` shows), read from its file without
 * decrypting: not authenticated. -ENOENT when there is no such secret. */
int secret_stat(const char *state_dir, const char *name, struct secret_info *ret, struct mlvm_err *e);
/* Remove NAME, even when its file is damaged. -ENOENT when absent. */
int secret_rm(const char *state_dir, const char *name, struct mlvm_err *e);
/* All secrets, sorted by name, metadata only (nothing is decrypted). */
int secret_list(const char *state_dir, struct secret_info **ret, size_t *ret_n, struct mlvm_err *e);

/* The fingerprint of any value (store, exec or JWT) on this host; creates
 * the store key on first use. */
int secret_fingerprint(const char *state_dir, const void *value, size_t len, char ret[SECRET_FP_LEN + 1],
                       struct mlvm_err *e);

/* OPENSSL_cleanse, then free. */
void secret_wipe(void *p, size_t len);
