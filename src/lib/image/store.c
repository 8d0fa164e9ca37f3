/* store.c: the content-addressed image store; see store.h. */
#include "mlvm-build.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdarg.h>
#include <sys/stat.h>

#include <libvirt/virterror.h>

#include "keys.h"
#include "mtime.h"
#include "store.h"
#include "util.h"
#include "volume.h"

#define TAG_FILE_MAX 128

static int cmp_tag(const void *a, const void *b)
{
        return strcmp(((const struct store_tag *)a)->tag, ((const struct store_tag *)b)->tag);
}

static char *read_digest(const char *path)
{
        _cleanup_free_ char *buf = NULL;
        size_t len;

        if (read_file_capped(path, TAG_FILE_MAX, &buf, &len) < 0)
                return NULL;
        while (len > 0 && buf[len - 1] == '\n')
                buf[--len] = '\0';
        if (len != 71 || !strstartswith(buf, "sha256:") || !is_sha256_hex(buf + 7))
                return NULL;
        return TAKE_PTR(buf);
}

int store_list_tags(const char *state_dir, struct store_tag **ret, size_t *ret_n, struct mlvm_err *e)
{
        _cleanup_free_ char *dir = xasprintf("%s/images/tags", state_dir);
        struct store_tag *v = NULL;
        size_t n = 0;
        DIR *d = opendir(dir);
        struct dirent *de;

        if (!d) {
                if (errno == ENOENT) {
                        *ret = NULL;
                        *ret_n = 0;
                        return 0;
                }
                return err_set(e, -errno, "image store: %s", dir);
        }
        while ((de = readdir(d))) {
                if (de->d_name[0] == '.')
                        continue;
                _cleanup_free_ char *path = xasprintf("%s/%s", dir, de->d_name);
                v = xreallocarray(v, n + 1, sizeof(*v));
                v[n].tag = xstrdup(de->d_name);
                v[n].digest = read_digest(path);
                v[n].present = 0;
                if (v[n].digest) {
                        _cleanup_free_ char *img = xasprintf("%s/images/sha256/%s", state_dir, v[n].digest + 7);
                        struct stat st;
                        v[n].present = stat(img, &st) == 0 && S_ISDIR(st.st_mode);
                }
                n++;
        }
        closedir(d);
        if (n)
                qsort(v, n, sizeof(*v), cmp_tag);
        *ret = v;
        *ret_n = n;
        return 0;
}

void store_tags_free(struct store_tag *t, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                free(t[i].tag);
                free(t[i].digest);
        }
        free(t);
}

