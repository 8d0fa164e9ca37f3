/* secrets.c: the guest's side of credentials. Each one lives in a file of
 * a dedicated tmpfs at /run/mlvm/secrets of the workload's root (mode 0400,
 * owned by the workload's uid; the directory 0500), never on a disk, and
 * only until its TTL ends: the agent keeps a monotonic deadline per
 * credential, counted from delivery, because guest and host clocks need
 * not agree, and enforces it even while the host is away. A new lease
 * replaces the file atomically (rename). See secrets.h. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent-util.h"
#include "proto.h"
#include "secrets.h"
#include "workload.h"

#define SECRETS_MAX 64
#define SECRETS_REL "/run/mlvm/secrets"
#define SECRETS_TTL_MAX_MS (7ULL * 24 * 3600 * 1000)

struct slot {
        bool used;
        char name[PROTO_STR_SHORT];
        char lease[PROTO_STR_SHORT];
        uint64_t expires;          /* util_now_ms() clock */
};

static struct slot slots[SECRETS_MAX];
static char dir[PROTO_PATH_MAX];
static bool dir_ready;

static bool name_ok(const char *s)
{
        if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || *s == '_'))
                return false;
        for (; *s; s++)
                if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_'))
                        return false;
        return true;
}

/* The tmpfs, mounted on first use (after the workload's root is ready, so
 * the root's own /run tmpfs does not cover it later). */
static int prepare_dir(char *why, size_t cap)
{
        if (dir_ready)
                return 0;
        if (!util_is_pid1()) {
                /* Test mode (--fd): a directory the test gives, no mounts. */
                const char *d = getenv("MLVM_AGENT_SECRETS_DIR");
                if (!d || d[0] != '/' || strlen(d) >= sizeof(dir)) {
                        (void)snprintf(why, cap, "no secrets directory (MLVM_AGENT_SECRETS_DIR)");
                        return -ENOENT;
                }
                (void)snprintf(dir, sizeof(dir), "%s", d);
                dir_ready = true;
                return 0;
        }
        int r = workload_prepare_root(why, cap);
        if (r < 0)
                return r;
        (void)snprintf(dir, sizeof(dir), "%s%s", workload_root(), SECRETS_REL);
        if ((r = util_mkdir_p(dir)) < 0) {
                (void)snprintf(why, cap, "mkdir %s: %s", dir, strerror(-r));
                return r;
        }
        char opts[96];
        /* root's directory, readable by the workload's group: the workload
         * reads its files but cannot add links or files that would outlive a
         * revocation. */
        (void)snprintf(opts, sizeof(opts), "mode=0550,uid=0,gid=%d,size=4m,nr_inodes=256", WORKLOAD_GID);
        if (mount("mlvm-secrets", dir, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, opts) < 0) {
                r = -errno;
                (void)snprintf(why, cap, "mount tmpfs on %s: %s", dir, strerror(errno));
                return r;
        }
        dir_ready = true;
        return 0;
}

static struct slot *find(const char *name)
{
        for (size_t i = 0; i < SECRETS_MAX; i++)
                if (slots[i].used && strcmp(slots[i].name, name) == 0)
                        return &slots[i];
        return NULL;
}

static void remove_file(const char *name)
{
        char path[PROTO_PATH_MAX + PROTO_STR_SHORT + 2];
        (void)snprintf(path, sizeof(path), "%s/%s", dir, name);
        if (unlink(path) < 0 && errno != ENOENT)
                util_log("remove credential %s: %s", name, strerror(errno));
}

