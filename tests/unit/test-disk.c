/* test-disk.c: per-run disks (src/lib/virt/disk.c). libvirt's
 * test:///default driver ("default-pool") creates, lists and deletes
 * volumes, with backing stores, but cannot upload: there the overlay and
 * artifact XML, disk_delete_run and the data disk's failure path are
 * tested; tests/integration/disks.sh does the rest against libvirtd. The
 * data disk's ISO writer: test-disk-iso.c. */
#include "mlvm-build.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "digest.h"
#include "disk.h"
#include "util.h"
#include "virt.h"

/* ---- volume names ------------------------------------------------------ */

static void test_volume_name(void **state)
{
        _cleanup_free_ char *root = disk_volume_name("0f3a9c", "root", NULL);
        _cleanup_free_ char *data = disk_volume_name("0f3a9c", "data", "weights-a");
        _cleanup_free_ char *art = disk_volume_name("R_1", "artifacts", NULL);

        assert_string_equal(root, "mlvm-run-0f3a9c-root");
        assert_string_equal(data, "mlvm-run-0f3a9c-data-weights-a");
        assert_string_equal(art, "mlvm-run-R_1-artifacts");
        /* A '-' in a run id would let one run's prefix match another run's volumes. */
        assert_null(disk_volume_name("a-b", "root", NULL));
        assert_null(disk_volume_name("", "root", NULL));
        assert_null(disk_volume_name("0123456789abcdef0123456789abcdef0", "root", NULL));
        assert_null(disk_volume_name("a/b", "root", NULL));
        assert_null(disk_volume_name("a", "swap", NULL));
        assert_null(disk_volume_name("a", "root", "x"));
        assert_null(disk_volume_name("a", "data", NULL));
        assert_null(disk_volume_name("a", "data", "Bad"));
        assert_null(disk_volume_name("a", "data", "x/../y"));
        assert_null(disk_volume_name("a", "data", "<x>"));
        assert_null(disk_volume_name(NULL, "root", NULL));
}

/* ---- volumes through libvirt's test driver ----------------------------- */

static char *vol_xml(virStoragePoolPtr pool, const char *name)
{
        virStorageVolPtr v = virStorageVolLookupByName(pool, name);
        assert_non_null(v);
        char *xml = virStorageVolGetXMLDesc(v, 0);
        assert_non_null(xml);
        virStorageVolFree(v);
        return xml;
}

static void make_raw(virStoragePoolPtr pool, const char *name, const char *capacity)
{
        _cleanup_free_ char *xml = xasprintf("<volume><name>%s</name><capacity unit='bytes'>%s</capacity>"
                                             "<target><format type='raw'/></target></volume>", name, capacity);
        virStorageVolPtr v = virStorageVolCreateXML(pool, xml, 0);
        assert_non_null(v);
        virStorageVolFree(v);
}

static bool has_vol(virStoragePoolPtr pool, const char *name)
{
        virStorageVolPtr v = virStorageVolLookupByName(pool, name);
        if (v)
                virStorageVolFree(v);
        return v != NULL;
}

