/* monitor.c: the per-run supervisor (like conmon for containers). One
 * detached process per run holds the agent channel (its only client), the
 * serial console and a control socket for the other verbs; it writes the
 * run's state, and tears the run down when the guest powers off, the
 * workload ends or `down` asks. Everything is driven by libvirt's default
 * event loop: stream callbacks, domain lifecycle events, timers and
 * handles for the control socket. Everything from the guest is hostile:
 * frames go through the shared codec, logs are capped. */
#include "mlvm-build.h"

#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <openssl/rand.h>

#include "audit.h"
#include "channel.h"
#include "disk.h"
#include "monitor-handlers.h"
#include "monitor-internal.h"
#include "monitor.h"
#include "paths.h"
#include "run.h"
#include "util.h"
#include "virt.h"
#include "volume.h"

#define SHUTDOWN_GRACE_MS 5000
#define RECONNECT_WINDOW_S 120

struct monitor mlvm_monitor;

void monitor_log(const char *fmt, ...)
{
        /* The monitor's stderr is monitor.log in the run directory. */
        va_list ap;
        va_start(ap, fmt);
        fprintf(stderr, "[%.3f] ", run_now());
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
        va_end(ap);
}

/* Guest text for our records and terminals: printable ASCII only, whole.
 * Not shown() (util.h): that keeps bytes >= 0x80, which would put a
 * hostile guest's invalid UTF-8 into run.json and the audit log (read as
 * strict UTF-8), and cuts at SHOWN_MAX, where the agent's error message
 * (up to 1023 bytes) goes into run.json whole. */
char *monitor_ascii(const char *s)
{
        char *out = xstrdup(s);
        for (char *p = out; *p; p++)
                if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
                        *p = '?';
        return out;
}

/* ---- the handlers ---------------------------------------------------------- */

/* The order their hooks run in: the published ports close before the
 * credentials are revoked, so nothing new reaches a guest that is going;
 * a channel that goes resets the ports' streams before exec's. */
static const struct monitor_handler *const handlers[] = {
        &monitor_publish_handler,
        &monitor_creds_handler,
        &monitor_exec_handler,
        &monitor_artifacts_handler,
};
#define N_HANDLERS (sizeof(handlers) / sizeof(handlers[0]))

const struct monitor_handler *monitor_handler(size_t i)
{
        return i < N_HANDLERS ? handlers[i] : NULL;
}

/* ---- what the handlers may ask --------------------------------------------- */

const char *monitor_state_dir(void) { return M.state_dir; }
const char *monitor_run_id(void) { return M.id; }
const char *monitor_name(void) { return M.name; }
json_object *monitor_record(void) { return M.run; }
bool monitor_ready(void) { return M.ready; }
bool monitor_said_hello(void) { return M.hello; }
bool monitor_ending(void) { return M.ending || M.done; }
bool monitor_workload_exited(void) { return M.have_exit; }
bool monitor_workload_timed_out(void) { return M.timed_out; }
bool monitor_agent_up(void) { return M.ch && M.session_up; }
uint32_t monitor_next_id(void) { return ++M.next_id; }
bool monitor_channel_full(void) { return channel_full(M.ch); }
bool monitor_throttled(void) { return channel_throttled(M.ch); }

bool monitor_serving(void)
{
        return M.ready && monitor_agent_up() && !M.ending && !M.conn_lost;
}

int monitor_send(const struct proto_msg *m, struct mlvm_err *e)
{
        if (!monitor_agent_up())
                return err_setx(e, -ENOTCONN, "the agent channel is not open");
        return channel_send(M.ch, m, 0, e);
}

uint32_t monitor_stream_id(const struct monitor_handler *h)
{
        static uint32_t next[N_HANDLERS];
        size_t i = 0;
        uint32_t id;
        while (i < N_HANDLERS - 1 && handlers[i] != h)
                i++;
        do
                id = h->stream_base | (++next[i] & h->stream_mask);
        while (id == 0);
        return id;
}

/* ---- teardown ------------------------------------------------------------- */

