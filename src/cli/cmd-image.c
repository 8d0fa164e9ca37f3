/* cmd-image.c: mlvm image build | import | verify | ls | rm | sign. */
#include "mlvm-build.h"

#include <sys/stat.h>

#include "audit.h"
#include "cleanup.h"
#include "cli.h"
#include "image-build.h"
#include "keys.h"
#include "paths.h"
#include "run.h"
#include "store.h"
#include "util.h"
#include "virt.h"
#include "volume.h"

#define DEFAULT_BUILD_KEY "builder"
#define MAX_TAGS 16

struct image_opts {
        const char *tags[MAX_TAGS + 1];
        size_t n_tags;
        const char *out, *kernel_deb, *busybox_deb, *key;
        bool local, no_import;
};

/* A step of a build or an import, on stderr (U: "image build", "image import"). */
static void print_progress(void *u, const char *line)
{
        fprintf(stderr, "mlvm: %s: %s\n", u ? (const char *)u : "image build", line);
}

/* Record EVENT with FIELDS (consumed). An event the log refuses fails the
 * command: an unaudited import or removal is not a success. */
static int audit(struct cli *cli, const char *state, const char *event, json_object *fields)
{
        struct mlvm_err e = { 0 };
        int r = audit_append(state, event, fields, &e);
        json_object_put(fields);
        if (r < 0)
                cli_error(cli, "audit log: %s", e.msg);
        return r;
}

static json_object *fields(const char *k1, const char *v1, const char *k2, const char *v2)
{
        json_object *o = json_object_new_object();
        if (k1 && v1)
                json_object_object_add(o, k1, json_object_new_string(v1));
        if (k2 && v2)
                json_object_object_add(o, k2, json_object_new_string(v2));
        return o;
}

static int on_opt(struct cli *cli, int c, const char *arg, void *u)
{
        struct image_opts *o = u;
        switch (c) {
        case 't':
                if (o->n_tags == MAX_TAGS) {
                        cli_usage_error(cli, "at most %d --tag options", MAX_TAGS);
                        return -1;
                }
                o->tags[o->n_tags++] = arg;
                return 0;
        case 'o': o->out = arg; return 0;
        case 'K': o->kernel_deb = arg; return 0;
        case 'B': o->busybox_deb = arg; return 0;
        case 'k': o->key = arg; return 0;
        case 'L': o->local = true; return 0;
        case 'N': o->no_import = true; return 0;
        default: return -1;
        }
}

/* The pool for uploads, unless --local. */
static int open_pool(struct cli *cli, const struct image_opts *o, virConnectPtr *conn, virStoragePoolPtr *pool,
                     struct mlvm_err *e)
{
        if (o->local)
                return 0;
        int r = virt_connect(cli->uri, conn, e);
        return r < 0 ? r : volume_pool(*conn, mlvm_pool_name(), pool, e);
}

/* store_import's opener: the connection is opened after the copy into the store. */
struct pool_opener {
        struct cli *cli;
        const struct image_opts *o;
        virConnectPtr conn;
        virStoragePoolPtr pool;
};

static int open_pool_late(void *u, virStoragePoolPtr *ret_pool, struct mlvm_err *e)
{
        struct pool_opener *p = u;
        int r = open_pool(p->cli, p->o, &p->conn, &p->pool, e);
        *ret_pool = p->pool;
        return r;
}

static int ensure_build_key(struct cli *cli, const char *state, const char *name, struct mlvm_err *e)
{
        _cleanup_free_ char *priv = xasprintf("%s/keys/%s.key", state, name);
        char id[KEY_ID_LEN + 1];
        int r;

        if (access(priv, F_OK) == 0)
                return 0;
        if (!streq(name, DEFAULT_BUILD_KEY))
                return err_setx(e, -ENOENT, "key %s does not exist (mlvm key gen %s)", name, name);
        /* First build on this host: a local publisher key, trusted here only. */
        if ((r = key_gen(state, name, id, e)) < 0 || (r = key_trust_own(state, name, e)) < 0)
                return r;
        if (cli->verbosity >= 0)
                fprintf(stderr, "mlvm: image build: created signing key %s (id %s) and trusted it on this host\n",
                        name, id);
        return 0;
}

