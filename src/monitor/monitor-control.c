/* monitor-control.c: the monitor's control socket (STATE/runs/RUNID/
 * control.sock, mode 0600, JSON lines) for the other verbs; the channel
 * has one client, the monitor. Its own commands are status, follow, ping
 * and down; the handlers' tables (monitor-core.h) add theirs (rotate,
 * exec). */
#include "mlvm-build.h"

#include <stdarg.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <openssl/rand.h>

#include "control-request.h"
#include "monitor-internal.h"
#include "run.h"
#include "util.h"
#include "virt.h"

/* A request line and its newline (control-request.h). */
#define CONTROL_LINE_MAX (CONTROL_REQUEST_MAX + 1)

struct monitor_client {
        int fd;
        int watch;
        char buf[CONTROL_LINE_MAX];
        size_t len;
        bool follow;
        bool wants_down;        /* answer when the teardown is done */
        bool taken;             /* a handler speaks on it now (monitor_client_take) */
        uint32_t ping_id;       /* answer on this PONG */
        usec_t ping_sent;
};

static struct monitor_client clients[MONITOR_CLIENTS_MAX] = {
        [0 ... MONITOR_CLIENTS_MAX - 1] = { .fd = -1 },
};

/* ---- control clients --------------------------------------------------- */

void monitor_client_send(struct monitor_client *c, json_object *o)
{
        const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
        size_t len = strlen(s);
        /* Best effort, bounded: a client that stops reading is dropped. */
        if (c->fd >= 0 && (write(c->fd, s, len) != (ssize_t)len || write(c->fd, "\n", 1) != 1))
                monitor_client_close(c);
}

static void broadcast_one(const char *key, const void *data, size_t len)
{
        json_object *o = NULL;
        for (size_t i = 0; i < MONITOR_CLIENTS_MAX; i++) {
                if (clients[i].fd < 0 || !clients[i].follow)
                        continue;
                if (!o) {
                        o = json_object_new_object();
                        json_object_object_add(o, key, json_object_new_string_len(data, (int)len));
                }
                monitor_client_send(&clients[i], o);
        }
        json_object_put(o);
}

/* The workload's first output, tagged by stream, for a follower that
 * subscribes after it began (mlvm run subscribes once up returns, after
 * EXEC): output.log merges the streams, this keeps them apart. Records are
 * [stream byte][u32 length][bytes]; past MONITOR_REPLAY_MAX it is dropped
 * and such a follower falls back to output.log. */
#define MONITOR_REPLAY_MAX (256 * 1024)
static uint8_t *replay;
static size_t replay_len;
static bool replay_lost;

static void replay_keep(const char *key, const void *data, size_t len)
{
        uint32_t n = (uint32_t)len;
        if (replay_lost || (!streq(key, "stdout") && !streq(key, "stderr")))
                return;
        if (len > MONITOR_REPLAY_MAX || replay_len + 5 + len > MONITOR_REPLAY_MAX) {
                free(replay);
                replay = NULL;
                replay_len = 0;
                replay_lost = true;
                return;
        }
        if (!replay)
                replay = xmalloc(MONITOR_REPLAY_MAX);
        replay[replay_len] = streq(key, "stderr");
        memcpy(replay + replay_len + 1, &n, sizeof(n));
        memcpy(replay + replay_len + 5, data, len);
        replay_len += 5 + len;
}

static void replay_send(struct monitor_client *c)
{
        for (size_t off = 0; off + 5 <= replay_len && c->fd >= 0;) {
                uint32_t n;
                memcpy(&n, replay + off + 1, sizeof(n));
                _cleanup_json_ json_object *o = json_object_new_object();
                json_object_object_add(o, replay[off] ? "stderr" : "stdout",
                                       json_object_new_string_len((const char *)replay + off + 5, (int)n));
                monitor_client_send(c, o);
                off += 5 + n;
        }
}

/* One bounded line per 4 KiB of guest bytes (at most ~24 KiB of JSON), so a
 * follower's socket buffer is not overrun by a single huge line. */
void monitor_broadcast(const char *key, const void *data, size_t len)
{
        for (size_t off = 0; off < len; off += 4096) {
                size_t n = len - off < 4096 ? len - off : 4096;
                replay_keep(key, (const char *)data + off, n);
                broadcast_one(key, (const char *)data + off, n);
        }
}

