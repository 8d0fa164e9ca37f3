/* host-kvm.h: which accelerator a run gets, chosen on evidence.
 *
 * libvirt offering <domain type='kvm'> only says that /dev/kvm exists and
 * KVM_CREATE_VM works. It does not say that QEMU, running as libvirt's QEMU
 * user, can open the node, nor that the KVM behind it boots an ordinary
 * kernel (PVM, a shadow-paging KVM, runs only PVM-built guests). So the
 * choice reads facts: the kernel modules and the node, under a root
 * directory that tests point at recorded trees; qemu.conf, passwd and group
 * for the QEMU user; and, for hosts mlvm cannot read (remote URIs), the
 * recorded outcome of the first KVM boot on that URI. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>
#include <time.h>

#include "err.h"
#include "host.h"

enum host_kvm_module {
        HOST_KVM_MODULE_NONE,     /* no kvm module loaded */
        HOST_KVM_MODULE_VENDOR,   /* kvm_intel or kvm_amd: boots any kernel */
        HOST_KVM_MODULE_PVM,      /* kvm_pvm: boots only PVM guest kernels */
        HOST_KVM_MODULE_OTHER,    /* kvm alone, or a module we do not know */
};

#define HOST_QEMU_MAX_GROUPS 64

/* Who QEMU runs as under libvirt: qemu.conf's user and group (Debian's
 * defaults when unset) and the user's supplementary groups, which libvirt
 * gives QEMU too. */
struct host_qemu_ids {
        char user[64], group[64];
        bool resolved;            /* the ids below are valid */
        uid_t uid;
        gid_t gid;
        gid_t groups[HOST_QEMU_MAX_GROUPS];
        size_t n_groups;
};

/* A device node as QEMU's user would meet it. */
struct host_node {
        bool exists;
        uid_t uid;
        gid_t gid;
        mode_t mode;
        char owner[64], group[64];   /* names, or numbers when unknown */
        bool qemu_can_open;          /* read-write, by mode bits, as host_qemu_ids */
};

/* What a local host says about KVM. */
struct host_kvm_facts {
        enum host_kvm_module module;
        char module_name[32];        /* "kvm_intel", "kvm_pvm", "kvm", "" */
        struct host_node node;       /* /dev/kvm */
        struct host_qemu_ids qemu;
};

/* Read ROOT/etc/libvirt/qemu.conf, ROOT/etc/passwd and ROOT/etc/group.
 * Always fills RET (unresolved names leave resolved false). */
void host_qemu_ids_read(const char *root, struct host_qemu_ids *ret);
/* Read ROOT/sys/module and ROOT/dev/kvm for the ids in F->qemu. */
void host_kvm_facts_read(const char *root, struct host_kvm_facts *f);
/* May IDS open a node of MODE, UID, GID for reading and writing? */
bool host_node_openable(const struct host_qemu_ids *ids, uid_t uid, gid_t gid, mode_t mode);


/* What the first KVM boot on a URI showed. */
enum host_kvm_record { HOST_KVM_UNTRIED, HOST_KVM_BOOTS, HOST_KVM_FAILS };
struct host_kvm_watch {
        enum host_kvm_record state;
        time_t at;
        char reason[256];
        bool cached;
};

struct host_accel_input {
        enum mlvm_accel_request request;
        bool caps_kvm;                         /* libvirt offers <domain type='kvm'> */
        const struct host_kvm_facts *local;    /* NULL: a host mlvm cannot read (remote) */
        const struct host_kvm_watch *watch;    /* the URI's record; NULL: untried */
        const char *uri;
};

struct host_accel_choice {
        enum mlvm_accel accel;
        bool watch;          /* KVM not yet seen to boot here: watch the first boot */
        char why[512];       /* why not KVM ("" when KVM, or TCG was asked for) */
        char fix[256];       /* what would fix it, or "" */
};

/* Decide. -ENODEV with a one-line reason when KVM was asked for and
 * cannot work here; never falls back from an explicit kvm. */
int host_accel_choose(const struct host_accel_input *in, struct host_accel_choice *ret, struct mlvm_err *e);

/* The whole decision for a connection: facts of a local host (RET_FACTS,
 * when not NULL, zeroed and RET_LOCAL false for a remote one), the URI's
 * watch record, then host_accel_choose. */
int host_accel_for(virConnectPtr conn, const char *uri, const char *state_dir, const struct host_caps *caps,
                   enum mlvm_accel_request request, struct host_kvm_facts *ret_facts, bool *ret_local,
                   struct host_kvm_watch *ret_watch, struct host_accel_choice *ret, struct mlvm_err *e);

/* After a watched KVM boot failed before HELLO: did KVM fail (rather than
 * the guest)? Inputs are what can be seen of the domain: whether HELLO
 * timed out, whether it is paused (and libvirt's paused reason: only an
 * unknown or crash reason counts), and the tail of QEMU's log or libvirt's
 * error when readable (NULL otherwise). On true, WHY says what showed it. */
bool host_kvm_watch_failed(bool hello_timed_out, bool domain_paused, int paused_reason, const char *qemu_log,
                           char *why, size_t why_len);

/* The per-URI record of the first KVM boot (STATE_DIR/cache, beside the
 * vsock answer). Reading a missing or unreadable one gives UNTRIED. */
void host_kvm_watch_load(const char *state_dir, const char *uri, struct host_kvm_watch *ret);
void host_kvm_watch_forget(const char *state_dir, const char *uri);
int host_kvm_watch_save(const char *state_dir, const char *uri, enum host_kvm_record state, const char *reason);

/* mlvm setup's fix, on a local host as root: give ROOT/dev/kvm group kvm
 * and mode 0660 (what udev's rule does) when QEMU's user cannot open it.
 * RET_CHANGED says whether anything changed. */
int host_kvm_fix_node(const char *root, bool per_run_uids, bool *ret_changed, struct mlvm_err *e);
/* Can a run's own QEMU uid (QEMU's group, no other groups) open a node
 * of UID:GID MODE? With per-run uids (PER_RUN_UIDS above), host_kvm_fix_node
 * gives the node mode 0666 and group kvm, systemd-udev's default. */
bool host_node_openable_by_run(const struct host_qemu_ids *qemu, uid_t uid, gid_t gid, mode_t mode);
