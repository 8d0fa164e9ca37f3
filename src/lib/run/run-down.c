/* run-down.c: stop a run; see run-down.h. */
#include "mlvm-build.h"

#include <signal.h>
#include <time.h>

#include "audit.h"
#include "control.h"
#include "disk.h"
#include "mtime.h"
#include "paths.h"
#include "qemu-id.h"
#include "run-down.h"
#include "run-restart.h"
#include "run.h"
#include "util.h"
#include "virt.h"
#include "volume.h"

#define DOWN_TIMEOUT_MS 30000
/* How long down waits for an `mlvm up` of the run that is still creating
 * it: past the longest HELLO deadline (MLVM_BOOT_TIMEOUT caps at 3600 s). */
#define DOWN_UP_WAIT_MS (3700 * 1000)

static const char *jstr(json_object *o, const char *key)
{
        json_object *v;
        return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string)
                       ? json_object_get_string(v) : NULL;
}

static int via_monitor(const char *state_dir, const char *id, struct mlvm_err *e)
{
        _cleanup_close_ int fd = -1;
        int r = control_connect(state_dir, id, &fd, e);
        if (r < 0 || (r = control_send(fd, "down", e)) < 0)
                return r;
        for (;;) {
                _cleanup_json_ json_object *o = NULL;
                if ((r = control_recv(fd, DOWN_TIMEOUT_MS, &o, e)) < 0)
                        return r;
                const char *ev = jstr(o, "event");
                json_object *clean;
                if (ev && streq(ev, "end"))
                        return json_object_object_get_ex(o, "clean", &clean) && !json_object_get_boolean(clean)
                                       ? err_setx(e, -EIO, "the monitor could not finish the teardown")
                                       : 0;
                if (jstr(o, "error"))
                        return err_setx(e, -EIO, "monitor: %s", jstr(o, "error"));
        }
}

struct stop_info {
        const char *why;
};

static void mark_stopped(json_object *run, void *u)
{
        const struct stop_info *s = u;
        json_object *x;
        const char *state = json_object_object_get_ex(run, "state", &x) ? json_object_get_string(x) : "";
        if (!run_state_is_live(state))
                return;
        json_object_object_add(run, "state", json_object_new_string(s->why ? RUN_FAILED : RUN_STOPPED));
        json_object_object_add(run, s->why ? "failed_at" : "stopped_at", json_object_new_double(run_now()));
        if (s->why)
                json_object_object_add(run, "error", json_object_new_string(s->why));
}

/* Without a monitor: destroy and delete through libvirt directly. */
static int by_hand(const char *state_dir, const char *id, json_object *run, bool monitor_lost, bool *destroyed,
                   bool *pool_restarted, struct mlvm_err *e)
{
        _cleanup_virConnect_ virConnectPtr conn = NULL;
        json_object *x;
        pid_t pid = json_object_object_get_ex(run, "monitor_pid", &x) ? (pid_t)json_object_get_int(x) : 0;
        int r;

        /* Only our own monitor: pid and start time as recorded, mlvm-monitor's
         * binary (pids get reused); a record from before monitor_start by its
         * command line. */
        bool proven = json_object_object_get_ex(run, "monitor_start", NULL) ? run_monitor_matches(run, id)
                                                                            : run_monitor_alive(pid, id);
        if (proven) {
                (void)kill(pid, SIGKILL);
                for (int i = 0; i < 100 && run_monitor_alive(pid, id); i++) {
                        struct timespec ts = { 0, 10000000 };
                        nanosleep(&ts, NULL);
                }
        }
        if ((r = virt_connect(jstr(run, "uri") ?: "qemu:///system", &conn, e)) < 0)
                return r;
        const char *domain = jstr(run, "domain");
        if (domain) {
                _cleanup_virDomain_ virDomainPtr dom = virDomainLookupByName(conn, domain);
                if (dom && virDomainIsActive(dom) == 1) {
                        if (virDomainDestroy(dom) < 0)
                                return err_virt(e, "destroy %s", domain);
                        *destroyed = true;
                }
        }
        virStoragePoolPtr pool = NULL;
        if ((r = volume_pool_for_removal(conn, jstr(run, "pool") ?: mlvm_pool_name(), &pool, pool_restarted, e)) < 0)
                return r;
        r = disk_delete_run(pool, id, e);
        virStoragePoolFree(pool);
        if (r < 0)
                return r;
        _cleanup_free_ char *sock = run_file(state_dir, id, "control.sock");
        (void)unlink(sock);   /* the monitor that listened there is gone */
        struct stop_info s = { monitor_lost ? "the monitor was gone; stopped by mlvm down" : NULL };
        return run_update(state_dir, id, mark_stopped, &s, e);
}

/* An `mlvm up` may still be creating the run (its up.lock is held): wait
 * until its monitor is there to ask (*RET_MONITOR) or the up has ended
 * (*RET_LOCK holds the lock then), so that down never deletes volumes
 * while up makes more of them, nor has its "stopped" overwritten. */
