/* agent-artifacts.c: the agent's side of an experiment's artifacts. At EXEC the
 * artifact directory is made empty and the workload's (a tmpfs when the
 * root is the initramfs, so it never lands in the image). When the
 * workload has ended, every regular file and directory under it is
 * hashed, reported (ARTIFACT) and written as one ustar stream to the raw
 * artifact disk, whose size and SHA-256 are reported last
 * (ARTIFACTS_DONE). Anything but regular files and directories fails the
 * artifacts: the host would refuse them anyway. The host re-checks all of
 * it; nothing here is trusted by it. See agent-artifacts.h. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent-artifacts.h"
#include "agent-util.h"
#include "proto.h"
#include "tar.h"
#include "transport.h"
#include "workload.h"

#define ART_MAX_ENTRIES 10000
#define ART_PATH_MAX 255

#define ART_DIR_MAX (PROTO_PATH_MAX * 2)

static char dir[ART_DIR_MAX];           /* in the agent's view: workload_root() + the path */
static char serial[PROTO_STR_SHORT];

struct entry {
        char path[ART_PATH_MAX + 1];
        bool is_dir;
};

/* What artifacts_write_tree() found under ROOT, in stream order. */
struct tree {
        const char *root;
        struct entry *entries;     /* ART_MAX_ENTRIES */
        size_t n;
};

static artifacts_writer writer = artifacts_write_tree;

void artifacts_set_writer(artifacts_writer fn) { writer = fn; }

bool artifacts_wanted(void) { return dir[0] != 0; }

int artifacts_prepare(const struct proto_exec *e, char *why, size_t cap)
{
        if (!e->artifacts_dir[0])
                return 0;
        if (e->artifacts_dir[0] != '/' || strstr(e->artifacts_dir, "..") || !e->artifacts_serial[0]) {
                (void)snprintf(why, cap, "artifacts: bad directory %s or no disk serial", e->artifacts_dir);
                return -EINVAL;
        }
        (void)snprintf(dir, sizeof(dir), "%s%s", util_is_pid1() ? workload_root() : "", e->artifacts_dir);
        (void)snprintf(serial, sizeof(serial), "%s", e->artifacts_serial);
        int r = util_mkdir_p(dir);
        if (r < 0) {
                (void)snprintf(why, cap, "artifacts: mkdir %s: %s", e->artifacts_dir, strerror(-r));
                return r;
        }
        DIR *d = opendir(dir);
        struct dirent *de;
        while (d && (de = readdir(d)))
                if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
                        closedir(d);
                        (void)snprintf(why, cap, "artifacts: %s is not empty in the image", e->artifacts_dir);
                        return -ENOTEMPTY;
                }
        if (d)
                closedir(d);
        if (!util_is_pid1())
                return 0;
        if (!workload_root()[0]) {
                /* The initramfs is RAM already: a tmpfs of its own keeps the artifacts apart. */
                char opts[80];
                (void)snprintf(opts, sizeof(opts), "mode=0700,uid=%d,gid=%d", WORKLOAD_UID, WORKLOAD_GID);
                if (mount("mlvm-artifacts", dir, "tmpfs", MS_NOSUID | MS_NODEV, opts) < 0) {
                        r = -errno;
                        (void)snprintf(why, cap, "artifacts: mount tmpfs on %s: %s", e->artifacts_dir, strerror(errno));
                        return r;
                }
        } else if (chown(dir, WORKLOAD_UID, WORKLOAD_GID) < 0 || chmod(dir, 0700) < 0) {
                r = -errno;
                (void)snprintf(why, cap, "artifacts: chown %s: %s", e->artifacts_dir, strerror(errno));
                return r;
        }
        return 0;
}

