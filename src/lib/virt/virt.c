/* virt.c: libvirt connection setup and XML helpers; see virt.h. */
#include "mlvm-build.h"

#include <pthread.h>
#include <signal.h>
#include <libxml/parser.h>

#include "util.h"
#include "virt.h"

static void silent_error(void *opaque, virErrorPtr err)
{
        (void)opaque;
        (void)err;
}

void virt_init(void)
{
        (void)virInitialize();
        virSetErrorFunc(NULL, silent_error);
        /* Streams (agent channels, consoles) need an event loop; it must
         * exist before the first connection is opened. */
        (void)virEventRegisterDefaultImpl();
}

static void *event_loop(void *unused)
{
        (void)unused;
        while (virEventRunDefaultImpl() == 0)
                ;
        return NULL;
}

void virt_event_thread(void)
{
        sigset_t all, old;
        pthread_attr_t a;
        pthread_t t;

        /* Signals stay the main thread's (Ctrl-C interrupts what it waits on). */
        (void)sigfillset(&all);
        (void)pthread_sigmask(SIG_SETMASK, &all, &old);
        if (pthread_attr_init(&a) == 0) {
                (void)pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
                /* Without the thread, a long idle connection may drop: as before. */
                (void)pthread_create(&t, &a, event_loop, NULL);
                (void)pthread_attr_destroy(&a);
        }
        (void)pthread_sigmask(SIG_SETMASK, &old, NULL);
}

/* Why the connection's socket could not be opened: libvirt reports
 * connect(2) failures as VIR_ERR_SYSTEM_ERROR from VIR_FROM_RPC with the
 * errno in int1 (its messages are translated: they are not matched).
 * 0 when the failure was something else. */
static int socket_errno(const virError *err)
{
        if (!err || err->code != VIR_ERR_SYSTEM_ERROR || err->domain != VIR_FROM_RPC || err->int1 < 0)
                return 0;
        return err->int1;
}

/* The URI's scheme split at "+": DRIVER and TRANSPORT ("" when none), both
 * [a-z0-9]+ and short; -1 when the URI has no such scheme before "://". */
static int uri_scheme(const char *uri, char driver[16], char transport[16])
{
        const char *end = strstr(uri, "://");
        size_t nd = 0, nt = 0;
        bool plus = false;

        if (!end || end == uri)
                return -1;
        for (const char *p = uri; p < end; p++) {
                if (*p == '+' && !plus && nd > 0) {
                        plus = true;
                        continue;
                }
                if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9')))
                        return -1;
                if (plus ? nt >= 15 : nd >= 15)
                        return -1;
                if (plus)
                        transport[nt++] = *p;
                else
                        driver[nd++] = *p;
        }
        if (plus && nt == 0)
                return -1;
        driver[nd] = '\0';
        transport[nt] = '\0';
        return 0;
}

static bool word_in(const char *w, const char *const *list, size_t n)
{
        for (size_t i = 0; i < n; i++)
                if (streq(w, list[i]))
                        return true;
        return false;
}

static const char *const network_transports[] = { "tcp", "tls", "ssh", "libssh", "libssh2" };

int virt_uri_check(const char *uri, struct mlvm_err *e)
{
        /* libvirt's own transports (its remote driver); "ext" runs a command. */
        static const char *const transports[] = { "unix", "tcp", "tls", "ssh", "libssh", "libssh2", "ext" };
        static const char *const drivers[] = { "qemu", "test" };
        char driver[16], transport[16];
        char shown_uri[SHOWN_MAX];

        shown(uri, shown_uri);
        if (!*uri || uri_scheme(uri, driver, transport) < 0)
                return err_setx(e, -EINVAL, "connect %s: not a libvirt URI: expected DRIVER[+TRANSPORT]://[HOST]/PATH, "
                                "e.g. qemu:///system or qemu+ssh://HOST/system", shown_uri);
        if (!word_in(driver, drivers, ARRAY_SIZE(drivers)))
                return err_setx(e, -EPROTONOSUPPORT, "connect %s: unsupported driver \"%s\": mlvm runs QEMU guests "
                                "(qemu:///system, qemu+ssh://HOST/system)", shown_uri, driver);
        if (*transport && !word_in(transport, transports, ARRAY_SIZE(transports)))
                return err_setx(e, -EPROTONOSUPPORT, "connect %s: unknown transport \"%s\": expected unix, tcp, tls, "
                                "ssh, libssh, libssh2 or ext", shown_uri, transport);
        for (const char *p = uri; *p; p++)
                if ((unsigned char)*p <= ' ' || *p == 0x7f)
                        return err_setx(e, -EINVAL, "connect %s: not a libvirt URI: contains a space or a control "
                                        "character", shown_uri);
        return 0;
}

bool virt_uri_is_remote(const char *uri)
{
        char driver[16], transport[16];
        const char *p = strstr(uri, "://");
        if (p && p[3] && p[3] != '/')
                return true;   /* a host part: qemu://HOST/system is TLS to HOST */
        return uri_scheme(uri, driver, transport) == 0 &&
               word_in(transport, network_transports, ARRAY_SIZE(network_transports));
}

int virt_connect(const char *uri, virConnectPtr *ret, struct mlvm_err *e)
{
        int r = virt_uri_check(uri, e);
        if (r < 0)
                return r;
        virConnectPtr c = virConnectOpen(uri);

        if (c) {
                *ret = c;
                return 0;
        }
        virErrorPtr err = virGetLastError();
        const char *why = err && err->message ? err->message : "unknown error";
        int sys = socket_errno(err);
        bool remote = virt_uri_is_remote(uri);
        if (sys == EACCES && !remote)
                return err_setx(e, -EACCES,
                                "connect %s: permission denied on the libvirt socket (%s); run as root or join "
                                "the libvirt group", uri, why);
        /* No socket, or nobody listening on it; for a remote host no route
         * to it (there ENOENT is a local file, TLS's CA certificate). */
        if ((!remote && sys == ENOENT) || sys == ECONNREFUSED ||
            (remote && (sys == EHOSTUNREACH || sys == ENETUNREACH || sys == ETIMEDOUT))) {
                if (remote)
                        return err_setx(e, -ECONNREFUSED,
                                        "connect %s: libvirtd is not reachable (%s); is it running and listening there?",
                                        uri, why);
                return err_setx(e, -ECONNREFUSED,
                                "connect %s: libvirtd is not running (%s); start it with 'virtlogd -d; libvirtd -d' "
                                "(or 'systemctl start libvirtd')", uri, why);
        }
        return err_setx(e, -EIO, "connect %s: %s", uri, why);
}

xmlDocPtr virt_parse_xml(const char *xml, size_t len)
{
        if (len > INT32_MAX)
                return NULL;
        return xmlReadMemory(xml, (int)len, "libvirt.xml", NULL,
                             XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
}

char *xpath_string(xmlXPathContextPtr ctx, const char *expr)
{
        _cleanup_xmlXPathObject_ xmlXPathObjectPtr o = xmlXPathEvalExpression((const xmlChar *)expr, ctx);
        if (!o)
                return NULL;
        xmlChar *s = xmlXPathCastToString(o);
        if (!s)
                return NULL;
        char *r = *s ? xstrdup((const char *)s) : NULL;
        xmlFree(s);
        return r;
}
