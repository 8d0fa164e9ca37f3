/* store.h: the local image store under STATE_DIR/images.
 *   images/sha256/<digest>/{manifest.json,manifest.sig,kernel,initramfs[,rootfs]}
 *   images/tags/<name>:<tag>    holds "sha256:<digest>\n"
 * The digest is the SHA-256 of manifest.json. Everything in the store is
 * read-only (0444) and was verified on the way in; the hypervisor side gets
 * each part as a read-only volume "mlvm-img-<digest[:16]>-<part>" in the
 * mlvm pool, uploaded and read back through the libvirt API. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include <libvirt/libvirt.h>

#include "digest.h"
#include "err.h"
#include "manifest.h"
#include "verify-cache.h"

struct store_tag {
        char *tag;          /* NAME:TAG */
        char *digest;       /* sha256:<64 hex>, or NULL when the tag file is unreadable or malformed */
        int present;        /* the digest's directory exists */
};

int store_list_tags(const char *state_dir, struct store_tag **ret, size_t *ret_n, struct mlvm_err *e);
void store_tags_free(struct store_tag *t, size_t n);

/* "name" means "name:latest". Fails on anything not NAME[:TAG] or sha256:HEX. */
int store_normalize_ref(const char *ref, char **ret, struct mlvm_err *e);
/* NAME[:TAG] or sha256:<hex> to a digest present in the store. */
int store_resolve(const char *state_dir, const char *ref, char ret_digest[SHA256_HEX_LEN + 1], struct mlvm_err *e);
char *store_volume_name(const char *digest, const char *part);

/* Opens the pool to upload to (*RET_POOL stays the opener's to free; NULL:
 * no upload). Called only once the parts are in the store: libvirtd drops
 * a client that says nothing for 30 s (keepalive), and copying a rootfs of
 * many GiB takes longer than that, so a connection opened before the copy
 * was gone by the upload. */
typedef int (*store_pool_fn)(void *u, virStoragePoolPtr *ret_pool, struct mlvm_err *e);

/* Progress of an import, a line per step (a part verified into the store,
 * uploaded, read back), for people: PROGRESS may be NULL. */
struct store_progress {
        void (*line)(void *u, const char *line);
        void *u;
};

/* Verify directory DIR (manifest.json, manifest.sig and exactly the listed
 * parts) against a trusted key, copy it into the store hashing every byte
 * copied, tag it, and, when OPEN_POOL (called with U) gives a pool, upload
 * each part as a read-only volume and read it back through libvirt to hash
 * what landed. Nothing is left behind on failure. */
int store_import(const char *state_dir, const char *dir, char *const *tags, store_pool_fn open_pool, void *u,
                 const struct store_progress *progress, char ret_digest[SHA256_HEX_LEN + 1], struct mlvm_err *e);

struct verify_item {
        char what[64];      /* "manifest", "signature", "kernel", "volume kernel", ... */
        bool ok;
        uint64_t bytes;
};

struct verify_report {
        char digest[SHA256_HEX_LEN + 1];
        char keyid[KEY_ID_LEN + 1];
        struct verify_item items[16];
        size_t n;
        uint64_t bytes;     /* hashed in all */
};

/* Re-verify a stored image: manifest digest, signature, every part by fd,
 * and (POOL non-NULL) every volume through libvirt. Fails on the first
 * mismatch, naming it. With KNOWN (verify-cache.h), a part unchanged
 * since an earlier hash is not read again, and a part hashed now is noted
 * there; without, every byte is read. PROGRESS (may be NULL) gets a line
 * per part hashed and per volume read back. */
int store_verify(const char *state_dir, const char *digest, virStoragePoolPtr pool, struct vcache *known,
                 const struct store_progress *progress, struct verify_report *ret, struct mlvm_err *e);

/* Every stored image with a part missing from POOL (its directory was
 * removed, say) is verified whole and the missing volumes uploaded again
 * and read back; *RET_N counts them. For `mlvm setup`. */
int store_restore_volumes(const char *state_dir, virStoragePoolPtr pool, const struct store_progress *progress,
                          unsigned *ret_n, struct mlvm_err *e);

/* Remove tag REF; when no tag is left on its digest, remove the image and
 * its volumes. RET_REMOVED tells whether the image itself went. */
int store_rm(const char *state_dir, const char *ref, virStoragePoolPtr pool, bool *ret_removed, struct mlvm_err *e);
