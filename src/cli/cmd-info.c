/* cmd-info.c: mlvm info: what the hypervisor host behind the connection
 * offers (like docker info / virt-host-validate). */
#include "mlvm-build.h"

#include <time.h>

#include "cleanup.h"
#include "cli.h"
#include "host-kvm.h"
#include "host-rc.h"
#include "host.h"
#include "paths.h"
#include "pool.h"
#include "store.h"
#include "util.h"
#include "virt.h"

struct info_opts {
        bool refresh;
};

struct info {
        char *hostname;
        struct host_versions v;
        struct host_caps caps;
        struct host_accel_choice accel;
        struct host_kvm_facts kvm;
        struct host_kvm_watch watch;
        bool local;
        struct host_rc rc;
        struct vsock_probe vsock;
        struct pool_info pool;
        const char *pool_name;
        char *state_dir;
        struct store_tag *tags;
        size_t n_tags;
};

static void info_clear(struct info *i)
{
        free(i->hostname);
        host_caps_clear(&i->caps);
        vsock_probe_clear(&i->vsock);
        pool_info_clear(&i->pool);
        free(i->state_dir);
        store_tags_free(i->tags, i->n_tags);
}

static int on_opt(struct cli *cli, int c, const char *arg, void *u)
{
        struct info_opts *o = u;
        if (c == 'R') {
                o->refresh = true;
                return 0;
        }
        return -1;
}

static int gather(struct cli *cli, const struct info_opts *o, struct info *i, struct mlvm_err *e)
{
        _cleanup_virConnect_ virConnectPtr conn = NULL;
        _cleanup_free_ char *caps_xml = NULL;
        int r;

        if ((r = virt_connect(cli->uri, &conn, e)) < 0)
                return r;
        if ((r = host_versions(conn, &i->v, e)) < 0)
                return r;
        if (!(i->hostname = virConnectGetHostname(conn)))
                return err_virt(e, "host name");
        if (!(caps_xml = virConnectGetCapabilities(conn)))
                return err_virt(e, "capabilities");
        if ((r = host_caps_parse(caps_xml, &i->caps, e)) < 0)
                return r;
        i->state_dir = mlvm_state_dir();
        if (o->refresh)
                host_kvm_watch_forget(i->state_dir, cli->uri);
        if ((r = host_accel_for(conn, cli->uri, i->state_dir, &i->caps, MLVM_ACCEL_AUTO, &i->kvm, &i->local,
                                &i->watch, &i->accel, e)) < 0)
                return r;
        if ((r = host_rc_get(conn, cli->uri, i->state_dir, &i->caps, o->refresh, &i->rc, e)) < 0)
                return r;
        if ((r = host_probe_vsock(conn, cli->uri, i->state_dir, &i->caps, i->accel.accel, o->refresh, &i->vsock, e)) < 0)
                return r;
        i->pool_name = mlvm_pool_name();
        if ((r = pool_info(conn, i->pool_name, &i->pool, e)) < 0)
                return r;
        return store_list_tags(i->state_dir, &i->tags, &i->n_tags, e);
}

static const char *vsock_word(enum vsock_state s)
{
        return s == VSOCK_YES ? "available" : s == VSOCK_NO ? "not available" : "unknown";
}

static void iso_time(time_t t, char *buf, size_t len)
{
        struct tm tm;
        if (!gmtime_r(&t, &tm) || !strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm))
                (void)snprintf(buf, len, "%lld", (long long)t);
}

static const char *watch_word(enum host_kvm_record s)
{
        return s == HOST_KVM_BOOTS ? "boots" : s == HOST_KVM_FAILS ? "fails" : "untried";
}

