/* test-domain.c: the domain XML generator (src/lib/virt/domain.c).
 * Golden files: tests/data/domain/CASE.yaml (an mlvm.yaml with one model or
 * experiment) plus CASE.env (the domain_env fields as "key value" lines) must
 * give exactly CASE.xml, and that XML must pass libvirt's own parser (the
 * test:///default driver) with nothing mlvm left out added back. Inputs that
 * are not safe to put into XML must fail with the exact one-line message.
 * MLVM_TEST_REGENERATE=1 rewrites the .xml files instead of comparing. */
#include "mlvm-build.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <libxml/xpathInternals.h>

#include "config.h"
#include "domain.h"
#include "host-rc.h"
#include "units.h"
#include "util.h"
#include "virt.h"

static const char *const good[] = {
        "tcg-virtio-serial", "kvm-vsock", "memory-hard-limit", "data-disks", "experiment", "tcg-tuned", "own-uid",
};

/* Set one field of W or ENV from text, as a CASE.env line or a bad case
 * does. VALUE must outlive W and ENV (it is pointed to, and split in place
 * for "disk PATH FORMAT SERIAL [ro]"). */
static void set_field(struct mlvm_workload *w, struct domain_env *env, const char *key, char *value)
{
        uint64_t v;

        if (streq(key, "name"))
                w->name = value;
        else if (streq(key, "vcpus")) {
                assert_int_equal(parse_uint(value, 0, UINT32_MAX, &v), 0);
                w->vcpus = (unsigned)v;
        } else if (streq(key, "run_id"))
                env->run_id = value;
        else if (streq(key, "owner"))
                env->owner = value;
        else if (streq(key, "accel")) {
                assert_true(streq(value, "kvm") || streq(value, "tcg"));
                env->accel = streq(value, "kvm") ? MLVM_ACCEL_KVM : MLVM_ACCEL_TCG;
        } else if (streq(key, "arch"))
                env->arch = value;
        else if (streq(key, "vsock")) {
                assert_true(streq(value, "yes") || streq(value, "no"));
                env->vsock = streq(value, "yes");
        } else if (streq(key, "vsock_cid")) {
                assert_int_equal(parse_uint(value, 0, UINT32_MAX, &v), 0);
                env->vsock_cid = (unsigned)v;
        } else if (streq(key, "kernel"))
                env->kernel = value;
        else if (streq(key, "initrd"))
                env->initrd = value;
        else if (streq(key, "cmdline"))
                env->cmdline = value;
        else if (streq(key, "boot_timeout_s")) {
                assert_int_equal(parse_uint(value, 0, UINT32_MAX, &v), 0);
                env->boot_timeout_s = (unsigned)v;
        } else if (streq(key, "tb_cache_mib")) {
                assert_int_equal(parse_uint(value, 0, UINT32_MAX, &v), 0);
                env->tb_cache_mib = (unsigned)v;
        } else if (streq(key, "disk_iops")) {
                assert_int_equal(parse_uint(value, 0, UINT32_MAX, &v), 0);
                env->disk_iops = (unsigned)v;
        } else if (streq(key, "rng")) {
                assert_true(streq(value, "yes") || streq(value, "no"));
                env->no_rng = streq(value, "no");
        } else if (streq(key, "qemu_id")) {
                /* "UID GID": the run's own QEMU identity (qemu-id.h). */
                char *save = NULL, *u = strtok_r(value, " ", &save), *g = strtok_r(NULL, " ", &save);
                assert_non_null(g);
                assert_int_equal(parse_uint(u, 0, UINT32_MAX, &v), 0);
                env->qemu_uid = (uint32_t)v;
                assert_int_equal(parse_uint(g, 0, UINT32_MAX, &v), 0);
                env->qemu_gid = (uint32_t)v;
                env->own_uid = true;
        } else if (streq(key, "disk")) {
                assert_true(env->n_disks < DOMAIN_MAX_DISKS);
                struct domain_disk *d = &env->disks[env->n_disks++];
                char *save = NULL, *ro;
                d->path = strtok_r(value, " ", &save);
                d->format = strtok_r(NULL, " ", &save);
                d->serial = strtok_r(NULL, " ", &save);
                ro = strtok_r(NULL, " ", &save);
                assert_non_null(d->serial);
                assert_true(!ro || streq(ro, "ro"));
                d->readonly = ro != NULL;
        } else
                fail_msg("unknown key %s", key);
}