static int cmp_name(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Depth first, names sorted, so the stream is the same for the same tree. */
static int walk(struct tree *t, const char *rel, char *why, size_t cap)
{
        char path[ART_DIR_MAX + ART_PATH_MAX + 2];
        (void)snprintf(path, sizeof(path), "%s%s%s", t->root, rel[0] ? "/" : "", rel);
        DIR *d = opendir(path);
        if (!d) {
                (void)snprintf(why, cap, "artifacts: open %s: %s", rel[0] ? rel : ".", strerror(errno));
                return -errno;
        }
        char **names = NULL;
        size_t n = 0, cap_names = 0;
        struct dirent *de;
        int r = 0;
        while ((de = readdir(d))) {
                if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                        continue;
                if (n == cap_names) {
                        cap_names = cap_names ? cap_names * 2 : 32;
                        char **bigger = realloc(names, cap_names * sizeof(*names));
                        if (!bigger) {
                                r = -ENOMEM;
                                break;
                        }
                        names = bigger;
                }
                if (!(names[n] = strdup(de->d_name))) {
                        r = -ENOMEM;
                        break;
                }
                n++;
        }
        closedir(d);
        if (r == 0)
                qsort(names, n, sizeof(*names), cmp_name);
        for (size_t i = 0; i < n && r == 0; i++) {
                char sub[ART_PATH_MAX + 2];
                struct stat st;
                if ((size_t)snprintf(sub, sizeof(sub), "%s%s%s", rel, rel[0] ? "/" : "", names[i]) > ART_PATH_MAX) {
                        (void)snprintf(why, cap, "artifacts: %.64s...: path longer than %d bytes", sub, ART_PATH_MAX);
                        r = -ENAMETOOLONG;
                        break;
                }
                for (const unsigned char *c = (const unsigned char *)names[i]; *c && r == 0; c++)
                        if (*c < 0x20 || *c == 0x7f) {
                                (void)snprintf(why, cap, "artifacts: a name under %s has a control character",
                                               rel[0] ? rel : ".");
                                r = -EINVAL;
                        }
                if (r < 0)
                        break;
                (void)snprintf(path, sizeof(path), "%s/%s", t->root, sub);
                if (lstat(path, &st) < 0) {
                        r = -errno;
                        (void)snprintf(why, cap, "artifacts: %s: %s", sub, strerror(errno));
                        break;
                }
                if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) {
                        (void)snprintf(why, cap, "artifacts: %s is not a regular file or a directory", sub);
                        r = -EINVAL;
                        break;
                }
                if (t->n >= ART_MAX_ENTRIES) {
                        (void)snprintf(why, cap, "artifacts: more than %d files and directories", ART_MAX_ENTRIES);
                        r = -E2BIG;
                        break;
                }
                struct entry *ne = &t->entries[t->n++];
                memcpy(ne->path, sub, strlen(sub) + 1);
                ne->is_dir = S_ISDIR(st.st_mode);
                if (ne->is_dir)
                        r = walk(t, sub, why, cap);
        }
        for (size_t i = 0; i < n; i++)
                free(names[i]);
        free(names);
        return r;
}

static int send_artifact(uint8_t type, const char *path, uint64_t size, const char *digest, uint32_t count)
{
        static struct proto_msg m;
        m = (struct proto_msg){ .type = type, .id = 0 };
        if (path)
                proto_strlcpy(m.u.artifact.path, path, sizeof(m.u.artifact.path));
        m.u.artifact.size = size;
        m.u.artifact.count = count;
        proto_strlcpy(m.u.artifact.digest, digest, sizeof(m.u.artifact.digest));
        return transport_send(&m);
}

