/* monitor.c: the per-run supervisor (like conmon for containers); see
 * monitor.h. One detached process per run holds the agent channel (its
 * only client), the serial console and a control socket for the other
 * verbs; it writes the run's state, and tears the run down when the guest
 * powers off, the workload ends or `down` asks. Everything is driven by
 * libvirt's default event loop: stream callbacks, domain lifecycle
 * events, timers and handles for the control socket. Everything from the
 * guest is hostile: frames go through the shared codec, logs are capped.
 *
 * This file is the core's centre: the run's record and files, the
 * handlers (monitor-core.h) and the order they are called in, and the end
 * of the run, from SHUTDOWN to the teardown. The rest of the core is
 * listed in monitor-internal.h. */
#include "mlvm-build.h"

#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "audit.h"
#include "disk.h"
#include "gate.h"
#include "monitor-handlers.h"
#include "monitor-internal.h"
#include "monitor.h"
#include "qemu-id.h"
#include "run.h"
#include "util.h"
#include "virt.h"

#define SHUTDOWN_GRACE (5 * USEC_PER_SEC)

/* The run. */
static const char *state_dir, *run_id;
static char *name;
static json_object *record;
static char *console_path, *output_path;
static uint64_t console_dropped, output_dropped;

/* The frame gate (gate.h): the one reader of the agent's bytes. */
static int gate_fd = -1;
static pid_t gate_pid = -1;

/* Its end. */
static bool ending, done;
static const char *end_state;
static char *end_reason;
static unsigned draining;       /* drain hooks still to call monitor_drained */
static int grace_timer = -1;

void monitor_log(const char *fmt, ...)
{
        /* The monitor's stderr is monitor.log in the run directory. */
        va_list ap;
        va_start(ap, fmt);
        fprintf(stderr, "[%.3f] ", run_now());
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
        va_end(ap);
}

/* Guest text for our records and terminals: printable ASCII only, whole.
 * Not shown() (util.h): that keeps bytes >= 0x80, which would put a
 * hostile guest's invalid UTF-8 into run.json and the audit log (read as
 * strict UTF-8), and cuts at SHOWN_MAX, where the agent's error message
 * (up to 1023 bytes) goes into run.json whole. */
char *monitor_ascii(const char *s)
{
        char *out = xstrdup(s);
        for (char *p = out; *p; p++)
                if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
                        *p = '?';
        return out;
}

const char *monitor_state_dir(void) { return state_dir; }
const char *monitor_run_id(void) { return run_id; }
const char *monitor_name(void) { return name; }
json_object *monitor_record(void) { return record; }
const char *monitor_console_path(void) { return console_path; }
const char *monitor_output_path(void) { return output_path; }
bool monitor_ending(void) { return ending || done; }

void monitor_log_dropped(bool console, size_t n)
{
        uint64_t *count = console ? &console_dropped : &output_dropped;
        if (n == 0)
                return;
        if (*count == 0)
                monitor_log("%s reached its cap of %u MiB: dropping (and counting) what the guest sends on",
                            console ? "console.log" : "output.log",
                            (console ? RUN_CONSOLE_MAX : RUN_OUTPUT_MAX) >> 20);
        *count += n;
}
bool monitor_torn_down(void) { return done; }

usec_t monitor_record_usec(const char *key, usec_t unit, usec_t dflt)
{
        json_object *x;
        if (!json_object_object_get_ex(record, key, &x))
                return dflt;
        int64_t v = json_object_get_int64(x);
        return v < 0 ? USEC_INFINITY : (usec_t)v * unit;
}

int monitor_timer_ms(usec_t usec, int min_ms)
{
        if (usec == USEC_INFINITY)
                return -1;
        usec_t ms = usec / USEC_PER_MSEC;
        return ms < (usec_t)min_ms ? min_ms : ms > INT_MAX ? INT_MAX : (int)ms;
}

/* ---- the handlers ---------------------------------------------------------- */

/* The order their hooks run in: the published ports close before the
 * credentials are revoked, so nothing new reaches a guest that is going;
 * a channel that goes resets the ports' streams before exec's. */
static const struct monitor_handler *const handlers[] = {
        &monitor_publish_handler,
        &monitor_health_handler,
        &monitor_creds_handler,
        &monitor_exec_handler,
        &monitor_artifacts_handler,
};
#define N_HANDLERS (sizeof(handlers) / sizeof(handlers[0]))
_Static_assert(N_HANDLERS <= MONITOR_HANDLERS_MAX, "more handlers than MONITOR_HANDLERS_MAX");