/* CASE.env: "key value" lines; '#' starts a comment line. BUF is kept. */
static void parse_env(char *buf, struct mlvm_workload *w, struct domain_env *env)
{
        char *save = NULL;
        for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                if (line[0] == '#')
                        continue;
                char *sp = strchr(line, ' ');
                assert_non_null(sp);
                *sp = '\0';
                set_field(w, env, line, sp + 1);
        }
}

static char *data_path(const char *name, const char *ext)
{
        return xasprintf("%s/domain/%s.%s", TEST_DATA, name, ext);
}

/* Generate the XML of golden case NAME. */
static char *golden_xml(const char *name)
{
        _cleanup_free_ char *ypath = data_path(name, "yaml"), *epath = data_path(name, "env");
        _cleanup_free_ char *yaml = NULL, *envbuf = NULL;
        _cleanup_(mlvm_config_freep) struct mlvm_config *c = NULL;
        struct domain_env env = { 0 };
        struct mlvm_err e = { 0 };
        char *xml = NULL;
        size_t ylen;

        assert_int_equal(read_file_capped(ypath, 1 << 20, &yaml, &ylen), 0);
        assert_int_equal(read_file_capped(epath, 1 << 20, &envbuf, NULL), 0);
        if (mlvm_config_parse(name, "/base", yaml, ylen, &c, &e) < 0)
                fail_msg("%s.yaml: %s", name, e.msg);
        assert_int_equal(c->n, 1);
        parse_env(envbuf, &c->w[0], &env);
        if (domain_xml(&c->w[0], &env, &xml, &e) < 0)
                fail_msg("%s: %s", name, e.msg);
        return xml;
}

static void test_golden(void **state)
{
        const char *name = *state;
        _cleanup_free_ char *xpath = data_path(name, "xml");
        _cleanup_free_ char *got = golden_xml(name), *want = NULL;

        if (getenv("MLVM_TEST_REGENERATE")) {
                assert_int_equal(write_file_atomic(xpath, got, strlen(got), 0644), 0);
                return;
        }
        assert_int_equal(read_file_capped(xpath, 1 << 20, &want, NULL), 0);
        assert_string_equal(got, want);
}

static char *xpath_str(xmlXPathContextPtr ctx, const char *expr)
{
        char *s = xpath_string(ctx, expr);
        assert_non_null(s);
        return s;
}

/* libvirt's own parser takes the XML, and what it reports back still has
 * none of what mlvm left out: libvirt adds devices on its own otherwise. */
static void test_libvirt_parses(void **state)
{
        const char *name = *state;
        _cleanup_free_ char *xml = golden_xml(name), *live = NULL;
        _cleanup_virConnect_ virConnectPtr conn = virConnectOpen("test:///default");
        _cleanup_virDomain_ virDomainPtr dom = NULL;

        assert_non_null(conn);
        dom = virDomainDefineXML(conn, xml);
        if (!dom)
                fail_msg("%s: %s", name, virGetLastErrorMessage());
        live = virDomainGetXMLDesc(dom, 0);
        assert_int_equal(virDomainUndefine(dom), 0);
        assert_non_null(live);

        _cleanup_xmlDoc_ xmlDocPtr doc = virt_parse_xml(live, strlen(live));
        assert_non_null(doc);
        _cleanup_xmlXPathContext_ xmlXPathContextPtr ctx = xmlXPathNewContext(doc);
        assert_non_null(ctx);
        assert_int_equal(xmlXPathRegisterNs(ctx, (const xmlChar *)"m", (const xmlChar *)DOMAIN_XMLNS), 0);
        const struct { const char *expr, *want; } checks[] = {
                { "string(count(/domain/devices/interface))", "0" },
                { "string(count(/domain/devices/graphics | /domain/devices/video | /domain/devices/sound))", "0" },
                { "string(count(/domain/devices/input[@bus!='ps2']))", "0" },
                { "string(count(/domain/devices/controller[@type='usb']))", "1" },
                { "string(/domain/devices/controller[@type='usb']/@model)", "none" },
                { "string(/domain/devices/memballoon/@model)", "none" },
                { "string(count(/domain/memoryBacking/nosharepages))", "1" },
                { "string(/domain/on_reboot)", "destroy" },
                { "string(/domain/devices/channel/target/@name)", "org.mlvm.agent.0" },
        };
        /* The metadata mlvm finds its domains by survives the round trip. */
        _cleanup_free_ char *id = xpath_str(ctx, "string(/domain/metadata/m:run/@id)");
        assert_int_equal(strlen(id), 8);
        for (size_t i = 0; i < ARRAY_SIZE(checks); i++) {
                _cleanup_free_ char *got = xpath_str(ctx, checks[i].expr);
                if (!streq(got, checks[i].want))
                        fail_msg("%s: %s is \"%s\", not \"%s\"", name, checks[i].expr, got, checks[i].want);
        }
}

