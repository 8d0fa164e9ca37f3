/* disk.h: the per-run disks of a run, as volumes in the mlvm storage pool,
 * made through libvirt's storage API only (docs/architecture.md,
 * principles): the root overlay (the run's only writable copy of its
 * image), read-only data disks, the raw artifact disk. All are named after
 * the run, so that disk_delete_run() finds every one of them. */
#pragma once

#include <stdint.h>

#include <libvirt/libvirt.h>

#include "digest.h"
#include "err.h"
#include "volume.h"

#define DISK_RUN_ID_MAX 32

/* Volume names of a run: "mlvm-run-<RUNID>-root", "mlvm-run-<RUNID>-data-<NAME>",
 * "mlvm-run-<RUNID>-artifacts". ROLE is "root", "data" or "artifacts"; NAME is
 * given for "data" only and must be a valid disk name ([a-z0-9][a-z0-9-]*).
 * RUN_ID is [A-Za-z0-9_]{1,32}: no '-', so that one run's prefix never
 * matches another run's volumes. NULL when anything is invalid. */
char *disk_volume_name(const char *run_id, const char *role, const char *name);

/* OWN (every function below): the run's QEMU uid and gid, who owns the
 * volume (qemu-id.h); NULL leaves it root's, for libvirt to hand over. */

/* A qcow2 overlay NAME whose backing store is BACKING_PATH (a raw image
 * volume's path in the same pool), made with virStorageVolCreateXML and a
 * <backingStore> of format raw: O(1) in the base's size, and the base is
 * never written. CAPACITY 0 means the backing volume's capacity. Mode 0600. */
int disk_create_overlay(virStoragePoolPtr pool, const char *name, const char *backing_path, uint64_t capacity,
                        const struct volume_owner *own, struct mlvm_err *e);

/* A data disk NAME from SOURCE, a host directory or a tarball (.tar,
 * .tar.gz, .tar.xz, .tar.zst): an ISO 9660 image (see disk-iso.h) built in
 * a private temporary file, then uploaded with volume_upload() as a read-only
 * volume. RET_SHA256 is the image's SHA-256, for provenance. */
int disk_create_data(virStoragePoolPtr pool, const char *name, const char *source, const struct volume_owner *own,
                     char ret_sha256[SHA256_HEX_LEN + 1], struct mlvm_err *e);

/* A raw, sparse artifact disk NAME of SIZE bytes (allocation 0), mode 0600. */
int disk_create_artifacts(virStoragePoolPtr pool, const char *name, uint64_t size, const struct volume_owner *own,
                          struct mlvm_err *e);

/* Delete every volume of POOL whose name starts with "mlvm-run-<RUN_ID>-";
 * volumes already gone are fine. Tries them all; returns the first error. */
int disk_delete_run(virStoragePoolPtr pool, const char *run_id, struct mlvm_err *e);