const struct monitor_handler *monitor_handler(size_t i)
{
        return i < N_HANDLERS ? handlers[i] : NULL;
}

/* ---- teardown ------------------------------------------------------------- */

static void set_run_end(json_object *run, void *u)
{
        json_object_object_add(run, "state", json_object_new_string(end_state));
        _cleanup_free_ char *key = xasprintf("%s_at", end_state);
        json_object_object_add(run, key, json_object_new_double(run_now()));
        if (end_reason)
                json_object_object_add(run, "error", json_object_new_string(end_reason));
        monitor_workload_record(run);
        json_object_object_add(run, "console_dropped", json_object_new_uint64(console_dropped));
        json_object_object_add(run, "output_dropped", json_object_new_uint64(output_dropped));
        monitor_restart_record(run);
}

/* The guest is gone: the handlers collect what they keep of its volumes
 * (into KEPT, by handler), then the volumes go. False when that failed. */
static bool release_volumes(bool clean, json_object *kept[N_HANDLERS])
{
        struct mlvm_err e = { 0 };
        virStoragePoolPtr pool = NULL;

        int r = monitor_libvirt_pool(&pool, &e);
        if (r == 0)
                return clean;
        if (r < 0) {
                monitor_log("pool: %s", e.msg);
                return false;
        }
        for (size_t i = 0; clean && i < N_HANDLERS; i++) {
                char *failure = NULL;
                if (handlers[i]->collect)
                        kept[i] = handlers[i]->collect(pool, &failure);
                if (failure) {
                        end_state = RUN_FAILED;
                        free(end_reason);
                        end_reason = failure;
                }
        }
        /* Collecting can take long enough for libvirtd to drop the
         * connection (keepalive): the volumes still go, through a new one. */
        if (!monitor_libvirt_alive() ||
            (virStoragePoolFree(pool), pool = NULL, monitor_libvirt_pool(&pool, &e)) <= 0) {
                monitor_log("pool: %s", e.msg[0] ? e.msg : "libvirt unreachable");
                return false;
        }
        if (disk_delete_run(pool, run_id, &e) < 0) {
                monitor_log("delete volumes: %s", e.msg);
                clean = false;
        }
        virStoragePoolFree(pool);
        return clean;
}

/* The run's end into run.json and the audit log. */
static void record_end(void)
{
        struct mlvm_err e = { 0 };
        int code;

        if (run_update(state_dir, run_id, set_run_end, NULL, &e) < 0)
                monitor_log("run record: %s", e.msg);
        for (size_t i = 0; i < N_HANDLERS; i++)
                if (handlers[i]->finished)
                        handlers[i]->finished();
        json_object *f = json_object_new_object();
        json_object_object_add(f, "run", json_object_new_string(run_id));
        json_object_object_add(f, "name", json_object_new_string(name));
        json_object_object_add(f, "state", json_object_new_string(end_state));
        if (monitor_workload_exit_code(&code))
                json_object_object_add(f, "exit_code", json_object_new_int(code));
        if (audit_append(state_dir, "run.end", f, &e) < 0)
                monitor_log("audit: %s", e.msg);
        json_object_put(f);
}

/* The end event for followers and for whoever asked for down. */
static json_object *end_event(bool clean, json_object *kept[N_HANDLERS])
{
        json_object *end = json_object_new_object();
        int code;

        json_object_object_add(end, "event", json_object_new_string("end"));
        json_object_object_add(end, "state", json_object_new_string(end_state));
        json_object_object_add(end, "clean", json_object_new_boolean(clean));
        if (monitor_workload_exit_code(&code))
                json_object_object_add(end, "exit_code", json_object_new_int(code));
        if (monitor_workload_timed_out())
                json_object_object_add(end, "timed_out", json_object_new_boolean(1));
        if (end_reason)
                json_object_object_add(end, "error", json_object_new_string(end_reason));
        for (size_t i = 0; i < N_HANDLERS; i++)
                if (kept[i])
                        json_object_object_add(end, handlers[i]->name, kept[i]);
        return end;
}

/* The order of the end: the handlers stop (published ports close,
 * credentials nobody confirmed removing are audited so) before the domain
 * goes; then the domain, what the handlers keep of the volumes, the
 * volumes, the record, and last the clients. */