/* Every bad case starts from this valid model and environment and sets one
 * field (the same keys as CASE.env, plus name and vcpus). */
struct bad_case {
        const char *desc, *key, *value, *error;
};

static const struct bad_case bad[] = {
        { "name with XML metacharacters", "name", "a<b>",
          "workload name \"a<b>\": not a valid name ([a-z0-9][a-z0-9-]{0,62})" },
        { "name with an ampersand and quote", "name", "a&b'c",
          "workload name \"a&b'c\": not a valid name ([a-z0-9][a-z0-9-]{0,62})" },
        { "name with a slash", "name", "a/b",
          "workload name \"a/b\": not a valid name ([a-z0-9][a-z0-9-]{0,62})" },
        { "name of 64 characters", "name", "a123456789012345678901234567890123456789012345678901234567890123",
          "workload name \"a123456789012345678901234567890123456789012345678901234567890123\": "
          "not a valid name ([a-z0-9][a-z0-9-]{0,62})" },
        { "name with a newline", "name", "a\nb",
          "workload name \"a?b\": not a valid name ([a-z0-9][a-z0-9-]{0,62})" },
        { "name empty", "name", "", "workload name \"\": not a valid name ([a-z0-9][a-z0-9-]{0,62})" },
        { "vcpus zero", "vcpus", "0", "workload a: vcpus 0 out of range (1 to 64)" },
        { "owner with XML metacharacters", "owner", "0123456789abcdef0123456789abc\"/>",
          "owner \"0123456789abcdef0123456789abc\"/>\": not 32 lowercase hexadecimal digits" },
        { "owner too short", "owner", "0123abcd", "owner \"0123abcd\": not 32 lowercase hexadecimal digits" },
        { "run id not hex", "run_id", "XYZ", "run id \"XYZ\": not 8 lowercase hexadecimal digits" },
        { "run id uppercase", "run_id", "0123ABCD", "run id \"0123ABCD\": not 8 lowercase hexadecimal digits" },
        { "run id too long", "run_id", "0123abcd0", "run id \"0123abcd0\": not 8 lowercase hexadecimal digits" },
        { "arch with a quote", "arch", "x86_64'", "arch \"x86_64'\": not [a-z0-9_]{1,32}" },
        { "kernel relative", "kernel", "boot/vmlinuz", "kernel \"boot/vmlinuz\": not an absolute path" },
        { "kernel empty", "kernel", "", "kernel: missing" },
        { "kernel with a control character", "kernel", "/pool/k\tx", "kernel: control character 0x09 at byte 7" },
        { "kernel not UTF-8", "kernel", "/pool/k\xff", "kernel \"/pool/k?\": not valid UTF-8" },
        { "initrd relative", "initrd", "initrd.img", "initrd \"initrd.img\": not an absolute path" },
        { "cmdline with a newline", "cmdline", "console=ttyS0\ninit=/bin/sh",
          "cmdline: control character 0x0a at byte 13" },
        { "cmdline with DEL", "cmdline", "quiet\x7f", "cmdline: control character 0x7f at byte 5" },
        { "serial of 21 bytes", "disk", "/pool/d raw mlvm-data-weights-xyzw",
          "disks[1].serial \"mlvm-data-weights-xyzw\": longer than 20 bytes" },
        { "serial uppercase", "disk", "/pool/d raw Mlvm-data", "disks[1].serial \"Mlvm-data\": not [a-z0-9-]" },
        { "serial with XML", "disk", "/pool/d raw <x/>", "disks[1].serial \"<x/>\": not [a-z0-9-]" },
        { "serial reused", "disk", "/pool/d raw mlvm-root", "disks[1].serial \"mlvm-root\": already used by disks[0]" },
        { "disk path relative", "disk", "d.qcow2 qcow2 mlvm-x", "disks[1].path \"d.qcow2\": not an absolute path" },
        { "disk format vmdk", "disk", "/pool/d vmdk mlvm-x", "disks[1].format \"vmdk\": not qcow2 or raw" },
        { "boot timeout zero", "boot_timeout_s", "0", "boot timeout 0 s: out of range (1 to 3600)" },
        { "boot timeout too long", "boot_timeout_s", "3601", "boot timeout 3601 s: out of range (1 to 3600)" },
        { "qemu uid root", "qemu_id", "0 64055", "qemu uid 0 gid 64055: not a run's own identity" },
        { "qemu uid -1", "qemu_id", "4294967295 64055", "qemu uid 4294967295 gid 64055: not a run's own identity" },
        { "vsock cid 2 (the host)", "vsock_cid", "2", "vsock cid 2: out of range (3 to 4294967294)" },
        { "vsock cid VMADDR_CID_ANY", "vsock_cid", "4294967295",
          "vsock cid 4294967295: out of range (3 to 4294967294)" },
};

