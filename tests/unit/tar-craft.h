/* tar-craft.h: tar streams for the tests, in memory: hand-made ustar, old
 * GNU and pax headers (what libarchive's writer refuses to make: "../x",
 * devices, links, sparse files, truncated members), or libarchive's own
 * pax output. Included by test-artifacts.c only; cmocka asserts. */
#pragma once

#include <locale.h>
#include <archive.h>
#include <archive_entry.h>

#include "util.h"

struct buf {
        uint8_t *p;
        size_t len, cap;
};

static void put(struct buf *b, const void *data, size_t n)
{
        if (b->len + n > b->cap) {
                b->cap = (b->len + n) * 2;
                b->p = xreallocarray(b->p, b->cap, 1);
        }
        if (data)
                memcpy(b->p + b->len, data, n);
        else
                memset(b->p + b->len, 0, n);
        b->len += n;
}

static void pad(struct buf *b) { put(b, NULL, (512 - b->len % 512) % 512); }
static void end(struct buf *b) { put(b, NULL, 1024); }

/* One raw header: ustar, or old GNU ("ustar  ") when GNU. */
static uint8_t *hdr(struct buf *b, const char *name, char type, uint64_t size, const char *link, bool gnu)
{
        uint8_t h[512] = { 0 };
        unsigned sum = 0;

        memcpy(h, name, strlen(name) < 100 ? strlen(name) : 100);
        memcpy(h + 100, "0000644", 8);
        memcpy(h + 108, "0000000", 8);
        memcpy(h + 116, "0000000", 8);
        (void)snprintf((char *)h + 124, 12, "%011llo", (unsigned long long)size);
        memcpy(h + 136, "14541440000", 12);
        h[156] = (uint8_t)type;
        if (link)
                memcpy(h + 157, link, strlen(link));
        memcpy(h + 257, gnu ? "ustar  " : "ustar\00000", 8);
        memset(h + 148, ' ', 8);
        for (size_t i = 0; i < 512; i++)
                sum += h[i];
        (void)snprintf((char *)h + 148, 8, "%06o", sum);
        h[155] = ' ';
        put(b, h, 512);
        return b->p + b->len - 512;
}

static void raw_file(struct buf *b, const char *name, const char *data)
{
        hdr(b, name, '0', strlen(data), NULL, false);
        put(b, data, strlen(data));
        pad(b);
}

static void raw_dir(struct buf *b, const char *name) { hdr(b, name, '5', 0, NULL, false); }

/* A pax extended header ('x') of RECORDS ("path=../x" ...) for the next entry. */
static void pax(struct buf *b, const char *record)
{
        char rec[600];
        size_t len = strlen(record) + 3;
        while ((size_t)snprintf(NULL, 0, "%zu", len) + strlen(record) + 2 != len) /* "LEN record\n" */
                len++;
        (void)snprintf(rec, sizeof(rec), "%zu %s\n", len, record);
        assert_int_equal(strlen(rec), len);
        hdr(b, "PaxHeader/x", 'x', len, NULL, false);
        put(b, rec, len);
        pad(b);
}

struct member {
        const char *path;
        mode_t type;
        const char *data;
        size_t len;         /* 0: strlen(data) */
};

static la_ssize_t buf_write(struct archive *a, void *u, const void *p, size_t n)
{
        put(u, p, n);
        return (la_ssize_t)n;
}

/* As libarchive writes it: pax (restricted) in 10 KiB blocks, maybe gzipped. */
static void lib_tar(struct buf *b, const struct member *m, size_t n, bool gzip)
{
        /* Names are UTF-8 in pax headers: write them under a UTF-8 locale, this thread only. */
        locale_t l = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0), old = uselocale(l);
        struct archive *a = archive_write_new();
        struct archive_entry *ent = archive_entry_new();

        assert_non_null(l);
        assert_int_equal(archive_write_set_format_pax_restricted(a), ARCHIVE_OK);
        if (gzip)
                assert_int_equal(archive_write_add_filter_gzip(a), ARCHIVE_OK);
        assert_int_equal(archive_write_open(a, b, NULL, buf_write, NULL), ARCHIVE_OK);
        for (size_t i = 0; i < n; i++) {
                size_t len = m[i].data ? (m[i].len ? m[i].len : strlen(m[i].data)) : 0;
                archive_entry_clear(ent);
                archive_entry_set_pathname(ent, m[i].path);
                archive_entry_set_filetype(ent, m[i].type);
                archive_entry_set_perm(ent, 0644);
                archive_entry_set_size(ent, (la_int64_t)len);
                assert_int_equal(archive_write_header(a, ent), ARCHIVE_OK);
                if (len)
                        assert_int_equal(archive_write_data(a, m[i].data, len), (la_ssize_t)len);
        }
        assert_int_equal(archive_write_close(a), ARCHIVE_OK);
        archive_write_free(a);
        archive_entry_free(ent);
        (void)uselocale(old);
        freelocale(l);
}