static void set_run_end(json_object *run, void *u)
{
        json_object_object_add(run, "state", json_object_new_string(M.end_state));
        _cleanup_free_ char *key = xasprintf("%s_at", M.end_state);
        json_object_object_add(run, key, json_object_new_double(run_now()));
        if (M.end_reason)
                json_object_object_add(run, "error", json_object_new_string(M.end_reason));
        if (M.have_exit) {
                json_object_object_add(run, "exit_code", json_object_new_int(M.exit_code));
                json_object_object_add(run, "exit_signal", json_object_new_int(M.exit_signal));
        }
        if (M.timed_out)
                json_object_object_add(run, "timed_out", json_object_new_boolean(1));
        if (M.exit_at > 0)
                json_object_object_add(run, "workload_exit_at", json_object_new_double(M.exit_at));
}

static void detach(void);

/* Destroy the domain, reconnecting once if libvirt is away; false when
 * that left something behind. */
static bool destroy_domain(void)
{
        struct mlvm_err e = { 0 };
        bool clean = true;

        if (!M.conn || virConnectIsAlive(M.conn) != 1) {
                /* Ending while libvirt is away (e.g. down during a restart): one more try. */
                detach();
                if (virt_connect(M.uri, &M.conn, &e) == 0)
                        M.dom = virDomainLookupByName(M.conn, M.domain_name);
                else
                        clean = false;
        }
        /* A transient domain that powered off is simply gone: that is clean. */
        int active = M.dom ? virDomainIsActive(M.dom) : 0;
        if (active < 0 && virGetLastErrorCode() == VIR_ERR_NO_DOMAIN)
                active = 0;
        if (active != 0 && virDomainDestroy(M.dom) < 0) {
                int code = virGetLastErrorCode();
                if (code != VIR_ERR_NO_DOMAIN && code != VIR_ERR_OPERATION_INVALID) {
                        monitor_log("destroy: %s", virGetLastErrorMessage());
                        clean = false;
                }
        }
        return clean;
}

/* The guest is gone: the handlers collect what they keep of its volumes
 * (into KEPT, by handler), then the volumes go. False when that failed. */
static bool release_volumes(bool clean, json_object *kept[N_HANDLERS])
{
        struct mlvm_err e = { 0 };
        virStoragePoolPtr pool = NULL;

        if (!M.conn)
                return clean;
        if (volume_pool(M.conn, M.pool_name, &pool, &e) < 0) {
                monitor_log("pool: %s", e.msg);
                return false;
        }
        for (size_t i = 0; clean && i < N_HANDLERS; i++) {
                char *failure = NULL;
                if (handlers[i]->collect)
                        kept[i] = handlers[i]->collect(pool, &failure);
                if (failure) {
                        M.end_state = RUN_FAILED;
                        free(M.end_reason);
                        M.end_reason = failure;
                }
        }
        if (disk_delete_run(pool, M.id, &e) < 0) {
                monitor_log("delete volumes: %s", e.msg);
                clean = false;
        }
        virStoragePoolFree(pool);
        return clean;
}

/* The run's end into run.json and the audit log. */
static void record_end(void)
{
        struct mlvm_err e = { 0 };

        if (run_update(M.state_dir, M.id, set_run_end, NULL, &e) < 0)
                monitor_log("run record: %s", e.msg);
        for (size_t i = 0; i < N_HANDLERS; i++)
                if (handlers[i]->finished)
                        handlers[i]->finished();
        json_object *f = json_object_new_object();
        json_object_object_add(f, "run", json_object_new_string(M.id));
        json_object_object_add(f, "name", json_object_new_string(M.name));
        json_object_object_add(f, "state", json_object_new_string(M.end_state));
        if (M.have_exit)
                json_object_object_add(f, "exit_code", json_object_new_int(M.exit_code));
        if (audit_append(M.state_dir, "run.end", f, &e) < 0)
                monitor_log("audit: %s", e.msg);
        json_object_put(f);
}

/* The end event for followers and for whoever asked for down. */
static json_object *end_event(bool clean, json_object *kept[N_HANDLERS])
{
        json_object *end = json_object_new_object();
        json_object_object_add(end, "event", json_object_new_string("end"));
        json_object_object_add(end, "state", json_object_new_string(M.end_state));
        json_object_object_add(end, "clean", json_object_new_boolean(clean));
        if (M.have_exit)
                json_object_object_add(end, "exit_code", json_object_new_int(M.exit_code));
        if (M.timed_out)
                json_object_object_add(end, "timed_out", json_object_new_boolean(1));
        if (M.end_reason)
                json_object_object_add(end, "error", json_object_new_string(M.end_reason));
        for (size_t i = 0; i < N_HANDLERS; i++)
                if (kept[i])
                        json_object_object_add(end, handlers[i]->name, kept[i]);
        return end;
}

