/* disk-iso-source.c: the two sources of a data disk, a host directory and
 * a tar archive, fed entry by entry into the rules of disk-iso.c; see
 * disk-iso.h and disk-iso-internal.h.
 *
 * Trust: the source, a directory or (worse) a tarball, is user input. Only
 * regular files and directories are taken; symlinks are never followed below
 * the source; member names that could leave the root are refused; entries
 * (in all and per directory), bytes, path length and depth are capped before
 * anything is spooled. */
#include "mlvm-build.h"

#include <dirent.h>
#include <fcntl.h>
#include <search.h>
#include <sys/stat.h>
#include <archive.h>
#include <archive_entry.h>

#include "disk-iso-internal.h"
#include "util.h"

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void free_names(char **v, size_t n)
{
        for (size_t i = 0; i < n; i++)
                free(v[i]);
        free(v);
}

static int copy_fd(struct builder *b, const char *path, int fd, uint64_t size)
{
        for (uint64_t left = size; left > 0;) {
                ssize_t n = read(fd, b->buf, left < ISO_COPY_BUF_SIZE ? (size_t)left : ISO_COPY_BUF_SIZE);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        char s1[SHOWN_MAX], s2[SHOWN_MAX];
                        return err_set(b->e, -errno, "data disk %s: %s", shown(b->what, s1), shown(path, s2));
                }
                if (n == 0)
                        return iso_refuse(b, -EIO, path, "the file shrank while it was read");
                int r = iso_put_bytes(b, path, b->buf, (size_t)n);
                if (r < 0)
                        return r;
                left -= (uint64_t)n;
        }
        return 0;
}

static int walk_one(struct builder *b, int dfd, const char *rel, const char *name)
{
        _cleanup_free_ char *path = *rel ? xasprintf("%s/%s", rel, name) : xstrdup(name);
        char s1[SHOWN_MAX], s2[SHOWN_MAX];
        struct stat st;
        int r;

        if ((r = iso_check_path(b, path)) < 0)
                return r;
        if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return err_set(b->e, -errno, "data disk %s: %s", shown(b->what, s1), shown(path, s2));
        if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode))
                return iso_refuse_type(b, path, iso_type_name(st.st_mode));
        /* O_NOFOLLOW, then fstat of what was opened: a name swapped for a
         * symlink or a FIFO after the fstatat above is refused, not followed. */
        int flags = O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK | (S_ISDIR(st.st_mode) ? O_DIRECTORY : 0);
        _cleanup_close_ int fd = openat(dfd, name, flags);
        if (fd < 0 || fstat(fd, &st) < 0)
                return errno == ELOOP ? iso_refuse_type(b, path, "symbolic link")
                                      : err_set(b->e, -errno, "data disk %s: %s", shown(b->what, s1), shown(path, s2));
        if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode))
                return iso_refuse_type(b, path, iso_type_name(st.st_mode));
        if ((r = iso_count_entry(b)) < 0)
                return r;
        if (S_ISDIR(st.st_mode)) {
                if ((r = iso_put_header(b, path, true, st.st_mode, 0, st.st_mtim.tv_sec)) < 0)
                        return r;
                return iso_walk(b, TAKE_FD(fd), path);
        }
        if ((r = iso_count_bytes(b, path, (uint64_t)st.st_size)) < 0 ||
            (r = iso_put_header(b, path, false, st.st_mode, (uint64_t)st.st_size, st.st_mtim.tv_sec)) < 0)
                return r;
        return copy_fd(b, path, fd, (uint64_t)st.st_size);
}

/* Walk the directory open at FD (taken), below REL. Names are sorted so that
 * errors and caps hit the same entry on every run. */
