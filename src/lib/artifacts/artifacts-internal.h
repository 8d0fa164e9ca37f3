/* artifacts-internal.h: what artifacts.c (the writer) and
 * artifact-parser.c (running the parser) share. */
#pragma once

#include "artifacts.h"
#include "artrec.h"

/* Run the tar parser P (NULL: a thread of this process) over one stream:
 * PULL gives the stream's next bytes (> 0; 0 at its end; < 0 an error,
 * with E filled), which go to the parser as they come; each of the
 * parser's records, checked by the decoder of artrec.h, goes to ON_REC
 * (< 0 stops: that error is returned). Returns 0 once the parser ended
 * with END or ERROR (ON_REC saw it) and exited cleanly; otherwise a
 * negative errno with E naming why: the source failed, the parser broke
 * the protocol (-EPROTO), made no progress for P's timeout (-ETIMEDOUT),
 * or ended or died without its last record. On any failure the parser
 * is stopped and waited for. */
int artifact_pump(const struct artifact_parser *p, const struct artifact_limits *lim,
                  ssize_t (*pull)(void *opaque, const void **ret_buf, struct mlvm_err *e),
                  int (*on_rec)(const struct artrec *r, void *opaque), void *opaque, struct mlvm_err *e);
