/* run-gc-plan.c: what gc does with each object, decided from what was
 * collected and nothing else; see run-gc.h. */
#include "mlvm-build.h"

#include "run-gc.h"
#include "util.h"

const char *gc_kind_to_string(enum gc_kind k)
{
        static const char *const s[] = { "monitor", "domain", "volume", "socket", "tmpfile", "record", "name", "uid" };
        return k < GC_KIND_MAX ? s[k] : "?";
}

const char *gc_action_to_string(enum gc_action a, bool dry_run)
{
        switch (a) {
        case GC_REMOVE: return dry_run ? "would remove" : "remove";
        case GC_LIVE: return "live";
        case GC_NOT_OURS: return "not ours";
        case GC_DONE: return "removed";
        case GC_FAILED: return "failed";
        }
        return "?";
}

/* What a run is, for gc. */
enum run_fate {
        FATE_NOT_OURS,   /* no owner, or another state directory's */
        FATE_ELSEWHERE,  /* on another URI: not this connection's to judge */
        FATE_LIVE,       /* an up holds it, or record, monitor and domain all say live */
        FATE_ENDING,     /* its monitor still runs and wrote lately: tearing down */
        FATE_CRASHED,    /* says starting/ready but is not: everything goes, record too */
        FATE_START_FAILED, /* up failed and kept the evidence: everything goes (as down does) */
        FATE_ENDED,      /* ended properly: history; only leftovers go */
};

static const char *jstr(json_object *o, const char *key)
{
        json_object *v;
        return o && json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string)
                       ? json_object_get_string(v) : NULL;
}

static bool domain_of_run_active(const struct gc_input *in, const char *id)
{
        for (size_t i = 0; i < in->n_domains; i++) {
                const struct gc_domain *d = &in->domains[i];
                if (d->active && d->has_meta && d->meta_owner && d->meta_id && streq(d->meta_owner, in->owner) &&
                    streq(d->meta_id, id))
                        return true;
        }
        return false;
}

static enum run_fate run_fate(const struct gc_input *in, const struct gc_run *r, const char **ret_why)
{
        const char *owner = jstr(r->record, "owner"), *state = jstr(r->record, "state") ?: "";
        const char *uri = jstr(r->record, "uri");
        json_object *x;

        if (!owner || !in->owner[0] || !streq(owner, in->owner)) {
                *ret_why = owner ? "its record names another state directory" : "its record has no owner (an older mlvm)";
                return FATE_NOT_OURS;
        }
        if (!uri || !streq(uri, in->uri)) {
                *ret_why = "its record names another URI";
                return FATE_ELSEWHERE;
        }
        if (r->up_locked) {
                *ret_why = "an mlvm up or down holds it";
                return FATE_LIVE;
        }
        bool domain = domain_of_run_active(in, r->id);
        if (run_state_is_live(state) && (r->monitor_matches || r->socket_answers) && domain) {
                *ret_why = "its monitor and domain run";
                return FATE_LIVE;
        }
        /* Ended, its monitor waiting out the backoff to restart it (run-restart.h). */
        if (r->monitor_matches && !run_state_is_live(state) && json_object_object_get_ex(r->record, "restart_pending", &x) &&
            json_object_get_boolean(x)) {
                *ret_why = "its monitor waits to restart it";
                return FATE_ENDING;
        }
        if (r->monitor_matches && in->now - r->mtime < GC_GRACE_S) {
                *ret_why = "its monitor is still tearing it down";
                return FATE_ENDING;
        }
        if (run_state_is_live(state)) {
                *ret_why = !(r->monitor_matches || r->socket_answers) ? "its monitor is gone" : "its domain is gone";
                return FATE_CRASHED;
        }
        if (json_object_object_get_ex(r->record, "start_failed", &x) && json_object_get_boolean(x)) {
                *ret_why = "it failed to start";
                return FATE_START_FAILED;
        }
        *ret_why = "it ended";
        return FATE_ENDED;
}

static void add(struct gc_plan *p, enum gc_kind kind, enum gc_action action, const char *name, const char *run,
                const char *why, pid_t pid)
{
        p->items = xreallocarray(p->items, p->n + 1, sizeof(*p->items));
        struct gc_item *it = &p->items[p->n++];
        *it = (struct gc_item){ .kind = kind, .action = action, .name = xstrdup(name), .why = xstrdup(why),
                                .pid = pid };
        if (run)
                memcpy(it->run, run, strnlen(run, RUN_ID_LEN));
}

