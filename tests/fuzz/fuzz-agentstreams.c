/* fuzz-agentstreams.c: libFuzzer target for the guest agent's handling of
 * the host's stream and exec frames (guest-agent/streams.c): the decision
 * on each STREAM_DATA, WINDOW and CLOSE given the stream's state and
 * credit, which streams.c takes from stream-rules.c, fed in sequences
 * with the socket's side in between (connected, bytes written, credit
 * spent, a command's stdin gone), on a table of streams kept as streams.c
 * keeps it.
 *
 * The input is a run of 8-byte steps: OP, STREAM (id % 8, so 0 and
 * repeats come up), A (16 bits, big-endian), V (32 bits, big-endian).
 * After every step, for every open stream: what the host may still send
 * plus what is buffered plus what awaits a WINDOW is exactly the buffer
 * (PROTO_STREAM_CREDIT), so the agent never holds more than it granted;
 * a taken DATA fits the buffer; ids are non-zero and unique. */
#include "mlvm-build.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "stream-rules.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct stream_book table[PROTO_STREAMS_MAX];

static struct stream_book *find(uint32_t id)
{
        for (size_t i = 0; i < PROTO_STREAMS_MAX; i++)
                if (id && table[i].id == id)
                        return &table[i];
        return NULL;
}

static struct stream_book *free_slot(void)
{
        for (size_t i = 0; i < PROTO_STREAMS_MAX; i++)
                if (!table[i].id)
                        return &table[i];
        return NULL;
}

static void check(void)
{
        for (size_t i = 0; i < PROTO_STREAMS_MAX; i++) {
                const struct stream_book *b = &table[i];
                if (!b->id)
                        continue;
                if ((uint64_t)b->granted + b->wlen + b->consumed != PROTO_STREAM_CREDIT || b->wlen > PROTO_STREAM_CREDIT)
                        __builtin_trap();
                for (size_t j = i + 1; j < PROTO_STREAMS_MAX; j++)
                        if (table[j].id == b->id)
                                __builtin_trap();
        }
}

/* The socket took N bytes: flush_socket's bookkeeping. */
static void flush(struct stream_book *b, uint32_t n)
{
        stream_book_written(b, n < b->wlen ? n : b->wlen);
        uint32_t w = stream_book_window_due(b);
        if (w && b->consumed)
                __builtin_trap();
        if (b->host_eof && b->wlen == 0)
                b->shut_wr = true;
}

static void frame(uint8_t type, uint32_t id, uint32_t v)
{
        static struct proto_msg m;
        m.type = type;
        m.u.stream.id = id;
        m.u.stream.window = v;
        m.u.stream.how = v % 4;
        m.u.stream.len = v % (PROTO_DATA_MAX + 1);   /* the codec's cap */
        struct stream_book *b = find(id);
        if (!b)
                return;
        switch (stream_on_host_frame(b, &m)) {
        case STREAM_TAKE:
                if (type == PROTO_STREAM_DATA) {
                        if (b->wlen + m.u.stream.len > PROTO_STREAM_CREDIT)
                                __builtin_trap();   /* the memcpy into wbuf would overflow */
                        stream_book_take(b, &m);
                }
                break;
        case STREAM_DISCARD:
                if (type != PROTO_STREAM_DATA || !b->exec || !b->shut_wr)
                        __builtin_trap();
                break;
        case STREAM_END:
                flush(b, 0);
                break;
        case STREAM_RESET:
        case STREAM_DROP:
                memset(b, 0, sizeof(*b));
                break;
        case STREAM_IGNORE:
                if (type == PROTO_STREAM_DATA || type == PROTO_STREAM_WINDOW || type == PROTO_STREAM_CLOSE)
                        __builtin_trap();
                break;
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        memset(table, 0, sizeof(table));
        for (; size >= 8; data += 8, size -= 8) {
                uint8_t op = data[0] % 12;
                uint32_t id = data[1] % 8;
                uint32_t a = (uint32_t)data[2] << 8 | data[3];
                uint32_t v = (uint32_t)data[4] << 24 | (uint32_t)data[5] << 16 | (uint32_t)data[6] << 8 | data[7];
                struct proto_conn c = { .id = id, .port = a, .window = v };
                struct stream_book *b = find(id), *slot;
                switch (op) {
                case 0:   /* STREAM_OPEN */
                        if (!stream_open_refusal(&c, b != NULL) && (slot = free_slot()))
                                *slot = stream_book_new(&c, false);
                        break;
                case 1:   /* STREAM_EXEC */
                        if (id && !b && (slot = free_slot()))
                                *slot = stream_book_new(&c, true);
                        break;
                case 2:
                        frame(PROTO_STREAM_DATA, id, v);
                        break;
                case 3:
                        frame(PROTO_STREAM_WINDOW, id, v);
                        break;
                case 4:
                        frame(PROTO_STREAM_CLOSE, id, v);
                        break;
                case 5:
                        frame((uint8_t)(a % (PROTO_TYPE_MAX + 2)), id, v);   /* any type, on a stream */
                        break;
                case 6:   /* the connect finished */
                        if (b)
                                b->connecting = false;
                        break;
                case 7:   /* the socket or the command's stdin took V bytes */
                        if (b && !b->connecting)
                                flush(b, v);
                        break;
                case 8:   /* relay: V bytes read and sent, within the credit */
                        if (b && !b->connecting)
                                b->credit -= v < b->credit ? v : b->credit;
                        break;
                case 9:   /* an exec command's stdin is gone (EPIPE): its buffer is thrown away */
                        if (b && b->exec) {
                                stream_book_written(b, b->wlen);
                                b->shut_wr = b->host_eof = true;
                                (void)stream_book_window_due(b);
                        }
                        break;
                case 10:  /* the socket failed, or the host went away */
                        if (b)
                                memset(b, 0, sizeof(*b));
                        break;
                default:
                        memset(table, 0, sizeof(table));
                        break;
                }
                check();
        }
        return 0;
}
