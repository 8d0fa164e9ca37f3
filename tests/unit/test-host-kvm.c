/* test-host-kvm.c: the accelerator decision (src/lib/virt/host-kvm.c) on hosts this
 * machine is not. Each case builds a small root tree (sys/module, dev/kvm
 * as a regular file with the node's owner and mode, etc/passwd, etc/group,
 * etc/libvirt/qemu.conf) and asserts the choice and the exact message. */
#include "mlvm-build.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "host-kvm.h"
#include "util.h"
#include "virt.h"

#define PASSWD "root:x:0:0:root:/root:/bin/bash\n" \
               "libvirt-qemu:x:64055:107:Libvirt Qemu,,,:/var/lib/libvirt:/usr/sbin/nologin\n"
#define GROUP  "root:x:0:\nkvm:x:107:\nlibvirt-qemu:x:64055:libvirt-qemu\n"

struct tree {
        const char *modules;        /* space-separated module names under sys/module */
        bool node;                  /* dev/kvm exists */
        uid_t uid;
        gid_t gid;
        mode_t mode;
        const char *qemu_conf;      /* NULL: none */
};

static void put(const char *root, const char *rel, const char *text)
{
        _cleanup_free_ char *p = xasprintf("%s/%s", root, rel), *dir = xstrdup(p);
        *strrchr(dir, '/') = '\0';
        assert_int_equal(mkdir_p(dir, 0755), 0);
        assert_int_equal(write_file_atomic(p, text, strlen(text), 0644), 0);
}

static char *make_tree(const struct tree *t)
{
        char tmpl[] = "/tmp/mlvm-test-kvm-XXXXXX";
        assert_non_null(mkdtemp(tmpl));
        char *root = xstrdup(tmpl);
        put(root, "etc/passwd", PASSWD);
        put(root, "etc/group", GROUP);
        if (t->qemu_conf)
                put(root, "etc/libvirt/qemu.conf", t->qemu_conf);
        _cleanup_free_ char *mods = xstrdup(t->modules ? t->modules : "");
        for (char *save = NULL, *m = strtok_r(mods, " ", &save); m; m = strtok_r(NULL, " ", &save)) {
                _cleanup_free_ char *d = xasprintf("%s/sys/module/%s", root, m);
                assert_int_equal(mkdir_p(d, 0755), 0);
        }
        _cleanup_free_ char *devdir = xasprintf("%s/dev", root);
        assert_int_equal(mkdir_p(devdir, 0755), 0);
        if (t->node) {
                _cleanup_free_ char *n = xasprintf("%s/dev/kvm", root);
                put(root, "dev/kvm", "");
                if (geteuid() == 0)
                        assert_int_equal(chown(n, t->uid, t->gid), 0);
                assert_int_equal(chmod(n, t->mode), 0);
        }
        return root;
}

static void rm_tree(char *root)
{
        _cleanup_free_ char *cmd = xasprintf("rm -rf -- '%s'", root);
        assert_int_equal(system(cmd), 0);
        free(root);
}

static void need_root(void)
{
        if (geteuid() != 0)
                skip();   /* owners of the stand-in node need chown */
}

/* Read the tree, then decide as `up` would for REQUEST. */
static int decide(const struct tree *t, enum mlvm_accel_request request, bool caps_kvm,
                  struct host_accel_choice *c, struct mlvm_err *e)
{
        char *root = make_tree(t);
        struct host_kvm_facts f = { 0 };
        host_qemu_ids_read(root, &f.qemu);
        host_kvm_facts_read(root, &f);
        struct host_accel_input in = { .request = request, .caps_kvm = caps_kvm, .local = &f, .uri = "qemu:///system" };
        int r = host_accel_choose(&in, c, e);
        rm_tree(root);
        return r;
}

static const struct tree hw_ok = { "kvm kvm_intel", true, 0, 107, 0660, NULL };
static const struct tree hw_closed = { "kvm kvm_intel", true, 0, 0, 0600, NULL };
static const struct tree pvm = { "kvm kvm_pvm", true, 0, 107, 0660, NULL };
static const struct tree pvm_closed = { "kvm kvm_pvm", true, 0, 0, 0600, NULL };
static const struct tree bare = { "", false, 0, 0, 0, NULL };
static const struct tree amd_no_node = { "kvm kvm_amd", false, 0, 0, 0, NULL };

