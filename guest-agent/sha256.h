/* sha256.h: SHA-256 (FIPS 180-4) for the static agent, which has no
 * OpenSSL. The host never trusts it: every digest the agent reports is
 * recomputed by the host with OpenSSL (tests/unit/test-sha256.c checks
 * this code against OpenSSL too). */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct sha256 {
        uint32_t h[8];
        uint64_t len;             /* bytes so far */
        uint8_t buf[64];
        size_t n;                 /* bytes in buf */
};

void sha256_init(struct sha256 *s);
void sha256_update(struct sha256 *s, const void *data, size_t len);
void sha256_final(struct sha256 *s, uint8_t out[32]);
/* The digest as 64 lowercase hex digits and a NUL. */
void sha256_final_hex(struct sha256 *s, char out[65]);