/* The order of the end: the handlers stop (published ports close,
 * credentials nobody confirmed removing are audited so) before the domain
 * goes; then the domain, what the handlers keep of the volumes, the
 * volumes, the record, and last the clients. */
static void teardown(void)
{
        json_object *kept[N_HANDLERS] = { 0 };

        if (M.done)
                return;
        M.done = true;
        monitor_log("teardown: %s%s%s", M.end_state, M.end_reason ? ": " : "", M.end_reason ? M.end_reason : "");
        for (size_t i = 0; i < N_HANDLERS; i++)
                if (handlers[i]->stop)
                        handlers[i]->stop();
        bool clean = destroy_domain();
        clean = release_volumes(clean, kept);
        if (clean)
                run_name_clear(M.state_dir, M.name, M.id);
        else {
                /* Do not claim an end that left things behind: down cleans up by hand. */
                M.end_state = RUN_FAILED;
                free(M.end_reason);
                M.end_reason = xstrdup("teardown incomplete (libvirt unreachable); run mlvm down again");
        }
        record_end();
        json_object *end = end_event(clean, kept);
        monitor_control_end(end);
        json_object_put(end);
        _cleanup_free_ char *sock = run_file(M.state_dir, M.id, "control.sock");
        (void)unlink(sock);
}

