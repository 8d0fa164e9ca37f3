/* run-gc.c: `mlvm gc`: collect what exists, decide (run-gc-plan.c), remove;
 * see run-gc.h. */
#include "mlvm-build.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <libxml/parser.h>
#include <libxml/tree.h>

#include "audit.h"
#include "cleanup.h"
#include "control.h"
#include "disk.h"
#include "domain.h"
#include "qemu-id.h"
#include "run-gc.h"
#include "units.h"
#include "util.h"
#include "virt.h"
#include "volume.h"

#define GC_AUDIT_ITEMS_MAX 200   /* one audit line stays under AUDIT_LINE_MAX */
#define GC_SOCKET_WAIT_MS 2000

struct collected {
        struct gc_input in;
        json_object **records;
        virConnectPtr conn;
        virStoragePoolPtr pool;
        bool pool_restarted;
};

/* Does the monitor on the run's control socket answer (within a deadline)? */
static bool socket_answers(const char *state_dir, const char *id)
{
        _cleanup_close_ int fd = -1;
        _cleanup_json_ json_object *o = NULL;
        if (control_connect(state_dir, id, &fd, NULL) < 0 || control_send(fd, "status", NULL) < 0)
                return false;
        return control_recv(fd, GC_SOCKET_WAIT_MS, &o, NULL) == 0;
}

static int collect_runs(const struct gc_opts *o, struct collected *c, struct mlvm_err *e)
{
        char (*ids)[RUN_ID_LEN + 1] = NULL;
        size_t n = 0;
        int r = run_list(o->state_dir, &ids, &n, e);
        if (r < 0)
                return r;
        c->in.runs = xcalloc(n ? n : 1, sizeof(*c->in.runs));
        c->records = xcalloc(n ? n : 1, sizeof(*c->records));
        for (size_t i = 0; i < n; i++) {
                json_object *run = NULL, *x;
                if (run_load(o->state_dir, ids[i], &run, NULL) < 0)
                        continue;
                struct gc_run *g = &c->in.runs[c->in.n_runs];
                c->records[c->in.n_runs++] = run;
                memcpy(g->id, ids[i], sizeof(g->id));
                g->record = run;
                g->lock_fd = -1;
                r = run_up_trylock(o->state_dir, g->id, &g->lock_fd);
                /* No up.lock at all: being removed right now, or older: hands off. */
                g->up_locked = r == -EWOULDBLOCK || r == -ENOENT;
                g->monitor_matches = run_monitor_matches(run, g->id);
                _cleanup_free_ char *sock = run_file(o->state_dir, g->id, "control.sock");
                _cleanup_free_ char *json = run_file(o->state_dir, g->id, "run.json");
                struct stat st;
                g->socket_present = lstat(sock, &st) == 0;
                const char *state = json_object_object_get_ex(run, "state", &x) ? json_object_get_string(x) : "";
                if (g->socket_present && !g->monitor_matches && run_state_is_live(state))
                        g->socket_answers = socket_answers(o->state_dir, g->id);
                if (stat(json, &st) == 0)
                        g->mtime = (double)st.st_mtim.tv_sec + (double)st.st_mtim.tv_nsec / 1e9;
        }
        free(ids);
        return 0;
}

static char *xml_attr(xmlNodePtr n, const char *name)
{
        xmlChar *v = xmlGetProp(n, (const xmlChar *)name);
        char *s = v ? xstrdup((const char *)v) : NULL;
        xmlFree(v);
        return s;
}

static int collect_domains(struct collected *c, struct mlvm_err *e)
{
        virDomainPtr *doms = NULL;
        int n = virConnectListAllDomains(c->conn, &doms, 0);
        if (n < 0)
                return err_virt(e, "list domains");
        c->in.domains = xcalloc(n ? (size_t)n : 1, sizeof(*c->in.domains));
        for (int i = 0; i < n; i++) {
                struct gc_domain *d = &c->in.domains[c->in.n_domains];
                const char *name = virDomainGetName(doms[i]);
                if (name) {
                        c->in.n_domains++;
                        d->name = xstrdup(name);
                        d->active = virDomainIsActive(doms[i]) == 1;
                        d->persistent = virDomainIsPersistent(doms[i]) == 1;
                        /* Another tenant's domain: its metadata is parsed, never trusted further. */
                        char *md = virDomainGetMetadata(doms[i], VIR_DOMAIN_METADATA_ELEMENT, DOMAIN_XMLNS, 0);
                        _cleanup_xmlDoc_ xmlDocPtr doc =
                                md ? xmlReadMemory(md, (int)strlen(md), NULL, NULL, XML_PARSE_NONET)
                                   : NULL;
                        xmlNodePtr root = doc ? xmlDocGetRootElement(doc) : NULL;
                        if (root && xmlStrcmp(root->name, (const xmlChar *)"run") == 0) {
                                d->has_meta = true;
                                d->meta_id = xml_attr(root, "id");
                                d->meta_owner = xml_attr(root, "owner");
                        }
                        free(md);
                }
                virDomainFree(doms[i]);
        }
        free(doms);
        virResetLastError();
        return 0;
}

