/* run-up-identity.c: the phase of `mlvm up` that gives the run's QEMU a
 * uid of its own (qemu-id.h): the host's range, checked against its
 * account files; libvirt's QEMU group from its DAC base label; the uids
 * active domains already run as; then a claim, released by up_release_uid
 * when the run's domain is gone. */
#include "mlvm-build.h"

#include <sys/stat.h>

#include <libxml/tree.h>

#include "qemu-id.h"
#include "host-kvm.h"
#include "run-up-internal.h"
#include "util.h"
#include "virt.h"

/* The uid every active domain on the connection runs as, when its DAC
 * label is numeric: a uid whose claim was lost (or another host's mlvm
 * on a remote URI) is still never handed out twice while a QEMU holds it.
 * Other tenants' XML: only the one label is read, and only as numbers. */
static int busy_uids(virConnectPtr conn, uint32_t **ret, size_t *ret_n, struct mlvm_err *e)
{
        virDomainPtr *doms = NULL;
        int n = virConnectListAllDomains(conn, &doms, VIR_CONNECT_LIST_DOMAINS_ACTIVE);
        if (n < 0)
                return err_virt(e, "list domains");
        uint32_t *v = xcalloc(n ? (size_t)n : 1, sizeof(*v));
        size_t k = 0;
        for (int i = 0; i < n; i++) {
                char *xml = virDomainGetXMLDesc(doms[i], 0);
                _cleanup_xmlDoc_ xmlDocPtr doc = xml ? virt_parse_xml(xml, strlen(xml)) : NULL;
                _cleanup_xmlXPathContext_ xmlXPathContextPtr ctx = doc ? xmlXPathNewContext(doc) : NULL;
                _cleanup_free_ char *label =
                        ctx ? xpath_string(ctx, "string(/domain/seclabel[@model='dac']/label)") : NULL;
                uint32_t uid, gid;
                if (label && qemu_id_label_parse(label, &uid, &gid))
                        v[k++] = uid;
                free(xml);
                virDomainFree(doms[i]);
        }
        free(doms);
        virResetLastError();   /* a domain that went away meanwhile */
        *ret = v;
        *ret_n = k;
        return 0;
}

int up_identity(struct up_ctx *c, struct mlvm_err *e)
{
        const struct up_opts *o = c->o;
        struct qemu_id_range range;
        int r;

        if ((r = qemu_id_range_from_env(&range, e)) < 0)
                return r;
        if (range.off) {
                up_notice(c->res, "$%s is off: this run's QEMU runs as libvirt's one QEMU user, like every other "
                          "run's (docs/security.md)", QEMU_ID_ENV);
                json_object_object_add(c->run, "qemu_identity", json_object_new_string("libvirt-default"));
                return 0;
        }
        if ((r = qemu_id_range_check(&range, &qemu_id_host_files, e)) < 0)
                return r;
        const char *base = c->accel.accel == MLVM_ACCEL_KVM ? c->caps.dac_kvm : c->caps.dac_qemu;
        uint32_t base_uid, gid;
        /* Fail closed: without libvirt's DAC model a run cannot have a uid of its own. */
        if (!base)
                return err_setx(e, -ENOTSUP, "libvirt on %s has no DAC security model (an unprivileged daemon?): a "
                                "run's QEMU cannot get a uid of its own; set %s=off to run every QEMU as libvirt's "
                                "one QEMU user", o->uri, QEMU_ID_ENV);
        if (!qemu_id_label_parse(base, &base_uid, &gid))
                return err_setx(e, -ENOTSUP, "libvirt on %s: DAC base label \"%.64s\" is not +UID:+GID", o->uri, base);
        /* A QEMU with a uid of its own has QEMU's group and no other: on a
         * KVM host it opens /dev/kvm only when the node lets everyone. */
        struct stat st;
        struct host_qemu_ids qemu = { .resolved = true, .gid = gid };
        if (c->accel.accel == MLVM_ACCEL_KVM && host_uri_is_local(o->uri) && stat("/dev/kvm", &st) == 0 &&
            !host_node_openable_by_run(&qemu, st.st_uid, st.st_gid, st.st_mode & 07777))
                return err_setx(e, -EACCES, "/dev/kvm is mode %04o, which a run's own QEMU uid (group %u, no other "
                                "groups) cannot open: mlvm setup makes it 0666 as systemd-udev does, or set %s=off",
                                (unsigned)(st.st_mode & 07777), (unsigned)gid, QEMU_ID_ENV);
        _cleanup_free_ uint32_t *busy = NULL;
        size_t n_busy = 0;
        if ((r = busy_uids(c->conn, &busy, &n_busy, e)) < 0)
                return r;
        uint32_t uid;
        if ((r = qemu_id_claim(QEMU_ID_CLAIMS_DIR, &range, busy, n_busy, c->owner, c->id, o->state_dir, &uid, e)) < 0)
                return err_prefix(e, "a uid for the run's QEMU");
        c->uid_claimed = true;
        c->env.own_uid = true;
        c->env.qemu_uid = uid;
        c->env.qemu_gid = gid;
        c->qemu_owner = (struct volume_owner){ uid, gid };
        json_object_object_add(c->run, "qemu_identity", json_object_new_string("own-uid"));
        json_object_object_add(c->run, "qemu_uid", json_object_new_int64(uid));
        json_object_object_add(c->run, "qemu_gid", json_object_new_int64(gid));
        /* Recorded at once: a down after this up dies releases the claim. */
        return run_save(o->state_dir, c->id, c->run, e);
}
