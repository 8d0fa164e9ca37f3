/* err.c: error objects that accumulate context; see err.h. */
#include "mlvm-build.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "err.h"

static void vformat(struct mlvm_err *e, const char *suffix, const char *fmt, va_list ap)
        __attribute__((format(printf, 3, 0)));
static void vformat(struct mlvm_err *e, const char *suffix, const char *fmt, va_list ap)
{
        int n = vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
        if (n < 0) {
                e->msg[0] = '\0';
                n = 0;
        }
        if (suffix && (size_t)n < sizeof(e->msg))
                (void)snprintf(e->msg + n, sizeof(e->msg) - (size_t)n, ": %s", suffix);
}

int err_set(struct mlvm_err *e, int code, const char *fmt, ...)
{
        va_list ap;
        if (!e)
                return code;
        e->code = code;
        va_start(ap, fmt);
        vformat(e, strerror(code < 0 ? -code : code), fmt, ap);
        va_end(ap);
        return code;
}

int err_setx(struct mlvm_err *e, int code, const char *fmt, ...)
{
        va_list ap;
        if (!e)
                return code;
        e->code = code;
        va_start(ap, fmt);
        vformat(e, NULL, fmt, ap);
        va_end(ap);
        return code;
}

int err_virt(struct mlvm_err *e, const char *fmt, ...)
{
        va_list ap;
        if (!e)
                return -EIO;
        e->code = -EIO;
        va_start(ap, fmt);
        vformat(e, virGetLastErrorMessage(), fmt, ap);
        va_end(ap);
        return -EIO;
}

int err_prefix(struct mlvm_err *e, const char *fmt, ...)
{
        char prefix[MLVM_ERR_MAX];
        char old[MLVM_ERR_MAX];
        va_list ap;

        if (!e)
                return -EIO;
        va_start(ap, fmt);
        int n = vsnprintf(prefix, sizeof(prefix), fmt, ap);
        va_end(ap);
        if (n < 0)
                return e->code;
        char joined[sizeof(prefix) + sizeof(old) + 2];
        memcpy(old, e->msg, sizeof(old));
        (void)snprintf(joined, sizeof(joined), "%s: %s", prefix, old);
        (void)snprintf(e->msg, sizeof(e->msg), "%.*s", (int)sizeof(e->msg) - 1, joined);
        return e->code;
}

void err_clear(struct mlvm_err *e)
{
        if (!e)
                return;
        e->code = 0;
        e->msg[0] = '\0';
}

const char *err_kind(int code)
{
        switch (-code) {
        case ENOENT: case ESRCH: case ENODATA:
                return "not-found";
        case EINVAL: case EBADMSG: case EPROTO: case ERANGE: case E2BIG: case EFBIG: case ENAMETOOLONG:
        case ELOOP: case ENOTDIR: case EISDIR:
                return "invalid";
        case EPERM: case EACCES:
                return "denied";
        case EEXIST: case EBUSY: case EALREADY:
                return "conflict";
        case ECONNREFUSED: case ECONNRESET: case ENOTCONN: case EHOSTUNREACH: case ENETUNREACH: case ETIMEDOUT:
        case EPIPE: case ESHUTDOWN: case EAGAIN:
                return "unavailable";
        case ENOTSUP: case EPROTONOSUPPORT: case ENODEV:
                return "unsupported";
        default:
                return "failed";
        }
}
