/* source-policy.h: which host directories may become a guest's data disk.
 *
 * A data disk copies a host directory into a run's guest. mlvm.yaml names
 * it, and mlvm runs as root: without a policy a config file could hand a
 * tenant the host's signing keys (STATE_DIR/keys), another run's disks
 * (the pool) or /etc. A source is resolved (symlinks included) and refused
 * when it lies in, or contains, a denied directory: mlvm's state directory
 * and storage pool (always), and a fixed host list (/etc, /root, /proc,
 * /sys, /dev, /boot, /run, /var/lib/libvirt, /var/log, ...). Only the host
 * widens or narrows it, never a config file: $MLVM_DISK_SOURCE_DENY adds
 * directories, $MLVM_DISK_SOURCE_ALLOW re-allows directories of the fixed
 * list (never the state directory or the pool); both colon-separated
 * absolute paths. */
#pragma once

#include <stddef.h>

#define SOURCE_POLICY_MAX 64

struct source_policy {
        char *deny[SOURCE_POLICY_MAX];
        char *deny_why[SOURCE_POLICY_MAX];   /* "mlvm's state directory", "a host system directory" */
        size_t n_deny;
        char *allow[SOURCE_POLICY_MAX];
        size_t n_allow;
        size_t n_fixed;                      /* deny[0..n_fixed) are the state dir and the pool: never allowed */
};

/* The policy for STATE_DIR and POOL_PATH (either may be NULL), with the
 * host's settings from the environment. */
void source_policy_init(struct source_policy *p, const char *state_dir, const char *pool_path);
void source_policy_clear(struct source_policy *p);

/* Resolve SOURCE and check it: 0 with *RET_RESOLVED (caller frees) and
 * *RET_FD, an O_PATH descriptor of exactly what was checked, when allowed;
 * -EACCES with WHY filled when refused; -errno when it cannot be resolved
 * (WHY says so). Build from "/proc/self/fd/FD", never from the path again:
 * a directory swapped for a symlink after the check cannot redirect it. */
int source_policy_check(const struct source_policy *p, const char *source, char **ret_resolved, int *ret_fd,
                        char *why, size_t why_len);
