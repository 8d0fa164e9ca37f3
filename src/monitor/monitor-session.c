/* monitor-session.c: the monitor's side of the agent (see
 * monitor-internal.h, monitor-core.h): the channel, HELLO and the session
 * that survives a libvirtd restart, the queue of requests the agent gets
 * after HELLO, and the routing of every frame from the agent to the core
 * or to the handler whose table takes it. The guest is hostile: its
 * frames arrive decoded by the shared codec (channel.c), and a type that
 * nobody takes fails the run. */
#include "mlvm-build.h"

#include <openssl/rand.h>

#include "monitor-internal.h"
#include "run.h"
#include "util.h"

#define REQUESTS_MAX 24
/* A frame begun must be whole within this: the agent writes each frame
 * (at most 1 MiB) at once, which takes well under a second even under
 * TCG, so only an agent that stopped mid-frame (hostile, or hung) gets
 * near it; without it, half a frame and then silence would hold the
 * channel, and every request after it, for ever. */
#define FRAME_DEADLINE (15 * USEC_PER_SEC)
/* libvirt runs due timers before it reads: after the deadline, one more
 * round of the loop reads what may be waiting before the run fails. */
#define FRAME_RECHECK (200 * USEC_PER_MSEC)

struct request {
        struct proto_msg *msg;
        uint32_t id;
        const struct monitor_request_ops *ops;
        void *opaque;
};

static struct channel *ch;
static bool session_up;         /* HELLO_ACK sent on the current channel: the agent takes other frames */
static bool hello, ready;
static uint8_t session[PROTO_SESSION_LEN];
static uint32_t next_id;
static usec_t boot_timeout;     /* for the first HELLO */
static int hello_timer = -1;
static int frame_timer = -1;
static usec_t frame_judged;     /* the unfinished frame (its start) found past the deadline once */
static struct request reqs[REQUESTS_MAX];
static size_t n_reqs, next_req;

/* ---- what the handlers may ask --------------------------------------------- */

bool monitor_ready(void) { return ready; }
bool monitor_said_hello(void) { return hello; }
bool monitor_agent_up(void) { return ch && session_up; }
uint32_t monitor_next_id(void) { return ++next_id; }
bool monitor_channel_full(void) { return channel_full(ch); }
bool monitor_throttled(void) { return channel_throttled(ch); }

bool monitor_serving(void)
{
        return ready && monitor_agent_up() && !monitor_ending() && monitor_connected();
}

int monitor_send(const struct proto_msg *m, struct mlvm_err *e)
{
        if (!monitor_agent_up())
                return err_setx(e, -ENOTCONN, "the agent channel is not open");
        return channel_send(ch, m, 0, e);
}

/* Each handler's ids count up within its range, wrapping round, never 0. */
uint32_t monitor_stream_id(const struct monitor_handler *h)
{
        static uint32_t next[MONITOR_HANDLERS_MAX];
        size_t i = 0;
        uint32_t id;
        while (i < MONITOR_HANDLERS_MAX - 1 && monitor_handler(i) && monitor_handler(i) != h)
                i++;
        do
                id = h->stream_base | (++next[i] & h->stream_mask);
        while (id == 0);
        return id;
}

/* ---- the request queue ------------------------------------------------------ */

int monitor_queue(struct proto_msg *m, const struct monitor_request_ops *ops, void *opaque)
{
        if (n_reqs >= REQUESTS_MAX)
                return -E2BIG;
        m->id = ++next_id;
        reqs[n_reqs++] = (struct request){ m, m->id, ops, opaque };
        return 0;
}

static void set_ready(json_object *run, void *u)
{
        json_object_object_add(run, "state", json_object_new_string(RUN_READY));
        json_object_object_add(run, "ready_at", json_object_new_double(run_now()));
}

/* The next request of the queue; once all are done, the run is ready
 * (credentials delivered, disks mounted, workload started). */
static void send_next_request(void)
{
        struct mlvm_err e = { 0 };
        if (next_req >= n_reqs) {
                if (!ready && !monitor_ending()) {
                        ready = true;
                        if (run_update(monitor_state_dir(), monitor_run_id(), set_ready, NULL, &e) < 0)
                                monitor_log("run record: %s", e.msg);
                        monitor_log("ready");
                }
                return;
        }
        if (monitor_ending())
                return;   /* nothing new goes to a guest that is being stopped */
        struct request *q = &reqs[next_req];
        if (q->ops && q->ops->before_send)
                q->ops->before_send(q->msg, q->opaque);
        if (channel_send(ch, q->msg, 0, &e) < 0) {
                monitor_shutdown(RUN_FAILED, e.msg);
                return;
        }
        if (q->ops && q->ops->sent)
                q->ops->sent(q->msg, q->opaque);
}

