/* host.c: accelerator detection and the vsock probe; see host.h. */
#include "mlvm-build.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <libxml/tree.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "host.h"
#include "util.h"
#include "virt.h"

#define VSOCK_CACHE_MAX_BYTES 65536
#define VSOCK_CACHE_TTL_S     (24 * 3600)

bool host_uri_is_local(const char *uri)
{
        /* qemu:///system, qemu:///session, qemu+unix:///system: no host part. */
        const char *p = strstr(uri, "://");
        return p && p[3] == '/';
}

void format_version(unsigned long v, char *buf, size_t len)
{
        (void)snprintf(buf, len, "%lu.%lu.%lu", v / 1000000, (v / 1000) % 1000, v % 1000);
}

int host_versions(virConnectPtr conn, struct host_versions *ret, struct mlvm_err *e)
{
        struct host_versions v = { "", "", "", "" };
        unsigned long n = 0;

        if (virGetVersion(&n, NULL, NULL) < 0)
                return err_virt(e, "libvirt version");
        format_version(n, v.libvirt_client, sizeof(v.libvirt_client));
        if (conn) {
                if (virConnectGetLibVersion(conn, &n) < 0)
                        return err_virt(e, "libvirt daemon version");
                format_version(n, v.libvirt_daemon, sizeof(v.libvirt_daemon));
                if (virConnectGetVersion(conn, &n) < 0)
                        return err_virt(e, "hypervisor version");
                format_version(n, v.hv_version, sizeof(v.hv_version));
                const char *type = virConnectGetType(conn);
                (void)snprintf(v.hv_type, sizeof(v.hv_type), "%s", type ? type : "unknown");
        }
        *ret = v;
        return 0;
}

const char *mlvm_accel_to_string(enum mlvm_accel a) { return a == MLVM_ACCEL_KVM ? "kvm" : "tcg"; }

const char *mlvm_accel_describe(enum mlvm_accel a)
{
        return a == MLVM_ACCEL_KVM ? "KVM (hardware virtualization)" : "TCG (software emulation)";
}

int host_caps_parse(const char *xml, struct host_caps *ret, struct mlvm_err *e)
{
        _cleanup_xmlDoc_ xmlDocPtr doc = virt_parse_xml(xml, strlen(xml));
        _cleanup_xmlXPathContext_ xmlXPathContextPtr ctx = NULL;
        _cleanup_free_ char *arch = NULL, *emulator = NULL, *kvm = NULL, *expr = NULL;

        if (!doc)
                return err_setx(e, -EINVAL, "capabilities: not well-formed XML");
        ctx = xmlXPathNewContext(doc);
        if (!ctx)
                return err_setx(e, -ENOMEM, "capabilities: cannot create XPath context");
        arch = xpath_string(ctx, "string(/capabilities/host/cpu/arch)");
        if (!arch)
                return err_setx(e, -EINVAL, "capabilities: no host CPU architecture");
        /* arch comes from libvirt but still goes into an expression: allow only [a-z0-9_]. */
        for (const char *p = arch; *p; p++)
                if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
                        return err_setx(e, -EINVAL, "capabilities: unexpected architecture name");
        expr = xasprintf("string(/capabilities/guest[os_type='hvm']/arch[@name='%s']/emulator)", arch);
        emulator = xpath_string(ctx, expr);
        if (!emulator)
                return err_setx(e, -ENOTSUP, "capabilities: the hypervisor offers no hvm guest for %s", arch);
        free(expr);
        expr = xasprintf("string(/capabilities/guest[os_type='hvm']/arch[@name='%s']/domain[@type='kvm']/@type)", arch);
        kvm = xpath_string(ctx, expr);
        /* The DAC model's base labels: who QEMU runs as by default; absent
         * when libvirt does no DAC (an unprivileged daemon). */
        ret->dac_qemu = xpath_string(ctx, "string(/capabilities/host/secmodel[model='dac']/baselabel[@type='qemu'])");
        ret->dac_kvm = xpath_string(ctx, "string(/capabilities/host/secmodel[model='dac']/baselabel[@type='kvm'])");
        ret->arch = TAKE_PTR(arch);
        ret->emulator = TAKE_PTR(emulator);
        ret->accel = kvm ? MLVM_ACCEL_KVM : MLVM_ACCEL_TCG;
        return 0;
}

void host_caps_clear(struct host_caps *c)
{
        free(c->arch);
        free(c->emulator);
        free(c->dac_qemu);
        free(c->dac_kvm);
        *c = (struct host_caps){ 0 };
}

