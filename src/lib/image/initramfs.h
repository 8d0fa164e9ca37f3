/* initramfs.h: a reproducible cpio "newc" archive written with libarchive:
 * entries sorted by path, mtime 0, uid/gid 0, inode numbers by position,
 * modes exactly as given (no umask). Same entries, same bytes. */
#pragma once

#include <stddef.h>
#include <sys/types.h>

#include "err.h"

struct initramfs;

struct initramfs *initramfs_new(void);
void initramfs_free(struct initramfs *ir);
static inline void initramfs_freep(struct initramfs **ir) { initramfs_free(*ir); }

/* PATH is relative ("bin/sh"); parents must be added as directories. The
 * data is copied. Adding a path twice is an error (-EEXIST). */
int initramfs_add_dir(struct initramfs *ir, const char *path, mode_t perm);
int initramfs_add_file(struct initramfs *ir, const char *path, mode_t perm, const void *data, size_t len);
int initramfs_add_symlink(struct initramfs *ir, const char *path, const char *target);
int initramfs_add_chardev(struct initramfs *ir, const char *path, mode_t perm, unsigned major, unsigned minor);

/* Write the archive to FD. */
int initramfs_write(struct initramfs *ir, int fd, struct mlvm_err *e);
