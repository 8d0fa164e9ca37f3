/* run-up-start.c: the domain goes to libvirt, the run to its monitor, and
 * `up` waits until the agent is ready. A first KVM boot on a URI is
 * watched here: a guest that pauses itself, no HELLO, or "KVM internal
 * error" in QEMU's log records KVM as unusable for the URI (host-kvm.c). */
#include "mlvm-build.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>

#include "monitor-spawn.h"
#include "run-up-internal.h"
#include "run.h"
#include "util.h"

/* The last QEMU_LOG_TAIL bytes of libvirt's log of DOMAIN's QEMU, when
 * the hypervisor host is this machine (NULL otherwise): where "Permission
 * denied" and "KVM internal error" appear. Written by QEMU, whose guest
 * we do not trust: capped, and only ever shown, never parsed for more
 * than the watch's fixed phrases. */
#define QEMU_LOG_TAIL (64 * 1024)
char *up_qemu_log_tail(const char *uri, const char *domain)
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
        _cleanup_free_ char *log = up_qemu_log_tail(c->o->uri, c->domain);
        bool no_hello = error && (strstr(error, "did not say HELLO") || strstr(error, "before its agent said HELLO") ||
                                  strstr(error, "was not ready within"));
        c->kvm_failed = host_kvm_watch_failed(no_hello, paused, reason, log, c->kvm_why, sizeof(c->kvm_why));
}

/* The monitor's last line, when it died before saying why in the record. */
static int monitor_died(struct up_ctx *c, struct mlvm_err *e)
{
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

static int wait_ready(struct up_ctx *c, unsigned timeout_s, struct mlvm_err *e)
{
        usec_t deadline = now_usec() + usec_from_sec(timeout_s + 10);   /* the monitor times out first */
        usec_t next_look = 0;
        for (;;) {
                json_object *run = NULL, *x;
                if (run_load(c->o->state_dir, c->id, &run, e) < 0)
                        return -EIO;
                const char *state = json_object_object_get_ex(run, "state", &x) ? json_object_get_string(x) : "";
                /* Ready once is ready: a workload that already ended is a run, not a failed up. */
                /* HELLO means KVM booted the guest: what fails after it is the guest's. */
                if (c->watch && json_object_object_get_ex(run, "hello_at", NULL)) {
                        (void)host_kvm_watch_save(c->o->state_dir, c->o->uri, HOST_KVM_BOOTS, NULL);
                        c->watch = false;
                }
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
                if (!run_monitor_alive(c->monitor, c->id))
                        return monitor_died(c, e);
                if (now_usec() > deadline)
                        return err_setx(e, -ETIMEDOUT, "the run was not ready within %u s", timeout_s);
                if (up_check_interrupt(e) < 0)
                        return -EINTR;
                int reason = 0;
                if (c->watch && now_usec() > next_look) {
                        next_look = now_usec() + usec_from_ms(500);
                        if (domain_paused(c, &reason)) {
                                watch_verdict(c, NULL, true, reason);
                                return err_setx(e, -EIO, "KVM did not boot the guest: %s", c->kvm_why);
                        }
                }
                struct timespec ts = { 0, 10000000 };
                nanosleep(&ts, NULL);
        }
}

/* The domain exists, paused, and QEMU has read its kernel and initramfs:
 * the verification's result, the volumes still the ones hashed, then the
 * vCPUs run. */
static int start_verified(struct up_ctx *c, virDomainPtr dom, struct mlvm_err *e)
{
        int r;
        if ((r = up_verify_end(c, e)) < 0 || (r = up_verify_recheck(c, e)) < 0) {
                c->booting = false;   /* its vCPUs never ran: no evidence to keep, nothing stays */
                return r;
        }
        if ((r = run_save(c->o->state_dir, c->id, c->run, e)) < 0)   /* with verified_at_boot */
                return r;
        if (virDomainResume(dom) < 0)
                return err_virt(e, "start domain %s", c->domain);
        return 0;
}

int up_start(struct up_ctx *c, struct mlvm_err *e)
{
        int hand = -1, r;

        c->t_create0 = now_usec();
        c->booting = true;
        /* Verification still running (a local pool): start paused, so the
         * guest runs only once the verified volumes are the ones QEMU read. */
        bool pending = c->verify.running;
        virDomainPtr dom = virDomainCreateXML(c->conn, c->xml, pending ? VIR_DOMAIN_START_PAUSED : 0);
        if (!dom) {
                r = err_virt(e, "start domain %s", c->domain);
                /* QEMU that cannot open /dev/kvm fails right here, before any watch. */
                if (c->watch) {
                        _cleanup_free_ char *log = up_qemu_log_tail(c->o->uri, c->domain);
                        _cleanup_free_ char *both = xasprintf("%s\n%s", e->msg, log ? log : "");
                        c->kvm_failed = host_kvm_watch_failed(false, false, 0, both, c->kvm_why, sizeof(c->kvm_why));
                        if (c->kvm_failed)
                                (void)host_kvm_watch_save(c->o->state_dir, c->o->uri, HOST_KVM_FAILS, c->kvm_why);
                }
                return r;
        }
        c->domain_started = true;
        r = pending ? start_verified(c, dom, e) : 0;
        virDomainFree(dom);
        if (r < 0)
                return r;
        c->t_created = now_usec();
        up_test_pause("domain");
        if ((r = monitor_spawn(c->o->state_dir, c->id, c->n_creds > 0, &c->monitor, &hand, e)) < 0)
                return r;
        if (hand >= 0) {
                r = creds_write(hand, c->creds, c->n_creds, e);
                close(hand);
                for (size_t i = 0; i < c->n_creds; i++)
                        cred_clear_value(&c->creds[i]);   /* the monitor has them now */
                if (r < 0)
                        return r;
        }
        up_test_pause("monitor");
        return 0;
}

int up_wait(struct up_ctx *c, struct mlvm_err *e)
{
        const struct up_opts *o = c->o;
        int r;

        if (o->no_wait)
                return 0;
        if ((r = wait_ready(c, c->boot_timeout, e)) < 0) {
                if (c->watch && !c->kvm_failed)
                        watch_verdict(c, e->msg, false, 0);
                if (c->kvm_failed)
                        (void)host_kvm_watch_save(o->state_dir, o->uri, HOST_KVM_FAILS, c->kvm_why);
                return r;
        }
        if (c->watch)
                (void)host_kvm_watch_save(o->state_dir, o->uri, HOST_KVM_BOOTS, NULL);
        return 0;
}
