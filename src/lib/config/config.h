/* config.h: mlvm.yaml as C structs.
 * The loader (config.c) is strict: unknown keys, wrong types, duplicate keys,
 * bad sizes and durations, and out-of-range values are errors reported as
 * "FILE:LINE:COL: KEY: what is wrong". Anchors, aliases and merge keys (<<)
 * work as in Compose; keys starting with "x-" at the top level and in a
 * model or experiment are extension fields, accepted and ignored. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "accel.h"
#include "config-limits.h"
#include "err.h"

/* Caps on untrusted input (the file may come from anyone). */

#define MLVM_VCPUS_MAX      64
#define MLVM_MEMORY_MIN     (64ULL << 20)
#define MLVM_MEMORY_MAX     (1ULL << 40)
#define MLVM_MEMORY_DEFAULT (256ULL << 20)
#define MLVM_TTL_MIN_S      10
#define MLVM_TTL_MAX_S      (24 * 3600)
#define MLVM_TIMEOUT_MAX_S  (7 * 24 * 3600)
/* retention: at least a minute (a record must outlive the up that ends it
 * long enough to be read), at most what parse_duration reads. */
#define MLVM_RETENTION_MIN_S 60
#define MLVM_RETENTION_MAX_S (366 * 24 * 3600)

enum mlvm_kind { MLVM_KIND_MODEL, MLVM_KIND_EXPERIMENT };
/* restart: what the monitor does when a model's run ends by itself (not by
 * mlvm down): nothing, start it again when it failed, or always. */
enum mlvm_restart { MLVM_RESTART_NO, MLVM_RESTART_ON_FAILURE, MLVM_RESTART_ALWAYS };
#define MLVM_RESTART_MAX_DEFAULT 5      /* restarts in a row before the chain stops */
#define MLVM_RESTART_MAX_MAX     1000
#define MLVM_RESTART_DELAY_DEFAULT_S 1  /* the first wait; it doubles with each restart */
#define MLVM_RESTART_DELAY_MAX_S (24 * 3600)
enum mlvm_health_kind { MLVM_HEALTH_NONE, MLVM_HEALTH_TCP, MLVM_HEALTH_HTTP };
#define MLVM_HEALTH_INTERVAL_DEFAULT_S 10
#define MLVM_HEALTH_TIMEOUT_DEFAULT_S  5
#define MLVM_HEALTH_RETRIES_DEFAULT    3
#define MLVM_HEALTH_RETRIES_MAX        100
#define MLVM_HEALTH_PERIOD_MAX_S       3600
#define MLVM_HEALTH_PATH_MAX           1024
enum mlvm_transport { MLVM_TRANSPORT_AUTO, MLVM_TRANSPORT_VSOCK, MLVM_TRANSPORT_VIRTIO_SERIAL };


struct mlvm_env {
        char *name, *value;
};

struct mlvm_disk {
        char *name;
        char *source;     /* absolute: relative paths resolve against the file's directory */
        char *mount;      /* absolute guest path; mounted read-only */
        struct mlvm_pos pos;
};

struct mlvm_secret {
        char *name;
        char *from;       /* "store:NAME", "exec:COMMAND" or "jwt" */
        uint64_t ttl_s;
        bool rotate;      /* renewed before the TTL ends (default); false: delivered once, then expires */
        char **scope;
        size_t n_scope;
        struct mlvm_pos pos;
};

struct mlvm_publish {
        char *host_addr;  /* NULL for a unix socket */
        char *unix_path;  /* NULL for TCP */
        uint16_t host_port, guest_port;
        struct mlvm_pos pos;
};

/* healthcheck: probed by the monitor through the agent (a stream to the
 * guest port: tcp is the connection accepted, http a 2xx or 3xx answer
 * to GET PATH). */
struct mlvm_healthcheck {
        enum mlvm_health_kind kind;   /* NONE: no healthcheck */
        uint16_t port;
        char *path;                   /* http only */
        uint64_t interval_s, timeout_s, start_period_s;
        unsigned retries;
};