static void base_case(struct mlvm_workload *w, struct domain_env *env)
{
        *w = (struct mlvm_workload){ .kind = MLVM_KIND_MODEL, .name = (char *)"a", .vcpus = 1,
                                     .memory = 256ULL << 20 };
        *env = (struct domain_env){ .run_id = "0123abcd", .arch = "x86_64", .vsock = true, .vsock_cid = 3,
                                    .kernel = "/pool/k", .initrd = "/pool/i", .cmdline = "console=ttyS0",
                                    .boot_timeout_s = 60, .n_disks = 1,
                                    .disks = { { "/pool/root.qcow2", "qcow2", "mlvm-root", false } } };
}

static void test_bad(void **state)
{
        const struct bad_case *c = *state;
        _cleanup_free_ char *value = xstrdup(c->value);
        struct mlvm_workload w;
        struct domain_env env;
        struct mlvm_err e = { 0 };
        char *xml = NULL;

        base_case(&w, &env);
        set_field(&w, &env, c->key, value);
        assert_int_equal(domain_xml(&w, &env, &xml, &e), -EINVAL);
        assert_null(xml);
        assert_string_equal(e.msg, c->error);
}

static void test_base_case_is_valid(void **state)
{
        struct mlvm_workload w;
        struct domain_env env;
        struct mlvm_err e = { 0 };
        _cleanup_free_ char *xml = NULL;

        base_case(&w, &env);
        assert_int_equal(domain_xml(&w, &env, &xml, &e), 0);
        assert_non_null(strstr(xml, "<name>mlvm-a-0123abcd</name>"));
}

static void test_cmdline_length(void **state)
{
        struct mlvm_workload w;
        struct domain_env env;
        struct mlvm_err e = { 0 };
        _cleanup_free_ char *cmdline = xmalloc(DOMAIN_CMDLINE_MAX + 1), *xml = NULL;

        base_case(&w, &env);
        env.cmdline = cmdline;
        env.boot_timeout_s = 3600;
        /* 2029 bytes + " mlvm.timeout=3600" = 2047, the most the kernel keeps. */
        memset(cmdline, 'x', 2029);
        cmdline[2029] = '\0';
        assert_int_equal(domain_xml(&w, &env, &xml, &e), 0);
        assert_non_null(strstr(xml, "x mlvm.timeout=3600</cmdline>"));
        free(TAKE_PTR(xml));
        memset(cmdline, 'x', 2030);
        cmdline[2030] = '\0';
        assert_int_equal(domain_xml(&w, &env, &xml, &e), -EINVAL);
        assert_string_equal(e.msg, "cmdline: longer than 2029 bytes");
        memset(cmdline, 'x', DOMAIN_CMDLINE_MAX + 1);
        cmdline[DOMAIN_CMDLINE_MAX] = '\0';
        assert_int_equal(domain_xml(&w, &env, &xml, &e), -EINVAL);
        assert_string_equal(e.msg, "cmdline: longer than 2029 bytes");
        assert_null(xml);
}

static void test_too_many_disks(void **state)
{
        struct mlvm_workload w;
        struct domain_env env;
        struct mlvm_err e = { 0 };
        char *xml = NULL;

        base_case(&w, &env);
        env.n_disks = DOMAIN_MAX_DISKS + 1;
        assert_int_equal(domain_xml(&w, &env, &xml, &e), -EINVAL);
        assert_string_equal(e.msg, "disks: 21, more than 20");
        assert_null(xml);
}

/* Metacharacters that pass validation (paths may hold them) are escaped
 * by libxml2, never interpreted. */
