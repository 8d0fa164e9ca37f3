/* cmd-exec.c: mlvm exec NAME [-t|-T] -- CMD [ARGS]: run a command in a
 * running model as the workload's user, for debugging; its stdin, stdout
 * and stderr are ours (a terminal when we have one, or with -t), its exit
 * status becomes ours (128+N for signal N; 125 when mlvm could not run
 * it). Only for models whose mlvm.yaml entry says exec: allow; every
 * attempt is in the audit log. */
#include "mlvm-build.h"

#include <sys/ioctl.h>
#include <termios.h>

#include "cleanup.h"
#include "cli.h"
#include "control.h"
#include "exec-client.h"
#include "paths.h"
#include "run.h"
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

/* The monitor's "exec" request: the command, and the terminal it gets. */
static json_object *exec_request(int argc, char **argv, bool tty)
{
        json_object *req = json_object_new_object(), *a = json_object_new_array();
        struct winsize ws;

        for (int i = 0; i < argc; i++)
                json_object_array_add(a, json_object_new_string(argv[i]));
        json_object_object_add(req, "argv", a);
        json_object_object_add(req, "tty", json_object_new_boolean(tty));
        if (tty && ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0) {
                json_object_object_add(req, "rows", json_object_new_int(ws.ws_row));
                json_object_object_add(req, "cols", json_object_new_int(ws.ws_col));
        }
        return req;
}

/* Our terminal in raw mode, so that every key reaches the command's; its
 * settings before in *SAVED. False when stdin is no terminal. */
static bool make_raw(struct termios *saved)
{
        struct termios t;

        if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, saved) < 0)
                return false;
        t = *saved;
        cfmakeraw(&t);
        return tcsetattr(STDIN_FILENO, TCSANOW, &t) == 0;
}

static int run(struct cli *cli, void *opts, int argc, char **argv)
{
        const struct exec_opts *o = opts;
        _cleanup_free_ char *state = mlvm_state_dir();
        _cleanup_close_ int fd = -1;
        struct mlvm_err e = { 0 };
        char id[RUN_ID_LEN + 1];
        const char *ref = argv[0];
        struct termios saved;
        int r, status;

        if (run_resolve(state, ref, id, &e) < 0)
                return cli_fail(cli, &e), EXIT_MLVM;
        bool tty = o->tty == TTY_YES || (o->tty == TTY_AUTO && isatty(STDIN_FILENO) && isatty(STDOUT_FILENO));
        _cleanup_json_ json_object *req = exec_request(argc - 1, argv + 1, tty), *rep = NULL;
        if (control_connect(state, id, &fd, &e) < 0 || control_send_args(fd, "exec", req, &e) < 0 ||
            control_recv(fd, 30000, &rep, &e) < 0)
                return cli_fail(cli, &e), EXIT_MLVM;
        if (json_str(rep, "error"))
                return cli_error(cli, "%s: %s", ref, json_str(rep, "error")), EXIT_MLVM;
        bool raw = tty && make_raw(&saved);
        r = exec_client_relay(fd, STDIN_FILENO, STDOUT_FILENO, STDERR_FILENO, &status, &e);
        if (raw)   /* cooked again before anything is printed */
                (void)tcsetattr(STDIN_FILENO, TCSANOW, &saved);
        if (r < 0)
                return cli_fail(cli, &e), EXIT_MLVM;
        return status;
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
