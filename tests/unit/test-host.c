/* test-host.c: accelerator detection and the vsock probe (src/lib/virt/host.c).
 * This machine has neither KVM nor vhost-vsock, so the positive answers are
 * tested here: capabilities XML that offers kvm, and a probe against
 * libvirt's test driver, where starting a domain with a vsock device works. */
#include "mlvm-build.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <glob.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "host.h"
#include "util.h"
#include "virt.h"

static char *fixture(const char *name)
{
        _cleanup_free_ char *path = xasprintf("%s/caps/%s", TEST_DATA, name);
        char *buf = NULL;
        assert_int_equal(read_file_capped(path, 1 << 20, &buf, NULL), 0);
        return buf;
}

static void test_caps_kvm(void **state)
{
        _cleanup_free_ char *xml = fixture("kvm-offered.xml");
        struct host_caps c = { 0 };
        struct mlvm_err e = { 0 };

        assert_int_equal(host_caps_parse(xml, &c, &e), 0);
        assert_int_equal(c.accel, MLVM_ACCEL_KVM);
        assert_string_equal(c.arch, "x86_64");
        assert_string_equal(c.emulator, "/usr/bin/qemu-system-x86_64");
        assert_string_equal(mlvm_accel_to_string(c.accel), "kvm");
        host_caps_clear(&c);
}

static void test_caps_tcg(void **state)
{
        _cleanup_free_ char *xml = fixture("tcg-only.xml");
        struct host_caps c = { 0 };
        struct mlvm_err e = { 0 };

        assert_int_equal(host_caps_parse(xml, &c, &e), 0);
        assert_int_equal(c.accel, MLVM_ACCEL_TCG);
        assert_string_equal(mlvm_accel_describe(c.accel), "TCG (software emulation)");
        host_caps_clear(&c);
}

static void test_caps_kvm_for_other_arch_only(void **state)
{
        /* KVM offered for i686 guests only does not make an x86_64 host KVM-capable. */
        const char *xml =
                "<capabilities><host><cpu><arch>x86_64</arch></cpu></host>"
                "<guest><os_type>hvm</os_type><arch name='i686'><emulator>/q32</emulator>"
                "<domain type='qemu'/><domain type='kvm'/></arch></guest>"
                "<guest><os_type>hvm</os_type><arch name='x86_64'><emulator>/q64</emulator>"
                "<domain type='qemu'/></arch></guest></capabilities>";
        struct host_caps c = { 0 };
        struct mlvm_err e = { 0 };

        assert_int_equal(host_caps_parse(xml, &c, &e), 0);
        assert_int_equal(c.accel, MLVM_ACCEL_TCG);
        assert_string_equal(c.emulator, "/q64");
        host_caps_clear(&c);
}

static void test_caps_bad(void **state)
{
        struct host_caps c = { 0 };
        struct mlvm_err e = { 0 };

        assert_int_equal(host_caps_parse("<capabilities", &c, &e), -EINVAL);
        assert_string_equal(e.msg, "capabilities: not well-formed XML");
        assert_int_equal(host_caps_parse("<capabilities><host/></capabilities>", &c, &e), -EINVAL);
        assert_string_equal(e.msg, "capabilities: no host CPU architecture");
        assert_int_equal(host_caps_parse("<capabilities><host><cpu><arch>x']|//*['</arch></cpu></host></capabilities>",
                                         &c, &e), -EINVAL);
        assert_string_equal(e.msg, "capabilities: unexpected architecture name");
        assert_int_equal(host_caps_parse("<capabilities><host><cpu><arch>s390x</arch></cpu></host></capabilities>",
                                         &c, &e), -ENOTSUP);
        assert_null(c.arch);
}

static void test_vsock_classify(void **state)
{
        assert_int_equal(vsock_classify(true, 0, NULL), VSOCK_YES);
        assert_int_equal(vsock_classify(false, VIR_ERR_CONFIG_UNSUPPORTED,
                                        "unsupported configuration: unable to open vhost-vsock device"), VSOCK_NO);
        assert_int_equal(vsock_classify(false, VIR_ERR_OPERATION_FAILED, "vhost-vsock: something else"),
                         VSOCK_UNKNOWN);
        assert_int_equal(vsock_classify(false, VIR_ERR_CONFIG_UNSUPPORTED, "no q35"), VSOCK_UNKNOWN);
        assert_int_equal(vsock_classify(false, 0, NULL), VSOCK_UNKNOWN);
}