static const struct gc_run *find_run(const struct gc_input *in, const char *id)
{
        for (size_t i = 0; id && i < in->n_runs; i++)
                if (streq(in->runs[i].id, id))
                        return &in->runs[i];
        return NULL;
}

/* The run id in a run volume's name "mlvm-run-RUNID-...", or false. */
static bool volume_run_id(const char *name, char ret[RUN_ID_LEN + 1])
{
        if (!strstartswith(name, "mlvm-run-"))
                return false;
        const char *id = name + strlen("mlvm-run-");
        if (strlen(id) <= RUN_ID_LEN || id[RUN_ID_LEN] != '-')
                return false;
        memcpy(ret, id, RUN_ID_LEN);
        ret[RUN_ID_LEN] = '\0';
        return run_id_is_valid(ret);
}

void gc_decide(const struct gc_input *in, struct gc_plan *ret)
{
        struct gc_plan p = { 0 };
        enum run_fate *fate = xcalloc(in->n_runs ? in->n_runs : 1, sizeof(*fate));
        const char **why = xcalloc(in->n_runs ? in->n_runs : 1, sizeof(*why));
        char buf[64];

        for (size_t i = 0; i < in->n_runs; i++)
                fate[i] = run_fate(in, &in->runs[i], &why[i]);
#define FATE_OF(r) (fate[(r) - in->runs])
#define GONE(f) ((f) == FATE_CRASHED || (f) == FATE_START_FAILED || (f) == FATE_ENDED)

        /* Monitors first: nothing of a run may be removed under its monitor. */
        for (size_t i = 0; i < in->n_runs; i++) {
                const struct gc_run *r = &in->runs[i];
                json_object *x;
                if (!GONE(fate[i]) || !r->monitor_matches)
                        continue;
                pid_t pid = json_object_object_get_ex(r->record, "monitor_pid", &x) ? (pid_t)json_object_get_int(x) : 0;
                (void)snprintf(buf, sizeof(buf), "pid %d", (int)pid);
                add(&p, GC_MONITOR, GC_REMOVE, buf, r->id, why[i], pid);
        }
        for (size_t i = 0; i < in->n_domains; i++) {
                const struct gc_domain *d = &in->domains[i];
                if (!d->has_meta) {
                        if (strstartswith(d->name, "mlvm-"))
                                add(&p, GC_DOMAIN, GC_NOT_OURS, d->name, NULL, "no mlvm metadata", 0);
                        continue;
                }
                if (!d->meta_owner || !in->owner[0] || !streq(d->meta_owner, in->owner)) {
                        add(&p, GC_DOMAIN, GC_NOT_OURS, d->name, d->meta_id,
                            d->meta_owner ? "another state directory's" : "its metadata has no owner", 0);
                        continue;
                }
                const struct gc_run *r = find_run(in, d->meta_id);
                if (!r)
                        add(&p, GC_DOMAIN, GC_REMOVE, d->name, d->meta_id, "no record of its run", 0);
                else if (GONE(FATE_OF(r)))
                        add(&p, GC_DOMAIN, GC_REMOVE, d->name, r->id, why[r - in->runs], 0);
                else if (FATE_OF(r) == FATE_NOT_OURS)   /* our metadata, a record that disowns it: touch nothing */
                        add(&p, GC_DOMAIN, GC_NOT_OURS, d->name, r->id, why[r - in->runs], 0);
                else
                        add(&p, GC_DOMAIN, GC_LIVE, d->name, r->id, why[r - in->runs], 0);
        }
        for (size_t i = 0; i < in->n_volumes; i++) {
                char id[RUN_ID_LEN + 1];
                if (!volume_run_id(in->volumes[i], id))
                        continue;   /* image parts and anything else: not a run's */
                const struct gc_run *r = find_run(in, id);
                bool by_domain = false;
                for (size_t j = 0; j < in->n_domains; j++) {
                        const struct gc_domain *d = &in->domains[j];
                        by_domain |= d->has_meta && d->meta_owner && d->meta_id && in->owner[0] &&
                                     streq(d->meta_owner, in->owner) && streq(d->meta_id, id);
                }
                if (r && FATE_OF(r) == FATE_NOT_OURS)
                        add(&p, GC_VOLUME, GC_NOT_OURS, in->volumes[i], id, why[r - in->runs], 0);
                else if (r && GONE(FATE_OF(r)))
                        add(&p, GC_VOLUME, GC_REMOVE, in->volumes[i], id, why[r - in->runs], 0);
                else if (r)
                        add(&p, GC_VOLUME, FATE_OF(r) == FATE_ELSEWHERE ? GC_NOT_OURS : GC_LIVE, in->volumes[i], id,
                            why[r - in->runs], 0);
                else if (by_domain)
                        add(&p, GC_VOLUME, GC_REMOVE, in->volumes[i], id, "no record of its run", 0);
                else
                        add(&p, GC_VOLUME, GC_NOT_OURS, in->volumes[i], id, "no run of this state directory", 0);
        }
        for (size_t i = 0; i < in->n_runs; i++)
                if (GONE(fate[i]) && in->runs[i].socket_present) {
                        _cleanup_free_ char *s = xasprintf("runs/%s/control.sock", in->runs[i].id);
                        add(&p, GC_SOCKET, GC_REMOVE, s, in->runs[i].id, why[i], 0);
                }
        for (size_t i = 0; i < in->n_tmpfiles; i++)
                if (!in->tmpfiles[i].writer_alive)
                        add(&p, GC_TMPFILE, GC_REMOVE, in->tmpfiles[i].path, NULL, "its writer is gone", 0);
        for (size_t i = 0; i < in->n_runs; i++) {
                const struct gc_run *r = &in->runs[i];
                if (fate[i] == FATE_CRASHED || fate[i] == FATE_START_FAILED)
                        add(&p, GC_RECORD, GC_REMOVE, r->id, r->id, why[i], 0);
                else if (fate[i] == FATE_LIVE || fate[i] == FATE_ENDING)
                        add(&p, GC_RECORD, GC_LIVE, r->id, r->id, why[i], 0);
                else if (fate[i] == FATE_NOT_OURS || fate[i] == FATE_ELSEWHERE)
                        add(&p, GC_RECORD, GC_NOT_OURS, r->id, r->id, why[i], 0);
        }
        /* A name whose run is gone, or goes now. */
        for (size_t i = 0; i < in->n_names; i++) {
                const struct gc_run *r = find_run(in, in->names[i].id);
                if (!r)
                        add(&p, GC_NAME, GC_REMOVE, in->names[i].name, in->names[i].id, "no record of its run", 0);
                else if (FATE_OF(r) == FATE_CRASHED || FATE_OF(r) == FATE_START_FAILED)
                        add(&p, GC_NAME, GC_REMOVE, in->names[i].name, r->id, why[r - in->runs], 0);
        }
        /* A uid claim goes with its run, after its domain: never under a live QEMU. */
        for (size_t i = 0; i < in->n_uids; i++) {
                const struct gc_uid *u = &in->uids[i];
                const struct gc_run *r = find_run(in, u->run);
                (void)snprintf(buf, sizeof(buf), "uid %u", u->uid);
                if (!r)
                        add(&p, GC_UID, GC_REMOVE, buf, u->run, "no record of its run", 0);
                else if (GONE(FATE_OF(r)))
                        add(&p, GC_UID, GC_REMOVE, buf, r->id, why[r - in->runs], 0);
                else if (FATE_OF(r) == FATE_LIVE || FATE_OF(r) == FATE_ENDING)
                        add(&p, GC_UID, GC_LIVE, buf, r->id, why[r - in->runs], 0);
                else
                        add(&p, GC_UID, GC_NOT_OURS, buf, r->id, why[r - in->runs], 0);
        }
#undef FATE_OF
#undef GONE
        free(fate);
        free(why);
        *ret = p;
}

void gc_plan_clear(struct gc_plan *p)
{
        for (size_t i = 0; i < p->n; i++) {
                free(p->items[i].name);
                free(p->items[i].why);
        }
        free(p->items);
        *p = (struct gc_plan){ 0 };
}