int iso_walk(struct builder *b, int fd, const char *rel)
{
        char s1[SHOWN_MAX], s2[SHOWN_MAX];
        DIR *d = fdopendir(fd);
        struct dirent *de;
        char **names = NULL;
        size_t n = 0;
        int r = 0;

        if (!d) {
                r = err_set(b->e, -errno, "data disk %s: %s", shown(b->what, s1), shown(*rel ? rel : ".", s2));
                (void)close(fd);
                return r;
        }
        while ((errno = 0, de = readdir(d))) {
                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                /* Cap before collecting: a directory of millions of names fails here. */
                if (n >= b->lim->max_dir_entries) {
                        r = iso_refuse_dir_full(b, rel);
                        goto out;
                }
                if (b->entries + n >= b->lim->max_entries) {
                        b->entries += n;
                        r = iso_count_entry(b);
                        goto out;
                }
                names = xreallocarray(names, n + 1, sizeof(*names));
                names[n++] = xstrdup(de->d_name);
        }
        if (errno) {
                r = err_set(b->e, -errno, "data disk %s: %s", shown(b->what, s1), shown(*rel ? rel : ".", s2));
                goto out;
        }
        if (n)
                qsort(names, n, sizeof(*names), cmp_str);
        for (size_t i = 0; i < n && r == 0; i++)
                r = walk_one(b, dirfd(d), rel, names[i]);
out:
        free_names(names, n);
        closedir(d);
        return r;
}

enum kind { KIND_IMPLICIT_DIR = 1, KIND_DIR, KIND_FILE };

/* A path seen in a tarball (duplicates, members below a regular file,
 * entries per directory). A search tree, not a hash table: member names are
 * chosen by whoever made the tarball, and a tree has no bad case to aim at. */
struct node {
        const char *path;      /* not NUL-terminated in lookup keys */
        size_t len;
        enum kind kind;
        uint64_t children;     /* directories: entries directly below */
};

static int node_cmp(const void *a, const void *b)
{
        const struct node *x = a, *y = b;
        int c = memcmp(x->path, y->path, x->len < y->len ? x->len : y->len);
        return c ? c : (x->len > y->len) - (x->len < y->len);
}

static struct node *seen_find(struct builder *b, const char *path, size_t n)
{
        struct node key = { .path = path, .len = n };
        struct node **found = tfind(&key, &b->seen, node_cmp);
        return found ? *found : NULL;
}

static void seen_add(struct builder *b, const char *path, size_t n, enum kind kind)
{
        struct node *nd = xmalloc(sizeof(*nd));
        *nd = (struct node){ .path = xstrndup(path, n), .len = n, .kind = kind };
        if (!tsearch(nd, &b->seen, node_cmp))
                abort(); /* out of memory, as xmalloc() */
}

void iso_node_free(void *p)
{
        struct node *nd = p;
        free((char *)nd->path);
        free(nd);
}

/* A member name as "a/b/c", or "" for the archive's root ("./"). */
static char *member_path(const char *raw)
{
        while (raw[0] == '.' && raw[1] == '/')
                raw += 2;
        if (streq(raw, "."))
                raw = "";
        size_t n = strlen(raw);
        while (n > 1 && raw[n - 1] == '/')
                n--;
        return xstrndup(raw, n);
}

/* Record PATH[0..N) below its parent, which is already recorded. */
static int add_node(struct builder *b, const char *path, size_t n, enum kind kind)
{
        uint64_t *children = &b->root_children;
        size_t plen = n;
        int r;

        while (plen > 0 && path[plen - 1] != '/')
                plen--;
        if (plen > 0) {
                struct node *parent = seen_find(b, path, plen - 1);
                if (!parent || parent->kind == KIND_FILE) /* note_member() made sure */
                        return iso_refuse(b, -EINVAL, path, "parent is not a directory");
                children = &parent->children;
        }
        if (*children >= b->lim->max_dir_entries) {
                _cleanup_free_ char *dir = xstrndup(path, plen ? plen - 1 : 0);
                return iso_refuse_dir_full(b, dir);
        }
        if ((r = iso_count_entry(b)) < 0)
                return r;
        (*children)++;
        seen_add(b, path, n, kind);
        return 0;
}

/* Tarballs may list a path twice, or put a member below a regular file, or
 * name a directory only after its contents (implicit parents count as entries). */
