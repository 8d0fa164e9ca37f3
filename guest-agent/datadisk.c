/* datadisk.c: MOUNT, the data disks; see datadisk.h. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>

#include "agent-util.h"
#include "datadisk.h"
#include "proto.h"
#include "secrets.h"
#include "workload.h"

int datadisk_mount(const struct proto_mount *m, uint64_t deadline, char *why, size_t cap)
{
        char dev[40], devpath[64], target[PROTO_PATH_MAX * 2];

        /* The host is trusted, but a path escaping the root is still refused. */
        if (m->path[0] != '/' || strstr(m->path, "..")) {
                (void)snprintf(why, cap, "mount %s: not a normalized absolute path", m->path);
                return -EINVAL;
        }
        if (secrets_path_covers(m->path)) {
                (void)snprintf(why, cap, "mount %s: would cover the credentials in /run/mlvm/secrets", m->path);
                return -EINVAL;
        }
        if (util_find_disk(m->serial, deadline, dev, sizeof(dev)) < 0) {
                (void)snprintf(why, cap, "no virtio disk with serial %s", m->serial);
                return -ENOENT;
        }
        (void)snprintf(devpath, sizeof(devpath), "/dev/%s", dev);
        (void)snprintf(target, sizeof(target), "%s%s", workload_root(), m->path);
        int r = util_mkdir_p(target);
        if (r < 0) {
                (void)snprintf(why, cap, "mkdir %s: %s", target, strerror(-r));
                return r;
        }
        /* Data disks are read-only for the guest, and carry no devices or setuid. */
        if (mount(devpath, target, m->fstype, MS_RDONLY | MS_NODEV | MS_NOSUID, NULL) < 0) {
                r = -errno;
                (void)snprintf(why, cap, "mount %s (%s) on %s as %s: %s", devpath, m->serial, m->path, m->fstype,
                               strerror(errno));
                return r;
        }
        util_log("data disk %s mounted read-only on %s", m->serial, m->path);
        return 0;
}
