/* cmd-run.c: mlvm run NAME: boot an experiment, stream its output live,
 * wait for the end, collect and check its artifacts, sign its provenance,
 * and exit with the workload's status:
 *   the workload's own code; 128+N when signal N ended it; 124 when its
 *   timeout: ended it; 125 when mlvm failed or the artifacts were rejected
 *   (so a workload's 1 never looks like mlvm's failure); 130 after Ctrl-C
 *   (the run is stopped). */
#include "mlvm-build.h"

#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>

#include "cleanup.h"
#include "cli.h"
#include "control.h"
#include "mtime.h"
#include "paths.h"
#include "run-down.h"
#include "run-up.h"
#include "run.h"
#include "units.h"
#include "util.h"

#define EXIT_TIMEOUT 124
#define EXIT_MLVM 125
#define EXIT_INTERRUPTED 130

struct run_opts {
        unsigned boot_timeout;
        const char *accel;
};

static volatile sig_atomic_t interrupted;
static void on_sigint(int sig) { interrupted = 1; }

static int on_opt(struct cli *cli, int c, const char *arg, void *u)
{
        struct run_opts *o = u;
        uint64_t v;
        if (c == 'X') {
                o->accel = arg;
                return 0;
        }
        if (c != 'T')
                return -1;
        if (parse_uint(arg, 1, 3600, &v) < 0) {
                cli_usage_error(cli, "--boot-timeout: \"%s\" is not 1..3600 seconds", arg);
                return -1;
        }
        o->boot_timeout = (unsigned)v;
        return 0;
}

static void cat_file_upto(const char *path, long long limit, FILE *to)
{
        FILE *f = fopen(path, "re");
        char buf[65536];
        if (!f)
                return;
        while (limit != 0) {
                size_t want = limit < 0 || limit > (long long)sizeof(buf) ? sizeof(buf) : (size_t)limit;
                size_t n = fread(buf, 1, want, f);
                if (n == 0)
                        break;
                fwrite(buf, 1, n, to);
                if (limit > 0)
                        limit -= (long long)n;
        }
        fclose(f);
        fflush(to);
}

/* Print the workload's output until the monitor says the run ended, and
 * with PROGRESS how the end goes ("mlvm: run: NAME: artifacts: ...").
 * 0 at the end; -EINTR after Ctrl-C; another error if the monitor went. */
static int follow(const char *state, const char *id, const char *name, bool quiet, bool progress,
                  struct mlvm_err *e)
{
        _cleanup_close_ int fd = -1;
        _cleanup_json_ json_object *hello = NULL;
        _cleanup_free_ char *output = run_file(state, id, "output.log");
        json_object *x;
        int r;

        _cleanup_json_ json_object *args = json_object_new_object();
        /* The output before this point comes replayed with its streams apart;
         * only when the monitor no longer has it all, merged from output.log. */
        json_object_object_add(args, "replay", json_object_new_boolean(1));
        if ((r = control_connect(state, id, &fd, e)) < 0 || (r = control_send_args(fd, "follow", args, e)) < 0 ||
            (r = control_recv(fd, 10000, &hello, e)) < 0)
                return r;
        bool replayed = json_object_object_get_ex(hello, "replayed", &x) && json_object_get_boolean(x);
        if (!quiet && !replayed)
                cat_file_upto(output, json_object_object_get_ex(hello, "output_offset", &x) ? json_object_get_int64(x) : 0,
                              stdout);
        for (;;) {
                struct pollfd p = { .fd = fd, .events = POLLIN };
                if (interrupted)
                        return -EINTR;
                if (poll(&p, 1, 250) <= 0)
                        continue;
                _cleanup_json_ json_object *m = NULL;
                if ((r = control_recv(fd, 10000, &m, e)) < 0)
                        return r;
                if (json_object_object_get_ex(m, "event", &x))
                        return 0;
                if (progress && json_object_object_get_ex(m, "progress", &x))
                        fprintf(stderr, "mlvm: run: %s: %.256s\n", name, json_object_get_string(x));
                if (quiet)
                        continue;
                if (json_object_object_get_ex(m, "stdout", &x)) {
                        fwrite(json_object_get_string(x), 1, (size_t)json_object_get_string_len(x), stdout);
                        fflush(stdout);
                }
                if (json_object_object_get_ex(m, "stderr", &x)) {
                        fwrite(json_object_get_string(x), 1, (size_t)json_object_get_string_len(x), stderr);
                        fflush(stderr);
                }
        }
}

