/* domain.c: the domain XML of one run; see domain.h.
 * The document is built node by node with libxml2 (never by pasting
 * strings), and every value is validated before it goes in: the config
 * loader already checked names, but this is the last gate before libvirt,
 * so it trusts nothing it is handed. What the XML leaves out matters as much
 * as what it holds: no NIC, no USB, no balloon, no graphics or sound, no
 * page sharing, no suspend (docs/architecture.md, principles: nothing shared
 * between runs, nothing secret on disk). */
#include "mlvm-build.h"

#include <inttypes.h>
#include <libxml/tree.h>
#include <libxml/xmlsave.h>
#include <libxml/xmlstring.h>

#include "domain.h"
#include "host-rc.h"
#include "util.h"
#include "virt.h"

#define KIB 1024ULL
#define MIB (1024ULL * 1024ULL)
/* Room for QEMU itself above the guest's RAM before the host reclaims
 * from this run first (memtune soft_limit). */
#define SOFT_LIMIT_SLACK (64 * MIB)
#define CPU_PERIOD_US    100000ULL
/* cputune shares: 1024 per vCPU, capped at 10000, the largest value
 * cgroup v2's cpu.weight accepts (cgroup v1 would take up to 262144). */
#define CPU_SHARES_MAX   10000U
#define CMDLINE_MAX      (DOMAIN_CMDLINE_MAX - sizeof(" mlvm.timeout=3600"))

/* A value as it may appear in a one-line error: control and non-ASCII bytes
 * become '?', long values are cut. */
#define QUOTE_MAX 64
struct quoted {
        char s[QUOTE_MAX + 4];
};

static struct quoted quote(const char *v)
{
        struct quoted q;
        size_t i;
        for (i = 0; v[i] && i < QUOTE_MAX; i++)
                q.s[i] = ((unsigned char)v[i] < 0x20 || (unsigned char)v[i] >= 0x7f) ? '?' : v[i];
        if (v[i]) {
                memcpy(q.s + i, "...", 3);
                i += 3;
        }
        q.s[i] = '\0';
        return q;
}

static bool name_ok(const char *s)
{
        size_t n = strlen(s);
        if (n < 1 || n > 63 || s[0] == '-')
                return false;
        for (size_t i = 0; i < n; i++)
                if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
                        return false;
        return true;
}

static bool run_id_ok(const char *s)
{
        if (strlen(s) != 8)
                return false;
        for (size_t i = 0; i < 8; i++)
                if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
                        return false;
        return true;
}

static bool serial_ok(const char *s)
{
        for (; *s; s++)
                if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-'))
                        return false;
        return true;
}

static bool arch_ok(const char *s)
{
        size_t n = strlen(s);
        if (n < 1 || n > 32)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
                        return false;
        return true;
}

/* Offset of the first control character (C0 or DEL) in S, or -1. */
static ssize_t find_control(const char *s)
{
        for (size_t i = 0; s[i]; i++)
                if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
                        return (ssize_t)i;
        return -1;
}

/* Text that libxml2 would copy verbatim: UTF-8 and no control characters
 * (XML 1.0 cannot even represent most of them). */
static int check_text(const char *field, const char *v, size_t max, struct mlvm_err *e)
{
        ssize_t c = find_control(v);
        if (c >= 0)
                return err_setx(e, -EINVAL, "%s: control character 0x%02x at byte %zd", field,
                                (unsigned)(unsigned char)v[c], c);
        if (!xmlCheckUTF8((const xmlChar *)v))
                return err_setx(e, -EINVAL, "%s \"%s\": not valid UTF-8", field, quote(v).s);
        if (strlen(v) > max)
                return err_setx(e, -EINVAL, "%s: longer than %zu bytes", field, max);
        return 0;
}

