/* host-rc.h: which resource controls the hypervisor host enforces.
 *
 * libvirt refuses a whole domain when one control cannot be applied (a
 * <blkiotune><weight> without BFQ or CFQ: "blkio device weight is valid
 * only for bfq or cfq scheduler"), so mlvm asks first and emits only what
 * the host enforces. A local host is read from its cgroup tree (under a
 * root directory tests point at recorded trees); a host mlvm cannot read
 * (remote URI) is asked through a paused throwaway domain whose controls
 * are set live one by one, and the answer is cached per URI. */
#pragma once

#include <stdbool.h>
#include <time.h>

#include <libvirt/libvirt.h>
#include <json-c/json.h>

#include "err.h"
#include "host.h"

enum host_rc_control {
        HOST_RC_CPU_SHARES,   /* cputune shares: CPU share under contention */
        HOST_RC_CPU_QUOTA,    /* cputune global_period/global_quota: a cap of vCPUs' worth */
        HOST_RC_MEM_SOFT,     /* memtune soft_limit: reclaimed first under pressure */
        HOST_RC_MEM_HARD,     /* memtune hard_limit: memory_limit in mlvm.yaml */
        HOST_RC_IO_WEIGHT,    /* blkiotune weight: share of the disk */
        HOST_RC_DISK_IOTUNE,  /* per-disk iotune: QEMU throttles, no cgroup needed */
        HOST_RC_N
};

#define HOST_RC_WHY_MAX 256

struct host_rc {
        char source[32];                  /* "cgroup v1", "cgroup v2", "probe domain", "none" */
        bool enforced[HOST_RC_N];
        char why[HOST_RC_N][HOST_RC_WHY_MAX];   /* why not, or how */
        time_t probed_at;
        bool cached;
};

const char *host_rc_key(enum host_rc_control c);        /* "io_weight": JSON keys */
const char *host_rc_describe(enum host_rc_control c);   /* "I/O weight": for people */

/* Read ROOT/sys/fs/cgroup and ROOT/sys/block (local hosts). */
void host_rc_from_sysfs(const char *root, struct host_rc *ret);

/* A live setter's refusal, as libvirt worded it, into a reason. */
void host_rc_refusal(enum host_rc_control c, const char *libvirt_message, char *why, size_t len);

/* Local URI: the sysfs answer. Otherwise the probe domain's, cached per
 * URI for a day unless REFRESH. */
int host_rc_get(virConnectPtr conn, const char *uri, const char *state_dir, const struct host_caps *caps,
                bool refresh, struct host_rc *ret, struct mlvm_err *e);

/* {"source": ..., "controls": {KEY: {"enforced": B, "why": S}}}: for
 * run.json (inspect) and info --json. */
json_object *host_rc_json(const struct host_rc *rc);

/* Bit (1 << control) for every control the host does not enforce. */
unsigned host_rc_missing(const struct host_rc *rc);
