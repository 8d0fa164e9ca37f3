/* cmd-exec.c: mlvm exec NAME [-t|-T] -- CMD [ARGS]: run a command in a
 * running model as the workload's user, for debugging; its stdin, stdout
 * and stderr are ours (a terminal when we have one, or with -t), its exit
 * status becomes ours (128+N for signal N; 125 when mlvm could not run
 * it). Only for models whose mlvm.yaml entry says exec: allow; every
 * attempt is in the audit log. */
#include "mlvm-build.h"

#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <termios.h>

#include "cli.h"
#include "control.h"
#include "paths.h"
#include "proto.h"
#include "run.h"
#include "cleanup.h"
#include "util.h"

#define EXIT_MLVM 125

struct exec_opts {
        enum { TTY_AUTO, TTY_YES, TTY_NO } tty;
};

static int on_opt(struct cli *cli, int c, const char *arg, void *u)
{
        struct exec_opts *o = u;
        switch (c) {
        case 't': o->tty = TTY_YES; return 0;
        case 'T': o->tty = TTY_NO; return 0;
        default: return -1;
        }
}

static struct termios saved;
static bool raw;

static void restore_terminal(void)
{
        if (raw)
                (void)tcsetattr(STDIN_FILENO, TCSANOW, &saved);
        raw = false;
}

static int send_frame(int fd, const struct proto_msg *m)
{
        static uint8_t buf[PROTO_HDR_SIZE + PROTO_MAX_PAYLOAD];
        long n = proto_encode(m, buf, sizeof(buf));
        if (n < 0)
                return -EINVAL;
        for (long off = 0; off < n;) {
                ssize_t w = send(fd, buf + off, (size_t)(n - off), MSG_NOSIGNAL);
                if (w < 0 && errno == EINTR)
                        continue;
                if (w <= 0)
                        return -EPIPE;
                off += w;
        }
        return 0;
}

static int write_all(int fd, const uint8_t *p, size_t len)
{
        while (len) {
                ssize_t w = write(fd, p, len);
                if (w < 0 && errno == EINTR)
                        continue;
                if (w <= 0)
                        return -errno;
                p += w;
                len -= (size_t)w;
        }
        return 0;
}

