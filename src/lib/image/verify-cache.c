/* verify-cache.c: the per-image record of files already hashed, unchanged
 * since (verify-cache.h says when an entry is trusted). */
#include "mlvm-build.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "cleanup.h"
#include "json-util.h"
#include "util.h"
#include "verify-cache.h"

struct vcache_entry {
        char key[PATH_MAX];
        struct stat st;
        char sha256[SHA256_HEX_LEN + 1];
        int64_t hashed_at;
};

struct vcache {
        char *path;         /* NULL: not saved (parsed from text) */
        struct vcache_entry e[VCACHE_MAX_ENTRIES];
        size_t n;
        bool dirty;
};

static int64_t ts_ns(const struct timespec *t)
{
        return (int64_t)t->tv_sec * 1000000000LL + t->tv_nsec;
}

int64_t vcache_now_ns(void)
{
        struct timespec t;
        (void)clock_gettime(CLOCK_REALTIME, &t);
        return ts_ns(&t);
}

static bool same_stat(const struct stat *a, const struct stat *b)
{
        return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
               a->st_mode == b->st_mode && a->st_uid == b->st_uid && a->st_gid == b->st_gid &&
               ts_ns(&a->st_mtim) == ts_ns(&b->st_mtim) && ts_ns(&a->st_ctim) == ts_ns(&b->st_ctim);
}

static bool get_i64(json_object *o, const char *k, int64_t *ret)
{
        json_object *v;
        if (!json_object_object_get_ex(o, k, &v) || !json_object_is_type(v, json_type_int))
                return false;
        errno = 0;
        *ret = json_object_get_int64(v);
        return errno == 0;
}

static bool get_str(json_object *o, const char *k, char *buf, size_t size)
{
        json_object *v;
        if (!json_object_object_get_ex(o, k, &v) || !json_object_is_type(v, json_type_string))
                return false;
        const char *s = json_object_get_string(v);
        size_t len = strlen(s);
        if (len == 0 || len >= size)
                return false;
        memcpy(buf, s, len + 1);
        return true;
}

static bool parse_entry(json_object *o, struct vcache_entry *ret)
{
        int64_t dev, ino, size, mode, uid, gid, mtime, ctime;
        struct vcache_entry x = { 0 };
        if (!json_object_is_type(o, json_type_object) || !get_str(o, "key", x.key, sizeof(x.key)) ||
            !get_str(o, "sha256", x.sha256, sizeof(x.sha256)) || strlen(x.sha256) != SHA256_HEX_LEN ||
            !get_i64(o, "dev", &dev) || !get_i64(o, "ino", &ino) || !get_i64(o, "size", &size) ||
            !get_i64(o, "mode", &mode) || !get_i64(o, "uid", &uid) || !get_i64(o, "gid", &gid) ||
            !get_i64(o, "mtime", &mtime) || !get_i64(o, "ctime", &ctime) || !get_i64(o, "hashed_at", &x.hashed_at) ||
            size < 0 || mtime < 0 || ctime < 0)
                return false;
        x.st.st_dev = (dev_t)dev;
        x.st.st_ino = (ino_t)ino;
        x.st.st_size = (off_t)size;
        x.st.st_mode = (mode_t)mode;
        x.st.st_uid = (uid_t)uid;
        x.st.st_gid = (gid_t)gid;
        x.st.st_mtim = (struct timespec){ mtime / 1000000000LL, mtime % 1000000000LL };
        x.st.st_ctim = (struct timespec){ ctime / 1000000000LL, ctime % 1000000000LL };
        *ret = x;
        return true;
}

struct vcache *vcache_parse(const char *text, size_t len)
{
        struct vcache *c = xcalloc(1, sizeof(*c));
        if (len > VCACHE_MAX_BYTES)
                return c;
        json_object *root = json_parse_object(text, len, 4), *arr;
        if (root && json_object_object_get_ex(root, "entries", &arr) && json_object_is_type(arr, json_type_array) &&
            json_object_array_length(arr) <= VCACHE_MAX_ENTRIES) {
                for (size_t i = 0; i < json_object_array_length(arr); i++) {
                        if (!parse_entry(json_object_array_get_idx(arr, i), &c->e[c->n])) {
                                c->n = 0;   /* one bad entry: none is trusted */
                                break;
                        }
                        c->n++;
                }
        }
        json_object_put(root);
        return c;
}

