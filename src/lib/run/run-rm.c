/* run-rm.c: `mlvm rm` and `mlvm prune`: the records of runs that ended;
 * see run-rm.h. */
#include "mlvm-build.h"

#include <fcntl.h>
#include <sys/file.h>

#include "audit.h"
#include "cleanup.h"
#include "run-rm.h"
#include "util.h"

#define RM_AUDIT_ITEMS_MAX 200   /* one audit line stays under AUDIT_LINE_MAX */

static const char *jstr(json_object *o, const char *key)
{
        json_object *v;
        return o && json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string)
                       ? json_object_get_string(v) : NULL;
}

static bool jtime(json_object *o, const char *key, double *ret)
{
        json_object *v;
        if (!json_object_object_get_ex(o, key, &v) ||
            !(json_object_is_type(v, json_type_double) || json_object_is_type(v, json_type_int)))
                return false;
        double t = json_object_get_double(v);
        if (!(t > 0))
                return false;
        *ret = t;
        return true;
}

bool run_ended_at(json_object *run, double *ret_time)
{
        static const char *const ends[] = { RUN_EXITED, RUN_FAILED, RUN_STOPPED };
        const char *state = jstr(run, "state");
        if (!state || run_state_is_live(state))
                return false;
        /* The end of the state the run is in, else whichever end was stamped (as provenance.c). */
        _cleanup_free_ char *key = xasprintf("%s_at", state);
        if (jtime(run, key, ret_time))
                return true;
        for (size_t i = 0; i < ARRAY_SIZE(ends); i++) {
                _cleanup_free_ char *k = xasprintf("%s_at", ends[i]);
                if (jtime(run, k, ret_time))
                        return true;
        }
        return false;
}

bool run_prune_selects(json_object *run, double now, uint64_t until_s)
{
        const char *state = jstr(run, "state");
        double t;
        if (!state || run_state_is_live(state) ||
            !(streq(state, RUN_EXITED) || streq(state, RUN_FAILED) || streq(state, RUN_STOPPED)))
                return false;   /* live, or a state this mlvm does not know: hands off */
        if (until_s == 0)
                return true;
        if (!run_ended_at(run, &t) && !jtime(run, "created_at", &t))
                return false;
        return now - t >= (double)until_s;
}

void rm_items_free(struct rm_item *v, size_t n)
{
        for (size_t i = 0; v && i < n; i++) {
                free(v[i].name);
                free(v[i].state);
        }
        free(v);
}

/* Under runs.lock: remove one run, or say in IT why not. */
static void rm_one(const char *state_dir, struct rm_item *it)
{
        _cleanup_json_ json_object *run = NULL;
        _cleanup_close_ int up = -1;
        int r;

        if ((r = run_load(state_dir, it->id, &run, &it->err)) < 0)
                return;
        const char *state = jstr(run, "state") ?: "unknown";
        it->name = xstrdup(jstr(run, "name") ?: "");
        it->state = xstrdup(state);
        if (run_state_is_live(state)) {
                (void)err_setx(&it->err, -EBUSY, "run %s is %s: stop it first (mlvm down %s)", it->id, state, it->id);
                return;
        }
        /* No up.lock: a record from before it existed (under runs.lock, nobody removes it meanwhile). */
        r = run_up_trylock(state_dir, it->id, &up);
        if (r == -EWOULDBLOCK) {
                (void)err_setx(&it->err, -EBUSY, "run %s: an mlvm up or down is at work on it", it->id);
                return;
        }
        if (r < 0 && r != -ENOENT) {
                (void)err_set(&it->err, r, "run %s: up.lock", it->id);
                return;
        }
        /* It ended, but its monitor may still be writing provenance and the audit event. */
        if (run_monitor_matches(run, it->id)) {
                (void)err_setx(&it->err, -EBUSY, "run %s: its monitor is still finishing; try again shortly", it->id);
                return;
        }
        const char *name = jstr(run, "name");
        char cur[RUN_ID_LEN + 1];
        if (name && run_name_get(state_dir, name, cur) == 0 && streq(cur, it->id)) {
                _cleanup_free_ char *path = xasprintf("%s/names/%s", state_dir, name);
                if (unlink(path) < 0 && errno != ENOENT) {
                        (void)err_set(&it->err, -errno, "%s", path);
                        return;
                }
        }
        if ((r = run_remove_record(state_dir, it->id)) < 0) {
                _cleanup_free_ char *d = run_dir(state_dir, it->id);
                (void)err_set(&it->err, r, "remove %s", d);
                return;
        }
        it->removed = true;
}

