/* run-up-record.c: `mlvm up` claims the run: one run per name, checked
 * and claimed under a lock so that two ups race safely; a fresh run id,
 * its directory and its record (what ps, inspect, the monitor and down
 * read); then the first lease of every credential it is granted. */
#include "mlvm-build.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>

#include "audit.h"
#include "paths.h"
#include "run-restart.h"
#include "run-up-internal.h"
#include "run.h"
#include "util.h"

static json_object *workload_json(const struct mlvm_workload *w)
{
        json_object *cmd = json_object_new_array(), *env = json_object_new_object();
        for (size_t i = 0; i < w->n_command; i++)
                json_object_array_add(cmd, json_object_new_string(w->command[i]));
        for (size_t i = 0; i < w->n_env; i++)
                json_object_object_add(env, w->env[i].name, json_object_new_string(w->env[i].value));
        json_object *o = json_object_new_object();
        json_object_object_add(o, "command", cmd);
        json_object_object_add(o, "env", env);
        return o;
}

static void add_publish(json_object *a, const struct mlvm_publish *p)
{
        json_object *o = json_object_new_object();
        if (p->unix_path)
                json_object_object_add(o, "unix", json_object_new_string(p->unix_path));
        else {
                json_object_object_add(o, "addr", json_object_new_string(p->host_addr));
                json_object_object_add(o, "port", json_object_new_int(p->host_port));
        }
        json_object_object_add(o, "guest_port", json_object_new_int(p->guest_port));
        json_object_array_add(a, o);
}

/* The config's published ports and --publish ones, for the monitor. */
static json_object *publish_json(const struct mlvm_workload *w, const struct up_opts *o)
{
        if (!w->n_publish && !o->n_publish)
                return NULL;
        json_object *a = json_object_new_array();
        for (size_t i = 0; i < w->n_publish; i++)
                add_publish(a, &w->publish[i]);
        for (size_t i = 0; i < o->n_publish; i++)
                add_publish(a, &o->publish[i]);
        return a;
}

/* What `up` was given on its command line beyond the file, as options a
 * restart gives its own up again (monitor-restart.c); NULL when nothing. */
static json_object *up_options_json(const struct up_opts *o)
{
        if (!o->n_publish && !o->publish_public && !o->kernel_args)
                return NULL;
        json_object *u = json_object_new_object();
        if (o->n_publish) {
                json_object *a = json_object_new_array();
                for (size_t i = 0; i < o->n_publish; i++) {
                        _cleanup_free_ char *spec = mlvm_publish_to_string(&o->publish[i]);
                        json_object_array_add(a, json_object_new_string(spec));
                }
                json_object_object_add(u, "publish", a);
        }
        if (o->publish_public)
                json_object_object_add(u, "publish_public", json_object_new_boolean(1));
        if (o->kernel_args)
                json_object_object_add(u, "kernel_args", json_object_new_string(o->kernel_args));
        return u;
}

/* What the record says from the start. */
static void record_fill(struct up_ctx *c)
{
        const struct up_opts *o = c->o;
        const struct mlvm_workload *w = o->workload;
        json_object *run = c->run, *x;

        json_object_object_add(run, "id", json_object_new_string(c->id));
        json_object_object_add(run, "name", json_object_new_string(w->name));
        json_object_object_add(run, "kind", json_object_new_string(mlvm_kind_to_string(w->kind)));
        json_object_object_add(run, "state", json_object_new_string(RUN_STARTING));
        json_object_object_add(run, "created_at", json_object_new_double(c->created_at));
        json_object_object_add(run, "owner", json_object_new_string(c->owner));
        json_object_object_add(run, "uri", json_object_new_string(o->uri));
        json_object_object_add(run, "pool", json_object_new_string(o->pool_name));
        json_object_object_add(run, "domain", json_object_new_string(c->domain));
        json_object_object_add(run, "image", json_object_new_string(w->image));
        json_object_object_add(run, "image_digest", json_object_new_string(c->digest));
        json_object_object_add(run, "accel", json_object_new_string(mlvm_accel_to_string(c->accel.accel)));
        json_object_object_add(run, "accel_requested", json_object_new_string(mlvm_accel_request_to_string(o->accel)));
        if (c->accel.why[0])
                json_object_object_add(run, "accel_why", json_object_new_string(c->accel.why));
        json_object_object_add(run, "transport", json_object_new_string("virtio-serial"));
        json_object_object_add(run, "boot_timeout_s", json_object_new_int((int32_t)c->boot_timeout));
        if (w->timeout_s)
                json_object_object_add(run, "timeout_s", json_object_new_int64((int64_t)w->timeout_s));
        json_object_object_add(run, "exec_allowed", json_object_new_boolean(w->exec_allowed));
        json_object *pub = publish_json(w, o);
        if (pub)
                json_object_object_add(run, "publish", pub);
        json_object *uo = up_options_json(o);
        if (uo)
                json_object_object_add(run, "up_options", uo);
        json_object_object_add(run, "config_file", json_object_new_string(o->config->path));
        if (o->restart_of) {
                json_object_object_add(run, "restart_of", json_object_new_string(o->restart_of));
                json_object_object_add(run, "restart_count", json_object_new_int((int32_t)c->restart_count));
        }
        if (w->restart != MLVM_RESTART_NO) {
                /* The monitor restarts the run with this very mlvm (run-restart.h). */
                char self[4096];
                ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
                if (n > 0) {
                        self[n] = '\0';
                        json_object_object_add(run, "mlvm_exe", json_object_new_string(self));
                }
        }
        json_object_object_add(run, "config_dir", json_object_new_string(o->config->dir));
        json_object *cfg = mlvm_config_to_json(o->config), *sect, *one;
        if (json_object_object_get_ex(cfg, w->kind == MLVM_KIND_MODEL ? "models" : "experiments", &sect) &&
            json_object_object_get_ex(sect, w->name, &one))
                json_object_object_add(run, "config", json_object_get(one));
        json_object_put(cfg);
        json_object *wl = workload_json(w);
        if (json_object_object_get_ex(wl, "command", &x) && json_object_array_length(x))
                json_object_object_add(run, "command", json_object_get(x));
        if (json_object_object_get_ex(wl, "env", &x))
                json_object_object_add(run, "env", json_object_get(x));
        json_object_put(wl);
}