static void test_hardware_kvm_with_access(void **state)
{
        struct host_accel_choice c;
        struct mlvm_err e = { 0 };
        need_root();
        assert_int_equal(decide(&hw_ok, MLVM_ACCEL_AUTO, true, &c, &e), 0);
        assert_int_equal(c.accel, MLVM_ACCEL_KVM);
        assert_true(c.watch);            /* never seen to boot here yet */
        assert_string_equal(c.why, "");
        assert_int_equal(decide(&hw_ok, MLVM_ACCEL_ASK_KVM, true, &c, &e), 0);
        assert_int_equal(c.accel, MLVM_ACCEL_KVM);
        /* tcg is never overruled, even where KVM works. */
        assert_int_equal(decide(&hw_ok, MLVM_ACCEL_ASK_TCG, true, &c, &e), 0);
        assert_int_equal(c.accel, MLVM_ACCEL_TCG);
        assert_string_equal(c.why, "");
        /* KVM usable by the node but libvirt does not offer it. */
        assert_int_equal(decide(&hw_ok, MLVM_ACCEL_AUTO, false, &c, &e), 0);
        assert_int_equal(c.accel, MLVM_ACCEL_TCG);
        assert_string_equal(c.why, "libvirt offers no KVM domain on this host");
}

static void test_hardware_kvm_without_access(void **state)
{
        struct host_accel_choice c;
        struct mlvm_err e = { 0 };
        need_root();
        assert_int_equal(decide(&hw_closed, MLVM_ACCEL_AUTO, true, &c, &e), 0);
        assert_int_equal(c.accel, MLVM_ACCEL_TCG);
        assert_string_equal(c.why, "/dev/kvm is root:root 0600, which libvirt's QEMU user libvirt-qemu cannot open");
        assert_string_equal(c.fix, "mlvm setup (as root) gives it group kvm and mode 0660, as udev would");
        assert_int_equal(decide(&hw_closed, MLVM_ACCEL_ASK_KVM, true, &c, &e), -ENODEV);
        assert_string_equal(e.msg, "accel kvm: /dev/kvm is root:root 0600, which libvirt's QEMU user libvirt-qemu "
                            "cannot open; fix: mlvm setup (as root) gives it group kvm and mode 0660, as udev would");
}

static void test_pvm(void **state)
{
        struct host_accel_choice c;
        struct mlvm_err e = { 0 };
        need_root();
        /* Openable or not, PVM does not boot our kernels; libvirt offers kvm all the same. */
        assert_int_equal(decide(&pvm, MLVM_ACCEL_AUTO, true, &c, &e), 0);
        assert_int_equal(c.accel, MLVM_ACCEL_TCG);
        assert_string_equal(c.why, "KVM here is PVM (kvm_pvm), which boots only PVM guest kernels");
        assert_int_equal(decide(&pvm_closed, MLVM_ACCEL_AUTO, true, &c, &e), 0);
        assert_string_equal(c.why, "KVM here is PVM (kvm_pvm), which boots only PVM guest kernels");
        assert_int_equal(decide(&pvm, MLVM_ACCEL_ASK_KVM, true, &c, &e), -ENODEV);
        assert_string_equal(e.msg, "accel kvm: KVM here is PVM (kvm_pvm), which boots only PVM guest kernels");
}