static int check_path(const char *field, const char *v, struct mlvm_err *e)
{
        if (!v || !*v)
                return err_setx(e, -EINVAL, "%s: missing", field);
        int r = check_text(field, v, DOMAIN_PATH_MAX, e);
        if (r < 0)
                return r;
        if (v[0] != '/')
                return err_setx(e, -EINVAL, "%s \"%s\": not an absolute path", field, quote(v).s);
        return 0;
}

static int check_disk(const struct domain_env *env, size_t i, struct mlvm_err *e)
{
        const struct domain_disk *d = &env->disks[i];
        char field[32];
        int r;

        (void)snprintf(field, sizeof(field), "disks[%zu].path", i);
        if ((r = check_path(field, d->path, e)) < 0)
                return r;
        if (!d->format || !(streq(d->format, "qcow2") || streq(d->format, "raw")))
                return err_setx(e, -EINVAL, "disks[%zu].format \"%s\": not qcow2 or raw", i,
                                d->format ? quote(d->format).s : "");
        if (!d->serial || !*d->serial)
                return err_setx(e, -EINVAL, "disks[%zu].serial: missing", i);
        if (strlen(d->serial) > DOMAIN_SERIAL_MAX)
                return err_setx(e, -EINVAL, "disks[%zu].serial \"%s\": longer than %d bytes", i,
                                quote(d->serial).s, DOMAIN_SERIAL_MAX);
        if (!serial_ok(d->serial))
                return err_setx(e, -EINVAL, "disks[%zu].serial \"%s\": not [a-z0-9-]", i, quote(d->serial).s);
        for (size_t j = 0; j < i; j++)
                if (streq(env->disks[j].serial, d->serial))
                        return err_setx(e, -EINVAL, "disks[%zu].serial \"%s\": already used by disks[%zu]", i,
                                        d->serial, j);
        return 0;
}

static int check_input(const struct mlvm_workload *w, const struct domain_env *env, struct mlvm_err *e)
{
        int r;

        if (!w->name || !name_ok(w->name))
                return err_setx(e, -EINVAL, "workload name \"%s\": not a valid name ([a-z0-9][a-z0-9-]{0,62})",
                                w->name ? quote(w->name).s : "");
        if (w->kind != MLVM_KIND_MODEL && w->kind != MLVM_KIND_EXPERIMENT)
                return err_setx(e, -EINVAL, "workload %s: unknown kind %d", w->name, (int)w->kind);
        if (w->vcpus < 1 || w->vcpus > MLVM_VCPUS_MAX)
                return err_setx(e, -EINVAL, "workload %s: vcpus %u out of range (1 to %d)", w->name, w->vcpus,
                                MLVM_VCPUS_MAX);
        if (w->memory < MLVM_MEMORY_MIN || w->memory > MLVM_MEMORY_MAX || w->memory % MIB)
                return err_setx(e, -EINVAL, "workload %s: memory %" PRIu64 " is not a whole number of MiB from 64M to 1T",
                                w->name, w->memory);
        if (w->memory_limit && (w->memory_limit < w->memory || w->memory_limit % KIB))
                return err_setx(e, -EINVAL, "workload %s: memory_limit %" PRIu64 " is below memory or not whole KiB",
                                w->name, w->memory_limit);
        if (!env->run_id || !run_id_ok(env->run_id))
                return err_setx(e, -EINVAL, "run id \"%s\": not 8 lowercase hexadecimal digits",
                                env->run_id ? quote(env->run_id).s : "");
        if (env->owner && (strlen(env->owner) != 32 || strspn(env->owner, "0123456789abcdef") != 32))
                return err_setx(e, -EINVAL, "owner \"%s\": not 32 lowercase hexadecimal digits", quote(env->owner).s);
        if (env->accel != MLVM_ACCEL_KVM && env->accel != MLVM_ACCEL_TCG)
                return err_setx(e, -EINVAL, "accel: unknown accelerator %d", (int)env->accel);
        if (!env->arch || !arch_ok(env->arch))
                return err_setx(e, -EINVAL, "arch \"%s\": not [a-z0-9_]{1,32}", env->arch ? quote(env->arch).s : "");
        /* CIDs 0-2 are the hypervisor, local and host; U32_MAX is VMADDR_CID_ANY. */
        if (env->vsock && (env->vsock_cid < 3 || env->vsock_cid == UINT32_MAX))
                return err_setx(e, -EINVAL, "vsock cid %u: out of range (3 to 4294967294)", env->vsock_cid);
        if ((r = check_path("kernel", env->kernel, e)) < 0)
                return r;
        if (env->initrd && (r = check_path("initrd", env->initrd, e)) < 0)
                return r;
        /* The kernel cuts its command line silently at COMMAND_LINE_SIZE
         * (2048 with the NUL): leave room for the mlvm.timeout=N we append. */
        if (env->cmdline && (r = check_text("cmdline", env->cmdline, CMDLINE_MAX, e)) < 0)
                return r;
        if (env->boot_timeout_s < 1 || env->boot_timeout_s > DOMAIN_TIMEOUT_MAX_S)
                return err_setx(e, -EINVAL, "boot timeout %u s: out of range (1 to %d)", env->boot_timeout_s,
                                DOMAIN_TIMEOUT_MAX_S);
        /* Never root, never libvirt's "-1" (unset). */
        if (env->own_uid && (env->qemu_uid == 0 || env->qemu_uid == UINT32_MAX || env->qemu_gid == UINT32_MAX))
                return err_setx(e, -EINVAL, "qemu uid %u gid %u: not a run's own identity", env->qemu_uid,
                                env->qemu_gid);
        if (env->tb_cache_mib > 4096)
                return err_setx(e, -EINVAL, "tb-cache %u MiB: out of range (1 to 4096)", env->tb_cache_mib);
        if (env->n_disks > DOMAIN_MAX_DISKS)
                return err_setx(e, -EINVAL, "disks: %zu, more than %d", env->n_disks, DOMAIN_MAX_DISKS);
        for (size_t i = 0; i < env->n_disks; i++)
                if ((r = check_disk(env, i, e)) < 0)
                        return r;
        return 0;
}

