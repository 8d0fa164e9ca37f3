/* kmod.c: module dependency order from ELF .modinfo; see kmod.h.
 * The package comes from Debian's archive, but the ELF reader still checks
 * every offset: a bad .ko is an error, never an out-of-bounds read. */
#include "mlvm-build.h"

#include <elf.h>

#include "deb.h"
#include "kmod.h"
#include "util.h"

#define KERNEL_MAX (256u << 20)

void kmod_strv_free(char **v)
{
        for (size_t i = 0; v && v[i]; i++)
                free(v[i]);
        free(v);
}

static void canonical(char *s)
{
        for (; *s; s++)
                if (*s == '-')
                        *s = '_';
}

int kmod_depends(const void *ko, size_t len, char ***ret, struct mlvm_err *e)
{
        const unsigned char *p = ko;
        Elf64_Ehdr eh;

        if (len < sizeof(eh) || memcmp(p, ELFMAG, SELFMAG) != 0 || p[EI_CLASS] != ELFCLASS64 ||
            p[EI_DATA] != ELFDATA2LSB)
                return err_setx(e, -EINVAL, "not a 64-bit little-endian ELF module");
        memcpy(&eh, p, sizeof(eh));
        if (eh.e_shentsize != sizeof(Elf64_Shdr) || eh.e_shnum == 0 || eh.e_shstrndx >= eh.e_shnum ||
            eh.e_shoff > len || (len - eh.e_shoff) / sizeof(Elf64_Shdr) < eh.e_shnum)
                return err_setx(e, -EINVAL, "bad ELF section table");
        Elf64_Shdr strtab;
        memcpy(&strtab, p + eh.e_shoff + (size_t)eh.e_shstrndx * sizeof(Elf64_Shdr), sizeof(strtab));
        if (strtab.sh_offset > len || strtab.sh_size > len - strtab.sh_offset)
                return err_setx(e, -EINVAL, "bad ELF section name table");
        for (size_t i = 0; i < eh.e_shnum; i++) {
                Elf64_Shdr sh;
                memcpy(&sh, p + eh.e_shoff + i * sizeof(Elf64_Shdr), sizeof(sh));
                if (sh.sh_name >= strtab.sh_size)
                        continue;
                const char *name = (const char *)p + strtab.sh_offset + sh.sh_name;
                size_t room = strtab.sh_size - sh.sh_name;
                if (strnlen(name, room) == room || !streq(name, ".modinfo"))
                        continue;
                if (sh.sh_offset > len || sh.sh_size > len - sh.sh_offset)
                        return err_setx(e, -EINVAL, "bad .modinfo section");
                const char *s = (const char *)p + sh.sh_offset, *end = s + sh.sh_size;
                while (s < end) {
                        size_t n = strnlen(s, (size_t)(end - s));
                        if (n > 8 && strncmp(s, "depends=", 8) == 0) {
                                char **v = xcalloc(1, sizeof(char *));
                                size_t count = 0;
                                _cleanup_free_ char *list = xstrndup(s + 8, n - 8);
                                for (char *save = NULL, *t = strtok_r(list, ",", &save); t;
                                     t = strtok_r(NULL, ",", &save)) {
                                        v = xreallocarray(v, count + 2, sizeof(char *));
                                        v[count] = xstrdup(t);
                                        canonical(v[count]);
                                        v[++count] = NULL;
                                }
                                *ret = v;
                                return 0;
                        }
                        s += n + 1;
                }
                break;
        }
        *ret = xcalloc(1, sizeof(char *));
        return 0;
}

/* What the first pass learns about every module in the package. */
struct modinfo {
        char *name;
        char *path;
        char **deps;
};

struct scan {
        struct modinfo *v;
        size_t n;
        char **builtin;
        size_t n_builtin;
        char *release;
        char *kernel_path;
        long long newest;
};

static char *module_name(const char *path)
{
        const char *base = strrchr(path, '/');
        base = base ? base + 1 : path;
        size_t n = strlen(base);
        if (n < 4 || !streq(base + n - 3, ".ko"))
                return NULL;
        char *name = xstrndup(base, n - 3);
        canonical(name);
        return name;
}

static int scan_file(const char *path, struct archive *a, struct archive_entry *entry, void *u, struct mlvm_err *e)
{
        struct scan *s = u;
        long long mt = (long long)archive_entry_mtime(entry);

        if (mt > s->newest)
                s->newest = mt;
        if (strstartswith(path, "boot/vmlinuz-")) {
                if (s->kernel_path)
                        return err_setx(e, -EINVAL, "more than one kernel (boot/vmlinuz-*) in the package");
                s->kernel_path = xstrdup(path);
                s->release = xstrdup(path + strlen("boot/vmlinuz-"));
                return 0;
        }
        if (!strstartswith(path, "lib/modules/") && !strstartswith(path, "usr/lib/modules/"))
                return 0;
        size_t n = strlen(path);
        if (n > 16 && streq(path + n - 16, "/modules.builtin")) {
                _cleanup_free_ char *text = NULL;
                size_t len;
                int r = deb_read_entry(a, entry, 4 << 20, (void **)&text, &len, e);
                if (r < 0)
                        return r;
                for (char *save = NULL, *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
                        char *name = module_name(l);
                        if (!name)
                                continue;
                        s->builtin = xreallocarray(s->builtin, s->n_builtin + 1, sizeof(char *));
                        s->builtin[s->n_builtin++] = name;
                }
                return 0;
        }
        _cleanup_free_ char *name = module_name(path);
        if (!name)
                return 0;
        _cleanup_free_ void *ko = NULL;
        size_t len;
        char **deps = NULL;
        int r = deb_read_entry(a, entry, KMOD_MAX_SIZE, &ko, &len, e);
        if (r < 0)
                return r;
        if ((r = kmod_depends(ko, len, &deps, e)) < 0)
                return err_prefix(e, "%s", path);
        s->v = xreallocarray(s->v, s->n + 1, sizeof(*s->v));
        s->v[s->n++] = (struct modinfo){ TAKE_PTR(name), xstrdup(path), deps };
        return 0;
}