/* One regular file: header, data (hashed on its own too), padding. */
static int put_file(struct tarw *w, const char *root, const char *rel, char *why, size_t cap)
{
        char path[ART_DIR_MAX + ART_PATH_MAX + 2], hex[65];
        static uint8_t buf[1 << 16];
        struct sha256 h;
        struct stat st;
        int r;

        (void)snprintf(path, sizeof(path), "%s/%s", root, rel);
        int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
                r = fd < 0 ? -errno : -EINVAL;
                (void)snprintf(why, cap, "artifacts: %s: %s", rel, fd < 0 ? strerror(errno) : "not a regular file");
                if (fd >= 0)
                        close(fd);
                return r;
        }
        uint64_t size = (uint64_t)st.st_size, done = 0;
        if ((r = tarw_header(w, rel, '0', size, NULL, 0, 0)) < 0)
                goto out;
        sha256_init(&h);
        while (done < size) {
                ssize_t n = read(fd, buf, size - done < sizeof(buf) ? (size_t)(size - done) : sizeof(buf));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0) {
                        r = n < 0 ? -errno : -EIO;
                        break;
                }
                sha256_update(&h, buf, (size_t)n);
                if ((r = tarw_data(w, buf, (size_t)n)) < 0)
                        break;
                done += (uint64_t)n;
        }
        if (r == 0 && done == size)
                r = tarw_pad(w, size);
out:
        close(fd);
        if (r < 0) {
                (void)snprintf(why, cap, "artifacts: %s: %s", rel,
                               r == -ENOSPC ? "the artifact disk is full" : r == -ENAMETOOLONG ? "name too long for ustar"
                               : strerror(-r));
                return r;
        }
        sha256_final_hex(&h, hex);
        if ((r = send_artifact(PROTO_ARTIFACT, rel, size, hex, 0)) < 0)
                (void)snprintf(why, cap, "artifacts: send ARTIFACT: %s", strerror(-r));
        return r;
}

int artifacts_write_tree(const char *root, struct tarw *w, char *why, size_t cap)
{
        struct tree t = { .root = root, .entries = calloc(ART_MAX_ENTRIES, sizeof(struct entry)) };
        int files = 0;

        if (!t.entries) {
                (void)snprintf(why, cap, "artifacts: out of memory");
                return -ENOMEM;
        }
        int r = walk(&t, "", why, cap);
        for (size_t i = 0; i < t.n && r == 0; i++) {
                if (t.entries[i].is_dir) {
                        char name[ART_PATH_MAX + 2];
                        (void)snprintf(name, sizeof(name), "%s/", t.entries[i].path);
                        r = tarw_header(w, name, '5', 0, NULL, 0, 0);
                        if (r < 0)
                                (void)snprintf(why, cap, "artifacts: %s: %s", t.entries[i].path, strerror(-r));
                } else if ((r = put_file(w, root, t.entries[i].path, why, cap)) == 0)
                        files++;
        }
        free(t.entries);
        return r < 0 ? r : files;
}

int artifacts_finish(char *why, size_t cap)
{
        char dev[40], devpath[64], hex[65];
        struct tarw w;
        int r;

        if (util_find_disk(serial, util_now_ms() + 10000, dev, sizeof(dev)) < 0) {
                (void)snprintf(why, cap, "artifacts: no virtio disk with serial %s", serial);
                return -ENOENT;
        }
        (void)snprintf(devpath, sizeof(devpath), "/dev/%s", dev);
        int fd = open(devpath, O_WRONLY | O_CLOEXEC);
        if (fd < 0) {
                (void)snprintf(why, cap, "artifacts: open %s: %s", devpath, strerror(errno));
                return -errno;
        }
        if ((r = tarw_open(&w, fd)) < 0) {
                (void)snprintf(why, cap, "artifacts: out of memory");
                close(fd);
                return r;
        }
        int files = writer(dir, &w, why, cap);
        r = files < 0 ? files : 0;
        if (r == 0 && (r = tarw_finish(&w, hex)) < 0)
                (void)snprintf(why, cap, "artifacts: writing the stream: %s",
                               r == -ENOSPC ? "the artifact disk is full" : strerror(-r));
        uint64_t total = w.total;
        tarw_free(&w);
        close(fd);
        if (r < 0)
                return r;
        util_log("artifacts: %d files, %llu bytes of stream, sha256 %s", files, (unsigned long long)total, hex);
        if ((r = send_artifact(PROTO_ARTIFACTS_DONE, NULL, total, hex, (uint32_t)files)) < 0)
                (void)snprintf(why, cap, "artifacts: send ARTIFACTS_DONE: %s", strerror(-r));
        return r;
}
