/* cmd-logs.c: mlvm logs NAME|RUN [-f] [--tail N] [--since T]
 * [--timestamps]: the guest console and the workload's output; -f follows
 * them through the monitor until the run ends. Line times come from the
 * logs' .times files (run-logs.h). */
#include "mlvm-build.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>

#include "cleanup.h"
#include "cli.h"
#include "control.h"
#include "paths.h"
#include "run-logs.h"
#include "run.h"
#include "units.h"
#include "util.h"

#define LOGS_TAIL_MAX 10000000ull

struct logs_opts {
        bool follow, console_only, output_only, timestamps;
        bool has_tail, has_since;
        uint64_t tail;
        double since;
};

static int on_opt(struct cli *cli, int c, const char *arg, void *u)
{
        struct logs_opts *o = u;
        char b[SHOWN_MAX];
        switch (c) {
        case 'F': o->follow = true; return 0;
        case 'C': o->console_only = true; return 0;
        case 'O': o->output_only = true; return 0;
        case 't': o->timestamps = true; return 0;
        case 'n':
                if (parse_uint(arg, 0, LOGS_TAIL_MAX, &o->tail) < 0) {
                        cli_usage_error(cli, "--tail %s: expected a number of lines, 0 to %llu", shown(arg, b),
                                        LOGS_TAIL_MAX);
                        return -1;
                }
                o->has_tail = true;
                return 0;
        case 'S':
                if (logs_parse_since(arg, run_now(), &o->since) < 0) {
                        cli_usage_error(cli, "--since %s: expected a duration (10m, 2h) or a UTC time "
                                             "(2026-01-02T15:04:05Z)", shown(arg, b));
                        return -1;
                }
                o->has_since = true;
                return 0;
        default: return -1;
        }
}

static int check(struct cli *cli, const void *opts, int argc, char **argv)
{
        const struct logs_opts *o = opts;
        /* Streamed chunks carry no time yet: the stored part only would be half an answer. */
        if (o->follow && (o->timestamps || o->has_since))
                return cli_usage_error(cli, "--timestamps and --since do not go with --follow (yet)"), -1;
        return 0;
}

static void stamp(double t, bool known, char *buf, size_t len)
{
        time_t s = (time_t)t;
        struct tm tm;
        char base[32];
        if (!known || !gmtime_r(&s, &tm) || strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm) == 0) {
                (void)snprintf(buf, len, "%-24s", "-");
                return;
        }
        int ms = (int)((t - (double)s) * 1000);
        (void)snprintf(buf, len, "%s.%03dZ", base, ms < 0 ? 0 : ms > 999 ? 999 : ms);
}

/* The first LIMIT bytes of PATH (LIMIT < 0: all), line by line: only lines
 * written since O->since, the last O->tail of them, each after its time. */
static void show_lines(const struct cli *cli, const char *path, long long limit, const struct logs_opts *o)
{
        _cleanup_free_ char *buf = NULL;
        struct log_times lt = { 0 };
        size_t len;

        if (read_file_capped(path, RUN_OUTPUT_MAX > RUN_CONSOLE_MAX ? RUN_OUTPUT_MAX + 4096 : RUN_CONSOLE_MAX + 4096,
                             &buf, &len) < 0)
                return;
        if (limit >= 0 && (size_t)limit < len)
                len = (size_t)limit;
        bool have_times = log_times_load(path, &lt) == 0 && lt.n > 0;
        if (!have_times && len && (o->timestamps || o->has_since) && cli->verbosity >= 0) {
                const char *base = strrchr(path, '/');
                fprintf(stderr, "mlvm: logs: note: %s has no write times (written before mlvm recorded them)%s\n",
                        base ? base + 1 : path, o->has_since ? "; --since leaves it out" : "");
        }
        /* Starts of the lines kept, then the last TAIL of them. */
        size_t *starts = xcalloc(1, sizeof(*starts)), n = 0;
        for (size_t i = 0; i < len;) {
                const char *nl = memchr(buf + i, '\n', len - i);
                size_t next = nl ? (size_t)(nl - buf) + 1 : len;
                double t;
                bool known = have_times && log_times_at(&lt, i, &t);
                if (!o->has_since || (known && t >= o->since)) {
                        starts = xreallocarray(starts, n + 1, sizeof(*starts));
                        starts[n++] = i;
                }
                i = next;
        }
        size_t first = o->has_tail && o->tail < n ? n - (size_t)o->tail : 0;
        for (size_t k = first; k < n; k++) {
                size_t i = starts[k];
                const char *nl = memchr(buf + i, '\n', len - i);
                size_t end = nl ? (size_t)(nl - buf) + 1 : len;
                if (o->timestamps) {
                        char ts[40];
                        double t = 0;
                        bool known = have_times && log_times_at(&lt, i, &t);
                        stamp(t, known, ts, sizeof(ts));
                        printf("%s ", ts);
                }
                fwrite(buf + i, 1, end - i, stdout);
        }
        free(starts);
        log_times_clear(&lt);
        fflush(stdout);
}

/* Copy the first LIMIT bytes of PATH to stdout (LIMIT < 0: all of it). */
static void cat_file(const char *path, long long limit)
{
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        char buf[65536];
        if (fd < 0)
                return;
        while (limit != 0) {
                size_t want = limit < 0 || limit > (long long)sizeof(buf) ? sizeof(buf) : (size_t)limit;
                ssize_t n = read(fd, buf, want);
                if (n <= 0)
                        break;
                fwrite(buf, 1, (size_t)n, stdout);
                if (limit > 0)
                        limit -= n;
        }
        fflush(stdout);
}

/* A run that failed keeps what says why: the monitor's messages and the
 * tail of libvirt's QEMU log ("Permission denied", "KVM internal error"). */
