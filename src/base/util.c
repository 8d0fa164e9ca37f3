/* util.c: allocation wrappers and small file helpers. */
#include "mlvm-build.h"

#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <sys/stat.h>

#include "util.h"

static void oom(void)
{
        fputs("mlvm: out of memory\n", stderr);
        abort();
}

void *xmalloc(size_t n)
{
        void *p = malloc(n ? n : 1);
        if (!p)
                oom();
        return p;
}

void *xcalloc(size_t n, size_t size)
{
        void *p = calloc(n ? n : 1, size ? size : 1);
        if (!p)
                oom();
        return p;
}

void *xreallocarray(void *p, size_t n, size_t size)
{
        if (size && n > SIZE_MAX / size)
                oom();
        p = realloc(p, (n * size) != 0 ? n * size : 1);
        if (!p)
                oom();
        return p;
}

char *xstrdup(const char *s)
{
        char *p = strdup(s);
        if (!p)
                oom();
        return p;
}

char *xstrndup(const char *s, size_t n)
{
        char *p = strndup(s, n);
        if (!p)
                oom();
        return p;
}

char *xasprintf(const char *fmt, ...)
{
        va_list ap;
        char *s = NULL;

        va_start(ap, fmt);
        int r = vasprintf(&s, fmt, ap);
        va_end(ap);
        if (r < 0)
                oom();
        return s;
}

void text_vset(char *buf, size_t len, const char *fmt, va_list ap)
{
        if (vsnprintf(buf, len, fmt, ap) < 0 && len)
                buf[0] = '\0';
}

void text_set(char *buf, size_t len, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        text_vset(buf, len, fmt, ap);
        va_end(ap);
}

ssize_t read_retry(int fd, void *buf, size_t len)
{
        ssize_t n;
        do
                n = read(fd, buf, len);
        while (n < 0 && errno == EINTR);
        return n < 0 ? -errno : n;
}

int write_full(int fd, const void *buf, size_t len)
{
        const char *p = buf;
        while (len > 0) {
                ssize_t n = write(fd, p, len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                p += n;
                len -= (size_t)n;
        }
        return 0;
}

int read_file_capped(const char *path, size_t max, char **ret_buf, size_t *ret_len)
{
        /* O_NONBLOCK: opening a FIFO must not wait for a writer; fstat then
         * refuses anything but a regular file (where the flag is moot). */
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        _cleanup_free_ char *buf = NULL;
        struct stat st;
        size_t len = 0;

        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (S_ISDIR(st.st_mode))
                return -EISDIR;
        if (!S_ISREG(st.st_mode))
                return -EINVAL;
        if ((uint64_t)st.st_size > max)
                return -EFBIG;
        buf = xmalloc(max + 1);
        for (;;) {
                /* Read one byte past the cap so a file that grew is caught. */
                ssize_t n = read_retry(fd, buf + len, max + 1 - len);
                if (n < 0)
                        return (int)n;
                if (n == 0)
                        break;
                len += (size_t)n;
                if (len > max)
                        return -EFBIG;
        }
        buf[len] = '\0';
        *ret_buf = TAKE_PTR(buf);
        if (ret_len)
                *ret_len = len;
        return 0;
}

int write_file_atomic(const char *path, const void *buf, size_t len, mode_t mode)
{
        _cleanup_free_ char *tmp = xasprintf("%s.tmp.%ld", path, (long)getpid());
        _cleanup_close_ int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
        const char *p = buf;
        int r = 0;

        if (fd < 0)
                return -errno;
        if ((r = write_full(fd, p, len)) < 0)
                goto out;
        if (fchmod(fd, mode) < 0 || fsync(fd) < 0) {
                r = -errno;
                goto out;
        }
        if (rename(tmp, path) < 0)
                r = -errno;
out:
        if (r < 0)
                (void)unlink(tmp);
        return r;
}

int mkdir_p(const char *path, mode_t mode)
{
        _cleanup_free_ char *p = xstrdup(path);

        for (char *s = p + 1; *s; s++) {
                if (*s != '/')
                        continue;
                *s = '\0';
                if (mkdir(p, mode) < 0 && errno != EEXIST)
                        return -errno;
                *s = '/';
        }
        if (mkdir(p, mode) < 0 && errno != EEXIST)
                return -errno;
        return 0;
}

static int remove_one(const char *path, const struct stat *st, int type, struct FTW *f)
{
        return remove(path) < 0 && errno != ENOENT ? -1 : 0;
}

int remove_tree(const char *path)
{
        struct stat st;
        if (lstat(path, &st) < 0)
                return errno == ENOENT ? 0 : -errno;
        /* Depth first, never following a symlink, never leaving the file system. */
        return nftw(path, remove_one, 64, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) < 0 ? -errno : 0;
}

char *find_helper_binary(const char *env_var, const char *rel, const char *installed)
{
        const char *env = getenv(env_var);
        char self[4096];

        if (env && *env)
                return xstrdup(env);
        ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
        if (n > 0) {
                self[n] = '\0';
                char *slash = strrchr(self, '/');
                if (slash) {
                        *slash = '\0';
                        char *p = xasprintf("%s/%s", self, rel);
                        if (access(p, X_OK) == 0)
                                return p;
                        free(p);
                }
        }
        return xstrdup(installed);
}

const char *shown_cap(const char *s, size_t max, char *out)
{
        size_t j = 0, i = 0;
        for (; s[i] && j < max; i++) {
                unsigned char c = (unsigned char)s[i];
                out[j++] = c < 0x20 || c == 0x7f ? '?' : (char)c;
        }
        if (s[i]) {
                memcpy(out + j, "...", 3);
                j += 3;
        }
        out[j] = '\0';
        return out;
}

const char *shown(const char *s, char out[SHOWN_MAX])
{
        return shown_cap(s, SHOWN_MAX - 4, out);
}
