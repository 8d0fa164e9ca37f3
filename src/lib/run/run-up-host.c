/* run-up-host.c: the first phases of `mlvm up`: the keys that cannot
 * work, then the host: the connection, the accelerator (chosen on
 * evidence, host-kvm.c), the resource controls it enforces (host-rc.c),
 * vsock, and the storage pool. Nothing is created yet. */
#include "mlvm-build.h"

#include <openssl/rand.h>

#include "host-rc.h"
#include "pool.h"
#include "source-policy.h"
#include "run-up-internal.h"
#include "util.h"
#include "volume.h"

/* Keys whose features have not landed refuse, rather than being ignored;
 * models start with up, experiments with run. */
int up_check(struct up_ctx *ctx, struct mlvm_err *e)
{
        const struct up_opts *o = ctx->o;
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
        int r = up_check_kind(c, w, o->experiment, e);
        return r < 0 ? r : up_check_workload(c, w, e);
}

int up_check_kind(const struct mlvm_config *c, const struct mlvm_workload *w, bool experiment, struct mlvm_err *e)
{
        if (w->kind == MLVM_KIND_EXPERIMENT && !experiment)
                return err_setx(e, -ENOTSUP, "%s:%u:%u: experiments.%s is an experiment: start it with `mlvm run %s`",
                                c->path, w->pos.line, w->pos.col, w->name, w->name);
        if (w->kind == MLVM_KIND_MODEL && experiment)
                return err_setx(e, -ENOTSUP, "%s:%u:%u: models.%s is a model: start it with `mlvm up %s`", c->path,
                                w->pos.line, w->pos.col, w->name, w->name);
        return 0;
}

int up_check_workload(const struct mlvm_config *c, const struct mlvm_workload *w, struct mlvm_err *e)
{
        if (w->kind == MLVM_KIND_MODEL && (w->at.artifacts.line || w->at.timeout.line)) {
                const struct mlvm_pos *p = w->at.artifacts.line ? &w->at.artifacts : &w->at.timeout;
                return err_setx(e, -ENOTSUP, "%s:%u:%u: models.%s.%s: only experiments have %s", c->path, p->line,
                                p->col, w->name, w->at.artifacts.line ? "artifacts" : "timeout",
                                w->at.artifacts.line ? "artifacts" : "a timeout");
        }
        if (w->transport == MLVM_TRANSPORT_VSOCK)
                return err_setx(e, -ENOTSUP, "%s:%u:%u: %ss.%s.transport: vsock is not supported yet; use auto or "
                                "virtio-serial", c->path, w->at.transport.line, w->at.transport.col,
                                mlvm_kind_to_string(w->kind), w->name);
        return 0;
}

/* The accelerator, on evidence: KVM only where it is known to boot a guest. */
static int choose_accel(struct up_ctx *c, struct mlvm_err *e)
{
        const struct up_opts *o = c->o;
        struct host_accel_choice *ac = &c->accel;
        int r = host_accel_for(c->conn, o->uri, o->state_dir, &c->caps, c->force_tcg ? MLVM_ACCEL_ASK_TCG : o->accel,
                               NULL, NULL, NULL, ac, e);
        if (r < 0)
                return r;
        if (ac->why[0] && ac->fix[0])
                up_notice(c->res, "%s: using TCG (fix: %s)", ac->why, ac->fix);
        else if (ac->why[0])
                up_notice(c->res, "%s: using TCG", ac->why);
        c->res->accel = ac->accel;
        c->watch = ac->accel == MLVM_ACCEL_KVM && ac->watch;
        /* The HELLO deadline: generous under TCG, whose boots swing 2-3x on a busy host. */
        c->boot_timeout = o->boot_timeout_s ? o->boot_timeout_s : ac->accel == MLVM_ACCEL_KVM ? 20 : 60;
        return 0;
}

