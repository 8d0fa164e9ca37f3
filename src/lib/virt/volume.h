/* volume.h: volumes in the mlvm storage pool, through libvirt's storage
 * API and streams only, so the hypervisor host may be remote. */
#pragma once

#include <stdint.h>

#include <libvirt/libvirt.h>

#include "digest.h"
#include "err.h"

/* Create raw volume NAME of SIZE bytes in POOL (mode 0444: nobody writes a
 * verified base) and upload FD's contents into it. The volume is deleted
 * again if anything fails. */
int volume_upload(virStoragePoolPtr pool, const char *name, int fd, uint64_t size, struct mlvm_err *e);
/* Download volume NAME and hash it (at most MAX bytes). */
int volume_hash(virStoragePoolPtr pool, const char *name, uint64_t max, uint64_t *ret_size,
                char ret_hex[SHA256_HEX_LEN + 1], struct mlvm_err *e);
/* Delete NAME if it exists. */
int volume_delete(virStoragePoolPtr pool, const char *name, struct mlvm_err *e);
/* The volume's path on the hypervisor host (what a domain's XML names). */
char *volume_path(virStoragePoolPtr pool, const char *name, struct mlvm_err *e);
/* Look up pool NAME on CONN; refresh it so volumes made elsewhere show. */
int volume_pool(virConnectPtr conn, const char *name, virStoragePoolPtr *ret, struct mlvm_err *e);
