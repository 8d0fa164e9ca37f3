/* pool.h: the mlvm storage pool on the hypervisor host, reached only
 * through libvirt's storage API. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <libvirt/libvirt.h>

#include "err.h"

struct pool_info {
        bool exists, active, autostart;
        char *path;                 /* target directory on the hypervisor host */
        uint64_t capacity, allocation, available;
        int n_volumes;              /* -1 when not active */
};

/* Describe pool NAME; a missing pool is not an error (exists = false). */
int pool_info(virConnectPtr conn, const char *name, struct pool_info *ret, struct mlvm_err *e);
void pool_info_clear(struct pool_info *p);

/* Define (a "dir" pool at PATH), build, start and autostart pool NAME as
 * needed; a pool that is already there and running is left as it is.
 * RET_CREATED tells whether anything was done. */
int pool_ensure(virConnectPtr conn, const char *name, const char *path, bool *ret_created, struct mlvm_err *e);
