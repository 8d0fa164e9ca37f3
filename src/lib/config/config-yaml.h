/* config-yaml.h: the strict YAML machinery under config.c (internal to the
 * loader; nothing else includes it). A struct loader walks one libyaml
 * document: every node visited spends from a budget (aliases cannot
 * multiply work), merge keys (<<) are expanded into plain key lists, and
 * each get_* reads one typed value or fails with "FILE:LINE:COL: PATH: why". */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <yaml.h>

#include "config-limits.h"
#include "err.h"

/* Deeper sequences and mappings are refused before libyaml builds the
 * document: its scanner costs O(depth) per token. */
#define MLVM_CONFIG_MAX_DEPTH 64

struct loader {
        const char *file;
        const char *basedir;
        yaml_document_t *doc;
        struct mlvm_err *e;
        size_t budget;           /* nodes left to visit, aliases counted each time */
};

/* One key of a mapping after merges: KEY and VALUE nodes, K its text. */
struct pair {
        yaml_node_t *key, *value;
        const char *k;
};

struct pairs {
        struct pair *v;
        size_t n;
};

void yml_pairs_free(struct pairs *p);

static inline yaml_node_t *yml_node(struct loader *L, int idx) { return yaml_document_get_node(L->doc, idx); }
static inline const char *yml_scalar(const yaml_node_t *n) { return (const char *)n->data.scalar.value; }
static inline bool yml_is_plain(const yaml_node_t *n) { return n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE; }
static inline struct mlvm_pos yml_pos_of(const yaml_node_t *n)
{
        return (struct mlvm_pos){ (unsigned)n->start_mark.line + 1, (unsigned)n->start_mark.column + 1 };
}

/* Fail with -EINVAL when BUF nests sequences or mappings deeper than
 * MLVM_CONFIG_MAX_DEPTH; syntax errors are left for yaml_parser_load. */
int yaml_check_depth(const char *name, const char *buf, size_t len, struct mlvm_err *e);

/* A printable, bounded copy of user text for error messages (caller frees). */
char *yml_display(const char *s);
/* "PATH.KEY" with KEY made printable (caller frees). */
char *yml_join(const char *path, const char *key);
/* Set "FILE:LINE:COL: PATH: WHAT" at NODE (line 1 when NULL); returns -EINVAL. */
int yml_lerr(struct loader *L, const yaml_node_t *n, const char *path, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
/* "a mapping", "a list", "null" or "a scalar". */
const char *yml_type_name(const yaml_node_t *n);
/* Charge one node to the budget. */
int yml_spend(struct loader *L, const yaml_node_t *n, const char *path);
/* Refuse custom tags (!foo): they would change meaning in other YAML tools. */
int yml_check_tag(struct loader *L, const yaml_node_t *n, const char *path);

/* Typed values. Strings are any non-null scalar without NUL bytes, at most
 * MAX bytes; integers must be plain; sizes are whole MiB; paths are
 * absolute, normalized guest paths. *RET is left untouched on failure. */
int yml_get_string(struct loader *L, const yaml_node_t *n, const char *path, size_t max, const char **ret);
int yml_get_uint(struct loader *L, const yaml_node_t *n, const char *path, uint64_t min, uint64_t max,
             uint64_t *ret);
/* Plain true or false (YAML 1.2 core; no yes/no/on/off). */
int yml_get_bool(struct loader *L, const yaml_node_t *n, const char *path, bool *ret);
int yml_get_size(struct loader *L, const yaml_node_t *n, const char *path, uint64_t min, uint64_t max,
             uint64_t *ret);
int yml_get_duration(struct loader *L, const yaml_node_t *n, const char *path, uint64_t min, uint64_t max,
                 uint64_t *ret);
int yml_get_guest_path(struct loader *L, const yaml_node_t *n, const char *path, const char **ret);
/* A mapping's keys, merges applied (explicit keys win), duplicates refused. */
int yml_get_mapping(struct loader *L, yaml_node_t *n, const char *path, struct pairs *ret);
/* A non-empty list of at most MAX_ITEMS strings. *RET is owned by the
 * caller from the first item on, even on failure (*RET_N counts the items). */
int yml_get_string_list(struct loader *L, yaml_node_t *n, const char *path, size_t max_items, char ***ret,
                    size_t *ret_n);