static json_object *accel_json(const struct info *i)
{
        json_object *a = json_object_new_object(), *x;
        char when[64];

        json_object_object_add(a, "chosen", json_object_new_string(mlvm_accel_to_string(i->accel.accel)));
        json_object_object_add(a, "kvm_offered_by_libvirt", json_object_new_boolean(i->caps.accel == MLVM_ACCEL_KVM));
        json_object_object_add(a, "why_not_kvm", i->accel.why[0] ? json_object_new_string(i->accel.why) : NULL);
        json_object_object_add(a, "fix", i->accel.fix[0] ? json_object_new_string(i->accel.fix) : NULL);
        json_object_object_add(a, "local", json_object_new_boolean(i->local));
        if (i->local) {
                json_object_object_add(a, "kvm_module", i->kvm.module_name[0] ?
                                       json_object_new_string(i->kvm.module_name) : NULL);
                json_object_object_add(a, "qemu_user", json_object_new_string(i->kvm.qemu.user));
                json_object_object_add(a, "qemu_group", json_object_new_string(i->kvm.qemu.group));
                x = json_object_new_object();
                json_object_object_add(x, "exists", json_object_new_boolean(i->kvm.node.exists));
                if (i->kvm.node.exists) {
                        char mode[8];
                        snprintf(mode, sizeof(mode), "%04o", (unsigned)i->kvm.node.mode);
                        json_object_object_add(x, "owner", json_object_new_string(i->kvm.node.owner));
                        json_object_object_add(x, "group", json_object_new_string(i->kvm.node.group));
                        json_object_object_add(x, "mode", json_object_new_string(mode));
                        json_object_object_add(x, "qemu_can_open", json_object_new_boolean(i->kvm.node.qemu_can_open));
                }
                json_object_object_add(a, "dev_kvm", x);
        }
        x = json_object_new_object();
        json_object_object_add(x, "state", json_object_new_string(watch_word(i->watch.state)));
        if (i->watch.state != HOST_KVM_UNTRIED) {
                iso_time(i->watch.at, when, sizeof(when));
                json_object_object_add(x, "at", json_object_new_string(when));
                json_object_object_add(x, "reason", i->watch.reason[0] ? json_object_new_string(i->watch.reason) : NULL);
        }
        json_object_object_add(a, "first_kvm_boot", x);
        return a;
}

