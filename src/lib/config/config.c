/* config.c: the mlvm.yaml schema, loaded with libyaml into struct
 * mlvm_config. The file is untrusted input: it is size- and depth-capped
 * before parsing, aliases are expanded under a node budget (no billion
 * laughs), and every value is checked for type and range by the machinery
 * in config-yaml.c. The first error wins and names FILE:LINE:COL and the
 * dotted key path. */
#include "mlvm-build.h"

#include "config.h"
#include "config-internal.h"
#include "config-yaml.h"
#include "suggest.h"
#include "units.h"
#include "util.h"

static bool image_ref_is_valid(const char *s)
{
        if (strstartswith(s, "sha256:")) {
                s += 7;
                if (strlen(s) != 64)
                        return false;
                for (; *s; s++)
                        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
                                return false;
                return true;
        }
        const char *colon = strchr(s, ':');
        size_t nlen = colon ? (size_t)(colon - s) : strlen(s);
        if (nlen == 0 || nlen > 128)
                return false;
        for (size_t i = 0; i < nlen; i++) {
                char c = s[i];
                if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                      (i > 0 && (c == '-' || c == '.' || c == '_'))))
                        return false;
        }
        if (!colon)
                return true;
        const char *tag = colon + 1;
        size_t tlen = strlen(tag);
        if (tlen == 0 || tlen > 128)
                return false;
        for (size_t i = 0; i < tlen; i++) {
                char c = tag[i];
                if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      (i > 0 && (c == '-' || c == '.' || c == '_'))))
                        return false;
        }
        return true;
}

static int parse_env(struct loader *L, struct mlvm_workload *w, yaml_node_t *n, const char *path)
{
        _cleanup_(yml_pairs_free) struct pairs m = { 0 };
        int r = yml_get_mapping(L, n, path, &m);
        if (r < 0)
                return r;
        if (m.n > MLVM_CONFIG_MAX_ENV)
                return yml_lerr(L, n, path, "has %zu variables, more than %d", m.n, MLVM_CONFIG_MAX_ENV);
        w->env = xcalloc(m.n, sizeof(*w->env));
        for (size_t i = 0; i < m.n; i++) {
                _cleanup_free_ char *kp = yml_join(path, m.v[i].k);
                const char *val;
                if (!env_name_is_valid(m.v[i].k))
                        return yml_lerr(L, m.v[i].key, kp, "not a valid variable name ([A-Za-z_][A-Za-z0-9_]*)");
                if ((r = yml_get_string(L, m.v[i].value, kp, MLVM_CONFIG_MAX_ENV_VALUE, &val)) < 0)
                        return r;
                w->env[i] = (struct mlvm_env){ xstrdup(m.v[i].k), xstrdup(val) };
                w->n_env = i + 1;
        }
        return 0;
}

static char *resolve_source(struct loader *L, const char *src)
{
        if (src[0] == '/')
                return xstrdup(src);
        if (strstartswith(src, "./"))
                src += 2;
        return xasprintf("%s/%s", L->basedir, src);
}

/* The keys each mapping knows, for "did you mean" after an unknown one. */
static const char *const workload_keys[] = {
        "image", "vcpus", "memory", "memory_limit", "command", "env", "disks", "secrets", "artifacts", "publish",
        "timeout", "transport", "accel", "exec", "restart", "restart_max", "restart_delay",
        "healthcheck",
};
static const char *const disk_keys[] = { "source", "mount" };
static const char *const root_keys[] = { "models", "experiments", "retention" };

/* "unknown key", naming the known key K is probably a typo of. */
int config_unknown_key(struct loader *L, yaml_node_t *key, const char *path, const char *k, const char *const *known,
                       size_t n)
{
        const char *near = suggest_word(k, known, n);
        if (near)
                return yml_lerr(L, key, path, "unknown key (did you mean %s?)", near);
        return yml_lerr(L, key, path, "unknown key");
}

