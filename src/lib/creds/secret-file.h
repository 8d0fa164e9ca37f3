/* secret-file.h: the NAME.secret file format, internal to the secret store
 * (secret-store.c); the format itself is documented in secret-store.h. */
#pragma once

#include <stdint.h>

#include "err.h"
#include "secret-store.h"

#define SECRET_NONCE_LEN 12
#define SECRET_TAG_LEN 16
#define SECRET_FP_PREFIX "hmac-sha256:"
#define SECRET_SUFFIX ".secret"

/* Everything a NAME.secret file holds, parsed and checked but not decrypted. */
struct sealed {
        struct secret_info info;
        uint8_t nonce[SECRET_NONCE_LEN];
        uint8_t tag[SECRET_TAG_LEN];
        uint8_t *ct;            /* info.size bytes */
};

/* Free what a struct sealed holds (for _cleanup_). */
void sealed_done(struct sealed *s);

/* DIR/NAME.secret. Caller frees. */
char *secret_path(const char *dir, const char *name);
/* The file's text (one JSON object and a newline). Caller frees. */
char *secret_file_format(const char *name, const struct sealed *s);
/* Parse PATH as the file of secret NAME into S (sealed_done frees it, also
 * after a failure). -ENOENT when absent; -EBADMSG when damaged; -EPERM when
 * group or others can read it. The metadata is not authenticated here. */
int secret_file_read(const char *path, const char *name, struct sealed *s, struct mlvm_err *e);
