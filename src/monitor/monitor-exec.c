/* monitor-exec.c: `mlvm exec`, the monitor's side. A control client asks
 * {"cmd":"exec","argv":[...],"tty":bool,"rows":N,"cols":N}; when the
 * model's config says exec: allow (and either way it is audited), the
 * monitor opens an exec stream to the agent and, from its JSON reply on,
 * the client's connection carries agent frames both ways (proto.h):
 * STREAM_DATA (stdin, stdout, stderr), STREAM_WINDOW, STREAM_CLOSE, and
 * the command's EXIT. The monitor relays them, forcing the stream id, and
 * buffers no more than the credit the two ends grant each other. */
#include "mlvm-build.h"

#include <sys/socket.h>

#include "audit.h"
#include "monitor-internal.h"
#include "run.h"
#include "util.h"

#define EXEC_ID_BASE 0x80000000u      /* publish streams count up from 1 */
/* Frames waiting for a client: its 256 KiB of credit, even in 1-byte
 * frames (~42 bytes each), fit; more means the agent broke the rules. */
#define EXEC_OUT_MAX (16u << 20)

static uint32_t next_exec;

static struct client *find(uint32_t id)
{
        for (size_t i = 0; i < MAX_CLIENTS; i++)
                if (M.clients[i].fd >= 0 && M.clients[i].exec_stream == id)
                        return &M.clients[i];
        return NULL;
}

/* The command goes too: its stream is reset at the agent, then the client closed. */
static void abort_exec(struct client *c)
{
        struct mlvm_err e = { 0 };
        struct proto_msg r = { .type = PROTO_STREAM_CLOSE };
        r.u.stream.id = c->exec_stream;
        r.u.stream.how = PROTO_CLOSE_RESET;
        if (M.ch && M.session_up && c->exec_stream && !c->xdone)
                (void)channel_send(M.ch, &r, 0, &e);
        monitor_client_close(c);
}

static void set_events(struct client *c)
{
        int ev = channel_throttled(M.ch) ? 0 : VIR_EVENT_HANDLE_READABLE;
        if (c->xout_len)
                ev |= VIR_EVENT_HANDLE_WRITABLE;
        virEventUpdateHandle(c->watch, ev);
}

void exec_unthrottle(void)
{
        for (size_t i = 0; i < MAX_CLIENTS; i++)
                if (M.clients[i].fd >= 0 && M.clients[i].exec_stream)
                        set_events(&M.clients[i]);
}

void exec_reset_all(void)
{
        for (size_t i = 0; i < MAX_CLIENTS; i++)
                if (M.clients[i].fd >= 0 && M.clients[i].exec_stream)
                        monitor_client_close(&M.clients[i]);   /* the agent dropped its streams with the channel */
}

static void flush_out(struct client *c)
{
        while (c->xout_len) {
                ssize_t n = send(c->fd, c->xout, c->xout_len, MSG_NOSIGNAL | MSG_DONTWAIT);
                if (n < 0 && (errno == EAGAIN || errno == EINTR))
                        break;
                if (n <= 0) {
                        abort_exec(c);
                        return;
                }
                memmove(c->xout, c->xout + n, c->xout_len - (size_t)n);
                c->xout_len -= (size_t)n;
        }
        if (c->xout_len == 0 && c->xdone) {
                monitor_client_close(c);
                return;
        }
        set_events(c);
}

/* A frame of the agent's for an exec stream: to its client. */
bool exec_on_frame(const struct proto_msg *m)
{
        uint32_t id = m->type == PROTO_EXIT ? m->u.exit.stream : m->u.stream.id;
        if (!(id & EXEC_ID_BASE))
                return false;
        struct client *c = find(id);
        if (!c) {
                /* Its client went: make sure the command goes too. */
                if (m->type != PROTO_EXIT && m->type != PROTO_STREAM_CLOSE) {
                        struct mlvm_err e = { 0 };
                        struct proto_msg r = { .type = PROTO_STREAM_CLOSE };
                        r.u.stream.id = id;
                        r.u.stream.how = PROTO_CLOSE_RESET;
                        if (M.ch && M.session_up)
                                (void)channel_send(M.ch, &r, 0, &e);
                }
                return true;
        }
        static uint8_t frame[PROTO_HDR_SIZE + PROTO_MAX_PAYLOAD];
        long n = proto_encode(m, frame, sizeof(frame));
        if (n < 0 || c->xout_len + (size_t)n > EXEC_OUT_MAX) {
                abort_exec(c);   /* more than the credit allows: the agent broke the rules */
                return true;
        }
        if (c->xout_len + (size_t)n > c->xout_cap) {
                size_t cap = c->xout_cap * 2 > c->xout_len + (size_t)n ? c->xout_cap * 2 : c->xout_len + (size_t)n;
                c->xout = xreallocarray(c->xout, 1, cap);
                c->xout_cap = cap;
        }
        memcpy(c->xout + c->xout_len, frame, (size_t)n);
        c->xout_len += (size_t)n;
        if (m->type == PROTO_EXIT || (m->type == PROTO_STREAM_CLOSE && m->u.stream.how != PROTO_CLOSE_END))
                c->xdone = true;
        flush_out(c);
        return true;
}

