/* volume.h: volumes in the mlvm storage pool, through libvirt's storage
 * API and streams only, so the hypervisor host may be remote. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <libvirt/libvirt.h>

#include "digest.h"
#include "err.h"

/* Who owns a run's volume on the hypervisor host: the uid its QEMU runs
 * as (qemu-id.h), set through the volume XML so that libvirt's storage
 * driver chowns it, locally or over a remote URI. */
struct volume_owner {
        uint32_t uid, gid;
};

/* What a new volume is: its XML says all of it, built with libxml2 (names
 * reach it from mlvm.yaml), never by pasting strings. */
struct volume_spec {
        const char *name;
        uint64_t capacity;     /* bytes */
        const char *format;    /* "raw" or "qcow2" */
        const char *mode;      /* "0600", "0444", "0400" */
        bool sparse;           /* allocation 0: costs what is written */
        const char *backing;   /* a raw volume's path (the overlay's base), or NULL */
        const struct volume_owner *owner;   /* NULL: root, as libvirt makes it */
};
char *volume_xml(const struct volume_spec *v);
/* Create the volume V describes in POOL. */
int volume_create(virStoragePoolPtr pool, const struct volume_spec *v, struct mlvm_err *e);

/* Create raw volume NAME of SIZE bytes in POOL with MODE and OWNER (NULL:
 * root) and upload FD's contents into it: "0444" and root's for an image
 * part (shared, no QEMU writes a verified base), "0400" and the run's QEMU
 * uid's for a run's data disk (read-only, and only that QEMU and root read
 * it). The volume is deleted again if anything fails. */
int volume_upload(virStoragePoolPtr pool, const char *name, int fd, uint64_t size, const char *mode,
                  const struct volume_owner *owner, struct mlvm_err *e);
/* Download volume NAME and hash it (at most MAX bytes). */
int volume_hash(virStoragePoolPtr pool, const char *name, uint64_t max, uint64_t *ret_size,
                char ret_hex[SHA256_HEX_LEN + 1], struct mlvm_err *e);
/* Delete NAME if it exists. */
int volume_delete(virStoragePoolPtr pool, const char *name, struct mlvm_err *e);
/* The volume's path on the hypervisor host (what a domain's XML names). */
char *volume_path(virStoragePoolPtr pool, const char *name, struct mlvm_err *e);
/* Look up pool NAME on CONN; refresh it so volumes made elsewhere show. */
int volume_pool(virConnectPtr conn, const char *name, virStoragePoolPtr *ret, struct mlvm_err *e);
/* The same for removing a run's volumes (down, gc, the monitor's
 * teardown): a pool found inactive is started again, its directory
 * rebuilt if it was removed (then the volumes that were in it are gone
 * with it, and deleting them finds nothing). *RET_RESTARTED says so. */
int volume_pool_for_removal(virConnectPtr conn, const char *name, virStoragePoolPtr *ret, bool *ret_restarted,
                            struct mlvm_err *e);
