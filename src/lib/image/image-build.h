/* image-build.h: build an image from a recipe directory: kernel and
 * modules from the kernel .deb, the static agent as /init, busybox, a
 * reproducible initramfs, an optional root filesystem from the recipe's
 * script, and a manifest signed with a publisher key. */
#pragma once

#include <stdbool.h>

#include "digest.h"
#include "err.h"

/* The virtio serial of a run's root filesystem disk (mlvm.root= for the agent). */
#define IMAGE_ROOT_SERIAL "mlvm-root"

struct build_opts {
        const char *recipe_dir;
        const char *out_dir;        /* the image directory to write (must not exist) */
        const char *kernel_deb;     /* use this .deb instead of fetching */
        const char *busybox_deb;
        const char *key;            /* signing key name */
        const char *agent;          /* agent binary; NULL: find it */
        /* Each step as one line, for the caller to show (the library does
         * not print); NULL: nobody asked. */
        void (*progress)(void *u, const char *line);
        void *progress_u;
};

int image_build(const char *state_dir, const struct build_opts *o, char ret_digest[SHA256_HEX_LEN + 1],
                struct mlvm_err *e);
/* Sign DIR/manifest.json with key NAME into DIR/manifest.sig. */
int image_sign(const char *state_dir, const char *dir, const char *key, struct mlvm_err *e);
/* $MLVM_AGENT, else the build tree's guest-agent/mlvm-agent next to the
 * running mlvm, else the installed one. */
char *image_find_agent(void);