static int do_import(struct cli *cli, const char *state, const struct image_opts *o, const char *dir,
                     const char *default_tag, char digest[SHA256_HEX_LEN + 1], struct mlvm_err *e)
{
        _cleanup_virConnect_ virConnectPtr conn = NULL;
        _cleanup_virStoragePool_ virStoragePoolPtr pool = NULL;
        struct pool_opener po = { .cli = cli, .o = o };
        const char *tags[MAX_TAGS + 2];
        size_t n = 0;
        int r;

        for (size_t i = 0; i < o->n_tags; i++)
                tags[n++] = o->tags[i];
        if (!n && default_tag)
                tags[n++] = default_tag;
        tags[n] = NULL;
        const struct store_progress pr = { .line = print_progress, .u = (void *)"image import" };
        r = store_import(state, dir, (char *const *)tags, open_pool_late, &po, cli_progress(cli) ? &pr : NULL,
                         digest, e);
        conn = po.conn;
        pool = po.pool;
        if (r < 0) {
                (void)audit(cli, state, "image.import-refused", fields("source", dir, "reason", e->msg));
                return r;
        }
        json_object *f = fields("digest", digest, "source", dir);
        json_object *t = json_object_new_array();
        for (size_t i = 0; i < n; i++)
                json_object_array_add(t, json_object_new_string(tags[i]));
        json_object_object_add(f, "tags", t);
        json_object_object_add(f, "uploaded", json_object_new_boolean(pool != NULL && !o->local));
        if (audit(cli, state, "image.import", f) < 0)
                return err_setx(e, -EIO, "imported sha256:%s, but the audit log refused the event", digest);
        return 0;
}

static int print_digest(struct cli *cli, const char *what, const char *digest)
{
        if (cli->json) {
                _cleanup_json_ json_object *j = json_object_new_object();
                json_object_object_add(j, "digest", json_object_new_string(digest));
                cli_print_json(j);
        } else if (cli->verbosity >= 0)
                printf("%s sha256:%s\n", what, digest);
        return EXIT_OK;
}

static int cmd_build(struct cli *cli, void *opts, int argc, char **argv)
{
        const struct image_opts *o = opts;
        _cleanup_free_ char *state = mlvm_state_dir();
        struct mlvm_err e = { 0 };
        char digest[SHA256_HEX_LEN + 1];
        _cleanup_free_ char *tmp = NULL, *name = NULL;
        struct build_opts b = {
                .kernel_deb = o->kernel_deb, .busybox_deb = o->busybox_deb,
                .key = o->key ? o->key : DEFAULT_BUILD_KEY,
                .progress = cli_progress(cli) ? print_progress : NULL,
        };
        int r;

        b.recipe_dir = argv[0];
        if (mkdir_p(state, 0700) < 0 || ensure_build_key(cli, state, b.key, &e) < 0)
                return e.msg[0] ? cli_fail(cli, &e) : (cli_error(cli, "state directory %s", state), EXIT_FAIL);
        if (o->out)
                b.out_dir = o->out;
        else {
                if (o->no_import)
                        return cli_usage_error(cli, "--no-import needs --out DIR"), EXIT_USAGE;
                tmp = xasprintf("%s/images/.build-%ld", state, (long)getpid());
                _cleanup_free_ char *parent = xasprintf("%s/images", state);
                (void)mkdir_p(parent, 0700);
                b.out_dir = tmp;
        }
        r = image_build(state, &b, digest, &e);
        if (r == 0 && audit(cli, state, "image.build", fields("recipe", b.recipe_dir, "digest", digest)) < 0)
                r = err_setx(&e, -EIO, "built sha256:%s, but the audit log refused the event", digest);
        if (r == 0 && !o->no_import) {
                /* Tag with the recipe's name unless --tag says otherwise. */
                const char *base = strrchr(b.recipe_dir, '/');
                name = xstrdup(base && base[1] ? base + 1 : b.recipe_dir);
                _cleanup_free_ char *mpath = xasprintf("%s/manifest.json", b.out_dir), *text = NULL;
                struct manifest m = { 0 };
                size_t len;
                if (read_file_capped(mpath, MANIFEST_MAX_BYTES, &text, &len) == 0 && manifest_parse(text, len, &m, NULL) == 0) {
                        free(name);
                        name = xstrdup(m.name);
                        manifest_clear(&m);
                }
                char got[SHA256_HEX_LEN + 1];
                r = do_import(cli, state, o, b.out_dir, name, got, &e);
        }
        if (tmp) {
                const char *names[] = { "kernel", "initramfs", "rootfs", "manifest.json", "manifest.sig" };
                for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
                        _cleanup_free_ char *p = xasprintf("%s/%s", tmp, names[i]);
                        (void)unlink(p);
                }
                (void)rmdir(tmp);
        }
        if (r < 0)
                return cli_fail(cli, &e);
        return print_digest(cli, o->no_import ? "built" : "built and imported", digest);
}

