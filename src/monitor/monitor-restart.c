/* monitor-restart.c: restart: on-failure | always (run-restart.h), the
 * monitor's side. At the teardown it decides whether the run restarts
 * (never after mlvm down, nor past restart_max); the ended record then
 * says restart_pending and keeps its name. Once the teardown is over and
 * the event loop gone, the monitor waits the backoff, looking at the
 * record so that a down during the wait cancels at once, then becomes
 * `mlvm up --restart-of RUNID NAME` (exec: the run's monitor.log gets
 * what that up says), which starts the next run, with its own monitor,
 * if the restart is still pending by then. */
#include "mlvm-build.h"

#include <signal.h>
#include <time.h>

#include "monitor-internal.h"
#include "run-restart.h"
#include "run.h"
#include "units.h"
#include "util.h"

static bool down_asked, pending;
static usec_t delay = MLVM_RESTART_DELAY_DEFAULT_S * USEC_PER_SEC;
static char *stopped;           /* why a policy's restart did not happen */

void monitor_restart_note_down(void)
{
        down_asked = true;
}

bool monitor_restart_decide(const char *end_state, bool clean, bool have_code, int code)
{
        json_object *cfg, *x;
        enum mlvm_restart policy = MLVM_RESTART_NO;
        unsigned max = MLVM_RESTART_MAX_DEFAULT, count = 0;
        json_object *run = monitor_record();

        if (json_object_object_get_ex(run, "config", &cfg)) {
                const char *p = json_str(cfg, "restart");
                if (p && mlvm_restart_parse(p, &policy) < 0)
                        policy = MLVM_RESTART_NO;
                if (json_object_object_get_ex(cfg, "restart_max", &x))
                        max = (unsigned)json_object_get_int(x);
                uint64_t d;
                if (json_str(cfg, "restart_delay") && parse_duration(json_str(cfg, "restart_delay"), &d) == 0 && d > 0)
                        delay = d * USEC_PER_SEC;
        }
        if (json_object_object_get_ex(run, "restart_count", &x))
                count = (unsigned)json_object_get_int(x);
        if (policy == MLVM_RESTART_NO || down_asked)
                return false;
        if (!clean) {
                stopped = xstrdup("the teardown was incomplete");
                return false;
        }
        if (!json_str(run, "mlvm_exe")) {
                stopped = xstrdup("the record names no mlvm to restart with");
                return false;
        }
        pending = run_restart_wanted(policy, end_state, have_code, code, false, count, max);
        if (!pending && count >= max)
                stopped = xasprintf("restart_max %u reached", max);
        return pending;
}

void monitor_restart_record(json_object *run)
{
        if (pending)
                json_object_object_add(run, "restart_pending", json_object_new_boolean(1));
        if (stopped)
                json_object_object_add(run, "restart_stopped", json_object_new_string(stopped));
}

/* The restart's command line: the same file, connection, boot timeout
 * and accelerator request as this run, and the same options given to its
 * up beyond the file (--publish, --publish-public, --kernel-args: the
 * record's up_options). The file is read again: a restart starts the
 * model as the file says now. */
static char **restart_argv(json_object *run)
{
        const char *cfile = json_str(run, "config_file") ?: "mlvm.yaml", *cdir = json_str(run, "config_dir");
        const char *slash = strrchr(cfile, '/');
        json_object *x, *uo = NULL, *pub = NULL;
        if (json_object_object_get_ex(run, "up_options", &uo) && !json_object_object_get_ex(uo, "publish", &pub))
                pub = NULL;
        size_t n_pub = json_object_is_type(pub, json_type_array) ? json_object_array_length(pub) : 0;
        char **argv = xcalloc(20 + 2 * n_pub, sizeof(*argv));
        size_t n = 0;

        argv[n++] = xstrdup("mlvm");
        argv[n++] = xstrdup("--connect");
        argv[n++] = xstrdup(json_str(run, "uri") ?: "qemu:///system");
        argv[n++] = xstrdup("-f");
        argv[n++] = cdir ? xasprintf("%s/%s", cdir, slash ? slash + 1 : cfile) : xstrdup(cfile);
        argv[n++] = xstrdup("up");
        if (json_object_object_get_ex(run, "boot_timeout_s", &x)) {
                argv[n++] = xstrdup("--timeout");
                argv[n++] = xasprintf("%d", json_object_get_int(x));
        }
        if (json_str(run, "accel_requested")) {
                argv[n++] = xstrdup("--accel");
                argv[n++] = xstrdup(json_str(run, "accel_requested"));
        }
        for (size_t i = 0; i < n_pub; i++) {
                const char *spec = json_object_get_string(json_object_array_get_idx(pub, i));
                if (spec) {
                        argv[n++] = xstrdup("--publish");
                        argv[n++] = xstrdup(spec);
                }
        }
        if (uo && json_object_object_get_ex(uo, "publish_public", &x) && json_object_get_boolean(x))
                argv[n++] = xstrdup("--publish-public");
        if (uo && json_str(uo, "kernel_args")) {
                argv[n++] = xstrdup("--kernel-args");
                argv[n++] = xstrdup(json_str(uo, "kernel_args"));
        }
        argv[n++] = xstrdup("--restart-of");
        argv[n++] = xstrdup(monitor_run_id());
        argv[n++] = xstrdup(monitor_name());
        return argv;
}

int monitor_restart_run(int status)
{
        struct mlvm_err e = { 0 };
        json_object *x;
        unsigned count = json_object_object_get_ex(monitor_record(), "restart_count", &x)
                                 ? (unsigned)json_object_get_int(x) : 0;
        usec_t wait = run_restart_backoff(delay, count), deadline = now_usec() + wait;

        if (!pending)
                return status;
        monitor_log("restart %u of %s in %.1f s", count + 1, monitor_name(), usec_to_sec(wait));
        /* A down during the wait marks the record (run_restart_cancel): looked at every 100 ms. */
        for (;;) {
                if (run_restart_check(monitor_state_dir(), monitor_run_id(), &e) < 0) {
                        monitor_log("%s", e.msg);
                        return status;
                }
                if (now_usec() >= deadline)
                        break;
                struct timespec ts = { 0, 100000000 };
                nanosleep(&ts, NULL);
        }
        char **argv = restart_argv(monitor_record());
        const char *exe = json_str(monitor_record(), "mlvm_exe");
        monitor_log("restarting: %s up%s --restart-of %s %s", exe,
                    json_object_object_get_ex(monitor_record(), "up_options", NULL) ? " (with its options)" : "",
                    monitor_run_id(), monitor_name());
        fflush(stderr);
        /* The monitor ignores SIGPIPE; the up (and the exec: credential
         * sources it runs) get the default back, as from a shell. */
        signal(SIGPIPE, SIG_DFL);
        execv(exe, argv);
        monitor_log("restart: exec %s: %s", exe, strerror(errno));
        run_restart_abandon(monitor_state_dir(), monitor_run_id(), "the monitor could not run mlvm up");
        return status;
}
