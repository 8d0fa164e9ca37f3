/* config-secrets.c: the secrets: key of mlvm.yaml, each secret a source
 * (from), a lifetime (ttl), whether it is renewed (rotate) and, for a jwt,
 * its scopes; see config-internal.h. The file is untrusted: names and
 * sources are checked for their syntax, the TTL for its range, and a scope
 * is refused on any source but jwt. */
#include "mlvm-build.h"

#include "config.h"
#include "config-internal.h"
#include "secret-store.h"
#include "units.h"
#include "util.h"

static const char *const secret_keys[] = { "from", "ttl", "rotate", "scope" };

static int check_secret_from(struct loader *L, yaml_node_t *n, const char *path, const char *from)
{
        _cleanup_free_ char *d = yml_display(from);
        if (streq(from, "jwt"))
                return 0;
        if (strstartswith(from, "store:")) {
                if (!secret_name_is_valid(from + 6))
                        return yml_lerr(L, n, path, "\"%s\": store name must match [A-Za-z0-9_][A-Za-z0-9_.-]{0,63}", d);
                return 0;
        }
        if (strstartswith(from, "exec:")) {
                if (!from[5])
                        return yml_lerr(L, n, path, "\"exec:\" needs a command");
                return 0;
        }
        return yml_lerr(L, n, path, "\"%s\" is not a source: use store:NAME, exec:COMMAND or jwt", d);
}

int config_parse_secrets(struct loader *L, struct mlvm_workload *w, yaml_node_t *n, const char *path)
{
        _cleanup_(yml_pairs_free) struct pairs m = { 0 };
        int r = yml_get_mapping(L, n, path, &m);
        if (r < 0)
                return r;
        if (m.n > MLVM_CONFIG_MAX_SECRETS)
                return yml_lerr(L, n, path, "has %zu secrets, more than %d", m.n, MLVM_CONFIG_MAX_SECRETS);
        w->secrets = xcalloc(m.n, sizeof(*w->secrets));
        for (size_t i = 0; i < m.n; i++) {
                _cleanup_free_ char *sp = yml_join(path, m.v[i].k);
                _cleanup_(yml_pairs_free) struct pairs d = { 0 };
                struct mlvm_secret *s = &w->secrets[i];
                yaml_node_t *scope_node = NULL;
                bool have_ttl = false;

                if (!env_name_is_valid(m.v[i].k))
                        return yml_lerr(L, m.v[i].key, sp, "not a valid secret name ([A-Za-z_][A-Za-z0-9_]*)");
                if ((r = yml_get_mapping(L, m.v[i].value, sp, &d)) < 0)
                        return r;
                s->name = xstrdup(m.v[i].k);
                s->pos = yml_pos_of(m.v[i].key);
                s->rotate = true;
                w->n_secrets = i + 1;
                for (size_t j = 0; j < d.n; j++) {
                        _cleanup_free_ char *kp = yml_join(sp, d.v[j].k);
                        const char *from;
                        if (streq(d.v[j].k, "from")) {
                                r = yml_get_string(L, d.v[j].value, kp, MLVM_CONFIG_MAX_STRING, &from);
                                if (r == 0)
                                        r = check_secret_from(L, d.v[j].value, kp, from);
                                if (r == 0)
                                        s->from = xstrdup(from);
                        } else if (streq(d.v[j].k, "ttl")) {
                                r = yml_get_duration(L, d.v[j].value, kp, MLVM_TTL_MIN_S, MLVM_TTL_MAX_S, &s->ttl_s);
                                have_ttl = true;
                        } else if (streq(d.v[j].k, "rotate")) {
                                r = yml_get_bool(L, d.v[j].value, kp, &s->rotate);
                        } else if (streq(d.v[j].k, "scope")) {
                                scope_node = d.v[j].key;
                                r = yml_get_string_list(L, d.v[j].value, kp, MLVM_CONFIG_MAX_SCOPES, &s->scope,
                                                    &s->n_scope);
                        } else
                                r = config_unknown_key(L, d.v[j].key, kp, d.v[j].k, secret_keys, ARRAY_SIZE(secret_keys));
                        if (r < 0)
                                return r;
                }
                if (!s->from)
                        return yml_lerr(L, m.v[i].key, sp, "missing required key \"from\"");
                if (!have_ttl)
                        return yml_lerr(L, m.v[i].key, sp, "missing required key \"ttl\"");
                if (scope_node && !streq(s->from, "jwt")) {
                        _cleanup_free_ char *kp = yml_join(sp, "scope");
                        return yml_lerr(L, scope_node, kp, "only allowed with from: jwt");
                }
        }
        return 0;
}