static void scan_clear(struct scan *s)
{
        for (size_t i = 0; i < s->n; i++) {
                free(s->v[i].name);
                free(s->v[i].path);
                kmod_strv_free(s->v[i].deps);
        }
        free(s->v);
        for (size_t i = 0; i < s->n_builtin; i++)
                free(s->builtin[i]);
        free(s->builtin);
        free(s->release);
        free(s->kernel_path);
}

static struct modinfo *find(struct scan *s, const char *name)
{
        for (size_t i = 0; i < s->n; i++)
                if (streq(s->v[i].name, name))
                        return &s->v[i];
        return NULL;
}

static bool builtin(struct scan *s, const char *name)
{
        for (size_t i = 0; i < s->n_builtin; i++)
                if (streq(s->builtin[i], name))
                        return true;
        return false;
}

/* Depth-first, dependencies first; STATE: 0 new, 1 in progress, 2 done. */
static int order(struct scan *s, const char *name, const char *wanted_by, uint8_t *state, struct kmod_set *out,
                 struct mlvm_err *e)
{
        _cleanup_free_ char *canon = xstrdup(name);
        canonical(canon);
        struct modinfo *m = find(s, canon);
        if (!m) {
                if (builtin(s, canon))
                        return 0;
                if (wanted_by)
                        return err_setx(e, -ENOENT, "module %s (needed by %s) is not in the kernel package", canon, wanted_by);
                return err_setx(e, -ENOENT, "module %s is not in the kernel package", canon);
        }
        size_t i = (size_t)(m - s->v);
        if (state[i] == 2)
                return 0;
        if (state[i] == 1)
                return err_setx(e, -ELOOP, "module dependency cycle through %s", canon);
        state[i] = 1;
        for (char **d = m->deps; *d; d++) {
                int r = order(s, *d, canon, state, out, e);
                if (r < 0)
                        return r;
        }
        state[i] = 2;
        if (out->n >= KMOD_MAX_MODULES)
                return err_setx(e, -E2BIG, "more than %d modules", KMOD_MAX_MODULES);
        out->mods = xreallocarray(out->mods, out->n + 1, sizeof(*out->mods));
        out->mods[out->n++] = (struct kmod){ .name = xstrdup(canon) };
        return 0;
}

struct load {
        struct kmod_set *set;
        struct scan *scan;
};

static int load_file(const char *path, struct archive *a, struct archive_entry *entry, void *u, struct mlvm_err *e)
{
        struct load *l = u;
        if (l->scan->kernel_path && streq(path, l->scan->kernel_path))
                return deb_read_entry(a, entry, KERNEL_MAX, &l->set->kernel, &l->set->kernel_len, e);
        _cleanup_free_ char *name = module_name(path);
        if (!name)
                return 0;
        struct modinfo *m = find(l->scan, name);
        if (!m || !streq(m->path, path))
                return 0;
        for (size_t i = 0; i < l->set->n; i++)
                if (streq(l->set->mods[i].name, name))
                        return deb_read_entry(a, entry, KMOD_MAX_SIZE, &l->set->mods[i].data, &l->set->mods[i].len, e);
        return 0;
}

int kmod_from_deb(const char *deb, char *const *roots, struct kmod_set *ret, struct mlvm_err *e)
{
        struct scan s = { 0 };
        struct kmod_set out = { 0 };
        _cleanup_free_ uint8_t *state = NULL;
        int r;

        /* Pass 1: names, paths and dependencies of every module. */
        if ((r = deb_each_file(deb, scan_file, &s, e)) < 0)
                goto out;
        if (!s.kernel_path) {
                r = err_setx(e, -ENOENT, "%s: no boot/vmlinuz-* in the package", deb);
                goto out;
        }
        state = xcalloc(s.n ? s.n : 1, 1);
        for (size_t i = 0; roots && roots[i]; i++)
                if ((r = order(&s, roots[i], NULL, state, &out, e)) < 0)
                        goto out;
        /* Pass 2: the bytes of the kernel and of the chosen modules only. */
        struct load l = { &out, &s };
        if ((r = deb_each_file(deb, load_file, &l, e)) < 0)
                goto out;
        for (size_t i = 0; i < out.n; i++)
                if (!out.mods[i].data) {
                        r = err_setx(e, -EIO, "module %s vanished between two reads of %s", out.mods[i].name, deb);
                        goto out;
                }
        if (!out.kernel) {
                r = err_setx(e, -EIO, "%s: kernel vanished between two reads", deb);
                goto out;
        }
        out.release = TAKE_PTR(s.release);
        out.newest_mtime = s.newest;
        *ret = out;
        memset(&out, 0, sizeof(out));
out:
        kmod_set_clear(&out);
        scan_clear(&s);
        return r;
}

void kmod_set_clear(struct kmod_set *s)
{
        for (size_t i = 0; i < s->n; i++) {
                free(s->mods[i].name);
                free(s->mods[i].data);
        }
        free(s->mods);
        free(s->release);
        free(s->kernel);
        *s = (struct kmod_set){ 0 };
}