static void test_paths_are_escaped(void **state)
{
        struct mlvm_workload w;
        struct domain_env env;
        struct mlvm_err e = { 0 };
        _cleanup_free_ char *xml = NULL;

        base_case(&w, &env);
        env.kernel = "/pool/k'<x>&\"";
        env.cmdline = "a=\"<devices>\" b='&'";
        assert_int_equal(domain_xml(&w, &env, &xml, &e), 0);
        assert_non_null(strstr(xml, "<kernel>/pool/k'&lt;x&gt;&amp;\"</kernel>"));
        assert_non_null(strstr(xml, "<cmdline>a=\"&lt;devices&gt;\" b='&amp;' mlvm.timeout=60</cmdline>"));
        _cleanup_xmlDoc_ xmlDocPtr doc = virt_parse_xml(xml, strlen(xml));
        assert_non_null(doc);
        _cleanup_xmlXPathContext_ xmlXPathContextPtr ctx = xmlXPathNewContext(doc);
        _cleanup_free_ char *k = xpath_str(ctx, "string(/domain/os/kernel)");
        assert_string_equal(k, env.kernel);
        _cleanup_free_ char *n = xpath_str(ctx, "string(count(/domain/devices/*))");
        /* disk, usb, serial, console, virtio-serial controller, channel, balloon, rng, vsock */
        assert_string_equal(n, "9");
}

/* Every PCI device is on the root bus at a slot of its own (no
 * pcie-root-port for libvirt to add), with the most devices a run has:
 * 20 disks, the virtio-serial controller, rng and vsock. */
static void test_pci_root_bus(void **state)
{
        struct mlvm_workload w;
        struct domain_env env;
        struct mlvm_err e = { 0 };
        _cleanup_free_ char *xml = NULL;
        char paths[DOMAIN_MAX_DISKS][32], serials[DOMAIN_MAX_DISKS][16];

        base_case(&w, &env);
        env.n_disks = DOMAIN_MAX_DISKS;
        for (size_t i = 0; i < DOMAIN_MAX_DISKS; i++) {
                (void)snprintf(paths[i], sizeof(paths[i]), "/pool/d%zu.raw", i);
                (void)snprintf(serials[i], sizeof(serials[i]), "mlvm-d%zu", i);
                env.disks[i] = (struct domain_disk){ paths[i], "raw", serials[i], true };
        }
        assert_int_equal(domain_xml(&w, &env, &xml, &e), 0);
        _cleanup_xmlDoc_ xmlDocPtr doc = virt_parse_xml(xml, strlen(xml));
        assert_non_null(doc);
        _cleanup_xmlXPathContext_ xmlXPathContextPtr ctx = xmlXPathNewContext(doc);
        _cleanup_free_ char *n = xpath_str(ctx, "string(count(//address))");
        assert_string_equal(n, "23");
        _cleanup_free_ char *other = xpath_str(ctx, "string(count(//address[@type!='pci' or @domain!='0x0000' or "
                                                    "@bus!='0x00' or @function!='0x0']))");
        assert_string_equal(other, "0");
        _cleanup_free_ char *ser = xpath_str(ctx, "string(/domain/devices/controller[@type='virtio-serial']/address/@slot)");
        assert_string_equal(ser, "0x15");
        _cleanup_free_ char *vs = xpath_str(ctx, "string(/domain/devices/vsock/address/@slot)");
        assert_string_equal(vs, "0x17");
        /* Distinct slots from 0x01 to 0x1e: q35's ICH9 functions are at 0x1f. */
        bool seen[32] = { false };
        for (int i = 1; i <= 23; i++) {
                _cleanup_free_ char *expr = xasprintf("string((//address)[%d]/@slot)", i);
                _cleanup_free_ char *slot = xpath_str(ctx, expr);
                unsigned long v = strtoul(slot, NULL, 16);
                assert_true(v >= 1 && v <= 0x1e);
                assert_false(seen[v]);
                seen[v] = true;
        }
}

/* A hard limit below RAM + 64 MiB pulls the soft limit down to it. */
static void test_soft_limit_clamped(void **state)
{
        struct mlvm_workload w;
        struct domain_env env;
        struct mlvm_err e = { 0 };
        _cleanup_free_ char *xml = NULL;

        base_case(&w, &env);
        w.memory_limit = (256ULL + 32) << 20;
        assert_int_equal(domain_xml(&w, &env, &xml, &e), 0);
        assert_non_null(strstr(xml, "<hard_limit unit=\"KiB\">294912</hard_limit>\n"
                                    "    <soft_limit unit=\"KiB\">294912</soft_limit>"));
}

