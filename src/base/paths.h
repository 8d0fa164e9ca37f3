/* paths.h: where mlvm keeps things. The state directory lives on the
 * machine that runs mlvm; the storage pool lives on the hypervisor host and
 * is only ever reached through libvirt. */
#pragma once

#include "err.h"

/* $MLVM_STATE_DIR, else /var/lib/mlvm for root, else $XDG_STATE_HOME/mlvm
 * (~/.local/state/mlvm). Caller frees. */
char *mlvm_state_dir(void);
/* Create DIR (and its parents) with mode 0700 if missing, then require a
 * real directory (not a symlink) owned by the effective user that group and
 * others cannot access. Never changes an existing directory's mode: the
 * error says how to fix it. */
int mlvm_state_dir_ensure(const char *dir, struct mlvm_err *e);
/* $MLVM_POOL, else "mlvm". */
const char *mlvm_pool_name(void);
/* Target directory for a new pool on the hypervisor host: $MLVM_POOL_PATH,
 * else ~/.local/share/libvirt/mlvm for a local session URI (qemu:///session),
 * else /var/lib/libvirt/mlvm. A remote session (qemu+ssh://HOST/session)
 * needs $MLVM_POOL_PATH: its home directory is not ours to guess. */
int mlvm_pool_default_path(const char *uri, char **ret_path, struct mlvm_err *e);
