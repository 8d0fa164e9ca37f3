/* run-up.c: start a run (`mlvm up`, `mlvm run`): the phases in order
 * (run-up-internal.h), and, when one fails, everything undone but the
 * evidence: no domain, volume, monitor or socket is left; a run whose
 * domain reached libvirt keeps its record and logs for `mlvm logs`. */
#include "mlvm-build.h"

#include <signal.h>
#include <string.h>
#include <stdarg.h>
#include <time.h>

#include "audit.h"
#include "disk.h"
#include "qemu-id.h"
#include "run-up-internal.h"
#include "run.h"
#include "util.h"

void up_notice(struct up_result *ret, const char *fmt, ...)
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

void up_test_pause(const char *phase)
{
        const char *at = getenv("MLVM_TEST_PAUSE_AT");
        if (at && streq(at, phase))
                (void)raise(SIGSTOP);
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

static bool rollback_record(struct up_ctx *c, const char *why);
static int reconnect(struct up_ctx *c);

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
        /* libvirtd restarted under up (its connection died, with the error
         * being undone): what up created is still there, so reconnect for
         * the undo, as the monitor does for its teardown. */
        if (c->conn && virConnectIsAlive(c->conn) != 1 && reconnect(c) < 0)
                return rollback_record(c, why);
        if (c->domain_started) {
                virDomainPtr d = virDomainLookupByName(c->conn, c->domain);
                if (d) {
                        (void)virDomainDestroy(d);
                        virDomainFree(d);
                }
        }
        if (c->pool && c->id[0])
                (void)disk_delete_run(c->pool, c->id, &e);
        /* The domain is gone (destroyed above, or never started): its uid is free again. */
        if (c->uid_claimed)
                (void)qemu_id_release(QEMU_ID_CLAIMS_DIR, c->env.qemu_uid, c->owner, c->id, &e);
        return rollback_record(c, why);
}

/* A fresh connection and pool for the undo, within a few seconds of a
 * restarted libvirtd coming back. */
static int reconnect(struct up_ctx *c)
{
        const char *pool = c->pool ? virStoragePoolGetName(c->pool) : NULL;
        _cleanup_free_ char *name = pool ? xstrdup(pool) : NULL;
        virConnectPtr conn = NULL;

        for (int i = 0; i < 50 && virt_connect(c->o->uri, &conn, NULL) < 0; i++) {
                struct timespec ts = { 0, 100000000 };
                nanosleep(&ts, NULL);
        }
        if (!conn)
                return -ENOTCONN;
        if (c->pool)
                virStoragePoolFree(c->pool);
        c->pool = name ? virStoragePoolLookupByName(conn, name) : NULL;
        virConnectClose(c->conn);
        c->conn = conn;
        return 0;
}

