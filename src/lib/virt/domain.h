/* domain.h: the libvirt domain XML of one run, built with libxml2.
 * Everything that goes into the XML is validated first (names, run ids,
 * paths, serials, the command line) so that nothing a user or an image
 * supplies can change the document's structure or smuggle in a device. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "err.h"
#include "host.h"

/* The metadata namespace that marks a domain as mlvm's (<mlvm:run .../>). */
#define DOMAIN_XMLNS        "https://mlvm.dev/xmlns/run/1"
#define DOMAIN_XMLNS_PREFIX "mlvm"

#define DOMAIN_MAX_DISKS        20
#define DOMAIN_SERIAL_MAX       20     /* virtio-blk serials are at most 20 bytes */
#define DOMAIN_CMDLINE_MAX      2048   /* the x86 kernel's COMMAND_LINE_SIZE, with the NUL */
#define DOMAIN_PATH_MAX         4096
#define DOMAIN_TIMEOUT_MAX_S    3600   /* what the agent accepts as mlvm.timeout */
/* TCG translation-block cache; QEMU's default is 1 GiB, resident as code is
 * translated. First measurement (minimal image, to HELLO): 44 MiB resident
 * with the default and with 64 MiB, 32 MiB and 16 MiB when capped there
 * (QEMU's own RSS 106, 92, 74 MiB), boot-time effect lost in the noise of a
 * loaded 2-CPU host. So 64 MiB bounds a long run's growth without touching
 * boot; to be measured again on a quiet host and with the python image. */
#define DOMAIN_TB_CACHE_MIB_DEFAULT 64
/* Per-disk IOPS cap: generous (a busy inference server or a data loader
 * stays far below it), but one run cannot saturate a shared host disk. */
#define DOMAIN_DISK_IOPS_DEFAULT    20000

struct domain_disk {
        const char *path;        /* volume path on the hypervisor host (virStorageVolGetPath) */
        const char *format;      /* "qcow2" or "raw" */
        const char *serial;      /* what the agent finds it by, e.g. "mlvm-root" (1..20 bytes, [a-z0-9-]) */
        bool readonly;
};

struct domain_env {              /* everything that is not in mlvm.yaml */
        const char *run_id;      /* [0-9a-f]{8} */
        const char *owner;       /* the state directory's identity, [0-9a-f]{32} (run.h); NULL: none */
        enum mlvm_accel accel;   /* MLVM_ACCEL_KVM -> type='kvm', else type='qemu' (TCG) */
        const char *arch;        /* e.g. x86_64 */
        bool vsock;              /* the hypervisor host has vhost-vsock */
        unsigned vsock_cid;      /* >= 3, used when vsock */
        const char *kernel, *initrd, *cmdline;   /* volume paths and the image's command line */
        struct domain_disk disks[DOMAIN_MAX_DISKS];
        size_t n_disks;          /* root overlay first, then data disks, then the artifact disk */
        unsigned boot_timeout_s; /* 1..3600, appended to the cmdline as mlvm.timeout=N */
        unsigned tb_cache_mib;   /* TCG only; 0: DOMAIN_TB_CACHE_MIB_DEFAULT */
        unsigned disk_iops;      /* total_iops_sec of each disk; 0: DOMAIN_DISK_IOPS_DEFAULT */
        bool no_rng;             /* leave out the virtio-rng device */
        unsigned rc_off;         /* (1 << HOST_RC_*) for each control the host does not enforce: left out */
        bool own_uid;            /* QEMU runs as qemu_uid:qemu_gid (qemu-id.h), libvirt relabels nothing */
        uint32_t qemu_uid, qemu_gid;
};

/* The domain name: "mlvm-" NAME "-" RUN_ID. */
char *domain_name(const char *workload, const char *run_id);

/* XML for a transient domain; fails (-EINVAL, one-line message naming the
 * field) on anything that is not safe to put there: names not matching
 * [a-z0-9][a-z0-9-]{0,62}, run ids not 8 hex, paths that are not absolute,
 * not UTF-8 or contain control characters, serials too long or not
 * [a-z0-9-], a cmdline with control characters or too long for the
 * kernel's 2048 bytes once " mlvm.timeout=N" is appended (2029 bytes). */
int domain_xml(const struct mlvm_workload *w, const struct domain_env *env, char **ret_xml, struct mlvm_err *e);