static int wait_for_up(const char *state_dir, const char *id, int *ret_lock, bool *ret_monitor, struct mlvm_err *e)
{
        usec_t deadline = now_usec() + usec_from_ms(DOWN_UP_WAIT_MS);
        for (;;) {
                int r = run_up_trylock(state_dir, id, ret_lock);
                if (r == 0 || r == -ENOENT)
                        return 0;   /* ENOENT: no up.lock, nothing to wait for */
                if (r != -EWOULDBLOCK)
                        return err_set(e, r, "run %s: up.lock", id);
                _cleanup_json_ json_object *run = NULL;
                json_object *x;
                if (run_load(state_dir, id, &run, NULL) == 0 && json_object_object_get_ex(run, "monitor_pid", &x) &&
                    run_monitor_alive((pid_t)json_object_get_int(x), id)) {
                        *ret_monitor = true;
                        return 0;
                }
                if (now_usec() > deadline)
                        return err_setx(e, -ETIMEDOUT, "run %s is still being started by mlvm up", id);
                struct timespec ts = { 0, 100000000 };
                nanosleep(&ts, NULL);
        }
}

int run_down_resolve(const char *state_dir, const char *ref, char ret[RUN_ID_LEN + 1], bool *ret_ended,
                     struct mlvm_err *e)
{
        char id[RUN_ID_LEN + 1];
        bool ended = false;
        int r;
        if (run_name_get(state_dir, ref, id) < 0 && run_resolve_id(state_dir, ref, id) < 0) {
                if ((r = run_resolve(state_dir, ref, id, e)) < 0)
                        return r;
                ended = true;
        }
        memcpy(ret, id, sizeof(id));
        *ret_ended = ended;
        return 0;
}

bool run_down_is_audited(const struct down_result *res)
{
        return res->was_live || res->via_monitor || res->destroyed || res->removed || res->restart_cancelled;
}

int run_down(const char *state_dir, const char *id, struct down_result *ret, struct mlvm_err *e)
{
        _cleanup_json_ json_object *run = NULL;
        struct down_result res = { 0 };
        usec_t t0 = now_usec();
        json_object *x;
        int r;

        if ((r = run_load(state_dir, id, &run, e)) < 0)
                return r;
        const char *state = jstr(run, "state") ?: "";
        pid_t pid = json_object_object_get_ex(run, "monitor_pid", &x) ? (pid_t)json_object_get_int(x) : 0;
        bool alive = run_monitor_alive(pid, id);
        _cleanup_close_ int up_lock = -1;
        res.was_live = run_state_is_live(state);
        if (!alive) {
                if ((r = wait_for_up(state_dir, id, &up_lock, &alive, e)) < 0)
                        return r;
                json_object_put(run);
                run = NULL;
                /* The up that held it may have failed and undone the run whole. */
                if ((r = run_load(state_dir, id, &run, e)) == -ENOENT) {
                        res.removed = true;
                        res.seconds = usec_to_sec(now_usec() - t0);
                        *ret = res;
                        return 0;
                }
                if (r < 0)
                        return r;
        }
        struct mlvm_err me = { 0 };
        if (alive && via_monitor(state_dir, id, &me) == 0)
                res.via_monitor = true;
        else {
                json_object_put(run);
                run = NULL;
                if ((r = run_load(state_dir, id, &run, e)) < 0)
                        return r;
                json_object *sfx;
                bool failed_start = json_object_object_get_ex(run, "start_failed", &sfx) &&
                                    json_object_get_boolean(sfx);
                /* A start that failed was already undone by up; only its record
                 * is left, so an unreachable host must not keep it forever. */
                if ((r = by_hand(state_dir, id, run, res.was_live && !alive, &res.destroyed, &res.pool_restarted, e)) < 0 && !failed_start)
                        return r;
        }
        /* The chain ends here (run-restart.h): a restart waiting is
         * cancelled; one that got the name first is stopped too. */
        char next[RUN_ID_LEN + 1] = "";
        if ((r = run_restart_cancel(state_dir, id, &res.restart_cancelled, next, e)) < 0)
                return r;
        if (r > 0) {
                struct down_result sub = { 0 };
                if ((r = run_down(state_dir, next, &sub, e)) < 0)
                        return err_prefix(e, "run %s, restarted from %s", next, id);
                memcpy(res.restarted_as, next, sizeof(next));
        }
        /* The domain is gone (by the monitor or by hand): its QEMU's uid is free. */
        struct mlvm_err ue = { 0 };
        (void)qemu_id_release_run(QEMU_ID_CLAIMS_DIR, run, &ue);
        const char *name = jstr(run, "name");
        if (name)
                run_name_clear(state_dir, name, id);
        /* A run that never started is only evidence: down removes it. */
        json_object *sf;
        bool start_failed = json_object_object_get_ex(run, "start_failed", &sf) && json_object_get_boolean(sf);
        if (start_failed)
                (void)run_remove_record(state_dir, id);
        res.removed = start_failed;
        res.seconds = usec_to_sec(now_usec() - t0);
        if (!run_down_is_audited(&res)) {
                *ret = res;
                return 0;
        }
        json_object *f = json_object_new_object();
        json_object_object_add(f, "run", json_object_new_string(id));
        json_object_object_add(f, "name", json_object_new_string(name ?: ""));
        json_object_object_add(f, "via_monitor", json_object_new_boolean(res.via_monitor));
        if (res.restart_cancelled)
                json_object_object_add(f, "restart_cancelled", json_object_new_boolean(1));
        r = audit_append(state_dir, "run.down", f, e);
        json_object_put(f);
        /* The teardown is done and stays done (a full state directory, say):
         * the error says so, and what could not be written. */
        if (r < 0)
                return err_prefix(e, "run %s %s, but its audit event was not written", id,
                                  res.was_live ? "stopped" : "cleaned up");
        *ret = res;
        return 0;
}
