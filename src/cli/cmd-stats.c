/* cmd-stats.c: mlvm stats [NAME|RUN...] [--no-stream] [--json]: CPU,
 * memory and disk figures of live runs, from libvirt's domain stats
 * (run-stats.h), refreshed every second until Ctrl-C, or once. */
#include "mlvm-build.h"

#include <signal.h>
#include <unistd.h>

#include "cleanup.h"
#include "cli.h"
#include "paths.h"
#include "run-stats.h"
#include "util.h"

/* CPU % needs two samples: this far apart, as docker stats. */
#define STATS_INTERVAL_MS 1000

struct stats_opts {
        bool no_stream;
};

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
        (void)sig;
        interrupted = 1;
}

static int on_opt(struct cli *cli, int c, const char *arg, void *u)
{
        struct stats_opts *o = u;
        (void)cli;
        (void)arg;
        switch (c) {
        case 'N': o->no_stream = true; return 0;
        default: return -1;
        }
}

/* Sleep one interval; false when Ctrl-C came. */
static bool wait_interval(void)
{
        struct timespec ts = { STATS_INTERVAL_MS / 1000, (STATS_INTERVAL_MS % 1000) * 1000000L };
        while (!interrupted && nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
        return !interrupted;
}

static void print_table(const struct stats_row *rows, size_t n, bool redraw)
{
        char line[256];
        /* On a terminal the table is redrawn in place, as top and docker stats do. */
        if (redraw)
                fputs("\033[H\033[2J", stdout);
        printf("%s\n", stats_table_header());
        for (size_t i = 0; i < n; i++) {
                stats_format_row(&rows[i], line, sizeof(line));
                printf("%s\n", line);
        }
        fflush(stdout);
}

static int run(struct cli *cli, void *opts, int argc, char **argv)
{
        struct stats_opts *o = opts;
        const bool once = o->no_stream || cli->json;
        const bool redraw = !once && isatty(STDOUT_FILENO);
        _cleanup_free_ char *state = mlvm_state_dir();
        _cleanup_(run_stats_freep) struct run_stats *st = NULL;
        struct mlvm_err e = { 0 };
        struct stats_row *rows = NULL;
        size_t n = 0;

        if (run_stats_open(state, cli->uri, argv, (size_t)argc, &st, &e) < 0 ||
            run_stats_sample(st, &rows, &n, &e) < 0)
                return cli_fail(cli, &e);
        struct sigaction sa = { .sa_handler = on_sigint };   /* no SA_RESTART: the sleep ends */
        (void)sigaction(SIGINT, &sa, NULL);
        (void)sigaction(SIGTERM, &sa, NULL);
        /* The first sample only starts the CPU clock: wait one interval
         * before showing figures, unless there is no run to wait for. */
        for (;;) {
                if (n > 0 && !wait_interval())
                        break;
                stats_rows_free(rows, n);
                rows = NULL;
                n = 0;
                if (run_stats_sample(st, &rows, &n, &e) < 0)
                        return cli_fail(cli, &e);
                if (cli->json) {
                        _cleanup_json_ json_object *a = stats_rows_to_json(rows, n);
                        cli_print_json(a);
                } else
                        print_table(rows, n, redraw);
                if (once || (n == 0 && !wait_interval()))
                        break;
        }
        stats_rows_free(rows, n);
        return EXIT_OK;
}

static const struct option options[] = {
        { "no-stream", no_argument, NULL, 'N' },
        { NULL, 0, NULL, 0 },
};

const struct verb verb_stats = {
        .name = "stats",
        .summary = "Show the CPU, memory and disk I/O of live runs (libvirt's domain stats)",
        .usage = "[NAME|RUN...] [--no-stream] [--json]",
        .help = "      --no-stream     print one table, after one sampling interval (1 s), and exit;\n"
                "                      without it the table is refreshed every second until Ctrl-C\n"
                "                      (redrawn on a terminal, appended otherwise)\n"
                "  CPU % is of one host CPU (100% = one CPU busy); MEM USAGE is QEMU's resident memory\n"
                "  on the host against the guest's memory; BLOCK I/O and OPS are totals since the start,\n"
                "  over the run's disks. With --json: one array (as --no-stream). Without a name: every\n"
                "  live run of this state directory on this connection; a name or run id that names\n"
                "  no live run is an error\n",
        .options = options,
        .on_opt = on_opt,
        .opts_size = sizeof(struct stats_opts),
        .args = { .min = 0, .max = ARGS_ANY },
        .run = run,
};
