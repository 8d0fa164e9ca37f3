/* artifacts.h: what a run produced, brought back from the guest and
 * checked (docs/security.md, hostile guest: the artifact tar is read in
 * userspace with strict rules; no guest-written filesystem is ever mounted
 * on the host).
 *
 * When the workload exits, the agent hashes every file under the
 * experiment's artifact directory, reports each (ARTIFACT: path, size,
 * SHA-256), writes them as one ustar stream from offset 0 of the raw
 * artifact disk and reports the stream (ARTIFACTS_DONE: count, size,
 * SHA-256 of exactly those bytes). The host then reads the first SIZE
 * bytes of the artifact volume through virStorageVolDownload (works
 * remotely), hashes them, and hands them to a parser without privilege
 * (artifact-tar.h: libarchive, tar formats only, no filters), which
 * sends back checked entries (artrec.h); the rules below hold on both
 * sides of that pipe, any breach failing the whole collection:
 *   - entries are regular files or directories: no symlinks, hard links,
 *     devices, FIFOs, sockets, sparse files;
 *   - a path is relative and normalized: no leading '/', no '.' or '..'
 *     component, no empty component, no NUL or other control character
 *     (names end up in one-line messages and listings), at most
 *     ARTIFACT_PATH_MAX bytes; a trailing '/' only on directories; no path twice;
 *   - caps: entry count, each file's size, the total of all files;
 *   - the set of regular files, their sizes and SHA-256s equal the
 *     agent's reports exactly, and the SHA-256 and size of the stream
 *     (every byte up to SIZE, including the end-of-archive blocks and any
 *     padding) equal the agent's.
 * Files are written, by the privileged side alone, under a fresh staging directory with openat() and
 * O_NOFOLLOW|O_EXCL, directories made with mkdirat(); on any failure the
 * staging directory and everything in it is removed, so nothing is kept
 * and nothing is ever written outside it. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <libvirt/libvirt.h>

#include "artifact-path.h"   /* artifact_path_is_valid */
#include "digest.h"
#include "err.h"


struct artifact_limits {
        uint64_t max_entries;     /* files and directories */
        uint64_t max_file;        /* bytes of one file */
        uint64_t max_total;       /* bytes of all files */
};
/* 10,000 entries, 16 GiB per file, 64 GiB in all. */
extern const struct artifact_limits artifact_default_limits;

struct artifact {
        char path[ARTIFACT_PATH_MAX + 1];   /* relative, normalized */
        uint64_t size;
        char sha256[SHA256_HEX_LEN + 1];
};

/* What the agent reported. */
struct artifact_report {
        struct artifact *files;
        size_t n;
        uint64_t tar_size;
        char tar_sha256[SHA256_HEX_LEN + 1];
};


/* How the tar parser (artifact-tar.h) runs. START gets the pipe ends the
 * parser reads the raw stream from (TAR_FD) and writes its records to
 * (REC_FD), both O_CLOEXEC, and starts it; the ends are START's to close
 * (in this process, once handed on), whatever it returns. FINISH waits
 * for the parser to end, after killing it when KILL, and returns 0 for a
 * clean exit or a negative errno with E saying how it ended (a phrase:
 * "exited with status 1"). The monitor
 * runs it as a confined child (src/monitor/untar.c); NULL means a thread
 * of this process (tests, fuzzing). */
struct artifact_parser {
        int (*start)(void *opaque, int tar_fd, int rec_fd, const struct artifact_limits *lim, struct mlvm_err *e);
        int (*finish)(void *opaque, bool kill, struct mlvm_err *e);
        void (*ready)(void *opaque);    /* may be NULL: the parser said READY */
        void *opaque;
        unsigned timeout_ms;    /* no progress for this long: stopped (0: ARTIFACT_PARSER_TIMEOUT_MS) */
};
/* Generous: the parser moves a chunk in microseconds when it is well. */
#define ARTIFACT_PARSER_TIMEOUT_MS 60000u

/* Pull-style source of the stream: returns bytes read (> 0), 0 at its
 * end, or a negative errno (with E filled). */
typedef ssize_t (*artifact_read_fn)(void *opaque, void *buf, size_t len, struct mlvm_err *e);

/* Read the stream from RD (exactly REP->tar_size bytes are expected; fewer
 * or more is an error) and extract it into DEST_DIR, which must not exist
 * yet: created 0700 by this call, removed again on any failure. -EBADMSG
 * with a one-line message naming the entry and the rule it broke, or
 * another negative errno for I/O failures. */
int artifacts_extract(artifact_read_fn rd, void *opaque, const struct artifact_report *rep,
                      const struct artifact_limits *lim, const struct artifact_parser *parser, const char *dest_dir,
                      struct mlvm_err *e);

/* Bytes read of a collection so far, after every chunk (the callee
 * decides how often to tell anyone). */
struct artifact_progress {
        void (*bytes)(void *u, uint64_t done, uint64_t total);
        void *u;
};

/* The same, reading the first REP->tar_size bytes of VOL through
 * virStorageVolDownload (refused when tar_size exceeds its capacity);
 * PR, when not NULL, hears how far the download is. */
int artifacts_collect(virStorageVolPtr vol, const struct artifact_report *rep, const struct artifact_limits *lim,
                      const struct artifact_parser *parser, const struct artifact_progress *pr, const char *dest_dir,
                      struct mlvm_err *e);

/* Walk DIR (an accepted artifact directory) and hash every file, so
 * `mlvm verify` can compare it with the provenance: RET is sorted by
 * path (free() it). Refuses anything but regular files and directories. */
int artifacts_scan(const char *dir, struct artifact **ret, size_t *ret_n, struct mlvm_err *e);

/* Copy the N files V (as artifacts_scan returned them) from SRC_DIR into
 * OUT_DIR (created 0755 if missing), keeping their relative paths. Refuses
 * before copying anything when a destination already exists; never follows
 * a symlink below either directory; re-checks each copy's SHA-256. */
int artifacts_copy(const char *src_dir, const struct artifact *v, size_t n, const char *out_dir,
                   uint64_t *ret_bytes, struct mlvm_err *e);
