/* kbuild.c: build the guest kernel from the kernel source package; see
 * kbuild.h. The steps: the cache key from the inputs; the cached kernel if
 * there is one; else, under the cache's lock, unpack the source tarball
 * from the .deb into CACHE/build, `make allnoconfig` with the fragment,
 * check every line of the fragment took, `make vmlinux`, check and compact
 * the PVH ELF, and store it under CACHE/KEY. The fragment's parser and
 * its check against the .config are in kbuild-kconfig.c. */
#include "mlvm-build.h"

#include <fcntl.h>
#include <stdarg.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "bzimage.h"
#include "cleanup.h"
#include "deb.h"
#include "kbuild.h"
#include "mtime.h"
#include "spawn.h"
#include "units.h"
#include "util.h"

#define KBUILD_SCHEME "mlvm-kbuild 1"    /* bump when the way a kernel is built changes */
#define KBUILD_ARCH "x86_64"
#define SOURCE_TARBALL_MAX (1ULL << 30)  /* linux-source-*.tar.xz inside the .deb */
#define RELEASE_MAX 128

/* ---- progress and small file helpers ---------------------------------- */

static void say(const struct kbuild_opts *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(const struct kbuild_opts *o, const char *fmt, ...)
{
        char line[512];
        va_list ap;
        if (!o->progress)
                return;
        va_start(ap, fmt);
        text_vset(line, sizeof(line), fmt, ap);
        va_end(ap);
        o->progress(o->progress_u, line);
}

/* The first line a tool prints for --version: part of the cache key. */
static char *tool_version(const char *tool, struct mlvm_err *e)
{
        char *argv[] = { (char *)tool, (char *)"--version", NULL };
        _cleanup_free_ char *out = NULL;
        if (spawn_capture(argv, NULL, 64 * 1024, &out, e) < 0)
                return NULL;
        out[strcspn(out, "\n")] = '\0';
        return xstrdup(out);
}

static int cache_key(const struct kbuild_opts *o, const char *fragment, size_t len, char key[SHA256_HEX_LEN + 1],
                     struct mlvm_err *e)
{
        _cleanup_free_ char *cc = tool_version("gcc", e), *ld = cc ? tool_version("ld", e) : NULL;
        if (!cc || !ld)
                return err_prefix(e, "building a kernel needs gcc and binutils (scripts/setup installs them)");
        _cleanup_free_ char *head = xasprintf("%s\nsource %s\narch %s\ncc %s\nld %s\nfragment %zu\n", KBUILD_SCHEME,
                                              o->source_sha256, KBUILD_ARCH, cc, ld, len);
        _cleanup_free_ char *all = xmalloc(strlen(head) + len + 1);
        memcpy(all, head, strlen(head));
        memcpy(all + strlen(head), fragment, len);
        sha256_hex(all, strlen(head) + len, key);
        return 0;
}

static int write_text(const char *dir, const char *name, const void *data, size_t len, struct mlvm_err *e)
{
        _cleanup_free_ char *p = xasprintf("%s/%s", dir, name);
        int r = write_file_atomic(p, data, len, 0644);
        return r < 0 ? err_set(e, r, "%s", p) : 0;
}

/* ---- the cache ---------------------------------------------------------- */

static int cache_read(const char *dir, struct kbuild_result *ret, struct mlvm_err *e)
{
        _cleanup_free_ char *vm = xasprintf("%s/vmlinux", dir), *rel = xasprintf("%s/release", dir),
                            *mt = xasprintf("%s/source-mtime", dir), *sum = xasprintf("%s/vmlinux.sha256", dir);
        _cleanup_free_ char *elf = NULL, *release = NULL, *mtime = NULL, *want = NULL;
        size_t len, rlen, mlen, slen;
        char got[SHA256_HEX_LEN + 1];
        struct pvh_elf info;
        uint64_t t;
        int r;

        if ((r = read_file_capped(vm, BZIMAGE_VMLINUX_MAX, &elf, &len)) < 0)
                return r == -ENOENT ? r : err_set(e, r, "%s", vm);
        if ((r = read_file_capped(rel, RELEASE_MAX, &release, &rlen)) < 0 ||
            (r = read_file_capped(mt, 32, &mtime, &mlen)) < 0 ||
            (r = read_file_capped(sum, SHA256_HEX_LEN + 1, &want, &slen)) < 0)
                return err_set(e, r, "kernel cache %s is incomplete (remove it to rebuild)", dir);
        sha256_hex(elf, len, got);
        want[strcspn(want, "\n")] = '\0';
        release[strcspn(release, "\n")] = '\0';
        mtime[strcspn(mtime, "\n")] = '\0';
        if (!streq(got, want))
                return err_setx(e, -EINVAL, "%s: SHA-256 is not the one recorded when it was built (remove %s to rebuild)",
                                vm, dir);
        if ((r = pvh_elf_check(elf, len, &info, e)) < 0)
                return err_prefix(e, "%s", vm);
        if (parse_uint(mtime, 0, INT64_MAX, &t) < 0 || !release[0])
                return err_setx(e, -EINVAL, "kernel cache %s: bad release or source-mtime (remove it to rebuild)", dir);
        ret->vmlinux = TAKE_PTR(elf);
        ret->len = len;
        ret->release = TAKE_PTR(release);
        ret->source_mtime = (long long)t;
        return 0;
}

/* Store the result under CACHE/KEY, whole or not at all. */
static int cache_store(const char *cache, const struct kbuild_result *k, const char *dotconfig, size_t dlen,
                       struct mlvm_err *e)
{
        _cleanup_free_ char *dir = xasprintf("%s/%s", cache, k->key), *tmp = xasprintf("%s/%s.tmp", cache, k->key);
        _cleanup_free_ char *mt = xasprintf("%lld\n", k->source_mtime), *rel = xasprintf("%s\n", k->release);
        char hex[SHA256_HEX_LEN + 1];
        int r;

        sha256_hex(k->vmlinux, k->len, hex);
        _cleanup_free_ char *sum = xasprintf("%s\n", hex);
        (void)remove_tree(tmp);
        if (mkdir(tmp, 0755) < 0)
                return err_set(e, -errno, "%s", tmp);
        if ((r = write_text(tmp, "vmlinux", k->vmlinux, k->len, e)) < 0 ||
            (r = write_text(tmp, "vmlinux.sha256", sum, strlen(sum), e)) < 0 ||
            (r = write_text(tmp, "release", rel, strlen(rel), e)) < 0 ||
            (r = write_text(tmp, "source-mtime", mt, strlen(mt), e)) < 0 ||
            (r = write_text(tmp, "config", dotconfig, dlen, e)) < 0)
                goto fail;
        (void)remove_tree(dir);
        if (rename(tmp, dir) < 0) {
                r = err_set(e, -errno, "%s", dir);
                goto fail;
        }
        return 0;
fail:
        (void)remove_tree(tmp);
        return r;
}

/* ---- unpacking the source ---------------------------------------------- */

struct unpack {
        const char *what;            /* the .deb, for errors */
        char *src;                   /* CACHE/build/src */
        long long newest;
        uint64_t bytes;
        size_t entries;
        bool found;
};

static void archive_write_freep(struct archive **a) { if (*a) archive_write_free(*a); }

/* NAME without its top directory (linux-source-6.1/), checked: no "..",
 * not absolute. NULL for the top directory itself or a bad name. */
static const char *tree_path(const char *name, bool *bad)
{
        while (name[0] == '.' && name[1] == '/')
                name += 2;
        const char *slash = strchr(name, '/');
        *bad = !strstartswith(name, "linux-source-") || !slash;
        if (*bad)
                return NULL;
        const char *rest = slash + 1;
        for (const char *p = rest; *p;) {
                size_t n = strcspn(p, "/");
                if ((n == 2 && p[0] == '.' && p[1] == '.') || (p == rest && n == 0))
                        *bad = true;
                p += n + (p[n] == '/');
        }
        return *bad || !rest[0] ? NULL : rest;
}

static int unpack_entry(struct unpack *u, struct archive *in, struct archive *out, struct archive_entry *ent,
                        struct mlvm_err *e)
{
        char buf[SHOWN_MAX];
        bool bad;
        const char *name = archive_entry_pathname(ent);
        if (!name)
                return err_setx(e, -EINVAL, "%s: a source tarball entry without a name", u->what);
        const char *rest = tree_path(name, &bad);
        unsigned type = archive_entry_filetype(ent);

        if (bad)
                return err_setx(e, -EINVAL, "%s: source tarball entry \"%s\" is not under linux-source-*/", u->what,
                                shown(name, buf));
        if (++u->entries > KBUILD_TREE_ENTRIES)
                return err_setx(e, -EFBIG, "%s: more than %u entries in the source tarball", u->what, KBUILD_TREE_ENTRIES);
        if (archive_entry_size(ent) > 0)
                u->bytes += (uint64_t)archive_entry_size(ent);
        if (u->bytes > KBUILD_TREE_MAX)
                return err_setx(e, -EFBIG, "%s: source tree larger than %llu bytes", u->what,
                                (unsigned long long)KBUILD_TREE_MAX);
        if (!rest)
                return 0;
        if ((type != AE_IFREG && type != AE_IFDIR && type != AE_IFLNK) || archive_entry_hardlink(ent))
                return err_setx(e, -EINVAL, "%s: source tarball entry \"%s\" is not a file, directory or symlink",
                                u->what, shown(name, buf));
        _cleanup_free_ char *dst = xasprintf("%s/%s", u->src, rest);
        archive_entry_set_pathname(ent, dst);
        archive_entry_set_perm(ent, archive_entry_perm(ent) & 0755);
        if (archive_write_header(out, ent) != ARCHIVE_OK)
                return err_setx(e, -EIO, "%s: %s", dst, archive_error_string(out));
        if (type == AE_IFREG) {
                const void *block;
                size_t size;
                la_int64_t off;
                int r;
                while ((r = archive_read_data_block(in, &block, &size, &off)) == ARCHIVE_OK)
                        if (archive_write_data_block(out, block, size, off) != ARCHIVE_OK)
                                return err_setx(e, -EIO, "%s: %s", dst, archive_error_string(out));
                if (r != ARCHIVE_EOF)
                        return err_setx(e, -EIO, "%s: %s", u->what, archive_error_string(in));
        }
        if (archive_write_finish_entry(out) != ARCHIVE_OK)
                return err_setx(e, -EIO, "%s: %s", dst, archive_error_string(out));
        return 0;
}

/* deb_each_file's callback: the newest mtime of what comes before, then
 * usr/src/linux-source-*.tar.* unpacked into u->src. */
static int unpack_source(const char *path, struct archive *a, struct archive_entry *entry, void *p, struct mlvm_err *e)
{
        struct unpack *u = p;
        struct deb_inner *d = NULL;
        _cleanup_(archive_write_freep) struct archive *out = archive_write_disk_new();
        struct archive_entry *ent;
        int r;

        if (archive_entry_mtime(entry) > u->newest)
                u->newest = (long long)archive_entry_mtime(entry);
        if (!strstartswith(path, "usr/src/linux-source-") || !strstr(path, ".tar."))
                return 0;
        u->found = true;
        archive_write_disk_set_options(out, ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_SECURE_NODOTDOT |
                                                    ARCHIVE_EXTRACT_SECURE_SYMLINKS | ARCHIVE_EXTRACT_NO_OVERWRITE);
        if ((r = deb_inner_open(a, path, SOURCE_TARBALL_MAX, &d, e)) < 0)
                return r;
        while ((r = archive_read_next_header(deb_inner_archive(d), &ent)) == ARCHIVE_OK)
                if ((r = unpack_entry(u, deb_inner_archive(d), out, ent, e)) < 0)
                        break;
        if (r == ARCHIVE_EOF)
                r = 1;
        else if (r >= 0)
                r = err_setx(e, -EINVAL, "%s: %s: %s", u->what, path, archive_error_string(deb_inner_archive(d)));
        deb_inner_free(d);
        return r;
}

/* ---- make -------------------------------------------------------------- */

struct make_log {
        const struct kbuild_opts *o;
        int fd;
        uint64_t written;
        unsigned compiled;
        usec_t start, last_said;
        char tail[8];                 /* the previous chunk's end, to see "  CC " across chunks */
};

static void make_output(void *p, const char *data, size_t len)
{
        struct make_log *l = p;
        if (l->written + len <= KBUILD_LOG_KEEP && write_full(l->fd, data, len) == 0)
                l->written += len;
        for (size_t i = 0; i < len; i++)
                if ((i == 0 || data[i - 1] == '\n') && len - i >= 5 && memcmp(data + i, "  CC ", 5) == 0)
                        l->compiled++;
        usec_t now = now_usec();
        if (now - l->last_said >= 30 * USEC_PER_SEC) {
                l->last_said = now;
                say(l->o, "kernel: compiling: %u files, %.0f s", l->compiled, usec_to_sec(now - l->start));
        }
}

/* The first line of LOG that says what failed (gcc's "error:", make's "Error"). */
static char *first_error(const char *log)
{
        _cleanup_free_ char *text = NULL;
        size_t len;
        if (read_file_capped(log, KBUILD_LOG_KEEP, &text, &len) < 0)
                return NULL;
        for (char *save = NULL, *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
                if (strstr(l, "error:") || strstr(l, "Error "))
                        return xstrdup(l);
        return NULL;
}

static int run_make(const struct kbuild_opts *o, const char *src, const char *log, const char *timestamp,
                    char *const *args, struct mlvm_err *e)
{
        char *argv[16] = { (char *)"make", (char *)"-C", (char *)src, (char *)"ARCH=" KBUILD_ARCH };
        size_t n = 4;
        for (size_t i = 0; args[i] && n < ARRAY_SIZE(argv) - 1; i++)
                argv[n++] = args[i];
        argv[n] = NULL;
        /* Fixed identity and time: what /proc/version shows, the same bytes on every build. */
        _cleanup_free_ char *ts = xasprintf("KBUILD_BUILD_TIMESTAMP=%s", timestamp);
        char *env[] = { ts, (char *)"KBUILD_BUILD_USER=mlvm", (char *)"KBUILD_BUILD_HOST=mlvm",
                        (char *)"KBUILD_BUILD_VERSION=1", (char *)"LC_ALL=C", (char *)"TZ=UTC",
                        (char *)"KCFLAGS=", (char *)"KCPPFLAGS=", (char *)"KAFLAGS=", NULL };
        struct make_log l = { .o = o, .start = now_usec(), .last_said = now_usec() };
        struct spawn_opts so = { .argv = argv, .env_add = env, .stderr_mode = SPAWN_STDERR_TO_OUT,
                                 .on_out = make_output, .on_out_u = &l };
        char buf[SHOWN_MAX];
        int r;

        if ((l.fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644)) < 0)
                return err_set(e, -errno, "%s", log);
        r = spawn_run(&so, NULL, NULL, e);
        close(l.fd);
        if (r < 0) {
                _cleanup_free_ char *why = first_error(log);
                if (why)
                        return err_setx(e, r, "kernel build: %s (the whole log: %s)", shown(why, buf), log);
                return err_prefix(e, "kernel build (the whole log: %s)", log);
        }
        return 0;
}

/* ---- the whole build ------------------------------------------------------ */

static int lock_cache(const struct kbuild_opts *o, int *ret_fd, struct mlvm_err *e)
{
        _cleanup_free_ char *path = xasprintf("%s/lock", o->cache_dir);
        int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (fd < 0)
                return err_set(e, -errno, "%s", path);
        if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
                say(o, "kernel: another kernel build is running; waiting for it");
                if (flock(fd, LOCK_EX) < 0) {
                        int r = err_set(e, -errno, "%s", path);
                        close(fd);
                        return r;
                }
        }
        *ret_fd = fd;
        return 0;
}

