/* test-virt.c: which libvirt URIs mlvm takes before connecting, and which
 * name another host (src/lib/virt/virt.c). */
#include "mlvm-build.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "util.h"
#include "virt.h"

static void test_uri_ok(void **state)
{
        static const char *const ok[] = {
                "qemu:///system", "qemu:///session", "qemu+unix:///system", "qemu+ssh://root@host/system",
                "qemu+tcp://10.0.0.1:16509/system", "qemu+tls://host.example/system?no_verify=1",
                "qemu://host/system", "qemu+libssh2://u@h/system?known_hosts=/k", "test:///default",
                "qemu+ext:///system?command=/bin/x",
        };
        for (size_t i = 0; i < ARRAY_SIZE(ok); i++) {
                struct mlvm_err e = { 0 };
                if (virt_uri_check(ok[i], &e) != 0)
                        fail_msg("%s: %s", ok[i], e.msg);
        }
}

static void test_uri_bad(void **state)
{
        static const struct { const char *uri; int code; const char *msg; } bad[] = {
                { "bogus://x", -EPROTONOSUPPORT, "connect bogus://x: unsupported driver \"bogus\": mlvm runs QEMU "
                  "guests (qemu:///system, qemu+ssh://HOST/system)" },
                { "xen:///system", -EPROTONOSUPPORT, NULL },
                { "qemu+carrier-pigeon://h/system", -EINVAL, NULL },
                { "qemu+pigeon://h/system", -EPROTONOSUPPORT, "connect qemu+pigeon://h/system: unknown transport "
                  "\"pigeon\": expected unix, tcp, tls, ssh, libssh, libssh2 or ext" },
                { "", -EINVAL, NULL },
                { "qemu", -EINVAL, "connect qemu: not a libvirt URI: expected DRIVER[+TRANSPORT]://[HOST]/PATH, "
                  "e.g. qemu:///system or qemu+ssh://HOST/system" },
                { "://x", -EINVAL, NULL },
                { "QEMU:///system", -EINVAL, NULL },
                { "qemu+://h/system", -EINVAL, NULL },
                { "qemu:///sys tem", -EINVAL, NULL },
                { "qemu:///system\n", -EINVAL, NULL },
                { "qemuqemuqemuqemuqemu:///system", -EINVAL, NULL },
        };
        for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
                struct mlvm_err e = { 0 };
                int r = virt_uri_check(bad[i].uri, &e);
                if (r != bad[i].code)
                        fail_msg("%s: %d, expected %d (%s)", bad[i].uri, r, bad[i].code, e.msg);
                if (bad[i].msg)
                        assert_string_equal(e.msg, bad[i].msg);
        }
}

static void test_uri_remote(void **state)
{
        assert_false(virt_uri_is_remote("qemu:///system"));
        assert_false(virt_uri_is_remote("qemu+unix:///system"));
        assert_false(virt_uri_is_remote("test:///default"));
        assert_true(virt_uri_is_remote("qemu://host/system"));          /* TLS to HOST */
        assert_true(virt_uri_is_remote("qemu+ssh://host/system"));
        assert_true(virt_uri_is_remote("qemu+tcp://10.0.0.1/system"));
        assert_true(virt_uri_is_remote("qemu+libssh2://h/system"));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_uri_ok),
                cmocka_unit_test(test_uri_bad),
                cmocka_unit_test(test_uri_remote),
        };
        return cmocka_run_group_tests_name("virt", tests, NULL, NULL);
}
