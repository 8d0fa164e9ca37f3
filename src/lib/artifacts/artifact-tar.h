/* artifact-tar.h: the artifact tar parser, the side of artifact
 * collection that reads the guest's bytes (artifacts.h has the rules,
 * artrec.h the records it sends). In the monitor it runs as a child of
 * its own, without privilege and under seccomp (src/monitor/untar.c);
 * elsewhere (tests, fuzzing) in a thread. */
#pragma once

#include "artifacts.h"

/* Read the raw tar stream from IN_FD until its end and send the records
 * of artrec.h on OUT_FD: READY, then one DIR or FILE (and its DATA) per
 * entry that passes the rules and the caps LIM, then END; or ERROR with a
 * one-line reason at the first breach. After the archive's end, the rest
 * of IN_FD is read (and dropped) before END, so the writer can send every
 * byte it hashes. CONFINE (may be NULL) is called once, after everything
 * that needs more than reading IN_FD, writing OUT_FD and memory is set up
 * (the locale, libarchive's reader, the buffers) and before READY; its
 * failure ends the parse with nothing sent. Returns 0 after END, 1 after
 * ERROR, or a negative errno (CONFINE's, or OUT_FD failed). */
int artifact_tar_parse(int in_fd, int out_fd, const struct artifact_limits *lim, int (*confine)(void *opaque),
                       void *opaque);
