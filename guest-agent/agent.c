/* agent.c: mlvm-agent, PID 1 of every mlvm guest; see agent.h.
 *
 * Boots the guest's userspace (boot.c), says HELLO over the channel to the
 * host and answers the host. Every wait has a deadline (mlvm.timeout= on
 * the kernel command line, default 60 s), and every failure ends in an
 * ERROR to the host when possible and a power-off: a guest never hangs.
 * It trusts the host (which built and verified this image) but still
 * decodes its frames strictly.
 *
 * For tests it also runs as an ordinary process speaking over an
 * inherited fd: `mlvm-agent --fd N` (no mounts, no modules, exits instead
 * of powering off). */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent-artifacts.h"
#include "agent-util.h"
#include "agent.h"
#include "boot.h"
#include "datadisk.h"
#include "proto.h"
#include "secrets.h"
#include "streams.h"
#include "transport.h"
#include "workload.h"

static struct boot_config boot;             /* what boot found: the channel, the deadline, the root */
static uint8_t session[PROTO_SESSION_LEN];   /* from HELLO_ACK; sent back in a re-HELLO */
static bool have_session;
static uint32_t last_id;                     /* the last host request completed */
static struct workload wl = { .out = -1, .err = -1 };
static uint64_t frame_msg[(sizeof(struct proto_msg) + 7) / 8];   /* decoded host request */

/* Expiries found while the agent waits on the host (even while it is
 * away): the file goes at once, the report when the host can hear it. */
static struct {
        char name[PROTO_STR_SHORT], lease[PROTO_STR_SHORT];
} expired[64];
static size_t n_expired;

static void defer_expired(const char *name, const char *lease)
{
        if (n_expired < sizeof(expired) / sizeof(expired[0])) {
                proto_strlcpy(expired[n_expired].name, name, sizeof(expired[0].name));
                proto_strlcpy(expired[n_expired].lease, lease, sizeof(expired[0].lease));
                n_expired++;
        }
}

static void expire_credentials(void) { secrets_expire(defer_expired); }

/* Credential TTLs end on time even while the transport waits for the host. */
static const struct transport_timer expiry_timer = { secrets_next_timeout_ms, expire_credentials };

/* How long a lost host may take to come back: at least as long as the
 * host's monitor keeps trying to reconnect (120 s). */
#define RECONNECT_WAIT_S 120

static void handshake(void)
{
        struct proto_msg m = { .type = PROTO_HELLO, .id = 1 };
        unsigned wait_s = have_session && boot.timeout_s < RECONNECT_WAIT_S ? RECONNECT_WAIT_S : boot.timeout_s;
        uint64_t deadline = util_now_ms() + (uint64_t)wait_s * 1000;
        int r;

        proto_strlcpy(m.u.hello.agent_version, AGENT_VERSION, sizeof(m.u.hello.agent_version));
        m.u.hello.proto_version = PROTO_VERSION;
        m.u.hello.uptime_ms = util_uptime_ms();
        proto_strlcpy(m.u.hello.transport, boot.transport, sizeof(m.u.hello.transport));
        boot_read_boot_id(m.u.hello.boot_id, sizeof(m.u.hello.boot_id));
        proto_strlcpy(m.u.hello.root, boot.root_desc, sizeof(m.u.hello.root));
        if (have_session) {
                /* A re-HELLO: the host resumes this session after losing it. */
                memcpy(m.u.hello.session, session, sizeof(session));
                m.u.hello.last_id = last_id;
        }
        if ((r = transport_send_by(&m, deadline)) < 0)
                transport_fatal(PROTO_E_BOOT, "send HELLO: %s", r == -ETIMEDOUT ? "the host did not connect in time" : strerror(-r));
        util_log("HELLO sent over %s after %llu ms", boot.transport, (unsigned long long)m.u.hello.uptime_ms);
        if ((r = transport_recv(&m, deadline)) < 0) {
                if (r == -EPROTO)
                        transport_fatal(PROTO_E_PROTOCOL, "malformed reply to HELLO");
                transport_fatal(PROTO_E_BOOT, "no HELLO_ACK: %s", r == -ETIMEDOUT ? "timed out" : "the host went away");
        }
        if (m.type != PROTO_HELLO_ACK || m.id != 1)
                transport_fatal(PROTO_E_PROTOCOL, "expected HELLO_ACK for request 1, got %s for %u", proto_type_name(m.type), m.id);
        if (have_session && memcmp(session, m.u.hello_ack.session, sizeof(session)) != 0)
                util_log("the host started a new session");
        memcpy(session, m.u.hello_ack.session, sizeof(session));
        have_session = true;
        (void)transport_host_dropped();   /* waiting for the host to first connect is not losing it */
}