static int parse_disks(struct loader *L, struct mlvm_workload *w, yaml_node_t *n, const char *path)
{
        _cleanup_(yml_pairs_free) struct pairs m = { 0 };
        int r = yml_get_mapping(L, n, path, &m);
        if (r < 0)
                return r;
        if (m.n > MLVM_CONFIG_MAX_DISKS)
                return yml_lerr(L, n, path, "has %zu disks, more than %d", m.n, MLVM_CONFIG_MAX_DISKS);
        w->disks = xcalloc(m.n, sizeof(*w->disks));
        for (size_t i = 0; i < m.n; i++) {
                _cleanup_free_ char *dp = yml_join(path, m.v[i].k);
                _cleanup_(yml_pairs_free) struct pairs d = { 0 };
                const char *source = NULL, *mount = NULL;
                yaml_node_t *mount_node = NULL;

                if (!name_is_valid(m.v[i].k))
                        return yml_lerr(L, m.v[i].key, dp, "not a valid disk name ([a-z0-9][a-z0-9-]{0,62})");
                if ((r = yml_get_mapping(L, m.v[i].value, dp, &d)) < 0)
                        return r;
                for (size_t j = 0; j < d.n; j++) {
                        _cleanup_free_ char *kp = yml_join(dp, d.v[j].k);
                        if (streq(d.v[j].k, "source"))
                                r = yml_get_string(L, d.v[j].value, kp, MLVM_CONFIG_MAX_STRING, &source);
                        else if (streq(d.v[j].k, "mount")) {
                                mount_node = d.v[j].value;
                                r = yml_get_guest_path(L, d.v[j].value, kp, &mount);
                        } else
                                r = config_unknown_key(L, d.v[j].key, kp, d.v[j].k, disk_keys, ARRAY_SIZE(disk_keys));
                        if (r < 0)
                                return r;
                }
                if (!source)
                        return yml_lerr(L, m.v[i].key, dp, "missing required key \"source\"");
                if (!mount)
                        return yml_lerr(L, m.v[i].key, dp, "missing required key \"mount\"");
                for (size_t j = 0; j < w->n_disks; j++)
                        if (streq(w->disks[j].mount, mount)) {
                                _cleanup_free_ char *kp = yml_join(dp, "mount");
                                return yml_lerr(L, mount_node, kp, "%s is already the mount point of disk %s",
                                            mount, w->disks[j].name);
                        }
                w->disks[i] = (struct mlvm_disk){ xstrdup(m.v[i].k), resolve_source(L, source),
                                                  xstrdup(mount), yml_pos_of(m.v[i].key) };
                w->n_disks = i + 1;
        }
        return 0;
}

static int parse_transport(struct loader *L, struct mlvm_workload *w, yaml_node_t *n, const char *path)
{
        const char *s;
        int r = yml_get_string(L, n, path, 64, &s);
        if (r < 0)
                return r;
        if (streq(s, "auto"))
                w->transport = MLVM_TRANSPORT_AUTO;
        else if (streq(s, "vsock"))
                w->transport = MLVM_TRANSPORT_VSOCK;
        else if (streq(s, "virtio-serial"))
                w->transport = MLVM_TRANSPORT_VIRTIO_SERIAL;
        else {
                _cleanup_free_ char *d = yml_display(s);
                return yml_lerr(L, n, path, "\"%s\" is not one of auto, vsock, virtio-serial", d);
        }
        return 0;
}