static int note_member(struct builder *b, const char *path, bool dir)
{
        struct node *nd;
        int r;

        for (const char *s = strchr(path, '/'); s; s = strchr(s + 1, '/')) {
                size_t n = (size_t)(s - path);
                nd = seen_find(b, path, n);
                if (nd && nd->kind == KIND_FILE)
                        return iso_refuse(b, -EINVAL, path, "below a member that is a regular file");
                if (!nd && (r = add_node(b, path, n, KIND_IMPLICIT_DIR)) < 0)
                        return r;
        }
        if ((nd = seen_find(b, path, strlen(path)))) {
                if (nd->kind == KIND_IMPLICIT_DIR && dir) {
                        nd->kind = KIND_DIR;
                        return 0;
                }
                return iso_refuse(b, -EEXIST, path, "listed twice in the archive");
        }
        return add_node(b, path, strlen(path), dir ? KIND_DIR : KIND_FILE);
}

int iso_in_error(struct builder *b, struct archive *in)
{
        char s1[SHOWN_MAX], s2[SHOWN_MAX];
        const char *why = archive_error_string(in);
        return err_setx(b->e, -EINVAL, "data disk %s: not a readable tar archive: %s", shown(b->what, s1),
                        shown(why ? why : "unknown error", s2));
}

static int copy_member(struct builder *b, struct archive *in, const char *path, uint64_t size)
{
        uint64_t got = 0;
        for (;;) {
                la_ssize_t n = archive_read_data(in, b->buf, ISO_COPY_BUF_SIZE);
                if (n < 0)
                        return iso_in_error(b, in);
                if (n == 0)
                        break;
                if ((uint64_t)n > size - got)
                        return iso_refuse(b, -EINVAL, path, "member longer than its header says");
                int r = iso_put_bytes(b, path, b->buf, (size_t)n);
                if (r < 0)
                        return r;
                got += (uint64_t)n;
        }
        return got == size ? 0 : iso_refuse(b, -EINVAL, path, "member truncated");
}

int iso_from_tar(struct builder *b, struct archive *in)
{
        struct archive_entry *ent;
        int r;

        for (;;) {
                r = archive_read_next_header(in, &ent);
                if (r == ARCHIVE_EOF)
                        return 0;
                if (r != ARCHIVE_OK) /* ARCHIVE_WARN too: fail closed on what libarchive doubts */
                        return iso_in_error(b, in);
                const char *raw = archive_entry_pathname(ent);
                if (!raw)
                        return iso_refuse(b, -EINVAL, "?", "member name cannot be read");
                _cleanup_free_ char *path = member_path(raw);
                const char *named = *path ? path : raw;
                mode_t type = archive_entry_filetype(ent);
                if (archive_entry_hardlink(ent))
                        return iso_refuse_type(b, named, "hard link");
                if (type == AE_IFLNK || archive_entry_symlink(ent))
                        return iso_refuse_type(b, named, "symbolic link");
                if (type != AE_IFREG && type != AE_IFDIR)
                        return iso_refuse_type(b, named, iso_type_name(type));
                if (!*path) {
                        if (type == AE_IFDIR)
                                continue; /* "./": the root itself */
                        return iso_refuse(b, -EINVAL, raw, "empty member name");
                }
                if ((r = iso_check_path(b, path)) < 0 || (r = note_member(b, path, type == AE_IFDIR)) < 0)
                        return r;
                int64_t mtime = archive_entry_mtime_is_set(ent) ? archive_entry_mtime(ent) : 0;
                if (type == AE_IFDIR) {
                        if ((r = iso_put_header(b, path, true, archive_entry_perm(ent), 0, mtime)) < 0)
                                return r;
                        continue;
                }
                la_int64_t size = archive_entry_size_is_set(ent) ? archive_entry_size(ent) : 0;
                if (size < 0)
                        return iso_refuse(b, -EINVAL, path, "negative size");
                if ((r = iso_count_bytes(b, path, (uint64_t)size)) < 0 ||
                    (r = iso_put_header(b, path, false, archive_entry_perm(ent), (uint64_t)size, mtime)) < 0 ||
                    (r = copy_member(b, in, path, (uint64_t)size)) < 0)
                        return r;
        }
}
