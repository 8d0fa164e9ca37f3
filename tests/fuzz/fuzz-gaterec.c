/* fuzz-gaterec.c: libFuzzer target for the records the frame gate sends
 * the privileged monitor (src/monitor/gate-wire.h). The gate decodes the
 * agent's bytes and may be compromised, so the monitor's check of its
 * records, gate_rec_decode, reads untrusted input.
 *
 * The input is one record (one SOCK_SEQPACKET datagram, at most
 * GATE_REC_MAX bytes as channel.c caps it). What the check accepts must
 * be something the honest gate could have sent: a FRAME record's message
 * re-encodes, with the gate's own gate_rec_frame, to a record that decodes
 * to the same message, and with the agent codec to a frame that decodes.
 * And the other way: when the input is an agent frame the codec accepts,
 * its gate record must pass the check (nothing honest is refused). */
#include "mlvm-build.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "gate-wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_NOW 1000000000000000ull   /* a fixed clock, so SYNC times replay alike */

static uint8_t rec[GATE_REC_MAX], frame[PROTO_HDR_SIZE + PROTO_MAX_PAYLOAD];
static struct proto_msg m, again;

static void check_frame_record(const struct proto_msg *msg)
{
        struct gate_event ev;
        struct mlvm_err e = { 0 };

        if (msg->u.stdio.len > PROTO_DATA_MAX || msg->u.stream.len > PROTO_DATA_MAX)
                __builtin_trap();
        size_t n = gate_rec_frame(msg, 7, rec, sizeof(rec));
        if (n == 0 || n > GATE_REC_MAX)
                __builtin_trap();
        if (gate_rec_decode(rec, n, FUZZ_NOW, &ev, &again, &e) != 0 || ev.kind != GATE_REC_FRAME || ev.gen != 7 ||
            ev.type != msg->type || memcmp(&again, msg, sizeof(again)) != 0)
                __builtin_trap();
        /* What the monitor takes in, the codec could have carried. */
        long f = proto_encode(msg, frame, sizeof(frame));
        if (f < 0 || proto_decode(frame, (size_t)f, &again) != 0 || again.type != msg->type || again.id != msg->id)
                __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct gate_event ev;
        struct mlvm_err e = { 0 };

        if (size > GATE_REC_MAX)
                return 0;   /* channel.c refuses these before the check */
        memset(&m, 0xa5, sizeof(m));   /* the check must not depend on what was there */
        if (gate_rec_decode(data, size, FUZZ_NOW, &ev, &m, &e) == 0) {
                if (ev.kind < GATE_REC_FRAME || ev.kind > GATE_REC_EOF)
                        __builtin_trap();
                if (ev.kind == GATE_REC_SYNC && ev.since > FUZZ_NOW)
                        __builtin_trap();
                if (ev.kind == GATE_REC_BAD && (ev.status >= 0 || ev.status < PROTO_EMISSING || ev.type > PROTO_TYPE_MAX))
                        __builtin_trap();
                if (ev.kind == GATE_REC_FRAME)
                        check_frame_record(&m);
        } else if (!e.msg[0])
                __builtin_trap();   /* a refusal says why */
        /* The same bytes as an agent frame: if the codec takes it, the gate's record of it passes. */
        if (size >= PROTO_HDR_SIZE && proto_decode(data, size, &m) == 0 && m.type >= 1 && m.type <= PROTO_TYPE_MAX) {
                size_t n = gate_rec_frame(&m, 3, rec, sizeof(rec));
                if (n && gate_rec_decode(rec, n, FUZZ_NOW, &ev, &again, &e) != 0)
                        __builtin_trap();
        }
        return 0;
}
