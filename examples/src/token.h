/* token.h: the claims the trainer reads from the run's JWT (RUN_TOKEN). */
#ifndef EXAMPLES_TOKEN_H
#define EXAMPLES_TOKEN_H

#include <stddef.h>

#define TOKEN_MAX 8192          /* bytes of the whole token */
#define CLAIM_MAX 64            /* bytes of a claim we keep */

struct token_claims {
        char run_id[CLAIM_MAX + 1];
        char model[CLAIM_MAX + 1];
};

/* Decodes the payload of the JWT tok (len bytes, trailing newlines allowed)
 * and takes its top-level string claims "run_id" and "model", each
 * [A-Za-z0-9._-]{1,64}. Returns 0, or -1 with a reason in *why (a static
 * string that never quotes the token). The signature is not checked here:
 * the trainer only reports whom the token was minted for; whoever the token
 * is presented to checks it with the host's public key. */
int token_claims(const char *tok, size_t len, struct token_claims *ret, const char **why);

#endif
