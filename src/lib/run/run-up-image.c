/* run-up-image.c: `mlvm up` verifies the image again before it is used,
 * as `mlvm image verify` does: the manifest's signature against the
 * trusted keys, its digest, every part in the store; then every part's
 * volume (what the domain attaches) must hash to what it says. */
#include "mlvm-build.h"

#include <fcntl.h>
#include <pthread.h>

#include "run-up-internal.h"
#include "store.h"
#include "util.h"
#include "verify-cache.h"
#include "volume.h"

/* A part's volume on this machine, opened and hashed: PIN keeps the
 * descriptor and what fstat said, for up_verify_recheck. */
static int hash_local(virStoragePoolPtr pool, const char *vol, const struct image_part *p, struct vcache *known,
                      struct up_pin *pin, uint64_t *ret_size, char hex[SHA256_HEX_LEN + 1], bool *ret_known,
                      struct mlvm_err *e)
{
        _cleanup_free_ char *path = volume_path(pool, vol, e);
        if (!path)
                return -EIO;
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0 || fstat(fd, &pin->st) < 0)
                return err_set(e, -errno, "image part %s: %s", p->name, path);
        *ret_known = (uint64_t)pin->st.st_size == p->size && vcache_known(known, path, &pin->st, p->sha256);
        if (*ret_known) {
                *ret_size = p->size;
                memcpy(hex, p->sha256, SHA256_HEX_LEN + 1);
        } else {
                struct stat after;
                int64_t t0 = vcache_now_ns();
                int r = sha256_fd(fd, p->size, ret_size, hex);
                if (r < 0)
                        return err_set(e, r, "image part %s: %s", p->name, path);
                if (*ret_size == p->size && streq(hex, p->sha256) && fstat(fd, &after) == 0)
                        vcache_note(known, path, &pin->st, &after, p->sha256, t0);
        }
        pin->fd = TAKE_FD(fd);
        pin->path = TAKE_PTR(path);
        pin->part = p->name;
        return 0;
}

/* Re-verify every part's volume, what the domain attaches: by descriptor
 * when the pool is on this machine (pinned for the re-check after QEMU
 * has read them), through libvirt otherwise (the root filesystem is then
 * left to its import's verification: inspect says which were re-hashed). */
static int verify_at_boot(struct up_ctx *c, bool local, json_object *verified, json_object *unchanged,
                          struct mlvm_err *e)
{
        const struct manifest *m = &c->m;
        for (size_t i = 0; i < m->n_parts; i++) {
                const struct image_part *p = &m->parts[i];
                _cleanup_free_ char *vol = store_volume_name(c->digest, p->name);
                char hex[SHA256_HEX_LEN + 1];
                uint64_t size;
                bool known = false;
                int r;

                if (local)
                        r = hash_local(c->pool, vol, p, c->verify.known, &c->verify.pins[c->verify.n_pins], &size, hex,
                                       &known, e);
                else if (streq(p->name, "rootfs"))
                        continue;
                else
                        r = volume_hash(c->pool, vol, p->size, &size, hex, e);
                if (r < 0)
                        return e && e->msg[0] ? r : err_set(e, r, "image part %s", p->name);
                if (local)
                        c->verify.n_pins++;
                if (size != p->size || !streq(hex, p->sha256))
                        return err_setx(e, -EBADMSG, "image part %s (volume %s) fails verification: SHA-256 %s, the signed "
                                        "manifest says %s", p->name, vol, hex, p->sha256);
                json_object_array_add(verified, json_object_new_string(p->name));
                if (known)
                        json_object_array_add(unchanged, json_object_new_string(p->name));
        }
        return 0;
}

/* The manifest the tag's digest names, re-read and re-hashed. */
static int load_manifest(struct up_ctx *c, struct mlvm_err *e)
{
        const char *image = c->o->workload->image;
        _cleanup_free_ char *mpath = xasprintf("%s/images/sha256/%s/manifest.json", c->o->state_dir, c->digest);
        _cleanup_free_ char *text = NULL;
        size_t len;
        char got[SHA256_HEX_LEN + 1];
        int r;

        if ((r = read_file_capped(mpath, MANIFEST_MAX_BYTES, &text, &len)) < 0)
                return err_set(e, r, "image %s", image);
        sha256_hex(text, len, got);
        if (!streq(got, c->digest))
                return err_setx(e, -EBADMSG, "image %s: the stored manifest does not hash to its digest", image);
        return manifest_parse(text, len, &c->m, e);
}