/* The record's part of the undo (see rollback). */
static bool rollback_record(struct up_ctx *c, const char *why)
{
        struct mlvm_err e = { 0 };
        if (!c->dir)
                return false;
        _cleanup_free_ char *sock = run_file(c->o->state_dir, c->id, "control.sock");
        (void)unlink(sock);
        if (c->saved && c->booting) {
                struct failed_info f = { why };
                _cleanup_free_ char *log = up_qemu_log_tail(c->o->uri, c->domain);
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
        (void)run_remove_record(c->o->state_dir, c->id);
        return false;
}

/* The phases, top-down; the first failure stops them, and attempt()
 * undoes what they did. */
static int do_up(struct up_ctx *c, struct up_result *ret, struct mlvm_err *e)
{
        int r;

        c->t0 = now_usec();
        c->created_at = run_now();
        c->run = json_object_new_object();
        if ((r = up_check(c, e)) < 0 || (r = up_host(c, e)) < 0 || (r = up_image(c, e)) < 0 ||
            (r = up_check_interrupt(e)) < 0 || (r = up_verify_begin(c, e)) < 0)
                return r;
        /* While the image is verified: the claim, the credentials, the
         * volumes. The verification's failure is the one said (it would have
         * come first in order), and it ends before anything is undone. */
        if ((r = up_claim(c, e)) == 0 && (r = up_identity(c, e)) == 0) {
                up_test_pause("claim");
                if ((r = up_check_interrupt(e)) == 0 && (r = up_fetch_creds(c, e)) == 0 &&
                    (r = up_volumes(c, e)) == 0) {
                        up_test_pause("volumes");
                        r = up_check_interrupt(e);
                }
        }
        /* Over a remote URI the verification ends here, before the domain
         * exists; on this machine after libvirt has started it paused
         * (up_start), or now if a phase failed. */
        int v = c->verify.local && r == 0 ? 0 : up_verify_end(c, e);
        if (v < 0 || r < 0)
                return v < 0 ? v : r;
        if ((r = up_domain(c, e)) < 0 || (r = up_start(c, e)) < 0 || (r = up_check_interrupt(e)) < 0 ||
            (r = up_wait(c, e)) < 0)
                return r;
        memcpy(ret->id, c->id, sizeof(c->id));
        ret->ready_s = c->o->no_wait ? 0 : usec_to_sec(now_usec() - c->t0);
        ret->verify_s = usec_to_sec(c->t_verified - c->t0);
        ret->volumes_s = usec_to_sec(c->t_vol1 - c->t_vol0);
        ret->overlay_s = usec_to_sec(c->t_overlay - c->t_vol0);
        ret->create_s = usec_to_sec(c->t_created - c->t_create0);
        return 0;
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
        up_verify_clear(&c->verify);
        host_caps_clear(&c->caps);
        manifest_clear(&c->m);
        free(c->kernel);
        free(c->initrd);
        free(c->cmdline);
        free(c->root_path);
        free(c->artifacts_path);
        free(c->xml);
        for (size_t i = 0; i < MLVM_CONFIG_MAX_DISKS; i++) {
                free(c->sources[i]);
                if (c->source_fds[i] >= 0)
                        (void)close(c->source_fds[i]);
                free(c->data_paths[i]);
                free(c->serials[i]);
        }
        for (size_t i = 0; i < c->n_creds; i++)
                cred_free(&c->creds[i]);
        free(c->creds);
        free(c->dir);
        free(c->domain);
        if (c->up_lock >= 0)
                (void)close(c->up_lock);   /* the run is the monitor's now, or undone */
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
        struct up_ctx c = { .o = o, .res = ret, .force_tcg = force_tcg, .up_lock = -1 };
        for (size_t i = 0; i < MLVM_CONFIG_MAX_DISKS; i++)
                c.source_fds[i] = -1;
        int r = do_up(&c, ret, e);
        (void)up_verify_end(&c, NULL);   /* a phase failed while it ran: it ends before the undo */

        *ret_kvm_failed = r < 0 && c.kvm_failed;
        if (r == -EINTR)
                c.booting = false;   /* asked to stop: nothing stays, not even evidence */
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

/* Ctrl-C (or SIGTERM, SIGHUP) while up runs: noted here, acted on at the
 * next phase boundary or wait step, which undoes the run like any failure. */
static volatile sig_atomic_t interrupted;

static void on_interrupt(int sig)
{
        interrupted = sig;
}

bool run_up_interrupted(void)
{
        return interrupted != 0;
}

int up_check_interrupt(struct mlvm_err *e)
{
        if (!interrupted)
                return 0;
        return err_setx(e, -EINTR, "interrupted (%s): the run is undone", strsignal(interrupted));
}

int run_up(const struct up_opts *o, struct up_result *ret, struct mlvm_err *e)
{
        static const int sigs[] = { SIGINT, SIGTERM, SIGHUP };
        struct sigaction sa = { .sa_handler = on_interrupt }, old[3];
        bool kvm_failed = false;
        char failed[RUN_ID_LEN + 1] = "";

        sigemptyset(&sa.sa_mask);
        for (size_t i = 0; i < 3; i++)
                (void)sigaction(sigs[i], &sa, &old[i]);
        int r = up_check_interrupt(e);
        if (r == 0)
                r = attempt(o, false, ret, &kvm_failed, failed, e);

        /* auto: KVM that did not boot is recorded for the URI, and the run
         * starts once more under TCG. An explicit kvm never falls back. */
        if (r < 0 && kvm_failed && o->accel == MLVM_ACCEL_AUTO) {
                up_notice(ret, "KVM on %s did not boot the guest (%s); recorded, so later runs use TCG until "
                          "mlvm info --refresh; run %s keeps the evidence; starting again under TCG", o->uri,
                          e->msg, failed[0] ? failed : "-");
                err_clear(e);
                r = attempt(o, true, ret, &kvm_failed, failed, e);
        }
        for (size_t i = 0; i < 3; i++)
                (void)sigaction(sigs[i], &old[i], NULL);
        return r;
}
