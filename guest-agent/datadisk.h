/* datadisk.h: MOUNT, the data disks (datadisk.c): each mounted read-only,
 * without devices or setuid, at its path in the workload's root, never
 * over the credentials. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "proto.h"

/* Mount the disk with M's serial read-only at M's path (under the
 * workload's root), waiting until DEADLINE for the disk. 0, or -errno
 * with WHY filled. */
int datadisk_mount(const struct proto_mount *m, uint64_t deadline, char *why, size_t cap);