static char *make_state_dir(void)
{
        char tmpl[] = "/tmp/mlvm-test-host-XXXXXX";
        assert_non_null(mkdtemp(tmpl));
        return xstrdup(tmpl);
}

static void rm_state_dir(const char *dir)
{
        _cleanup_free_ char *cmd = xasprintf("rm -rf -- '%s'", dir);
        assert_int_equal(system(cmd), 0);
}

/* A real probe through libvirt's test driver: the domain starts, so vsock
 * counts as available; the answer is cached per URI, and --refresh probes again. */
static void test_probe_test_driver(void **state)
{
        _cleanup_virConnect_ virConnectPtr conn = NULL;
        _cleanup_free_ char *dir = make_state_dir();
        struct host_caps caps = { .arch = xstrdup("x86_64"), .accel = MLVM_ACCEL_KVM };
        struct vsock_probe p = { 0 };
        struct mlvm_err e = { 0 };

        assert_int_equal(virt_connect("test:///default", &conn, &e), 0);
        int before = virConnectNumOfDomains(conn);
        assert_int_equal(host_probe_vsock(conn, "test:///default", dir, &caps, MLVM_ACCEL_TCG, false, &p, &e), 0);
        assert_int_equal(p.state, VSOCK_YES);
        assert_false(p.cached);
        assert_null(p.reason);
        assert_int_equal(virConnectNumOfDomains(conn), before); /* the probe domain is gone */
        vsock_probe_clear(&p);

        assert_int_equal(host_probe_vsock(conn, "test:///default", dir, &caps, MLVM_ACCEL_TCG, false, &p, &e), 0);
        assert_int_equal(p.state, VSOCK_YES);
        assert_true(p.cached);
        vsock_probe_clear(&p);

        assert_int_equal(host_probe_vsock(conn, "test:///default", dir, &caps, MLVM_ACCEL_TCG, true, &p, &e), 0);
        assert_false(p.cached);
        vsock_probe_clear(&p);

        /* Another URI does not see this one's cached answer. */
        assert_int_equal(host_probe_vsock(conn, "test:///other", dir, &caps, MLVM_ACCEL_TCG, false, &p, &e), 0);
        assert_false(p.cached);
        vsock_probe_clear(&p);
        host_caps_clear(&caps);
        rm_state_dir(dir);
}

static void test_probe_cache_tampered(void **state)
{
        _cleanup_virConnect_ virConnectPtr conn = NULL;
        _cleanup_free_ char *dir = make_state_dir();
        _cleanup_free_ char *cachedir = xasprintf("%s/cache", dir);
        struct host_caps caps = { .arch = xstrdup("x86_64") };
        struct vsock_probe p = { 0 };
        struct mlvm_err e = { 0 };

        assert_int_equal(virt_connect("test:///default", &conn, &e), 0);
        assert_int_equal(host_probe_vsock(conn, "test:///default", dir, &caps, MLVM_ACCEL_TCG, false, &p, &e), 0);
        vsock_probe_clear(&p);
        /* Overwrite every cache file with garbage: the next call must probe, not trust it. */
        _cleanup_free_ char *cmd = xasprintf("for f in '%s'/*.json; do printf '{\"available\": 7' > \"$f\"; done",
                                             cachedir);
        assert_int_equal(system(cmd), 0);
        assert_int_equal(host_probe_vsock(conn, "test:///default", dir, &caps, MLVM_ACCEL_TCG, false, &p, &e), 0);
        assert_false(p.cached);
        assert_int_equal(p.state, VSOCK_YES);
        vsock_probe_clear(&p);
        host_caps_clear(&caps);
        rm_state_dir(dir);
}

/* Replace the one cache file under DIR with {"uri": URI, "hostname": HOST,
 * "probed_at": AT, "available": true}; each value is taken over (may be NULL). */