static json_object *to_json(const struct cli *cli, const struct info *i)
{
        json_object *o = json_object_new_object(), *x;
        char when[64];

        json_object_object_add(o, "uri", json_object_new_string(cli->uri));
        json_object_object_add(o, "hostname", json_object_new_string(i->hostname));
        x = json_object_new_object();
        json_object_object_add(x, "client", json_object_new_string(i->v.libvirt_client));
        json_object_object_add(x, "daemon", json_object_new_string(i->v.libvirt_daemon));
        json_object_object_add(o, "libvirt", x);
        x = json_object_new_object();
        json_object_object_add(x, "type", json_object_new_string(i->v.hv_type));
        json_object_object_add(x, "version", json_object_new_string(i->v.hv_version));
        json_object_object_add(x, "emulator", json_object_new_string(i->caps.emulator));
        json_object_object_add(o, "hypervisor", x);
        json_object_object_add(o, "arch", json_object_new_string(i->caps.arch));
        json_object_object_add(o, "accelerator", json_object_new_string(mlvm_accel_to_string(i->accel.accel)));
        json_object_object_add(o, "kvm", json_object_new_boolean(i->accel.accel == MLVM_ACCEL_KVM));
        json_object_object_add(o, "accel", accel_json(i));
        x = host_rc_json(&i->rc);
        iso_time(i->rc.probed_at, when, sizeof(when));
        json_object_object_add(x, "probed_at", json_object_new_string(when));
        json_object_object_add(x, "cached", json_object_new_boolean(i->rc.cached));
        json_object_object_add(o, "resource_controls", x);
        x = json_object_new_object();
        json_object_object_add(x, "available", i->vsock.state == VSOCK_UNKNOWN ? NULL
                                               : json_object_new_boolean(i->vsock.state == VSOCK_YES));
        json_object_object_add(x, "reason", i->vsock.reason ? json_object_new_string(i->vsock.reason) : NULL);
        iso_time(i->vsock.probed_at, when, sizeof(when));
        json_object_object_add(x, "probed_at", json_object_new_string(when));
        json_object_object_add(x, "cached", json_object_new_boolean(i->vsock.cached));
        json_object_object_add(o, "vsock", x);
        /* What runs use today: the host side of vsock is not built, so every
         * run talks over virtio-serial, with a vsock device where it works. */
        json_object_object_add(o, "transport", json_object_new_string("virtio-serial"));
        x = json_object_new_object();
        json_object_object_add(x, "name", json_object_new_string(i->pool_name));
        json_object_object_add(x, "exists", json_object_new_boolean(i->pool.exists));
        if (i->pool.exists) {
                json_object_object_add(x, "active", json_object_new_boolean(i->pool.active));
                json_object_object_add(x, "autostart", json_object_new_boolean(i->pool.autostart));
                json_object_object_add(x, "path", i->pool.path ? json_object_new_string(i->pool.path) : NULL);
                json_object_object_add(x, "capacity", json_object_new_uint64(i->pool.capacity));
                json_object_object_add(x, "allocation", json_object_new_uint64(i->pool.allocation));
                json_object_object_add(x, "available", json_object_new_uint64(i->pool.available));
                if (i->pool.active)  /* null when libvirt could not count them */
                        json_object_object_add(x, "volumes", i->pool.n_volumes >= 0 ?
                                               json_object_new_int(i->pool.n_volumes) : NULL);
        }
        json_object_object_add(o, "pool", x);
        json_object_object_add(o, "state_dir", json_object_new_string(i->state_dir));
        x = json_object_new_array();
        for (size_t k = 0; k < i->n_tags; k++) {
                json_object *t = json_object_new_object();
                json_object_object_add(t, "tag", json_object_new_string(i->tags[k].tag));
                json_object_object_add(t, "digest", i->tags[k].digest ? json_object_new_string(i->tags[k].digest) : NULL);
                json_object_object_add(t, "present", json_object_new_boolean(i->tags[k].present));
                json_object_array_add(x, t);
        }
        json_object_object_add(o, "images", x);
        return o;
}

static void gib(uint64_t bytes, char *buf, size_t len)
{
        (void)snprintf(buf, len, "%.1f GiB", (double)bytes / (double)(1ULL << 30));
}

