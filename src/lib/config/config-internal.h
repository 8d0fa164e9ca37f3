/* config-internal.h: what the loader's files share: the keys that keep a
 * model up, restart, restart_max, restart_delay and healthcheck (config-upkeep.c), the
 * publish: list (config-publish.c) and the secrets: mapping (config-secrets.c), for the
 * loader (config.c) and the normalized output (config-json.c). */
#pragma once

#include <stdbool.h>

#include <json-c/json.h>

#include "config-yaml.h"
#include "config.h"

/* "unknown key" at KEY, naming the known key (KNOWN, N of them) that K is
 * probably a typo of (config.c). */
int config_unknown_key(struct loader *L, yaml_node_t *key, const char *path, const char *k, const char *const *known,
                       size_t n);
/* Is K one of the keys below? */
bool config_upkeep_key(const char *k);
/* Read workload key KEY (its value VAL, dotted path PATH) into W. */
int config_parse_upkeep(struct loader *L, struct mlvm_workload *w, yaml_node_t *key, yaml_node_t *val,
                        const char *path);
/* Once every key of W is read: what the keys say together (only models
 * restart or have a healthcheck; restart_max needs a restart policy). */
int config_check_upkeep(struct loader *L, const struct mlvm_workload *w, const char *path);
/* W's keys into O, in the file's syntax; nothing when they are the defaults. */
void config_upkeep_to_json(const struct mlvm_workload *w, json_object *o);
/* Read workload key publish: (its value N, dotted path PATH) into W: each
 * spec as mlvm_publish_parse reads it, no two binding the same host address
 * or socket (config-publish.c). */
int config_parse_publish(struct loader *L, struct mlvm_workload *w, yaml_node_t *n, const char *path);
/* Read workload key secrets: (its value N, dotted path PATH) into W; a
 * secret's from and ttl are required (config-secrets.c). */
int config_parse_secrets(struct loader *L, struct mlvm_workload *w, yaml_node_t *n, const char *path);
