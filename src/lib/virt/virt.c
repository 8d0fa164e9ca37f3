/* virt.c: libvirt connection setup and XML helpers; see virt.h. */
#include "mlvm-build.h"

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

int virt_connect(const char *uri, virConnectPtr *ret, struct mlvm_err *e)
{
        virConnectPtr c = virConnectOpen(uri);

        if (c) {
                *ret = c;
                return 0;
        }
        virErrorPtr err = virGetLastError();
        const char *why = err && err->message ? err->message : "unknown error";
        int sys = socket_errno(err);
        bool remote = strstr(uri, "+tcp://") || strstr(uri, "+ssh://") || strstr(uri, "+tls://");
        if (sys == EACCES && !remote)
                return err_setx(e, -EACCES,
                                "connect %s: permission denied on the libvirt socket (%s); run as root or join "
                                "the libvirt group", uri, why);
        /* No socket, or nobody listening on it; for a remote host also no route to it. */
        if (sys == ENOENT || sys == ECONNREFUSED ||
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
