/* test-host-rc.c: which resource controls a host enforces (src/lib/virt/host-rc.c),
 * from recorded cgroup trees: v1 with and without BFQ (this machine is v1
 * without), v2 with and without io, no cgroups; libvirt's refusal words;
 * and the probe-domain path through libvirt's test driver. */
#include "mlvm-build.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "host-rc.h"
#include "util.h"
#include "virt.h"

static void put(const char *root, const char *rel, const char *text)
{
        _cleanup_free_ char *p = xasprintf("%s/%s", root, rel), *dir = xstrdup(p);
        *strrchr(dir, '/') = '\0';
        assert_int_equal(mkdir_p(dir, 0755), 0);
        assert_int_equal(write_file_atomic(p, text, strlen(text), 0644), 0);
}

/* A root with FILES (space-separated paths under it, created empty) and
 * the disks' scheduler line. */
static char *make_tree(const char *files, const char *sched)
{
        char tmpl[] = "/tmp/mlvm-test-rc-XXXXXX";
        assert_non_null(mkdtemp(tmpl));
        char *root = xstrdup(tmpl);
        _cleanup_free_ char *list = xstrdup(files);
        for (char *save = NULL, *f = strtok_r(list, " ", &save); f; f = strtok_r(NULL, " ", &save))
                put(root, f, "");
        if (sched) {
                put(root, "sys/block/vda/queue/scheduler", sched);
                put(root, "sys/block/vdb/queue/scheduler", sched);
        }
        return root;
}

static void rm_tree(char *root)
{
        _cleanup_free_ char *cmd = xasprintf("rm -rf -- '%s'", root);
        assert_int_equal(system(cmd), 0);
        free(root);
}

#define V1_CPU "sys/fs/cgroup/cpu/cpu.shares sys/fs/cgroup/cpu/cpu.cfs_quota_us "
#define V1_MEM "sys/fs/cgroup/memory/memory.limit_in_bytes sys/fs/cgroup/memory/memory.soft_limit_in_bytes "
#define V1_BLK "sys/fs/cgroup/blkio/blkio.throttle.read_bps_device "

/* This machine: cgroup v1 (hybrid), schedulers none/mq-deadline/kyber. */
static void test_v1_without_bfq(void **state)
{
        char *root = make_tree(V1_CPU V1_MEM V1_BLK, "[none] mq-deadline kyber\n");
        struct host_rc rc;
        host_rc_from_sysfs(root, &rc);
        assert_string_equal(rc.source, "cgroup v1");
        assert_true(rc.enforced[HOST_RC_CPU_SHARES]);
        assert_true(rc.enforced[HOST_RC_CPU_QUOTA]);
        assert_true(rc.enforced[HOST_RC_MEM_SOFT]);
        assert_true(rc.enforced[HOST_RC_MEM_HARD]);
        assert_true(rc.enforced[HOST_RC_DISK_IOTUNE]);
        assert_false(rc.enforced[HOST_RC_IO_WEIGHT]);
        assert_string_equal(rc.why[HOST_RC_IO_WEIGHT], "cgroup v1 blkio has no weight: the disks' schedulers "
                            "(none mq-deadline kyber) are neither BFQ nor CFQ");
        assert_int_equal(host_rc_missing(&rc), 1u << HOST_RC_IO_WEIGHT);
        rm_tree(root);
}

static void test_v1_with_bfq(void **state)
{
        char *root = make_tree(V1_CPU V1_MEM V1_BLK "sys/fs/cgroup/blkio/blkio.bfq.weight",
                               "mq-deadline kyber [bfq] none\n");
        struct host_rc rc;
        host_rc_from_sysfs(root, &rc);
        assert_true(rc.enforced[HOST_RC_IO_WEIGHT]);
        assert_string_equal(rc.why[HOST_RC_IO_WEIGHT], "cgroup v1 blkio.bfq.weight (BFQ)");
        assert_int_equal(host_rc_missing(&rc), 0);
        rm_tree(root);
}

/* systemd-era v1: cpu and cpuacct share one hierarchy; no memory controller. */
static void test_v1_combined_no_memory(void **state)
{
        char *root = make_tree("sys/fs/cgroup/cpu,cpuacct/cpu.shares sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us "
                               "sys/fs/cgroup/blkio/blkio.weight", "[cfq] noop\n");
        struct host_rc rc;
        host_rc_from_sysfs(root, &rc);
        assert_true(rc.enforced[HOST_RC_CPU_SHARES]);
        assert_true(rc.enforced[HOST_RC_CPU_QUOTA]);
        assert_false(rc.enforced[HOST_RC_MEM_HARD]);
        assert_string_equal(rc.why[HOST_RC_MEM_HARD], "cgroup v1 without the memory controller");
        assert_true(rc.enforced[HOST_RC_IO_WEIGHT]);
        assert_string_equal(rc.why[HOST_RC_IO_WEIGHT], "cgroup v1 blkio.weight (CFQ)");
        rm_tree(root);
}

static char *v2_tree(const char *controllers, const char *extra, const char *sched)
{
        char *root = make_tree(extra ? extra : "sys/fs/cgroup/cgroup.procs", sched);
        put(root, "sys/fs/cgroup/cgroup.controllers", controllers);
        return root;
}

