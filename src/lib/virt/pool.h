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

/* What pool_ensure did, as bits; 0 when the pool was there, running and
 * set to autostart. */
enum {
        POOL_DEFINED = 1 << 0,    /* defined and built (then started and set to autostart) */
        POOL_STARTED = 1 << 1,    /* was stopped: rebuilt if its directory was gone, started */
        POOL_AUTOSTART = 1 << 2,  /* autostart turned on */
};

/* Define (a "dir" pool at PATH), build, start and autostart pool NAME as
 * needed; a pool that is already there and running is left as it is.
 * RET_DONE receives the POOL_* bits of what was done. */
int pool_ensure(virConnectPtr conn, const char *name, const char *path, unsigned *ret_done, struct mlvm_err *e);