/* Only what the host enforces goes in (host-rc.c decides): libvirt
 * refuses the whole domain over a control it cannot apply. */
static void test_unenforced_controls_left_out(void **state)
{
        struct mlvm_workload w;
        struct domain_env env;
        struct mlvm_err e = { 0 };
        char *xml = NULL;

        base_case(&w, &env);
        w.memory_limit = 512ULL << 20;
        assert_int_equal(domain_xml(&w, &env, &xml, &e), 0);
        assert_non_null(strstr(xml, "<blkiotune>"));
        assert_non_null(strstr(xml, "<shares>1024</shares>"));
        assert_non_null(strstr(xml, "<global_quota>"));
        assert_non_null(strstr(xml, "<soft_limit"));
        free(xml);

        env.rc_off = 1u << HOST_RC_IO_WEIGHT;   /* this machine: no BFQ */
        assert_int_equal(domain_xml(&w, &env, &xml, &e), 0);
        assert_null(strstr(xml, "<blkiotune>"));
        assert_non_null(strstr(xml, "<shares>1024</shares>"));
        assert_non_null(strstr(xml, "<hard_limit"));
        assert_non_null(strstr(xml, "<iotune>"));   /* per-disk limits need no cgroup */
        free(xml);

        env.rc_off = (1u << HOST_RC_CPU_SHARES) | (1u << HOST_RC_CPU_QUOTA) | (1u << HOST_RC_MEM_SOFT) |
                     (1u << HOST_RC_MEM_HARD) | (1u << HOST_RC_IO_WEIGHT);
        assert_int_equal(domain_xml(&w, &env, &xml, &e), 0);
        assert_null(strstr(xml, "<cputune>"));
        assert_null(strstr(xml, "<memtune>"));
        assert_null(strstr(xml, "<blkiotune>"));
        assert_non_null(strstr(xml, "<iotune>"));
        free(xml);
}

static void test_name(void **state)
{
        _cleanup_free_ char *n = domain_name("model-a", "0123abcd");
        assert_string_equal(n, "mlvm-model-a-0123abcd");
}

int main(void)
{
        size_t nb = ARRAY_SIZE(bad), ng = ARRAY_SIZE(good), n = 0;
        struct CMUnitTest *t = xcalloc(nb + 2 * ng + 9, sizeof(*t));
        char **names = xcalloc(ng, sizeof(*names));

        virt_init();
        for (size_t i = 0; i < ng; i++) {
                t[n++] = (struct CMUnitTest){ .name = good[i], .test_func = test_golden,
                                              .initial_state = (void *)good[i] };
                names[i] = xasprintf("libvirt parses %s", good[i]);
                t[n++] = (struct CMUnitTest){ .name = names[i], .test_func = test_libvirt_parses,
                                              .initial_state = (void *)good[i] };
        }
        for (size_t i = 0; i < nb; i++)
                t[n++] = (struct CMUnitTest){ .name = bad[i].desc, .test_func = test_bad,
                                              .initial_state = (void *)&bad[i] };
        t[n++] = (struct CMUnitTest){ .name = "the base of the bad cases is valid", .test_func = test_base_case_is_valid };
        t[n++] = (struct CMUnitTest){ .name = "cmdline length limit", .test_func = test_cmdline_length };
        t[n++] = (struct CMUnitTest){ .name = "too many disks", .test_func = test_too_many_disks };
        t[n++] = (struct CMUnitTest){ .name = "controls the host does not enforce are left out",
                                      .test_func = test_unenforced_controls_left_out };
        t[n++] = (struct CMUnitTest){ .name = "metacharacters in paths are escaped", .test_func = test_paths_are_escaped };
        t[n++] = (struct CMUnitTest){ .name = "every PCI device on the root bus, a slot each", .test_func = test_pci_root_bus };
        t[n++] = (struct CMUnitTest){ .name = "soft limit clamped to the hard limit", .test_func = test_soft_limit_clamped };
        t[n++] = (struct CMUnitTest){ .name = "domain name", .test_func = test_name };
        int r = _cmocka_run_group_tests("domain", t, n, NULL, NULL);
        for (size_t i = 0; i < ng; i++)
                free(names[i]);
        free(names);
        free(t);
        return r;
}
