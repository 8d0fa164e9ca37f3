/* monitor-exec.c: `mlvm exec`, the monitor's side. A control client asks
 * {"cmd":"exec","argv":[...],"tty":bool,"rows":N,"cols":N}; when the
 * model's config says exec: allow (and either way it is audited), the
 * monitor opens an exec stream to the agent and, from its JSON reply on,
 * the client's connection carries agent frames both ways (proto.h):
 * STREAM_DATA (stdin, stdout, stderr), STREAM_WINDOW, STREAM_CLOSE, and
 * the command's EXIT. The monitor relays them, forcing the stream id, and
 * buffers no more than the credit the two ends grant each other: it keeps
 * the agent's window itself (the initial credit plus the client's WINDOW
 * frames), and output past it ends the command and the client. */
#include "mlvm-build.h"

#include <sys/socket.h>

#include "audit.h"
#include "control-request.h"
#include "monitor-handlers.h"
#include "util.h"

/* Frames waiting for a client: its 256 KiB of credit, even in 1-byte
 * frames (~42 bytes each), fit; more means the agent broke the rules. */
#define EXEC_OUT_MAX (16u << 20)
#define EXEC_IN_MAX (PROTO_HDR_SIZE + PROTO_MAX_PAYLOAD)

/* A control client whose connection carries an exec stream. */
struct xconn {
        struct monitor_client *c;       /* NULL: free */
        uint32_t stream;
        uint8_t *in, *out;
        size_t in_len, out_len, out_cap;
        bool done;                      /* the command ended: close once out is sent */
        uint32_t agent_credit;          /* output bytes the agent may still send (its window) */
};

static struct xconn xconns[MONITOR_CLIENTS_MAX];

static struct xconn *find(uint32_t id)
{
        for (size_t i = 0; i < MONITOR_CLIENTS_MAX; i++)
                if (xconns[i].c && xconns[i].stream == id)
                        return &xconns[i];
        return NULL;
}

static struct xconn *free_slot(void)
{
        for (size_t i = 0; i < MONITOR_CLIENTS_MAX; i++)
                if (!xconns[i].c)
                        return &xconns[i];
        return NULL;
}

static void send_reset(uint32_t id)
{
        struct mlvm_err e = { 0 };
        struct proto_msg r = { .type = PROTO_STREAM_CLOSE };
        r.u.stream.id = id;
        r.u.stream.how = PROTO_CLOSE_RESET;
        (void)monitor_send(&r, &e);
}

/* The command goes too: its stream is reset at the agent, then the client closed. */
static void abort_exec(struct xconn *x)
{
        if (x->stream && !x->done)
                send_reset(x->stream);
        monitor_client_close(x->c);   /* exec_client_gone forgets X */
}

static void set_events(struct xconn *x)
{
        int ev = monitor_throttled() ? 0 : VIR_EVENT_HANDLE_READABLE;
        if (x->out_len)
                ev |= VIR_EVENT_HANDLE_WRITABLE;
        monitor_client_events(x->c, ev);
}

static void exec_unthrottle(void)
{
        for (size_t i = 0; i < MONITOR_CLIENTS_MAX; i++)
                if (xconns[i].c)
                        set_events(&xconns[i]);
}

static void exec_reset_all(void)
{
        for (size_t i = 0; i < MONITOR_CLIENTS_MAX; i++)
                if (xconns[i].c)
                        monitor_client_close(xconns[i].c);   /* the agent dropped its streams with the channel */
}

static void exec_client_gone(struct monitor_client *c)
{
        for (size_t i = 0; i < MONITOR_CLIENTS_MAX; i++) {
                struct xconn *x = &xconns[i];
                if (x->c != c)
                        continue;
                free(x->in);
                free(x->out);
                *x = (struct xconn){ 0 };
        }
}

static void flush_out(struct xconn *x)
{
        int fd = monitor_client_fd(x->c);
        while (x->out_len) {
                ssize_t n = send(fd, x->out, x->out_len, MSG_NOSIGNAL | MSG_DONTWAIT);
                if (n < 0 && (errno == EAGAIN || errno == EINTR))
                        break;
                if (n <= 0) {
                        abort_exec(x);
                        return;
                }
                memmove(x->out, x->out + n, x->out_len - (size_t)n);
                x->out_len -= (size_t)n;
        }
        if (x->out_len == 0 && x->done) {
                monitor_client_close(x->c);
                return;
        }
        set_events(x);
}

