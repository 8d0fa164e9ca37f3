/* config-upkeep.c: restart, restart_max and healthcheck in mlvm.yaml; see
 * config-internal.h. The file is untrusted: every value is range-checked
 * and the healthcheck's HTTP path is kept to printable ASCII without
 * spaces, since it goes on the request line as written. */
#include "mlvm-build.h"

#include "config-internal.h"
#include "units.h"
#include "util.h"

static const char *const health_keys[] = { "tcp", "http", "interval", "timeout", "retries", "start_period" };
static const char *const http_keys[] = { "port", "path" };

bool config_upkeep_key(const char *k)
{
        return streq(k, "restart") || streq(k, "restart_max") || streq(k, "restart_delay") || streq(k, "healthcheck");
}

const char *mlvm_restart_to_string(enum mlvm_restart r)
{
        switch (r) {
        case MLVM_RESTART_ON_FAILURE: return "on-failure";
        case MLVM_RESTART_ALWAYS: return "always";
        default: return "no";
        }
}

int mlvm_restart_parse(const char *s, enum mlvm_restart *ret)
{
        if (streq(s, "no"))
                *ret = MLVM_RESTART_NO;
        else if (streq(s, "on-failure"))
                *ret = MLVM_RESTART_ON_FAILURE;
        else if (streq(s, "always"))
                *ret = MLVM_RESTART_ALWAYS;
        else
                return -EINVAL;
        return 0;
}

static int get_port(struct loader *L, yaml_node_t *n, const char *path, uint16_t *ret)
{
        uint64_t v;
        int r = yml_get_uint(L, n, path, 1, 65535, &v);
        if (r < 0)
                return r;
        *ret = (uint16_t)v;
        return 0;
}

/* An origin-form request target: "/" then printable ASCII, no spaces. */
static int get_http_path(struct loader *L, yaml_node_t *n, const char *path, const char **ret)
{
        const char *s;
        int r = yml_get_string(L, n, path, MLVM_HEALTH_PATH_MAX, &s);
        if (r < 0)
                return r;
        _cleanup_free_ char *d = yml_display(s);
        if (s[0] != '/')
                return yml_lerr(L, n, path, "\"%s\" must start with /", d);
        for (const char *p = s; *p; p++)
                if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
                        return yml_lerr(L, n, path, "\"%s\": only printable ASCII without spaces", d);
        *ret = s;
        return 0;
}

static int parse_http(struct loader *L, struct mlvm_healthcheck *h, yaml_node_t *key, yaml_node_t *n,
                      const char *path)
{
        _cleanup_(yml_pairs_free) struct pairs m = { 0 };
        const char *hp = "/";
        bool have_port = false;
        int r = yml_get_mapping(L, n, path, &m);
        if (r < 0)
                return r;
        for (size_t i = 0; i < m.n; i++) {
                _cleanup_free_ char *kp = yml_join(path, m.v[i].k);
                if (streq(m.v[i].k, "port")) {
                        r = get_port(L, m.v[i].value, kp, &h->port);
                        have_port = true;
                } else if (streq(m.v[i].k, "path"))
                        r = get_http_path(L, m.v[i].value, kp, &hp);
                else
                        r = config_unknown_key(L, m.v[i].key, kp, m.v[i].k, http_keys, ARRAY_SIZE(http_keys));
                if (r < 0)
                        return r;
        }
        if (!have_port)
                return yml_lerr(L, key, path, "missing required key \"port\"");
        h->kind = MLVM_HEALTH_HTTP;
        h->path = xstrdup(hp);
        return 0;
}

static int parse_healthcheck(struct loader *L, struct mlvm_healthcheck *h, yaml_node_t *key, yaml_node_t *n,
                             const char *path)
{
        _cleanup_(yml_pairs_free) struct pairs m = { 0 };
        yaml_node_t *probe = NULL, *timeout = NULL;
        uint64_t v;
        int r = yml_get_mapping(L, n, path, &m);
        if (r < 0)
                return r;
        h->interval_s = MLVM_HEALTH_INTERVAL_DEFAULT_S;
        h->timeout_s = MLVM_HEALTH_TIMEOUT_DEFAULT_S;
        h->retries = MLVM_HEALTH_RETRIES_DEFAULT;
        for (size_t i = 0; i < m.n; i++) {
                const char *k = m.v[i].k;
                yaml_node_t *val = m.v[i].value;
                _cleanup_free_ char *kp = yml_join(path, k);
                if ((streq(k, "tcp") || streq(k, "http")) && probe)
                        return yml_lerr(L, m.v[i].key, kp, "one probe only: tcp or http, not both");
                if (streq(k, "tcp")) {
                        probe = m.v[i].key;
                        if ((r = get_port(L, val, kp, &h->port)) == 0)
                                h->kind = MLVM_HEALTH_TCP;
                } else if (streq(k, "http")) {
                        probe = m.v[i].key;
                        r = parse_http(L, h, m.v[i].key, val, kp);
                } else if (streq(k, "interval"))
                        r = yml_get_duration(L, val, kp, 1, MLVM_HEALTH_PERIOD_MAX_S, &h->interval_s);
                else if (streq(k, "timeout")) {
                        timeout = val;
                        r = yml_get_duration(L, val, kp, 1, MLVM_HEALTH_PERIOD_MAX_S, &h->timeout_s);
                } else if (streq(k, "start_period"))
                        r = yml_get_duration(L, val, kp, 0, MLVM_HEALTH_PERIOD_MAX_S, &h->start_period_s);
                else if (streq(k, "retries")) {
                        if ((r = yml_get_uint(L, val, kp, 1, MLVM_HEALTH_RETRIES_MAX, &v)) == 0)
                                h->retries = (unsigned)v;
                } else
                        r = config_unknown_key(L, m.v[i].key, kp, k, health_keys, ARRAY_SIZE(health_keys));
                if (r < 0)
                        return r;
        }
        if (!probe)
                return yml_lerr(L, key, path, "missing a probe: tcp: PORT or http: {port: PORT, path: /PATH}");
        /* One probe at a time: each ends before the next is due. */
        if (h->timeout_s > h->interval_s) {
                _cleanup_free_ char *kp = yml_join(path, "timeout");
                return yml_lerr(L, timeout, kp, "must not be longer than interval");
        }
        return 0;
}