/* A restart holds the name now (under runs.lock): the run it restarts
 * says so, and the audit log has the link. */
static int claim_restart(struct up_ctx *c, struct mlvm_err *e)
{
        const struct up_opts *o = c->o;
        int r = run_restart_claimed(o->state_dir, o->restart_of, c->id, e);
        if (r < 0)
                return r;
        json_object *f = json_object_new_object();
        json_object_object_add(f, "run", json_object_new_string(c->id));
        json_object_object_add(f, "name", json_object_new_string(o->workload->name));
        json_object_object_add(f, "restart_of", json_object_new_string(o->restart_of));
        json_object_object_add(f, "restart_count", json_object_new_int((int32_t)c->restart_count));
        r = audit_append(o->state_dir, "run.restart", f, e);
        json_object_put(f);
        return r;
}

int up_claim(struct up_ctx *c, struct mlvm_err *e)
{
        const struct up_opts *o = c->o;
        const char *name = o->workload->name;
        _cleanup_free_ char *lockpath = xasprintf("%s/runs.lock", o->state_dir), *runs = xasprintf("%s/runs", o->state_dir);
        char cur[RUN_ID_LEN + 1];
        int r;

        if ((r = mkdir_p(runs, 0700)) < 0)
                return err_set(e, r, "%s", runs);
        _cleanup_close_ int lock = open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (lock < 0 || flock(lock, LOCK_EX) < 0)
                return err_set(e, -errno, "%s", lockpath);
        if ((r = run_owner(o->state_dir, true, c->owner, e)) < 0)
                return r;
        if (o->restart_of && (r = run_restart_claim(o->state_dir, o->restart_of, &c->restart_count, e)) < 0)
                return r;
        if (run_name_is_live(o->state_dir, name, cur))
                return err_setx(e, -EEXIST, "%s is already running as run %s (mlvm down %s first)", name, cur, name);
        if (run_new_id(c->id) < 0)
                return err_setx(e, -EIO, "no random bytes for a run id");
        char *dir = run_dir(o->state_dir, c->id);
        if (mkdir(dir, 0700) < 0) {
                r = err_set(e, -errno, "%s", dir);
                free(dir);
                return r;
        }
        c->dir = dir;
        /* Taken before anything of the run exists, under runs.lock: gc, which
         * takes runs.lock too, never sees this run without its up.lock held. */
        if ((r = run_up_lock(o->state_dir, c->id, &c->up_lock, e)) < 0)
                return r;
        c->domain = domain_name(name, c->id);
        record_fill(c);
        if ((r = run_save(o->state_dir, c->id, c->run, e)) < 0)
                return r;
        c->saved = true;
        if ((r = run_name_set(o->state_dir, name, c->id, e)) < 0)
                return r;
        c->named = true;
        if (o->restart_of)
                return claim_restart(c, e);
        return 0;
}

/* The first lease of every granted credential, fetched before anything
 * is created for the domain: a broken source fails `up` early. */
int up_fetch_creds(struct up_ctx *c, struct mlvm_err *e)
{
        const struct mlvm_workload *w = c->o->workload;
        struct cred_ctx x = { .state_dir = c->o->state_dir, .run_id = c->id, .model = w->name,
                              .config_dir = c->o->config->dir, .exec_stderr_inherit = true };
        json_object *grants = json_object_new_array();

        json_object_object_add(c->run, "creds", grants);
        json_object_object_add(c->run, "revoke_timeout_ms", json_object_new_int(c->o->revoke_timeout_ms ?: 2000));
        c->creds = xcalloc(w->n_secrets ? w->n_secrets : 1, sizeof(*c->creds));
        for (size_t i = 0; i < w->n_secrets; i++) {
                const struct mlvm_secret *s = &w->secrets[i];
                struct cred *k = &c->creds[c->n_creds++];
                k->name = xstrdup(s->name);
                k->from = xstrdup(s->from);
                k->ttl_s = s->ttl_s;
                k->rotate = s->rotate;
                k->n_scope = s->n_scope;
                k->scope = xcalloc(s->n_scope + 1, sizeof(char *));
                for (size_t j = 0; j < s->n_scope; j++)
                        k->scope[j] = xstrdup(s->scope[j]);
                int r = cred_fetch(&x, k, e);
                if (r < 0)
                        return err_prefix(e, "%s:%u:%u: %ss.%s.secrets.%s", c->o->config->path, s->pos.line, s->pos.col,
                                          mlvm_kind_to_string(w->kind), w->name, s->name);
                json_object *g = cred_grant_json(k);
                json_object_object_add(g, "state", json_object_new_string("pending"));
                json_object_array_add(grants, g);
        }
        return 0;
}

