/* recipe.c: image recipe parser; see recipe.h. Strict like mlvm.yaml:
 * unknown and repeated keys are errors that name FILE:LINE. */
#include "mlvm-build.h"

#include <stddef.h>

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

/* One line, without its comment and surrounding blanks, as KEY and VALUE;
 * false for a blank line. */
static bool split_line(char *line, char **ret_key, char **ret_value)
{
        char *hash = strchr(line, '#');
        if (hash)
                *hash = '\0';
        while (*line == ' ' || *line == '\t')
                line++;
        size_t len = strlen(line);
        while (len && (line[len - 1] == ' ' || line[len - 1] == '\t' || line[len - 1] == '\r'))
                line[--len] = '\0';
        if (!*line)
                return false;
        char *value = line + strcspn(line, " \t");
        if (*value)
                *value++ = '\0';
        while (*value == ' ' || *value == '\t')
                value++;
        *ret_key = line;
        *ret_value = value;
        return true;
}

/* Where KEY's value goes: a string or a word list; -EINVAL for an unknown key. */
static int key_slot(struct recipe *r, const char *key, char ***ret_str, char ****ret_words)
{
        static const struct { const char *key; size_t off; bool words; } keys[] = {
                { "name", offsetof(struct recipe, name), false },
                { "kernel-package", offsetof(struct recipe, kernel_package), false },
                { "kernel-boot", offsetof(struct recipe, kernel_boot), false },
                { "kernel-source", offsetof(struct recipe, kernel_source), false },
                { "kernel-config", offsetof(struct recipe, kernel_config), false },
                { "busybox", offsetof(struct recipe, busybox), false },
                { "cmdline", offsetof(struct recipe, cmdline), false },
                { "rootfs-script", offsetof(struct recipe, rootfs_script), false },
                { "modules", offsetof(struct recipe, modules), true },
                { "busybox-applets", offsetof(struct recipe, applets), true },
        };
        for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
                if (streq(key, keys[i].key)) {
                        void *slot = (char *)r + keys[i].off;
                        *ret_str = keys[i].words ? NULL : slot;
                        *ret_words = keys[i].words ? slot : NULL;
                        return 0;
                }
        return -EINVAL;
}

static int set_words(const char *file, unsigned lineno, const char *key, const char *value, char ***words,
                     struct mlvm_err *e)
{
        size_t n;
        *words = split_words(value, RECIPE_MAX_WORDS, &n);
        if (n > RECIPE_MAX_WORDS)
                return err_setx(e, -E2BIG, "%s:%u: %s: more than %d words", file, lineno, key, RECIPE_MAX_WORDS);
        for (size_t i = 0; i < n; i++)
                if (!word_ok((*words)[i]) || strlen((*words)[i]) > 64)
                        return err_setx(e, -EINVAL, "%s:%u: %s: bad word \"%.64s\"", file, lineno, key, (*words)[i]);
        return 0;
}

static int set_cmdline(const char *file, unsigned lineno, const char *value, char **str, struct mlvm_err *e)
{
        for (const char *p = value; *p; p++)
                if ((unsigned char)*p < 0x20 || *p == 0x7f)
                        return err_setx(e, -EINVAL, "%s:%u: cmdline: control character", file, lineno);
        if (strlen(value) > 2048)
                return err_setx(e, -EINVAL, "%s:%u: cmdline: longer than 2048 bytes", file, lineno);
        *str = xstrdup(value);
        return 0;
}

/* One KEY VALUE line into R. */
static int parse_line(struct recipe *r, const char *file, unsigned lineno, const char *key, const char *value,
                      struct mlvm_err *e)
{
        char **str = NULL, ***words = NULL;

