/* exec-client-internal.h: the exec client's reading of the frames that
 * reach it (the agent's, relayed by the monitor), apart from its I/O, so
 * that tests/fuzz/fuzz-stream.c fuzzes exactly what `mlvm exec` runs. */
#pragma once

#include <stdbool.h>

#include "err.h"
#include "proto.h"

struct exec_stream {
        uint8_t in[PROTO_HDR_SIZE + PROTO_MAX_PAYLOAD];   /* bytes read, not yet decoded */
        size_t in_len;
        struct proto_msg msg;     /* the frame last taken */
        uint32_t credit;          /* stdin bytes the agent will still take, at most PROTO_STREAM_CREDIT */
        bool opened;
};

enum exec_event {
        EXEC_MORE = 0,            /* no whole frame in S->in: read more */
        EXEC_NEXT,                /* a frame was taken and applied: ask again */
        EXEC_OUTPUT,              /* S->msg is the command's output (DATA): write it, give credit back */
        EXEC_EXIT,                /* the command ended: its status in *RET_STATUS */
};

/* Take the next frame out of S->in and apply it to S: an enum exec_event,
 * or a negative errno when the frame is malformed, breaks the stream's
 * credit rules, or ends the stream without an EXIT. */
int exec_stream_next(struct exec_stream *s, int *ret_status, struct mlvm_err *e);
