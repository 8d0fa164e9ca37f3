/* recipe.c: image recipe parser; see recipe.h. Strict like mlvm.yaml:
 * unknown and repeated keys are errors that name FILE:LINE. */
#include "mlvm-build.h"

#include "kmod.h"
#include "recipe.h"
#include "units.h"
#include "util.h"

/* Split into at most MAX words; *RET_N is MAX + 1 when there were more. */
static char **split_words(const char *s, size_t max, size_t *ret_n)
{
        _cleanup_free_ char *copy = xstrdup(s);
        char **v = xcalloc(1, sizeof(char *));
        size_t n = 0;
        for (char *save = NULL, *t = strtok_r(copy, " \t", &save); t; t = strtok_r(NULL, " \t", &save)) {
                if (n == max) {
                        n++;   /* one too many: the caller refuses the line */
                        break;
                }
                v = xreallocarray(v, n + 2, sizeof(char *));
                v[n++] = xstrdup(t);
                v[n] = NULL;
        }
        *ret_n = n;
        return v;
}

static bool word_ok(const char *w)
{
        for (; *w; w++)
                if (!((*w >= 'a' && *w <= 'z') || (*w >= 'A' && *w <= 'Z') || (*w >= '0' && *w <= '9') ||
                      *w == '-' || *w == '_' || *w == '.' || *w == '+' || *w == '['))
                        return false;
        return true;
}

int recipe_parse(const char *file, const char *dir, const char *text, struct recipe *ret, struct mlvm_err *e)
{
        struct recipe r = { .dir = xstrdup(dir) };
        _cleanup_free_ char *copy = xstrdup(text);
        unsigned lineno = 0;
        int rc = 0;

        for (char *line = copy; line; ) {
                char *next = strchr(line, '\n');
                if (next)
                        *next++ = '\0';
                lineno++;
                char *hash = strchr(line, '#');
                if (hash)
                        *hash = '\0';
                while (*line == ' ' || *line == '\t')
                        line++;
                size_t len = strlen(line);
                while (len && (line[len - 1] == ' ' || line[len - 1] == '\t' || line[len - 1] == '\r'))
                        line[--len] = '\0';
                if (!*line) {
                        line = next;
                        continue;
                }
                char *value = line + strcspn(line, " \t");
                if (*value)
                        *value++ = '\0';
                while (*value == ' ' || *value == '\t')
                        value++;
                const char *key = line;
                size_t n;
                char ***words = NULL;
                char **str = NULL;
                if (streq(key, "name"))
                        str = &r.name;
                else if (streq(key, "kernel-package"))
                        str = &r.kernel_package;
                else if (streq(key, "busybox"))
                        str = &r.busybox;
                else if (streq(key, "cmdline"))
                        str = &r.cmdline;
                else if (streq(key, "rootfs-script"))
                        str = &r.rootfs_script;
                else if (streq(key, "modules"))
                        words = &r.modules;
                else if (streq(key, "busybox-applets"))
                        words = &r.applets;
                else {
                        rc = err_setx(e, -EINVAL, "%s:%u: %s: unknown key", file, lineno, key);
                        goto out;
                }
                if ((str && *str) || (words && *words)) {
                        rc = err_setx(e, -EINVAL, "%s:%u: %s: repeated key", file, lineno, key);
                        goto out;
                }
                if (!*value) {
                        rc = err_setx(e, -EINVAL, "%s:%u: %s: needs a value", file, lineno, key);
                        goto out;
                }
                if (words) {
                        *words = split_words(value, RECIPE_MAX_WORDS, &n);
                        if (n > RECIPE_MAX_WORDS) {
                                rc = err_setx(e, -E2BIG, "%s:%u: %s: more than %d words", file, lineno, key,
                                              RECIPE_MAX_WORDS);
                                goto out;
                        }
                        for (size_t i = 0; i < n; i++)
                                if (!word_ok((*words)[i]) || strlen((*words)[i]) > 64) {
                                        rc = err_setx(e, -EINVAL, "%s:%u: %s: bad word \"%.64s\"", file, lineno, key,
                                                      (*words)[i]);
                                        goto out;
                                }
                } else if (str == &r.cmdline) {
                        for (const char *p = value; *p; p++)
                                if ((unsigned char)*p < 0x20 || *p == 0x7f) {
                                        rc = err_setx(e, -EINVAL, "%s:%u: cmdline: control character", file, lineno);
                                        goto out;
                                }
                        if (strlen(value) > 2048) {
                                rc = err_setx(e, -EINVAL, "%s:%u: cmdline: longer than 2048 bytes", file, lineno);
                                goto out;
                        }
                        *str = xstrdup(value);
                } else {
                        if (strpbrk(value, " \t") || !word_ok(value)) {
                                rc = err_setx(e, -EINVAL, "%s:%u: %s: \"%.64s\" is not one word", file, lineno, key, value);
                                goto out;
                        }
                        *str = str == &r.rootfs_script ? xasprintf("%s/%s", dir, value) : xstrdup(value);
                }
                line = next;
        }
        if (!r.name || !name_is_valid(r.name))
                rc = err_setx(e, -EINVAL, "%s: name: %s", file, r.name ? "must match [a-z0-9][a-z0-9-]{0,62}" : "missing");
        else if (!r.kernel_package)
                rc = err_setx(e, -EINVAL, "%s: kernel-package: missing", file);
        else if (!r.cmdline)
                rc = err_setx(e, -EINVAL, "%s: cmdline: missing", file);
        else if (r.applets && !r.busybox)
                rc = err_setx(e, -EINVAL, "%s: busybox-applets: needs busybox", file);
out:
        if (rc < 0) {
                recipe_clear(&r);
                return rc;
        }
        *ret = r;
        return 0;
}

int recipe_load(const char *dir, struct recipe *ret, struct mlvm_err *e)
{
        _cleanup_free_ char *file = xasprintf("%s/recipe", dir), *text = NULL;
        _cleanup_free_ char *abs = realpath(dir, NULL);
        size_t len;
        int r;

        if (!abs)
                return err_set(e, -errno, "recipe directory %s", dir);
        if ((r = read_file_capped(file, RECIPE_MAX_BYTES, &text, &len)) < 0)
                return err_set(e, r, "%s", file);
        if (strlen(text) != len)
                return err_setx(e, -EINVAL, "%s: contains a NUL byte", file);
        return recipe_parse(file, abs, text, ret, e);
}

void recipe_clear(struct recipe *r)
{
        free(r->dir);
        free(r->name);
        free(r->kernel_package);
        kmod_strv_free(r->modules);
        free(r->busybox);
        kmod_strv_free(r->applets);
        free(r->cmdline);
        free(r->rootfs_script);
        *r = (struct recipe){ 0 };
}