/* Confirmed, by its DONE or by a resumed session: the queue forgets the
 * message (its owner, if it has a done hook, frees it). */
static void request_done(struct request *q, uint32_t count)
{
        if (q->msg && q->ops && q->ops->done) {
                q->msg = NULL;
                q->ops->done(q->id, count, q->opaque);
        }
}

/* ---- HELLO -------------------------------------------------------------------- */

static void set_hello(json_object *run, void *u)
{
        const struct proto_msg *m = u;
        json_object_object_add(run, "hello_at", json_object_new_double(run_now()));
        json_object *a = json_object_new_object();
        _cleanup_free_ char *v = monitor_ascii(m->u.hello.agent_version), *t = monitor_ascii(m->u.hello.transport);
        _cleanup_free_ char *root = monitor_ascii(m->u.hello.root), *boot = monitor_ascii(m->u.hello.boot_id);
        json_object_object_add(a, "version", json_object_new_string(v));
        json_object_object_add(a, "uptime_ms", json_object_new_uint64(m->u.hello.uptime_ms));
        json_object_object_add(a, "transport", json_object_new_string(t));
        json_object_object_add(a, "root", json_object_new_string(root));
        json_object_object_add(a, "boot_id", json_object_new_string(boot));
        json_object_object_add(run, "agent", a);
}

/* A re-HELLO with our session: requests the agent completed are not sent
 * again; the pending one is, and the handlers resend what was on its way. */
static void resume(const struct proto_msg *m)
{
        const struct monitor_handler *h;
        monitor_log("agent resumed the session (last request %u)", m->u.hello.last_id);
        /* Done, though their DONEs were lost with the connection. (The
         * workload's clock is running: its EXEC was sent.) */
        while (next_req < n_reqs && reqs[next_req].id <= m->u.hello.last_id) {
                request_done(&reqs[next_req], 0);
                next_req++;
        }
        for (size_t i = 0; (h = monitor_handler(i)); i++)
                if (h->resumed)
                        h->resumed();
        send_next_request();
}

static void on_hello(const struct proto_msg *m)
{
        struct mlvm_err e = { 0 };
        struct proto_msg ack = { .type = PROTO_HELLO_ACK, .id = m->id };
        bool resumed = hello;

        if (resumed && memcmp(m->u.hello.session, session, PROTO_SESSION_LEN) != 0) {
                monitor_shutdown(RUN_FAILED, "the agent came back with another session");
                return;
        }
        memcpy(ack.u.hello_ack.session, session, PROTO_SESSION_LEN);
        if (channel_send(ch, &ack, 0, &e) < 0) {
                monitor_end(RUN_FAILED, "HELLO_ACK: %s", e.msg);
                return;
        }
        if (monitor_ending())
                return;   /* the run ended while the ACK was being sent */
        session_up = true;   /* from now on the agent takes other frames */
        if (resumed) {
                resume(m);
                return;
        }
        hello = true;
        if (hello_timer >= 0) {
                virEventRemoveTimeout(hello_timer);
                hello_timer = -1;
        }
        _cleanup_free_ char *v = monitor_ascii(m->u.hello.agent_version), *t = monitor_ascii(m->u.hello.transport);
        _cleanup_free_ char *root = monitor_ascii(m->u.hello.root);
        monitor_log("HELLO from agent %s over %s, guest uptime %llu ms, root %s", v, t,
                    (unsigned long long)m->u.hello.uptime_ms, root);
        if (run_update(monitor_state_dir(), monitor_run_id(), set_hello, (void *)m, &e) < 0)
                monitor_log("run record: %s", e.msg);
        send_next_request();
}

static void on_hello_timeout(int timer, void *opaque)
{
        hello_timer = -1;
        virEventRemoveTimeout(timer);
        monitor_end(RUN_FAILED, "the agent did not say HELLO within %llu s (see mlvm logs %s)",
                    (unsigned long long)(boot_timeout / USEC_PER_SEC), monitor_run_id());
}

/* ---- frames from the agent ------------------------------------------------- */

