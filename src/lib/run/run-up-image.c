/* run-up-image.c: `mlvm up` verifies the image again before it is used,
 * as `mlvm image verify` does: the manifest's signature against the
 * trusted keys, its digest, every part in the store; then every part's
 * volume (what the domain attaches) must hash to what it says. */
#include "mlvm-build.h"

#include <fcntl.h>

#include "run-up-internal.h"
#include "store.h"
#include "util.h"
#include "volume.h"

/* Re-verify the small parts at boot through libvirt (works remotely), and
 * the root filesystem by fd when the pool is on this machine. */
static int verify_at_boot(virStoragePoolPtr pool, const struct manifest *m, const char *digest, bool local,
                          json_object *verified, struct mlvm_err *e)
{
        for (size_t i = 0; i < m->n_parts; i++) {
                const struct image_part *p = &m->parts[i];
                _cleanup_free_ char *vol = store_volume_name(digest, p->name);
                char hex[SHA256_HEX_LEN + 1];
                uint64_t size;
                int r;

                if (streq(p->name, "rootfs")) {
                        if (!local)
                                continue;  /* remote: verified when imported; inspect says so */
                        _cleanup_free_ char *path = volume_path(pool, vol, e);
                        if (!path)
                                return -EIO;
                        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
                        if (fd < 0)
                                return err_set(e, -errno, "image part rootfs: %s", path);
                        r = sha256_fd(fd, p->size, &size, hex);
                } else
                        r = volume_hash(pool, vol, p->size, &size, hex, e);
                if (r < 0)
                        return e && e->msg[0] ? r : err_set(e, r, "image part %s", p->name);
                if (size != p->size || !streq(hex, p->sha256))
                        return err_setx(e, -EBADMSG, "image part %s (volume %s) fails verification: SHA-256 %s, the signed "
                                        "manifest says %s", p->name, vol, hex, p->sha256);
                json_object_array_add(verified, json_object_new_string(p->name));
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

int up_verify_image(struct up_ctx *c, struct mlvm_err *e)
{
        const char *image = c->o->workload->image;
        int r;

        struct verify_report rep;
        if ((r = store_resolve(c->o->state_dir, image, c->digest, e)) < 0)
                return r;
        /* Exactly what `mlvm image verify` checks in the store: the signature
         * against the trusted keys, the manifest's digest, every part. */
        if ((r = store_verify(c->o->state_dir, c->digest, NULL, &rep, e)) < 0)
                return err_prefix(e, "image %s", image);
        if ((r = load_manifest(c, e)) < 0)
                return r;
        json_object *verified = json_object_new_array();
        json_object_object_add(c->run, "verified_at_boot", verified);
        if ((r = verify_at_boot(c->pool, &c->m, c->digest, host_uri_is_local(c->o->uri), verified, e)) < 0)
                return err_prefix(e, "image %s", image);
        c->t_verified = now_usec();
        return 0;
}