enum vsock_state vsock_classify(bool created, int err_code, const char *err_message)
{
        if (created)
                return VSOCK_YES;
        if (err_code == VIR_ERR_CONFIG_UNSUPPORTED && err_message && strstr(err_message, "vhost-vsock"))
                return VSOCK_NO;
        return VSOCK_UNKNOWN;
}

void vsock_probe_clear(struct vsock_probe *p)
{
        free(p->reason);
        *p = (struct vsock_probe){ 0 };
}

char *host_cache_path(const char *state_dir, const char *kind, const char *uri)
{
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int mdlen = 0;
        char hex[17];

        if (!EVP_Digest(uri, strlen(uri), md, &mdlen, EVP_sha256(), NULL))
                return NULL;
        for (int i = 0; i < 8; i++)
                (void)snprintf(hex + 2 * i, 3, "%02x", md[i]);
        return xasprintf("%s/cache/%s-%s.json", state_dir, kind, hex);
}

/* KEY of O is a string equal to WANT. */
static bool json_string_is(json_object *o, const char *key, const char *want)
{
        json_object *v;
        return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string) &&
               streq(json_object_get_string(v), want);
}

/* The cache file is ours (mode 0600 in a 0700 directory) but is still read
 * with a size cap and strict types: anything unexpected means "probe again". */
static bool cache_read(const char *path, const char *uri, const char *hostname, struct vsock_probe *ret)
{
        _cleanup_free_ char *buf = NULL;
        _cleanup_json_ json_object *o = NULL;
        json_object *v;

        if (read_file_capped(path, VSOCK_CACHE_MAX_BYTES, &buf, NULL) < 0)
                return false;
        o = json_tokener_parse(buf);
        if (!o || !json_object_is_type(o, json_type_object))
                return false;
        if (!json_string_is(o, "uri", uri) || !json_string_is(o, "hostname", hostname))
                return false;
        if (!json_object_object_get_ex(o, "probed_at", &v) || !json_object_is_type(v, json_type_int))
                return false;
        /* No subtraction from a stored value: at = INT64_MIN must not overflow. */
        int64_t at = json_object_get_int64(v), now = (int64_t)time(NULL);
        if (at > now || at < now - VSOCK_CACHE_TTL_S)
                return false;
        if (!json_object_object_get_ex(o, "available", &v) || !json_object_is_type(v, json_type_boolean))
                return false;  /* "unknown" is never cached: it is probed again */
        ret->state = json_object_get_boolean(v) ? VSOCK_YES : VSOCK_NO;
        ret->probed_at = (time_t)at;
        ret->cached = true;
        if (json_object_object_get_ex(o, "reason", &v) && json_object_is_type(v, json_type_string))
                ret->reason = xstrdup(json_object_get_string(v));
        return true;
}

static void cache_write(const char *state_dir, const char *path, const char *uri, const char *hostname,
                        const struct vsock_probe *p)
{
        _cleanup_json_ json_object *o = json_object_new_object();
        _cleanup_free_ char *dir = xasprintf("%s/cache", state_dir);

        if (p->state == VSOCK_UNKNOWN || mkdir_p(dir, 0700) < 0)
                return;
        json_object_object_add(o, "uri", json_object_new_string(uri));
        json_object_object_add(o, "hostname", json_object_new_string(hostname));
        json_object_object_add(o, "probed_at", json_object_new_int64((int64_t)p->probed_at));
        json_object_object_add(o, "available", json_object_new_boolean(p->state == VSOCK_YES));
        if (p->reason)
                json_object_object_add(o, "reason", json_object_new_string(p->reason));
        const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
        (void)write_file_atomic(path, s, strlen(s), 0600);
}

/* <domain type=TYPE><name>NAME</name>, 16 MiB, an hvm ARCH guest whose only
 * device is a vsock (VSOCK_DEV) or nothing. Built with libxml2 so that nothing libvirt reported
 * (ARCH) can break out of the document. NULL when libxml2 fails. */
