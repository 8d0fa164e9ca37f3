/* recipe.h: an image recipe (images/NAME/recipe): one "key value..." per
 * line, '#' comments. Keys:
 *   name NAME                  image name (required)
 *   kernel-package PKG         Debian package with the kernel; a
 *                              metapackage is followed to its linux-image-*
 *   kernel-source PKG          or: build the kernel from Debian's source
 *                              package (linux-source-X.Y) with
 *   kernel-config FILE         the config fragment in the recipe directory,
 *                              on top of allnoconfig (kbuild.h); no modules,
 *                              booted as pvh. One of kernel-package and
 *                              kernel-source is required.
 *   kernel-boot bzimage|pvh    the image's kernel part: the package's bzImage
 *                              as is (the default), or the ELF vmlinux inside
 *                              it, which QEMU boots straight at its PVH entry
 *                              (bzimage.h; faster under TCG, see
 *                              docs/performance.md)
 *   modules MOD...             modules the guest loads (with their dependencies)
 *   busybox PKG                put PKG's bin/busybox in the initramfs
 *   busybox-applets APPLET...  /bin symlinks to busybox
 *   cmdline ARGS...            kernel command line (required)
 *   rootfs-script FILE         script in the recipe directory, run as
 *                              "FILE OUTPUT" to make the root filesystem disk */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "err.h"

#define RECIPE_MAX_BYTES 65536
#define RECIPE_MAX_WORDS 256      /* modules or applets on one line */

struct recipe {
        char *dir;
        char *name;
        char *kernel_package;
        char *kernel_boot;       /* "bzimage", "pvh", or NULL (bzimage) */
        char *kernel_source;     /* linux-source-X.Y, or NULL */
        char *kernel_config;     /* absolute path of the fragment, with kernel_source */
        char **modules;          /* NULL-terminated */
        char *busybox;
        char **applets;          /* NULL-terminated */
        char *cmdline;
        char *rootfs_script;     /* absolute path, or NULL */
};

/* The recipe asks for the PVH vmlinux as the kernel part (always so for a
 * kernel built from kernel-source). */
bool recipe_kernel_pvh(const struct recipe *r);

int recipe_load(const char *dir, struct recipe *ret, struct mlvm_err *e);
int recipe_parse(const char *file, const char *dir, const char *text, struct recipe *ret, struct mlvm_err *e);
void recipe_clear(struct recipe *r);
