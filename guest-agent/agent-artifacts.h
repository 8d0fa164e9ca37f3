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

/* At EXEC: make E's artifact directory (if it names one) empty and the
 * workload's. 0, or -errno with WHY filled. */
int artifacts_prepare(const struct proto_exec *e, char *why, size_t cap);
/* Did the EXEC name an artifact directory? */
bool artifacts_wanted(void);
/* Hash, report and write the artifacts; then ARTIFACTS_DONE. 0, or -errno
 * with WHY filled. */
int artifacts_finish(char *why, size_t cap);

#ifdef MLVM_AGENT_EVIL
#include "tar.h"
/* Test builds only: when the artifact directory holds .mlvm-evil, write
 * the hostile stream it names instead; > 0 when it did. */
int evil_artifacts(const char *dir, struct tarw *w, uint32_t *files, char *why, size_t cap);
#endif
