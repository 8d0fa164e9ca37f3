/* host.h: what the hypervisor host behind a libvirt connection offers:
 * versions, the accelerator (KVM or TCG) and whether vhost-vsock works.
 * Detection is split into pure functions over libvirt's answers so that
 * tests can feed it hosts this machine is not (one with KVM and vsock). */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <libvirt/libvirt.h>
#include <json-c/json.h>

#include "accel.h"
#include "err.h"


struct host_caps {
        char *arch;          /* host CPU architecture, e.g. x86_64 */
        char *emulator;      /* QEMU binary for that architecture */
        enum mlvm_accel accel;
        char *dac_qemu;      /* libvirt's DAC base label for type='qemu' domains ("+UID:+GID"), or NULL */
        char *dac_kvm;       /* the same for type='kvm' */
};

/* Read capabilities XML (virConnectGetCapabilities): KVM when the guest
 * entry for the host's architecture offers <domain type='kvm'/>; the DAC
 * base labels when libvirt has the DAC security model. */
int host_caps_parse(const char *xml, struct host_caps *ret, struct mlvm_err *e);
void host_caps_clear(struct host_caps *c);
const char *mlvm_accel_to_string(enum mlvm_accel a);   /* "kvm" or "tcg" */
const char *mlvm_accel_describe(enum mlvm_accel a);    /* for people */

enum vsock_state { VSOCK_UNKNOWN = -1, VSOCK_NO = 0, VSOCK_YES = 1 };

struct vsock_probe {
        enum vsock_state state;
        char *reason;        /* why not, or why unknown; NULL when available */
        time_t probed_at;
        bool cached;
};

/* Interpret the outcome of starting the probe domain: created means yes;
 * libvirt's "unable to open vhost-vsock device" means no; anything else
 * is unknown (the reason is kept). */
enum vsock_state vsock_classify(bool created, int err_code, const char *err_message);

/* Probe by starting a paused throwaway domain with a vsock device, then
 * destroying it. The answer is cached per URI and host name under
 * STATE_DIR/cache unless REFRESH; a state dir that cannot be written only
 * disables the cache. */
int host_probe_vsock(virConnectPtr conn, const char *uri, const char *state_dir, const struct host_caps *caps,
                     enum mlvm_accel accel, bool refresh, struct vsock_probe *ret, struct mlvm_err *e);

/* Start a paused throwaway domain (type from ACCEL, with a vsock device
 * when VSOCK_DEV) that libvirt destroys if we die first. NULL with
 * libvirt's error set when the host refuses it. */
virDomainPtr host_probe_domain_start(virConnectPtr conn, const struct host_caps *caps, enum mlvm_accel accel,
                                     bool vsock_dev);
void vsock_probe_clear(struct vsock_probe *p);

/* STATE_DIR/cache/KIND-HASH.json: what was learnt about the host behind
 * URI, one file per kind of fact. NULL only when hashing fails. */
char *host_cache_path(const char *state_dir, const char *kind, const char *uri);

/* Is the URI one whose host's files are this machine's (qemu:///system)? */
bool host_uri_is_local(const char *uri);

/* Version as "MAJOR.MINOR.MICRO" from libvirt's packed integer. */
void format_version(unsigned long v, char *buf, size_t len);

struct host_versions {
        char libvirt_client[32];   /* the libvirt library mlvm runs with */
        char libvirt_daemon[32];   /* the daemon's; "" without a connection */
        char hv_type[32];          /* "QEMU" for qemu:// URIs; "" without a connection */
        char hv_version[32];       /* the hypervisor's (QEMU's); "" without a connection */
};

/* The versions `mlvm info` and `mlvm version` show: libvirt's own always,
 * the daemon's and the hypervisor's when CONN is not NULL. */
int host_versions(virConnectPtr conn, struct host_versions *ret, struct mlvm_err *e);
