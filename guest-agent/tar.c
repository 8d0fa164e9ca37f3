/* tar.c: ustar writer; see tar.h. */
#define _GNU_SOURCE
#include "tar.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int tarw_open(struct tarw *w, int fd)
{
        memset(w, 0, sizeof(*w));
        w->fd = fd;
        w->buf = malloc(TARW_BUF);
        if (!w->buf)
                return -ENOMEM;
        sha256_init(&w->h);
        return 0;
}

void tarw_free(struct tarw *w)
{
        free(w->buf);
        w->buf = NULL;
}

static int flush(struct tarw *w)
{
        size_t off = 0;
        while (off < w->n && !w->err) {
                ssize_t k = write(w->fd, w->buf + off, w->n - off);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        w->err = k < 0 ? errno : ENOSPC;
                else
                        off += (size_t)k;
        }
        w->n = 0;
        return w->err ? -w->err : 0;
}

int tarw_data(struct tarw *w, const void *p, size_t len)
{
        const uint8_t *s = p;
        sha256_update(&w->h, s, len);
        w->total += len;
        while (len && !w->err) {
                size_t take = TARW_BUF - w->n < len ? TARW_BUF - w->n : len;
                memcpy(w->buf + w->n, s, take);
                w->n += take;
                s += take;
                len -= take;
                if (w->n == TARW_BUF)
                        (void)flush(w);
        }
        return w->err ? -w->err : 0;
}

int tarw_pad(struct tarw *w, uint64_t data_len)
{
        static const uint8_t zero[512];
        size_t rem = (size_t)(data_len % 512);
        return rem ? tarw_data(w, zero, 512 - rem) : 0;
}

static void octal(char *dst, size_t width, uint64_t v)
{
        /* width-1 digits and a NUL */
        dst[width - 1] = 0;
        for (size_t i = width - 1; i-- > 0; v >>= 3)
                dst[i] = (char)('0' + (v & 7));
}

int tarw_header(struct tarw *w, const char *name, char type, uint64_t size, const char *linkname, unsigned major,
                unsigned minor)
{
        uint8_t h[512];
        size_t len = strlen(name);

        memset(h, 0, sizeof(h));
        if (len <= 100)
                memcpy(h, name, len);
        else {
                /* Split at a '/' so that the prefix fits 155 and the name 100. */
                const char *cut = NULL;
                for (const char *p = name + len - 1; p > name; p--)
                        if (*p == '/' && (size_t)(p - name) <= 155 && len - (size_t)(p - name) - 1 <= 100 &&
                            len - (size_t)(p - name) - 1 > 0) {
                                cut = p;
                                break;
                        }
                if (!cut)
                        return -ENAMETOOLONG;
                memcpy(h + 345, name, (size_t)(cut - name));
                memcpy(h, cut + 1, len - (size_t)(cut - name) - 1);
        }
        octal((char *)h + 100, 8, type == '5' ? 0755 : 0644);
        octal((char *)h + 108, 8, 0);
        octal((char *)h + 116, 8, 0);
        if (size < (1ULL << 33))
                octal((char *)h + 124, 12, size);
        else {
                /* GNU base-256: 0x80, then big-endian binary. */
                h[124] = 0x80;
                for (int i = 0; i < 8; i++)
                        h[135 - i] = (uint8_t)(size >> (8 * i));
        }
        octal((char *)h + 136, 12, 0);
        h[156] = (uint8_t)type;
        if (linkname)
                strncpy((char *)h + 157, linkname, 100);
        memcpy(h + 257, "ustar", 6);
        memcpy(h + 263, "00", 2);
        octal((char *)h + 329, 8, major);
        octal((char *)h + 337, 8, minor);
        memset(h + 148, ' ', 8);
        unsigned sum = 0;
        for (size_t i = 0; i < sizeof(h); i++)
                sum += h[i];
        octal((char *)h + 148, 7, sum);
        h[155] = ' ';
        return tarw_data(w, h, sizeof(h));
}

int tarw_finish(struct tarw *w, char hex[65])
{
        static const uint8_t zero[1024];
        int r = tarw_data(w, zero, sizeof(zero));
        if (r == 0)
                r = flush(w);
        if (r == 0 && fsync(w->fd) < 0)
                r = -errno;
        sha256_final_hex(&w->h, hex);
        return r;
}