/* The run's end as recorded, waiting for the monitor to write it. */
static json_object *final_record(const char *state, const char *id)
{
        for (int i = 0; i < 600; i++) {
                json_object *run = NULL, *x;
                if (run_load(state, id, &run, NULL) == 0 && json_object_object_get_ex(run, "state", &x) &&
                    !run_state_is_live(json_object_get_string(x)))
                        return run;
                json_object_put(run);
                struct timespec ts = { 0, 100000000 };
                nanosleep(&ts, NULL);
        }
        return NULL;
}

/* How the run ended, from its record, and the exit status that follows. */
struct outcome {
        const char *state;
        bool have_code, timed_out, arts_ok;
        int code, status;
        json_object *arts;        /* borrowed from the record; NULL when it has none */
        double secs;
};

static void outcome_of(json_object *run, usec_t t0, struct outcome *out)
{
        json_object *x;

        out->state = json_str(run, "state") ?: "?";
        out->have_code = json_object_object_get_ex(run, "exit_code", &x);
        out->code = out->have_code ? json_object_get_int(x) : -1;
        out->timed_out = json_object_object_get_ex(run, "timed_out", &x) && json_object_get_boolean(x);
        out->arts = NULL;
        out->arts_ok = !json_object_object_get_ex(run, "artifacts", &out->arts) ||
                       (json_object_object_get_ex(out->arts, "accepted", &x) && json_object_get_boolean(x));
        out->status = out->timed_out ? EXIT_TIMEOUT
                      : !out->arts_ok || !out->have_code || streq(out->state, RUN_FAILED) || streq(out->state, RUN_STOPPED)
                              ? EXIT_MLVM : out->code;
        out->secs = usec_to_sec(now_usec() - t0);
}

static void print_json(const char *name, const char *id, json_object *run, const struct outcome *o)
{
        _cleanup_json_ json_object *j = json_object_new_object();

        json_object_object_add(j, "name", json_object_new_string(name));
        json_object_object_add(j, "run", json_object_new_string(id));
        json_object_object_add(j, "state", json_object_new_string(o->state));
        json_object_object_add(j, "exit_status", json_object_new_int(o->status));
        if (o->have_code)
                json_object_object_add(j, "workload_exit_code", json_object_new_int(o->code));
        json_object_object_add(j, "timed_out", json_object_new_boolean(o->timed_out));
        json_object_object_add(j, "seconds", json_object_new_double(o->secs));
        if (o->arts)
                json_object_object_add(j, "artifacts", json_object_get(o->arts));
        if (json_str(run, "error"))
                json_object_object_add(j, "error", json_object_new_string(json_str(run, "error")));
        if (json_str(run, "provenance_sha256"))
                json_object_object_add(j, "provenance_sha256", json_object_new_string(json_str(run, "provenance_sha256")));
        cli_print_json(j);
}

/* One line on stderr: why mlvm failed the run, or (unless -q) how it went. */
static void print_text(const struct cli *cli, const char *name, const char *id, json_object *run,
                       const struct outcome *o)
{
        json_object *x;

        if (o->timed_out)
                fprintf(stderr, "mlvm: run: %s: run %s timed out after %s; the workload was stopped (exit %d)\n", name,
                        id, json_str(run, "error") ? json_str(run, "error") + strlen("timed out after ") : "?",
                        EXIT_TIMEOUT);
        else if (!o->arts_ok)
                fprintf(stderr, "mlvm: run: %s: run %s: %s (exit %d)\n", name, id,
                        json_str(run, "error") ?: "artifacts rejected", EXIT_MLVM);
        else if (!o->have_code || o->status == EXIT_MLVM)
                fprintf(stderr, "mlvm: run: %s: run %s %s: %s (exit %d)\n", name, id, o->state,
                        json_str(run, "error") ?: "no exit status", EXIT_MLVM);
        else if (cli->verbosity >= 0) {
                int64_t n = o->arts && json_object_object_get_ex(o->arts, "count", &x) ? json_object_get_int64(x) : -1;
                char art[96] = "";
                if (n >= 0) {
                        double b = json_object_object_get_ex(o->arts, "bytes", &x) ? (double)json_object_get_int64(x) : 0;
                        snprintf(art, sizeof(art), "; %lld artifacts (%.1f MiB) checked", (long long)n, b / 1048576.0);
                }
                fprintf(stderr, "mlvm: run: %s: run %s exited %d in %.1f s%s%s\n", name, id, o->code, o->secs, art,
                        json_str(run, "provenance_sha256") ? "; provenance signed" : "");
        }
}

/* An experiment that started: its configuration, its run, and when it was booted. */
struct started {
        struct mlvm_config *config;
        const struct mlvm_workload *w;
        struct up_result res;
        usec_t t0;
};

static void started_clear(struct started *x)
{
        mlvm_config_freep(&x->config);
}

/* Boot experiment NAME as mlvm up would, with Ctrl-C and SIGTERM noted
 * from then on. Returns 0, or the exit status to give up with. */
