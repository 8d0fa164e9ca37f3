/* image-build.c: the image builder; see image-build.h.
 * Reproducible: the initramfs has fixed metadata and sorted entries, the
 * manifest's build time is $SOURCE_DATE_EPOCH or else the newest mtime
 * inside the kernel package, and Ed25519 signatures are deterministic, so
 * the same inputs give the same bytes and the same image digest whatever
 * the umask, TMPDIR or input files' mtimes. */
#include "mlvm-build.h"

#include <fcntl.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <time.h>

#include "apt.h"
#include "bzimage.h"
#include "deb.h"
#include "image-build.h"
#include "mtime.h"
#include "initramfs.h"
#include "kbuild.h"
#include "keys.h"
#include "kmod.h"
#include "manifest.h"
#include "recipe.h"
#include "spawn.h"
#include "units.h"
#include "util.h"

#define AGENT_MAX (16u << 20)
#define BUSYBOX_MAX (16u << 20)

static void progress(const struct build_opts *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void progress(const struct build_opts *o, const char *fmt, ...)
{
        char line[512];
        va_list ap;
        if (!o->progress)
                return;
        va_start(ap, fmt);
        (void)vsnprintf(line, sizeof(line), fmt, ap);
        va_end(ap);
        o->progress(o->progress_u, line);
}

char *image_find_agent(void)
{
        return find_helper_binary("MLVM_AGENT", "guest-agent/mlvm-agent", PKGLIBEXECDIR "/mlvm-agent");
}

struct busybox_ctx {
        void *data;
        size_t len;
};

static int take_busybox(const char *path, struct archive *a, struct archive_entry *entry, void *u, struct mlvm_err *e)
{
        struct busybox_ctx *b = u;
        if (!streq(path, "bin/busybox"))
                return 0;
        int r = deb_read_entry(a, entry, BUSYBOX_MAX, &b->data, &b->len, e);
        return r < 0 ? r : 1;
}

static int get_deb(const char *state_dir, const char *given, const char *pkg, bool follow_meta, struct apt_pkg *ret,
                   const struct build_opts *o, struct mlvm_err *e)
{
        const char *env = getenv("MLVM_DEB_CACHE");
        _cleanup_free_ char *cache = env && env[0] == '/' ? xstrdup(env) : xasprintf("%s/cache/debs", state_dir);
        _cleanup_free_ char *real = NULL;
        int r;

        if (given)
                return apt_describe_local(given, ret, e);
        /* linux-image-cloud-amd64 is a metapackage; the versioned package
         * (linux-image-6.1.0-...) it depends on holds the kernel. */
        if (follow_meta && strstartswith(pkg, "linux-image-") && !(pkg[12] >= '0' && pkg[12] <= '9') &&
            (r = apt_first_dep(pkg, "linux-image-", &real, e)) == 0)
                pkg = real;
        progress(o, "fetching %s", pkg);
        struct stat st;
        usec_t t0 = now_usec();
        if ((r = apt_fetch(pkg, cache, ret, e)) < 0)
                return r;
        double s = usec_to_sec(now_usec() - t0);
        double mb = stat(ret->path, &st) == 0 ? (double)st.st_size / 1e6 : 0;
        if (ret->cached)
                progress(o, "%s %s: %.1f MB, in the cache, SHA-256 matches apt's index", pkg, ret->version, mb);
        else
                progress(o, "%s %s: %.1f MB fetched in %.1f s (%.1f MB/s), SHA-256 matches apt's index", pkg,
                         ret->version, mb, s, s > 0 ? mb / s : 0);
        return 0;
}

static int add_std_files(struct initramfs *ir, const struct kmod_set *k, const struct busybox_ctx *bb,
                         char *const *applets, const void *agent, size_t agent_len)
{
        static const char *const dirs[] = { "bin", "dev", "etc", "etc/mlvm", "lib", "lib/modules", "lib/modules/mlvm",
                                            "proc", "run", "sys", "usr", "usr/bin", "home", "home/mlvm", "artifacts" };
        static const char passwd[] = "root:x:0:0:root:/root:/bin/sh\nmlvm:x:1000:1000:mlvm workload:/home/mlvm:/bin/sh\n";
        static const char group[] = "root:x:0:\nmlvm:x:1000:\n";
        int r = 0;

        for (size_t i = 0; i < ARRAY_SIZE(dirs) && r == 0; i++)
                r = initramfs_add_dir(ir, dirs[i], 0755);
        if (r == 0) r = initramfs_add_dir(ir, "root", 0700);
        if (r == 0) r = initramfs_add_dir(ir, "tmp", 01777);
        if (r == 0) r = initramfs_add_chardev(ir, "dev/console", 0600, 5, 1);
        if (r == 0) r = initramfs_add_chardev(ir, "dev/null", 0666, 1, 3);
        if (r == 0) r = initramfs_add_file(ir, "init", 0755, agent, agent_len);
        if (r == 0) r = initramfs_add_file(ir, "etc/passwd", 0644, passwd, sizeof(passwd) - 1);
        if (r == 0) r = initramfs_add_file(ir, "etc/group", 0644, group, sizeof(group) - 1);
        if (r < 0)
                return r;
        _cleanup_free_ char *list = xstrdup("");
        for (size_t i = 0; i < k->n; i++) {
                _cleanup_free_ char *path = xasprintf("lib/modules/mlvm/%s.ko", k->mods[i].name);
                if ((r = initramfs_add_file(ir, path, 0644, k->mods[i].data, k->mods[i].len)) < 0)
                        return r;
                char *next = xasprintf("%s%s\n", list, k->mods[i].name);
                free(list);
                list = next;
        }
        if ((r = initramfs_add_file(ir, "etc/mlvm/modules", 0644, list, strlen(list))) < 0)
                return r;
        if (bb->data) {
                if ((r = initramfs_add_file(ir, "bin/busybox", 0755, bb->data, bb->len)) < 0)
                        return r;
                for (size_t i = 0; applets && applets[i]; i++) {
                        _cleanup_free_ char *path = xasprintf("bin/%s", applets[i]);
                        if ((r = initramfs_add_symlink(ir, path, "busybox")) < 0)
                                return r;
                }
        }
        return 0;
}

static int write_part(int dirfd, const char *name, const void *data, size_t len, struct image_part *p,
                      struct mlvm_err *e)
{
        _cleanup_close_ int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        const char *s = data;
        size_t left = len;

        if (fd < 0)
                return err_set(e, -errno, "write %s", name);
        while (left > 0) {
                ssize_t n = write(fd, s, left);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return err_set(e, -errno, "write %s", name);
                }
                s += n;
                left -= (size_t)n;
        }
        (void)snprintf(p->name, sizeof(p->name), "%s", name);
        p->size = len;
        sha256_hex(data, len, p->sha256);
        return 0;
}

