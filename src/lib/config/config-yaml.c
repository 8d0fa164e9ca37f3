/* config-yaml.c: the generic, strict YAML machinery of the mlvm.yaml loader
 * (config.c keeps the schema); see config-yaml.h. Everything here reads
 * untrusted input: nesting is capped before libyaml builds a document, each
 * node visited spends from a budget, and every value is type- and
 * range-checked. */
#include "mlvm-build.h"

#include <stdarg.h>

#include "config-yaml.h"
#include "units.h"
#include "util.h"

#define MERGE_DEPTH_MAX 8

void yml_pairs_free(struct pairs *p) { free(p->v); }

/* A printable, bounded copy of user text for error messages: one line only. */
char *yml_display(const char *s)
{
        char *out = xmalloc(64 + 4);
        shown_cap(s, 64, out);
        return out;
}

int yml_lerr(struct loader *L, const yaml_node_t *n, const char *path, const char *fmt, ...)
{
        char what[1024];
        va_list ap;

        va_start(ap, fmt);
        text_vset(what, sizeof(what), fmt, ap);
        va_end(ap);
        return err_setx(L->e, -EINVAL, "%s:%zu:%zu: %s: %s", L->file, n ? n->start_mark.line + 1 : 1,
                        n ? n->start_mark.column + 1 : 1, path, what);
}

char *yml_join(const char *path, const char *key)
{
        _cleanup_free_ char *k = yml_display(key);
        return xasprintf("%s.%s", path, k);
}

int yml_spend(struct loader *L, const yaml_node_t *n, const char *path)
{
        if (L->budget == 0)
                return yml_lerr(L, n, path, "too many nodes after alias expansion (limit %d)",
                            MLVM_CONFIG_MAX_NODES);
        L->budget--;
        return 0;
}

int yaml_check_depth(const char *name, const char *buf, size_t len, struct mlvm_err *e)
{
        yaml_parser_t parser;
        int depth = 0, r = 0;

        if (!yaml_parser_initialize(&parser))
                return err_setx(e, -ENOMEM, "%s: cannot initialize the YAML parser", name);
        yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
        /* Events only: the scanner stops at the first level too deep instead
         * of scanning the whole file at every level. */
        for (bool done = false; !done && r == 0;) {
                yaml_event_t ev;
                if (!yaml_parser_parse(&parser, &ev))
                        break;  /* a syntax error: yaml_parser_load reports it, with context */
                switch (ev.type) {
                case YAML_SEQUENCE_START_EVENT:
                case YAML_MAPPING_START_EVENT:
                        if (++depth > MLVM_CONFIG_MAX_DEPTH)
                                r = err_setx(e, -EINVAL, "%s:%zu:%zu: (file): nested deeper than %d", name,
                                             ev.start_mark.line + 1, ev.start_mark.column + 1,
                                             MLVM_CONFIG_MAX_DEPTH);
                        break;
                case YAML_SEQUENCE_END_EVENT:
                case YAML_MAPPING_END_EVENT:
                        depth--;
                        break;
                case YAML_STREAM_END_EVENT:
                        done = true;
                        break;
                default:
                        break;
                }
                yaml_event_delete(&ev);
        }
        yaml_parser_delete(&parser);
        return r;
}

static bool is_null(const yaml_node_t *n)
{
        if (n->type != YAML_SCALAR_NODE || !yml_is_plain(n))
                return false;
        const char *s = yml_scalar(n);
        return !*s || streq(s, "~") || streq(s, "null") || streq(s, "Null") || streq(s, "NULL");
}

const char *yml_type_name(const yaml_node_t *n)
{
        switch (n->type) {
        case YAML_MAPPING_NODE: return "a mapping";
        case YAML_SEQUENCE_NODE: return "a list";
        default: return is_null(n) ? "null" : "a scalar";
        }
}

