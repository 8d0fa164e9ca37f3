/* stream-rules.c: a stream's credit bookkeeping in the guest agent; see
 * stream-rules.h. No I/O, no allocation: the fuzz target calls it as-is. */
#include "stream-rules.h"

uint32_t stream_open_refusal(const struct proto_conn *c, bool exists)
{
        if (c->id == 0 || exists || c->port == 0 || c->port > 65535)
                return PROTO_CLOSE_RESET;
        return 0;
}

struct stream_book stream_book_new(const struct proto_conn *c, bool exec)
{
        return (struct stream_book){ .id = c->id, .exec = exec, .connecting = !exec, .credit = c->window,
                                     .granted = PROTO_STREAM_CREDIT };
}

enum stream_verdict stream_on_host_frame(struct stream_book *b, const struct proto_msg *m)
{
        const struct proto_conn *c = &m->u.stream;
        switch (m->type) {
        case PROTO_STREAM_DATA:
                if (b->exec && b->shut_wr && c->len <= b->granted)
                        return STREAM_DISCARD;   /* stdin is over: dropped */
                if (b->connecting || b->host_eof || c->len > b->granted || b->wlen + c->len > PROTO_STREAM_CREDIT)
                        return STREAM_RESET;
                return STREAM_TAKE;
        case PROTO_STREAM_WINDOW:
                if ((uint64_t)b->credit + c->window > PROTO_STREAM_CREDIT)
                        return STREAM_RESET;
                b->credit += c->window;
                return STREAM_TAKE;
        case PROTO_STREAM_CLOSE:
                if (c->how != PROTO_CLOSE_END)
                        return STREAM_DROP;
                b->host_eof = true;
                return STREAM_END;
        default:
                return STREAM_IGNORE;
        }
}

void stream_book_take(struct stream_book *b, const struct proto_msg *m)
{
        b->wlen += m->u.stream.len;
        b->granted -= m->u.stream.len;
}

void stream_book_written(struct stream_book *b, size_t n)
{
        b->wlen -= n;
        b->consumed += (uint32_t)n;
}

/* Give credit back once a quarter of the window is free again. */
uint32_t stream_book_window_due(struct stream_book *b)
{
        if (b->consumed < PROTO_STREAM_CREDIT / 4 && !(b->wlen == 0 && b->consumed))
                return 0;
        uint32_t w = b->consumed;
        b->granted += w;
        b->consumed = 0;
        return w;
}
