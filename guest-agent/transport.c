/* transport.c: the channel to the host and the way out; see transport.h. */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/reboot.h>
#include <unistd.h>

#include "agent-util.h"
#include "proto.h"
#include "transport.h"

static int host_fd = -1;
static unsigned timeout_s = 60;
static const struct transport_timer *timer;
/* One buffer for the frame being sent or received: the agent does one at a time. */
static uint8_t frame[PROTO_HDR_SIZE + PROTO_MAX_PAYLOAD];
static size_t frame_len;                     /* bytes of the last frame received into frame[] */
static bool host_dropped;                    /* a send waited out a host that had gone away */

void transport_init(int fd, unsigned t)
{
        host_fd = fd;
        timeout_s = t;
}

int transport_fd(void) { return host_fd; }

uint64_t transport_deadline(void) { return util_now_ms() + (uint64_t)timeout_s * 1000; }

void transport_set_timer(const struct transport_timer *t) { timer = t; }

int transport_wait_fd(int fd, short events, uint64_t deadline)
{
        for (;;) {
                uint64_t now = util_now_ms();
                if (now >= deadline)
                        return 0;
                struct pollfd p = { .fd = fd, .events = events };
                int left = (int)(deadline - now > 1000 ? 1000 : deadline - now);
                int next = timer ? timer->next_ms() : -1;
                if (next >= 0 && next < left)
                        left = next;
                int r = poll(&p, 1, left);
                if (timer)
                        timer->run();
                if (r < 0 && errno == EINTR)
                        continue;
                if (r < 0)
                        return -errno;
                if (r > 0)
                        return p.revents;
        }
}

static int write_all(const uint8_t *p, size_t len, uint64_t deadline)
{
        while (len > 0) {
                ssize_t n = write(host_fd, p, len);
                if (n > 0) {
                        p += n;
                        len -= (size_t)n;
                        continue;
                }
                if (n < 0 && errno != EAGAIN && errno != EINTR)
                        return -errno;
                int ev = transport_wait_fd(host_fd, POLLOUT, deadline);
                if (ev == 0)
                        return -ETIMEDOUT;
                if (ev < 0)
                        return ev;
                if ((ev & POLLHUP) && !(ev & POLLOUT)) {
                        host_dropped = true;
                        util_sleep_ms(20);
                }
        }
        return 0;
}

bool transport_host_dropped(void)
{
        bool d = host_dropped;
        host_dropped = false;
        return d;
}

/* Read exactly len bytes. Returns 0, -EPIPE when the host went away, or
 * -ETIMEDOUT. A deadline of UINT64_MAX waits as long as the host is there. */
static int read_exact(uint8_t *p, size_t len, uint64_t deadline)
{
        while (len > 0) {
                ssize_t n = read(host_fd, p, len);
                if (n > 0) {
                        p += n;
                        len -= (size_t)n;
                        continue;
                }
                if (n == 0)
                        return -EPIPE;
                if (errno != EAGAIN && errno != EINTR)
                        return -errno;
                int ev = transport_wait_fd(host_fd, POLLIN, deadline);
                if (ev == 0)
                        return -ETIMEDOUT;
                if (ev < 0)
                        return ev;
                if ((ev & POLLHUP) && !(ev & POLLIN))
                        return -EPIPE;
        }
        return 0;
}

int transport_send_by(const struct proto_msg *m, uint64_t deadline)
{
        long n = proto_encode(m, frame, sizeof(frame));
        if (n < 0)
                return -EINVAL;
        return write_all(frame, (size_t)n, deadline);
}

int transport_send(const struct proto_msg *m) { return transport_send_by(m, transport_deadline()); }

/* The host is trusted, but its frames are still decoded strictly. */
int transport_recv(struct proto_msg *m, uint64_t deadline)
{
        struct proto_hdr h;
        int r = read_exact(frame, PROTO_HDR_SIZE, deadline);
        if (r < 0)
                return r;
        if ((r = proto_hdr_decode(frame, &h)) < 0) {
                util_log("bad frame header from host: %s", proto_strerror(r));
                return -EPROTO;
        }
        if ((r = read_exact(frame + PROTO_HDR_SIZE, h.len, deadline)) < 0)
                return r;
        frame_len = PROTO_HDR_SIZE + h.len;
        if ((r = proto_payload_decode(&h, frame + PROTO_HDR_SIZE, m)) < 0) {
                util_log("bad %s frame from host: %s", proto_type_name(h.type), proto_strerror(r));
                return -EPROTO;
        }
        return 0;
}

void transport_wipe_frame(void)
{
        volatile uint8_t *p = frame;
        for (size_t len = frame_len; len--;)
                *p++ = 0;
}

static void send_error(uint32_t code, const char *what)
{
        struct proto_msg m = { .type = PROTO_ERROR, .id = 0 };

        if (host_fd < 0)
                return;
        m.u.error.code = code;
        proto_strlcpy(m.u.error.message, what, sizeof(m.u.error.message));
        (void)transport_send_by(&m, util_now_ms() + 2000);
}

/* PID 1 must never exit: power off, else reboot (the domain has
 * on_reboot=destroy), else stop forever. */
void transport_finish(int status, uint32_t code, const char *why)
{
        if (why) {
                util_log("%s", why);
                send_error(code, why);
        }
        if (!util_is_pid1())
                exit(status);
        sync();
        util_log("powering off");
        (void)reboot(RB_POWER_OFF);
        (void)reboot(RB_AUTOBOOT);
        for (;;)
                pause();
}

void transport_fatal(uint32_t code, const char *fmt, ...)
{
        char why[PROTO_STR_LONG];
        va_list ap;

        va_start(ap, fmt);
        (void)vsnprintf(why, sizeof(why), fmt, ap);
        va_end(ap);
        transport_finish(1, code, why);
}
