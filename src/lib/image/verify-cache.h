/* verify-cache.h: what an earlier full hash of an image file established,
 * so that `mlvm up` need not read an unchanged file again at every boot.
 *
 * An entry records a file's identity and timestamps (device, inode, size,
 * mode, owner, mtime, ctime) when its bytes were read and found to hash to
 * the signed manifest's SHA-256, and when that reading began. A later
 * check trusts the entry only when the file's fstat is identical and the
 * file had last changed at least VCACHE_SETTLE_NS before that reading
 * began: any write, truncation, chmod, chown or rename moves ctime, which
 * nothing but the kernel's clock sets, and a change within the
 * filesystem's timestamp granularity of the reading cannot hide behind an
 * equal ctime (git's "racy" rule). Only root writes the cache (0600 under
 * the state directory), and the image files themselves are root's, 0444.
 *
 * The cache is per image: STATE/cache/verified/<digest>.json, at most
 * VCACHE_MAX_BYTES and VCACHE_MAX_ENTRIES; anything malformed is treated
 * as empty (the files are then hashed, as without a cache). */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#include "digest.h"
#include "err.h"

#define VCACHE_MAX_BYTES (64 * 1024)
#define VCACHE_MAX_ENTRIES 32
#define VCACHE_SETTLE_NS (2LL * 1000 * 1000 * 1000)

struct vcache;

/* Loads the image's cache (empty when absent or malformed): never fails
 * but for memory. */
struct vcache *vcache_load(const char *state_dir, const char *digest);
/* Parses TEXT as a cache (for the loader, the unit tests and the fuzzer). */
struct vcache *vcache_parse(const char *text, size_t len);

/* Is KEY's file, as ST says now, known to hash to SHA256? */
bool vcache_known(const struct vcache *c, const char *key, const struct stat *st, const char *sha256);

/* KEY's file hashed to SHA256 (the manifest's); BEFORE is its fstat before
 * the reading, which began at HASHED_AT_NS (CLOCK_REALTIME), AFTER after:
 * noted only when the two are the same file, unchanged. */
void vcache_note(struct vcache *c, const char *key, const struct stat *before, const struct stat *after,
                 const char *sha256, int64_t hashed_at_ns);

/* Writes the cache back when something was noted (atomically, 0600). */
int vcache_save(struct vcache *c, struct mlvm_err *e);
/* The cache serialized (for tests); the caller frees. */
char *vcache_format(const struct vcache *c);
void vcache_free(struct vcache *c);

/* Removes the image's cache file (image rm). */
void vcache_remove(const char *state_dir, const char *digest);

int64_t vcache_now_ns(void);
