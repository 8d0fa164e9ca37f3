/* paths.c: state directory and storage pool names; see paths.h. */
#include "mlvm-build.h"

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

const char *mlvm_pool_name(void)
{
        const char *s = getenv("MLVM_POOL");
        return s && *s ? s : "mlvm";
}

char *mlvm_pool_default_path(const char *uri)
{
        const char *s = getenv("MLVM_POOL_PATH");

        if (s && s[0] == '/')
                return xstrdup(s);
        if (uri && strstr(uri, "/session"))
                return xasprintf("%s/.local/share/libvirt/mlvm", home());
        return xstrdup("/var/lib/libvirt/mlvm");
}
