/* run-up-disks.c: the run's own disks and its domain. Every disk is a
 * per-run volume in the pool, created through libvirt's storage API: the
 * root overlay over the verified image (the run's only writable copy of
 * it), each data disk as a read-only ISO 9660 image built on the host,
 * the raw artifact disk. Then the domain XML that attaches them. */
#include "mlvm-build.h"

#include "disk.h"
#include "image-build.h"
#include "run-up-internal.h"
#include "run.h"
#include "store.h"
#include "util.h"
#include "volume.h"

static void add_disk(struct up_ctx *c, char *path, const char *format, const char *serial, bool readonly)
{
        c->env.disks[c->env.n_disks++] = (struct domain_disk){ path, format, serial, readonly };
}

/* Who owns the run's volumes: its QEMU's own uid, or (MLVM_QEMU_UIDS=off)
 * root, for libvirt to hand to its one QEMU user. */
static const struct volume_owner *up_owner(const struct up_ctx *c)
{
        return c->uid_claimed ? &c->qemu_owner : NULL;
}

/* The path of the image's volume for PART; a missing one is said as such. */
static char *image_volume_path(struct up_ctx *c, const char *part, struct mlvm_err *e)
{
        _cleanup_free_ char *vol = store_volume_name(c->digest, part);
        _cleanup_vol_ virStorageVolPtr v = virStorageVolLookupByName(c->pool, vol);
        if (!v && virGetLastErrorCode() == VIR_ERR_NO_STORAGE_VOL) {
                (void)err_setx(e, -ENOENT, "image %s: part %s: volume %s is not in storage pool %s (run 'mlvm setup' to "
                               "upload it again from the store)", c->o->workload->image, part, vol, c->o->pool_name);
                return NULL;
        }
        return volume_path(c->pool, vol, e);
}

/* The qcow2 overlay over the image's root filesystem, O(1) in its size. */
static int root_overlay(struct up_ctx *c, json_object *vols, struct mlvm_err *e)
{
        const struct image_part *rootfs = manifest_part(&c->m, "rootfs");
        if (!rootfs)
                return 0;
        _cleanup_free_ char *vol = disk_volume_name(c->id, "root", NULL);
        _cleanup_free_ char *base_path = image_volume_path(c, "rootfs", e);
        int r;
        if (!base_path)
                return -EIO;
        if ((r = disk_create_overlay(c->pool, vol, base_path, rootfs->size, up_owner(c), e)) < 0)
                return r;
        json_object_array_add(vols, json_object_new_string(vol));
        if (!(c->root_path = volume_path(c->pool, vol, e)))
                return -EIO;
        add_disk(c, c->root_path, "qcow2", IMAGE_ROOT_SERIAL, false);
        return 0;
}

/* Data disk I: built from its host source, attached read-only, mounted by serial. */
static int data_disk(struct up_ctx *c, size_t i, json_object *vols, struct mlvm_err *e)
{
        const struct mlvm_disk *d = &c->o->workload->disks[i];
        _cleanup_free_ char *vol = disk_volume_name(c->id, "data", d->name);
        char sha[SHA256_HEX_LEN + 1];
        json_object *x;

        if (disk_create_data(c->pool, vol, c->sources[i], up_owner(c), sha, e) < 0)
                return err_prefix(e, "disk %s", d->name);
        json_object_array_add(vols, json_object_new_string(vol));
        if (!(c->data_paths[i] = volume_path(c->pool, vol, e)))
                return -EIO;
        c->serials[i] = xasprintf("mlvm-d%zu", i);
        add_disk(c, c->data_paths[i], "raw", c->serials[i], true);
        json_object *mnt = json_object_new_object();
        json_object_object_add(mnt, "serial", json_object_new_string(c->serials[i]));
        json_object_object_add(mnt, "path", json_object_new_string(d->mount));
        json_object_object_add(mnt, "fstype", json_object_new_string("iso9660"));
        if (json_object_object_get_ex(c->run, "mounts", &x))
                json_object_array_add(x, mnt);
        json_object *dd = json_object_new_object();
        json_object_object_add(dd, "name", json_object_new_string(d->name));
        json_object_object_add(dd, "source", json_object_new_string(d->source));
        json_object_object_add(dd, "sha256", json_object_new_string(sha));
        if (json_object_object_get_ex(c->run, "data_disks", &x))
                json_object_array_add(x, dd);
        return 0;
}

/* The raw artifact disk: sparse, written by the agent as one ustar stream. */
static int artifact_disk(struct up_ctx *c, json_object *vols, struct mlvm_err *e)
{
        const struct mlvm_workload *w = c->o->workload;
        if (!w->artifacts)
                return 0;
        _cleanup_free_ char *vol = disk_volume_name(c->id, "artifacts", NULL);
        int r = disk_create_artifacts(c->pool, vol, c->o->artifact_disk_size ?: RUN_ARTIFACT_DISK_SIZE, up_owner(c),
                                          e);
        if (r < 0)
                return r;
        json_object_array_add(vols, json_object_new_string(vol));
        if (!(c->artifacts_path = volume_path(c->pool, vol, e)))
                return -EIO;
        add_disk(c, c->artifacts_path, "raw", RUN_ARTIFACT_SERIAL, false);
        json_object_object_add(c->run, "artifacts_dir", json_object_new_string(w->artifacts));
        json_object_object_add(c->run, "artifacts_serial", json_object_new_string(RUN_ARTIFACT_SERIAL));
        json_object_object_add(c->run, "artifacts_volume", json_object_new_string(vol));
        return 0;
}

int up_volumes(struct up_ctx *c, struct mlvm_err *e)
{
        json_object *vols = json_object_new_array();
        int r;

        json_object_object_add(c->run, "volumes", vols);
        json_object_object_add(c->run, "mounts", json_object_new_array());
        json_object_object_add(c->run, "data_disks", json_object_new_array());
        c->t_vol0 = now_usec();
        if ((r = root_overlay(c, vols, e)) < 0)
                return r;
        c->t_overlay = now_usec();
        for (size_t i = 0; i < c->o->workload->n_disks; i++)
                if ((r = data_disk(c, i, vols, e)) < 0)
                        return r;
        if ((r = artifact_disk(c, vols, e)) < 0)
                return r;
        c->t_vol1 = now_usec();
        return 0;
}

int up_domain(struct up_ctx *c, struct mlvm_err *e)
{
        const struct up_opts *o = c->o;
        struct domain_env *env = &c->env;
        int r;

        if (!(c->kernel = image_volume_path(c, "kernel", e)) || !(c->initrd = image_volume_path(c, "initramfs", e)))
                return -EIO;
        c->cmdline = o->kernel_args ? xasprintf("%s %s", c->m.cmdline, o->kernel_args) : xstrdup(c->m.cmdline);
        env->run_id = c->id;
        env->owner = c->owner;
        env->accel = c->accel.accel;
        env->arch = c->caps.arch;
        env->kernel = c->kernel;
        env->initrd = c->initrd;
        env->cmdline = c->cmdline;
        env->boot_timeout_s = c->boot_timeout;
        if ((r = domain_xml(o->workload, env, &c->xml, e)) < 0)
                return r;
        _cleanup_free_ char *path = run_file(o->state_dir, c->id, "domain.xml");
        if ((r = write_file_atomic(path, c->xml, strlen(c->xml), 0600)) < 0)
                return err_set(e, r, "%s", path);
        return run_save(o->state_dir, c->id, c->run, e);
}