int secrets_put(const struct proto_cred *c, char *why, size_t cap)
{
        char path[PROTO_PATH_MAX + PROTO_STR_SHORT + 2], tmp[PROTO_PATH_MAX + PROTO_STR_SHORT + 8];
        struct slot *s;
        int r;

        if (!name_ok(c->name) || !c->lease[0] || c->ttl_ms == 0 || c->ttl_ms > SECRETS_TTL_MAX_MS || c->len == 0) {
                (void)snprintf(why, cap, "CRED_PUT: bad name, lease, ttl or empty value");
                return -EINVAL;
        }
        if (!(s = find(c->name))) {
                for (size_t i = 0; i < SECRETS_MAX && !s; i++)
                        if (!slots[i].used)
                                s = &slots[i];
                if (!s) {
                        (void)snprintf(why, cap, "CRED_PUT %s: more than %d credentials", c->name, SECRETS_MAX);
                        return -E2BIG;
                }
        }
        if ((r = prepare_dir(why, cap)) < 0)
                return r;
        (void)snprintf(path, sizeof(path), "%s/%s", dir, c->name);
        (void)snprintf(tmp, sizeof(tmp), "%s/.%s.new", dir, c->name);
        (void)unlink(tmp);
        int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0400);
        if (fd < 0) {
                r = -errno;
                (void)snprintf(why, cap, "CRED_PUT %s: create: %s", c->name, strerror(errno));
                return r;
        }
        size_t off = 0;
        while (off < c->len) {
                ssize_t n = write(fd, c->value + off, c->len - off);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        break;
                off += (size_t)n;
        }
        r = off == c->len ? 0 : -EIO;
        if (r == 0 && util_is_pid1() && fchown(fd, WORKLOAD_UID, WORKLOAD_GID) < 0)
                r = -errno;
        if (close(fd) < 0 && r == 0)
                r = -errno;
        if (r == 0 && rename(tmp, path) < 0)
                r = -errno;
        if (r < 0) {
                (void)unlink(tmp);
                (void)snprintf(why, cap, "CRED_PUT %s: write: %s", c->name, strerror(-r));
                return r;
        }
        s->used = true;
        memcpy(s->name, c->name, sizeof(s->name));
        memcpy(s->lease, c->lease, sizeof(s->lease));
        s->expires = util_now_ms() + c->ttl_ms;
        util_log("credential %s (lease %s) delivered for %llu ms", s->name, s->lease, (unsigned long long)c->ttl_ms);
        return 0;
}

unsigned secrets_revoke(const char *name)
{
        unsigned n = 0;
        for (size_t i = 0; i < SECRETS_MAX; i++) {
                struct slot *s = &slots[i];
                if (!s->used || (name[0] && strcmp(s->name, name) != 0))
                        continue;
                remove_file(s->name);
                util_log("credential %s (lease %s) revoked", s->name, s->lease);
                s->used = false;
                n++;
        }
        return n;
}

int secrets_next_timeout_ms(void)
{
        uint64_t now = util_now_ms(), next = UINT64_MAX;
        for (size_t i = 0; i < SECRETS_MAX; i++)
                if (slots[i].used && slots[i].expires < next)
                        next = slots[i].expires;
        if (next == UINT64_MAX)
                return -1;
        return next <= now ? 0 : next - now > 60000 ? 60000 : (int)(next - now);
}

void secrets_expire(void (*report)(const char *name, const char *lease))
{
        uint64_t now = util_now_ms();
        for (size_t i = 0; i < SECRETS_MAX; i++) {
                struct slot *s = &slots[i];
                if (!s->used || s->expires > now)
                        continue;
                remove_file(s->name);
                s->used = false;
                util_log("credential %s (lease %s) expired", s->name, s->lease);
                report(s->name, s->lease);
        }
}

bool secrets_path_covers(const char *path)
{
        /* A mount at or above the directory would hide it, one below it would sit inside it. */
        size_t n = strlen(path);
        if (n == 1 && path[0] == '/')
                return true;
        return strncmp(SECRETS_REL, path, n) == 0 && (SECRETS_REL[n] == '/' || SECRETS_REL[n] == 0) ? true
               : strncmp(path, SECRETS_REL "/", strlen(SECRETS_REL) + 1) == 0;
}