/* A handler's frame: the first table that lists its type; false when none does. */
static bool dispatch(const struct proto_msg *m)
{
        const struct monitor_handler *h;
        for (size_t i = 0; (h = monitor_handler(i)); i++)
                for (const uint8_t *t = h->frames; h->on_frame && t && *t; t++)
                        if (*t == m->type) {
                                h->on_frame(m);
                                return true;
                        }
        return false;
}

/* A stream's frame to the handler whose range holds ID; a frame for a
 * range nobody has is for no stream we opened: ignored. */
static void route_stream(const struct proto_msg *m, uint32_t id)
{
        const struct monitor_handler *h;
        for (size_t i = 0; (h = monitor_handler(i)); i++)
                if (h->on_stream && (id & ~h->stream_mask) == h->stream_base) {
                        h->on_stream(m);
                        return;
                }
}

static void on_stream(const struct proto_msg *m)
{
        route_stream(m, m->u.stream.id);
}

/* The head of the request queue is done: the next one goes. Any other
 * DONE is a handler's (credentials sent outside the queue, revocation). */
static void on_done(const struct proto_msg *m)
{
        struct request *q = next_req < n_reqs ? &reqs[next_req] : NULL;
        if (!m->id || !q || m->id != q->id || !q->msg) {
                (void)dispatch(m);
                return;
        }
        request_done(q, m->u.done.count);
        if (!monitor_torn_down()) {
                next_req++;
                send_next_request();
        }
}

static void on_exit_frame(const struct proto_msg *m)
{
        if (m->u.exit.stream)
                route_stream(m, m->u.exit.stream);   /* an exec command's, not the workload's */
        else
                monitor_workload_on_exit(m);
}

static void on_pong(const struct proto_msg *m)
{
        monitor_control_pong(m->id);
}

/* An ERROR whose code a handler owns is its (the artifacts' ends in an
 * EXIT, and the run fails at the end); any other fails the run. */
static void on_error(const struct proto_msg *m)
{
        const struct monitor_handler *h;
        for (size_t i = 0; (h = monitor_handler(i)); i++)
                if (h->error_code && h->error_code == m->u.error.code && h->on_frame) {
                        h->on_frame(m);
                        return;
                }
        _cleanup_free_ char *msg = monitor_ascii(m->u.error.message);
        monitor_log("agent error %u (request %u): %s", m->u.error.code, m->id, msg);
        monitor_shutdown(RUN_FAILED, msg);
}

/* The core's own frames; the rest go to the handlers' tables. */
static const struct {
        uint8_t type;
        void (*fn)(const struct proto_msg *m);
} core_frames[] = {
        { PROTO_HELLO, on_hello },
        { PROTO_DONE, on_done },
        { PROTO_STDIO, monitor_workload_on_output },
        { PROTO_EXIT, on_exit_frame },
        { PROTO_PONG, on_pong },
        { PROTO_ERROR, on_error },
        { PROTO_STREAM_OPENED, on_stream },
        { PROTO_STREAM_DATA, on_stream },
        { PROTO_STREAM_WINDOW, on_stream },
        { PROTO_STREAM_CLOSE, on_stream },
};

static void on_agent_frame(const struct proto_msg *m)
{
        /* Ending: nothing the guest says changes that, and it must not grow monitor.log. */
        if (monitor_ending() &&
            (m->type == PROTO_ERROR || m->type == PROTO_HELLO || (m->type == PROTO_EXIT && !m->u.exit.stream)))
                return;
        for (size_t i = 0; i < sizeof(core_frames) / sizeof(core_frames[0]); i++)
                if (core_frames[i].type == m->type) {
                        core_frames[i].fn(m);
                        return;
                }
        /* Well-formed but not for the host to receive: the run fails. */
        if (!dispatch(m))
                monitor_shutdown(RUN_FAILED, "the agent sent an unexpected frame");
}

/* ---- the channel --------------------------------------------------------------- */

static void frame_timer_stop(void)
{
        if (frame_timer >= 0)
                virEventRemoveTimeout(frame_timer);
        frame_timer = -1;
        frame_judged = 0;
}

/* The guest is hostile: a frame it began and did not finish within
 * FRAME_DEADLINE fails the run (checked once more after a round of reads). */