static char *probe_xml(const char *type, const char *name, const char *arch, bool vsock_dev)
{
        _cleanup_xmlDoc_ xmlDocPtr doc = xmlNewDoc((const xmlChar *)"1.0");
        xmlNodePtr root = doc ? xmlNewNode(NULL, (const xmlChar *)"domain") : NULL;
        xmlChar *xml = NULL;
        int len = 0;

        if (!root)
                return NULL;
        xmlDocSetRootElement(doc, root);
        xmlNewProp(root, (const xmlChar *)"type", (const xmlChar *)type);
        xmlNewTextChild(root, NULL, (const xmlChar *)"name", (const xmlChar *)name);
        xmlNodePtr mem = xmlNewTextChild(root, NULL, (const xmlChar *)"memory", (const xmlChar *)"16");
        xmlNodePtr os = xmlNewChild(root, NULL, (const xmlChar *)"os", NULL);
        xmlNodePtr ostype = xmlNewTextChild(os, NULL, (const xmlChar *)"type", (const xmlChar *)"hvm");
        xmlNodePtr devices = xmlNewChild(root, NULL, (const xmlChar *)"devices", NULL);
        if (!mem || !ostype || !devices)
                return NULL;
        xmlNewProp(mem, (const xmlChar *)"unit", (const xmlChar *)"MiB");
        xmlNewProp(ostype, (const xmlChar *)"arch", (const xmlChar *)arch);
        if (vsock_dev) {
                xmlNodePtr vsock = xmlNewChild(devices, NULL, (const xmlChar *)"vsock", NULL);
                xmlNodePtr cid = vsock ? xmlNewChild(vsock, NULL, (const xmlChar *)"cid", NULL) : NULL;
                if (!cid)
                        return NULL;
                xmlNewProp(vsock, (const xmlChar *)"model", (const xmlChar *)"virtio");
                xmlNewProp(cid, (const xmlChar *)"auto", (const xmlChar *)"yes");
        }
        xmlDocDumpMemory(doc, &xml, &len);
        if (!xml)
                return NULL;
        char *s = xstrdup((const char *)xml);
        xmlFree(xml);
        return s;
}

virDomainPtr host_probe_domain_start(virConnectPtr conn, const struct host_caps *caps, enum mlvm_accel accel,
                                     bool vsock_dev)
{
        unsigned char rnd[6];
        char name[64];
        _cleanup_free_ char *xml = NULL;
        const char *type = accel == MLVM_ACCEL_KVM ? "kvm" : "qemu";

        if (RAND_bytes(rnd, sizeof(rnd)) != 1)
                return NULL;
        (void)snprintf(name, sizeof(name), "mlvm-probe-%02x%02x%02x%02x%02x%02x",
                       rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5]);
        if (!strcmp(virConnectGetType(conn) ? virConnectGetType(conn) : "", "TEST"))
                type = "test";
        if (!(xml = probe_xml(type, name, caps->arch, vsock_dev)))
                return NULL;
        /* Paused, and destroyed by libvirt if we die before destroying it. */
        virDomainPtr dom = virDomainCreateXML(conn, xml, VIR_DOMAIN_START_PAUSED | VIR_DOMAIN_START_AUTODESTROY);
        if (!dom) {
                virErrorPtr err = virGetLastError();
                if (err && err->code == VIR_ERR_INVALID_ARG && err->message &&
                    strstr(err->message, "unsupported flags"))
                        /* Drivers without paused start (e.g. test:///) */
                        dom = virDomainCreateXML(conn, xml, 0);
        }
        return dom;
}

static int probe_now(virConnectPtr conn, const struct host_caps *caps, enum mlvm_accel accel,
                     struct vsock_probe *ret, struct mlvm_err *e)
{
        _cleanup_virDomain_ virDomainPtr dom = host_probe_domain_start(conn, caps, accel, true);
        virErrorPtr err = dom ? NULL : virGetLastError();

        (void)e;
        ret->state = vsock_classify(dom != NULL, err ? err->code : 0, err ? err->message : NULL);
        ret->probed_at = time(NULL);
        if (err && err->message)
                ret->reason = xstrdup(err->message);
        else if (!dom)
                ret->reason = xstrdup("the probe domain could not be built");
        if (dom)
                (void)virDomainDestroy(dom);
        return 0;
}

int host_probe_vsock(virConnectPtr conn, const char *uri, const char *state_dir, const struct host_caps *caps,
                     enum mlvm_accel accel, bool refresh, struct vsock_probe *ret, struct mlvm_err *e)
{
        struct vsock_probe p = { .state = VSOCK_UNKNOWN };
        _cleanup_free_ char *path = state_dir ? host_cache_path(state_dir, "vsock", uri) : NULL;
        char *hostname = virConnectGetHostname(conn);

        if (!hostname)
                return err_virt(e, "vsock probe: host name");
        if (!refresh && path && cache_read(path, uri, hostname, &p)) {
                free(hostname);
                *ret = p;
                return 0;
        }
        int r = probe_now(conn, caps, accel, &p, e);
        if (r == 0 && path)
                cache_write(state_dir, path, uri, hostname, &p);
        free(hostname);
        if (r < 0)
                return r;
        *ret = p;
        return 0;
}