static int parse_workload(struct loader *L, struct mlvm_workload *w, yaml_node_t *key, yaml_node_t *n,
                          const char *path)
{
        _cleanup_(yml_pairs_free) struct pairs m = { 0 };
        const char *s;
        uint64_t v;
        int r;

        if ((r = yml_get_mapping(L, n, path, &m)) < 0)
                return r;
        w->vcpus = 1;
        w->memory = MLVM_MEMORY_DEFAULT;
        w->transport = MLVM_TRANSPORT_AUTO;
        w->restart_max = MLVM_RESTART_MAX_DEFAULT;
        w->restart_delay_s = MLVM_RESTART_DELAY_DEFAULT_S;
        for (size_t i = 0; i < m.n; i++) {
                const char *k = m.v[i].k;
                yaml_node_t *val = m.v[i].value;
                struct mlvm_pos at = yml_pos_of(m.v[i].key);
                _cleanup_free_ char *kp = yml_join(path, k);

                if (strstartswith(k, "x-"))
                        continue;
                if (streq(k, "image")) {
                        if ((r = yml_get_string(L, val, kp, 300, &s)) < 0)
                                return r;
                        if (!image_ref_is_valid(s)) {
                                _cleanup_free_ char *d = yml_display(s);
                                return yml_lerr(L, val, kp, "\"%s\" is not NAME[:TAG] or sha256:<64 hex digits>", d);
                        }
                        w->image = xstrdup(s);
                        w->at.image = at;
                } else if (streq(k, "vcpus")) {
                        if ((r = yml_get_uint(L, val, kp, 1, MLVM_VCPUS_MAX, &v)) < 0)
                                return r;
                        w->vcpus = (unsigned)v;
                        w->at.vcpus = at;
                } else if (streq(k, "memory")) {
                        if ((r = yml_get_size(L, val, kp, MLVM_MEMORY_MIN, MLVM_MEMORY_MAX, &w->memory)) < 0)
                                return r;
                        w->at.memory = at;
                } else if (streq(k, "memory_limit")) {
                        if ((r = yml_get_size(L, val, kp, MLVM_MEMORY_MIN, MLVM_MEMORY_MAX, &w->memory_limit)) < 0)
                                return r;
                        w->at.memory_limit = at;
                } else if (streq(k, "command")) {
                        if ((r = yml_get_string_list(L, val, kp, MLVM_CONFIG_MAX_ARGS, &w->command, &w->n_command)) < 0)
                                return r;
                        if (!w->command[0][0])
                                return yml_lerr(L, val, kp, "the program name must not be empty");
                        w->at.command = at;
                } else if (streq(k, "env")) {
                        if ((r = parse_env(L, w, val, kp)) < 0)
                                return r;
                        w->at.env = at;
                } else if (streq(k, "disks")) {
                        if ((r = parse_disks(L, w, val, kp)) < 0)
                                return r;
                        w->at.disks = at;
                } else if (streq(k, "secrets")) {
                        if ((r = config_parse_secrets(L, w, val, kp)) < 0)
                                return r;
                        w->at.secrets = at;
                } else if (streq(k, "artifacts")) {
                        if ((r = yml_get_guest_path(L, val, kp, &s)) < 0)
                                return r;
                        w->artifacts = xstrdup(s);
                        w->at.artifacts = at;
                } else if (streq(k, "publish")) {
                        if ((r = config_parse_publish(L, w, val, kp)) < 0)
                                return r;
                        w->at.publish = at;
                } else if (streq(k, "timeout")) {
                        if ((r = yml_get_duration(L, val, kp, 1, MLVM_TIMEOUT_MAX_S, &w->timeout_s)) < 0)
                                return r;
                        w->at.timeout = at;
                } else if (streq(k, "transport")) {
                        if ((r = parse_transport(L, w, val, kp)) < 0)
                                return r;
                        w->at.transport = at;
                } else if (streq(k, "accel")) {
                        const char *av;
                        if ((r = yml_get_string(L, val, kp, 16, &av)) < 0)
                                return r;
                        if (mlvm_accel_request_parse(av, &w->accel) < 0) {
                                _cleanup_free_ char *d = yml_display(av);
                                return yml_lerr(L, val, kp, "\"%s\" is not one of auto, kvm, tcg", d);
                        }
                        w->at.accel = at;
                } else if (streq(k, "exec")) {
                        const char *ev;
                        if ((r = yml_get_string(L, val, kp, 16, &ev)) < 0)
                                return r;
                        if (!streq(ev, "allow") && !streq(ev, "deny")) {
                                _cleanup_free_ char *d = yml_display(ev);
                                return yml_lerr(L, val, kp, "\"%s\": expected allow or deny", d);
                        }
                        w->exec_allowed = streq(ev, "allow");
                        w->at.exec = at;
                } else if (config_upkeep_key(k)) {
                        if ((r = config_parse_upkeep(L, w, m.v[i].key, val, kp)) < 0)
                                return r;
                } else
                        return config_unknown_key(L, m.v[i].key, kp, k, workload_keys, ARRAY_SIZE(workload_keys));
        }
        if (!w->image)
                return yml_lerr(L, key, path, "missing required key \"image\"");
        if ((r = config_check_upkeep(L, w, path)) < 0)
                return r;
        if (w->memory_limit && w->memory_limit < w->memory) {
                _cleanup_free_ char *kp = yml_join(path, "memory_limit");
                return err_setx(L->e, -EINVAL, "%s:%u:%u: %s: must be at least memory", L->file, w->at.memory_limit.line,
                                w->at.memory_limit.col, kp);
        }
        return 0;
}