static int cmd_import(struct cli *cli, void *opts, int argc, char **argv)
{
        const struct image_opts *o = opts;
        _cleanup_free_ char *state = mlvm_state_dir();
        struct mlvm_err e = { 0 };
        char digest[SHA256_HEX_LEN + 1];

        if (mkdir_p(state, 0700) < 0)
                return cli_error(cli, "state directory %s", state), EXIT_FAIL;
        if (do_import(cli, state, o, argv[0], NULL, digest, &e) < 0)
                return cli_fail(cli, &e);
        return print_digest(cli, "imported", digest);
}

static int cmd_verify(struct cli *cli, void *opts, int argc, char **argv)
{
        const struct image_opts *o = opts;
        _cleanup_free_ char *state = mlvm_state_dir();
        struct mlvm_err e = { 0 };
        char digest[SHA256_HEX_LEN + 1];
        struct verify_report v;
        _cleanup_virConnect_ virConnectPtr conn = NULL;
        _cleanup_virStoragePool_ virStoragePoolPtr pool = NULL;
        int r;

        /* A name that is not in the store, or a pool that cannot be
         * reached, verified nothing: only a failed verification is a
         * security event for the audit log. */
        if (store_resolve(state, argv[0], digest, &e) < 0 || open_pool(cli, o, &conn, &pool, &e) < 0)
                return cli_fail(cli, &e);
        const struct store_progress pr = { .line = print_progress, .u = (void *)"image verify" };
        if ((r = store_verify(state, digest, pool, NULL, cli_progress(cli) ? &pr : NULL, &v, &e)) < 0) {
                (void)audit(cli, state, "image.verify-failed", fields("digest", digest, "reason", e.msg));
                return cli_fail(cli, &e);
        }
        if (cli->json) {
                _cleanup_json_ json_object *j = json_object_new_object();
                json_object *items = json_object_new_array();
                json_object_object_add(j, "digest", json_object_new_string(v.digest));
                json_object_object_add(j, "key", json_object_new_string(v.keyid));
                json_object_object_add(j, "bytes", json_object_new_uint64(v.bytes));
                for (size_t i = 0; i < v.n; i++)
                        json_object_array_add(items, json_object_new_string(v.items[i].what));
                json_object_object_add(j, "verified", items);
                cli_print_json(j);
        } else if (cli->verbosity >= 0) {
                printf("%s: ok (sha256:%s, signed by key %s)\n", argv[0], v.digest, v.keyid);
                for (size_t i = 0; i < v.n; i++)
                        printf("  %-18s ok%s\n", v.items[i].what, v.items[i].bytes ? "" : "");
        }
        return EXIT_OK;
}

static int cmd_ls(struct cli *cli, void *opts, int argc, char **argv)
{
        _cleanup_free_ char *state = mlvm_state_dir();
        struct mlvm_err e = { 0 };
        struct store_tag *t = NULL;
        size_t n = 0;

        if (store_list_tags(state, &t, &n, &e) < 0)
                return cli_fail(cli, &e);
        if (cli->json) {
                _cleanup_json_ json_object *a = json_object_new_array();
                for (size_t i = 0; i < n; i++) {
                        json_object *x = json_object_new_object();
                        json_object_object_add(x, "tag", json_object_new_string(t[i].tag));
                        json_object_object_add(x, "digest", t[i].digest ? json_object_new_string(t[i].digest) : NULL);
                        json_object_object_add(x, "present", json_object_new_boolean(t[i].present));
                        json_object_array_add(a, x);
                }
                cli_print_json(a);
        } else {
                printf("%-32s %s\n", "TAG", "DIGEST");
                for (size_t i = 0; i < n; i++)
                        printf("%-32s %s%s\n", t[i].tag, t[i].digest ? t[i].digest : "(malformed tag)",
                               t[i].digest && !t[i].present ? " (missing from the store)" : "");
        }
        store_tags_free(t, n);
        return EXIT_OK;
}

