/* monitor-workload.c: what the run itself asks of the agent (see
 * monitor-internal.h): its data disks (MOUNT) and its workload (EXEC),
 * queued after the handlers' requests; the workload's output, its
 * timeout, which starts with its EXEC, and its exit. */
#include "mlvm-build.h"

#include "monitor-internal.h"
#include "run.h"
#include "util.h"

static usec_t timeout;          /* the workload's; 0 or USEC_INFINITY: none */
static int timeout_timer = -1;
static bool timed_out;
static bool have_exit;
static int exit_code, exit_signal;
static double exit_at;          /* when the agent reported EXIT (wall clock, for the record) */

bool monitor_workload_exited(void) { return have_exit; }
bool monitor_workload_timed_out(void) { return timed_out; }

bool monitor_workload_exit_code(int *ret_code)
{
        if (have_exit)
                *ret_code = exit_code;
        return have_exit;
}

void monitor_workload_record(json_object *run)
{
        if (have_exit) {
                json_object_object_add(run, "exit_code", json_object_new_int(exit_code));
                json_object_object_add(run, "exit_signal", json_object_new_int(exit_signal));
        }
        if (timed_out)
                json_object_object_add(run, "timed_out", json_object_new_boolean(1));
        if (exit_at > 0)
                json_object_object_add(run, "workload_exit_at", json_object_new_double(exit_at));
}

/* The workload ran past its timeout: stop it; `mlvm run` says 124. */
static void on_timeout(int timer, void *opaque)
{
        virEventRemoveTimeout(timer);
        timeout_timer = -1;
        if (monitor_ending())
                return;
        timed_out = true;
        have_exit = true;
        exit_code = 124;
        exit_signal = 0;
        unsigned long long s = timeout / USEC_PER_SEC;
        monitor_log("the workload ran longer than its timeout of %llu s: stopping it", s);
        _cleanup_free_ char *why = xasprintf("timed out after %llu s", s);
        monitor_shutdown(RUN_EXITED, why);
}

/* The workload's clock starts with its EXEC. */
static void exec_before_send(struct proto_msg *m, void *opaque)
{
        if (timeout > 0 && timeout != USEC_INFINITY && timeout_timer < 0)
                timeout_timer = virEventAddTimeout(monitor_timer_ms(timeout, 0), on_timeout, NULL, NULL);
}

static const struct monitor_request_ops exec_ops = { .before_send = exec_before_send };

void monitor_workload_on_output(const struct proto_msg *m)
{
        if (m->u.stdio.stream != PROTO_STDOUT && m->u.stdio.stream != PROTO_STDERR) {
                monitor_shutdown(RUN_FAILED, "the agent sent output on an unknown stream");
                return;
        }
        const char *key = m->u.stdio.stream == PROTO_STDERR ? "stderr" : "stdout";
        monitor_log_dropped(false, run_log_append(monitor_output_path(), m->u.stdio.data, m->u.stdio.len,
                                                  RUN_OUTPUT_MAX));
        monitor_broadcast(key, m->u.stdio.data, m->u.stdio.len);
}

void monitor_workload_on_exit(const struct proto_msg *m)
{
        /* Values from the guest: an exit status is 0-255, a signal 1-127, never both. */
        if (m->u.exit.code > 255 || m->u.exit.signal > 127 || (m->u.exit.code && m->u.exit.signal)) {
                monitor_shutdown(RUN_FAILED, "the agent sent an invalid EXIT");
                return;
        }
        have_exit = true;
        exit_at = run_now();
        exit_signal = (int)m->u.exit.signal;
        exit_code = m->u.exit.signal ? 128 + (int)m->u.exit.signal : (int)m->u.exit.code;
        monitor_log("workload ended: exit code %d", exit_code);
        monitor_shutdown(RUN_EXITED, NULL);
}

/* The run's data disks, in order. */
static int plan_mounts(json_object *run, struct mlvm_err *e)
{
        json_object *mounts;
        if (!json_object_object_get_ex(run, "mounts", &mounts))
                return 0;
        for (size_t i = 0; i < json_object_array_length(mounts); i++) {
                json_object *x = json_object_array_get_idx(mounts, i);
                struct proto_msg *m = xcalloc(1, sizeof(*m));
                m->type = PROTO_MOUNT;
                proto_strlcpy(m->u.mount.serial, json_str(x, "serial") ?: "", sizeof(m->u.mount.serial));
                proto_strlcpy(m->u.mount.path, json_str(x, "path") ?: "", sizeof(m->u.mount.path));
                proto_strlcpy(m->u.mount.fstype, json_str(x, "fstype") ?: "iso9660", sizeof(m->u.mount.fstype));
                if (monitor_queue(m, NULL, NULL) < 0)
                        return err_setx(e, -E2BIG, "too many mounts");
        }
        return 0;
}

/* The workload, last. */
static int plan_exec(json_object *run, struct mlvm_err *e)
{
        json_object *cmd, *env;
        if (!json_object_object_get_ex(run, "command", &cmd) || json_object_array_length(cmd) == 0)
                return 0;
        struct proto_msg *m = xcalloc(1, sizeof(*m));
        m->type = PROTO_EXEC;
        for (size_t i = 0; i < json_object_array_length(cmd); i++)
                if (proto_strv_add(&m->u.exec.argv, json_object_get_string(json_object_array_get_idx(cmd, i))) < 0)
                        return err_setx(e, -E2BIG, "command too long for one EXEC");
        if (json_object_object_get_ex(run, "env", &env)) {
                json_object_object_foreach(env, k, v) {
                        _cleanup_free_ char *kv = xasprintf("%s=%s", k, json_object_get_string(v));
                        if (proto_strv_add(&m->u.exec.env, kv) < 0)
                                return err_setx(e, -E2BIG, "env too long for one EXEC");
                }
        }
        (void)proto_strv_add(&m->u.exec.env, "HOME=/home/mlvm");
        proto_strlcpy(m->u.exec.cwd, "/home/mlvm", sizeof(m->u.exec.cwd));
        if (json_str(run, "artifacts_dir") && json_str(run, "artifacts_serial")) {
                proto_strlcpy(m->u.exec.artifacts_dir, json_str(run, "artifacts_dir"), sizeof(m->u.exec.artifacts_dir));
                proto_strlcpy(m->u.exec.artifacts_serial, json_str(run, "artifacts_serial"),
                              sizeof(m->u.exec.artifacts_serial));
                _cleanup_free_ char *kv = xasprintf("MLVM_ARTIFACTS=%s", m->u.exec.artifacts_dir);
                (void)proto_strv_add(&m->u.exec.env, kv);
        }
        if (monitor_queue(m, &exec_ops, NULL) < 0)
                return err_setx(e, -E2BIG, "too many requests");
        return 0;
}

int monitor_workload_plan(struct mlvm_err *e)
{
        json_object *run = monitor_record();
        int r;
        timeout = monitor_record_usec("timeout_s", USEC_PER_SEC, 0);
        if ((r = plan_mounts(run, e)) < 0)
                return r;
        return plan_exec(run, e);
}
