/* run-up-internal.h: what the phases of `mlvm up` share. run-up.c runs
 * them in order (run-up-host.c, run-up-image.c, run-up-record.c,
 * run-up-identity.c, run-up-disks.c, run-up-start.c) and undoes them on failure; each phase
 * fills its part of struct up_ctx and of the run's record. */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <json-c/json.h>

#include "creds.h"
#include "digest.h"
#include "domain.h"
#include "host-kvm.h"
#include "manifest.h"
#include "mtime.h"
#include "run-up.h"
#include "run.h"
#include "virt.h"
#include "verify-cache.h"
#include "volume.h"

/* A part's volume as it was hashed (local pools). */
struct up_pin {
        int fd;
        struct stat st;
        char *path;
        const char *part;
};

/* The image's verification, run beside the phases that do not depend on
 * it. On a local pool it is joined after libvirt has started the domain
 * paused (QEMU has read the kernel and initramfs by then), and the pinned
 * volumes are re-checked unchanged before the vCPUs run; over a remote
 * URI it is joined before the domain starts. Either way nothing runs
 * that was not verified. */
struct up_verify {
        pthread_t thread;
        bool running;
        bool local;
        struct up_pin pins[MANIFEST_MAX_PARTS];
        size_t n_pins;
        int r;                     /* its result, E its error */
        struct mlvm_err e;
        json_object *verified;     /* the parts verified at boot... */
        json_object *unchanged;    /* ...of which these unchanged since an earlier hash (verify-cache.h) */
        struct vcache *known;
        usec_t t_done;
};

struct up_ctx {
        const struct up_opts *o;
        struct up_result *res;
        json_object *run;          /* the record being built, saved by up_claim and up_domain */

        /* up_host */
        virConnectPtr conn;
        virStoragePoolPtr pool;
        struct host_caps caps;
        struct host_accel_choice accel;
        unsigned boot_timeout;     /* s: the HELLO deadline */
        bool force_tcg;            /* the retry after a failed KVM watch */
        bool watch;                /* this is the first KVM boot seen on the URI */

        char *sources[MLVM_CONFIG_MAX_DISKS];   /* each data disk's source as /proc/self/fd/N: pinned, checked */
        int source_fds[MLVM_CONFIG_MAX_DISKS];  /* O_PATH fds of what the policy allowed (-1: none) */

        /* up_image, up_verify_begin/end */
        char digest[SHA256_HEX_LEN + 1];
        struct manifest m;
        struct up_verify verify;

        /* up_claim: from here on a failure has something to undo */
        char id[RUN_ID_LEN + 1];
        char *dir, *domain;
        bool saved, named;
        unsigned restart_count;    /* up --restart-of: this run's place in the chain */
        int up_lock;               /* runs/ID/up.lock, held until up returns (run.h) */
        char owner[RUN_OWNER_LEN + 1];   /* the state directory's identity (run.h) */

        /* up_identity: the run's QEMU uid (qemu-id.h) */
        bool uid_claimed;
        struct volume_owner qemu_owner;

        /* up_fetch_creds */
        struct cred *creds;
        size_t n_creds;

        /* up_volumes, up_domain: the strings env points at */
        struct domain_env env;
        char *kernel, *initrd, *cmdline, *root_path, *artifacts_path;
        char *data_paths[MLVM_CONFIG_MAX_DISKS], *serials[MLVM_CONFIG_MAX_DISKS];
        char *xml;

        /* up_start, up_wait */
        bool booting;              /* the domain was handed to libvirt: a failure now keeps evidence */
        bool domain_started;
        pid_t monitor;
        bool kvm_failed;           /* a watched KVM boot did not work */
        char kvm_why[256];

        /* timings (CLOCK_MONOTONIC) */
        usec_t t0, t_verified, t_vol0, t_overlay, t_vol1, t_create0, t_created;
        double created_at;         /* wall clock, for the record */
};

/* One line for the user, said once (a retry under TCG says it again). */
void up_notice(struct up_result *ret, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The phases, in order. Each returns 0 or a negative errno with E set. */
int up_check(struct up_ctx *c, struct mlvm_err *e);         /* keys that cannot work here, before anything */
int up_host(struct up_ctx *c, struct mlvm_err *e);          /* connection, accelerator, controls, vsock, pool */
int up_image(struct up_ctx *c, struct mlvm_err *e);         /* the tag's digest and its manifest, read */
int up_verify_begin(struct up_ctx *c, struct mlvm_err *e);  /* the signed manifest and the parts, again... */
int up_verify_end(struct up_ctx *c, struct mlvm_err *e);    /* ...joined: its result (always call it) */
int up_verify_recheck(struct up_ctx *c, struct mlvm_err *e); /* the hashed volumes unchanged since */
void up_verify_clear(struct up_verify *v);
int up_claim(struct up_ctx *c, struct mlvm_err *e);         /* the run id, its directory, record and name */
int up_identity(struct up_ctx *c, struct mlvm_err *e);      /* a uid of its own for the run's QEMU, claimed */
int up_fetch_creds(struct up_ctx *c, struct mlvm_err *e);   /* the first lease of every credential */
int up_volumes(struct up_ctx *c, struct mlvm_err *e);       /* root overlay, data disks, artifact disk */
int up_domain(struct up_ctx *c, struct mlvm_err *e);        /* the domain XML, saved with the record */
int up_start(struct up_ctx *c, struct mlvm_err *e);         /* libvirt starts it; the monitor takes over */
int up_wait(struct up_ctx *c, struct mlvm_err *e);          /* until the agent is ready, watching KVM */

/* -EINTR with "interrupted (SIGNAL): the run is undone" once SIGINT,
 * SIGTERM or SIGHUP reached up; else 0. */
int up_check_interrupt(struct mlvm_err *e);

/* Test hook: with MLVM_TEST_PAUSE_AT=PHASE (claim, volumes, domain,
 * monitor; verified: the image's parts hashed), up stops itself (SIGSTOP)
 * right after that phase, so that a test can kill it there or change a
 * file deterministically (tests/integration/faults.sh, runs.sh). */
void up_test_pause(const char *phase);

/* The tail of libvirt's log of DOMAIN's QEMU on a local host, or NULL. */
char *up_qemu_log_tail(const char *uri, const char *domain);