static int parse_section(struct loader *L, struct mlvm_config *c, enum mlvm_kind kind, yaml_node_t *n,
                         const char *section)
{
        _cleanup_(yml_pairs_free) struct pairs m = { 0 };
        int r = yml_get_mapping(L, n, section, &m);
        if (r < 0)
                return r;
        for (size_t i = 0; i < m.n; i++) {
                _cleanup_free_ char *path = yml_join(section, m.v[i].k);
                if (!name_is_valid(m.v[i].k))
                        return yml_lerr(L, m.v[i].key, path, "not a valid name ([a-z0-9][a-z0-9-]{0,62})");
                const struct mlvm_workload *other = mlvm_config_find(c, m.v[i].k);
                if (other)
                        return yml_lerr(L, m.v[i].key, path, "name already used by %s %s at line %u",
                                    mlvm_kind_to_string(other->kind), other->name, other->pos.line);
                if (c->n >= MLVM_CONFIG_MAX_WORKLOADS)
                        return yml_lerr(L, m.v[i].key, path, "more than %d models and experiments",
                                    MLVM_CONFIG_MAX_WORKLOADS);
                c->w = xreallocarray(c->w, c->n + 1, sizeof(*c->w));
                struct mlvm_workload *w = &c->w[c->n++];
                *w = (struct mlvm_workload){ .kind = kind, .name = xstrdup(m.v[i].k), .pos = yml_pos_of(m.v[i].key) };
                if ((r = parse_workload(L, w, m.v[i].key, m.v[i].value, path)) < 0)
                        return r;
        }
        return 0;
}

static int parse_root(struct loader *L, struct mlvm_config *c, yaml_node_t *root)
{
        _cleanup_(yml_pairs_free) struct pairs m = { 0 };
        yaml_node_t *models = NULL, *experiments = NULL;
        int r;

        if (!root)
                return yml_lerr(L, NULL, "(file)", "is empty: define models: or experiments:");
        if (root->type != YAML_MAPPING_NODE)
                return yml_lerr(L, root, "(file)", "must be a mapping with models: and/or experiments:, not %s",
                            yml_type_name(root));
        if ((r = yml_get_mapping(L, root, "(file)", &m)) < 0)
                return r;
        for (size_t i = 0; i < m.n; i++) {
                if (streq(m.v[i].k, "models"))
                        models = m.v[i].value;
                else if (streq(m.v[i].k, "experiments"))
                        experiments = m.v[i].value;
                else if (streq(m.v[i].k, "retention")) {
                        if ((r = yml_get_duration(L, m.v[i].value, "retention", MLVM_RETENTION_MIN_S,
                                                  MLVM_RETENTION_MAX_S, &c->retention_s)) < 0)
                                return r;
                } else if (!strstartswith(m.v[i].k, "x-")) {
                        _cleanup_free_ char *d = yml_display(m.v[i].k);
                        const char *near = suggest_word(m.v[i].k, root_keys, ARRAY_SIZE(root_keys));
                        if (near)
                                return yml_lerr(L, m.v[i].key, d, "unknown key (did you mean %s?)", near);
                        return yml_lerr(L, m.v[i].key, d, "unknown key (expected models, experiments, retention or x-*)");
                }
        }
        if (models && (r = parse_section(L, c, MLVM_KIND_MODEL, models, "models")) < 0)
                return r;
        if (experiments && (r = parse_section(L, c, MLVM_KIND_EXPERIMENT, experiments, "experiments")) < 0)
                return r;
        if (c->n == 0)
                return yml_lerr(L, root, "(file)", "defines no models or experiments");
        return 0;
}

int mlvm_config_parse(const char *name, const char *basedir, const char *buf, size_t len,
                      struct mlvm_config **ret, struct mlvm_err *e)
{
        _cleanup_(mlvm_config_freep) struct mlvm_config *c = xcalloc(1, sizeof(*c));
        yaml_parser_t parser;
        yaml_document_t doc, extra;
        int r;

        if (len > MLVM_CONFIG_MAX_BYTES)
                return err_setx(e, -EFBIG, "%s: larger than %d bytes", name, MLVM_CONFIG_MAX_BYTES);
        c->path = xstrdup(name);
        c->dir = xstrdup(basedir);
        if ((r = yaml_check_depth(name, buf, len, e)) < 0)
                return r;
        if (!yaml_parser_initialize(&parser))
                return err_setx(e, -ENOMEM, "%s: cannot initialize the YAML parser", name);
        yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
        if (!yaml_parser_load(&parser, &doc)) {
                r = err_setx(e, -EINVAL, "%s:%zu:%zu: syntax: %s%s%s", name, parser.problem_mark.line + 1,
                             parser.problem_mark.column + 1, parser.problem ? parser.problem : "invalid YAML",
                             parser.context ? " " : "", parser.context ? parser.context : "");
                yaml_parser_delete(&parser);
                return r;
        }
        struct loader L = { name, basedir, &doc, e, MLVM_CONFIG_MAX_NODES };
        r = parse_root(&L, c, yaml_document_get_root_node(&doc));
        if (r == 0) {
                /* One document per file: a second one would be silently ignored. */
                if (!yaml_parser_load(&parser, &extra))
                        r = err_setx(e, -EINVAL, "%s:%zu:%zu: syntax: %s", name, parser.problem_mark.line + 1,
                                     parser.problem_mark.column + 1,
                                     parser.problem ? parser.problem : "invalid YAML");
                else {
                        yaml_node_t *x = yaml_document_get_root_node(&extra);
                        if (x)
                                r = err_setx(e, -EINVAL, "%s:%zu:%zu: (file): more than one YAML document",
                                             name, x->start_mark.line + 1, x->start_mark.column + 1);
                        yaml_document_delete(&extra);
                }
        }
        yaml_document_delete(&doc);
        yaml_parser_delete(&parser);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(c);
        return 0;
}