/* Frames from the client: stdin, credit, close; to the agent. */
static void on_exec_client(int watch, int fd, int events, void *opaque)
{
        static struct proto_msg m;
        struct mlvm_err e = { 0 };
        struct client *c = opaque;

        if (events & VIR_EVENT_HANDLE_WRITABLE) {
                flush_out(c);
                if (c->fd < 0)
                        return;
        }
        if (!(events & (VIR_EVENT_HANDLE_READABLE | VIR_EVENT_HANDLE_HANGUP | VIR_EVENT_HANDLE_ERROR)))
                return;
        ssize_t n = recv(fd, c->xin + c->xin_len, PROTO_HDR_SIZE + PROTO_MAX_PAYLOAD - c->xin_len, MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
                return;
        if (n <= 0) {
                abort_exec(c);   /* the client went: so does the command */
                return;
        }
        c->xin_len += (size_t)n;
        for (;;) {
                struct proto_hdr h;
                if (c->xin_len < PROTO_HDR_SIZE)
                        return;
                if (proto_hdr_decode(c->xin, &h) < 0) {
                        abort_exec(c);
                        return;
                }
                if (c->xin_len < PROTO_HDR_SIZE + h.len)
                        return;
                int r = proto_payload_decode(&h, c->xin + PROTO_HDR_SIZE, &m);
                size_t used = PROTO_HDR_SIZE + h.len;
                memmove(c->xin, c->xin + used, c->xin_len - used);
                c->xin_len -= used;
                if (r < 0 || (m.type != PROTO_STREAM_DATA && m.type != PROTO_STREAM_WINDOW && m.type != PROTO_STREAM_CLOSE)) {
                        abort_exec(c);
                        return;
                }
                m.id = 0;
                m.u.stream.id = c->exec_stream;   /* a client speaks for its own stream only */
                if (!M.ch || !M.session_up || channel_send(M.ch, &m, 0, &e) < 0) {
                        abort_exec(c);
                        return;
                }
        }
}

void exec_start(struct client *c, json_object *req)
{
        struct mlvm_err e = { 0 };
        json_object *argv, *x, *rep = json_object_new_object();
        static struct proto_msg m;
        bool allowed = json_object_object_get_ex(M.run, "exec_allowed", &x) && json_object_get_boolean(x);
        bool tty = json_object_object_get_ex(req, "tty", &x) && json_object_get_boolean(x);
        const char *why = NULL;

        memset(&m, 0, sizeof(m));
        if (!json_object_object_get_ex(req, "argv", &argv) || !json_object_is_type(argv, json_type_array) ||
            json_object_array_length(argv) == 0)
                why = "exec needs a command";
        for (size_t i = 0; !why && i < json_object_array_length(argv); i++) {
                json_object *a = json_object_array_get_idx(argv, i);
                if (!json_object_is_type(a, json_type_string) || proto_strv_add(&m.u.stream.argv, json_object_get_string(a)) < 0)
                        why = "the command is too long for one frame";
        }
        if (!why && !allowed)
                why = "exec is not allowed for this model (its mlvm.yaml entry needs exec: allow)";
        if (!why && (!M.ready || !M.ch || !M.session_up || M.ending || M.conn_lost))
                why = "the run is not ready (or its agent is reconnecting)";
        json_object *f = json_object_new_object();
        json_object_object_add(f, "run", json_object_new_string(M.id));
        json_object_object_add(f, "name", json_object_new_string(M.name));
        json_object_object_add(f, "argv", argv ? json_object_get(argv) : json_object_new_array());
        json_object_object_add(f, "tty", json_object_new_boolean(tty));
        json_object_object_add(f, "allowed", json_object_new_boolean(!why));
        if (why)
                json_object_object_add(f, "refused", json_object_new_string(why));
        if (audit_append(M.state_dir, "run.exec", f, &e) < 0)
                monitor_log("audit: %s", e.msg);
        json_object_put(f);
        if (why) {
                json_object_object_add(rep, "error", json_object_new_string(why));
                monitor_client_send(c, rep);
                json_object_put(rep);
                return;
        }
        m.type = PROTO_STREAM_EXEC;
        m.u.stream.id = EXEC_ID_BASE | (++next_exec & 0x7fffffffu);
        m.u.stream.window = PROTO_STREAM_CREDIT;
        m.u.stream.tty = tty;
        m.u.stream.rows = json_object_object_get_ex(req, "rows", &x) ? (uint32_t)json_object_get_int(x) : 0;
        m.u.stream.cols = json_object_object_get_ex(req, "cols", &x) ? (uint32_t)json_object_get_int(x) : 0;
        if (channel_send(M.ch, &m, 0, &e) < 0) {
                json_object_object_add(rep, "error", json_object_new_string(e.msg));
                monitor_client_send(c, rep);
                json_object_put(rep);
                return;
        }
        json_object_object_add(rep, "ok", json_object_new_boolean(1));
        json_object_object_add(rep, "stream", json_object_new_int64(m.u.stream.id));
        monitor_client_send(c, rep);
        json_object_put(rep);
        c->exec_stream = m.u.stream.id;
        if (c->fd < 0) {
                /* Gone already: the command goes too. */
                struct proto_msg r = { .type = PROTO_STREAM_CLOSE };
                r.u.stream.id = m.u.stream.id;
                r.u.stream.how = PROTO_CLOSE_RESET;
                (void)channel_send(M.ch, &r, 0, &e);
                return;
        }
        monitor_log("exec on stream %u", m.u.stream.id);
        c->xin = xmalloc(PROTO_HDR_SIZE + PROTO_MAX_PAYLOAD);
        c->xout_cap = 1u << 20;
        c->xout = xmalloc(c->xout_cap);
        /* From now on this connection speaks frames. */
        virEventRemoveHandle(c->watch);
        c->watch = virEventAddHandle(c->fd, VIR_EVENT_HANDLE_READABLE, on_exec_client, c, NULL);
        if (c->len) {
                /* Bytes that came after the request line are frames already. */
                memcpy(c->xin, c->buf, c->len);
                c->xin_len = c->len;
                c->len = 0;
        }
}