static char *cache_path(const char *state_dir, const char *digest)
{
        return xasprintf("%s/cache/verified/%s.json", state_dir, digest);
}

struct vcache *vcache_load(const char *state_dir, const char *digest)
{
        _cleanup_free_ char *path = cache_path(state_dir, digest);
        _cleanup_free_ char *text = NULL;
        size_t len = 0;
        struct vcache *c = read_file_capped(path, VCACHE_MAX_BYTES, &text, &len) < 0 ? vcache_parse("", 0)
                                                                                      : vcache_parse(text, len);
        c->path = TAKE_PTR(path);
        return c;
}

static struct vcache_entry *find(const struct vcache *c, const char *key)
{
        for (size_t i = 0; i < c->n; i++)
                if (streq(c->e[i].key, key))
                        return (struct vcache_entry *)&c->e[i];
        return NULL;
}

bool vcache_known(const struct vcache *c, const char *key, const struct stat *st, const char *sha256)
{
        const struct vcache_entry *x = c ? find(c, key) : NULL;
        return x && streq(x->sha256, sha256) && same_stat(&x->st, st) &&
               ts_ns(&x->st.st_ctim) <= x->hashed_at - VCACHE_SETTLE_NS &&
               ts_ns(&x->st.st_mtim) <= x->hashed_at - VCACHE_SETTLE_NS;
}

void vcache_note(struct vcache *c, const char *key, const struct stat *before, const struct stat *after,
                 const char *sha256, int64_t hashed_at_ns)
{
        if (!c || !same_stat(before, after) || strlen(key) >= sizeof(c->e[0].key) ||
            strlen(sha256) != SHA256_HEX_LEN)
                return;
        struct vcache_entry *x = find(c, key);
        if (!x) {
                if (c->n == VCACHE_MAX_ENTRIES)
                        return;
                x = &c->e[c->n++];
        }
        memset(x, 0, sizeof(*x));
        memcpy(x->key, key, strlen(key) + 1);
        memcpy(x->sha256, sha256, SHA256_HEX_LEN + 1);
        x->st = *before;
        x->hashed_at = hashed_at_ns;
        c->dirty = true;
}

char *vcache_format(const struct vcache *c)
{
        json_object *root = json_object_new_object(), *arr = json_object_new_array();
        for (size_t i = 0; i < c->n; i++) {
                const struct vcache_entry *x = &c->e[i];
                json_object *o = json_object_new_object();
                json_object_object_add(o, "key", json_object_new_string(x->key));
                json_object_object_add(o, "sha256", json_object_new_string(x->sha256));
                json_object_object_add(o, "dev", json_object_new_int64((int64_t)x->st.st_dev));
                json_object_object_add(o, "ino", json_object_new_int64((int64_t)x->st.st_ino));
                json_object_object_add(o, "size", json_object_new_int64((int64_t)x->st.st_size));
                json_object_object_add(o, "mode", json_object_new_int64(x->st.st_mode));
                json_object_object_add(o, "uid", json_object_new_int64(x->st.st_uid));
                json_object_object_add(o, "gid", json_object_new_int64(x->st.st_gid));
                json_object_object_add(o, "mtime", json_object_new_int64(ts_ns(&x->st.st_mtim)));
                json_object_object_add(o, "ctime", json_object_new_int64(ts_ns(&x->st.st_ctim)));
                json_object_object_add(o, "hashed_at", json_object_new_int64(x->hashed_at));
                json_object_array_add(arr, o);
        }
        json_object_object_add(root, "entries", arr);
        char *s = xstrdup(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY));
        json_object_put(root);
        return s;
}

int vcache_save(struct vcache *c, struct mlvm_err *e)
{
        if (!c || !c->dirty || !c->path)
                return 0;
        _cleanup_free_ char *dir = xstrdup(c->path);
        *strrchr(dir, '/') = '\0';
        _cleanup_free_ char *text = vcache_format(c);
        int r = mkdir_p(dir, 0700);
        if (r >= 0)
                r = write_file_atomic(c->path, text, strlen(text), 0600);
        if (r < 0)
                return err_set(e, r, "%s", c->path);
        c->dirty = false;
        return 0;
}

void vcache_free(struct vcache *c)
{
        if (!c)
                return;
        free(c->path);
        free(c);
}

void vcache_remove(const char *state_dir, const char *digest)
{
        _cleanup_free_ char *path = cache_path(state_dir, digest);
        (void)unlink(path);
}