int mlvm_config_load(const char *path, struct mlvm_config **ret, struct mlvm_err *e)
{
        _cleanup_free_ char *buf = NULL, *copy = xstrdup(path), *dir = NULL;
        size_t len;
        int r = read_file_capped(path, MLVM_CONFIG_MAX_BYTES, &buf, &len);

        if (r == -EFBIG)
                return err_setx(e, r, "%s: larger than %d bytes", path, MLVM_CONFIG_MAX_BYTES);
        if (r == -EINVAL)  /* a FIFO, device or socket: refused before any read */
                return err_setx(e, r, "%s: not a regular file", path);
        if (r < 0)
                return err_set(e, r, "%s", path);
        char *slash = strrchr(copy, '/');
        if (slash)
                *(slash == copy ? slash + 1 : slash) = '\0';
        dir = realpath(slash ? copy : ".", NULL);
        if (!dir)
                return err_set(e, -errno, "%s: resolve directory", path);
        return mlvm_config_parse(path, dir, buf, len, ret, e);
}

void mlvm_config_free(struct mlvm_config *c)
{
        if (!c)
                return;
        for (size_t i = 0; i < c->n; i++) {
                struct mlvm_workload *w = &c->w[i];
                free(w->name);
                free(w->image);
                for (size_t j = 0; j < w->n_command; j++)
                        free(w->command[j]);
                free(w->command);
                for (size_t j = 0; j < w->n_env; j++) {
                        free(w->env[j].name);
                        free(w->env[j].value);
                }
                free(w->env);
                for (size_t j = 0; j < w->n_disks; j++) {
                        free(w->disks[j].name);
                        free(w->disks[j].source);
                        free(w->disks[j].mount);
                }
                free(w->disks);
                for (size_t j = 0; j < w->n_secrets; j++) {
                        free(w->secrets[j].name);
                        free(w->secrets[j].from);
                        for (size_t k = 0; k < w->secrets[j].n_scope; k++)
                                free(w->secrets[j].scope[k]);
                        free(w->secrets[j].scope);
                }
                free(w->secrets);
                free(w->artifacts);
                for (size_t j = 0; j < w->n_publish; j++) {
                        free(w->publish[j].host_addr);
                        free(w->publish[j].unix_path);
                }
                free(w->publish);
                free(w->health.path);
        }
        free(c->w);
        free(c->path);
        free(c->dir);
        free(c);
}

const struct mlvm_workload *mlvm_config_find(const struct mlvm_config *c, const char *name)
{
        for (size_t i = 0; i < c->n; i++)
                if (streq(c->w[i].name, name))
                        return &c->w[i];
        return NULL;
}

int mlvm_config_not_found(const struct mlvm_config *c, const char *file, const char *name, struct mlvm_err *e)
{
        _cleanup_free_ const char **names = xcalloc(c->n ? c->n : 1, sizeof(*names));
        char shown_name[SHOWN_MAX];
        for (size_t i = 0; i < c->n; i++)
                names[i] = c->w[i].name;
        const char *near = suggest_word(name, names, c->n);
        shown(name, shown_name);
        if (near)
                return err_setx(e, -ENOENT, "%s: no model or experiment %s (did you mean %s?)", file, shown_name, near);
        return err_setx(e, -ENOENT, "%s: no model or experiment %s", file, shown_name);
}

const char *mlvm_kind_to_string(enum mlvm_kind k)
{
        return k == MLVM_KIND_MODEL ? "model" : "experiment";
}

const char *mlvm_transport_to_string(enum mlvm_transport t)
{
        switch (t) {
        case MLVM_TRANSPORT_VSOCK: return "vsock";
        case MLVM_TRANSPORT_VIRTIO_SERIAL: return "virtio-serial";
        default: return "auto";
        }
}