char *domain_name(const char *workload, const char *run_id)
{
        return xasprintf("mlvm-%s-%s", workload, run_id);
}

/* Small builders over libxml2: text goes through xmlNewTextChild and
 * xmlNewProp, which escape it. */
static xmlNodePtr add(xmlNodePtr parent, const char *name, const char *text)
{
        return xmlNewTextChild(parent, NULL, (const xmlChar *)name, (const xmlChar *)text);
}

static xmlNodePtr add_u64(xmlNodePtr parent, const char *name, unsigned long long v)
{
        char buf[24];
        (void)snprintf(buf, sizeof(buf), "%llu", v);
        return add(parent, name, buf);
}

static xmlNodePtr add_kib(xmlNodePtr parent, const char *name, unsigned long long bytes)
{
        xmlNodePtr n = add_u64(parent, name, bytes / KIB);
        xmlNewProp(n, (const xmlChar *)"unit", (const xmlChar *)"KiB");
        return n;
}

static void prop(xmlNodePtr n, const char *name, const char *value)
{
        xmlNewProp(n, (const xmlChar *)name, (const xmlChar *)value);
}

static void prop_u64(xmlNodePtr n, const char *name, unsigned long long v)
{
        char buf[24];
        (void)snprintf(buf, sizeof(buf), "%llu", v);
        prop(n, name, buf);
}

