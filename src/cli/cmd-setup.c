/* cmd-setup.c: mlvm setup: prepare a host for mlvm: the state directory
 * here and the storage pool on the hypervisor host. Idempotent. */
#include "mlvm-build.h"

#include "cleanup.h"
#include "cli.h"
#include "host-kvm.h"
#include "qemu-id.h"
#include "host.h"
#include "paths.h"
#include "pool.h"
#include "store.h"
#include "util.h"
#include "virt.h"
#include "volume.h"

static void print_progress(void *u, const char *line)
{
        fprintf(stderr, "mlvm: setup: %s\n", line);
}

/* What pool_ensure did, in words. */
static const char *pool_done_words(unsigned done)
{
        if (done & POOL_DEFINED)
                return "created and started";
        switch (done & (POOL_STARTED | POOL_AUTOSTART)) {
        case POOL_STARTED: return "started";
        case POOL_AUTOSTART: return "already active, autostart enabled";
        case POOL_STARTED | POOL_AUTOSTART: return "started, autostart enabled";
        default: return "already active";
        }
}

static int run(struct cli *cli, void *opts, int argc, char **argv)
{
        _cleanup_virConnect_ virConnectPtr conn = NULL;
        _cleanup_free_ char *state = NULL, *pool_path = NULL;
        struct mlvm_err e = { 0 };
        unsigned done = 0;

        state = mlvm_state_dir();
        if (mlvm_state_dir_ensure(state, &e) < 0)
                return cli_fail(cli, &e);
        if (mlvm_pool_default_path(cli->uri, &pool_path, &e) < 0)
                return cli_fail(cli, &e);
        if (virt_connect(cli->uri, &conn, &e) < 0)
                return cli_fail(cli, &e);
        if (pool_ensure(conn, mlvm_pool_name(), pool_path, &done, &e) < 0)
                return cli_fail(cli, &e);
        /* The stored images' volumes, uploaded again where they are missing
         * (the pool's directory was removed, or the pool is new). */
        unsigned restored = 0;
        const struct store_progress pr = { .line = print_progress, .u = NULL };
        _cleanup_virStoragePool_ virStoragePoolPtr pool = NULL;
        if (volume_pool(conn, mlvm_pool_name(), &pool, &e) < 0 ||
            store_restore_volumes(state, pool, cli_progress(cli) ? &pr : NULL, &restored, &e) < 0)
                return cli_fail(cli, &e);
        /* /dev/kvm as udev would leave it, where there is no udev: QEMU's
         * user must open it, or libvirt slows every domain start re-probing. */
        bool kvm_fixed = false;
        struct qemu_id_range ids;
        if (qemu_id_range_from_env(&ids, &e) < 0)
                return cli_fail(cli, &e);
        if (host_uri_is_local(cli->uri) && geteuid() == 0 && host_kvm_fix_node("", !ids.off, &kvm_fixed, &e) < 0)
                return cli_fail(cli, &e);
        if (cli->json) {
                _cleanup_json_ json_object *o = json_object_new_object();
                json_object_object_add(o, "state_dir", json_object_new_string(state));
                json_object_object_add(o, "pool", json_object_new_string(mlvm_pool_name()));
                json_object_object_add(o, "changed", json_object_new_boolean(done != 0 || kvm_fixed || restored));
                json_object_object_add(o, "volumes_restored", json_object_new_int((int)restored));
                json_object_object_add(o, "dev_kvm_fixed", json_object_new_boolean(kvm_fixed));
                cli_print_json(o);
        } else if (cli->verbosity >= 0) {
                printf("state directory %s ready; storage pool %s %s\n", state, mlvm_pool_name(),
                       pool_done_words(done));
                if (restored)
                        printf("image volumes missing from the pool uploaded again from the store: %u\n", restored);
                if (kvm_fixed)
                        printf("/dev/kvm: group kvm, mode %s, as udev would set it, so that %s can open it%s\n",
                               ids.off ? "0660" : "0666",
                               ids.off ? "libvirt's QEMU user" : "each run's QEMU, which has a uid of its own,",
                               access("/run/udev/control", F_OK) == 0 ? "" :
                               " (no udev here: a new /dev/kvm after a reboot needs mlvm setup again)");
        }
        return EXIT_OK;
}

const struct verb verb_setup = {
        .name = "setup",
        .summary = "Prepare this host: state directory, the mlvm storage pool and the stored images' volumes in it, /dev/kvm's access (idempotent)",
        .usage = "[--connect URI]",
        .help = "",
        .args = { .min = 0, .max = 0 },
        .run = run,
};