static void reply(uint8_t type, uint32_t id)
{
        struct proto_msg m = { .type = type, .id = id };
        int r = transport_send(&m);
        if (r < 0)
                transport_fatal(PROTO_E_INTERNAL, "send %s: %s", proto_type_name(type), strerror(-r));
}

static void reply_error(uint32_t id, uint32_t code, const char *why)
{
        struct proto_msg m = { .type = PROTO_ERROR, .id = id };
        m.u.error.code = code;
        proto_strlcpy(m.u.error.message, why, sizeof(m.u.error.message));
        util_log("request %u failed: %s", id, why);
        (void)transport_send(&m);
}

/* Forward what the workload wrote on FD as STDIO frames; closes it at EOF. */
static void forward_output(int *fd, uint32_t stream)
{
        static struct proto_msg m;
        ssize_t n = read(*fd, m.u.stdio.data, sizeof(m.u.stdio.data));
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
                return;
        if (n <= 0) {
                close(*fd);
                *fd = -1;
                return;
        }
        m.type = PROTO_STDIO;
        m.id = 0;
        m.u.stdio.stream = stream;
        m.u.stdio.len = (uint32_t)n;
        int r = transport_send(&m);
        if (r < 0)
                transport_fatal(PROTO_E_INTERNAL, "send output: %s", strerror(-r));
}

static void report_exit(void)
{
        struct proto_msg m = { .type = PROTO_EXIT, .id = 0 };
        if (WIFSIGNALED(wl.status))
                m.u.exit.signal = (uint32_t)WTERMSIG(wl.status);
        else
                m.u.exit.code = (uint32_t)WEXITSTATUS(wl.status);
        util_log("workload ended: %s %u", m.u.exit.signal ? "signal" : "exit status",
               m.u.exit.signal ? m.u.exit.signal : m.u.exit.code);
        int r = transport_send(&m);
        if (r < 0)
                transport_fatal(PROTO_E_INTERNAL, "send EXIT: %s", strerror(-r));
}

/* Tell the host about expiries (those found while it was away too). */
static void flush_expired(void)
{
        static struct proto_msg m;
        for (size_t i = 0; i < n_expired; i++) {
                m = (struct proto_msg){ .type = PROTO_CRED_EXPIRED, .id = 0 };
                proto_strlcpy(m.u.cred.name, expired[i].name, sizeof(m.u.cred.name));
                proto_strlcpy(m.u.cred.lease, expired[i].lease, sizeof(m.u.cred.lease));
                int r = transport_send(&m);
                if (r < 0)
                        transport_fatal(PROTO_E_INTERNAL, "send CRED_EXPIRED: %s", strerror(-r));
        }
        n_expired = 0;
}

/* Credential bytes do not linger in the agent's buffers. */
static void wipe(volatile uint8_t *p, size_t len)
{
        while (len--)
                *p++ = 0;
}

static void on_cred_put(const struct proto_msg *m)
{
        char why[PROTO_STR_LONG];
        int r = secrets_put(&m->u.cred, why, sizeof(why));
        wipe((volatile uint8_t *)m->u.cred.value, m->u.cred.len);
        transport_wipe_frame();   /* the frame it came in */
        if (r < 0)
                reply_error(m->id, PROTO_E_INTERNAL, why);
        else
                reply(PROTO_DONE, m->id);
}

