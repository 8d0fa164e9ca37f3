/* disk-iso.h: the ISO 9660 image of a data disk, built on the host from a
 * directory or a tarball (disk.c uploads it). Split from disk.c because it
 * is the part that reads user-supplied archives: the unit tests and the
 * fuzzer call it directly, with lowered caps. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "digest.h"
#include "err.h"

struct disk_iso_limits {
        uint64_t max_entries;   /* files and directories, the root excluded */
        uint64_t max_dir_entries; /* entries of one directory */
        uint64_t max_bytes;     /* sum of the regular files' sizes */
        size_t max_path;        /* bytes of a path relative to the disk's root */
        unsigned max_depth;     /* directory levels below the root */
};

/* 100,000 entries, 40,000 in one directory, 64 GiB, 1,024-byte paths, 64 levels. */
extern const struct disk_iso_limits disk_iso_default_limits;

/* Write the ISO 9660 image (level 3, Rock Ridge) of SOURCE, a directory or a
 * tar archive (plain, gzip, xz or zstd), to OUT_FD (-1: hash it, keep
 * nothing). Only regular files and directories are accepted; everything else
 * is refused with a one-line error naming the path. In a tarball that
 * includes hard links (a member naming another one); in a directory, a file
 * with several links is just a file. Modes become 0444, or 0555 for
 * directories and executables; owners root. RET_SHA256/RET_SIZE describe
 * the bytes written. */
int disk_iso_write(const char *source, int out_fd, const struct disk_iso_limits *lim,
                   char ret_sha256[SHA256_HEX_LEN + 1], uint64_t *ret_size, struct mlvm_err *e);
/* The same for a tar archive held in memory (the fuzzer's entry point);
 * WHAT names it in errors. */
int disk_iso_write_tar_memory(const void *buf, size_t len, const char *what, int out_fd,
                              const struct disk_iso_limits *lim, char ret_sha256[SHA256_HEX_LEN + 1],
                              uint64_t *ret_size, struct mlvm_err *e);
