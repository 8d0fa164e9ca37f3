/* stream-rules.h: the bookkeeping of a stream in the guest agent, without
 * I/O (stream-rules.c): whether a frame from the host is taken, dropped or
 * breaks the credit rules, given the stream's state and credit, and what
 * taking it does to the counters. streams.c does the I/O around it;
 * tests/fuzz/fuzz-agentstreams.c drives it with sequences of frames. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto.h"

struct stream_book {
        uint32_t id;               /* 0: free slot */
        bool exec;                 /* an `mlvm exec` command, not a published port */
        bool connecting;
        bool host_eof;             /* the host sent END: shut our write side once wbuf drains */
        bool shut_wr;
        uint32_t credit;           /* bytes we may still send to the host */
        size_t wlen;               /* from the host, not yet written to the socket */
        uint32_t granted;          /* bytes the host may still send us */
        uint32_t consumed;         /* written to the socket since our last WINDOW */
};

enum stream_verdict {
        STREAM_TAKE,       /* DATA: buffer it (stream_book_take); WINDOW: credit added */
        STREAM_DISCARD,    /* DATA after an exec command's stdin ended: give its credit straight back */
        STREAM_RESET,      /* the host broke the credit rules: reset the stream */
        STREAM_END,        /* CLOSE END: no more from the host (host_eof set) */
        STREAM_DROP,       /* CLOSE otherwise: the stream is gone */
        STREAM_IGNORE,     /* a type the agent does not take on a stream */
};

/* A STREAM_OPEN for C: 0 to go ahead, or the CLOSE how to answer
 * (EXISTS: a stream with its id is open). */
uint32_t stream_open_refusal(const struct proto_conn *c, bool exists);
/* The stream the host opens with C (OPEN: connecting; EXEC: not). */
struct stream_book stream_book_new(const struct proto_conn *c, bool exec);
/* Decide on a DATA, WINDOW or CLOSE M for the stream B, and do the
 * bookkeeping of WINDOW and CLOSE END. A DATA to take is left to
 * stream_book_take, once the caller has copied its bytes to wlen. */
enum stream_verdict stream_on_host_frame(struct stream_book *b, const struct proto_msg *m);
/* Count DATA M into the buffer. */
void stream_book_take(struct stream_book *b, const struct proto_msg *m);
/* N buffered bytes went out to the socket (or were thrown away). */
void stream_book_written(struct stream_book *b, size_t n);
/* The WINDOW to send the host now (0: none yet), counted as granted. */
uint32_t stream_book_window_due(struct stream_book *b);
