/* channel.h: the host end of the agent channel: a libvirt stream on the
 * virtio-serial port org.mlvm.agent.0 (virDomainOpenChannel), so it works
 * over any libvirt URI. Frames are decoded with the shared codec; every
 * wait has a deadline, served by libvirt's default event loop (virt_init
 * registers it). The guest is hostile: its bytes are only ever parsed by
 * proto_hdr_decode/proto_payload_decode, with the 1 MiB frame cap, and in
 * the monitor only inside its frame gate (gate.h). */
#pragma once

#include <stdbool.h>

#include <libvirt/libvirt.h>

#include "err.h"
#include "mtime.h"
#include "proto.h"

struct channel;

/* GATE_FD: the monitor's end of its frame gate (gate.h), which then
 * decodes every byte of the stream; -1 decodes here (the test tools). */
int channel_open(virDomainPtr dom, const char *name, int gate_fd, struct channel **ret, struct mlvm_err *e);
void channel_close(struct channel *ch);
static inline void channel_closep(struct channel **ch) { channel_close(*ch); }

/* Wait at most TIMEOUT_MS for one frame. -ETIMEDOUT, -EPIPE (closed),
 * -EPROTO (malformed: the message names why; the channel is unusable). */
int channel_recv(struct channel *ch, struct proto_msg *m, int timeout_ms, struct mlvm_err *e);
/* Queue one frame and send what the stream takes now; the rest goes out
 * from libvirt's event loop when the stream is writable. Never runs the
 * event loop itself, so no callback runs in the middle of a send and
 * frames are never interleaved. Fails when an earlier send failed or
 * 16 MiB are already waiting. TIMEOUT_MS is unused (kept for callers). */
int channel_send(struct channel *ch, const struct proto_msg *m, int timeout_ms, struct mlvm_err *e);
/* The throttle: senders of bulk data (published ports, exec) stop reading
 * their clients while more than CHANNEL_HIGH_WATER bytes wait to go out,
 * so that control frames (credentials, shutdown) always find room.
 * channel_full only looks; channel_throttled also makes sure the
 * unthrottle callback runs once the queue is below the mark again (looked
 * at every 20 ms while libvirt's loop drains it). Both accept NULL (no
 * channel: nothing queued). */
#define CHANNEL_HIGH_WATER (4u << 20)
bool channel_full(const struct channel *ch);
bool channel_throttled(struct channel *ch);
void channel_on_unthrottle(struct channel *ch, void (*cb)(void *opaque), void *opaque);

/* Event-driven use (the monitor): CB runs from libvirt's event loop when
 * the stream has data or closed; it then calls channel_try_recv until that
 * returns -EAGAIN. */
void channel_on_readable(struct channel *ch, void (*cb)(void *opaque), void *opaque);
/* 0 with *m, -EAGAIN when no whole frame is there yet, else as channel_recv. */
int channel_try_recv(struct channel *ch, struct proto_msg *m, struct mlvm_err *e);
/* When the frame being received began (now_usec() of its first byte), or
 * 0 when no frame is begun: for the deadline on a frame left unfinished. */
usec_t channel_partial_since(const struct channel *ch);
/* Bytes skipped before this connection's first frame header: the rest
 * of a frame a host disconnect cut (gate.h). */
uint32_t channel_skipped(const struct channel *ch);