static void test_no_kvm(void **state)
{
        struct host_accel_choice c;
        struct mlvm_err e = { 0 };
        assert_int_equal(decide(&bare, MLVM_ACCEL_AUTO, false, &c, &e), 0);
        assert_int_equal(c.accel, MLVM_ACCEL_TCG);
        assert_string_equal(c.why, "no KVM on this host (no kvm_intel or kvm_amd module, no /dev/kvm)");
        assert_int_equal(decide(&amd_no_node, MLVM_ACCEL_AUTO, false, &c, &e), 0);
        assert_string_equal(c.why, "kvm_amd is loaded but there is no /dev/kvm");
        assert_int_equal(decide(&bare, MLVM_ACCEL_ASK_KVM, false, &c, &e), -ENODEV);
        /* Both kvm_intel (built in: its parameters show) and kvm_pvm: PVM is what runs guests. */
        struct tree both = { "kvm kvm_intel kvm_pvm", false, 0, 0, 0, NULL };
        assert_int_equal(decide(&both, MLVM_ACCEL_AUTO, true, &c, &e), 0);
        assert_string_equal(c.why, "KVM here is PVM (kvm_pvm), which boots only PVM guest kernels");
        assert_true(strstartswith(e.msg, "accel kvm: no KVM on this host"));
}

/* A host mlvm cannot read: libvirt's word, then what the first boot showed. */
static void test_remote(void **state)
{
        const char *uri = "qemu+ssh://gpu-7/system";
        struct host_kvm_watch fails = { .state = HOST_KVM_FAILS, .reason = "QEMU's log says \"KVM internal error\"" };
        struct host_kvm_watch boots = { .state = HOST_KVM_BOOTS };
        struct host_accel_input in = { .request = MLVM_ACCEL_AUTO, .caps_kvm = true, .uri = uri };
        struct host_accel_choice c;
        struct mlvm_err e = { 0 };

        assert_int_equal(host_accel_choose(&in, &c, &e), 0);
        assert_int_equal(c.accel, MLVM_ACCEL_KVM);
        assert_true(c.watch);
        in.watch = &boots;
        assert_int_equal(host_accel_choose(&in, &c, &e), 0);
        assert_int_equal(c.accel, MLVM_ACCEL_KVM);
        assert_false(c.watch);
        in.watch = &fails;
        assert_int_equal(host_accel_choose(&in, &c, &e), 0);
        assert_int_equal(c.accel, MLVM_ACCEL_TCG);
        assert_string_equal(c.why, "KVM on qemu+ssh://gpu-7/system failed to boot a guest before (QEMU's log says "
                            "\"KVM internal error\")");
        assert_string_equal(c.fix, "mlvm info --refresh forgets that and tries KVM again");
        /* An explicit kvm tries again, watched, and never falls back. */
        in.request = MLVM_ACCEL_ASK_KVM;
        assert_int_equal(host_accel_choose(&in, &c, &e), 0);
        assert_int_equal(c.accel, MLVM_ACCEL_KVM);
        assert_true(c.watch);
        in.caps_kvm = false;
        assert_int_equal(host_accel_choose(&in, &c, &e), -ENODEV);
        assert_string_equal(e.msg, "accel kvm: the host behind qemu+ssh://gpu-7/system offers no KVM domain");
}

/* The first KVM boot on a URI failed: what shows it, recorded inputs. */
static void test_watch_verdict(void **state)
{
        char why[256];
        const char *log = "2026-12-06 qemu-system-x86_64: KVM internal error. Suberror: 1\n"
                          "extra data[0]: 0x0000000000000001\nemulation failure\nRAX=...\n";

        assert_true(host_kvm_watch_failed(false, false, 0, log, why, sizeof(why)));
        assert_string_equal(why, "QEMU's log says \"KVM internal error\"");
        assert_true(host_kvm_watch_failed(true, false, 0,
                                          "qemu-system-x86_64: Could not access KVM kernel module: Permission denied\n",
                                          why, sizeof(why)));
        assert_string_equal(why, "QEMU's log says \"Could not access KVM kernel module\"");
        assert_true(host_kvm_watch_failed(false, true, VIR_DOMAIN_PAUSED_UNKNOWN, NULL, why, sizeof(why)));
        assert_string_equal(why, "the guest stopped itself while booting (libvirt paused reason 0)");
        /* An I/O error (a full disk), a user's pause or a shutdown is not KVM's fault. */
        assert_false(host_kvm_watch_failed(false, true, VIR_DOMAIN_PAUSED_IOERROR, NULL, why, sizeof(why)));
        assert_false(host_kvm_watch_failed(false, true, VIR_DOMAIN_PAUSED_USER, NULL, why, sizeof(why)));
        assert_false(host_kvm_watch_failed(false, true, VIR_DOMAIN_PAUSED_SHUTTING_DOWN, NULL, why, sizeof(why)));
        assert_true(host_kvm_watch_failed(true, false, 0, "", why, sizeof(why)));
        assert_string_equal(why, "no HELLO from the agent within the KVM deadline");
        /* A guest that failed for its own reasons (a workload error) is not KVM's fault. */
        assert_false(host_kvm_watch_failed(false, false, 0, "char device redirected to /dev/pts/3\n", why,
                                           sizeof(why)));
}