static void end_run(const char *state, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void end_run(const char *state, const char *fmt, ...)
{
        if (M.done)
                return;
        if (!M.end_state) {
                M.end_state = state;
                if (fmt) {
                        va_list ap;
                        va_start(ap, fmt);
                        if (vasprintf(&M.end_reason, fmt, ap) < 0)
                                M.end_reason = NULL;
                        va_end(ap);
                }
        }
        teardown();
}

/* Ask the agent to stop (sync, power off); destroy after a grace period. */
static void on_grace(int timer, void *opaque)
{
        monitor_log("the guest did not power off within %d ms: destroying it", SHUTDOWN_GRACE_MS);
        end_run(RUN_STOPPED, NULL);
}

static void send_shutdown(void)
{
        struct mlvm_err e = { 0 };
        if (M.done)
                return;
        if (monitor_agent_up()) {
                struct proto_msg m = { .type = PROTO_SHUTDOWN, .id = monitor_next_id() };
                if (monitor_send(&m, &e) < 0)
                        monitor_log("SHUTDOWN: %s", e.msg);
        }
        M.grace_timer = virEventAddTimeout(SHUTDOWN_GRACE_MS, on_grace, NULL, NULL);
}

/* Let the handlers drain first (the credentials are revoked, with a
 * bounded wait), then ask the agent to stop (sync, power off) and destroy
 * the domain after a grace period. */
void monitor_shutdown(const char *state, const char *why)
{
        if (M.ending)
                return;
        M.ending = true;
        M.end_state = state;
        if (why)
                M.end_reason = xstrdup(why);
        M.draining = 1;   /* held until every handler has been asked */
        for (size_t i = 0; i < N_HANDLERS; i++)
                if (handlers[i]->drain && handlers[i]->drain())
                        M.draining++;
        monitor_drained();
}

void monitor_drained(void)
{
        if (M.draining > 0 && --M.draining == 0)
                send_shutdown();
}

/* ---- the agent ------------------------------------------------------------ */

static void on_timeout(int timer, void *opaque);

static void arm_timeout(void)
{
        if (M.timeout_s > 0 && M.timeout_timer < 0)
                M.timeout_timer = virEventAddTimeout((int)(M.timeout_s * 1000), on_timeout, NULL, NULL);
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
        if (M.next_req >= M.n_reqs) {
                if (!M.ready && !M.ending) {
                        M.ready = true;
                        if (run_update(M.state_dir, M.id, set_ready, NULL, &e) < 0)
                                monitor_log("run record: %s", e.msg);
                        monitor_log("ready");
                }
                return;
        }
        if (M.ending || M.done)
                return;   /* nothing new goes to a guest that is being stopped */
        struct request *q = &M.reqs[M.next_req];
        if (q->ops && q->ops->before_send)
                q->ops->before_send(q->msg, q->opaque);
        if (channel_send(M.ch, q->msg, 10000, &e) < 0) {
                monitor_shutdown(RUN_FAILED, e.msg);
                return;
        }
        if (q->ops && q->ops->sent)
                q->ops->sent(q->msg, q->opaque);
}

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

static void on_hello(const struct proto_msg *m)
{
        struct mlvm_err e = { 0 };
        struct proto_msg ack = { .type = PROTO_HELLO_ACK, .id = m->id };
        bool resumed = M.hello;

        if (resumed && memcmp(m->u.hello.session, M.session, PROTO_SESSION_LEN) != 0) {
                monitor_shutdown(RUN_FAILED, "the agent came back with another session");
                return;
        }
        memcpy(ack.u.hello_ack.session, M.session, PROTO_SESSION_LEN);
        if (channel_send(M.ch, &ack, 10000, &e) < 0) {
                end_run(RUN_FAILED, "HELLO_ACK: %s", e.msg);
                return;
        }
        if (M.done || M.ending)
                return;   /* the run ended while the ACK was being sent */
        M.session_up = true;   /* from now on the agent takes other frames */
        if (resumed) {
                /* Requests the agent completed are not sent again; the pending one is. */
                monitor_log("agent resumed the session (last request %u)", m->u.hello.last_id);
                while (M.next_req < M.n_reqs && M.reqs[M.next_req].id <= m->u.hello.last_id) {
                        /* Done, though its DONE was lost with the connection. (The
                         * workload's clock is running: its EXEC was sent.) */
                        struct request *q = &M.reqs[M.next_req];
                        if (q->msg && q->ops && q->ops->done) {
                                q->msg = NULL;
                                q->ops->done(q->id, 0, q->opaque);
                        }
                        M.next_req++;
                }
                for (size_t i = 0; i < N_HANDLERS; i++)
                        if (handlers[i]->resumed)
                                handlers[i]->resumed();
                send_next_request();
                return;
        }
        M.hello = true;
        if (M.hello_timer >= 0) {
                virEventRemoveTimeout(M.hello_timer);
                M.hello_timer = -1;
        }
        _cleanup_free_ char *v = monitor_ascii(m->u.hello.agent_version), *t = monitor_ascii(m->u.hello.transport);
        _cleanup_free_ char *root = monitor_ascii(m->u.hello.root);
        monitor_log("HELLO from agent %s over %s, guest uptime %llu ms, root %s", v, t,
            (unsigned long long)m->u.hello.uptime_ms, root);
        if (run_update(M.state_dir, M.id, set_hello, (void *)m, &e) < 0)
                monitor_log("run record: %s", e.msg);
        send_next_request();
}

/* The workload ran past its timeout: stop it; `mlvm run` says 124. */
static void on_timeout(int timer, void *opaque)
{
        virEventRemoveTimeout(timer);
        M.timeout_timer = -1;
        if (M.ending || M.done)
                return;
        M.timed_out = true;
        M.have_exit = true;
        M.exit_code = 124;
        M.exit_signal = 0;
        monitor_log("the workload ran longer than its timeout of %lld s: stopping it", (long long)M.timeout_s);
        _cleanup_free_ char *why = xasprintf("timed out after %lld s", (long long)M.timeout_s);
        monitor_shutdown(RUN_EXITED, why);
}

/* ---- frames from the agent ------------------------------------------------- */

/* A handler's frame: the first table that lists its type; false when none does. */
static bool dispatch(const struct proto_msg *m)
{
        for (size_t i = 0; i < N_HANDLERS; i++) {
                const struct monitor_handler *h = handlers[i];
                for (const uint8_t *t = h->frames; h->on_frame && t && *t; t++)
                        if (*t == m->type) {
                                h->on_frame(m);
                                return true;
                        }
        }
        return false;
}

/* A stream's frame to the handler whose range holds ID; a frame for a
 * range nobody has is for no stream we opened: ignored. */
static void route_stream(const struct proto_msg *m, uint32_t id)
{
        for (size_t i = 0; i < N_HANDLERS; i++) {
                const struct monitor_handler *h = handlers[i];
                if (h->on_stream && (id & ~h->stream_mask) == h->stream_base) {
                        h->on_stream(m);
                        return;
                }
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
        struct request *q = M.next_req < M.n_reqs ? &M.reqs[M.next_req] : NULL;
        if (!m->id || !q || m->id != q->id || !q->msg) {
                (void)dispatch(m);
                return;
        }
        if (q->ops && q->ops->done) {
                q->msg = NULL;   /* its owner frees it */
                q->ops->done(q->id, m->u.done.count, q->opaque);
        }
        if (!M.done) {
                M.next_req++;
                send_next_request();
        }
}

static void on_stdio(const struct proto_msg *m)
{
        if (m->u.stdio.stream != PROTO_STDOUT && m->u.stdio.stream != PROTO_STDERR) {
                monitor_shutdown(RUN_FAILED, "the agent sent output on an unknown stream");
                return;
        }
        const char *key = m->u.stdio.stream == PROTO_STDERR ? "stderr" : "stdout";
        run_log_append(M.output_path, m->u.stdio.data, m->u.stdio.len, RUN_OUTPUT_MAX);
        monitor_broadcast(key, m->u.stdio.data, m->u.stdio.len);
}

static void on_exit_frame(const struct proto_msg *m)
{
        if (m->u.exit.stream) {
                route_stream(m, m->u.exit.stream);   /* an exec command's, not the workload's */
                return;
        }
        /* Values from the guest: an exit status is 0-255, a signal 1-127, never both. */
        if (m->u.exit.code > 255 || m->u.exit.signal > 127 || (m->u.exit.code && m->u.exit.signal)) {
                monitor_shutdown(RUN_FAILED, "the agent sent an invalid EXIT");
                return;
        }
        M.have_exit = true;
        M.exit_at = run_now();
        M.exit_signal = (int)m->u.exit.signal;
        M.exit_code = m->u.exit.signal ? 128 + (int)m->u.exit.signal : (int)m->u.exit.code;
        monitor_log("workload ended: exit code %d", M.exit_code);
        monitor_shutdown(RUN_EXITED, NULL);
}

static void on_pong(const struct proto_msg *m)
{
        monitor_control_pong(m->id);
}

/* An ERROR whose code a handler owns is its (the artifacts' ends in an
 * EXIT, and the run fails at the end); any other fails the run. */
static void on_error(const struct proto_msg *m)
{
        for (size_t i = 0; i < N_HANDLERS; i++)
                if (handlers[i]->error_code && handlers[i]->error_code == m->u.error.code && handlers[i]->on_frame) {
                        handlers[i]->on_frame(m);
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
        { PROTO_STDIO, on_stdio },
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
        if (M.ending && (m->type == PROTO_ERROR || m->type == PROTO_HELLO || (m->type == PROTO_EXIT && !m->u.exit.stream)))
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

/* The channel went: so did whatever lived on it. */
static void drop_channel(void)
{
        M.session_up = false;
        for (size_t i = 0; i < N_HANDLERS; i++)
                if (handlers[i]->channel_reset)
                        handlers[i]->channel_reset();
        channel_close(M.ch);
        M.ch = NULL;
}

static void on_channel(void *opaque)
{
        struct mlvm_err e = { 0 };
        static struct proto_msg m;  /* large: not on the stack of an event callback */

        for (;;) {
                int r = channel_try_recv(M.ch, &m, &e);
                if (r == -EAGAIN)
                        return;
                if (r == -EPIPE || (r < 0 && M.conn_lost)) {
                        monitor_log("agent channel closed%s", M.conn_lost ? " (libvirt connection lost)" : "");
                        drop_channel();
                        return;
                }
                if (r < 0) {
                        /* A malformed frame: the channel is done and so is the run. */
                        monitor_log("%s", e.msg);
                        end_run(RUN_FAILED, "%s", e.msg);
                        return;
                }
                on_agent_frame(&m);
                if (M.done || !M.ch)
                        return;
        }
}

/* The channel drained below its high-water mark: bulk senders read again. */
static void on_unthrottle(void *opaque)
{
        for (size_t i = 0; i < N_HANDLERS; i++)
                if (handlers[i]->unthrottle)
                        handlers[i]->unthrottle();
}

static void on_hello_timeout(int timer, void *opaque)
{
        M.hello_timer = -1;
        virEventRemoveTimeout(timer);
        end_run(RUN_FAILED, "the agent did not say HELLO within %d s (see mlvm logs %s)", M.boot_timeout, M.id);
}

/* ---- console -------------------------------------------------------------- */

static void on_console(virStreamPtr st, int events, void *opaque)
{
        char buf[16384];
        for (;;) {
                int n = virStreamRecv(st, buf, sizeof(buf));
                if (n > 0) {
                        run_log_append(M.console_path, buf, (size_t)n, RUN_CONSOLE_MAX);
                        monitor_broadcast("console", buf, (size_t)n);
                        continue;
                }
                if (n == -2)
                        return;
                (void)virStreamEventRemoveCallback(st);
                (void)virStreamAbort(st);
                (void)virStreamFree(st);
                if (M.console == st)
                        M.console = NULL;
                return;
        }
}

static void open_console(void)
{
        virStreamPtr st = virStreamNew(M.conn, VIR_STREAM_NONBLOCK);
        if (!st)
                return;
        if (virDomainOpenConsole(M.dom, NULL, st, VIR_DOMAIN_CONSOLE_FORCE) < 0 ||
            virStreamEventAddCallback(st, VIR_STREAM_EVENT_READABLE | VIR_STREAM_EVENT_HANGUP | VIR_STREAM_EVENT_ERROR,
                                      on_console, NULL, NULL) < 0) {
                monitor_log("console: %s", virGetLastErrorMessage());
                virStreamFree(st);
                return;
        }
        M.console = st;
}

/* ---- libvirt connection ---------------------------------------------------- */

static int on_lifecycle(virConnectPtr conn, virDomainPtr dom, int event, int detail, void *opaque)
{
        if (event != VIR_DOMAIN_EVENT_STOPPED && event != VIR_DOMAIN_EVENT_CRASHED)
                return 0;
        if (M.ending)
                end_run(M.end_state, NULL);
        else if (!M.hello)
                end_run(RUN_FAILED, "the guest stopped before its agent said HELLO (see mlvm logs %s)", M.id);
        else
                end_run(RUN_STOPPED, "the guest powered off");
        return 0;
}

static void on_conn_closed(virConnectPtr conn, int reason, void *opaque);

static int attach(struct mlvm_err *e)
{
        if (virt_connect(M.uri, &M.conn, e) < 0)
                return -EIO;
        (void)virConnectRegisterCloseCallback(M.conn, on_conn_closed, NULL, NULL);
        M.dom = virDomainLookupByName(M.conn, M.domain_name);
        if (!M.dom)
                return err_virt(e, "domain %s", M.domain_name);
        M.lifecycle_cb = virConnectDomainEventRegisterAny(M.conn, M.dom, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                                                          VIR_DOMAIN_EVENT_CALLBACK(on_lifecycle), NULL, NULL);
        if (M.lifecycle_cb < 0)
                return err_virt(e, "domain events");
        if (virDomainIsActive(M.dom) != 1)
                return err_setx(e, -ESRCH, "domain %s is not running", M.domain_name);
        open_console();
        if (channel_open(M.dom, PROTO_CHANNEL_NAME, &M.ch, e) < 0)
                return -EIO;
        channel_on_readable(M.ch, on_channel, NULL);
        channel_on_unthrottle(M.ch, on_unthrottle, NULL);
        return 0;
}

static void detach(void)
{
        if (M.ch)
                drop_channel();
        if (M.console) {
                (void)virStreamEventRemoveCallback(M.console);
                (void)virStreamFree(M.console);
                M.console = NULL;
        }
        if (M.conn && M.lifecycle_cb >= 0)
                (void)virConnectDomainEventDeregisterAny(M.conn, M.lifecycle_cb);
        M.lifecycle_cb = -1;
        if (M.dom)
                virDomainFree(M.dom);
        M.dom = NULL;
        if (M.conn) {
                (void)virConnectUnregisterCloseCallback(M.conn, on_conn_closed);
                virConnectClose(M.conn);
        }
        M.conn = NULL;
}

/* libvirtd went away (restart): the guest keeps running; reconnect, reopen
 * the console and the channel; the agent then resumes with a re-HELLO. */
static void on_reconnect(int timer, void *opaque)
{
        struct mlvm_err e = { 0 };
        detach();
        if (attach(&e) == 0) {
                monitor_log("reconnected to %s", M.uri);
                M.conn_lost = false;
                virEventRemoveTimeout(timer);
                M.reconnect_timer = -1;
                return;
        }
        if (run_now() - M.lost_at > RECONNECT_WINDOW_S) {
                virEventRemoveTimeout(timer);
                M.reconnect_timer = -1;
                detach();
                if (virt_connect(M.uri, &M.conn, NULL) == 0)
                        M.dom = virDomainLookupByName(M.conn, M.domain_name);
                end_run(RUN_FAILED, "lost libvirt for %d s: %s", RECONNECT_WINDOW_S, e.msg);
        }
}

static void on_conn_closed(virConnectPtr conn, int reason, void *opaque)
{
        if (M.conn_lost || M.done)
                return;
        monitor_log("libvirt connection closed (reason %d); reconnecting", reason);
        M.conn_lost = true;
        M.lost_at = run_now();
        M.reconnect_timer = virEventAddTimeout(1000, on_reconnect, NULL, NULL);
}

/* ---- requests from the config --------------------------------------------- */

int monitor_queue(struct proto_msg *m, const struct monitor_request_ops *ops, void *opaque)
{
        if (M.n_reqs >= sizeof(M.reqs) / sizeof(M.reqs[0]))
                return -E2BIG;
        m->id = ++M.next_id;
        M.reqs[M.n_reqs++] = (struct request){ m, m->id, ops, opaque };
        return 0;
}

static void exec_before_send(struct proto_msg *m, void *opaque)
{
        arm_timeout();   /* the workload's clock starts with its EXEC */
}

static const struct monitor_request_ops exec_ops = { .before_send = exec_before_send };

/* The run's data disks, in order (after the handlers' requests: the
 * credentials). */
static int plan_mounts(struct mlvm_err *e)
{
        json_object *mounts;
        if (!json_object_object_get_ex(M.run, "mounts", &mounts))
                return 0;
        for (size_t i = 0; i < json_object_array_length(mounts); i++) {
                json_object *x = json_object_array_get_idx(mounts, i);
                struct proto_msg *m = xcalloc(1, sizeof(*m));
                m->type = PROTO_MOUNT;
                proto_strlcpy(m->u.mount.serial, json_str(x, "serial") ?: "", sizeof(m->u.mount.serial));
                proto_strlcpy(m->u.mount.path, json_str(x, "path") ?: "", sizeof(m->u.mount.path));
                proto_strlcpy(m->u.mount.fstype, json_str(x, "fstype") ?: "iso9660", sizeof(m->u.mount.fstype));
                if (monitor_queue(m, NULL, NULL) < 0)
                        return err_setx(e, -E2BIG, "too many mounts");
        }
        return 0;
}

/* The workload, last. */
static int plan_exec(struct mlvm_err *e)
{
        json_object *cmd, *env;
        if (!json_object_object_get_ex(M.run, "command", &cmd) || json_object_array_length(cmd) == 0)
                return 0;
        struct proto_msg *m = xcalloc(1, sizeof(*m));
        m->type = PROTO_EXEC;
        for (size_t i = 0; i < json_object_array_length(cmd); i++)
                if (proto_strv_add(&m->u.exec.argv, json_object_get_string(json_object_array_get_idx(cmd, i))) < 0)
                        return err_setx(e, -E2BIG, "command too long for one EXEC");
        if (json_object_object_get_ex(M.run, "env", &env)) {
                json_object_object_foreach(env, k, v) {
                        _cleanup_free_ char *kv = xasprintf("%s=%s", k, json_object_get_string(v));
                        if (proto_strv_add(&m->u.exec.env, kv) < 0)
                                return err_setx(e, -E2BIG, "env too long for one EXEC");
                }
        }
        (void)proto_strv_add(&m->u.exec.env, "HOME=/home/mlvm");
        proto_strlcpy(m->u.exec.cwd, "/home/mlvm", sizeof(m->u.exec.cwd));
        if (json_str(M.run, "artifacts_dir") && json_str(M.run, "artifacts_serial")) {
                proto_strlcpy(m->u.exec.artifacts_dir, json_str(M.run, "artifacts_dir"), sizeof(m->u.exec.artifacts_dir));
                proto_strlcpy(m->u.exec.artifacts_serial, json_str(M.run, "artifacts_serial"),
                              sizeof(m->u.exec.artifacts_serial));
                _cleanup_free_ char *kv = xasprintf("MLVM_ARTIFACTS=%s", m->u.exec.artifacts_dir);
                (void)proto_strv_add(&m->u.exec.env, kv);
        }
        if (monitor_queue(m, &exec_ops, NULL) < 0)
                return err_setx(e, -E2BIG, "too many requests");
        return 0;
}

/* The handlers' init (in order), the run's own requests, the control
 * socket, then what the handlers open to the outside. */
static int start(int creds_fd, struct mlvm_err *e)
{
        const struct monitor_start st = { .creds_fd = creds_fd };
        int r;
        for (size_t i = 0; i < N_HANDLERS; i++)
                if (handlers[i]->init && (r = handlers[i]->init(&st, e)) < 0)
                        return r;
        if ((r = plan_mounts(e)) < 0 || (r = plan_exec(e)) < 0 || (r = monitor_control_listen(e)) < 0)
                return r;
        for (size_t i = 0; i < N_HANDLERS; i++)
                if (handlers[i]->open && (r = handlers[i]->open(e)) < 0)
                        return r;
        return 0;
}

static void set_monitor_pid(json_object *run, void *u)
{
        json_object_object_add(run, "monitor_pid", json_object_new_int((int32_t)getpid()));
}

int monitor_run(const char *state_dir, const char *run_id, int creds_fd)
{
        struct mlvm_err e = { 0 };
        json_object *x;

        M.state_dir = state_dir;
        M.id = run_id;
        M.hello_timer = M.grace_timer = M.reconnect_timer = M.lifecycle_cb = M.timeout_timer = -1;
        M.listen_fd = -1;
        for (size_t i = 0; i < MONITOR_CLIENTS_MAX; i++)
                M.clients[i].fd = -1;
        signal(SIGPIPE, SIG_IGN);
        /* Credentials pass through this process: no core dumps, no ptrace by others. */
        (void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
        virt_init();
        if (run_load(state_dir, run_id, &M.run, &e) < 0) {
                monitor_log("%s", e.msg);
                return 1;
        }
        M.uri = xstrdup(json_str(M.run, "uri") ?: "");
        M.domain_name = xstrdup(json_str(M.run, "domain") ?: "");
        M.name = xstrdup(json_str(M.run, "name") ?: "");
        M.pool_name = xstrdup(json_str(M.run, "pool") ?: mlvm_pool_name());
        M.console_path = run_file(state_dir, run_id, "console.log");
        M.output_path = run_file(state_dir, run_id, "output.log");
        M.boot_timeout = json_object_object_get_ex(M.run, "boot_timeout_s", &x) ? json_object_get_int(x) : 60;
        M.timeout_s = json_object_object_get_ex(M.run, "timeout_s", &x) ? json_object_get_int64(x) : 0;
        if (RAND_bytes(M.session, sizeof(M.session)) != 1 || run_update(state_dir, run_id, set_monitor_pid, NULL, &e) < 0 ||
            start(creds_fd, &e) < 0) {
                monitor_log("%s", e.msg[0] ? e.msg : "no random bytes");
                end_run(RUN_FAILED, "monitor: %s", e.msg);
                return 1;
        }
        monitor_log("monitor of run %s (%s) on %s", run_id, M.domain_name, M.uri);
        M.hello_timer = virEventAddTimeout(M.boot_timeout * 1000, on_hello_timeout, NULL, NULL);
        if (attach(&e) < 0) {
                monitor_log("%s", e.msg);
                end_run(RUN_FAILED, "monitor: %s", e.msg);
                return 1;
        }
        while (!M.done)
                if (virEventRunDefaultImpl() < 0)
                        break;
        if (!M.done)
                end_run(RUN_FAILED, "monitor: event loop failed");
        detach();
        monitor_log("monitor exits");
        return streq(M.end_state, RUN_FAILED) ? 1 : 0;
}
