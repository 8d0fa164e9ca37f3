/* digest.h: SHA-256 of memory and of open files (EVP). Files are hashed by
 * fd so that what is hashed is what is then used (no reopen by name). */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define SHA256_HEX_LEN 64

void sha256_hex(const void *data, size_t len, char hex[SHA256_HEX_LEN + 1]);
/* Hash FD from its current offset to the end; at most MAX bytes (-EFBIG). */
int sha256_fd(int fd, uint64_t max, uint64_t *ret_size, char hex[SHA256_HEX_LEN + 1]);
/* Copy IN to OUT while hashing what was read. */
int sha256_copy_fd(int in, int out, uint64_t max, uint64_t *ret_size, char hex[SHA256_HEX_LEN + 1]);
int is_sha256_hex(const char *s);