static void failure_evidence(const char *state, const char *id)
{
        static const char *const files[][2] = { { "monitor.log", "the monitor's log" },
                                                { "qemu.log", "libvirt's log of QEMU (tail)" } };
        _cleanup_json_ json_object *run = NULL;
        json_object *x;
        if (run_load(state, id, &run, NULL) < 0 || !json_object_object_get_ex(run, "state", &x) ||
            !streq(json_object_get_string(x), RUN_FAILED))
                return;
        if (json_object_object_get_ex(run, "error", &x) && json_object_is_type(x, json_type_string)) {
                char why[SHOWN_MAX];
                /* The console need not end its last line. */
                printf("\n--- the run failed: %s ---\n", shown(json_object_get_string(x), why));
        }
        for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
                _cleanup_free_ char *path = run_file(state, id, files[i][0]);
                struct stat st;
                if (stat(path, &st) < 0 || st.st_size == 0)
                        continue;
                printf("--- %s: %s ---\n", files[i][0], files[i][1]);
                fflush(stdout);
                cat_file(path, 1 << 20);
        }
}

static int run(struct cli *cli, void *opts, int argc, char **argv)
{
        const struct logs_opts *o = opts;
        _cleanup_free_ char *state = mlvm_state_dir();
        struct mlvm_err e = { 0 };
        char id[RUN_ID_LEN + 1];

        if (run_resolve(state, argv[0], id, &e) < 0)
                return cli_fail(cli, &e);
        _cleanup_free_ char *console = run_file(state, id, "console.log"), *output = run_file(state, id, "output.log");
        bool want_console = !o->output_only, want_output = !o->console_only;
        _cleanup_close_ int fd = -1;
        _cleanup_json_ json_object *hello = NULL;
        long long con_off = -1, out_off = -1;

        /* Follow: subscribe first, then print the files up to where the stream starts. */
        if (o->follow && control_connect(state, id, &fd, NULL) == 0 && control_send(fd, "follow", &e) == 0 &&
            control_recv(fd, 10000, &hello, &e) == 0) {
                json_object *x;
                con_off = json_object_object_get_ex(hello, "console_offset", &x) ? json_object_get_int64(x) : -1;
                out_off = json_object_object_get_ex(hello, "output_offset", &x) ? json_object_get_int64(x) : -1;
        }
        bool by_line = o->has_tail || o->has_since || o->timestamps;
        if (want_console)
                by_line ? show_lines(cli, console, con_off, o) : cat_file(console, con_off);
        if (want_output)
                by_line ? show_lines(cli, output, out_off, o) : cat_file(output, out_off);
        /* The evidence of a failure is there in full, unless lines were asked for. */
        if (want_console && want_output && !by_line)
                failure_evidence(state, id);
        if (!o->follow || fd < 0 || !hello)
                return EXIT_OK;
        for (;;) {
                _cleanup_json_ json_object *m = NULL;
                json_object *x;
                if (control_recv(fd, -1, &m, &e) < 0) {
                        /* The monitor says "end" before it closes; anything else is a loss. */
                        cli_error(cli, "follow: lost the monitor of run %s: %s", id, e.msg);
                        return EXIT_FAIL;
                }
                if (json_object_object_get_ex(m, "event", &x))
                        return EXIT_OK;
                if (want_console && json_object_object_get_ex(m, "console", &x))
                        fwrite(json_object_get_string(x), 1, (size_t)json_object_get_string_len(x), stdout);
                if (want_output && json_object_object_get_ex(m, "stdout", &x))
                        fwrite(json_object_get_string(x), 1, (size_t)json_object_get_string_len(x), stdout);
                if (want_output && json_object_object_get_ex(m, "stderr", &x))
                        fwrite(json_object_get_string(x), 1, (size_t)json_object_get_string_len(x), stdout);
                fflush(stdout);
        }
}

static const struct option options[] = {
        { "follow", no_argument, NULL, 'F' },
        { "console", no_argument, NULL, 'C' },
        { "output", no_argument, NULL, 'O' },
        { "tail", required_argument, NULL, 'n' },
        { "since", required_argument, NULL, 'S' },
        { "timestamps", no_argument, NULL, 't' },
        { NULL, 0, NULL, 0 },
};

/* -f is also the global -f FILE: after "logs" it is always --follow (logs
 * reads no configuration file); before the verb, or as --file, the file. */
static const struct alias aliases[] = {
        { "-f", "--follow", "--file FILE" },
        { NULL, NULL, NULL },
};

const struct verb verb_logs = {
        .name = "logs",
        .summary = "Show a run's console and workload output (-f follows it); a failed run's adds its monitor's "
                   "and QEMU's logs",
        .usage = "NAME|RUN [-f] [--console|--output] [--tail N] [--since T] [--timestamps]",
        .help = "  -f, --follow        keep printing as the run goes, until it ends (after the verb, -f is\n"
                "                      always --follow, never the global -f FILE)\n"
                "      --console       only the guest's serial console\n"
                "      --output        only the workload's stdout and stderr\n"
                "  -n, --tail N        only the last N lines of each (with -f: of what was written before)\n"
                "      --since T       only lines written since T: a duration ago (10m, 2h) or a UTC time\n"
                "                      (2026-01-02T15:04:05Z)\n"
                "  -t, --timestamps    each line after the time the monitor received it (UTC), - when\n"
                "                      unknown: logs written before mlvm recorded times have none\n",
        .shortopts = "n:t",
        .options = options,
        .on_opt = on_opt,
        .opts_size = sizeof(struct logs_opts),
        .aliases = aliases,
        .args = { .min = 1, .max = 1, .name = "name or run id" },
        .check = check,
        .run = run,
};