static void write_cache(const char *dir, json_object *uri, json_object *host, json_object *at)
{
        _cleanup_free_ char *pattern = xasprintf("%s/cache/*.json", dir);
        _cleanup_json_ json_object *o = json_object_new_object();
        glob_t g;

        assert_int_equal(glob(pattern, 0, NULL, &g), 0);
        assert_int_equal(g.gl_pathc, 1);
        json_object_object_add(o, "uri", uri);
        json_object_object_add(o, "hostname", host);
        json_object_object_add(o, "probed_at", at);
        json_object_object_add(o, "available", json_object_new_boolean(true));
        const char *s = json_object_to_json_string(o);
        assert_int_equal(write_file_atomic(g.gl_pathv[0], s, strlen(s), 0600), 0);
        globfree(&g);
}

/* Well-formed JSON of the wrong types, or a hostile time, in the cache: the
 * probe runs again (no crash on "uri": null, no overflow on INT64_MIN). */
static void test_probe_cache_wrong_types(void **state)
{
        _cleanup_virConnect_ virConnectPtr conn = NULL;
        _cleanup_free_ char *dir = make_state_dir(), *host = NULL;
        struct host_caps caps = { .arch = xstrdup("x86_64") };
        struct vsock_probe p = { 0 };
        struct mlvm_err e = { 0 };
        const char *uri = "test:///default";
        int64_t now = (int64_t)time(NULL);

        assert_int_equal(virt_connect(uri, &conn, &e), 0);
        assert_non_null(host = virConnectGetHostname(conn));
        assert_int_equal(host_probe_vsock(conn, uri, dir, &caps, MLVM_ACCEL_TCG, false, &p, &e), 0);
        vsock_probe_clear(&p);

        /* Control: the right types are trusted, so the cases below test the types. */
        write_cache(dir, json_object_new_string(uri), json_object_new_string(host), json_object_new_int64(now));
        assert_int_equal(host_probe_vsock(conn, uri, dir, &caps, MLVM_ACCEL_TCG, false, &p, &e), 0);
        assert_true(p.cached);
        vsock_probe_clear(&p);

        write_cache(dir, NULL, json_object_new_string(host), json_object_new_int64(now));
        assert_int_equal(host_probe_vsock(conn, uri, dir, &caps, MLVM_ACCEL_TCG, false, &p, &e), 0);
        assert_false(p.cached);
        vsock_probe_clear(&p);

        write_cache(dir, json_object_new_string(uri), json_object_new_int(5), json_object_new_int64(now));
        assert_int_equal(host_probe_vsock(conn, uri, dir, &caps, MLVM_ACCEL_TCG, false, &p, &e), 0);
        assert_false(p.cached);
        vsock_probe_clear(&p);

        write_cache(dir, json_object_new_string(uri), json_object_new_string(host), json_object_new_int64(INT64_MIN));
        assert_int_equal(host_probe_vsock(conn, uri, dir, &caps, MLVM_ACCEL_TCG, false, &p, &e), 0);
        assert_false(p.cached);
        assert_int_equal(p.state, VSOCK_YES);
        vsock_probe_clear(&p);

        write_cache(dir, json_object_new_string(uri), json_object_new_string(host),
                    json_object_new_int64(now - 24 * 3600 - 1));
        assert_int_equal(host_probe_vsock(conn, uri, dir, &caps, MLVM_ACCEL_TCG, false, &p, &e), 0);
        assert_false(p.cached);
        vsock_probe_clear(&p);
        host_caps_clear(&caps);
        rm_state_dir(dir);
}

static void test_format_version(void **state)
{
        char buf[32];
        format_version(9000000, buf, sizeof(buf));
        assert_string_equal(buf, "9.0.0");
        format_version(7002022, buf, sizeof(buf));
        assert_string_equal(buf, "7.2.22");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_caps_kvm),
                cmocka_unit_test(test_caps_tcg),
                cmocka_unit_test(test_caps_kvm_for_other_arch_only),
                cmocka_unit_test(test_caps_bad),
                cmocka_unit_test(test_vsock_classify),
                cmocka_unit_test(test_probe_test_driver),
                cmocka_unit_test(test_probe_cache_tampered),
                cmocka_unit_test(test_probe_cache_wrong_types),
                cmocka_unit_test(test_format_version),
        };
        virt_init();
        return cmocka_run_group_tests_name("host", tests, NULL, NULL);
}