static void print_text(const struct cli *cli, const struct info *i)
{
        char when[64], a[32], b[32];

        printf("URI:             %s\n", cli->uri);
        printf("Host:            %s (%s)\n", i->hostname, i->caps.arch);
        printf("libvirt:         %s (daemon), %s (client)\n", i->v.libvirt_daemon, i->v.libvirt_client);
        printf("Hypervisor:      %s %s, %s\n", i->v.hv_type, i->v.hv_version, i->caps.emulator);
        printf("Accelerator:     %s\n", mlvm_accel_describe(i->accel.accel));
        if (i->accel.why[0])
                printf("  not KVM:       %s\n", i->accel.why);
        if (i->local && i->kvm.node.exists && !i->kvm.node.qemu_can_open)
                printf("  /dev/kvm:      %s:%s %04o: QEMU, running as %s, cannot open it, and libvirt re-probes QEMU\n"
                       "                 on every domain start while that is so (TCG ones too: 40 s instead of 0.4 s\n"
                       "                 measured on one such host)\n", i->kvm.node.owner, i->kvm.node.group,
                       (unsigned)i->kvm.node.mode, i->kvm.qemu.user);
        else if (i->local && i->kvm.node.exists)
                printf("  /dev/kvm:      %s:%s %04o, usable by QEMU's user %s\n", i->kvm.node.owner, i->kvm.node.group,
                       (unsigned)i->kvm.node.mode, i->kvm.qemu.user);
        if (i->accel.fix[0])
                printf("  fix:           %s\n", i->accel.fix);
        if (i->watch.state != HOST_KVM_UNTRIED) {
                iso_time(i->watch.at, when, sizeof(when));
                printf("  first KVM boot: %s (%s)%s%s\n", i->watch.state == HOST_KVM_BOOTS ? "booted" : "failed", when,
                       i->watch.reason[0] ? ": " : "", i->watch.reason);
        }
        iso_time(i->rc.probed_at, when, sizeof(when));
        printf("Resource controls (%s%s):\n", i->rc.source, i->rc.cached ? ", cached; --refresh probes again" : "");
        for (int k = 0; k < HOST_RC_N; k++)
                printf("  %-22s %s: %s\n", host_rc_describe((enum host_rc_control)k),
                       i->rc.enforced[k] ? "enforced" : "not enforced", i->rc.why[k]);
        iso_time(i->vsock.probed_at, when, sizeof(when));
        printf("vsock:           %s%s%s (probed %s%s)\n", vsock_word(i->vsock.state),
               i->vsock.reason ? ": " : "", i->vsock.reason ? i->vsock.reason : "", when,
               i->vsock.cached ? ", cached; --refresh probes again" : "");
        printf("Agent transport: %s\n", i->vsock.state == VSOCK_YES
                                                 ? "virtio-serial (runs also get a vsock device; mlvm's host side of "
                                                   "vsock is not built yet)"
                                                 : "virtio-serial");
        if (!i->pool.exists)
                printf("Storage pool:    %s: not defined (run 'mlvm setup')\n", i->pool_name);
        else if (!i->pool.active)
                printf("Storage pool:    %s: inactive, %s (run 'mlvm setup')\n", i->pool_name,
                       i->pool.path ? i->pool.path : "?");
        else {
                char n[16] = "?";  /* when libvirt could not count them */
                if (i->pool.n_volumes >= 0)
                        (void)snprintf(n, sizeof(n), "%d", i->pool.n_volumes);
                gib(i->pool.available, a, sizeof(a));
                gib(i->pool.capacity, b, sizeof(b));
                printf("Storage pool:    %s: active, %s, %s volume%s, %s free of %s\n", i->pool_name,
                       i->pool.path ? i->pool.path : "?", n, i->pool.n_volumes == 1 ? "" : "s", a, b);
        }
        printf("State directory: %s\n", i->state_dir);
        printf("Images:          %zu\n", i->n_tags);
        for (size_t k = 0; k < i->n_tags; k++)
                printf("  %-24s %s%s\n", i->tags[k].tag, i->tags[k].digest ? i->tags[k].digest : "(unreadable tag)",
                       i->tags[k].digest && !i->tags[k].present ? " (missing from the store)" : "");
}

static int run(struct cli *cli, void *opts, int argc, char **argv)
{
        struct info i = { 0 };
        struct mlvm_err e = { 0 };

        if (gather(cli, opts, &i, &e) < 0) {
                info_clear(&i);
                return cli_fail(cli, &e);
        }
        if (cli->json) {
                _cleanup_json_ json_object *j = to_json(cli, &i);
                cli_print_json(j);
        } else
                print_text(cli, &i);
        info_clear(&i);
        return EXIT_OK;
}

static const struct option options[] = {
        { "refresh", no_argument, NULL, 'R' },
        { NULL, 0, NULL, 0 },
};

const struct verb verb_info = {
        .name = "info",
        .summary = "Show what the hypervisor host offers: versions, KVM or TCG and why, resource controls, vsock, pool, images",
        .usage = "[--refresh] [--json]",
        .help = "      --refresh       probe vsock and the resource controls again, and forget whether KVM\n"
                "                      booted a guest on this URI, instead of using the cached answers\n",
        .options = options,
        .on_opt = on_opt,
        .opts_size = sizeof(struct info_opts),
        .args = { .min = 0, .max = 0 },
        .run = run,
};