static int cmd_rm(struct cli *cli, void *opts, int argc, char **argv)
{
        const struct image_opts *o = opts;
        _cleanup_free_ char *state = mlvm_state_dir();
        struct mlvm_err e = { 0 };
        _cleanup_virConnect_ virConnectPtr conn = NULL;
        _cleanup_virStoragePool_ virStoragePoolPtr pool = NULL;
        bool removed = false;

        char digest[SHA256_HEX_LEN + 1] = "";
        int r = open_pool(cli, o, &conn, &pool, &e);
        if (r == 0)
                r = store_resolve(state, argv[0], digest, &e);
        char user[RUN_ID_LEN + 1];
        if (r == 0 && run_using_image(state, digest, user) == 0)
                r = err_setx(&e, -EBUSY, "%s: in use by run %s (mlvm down it first)", argv[0], user);
        if (r == 0)
                r = store_rm(state, argv[0], pool, &removed, &e);
        if (r < 0)
                return cli_fail(cli, &e);
        json_object *f = fields("image", argv[0], "digest", digest);
        json_object_object_add(f, "removed", json_object_new_boolean(removed));
        if (audit(cli, state, "image.rm", f) < 0)
                return EXIT_FAIL;
        if (cli->verbosity >= 0 && !cli->json)
                printf("%s: %s\n", argv[0], removed ? "removed (image and volumes)" : "tag removed; the image has other tags");
        return EXIT_OK;
}

static int cmd_sign(struct cli *cli, void *opts, int argc, char **argv)
{
        const struct image_opts *o = opts;
        _cleanup_free_ char *state = mlvm_state_dir();
        struct mlvm_err e = { 0 };
        if (image_sign(state, argv[0], o->key ? o->key : DEFAULT_BUILD_KEY, &e) < 0)
                return cli_fail(cli, &e);
        return EXIT_OK;
}

static const struct subverb subs[] = {
        { "build", { .min = 1, .max = 1, .name = "recipe directory" }, cmd_build },
        { "import", { .min = 1, .max = 1, .name = "image directory" }, cmd_import },
        { "verify", { .min = 1, .max = 1, .name = "image (NAME[:TAG] or sha256:DIGEST)" }, cmd_verify },
        { "ls", { .min = 0, .max = 0 }, cmd_ls },
        { "rm", { .min = 1, .max = 1, .name = "image" }, cmd_rm },
        { "sign", { .min = 1, .max = 1, .name = "image directory" }, cmd_sign },
        { NULL },
};

static const struct option options[] = {
        { "tag", required_argument, NULL, 't' },
        { "out", required_argument, NULL, 'o' },
        { "kernel-deb", required_argument, NULL, 'K' },
        { "busybox-deb", required_argument, NULL, 'B' },
        { "key", required_argument, NULL, 'k' },
        { "local", no_argument, NULL, 'L' },
        { "no-import", no_argument, NULL, 'N' },
        { NULL, 0, NULL, 0 },
};

const struct verb verb_image = {
        .name = "image",
        .summary = "Build, import, verify, list and remove signed guest images",
        .usage = "build RECIPE_DIR | import DIR | verify IMAGE | ls | rm IMAGE | sign DIR",
        .help = "  build RECIPE_DIR    build an image (e.g. images/minimal), sign it, import it\n"
                "  import DIR          import an image directory signed by a trusted key\n"
                "  verify IMAGE        re-verify an image in the store and its pool volumes\n"
                "  ls                  list tags and digests\n"
                "  rm IMAGE            remove a tag; the image and its volumes go with its last tag\n"
                "  sign DIR            sign DIR/manifest.json into DIR/manifest.sig (--key)\n"
                "  -t, --tag NAME[:TAG]  tag to set (repeatable; build default: the recipe's name)\n"
                "  -o, --out DIR       build: write the image directory here\n"
                "      --no-import     build: only write --out DIR\n"
                "  -k, --key NAME      signing key (default builder, created on first build)\n"
                "      --kernel-deb F  build: use this kernel .deb instead of fetching it with apt\n"
                "      --busybox-deb F build: use this busybox-static .deb\n"
                "      --local         do not upload to or check the libvirt storage pool\n",
        .shortopts = "t:o:k:",
        .options = options,
        .on_opt = on_opt,
        .opts_size = sizeof(struct image_opts),
        .subs = subs,
};
