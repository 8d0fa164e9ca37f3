/* paths.c: state directory and storage pool names; see paths.h. */
#include "mlvm-build.h"

#include <sys/stat.h>

#include "paths.h"
#include "util.h"

static const char *home(void)
{
        const char *h = getenv("HOME");
        return h && h[0] == '/' ? h : "/";
}

char *mlvm_state_dir(void)
{
        const char *s = getenv("MLVM_STATE_DIR");

        if (s && *s)
                return xstrdup(s);
        if (geteuid() == 0)
                return xstrdup("/var/lib/mlvm");
        s = getenv("XDG_STATE_HOME");
        if (s && s[0] == '/')
                return xasprintf("%s/mlvm", s);
        return xasprintf("%s/.local/state/mlvm", home());
}

/* The state directory holds keys and run records. An existing one is
 * checked, never chmod'ed: its mode is the owner's decision, and a
 * directory that others can write may already hold their files. */
int mlvm_state_dir_ensure(const char *dir, struct mlvm_err *e)
{
        _cleanup_free_ char *d = xstrdup(dir);
        struct stat st;
        int r;

        /* "dir/" would make lstat follow a symlink. */
        for (size_t n = strlen(d); n > 1 && d[n - 1] == '/'; n--)
                d[n - 1] = '\0';
        if ((r = mkdir_p(d, 0700)) < 0)
                return err_set(e, r, "state directory %s", d);
        if (lstat(d, &st) < 0)
                return err_set(e, -errno, "state directory %s", d);
        if (S_ISLNK(st.st_mode))
                return err_setx(e, -ELOOP, "state directory %s is a symbolic link; point MLVM_STATE_DIR at "
                                "the directory itself", d);
        if (!S_ISDIR(st.st_mode))
                return err_setx(e, -ENOTDIR, "state directory %s is not a directory", d);
        if (st.st_uid != geteuid())
                return err_setx(e, -EPERM, "state directory %s is owned by uid %u, not by this user (uid %u); "
                                "use a directory of your own (MLVM_STATE_DIR)", d, (unsigned)st.st_uid,
                                (unsigned)geteuid());
        if (st.st_mode & 077)
                return err_setx(e, -EPERM, "state directory %s has mode %04o: group and others can reach it; "
                                "run 'chmod 700 %s'", d, (unsigned)(st.st_mode & 07777), d);
        return 0;
}

const char *mlvm_pool_name(void)
{
        const char *s = getenv("MLVM_POOL");
        return s && *s ? s : "mlvm";
}

/* A libvirt URI is DRIVER[+TRANSPORT]://[HOST]/PATH[?QUERY]. A session
 * runs as the user: it is on this machine only without a host and with no
 * transport or the unix one (qemu:///session, qemu+unix:///session). */
static void uri_session(const char *uri, bool *ret_session, bool *ret_local)
{
        const char *sep = uri ? strstr(uri, "://") : NULL;

        *ret_session = *ret_local = false;
        if (!sep)
                return;
        const char *plus = memchr(uri, '+', (size_t)(sep - uri));
        const char *host = sep + 3, *path = host + strcspn(host, "/?#");
        size_t plen = strcspn(path, "?#");
        *ret_session = plen == 8 && strncmp(path, "/session", 8) == 0;
        *ret_local = path == host &&
                     (!plus || ((size_t)(sep - plus - 1) == 4 && strncmp(plus + 1, "unix", 4) == 0));
}

int mlvm_pool_default_path(const char *uri, char **ret_path, struct mlvm_err *e)
{
        const char *s = getenv("MLVM_POOL_PATH");
        bool session, local;

        if (s && s[0] == '/') {
                *ret_path = xstrdup(s);
                return 0;
        }
        uri_session(uri, &session, &local);
        if (session && !local)
                /* Its $HOME is on the other machine, and not ours to guess. */
                return err_setx(e, -EINVAL, "%s is a remote session: set MLVM_POOL_PATH to a directory on that "
                                "host for the storage pool", uri);
        *ret_path = session ? xasprintf("%s/.local/share/libvirt/mlvm", home()) : xstrdup("/var/lib/libvirt/mlvm");
        return 0;
}
