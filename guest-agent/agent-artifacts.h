/* agent-artifacts.h: an experiment's artifacts, the guest's side
 * (agent-artifacts.c): the artifact directory, empty at EXEC and then the
 * workload's; when the workload has ended, every file hashed and reported
 * (ARTIFACT) and the whole written as one ustar stream to the raw
 * artifact disk (ARTIFACTS_DONE).
 *
 * Named agent-artifacts, not artifacts: scripts/check-layers finds headers
 * by name, and the host has src/lib/artifacts/artifacts.h. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto.h"
#include "tar.h"

/* At EXEC: make E's artifact directory (if it names one) empty and the
 * workload's. 0, or -errno with WHY filled. */
int artifacts_prepare(const struct proto_exec *e, char *why, size_t cap);
/* Did the EXEC name an artifact directory? */
bool artifacts_wanted(void);
/* Hash, report and write the artifacts; then ARTIFACTS_DONE. 0, or -errno
 * with WHY filled. */
int artifacts_finish(char *why, size_t cap);

/* How the entries of the stream are written: a writer writes ustar
 * entries to W for what is under ROOT (the artifact directory, in the
 * agent's view), sends an ARTIFACT for each regular file, and returns how
 * many it sent, or -errno with WHY filled; artifacts_finish() ends the
 * stream and sends ARTIFACTS_DONE. */
typedef int (*artifacts_writer)(const char *root, struct tarw *w, char *why, size_t cap);
/* The writer: the directory as it is, depth first with names sorted, so
 * the stream is the same for the same tree; anything but regular files
 * and directories fails. */
int artifacts_write_tree(const char *root, struct tarw *w, char *why, size_t cap);
/* Write through FN instead, from now on. The agent never does: this is
 * the seam through which the tests' hostile agent (tests/hostile-agent/)
 * sends hostile streams through the real artifact volume. */
void artifacts_set_writer(artifacts_writer fn);