int yml_check_tag(struct loader *L, const yaml_node_t *n, const char *path)
{
        static const char *const ok[] = {
                YAML_STR_TAG, YAML_INT_TAG, YAML_FLOAT_TAG, YAML_BOOL_TAG, YAML_NULL_TAG,
                YAML_SEQ_TAG, YAML_MAP_TAG,
        };
        const char *tag = (const char *)n->tag;

        if (!tag)
                return 0;
        for (size_t i = 0; i < ARRAY_SIZE(ok); i++)
                if (streq(tag, ok[i]))
                        return 0;
        _cleanup_free_ char *d = yml_display(tag);
        return yml_lerr(L, n, path, "unsupported YAML tag %s", d);
}

static int want(struct loader *L, const yaml_node_t *n, yaml_node_type_t type, const char *path,
                const char *what)
{
        int r = yml_spend(L, n, path);
        if (r < 0)
                return r;
        if (n->type != type)
                return yml_lerr(L, n, path, "must be %s, not %s", what, yml_type_name(n));
        return yml_check_tag(L, n, path);
}

int yml_get_string(struct loader *L, const yaml_node_t *n, const char *path, size_t max, const char **ret)
{
        int r = want(L, n, YAML_SCALAR_NODE, path, "a string");
        if (r < 0)
                return r;
        if (is_null(n))
                return yml_lerr(L, n, path, "must be a string, not null");
        if (strlen(yml_scalar(n)) != n->data.scalar.length)
                return yml_lerr(L, n, path, "contains a NUL byte");
        if (n->data.scalar.length > max)
                return yml_lerr(L, n, path, "is longer than %zu bytes", max);
        *ret = yml_scalar(n);
        return 0;
}

int yml_get_uint(struct loader *L, const yaml_node_t *n, const char *path, uint64_t min, uint64_t max,
             uint64_t *ret)
{
        int r = want(L, n, YAML_SCALAR_NODE, path, "an integer");
        if (r < 0)
                return r;
        if (!yml_is_plain(n))
                return yml_lerr(L, n, path, "must be an integer, not a quoted string");
        _cleanup_free_ char *d = yml_display(yml_scalar(n));
        r = parse_uint(yml_scalar(n), min, max, ret);
        if (r == -ERANGE)
                return yml_lerr(L, n, path, "%s is out of range (%llu to %llu)", d,
                            (unsigned long long)min, (unsigned long long)max);
        if (r < 0)
                return yml_lerr(L, n, path, "invalid integer \"%s\"", d);
        return 0;
}

int yml_get_bool(struct loader *L, const yaml_node_t *n, const char *path, bool *ret)
{
        int r = want(L, n, YAML_SCALAR_NODE, path, "true or false");
        if (r < 0)
                return r;
        if (yml_is_plain(n) && streq(yml_scalar(n), "true"))
                *ret = true;
        else if (yml_is_plain(n) && streq(yml_scalar(n), "false"))
                *ret = false;
        else {
                _cleanup_free_ char *d = yml_display(yml_scalar(n));
                return yml_lerr(L, n, path, "\"%s\": expected true or false", d);
        }
        return 0;
}

/* A size or a duration: a string in the unit's own syntax, in range, and
 * (sizes) a whole number of MiB. One checker, two vocabularies. */
struct unit_kind {
        const char *what, *syntax;
        int (*parse)(const char *s, uint64_t *ret);
        void (*format)(uint64_t v, char *buf, size_t len);
        uint64_t multiple;        /* 0: any value */
        const char *multiple_words;
};

static const struct unit_kind size_kind = {
        "size", "expected a whole number and a unit K, M, G or T (e.g. 256M)", parse_size, format_size,
        1ULL << 20, "a whole number of MiB",
};
static const struct unit_kind duration_kind = {
        "duration", "expected e.g. 30s, 10m, 1h30m, 2d", parse_duration, format_duration, 0, NULL,
};

