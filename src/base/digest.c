/* digest.c: SHA-256 helpers; see digest.h. */
#include "mlvm-build.h"

#include <openssl/evp.h>

#include "digest.h"
#include "util.h"

#define CHUNK (1u << 20)

static void to_hex(const unsigned char *md, char hex[SHA256_HEX_LEN + 1])
{
        static const char digits[] = "0123456789abcdef";
        for (int i = 0; i < 32; i++) {
                hex[2 * i] = digits[md[i] >> 4];
                hex[2 * i + 1] = digits[md[i] & 15];
        }
        hex[SHA256_HEX_LEN] = '\0';
}

void sha256_hex(const void *data, size_t len, char hex[SHA256_HEX_LEN + 1])
{
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int n = 0;
        if (!EVP_Digest(data, len, md, &n, EVP_sha256(), NULL))
                abort();  /* SHA-256 in OpenSSL does not fail short of memory corruption */
        to_hex(md, hex);
}

static void EVP_MD_CTX_freep(EVP_MD_CTX **c) { EVP_MD_CTX_free(*c); }

static int hash_stream(int in, int out, uint64_t max, uint64_t *ret_size, char hex[SHA256_HEX_LEN + 1])
{
        __attribute__((cleanup(EVP_MD_CTX_freep))) EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        _cleanup_free_ unsigned char *buf = xmalloc(CHUNK);
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int mdlen = 0;
        uint64_t total = 0;

        if (!ctx || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1)
                return -ENOMEM;
        for (;;) {
                ssize_t n = read_retry(in, buf, CHUNK);
                if (n < 0)
                        return (int)n;
                if (n == 0)
                        break;
                total += (uint64_t)n;
                if (total > max)
                        return -EFBIG;
                if (EVP_DigestUpdate(ctx, buf, (size_t)n) != 1)
                        return -EIO;
                int r = out >= 0 ? write_full(out, buf, (size_t)n) : 0;
                if (r < 0)
                        return r;
        }
        if (EVP_DigestFinal_ex(ctx, md, &mdlen) != 1)
                return -EIO;
        to_hex(md, hex);
        if (ret_size)
                *ret_size = total;
        return 0;
}

int sha256_fd(int fd, uint64_t max, uint64_t *ret_size, char hex[SHA256_HEX_LEN + 1])
{
        return hash_stream(fd, -1, max, ret_size, hex);
}

int sha256_copy_fd(int in, int out, uint64_t max, uint64_t *ret_size, char hex[SHA256_HEX_LEN + 1])
{
        return hash_stream(in, out, max, ret_size, hex);
}

int is_sha256_hex(const char *s)
{
        return strlen(s) == SHA256_HEX_LEN && strspn(s, "0123456789abcdef") == SHA256_HEX_LEN;
}
