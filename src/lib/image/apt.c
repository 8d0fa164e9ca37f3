/* apt.c: .deb fetching through apt-cache and apt-get; see apt.h.
 * apt verified the index's signature; we verify each .deb against it. */
#include "mlvm-build.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>

#include "apt.h"
#include "deb.h"
#include "digest.h"
#include "spawn.h"
#include "util.h"

#define APT_SHOW_MAX (1 << 20)
#define DEB_MAX (4ULL << 30)

void apt_pkg_clear(struct apt_pkg *p)
{
        free(p->name);
        free(p->version);
        free(p->sha256);
        free(p->path);
        *p = (struct apt_pkg){ 0 };
}

static bool pkg_name_ok(const char *s)
{
        if (!*s || strlen(s) > 128)
                return false;
        for (; *s; s++)
                if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-' || *s == '.' || *s == '+'))
                        return false;
        return true;
}

static int show(const char *pkg, char **ret, struct mlvm_err *e)
{
        char *argv[] = { (char *)"apt-cache", (char *)"show", (char *)"--no-all-versions", (char *)pkg, NULL };
        if (!pkg_name_ok(pkg))
                return err_setx(e, -EINVAL, "package name \"%.64s\" is not valid", pkg);
        int r = spawn_capture(argv, NULL, APT_SHOW_MAX, ret, e);
        if (r < 0)
                return err_prefix(e, "look up %s (is the apt index current? run apt-get update)", pkg);
        if (!**ret) {
                free(*ret);
                return err_setx(e, -ENOENT, "package %s is not in the apt index (run apt-get update?)", pkg);
        }
        return 0;
}

int apt_first_dep(const char *pkg, const char *prefix, char **ret, struct mlvm_err *e)
{
        _cleanup_free_ char *text = NULL, *deps = NULL;
        int r = show(pkg, &text, e);
        if (r < 0)
                return r;
        deps = deb_control_field(text, "Depends");
        if (!deps)
                return err_setx(e, -ENOENT, "%s has no Depends", pkg);
        for (char *save = NULL, *d = strtok_r(deps, ",", &save); d; d = strtok_r(NULL, ",", &save)) {
                while (*d == ' ')
                        d++;
                size_t n = strcspn(d, " (|");
                if (n > 0 && strncmp(d, prefix, strlen(prefix)) == 0) {
                        *ret = xstrndup(d, n);
                        return 0;
                }
        }
        return err_setx(e, -ENOENT, "%s depends on no %s* package", pkg, prefix);
}

static int check_file(const char *path, const char *want, struct mlvm_err *e)
{
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        char hex[SHA256_HEX_LEN + 1];
        if (fd < 0)
                return -errno;
        int r = sha256_fd(fd, DEB_MAX, NULL, hex);
        if (r < 0)
                return err_set(e, r, "%s", path);
        return streq(hex, want) ? 0 : -EBADMSG;
}

int apt_fetch(const char *pkg, const char *cache_dir, struct apt_pkg *ret, struct mlvm_err *e)
{
        _cleanup_free_ char *text = NULL, *version = NULL, *filename = NULL, *sha = NULL, *path = NULL;
        int r = show(pkg, &text, e);

        if (r < 0)
                return r;
        /* apt-cache show may list several stanzas; the first is the candidate. */
        char *blank = strstr(text, "\n\n");
        if (blank)
                blank[1] = '\0';
        version = deb_control_field(text, "Version");
        filename = deb_control_field(text, "Filename");
        sha = deb_control_field(text, "SHA256");
        if (!version || !filename || !sha || !is_sha256_hex(sha))
                return err_setx(e, -EINVAL, "apt-cache show %s: no Version, Filename or SHA256", pkg);
        const char *base = strrchr(filename, '/');
        base = base ? base + 1 : filename;
        if (!*base || strstr(base, "..") || strlen(base) < 5 || !streq(base + strlen(base) - 4, ".deb"))
                return err_setx(e, -EINVAL, "apt-cache show %s: odd Filename %.128s", pkg, filename);
        if ((r = mkdir_p(cache_dir, 0700)) < 0)
                return err_set(e, r, "%s", cache_dir);
        /* One fetcher at a time per cache: concurrent builds share it. */
        _cleanup_free_ char *lockpath = xasprintf("%s/.lock", cache_dir);
        _cleanup_close_ int lock = open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (lock < 0 || flock(lock, LOCK_EX) < 0)
                return err_set(e, -errno, "lock %s", lockpath);
        path = xasprintf("%s/%s", cache_dir, base);
        r = check_file(path, sha, e);
        if (r == -EBADMSG || (r < 0 && r != -ENOENT))
                (void)unlink(path);  /* a stale or damaged copy: fetch again */
        bool downloaded = r < 0;
        if (r < 0) {
                _cleanup_free_ char *spec = xasprintf("%s=%s", pkg, version), *out = NULL;
                _cleanup_free_ char *arch = deb_control_field(text, "Architecture");
                char *argv[] = { (char *)"apt-get", (char *)"download", (char *)"-q", spec, NULL };
                if ((r = spawn_capture(argv, cache_dir, 1 << 20, &out, e)) < 0)
                        return err_prefix(e, "download %s", pkg);
                /* apt-get names the file NAME_VERSION_ARCH.deb with the epoch's ':' as %3a. */
                if (access(path, F_OK) < 0 && arch) {
                        _cleanup_free_ char *v = xstrdup(version), *got = NULL;
                        char *colon = strchr(v, ':');
                        got = colon ? xasprintf("%s/%s_%.*s%%3a%s_%s.deb", cache_dir, pkg, (int)(colon - v), v, colon + 1, arch)
                                    : xasprintf("%s/%s_%s_%s.deb", cache_dir, pkg, v, arch);
                        if (rename(got, path) < 0)
                                return err_set(e, -errno, "download %s: %s", pkg, got);
                }
                if ((r = check_file(path, sha, e)) == -EBADMSG)
                        return err_setx(e, -EBADMSG, "%s: SHA-256 differs from apt's index", path);
                if (r < 0)
                        return err_set(e, r, "%s", path);
        }
        ret->cached = downloaded == false;
        ret->name = xstrdup(pkg);
        ret->version = TAKE_PTR(version);
        ret->sha256 = TAKE_PTR(sha);
        ret->path = TAKE_PTR(path);
        return 0;
}

int apt_describe_local(const char *path, struct apt_pkg *ret, struct mlvm_err *e)
{
        _cleanup_free_ char *control = NULL;
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        char hex[SHA256_HEX_LEN + 1];
        int r;

        if (fd < 0)
                return err_set(e, -errno, "%s", path);
        if ((r = sha256_fd(fd, DEB_MAX, NULL, hex)) < 0)
                return err_set(e, r, "%s", path);
        if ((r = deb_control(path, &control, e)) < 0)
                return r;
        ret->name = deb_control_field(control, "Package");
        ret->version = deb_control_field(control, "Version");
        if (!ret->name || !ret->version) {
                apt_pkg_clear(ret);
                return err_setx(e, -EINVAL, "%s: control file has no Package or Version", path);
        }
        ret->sha256 = xstrdup(hex);
        ret->path = xstrdup(path);
        return 0;
}
