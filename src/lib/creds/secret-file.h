/* secret-file.h: one secret's file, the bottom of the secret store: its
 * name rules, metadata and limits, and the NAME.secret format (documented
 * in secret-store.h, which builds the store on top of this). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define SECRET_VALUE_MAX  (64 * 1024)      /* bytes of one value */
#define SECRET_NAME_MAX   64
#define SECRET_FP_LEN     (12 + 32)        /* "hmac-sha256:" + 32 hex */
#define SECRET_FILE_MAX   (256 * 1024)     /* bytes of one NAME.secret file */
#define SECRET_MAX_COUNT  4096

struct secret_info {
        char name[SECRET_NAME_MAX + 1];
        int64_t created_at;
        size_t size;
        char fingerprint[SECRET_FP_LEN + 1];
};

/* Store names: [A-Za-z0-9_][A-Za-z0-9_.-]{0,63}. */
bool secret_name_is_valid(const char *name);

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