struct mlvm_workload {
        enum mlvm_kind kind;
        char *name;
        struct mlvm_pos pos;
        char *image;
        unsigned vcpus;
        uint64_t memory;          /* bytes, a multiple of 1 MiB */
        uint64_t memory_limit;    /* host-side hard limit (memtune), bytes; 0: none */
        char **command;           /* NULL when none: a model then idles */
        size_t n_command;
        struct mlvm_env *env;
        size_t n_env;
        struct mlvm_disk *disks;
        size_t n_disks;
        struct mlvm_secret *secrets;
        size_t n_secrets;
        char *artifacts;          /* guest directory, or NULL */
        struct mlvm_publish *publish;
        size_t n_publish;
        uint64_t timeout_s;       /* 0: none */
        enum mlvm_transport transport;
        enum mlvm_accel_request accel;   /* accel: auto (default), kvm, tcg */
        bool exec_allowed;        /* exec: allow (default deny): `mlvm exec` may run commands in it */
        enum mlvm_restart restart;   /* models only */
        unsigned restart_max;
        uint64_t restart_delay_s;
        struct mlvm_healthcheck health;   /* models only */
        /* Positions of optional keys, so later stages can point at them. */
        struct {
                struct mlvm_pos image, vcpus, memory, memory_limit, command, env, disks, secrets,
                        artifacts, publish, timeout, transport, exec, accel, restart, restart_max, restart_delay,
                        healthcheck;
        } at;
};

struct mlvm_config {
        char *path;
        char *dir;                /* absolute directory of the file */
        struct mlvm_workload *w;  /* models first, then experiments, each in file order */
        size_t n;
        uint64_t retention_s;     /* retention: ended runs of these workloads older than this go; 0: kept */
};

int mlvm_config_load(const char *path, struct mlvm_config **ret, struct mlvm_err *e);
/* Parse BUF (LEN bytes) as if read from NAME; relative disk sources resolve
 * against BASEDIR. Used by the fuzz target and the tests. */
int mlvm_config_parse(const char *name, const char *basedir, const char *buf, size_t len,
                      struct mlvm_config **ret, struct mlvm_err *e);
void mlvm_config_free(struct mlvm_config *c);
static inline void mlvm_config_freep(struct mlvm_config **c) { mlvm_config_free(*c); }

/* One publish spec, [ADDR:]HOST_PORT:GUEST_PORT (ADDR defaults to
 * 127.0.0.1; IPv6 in brackets) or unix:/PATH:GUEST_PORT. -EINVAL if not. */
int mlvm_publish_parse(const char *spec, struct mlvm_publish *p);
/* P as the spec mlvm_publish_parse reads back (free() it). */
char *mlvm_publish_to_string(const struct mlvm_publish *p);
/* Is the publish's host address a loopback one (127.0.0.0/8, ::1), or a unix socket? */
bool mlvm_publish_is_local(const struct mlvm_publish *p);

const struct mlvm_workload *mlvm_config_find(const struct mlvm_config *c, const char *name);
/* -ENOENT with "FILE: no model or experiment NAME", naming the closest
 * name of the file when one is close ("(did you mean model-a?)"). */
int mlvm_config_not_found(const struct mlvm_config *c, const char *file, const char *name, struct mlvm_err *e);

const char *mlvm_kind_to_string(enum mlvm_kind k);
const char *mlvm_transport_to_string(enum mlvm_transport t);
const char *mlvm_restart_to_string(enum mlvm_restart r);
/* "no", "on-failure", "always": 0, or -EINVAL. */
int mlvm_restart_parse(const char *s, enum mlvm_restart *ret);

/* The normalized file, defaults filled in, as JSON that loads back as mlvm.yaml. */
json_object *mlvm_config_to_json(const struct mlvm_config *c);