static void test_v2_with_io(void **state)
{
        char *root = v2_tree("cpuset cpu io memory hugetlb pids rdma misc\n", NULL, "mq-deadline kyber [bfq] none\n");
        struct host_rc rc;
        host_rc_from_sysfs(root, &rc);
        assert_string_equal(rc.source, "cgroup v2");
        assert_int_equal(host_rc_missing(&rc), 0);
        assert_string_equal(rc.why[HOST_RC_IO_WEIGHT], "cgroup v2 io.bfq.weight (BFQ)");
        rm_tree(root);

        /* io.cost instead of BFQ. */
        root = v2_tree("cpu io memory\n", "sys/fs/cgroup/io.cost.qos", "[none] mq-deadline\n");
        host_rc_from_sysfs(root, &rc);
        assert_true(rc.enforced[HOST_RC_IO_WEIGHT]);
        assert_string_equal(rc.why[HOST_RC_IO_WEIGHT], "cgroup v2 io.weight (io.cost)");
        rm_tree(root);

        /* io, but nothing that applies a weight. */
        root = v2_tree("cpu io memory\n", NULL, "[none] mq-deadline\n");
        host_rc_from_sysfs(root, &rc);
        assert_false(rc.enforced[HOST_RC_IO_WEIGHT]);
        assert_string_equal(rc.why[HOST_RC_IO_WEIGHT], "cgroup v2 io controller, but no disk offers BFQ "
                            "(schedulers: none mq-deadline) and there is no io.cost");
        rm_tree(root);
}

static void test_v2_without_io(void **state)
{
        char *root = v2_tree("cpuset cpu pids\n", NULL, "mq-deadline kyber [bfq] none\n");
        struct host_rc rc;
        host_rc_from_sysfs(root, &rc);
        assert_false(rc.enforced[HOST_RC_IO_WEIGHT]);
        assert_string_equal(rc.why[HOST_RC_IO_WEIGHT], "cgroup v2 without the io controller");
        assert_false(rc.enforced[HOST_RC_MEM_HARD]);
        assert_string_equal(rc.why[HOST_RC_MEM_HARD], "cgroup v2 without the memory controller");
        assert_true(rc.enforced[HOST_RC_CPU_SHARES]);
        assert_true(rc.enforced[HOST_RC_DISK_IOTUNE]);
        rm_tree(root);
}

static void test_no_cgroups(void **state)
{
        char *root = make_tree("etc/hostname", NULL);
        struct host_rc rc;
        host_rc_from_sysfs(root, &rc);
        assert_string_equal(rc.source, "none");
        for (int c = 0; c < HOST_RC_DISK_IOTUNE; c++)
                assert_false(rc.enforced[c]);
        assert_true(rc.enforced[HOST_RC_DISK_IOTUNE]);   /* QEMU's own throttling */
        rm_tree(root);
}

/* libvirt's words when a live setter is refused, recorded on this machine. */
static void test_refusal(void **state)
{
        char why[HOST_RC_WHY_MAX];
        host_rc_refusal(HOST_RC_IO_WEIGHT,
                        "Requested operation is not valid: blkio device weight is valid only for bfq or cfq scheduler",
                        why, sizeof(why));
        assert_string_equal(why, "the host refused it: Requested operation is not valid: blkio device weight is "
                            "valid only for bfq or cfq scheduler");
        host_rc_refusal(HOST_RC_MEM_HARD, NULL, why, sizeof(why));
        assert_string_equal(why, "the host refused the memory hard limit");
        host_rc_refusal(HOST_RC_CPU_SHARES, "bad\nline", why, sizeof(why));
        assert_null(strchr(why, '\n'));   /* one line, whatever the host says */
}

/* The probe-domain path (how a remote host is asked), through the test
 * driver; the answer is cached per URI. */
static void test_probe_domain(void **state)
{
        _cleanup_virConnect_ virConnectPtr conn = NULL;
        struct host_caps caps = { .arch = xstrdup("x86_64"), .accel = MLVM_ACCEL_TCG };
        struct mlvm_err e = { 0 };
        struct host_rc rc;
        char tmpl[] = "/tmp/mlvm-test-rcprobe-XXXXXX";
        assert_non_null(mkdtemp(tmpl));
        char *dir = xstrdup(tmpl);

        virt_init();   /* libvirt's own error printing off */
        assert_int_equal(virt_connect("test:///default", &conn, &e), 0);
        int before = virConnectNumOfDomains(conn);
        assert_int_equal(host_rc_get(conn, "test:///default", dir, &caps, false, &rc, &e), 0);
        assert_string_equal(rc.source, "probe domain");
        assert_false(rc.cached);
        assert_true(rc.enforced[HOST_RC_DISK_IOTUNE]);
        assert_int_equal(virConnectNumOfDomains(conn), before);   /* the probe domain is gone */
        for (int c = 0; c < HOST_RC_N; c++)
                assert_true(rc.why[c][0]);                         /* every answer says why */
        bool weight = rc.enforced[HOST_RC_IO_WEIGHT];
        assert_int_equal(host_rc_get(conn, "test:///default", dir, &caps, false, &rc, &e), 0);
        assert_true(rc.cached);
        assert_int_equal(rc.enforced[HOST_RC_IO_WEIGHT], weight);
        assert_int_equal(host_rc_get(conn, "test:///default", dir, &caps, true, &rc, &e), 0);
        assert_false(rc.cached);
        host_caps_clear(&caps);
        rm_tree(dir);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_v1_without_bfq),
                cmocka_unit_test(test_v1_with_bfq),
                cmocka_unit_test(test_v1_combined_no_memory),
                cmocka_unit_test(test_v2_with_io),
                cmocka_unit_test(test_v2_without_io),
                cmocka_unit_test(test_no_cgroups),
                cmocka_unit_test(test_refusal),
                cmocka_unit_test(test_probe_domain),
        };
        return cmocka_run_group_tests_name("host-rc", tests, NULL, NULL);
}