int store_normalize_ref(const char *ref, char **ret, struct mlvm_err *e)
{
        if (strstartswith(ref, "sha256:")) {
                if (!is_sha256_hex(ref + 7))
                        return err_setx(e, -EINVAL, "image \"%.80s\": sha256: needs 64 lowercase hex digits", ref);
                *ret = xstrdup(ref);
                return 0;
        }
        const char *colon = strchr(ref, ':');
        _cleanup_free_ char *name = colon ? xstrndup(ref, (size_t)(colon - ref)) : xstrdup(ref);
        const char *tag = colon ? colon + 1 : "latest";
        bool ok = *name && strlen(name) <= 64 && *tag && strlen(tag) <= 64 && name[0] != '-' && tag[0] != '.' &&
                  tag[0] != '-';
        for (const char *p = name; ok && *p; p++)
                ok = (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' || *p == '_';
        for (const char *p = tag; ok && *p; p++)
                ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '-' ||
                     *p == '.' || *p == '_';
        if (!ok || strstr(ref, ".."))
                return err_setx(e, -EINVAL, "image \"%.80s\" is not NAME[:TAG] or sha256:<digest>", ref);
        *ret = xasprintf("%s:%s", name, tag);
        return 0;
}

static char *image_dir(const char *state_dir, const char *digest)
{
        return xasprintf("%s/images/sha256/%s", state_dir, digest);
}

int store_resolve(const char *state_dir, const char *ref, char ret_digest[SHA256_HEX_LEN + 1], struct mlvm_err *e)
{
        _cleanup_free_ char *norm = NULL, *digest = NULL, *dir = NULL;
        struct stat st;
        int r = store_normalize_ref(ref, &norm, e);

        if (r < 0)
                return r;
        if (strstartswith(norm, "sha256:"))
                digest = xstrdup(norm);
        else {
                _cleanup_free_ char *path = xasprintf("%s/images/tags/%s", state_dir, norm);
                if (access(path, F_OK) < 0)
                        return err_setx(e, -ENOENT, "image %s: no such tag in the store (see mlvm image ls)", norm);
                if (!(digest = read_digest(path)))
                        return err_setx(e, -EINVAL, "image %s: tag file %s is malformed", norm, path);
        }
        dir = image_dir(state_dir, digest + 7);
        if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
                return err_setx(e, -ENOENT, "image %s: %s is not in the store", norm, digest);
        memcpy(ret_digest, digest + 7, SHA256_HEX_LEN + 1);
        return 0;
}

char *store_volume_name(const char *digest, const char *part)
{
        return xasprintf("mlvm-img-%.16s-%s", digest, part);
}

/* Read manifest.json and manifest.sig from DIRFD, check the signature
 * against the trusted keys, parse. RET_DIGEST is the manifest's SHA-256. */
static int load_signed_manifest(const char *state_dir, int dirfd, const char *where, struct manifest *ret,
                                char ret_digest[SHA256_HEX_LEN + 1], char ret_keyid[KEY_ID_LEN + 1],
                                struct mlvm_err *e)
{
        _cleanup_free_ char *text = NULL, *sigtext = NULL;
        _cleanup_free_ char *mpath = xasprintf("/proc/self/fd/%d/manifest.json", dirfd);
        _cleanup_free_ char *spath = xasprintf("/proc/self/fd/%d/manifest.sig", dirfd);
        uint8_t sig[KEY_SIG_LEN];
        size_t len, slen;
        int r;

        if ((r = read_file_capped(mpath, MANIFEST_MAX_BYTES, &text, &len)) < 0)
                return r == -EFBIG ? err_setx(e, r, "%s/manifest.json: larger than %d bytes", where, MANIFEST_MAX_BYTES)
                                   : err_set(e, r, "%s/manifest.json", where);
        if ((r = read_file_capped(spath, MANIFEST_SIG_MAX, &sigtext, &slen)) < 0)
                return err_set(e, r, "%s/manifest.sig", where);
        if ((r = manifest_sig_parse(sigtext, slen, ret_keyid, sig, e)) < 0)
                return err_prefix(e, "%s", where);
        /* Check the signature over the exact bytes before parsing them. */
        if ((r = key_verify_trusted(state_dir, ret_keyid, text, len, sig, e)) < 0)
                return err_prefix(e, "%s/manifest.json", where);
        if ((r = manifest_parse(text, len, ret, e)) < 0)
                return err_prefix(e, "%s", where);
        sha256_hex(text, len, ret_digest);
        return 0;
}

static int rm_rf_dir(const char *path)
{
        DIR *d = opendir(path);
        struct dirent *de;
        if (!d)
                return errno == ENOENT ? 0 : -errno;
        while ((de = readdir(d))) {
                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                _cleanup_free_ char *p = xasprintf("%s/%s", path, de->d_name);
                (void)unlink(p);
        }
        closedir(d);
        return rmdir(path) < 0 ? -errno : 0;
}

/* Every file in DIR must be the manifest, its signature or a listed part. */
static int check_listing(const char *dir, const struct manifest *m, struct mlvm_err *e)
{
        DIR *d = opendir(dir);
        struct dirent *de;
        if (!d)
                return err_set(e, -errno, "%s", dir);
        while ((de = readdir(d))) {
                if (streq(de->d_name, ".") || streq(de->d_name, "..") || streq(de->d_name, "manifest.json") ||
                    streq(de->d_name, "manifest.sig") || manifest_part(m, de->d_name))
                        continue;
                int r = err_setx(e, -EINVAL, "%s/%.64s: not listed in the manifest", dir, de->d_name);
                closedir(d);
                return r;
        }
        closedir(d);
        return 0;
}

static int copy_part(int srcdir, const char *where, int dstdir, const struct image_part *p, struct mlvm_err *e)
{
        _cleanup_close_ int in = openat(srcdir, p->name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
        _cleanup_close_ int out = -1;
        char hex[SHA256_HEX_LEN + 1];
        uint64_t size = 0;
        struct stat st;
        int r;

        if (in < 0)
                return errno == ENOENT ? err_setx(e, -ENOENT, "part %s: missing from %s", p->name, where)
                                       : err_set(e, -errno, "part %s: %s/%s", p->name, where, p->name);
        if (fstat(in, &st) < 0 || !S_ISREG(st.st_mode))
                return err_setx(e, -EINVAL, "part %s: not a regular file", p->name);
        if ((uint64_t)st.st_size != p->size)
                return err_setx(e, -EINVAL, "part %s: size %lld, the manifest says %llu (truncated or padded)", p->name,
                                (long long)st.st_size, (unsigned long long)p->size);
        out = openat(dstdir, p->name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
        if (out < 0)
                return err_set(e, -errno, "store: part %s", p->name);
        /* Hash the bytes as they are copied: the stored copy is what was checked. */
        if ((r = sha256_copy_fd(in, out, p->size, &size, hex)) < 0)
                return r == -EFBIG ? err_setx(e, r, "part %s: grew past the manifest's size", p->name)
                                   : err_set(e, r, "part %s", p->name);
        if (size != p->size)
                return err_setx(e, -EINVAL, "part %s: read %llu bytes, the manifest says %llu", p->name,
                                (unsigned long long)size, (unsigned long long)p->size);
        if (!streq(hex, p->sha256))
                return err_setx(e, -EBADMSG, "part %s: SHA-256 %s does not match the manifest's %s", p->name, hex,
                                p->sha256);
        if (fsync(out) < 0)
                return err_set(e, -errno, "store: part %s", p->name);
        return 0;
}

static int write_tag(const char *state_dir, const char *tag, const char *digest, struct mlvm_err *e)
{
        _cleanup_free_ char *norm = NULL, *dir = xasprintf("%s/images/tags", state_dir);
        int r = store_normalize_ref(tag, &norm, e);
        if (r < 0)
                return r;
        if (strstartswith(norm, "sha256:"))
                return err_setx(e, -EINVAL, "tag %s: a tag cannot be a digest", tag);
        if ((r = mkdir_p(dir, 0700)) < 0)
                return err_set(e, r, "%s", dir);
        _cleanup_free_ char *path = xasprintf("%s/%s", dir, norm);
        _cleanup_free_ char *text = xasprintf("sha256:%s\n", digest);
        if ((r = write_file_atomic(path, text, strlen(text), 0600)) < 0)
                return err_set(e, r, "%s", path);
        return 0;
}

static void say(const struct store_progress *pr, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(const struct store_progress *pr, const char *fmt, ...)
{
        char line[512];
        va_list ap;
        if (!pr || !pr->line)
                return;
        va_start(ap, fmt);
        (void)vsnprintf(line, sizeof(line), fmt, ap);
        va_end(ap);
        pr->line(pr->u, line);
}

static double mb(uint64_t bytes) { return (double)bytes / 1e6; }

/* Upload part P of image DIGEST from IMGDIR and read it back. */
static int upload_part(const char *imgdir, const struct image_part *p, const char *digest, virStoragePoolPtr pool,
                       const struct store_progress *pr, struct mlvm_err *e)
{
        _cleanup_free_ char *vol = store_volume_name(digest, p->name);
        _cleanup_free_ char *path = xasprintf("%s/%s", imgdir, p->name);
        char hex[SHA256_HEX_LEN + 1];
        uint64_t size;
        int r;

        /* A digest-named volume that is already there is reused only if its bytes match. */
        if (volume_hash(pool, vol, p->size, &size, hex, NULL) == 0) {
                if (size == p->size && streq(hex, p->sha256)) {
                        say(pr, "part %s: volume %s is already in the pool, hashes right", p->name, vol);
                        return 0;
                }
                if ((r = volume_delete(pool, vol, e)) < 0)
                        return r;
        }
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return err_set(e, -errno, "%s", path);
        say(pr, "part %s: uploading %.1f MB to volume %s", p->name, mb(p->size), vol);
        usec_t t0 = now_usec();
        if ((r = volume_upload(pool, vol, fd, p->size, "0444", NULL, e)) < 0)
                return r;
        if ((r = volume_hash(pool, vol, p->size, &size, hex, e)) < 0)
                return r;
        if (size != p->size || !streq(hex, p->sha256)) {
                (void)volume_delete(pool, vol, NULL);
                return err_setx(e, -EBADMSG, "volume %s: read back SHA-256 %s, expected %s", vol, hex, p->sha256);
        }
        say(pr, "part %s: uploaded and read back, SHA-256 matches (%.1f s)", p->name, usec_to_sec(now_usec() - t0));
        return 0;
}

static int upload_parts(const char *imgdir, const struct manifest *m, const char *digest, virStoragePoolPtr pool,
                        const struct store_progress *pr, struct mlvm_err *e)
{
        int r;
        for (size_t i = 0; i < m->n_parts; i++)
                if ((r = upload_part(imgdir, &m->parts[i], digest, pool, pr, e)) < 0)
                        return r;
        return 0;
}

int store_import(const char *state_dir, const char *dir, char *const *tags, store_pool_fn open_pool, void *u,
                 const struct store_progress *pr, char ret_digest[SHA256_HEX_LEN + 1], struct mlvm_err *e)
{
        virStoragePoolPtr pool = NULL;
        _cleanup_close_ int srcfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        _cleanup_close_ int tmpfd = -1;
        _cleanup_free_ char *root = xasprintf("%s/images/sha256", state_dir), *tmp = NULL, *final = NULL;
        struct manifest m = { 0 };
        char digest[SHA256_HEX_LEN + 1], keyid[KEY_ID_LEN + 1];
        bool created = false;
        int r;

        if (srcfd < 0)
                return err_set(e, -errno, "%s", dir);
        if ((r = load_signed_manifest(state_dir, srcfd, dir, &m, digest, keyid, e)) < 0)
                return r;
        if ((r = check_listing(dir, &m, e)) < 0)
                goto out;
        if ((r = mkdir_p(root, 0700)) < 0) {
                r = err_set(e, r, "%s", root);
                goto out;
        }
        final = xasprintf("%s/%s", root, digest);
        if (access(final, F_OK) < 0) {
                tmp = xasprintf("%s/.import-%s-%ld", root, digest, (long)getpid());
                (void)rm_rf_dir(tmp);
                if (mkdir(tmp, 0700) < 0) {
                        r = err_set(e, -errno, "%s", tmp);
                        goto out;
                }
                tmpfd = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (tmpfd < 0) {
                        r = err_set(e, -errno, "%s", tmp);
                        goto out;
                }
                say(pr, "manifest sha256:%s: signature good (key %s)", digest, keyid);
                for (size_t i = 0; i < m.n_parts; i++) {
                        if ((r = copy_part(srcfd, dir, tmpfd, &m.parts[i], e)) < 0)
                                goto out;
                        say(pr, "part %s: %.1f MB copied into the store, SHA-256 matches the manifest",
                            m.parts[i].name, mb(m.parts[i].size));
                }
                /* The manifest and signature, byte for byte as verified. */
                const char *names[] = { "manifest.json", "manifest.sig" };
                for (size_t i = 0; i < 2; i++) {
                        _cleanup_close_ int in = openat(srcfd, names[i], O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
                        _cleanup_close_ int out = openat(tmpfd, names[i], O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
                        char hex[SHA256_HEX_LEN + 1];
                        if (in < 0 || out < 0 || sha256_copy_fd(in, out, MANIFEST_MAX_BYTES, NULL, hex) < 0) {
                                r = err_set(e, -EIO, "store: copy %s", names[i]);
                                goto out;
                        }
                        if (i == 0 && !streq(hex, digest)) {
                                r = err_setx(e, -EBADMSG, "%s/manifest.json changed while it was imported", dir);
                                goto out;
                        }
                }
                if (rename(tmp, final) < 0) {
                        r = err_set(e, -errno, "store: %s", final);
                        goto out;
                }
                (void)chmod(final, 0500);
                created = true;
                free(tmp);
                tmp = NULL;
        }
        else
                say(pr, "sha256:%s is already in the store", digest);
        if (open_pool && (r = open_pool(u, &pool, e)) < 0)
                goto out;
        if (pool && (r = upload_parts(final, &m, digest, pool, pr, e)) < 0)
                goto out;
        for (size_t i = 0; tags && tags[i]; i++)
                if ((r = write_tag(state_dir, tags[i], digest, e)) < 0)
                        goto out;
        memcpy(ret_digest, digest, sizeof(digest));
out:
        if (tmp)
                (void)rm_rf_dir(tmp);
        if (r < 0 && created) {
                (void)chmod(final, 0700);
                (void)rm_rf_dir(final);
        }
        manifest_clear(&m);
        return r;
}

static void add_item(struct verify_report *v, const char *what, bool ok, uint64_t bytes)
{
        if (v->n >= sizeof(v->items) / sizeof(v->items[0]))
                return;
        (void)snprintf(v->items[v->n].what, sizeof(v->items[v->n].what), "%s", what);
        v->items[v->n].ok = ok;
        v->items[v->n].bytes = bytes;
        v->n++;
        v->bytes += bytes;
}

/* One stored part, by descriptor: unchanged since KNOWN saw it hash to
 * the manifest's SHA-256, or hashed now (*RET_HASHED: the bytes read). */
static int verify_part(int dfd, const struct image_part *p, struct vcache *known, uint64_t *ret_hashed,
                       struct mlvm_err *e)
{
        _cleanup_free_ char *key = xasprintf("store/%s", p->name);
        _cleanup_close_ int fd = openat(dfd, p->name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        struct stat before, after;
        char got[SHA256_HEX_LEN + 1];
        uint64_t size;
        int r;

        if (fd < 0 || fstat(fd, &before) < 0)
                return err_set(e, -errno, "part %s", p->name);
        *ret_hashed = 0;
        if ((uint64_t)before.st_size == p->size && vcache_known(known, key, &before, p->sha256))
                return 0;
        int64_t t0 = vcache_now_ns();
        if ((r = sha256_fd(fd, p->size, &size, got)) < 0)
                return r == -EFBIG ? err_setx(e, r, "part %s: larger than the manifest's %llu bytes", p->name,
                                              (unsigned long long)p->size)
                                   : err_set(e, r, "part %s", p->name);
        if (size != p->size || !streq(got, p->sha256))
                return err_setx(e, -EBADMSG, "part %s: %llu bytes with SHA-256 %s; the manifest says %llu bytes, %s",
                                p->name, (unsigned long long)size, got, (unsigned long long)p->size, p->sha256);
        if (fstat(fd, &after) == 0)
                vcache_note(known, key, &before, &after, p->sha256, t0);
        *ret_hashed = size;
        return 0;
}

int store_verify(const char *state_dir, const char *digest, virStoragePoolPtr pool, struct vcache *known,
                 const struct store_progress *pr, struct verify_report *ret, struct mlvm_err *e)
{
        _cleanup_free_ char *dir = image_dir(state_dir, digest);
        _cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        struct verify_report v = { 0 };
        struct manifest m = { 0 };
        char got[SHA256_HEX_LEN + 1];
        int r;

        memcpy(v.digest, digest, sizeof(v.digest));
        if (dfd < 0)
                return err_set(e, -errno, "image sha256:%s", digest);
        if ((r = load_signed_manifest(state_dir, dfd, dir, &m, got, v.keyid, e)) < 0)
                return r;
        add_item(&v, "signature", true, 0);
        if (!streq(got, digest)) {
                r = err_setx(e, -EBADMSG, "image sha256:%s: manifest.json hashes to %s", digest, got);
                goto out;
        }
        add_item(&v, "manifest", true, 0);
        if ((r = check_listing(dir, &m, e)) < 0)
                goto out;
        for (size_t i = 0; i < m.n_parts; i++) {
                uint64_t hashed;
                usec_t t0 = now_usec();
                if ((r = verify_part(dfd, &m.parts[i], known, &hashed, e)) < 0)
                        goto out;
                if (hashed)
                        say(pr, "part %s: %.1f MB, SHA-256 matches (%.1f s)", m.parts[i].name, mb(hashed),
                            usec_to_sec(now_usec() - t0));
                add_item(&v, m.parts[i].name, true, hashed);
        }
        for (size_t i = 0; pool && i < m.n_parts; i++) {
                const struct image_part *p = &m.parts[i];
                _cleanup_free_ char *vol = store_volume_name(digest, p->name);
                _cleanup_free_ char *what = xasprintf("volume %s", p->name);
                uint64_t size;
                usec_t t0 = now_usec();
                if ((r = volume_hash(pool, vol, p->size, &size, got, e)) < 0)
                        goto out;
                say(pr, "volume %s: %.1f MB read back through libvirt (%.1f s)", vol, mb(size),
                    usec_to_sec(now_usec() - t0));
                if (size != p->size || !streq(got, p->sha256)) {
                        r = err_setx(e, -EBADMSG, "volume %s: SHA-256 %s does not match the manifest's %s", vol, got,
                                     p->sha256);
                        goto out;
                }
                add_item(&v, what, true, size);
        }
        *ret = v;
out:
        manifest_clear(&m);
        return r;
}

/* One stored image: verified whole (signature, digest, every part), then
 * each part whose volume is missing uploaded again. */
static int restore_image(const char *state_dir, const char *digest, virStoragePoolPtr pool,
                         const struct store_progress *pr, unsigned *n, struct mlvm_err *e)
{
        _cleanup_free_ char *dir = image_dir(state_dir, digest);
        _cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        struct manifest m = { 0 };
        char got[SHA256_HEX_LEN + 1], keyid[KEY_ID_LEN + 1];
        bool missing = false;
        int r;

        if (dfd < 0)
                return err_set(e, -errno, "%s", dir);
        if ((r = load_signed_manifest(state_dir, dfd, dir, &m, got, keyid, e)) < 0)
                return r;
        for (size_t i = 0; i < m.n_parts && !missing; i++) {
                _cleanup_free_ char *vol = store_volume_name(digest, m.parts[i].name);
                virStorageVolPtr v = virStorageVolLookupByName(pool, vol);
                missing = !v;
                if (v)
                        virStorageVolFree(v);
        }
        virResetLastError();
        if (!missing)
                goto out;
        struct verify_report rep;
        if ((r = store_verify(state_dir, digest, NULL, NULL, NULL, &rep, e)) < 0)
                goto out;
        for (size_t i = 0; i < m.n_parts; i++) {
                _cleanup_free_ char *vol = store_volume_name(digest, m.parts[i].name);
                virStorageVolPtr v = virStorageVolLookupByName(pool, vol);
                if (v) {
                        virStorageVolFree(v);
                        continue;
                }
                virResetLastError();
                if ((r = upload_part(dir, &m.parts[i], digest, pool, pr, e)) < 0)
                        goto out;
                (*n)++;
        }
out:
        manifest_clear(&m);
        return r < 0 ? err_prefix(e, "image sha256:%.16s", digest) : 0;
}

int store_restore_volumes(const char *state_dir, virStoragePoolPtr pool, const struct store_progress *pr,
                          unsigned *ret_n, struct mlvm_err *e)
{
        _cleanup_free_ char *root = xasprintf("%s/images/sha256", state_dir);
        DIR *d = opendir(root);
        struct dirent *de;
        int r = 0;

        *ret_n = 0;
        if (!d)
                return errno == ENOENT ? 0 : err_set(e, -errno, "%s", root);
        while ((de = readdir(d)) && r == 0)
                if (is_sha256_hex(de->d_name))
                        r = restore_image(state_dir, de->d_name, pool, pr, ret_n, e);
        closedir(d);
        return r;
}

int store_rm(const char *state_dir, const char *ref, virStoragePoolPtr pool, bool *ret_removed, struct mlvm_err *e)
{
        _cleanup_free_ char *norm = NULL;
        char digest[SHA256_HEX_LEN + 1];
        struct store_tag *tags = NULL;
        size_t n = 0;
        int r;

        if ((r = store_resolve(state_dir, ref, digest, e)) < 0 || (r = store_normalize_ref(ref, &norm, e)) < 0)
                return r;
        if (!strstartswith(norm, "sha256:")) {
                _cleanup_free_ char *path = xasprintf("%s/images/tags/%s", state_dir, norm);
                if (unlink(path) < 0)
                        return err_set(e, -errno, "%s", path);
        }
        if ((r = store_list_tags(state_dir, &tags, &n, e)) < 0)
                return r;
        bool still_tagged = false;
        for (size_t i = 0; i < n; i++) {
                bool same = tags[i].digest && streq(tags[i].digest + 7, digest);
                if (same && strstartswith(norm, "sha256:")) {
                        /* Removing by digest removes its tags too. */
                        _cleanup_free_ char *path = xasprintf("%s/images/tags/%s", state_dir, tags[i].tag);
                        (void)unlink(path);
                } else
                        still_tagged |= same;
        }
        store_tags_free(tags, n);
        if (still_tagged) {
                *ret_removed = false;
                return 0;
        }
        _cleanup_free_ char *dir = image_dir(state_dir, digest);
        static const char *const parts[] = { "kernel", "initramfs", "rootfs" };
        for (size_t i = 0; pool && i < ARRAY_SIZE(parts); i++) {
                _cleanup_free_ char *vol = store_volume_name(digest, parts[i]);
                if ((r = volume_delete(pool, vol, e)) < 0)
                        return r;
        }
        vcache_remove(state_dir, digest);
        (void)chmod(dir, 0700);
        if ((r = rm_rf_dir(dir)) < 0)
                return err_set(e, r, "%s", dir);
        *ret_removed = true;
        return 0;
}