static void build_head(xmlNodePtr dom, const struct mlvm_workload *w, const struct domain_env *env)
{
        const char *kind = mlvm_kind_to_string(w->kind);
        _cleanup_free_ char *name = domain_name(w->name, env->run_id);
        _cleanup_free_ char *title = xasprintf("mlvm %s %s, run %s", kind, w->name, env->run_id);

        add(dom, "name", name);
        add(dom, "title", title);
        /* How mlvm recognizes its own domains (ps, down): never by name alone. */
        xmlNodePtr md = xmlNewChild(dom, NULL, (const xmlChar *)"metadata", NULL);
        xmlNodePtr run = xmlNewChild(md, NULL, (const xmlChar *)"run", NULL);
        xmlNsPtr ns = xmlNewNs(run, (const xmlChar *)DOMAIN_XMLNS, (const xmlChar *)DOMAIN_XMLNS_PREFIX);
        xmlSetNs(run, ns);
        prop(run, "id", env->run_id);
        prop(run, "workload", w->name);
        prop(run, "kind", kind);
        /* Which state directory's run it is: gc touches only its own (docs/architecture.md). */
        if (env->owner)
                prop(run, "owner", env->owner);

        add_kib(dom, "memory", w->memory);
        add_kib(dom, "currentMemory", w->memory);
        /* Each control only where the host enforces it (host-rc.c): libvirt
         * refuses the whole domain over one it cannot apply. */
        unsigned off = env->rc_off;
        /* Block I/O weight 500 (range 100-1000): a run competes for the disk
         * as an ordinary peer of the host's services, never above them. */
        if (!(off & (1u << HOST_RC_IO_WEIGHT)))
                add(xmlNewChild(dom, NULL, (const xmlChar *)"blkiotune", NULL), "weight", "500");
        bool hard = w->memory_limit && !(off & (1u << HOST_RC_MEM_HARD));
        bool soft_on = !(off & (1u << HOST_RC_MEM_SOFT));
        if (hard || soft_on) {
                xmlNodePtr mt = xmlNewChild(dom, NULL, (const xmlChar *)"memtune", NULL);
                /* A hard limit only when the config asks: past it the kernel kills QEMU. */
                if (hard)
                        add_kib(mt, "hard_limit", w->memory_limit);
                /* Under host memory pressure, reclaim from this run first once it
                 * uses more than its RAM plus QEMU's slack (never above the hard limit). */
                uint64_t soft = w->memory + SOFT_LIMIT_SLACK;
                if (w->memory_limit && soft > w->memory_limit)
                        soft = w->memory_limit;
                if (soft_on)
                        add_kib(mt, "soft_limit", soft);
        }
        xmlNodePtr mb = xmlNewChild(dom, NULL, (const xmlChar *)"memoryBacking", NULL);
        /* No KSM merging with other guests: page sharing leaks across tenants. */
        xmlNewChild(mb, NULL, (const xmlChar *)"nosharepages", NULL);
        add_u64(dom, "vcpu", w->vcpus);
        bool shares_on = !(off & (1u << HOST_RC_CPU_SHARES)), quota_on = !(off & (1u << HOST_RC_CPU_QUOTA));
        if (!shares_on && !quota_on)
                return;
        xmlNodePtr ct = xmlNewChild(dom, NULL, (const xmlChar *)"cputune", NULL);
        unsigned shares = 1024U * w->vcpus;
        if (shares_on)
                add_u64(ct, "shares", shares > CPU_SHARES_MAX ? CPU_SHARES_MAX : shares);
        /* A run never gets more CPU than its vCPUs' worth, QEMU's own threads
         * included: global_* caps the whole domain (period/quota would cap
         * each vCPU thread alone, which cannot exceed one CPU anyway). */
        if (quota_on) {
                add_u64(ct, "global_period", CPU_PERIOD_US);
                add_u64(ct, "global_quota", CPU_PERIOD_US * w->vcpus);
        }
}