static int unpack(const struct kbuild_opts *o, const char *build, struct unpack *u, struct mlvm_err *e)
{
        int r;
        usec_t t0 = now_usec();
        say(o, "kernel: unpacking the source from %s", o->source_deb);
        if ((r = remove_tree(build)) < 0)
                return err_set(e, r, "%s", build);
        if ((r = mkdir_p(u->src, 0755)) < 0)
                return err_set(e, r, "%s", u->src);
        if ((r = deb_each_file(o->source_deb, unpack_source, u, e)) < 0)
                return r;
        if (!u->found)
                return err_setx(e, -ENOENT, "%s: no usr/src/linux-source-*.tar.*: not a kernel source package",
                                o->source_deb);
        say(o, "kernel: source unpacked: %zu entries, %.0f MB in %.0f s", u->entries, (double)u->bytes / 1e6,
            usec_to_sec(now_usec() - t0));
        return 0;
}

/* allnoconfig with the fragment, then check it all took. */
static int configure(const struct kbuild_opts *o, const struct kconfig_fragment *f, const char *fragment, size_t len,
                     const char *build, const char *src, const char *log, const char *ts, char **ret_dotconfig,
                     size_t *ret_dlen, struct mlvm_err *e)
{
        _cleanup_free_ char *frag = xasprintf("%s/mlvm.config", build), *dot = xasprintf("%s/.config", src);
        _cleanup_free_ char *allconfig = xasprintf("KCONFIG_ALLCONFIG=%s", frag);
        char *args[] = { allconfig, (char *)"allnoconfig", NULL };
        int r;

        if ((r = write_text(build, "mlvm.config", fragment, len, e)) < 0 ||
            (r = run_make(o, src, log, ts, args, e)) < 0)
                return r;
        if ((r = read_file_capped(dot, KBUILD_DOTCONFIG_MAX, ret_dotconfig, ret_dlen)) < 0)
                return err_set(e, r, "%s", dot);
        return kconfig_verify(o->config_file, f, *ret_dotconfig, *ret_dlen, e);
}

