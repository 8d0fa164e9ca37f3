/* fuzz-dsse.c: libFuzzer target for DSSE envelopes (provenance.json), which
 * `mlvm verify` reads from a run directory anyone with access could have
 * edited. The envelope parser and the signature check must reject
 * anything malformed without crashing; what the strict base64 decoder
 * accepts must encode back to the same characters. */
#include "mlvm-build.h"

#include <stddef.h>
#include <stdint.h>
#define _XOPEN_SOURCE 700
#include <ftw.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "dsse.h"
#include "keys.h"
#include "provenance.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64];

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
        return remove(path);
}

/* The throwaway state directory goes with the process. */
static void cleanup(void)
{
        (void)nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static const char *state(void)
{
        if (!dir[0]) {
                EVP_PKEY *k = NULL;
                snprintf(dir, sizeof(dir), "/tmp/mlvm-fuzz-dsse-%d", (int)getpid());
                (void)mkdir(dir, 0700);
                if (key_load_private(dir, KEY_HOST, true, &k, NULL) < 0)
                        abort();
                EVP_PKEY_free(k);
                atexit(cleanup);
        }
        return dir;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        uint8_t *payload = NULL, *raw = NULL;
        size_t plen = 0, rlen = 0;
        char keyid[KEY_ID_LEN + 1];
        bool host;

        if (size > PROVENANCE_MAX_BYTES)
                return 0;
        if (dsse_verify(state(), (const char *)data, size, PROVENANCE_PAYLOAD_TYPE, &payload, &plen, keyid, &host,
                        NULL) == 0)
                free(payload);   /* a forged signature by our own key would be a finding: it cannot happen */
        if (dsse_b64_decode((const char *)data, size, &raw, &rlen) == 0) {
                char *again = dsse_b64_encode(raw, rlen);
                if (strlen(again) != size || memcmp(again, data, size) != 0)
                        __builtin_trap();
                free(again);
                free(raw);
        }
        return 0;
}