/* Relay until the command's EXIT; returns our exit status. */
static int relay(const struct cli *cli, int sock, bool tty)
{
        static uint8_t in[PROTO_HDR_SIZE + PROTO_MAX_PAYLOAD];
        static struct proto_msg m;
        size_t in_len = 0;
        uint32_t credit = 0;
        bool stdin_eof = false, opened = false;

        for (;;) {
                struct pollfd p[2] = {
                        { .fd = sock, .events = POLLIN },
                        { .fd = opened && !stdin_eof && credit ? STDIN_FILENO : -1, .events = POLLIN },
                };
                if (poll(p, 2, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        return EXIT_MLVM;
                }
                if (p[1].revents) {
                        memset(&m, 0, sizeof(m));
                        size_t want = credit < sizeof(m.u.stream.data) ? credit : sizeof(m.u.stream.data);
                        ssize_t n = read(STDIN_FILENO, m.u.stream.data, want);
                        if (n <= 0 && !(n < 0 && errno == EINTR)) {
                                stdin_eof = true;
                                m.type = PROTO_STREAM_CLOSE;
                                m.u.stream.id = 1;
                                m.u.stream.how = PROTO_CLOSE_END;
                        } else if (n > 0) {
                                m.type = PROTO_STREAM_DATA;
                                m.u.stream.id = 1;
                                m.u.stream.len = (uint32_t)n;
                                credit -= (uint32_t)n;
                        }
                        /* A failed send: the monitor is closing (after the EXIT, which
                         * is still to be read) or gone (then the read below says so). */
                        if (m.type && send_frame(sock, &m) < 0)
                                stdin_eof = true;
                }
                if (!p[0].revents)
                        continue;
                ssize_t n = recv(sock, in + in_len, sizeof(in) - in_len, 0);
                if (n <= 0) {
                        restore_terminal();
                        cli_error(cli, "the monitor closed the connection before the command ended");
                        return EXIT_MLVM;
                }
                in_len += (size_t)n;
                for (;;) {
                        struct proto_hdr h;
                        if (in_len < PROTO_HDR_SIZE || proto_hdr_decode(in, &h) < 0 || in_len < PROTO_HDR_SIZE + h.len)
                                break;
                        int r = proto_payload_decode(&h, in + PROTO_HDR_SIZE, &m);
                        size_t used = PROTO_HDR_SIZE + h.len;
                        memmove(in, in + used, in_len - used);
                        in_len -= used;
                        if (r < 0)
                                return cli_error(cli, "a malformed frame from the monitor"), EXIT_MLVM;
                        switch (m.type) {
                        case PROTO_STREAM_OPENED:
                                opened = true;
                                credit = m.u.stream.window;
                                break;
                        case PROTO_STREAM_WINDOW:
                                credit += m.u.stream.window;
                                break;
                        case PROTO_STREAM_DATA: {
                                (void)write_all(m.u.stream.fd == 2 ? STDERR_FILENO : STDOUT_FILENO, m.u.stream.data,
                                                m.u.stream.len);
                                struct proto_msg w = { .type = PROTO_STREAM_WINDOW };
                                w.u.stream.id = 1;
                                w.u.stream.window = m.u.stream.len;
                                /* The monitor may have sent the EXIT and closed already: what
                                 * it sent is still read; only a missing EXIT is a failure. */
                                (void)send_frame(sock, &w);
                                break;
                        }
                        case PROTO_EXIT:
                                restore_terminal();
                                return m.u.exit.signal ? 128 + (int)(m.u.exit.signal & 127) : (int)(m.u.exit.code & 255);
                        case PROTO_STREAM_CLOSE:
                                if (m.u.stream.how == PROTO_CLOSE_END)
                                        break;
                                restore_terminal();
                                cli_error(cli, "%s", m.u.stream.how == PROTO_CLOSE_REFUSED
                                                             ? "the agent could not start the command"
                                                             : "the command's stream was reset");
                                return EXIT_MLVM;
                        default:
                                break;
                        }
                }
        }
}

static int run(struct cli *cli, void *opts, int argc, char **argv)
{
        const struct exec_opts *o = opts;
        _cleanup_free_ char *state = mlvm_state_dir();
        struct mlvm_err e = { 0 };
        char id[RUN_ID_LEN + 1];
        const char *ref = argv[0];
        int r;

        if (run_resolve(state, ref, id, &e) < 0)
                return cli_fail(cli, &e), EXIT_MLVM;
        bool tty = o->tty == TTY_YES || (o->tty == TTY_AUTO && isatty(STDIN_FILENO) && isatty(STDOUT_FILENO));
        _cleanup_json_ json_object *req = json_object_new_object(), *rep = NULL;
        json_object *a = json_object_new_array();
        for (int i = 1; i < argc; i++)
                json_object_array_add(a, json_object_new_string(argv[i]));
        json_object_object_add(req, "argv", a);
        json_object_object_add(req, "tty", json_object_new_boolean(tty));
        struct winsize ws;
        if (tty && ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0) {
                json_object_object_add(req, "rows", json_object_new_int(ws.ws_row));
                json_object_object_add(req, "cols", json_object_new_int(ws.ws_col));
        }
        _cleanup_close_ int fd = -1;
        if (control_connect(state, id, &fd, &e) < 0 || control_send_args(fd, "exec", req, &e) < 0 ||
            control_recv(fd, 30000, &rep, &e) < 0)
                return cli_fail(cli, &e), EXIT_MLVM;
        if (json_str(rep, "error"))
                return cli_error(cli, "%s: %s", ref, json_str(rep, "error")), EXIT_MLVM;
        if (tty && isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved) == 0) {
                struct termios t = saved;
                cfmakeraw(&t);
                if (tcsetattr(STDIN_FILENO, TCSANOW, &t) == 0)
                        raw = true;
        }
        r = relay(cli, fd, tty);
        restore_terminal();
        return r;
}

static const struct option options[] = {
        { "tty", no_argument, NULL, 't' },
        { "no-tty", no_argument, NULL, 'T' },
        { NULL, 0, NULL, 0 },
};

const struct verb verb_exec = {
        .name = "exec",
        .summary = "Run a command in a running model for debugging (only with exec: allow; audited)",
        .usage = "NAME|RUN [-t|-T] -- CMD [ARGS]",
        .help = "  -t, --tty           give the command a terminal (default: when stdin and stdout are one)\n"
                "  -T, --no-tty        plain pipes, even on a terminal\n"
                "  Exit status: the command's own; 128+N when signal N ended it; 125 when mlvm could not run it.\n",
        .shortopts = "tT",
        .options = options,
        .on_opt = on_opt,
        .opts_size = sizeof(struct exec_opts),
        .args = { .min = 2, .max = ARGS_ANY, .name = "a name and a command: mlvm exec NAME -- CMD [ARGS]" },
        .run = run,
};