static int compile(const struct kbuild_opts *o, const char *src, const char *log, const char *ts,
                   struct kbuild_result *k, struct mlvm_err *e)
{
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        _cleanup_free_ char *jobs = xasprintf("-j%ld", cpus > 0 && cpus < 256 ? cpus : 1);
        _cleanup_free_ char *vm = xasprintf("%s/vmlinux", src), *rel = xasprintf("%s/include/config/kernel.release", src);
        _cleanup_free_ char *elf = NULL;
        char *args[] = { jobs, (char *)"vmlinux", NULL };
        size_t len, rlen;
        struct pvh_elf info;
        usec_t t0 = now_usec();
        int r;

        say(o, "kernel: compiling with %s (a first build takes minutes; later ones come from the cache)", jobs);
        if ((r = run_make(o, src, log, ts, args, e)) < 0)
                return r;
        if ((r = read_file_capped(vm, BZIMAGE_VMLINUX_MAX, &elf, &len)) < 0)
                return err_set(e, r, "%s", vm);
        if ((r = read_file_capped(rel, RELEASE_MAX, &k->release, &rlen)) < 0)
                return err_set(e, r, "%s", rel);
        k->release[strcspn(k->release, "\n")] = '\0';
        if ((r = pvh_elf_check(elf, len, &info, e)) < 0)
                return err_prefix(e, "the built vmlinux (is CONFIG_PVH=y in %s?)", o->config_file);
        if ((r = pvh_elf_compact(elf, len, &k->vmlinux, &k->len, e)) < 0)
                return err_prefix(e, "the built vmlinux");
        say(o, "kernel: %s built in %.0f s: %.1f MB ELF vmlinux (%.1f MB compacted), PVH entry 0x%llx", k->release,
            usec_to_sec(now_usec() - t0), (double)len / 1e6, (double)k->len / 1e6, (unsigned long long)info.entry);
        return 0;
}