static void build_os(xmlNodePtr dom, const struct domain_env *env)
{
        xmlNodePtr os = xmlNewChild(dom, NULL, (const xmlChar *)"os", NULL);
        xmlNodePtr type = add(os, "type", "hvm");
        prop(type, "arch", env->arch);
        prop(type, "machine", "q35");
        add(os, "kernel", env->kernel);
        if (env->initrd)
                add(os, "initrd", env->initrd);
        _cleanup_free_ char *cmdline = xasprintf("%s%smlvm.timeout=%u", env->cmdline ? env->cmdline : "",
                                                 env->cmdline && *env->cmdline ? " " : "", env->boot_timeout_s);
        add(os, "cmdline", cmdline);

        xmlNodePtr f = xmlNewChild(dom, NULL, (const xmlChar *)"features", NULL);
        /* ACPI: the agent's poweroff ends the VM only with it. */
        xmlNewChild(f, NULL, (const xmlChar *)"acpi", NULL);
        /* No VMware backdoor I/O port: less device model for a hostile guest
         * to poke. (The PS/2 controller stays: q35 has it built in, and
         * libvirt 9.0 has no <ps2 state='off'/> yet.) */
        prop(xmlNewChild(f, NULL, (const xmlChar *)"vmport", NULL), "state", "off");
        if (env->accel == MLVM_ACCEL_TCG) {
                xmlNodePtr tcg = xmlNewChild(f, NULL, (const xmlChar *)"tcg", NULL);
                xmlNodePtr tb = add_u64(tcg, "tb-cache", env->tb_cache_mib ? env->tb_cache_mib
                                                                            : DOMAIN_TB_CACHE_MIB_DEFAULT);
                prop(tb, "unit", "MiB");
                /* TCG: every feature QEMU can emulate (SSE4, AVX). The default qemu64
                 * model lacks what numpy/OpenBLAS builds expect: SIGILL. */
                prop(xmlNewChild(dom, NULL, (const xmlChar *)"cpu", NULL), "mode", "maximum");
        } else {
                /* KVM: the host's CPU model as is, for speed (AVX and friends). */
                prop(xmlNewChild(dom, NULL, (const xmlChar *)"cpu", NULL), "mode", "host-passthrough");
        }
        prop(xmlNewChild(dom, NULL, (const xmlChar *)"clock", NULL), "offset", "utc");
        /* Whatever ends the guest ends the run: no reboot, no crashed domain kept. */
        add(dom, "on_poweroff", "destroy");
        add(dom, "on_reboot", "destroy");
        add(dom, "on_crash", "destroy");
        /* No S3/S4: a guest hibernating would write its RAM, tmpfs credentials
         * included, onto its disk. */
        xmlNodePtr pm = xmlNewChild(dom, NULL, (const xmlChar *)"pm", NULL);
        prop(xmlNewChild(pm, NULL, (const xmlChar *)"suspend-to-mem", NULL), "enabled", "no");
        prop(xmlNewChild(pm, NULL, (const xmlChar *)"suspend-to-disk", NULL), "enabled", "no");
}

/* Every PCI device sits on the root bus (pcie.0) as an integrated
 * endpoint, at a slot we choose: left to itself, libvirt puts each behind
 * its own pcie-root-port and adds a spare one, bridges the guest kernel
 * enumerates and sets up hotplug for while it boots. A run never
 * hotplugs. Measured under TCG (docs/performance.md): virsh create to
 * HELLO 4% faster without them, 12 of 15 paired rounds. Slots 1 to 30
 * are free on q35 (0 is the host bridge, 0x1f the ICH9 functions). */
#define PCI_SLOT_DISK0   1
#define PCI_SLOT_SERIAL  (PCI_SLOT_DISK0 + DOMAIN_MAX_DISKS)
#define PCI_SLOT_RNG     (PCI_SLOT_SERIAL + 1)
#define PCI_SLOT_VSOCK   (PCI_SLOT_RNG + 1)
_Static_assert(PCI_SLOT_VSOCK <= 0x1e, "q35 has 30 free slots on its root bus");