static int hash_part_file(int dirfd, const char *name, struct image_part *p, struct mlvm_err *e)
{
        _cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        struct stat st;
        uint64_t size;
        int r;

        if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
                return err_setx(e, -EINVAL, "the rootfs script made no regular file %s", name);
        if ((r = sha256_fd(fd, manifest_part_max(name), &size, p->sha256)) < 0)
                return err_set(e, r, "hash %s", name);
        (void)snprintf(p->name, sizeof(p->name), "%s", name);
        p->size = size;
        return 0;
}

/* kernel-boot pvh: the ELF vmlinux inside the package's bzImage replaces
 * it as the kernel part. The same bzImage always gives the same bytes, so
 * the build stays reproducible. */
static int take_pvh_kernel(struct kmod_set *ks, const struct build_opts *o, struct mlvm_err *e)
{
        void *elf;
        size_t len;
        struct pvh_elf info;
        int r = bzimage_to_pvh(ks->kernel, ks->kernel_len, &elf, &len, &info, e);

        if (r < 0)
                return err_prefix(e, "kernel-boot pvh: boot/vmlinuz-%s", ks->release);
        progress(o, "kernel: %.1f MB ELF vmlinux from the %.1f MB bzImage's LZ4 payload, PVH entry 0x%llx",
                 (double)len / 1e6, (double)ks->kernel_len / 1e6, (unsigned long long)info.entry);
        free(ks->kernel);
        ks->kernel = elf;
        ks->kernel_len = len;
        return 0;
}

static void iso_time(long long t, char *buf, size_t len)
{
        time_t tt = (time_t)t;
        struct tm tm;
        if (!gmtime_r(&tt, &tm) || !strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm))
                (void)snprintf(buf, len, "%lld", t);
}

/* kernel-source: the kernel built from the source package with the
 * recipe's fragment (or taken from the kernel cache), as the PVH kernel
 * part; no modules. */
static int build_kernel(const char *state_dir, const struct recipe *rc, const struct apt_pkg *src, struct kmod_set *ks,
                        char config_sha256[SHA256_HEX_LEN + 1], const struct build_opts *o, struct mlvm_err *e)
{
        const char *env = getenv("MLVM_KERNEL_CACHE");
        _cleanup_free_ char *cache = env && env[0] == '/' ? xstrdup(env) : xasprintf("%s/cache/kernels", state_dir);
        struct kbuild_opts ko = { .source_deb = src->path, .source_sha256 = src->sha256, .config_file = rc->kernel_config,
                                  .cache_dir = cache, .progress = o->progress, .progress_u = o->progress_u };
        struct kbuild_result k = { 0 };
        int r = kbuild_kernel(&ko, &k, e);
        if (r < 0)
                return r;
        ks->kernel = TAKE_PTR(k.vmlinux);
        ks->kernel_len = k.len;
        ks->release = TAKE_PTR(k.release);
        ks->newest_mtime = k.source_mtime;
        memcpy(config_sha256, k.config_sha256, SHA256_HEX_LEN + 1);
        kbuild_result_clear(&k);
        return 0;
}