static int build(const struct kbuild_opts *o, const struct kconfig_fragment *f, const char *fragment, size_t len,
                 struct kbuild_result *k, struct mlvm_err *e)
{
        _cleanup_free_ char *build = xasprintf("%s/build", o->cache_dir), *log = xasprintf("%s/build.log", o->cache_dir);
        _cleanup_free_ char *dotconfig = NULL;
        struct unpack u = { .what = o->source_deb, .src = xasprintf("%s/build/src", o->cache_dir) };
        char ts[64];
        size_t dlen;
        int r;

        (void)unlink(log);
        if ((r = unpack(o, build, &u, e)) < 0)
                goto out;
        k->source_mtime = u.newest;
        time_t t = (time_t)u.newest;
        struct tm tm;
        strftime(ts, sizeof(ts), "%a %b %e %H:%M:%S UTC %Y", gmtime_r(&t, &tm));
        if ((r = configure(o, f, fragment, len, build, u.src, log, ts, &dotconfig, &dlen, e)) < 0 ||
            (r = compile(o, u.src, log, ts, k, e)) < 0 || (r = cache_store(o->cache_dir, k, dotconfig, dlen, e)) < 0)
                goto out;
out:
        /* The tree is gigabytes; a failed build keeps its log only. */
        (void)remove_tree(build);
        free(u.src);
        return r;
}

