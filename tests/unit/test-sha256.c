/* test-sha256.c: the agent's SHA-256 (guest-agent/sha256.c) against the
 * FIPS 180-4 examples and against OpenSSL on random inputs of every
 * length around the block and padding boundaries, fed in random pieces. */
#include "mlvm-build.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "sha256.h"

static void hex_of(const char *s, size_t len, char out[65])
{
        struct sha256 c;
        sha256_init(&c);
        sha256_update(&c, s, len);
        sha256_final_hex(&c, out);
}

static void test_vectors(void **state)
{
        char out[65];
        hex_of("", 0, out);
        assert_string_equal(out, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        hex_of("abc", 3, out);
        assert_string_equal(out, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
        hex_of(two, strlen(two), out);
        assert_string_equal(out, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

static void test_against_openssl(void **state)
{
        static uint8_t buf[4096];
        assert_int_equal(RAND_bytes(buf, sizeof(buf)), 1);
        for (size_t len = 0; len <= 300; len++) {
                for (int round = 0; round < 3; round++) {
                        uint8_t want[32], got[32];
                        unsigned wl = 0;
                        assert_int_equal(EVP_Digest(buf, len, want, &wl, EVP_sha256(), NULL), 1);
                        struct sha256 c;
                        sha256_init(&c);
                        /* In random pieces, so the buffering paths are all taken. */
                        for (size_t off = 0; off < len;) {
                                size_t n = (size_t)(rand() % 97) + (round == 0 ? 1 : 0);
                                if (n > len - off)
                                        n = len - off;
                                sha256_update(&c, buf + off, n);
                                off += n;
                        }
                        sha256_final(&c, got);
                        assert_memory_equal(got, want, 32);
                }
        }
        /* And one large input. */
        uint8_t want[32], got[32];
        unsigned wl = 0;
        assert_int_equal(EVP_Digest(buf, sizeof(buf), want, &wl, EVP_sha256(), NULL), 1);
        struct sha256 c;
        sha256_init(&c);
        sha256_update(&c, buf, sizeof(buf));
        sha256_final(&c, got);
        assert_memory_equal(got, want, 32);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_vectors),
                cmocka_unit_test(test_against_openssl),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