static void pci_address(xmlNodePtr dev, unsigned slot)
{
        char buf[8];
        xmlNodePtr a = xmlNewChild(dev, NULL, (const xmlChar *)"address", NULL);
        prop(a, "type", "pci");
        prop(a, "domain", "0x0000");
        prop(a, "bus", "0x00");
        (void)snprintf(buf, sizeof(buf), "0x%02x", slot);
        prop(a, "slot", buf);
        prop(a, "function", "0x0");
}

static void build_disk(xmlNodePtr devs, size_t i, const struct domain_disk *d, unsigned iops)
{
        char dev[] = "vda";
        dev[2] = (char)('a' + i);
        xmlNodePtr disk = xmlNewChild(devs, NULL, (const xmlChar *)"disk", NULL);
        prop(disk, "type", "file");
        prop(disk, "device", "disk");
        xmlNodePtr drv = xmlNewChild(disk, NULL, (const xmlChar *)"driver", NULL);
        prop(drv, "name", "qemu");
        /* The format is stated, never probed: a raw disk that looks like
         * qcow2 must not make QEMU open a backing file it names. */
        prop(drv, "type", d->format);
        /* O_DIRECT: one run's I/O does not fill the host's page cache. */
        prop(drv, "cache", "none");
        prop(drv, "discard", "unmap");
        prop(xmlNewChild(disk, NULL, (const xmlChar *)"source", NULL), "file", d->path);
        xmlNodePtr t = xmlNewChild(disk, NULL, (const xmlChar *)"target", NULL);
        prop(t, "dev", dev);
        prop(t, "bus", "virtio");
        /* An IOPS cap per disk, so one run cannot saturate a shared host disk. */
        xmlNodePtr io = xmlNewChild(disk, NULL, (const xmlChar *)"iotune", NULL);
        add_u64(io, "total_iops_sec", iops);
        /* Read-only disks (verified data) are opened read-only by QEMU. */
        if (d->readonly)
                xmlNewChild(disk, NULL, (const xmlChar *)"readonly", NULL);
        add(disk, "serial", d->serial);
        pci_address(disk, PCI_SLOT_DISK0 + (unsigned)i);
}

static void build_devices(xmlNodePtr dom, const struct domain_env *env)
{
        xmlNodePtr devs = xmlNewChild(dom, NULL, (const xmlChar *)"devices", NULL);
        unsigned iops = env->disk_iops ? env->disk_iops : DOMAIN_DISK_IOPS_DEFAULT;

        for (size_t i = 0; i < env->n_disks; i++)
                build_disk(devs, i, &env->disks[i], iops);
        /* No USB controller (libvirt adds one unless told not to); there is
         * no <interface> at all: a run has no network. */
        xmlNodePtr usb = xmlNewChild(devs, NULL, (const xmlChar *)"controller", NULL);
        prop(usb, "type", "usb");
        prop(usb, "model", "none");
        /* The console, read by the monitor through virDomainOpenConsole. */
        xmlNodePtr ser = xmlNewChild(devs, NULL, (const xmlChar *)"serial", NULL);
        prop(ser, "type", "pty");
        prop(xmlNewChild(ser, NULL, (const xmlChar *)"target", NULL), "port", "0");
        xmlNodePtr con = xmlNewChild(devs, NULL, (const xmlChar *)"console", NULL);
        prop(con, "type", "pty");
        xmlNodePtr ct = xmlNewChild(con, NULL, (const xmlChar *)"target", NULL);
        prop(ct, "type", "serial");
        prop(ct, "port", "0");
        /* The agent channel: a socket only libvirtd opens (virDomainOpenChannel),
         * on a virtio-serial controller stated here for its address. */
        xmlNodePtr vser = xmlNewChild(devs, NULL, (const xmlChar *)"controller", NULL);
        prop(vser, "type", "virtio-serial");
        prop(vser, "index", "0");
        pci_address(vser, PCI_SLOT_SERIAL);
        xmlNodePtr ch = xmlNewChild(devs, NULL, (const xmlChar *)"channel", NULL);
        prop(ch, "type", "unix");
        prop(xmlNewChild(ch, NULL, (const xmlChar *)"source", NULL), "mode", "bind");
        xmlNodePtr cht = xmlNewChild(ch, NULL, (const xmlChar *)"target", NULL);
        prop(cht, "type", "virtio");
        prop(cht, "name", "org.mlvm.agent.0");
        /* No balloon: the host never reclaims or inspects guest memory through it. */
        prop(xmlNewChild(devs, NULL, (const xmlChar *)"memballoon", NULL), "model", "none");
        if (!env->no_rng) {
                /* Entropy early (random boot ids) and later (TLS); urandom never
                 * blocks. Measured under TCG with virtio_rng loaded: the guest's
                 * CRNG is ready before HELLO (3.5-6.9 s uptime); without the
                 * device not even 8 s after it. No measurable cost to HELLO. */
                xmlNodePtr rng = xmlNewChild(devs, NULL, (const xmlChar *)"rng", NULL);
                prop(rng, "model", "virtio");
                prop(add(rng, "backend", "/dev/urandom"), "model", "random");
                pci_address(rng, PCI_SLOT_RNG);
        }
        if (env->vsock) {
                xmlNodePtr vs = xmlNewChild(devs, NULL, (const xmlChar *)"vsock", NULL);
                prop(vs, "model", "virtio");
                xmlNodePtr cid = xmlNewChild(vs, NULL, (const xmlChar *)"cid", NULL);
                prop(cid, "auto", "no");
                prop_u64(cid, "address", env->vsock_cid);
                pci_address(vs, PCI_SLOT_VSOCK);
        }
}