static void on_cred_revoke(const struct proto_msg *m)
{
        struct proto_msg d = { .type = PROTO_DONE, .id = m->id };
        d.u.done.count = secrets_revoke(m->u.cred.name);
        int r = transport_send(&d);
        if (r < 0)
                transport_fatal(PROTO_E_INTERNAL, "send DONE: %s", strerror(-r));
}

static void on_ping(const struct proto_msg *m)
{
        struct proto_msg pong = { .type = PROTO_PONG, .id = m->id, .u.ping = m->u.ping };
        int r = transport_send(&pong);
        if (r < 0)
                transport_fatal(PROTO_E_INTERNAL, "send PONG: %s", strerror(-r));
}

static void on_pong(const struct proto_msg *m) { (void)m; }

static void on_mount(const struct proto_msg *m)
{
        char why[PROTO_STR_LONG];
        if (datadisk_mount(&m->u.mount, transport_deadline(), why, sizeof(why)) < 0)
                reply_error(m->id, PROTO_E_INTERNAL, why);
        else
                reply(PROTO_DONE, m->id);
}

static agent_exec_hook exec_hook;

void agent_set_exec_hook(agent_exec_hook fn) { exec_hook = fn; }

static void on_exec(const struct proto_msg *m)
{
        char why[PROTO_STR_LONG];
        if (exec_hook)
                exec_hook(m);
        if (wl.pid) {
                reply_error(m->id, PROTO_E_UNSUPPORTED, "a workload is already running");
                return;
        }
        /* The root's own mounts first, so the artifact directory is not covered later. */
        if (workload_prepare_root(why, sizeof(why)) < 0 || artifacts_prepare(&m->u.exec, why, sizeof(why)) < 0 ||
            workload_start(&m->u.exec, &wl, why, sizeof(why)) < 0)
                reply_error(m->id, PROTO_E_INTERNAL, why);
        else
                reply(PROTO_DONE, m->id);
}

static void on_shutdown(const struct proto_msg *m)
{
        (void)m;
        util_log("shutdown requested by the host");
        workload_stop(&wl, 2000, streams_child_exited);
        transport_finish(0, 0, NULL);
}

static void on_error(const struct proto_msg *m)
{
        util_log("host error %u: %s", m->u.error.code, m->u.error.message);
        transport_finish(1, 0, "the host reported an error; stopping");
}

/* What the host may ask, and who answers. */
static const struct agent_handler handlers[] = {
        { PROTO_CRED_PUT, on_cred_put },
        { PROTO_STREAM_OPEN, streams_on_frame },
        { PROTO_STREAM_EXEC, streams_on_frame },
        { PROTO_STREAM_DATA, streams_on_frame },
        { PROTO_STREAM_WINDOW, streams_on_frame },
        { PROTO_STREAM_CLOSE, streams_on_frame },
        { PROTO_CRED_REVOKE, on_cred_revoke },
        { PROTO_PING, on_ping },
        { PROTO_PONG, on_pong },
        { PROTO_MOUNT, on_mount },
        { PROTO_EXEC, on_exec },
        { PROTO_SHUTDOWN, on_shutdown },
        { PROTO_ERROR, on_error },
};

static void handle(const struct proto_msg *m)
{
        if (m->id > last_id && m->type != PROTO_PING && m->type != PROTO_PONG)
                last_id = m->id;
        for (size_t i = 0; i < sizeof(handlers) / sizeof(handlers[0]); i++)
                if (handlers[i].type == m->type) {
                        handlers[i].handle(m);
                        return;
                }
        transport_fatal(PROTO_E_UNSUPPORTED, "unexpected %s from the host", proto_type_name(m->type));
}

/* Once the workload is gone and its output drained: the artifacts (if
 * any), then EXIT. */