static int collect_volumes(const struct gc_opts *o, struct collected *c, struct mlvm_err *e)
{
        virStorageVolPtr *vols = NULL;
        virStoragePoolPtr pool = virStoragePoolLookupByName(c->conn, o->pool_name);
        if (!pool) {
                virResetLastError();
                return 0;   /* no pool: no volumes */
        }
        if (o->dry_run && virStoragePoolIsActive(pool) != 1) {
                virStoragePoolFree(pool);
                return 0;   /* not started again by a dry run: its volumes cannot be listed */
        }
        virStoragePoolFree(pool);
        pool = NULL;
        if (volume_pool_for_removal(c->conn, o->pool_name, &pool, &c->pool_restarted, e) < 0)
                return -EIO;
        c->pool = pool;
        int n = virStoragePoolListAllVolumes(pool, &vols, 0);
        if (n < 0)
                return err_virt(e, "list volumes of pool %s", o->pool_name);
        c->in.volumes = xcalloc(n ? (size_t)n : 1, sizeof(char *));
        for (int i = 0; i < n; i++) {
                const char *name = virStorageVolGetName(vols[i]);
                if (name)
                        c->in.volumes[c->in.n_volumes++] = xstrdup(name);
                virStorageVolFree(vols[i]);
        }
        free(vols);
        return 0;
}

/* Boot time (wall clock) and clock ticks, to turn /proc start times into dates. */
static bool boot_time(double *ret_btime, long *ret_hz)
{
        _cleanup_free_ char *buf = NULL;
        size_t len;
        if (read_file_capped("/proc/stat", 1 << 20, &buf, &len) < 0)
                return false;
        const char *p = strstr(buf, "\nbtime ");
        long hz = sysconf(_SC_CLK_TCK);
        if (!p || hz <= 0)
                return false;
        *ret_btime = strtod(p + 7, NULL);
        *ret_hz = hz;
        return *ret_btime > 0;
}

/* PATH.tmp.PID (write_file_atomic) in DIR: the writer is alive when PID
 * runs and started before the file was last written (else the pid was reused). */
static void collect_tmp_in(const char *dir, const char *shown_dir, struct collected *c)
{
        DIR *d = opendir(dir);
        struct dirent *de;
        double btime = 0;
        long hz = 0;
        bool have_boot = boot_time(&btime, &hz);
        while (d && (de = readdir(d))) {
                const char *t = strstr(de->d_name, ".tmp.");
                char *end;
                if (!t || !t[5])
                        continue;
                errno = 0;
                long pid = strtol(t + 5, &end, 10);
                if (errno || *end || pid <= 0 || pid > INT32_MAX)
                        continue;
                _cleanup_free_ char *path = xasprintf("%s/%s", dir, de->d_name);
                struct stat st;
                if (lstat(path, &st) < 0 || !S_ISREG(st.st_mode))
                        continue;
                bool alive = kill((pid_t)pid, 0) == 0 || errno == EPERM;
                unsigned long long start;
                if (alive && have_boot && run_proc_start_time((pid_t)pid, &start) == 0 &&
                    btime + (double)start / (double)hz > (double)st.st_mtim.tv_sec + 1)
                        alive = false;   /* started after the file was written: not its writer */
                c->in.tmpfiles = xreallocarray(c->in.tmpfiles, c->in.n_tmpfiles + 1, sizeof(*c->in.tmpfiles));
                c->in.tmpfiles[c->in.n_tmpfiles++] =
                        (struct gc_tmpfile){ .path = xasprintf("%s%s", shown_dir, de->d_name), .writer_alive = alive };
        }
        if (d)
                closedir(d);
}

static void collect_tmpfiles(const struct gc_opts *o, struct collected *c)
{
        static const char *const dirs[] = { "", "names/", "cache/", "keys/", "secrets/", "images/tags/" };
        for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
                _cleanup_free_ char *d = xasprintf("%s/%s", o->state_dir, dirs[i]);
                collect_tmp_in(d, dirs[i], c);
        }
        for (size_t i = 0; i < c->in.n_runs; i++) {
                _cleanup_free_ char *d = run_dir(o->state_dir, c->in.runs[i].id);
                _cleanup_free_ char *shown = xasprintf("runs/%s/", c->in.runs[i].id);
                collect_tmp_in(d, shown, c);
        }
}

