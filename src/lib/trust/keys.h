/* keys.h: Ed25519 keys (OpenSSL EVP). Key pairs live under
 * STATE_DIR/keys (NAME.key, mode 0600; NAME.pub); publishers' public keys
 * that images may be signed with live under STATE_DIR/keys/trusted.
 * A key is known by its id: the first 16 hex digits of the SHA-256 of its
 * DER SubjectPublicKeyInfo. The "host" key, created on first use, signs
 * what the host produces (audit checkpoints, provenance, JWTs). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "err.h"

#define KEY_ID_LEN 16
#define KEY_SIG_LEN 64
#define KEY_HOST "host"

struct key_info {
        char *name;
        char id[KEY_ID_LEN + 1];
        bool has_private;
        bool trusted;
};

/* Key names follow the model-name rule: [a-z0-9][a-z0-9-]{0,62}. */
int key_gen(const char *state_dir, const char *name, char ret_id[KEY_ID_LEN + 1], struct mlvm_err *e);
/* Load NAME's private key, creating it first when CREATE (used for "host"). */
int key_load_private(const char *state_dir, const char *name, bool create, EVP_PKEY **ret, struct mlvm_err *e);
int key_export_public(const char *state_dir, const char *name, char **ret_pem, struct mlvm_err *e);
/* Add a PEM public key (Ed25519 only) to the trusted set. */
int key_trust_file(const char *state_dir, const char *path, char ret_id[KEY_ID_LEN + 1], struct mlvm_err *e);
/* Trust one of our own key pairs (e.g. the image builder's). */
int key_trust_own(const char *state_dir, const char *name, struct mlvm_err *e);
int key_list(const char *state_dir, struct key_info **ret, size_t *ret_n, struct mlvm_err *e);
void key_list_free(struct key_info *k, size_t n);

int key_id(EVP_PKEY *pkey, char ret_id[KEY_ID_LEN + 1]);
int key_sign(EVP_PKEY *pkey, const void *data, size_t len, uint8_t sig[KEY_SIG_LEN], struct mlvm_err *e);
/* Verify with the trusted key KEYID, or, when HOST_TOO, also the host key. */
int key_verify_trusted(const char *state_dir, const char *keyid, const void *data, size_t len,
                       const uint8_t sig[KEY_SIG_LEN], struct mlvm_err *e);
int key_verify(EVP_PKEY *pub, const void *data, size_t len, const uint8_t sig[KEY_SIG_LEN]);