        if (key_slot(r, key, &str, &words) < 0)
                return err_setx(e, -EINVAL, "%s:%u: %s: unknown key", file, lineno, key);
        if ((str && *str) || (words && *words))
                return err_setx(e, -EINVAL, "%s:%u: %s: repeated key", file, lineno, key);
        if (!*value)
                return err_setx(e, -EINVAL, "%s:%u: %s: needs a value", file, lineno, key);
        if (words)
                return set_words(file, lineno, key, value, words, e);
        if (str == &r->cmdline)
                return set_cmdline(file, lineno, value, str, e);
        if (strpbrk(value, " \t") || !word_ok(value))
                return err_setx(e, -EINVAL, "%s:%u: %s: \"%.64s\" is not one word", file, lineno, key, value);
        if (str == &r->kernel_boot && !streq(value, "bzimage") && !streq(value, "pvh"))
                return err_setx(e, -EINVAL, "%s:%u: kernel-boot: \"%.64s\" is not bzimage or pvh", file, lineno, value);
        if (str == &r->kernel_source && !strstartswith(value, "linux-source-"))
                return err_setx(e, -EINVAL, "%s:%u: kernel-source: \"%.64s\" is not a linux-source-* package", file,
                                lineno, value);
        *str = str == &r->rootfs_script || str == &r->kernel_config ? xasprintf("%s/%s", r->dir, value) : xstrdup(value);
        return 0;
}

/* What every recipe must have. */
static int check_complete(const struct recipe *r, const char *file, struct mlvm_err *e)
{
        if (!r->name || !name_is_valid(r->name))
                return err_setx(e, -EINVAL, "%s: name: %s", file,
                                r->name ? "must match [a-z0-9][a-z0-9-]{0,62}" : "missing");
        if (!r->kernel_package && !r->kernel_source)
                return err_setx(e, -EINVAL, "%s: kernel-package or kernel-source: missing", file);
        if (r->kernel_package && r->kernel_source)
                return err_setx(e, -EINVAL, "%s: kernel-package and kernel-source: give one (a packaged kernel, or one built)",
                                file);
        if (r->kernel_source && !r->kernel_config)
                return err_setx(e, -EINVAL, "%s: kernel-config: missing (kernel-source builds with it)", file);
        if (r->kernel_config && !r->kernel_source)
                return err_setx(e, -EINVAL, "%s: kernel-config: only with kernel-source", file);
        if (r->kernel_source && r->modules)
                return err_setx(e, -EINVAL, "%s: modules: a kernel built from kernel-source has every driver built in",
                                file);
        if (r->kernel_source && r->kernel_boot && !streq(r->kernel_boot, "pvh"))
                return err_setx(e, -EINVAL, "%s: kernel-boot: a kernel built from kernel-source boots as pvh", file);
        if (!r->cmdline)
                return err_setx(e, -EINVAL, "%s: cmdline: missing", file);
        if (r->applets && !r->busybox)
                return err_setx(e, -EINVAL, "%s: busybox-applets: needs busybox", file);
        return 0;
}

int recipe_parse(const char *file, const char *dir, const char *text, struct recipe *ret, struct mlvm_err *e)
{
        struct recipe r = { .dir = xstrdup(dir) };
        _cleanup_free_ char *copy = xstrdup(text);
        unsigned lineno = 0;
        int rc = 0;

        for (char *line = copy, *next; line && rc == 0; line = next) {
                char *key, *value;
                next = strchr(line, '\n');
                if (next)
                        *next++ = '\0';
                lineno++;
                if (split_line(line, &key, &value))
                        rc = parse_line(&r, file, lineno, key, value, e);
        }
        if (rc == 0)
                rc = check_complete(&r, file, e);
        if (rc < 0) {
                recipe_clear(&r);
                return rc;
        }
        *ret = r;
        return 0;
}

bool recipe_kernel_pvh(const struct recipe *r)
{
        return r->kernel_source || (r->kernel_boot && streq(r->kernel_boot, "pvh"));
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
        free(r->kernel_boot);
        free(r->kernel_source);
        free(r->kernel_config);
        kmod_strv_free(r->modules);
        free(r->busybox);
        kmod_strv_free(r->applets);
        free(r->cmdline);
        free(r->rootfs_script);
        *r = (struct recipe){ 0 };
}
