/* artifact-path.c: what an artifact path may be, and opening or removing
 * below a directory fd without following a symlink; see artifact-path.h.
 * Names come from a guest: every rule here fails closed. */
#include "mlvm-build.h"

#include <search.h>

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "artifact-path.h"
#include "util.h"

#define DIR_FLAGS (O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)

const char *artifact_path_problem(const char *p)
{
        size_t n = strlen(p);

        if (n == 0)
                return "empty path";
        if (p[0] == '/')
                return "absolute path (it escapes the artifact directory)";
        if (n > ARTIFACT_PATH_MAX)
                return "path longer than 255 bytes";
        for (size_t i = 0; i < n; i++)
                if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f)
                        return "control character in the path";
        for (const char *c = p;;) {
                const char *slash = strchr(c, '/');
                size_t len = slash ? (size_t)(slash - c) : strlen(c);
                if (len == 2 && c[0] == '.' && c[1] == '.')
                        return "path escapes the artifact directory";
                if (len == 1 && c[0] == '.')
                        return "'.' component in the path";
                if (len == 0)
                        return "empty component in the path ('//' or a trailing '/')";
                if (!slash)
                        return NULL;
                c = slash + 1;
        }
}

bool artifact_path_is_valid(const char *p) { return p && artifact_path_problem(p) == NULL; }

int artifact_open_parent(int root, const char *path, bool create, size_t *ret_bad_len)
{
        int fd = fcntl(root, F_DUPFD_CLOEXEC, 3);

        if (fd < 0) {
                *ret_bad_len = 0;
                return -errno;
        }
        for (const char *comp = path, *slash; (slash = strchr(comp, '/')); comp = slash + 1) {
                _cleanup_free_ char *name = xstrndup(comp, (size_t)(slash - comp));
                int nfd = -1;
                if ((!create || mkdirat(fd, name, 0755) == 0 || errno == EEXIST) &&
                    (nfd = openat(fd, name, DIR_FLAGS)) >= 0) {
                        (void)close(fd);
                        fd = nfd;
                        continue;
                }
                int r = -errno;
                (void)close(fd);
                *ret_bad_len = (size_t)(slash - path);
                return r;
        }
        return fd;
}

int artifact_remove_tree(int dfd)
{
        int fd = openat(dfd, ".", DIR_FLAGS), r = 0;
        DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
        struct dirent *de;
        bool again = true;

        if (!d) {
                r = -errno;
                if (fd >= 0)
                        (void)close(fd);
                return r;
        }
        /* Until a pass finds nothing to remove: readdir() need not list
         * every name of a directory that changes under it. */
        while (again && r == 0) {
                again = false;
                rewinddir(d);
                while ((de = readdir(d))) {
                        if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                                continue;
                        if (unlinkat(dirfd(d), de->d_name, 0) == 0) {
                                again = true;
                                continue;
                        }
                        if (errno != EISDIR) {
                                r = -errno;
                                break;
                        }
                        _cleanup_close_ int sub = openat(dirfd(d), de->d_name, DIR_FLAGS);
                        if (sub < 0 || (r = artifact_remove_tree(sub)) < 0 ||
                            unlinkat(dirfd(d), de->d_name, AT_REMOVEDIR) < 0) {
                                r = r < 0 ? r : -errno;
                                break;
                        }
                        again = true;
                }
        }
        closedir(d);
        return r;
}

static int cmp_str(const void *a, const void *b) { return strcmp(a, b); }

int artifact_seen_add(void **seen, const char *path)
{
        char *dup = xstrdup(path);
        char **found = tsearch(dup, seen, cmp_str);
        if (!found)
                abort(); /* out of memory, as xmalloc() */
        if (*found != dup) {
                free(dup);
                return -EEXIST;
        }
        return 0;
}