static int get_unit(struct loader *L, const yaml_node_t *n, const char *path, const struct unit_kind *k,
                    uint64_t min, uint64_t max, uint64_t *ret)
{
        const char *s;
        char lo[32], hi[32];
        uint64_t v;
        int r = yml_get_string(L, n, path, 64, &s);
        if (r < 0)
                return r;
        _cleanup_free_ char *d = yml_display(s);
        r = k->parse(s, &v);
        if (r < 0 && r != -ERANGE)
                return yml_lerr(L, n, path, "invalid %s \"%s\": %s", k->what, d, k->syntax);
        k->format(min, lo, sizeof(lo));
        k->format(max, hi, sizeof(hi));
        if (r == -ERANGE || v < min || v > max)
                return yml_lerr(L, n, path, "%s %s is out of range (%s to %s)", k->what, d, lo, hi);
        if (k->multiple && v % k->multiple)
                return yml_lerr(L, n, path, "%s %s is not %s", k->what, d, k->multiple_words);
        *ret = v;
        return 0;
}

int yml_get_size(struct loader *L, const yaml_node_t *n, const char *path, uint64_t min, uint64_t max,
                 uint64_t *ret)
{
        return get_unit(L, n, path, &size_kind, min, max, ret);
}

int yml_get_duration(struct loader *L, const yaml_node_t *n, const char *path, uint64_t min, uint64_t max,
                     uint64_t *ret)
{
        return get_unit(L, n, path, &duration_kind, min, max, ret);
}

/* An absolute guest path: no "..", no empty or "." components, printable. */
int yml_get_guest_path(struct loader *L, const yaml_node_t *n, const char *path, const char **ret)
{
        const char *s;
        int r = yml_get_string(L, n, path, 255, &s);
        if (r < 0)
                return r;
        _cleanup_free_ char *d = yml_display(s);
        if (s[0] != '/')
                return yml_lerr(L, n, path, "\"%s\" must be an absolute path", d);
        if (streq(s, "/"))
                return yml_lerr(L, n, path, "must not be /");
        for (const char *p = s; *p; p++)
                if ((unsigned char)*p < 0x20 || *p == 0x7f)
                        return yml_lerr(L, n, path, "\"%s\" contains a control character", d);
        for (const char *c = s + 1;;) {
                const char *end = strchrnul(c, '/');
                size_t len = (size_t)(end - c);
                if (len == 0 || (len == 1 && c[0] == '.') || (len == 2 && c[0] == '.' && c[1] == '.'))
                        return yml_lerr(L, n, path, "\"%s\" must be a normalized path (no //, . or ..)", d);
                if (!*end)
                        break;
                c = end + 1;
        }
        *ret = s;
        return 0;
}

static int add_pairs(struct loader *L, yaml_node_t *map, const char *path, struct pairs *out, int depth);

/* The value of "<<": a mapping, or a list of mappings, whose keys fill in
 * what the enclosing mapping does not set itself (earlier sources win). */
static int add_merge(struct loader *L, yaml_node_t *v, const char *path, struct pairs *out, int depth)
{
        int r;

        if (depth >= MERGE_DEPTH_MAX)
                return yml_lerr(L, v, path, "merge keys nested deeper than %d", MERGE_DEPTH_MAX);
        /* Every merge source costs a node, even an empty {}: aliases to empty
         * mappings would otherwise multiply work without spending the budget. */
        if ((r = yml_spend(L, v, path)) < 0 || (r = yml_check_tag(L, v, path)) < 0)
                return r;
        if (v->type == YAML_MAPPING_NODE)
                return add_pairs(L, v, path, out, depth + 1);
        if (v->type != YAML_SEQUENCE_NODE)
                return yml_lerr(L, v, path, "<<: must be a mapping or a list of mappings, not %s", yml_type_name(v));
        for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++) {
                yaml_node_t *m = yml_node(L, *it);
                if ((r = yml_spend(L, m, path)) < 0 || (r = yml_check_tag(L, m, path)) < 0)
                        return r;
                if (m->type != YAML_MAPPING_NODE)
                        return yml_lerr(L, m, path, "<<: must be a mapping or a list of mappings, not %s", yml_type_name(m));
                if ((r = add_pairs(L, m, path, out, depth + 1)) < 0)
                        return r;
        }
        return 0;
}

static bool has_key(const struct pairs *p, size_t end, const char *k)
{
        for (size_t i = 0; i < end; i++)
                if (streq(p->v[i].k, k))
                        return true;
        return false;
}