/* Resource controls: only what the host enforces goes into the domain. */
static int choose_controls(struct up_ctx *c, struct mlvm_err *e)
{
        const struct up_opts *o = c->o;
        const struct mlvm_workload *w = o->workload;
        struct host_rc rc;
        int r = host_rc_get(c->conn, o->uri, o->state_dir, &c->caps, false, &rc, e);
        if (r < 0)
                return r;
        if (w->memory_limit && !rc.enforced[HOST_RC_MEM_HARD])
                return err_setx(e, -ENOTSUP, "%s:%u:%u: %ss.%s.memory_limit: this host cannot enforce a memory limit "
                                "(%s)", o->config->path, w->at.memory_limit.line, w->at.memory_limit.col,
                                mlvm_kind_to_string(w->kind), w->name, rc.why[HOST_RC_MEM_HARD]);
        for (int k = 0; k < HOST_RC_N; k++)
                if (!rc.enforced[k] && k != HOST_RC_MEM_HARD)
                        up_notice(c->res, "the %s is not enforced on this host (%s): left out",
                                  host_rc_describe((enum host_rc_control)k), rc.why[k]);
        c->env.rc_off = host_rc_missing(&rc);
        json_object_object_add(c->run, "resources", host_rc_json(&rc));
        return 0;
}

/* A vsock device only where the hypervisor host has vhost-vsock (probed
 * once per URI and cached); the agent still talks over virtio-serial. */
static int choose_vsock(struct up_ctx *c, struct mlvm_err *e)
{
        struct vsock_probe vp = { 0 };
        int r = 0;
        if (host_probe_vsock(c->conn, c->o->uri, c->o->state_dir, &c->caps, c->accel.accel, false, &vp, NULL) == 0 &&
            vp.state == VSOCK_YES) {
                uint32_t rnd = 0;
                if (RAND_bytes((unsigned char *)&rnd, sizeof(rnd)) != 1)
                        r = err_setx(e, -EIO, "no random bytes for a vsock CID");
                else {
                        c->env.vsock = true;
                        c->env.vsock_cid = 3 + rnd % 0x7ffffff0u;   /* 0-2 are reserved; libvirt refuses a CID in use */
                        json_object_object_add(c->run, "vsock_cid", json_object_new_int64(c->env.vsock_cid));
                }
        }
        vsock_probe_clear(&vp);
        return r;
}

/* Data-disk sources under the host's policy (source-policy.h): never the
 * state directory, the pool or a host system directory, symlinks resolved.
 * The disk is built from the descriptor of what was checked. */
static int check_sources(struct up_ctx *c, struct mlvm_err *e)
{
        const struct mlvm_workload *w = c->o->workload;
        struct pool_info pi = { 0 };
        struct source_policy sp;
        int r = 0;

        if (!w->n_disks)
                return 0;
        if ((r = pool_info(c->conn, c->o->pool_name, &pi, e)) < 0)
                return r;
        /* The pool's directory is on the hypervisor host: it matters here only when that is this machine. */
        source_policy_init(&sp, c->o->state_dir, host_uri_is_local(c->o->uri) ? pi.path : NULL);
        for (size_t i = 0; i < w->n_disks && r == 0; i++) {
                char why[512];
                _cleanup_free_ char *resolved = NULL;
                if (source_policy_check(&sp, w->disks[i].source, &resolved, &c->source_fds[i], why, sizeof(why)) == 0)
                        c->sources[i] = xasprintf("/proc/self/fd/%d", c->source_fds[i]);
                else
                        r = err_setx(e, -EACCES, "%s:%u:%u: %ss.%s.disks.%s.source: %s", c->o->config->path,
                                     w->disks[i].pos.line, w->disks[i].pos.col, mlvm_kind_to_string(w->kind), w->name,
                                     w->disks[i].name, why);
        }
        source_policy_clear(&sp);
        pool_info_clear(&pi);
        return r;
}

int up_host(struct up_ctx *c, struct mlvm_err *e)
{
        _cleanup_free_ char *caps_xml = NULL;
        int r;

        if ((r = virt_connect(c->o->uri, &c->conn, e)) < 0)
                return r;
        if (!(caps_xml = virConnectGetCapabilities(c->conn)))
                return err_virt(e, "capabilities");
        if ((r = host_caps_parse(caps_xml, &c->caps, e)) < 0 || (r = choose_accel(c, e)) < 0 ||
            (r = choose_controls(c, e)) < 0 || (r = volume_pool(c->conn, c->o->pool_name, &c->pool, e)) < 0 ||
            (r = check_sources(c, e)) < 0)
                return r;
        return choose_vsock(c, e);
}