static void teardown(void)
{
        json_object *kept[N_HANDLERS] = { 0 };

        if (done)
                return;
        done = true;
        monitor_log("teardown: %s%s%s", end_state, end_reason ? ": " : "", end_reason ? end_reason : "");
        for (size_t i = 0; i < N_HANDLERS; i++)
                if (handlers[i]->stop)
                        handlers[i]->stop();
        bool gone = monitor_libvirt_destroy();
        bool clean = release_volumes(gone, kept);
        /* QEMU is gone: its uid may serve another run (qemu-id.h). */
        struct mlvm_err e = { 0 };
        if (gone && qemu_id_release_run(QEMU_ID_CLAIMS_DIR, record, &e) < 0)
                monitor_log("uid claim: %s", e.msg);
        int code;
        bool have_code = monitor_workload_exit_code(&code);
        /* A run that restarts keeps its name until the next one claims it
         * (run-restart.h): mlvm down NAME finds it during the backoff. */
        bool restarts = monitor_restart_decide(end_state, clean, have_code, code);
        if (clean && !restarts)
                run_name_clear(state_dir, name, run_id);
        else if (!clean) {
                /* Do not claim an end that left things behind: down cleans up by hand. */
                end_state = RUN_FAILED;
                free(end_reason);
                end_reason = xstrdup("teardown incomplete (libvirt unreachable); run mlvm down again");
        }
        record_end();
        json_object *end = end_event(clean, kept);
        monitor_control_end(end);
        json_object_put(end);
}

void monitor_end(const char *state, const char *fmt, ...)
{
        if (done)
                return;
        if (!end_state) {
                end_state = state;
                if (fmt) {
                        va_list ap;
                        va_start(ap, fmt);
                        if (vasprintf(&end_reason, fmt, ap) < 0)
                                end_reason = NULL;
                        va_end(ap);
                }
        }
        teardown();
}

/* ---- the end, from SHUTDOWN -------------------------------------------------- */

static void on_grace(int timer, void *opaque)
{
        monitor_log("the guest did not power off within %llu ms: destroying it",
                    (unsigned long long)(SHUTDOWN_GRACE / USEC_PER_MSEC));
        monitor_end(RUN_STOPPED, NULL);
}

/* Ask the agent to stop (sync, power off); destroy after a grace period. */
static void send_shutdown(void)
{
        struct mlvm_err e = { 0 };
        if (done)
                return;
        if (monitor_agent_up()) {
                struct proto_msg m = { .type = PROTO_SHUTDOWN, .id = monitor_next_id() };
                if (monitor_send(&m, &e) < 0)
                        monitor_log("SHUTDOWN: %s", e.msg);
        }
        grace_timer = virEventAddTimeout(monitor_timer_ms(SHUTDOWN_GRACE, 0), on_grace, NULL, NULL);
}

/* Let the handlers drain first (the credentials are revoked, with a
 * bounded wait), then ask the agent to stop (sync, power off) and destroy
 * the domain after a grace period. */
void monitor_shutdown(const char *state, const char *why)
{
        if (ending)
                return;
        ending = true;
        end_state = state;
        if (why)
                end_reason = xstrdup(why);
        draining = 1;   /* held until every handler has been asked */
        for (size_t i = 0; i < N_HANDLERS; i++)
                if (handlers[i]->drain && handlers[i]->drain())
                        draining++;
        monitor_drained();
}

void monitor_drained(void)
{
        if (draining > 0 && --draining == 0)
                send_shutdown();
}

void monitor_guest_stopped(const char *why)
{
        if (ending)
                monitor_end(end_state, NULL);
        else if (why)
                monitor_end(RUN_FAILED, "%s (see mlvm logs %s)", why, run_id);
        else if (!monitor_said_hello())
                monitor_end(RUN_FAILED, "the guest stopped before its agent said HELLO (see mlvm logs %s)", run_id);
        else
                monitor_end(RUN_STOPPED, "the guest powered off");
}

/* ---- the start ------------------------------------------------------------------ */

/* The handlers' init (in order: their requests are queued first), the
 * run's own requests, the control socket, then what the handlers open to
 * the outside. */
static int start(int creds_fd, struct mlvm_err *e)
{
        const struct monitor_start st = { .creds_fd = creds_fd };
        int r;
        for (size_t i = 0; i < N_HANDLERS; i++)
                if (handlers[i]->init && (r = handlers[i]->init(&st, e)) < 0)
                        return r;
        if ((r = monitor_workload_plan(e)) < 0 || (r = monitor_control_listen(e)) < 0)
                return r;
        for (size_t i = 0; i < N_HANDLERS; i++)
                if (handlers[i]->open && (r = handlers[i]->open(e)) < 0)
                        return r;
        return 0;
}