int config_parse_upkeep(struct loader *L, struct mlvm_workload *w, yaml_node_t *key, yaml_node_t *val,
                        const char *path)
{
        const char *k = yml_scalar(key), *s;
        uint64_t v;
        int r;

        if (streq(k, "restart")) {
                if ((r = yml_get_string(L, val, path, 16, &s)) < 0)
                        return r;
                if (mlvm_restart_parse(s, &w->restart) < 0) {
                        _cleanup_free_ char *d = yml_display(s);
                        return yml_lerr(L, val, path, "\"%s\" is not one of no, on-failure, always", d);
                }
                w->at.restart = yml_pos_of(key);
        } else if (streq(k, "restart_max")) {
                if ((r = yml_get_uint(L, val, path, 1, MLVM_RESTART_MAX_MAX, &v)) < 0)
                        return r;
                w->restart_max = (unsigned)v;
                w->at.restart_max = yml_pos_of(key);
        } else if (streq(k, "restart_delay")) {
                if ((r = yml_get_duration(L, val, path, 1, MLVM_RESTART_DELAY_MAX_S, &w->restart_delay_s)) < 0)
                        return r;
                w->at.restart_delay = yml_pos_of(key);
        } else {
                if ((r = parse_healthcheck(L, &w->health, key, val, path)) < 0)
                        return r;
                w->at.healthcheck = yml_pos_of(key);
        }
        return 0;
}

static int at_err(struct loader *L, struct mlvm_pos at, const char *path, const char *key, const char *what)
{
        _cleanup_free_ char *kp = yml_join(path, key);
        return err_setx(L->e, -EINVAL, "%s:%u:%u: %s: %s", L->file, at.line, at.col, kp, what);
}

int config_check_upkeep(struct loader *L, const struct mlvm_workload *w, const char *path)
{
        if (w->kind == MLVM_KIND_EXPERIMENT) {
                if (w->at.restart.line)
                        return at_err(L, w->at.restart, path, "restart", "only models restart (an experiment runs once)");
                if (w->at.restart_max.line)
                        return at_err(L, w->at.restart_max, path, "restart_max",
                                      "only models restart (an experiment runs once)");
                if (w->at.restart_delay.line)
                        return at_err(L, w->at.restart_delay, path, "restart_delay",
                                      "only models restart (an experiment runs once)");
                if (w->at.healthcheck.line)
                        return at_err(L, w->at.healthcheck, path, "healthcheck", "only models have a healthcheck");
        }
        if (w->at.restart_max.line && w->restart == MLVM_RESTART_NO)
                return at_err(L, w->at.restart_max, path, "restart_max", "needs restart: on-failure or always");
        if (w->at.restart_delay.line && w->restart == MLVM_RESTART_NO)
                return at_err(L, w->at.restart_delay, path, "restart_delay", "needs restart: on-failure or always");
        return 0;
}

void config_upkeep_to_json(const struct mlvm_workload *w, json_object *o)
{
        const struct mlvm_healthcheck *h = &w->health;
        char buf[32];

        if (w->restart != MLVM_RESTART_NO) {
                json_object_object_add(o, "restart", json_object_new_string(mlvm_restart_to_string(w->restart)));
                json_object_object_add(o, "restart_max", json_object_new_int((int32_t)w->restart_max));
                format_duration(w->restart_delay_s, buf, sizeof(buf));
                json_object_object_add(o, "restart_delay", json_object_new_string(buf));
        }
        if (h->kind == MLVM_HEALTH_NONE)
                return;
        json_object *j = json_object_new_object();
        if (h->kind == MLVM_HEALTH_TCP)
                json_object_object_add(j, "tcp", json_object_new_int(h->port));
        else {
                json_object *http = json_object_new_object();
                json_object_object_add(http, "port", json_object_new_int(h->port));
                json_object_object_add(http, "path", json_object_new_string(h->path));
                json_object_object_add(j, "http", http);
        }
        format_duration(h->interval_s, buf, sizeof(buf));
        json_object_object_add(j, "interval", json_object_new_string(buf));
        format_duration(h->timeout_s, buf, sizeof(buf));
        json_object_object_add(j, "timeout", json_object_new_string(buf));
        json_object_object_add(j, "retries", json_object_new_int((int32_t)h->retries));
        format_duration(h->start_period_s, buf, sizeof(buf));
        json_object_object_add(j, "start_period", json_object_new_string(buf));
        json_object_object_add(o, "healthcheck", j);
}
