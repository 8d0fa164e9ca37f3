/* control.c: talk to a run's monitor; see control.h. The monitor is ours,
 * but its lines are still read with a size cap. */
#include "mlvm-build.h"

#include <fcntl.h>
#include <poll.h>
#include <time.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "control.h"
#include "mtime.h"
#include "run.h"
#include "cleanup.h"
#include "json-util.h"
#include "util.h"

#define LINE_MAX_BYTES (1u << 20)
/* A monitor that stopped accepting (wedged, or stopped by a debugger)
 * fills its listen backlog, and a blocking connect would then wait for
 * ever: connect without blocking, and retry until this deadline. */
#define CONNECT_DEADLINE_MS 5000

int control_connect(const char *state_dir, const char *id, int *ret_fd, struct mlvm_err *e)
{
        _cleanup_free_ char *path = run_file(state_dir, id, "control.sock");
        struct sockaddr_un sa = { .sun_family = AF_UNIX };

        if (strlen(path) >= sizeof(sa.sun_path))
                return err_setx(e, -ENAMETOOLONG, "%s: path too long", path);
        memcpy(sa.sun_path, path, strlen(path) + 1);
        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return err_set(e, -errno, "socket");
        usec_t deadline = now_usec() + usec_from_ms(CONNECT_DEADLINE_MS);
        /* A Unix socket connects at once or fails with EAGAIN while the backlog is full. */
        while (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
                if (errno != EAGAIN && errno != EINTR)
                        return err_set(e, -errno, "monitor of run %s", id);
                if (now_usec() > deadline)
                        return err_setx(e, -ETIMEDOUT, "monitor of run %s: not accepting connections within %d ms", id,
                                        CONNECT_DEADLINE_MS);
                struct timespec ts = { 0, 20000000 };
                nanosleep(&ts, NULL);
        }
        int fl = fcntl(fd, F_GETFL);
        if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0)
                return err_set(e, -errno, "monitor of run %s", id);
        *ret_fd = TAKE_FD(fd);
        return 0;
}

int control_send(int fd, const char *cmd, struct mlvm_err *e)
{
        return control_send_args(fd, cmd, NULL, e);
}

int control_send_args(int fd, const char *cmd, json_object *args, struct mlvm_err *e)
{
        _cleanup_json_ json_object *o = json_object_new_object();
        json_object_object_add(o, "cmd", json_object_new_string(cmd));
        if (args) {
                json_object_object_foreach(args, k, v) json_object_object_add(o, k, json_object_get(v));
        }
        _cleanup_free_ char *line = xasprintf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
        size_t len = strlen(line);
        if (send(fd, line, len, MSG_NOSIGNAL) != (ssize_t)len)
                return err_set(e, -errno, "monitor: send %s", cmd);
        return 0;
}

/* Peek, then consume up to and including the newline: whole lines, no
 * byte-at-a-time reads, nothing after the line taken from the socket. */
int control_recv(int fd, int timeout_ms, json_object **ret, struct mlvm_err *e)
{
        _cleanup_free_ char *buf = xmalloc(LINE_MAX_BYTES + 1);
        size_t len = 0;

        for (;;) {
                struct pollfd p = { .fd = fd, .events = POLLIN };
                int r = poll(&p, 1, timeout_ms);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r == 0)
                        return err_setx(e, -ETIMEDOUT, "monitor: no answer within %d ms", timeout_ms);
                if (len == LINE_MAX_BYTES)
                        return err_setx(e, -EFBIG, "monitor: line over %u bytes", LINE_MAX_BYTES);
                ssize_t n = recv(fd, buf + len, LINE_MAX_BYTES - len, MSG_PEEK);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return err_setx(e, -EPIPE, "monitor: closed the connection");
                char *nl = memchr(buf + len, '\n', (size_t)n);
                size_t take = nl ? (size_t)(nl - (buf + len)) + 1 : (size_t)n;
                ssize_t got = read(fd, buf + len, take);
                if (got != (ssize_t)take)
                        return err_set(e, got < 0 ? -errno : -EIO, "monitor: read");
                len += take;
                if (nl) {
                        len--;   /* drop the newline */
                        break;
                }
        }
        return control_parse_line(buf, len, ret, e);
}

int control_parse_line(const char *line, size_t len, json_object **ret, struct mlvm_err *e)
{
        /* No UTF-8 check: a guest's output travels in these strings as the
         * bytes it wrote. Strict otherwise: a NUL or trailing bytes would
         * make the line mean something else to another reader. */
        json_object *o = json_parse_object_flags(line, len, CONTROL_DEPTH_MAX, JSON_TOKENER_STRICT);
        if (!o)
                return err_setx(e, -EPROTO, "monitor: not a JSON object");
        *ret = o;
        return 0;
}
