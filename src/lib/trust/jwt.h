/* jwt.h: per-run JSON Web Tokens (RFC 7519) signed with EdDSA (RFC 8037,
 * Ed25519) by the host key, verifiable by any JWT library with the PEM
 * from `mlvm key export host`.
 *
 * Header:  {"alg":"EdDSA","typ":"JWT","kid":"<host key id>"}
 * Claims:  {"iss":"mlvm:<host key id>","sub":"<run id>","aud":"mlvm",
 *           "iat":N,"nbf":N,"exp":N+ttl,"jti":"<lease id>",
 *           "run_id":"<run id>","model":"<name>","scope":"a b c"}
 * (scope is space-separated, as in RFC 8693 / RFC 9068). */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "err.h"

struct jwt_claims {
        const char *run_id;
        const char *model;
        const char *lease;       /* jti */
        const char *const *scope;
        size_t n_scope;
        int64_t iat;             /* unix seconds */
        uint64_t ttl_s;
};

/* Mint a compact JWS (header.payload.signature, base64url without padding)
 * signed with KEY (Ed25519), whose id is KID. */
int jwt_mint(EVP_PKEY *key, const char *kid, const struct jwt_claims *c, char **ret, struct mlvm_err *e);

/* Verify TOKEN with PUB and return its claims (a JSON object). Used by the
 * tests and by `mlvm creds`; checks structure, alg, signature, exp/nbf
 * against NOW. -EBADMSG with a one-line reason when it does not verify. */
#include <json-c/json.h>
int jwt_verify(EVP_PKEY *pub, const char *token, int64_t now, json_object **ret_claims, struct mlvm_err *e);

/* base64url without padding (RFC 4648 section 5). */
char *b64url_encode(const void *data, size_t len);
