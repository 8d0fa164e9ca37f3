/* dsse.h: DSSE v1 envelopes (https://github.com/secure-systems-lab/dsse,
 * envelope.md and protocol.md) signed with one Ed25519 key:
 *   {"payloadType":TYPE,"payload":BASE64,"signatures":[{"keyid":ID,"sig":BASE64}]}
 * The signature covers the pre-authentication encoding
 *   "DSSEv1" SP LEN(TYPE) SP TYPE SP LEN(PAYLOAD) SP PAYLOAD
 * of the raw payload bytes, lengths in ASCII decimal. Base64 is the
 * standard alphabet with padding, and is read back only in its one
 * canonical spelling. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "err.h"
#include "keys.h"

/* The PAE of TYPE and PAYLOAD (LEN bytes); caller frees. */
char *dsse_pae(const char *type, const void *payload, size_t len, size_t *ret_len);

/* Standard base64 with padding, no newlines; caller frees. */
char *dsse_b64_encode(const void *data, size_t len);
/* Decode S (LEN chars) only when it is canonical standard base64; caller
 * frees *RET (NUL-terminated for convenience). -EINVAL otherwise. */
int dsse_b64_decode(const char *s, size_t len, uint8_t **ret, size_t *ret_len);

/* Sign PAYLOAD as TYPE with KEY; *RET_JSON is the envelope (one line, no
 * newline); caller frees. */
int dsse_sign(EVP_PKEY *key, const char *type, const void *payload, size_t len, char **ret_json,
              struct mlvm_err *e);

/* Parse the envelope TEXT (LEN bytes, one trailing newline allowed)
 * strictly, require payloadType TYPE and exactly one signature, and verify
 * it with the host key of STATE_DIR or a key in its trusted set, chosen by
 * keyid. RET_PAYLOAD (caller frees, NUL-terminated), RET_KEYID and
 * RET_HOST (signed by the host key rather than a trusted one) are set on
 * success. -EBADMSG with a one-line reason. */
int dsse_verify(const char *state_dir, const char *text, size_t len, const char *type, uint8_t **ret_payload,
                size_t *ret_len, char ret_keyid[KEY_ID_LEN + 1], bool *ret_host, struct mlvm_err *e);

/* Exactly one JSON object spanning all LEN bytes, parsed strictly (json-c
 * STRICT, valid UTF-8), or NULL. */
struct json_object *dsse_parse_object(const char *s, size_t len);