int up_image(struct up_ctx *c, struct mlvm_err *e)
{
        int r;
        if ((r = store_resolve(c->o->state_dir, c->o->workload->image, c->digest, e)) < 0)
                return r;
        return load_manifest(c, e);
}

/* The verification thread: exactly what `mlvm image verify` checks in the
 * store (the signature against the trusted keys, the manifest's digest,
 * every part), then every part's volume. It touches nothing of the
 * context but what it reads (the pool handle is libvirt's, thread-safe)
 * and its own result. */
static void *verify_thread(void *opaque)
{
        struct up_ctx *c = opaque;
        struct up_verify *v = &c->verify;
        const char *image = c->o->workload->image;
        struct verify_report rep;

        v->verified = json_object_new_array();
        v->unchanged = json_object_new_array();
        v->known = vcache_load(c->o->state_dir, c->digest);
        if ((v->r = store_verify(c->o->state_dir, c->digest, NULL, v->known, NULL, &rep, &v->e)) < 0)
                (void)err_prefix(&v->e, "image %s", image);
        else if ((v->r = verify_at_boot(c, v->local, v->verified, v->unchanged, &v->e)) < 0)
                (void)err_prefix(&v->e, "image %s", image);
        else
                (void)vcache_save(v->known, NULL);   /* without it, the next up hashes again */
        v->t_done = now_usec();
        if (v->r == 0)
                up_test_pause("verified");
        return NULL;
}

int up_verify_begin(struct up_ctx *c, struct mlvm_err *e)
{
        c->verify.local = host_uri_is_local(c->o->uri);
        for (size_t i = 0; i < MANIFEST_MAX_PARTS; i++)
                c->verify.pins[i].fd = -1;
        int r = pthread_create(&c->verify.thread, NULL, verify_thread, c);
        if (r != 0)
                return err_set(e, -r, "image %s: start its verification", c->o->workload->image);
        c->verify.running = true;
        return 0;
}

int up_verify_end(struct up_ctx *c, struct mlvm_err *e)
{
        struct up_verify *v = &c->verify;
        if (!v->running)
                return v->r;
        (void)pthread_join(v->thread, NULL);
        v->running = false;
        c->t_verified = v->t_done;
        json_object_object_add(c->run, "verified_at_boot", json_object_get(v->verified));
        json_object_object_add(c->run, "verified_unchanged", json_object_get(v->unchanged));
        if (v->r < 0 && e) {
                int r = v->r;
                *e = v->e;
                return r;
        }
        return v->r;
}

/* Same inode at the same path, unchanged since before it was hashed: any
 * write, truncation, rename or link count change moves st_ctim, which no
 * one but the kernel's clock sets. */
static bool same_file(const struct stat *a, const struct stat *b)
{
        return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
               a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
               a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

int up_verify_recheck(struct up_ctx *c, struct mlvm_err *e)
{
        for (size_t i = 0; i < c->verify.n_pins; i++) {
                const struct up_pin *pin = &c->verify.pins[i];
                struct stat now_fd, now_path;
                if (fstat(pin->fd, &now_fd) < 0 || stat(pin->path, &now_path) < 0)
                        return err_set(e, -errno, "image %s: part %s: %s", c->o->workload->image, pin->part, pin->path);
                if (!same_file(&pin->st, &now_fd) || !same_file(&pin->st, &now_path))
                        return err_setx(e, -EBADMSG, "image %s: part %s (%s) changed between its verification and "
                                        "QEMU's start: not booting it", c->o->workload->image, pin->part, pin->path);
        }
        return 0;
}

void up_verify_clear(struct up_verify *v)
{
        for (size_t i = 0; i < v->n_pins; i++) {
                if (v->pins[i].fd >= 0)
                        (void)close(v->pins[i].fd);
                free(v->pins[i].path);
        }
        v->n_pins = 0;
        json_object_put(v->verified);
        v->verified = NULL;
        json_object_put(v->unchanged);
        v->unchanged = NULL;
        vcache_free(v->known);
        v->known = NULL;
}