static void workload_ended(void)
{
        char why[PROTO_STR_LONG];
        /* Whatever the workload left running goes first: nothing may
         * change the artifact directory while it is read. */
        if (artifacts_wanted())
                (void)kill(-wl.pid, SIGKILL);
        if (artifacts_wanted() && artifacts_finish(why, sizeof(why)) < 0) {
                struct proto_msg e = { .type = PROTO_ERROR, .id = 0 };
                e.u.error.code = PROTO_E_ARTIFACTS;
                proto_strlcpy(e.u.error.message, why, sizeof(e.u.error.message));
                util_log("%s", why);
                (void)transport_send(&e);
        }
        report_exit();
}

/* Serve the host and the workload until the host goes away (returns). */
static void serve(void)
{
        static bool exit_sent;

        for (;;) {
                struct pollfd p[3 + 3 * PROTO_STREAMS_MAX] = {
                        { .fd = transport_fd(), .events = POLLIN },
                        { .fd = wl.out, .events = POLLIN },
                        { .fd = wl.err, .events = POLLIN },
                };
                size_t ns = streams_poll_fill(p + 3);
                int timeout = (wl.pid && !exit_sent) || streams_running() ? 200 : -1, next = secrets_next_timeout_ms();
                if (next >= 0 && (timeout < 0 || next < timeout))
                        timeout = next;
                int r = poll(p, 3 + ns, timeout);
                if (r < 0 && errno != EINTR)
                        transport_fatal(PROTO_E_INTERNAL, "poll: %s", strerror(errno));
                if (r > 0)
                        streams_poll_handle(p + 3, ns);
                secrets_expire(defer_expired);
                flush_expired();
                if (p[1].revents)
                        forward_output(&wl.out, PROTO_STDOUT);
                if (p[2].revents)
                        forward_output(&wl.err, PROTO_STDERR);
                workload_reap(&wl, streams_child_exited);
                streams_tick();
                /* EXIT once the process is gone and its output is drained. */
                if (wl.pid && wl.exited && wl.out < 0 && wl.err < 0 && !exit_sent) {
                        workload_ended();
                        exit_sent = true;
                }
                if (transport_host_dropped()) {
                        /* The host went away under a send and came back: resume its session. */
                        streams_reset_all();
                        return;
                }
                if (!(p[0].revents & (POLLIN | POLLHUP | POLLERR)))
                        continue;
                struct proto_msg *m = (struct proto_msg *)frame_msg;
                r = transport_recv(m, transport_deadline());
                if (r == -EPROTO)
                        transport_fatal(PROTO_E_PROTOCOL, "malformed frame from the host");
                if (r == -EPIPE) {
                        streams_reset_all();
                        return;
                }
                if (r == -ETIMEDOUT)
                        transport_fatal(PROTO_E_PROTOCOL, "the host sent part of a frame and stopped");
                if (r < 0)
                        transport_fatal(PROTO_E_INTERNAL, "read from the host: %s", strerror(-r));
                handle(m);
        }
}

int main(int argc, char **argv)
{
        if (argc == 3 && strcmp(argv[1], "--fd") == 0) {
                char *end;
                long fd = strtol(argv[2], &end, 10);
                if (*end || fd < 0 || fd > 1024) {
                        util_log("usage: mlvm-agent --fd N");
                        return 2;
                }
                boot = boot_test_mode((int)fd);
        } else if (getpid() == 1) {
                util_set_pid1();
                boot = boot_guest();
        } else {
                util_log("must run as PID 1 (or with --fd N for tests)");
                return 2;
        }
        transport_init(boot.fd, boot.timeout_s);
        transport_set_timer(&expiry_timer);
        workload_set_root(boot.root);
        signal(SIGPIPE, SIG_IGN);
        streams_init();
        for (;;) {
                handshake();
                serve();
                if (!util_is_pid1())
                        transport_finish(0, 0, NULL);
                /* The host side closed: wait for it to come back (the next
                 * handshake has the usual deadline), else power off. */
                util_log("the host closed the channel; waiting up to %u s for it to reconnect",
                       boot.timeout_s < RECONNECT_WAIT_S ? RECONNECT_WAIT_S : boot.timeout_s);
        }
}