/* Narrow privileges: this run's QEMU runs as a uid of its own (qemu-id.h),
 * so it cannot open another run's volumes. relabel='no': libvirt chowns
 * nothing, neither the shared image volumes (kernel, initrd, the overlay's
 * base stay root's, 0444, unwritable by any QEMU) nor the run's volumes,
 * which were created owned by this uid (disk.c). */
static void build_seclabel(xmlNodePtr dom, const struct domain_env *env)
{
        _cleanup_free_ char *label = xasprintf("+%u:+%u", env->qemu_uid, env->qemu_gid);
        xmlNodePtr sl = xmlNewChild(dom, NULL, (const xmlChar *)"seclabel", NULL);
        prop(sl, "type", "static");
        prop(sl, "model", "dac");
        prop(sl, "relabel", "no");
        add(sl, "label", label);
}

int domain_xml(const struct mlvm_workload *w, const struct domain_env *env, char **ret_xml, struct mlvm_err *e)
{
        int r = check_input(w, env, e);
        if (r < 0)
                return r;

        _cleanup_xmlDoc_ xmlDocPtr doc = xmlNewDoc((const xmlChar *)"1.0");
        xmlNodePtr dom = xmlNewNode(NULL, (const xmlChar *)"domain");
        xmlDocSetRootElement(doc, dom);
        prop(dom, "type", env->accel == MLVM_ACCEL_KVM ? "kvm" : "qemu");
        build_head(dom, w, env);
        build_os(dom, env);
        build_devices(dom, env);
        if (env->own_uid)
                build_seclabel(dom, env);

        xmlBufferPtr buf = xmlBufferCreate();
        xmlSaveCtxtPtr save = buf ? xmlSaveToBuffer(buf, "UTF-8", XML_SAVE_FORMAT | XML_SAVE_NO_DECL) : NULL;
        bool ok = save && xmlSaveDoc(save, doc) >= 0;
        if (save && xmlSaveClose(save) < 0)
                ok = false;
        if (ok)
                *ret_xml = xstrdup((const char *)xmlBufferContent(buf));
        if (buf)
                xmlBufferFree(buf);
        return ok ? 0 : err_setx(e, -ENOMEM, "domain XML: cannot serialize");
}