int kbuild_kernel(const struct kbuild_opts *o, struct kbuild_result *ret, struct mlvm_err *e)
{
        struct kbuild_result k = { 0 };
        struct kconfig_fragment f = { 0 };
        _cleanup_free_ char *fragment = NULL, *dir = NULL;
        _cleanup_close_ int lock = -1;
        size_t len;
        int r;

        if ((r = read_file_capped(o->config_file, KCONFIG_MAX_BYTES, &fragment, &len)) < 0)
                return err_set(e, r, "%s", o->config_file);
        if ((r = kconfig_parse(o->config_file, fragment, len, &f, e)) < 0)
                return r;
        sha256_hex(fragment, len, k.config_sha256);
        if ((r = cache_key(o, fragment, len, k.key, e)) < 0)
                goto out;
        if ((r = mkdir_p(o->cache_dir, 0755)) < 0) {
                r = err_set(e, r, "%s", o->cache_dir);
                goto out;
        }
        dir = xasprintf("%s/%s", o->cache_dir, k.key);
        if ((r = cache_read(dir, &k, e)) == 0 || r != -ENOENT)
                goto found;
        if ((r = lock_cache(o, &lock, e)) < 0)
                goto out;
        /* Someone else may have built it while we waited. */
        if ((r = cache_read(dir, &k, e)) == 0 || r != -ENOENT)
                goto found;
        r = build(o, &f, fragment, len, &k, e);
        goto out;
found:
        if (r == 0) {
                k.cached = true;
                say(o, "kernel: %s from the cache (%s), %.1f MB", k.release, dir, (double)k.len / 1e6);
        }
out:
        kconfig_fragment_clear(&f);
        if (r < 0) {
                kbuild_result_clear(&k);
                return r;
        }
        *ret = k;
        return 0;
}

void kbuild_result_clear(struct kbuild_result *r)
{
        free(r->vmlinux);
        free(r->release);
        *r = (struct kbuild_result){ 0 };
}
