/* config-limits.h: the caps on mlvm.yaml (the file is untrusted) and
 * where a key was written: what both the schema (config.c) and the YAML
 * machinery below it (config-yaml.c) need, so neither includes the other's
 * header upward. */
#pragma once

#define MLVM_CONFIG_MAX_BYTES     (1024 * 1024)
#define MLVM_CONFIG_MAX_NODES     100000   /* after alias expansion */
#define MLVM_CONFIG_MAX_KEYS      1024     /* per mapping, after merges */
#define MLVM_CONFIG_MAX_WORKLOADS 256
#define MLVM_CONFIG_MAX_ARGS      256
#define MLVM_CONFIG_MAX_ENV       256
#define MLVM_CONFIG_MAX_DISKS     16
#define MLVM_CONFIG_MAX_SECRETS   64
#define MLVM_CONFIG_MAX_SCOPES    64
#define MLVM_CONFIG_MAX_PUBLISH   64
#define MLVM_CONFIG_MAX_STRING    4096
#define MLVM_CONFIG_MAX_ENV_VALUE (32 * 1024)

/* Where a key was written: 1-based; line 0 means "not in the file". */
struct mlvm_pos {
        unsigned line, col;
};
