/* config-json.c: the normalized mlvm.yaml as JSON. Keys and value syntax
 * are the file's own (sizes as "256M", durations as "10m"), so the output
 * loads back as mlvm.yaml and gives the same JSON again. */
#include "mlvm-build.h"

#include "config.h"
#include "config-internal.h"
#include "units.h"
#include "util.h"

static json_object *jstr(const char *s) { return json_object_new_string(s); }

static json_object *string_array(char *const *v, size_t n)
{
        json_object *a = json_object_new_array();
        for (size_t i = 0; i < n; i++)
                json_object_array_add(a, jstr(v[i]));
        return a;
}

static json_object *workload_to_json(const struct mlvm_workload *w)
{
        json_object *o = json_object_new_object();
        char buf[64];

        json_object_object_add(o, "image", jstr(w->image));
        json_object_object_add(o, "vcpus", json_object_new_int((int32_t)w->vcpus));
        format_size(w->memory, buf, sizeof(buf));
        json_object_object_add(o, "memory", jstr(buf));
        if (w->memory_limit) {
                format_size(w->memory_limit, buf, sizeof(buf));
                json_object_object_add(o, "memory_limit", jstr(buf));
        }
        if (w->command)
                json_object_object_add(o, "command", string_array(w->command, w->n_command));
        if (w->n_env) {
                json_object *env = json_object_new_object();
                for (size_t i = 0; i < w->n_env; i++)
                        json_object_object_add(env, w->env[i].name, jstr(w->env[i].value));
                json_object_object_add(o, "env", env);
        }
        if (w->n_disks) {
                json_object *disks = json_object_new_object();
                for (size_t i = 0; i < w->n_disks; i++) {
                        json_object *d = json_object_new_object();
                        json_object_object_add(d, "source", jstr(w->disks[i].source));
                        json_object_object_add(d, "mount", jstr(w->disks[i].mount));
                        json_object_object_add(disks, w->disks[i].name, d);
                }
                json_object_object_add(o, "disks", disks);
        }
        if (w->n_secrets) {
                json_object *secrets = json_object_new_object();
                for (size_t i = 0; i < w->n_secrets; i++) {
                        const struct mlvm_secret *s = &w->secrets[i];
                        json_object *d = json_object_new_object();
                        json_object_object_add(d, "from", jstr(s->from));
                        format_duration(s->ttl_s, buf, sizeof(buf));
                        json_object_object_add(d, "ttl", jstr(buf));
                        if (!s->rotate)
                                json_object_object_add(d, "rotate", json_object_new_boolean(0));
                        if (s->scope)
                                json_object_object_add(d, "scope", string_array(s->scope, s->n_scope));
                        json_object_object_add(secrets, s->name, d);
                }
                json_object_object_add(o, "secrets", secrets);
        }
        if (w->artifacts)
                json_object_object_add(o, "artifacts", jstr(w->artifacts));
        if (w->n_publish) {
                json_object *a = json_object_new_array();
                for (size_t i = 0; i < w->n_publish; i++) {
                        _cleanup_free_ char *s = mlvm_publish_to_string(&w->publish[i]);
                        json_object_array_add(a, jstr(s));
                }
                json_object_object_add(o, "publish", a);
        }
        if (w->timeout_s) {
                format_duration(w->timeout_s, buf, sizeof(buf));
                json_object_object_add(o, "timeout", jstr(buf));
        }
        json_object_object_add(o, "transport", jstr(mlvm_transport_to_string(w->transport)));
        if (w->accel != MLVM_ACCEL_AUTO)
                json_object_object_add(o, "accel", jstr(mlvm_accel_request_to_string(w->accel)));
        if (w->exec_allowed)
                json_object_object_add(o, "exec", jstr("allow"));
        config_upkeep_to_json(w, o);
        return o;
}

json_object *mlvm_config_to_json(const struct mlvm_config *c)
{
        json_object *root = json_object_new_object();
        json_object *models = NULL, *experiments = NULL;

        for (size_t i = 0; i < c->n; i++) {
                json_object **section = c->w[i].kind == MLVM_KIND_MODEL ? &models : &experiments;
                if (!*section)
                        *section = json_object_new_object();
                json_object_object_add(*section, c->w[i].name, workload_to_json(&c->w[i]));
        }
        if (c->retention_s) {
                char d[32];
                format_duration(c->retention_s, d, sizeof(d));
                json_object_object_add(root, "retention", json_object_new_string(d));
        }
        if (models)
                json_object_object_add(root, "models", models);
        if (experiments)
                json_object_object_add(root, "experiments", experiments);
        return root;
}
