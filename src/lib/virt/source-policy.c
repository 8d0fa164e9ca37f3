/* source-policy.c: which host directories may become a data disk; see
 * source-policy.h. Paths are compared after realpath(), component-wise. */
#include "mlvm-build.h"

#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>

#include "source-policy.h"
#include "util.h"

/* Host directories no guest should see, whoever wrote the config. */
static const char *const host_dirs[] = {
        "/etc", "/root", "/proc", "/sys", "/dev", "/boot", "/run", "/var/run", "/var/lib/libvirt", "/var/log",
        "/var/cache/libvirt", "/var/lib/mlvm", "/var/spool", "/var/backups", "/lost+found",
};

/* Resolved, or the path as given when it does not exist (yet). */
static char *canon(const char *path)
{
        char *r = realpath(path, NULL);
        return r ? r : xstrdup(path);
}

static void add(char **v, char **why, size_t *n, const char *path, const char *what)
{
        if (*n >= SOURCE_POLICY_MAX || !path || path[0] != '/')
                return;
        v[*n] = canon(path);
        if (why)
                why[*n] = xstrdup(what);
        (*n)++;
}

static void add_list(struct source_policy *p, const char *env, bool deny)
{
        const char *s = getenv(env);
        if (!s || !*s)
                return;
        _cleanup_free_ char *copy = xstrdup(s);
        for (char *save = NULL, *t = strtok_r(copy, ":", &save); t; t = strtok_r(NULL, ":", &save)) {
                if (deny)
                        add(p->deny, p->deny_why, &p->n_deny, t, "denied by $MLVM_DISK_SOURCE_DENY");
                else
                        add(p->allow, NULL, &p->n_allow, t, NULL);
        }
}

void source_policy_init(struct source_policy *p, const char *state_dir, const char *pool_path)
{
        *p = (struct source_policy){ 0 };
        add(p->deny, p->deny_why, &p->n_deny, state_dir, "mlvm's state directory (keys, secrets, runs)");
        add(p->deny, p->deny_why, &p->n_deny, pool_path, "mlvm's storage pool (every run's disks)");
        p->n_fixed = p->n_deny;
        for (size_t i = 0; i < ARRAY_SIZE(host_dirs); i++)
                add(p->deny, p->deny_why, &p->n_deny, host_dirs[i], "a host system directory");
        add_list(p, "MLVM_DISK_SOURCE_DENY", true);
        add_list(p, "MLVM_DISK_SOURCE_ALLOW", false);
}

void source_policy_clear(struct source_policy *p)
{
        for (size_t i = 0; i < p->n_deny; i++) {
                free(p->deny[i]);
                free(p->deny_why[i]);
        }
        for (size_t i = 0; i < p->n_allow; i++)
                free(p->allow[i]);
        *p = (struct source_policy){ 0 };
}

/* Is A the directory B or below it? Component-wise: /etc2 is not under /etc. */
static bool within(const char *a, const char *b)
{
        size_t n = strlen(b);
        if (n == 1 && b[0] == '/')
                return true;
        return strncmp(a, b, n) == 0 && (a[n] == '\0' || a[n] == '/');
}

int source_policy_check(const struct source_policy *p, const char *source, char **ret_resolved, int *ret_fd,
                        char *why, size_t why_len)
{
        char *res = realpath(source, NULL);
        char s1[SHOWN_MAX], s2[SHOWN_MAX];

        if (!res) {
                int r = -errno;
                text_set(why, why_len, "%s: %s", shown(source, s1), strerror(errno));
                return r;
        }
        for (size_t i = 0; i < p->n_deny; i++) {
                bool inside = within(res, p->deny[i]), contains = within(p->deny[i], res);
                if (!inside && !contains)
                        continue;
                bool allowed = false;
                /* The host may re-allow a directory of the fixed list, never the state dir or the pool. */
                for (size_t j = 0; i >= p->n_fixed && j < p->n_allow && !allowed; j++)
                        allowed = within(res, p->allow[j]) && within(p->allow[j], p->deny[i]) && inside;
                if (allowed)
                        continue;
                _cleanup_free_ char *what = streq(source, res) ? xstrdup(shown(source, s1))
                                                                : xasprintf("%s (that is %s)", shown(source, s1),
                                                                            shown(res, s2));
                text_set(why, why_len, "%s %s %s, %s: a guest must never see it", what, inside ? "is inside" : "contains",
                    p->deny[i], p->deny_why[i]);
                free(res);
                return -EACCES;
        }
        /* Pin what was checked: the resolved path opened without following a
         * last symlink, then confirmed to still be that path. */
        int fd = open(res, O_PATH | O_CLOEXEC | O_NOFOLLOW);
        char link[PATH_MAX + 1];
        _cleanup_free_ char *self = fd >= 0 ? xasprintf("/proc/self/fd/%d", fd) : NULL;
        ssize_t n = self ? readlink(self, link, sizeof(link) - 1) : -1;
        if (n >= 0)
                link[n] = '\0';
        if (fd < 0 || n < 0 || !streq(link, res)) {
                int r = fd < 0 ? -errno : -EAGAIN;
                text_set(why, why_len, "%s: changed while it was checked", shown(source, s1));
                if (fd >= 0)
                        (void)close(fd);
                free(res);
                return r;
        }
        *ret_resolved = res;
        *ret_fd = fd;
        return 0;
}