/* A frame of the agent's for an exec stream: to its client. */
static void exec_on_stream(const struct proto_msg *m)
{
        uint32_t id = m->type == PROTO_EXIT ? m->u.exit.stream : m->u.stream.id;
        struct xconn *x = find(id);
        if (!x) {
                /* Its client went: make sure the command goes too. */
                if (m->type != PROTO_EXIT && m->type != PROTO_STREAM_CLOSE)
                        send_reset(id);
                return;
        }
        if (m->type == PROTO_STREAM_DATA) {
                /* Output beyond the window the client granted: the agent broke the rules. */
                if (m->u.stream.len > x->agent_credit) {
                        monitor_log("exec stream %u: the agent sent %u bytes with %u of credit", id, m->u.stream.len,
                                    x->agent_credit);
                        abort_exec(x);
                        return;
                }
                x->agent_credit -= m->u.stream.len;
        }
        static uint8_t frame[PROTO_HDR_SIZE + PROTO_MAX_PAYLOAD];
        long n = proto_encode(m, frame, sizeof(frame));
        if (n < 0 || x->out_len + (size_t)n > EXEC_OUT_MAX) {
                abort_exec(x);   /* more than the credit allows: the agent broke the rules */
                return;
        }
        if (x->out_len + (size_t)n > x->out_cap) {
                size_t cap = x->out_cap * 2 > x->out_len + (size_t)n ? x->out_cap * 2 : x->out_len + (size_t)n;
                x->out = xreallocarray(x->out, 1, cap);
                x->out_cap = cap;
        }
        memcpy(x->out + x->out_len, frame, (size_t)n);
        x->out_len += (size_t)n;
        if (m->type == PROTO_EXIT || (m->type == PROTO_STREAM_CLOSE && m->u.stream.how != PROTO_CLOSE_END))
                x->done = true;
        flush_out(x);
}

/* The client's frames, decoded from X->in: stdin, credit, close; to the
 * agent. The client is not trusted: each must be a stream frame, and it
 * speaks for its own stream only. */
static void relay_in(struct xconn *x)
{
        static struct proto_msg m;
        struct mlvm_err e = { 0 };
        for (;;) {
                struct proto_hdr h;
                if (x->in_len < PROTO_HDR_SIZE)
                        return;
                if (proto_hdr_decode(x->in, &h) < 0) {
                        abort_exec(x);
                        return;
                }
                if (x->in_len < PROTO_HDR_SIZE + h.len)
                        return;
                int r = proto_payload_decode(&h, x->in + PROTO_HDR_SIZE, &m);
                size_t used = PROTO_HDR_SIZE + h.len;
                memmove(x->in, x->in + used, x->in_len - used);
                x->in_len -= used;
                if (r < 0 || (m.type != PROTO_STREAM_DATA && m.type != PROTO_STREAM_WINDOW && m.type != PROTO_STREAM_CLOSE)) {
                        abort_exec(x);
                        return;
                }
                if (m.type == PROTO_STREAM_WINDOW) {
                        /* The agent refuses a window past the initial credit; so does the relay. */
                        if ((uint64_t)x->agent_credit + m.u.stream.window > PROTO_STREAM_CREDIT) {
                                abort_exec(x);
                                return;
                        }
                        x->agent_credit += m.u.stream.window;
                }
                m.id = 0;
                m.u.stream.id = x->stream;
                if (monitor_send(&m, &e) < 0) {
                        abort_exec(x);
                        return;
                }
        }
}