static void test_watch_record(void **state)
{
        char tmpl[] = "/tmp/mlvm-test-watch-XXXXXX";
        assert_non_null(mkdtemp(tmpl));
        char *dir = xstrdup(tmpl);
        struct host_kvm_watch w;

        host_kvm_watch_load(dir, "qemu+ssh://a/system", &w);
        assert_int_equal(w.state, HOST_KVM_UNTRIED);
        assert_int_equal(host_kvm_watch_save(dir, "qemu+ssh://a/system", HOST_KVM_FAILS, "no HELLO"), 0);
        host_kvm_watch_load(dir, "qemu+ssh://a/system", &w);
        assert_int_equal(w.state, HOST_KVM_FAILS);
        assert_string_equal(w.reason, "no HELLO");
        assert_true(w.cached);
        host_kvm_watch_load(dir, "qemu+ssh://b/system", &w);   /* per URI */
        assert_int_equal(w.state, HOST_KVM_UNTRIED);
        host_kvm_watch_forget(dir, "qemu+ssh://a/system");
        host_kvm_watch_load(dir, "qemu+ssh://a/system", &w);
        assert_int_equal(w.state, HOST_KVM_UNTRIED);
        rm_tree(dir);
}

static void test_qemu_ids(void **state)
{
        struct tree t = bare;
        struct host_qemu_ids ids;

        char *root = make_tree(&t);
        host_qemu_ids_read(root, &ids);
        assert_true(ids.resolved);
        assert_string_equal(ids.user, "libvirt-qemu");
        assert_int_equal(ids.uid, 64055);
        assert_int_equal(ids.gid, 64055);
        /* kvm (its primary group) is among the groups QEMU gets. */
        bool kvm = false;
        for (size_t i = 0; i < ids.n_groups; i++)
                kvm |= ids.groups[i] == 107;
        assert_true(kvm);
        assert_true(host_node_openable(&ids, 0, 107, 0660));
        assert_false(host_node_openable(&ids, 0, 0, 0600));
        assert_false(host_node_openable(&ids, 0, 107, 0600));
        assert_true(host_node_openable(&ids, 0, 0, 0666));
        rm_tree(root);

        /* qemu.conf decides; "+0" is root, which opens anything. */
        t.qemu_conf = "# user = \"nobody\"\nuser = \"+0\"\ngroup = \"+0\"\n";
        root = make_tree(&t);
        host_qemu_ids_read(root, &ids);
        assert_true(ids.resolved);
        assert_int_equal(ids.uid, 0);
        assert_string_equal(ids.user, "root");
        assert_true(host_node_openable(&ids, 0, 0, 0600));
        rm_tree(root);

        t.qemu_conf = "user = \"qemu\"\n";   /* no such user in passwd */
        root = make_tree(&t);
        host_qemu_ids_read(root, &ids);
        assert_false(ids.resolved);
        assert_false(host_node_openable(&ids, 0, 0, 0666));
        rm_tree(root);
}

