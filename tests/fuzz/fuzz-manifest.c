/* fuzz-manifest.c: libFuzzer target for manifest.json and manifest.sig, which
 * arrive from publishers (untrusted input). What parses must serialize, parse
 * again and serialize to the same bytes: the digest and the signature are
 * over those bytes. */
#include "mlvm-build.h"

#include <stddef.h>
#include <stdint.h>

#include "manifest.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_manifest(const char *text, size_t len)
{
        struct manifest m, again;

        if (manifest_parse(text, len, &m, NULL) < 0)
                return;
        _cleanup_free_ char *out = manifest_serialize(&m);
        if (manifest_parse(out, strlen(out), &again, NULL) < 0)
                __builtin_trap();
        _cleanup_free_ char *out2 = manifest_serialize(&again);
        if (!streq(out, out2) || again.n_parts != m.n_parts || again.n_inputs != m.n_inputs)
                __builtin_trap();
        manifest_clear(&again);
        manifest_clear(&m);
}

static void check_sig(const char *text, size_t len)
{
        char keyid[KEY_ID_LEN + 1], keyid2[KEY_ID_LEN + 1];
        uint8_t sig[KEY_SIG_LEN], sig2[KEY_SIG_LEN];

        if (manifest_sig_parse(text, len, keyid, sig, NULL) < 0)
                return;
        _cleanup_free_ char *out = manifest_sig_serialize(keyid, sig);
        if (manifest_sig_parse(out, strlen(out), keyid2, sig2, NULL) < 0 || !streq(keyid, keyid2) ||
            memcmp(sig, sig2, sizeof(sig)) != 0)
                __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        /* The store reads both files with read_file_capped, which
         * NUL-terminates: the parsers rely on it. */
        _cleanup_free_ char *text = xmalloc(size + 1);

        memcpy(text, data, size);
        text[size] = '\0';
        check_manifest(text, size);
        check_sig(text, size);
        return 0;
}