static int start(struct cli *cli, struct run_opts *o, const char *state, const char *name, struct started *x)
{
        _cleanup_(mlvm_config_freep) struct mlvm_config *c = NULL;
        struct up_result *res = &x->res;
        struct mlvm_err e = { 0 };
        enum mlvm_accel_request accel;

        if (!o->boot_timeout) {
                const char *env = getenv("MLVM_BOOT_TIMEOUT");
                uint64_t v;
                if (env && parse_uint(env, 1, 3600, &v) == 0)
                        o->boot_timeout = (unsigned)v;
        }
        if (mlvm_config_load(cli->file, &c, &e) < 0)
                return cli_fail(cli, &e), EXIT_MLVM;
        const struct mlvm_workload *w = mlvm_config_find(c, name);
        if (!w) {
                mlvm_config_not_found(c, cli->file, name, &e);
                return cli_fail(cli, &e), EXIT_MLVM;
        }
        if (cli_accel_request(cli, o->accel, w->accel, &accel) < 0)
                return EXIT_USAGE;
        cli_apply_retention(cli, state, c);
        struct up_opts uo = {
                .state_dir = state, .uri = cli->uri, .pool_name = mlvm_pool_name(), .config = c, .workload = w,
                .boot_timeout_s = o->boot_timeout, .experiment = true, .accel = accel,
        };
        (void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);   /* credential values pass through here */
        struct sigaction sa = { .sa_handler = on_sigint };
        sigemptyset(&sa.sa_mask);
        (void)sigaction(SIGINT, &sa, NULL);
        (void)sigaction(SIGTERM, &sa, NULL);
        x->t0 = now_usec();
        int ur = run_up(&uo, res, &e);
        cli_print_notices(cli, res->notices, res->n_notices);
        if (ur < 0)
                return cli_fail(cli, &e), EXIT_MLVM;
        if (cli->verbosity > 0)
                fprintf(stderr, "mlvm: run: %s: run %s started in %.2f s\n", w->name, res->id, res->ready_s);
        x->w = w;
        x->config = TAKE_PTR(c);
        return 0;
}

static int run(struct cli *cli, void *opts, int argc, char **argv)
{
        _cleanup_free_ char *state = mlvm_state_dir();
        _cleanup_(started_clear) struct started x = { 0 };
        struct mlvm_err e = { 0 };
        struct outcome out;
        int r;

        if ((r = start(cli, opts, state, argv[0], &x)) != 0)
                return r;
        const char *name = x.w->name, *id = x.res.id;
        r = follow(state, id, name, cli->json, cli_progress(cli), &e);
        if (r == -EINTR) {
                struct down_result d = { 0 };
                fprintf(stderr, "mlvm: run: %s: interrupted: stopping run %s\n", name, id);
                if (run_down(state, id, &d, &e) < 0)
                        cli_fail(cli, &e);
                return EXIT_INTERRUPTED;
        }
        if (r < 0)
                fprintf(stderr, "mlvm: run: %s: lost the monitor (%s); waiting for the run's record\n", name, e.msg);
        _cleanup_json_ json_object *record = final_record(state, id);
        if (!record) {
                cli_error(cli, "%s: run %s did not record its end", name, id);
                return EXIT_MLVM;
        }
        outcome_of(record, x.t0, &out);
        if (cli->json)
                print_json(name, id, record, &out);
        else
                print_text(cli, name, id, record, &out);
        return out.status;
}

static const struct option options[] = {
        { "boot-timeout", required_argument, NULL, 'T' },
        { "accel", required_argument, NULL, 'X' },
        { NULL, 0, NULL, 0 },
};

const struct verb verb_run = {
        .name = "run",
        .summary = "Run an experiment to completion: live output, checked artifacts, signed provenance",
        .usage = "NAME [--boot-timeout SECONDS] [--accel auto|kvm|tcg]",
        .help = "      --boot-timeout S  how long the agent has to say HELLO (default 60 under TCG, 20 with KVM;\n"
                "                        also $MLVM_BOOT_TIMEOUT)\n"
                "      --accel A         auto, kvm or tcg, as for mlvm up (also $MLVM_ACCEL, accel: in mlvm.yaml)\n"
                "  Exit status: the workload's own; 128+N when signal N ended it; 124 when its timeout: ended\n"
                "  it; 125 when mlvm failed or the artifacts were rejected; 130 after Ctrl-C (the run is stopped).\n"
                "  Artifacts: mlvm artifacts RUN [--out DIR]; provenance: mlvm verify RUN.\n",
        .options = options,
        .on_opt = on_opt,
        .opts_size = sizeof(struct run_opts),
        .args = { .min = 1, .max = 1, .name = "experiment name" },
        .run = run,
};
