/* artifacts-dir.c: directories of artifacts on the host: walking and
 * removing them fd by fd, listing and hashing an accepted one
 * (artifacts_scan), copying one out for the user (artifacts_copy).
 *
 * Trust: an accepted artifact directory was written by mlvm alone, but its
 * names came from a guest, and a user may have touched it since: nothing
 * below a directory this file opens is reached by a path string, no
 * symlink is followed, and anything but a regular file or a directory is
 * refused. */
#include "mlvm-build.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "artifact-path.h"
#include "artifacts.h"
#include "util.h"

#define DIR_FLAGS (O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)

/* ---- scan -------------------------------------------------------------- */

struct scan {
        const char *dir;
        struct artifact *v;
        size_t n;
        uint64_t entries;
        struct mlvm_err *e;
};

static int scan_refuse(struct scan *s, const char *rel, int code, const char *why)
{
        char s1[SHOWN_MAX], s2[SHOWN_MAX];
        return err_setx(s->e, code, "artifacts %s: %s: %s", shown(s->dir, s1), shown(rel, s2), why);
}

static int scan_fail(struct scan *s, const char *rel, int code)
{
        char s1[SHOWN_MAX], s2[SHOWN_MAX];
        return err_set(s->e, code, "artifacts %s: %s", shown(s->dir, s1), shown(rel, s2));
}

static const char *kind(mode_t m)
{
        if (S_ISLNK(m))
                return "a symbolic link (only regular files and directories are allowed)";
        if (S_ISFIFO(m))
                return "a FIFO (only regular files and directories are allowed)";
        if (S_ISSOCK(m))
                return "a socket (only regular files and directories are allowed)";
        if (S_ISCHR(m) || S_ISBLK(m))
                return "a device (only regular files and directories are allowed)";
        return "an unknown file type (only regular files and directories are allowed)";
}

static int scan_dir(struct scan *s, int fd, const char *rel);

static int scan_one(struct scan *s, int dfd, const char *rel, const char *name)
{
        _cleanup_free_ char *path = *rel ? xasprintf("%s/%s", rel, name) : xstrdup(name);
        const char *why = artifact_path_problem(path);
        struct stat st;

        if (why)
                return scan_refuse(s, path, -EBADMSG, why);
        if (++s->entries > artifact_default_limits.max_entries)
                return scan_refuse(s, path, -EBADMSG, "more files and directories than the cap");
        if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return scan_fail(s, path, -errno);
        if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode))
                return scan_refuse(s, path, -EBADMSG, kind(st.st_mode));
        /* O_NOFOLLOW and fstat of what was opened: a swap after fstatat is refused. */
        int fd = openat(dfd, name, S_ISDIR(st.st_mode) ? DIR_FLAGS : O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0)
                return errno == ELOOP ? scan_refuse(s, path, -EBADMSG, kind(S_IFLNK)) : scan_fail(s, path, -errno);
        if (fstat(fd, &st) < 0 || (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode))) {
                int r = S_ISDIR(st.st_mode) || S_ISREG(st.st_mode) ? scan_fail(s, path, -errno)
                                                                     : scan_refuse(s, path, -EBADMSG, kind(st.st_mode));
                (void)close(fd);
                return r;
        }
        if (S_ISDIR(st.st_mode))
                return scan_dir(s, fd, path);
        _cleanup_close_ int ffd = fd;
        struct artifact a = { 0 };
        int r = sha256_fd(ffd, artifact_default_limits.max_file, &a.size, a.sha256);
        if (r == -EFBIG)
                return scan_refuse(s, path, -EFBIG, "larger than the cap of one file");
        if (r < 0)
                return scan_fail(s, path, r);
        (void)snprintf(a.path, sizeof(a.path), "%s", path);
        s->v = xreallocarray(s->v, s->n + 1, sizeof(*s->v));
        s->v[s->n++] = a;
        return 0;
}

/* The directory open at FD (taken), below REL. */
static int scan_dir(struct scan *s, int fd, const char *rel)
{
        DIR *d = fdopendir(fd);
        struct dirent *de;
        int r = 0;

        if (!d) {
                r = scan_fail(s, *rel ? rel : ".", -errno);
                (void)close(fd);
                return r;
        }
        while (r == 0 && (errno = 0, de = readdir(d)))
                if (!streq(de->d_name, ".") && !streq(de->d_name, ".."))
                        r = scan_one(s, dirfd(d), rel, de->d_name);
        if (r == 0 && errno)
                r = scan_fail(s, *rel ? rel : ".", -errno);
        closedir(d);
        return r;
}

static int cmp_path(const void *a, const void *b)
{
        return strcmp(((const struct artifact *)a)->path, ((const struct artifact *)b)->path);
}