/* mlvm setup's fix, on a stand-in node's metadata. */
static void test_fix_node(void **state)
{
        struct mlvm_err e = { 0 };
        struct stat st;
        bool changed;
        need_root();
        char *root = make_tree(&hw_closed);
        char *node = xasprintf("%s/dev/kvm", root);

        assert_int_equal(host_kvm_fix_node(root, false, &changed, &e), 0);
        assert_true(changed);
        assert_int_equal(stat(node, &st), 0);
        assert_int_equal(st.st_gid, 107);
        assert_int_equal(st.st_mode & 07777, 0660);
        assert_int_equal(st.st_uid, 0);
        assert_int_equal(host_kvm_fix_node(root, false, &changed, &e), 0);
        assert_false(changed);   /* idempotent */
        free(node);
        rm_tree(root);

        root = make_tree(&bare);   /* no node: nothing to fix */
        assert_int_equal(host_kvm_fix_node(root, false, &changed, &e), 0);
        assert_false(changed);
        rm_tree(root);

        /* A QEMU user mlvm cannot resolve: the node is not touched. */
        struct tree unknown = hw_closed;
        unknown.qemu_conf = "user = \"qemu\"\n";
        root = make_tree(&unknown);
        node = xasprintf("%s/dev/kvm", root);
        assert_int_equal(host_kvm_fix_node(root, false, &changed, &e), 0);
        assert_false(changed);
        assert_int_equal(stat(node, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0600);
        free(node);
        rm_tree(root);

        /* Never narrower than the host made it: 0604 becomes 0664. */
        struct tree wide = hw_closed;
        wide.mode = 0604;
        root = make_tree(&wide);
        node = xasprintf("%s/dev/kvm", root);
        assert_int_equal(host_kvm_fix_node(root, false, &changed, &e), 0);
        assert_true(changed);
        assert_int_equal(stat(node, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0664);
        free(node);
        rm_tree(root);
}

/* With a uid of its own per run (no group kvm): systemd-udev's 0666. */
static void test_fix_node_per_run(void **state)
{
        struct mlvm_err e = { 0 };
        struct stat st;
        bool changed;
        struct host_qemu_ids q = { .resolved = true, .uid = 64055, .gid = 64055, .groups = { 107 }, .n_groups = 1 };
        (void)state;
        /* Recorded nodes: udev's 0660 root:kvm opens for libvirt's QEMU user, not for a run's own uid. */
        assert_true(host_node_openable(&q, 0, 107, 0660));
        assert_false(host_node_openable_by_run(&q, 0, 107, 0660));
        assert_true(host_node_openable_by_run(&q, 0, 107, 0666));
        assert_true(host_node_openable_by_run(&q, 0, 64055, 0660));   /* QEMU's own group */
        assert_false(host_node_openable_by_run(&q, 64055, 0, 0600));  /* never the owner */
        need_root();
        char *root = make_tree(&hw_closed);
        char *node = xasprintf("%s/dev/kvm", root);
        assert_int_equal(host_kvm_fix_node(root, true, &changed, &e), 0);
        assert_true(changed);
        assert_int_equal(stat(node, &st), 0);
        assert_int_equal(st.st_gid, 107);
        assert_int_equal(st.st_mode & 07777, 0666);
        assert_int_equal(host_kvm_fix_node(root, true, &changed, &e), 0);
        assert_false(changed);   /* idempotent */
        free(node);
        rm_tree(root);
}

static void test_uri_local(void **state)
{
        assert_true(host_uri_is_local("qemu:///system"));
        assert_true(host_uri_is_local("qemu:///session"));
        assert_false(host_uri_is_local("qemu+ssh://gpu-7/system"));
        assert_false(host_uri_is_local("qemu+tcp://127.0.0.1:16509/system"));
        assert_false(host_uri_is_local("bogus"));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_hardware_kvm_with_access),
                cmocka_unit_test(test_hardware_kvm_without_access),
                cmocka_unit_test(test_pvm),
                cmocka_unit_test(test_no_kvm),
                cmocka_unit_test(test_remote),
                cmocka_unit_test(test_watch_verdict),
                cmocka_unit_test(test_watch_record),
                cmocka_unit_test(test_qemu_ids),
                cmocka_unit_test(test_fix_node),
                cmocka_unit_test(test_fix_node_per_run),
                cmocka_unit_test(test_uri_local),
        };
        return cmocka_run_group_tests_name("host-kvm", tests, NULL, NULL);
}