static void collect_names(const struct gc_opts *o, struct collected *c)
{
        _cleanup_free_ char *dir = xasprintf("%s/names", o->state_dir);
        DIR *d = opendir(dir);
        struct dirent *de;
        while (d && (de = readdir(d))) {
                char id[RUN_ID_LEN + 1];
                if (!name_is_valid(de->d_name) || run_name_get(o->state_dir, de->d_name, id) < 0)
                        continue;
                c->in.names = xreallocarray(c->in.names, c->in.n_names + 1, sizeof(*c->in.names));
                struct gc_name *n = &c->in.names[c->in.n_names++];
                n->name = xstrdup(de->d_name);
                memcpy(n->id, id, sizeof(id));
        }
        if (d)
                closedir(d);
}

/* The uid claims that name this state directory's identity; others' are
 * not looked at (qemu-id.h). */
static void collect_uids(struct collected *c)
{
        struct qemu_id_claim *all = NULL;
        size_t n = 0;
        if (!c->in.owner[0] || qemu_id_list(QEMU_ID_CLAIMS_DIR, &all, &n, NULL) < 0)
                return;
        c->in.uids = xcalloc(n ? n : 1, sizeof(*c->in.uids));
        for (size_t i = 0; i < n; i++)
                if (streq(all[i].owner, c->in.owner)) {
                        struct gc_uid *u = &c->in.uids[c->in.n_uids++];
                        u->uid = all[i].uid;
                        memcpy(u->run, all[i].run, sizeof(u->run));
                }
        free(all);
}

static void collected_clear(struct collected *c)
{
        for (size_t i = 0; i < c->in.n_runs; i++) {
                if (c->in.runs[i].lock_fd >= 0)
                        (void)close(c->in.runs[i].lock_fd);
                json_object_put(c->records[i]);
        }
        free(c->in.runs);
        free(c->records);
        for (size_t i = 0; i < c->in.n_domains; i++) {
                free(c->in.domains[i].name);
                free(c->in.domains[i].meta_id);
                free(c->in.domains[i].meta_owner);
        }
        free(c->in.domains);
        for (size_t i = 0; i < c->in.n_volumes; i++)
                free(c->in.volumes[i]);
        free(c->in.volumes);
        for (size_t i = 0; i < c->in.n_tmpfiles; i++)
                free(c->in.tmpfiles[i].path);
        free(c->in.tmpfiles);
        for (size_t i = 0; i < c->in.n_names; i++)
                free(c->in.names[i].name);
        free(c->in.names);
        free(c->in.uids);
        if (c->pool)
                virStoragePoolFree(c->pool);
        if (c->conn)
                virConnectClose(c->conn);
}

static json_object *record_of(struct collected *c, const char *id)
{
        for (size_t i = 0; i < c->in.n_runs; i++)
                if (streq(c->in.runs[i].id, id))
                        return c->in.runs[i].record;
        return NULL;
}

