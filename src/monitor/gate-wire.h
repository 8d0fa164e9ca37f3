/* gate-wire.h: the fixed messages between the monitor and its frame gate
 * (docs/security.md, "The monitor's privilege separation").
 *
 * The gate (gate.c) is the monitor's only reader of the agent's bytes: an
 * unprivileged, capability-less, seccomp-confined child. The monitor
 * (privileged) copies what the libvirt stream gives it into GATE_IN_DATA
 * messages without looking at it; the gate decodes frames with the shared
 * codec and answers with records of a fixed layout per frame type: the
 * decoded struct's fixed fields, byte for byte, then at most
 * PROTO_DATA_MAX bytes of data. So the privileged side never parses the
 * agent's TLV encoding: it checks a record's kind, sizes, ranges and
 * string terminators (gate_rec_decode) and refuses anything else.
 *
 * One SOCK_SEQPACKET datagram per message; integers in host order (both
 * ends are the same binary on the same machine). GEN is the channel's
 * generation: a new channel (after libvirtd restarted) starts a new one,
 * and the monitor drops records of an older one. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "mtime.h"
#include "proto.h"

/* monitor -> gate */
enum gate_in_kind {
        GATE_IN_DATA = 1,      /* bytes from the channel, at most GATE_CHUNK_MAX */
        GATE_IN_EOF = 2,       /* the channel ended: answer GATE_REC_EOF after the last record */
};
struct gate_in_hdr {
        uint32_t kind, gen;
};
#define GATE_CHUNK_MAX 65536u
#define GATE_IN_MAX (sizeof(struct gate_in_hdr) + GATE_CHUNK_MAX)

/* gate -> monitor */
enum gate_rec_kind {
        GATE_REC_FRAME = 1,    /* one decoded frame (TYPE, ID, the type's layout) */
        GATE_REC_BAD = 2,      /* a malformed frame (TYPE 0: its header) with STATUS, a proto_status */
        GATE_REC_SYNC = 3,     /* a GATE_IN_DATA is consumed; SINCE: when the unfinished frame began (0: none) */
        GATE_REC_EOF = 4,      /* answer to GATE_IN_EOF: every record of the channel is out */
};
struct gate_rec_hdr {
        uint8_t kind, type;
        uint16_t reserved;     /* 0 */
        uint32_t gen, id;
        int32_t status;
        uint64_t since;
};
#define GATE_REC_MAX (sizeof(struct gate_rec_hdr) + 2048u + PROTO_DATA_MAX)

/* What a record says, once checked. */
/* The most a generation may skip before its first frame header (gate.h):
 * the tail of the longest frame a host disconnect can cut. */
#define GATE_RESYNC_MAX (PROTO_HDR_SIZE + PROTO_MAX_PAYLOAD)

struct gate_event {
        uint8_t kind;
        uint32_t gen;
        uint8_t type;          /* BAD: the frame's type, 0 for its header */
        int32_t status;        /* BAD: the decoder's error; SYNC: bytes skipped before the first header (gate.h) */
        usec_t since;          /* SYNC */
};

/* Gate side: the record for a decoded frame M into BUF (CAP bytes, at
 * least GATE_REC_MAX). Returns its length. */
size_t gate_rec_frame(const struct proto_msg *m, uint32_t gen, uint8_t *buf, size_t cap);
/* Gate side: a record without payload (BAD, SYNC, EOF). */
size_t gate_rec_plain(uint8_t kind, uint32_t gen, uint8_t type, int32_t status, usec_t since, uint8_t *buf);

/* Monitor side: check the LEN bytes of a record against the fixed set and
 * fill *RET (and, for a FRAME, *RET_MSG, zeroed first as the codec does).
 * -EPROTO naming what is wrong for anything else: an unknown kind or
 * frame type, a size other than the type's layout, data over its cap,
 * a string without its NUL, a status out of range, a time in the future. */
int gate_rec_decode(const uint8_t *buf, size_t len, usec_t now, struct gate_event *ret, struct proto_msg *ret_msg,
                    struct mlvm_err *e);
