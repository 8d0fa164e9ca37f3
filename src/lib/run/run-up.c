/* run-up.c: start a run: verify the image again, create the per-run
 * volumes through libvirt, start the transient domain, hand it to a
 * detached monitor and wait until the agent is ready. Any failure undoes
 * everything done so far: no domain, volume, monitor, record or name entry
 * is left behind. */
#include "mlvm-build.h"

#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <openssl/rand.h>

#include "audit.h"
#include "creds.h"
#include "digest.h"
#include "disk.h"
#include "domain.h"
#include "host-kvm.h"
#include "host-rc.h"
#include "image-build.h"
#include "manifest.h"
#include "monitor-spawn.h"
#include "paths.h"
#include "run-up.h"
#include "run.h"
#include "store.h"
#include "util.h"
#include "virt.h"
#include "volume.h"


/* One line for the user, said once (a retry under TCG says it again). */
static void up_notice(struct up_result *ret, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void up_notice(struct up_result *ret, const char *fmt, ...)
{
        char line[UP_NOTICE_MAX];
        va_list ap;
        va_start(ap, fmt);
        (void)vsnprintf(line, sizeof(line), fmt, ap);
        va_end(ap);
        for (size_t i = 0; i < ret->n_notices; i++)
                if (streq(ret->notices[i], line))
                        return;
        if (ret->n_notices < UP_MAX_NOTICES)
                memcpy(ret->notices[ret->n_notices++], line, sizeof(line));
}

/* Keys whose features have not landed refuse, rather than being ignored;
 * models start with up, experiments with run. */
static int check_supported(const struct up_opts *o, struct mlvm_err *e)
{
        const struct mlvm_config *c = o->config;
        const struct mlvm_workload *w = o->workload;
        /* A published port beyond this host is a decision, not a default. */
        for (size_t i = 0; i < w->n_publish; i++)
                if (!mlvm_publish_is_local(&w->publish[i]) && !o->publish_public)
                        return err_setx(e, -EPERM, "%s:%u:%u: %ss.%s.publish: %s:%u is not a loopback address; pass "
                                        "--publish-public to expose the model beyond this host", c->path,
                                        w->publish[i].pos.line, w->publish[i].pos.col, mlvm_kind_to_string(w->kind),
                                        w->name, w->publish[i].host_addr, w->publish[i].host_port);
        if (w->n_publish + o->n_publish > MLVM_CONFIG_MAX_PUBLISH)
                return err_setx(e, -E2BIG, "%s and --publish: more than %d published ports", w->name,
                                MLVM_CONFIG_MAX_PUBLISH);
        for (size_t i = 0; i < o->n_publish; i++)
                for (size_t j = 0; j < w->n_publish + i; j++) {
                        const struct mlvm_publish *p = &o->publish[i];
                        const struct mlvm_publish *q = j < w->n_publish ? &w->publish[j] : &o->publish[j - w->n_publish];
                        bool same = p->unix_path ? (q->unix_path && streq(p->unix_path, q->unix_path))
                                                 : (q->host_addr && streq(p->host_addr, q->host_addr) &&
                                                    p->host_port == q->host_port);
                        if (same)
                                return err_setx(e, -EINVAL, "--publish %s:%u: published twice", p->unix_path ? "unix" :
                                                p->host_addr, p->unix_path ? p->guest_port : p->host_port);
                }
        for (size_t i = 0; i < o->n_publish; i++)
                if (!mlvm_publish_is_local(&o->publish[i]) && !o->publish_public)
                        return err_setx(e, -EPERM, "--publish %s:%u: not a loopback address; pass --publish-public to "
                                        "expose the model beyond this host", o->publish[i].host_addr,
                                        o->publish[i].host_port);
        if (w->kind == MLVM_KIND_EXPERIMENT && !o->experiment)
                return err_setx(e, -ENOTSUP, "%s:%u:%u: experiments.%s is an experiment: start it with `mlvm run %s`",
                                c->path, w->pos.line, w->pos.col, w->name, w->name);
        if (w->kind == MLVM_KIND_MODEL && o->experiment)
                return err_setx(e, -ENOTSUP, "%s:%u:%u: models.%s is a model: start it with `mlvm up %s`", c->path,
                                w->pos.line, w->pos.col, w->name, w->name);
        if (w->kind == MLVM_KIND_MODEL && (w->at.artifacts.line || w->at.timeout.line)) {
                const struct mlvm_pos *p = w->at.artifacts.line ? &w->at.artifacts : &w->at.timeout;
                return err_setx(e, -ENOTSUP, "%s:%u:%u: models.%s.%s: only experiments have %s", c->path, p->line,
                                p->col, w->name, w->at.artifacts.line ? "artifacts" : "timeout",
                                w->at.artifacts.line ? "artifacts" : "a timeout");
        }
        return 0;
}

/* Re-verify the small parts at boot through libvirt (works remotely), and
 * the root filesystem by fd when the pool is on this machine. */
static int verify_at_boot(virStoragePoolPtr pool, const struct manifest *m, const char *digest, bool local,
                          json_object *verified, struct mlvm_err *e)
{
        for (size_t i = 0; i < m->n_parts; i++) {
                const struct image_part *p = &m->parts[i];
                _cleanup_free_ char *vol = store_volume_name(digest, p->name);
                char hex[SHA256_HEX_LEN + 1];
                uint64_t size;
                int r;

                if (streq(p->name, "rootfs")) {
                        if (!local)
                                continue;  /* remote: verified when imported; inspect says so */
                        _cleanup_free_ char *path = volume_path(pool, vol, e);
                        if (!path)
                                return -EIO;
                        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
                        if (fd < 0)
                                return err_set(e, -errno, "image part rootfs: %s", path);
                        r = sha256_fd(fd, p->size, &size, hex);
                } else
                        r = volume_hash(pool, vol, p->size, &size, hex, e);
                if (r < 0)
                        return e && e->msg[0] ? r : err_set(e, r, "image part %s", p->name);
                if (size != p->size || !streq(hex, p->sha256))
                        return err_setx(e, -EBADMSG, "image part %s (volume %s) fails verification: SHA-256 %s, the signed "
                                        "manifest says %s", p->name, vol, hex, p->sha256);
                json_object_array_add(verified, json_object_new_string(p->name));
        }
        return 0;
}

struct up_ctx {
        const struct up_opts *o;
        struct up_result *res;
        virConnectPtr conn;
        virStoragePoolPtr pool;
        char id[RUN_ID_LEN + 1];
        char *dir, *domain;
        bool named, domain_started, saved;
        bool booting;              /* the domain was handed to libvirt: a failure now keeps evidence */
        bool force_tcg;            /* the retry after a failed KVM watch */
        bool watch;                /* this is the first KVM boot seen on the URI */
        bool kvm_failed;           /* ... and KVM did not boot it */
        char kvm_why[256];
        pid_t monitor;
        json_object *run;
        struct cred *creds;
        size_t n_creds;
};

/* The last QEMU_LOG_TAIL bytes of libvirt's log of DOMAIN's QEMU, when
 * the hypervisor host is this machine (NULL otherwise): where "Permission
 * denied" and "KVM internal error" appear. Written by QEMU, whose guest
 * we do not trust: capped, and only ever shown, never parsed for more
 * than the watch's fixed phrases. */
#define QEMU_LOG_TAIL (64 * 1024)
static char *qemu_log_tail(const char *uri, const char *domain)
{
        _cleanup_free_ char *path = NULL;
        if (!host_uri_is_local(uri) || !domain)
                return NULL;
        if (strstr(uri, "/session")) {
                const char *home = getenv("HOME");
                if (!home || home[0] != '/')
                        return NULL;
                path = xasprintf("%s/.cache/libvirt/qemu/log/%s.log", home, domain);
        } else
                path = xasprintf("/var/log/libvirt/qemu/%s.log", domain);
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
                return NULL;
        off_t from = st.st_size > QEMU_LOG_TAIL ? st.st_size - QEMU_LOG_TAIL : 0;
        char *buf = xmalloc(QEMU_LOG_TAIL + 1);
        ssize_t n = pread(fd, buf, QEMU_LOG_TAIL, from);
        if (n < 0)
                n = 0;
        buf[n] = '\0';
        return buf;
}

struct failed_info {
        const char *why;
};

static void mark_start_failed(json_object *run, void *u)
{
        const struct failed_info *f = u;
        json_object_object_add(run, "state", json_object_new_string(RUN_FAILED));
        json_object_object_add(run, "failed_at", json_object_new_double(run_now()));
        json_object_object_add(run, "error", json_object_new_string(f->why));
        json_object_object_add(run, "start_failed", json_object_new_boolean(true));
}

/* Undo everything but the evidence: no domain, volume, monitor or socket
 * stays; a run whose domain was handed to libvirt keeps its record,
 * failed, with its console, monitor and QEMU logs, so that `mlvm logs RUN`
 * says what happened; `mlvm down RUN` removes it. A failure before that
 * (a credential source, a volume) is all in its one-line error: nothing
 * stays. Returns whether the record was kept. */
static bool rollback(struct up_ctx *c, const char *why)
{
        struct mlvm_err e = { 0 };
        /* The monitor is a grandchild reaped by init: signal it only while its
         * command line still says it is this run's monitor. */
        if (c->monitor > 0 && run_monitor_alive(c->monitor, c->id)) {
                (void)kill(c->monitor, SIGTERM);
                for (int i = 0; i < 100 && run_monitor_alive(c->monitor, c->id); i++) {
                        struct timespec ts = { 0, 20000000 };
                        nanosleep(&ts, NULL);
                }
                if (run_monitor_alive(c->monitor, c->id))
                        (void)kill(c->monitor, SIGKILL);
        }
        if (c->domain_started) {
                virDomainPtr d = virDomainLookupByName(c->conn, c->domain);
                if (d) {
                        (void)virDomainDestroy(d);
                        virDomainFree(d);
                }
        }
        if (c->pool && c->id[0])
                (void)disk_delete_run(c->pool, c->id, &e);
        if (!c->dir)
                return false;
        _cleanup_free_ char *sock = run_file(c->o->state_dir, c->id, "control.sock");
        (void)unlink(sock);
        if (c->saved && c->booting) {
                struct failed_info f = { why };
                _cleanup_free_ char *log = qemu_log_tail(c->o->uri, c->domain);
                if (log && *log) {
                        _cleanup_free_ char *path = run_file(c->o->state_dir, c->id, "qemu.log");
                        (void)write_file_atomic(path, log, strlen(log), 0600);
                }
                if (run_update(c->o->state_dir, c->id, mark_start_failed, &f, &e) == 0)
                        return true;
        }
        /* No record to speak of: nothing stays. */
        if (c->named)
                run_name_clear(c->o->state_dir, c->o->workload->name, c->id);
        run_remove_record(c->o->state_dir, c->id);
        return false;
}

/* Is the run's domain paused? (mlvm never pauses a booting run.) */
static bool domain_paused(struct up_ctx *c, int *ret_reason)
{
        _cleanup_virDomain_ virDomainPtr d = virDomainLookupByName(c->conn, c->domain);
        int state = 0, reason = 0;
        if (!d || virDomainGetState(d, &state, &reason, 0) < 0)
                return false;
        *ret_reason = reason;
        return state == VIR_DOMAIN_PAUSED;
}

/* A watched KVM boot did not reach ready: did KVM fail? Sets kvm_failed. */
static void watch_verdict(struct up_ctx *c, const char *error, bool paused, int reason)
{
        _cleanup_free_ char *log = qemu_log_tail(c->o->uri, c->domain);
        bool no_hello = error && (strstr(error, "did not say HELLO") || strstr(error, "before its agent said HELLO") ||
                                  strstr(error, "was not ready within"));
        c->kvm_failed = host_kvm_watch_failed(no_hello, paused, reason, log, c->kvm_why, sizeof(c->kvm_why));
}

static int wait_ready(struct up_ctx *c, unsigned timeout_s, struct mlvm_err *e)
{
        double deadline = run_now() + timeout_s + 10;   /* the monitor times out first */
        double next_look = 0;
        for (;;) {
                json_object *run = NULL, *x;
                if (run_load(c->o->state_dir, c->id, &run, e) < 0)
                        return -EIO;
                const char *state = json_object_object_get_ex(run, "state", &x) ? json_object_get_string(x) : "";
                /* Ready once is ready: a workload that already ended is a run, not a failed up. */
                if (streq(state, RUN_READY) || json_object_object_get_ex(run, "ready_at", NULL)) {
                        json_object_put(c->run);
                        c->run = run;
                        return 0;
                }
                if (!run_state_is_live(state)) {
                        const char *why = json_object_object_get_ex(run, "error", &x) ? json_object_get_string(x) : state;
                        int r = err_setx(e, -EIO, "%s", why);
                        json_object_put(run);
                        return r;
                }
                json_object_put(run);
                if (!run_monitor_alive(c->monitor, c->id)) {
                        /* The record goes with the rollback: say what the monitor said. */
                        _cleanup_free_ char *log = run_file(c->o->state_dir, c->id, "monitor.log"), *text = NULL;
                        size_t len = 0;
                        const char *last = "no message";
                        if (read_file_capped(log, 1 << 20, &text, &len) == 0 && len) {
                                while (len && text[len - 1] == '\n')
                                        text[--len] = '\0';
                                char *nl = strrchr(text, '\n');
                                last = nl ? nl + 1 : text;
                        }
                        return err_setx(e, -EIO, "the monitor died: %s", last);
                }
                if (run_now() > deadline)
                        return err_setx(e, -ETIMEDOUT, "the run was not ready within %u s", timeout_s);
                int reason = 0;
                if (c->watch && run_now() > next_look) {
                        next_look = run_now() + 0.5;
                        if (domain_paused(c, &reason)) {
                                watch_verdict(c, NULL, true, reason);
                                return err_setx(e, -EIO, "KVM did not boot the guest: %s", c->kvm_why);
                        }
                }
                struct timespec ts = { 0, 10000000 };
                nanosleep(&ts, NULL);
        }
}

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

/* The first lease of every granted credential, fetched before anything
 * is created for the domain: a broken source fails `up` early. */
static int fetch_creds(struct up_ctx *c, struct mlvm_err *e)
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

static int do_up(struct up_ctx *c, struct up_result *ret, struct mlvm_err *e)
{
        const struct up_opts *o = c->o;
        const struct mlvm_workload *w = o->workload;
        _cleanup_free_ char *caps_xml = NULL, *xml = NULL, *kernel = NULL, *initrd = NULL, *rootfs_path = NULL;
        _cleanup_free_ char *root_vol = NULL, *cmdline = NULL, *art_path = NULL;
        char *data_paths[MLVM_CONFIG_MAX_DISKS] = { 0 };
        char *serials[MLVM_CONFIG_MAX_DISKS] = { 0 };
        _cleanup_free_ char *lockpath = xasprintf("%s/runs.lock", o->state_dir), *runs = xasprintf("%s/runs", o->state_dir);
        struct host_caps caps = { 0 };
        struct manifest m = { 0 };
        struct domain_env env = { 0 };
        char digest[SHA256_HEX_LEN + 1];
        double t0 = run_now();
        int r;

        c->run = json_object_new_object();
        if ((r = check_supported(o, e)) < 0)
                return r;
        if ((r = virt_connect(o->uri, &c->conn, e)) < 0)
                return r;
        if (!(caps_xml = virConnectGetCapabilities(c->conn)))
                return err_virt(e, "capabilities");
        if ((r = host_caps_parse(caps_xml, &caps, e)) < 0)
                return r;
        /* The accelerator, on evidence: KVM only where it is known to boot a guest. */
        struct host_accel_choice ac;
        if ((r = host_accel_for(c->conn, o->uri, o->state_dir, &caps, c->force_tcg ? MLVM_ACCEL_ASK_TCG : o->accel,
                                NULL, NULL, NULL, &ac, e)) < 0)
                goto out;
        if (ac.why[0] && ac.fix[0])
                up_notice(ret, "%s: using TCG (fix: %s)", ac.why, ac.fix);
        else if (ac.why[0])
                up_notice(ret, "%s: using TCG", ac.why);
        ret->accel = ac.accel;
        c->watch = ac.accel == MLVM_ACCEL_KVM && ac.watch;
        /* The HELLO deadline: generous under TCG, whose boots swing 2-3x on a busy host. */
        unsigned boot_timeout = o->boot_timeout_s ? o->boot_timeout_s : ac.accel == MLVM_ACCEL_KVM ? 20 : 60;
        /* Resource controls: only what the host enforces goes into the domain. */
        struct host_rc rc;
        if ((r = host_rc_get(c->conn, o->uri, o->state_dir, &caps, false, &rc, e)) < 0)
                goto out;
        if (w->memory_limit && !rc.enforced[HOST_RC_MEM_HARD]) {
                r = err_setx(e, -ENOTSUP, "%s:%u:%u: %ss.%s.memory_limit: this host cannot enforce a memory limit (%s)",
                             o->config->path, w->at.memory_limit.line, w->at.memory_limit.col,
                             mlvm_kind_to_string(w->kind), w->name, rc.why[HOST_RC_MEM_HARD]);
                goto out;
        }
        for (int k = 0; k < HOST_RC_N; k++)
                if (!rc.enforced[k] && k != HOST_RC_MEM_HARD)
                        up_notice(ret, "the %s is not enforced on this host (%s): left out",
                                  host_rc_describe((enum host_rc_control)k), rc.why[k]);
        env.rc_off = host_rc_missing(&rc);
        json_object_object_add(c->run, "resources", host_rc_json(&rc));
        if (w->transport == MLVM_TRANSPORT_VSOCK)
                r = err_setx(e, -ENOTSUP, "%s:%u:%u: models.%s.transport: vsock is not supported yet; use auto or "
                             "virtio-serial", o->config->path, w->at.transport.line, w->at.transport.col, w->name);
        if (r < 0)
                goto out;
        if ((r = volume_pool(c->conn, o->pool_name, &c->pool, e)) < 0)
                goto out;
        /* A vsock device only where the hypervisor host has vhost-vsock (probed
         * once per URI and cached); the agent still talks over virtio-serial. */
        struct vsock_probe vp = { 0 };
        if (host_probe_vsock(c->conn, o->uri, o->state_dir, &caps, ac.accel, false, &vp, NULL) == 0 &&
            vp.state == VSOCK_YES) {
                uint32_t rnd = 0;
                if (RAND_bytes((unsigned char *)&rnd, sizeof(rnd)) != 1) {
                        vsock_probe_clear(&vp);
                        r = err_setx(e, -EIO, "no random bytes for a vsock CID");
                        goto out;
                }
                env.vsock = true;
                env.vsock_cid = 3 + rnd % 0x7ffffff0u;   /* 0-2 are reserved; libvirt refuses a CID in use */
                json_object_object_add(c->run, "vsock_cid", json_object_new_int64(env.vsock_cid));
        }
        vsock_probe_clear(&vp);
        /* The image: resolved, its signed manifest re-read, its parts re-verified. */
        if ((r = store_resolve(o->state_dir, w->image, digest, e)) < 0)
                goto out;
        {
                _cleanup_free_ char *mpath = xasprintf("%s/images/sha256/%s/manifest.json", o->state_dir, digest);
                _cleanup_free_ char *text = NULL;
                size_t len;
                char got[SHA256_HEX_LEN + 1];
                if ((r = read_file_capped(mpath, MANIFEST_MAX_BYTES, &text, &len)) < 0) {
                        r = err_set(e, r, "image %s", w->image);
                        goto out;
                }
                sha256_hex(text, len, got);
                if (!streq(got, digest)) {
                        r = err_setx(e, -EBADMSG, "image %s: the stored manifest does not hash to its digest", w->image);
                        goto out;
                }
                if ((r = manifest_parse(text, len, &m, e)) < 0)
                        goto out;
        }
        json_object *verified = json_object_new_array();
        json_object_object_add(c->run, "verified_at_boot", verified);
        if ((r = verify_at_boot(c->pool, &m, digest, host_uri_is_local(o->uri), verified, e)) < 0) {
                r = err_prefix(e, "image %s", w->image);
                goto out;
        }
        double t_verified = run_now();

        /* One run per name: checked and claimed under a lock, so two ups race safely. */
        if ((r = mkdir_p(runs, 0700)) < 0) {
                r = err_set(e, r, "%s", runs);
                goto out;
        }
        {
                _cleanup_close_ int lock = open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
                char cur[RUN_ID_LEN + 1];
                if (lock < 0 || flock(lock, LOCK_EX) < 0) {
                        r = err_set(e, -errno, "%s", lockpath);
                        goto out;
                }
                if (run_name_get(o->state_dir, w->name, cur) == 0) {
                        json_object *old = NULL;
                        bool live = false;
                        if (run_load(o->state_dir, cur, &old, NULL) == 0) {
                                json_object *x;
                                live = json_object_object_get_ex(old, "state", &x) &&
                                       run_state_is_live(json_object_get_string(x));
                                json_object_put(old);
                        }
                        if (live) {
                                r = err_setx(e, -EEXIST, "%s is already running as run %s (mlvm down %s first)", w->name,
                                             cur, w->name);
                                goto out;
                        }
                }
                if (run_new_id(c->id) < 0) {
                        r = err_setx(e, -EIO, "no random bytes for a run id");
                        goto out;
                }
                c->dir = run_dir(o->state_dir, c->id);
                if (mkdir(c->dir, 0700) < 0) {
                        r = err_set(e, -errno, "%s", c->dir);
                        free(c->dir);
                        c->dir = NULL;
                        goto out;
                }
                c->domain = domain_name(w->name, c->id);
                json_object_object_add(c->run, "id", json_object_new_string(c->id));
                json_object_object_add(c->run, "name", json_object_new_string(w->name));
                json_object_object_add(c->run, "kind", json_object_new_string(mlvm_kind_to_string(w->kind)));
                json_object_object_add(c->run, "state", json_object_new_string(RUN_STARTING));
                json_object_object_add(c->run, "created_at", json_object_new_double(t0));
                json_object_object_add(c->run, "uri", json_object_new_string(o->uri));
                json_object_object_add(c->run, "pool", json_object_new_string(o->pool_name));
                json_object_object_add(c->run, "domain", json_object_new_string(c->domain));
                json_object_object_add(c->run, "image", json_object_new_string(w->image));
                json_object_object_add(c->run, "image_digest", json_object_new_string(digest));
                json_object_object_add(c->run, "accel", json_object_new_string(mlvm_accel_to_string(ac.accel)));
                json_object_object_add(c->run, "accel_requested",
                                       json_object_new_string(mlvm_accel_request_to_string(o->accel)));
                if (ac.why[0])
                        json_object_object_add(c->run, "accel_why", json_object_new_string(ac.why));
                json_object_object_add(c->run, "transport", json_object_new_string("virtio-serial"));
                json_object_object_add(c->run, "boot_timeout_s", json_object_new_int((int32_t)boot_timeout));
                if (w->timeout_s)
                        json_object_object_add(c->run, "timeout_s", json_object_new_int64((int64_t)w->timeout_s));
                json_object_object_add(c->run, "exec_allowed", json_object_new_boolean(w->exec_allowed));
                json_object *pub = publish_json(w, o);
                if (pub)
                        json_object_object_add(c->run, "publish", pub);
                json_object_object_add(c->run, "config_file", json_object_new_string(o->config->path));
                json_object_object_add(c->run, "config_dir", json_object_new_string(o->config->dir));
                json_object *cfg = mlvm_config_to_json(o->config), *sect, *one;
                if (json_object_object_get_ex(cfg, w->kind == MLVM_KIND_MODEL ? "models" : "experiments", &sect) &&
                    json_object_object_get_ex(sect, w->name, &one))
                        json_object_object_add(c->run, "config", json_object_get(one));
                json_object_put(cfg);
                json_object *wl = workload_json(w);
                json_object *x;
                if (json_object_object_get_ex(wl, "command", &x) && json_object_array_length(x))
                        json_object_object_add(c->run, "command", json_object_get(x));
                if (json_object_object_get_ex(wl, "env", &x))
                        json_object_object_add(c->run, "env", json_object_get(x));
                json_object_put(wl);
                if ((r = run_save(o->state_dir, c->id, c->run, e)) < 0)
                        goto out;
                c->saved = true;
                if ((r = run_name_set(o->state_dir, w->name, c->id, e)) < 0)
                        goto out;
                c->named = true;
        }
        if ((r = fetch_creds(c, e)) < 0)
                goto out;

        /* Per-run volumes: the root overlay, the data disks. */
        json_object *vols = json_object_new_array(), *mounts = json_object_new_array(), *datad = json_object_new_array();
        json_object_object_add(c->run, "volumes", vols);
        json_object_object_add(c->run, "mounts", mounts);
        json_object_object_add(c->run, "data_disks", datad);
        const struct image_part *rootfs = manifest_part(&m, "rootfs");
        double t_vol0 = run_now();
        if (rootfs) {
                _cleanup_free_ char *base = store_volume_name(digest, "rootfs");
                root_vol = disk_volume_name(c->id, "root", NULL);
                _cleanup_free_ char *base_path = volume_path(c->pool, base, e);
                if (!base_path) {
                        r = -EIO;
                        goto out;
                }
                if ((r = disk_create_overlay(c->pool, root_vol, base_path, rootfs->size, e)) < 0)
                        goto out;
                json_object_array_add(vols, json_object_new_string(root_vol));
                if (!(rootfs_path = volume_path(c->pool, root_vol, e))) {
                        r = -EIO;
                        goto out;
                }
                env.disks[env.n_disks++] = (struct domain_disk){ rootfs_path, "qcow2", IMAGE_ROOT_SERIAL, false };
        }
        double t_overlay = run_now();
        for (size_t i = 0; i < w->n_disks; i++) {
                _cleanup_free_ char *vol = disk_volume_name(c->id, "data", w->disks[i].name);
                char sha[SHA256_HEX_LEN + 1];
                if ((r = disk_create_data(c->pool, vol, w->disks[i].source, sha, e)) < 0) {
                        r = err_prefix(e, "disk %s", w->disks[i].name);
                        goto out;
                }
                json_object_array_add(vols, json_object_new_string(vol));
                if (!(data_paths[i] = volume_path(c->pool, vol, e))) {
                        r = -EIO;
                        goto out;
                }
                serials[i] = xasprintf("mlvm-d%zu", i);
                env.disks[env.n_disks++] = (struct domain_disk){ data_paths[i], "raw", serials[i], true };
                json_object *mnt = json_object_new_object();
                json_object_object_add(mnt, "serial", json_object_new_string(serials[i]));
                json_object_object_add(mnt, "path", json_object_new_string(w->disks[i].mount));
                json_object_object_add(mnt, "fstype", json_object_new_string("iso9660"));
                json_object_array_add(mounts, mnt);
                json_object *dd = json_object_new_object();
                json_object_object_add(dd, "name", json_object_new_string(w->disks[i].name));
                json_object_object_add(dd, "source", json_object_new_string(w->disks[i].source));
                json_object_object_add(dd, "sha256", json_object_new_string(sha));
                json_object_array_add(datad, dd);
        }
        /* The raw artifact disk: sparse, written by the agent as one ustar stream. */
        if (w->artifacts) {
                _cleanup_free_ char *vol = disk_volume_name(c->id, "artifacts", NULL);
                if ((r = disk_create_artifacts(c->pool, vol, o->artifact_disk_size ?: RUN_ARTIFACT_DISK_SIZE, e)) < 0)
                        goto out;
                json_object_array_add(vols, json_object_new_string(vol));
                if (!(art_path = volume_path(c->pool, vol, e))) {
                        r = -EIO;
                        goto out;
                }
                env.disks[env.n_disks++] = (struct domain_disk){ art_path, "raw", RUN_ARTIFACT_SERIAL, false };
                json_object_object_add(c->run, "artifacts_dir", json_object_new_string(w->artifacts));
                json_object_object_add(c->run, "artifacts_serial", json_object_new_string(RUN_ARTIFACT_SERIAL));
                json_object_object_add(c->run, "artifacts_volume", json_object_new_string(vol));
        }
        double t_vol1 = run_now();

        /* The domain. */
        {
                _cleanup_free_ char *kv = store_volume_name(digest, "kernel"), *iv = store_volume_name(digest, "initramfs");
                if (!(kernel = volume_path(c->pool, kv, e)) || !(initrd = volume_path(c->pool, iv, e))) {
                        r = -EIO;
                        goto out;
                }
        }
        cmdline = o->kernel_args ? xasprintf("%s %s", m.cmdline, o->kernel_args) : xstrdup(m.cmdline);
        env.run_id = c->id;
        env.accel = ac.accel;
        env.arch = caps.arch;
        env.kernel = kernel;
        env.initrd = initrd;
        env.cmdline = cmdline;
        env.boot_timeout_s = boot_timeout;
        if ((r = domain_xml(w, &env, &xml, e)) < 0)
                goto out;
        {
                _cleanup_free_ char *path = run_file(o->state_dir, c->id, "domain.xml");
                if ((r = write_file_atomic(path, xml, strlen(xml), 0600)) < 0) {
                        r = err_set(e, r, "%s", path);
                        goto out;
                }
        }
        if ((r = run_save(o->state_dir, c->id, c->run, e)) < 0)
                goto out;
        double t_create0 = run_now();
        c->booting = true;
        virDomainPtr dom = virDomainCreateXML(c->conn, xml, 0);
        if (!dom) {
                r = err_virt(e, "start domain %s", c->domain);
                goto out;
        }
        c->domain_started = true;
        virDomainFree(dom);
        double t_created = run_now();
        {
                int hand = -1;
                if ((r = monitor_spawn(o->state_dir, c->id, c->n_creds > 0, &c->monitor, &hand, e)) < 0)
                        goto out;
                if (hand >= 0) {
                        r = creds_write(hand, c->creds, c->n_creds, e);
                        close(hand);
                        for (size_t i = 0; i < c->n_creds; i++)
                                cred_clear_value(&c->creds[i]);   /* the monitor has them now */
                        if (r < 0)
                                goto out;
                }
        }
        if (o->no_wait) {
                ret->ready_s = 0;
        } else {
                if ((r = wait_ready(c, boot_timeout, e)) < 0) {
                        if (c->watch && !c->kvm_failed)
                                watch_verdict(c, e->msg, false, 0);
                        if (c->kvm_failed)
                                (void)host_kvm_watch_save(o->state_dir, o->uri, HOST_KVM_FAILS, c->kvm_why);
                        goto out;
                }
                if (c->watch)
                        (void)host_kvm_watch_save(o->state_dir, o->uri, HOST_KVM_BOOTS, NULL);
                ret->ready_s = run_now() - t0;
        }
        memcpy(ret->id, c->id, sizeof(c->id));
        ret->verify_s = t_verified - t0;
        ret->volumes_s = t_vol1 - t_vol0;
        ret->overlay_s = t_overlay - t_vol0;
        ret->create_s = t_created - t_create0;
        r = 0;
out:
        for (size_t i = 0; i < MLVM_CONFIG_MAX_DISKS; i++) {
                free(data_paths[i]);
                free(serials[i]);
        }
        manifest_clear(&m);
        host_caps_clear(&caps);
        return r;
}

static void add_timings(json_object *run, void *u)
{
        const struct up_result *r = u;
        json_object *t = json_object_new_object();
        json_object_object_add(t, "verify_image_s", json_object_new_double(r->verify_s));
        json_object_object_add(t, "create_volumes_s", json_object_new_double(r->volumes_s));
        json_object_object_add(t, "create_overlay_s", json_object_new_double(r->overlay_s));
        json_object_object_add(t, "create_domain_s", json_object_new_double(r->create_s));
        if (r->ready_s > 0)
                json_object_object_add(t, "up_to_ready_s", json_object_new_double(r->ready_s));
        json_object_object_add(run, "timings", t);
}

static void ctx_free(struct up_ctx *c)
{
        json_object_put(c->run);
        for (size_t i = 0; i < c->n_creds; i++)
                cred_free(&c->creds[i]);
        free(c->creds);
        free(c->dir);
        free(c->domain);
        if (c->pool)
                virStoragePoolFree(c->pool);
        if (c->conn)
                virConnectClose(c->conn);
}

/* One attempt at starting the run; on failure it is undone (evidence kept)
 * and audited. RET_KVM_FAILED: a watched KVM boot did not work. */
static int attempt(const struct up_opts *o, bool force_tcg, struct up_result *ret, bool *ret_kvm_failed,
                   char *failed_id, struct mlvm_err *e)
{
        struct up_ctx c = { .o = o, .res = ret, .force_tcg = force_tcg };
        int r = do_up(&c, ret, e);

        *ret_kvm_failed = r < 0 && c.kvm_failed;
        if (r < 0) {
                bool kept = rollback(&c, e->msg);
                json_object *f = json_object_new_object();
                if (kept) {
                        json_object_object_add(f, "run", json_object_new_string(c.id));
                        memcpy(failed_id, c.id, sizeof(c.id));
                }
                json_object_object_add(f, "name", json_object_new_string(o->workload->name));
                json_object_object_add(f, "reason", json_object_new_string(e->msg));
                (void)audit_append(o->state_dir, "run.start-failed", f, NULL);
                json_object_put(f);
                size_t len = strlen(e->msg);
                if (kept && !strstr(e->msg, "mlvm logs"))
                        (void)snprintf(e->msg + len, sizeof(e->msg) - len, " (see mlvm logs %s)", c.id);
        } else {
                struct mlvm_err ignore = { 0 };
                (void)run_update(o->state_dir, c.id, add_timings, ret, &ignore);
                json_object *f = json_object_new_object();
                json_object_object_add(f, "run", json_object_new_string(c.id));
                json_object_object_add(f, "name", json_object_new_string(o->workload->name));
                json_object_object_add(f, "domain", json_object_new_string(c.domain));
                (void)audit_append(o->state_dir, "run.start", f, NULL);
                json_object_put(f);
        }
        ctx_free(&c);
        return r;
}

int run_up(const struct up_opts *o, struct up_result *ret, struct mlvm_err *e)
{
        bool kvm_failed = false;
        char failed[RUN_ID_LEN + 1] = "";
        int r = attempt(o, false, ret, &kvm_failed, failed, e);

        /* auto: KVM that did not boot is recorded for the URI, and the run
         * starts once more under TCG. An explicit kvm never falls back. */
        if (r < 0 && kvm_failed && o->accel == MLVM_ACCEL_AUTO) {
                up_notice(ret, "KVM on %s did not boot the guest (%s); recorded, so later runs use TCG until "
                          "mlvm info --refresh; run %s keeps the evidence; starting again under TCG", o->uri,
                          e->msg, failed[0] ? failed : "-");
                err_clear(e);
                r = attempt(o, true, ret, &kvm_failed, failed, e);
        }
        return r;
}