static void on_exec_client(int watch, int fd, int events, void *opaque)
{
        struct xconn *x = opaque;

        if (events & VIR_EVENT_HANDLE_WRITABLE) {
                flush_out(x);
                if (!x->c)
                        return;
        }
        if (!(events & (VIR_EVENT_HANDLE_READABLE | VIR_EVENT_HANDLE_HANGUP | VIR_EVENT_HANDLE_ERROR)))
                return;
        ssize_t n = recv(fd, x->in + x->in_len, EXEC_IN_MAX - x->in_len, MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
                return;
        if (n <= 0) {
                abort_exec(x);   /* the client went: so does the command */
                return;
        }
        x->in_len += (size_t)n;
        relay_in(x);
}

/* Why REQ may not run now (NULL: it may), with its command and terminal
 * in M (control-request.h checks them); audited either way. */
static const char *exec_check(json_object *req, struct proto_msg *m, struct mlvm_err *e)
{
        struct mlvm_err ae = { 0 };
        json_object *argv = NULL, *x;
        bool allowed = json_object_object_get_ex(monitor_record(), "exec_allowed", &x) && json_object_get_boolean(x);
        const char *why = NULL;

        if (control_parse_exec(req, &m->u.stream, e) < 0)
                why = e->msg;
        if (!why && !allowed)
                why = "exec is not allowed for this model (its mlvm.yaml entry needs exec: allow)";
        if (!why && !monitor_serving())
                why = "the run is not ready (or its agent is reconnecting)";
        json_object *f = json_object_new_object();
        json_object_object_add(f, "run", json_object_new_string(monitor_run_id()));
        json_object_object_add(f, "name", json_object_new_string(monitor_name()));
        (void)json_object_object_get_ex(req, "argv", &argv);
        json_object_object_add(f, "argv", argv ? json_object_get(argv) : json_object_new_array());
        json_object_object_add(f, "tty", json_object_new_boolean(m->u.stream.tty != 0));
        json_object_object_add(f, "allowed", json_object_new_boolean(!why));
        if (why)
                json_object_object_add(f, "refused", json_object_new_string(why));
        if (audit_append(monitor_state_dir(), "run.exec", f, &ae) < 0)
                monitor_log("audit: %s", ae.msg);
        json_object_put(f);
        return why;
}

static void reply_error(struct monitor_client *c, const char *why)
{
        _cleanup_json_ json_object *rep = json_object_new_object();
        json_object_object_add(rep, "error", json_object_new_string(why));
        monitor_client_send(c, rep);
}

/* {"cmd":"exec",...}: start the command; from the reply on, C's
 * connection carries its stream's frames. */
static void exec_start(struct monitor_client *c, json_object *req)
{
        struct mlvm_err e = { 0 };
        static struct proto_msg m;

        memset(&m, 0, sizeof(m));
        const char *why = exec_check(req, &m, &e);
        if (why) {
                reply_error(c, why);
                return;
        }
        m.type = PROTO_STREAM_EXEC;
        m.u.stream.id = monitor_stream_id(&monitor_exec_handler);
        m.u.stream.window = PROTO_STREAM_CREDIT;
        if (monitor_send(&m, &e) < 0) {
                reply_error(c, e.msg);
                return;
        }
        _cleanup_json_ json_object *rep = json_object_new_object();
        json_object_object_add(rep, "ok", json_object_new_boolean(1));
        json_object_object_add(rep, "stream", json_object_new_int64(m.u.stream.id));
        monitor_client_send(c, rep);
        /* One per client at most, so there is always a free one. */
        struct xconn *xc = free_slot();
        if (monitor_client_fd(c) < 0 || !xc) {
                send_reset(m.u.stream.id);   /* gone already: the command goes too */
                monitor_client_close(c);
                return;
        }
        xc->c = c;
        xc->stream = m.u.stream.id;
        xc->agent_credit = PROTO_STREAM_CREDIT;
        monitor_log("exec on stream %u", m.u.stream.id);
        xc->in = xmalloc(EXEC_IN_MAX);
        xc->out_cap = 1u << 20;
        xc->out = xmalloc(xc->out_cap);
        /* From now on this connection speaks frames; bytes that came after
         * the request line are frames already. */
        monitor_client_take(c, on_exec_client, xc, xc->in, EXEC_IN_MAX, &xc->in_len);
}

static const struct monitor_command exec_commands[] = {
        { "exec", exec_start },
        { NULL, NULL },
};

const struct monitor_handler monitor_exec_handler = {
        .name = "exec",
        /* The top half of the stream ids; published ports and health probes have the rest. */
        .stream_base = 0x80000000u,
        .stream_mask = 0x7fffffffu,
        .on_stream = exec_on_stream,
        .commands = exec_commands,
        .channel_reset = exec_reset_all,
        .unthrottle = exec_unthrottle,
        .client_gone = exec_client_gone,
};