static void test_volumes_test_driver(void **state)
{
        _cleanup_virConnect_ virConnectPtr conn = NULL;
        _cleanup_virStoragePool_ virStoragePoolPtr pool = NULL;
        struct mlvm_err e = { 0 };

        assert_int_equal(virt_connect("test:///default", &conn, &e), 0);
        assert_non_null(pool = virStoragePoolLookupByName(conn, "default-pool"));
        make_raw(pool, "mlvm-img-0123456789abcdef-root", "10737418240");

        const struct volume_owner own = { 6553600, 64055 };
        assert_int_equal(disk_create_overlay(pool, "mlvm-run-r1-root", "/default-pool/mlvm-img-0123456789abcdef-root",
                                             0, &own, &e), 0);
        _cleanup_free_ char *xml = vol_xml(pool, "mlvm-run-r1-root");
        assert_non_null(strstr(xml, "<capacity unit='bytes'>10737418240</capacity>"));
        assert_non_null(strstr(xml, "<format type='qcow2'/>"));
        assert_non_null(strstr(xml, "<backingStore>\n    <path>/default-pool/mlvm-img-0123456789abcdef-root</path>\n"
                                    "    <format type='raw'/>"));
        assert_non_null(strstr(xml, "<mode>0600</mode>"));
        /* Owned by the run's QEMU uid (qemu-id.h), not left for libvirt to hand over. */
        assert_non_null(strstr(xml, "<owner>6553600</owner>"));
        assert_non_null(strstr(xml, "<group>64055</group>"));
        /* The same name twice: two runs never share a volume. */
        assert_int_equal(disk_create_overlay(pool, "mlvm-run-r1-root", "/default-pool/mlvm-img-0123456789abcdef-root",
                                             0, &own, &e), -EIO);
        assert_true(strstartswith(e.msg, "create volume mlvm-run-r1-root: "));
        /* A base outside the pool, or missing, is refused before anything is made. */
        assert_int_equal(disk_create_overlay(pool, "mlvm-run-r2-root", "/etc/passwd", 0, NULL, &e), -EIO);
        assert_true(strstartswith(e.msg, "overlay mlvm-run-r2-root: backing volume /etc/passwd: "));
        assert_false(has_vol(pool, "mlvm-run-r2-root"));

        assert_int_equal(disk_create_artifacts(pool, "mlvm-run-r1-artifacts", 1 << 30, NULL, &e), 0);
        _cleanup_free_ char *axml = vol_xml(pool, "mlvm-run-r1-artifacts");
        assert_non_null(strstr(axml, "<capacity unit='bytes'>1073741824</capacity>"));
        assert_non_null(strstr(axml, "<format type='raw'/>"));
        assert_non_null(strstr(axml, "<allocation unit='bytes'>0</allocation>"));
        assert_non_null(strstr(axml, "<mode>0600</mode>"));
        assert_int_equal(disk_create_artifacts(pool, "mlvm-run-r1-x", 0, NULL, &e), -EINVAL);

        /* The test driver cannot upload: the data disk fails and leaves no volume. */
        char dir[] = "/tmp/mlvm-test-disk-XXXXXX";
        assert_non_null(mkdtemp(dir));
        _cleanup_free_ char *w = xasprintf("%s/w", dir);
        char hex[SHA256_HEX_LEN + 1] = "untouched";
        assert_int_equal(write_file_atomic(w, "w", 1, 0644), 0);
        assert_int_equal(disk_create_data(pool, "mlvm-run-r1-data-w", dir, NULL, hex, &e), -EIO);
        assert_true(strstartswith(e.msg, "upload volume mlvm-run-r1-data-w: "));
        assert_string_equal(hex, "untouched");
        assert_false(has_vol(pool, "mlvm-run-r1-data-w"));
        assert_int_equal(disk_create_data(pool, "mlvm-run-r1-data-w", "/nonexistent", NULL, hex, &e), -ENOENT);
        assert_string_equal(e.msg, "data disk /nonexistent: No such file or directory");
        assert_int_equal(unlink(w), 0);
        assert_int_equal(rmdir(dir), 0);

        make_raw(pool, "mlvm-run-r1-data-w", "4096");
        make_raw(pool, "mlvm-run-r10-root", "4096");    /* r1's prefix must not reach run r10 */
        make_raw(pool, "mlvm-run-r1", "4096");
        assert_int_equal(disk_delete_run(pool, "r1", &e), 0);
        assert_false(has_vol(pool, "mlvm-run-r1-root"));
        assert_false(has_vol(pool, "mlvm-run-r1-artifacts"));
        assert_false(has_vol(pool, "mlvm-run-r1-data-w"));
        assert_true(has_vol(pool, "mlvm-run-r10-root"));
        assert_true(has_vol(pool, "mlvm-run-r1"));
        assert_true(has_vol(pool, "mlvm-img-0123456789abcdef-root"));
        assert_int_equal(disk_delete_run(pool, "r1", &e), 0); /* nothing left: still fine */
        assert_int_equal(disk_delete_run(pool, "r-1", &e), -EINVAL);
}


int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_volume_name),
                cmocka_unit_test(test_volumes_test_driver),
        };
        virt_init();
        return cmocka_run_group_tests_name("disk", tests, NULL, NULL);
}