static int audit(const char *state_dir, const char *event, const struct rm_item *v, size_t n,
                 struct mlvm_err *e)
{
        json_object *removed = json_object_new_array();
        size_t k = 0, more = 0;
        for (size_t i = 0; i < n; i++) {
                if (!v[i].removed)
                        continue;
                if (k++ >= RM_AUDIT_ITEMS_MAX) {
                        more++;
                        continue;
                }
                json_object *x = json_object_new_object();
                json_object_object_add(x, "run", json_object_new_string(v[i].id));
                json_object_object_add(x, "name", json_object_new_string(v[i].name));
                json_object_object_add(x, "state", json_object_new_string(v[i].state));
                json_object_array_add(removed, x);
        }
        return audit_removed(state_dir, event, removed, more, e);
}

int run_rm(const char *state_dir, const char (*ids)[RUN_ID_LEN + 1], size_t n, const char *event,
           struct rm_item **ret, struct mlvm_err *e)
{
        _cleanup_free_ char *lockpath = xasprintf("%s/runs.lock", state_dir);
        /* runs.lock, as gc: no up claims a name, no gc acts, while runs go. */
        _cleanup_close_ int lock = open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (lock < 0 || flock(lock, LOCK_EX) < 0)
                return err_set(e, -errno, "lock %s", lockpath);
        struct rm_item *v = xcalloc(n ? n : 1, sizeof(*v));
        int bad = 0;
        for (size_t i = 0; i < n; i++) {
                memcpy(v[i].id, ids[i], RUN_ID_LEN + 1);
                rm_one(state_dir, &v[i]);
                bad += !v[i].removed;
        }
        int r = audit(state_dir, event, v, n, e);
        *ret = v;
        return r < 0 ? r : bad;
}

bool run_retention_selects(json_object *run, const struct mlvm_config *c, double now)
{
        const char *name = jstr(run, "name");
        return c->retention_s > 0 && name && mlvm_config_find(c, name) && run_prune_selects(run, now, c->retention_s);
}

/* The ended runs of URI's records that prune (C NULL) or C's retention selects, removed as EVENT. */
static int prune_where(const char *state_dir, const char *uri, uint64_t until_s, const struct mlvm_config *c,
                       const char *event, struct rm_item **ret, size_t *ret_n, struct mlvm_err *e)
{
        char (*ids)[RUN_ID_LEN + 1] = NULL, (*pick)[RUN_ID_LEN + 1];
        size_t n = 0, k = 0;
        int r = run_list(state_dir, &ids, &n, e);
        if (r < 0)
                return r;
        double now = run_now();
        pick = xcalloc(n ? n : 1, sizeof(*pick));
        for (size_t i = 0; i < n; i++) {
                _cleanup_json_ json_object *run = NULL;
                const char *u;
                if (run_load(state_dir, ids[i], &run, NULL) < 0)
                        continue;
                /* This connection's runs, as ps --all shows them. */
                if (!(u = jstr(run, "uri")) || !streq(u, uri) ||
                    !(c ? run_retention_selects(run, c, now) : run_prune_selects(run, now, until_s)))
                        continue;
                memcpy(pick[k++], ids[i], RUN_ID_LEN + 1);
        }
        free(ids);
        *ret = NULL;
        r = k == 0 && c ? 0 : run_rm(state_dir, (const char (*)[RUN_ID_LEN + 1])pick, k, event, ret, e);
        free(pick);
        *ret_n = *ret ? k : 0;
        return r;
}

int run_prune(const char *state_dir, const char *uri, uint64_t until_s, struct rm_item **ret, size_t *ret_n,
              struct mlvm_err *e)
{
        return prune_where(state_dir, uri, until_s, NULL, "run.prune", ret, ret_n, e);
}

int run_retention(const char *state_dir, const char *uri, const struct mlvm_config *c, struct rm_item **ret,
                  size_t *ret_n, struct mlvm_err *e)
{
        if (c->retention_s == 0) {
                *ret = NULL;
                *ret_n = 0;
                return 0;
        }
        return prune_where(state_dir, uri, 0, c, "run.retention", ret, ret_n, e);
}