/* The kernel and its modules: built from source, or from a kernel package. */
static int get_kernel(const char *state_dir, const struct recipe *rc, struct apt_pkg *kpkg, struct kmod_set *ks,
                      char config_sha256[SHA256_HEX_LEN + 1], const struct build_opts *o, struct mlvm_err *e)
{
        int r;
        if (rc->kernel_source) {
                if ((r = get_deb(state_dir, o->kernel_deb, rc->kernel_source, false, kpkg, o, e)) < 0)
                        return r;
                return build_kernel(state_dir, rc, kpkg, ks, config_sha256, o, e);
        }
        if ((r = get_deb(state_dir, o->kernel_deb, rc->kernel_package, true, kpkg, o, e)) < 0)
                return r;
        progress(o, "reading kernel and modules from %s", kpkg->path);
        if ((r = kmod_from_deb(kpkg->path, rc->modules, ks, e)) < 0)
                return r;
        return recipe_kernel_pvh(rc) ? take_pvh_kernel(ks, o, e) : 0;
}

int image_sign(const char *state_dir, const char *dir, const char *key, struct mlvm_err *e)
{
        _cleanup_pkey_ EVP_PKEY *k = NULL;
        _cleanup_free_ char *mpath = xasprintf("%s/manifest.json", dir), *spath = xasprintf("%s/manifest.sig", dir);
        _cleanup_free_ char *text = NULL, *sigtext = NULL;
        char keyid[KEY_ID_LEN + 1];
        uint8_t sig[KEY_SIG_LEN];
        size_t len;
        int r;

        if ((r = key_load_private(state_dir, key, false, &k, e)) < 0)
                return r;
        if ((r = read_file_capped(mpath, MANIFEST_MAX_BYTES, &text, &len)) < 0)
                return err_set(e, r, "%s", mpath);
        if ((r = key_sign(k, text, len, sig, e)) < 0)
                return r;
        (void)key_id(k, keyid);
        sigtext = manifest_sig_serialize(keyid, sig);
        if ((r = write_file_atomic(spath, sigtext, strlen(sigtext), 0644)) < 0)
                return err_set(e, r, "%s", spath);
        return 0;
}

int image_build(const char *state_dir, const struct build_opts *o, char ret_digest[SHA256_HEX_LEN + 1],
                struct mlvm_err *e)
{
        struct recipe rc = { 0 };
        struct apt_pkg kpkg = { 0 }, bpkg = { 0 };
        struct kmod_set ks = { 0 };
        struct busybox_ctx bb = { 0 };
        struct manifest m = { 0 };
        _cleanup_(initramfs_freep) struct initramfs *ir = initramfs_new();
        _cleanup_free_ char *agent_path = o->agent ? xstrdup(o->agent) : image_find_agent();
        _cleanup_free_ void *agent = NULL;
        _cleanup_close_ int outfd = -1;
        _cleanup_free_ char *text = NULL, *mpath = NULL;
        size_t agent_len = 0;
        char config_sha256[SHA256_HEX_LEN + 1] = "";
        bool made_out = false;
        char when[64];
        int r;