void monitor_client_close(struct monitor_client *c)
{
        const struct monitor_handler *h;
        if (c->fd < 0)
                return;
        for (size_t i = 0; (h = monitor_handler(i)); i++)
                if (h->client_gone)
                        h->client_gone(c);
        virEventRemoveHandle(c->watch);
        close(c->fd);
        c->fd = -1;
}

int monitor_client_fd(const struct monitor_client *c)
{
        return c->fd;
}

void monitor_client_take(struct monitor_client *c, virEventHandleCallback cb, void *opaque, uint8_t *buf,
                         size_t cap, size_t *ret_len)
{
        size_t n = c->len < cap ? c->len : cap;
        memcpy(buf, c->buf, n);
        *ret_len = n;
        c->len = 0;
        c->taken = true;
        virEventRemoveHandle(c->watch);
        c->watch = virEventAddHandle(c->fd, VIR_EVENT_HANDLE_READABLE, cb, opaque, NULL);
}

void monitor_client_events(struct monitor_client *c, int events)
{
        virEventUpdateHandle(c->watch, events);
}

void monitor_control_pong(uint32_t id)
{
        for (size_t i = 0; i < MONITOR_CLIENTS_MAX; i++) {
                struct monitor_client *c = &clients[i];
                if (c->fd >= 0 && c->ping_id && c->ping_id == id) {
                        json_object *o = json_object_new_object();
                        json_object_object_add(o, "ok", json_object_new_boolean(1));
                        double rtt_ms = (double)(now_usec() - c->ping_sent) / USEC_PER_MSEC;
                        json_object_object_add(o, "rtt_ms", json_object_new_double(rtt_ms));
                        monitor_client_send(c, o);
                        json_object_put(o);
                        c->ping_id = 0;
                }
        }
}

void monitor_control_progress(const char *fmt, ...)
{
        char line[256];
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(line, sizeof(line), fmt, ap);
        va_end(ap);
        if (n > 0)
                broadcast_one("progress", line, strlen(line));
}

void monitor_control_end(json_object *end)
{
        for (size_t i = 0; i < MONITOR_CLIENTS_MAX; i++) {
                if (clients[i].fd >= 0 && (clients[i].follow || clients[i].wants_down))
                        monitor_client_send(&clients[i], end);
                monitor_client_close(&clients[i]);
        }
        _cleanup_free_ char *sock = run_file(monitor_state_dir(), monitor_run_id(), "control.sock");
        (void)unlink(sock);
}

/* ---- the core's commands ------------------------------------------------- */

static void reply_error(struct monitor_client *c, const char *why)
{
        _cleanup_json_ json_object *rep = json_object_new_object();
        json_object_object_add(rep, "error", json_object_new_string(why));
        monitor_client_send(c, rep);
}

static void cmd_status(struct monitor_client *c, json_object *req)
{
        _cleanup_json_ json_object *rep = json_object_new_object();
        json_object_object_add(rep, "ok", json_object_new_boolean(1));
        json_object_object_add(rep, "state", json_object_new_string(monitor_ready() ? RUN_READY : RUN_STARTING));
        json_object_object_add(rep, "connected", json_object_new_boolean(monitor_connected()));
        monitor_client_send(c, rep);
}

/* Followers get the guest's output live from here on; the offsets say
 * where in the logs that starts. With "replay": true, the workload's output
 * so far comes first, each stream apart, when the monitor still has it all
 * ("replayed": true in the answer). */
static void cmd_follow(struct monitor_client *c, json_object *req)
{
        _cleanup_json_ json_object *rep = json_object_new_object();
        struct stat a, b;
        json_object *x;
        bool replayed = json_object_object_get_ex(req, "replay", &x) && json_object_get_boolean(x) && !replay_lost;
        c->follow = true;
        json_object_object_add(rep, "replayed", json_object_new_boolean(replayed));
        json_object_object_add(rep, "ok", json_object_new_boolean(1));
        json_object_object_add(rep, "console_offset",
                               json_object_new_int64(stat(monitor_console_path(), &a) == 0 ? a.st_size : 0));
        json_object_object_add(rep, "output_offset",
                               json_object_new_int64(stat(monitor_output_path(), &b) == 0 ? b.st_size : 0));
        monitor_client_send(c, rep);
        if (replayed)
                replay_send(c);
}

/* Answered on the agent's PONG (monitor_control_pong). */
static void cmd_ping(struct monitor_client *c, json_object *req)
{
        struct mlvm_err e = { 0 };
        struct proto_msg m = { .type = PROTO_PING, .id = monitor_next_id() };
        if (!monitor_agent_up() || RAND_bytes((unsigned char *)&m.u.ping.nonce, sizeof(m.u.ping.nonce)) != 1 ||
            monitor_send(&m, &e) < 0) {
                reply_error(c, e.msg[0] ? e.msg : "the agent channel is not open");
                return;
        }
        c->ping_id = m.id;
        c->ping_sent = now_usec();
}

