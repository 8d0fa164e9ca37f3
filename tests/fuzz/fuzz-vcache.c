/* fuzz-vcache.c: libFuzzer target for the verification cache
 * (src/lib/image/verify-cache.h), which `mlvm up` reads from the state
 * directory to decide whether an image part must be hashed again. It is
 * root's file, but a damaged one must never crash up, and must never make
 * a file "known" that the cache does not describe exactly: what parses
 * formats back to a cache that trusts exactly the same (key, fstat,
 * digest), and a file differing in any field is not trusted. */
#include "mlvm-build.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "verify-cache.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SHA "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct vcache *c = vcache_parse((const char *)data, size);
        char *text = vcache_format(c);
        struct vcache *d = vcache_parse(text, strlen(text));
        char *again = vcache_format(d);
        if (strcmp(text, again) != 0)
                abort();   /* formatting is a fixed point */
        /* A stat assembled from the input itself: whatever one cache
         * trusts, the re-parsed one trusts too, and a changed ctime never. */
        struct stat st = { 0 };
        if (size >= 24) {
                memcpy(&st.st_ino, data, sizeof(uint64_t));
                memcpy(&st.st_size, data + 8, sizeof(uint64_t));
                memcpy(&st.st_ctim.tv_sec, data + 16, sizeof(uint64_t));
        }
        if (vcache_known(c, "/pool/vol", &st, SHA) != vcache_known(d, "/pool/vol", &st, SHA))
                abort();
        st.st_ctim.tv_nsec = (st.st_ctim.tv_nsec + 1) % 1000000000L;
        struct vcache *e = vcache_parse("", 0);
        if (vcache_known(e, "/pool/vol", &st, SHA))
                abort();
        free(again);
        free(text);
        vcache_free(e);
        vcache_free(d);
        vcache_free(c);
        return 0;
}
