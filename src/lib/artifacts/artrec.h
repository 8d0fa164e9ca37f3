/* artrec.h: the records the artifact tar parser sends the privileged
 * side (docs/security.md, "The monitor's privilege separation").
 *
 * The guest writes the artifact disk; its tar stream is parsed by
 * libarchive in a child without privilege (artifact-tar.h), which reads
 * the raw bytes on one pipe and answers on another with these records.
 * The privileged side (artifacts.c) writes the files, hashes them and
 * checks them against the agent's report; it takes nothing from the child
 * on trust: this decoder refuses any record out of the fixed set, layout
 * or order, and the writer applies the path rules and caps again.
 *
 * A record is an 8-byte header (kind, three zero bytes, payload length;
 * host order: both ends are the same binary on the same machine) and its
 * payload:
 *   READY  (empty)        first: the parser is confined and reads
 *   DIR    PATH           a directory
 *   FILE   SIZE PATH      a regular file (SIZE: uint64), then its data
 *   DATA   BYTES          1..ARTREC_DATA_MAX bytes of the open file,
 *                         never more than it has left; the file ends when
 *                         SIZE bytes came
 *   END    (empty)        the stream was read to its end, all well
 *   ERROR  MESSAGE        why the stream is refused, one line of
 *                         printable ASCII (any time after READY)
 * PATH is 1..ARTIFACT_PATH_MAX bytes without a NUL, normalized under the
 * rules of artifacts.h (a directory's trailing '/' removed). Nothing may
 * follow END or ERROR. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "artifact-path.h"
#include "err.h"

enum artrec_kind {
        ARTREC_READY = 1,
        ARTREC_DIR = 2,
        ARTREC_FILE = 3,
        ARTREC_DATA = 4,
        ARTREC_END = 5,
        ARTREC_ERROR = 6,
};

struct artrec_hdr {
        uint8_t kind;
        uint8_t reserved[3];   /* 0 */
        uint32_t len;
};

#define ARTREC_DATA_MAX 65536u
#define ARTREC_MSG_MAX 1024u
#define ARTREC_MAX (sizeof(struct artrec_hdr) + ARTREC_DATA_MAX)

/* One record, once checked. PATH and MSG are NUL-terminated; DATA points
 * into the decoder's buffer, valid until the next feed. */
struct artrec {
        uint8_t kind;
        uint64_t size;                          /* FILE */
        char path[ARTIFACT_PATH_MAX + 1];       /* DIR, FILE */
        const uint8_t *data;                    /* DATA */
        size_t len;                             /* DATA */
        char msg[ARTREC_MSG_MAX + 1];           /* ERROR */
};

/* Parser side: encode one record into BUF (at least ARTREC_MAX bytes).
 * SIZE for FILE, PATH for DIR and FILE, DATA/LEN for DATA, MSG (cut at
 * ARTREC_MSG_MAX, control characters as '?') for ERROR. Returns its
 * length, or 0 when the arguments break the layout. */
size_t artrec_encode(uint8_t kind, uint64_t size, const char *path, const void *data, size_t len, const char *msg,
                     uint8_t *buf);

/* Privileged side: the decoder's state. */
struct artrec_decoder {
        uint8_t buf[ARTREC_MAX];
        size_t have;
        bool ready, finished;
        bool in_file;
        uint64_t left;          /* bytes the open file still has to come */
};

/* Feed N bytes from the parser; each complete record, checked, goes to
 * EMIT (which returns <0 to stop; that value is returned). -EPROTO naming
 * what is wrong for a record out of the set, layout or order: an unknown
 * kind, reserved bits, a length its kind does not allow, a path the rules
 * refuse, a message that is not printable ASCII, DATA outside a file or
 * past its size, a record before READY, while a file is open or after
 * END or ERROR. Returns 0 otherwise (a partial record is kept). */
int artrec_feed(struct artrec_decoder *d, const uint8_t *in, size_t n,
                int (*emit)(const struct artrec *r, void *opaque), void *opaque, struct mlvm_err *e);

/* Did the parser's stream end on a record boundary with END or ERROR? */
bool artrec_complete(const struct artrec_decoder *d);
