/* monitor-control.c: the monitor's control socket (STATE/runs/RUNID/
 * control.sock, mode 0600, JSON lines): status, follow, ping, down, for the
 * other verbs; the channel has one client, the monitor. */
#include "mlvm-build.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <openssl/rand.h>

#include "monitor-internal.h"
#include "run.h"
#include "util.h"
#include "virt.h"

/* ---- control clients --------------------------------------------------- */

void monitor_client_send(struct client *c, json_object *o)
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
        for (size_t i = 0; i < MAX_CLIENTS; i++) {
                if (M.clients[i].fd < 0 || !M.clients[i].follow)
                        continue;
                if (!o) {
                        o = json_object_new_object();
                        json_object_object_add(o, key, json_object_new_string_len(data, (int)len));
                }
                monitor_client_send(&M.clients[i], o);
        }
        json_object_put(o);
}

/* One bounded line per 4 KiB of guest bytes (at most ~24 KiB of JSON), so a
 * follower's socket buffer is not overrun by a single huge line. */
void monitor_broadcast(const char *key, const void *data, size_t len)
{
        for (size_t off = 0; off < len; off += 4096)
                broadcast_one(key, (const char *)data + off, len - off < 4096 ? len - off : 4096);
}

void monitor_client_close(struct client *c)
{
        json_object_put(c->rotated);
        c->rotated = NULL;
        c->rotations = 0;
        free(c->xin);
        free(c->xout);
        c->xin = c->xout = NULL;
        c->xin_len = c->xout_len = c->xout_cap = 0;
        c->exec_stream = 0;
        c->xdone = false;
        if (c->fd < 0)
                return;
        creds_client_gone(c->fd);
        virEventRemoveHandle(c->watch);
        close(c->fd);
        c->fd = -1;
}

/* ---- control socket ------------------------------------------------------- */

static void handle_command(struct client *c, const char *line)
{
        _cleanup_json_ json_object *req = json_tokener_parse(line);
        _cleanup_json_ json_object *rep = json_object_new_object();
        const char *cmd = req ? json_str(req, "cmd") : NULL;

        if (!cmd) {
                json_object_object_add(rep, "error", json_object_new_string("expected {\"cmd\": ...}"));
                monitor_client_send(c, rep);
                return;
        }
        if (streq(cmd, "status")) {
                json_object_object_add(rep, "ok", json_object_new_boolean(1));
                json_object_object_add(rep, "state", json_object_new_string(M.ready ? RUN_READY : RUN_STARTING));
                json_object_object_add(rep, "connected", json_object_new_boolean(!M.conn_lost));
                monitor_client_send(c, rep);
        } else if (streq(cmd, "follow")) {
                struct stat a, b;
                c->follow = true;
                json_object_object_add(rep, "ok", json_object_new_boolean(1));
                json_object_object_add(rep, "console_offset",
                                       json_object_new_int64(stat(M.console_path, &a) == 0 ? a.st_size : 0));
                json_object_object_add(rep, "output_offset",
                                       json_object_new_int64(stat(M.output_path, &b) == 0 ? b.st_size : 0));
                monitor_client_send(c, rep);
        } else if (streq(cmd, "ping")) {
                struct mlvm_err e = { 0 };
                struct proto_msg m = { .type = PROTO_PING, .id = ++M.next_id };
                if (!M.ch || !M.session_up || RAND_bytes((unsigned char *)&m.u.ping.nonce, sizeof(m.u.ping.nonce)) != 1 ||
                    channel_send(M.ch, &m, 5000, &e) < 0) {
                        json_object_object_add(rep, "error", json_object_new_string(
                                                                     e.msg[0] ? e.msg : "the agent channel is not open"));
                        monitor_client_send(c, rep);
                        return;
                }
                c->ping_id = m.id;
                c->ping_sent = run_now();
        } else if (streq(cmd, "rotate")) {
                struct mlvm_err e = { 0 };
                if (c->rotations > 0) {
                        json_object_object_add(rep, "error", json_object_new_string("a rotation is already under way"));
                        monitor_client_send(c, rep);
                        return;
                }
                json_object_put(c->rotated);
                c->rotated = json_object_new_array();
                if (creds_rotate(c, json_str(req, "name"), &e) < 0 && c->rotations == 0) {
                        json_object_object_add(rep, "error", json_object_new_string(e.msg));
                        monitor_client_send(c, rep);
                }
        } else if (streq(cmd, "exec")) {
                exec_start(c, req);
        } else if (streq(cmd, "down")) {
                c->wants_down = true;
                monitor_shutdown(RUN_STOPPED, NULL);
        } else {
                json_object_object_add(rep, "error", json_object_new_string("unknown command"));
                monitor_client_send(c, rep);
        }
}

static void on_client(int watch, int fd, int events, void *opaque)
{
        struct client *c = opaque;
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
        while ((nl = strchr(c->buf, '\n'))) {
                /* Consume the line first: handling it may run the event loop again. */
                char line[CONTROL_LINE_MAX];
                size_t used = (size_t)(nl + 1 - c->buf);
                *nl = '\0';
                memcpy(line, c->buf, used);
                memmove(c->buf, nl + 1, c->len - used + 1);
                c->len -= used;
                handle_command(c, line);
                if (c->fd < 0 || c->exec_stream)
                        return;   /* closed, or speaking frames from now on */
        }
        if (c->len >= sizeof(c->buf) - 1)
                monitor_client_close(c);   /* a line over the cap: not ours */
}

static void on_accept(int watch, int fd, int events, void *opaque)
{
        int cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (cfd < 0)
                return;
        for (size_t i = 0; i < MAX_CLIENTS; i++) {
                struct client *c = &M.clients[i];
                if (c->fd >= 0)
                        continue;
                *c = (struct client){ .fd = cfd };
                c->watch = virEventAddHandle(cfd, VIR_EVENT_HANDLE_READABLE, on_client, c, NULL);
                return;
        }
        close(cfd);
}

int monitor_control_listen(struct mlvm_err *e)
{
        _cleanup_free_ char *path = run_file(M.state_dir, M.id, "control.sock");
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
        M.listen_fd = fd;
        M.listen_watch = virEventAddHandle(fd, VIR_EVENT_HANDLE_READABLE, on_accept, NULL, NULL);
        return 0;
}