static void set_monitor_pid(json_object *run, void *u)
{
        unsigned long long start;
        json_object_object_add(run, "monitor_pid", json_object_new_int((int32_t)getpid()));
        /* With the pid, the start time names this process: gc and down kill
         * nothing else, however the pid is reused (run.h). */
        if (run_proc_start_time(getpid(), &start) == 0)
                json_object_object_add(run, "monitor_start", json_object_new_int64((int64_t)start));
}

/* What this run cost the monitor, for its last line: the peak resident
 * set (VmHWM, of this process image only, unlike ru_maxrss, which keeps
 * the forking mlvm up's) and the CPU time. A hostile guest must not be
 * able to grow either without bound (tests/integration/hostile.sh reads
 * this line). */
static void log_cost(void)
{
        struct rusage ru;
        unsigned long long hwm = 0;
        char line[256];
        _cleanup_fclose_ FILE *f = fopen("/proc/self/status", "re");
        while (f && fgets(line, sizeof(line), f))
                if (sscanf(line, "VmHWM: %llu kB", &hwm) == 1)
                        break;
        if (getrusage(RUSAGE_SELF, &ru) < 0)
                memset(&ru, 0, sizeof(ru));
        double cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
                     (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
        monitor_log("monitor exits (peak RSS %llu KiB, CPU %.2f s)", hwm, cpu);
}

int monitor_gate_fd(void)
{
        return gate_fd;
}

/* Narrow privileges: the agent's bytes are parsed by a child that runs as
 * the run's own uid, without capabilities, under seccomp (gate.h). It is
 * started before this process connects to libvirt or reads a credential,
 * and it is exec'd: it holds none of them. */
static int start_gate(struct mlvm_err *e)
{
        uid_t uid;
        gid_t gid;
        gate_identity(record, &uid, &gid);
        int r = gate_spawn(run_id, uid, gid, &gate_fd, &gate_pid, e);
        if (r < 0)
                return r;
        monitor_log("frame gate %d runs as uid %u gid %u", (int)gate_pid, (unsigned)uid, (unsigned)gid);
        return 0;
}

/* The gate goes with its socket; say how it ended and what it cost. */
static void stop_gate(void)
{
        struct rusage ru;
        int st = 0;
        pid_t r;

        if (gate_pid <= 0)
                return;
        close(gate_fd);
        gate_fd = -1;
        while ((r = wait4(gate_pid, &st, 0, &ru)) < 0 && errno == EINTR)
                ;
        if (r != gate_pid)
                return;
        double cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
                     (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
        if (WIFSIGNALED(st))
                monitor_log("frame gate killed by signal %d%s (peak RSS %ld KiB, CPU %.2f s)", WTERMSIG(st),
                            WTERMSIG(st) == SIGSYS ? ", a call its seccomp filter refuses" : "", ru.ru_maxrss, cpu);
        else
                monitor_log("frame gate exits %d (peak RSS %ld KiB, CPU %.2f s)", WEXITSTATUS(st), ru.ru_maxrss, cpu);
}

int monitor_run(const char *dir, const char *id, int creds_fd)
{
        struct mlvm_err e = { 0 };

        state_dir = dir;
        run_id = id;
        signal(SIGPIPE, SIG_IGN);
        /* Credentials pass through this process: no core dumps, no ptrace by others. */
        (void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
        virt_init();
        if (run_load(state_dir, run_id, &record, &e) < 0) {
                monitor_log("%s", e.msg);
                return 1;
        }
        name = xstrdup(json_str(record, "name") ?: "");
        console_path = run_file(state_dir, run_id, "console.log");
        output_path = run_file(state_dir, run_id, "output.log");
        monitor_libvirt_init();
        if (!monitor_session_init() || run_update(state_dir, run_id, set_monitor_pid, NULL, &e) < 0 ||
            start_gate(&e) < 0 || start(creds_fd, &e) < 0) {
                monitor_log("%s", e.msg[0] ? e.msg : "no random bytes");
                monitor_end(RUN_FAILED, "monitor: %s", e.msg);
                stop_gate();
                return 1;
        }
        monitor_log("monitor of run %s (%s) on %s", run_id, monitor_domain_name(), monitor_uri());
        monitor_session_await_hello();
        if (monitor_libvirt_attach(&e) < 0) {
                monitor_log("%s", e.msg);
                monitor_end(RUN_FAILED, "monitor: %s", e.msg);
                stop_gate();
                return 1;
        }
        while (!done)
                if (virEventRunDefaultImpl() < 0)
                        break;
        if (!done)
                monitor_end(RUN_FAILED, "monitor: event loop failed");
        monitor_libvirt_detach();
        stop_gate();
        log_cost();
        return monitor_restart_run(streq(end_state, RUN_FAILED) ? 1 : 0);
}