static void on_frame_timer(int timer, void *opaque)
{
        usec_t since = channel_partial_since(ch), now = now_usec();
        if (!since) {
                frame_timer_stop();
                return;
        }
        if (now - since < FRAME_DEADLINE) {
                virEventUpdateTimeout(timer, monitor_timer_ms(since + FRAME_DEADLINE - now, 1));
                return;
        }
        if (frame_judged != since) {
                frame_judged = since;
                virEventUpdateTimeout(timer, monitor_timer_ms(FRAME_RECHECK, 1));
                return;
        }
        frame_timer_stop();
        monitor_log("agent channel: a frame begun %.1f s ago is still not whole", (double)(now - since) / USEC_PER_SEC);
        monitor_end(RUN_FAILED, "agent channel: the agent stopped in the middle of a frame for %llu s",
                    (unsigned long long)(FRAME_DEADLINE / USEC_PER_SEC));
}

static void frame_timer_arm(void)
{
        usec_t since = channel_partial_since(ch);
        if (!since || frame_timer >= 0)
                return;
        usec_t now = now_usec(), left = since + FRAME_DEADLINE > now ? since + FRAME_DEADLINE - now : 0;
        frame_timer = virEventAddTimeout(monitor_timer_ms(left, 1), on_frame_timer, NULL, NULL);
}

static uint32_t skip_logged;   /* what channel_skipped said last, logged */

/* Test hook (MLVM_TEST_FAULT=channel-error): once the run is ready, the
 * next read of the channel fails as a transport error would while the
 * connection stays alive, the way libvirtd's death can look before its
 * close callback runs (tests/integration/faults.sh). Once per monitor. */
static bool inject_channel_error(void)
{
        static bool done;
        const char *f = getenv("MLVM_TEST_FAULT");
        if (done || !ready || !f || !streq(f, "channel-error"))
                return false;
        done = true;
        return true;
}

static void on_channel(void *opaque)
{
        struct mlvm_err e = { 0 };
        static struct proto_msg m;  /* large: not on the stack of an event callback */

        for (;;) {
                int r = inject_channel_error() ? err_setx(&e, -EIO, "agent channel: injected transport error "
                                                                   "(MLVM_TEST_FAULT)")
                                               : channel_try_recv(ch, &m, &e);
                if (r == -EAGAIN) {
                        if (channel_skipped(ch) != skip_logged) {
                                skip_logged = channel_skipped(ch);
                                monitor_log("agent channel: skipped %u bytes before the first frame (the rest of a "
                                            "frame cut when the host side went away)", skip_logged);
                        }
                        frame_timer_arm();
                        return;
                }
                if (r == -EPIPE || (r < 0 && !monitor_connected())) {
                        monitor_log("agent channel closed%s", monitor_connected() ? "" : " (libvirt connection lost)");
                        monitor_session_detach();
                        return;
                }
                if (r < 0 && r != -EPROTO) {
                        /* The stream failed, not the agent: libvirtd going
                         * away can say so before its close callback runs. */
                        monitor_log("%s; reopening it", e.msg);
                        monitor_session_detach();
                        monitor_libvirt_channel_failed();
                        return;
                }
                if (r < 0) {
                        /* A malformed frame: the channel is done and so is the run. */
                        monitor_log("%s", e.msg);
                        monitor_end(RUN_FAILED, "%s", e.msg);
                        return;
                }
                on_agent_frame(&m);
                if (monitor_torn_down() || !ch)
                        return;
        }
}

/* The channel drained below its high-water mark: bulk senders read again. */
static void on_unthrottle(void *opaque)
{
        const struct monitor_handler *h;
        for (size_t i = 0; (h = monitor_handler(i)); i++)
                if (h->unthrottle)
                        h->unthrottle();
}

bool monitor_session_init(void)
{
        boot_timeout = monitor_record_usec("boot_timeout_s", USEC_PER_SEC, 60 * USEC_PER_SEC);
        return RAND_bytes(session, sizeof(session)) == 1;
}

void monitor_session_await_hello(void)
{
        hello_timer = virEventAddTimeout(monitor_timer_ms(boot_timeout, 0), on_hello_timeout, NULL, NULL);
}

void monitor_session_attach(struct channel *c)
{
        ch = c;
        skip_logged = 0;
        channel_on_readable(ch, on_channel, NULL);
        channel_on_unthrottle(ch, on_unthrottle, NULL);
}

void monitor_session_detach(void)
{
        const struct monitor_handler *h;
        if (!ch)
                return;
        session_up = false;
        frame_timer_stop();
        for (size_t i = 0; (h = monitor_handler(i)); i++)
                if (h->channel_reset)
                        h->channel_reset();
        channel_close(ch);
        ch = NULL;
}
