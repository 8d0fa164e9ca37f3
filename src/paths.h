/* paths.h: where mlvm keeps things. The state directory lives on the
 * machine that runs mlvm; the storage pool lives on the hypervisor host and
 * is only ever reached through libvirt. */
#pragma once

/* $MLVM_STATE_DIR, else /var/lib/mlvm for root, else $XDG_STATE_HOME/mlvm
 * (~/.local/state/mlvm). Caller frees. */
char *mlvm_state_dir(void);
/* $MLVM_POOL, else "mlvm". */
const char *mlvm_pool_name(void);
/* Target directory for a new pool on the hypervisor host: $MLVM_POOL_PATH,
 * else /var/lib/libvirt/mlvm for a system URI, else ~/.local/share/libvirt/mlvm
 * (a session URI is local by nature). Caller frees. */
char *mlvm_pool_default_path(const char *uri);