/* Remove one item; 0 or a negative errno with E set. */
static int act(const struct gc_opts *o, struct collected *c, struct gc_item *it, struct mlvm_err *e)
{
        switch (it->kind) {
        case GC_MONITOR: {
                json_object *run = record_of(c, it->run);
                /* Proven again right before the signal: pid, start time, exe. */
                if (!run || !run_monitor_matches(run, it->run))
                        return 0;   /* gone by itself */
                if (kill(it->pid, SIGKILL) < 0 && errno != ESRCH)
                        return err_set(e, -errno, "kill monitor pid %d", (int)it->pid);
                for (int i = 0; i < 200 && run_monitor_alive(it->pid, it->run); i++) {
                        struct timespec ts = { 0, 10000000 };
                        nanosleep(&ts, NULL);
                }
                return 0;
        }
        case GC_DOMAIN: {
                _cleanup_virDomain_ virDomainPtr d = virDomainLookupByName(c->conn, it->name);
                if (!d)
                        return 0;
                if (virDomainIsActive(d) == 1 && virDomainDestroy(d) < 0)
                        return err_virt(e, "destroy %s", it->name);
                if (virDomainIsPersistent(d) == 1 && virDomainUndefine(d) < 0)
                        return err_virt(e, "undefine %s", it->name);
                return 0;
        }
        case GC_VOLUME: {
                _cleanup_vol_ virStorageVolPtr v = c->pool ? virStorageVolLookupByName(c->pool, it->name) : NULL;
                if (!v)
                        return 0;
                if (virStorageVolDelete(v, 0) < 0)
                        return err_virt(e, "delete volume %s", it->name);
                return 0;
        }
        case GC_SOCKET:
        case GC_TMPFILE: {
                _cleanup_free_ char *path = xasprintf("%s/%s", o->state_dir, it->name);
                if (unlink(path) < 0 && errno != ENOENT)
                        return err_set(e, -errno, "%s", path);
                return 0;
        }
        case GC_RECORD:
                (void)run_remove_record(o->state_dir, it->run);
                return 0;
        case GC_NAME: {
                /* Under runs.lock (held): only if it still names that run. */
                char cur[RUN_ID_LEN + 1];
                _cleanup_free_ char *path = xasprintf("%s/names/%s", o->state_dir, it->name);
                if (run_name_get(o->state_dir, it->name, cur) == 0 && streq(cur, it->run) && unlink(path) < 0 &&
                    errno != ENOENT)
                        return err_set(e, -errno, "%s", path);
                return 0;
        }
        case GC_UID: {
                /* Only while the claim still names this state directory's run. */
                char *end;
                unsigned long uid = strtoul(it->name + strlen("uid "), &end, 10);
                if (*end)
                        return err_setx(e, -EINVAL, "%s: not a uid", it->name);
                return qemu_id_release(QEMU_ID_CLAIMS_DIR, (uint32_t)uid, c->in.owner, it->run, e);
        }
        case GC_KIND_MAX:
                break;
        }
        return 0;
}

static int audit(const struct gc_opts *o, const struct gc_plan *p, struct mlvm_err *e)
{
        json_object *removed = json_object_new_array();
        size_t n = 0, more = 0;
        for (size_t i = 0; i < p->n; i++) {
                if (p->items[i].action != GC_DONE)
                        continue;
                if (n++ >= GC_AUDIT_ITEMS_MAX) {
                        more++;
                        continue;
                }
                json_object *x = json_object_new_object();
                json_object_object_add(x, "kind", json_object_new_string(gc_kind_to_string(p->items[i].kind)));
                json_object_object_add(x, "name", json_object_new_string(p->items[i].name));
                if (p->items[i].run[0])
                        json_object_object_add(x, "run", json_object_new_string(p->items[i].run));
                json_object_array_add(removed, x);
        }
        return audit_removed(o->state_dir, "gc", removed, more, e);
}

int run_gc(const struct gc_opts *o, struct gc_plan *ret, struct mlvm_err *e)
{
        struct collected c = { 0 };
        char owner[RUN_OWNER_LEN + 1] = "";
        struct gc_plan p = { 0 };
        int r;

        /* No identity yet: no run of ours ever reached libvirt; everything there is not ours. */
        if ((r = run_owner(o->state_dir, false, owner, NULL)) < 0 && r != -ENOENT)
                return err_set(e, r, "%s/owner", o->state_dir);
        _cleanup_free_ char *lockpath = xasprintf("%s/runs.lock", o->state_dir);
        /* runs.lock: no up claims a run while gc looks and acts. */
        _cleanup_close_ int lock = open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (lock < 0 || flock(lock, LOCK_EX) < 0)
                return err_set(e, -errno, "lock %s", lockpath);
        c.in.owner = owner;
        c.in.uri = o->uri;
        c.in.now = run_now();
        if ((r = virt_connect(o->uri, &c.conn, e)) < 0 || (r = collect_runs(o, &c, e)) < 0 ||
            (r = collect_domains(&c, e)) < 0 || (r = collect_volumes(o, &c, e)) < 0) {
                collected_clear(&c);
                return r;
        }
        collect_tmpfiles(o, &c);
        collect_names(o, &c);
        collect_uids(&c);
        gc_decide(&c.in, &p);
        p.pool_restarted = c.pool_restarted;
        int failed = 0;
        for (size_t i = 0; !o->dry_run && i < p.n; i++) {
                struct gc_item *it = &p.items[i];
                struct mlvm_err ie = { 0 };
                if (it->action != GC_REMOVE)
                        continue;
                if (act(o, &c, it, &ie) < 0) {
                        it->action = GC_FAILED;
                        free(it->why);
                        it->why = xstrdup(ie.msg);
                        failed++;
                } else
                        it->action = GC_DONE;
        }
        collected_clear(&c);
        if (!o->dry_run && (r = audit(o, &p, e)) < 0) {
                *ret = p;
                return r;
        }
        *ret = p;
        if (failed)
                return err_setx(e, -EIO, "%d object%s could not be removed", failed, failed == 1 ? "" : "s");
        return 0;
}
