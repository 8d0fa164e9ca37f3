/* transport.h: the agent's channel to the host, above agent-util.h and
 * below every feature file: the channel's fd, whole frames sent and
 * received with a deadline (proto.h encodes and decodes them), waiting on
 * an fd while the agent's timers still run, and the one way out: an ERROR
 * to the host when it can still hear it, then power-off as PID 1 (exit in
 * test mode). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "proto.h"

/* Use FD (non-blocking) as the channel; TIMEOUT_S is the usual deadline
 * of a send (mlvm.timeout=). Called once the channel is found. */
void transport_init(int fd, unsigned timeout_s);
int transport_fd(void);

/* util_now_ms() + the usual deadline. */
uint64_t transport_deadline(void);

/* What the agent must still do while it waits (credential TTLs, even
 * while the host is away): NEXT_MS says how soon (-1: nothing pending),
 * RUN does what is due. Set once by main(); none before. */
struct transport_timer {
        int (*next_ms)(void);
        void (*run)(void);
};
void transport_set_timer(const struct transport_timer *t);

/* Wait for EVENTS on FD until DEADLINE (util_now_ms clock): revents, 0 on
 * timeout, -errno. A virtio-serial port whose host side is closed reports
 * POLLHUP at once: callers that wait for the host to connect treat that
 * as "not yet". */
int transport_wait_fd(int fd, short events, uint64_t deadline);

/* Send M to the host by DEADLINE, or by transport_deadline(). 0 or -errno. */
int transport_send_by(const struct proto_msg *m, uint64_t deadline);
int transport_send(const struct proto_msg *m);
/* Whether a send since the last call found the host gone and waited for
 * it: the host's side then reconnected and lost its session, so the agent
 * says HELLO again (the rest of the frame in flight went first on the new
 * connection; the host skips it). */
bool transport_host_dropped(void);
/* The next frame from the host, decoded into M: 0, -EPIPE (the host went
 * away), -ETIMEDOUT, or -EPROTO (malformed; already logged). A DEADLINE
 * of UINT64_MAX waits as long as the host is there. */
int transport_recv(struct proto_msg *m, uint64_t deadline);
/* Zero the bytes of the last frame received (it carried a credential). */
void transport_wipe_frame(void);

/* The one way out. With WHY, log it and send the host an ERROR with CODE;
 * then exit with STATUS in test mode, else sync and power off (PID 1
 * never exits; the domain's on_reboot=destroy covers a failed power-off). */
void transport_finish(int status, uint32_t code, const char *why) __attribute__((noreturn));
/* transport_finish(1, CODE, the formatted message). */
void transport_fatal(uint32_t code, const char *fmt, ...) __attribute__((noreturn, format(printf, 2, 3)));
