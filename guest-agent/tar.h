/* tar.h: the agent's ustar writer for the artifact stream: headers with
 * sorted names, fixed mode/owner/mtime, sizes in octal (base-256 past
 * 8 GiB), everything hashed (SHA-256) and counted as it is written. */
#pragma once

#include <stdint.h>
#include <stddef.h>

#include "sha256.h"

struct tarw {
        int fd;
        uint8_t *buf;              /* TARW_BUF bytes */
        size_t n;
        uint64_t total;            /* bytes written so far (the stream's size) */
        struct sha256 h;           /* of every byte */
        int err;                   /* first errno, or 0 */
};

#define TARW_BUF (1u << 20)

int tarw_open(struct tarw *w, int fd);
/* One header. TYPE is a ustar typeflag ('0' file, '5' directory, ...);
 * NAME up to 255 bytes (split into prefix and name), written as given. */
int tarw_header(struct tarw *w, const char *name, char type, uint64_t size, const char *linkname, unsigned major,
                unsigned minor);
int tarw_data(struct tarw *w, const void *p, size_t len);
/* Zero padding to the next 512-byte block after DATA_LEN bytes of data. */
int tarw_pad(struct tarw *w, uint64_t data_len);
/* The two zero blocks, flush, fsync; the stream's digest in HEX. */
int tarw_finish(struct tarw *w, char hex[65]);
void tarw_free(struct tarw *w);