int artifacts_scan(const char *dir, struct artifact **ret, size_t *ret_n, struct mlvm_err *e)
{
        struct scan s = { .dir = dir, .e = e };
        char s1[SHOWN_MAX];
        int fd = open(dir, DIR_FLAGS), r;

        if (fd < 0)
                return err_set(e, -errno, "artifacts %s", shown(dir, s1));
        if ((r = scan_dir(&s, fd, "")) < 0) {
                free(s.v);
                return r;
        }
        if (s.n)
                qsort(s.v, s.n, sizeof(*s.v), cmp_path);
        *ret = s.v;
        *ret_n = s.n;
        return 0;
}

/* ---- copy -------------------------------------------------------------- */

static int copy_one(int src, int out, const struct artifact *a, const char *out_dir, struct mlvm_err *e)
{
        char s1[SHOWN_MAX], s2[SHOWN_MAX], hex[SHA256_HEX_LEN + 1];
        const char *slash = strrchr(a->path, '/'), *base = slash ? slash + 1 : a->path;
        size_t bad = 0;
        uint64_t size = 0;
        struct stat st;

        _cleanup_close_ int sp = artifact_open_parent(src, a->path, false, &bad);
        _cleanup_close_ int op = sp < 0 ? -1 : artifact_open_parent(out, a->path, true, &bad);
        if (sp < 0)
                return err_set(e, sp, "artifact %s", shown(a->path, s1));
        if (op < 0)
                return err_set(e, op, "%s/%.*s", shown(out_dir, s1), (int)bad, shown(a->path, s2));
        _cleanup_close_ int in = openat(sp, base, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
        if (in < 0 || fstat(in, &st) < 0)
                return err_set(e, -errno, "artifact %s", shown(a->path, s1));
        if (!S_ISREG(st.st_mode))
                return err_setx(e, -EBADMSG, "artifact %s: no longer a regular file", shown(a->path, s1));
        _cleanup_close_ int o = openat(op, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (o < 0)
                return err_set(e, -errno, "%s/%s", shown(out_dir, s1), shown(a->path, s2));
        int r = sha256_copy_fd(in, o, artifact_default_limits.max_file, &size, hex);
        if (r < 0)
                return err_set(e, r, "copy %s to %s", shown(a->path, s1), shown(out_dir, s2));
        if (size != a->size || !streq(hex, a->sha256))
                return err_setx(e, -EBADMSG, "artifact %s: changed since it was listed (SHA-256 %s, expected %s)",
                                shown(a->path, s1), hex, a->sha256);
        return 0;
}

int artifacts_copy(const char *src_dir, const struct artifact *v, size_t n, const char *out_dir,
                   uint64_t *ret_bytes, struct mlvm_err *e)
{
        char s1[SHOWN_MAX], s2[SHOWN_MAX];
        uint64_t bytes = 0;
        struct stat st;
        int r;

        _cleanup_close_ int src = open(src_dir, DIR_FLAGS);
        if (src < 0)
                return err_set(e, -errno, "artifacts %s", shown(src_dir, s1));
        if ((r = mkdir_p(out_dir, 0755)) < 0)
                return err_set(e, r, "%s", shown(out_dir, s1));
        /* OUT_DIR itself is the user's to name, a symlink too; nothing below it is followed. */
        _cleanup_close_ int out = open(out_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (out < 0)
                return err_set(e, -errno, "%s", shown(out_dir, s1));
        for (size_t i = 0; i < n; i++) {
                if (!artifact_path_is_valid(v[i].path))
                        return err_setx(e, -EBADMSG, "artifact %s: not a valid path", shown(v[i].path, s1));
                size_t bad = 0;
                _cleanup_close_ int op = artifact_open_parent(out, v[i].path, false, &bad);
                const char *slash = strrchr(v[i].path, '/');
                if (op >= 0 && fstatat(op, slash ? slash + 1 : v[i].path, &st, AT_SYMLINK_NOFOLLOW) == 0)
                        return err_setx(e, -EEXIST, "%s/%s: already exists (not overwritten)",
                                        shown(out_dir, s1), shown(v[i].path, s2));
                if (op < 0 && op != -ENOENT) /* e.g. a symlink where a directory should be */
                        return err_set(e, op, "%s/%.*s", shown(out_dir, s1), (int)bad,
                                       shown(v[i].path, s2));
        }
        for (size_t i = 0; i < n; i++) {
                if ((r = copy_one(src, out, &v[i], out_dir, e)) < 0)
                        return r;
                bytes += v[i].size;
        }
        if (ret_bytes)
                *ret_bytes = bytes;
        return 0;
}
