/* kbuild-kconfig.c: a recipe's kernel config fragment, see kbuild.h:
 * parsed line by line under caps (a FILE:LINE error for each malformed
 * line, modules refused), then checked against the .config that
 * `make allnoconfig` wrote, so a symbol Kconfig dropped is caught.
 * kbuild.c runs the build around it. */
#include "mlvm-build.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "kbuild.h"
#include "util.h"

/* ---- the fragment ------------------------------------------------------ */

static bool is_symbol(const char *s, size_t n)
{
        if (n == 0 || n > 128)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
                        return false;
        return true;
}

/* y, n, a decimal or 0x number, or a double-quoted string without a bare quote. */
static bool is_value(const char *v)
{
        size_t n = strlen(v);
        if (streq(v, "y") || streq(v, "n"))
                return true;
        if (n >= 2 && v[0] == '"' && v[n - 1] == '"') {
                for (size_t i = 1; i + 1 < n; i++)
                        if (v[i] == '\\' && i + 2 < n)
                                i++;
                        else if (v[i] == '"' || v[i] == '\\' || (unsigned char)v[i] < 0x20)
                                return false;
                return true;
        }
        size_t i = v[0] == '-' ? 1 : 0;
        if (strstartswith(v + i, "0x") && v[i + 2])
                return strspn(v + i + 2, "0123456789abcdefABCDEF") == n - i - 2;
        return v[i] && strspn(v + i, "0123456789") == n - i;
}

static int parse_line(const char *file, unsigned no, char *line, struct kconfig_fragment *f, struct mlvm_err *e)
{
        char buf[SHOWN_MAX];
        size_t n = strlen(line);
        while (n && (line[n - 1] == ' ' || line[n - 1] == '\t' || line[n - 1] == '\r'))
                line[--n] = '\0';
        const char *name, *value;
        size_t name_len;
        if (strstartswith(line, "# CONFIG_") && n > 18 && streq(line + n - 11, " is not set")) {
                name = line + 9;
                name_len = n - 9 - 11;
                value = "n";
        } else if (n == 0 || line[0] == '#') {
                return 0;
        } else {
                const char *eq = strchr(line, '=');
                if (!strstartswith(line, "CONFIG_") || !eq)
                        return err_setx(e, -EINVAL, "%s:%u: \"%s\" is not CONFIG_NAME=VALUE or \"# CONFIG_NAME is not set\"",
                                        file, no, shown(line, buf));
                name = line + 7;
                name_len = (size_t)(eq - name);
                value = eq + 1;
        }
        if (!is_symbol(name, name_len))
                return err_setx(e, -EINVAL, "%s:%u: \"%s\": a symbol is CONFIG_ then A-Z, 0-9 and _", file, no,
                                shown(line, buf));
        if (streq(value, "m") || (name_len == 7 && strncmp(name, "MODULES", 7) == 0 && streq(value, "y")))
                return err_setx(e, -EINVAL, "%s:%u: \"%s\": an mlvm kernel has everything built in (no modules)", file,
                                no, shown(line, buf));
        if (!is_value(value))
                return err_setx(e, -EINVAL, "%s:%u: \"%s\": a value is y, n, a number or a \"quoted string\"", file, no,
                                shown(line, buf));
        for (size_t i = 0; i < f->n; i++)
                if (strlen(f->v[i].name) == name_len && strncmp(f->v[i].name, name, name_len) == 0)
                        return err_setx(e, -EINVAL, "%s:%u: CONFIG_%s is already set on line %u", file, no,
                                        f->v[i].name, f->v[i].line);
        f->v = xreallocarray(f->v, f->n + 1, sizeof(*f->v));
        f->v[f->n++] = (struct kconfig_want){ .name = xstrndup(name, name_len), .value = xstrdup(value), .line = no };
        return 0;
}

int kconfig_parse(const char *file, const char *text, size_t len, struct kconfig_fragment *ret, struct mlvm_err *e)
{
        struct kconfig_fragment f = { 0 };
        char line[KCONFIG_LINE_MAX + 1];
        unsigned no = 0;
        int r = 0;

        if (len > KCONFIG_MAX_BYTES)
                return err_setx(e, -EFBIG, "%s: larger than %u bytes", file, KCONFIG_MAX_BYTES);
        for (size_t off = 0; off < len && r == 0;) {
                const char *nl = memchr(text + off, '\n', len - off);
                size_t n = nl ? (size_t)(nl - (text + off)) : len - off;
                if (++no > KCONFIG_MAX_LINES)
                        r = err_setx(e, -EFBIG, "%s: more than %u lines", file, KCONFIG_MAX_LINES);
                else if (n > KCONFIG_LINE_MAX)
                        r = err_setx(e, -EINVAL, "%s:%u: line longer than %u bytes", file, no, KCONFIG_LINE_MAX);
                else if (memchr(text + off, '\0', n))
                        r = err_setx(e, -EINVAL, "%s:%u: a NUL byte", file, no);
                else {
                        memcpy(line, text + off, n);
                        line[n] = '\0';
                        r = parse_line(file, no, line, &f, e);
                }
                off += n + 1;
        }
        if (r == 0 && f.n == 0)
                r = err_setx(e, -EINVAL, "%s: no CONFIG_ line", file);
        if (r < 0) {
                kconfig_fragment_clear(&f);
                return r;
        }
        *ret = f;
        return 0;
}

/* The value DOTCONFIG gives NAME: "n" when it is unset or absent. */
static char *dotconfig_value(const char *dotconfig, size_t len, const char *name)
{
        size_t nl = strlen(name);
        for (size_t off = 0; off < len;) {
                const char *end = memchr(dotconfig + off, '\n', len - off);
                size_t n = end ? (size_t)(end - (dotconfig + off)) : len - off;
                const char *l = dotconfig + off;
                if (n > 7 + nl && strncmp(l, "CONFIG_", 7) == 0 && strncmp(l + 7, name, nl) == 0 && l[7 + nl] == '=')
                        return xstrndup(l + 8 + nl, n - 8 - nl);
                off += n + 1;
        }
        return xstrdup("n");
}

int kconfig_verify(const char *file, const struct kconfig_fragment *f, const char *dotconfig, size_t len,
                   struct mlvm_err *e)
{
        for (size_t i = 0; i < f->n; i++) {
                _cleanup_free_ char *got = dotconfig_value(dotconfig, len, f->v[i].name);
                char buf[SHOWN_MAX];
                if (streq(got, f->v[i].value))
                        continue;
                if (streq(got, "n"))
                        return err_setx(e, -EINVAL,
                                        "%s:%u: CONFIG_%s=%s did not take: the configured kernel has it off "
                                        "(a symbol it depends on is off; add that one too)",
                                        file, f->v[i].line, f->v[i].name, f->v[i].value);
                return err_setx(e, -EINVAL, "%s:%u: CONFIG_%s=%s did not take: the configured kernel has %s", file,
                                f->v[i].line, f->v[i].name, f->v[i].value, shown(got, buf));
        }
        return 0;
}

void kconfig_fragment_clear(struct kconfig_fragment *f)
{
        for (size_t i = 0; i < f->n; i++) {
                free(f->v[i].name);
                free(f->v[i].value);
        }
        free(f->v);
        *f = (struct kconfig_fragment){ 0 };
}
