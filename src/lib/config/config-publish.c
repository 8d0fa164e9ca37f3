/* config-publish.c: published ports, from mlvm.yaml's publish: and from
 * the command line's --publish; see config.h (mlvm_publish_parse,
 * mlvm_publish_is_local) and config-internal.h (the publish: key). Both
 * are untrusted: every port is range-checked, every address must parse as
 * IPv4 or bracketed IPv6, a unix socket path must be absolute and fit
 * sun_path, and no two entries of a list may bind the same host address. */
#include "mlvm-build.h"

#include <arpa/inet.h>

#include "config.h"
#include "config-internal.h"
#include "units.h"
#include "util.h"

static int parse_port(const char *s, uint16_t *ret)
{
        uint64_t v;
        int r = parse_uint(s, 1, 65535, &v);
        if (r < 0)
                return r;
        *ret = (uint16_t)v;
        return 0;
}

/* "[ADDR:]HOST_PORT:GUEST_PORT" (ADDR defaults to 127.0.0.1; IPv6 in
 * brackets) or "unix:/PATH:GUEST_PORT". */
int mlvm_publish_parse(const char *spec, struct mlvm_publish *p)
{
        _cleanup_free_ char *s = xstrdup(spec);
        char *last = strrchr(s, ':');
        if (!last || parse_port(last + 1, &p->guest_port) < 0)
                return -EINVAL;
        *last = '\0';
        if (strstartswith(s, "unix:")) {
                if (s[5] != '/' || strlen(s + 5) > 107)
                        return -EINVAL;
                p->unix_path = xstrdup(s + 5);
                return 0;
        }
        char *mid = strrchr(s, ':');
        const char *addr = "127.0.0.1", *port = s;
        if (mid) {
                *mid = '\0';
                addr = s;
                port = mid + 1;
        }
        if (parse_port(port, &p->host_port) < 0)
                return -EINVAL;
        unsigned char buf[16];
        if (addr[0] == '[') {
                size_t n = strlen(addr);
                if (n < 3 || addr[n - 1] != ']')
                        return -EINVAL;
                _cleanup_free_ char *a6 = xstrndup(addr + 1, n - 2);
                if (inet_pton(AF_INET6, a6, buf) != 1)
                        return -EINVAL;
        } else if (inet_pton(AF_INET, addr, buf) != 1)
                return -EINVAL;
        p->host_addr = xstrdup(addr);
        return 0;
}

char *mlvm_publish_to_string(const struct mlvm_publish *p)
{
        if (p->unix_path)
                return xasprintf("unix:%s:%u", p->unix_path, p->guest_port);
        return xasprintf("%s:%u:%u", p->host_addr, p->host_port, p->guest_port);
}

bool mlvm_publish_is_local(const struct mlvm_publish *p)
{
        unsigned char a[16];
        if (p->unix_path)
                return true;
        if (p->host_addr[0] == '[')
                return streq(p->host_addr, "[::1]");
        return inet_pton(AF_INET, p->host_addr, a) == 1 && a[0] == 127;
}

int config_parse_publish(struct loader *L, struct mlvm_workload *w, yaml_node_t *n, const char *path)
{
        _cleanup_free_ char **specs = NULL;
        size_t count = 0;
        int r = yml_get_string_list(L, n, path, MLVM_CONFIG_MAX_PUBLISH, &specs, &count);
        if (r < 0)
                goto out;
        w->publish = xcalloc(count, sizeof(*w->publish));
        for (size_t i = 0; i < count; i++) {
                struct mlvm_publish *p = &w->publish[i];
                yaml_node_t *item = yml_node(L, n->data.sequence.items.start[i]);
                _cleanup_free_ char *ip = xasprintf("%s[%zu]", path, i);
                _cleanup_free_ char *d = yml_display(specs[i]);
                p->pos = yml_pos_of(item);
                w->n_publish = i + 1;
                if (mlvm_publish_parse(specs[i], p) < 0) {
                        r = yml_lerr(L, item, ip, "\"%s\" is not [ADDR:]HOST_PORT:GUEST_PORT or unix:/PATH:GUEST_PORT", d);
                        goto out;
                }
                for (size_t j = 0; j < i; j++) {
                        const struct mlvm_publish *q = &w->publish[j];
                        bool same = p->unix_path ? (q->unix_path && streq(p->unix_path, q->unix_path))
                                                 : (q->host_addr && streq(p->host_addr, q->host_addr) &&
                                                    p->host_port == q->host_port);
                        if (same) {
                                r = yml_lerr(L, item, ip, "\"%s\" binds the same host address as %s[%zu]", d, path, j);
                                goto out;
                        }
                }
        }
out:
        for (size_t i = 0; specs && specs[i]; i++)
                free(specs[i]);
        return r;
}
