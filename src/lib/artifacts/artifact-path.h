/* artifact-path.h: artifact paths and the directories that hold them, at
 * the bottom of the artifacts concern: artifacts.c (the tar reader) and
 * artifacts-dir.c (directories of accepted artifacts) both build on it.
 * Everything here works relative to an open directory fd, never by path
 * string. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "util.h"   /* shown(): names in one-line messages */

#define ARTIFACT_PATH_MAX 255   /* bytes of one artifact path (artifacts.h has the rules) */

/* Why P is not an allowed artifact path (DIR: a directory entry, whose
 * one trailing '/' has already been stripped), or NULL when it is. */
const char *artifact_path_problem(const char *p);
/* Is P a path the rules allow (for a report or a tar entry)? */
bool artifact_path_is_valid(const char *p);

/* Open the directory that holds PATH's last component, below ROOT,
 * without following symlinks; with CREATE, make missing directories 0755
 * on the way. Returns an fd (O_CLOEXEC) or a negative errno, then with
 * *RET_BAD_LEN the length of the prefix of PATH that failed. */
int artifact_open_parent(int root, const char *path, bool create, size_t *ret_bad_len);

/* Remove everything below the directory open at DFD (best effort; not
 * DFD itself). Never follows a symlink. */
int artifact_remove_tree(int dfd);

/* Note PATH in the set *SEEN (a tsearch() tree of strings, freed with
 * tdestroy(*SEEN, free)): 0, or -EEXIST when it is there already. A
 * tree, not a hash table: the names are the guest's, and a tree has no
 * bad case to aim at. */
int artifact_seen_add(void **seen, const char *path);
