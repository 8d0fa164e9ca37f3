/* store.h: the local image store under STATE_DIR/images.
 * Images are content-addressed (images/sha256/<digest>/); tags are files
 * images/tags/NAME:TAG holding "sha256:<digest>". This file only lists it;
 * building, importing and verifying images is the image store's own work. */
#pragma once

#include <stddef.h>

#include "err.h"

struct store_tag {
        char *tag;          /* NAME:TAG */
        char *digest;       /* sha256:<64 hex>, or NULL when the tag file is unreadable or malformed */
        int present;        /* the digest's directory exists */
};

/* List tags, sorted. A missing store is an empty list. */
int store_list_tags(const char *state_dir, struct store_tag **ret, size_t *ret_n, struct mlvm_err *e);
void store_tags_free(struct store_tag *t, size_t n);