/* Answered with the end event once the teardown is done. */
static void cmd_down(struct monitor_client *c, json_object *req)
{
        c->wants_down = true;
        monitor_restart_note_down();
        monitor_shutdown(RUN_STOPPED, NULL);
}

static const struct monitor_command core_commands[] = {
        { "status", cmd_status },
        { "follow", cmd_follow },
        { "ping", cmd_ping },
        { "down", cmd_down },
        { NULL, NULL },
};

static const struct monitor_command *find_command(const char *name)
{
        const struct monitor_handler *h;
        for (const struct monitor_command *k = core_commands; k->name; k++)
                if (streq(k->name, name))
                        return k;
        for (size_t i = 0; (h = monitor_handler(i)); i++)
                for (const struct monitor_command *k = h->commands; k && k->name; k++)
                        if (streq(k->name, name))
                                return k;
        return NULL;
}

/* ---- control socket ------------------------------------------------------- */

static void handle_command(struct monitor_client *c, const char *line, size_t len)
{
        struct mlvm_err e = { 0 };
        _cleanup_json_ json_object *req = NULL;
        const char *cmd;

        if (control_parse_request(line, len, &req, &cmd, &e) < 0) {
                reply_error(c, e.msg);
                return;
        }
        const struct monitor_command *k = find_command(cmd);
        if (!k) {
                reply_error(c, "unknown command");
                return;
        }
        k->run(c, req);
}

static void on_client(int watch, int fd, int events, void *opaque)
{
        struct monitor_client *c = opaque;
        ssize_t n = read(fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len);
        if (n <= 0) {
                if (n < 0 && (errno == EAGAIN || errno == EINTR))
                        return;
                monitor_client_close(c);
                return;
        }
        c->len += (size_t)n;
        c->buf[c->len] = '\0';
        char *nl;
        /* memchr, not strchr: a NUL in a line must not hide its end (the
         * parse refuses the line instead). */
        while ((nl = memchr(c->buf, '\n', c->len))) {
                /* Consume the line first: handling it may run the event loop again. */
                char line[CONTROL_LINE_MAX];
                size_t used = (size_t)(nl + 1 - c->buf);
                *nl = '\0';
                memcpy(line, c->buf, used);
                memmove(c->buf, nl + 1, c->len - used + 1);
                c->len -= used;
                handle_command(c, line, used - 1);
                if (c->fd < 0 || c->taken)
                        return;   /* closed, or a handler's from now on */
        }
        if (c->len >= sizeof(c->buf) - 1)
                monitor_client_close(c);   /* a line over the cap: not ours */
}

static void on_accept(int watch, int fd, int events, void *opaque)
{
        int cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (cfd < 0)
                return;
        for (size_t i = 0; i < MONITOR_CLIENTS_MAX; i++) {
                struct monitor_client *c = &clients[i];
                if (c->fd >= 0)
                        continue;
                *c = (struct monitor_client){ .fd = cfd };
                c->watch = virEventAddHandle(cfd, VIR_EVENT_HANDLE_READABLE, on_client, c, NULL);
                return;
        }
        close(cfd);
}

int monitor_control_listen(struct mlvm_err *e)
{
        _cleanup_free_ char *path = run_file(monitor_state_dir(), monitor_run_id(), "control.sock");
        struct sockaddr_un sa = { .sun_family = AF_UNIX };

        if (strlen(path) >= sizeof(sa.sun_path))
                return err_setx(e, -ENAMETOOLONG, "control socket path %s is too long", path);
        memcpy(sa.sun_path, path, strlen(path) + 1);
        (void)unlink(path);
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        /* Owner only: the socket can stop the run. */
        mode_t old = umask(0177);
        int r = fd < 0 ? -1 : bind(fd, (struct sockaddr *)&sa, sizeof(sa));
        umask(old);
        if (r < 0 || listen(fd, 8) < 0) {
                r = err_set(e, -errno, "control socket %s", path);
                if (fd >= 0)
                        close(fd);
                return r;
        }
        /* Open until the process exits: the teardown removes the path, and
         * the event loop stops with it. */
        (void)virEventAddHandle(fd, VIR_EVENT_HANDLE_READABLE, on_accept, NULL, NULL);
        return 0;
}
