/* cmd-version.c: mlvm version: the versions of mlvm, libvirt (library and,
 * when reachable, daemon), the hypervisor and the agent protocol. */
#include "mlvm-build.h"

#include "cleanup.h"
#include "cli.h"
#include "host.h"
#include "proto.h"
#include "util.h"
#include "virt.h"

static json_object *str_or_null(const char *s)
{
        return *s ? json_object_new_string(s) : NULL;
}

static int run(struct cli *cli, void *opts, int argc, char **argv)
{
        _cleanup_virConnect_ virConnectPtr conn = NULL;
        struct mlvm_err e = { 0 }, why = { 0 };
        struct host_versions v;

        /* A bad URI is a mistake to report; a daemon that is down is only
         * an answer ("not reachable"): the local versions still print. */
        if (virt_uri_check(cli->uri, &e) < 0)
                return cli_fail(cli, &e);
        if (virt_connect(cli->uri, &conn, &why) < 0)
                conn = NULL;
        if (host_versions(conn, &v, &e) < 0) {
                if (!conn)
                        return cli_fail(cli, &e);
                /* The daemon answered the connection but not the question. */
                why = e;
                if (host_versions(NULL, &v, &e) < 0)
                        return cli_fail(cli, &e);
        }
        bool qemu = streq(v.hv_type, "QEMU");
        if (cli->json) {
                _cleanup_json_ json_object *j = json_object_new_object();
                json_object *lv = json_object_new_object();
                json_object_object_add(j, "mlvm", json_object_new_string(PACKAGE_VERSION));
                json_object_object_add(lv, "client", json_object_new_string(v.libvirt_client));
                json_object_object_add(lv, "daemon", str_or_null(v.libvirt_daemon));
                json_object_object_add(j, "libvirt", lv);
                json_object_object_add(j, "qemu", qemu ? str_or_null(v.hv_version) : NULL);
                json_object_object_add(j, "agent_protocol", json_object_new_int(PROTO_VERSION));
                json_object_object_add(j, "uri", json_object_new_string(cli->uri));
                if (why.msg[0])
                        json_object_object_add(j, "daemon_error", json_object_new_string(why.msg));
                cli_print_json(j);
                return EXIT_OK;
        }
        printf("mlvm:            %s\n", PACKAGE_VERSION);
        printf("libvirt client:  %s\n", v.libvirt_client);
        if (v.libvirt_daemon[0]) {
                printf("libvirt daemon:  %s (%s)\n", v.libvirt_daemon, cli->uri);
                if (qemu)
                        printf("QEMU:            %s\n", v.hv_version);
                else
                        printf("hypervisor:      %s %s\n", v.hv_type, v.hv_version);
        } else
                printf("libvirt daemon:  unknown (%s)\n", why.msg);
        printf("agent protocol:  %d\n", PROTO_VERSION);
        return EXIT_OK;
}

const struct verb verb_version = {
        .name = "version",
        .summary = "Print the versions of mlvm, libvirt (library and daemon), QEMU and the agent protocol",
        .usage = "[--json]",
        .help = "",
        .args = { .min = 0, .max = 0 },
        .run = run,
};