static bool is_merge_key(const yaml_node_t *k) { return yml_is_plain(k) && streq(yml_scalar(k), "<<"); }

/* At depth 0 duplicate keys are errors; merged keys (depth > 0) are skipped
 * when an explicit or earlier merged key already set them. */
static int add_pairs(struct loader *L, yaml_node_t *map, const char *path, struct pairs *out, int depth)
{
        yaml_node_pair_t *p;
        bool merged = false;
        int r;

        for (p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
                yaml_node_t *k = yml_node(L, p->key), *v = yml_node(L, p->value);
                if ((r = yml_spend(L, k, path)) < 0)
                        return r;
                /* A plain null, Null, NULL or ~ key is the name it spells: keys
                 * here are always names (an env variable may be called NULL).
                 * Only an empty key (`? ` alone) is missing. */
                if (k->type != YAML_SCALAR_NODE)
                        return yml_lerr(L, k, path, "keys must be strings, not %s", yml_type_name(k));
                if (yml_is_plain(k) && !*yml_scalar(k))
                        return yml_lerr(L, k, path, "keys must be strings, not null");
                if (strlen(yml_scalar(k)) != k->data.scalar.length)
                        return yml_lerr(L, k, path, "key contains a NUL byte");
                if ((r = yml_check_tag(L, k, path)) < 0)
                        return r;
                if (is_merge_key(k)) {
                        /* Other YAML tools keep only one of two "<<" keys, silently. */
                        if (merged)
                                return yml_lerr(L, k, path, "duplicate key \"<<\" (use <<: [*a, *b])");
                        merged = true;
                        if (depth > 0 && (r = add_merge(L, v, path, out, depth)) < 0)
                                return r;
                        continue;
                }
                if (has_key(out, out->n, yml_scalar(k))) {
                        if (depth > 0)
                                continue;
                        _cleanup_free_ char *kp = yml_join(path, yml_scalar(k));
                        return yml_lerr(L, k, kp, "duplicate key");
                }
                /* Bounds the quadratic duplicate check too. */
                if (out->n >= MLVM_CONFIG_MAX_KEYS)
                        return yml_lerr(L, k, path, "more than %d keys in one mapping", MLVM_CONFIG_MAX_KEYS);
                out->v = xreallocarray(out->v, out->n + 1, sizeof(*out->v));
                out->v[out->n++] = (struct pair){ k, v, yml_scalar(k) };
        }
        if (depth > 0)
                return 0;
        /* Merges after the explicit keys, so explicit ones win wherever "<<" sits. */
        for (p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
                yaml_node_t *k = yml_node(L, p->key);
                if (is_merge_key(k) && (r = add_merge(L, yml_node(L, p->value), path, out, depth)) < 0)
                        return r;
        }
        return 0;
}

int yml_get_mapping(struct loader *L, yaml_node_t *n, const char *path, struct pairs *ret)
{
        int r = want(L, n, YAML_MAPPING_NODE, path, "a mapping");
        if (r < 0)
                return r;
        return add_pairs(L, n, path, ret, 0);
}

int yml_get_string_list(struct loader *L, yaml_node_t *n, const char *path, size_t max_items, char ***ret,
                    size_t *ret_n)
{
        int r = want(L, n, YAML_SEQUENCE_NODE, path, "a list of strings");
        if (r < 0)
                return r;
        size_t count = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
        if (count == 0)
                return yml_lerr(L, n, path, "must not be empty");
        if (count > max_items)
                return yml_lerr(L, n, path, "has %zu items, more than %zu", count, max_items);
        char **v = xcalloc(count + 1, sizeof(char *));
        *ret = v;  /* owned by the workload from here on, freed with it on error */
        for (size_t i = 0; i < count; i++) {
                const char *s;
                _cleanup_free_ char *ip = xasprintf("%s[%zu]", path, i);
                if ((r = yml_get_string(L, yml_node(L, n->data.sequence.items.start[i]), ip,
                                    MLVM_CONFIG_MAX_STRING, &s)) < 0)
                        return r;
                v[i] = xstrdup(s);
                *ret_n = i + 1;
        }
        return 0;
}
