/* disk.c: the per-run volumes of a run; see disk.h. Volume XML is built with
 * libxml2 (names reach it from mlvm.yaml), never by pasting strings. */
#include "mlvm-build.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <libxml/tree.h>

#include "disk-iso.h"
#include "disk.h"
#include "units.h"
#include "util.h"
#include "virt.h"
#include "volume.h"


static bool run_id_is_valid(const char *s)
{
        size_t n = strlen(s);
        if (n == 0 || n > DISK_RUN_ID_MAX)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') ||
                      s[i] == '_'))
                        return false;
        return true;
}

char *disk_volume_name(const char *run_id, const char *role, const char *name)
{
        if (!run_id || !role || !run_id_is_valid(run_id))
                return NULL;
        if (streq(role, "data"))
                return name && name_is_valid(name) ? xasprintf("mlvm-run-%s-data-%s", run_id, name) : NULL;
        if (name || !(streq(role, "root") || streq(role, "artifacts")))
                return NULL;
        return xasprintf("mlvm-run-%s-%s", run_id, role);
}

/* Allocation 0 (sparse, or an empty qcow2), mode 0600, owned by the run's
 * QEMU uid: only that QEMU and root read or write a run's disk. */
static int create(virStoragePoolPtr pool, struct volume_spec *v, const struct volume_owner *own, struct mlvm_err *e)
{
        v->mode = "0600";
        v->sparse = true;
        v->owner = own;
        return volume_create(pool, v, e);
}

/* The base must be a volume of this very pool: what was verified and
 * uploaded there, not any file of the hypervisor host. */
static int backing_capacity(virStoragePoolPtr pool, const char *name, const char *path, uint64_t *ret,
                            struct mlvm_err *e)
{
        _cleanup_vol_ virStorageVolPtr base = virStorageVolLookupByPath(virStoragePoolGetConnect(pool), path);
        unsigned char want[VIR_UUID_BUFLEN], got[VIR_UUID_BUFLEN];
        virStorageVolInfo info;

        if (!base)
                return err_virt(e, "overlay %s: backing volume %s", name, path);
        _cleanup_virStoragePool_ virStoragePoolPtr bpool = virStoragePoolLookupByVolume(base);
        if (!bpool || virStoragePoolGetUUID(bpool, got) < 0 || virStoragePoolGetUUID(pool, want) < 0)
                return err_virt(e, "overlay %s: pool of %s", name, path);
        if (memcmp(want, got, sizeof(want)) != 0)
                return err_setx(e, -EXDEV, "overlay %s: backing volume %s is not in pool %s", name, path,
                                virStoragePoolGetName(pool));
        if (virStorageVolGetInfo(base, &info) < 0)
                return err_virt(e, "overlay %s: backing volume %s", name, path);
        *ret = info.capacity;
        return 0;
}

int disk_create_overlay(virStoragePoolPtr pool, const char *name, const char *backing_path, uint64_t capacity,
                        const struct volume_owner *own, struct mlvm_err *e)
{
        uint64_t base_cap = 0;
        int r = backing_capacity(pool, name, backing_path, &base_cap, e);

        if (r < 0)
                return r;
        /* libvirt runs qemu-img create -b BASE -F raw: a qcow2 header whatever the base's size. */
        struct volume_spec v = { .name = name, .capacity = capacity ? capacity : base_cap, .format = "qcow2",
                              .backing = backing_path };
        return create(pool, &v, own, e);
}

int disk_create_artifacts(virStoragePoolPtr pool, const char *name, uint64_t size, const struct volume_owner *own,
                          struct mlvm_err *e)
{
        if (size == 0)
                return err_setx(e, -EINVAL, "artifact disk %s: size 0", name);
        struct volume_spec v = { .name = name, .capacity = size, .format = "raw" };
        return create(pool, &v, own, e);
}

/* A private temporary file: O_TMPFILE (no name at all) where the file
 * system has it, else a mkstemp name unlinked at once. On disk, not in
 * /tmp's RAM: a data disk may be tens of GiB. */
static int private_tmpfile(struct mlvm_err *e)
{
        const char *dir = getenv("TMPDIR");
        if (!dir || dir[0] != '/')
                dir = "/var/tmp";
        int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
        if (fd >= 0)
                return fd;
        _cleanup_free_ char *tmpl = xasprintf("%s/mlvm-data-XXXXXX", dir);
        fd = mkostemp(tmpl, O_CLOEXEC);
        if (fd < 0)
                return err_set(e, -errno, "temporary file in %s", dir);
        (void)unlink(tmpl);
        return fd;
}

int disk_create_data(virStoragePoolPtr pool, const char *name, const char *source, const struct volume_owner *own,
                     char ret_sha256[SHA256_HEX_LEN + 1], struct mlvm_err *e)
{
        _cleanup_close_ int fd = private_tmpfile(e);
        char hex[SHA256_HEX_LEN + 1];
        uint64_t size = 0;
        int r;

        if (fd < 0)
                return fd;
        if ((r = disk_iso_write(source, fd, &disk_iso_default_limits, hex, &size, e)) < 0)
                return r;
        /* The hash was taken as the image was written to this file, which
         * only this process holds: what is uploaded is what was hashed. */
        if (lseek(fd, 0, SEEK_SET) < 0)
                return err_set(e, -errno, "data disk %s", name);
        /* 0400 and the run's QEMU uid's: a run's data is no other run's or
         * local user's to read (the pool directory is 0711, and volume
         * names show in ps). */
        if ((r = volume_upload(pool, name, fd, size, "0400", own, e)) < 0)
                return r;
        memcpy(ret_sha256, hex, sizeof(hex));
        return 0;
}

int disk_delete_run(virStoragePoolPtr pool, const char *run_id, struct mlvm_err *e)
{
        virStorageVolPtr *vols = NULL;
        int n, r = 0;

        if (!run_id_is_valid(run_id))
                return err_setx(e, -EINVAL, "run id \"%.40s\" is not [A-Za-z0-9_]{1,%d}", run_id, DISK_RUN_ID_MAX);
        _cleanup_free_ char *prefix = xasprintf("mlvm-run-%s-", run_id);
        if ((n = virStoragePoolListAllVolumes(pool, &vols, 0)) < 0)
                return err_virt(e, "list volumes of pool %s", virStoragePoolGetName(pool));
        for (int i = 0; i < n; i++) {
                const char *vname = virStorageVolGetName(vols[i]);
                if (vname && strstartswith(vname, prefix) && virStorageVolDelete(vols[i], 0) < 0) {
                        virErrorPtr err = virGetLastError();
                        if ((!err || err->code != VIR_ERR_NO_STORAGE_VOL) && r == 0)
                                r = err_virt(e, "delete volume %s", vname);
                }
                (void)virStorageVolFree(vols[i]);
        }
        free(vols);
        return r;
}