        if ((r = recipe_load(o->recipe_dir, &rc, e)) < 0)
                return r;
        if ((r = read_file_capped(agent_path, AGENT_MAX, (char **)&agent, &agent_len)) < 0) {
                r = err_set(e, r, "guest agent %s (build it with make, or set MLVM_AGENT)", agent_path);
                goto out;
        }
        if ((r = get_kernel(state_dir, &rc, &kpkg, &ks, config_sha256, o, e)) < 0)
                goto out;
        if (rc.busybox) {
                if ((r = get_deb(state_dir, o->busybox_deb, rc.busybox, false, &bpkg, o, e)) < 0)
                        goto out;
                if ((r = deb_each_file(bpkg.path, take_busybox, &bb, e)) < 0)
                        goto out;
                if (!bb.data) {
                        r = err_setx(e, -ENOENT, "%s: no bin/busybox", bpkg.path);
                        goto out;
                }
        }
        if (mkdir(o->out_dir, 0755) < 0) {
                r = err_set(e, -errno, "output directory %s", o->out_dir);
                goto out;
        }
        made_out = true;
        if ((outfd = open(o->out_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
                r = err_set(e, -errno, "%s", o->out_dir);
                goto out;
        }
        progress(o, "packing initramfs: agent, %zu modules%s", ks.n, bb.data ? ", busybox" : "");
        if ((r = add_std_files(ir, &ks, &bb, rc.applets, agent, agent_len)) < 0) {
                r = err_set(e, r, "initramfs");
                goto out;
        }
        {
                _cleanup_close_ int fd = openat(outfd, "initramfs", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
                if (fd < 0) {
                        r = err_set(e, -errno, "%s/initramfs", o->out_dir);
                        goto out;
                }
                if ((r = initramfs_write(ir, fd, e)) < 0)
                        goto out;
                struct stat ist;
                if (fstat(fd, &ist) == 0)
                        progress(o, "initramfs: %.1f MB (cpio newc, uncompressed)", (double)ist.st_size / 1e6);
                if (lseek(fd, 0, SEEK_SET) < 0) {
                        r = err_set(e, -errno, "initramfs");
                        goto out;
                }
        }
        if ((r = write_part(outfd, "kernel", ks.kernel, ks.kernel_len, &m.parts[m.n_parts++], e)) < 0 ||
            (r = hash_part_file(outfd, "initramfs", &m.parts[m.n_parts++], e)) < 0)
                goto out;
        if (rc.rootfs_script) {
                _cleanup_free_ char *out = xasprintf("%s/rootfs", o->out_dir);
                char *argv[] = { rc.rootfs_script, out, NULL };
                progress(o, "running %s (this can take minutes)", rc.rootfs_script);
                if ((r = spawn_capture(argv, rc.dir, 0, NULL, e)) < 0)
                        goto out;
                if ((r = hash_part_file(outfd, "rootfs", &m.parts[m.n_parts++], e)) < 0)
                        goto out;
                progress(o, "rootfs: %.1f MB", (double)m.parts[m.n_parts - 1].size / 1e6);
        }
        const char *sde = getenv("SOURCE_DATE_EPOCH");
        uint64_t t;
        iso_time(sde && parse_uint(sde, 0, INT64_MAX, &t) == 0 ? (long long)t : ks.newest_mtime, when, sizeof(when));
        m.name = xstrdup(rc.name);
        m.recipe = xstrdup(rc.name);
        m.kernel_release = xstrdup(ks.release);
        /* With a root filesystem disk, tell the agent which disk it is. */
        m.cmdline = rc.rootfs_script ? xasprintf("%s mlvm.root=%s", rc.cmdline, IMAGE_ROOT_SERIAL) : xstrdup(rc.cmdline);
        m.agent_version = xstrdup(PACKAGE_VERSION);
        m.build_time = xstrdup(when);
        m.inputs[m.n_inputs++] = (struct image_input){ .package = xstrdup(kpkg.name), .version = xstrdup(kpkg.version) };
        memcpy(m.inputs[0].sha256, kpkg.sha256, SHA256_HEX_LEN + 1);
        if (bpkg.name) {
                m.inputs[m.n_inputs++] = (struct image_input){ .package = xstrdup(bpkg.name),
                                                               .version = xstrdup(bpkg.version) };
                memcpy(m.inputs[1].sha256, bpkg.sha256, SHA256_HEX_LEN + 1);
        }
        if (rc.kernel_source) {
                /* What the kernel was built with, beside the source package. */
                struct image_input *x = &m.inputs[m.n_inputs++];
                *x = (struct image_input){ .package = xstrdup("kernel-config"), .version = xstrdup(ks.release) };
                memcpy(x->sha256, config_sha256, SHA256_HEX_LEN + 1);
        }
        text = manifest_serialize(&m);
        mpath = xasprintf("%s/manifest.json", o->out_dir);
        if ((r = write_file_atomic(mpath, text, strlen(text), 0644)) < 0) {
                r = err_set(e, r, "%s", mpath);
                goto out;
        }
        if ((r = image_sign(state_dir, o->out_dir, o->key, e)) < 0)
                goto out;
        sha256_hex(text, strlen(text), ret_digest);
        progress(o, "built %s: sha256:%s", rc.name, ret_digest);
out:
        if (r < 0 && made_out) {
                const char *names[] = { "kernel", "initramfs", "rootfs", "manifest.json", "manifest.sig" };
                for (size_t i = 0; i < ARRAY_SIZE(names); i++)
                        if (outfd >= 0)
                                (void)unlinkat(outfd, names[i], 0);
                (void)rmdir(o->out_dir);
        }
        free(bb.data);
        manifest_clear(&m);
        kmod_set_clear(&ks);
        apt_pkg_clear(&kpkg);
        apt_pkg_clear(&bpkg);
        recipe_clear(&rc);
        return r;
}
