/* run-restart.c: the restart chain's decisions and its marks in the run
 * records; see run-restart.h. */
#include "mlvm-build.h"

#include <fcntl.h>
#include <sys/file.h>

#include "run-restart.h"
#include "util.h"

bool run_restart_wanted(enum mlvm_restart policy, const char *end_state, bool have_code, int code, bool by_down,
                        unsigned count, unsigned max)
{
        if (by_down || policy == MLVM_RESTART_NO || count >= max)
                return false;
        if (policy == MLVM_RESTART_ALWAYS)
                return true;
        return streq(end_state, RUN_FAILED) || (have_code && code != 0);
}

usec_t run_restart_backoff(usec_t delay, unsigned count)
{
        usec_t cap = delay > RUN_RESTART_BACKOFF_MAX ? delay : RUN_RESTART_BACKOFF_MAX, b = delay;
        for (unsigned i = 0; i < count && b < cap; i++)
                b *= 2;
        return b < cap ? b : cap;
}

static bool jbool(json_object *o, const char *key)
{
        json_object *x;
        return json_object_object_get_ex(o, key, &x) && json_object_get_boolean(x);
}

bool run_restart_pending(const char *state_dir, const char *name, char ret[RUN_ID_LEN + 1])
{
        _cleanup_json_ json_object *run = NULL;
        char id[RUN_ID_LEN + 1];
        if (run_name_get(state_dir, name, id) < 0 || run_load(state_dir, id, &run, NULL) < 0 ||
            !jbool(run, "restart_pending"))
                return false;
        memcpy(ret, id, sizeof(id));
        return true;
}

int run_restart_check(const char *state_dir, const char *id, struct mlvm_err *e)
{
        _cleanup_json_ json_object *run = NULL;
        char cur[RUN_ID_LEN + 1];
        int r = run_load(state_dir, id, &run, e);
        if (r < 0)
                return r;
        if (jbool(run, "restart_cancelled"))
                return err_setx(e, -ECANCELED, "restart of run %s: cancelled by mlvm down", id);
        if (!jbool(run, "restart_pending"))
                return err_setx(e, -ECANCELED, "restart of run %s: none pending", id);
        const char *name = json_str(run, "name") ?: "";
        if (run_name_get(state_dir, name, cur) < 0 || !streq(cur, id))
                return err_setx(e, -ECANCELED, "restart of run %s: %s was started again or removed since", id, name);
        return 0;
}

int run_restart_claim(const char *state_dir, const char *prev, unsigned *ret_count, struct mlvm_err *e)
{
        _cleanup_json_ json_object *run = NULL;
        json_object *x;
        int r = run_restart_check(state_dir, prev, e);
        if (r < 0 || (r = run_load(state_dir, prev, &run, e)) < 0)
                return r;
        int64_t n = json_object_object_get_ex(run, "restart_count", &x) ? json_object_get_int64(x) : 0;
        *ret_count = n < 0 || n >= MLVM_RESTART_MAX_MAX ? MLVM_RESTART_MAX_MAX : (unsigned)n + 1;
        return 0;
}

static void set_claimed(json_object *run, void *u)
{
        json_object_object_add(run, "restart_pending", json_object_new_boolean(0));
        json_object_object_add(run, "restarted_as", json_object_new_string(u));
}

int run_restart_claimed(const char *state_dir, const char *prev, const char *next, struct mlvm_err *e)
{
        return run_update(state_dir, prev, set_claimed, (void *)next, e);
}

static void set_abandoned(json_object *run, void *u)
{
        json_object_object_add(run, "restart_pending", json_object_new_boolean(0));
        json_object_object_add(run, "restart_failed", json_object_new_string(u));
}

void run_restart_abandon(const char *state_dir, const char *prev, const char *why)
{
        _cleanup_json_ json_object *run = NULL;
        if (run_load(state_dir, prev, &run, NULL) < 0 || !jbool(run, "restart_pending"))
                return;
        (void)run_update(state_dir, prev, set_abandoned, (void *)why, NULL);
        run_name_clear(state_dir, json_str(run, "name") ?: "", prev);
}

struct cancel {
        bool cancelled;
        char next[RUN_ID_LEN + 1];
};

static void set_cancelled(json_object *run, void *u)
{
        struct cancel *c = u;
        const char *next = json_str(run, "restarted_as");
        if (jbool(run, "restart_pending")) {
                json_object_object_add(run, "restart_pending", json_object_new_boolean(0));
                json_object_object_add(run, "restart_cancelled", json_object_new_boolean(1));
                c->cancelled = true;
        } else if (next && run_id_is_valid(next))
                memcpy(c->next, next, RUN_ID_LEN + 1);
}

int run_restart_cancel(const char *state_dir, const char *id, bool *ret_cancelled, char ret_next[RUN_ID_LEN + 1],
                       struct mlvm_err *e)
{
        /* Under the lock up takes to claim a name: a restart either claimed
         * the name before this, and is found below, or sees the cancel. */
        _cleanup_free_ char *lockpath = xasprintf("%s/runs.lock", state_dir);
        _cleanup_close_ int lock = open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        struct cancel c = { 0 };
        char cur[RUN_ID_LEN + 1];
        _cleanup_json_ json_object *run = NULL;

        if (lock < 0 || flock(lock, LOCK_EX) < 0)
                return err_set(e, -errno, "%s", lockpath);
        /* Most runs never restart: their records are not rewritten. */
        int r = run_load(state_dir, id, &run, NULL);
        if (r < 0 && r != -ENOENT)
                return err_set(e, r, "run %s", id);
        if (r == -ENOENT || (!jbool(run, "restart_pending") && !json_str(run, "restarted_as"))) {
                *ret_cancelled = false;
                return 0;
        }
        json_object_put(TAKE_PTR(run));
        if ((r = run_update(state_dir, id, set_cancelled, &c, e)) < 0)
                return r;
        *ret_cancelled = c.cancelled;
        if (!c.next[0] || run_load(state_dir, id, &run, NULL) < 0)
                return 0;
        /* Only while the name still names the run it restarted as: an
         * older link whose run ended is not down's to stop again. */
        if (run_name_get(state_dir, json_str(run, "name") ?: "", cur) < 0 || !streq(cur, c.next))
                return 0;
        memcpy(ret_next, c.next, RUN_ID_LEN + 1);
        return 1;
}
