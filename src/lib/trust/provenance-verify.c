/* provenance-verify.c: check a run's provenance.json against its signature
 * and against the files it claims; see provenance.h. Everything read here
 * is untrusted (whoever can write the state directory may have edited the
 * envelope or the artifacts): sizes are capped, the statement is parsed
 * strictly, and the artifact tree is walked with openat() without ever
 * following a symlink. */
#include "mlvm-build.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "dsse.h"
#include "provenance-internal.h"
#include "run.h"
#include "cleanup.h"
#include "util.h"

#define SCAN_MAX_ENTRIES 10000u
#define SCAN_MAX_FILE (16ull << 30)

struct scan {
        struct artifact *v;
        size_t n, entries;
};

static const char *kind_of(mode_t m)
{
        return S_ISLNK(m) ? "a symlink" : S_ISFIFO(m) ? "a FIFO" : S_ISSOCK(m) ? "a socket"
             : S_ISCHR(m) || S_ISBLK(m) ? "a device" : "not a regular file";
}

static int scan_file(int dfd, const char *name, const char *rel, const struct stat *st0, struct scan *s,
                     struct mlvm_err *e)
{
        /* O_NONBLOCK: a FIFO swapped in after fstatat must not block the open. */
        _cleanup_close_ int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        struct stat st;
        struct artifact a = { 0 };
        int r;

        if (fd < 0 || fstat(fd, &st) < 0)
                return err_set(e, -errno, "artifacts/%s", rel);
        if (!S_ISREG(st.st_mode) || st.st_ino != st0->st_ino || st.st_dev != st0->st_dev)
                return err_setx(e, -EBADMSG, "artifacts/%s changed while it was read", rel);
        if ((r = sha256_fd(fd, SCAN_MAX_FILE, &a.size, a.sha256)) < 0)
                return err_set(e, r, "artifacts/%s", rel);
        memcpy(a.path, rel, strlen(rel) + 1);
        s->v = xreallocarray(s->v, s->n + 1, sizeof(*s->v));
        s->v[s->n++] = a;
        return 0;
}

/* DFD is owned by this call. */
static int scan_dir(int dfd, const char *prefix, struct scan *s, struct mlvm_err *e)
{
        int fd2 = fcntl(dfd, F_DUPFD_CLOEXEC, 3);
        DIR *d = fd2 >= 0 ? fdopendir(fd2) : NULL;
        struct dirent *de;
        int r = 0;

        if (!d) {
                r = err_set(e, -errno, "artifacts/%s", prefix);
                if (fd2 >= 0)
                        close(fd2);
                close(dfd);
                return r;
        }
        while (r == 0 && (errno = 0, de = readdir(d))) {
                struct stat st;
                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                _cleanup_free_ char *rel = *prefix ? xasprintf("%s/%s", prefix, de->d_name) : xstrdup(de->d_name);
                _cleanup_free_ char *q = provenance_quote(rel);
                if (++s->entries > SCAN_MAX_ENTRIES)
                        r = err_setx(e, -EBADMSG, "artifacts: more than %u entries", SCAN_MAX_ENTRIES);
                else if (!provenance_path_is_valid(rel))
                        r = err_setx(e, -EBADMSG, "artifact %.300s: path longer than %d bytes", q, ARTIFACT_PATH_MAX);
                else if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                        r = err_set(e, -errno, "artifacts/%s", rel);
                else if (S_ISDIR(st.st_mode)) {
                        int sub = openat(dfd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        r = sub < 0 ? err_set(e, -errno, "artifacts/%s", rel) : scan_dir(sub, rel, s, e);
                } else if (S_ISREG(st.st_mode))
                        r = scan_file(dfd, de->d_name, rel, &st, s, e);
                else
                        r = err_setx(e, -EBADMSG, "artifact %s is %s: only regular files and directories are allowed",
                                     q, kind_of(st.st_mode));
        }
        if (r == 0 && errno)
                r = err_set(e, -errno, "read artifacts/%s", prefix);
        closedir(d);
        close(dfd);
        return r;
}

static int cmp_artifact(const void *a, const void *b)
{
        return strcmp(((const struct artifact *)a)->path, ((const struct artifact *)b)->path);
}

int provenance_scan(const char *dir, struct artifact **ret, size_t *ret_n, struct mlvm_err *e)
{
        struct scan s = { 0 };
        int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        int r;

        if (fd < 0 && errno == ENOENT) {
                *ret = xcalloc(1, sizeof(**ret));
                *ret_n = 0;
                return 0;
        }
        if (fd < 0)
                return errno == ELOOP || errno == ENOTDIR
                               ? err_setx(e, -EBADMSG, "%s: not a directory (a symlink?)", dir)
                               : err_set(e, -errno, "%s", dir);
        if ((r = scan_dir(fd, "", &s, e)) < 0) {
                free(s.v);
                return r;
        }
        if (s.n)
                qsort(s.v, s.n, sizeof(*s.v), cmp_artifact);
        *ret = s.v ? s.v : xcalloc(1, sizeof(**ret));
        *ret_n = s.n;
        return 0;
}

/* ---- the statement ------------------------------------------------------ */

static json_object *obj(json_object *o, const char *key, json_type t)
{
        json_object *v;
        return o && json_object_object_get_ex(o, key, &v) && json_object_is_type(v, t) ? v : NULL;
}

static bool str_is(json_object *o, const char *key, const char *want)
{
        json_object *v = obj(o, key, json_type_string);
        return v && streq(json_object_get_string(v), want);
}

/* The subjects, checked and in order, as artifacts (size unknown: 0). */
static int subjects(json_object *st, struct artifact **ret, size_t *ret_n, struct mlvm_err *e)
{
        json_object *a = obj(st, "subject", json_type_array);
        _cleanup_free_ struct artifact *v = NULL;
        size_t n;

        if (!a)
                return err_setx(e, -EBADMSG, "statement: \"subject\" is not a list");
        n = json_object_array_length(a);
        if (n > SCAN_MAX_ENTRIES)
                return err_setx(e, -EBADMSG, "statement: more than %u subjects", SCAN_MAX_ENTRIES);
        v = xcalloc(n ? n : 1, sizeof(*v));
        for (size_t i = 0; i < n; i++) {
                json_object *s = json_object_array_get_idx(a, i), *d = obj(s, "digest", json_type_object);
                json_object *name = obj(s, "name", json_type_string), *sha = obj(d, "sha256", json_type_string);
                if (!json_object_is_type(s, json_type_object) || json_object_object_length(s) != 2 || !name || !d ||
                    json_object_object_length(d) != 1 || !sha || !is_sha256_hex(json_object_get_string(sha)))
                        return err_setx(e, -EBADMSG, "statement: subject %zu is not {\"name\", \"digest\": {\"sha256\"}}",
                                        i + 1);
                const char *p = json_object_get_string(name);
                _cleanup_free_ char *q = provenance_quote(p);
                if (!provenance_path_is_valid(p))
                        return err_setx(e, -EBADMSG, "statement: subject %.300s is not a relative, normalized path", q);
                if (i > 0 && strcmp(v[i - 1].path, p) >= 0)
                        return err_setx(e, -EBADMSG, "statement: subject %.300s is out of order or repeated", q);
                memcpy(v[i].path, p, strlen(p) + 1);
                memcpy(v[i].sha256, json_object_get_string(sha), SHA256_HEX_LEN + 1);
        }
        *ret = TAKE_PTR(v);
        *ret_n = n;
        return 0;
}

static int check_statement(json_object *st, const char *run_id, const char *keyid, struct mlvm_err *e)
{
        json_object *pred = obj(st, "predicate", json_type_object);
        json_object *bd = obj(pred, "buildDefinition", json_type_object), *rd = obj(pred, "runDetails", json_type_object);
        json_object *meta = obj(rd, "metadata", json_type_object), *builder = obj(rd, "builder", json_type_object);
        _cleanup_free_ char *want = xasprintf(PROVENANCE_BUILDER_PREFIX "%s", keyid);

        if (json_object_object_length(st) != 4 || !obj(st, "subject", json_type_array) || !pred)
                return err_setx(e, -EBADMSG, "statement: needs exactly \"_type\", \"subject\", \"predicateType\" and "
                                             "\"predicate\"");
        if (!str_is(st, "_type", PROVENANCE_STATEMENT_TYPE))
                return err_setx(e, -EBADMSG, "statement: _type is not " PROVENANCE_STATEMENT_TYPE);
        if (!str_is(st, "predicateType", PROVENANCE_PREDICATE_TYPE))
                return err_setx(e, -EBADMSG, "statement: predicateType is not " PROVENANCE_PREDICATE_TYPE);
        if (!str_is(bd, "buildType", PROVENANCE_BUILD_TYPE))
                return err_setx(e, -EBADMSG, "statement: buildType is not " PROVENANCE_BUILD_TYPE);
        if (!str_is(meta, "invocationId", run_id))
                return err_setx(e, -EBADMSG, "statement: invocationId is not this run (%s)", run_id);
        /* The signer must be the builder it names: a key cannot vouch for another host's run. */
        if (!str_is(builder, "id", want))
                return err_setx(e, -EBADMSG, "statement: builder.id is not %s, the key that signed it", want);
        return 0;
}

/* The files on disk against the subjects: same names, same SHA-256s. */
static int compare(const struct artifact *want, size_t nw, const struct artifact *got, size_t ng,
                   struct mlvm_err *e)
{
        size_t i = 0, j = 0;

        while (i < nw || j < ng) {
                int c = i < nw && j < ng ? strcmp(want[i].path, got[j].path) : i < nw ? -1 : 1;
                const char *p = c <= 0 ? want[i].path : got[j].path;
                _cleanup_free_ char *q = provenance_quote(p);
                if (c < 0)
                        return err_setx(e, -EBADMSG, "artifact %s is missing (it is in the provenance)", q);
                if (c > 0)
                        return err_setx(e, -EBADMSG, "artifact %s is not in the provenance (an extra file)", q);
                if (!streq(want[i].sha256, got[j].sha256))
                        return err_setx(e, -EBADMSG, "artifact %s: SHA-256 %s, the provenance says %s", q,
                                        got[j].sha256, want[i].sha256);
                i++;
                j++;
        }
        return 0;
}

static int verify(const char *state_dir, const char *run_id, json_object **ret_statement,
                  struct provenance_result *ret, struct mlvm_err *e)
{
        _cleanup_free_ char *path = run_file(state_dir, run_id, PROVENANCE_FILE), *buf = NULL;
        _cleanup_free_ char *dir = run_file(state_dir, run_id, "artifacts");
        _cleanup_free_ uint8_t *payload = NULL;
        _cleanup_free_ struct artifact *want = NULL, *got = NULL;
        _cleanup_json_ json_object *st = NULL;
        struct provenance_result res = { 0 };
        size_t len, n, nw = 0, ng = 0;
        int r = read_file_capped(path, PROVENANCE_MAX_BYTES, &buf, &len);

        if (r == -EFBIG)
                return err_setx(e, -EBADMSG, PROVENANCE_FILE ": larger than %u MiB", PROVENANCE_MAX_BYTES >> 20);
        if (r < 0)
                return err_set(e, r, "%s", path);
        if ((r = dsse_verify(state_dir, buf, len, PROVENANCE_PAYLOAD_TYPE, &payload, &n, res.keyid, &res.host_key,
                             e)) < 0)
                return err_prefix(e, PROVENANCE_FILE);
        /* Signed, but still only as good as its shape. */
        if (!(st = dsse_parse_object((const char *)payload, n)))
                return err_setx(e, -EBADMSG, PROVENANCE_FILE ": statement: not a JSON object");
        if (!streq(json_object_to_json_string_ext(st, PROVENANCE_JSON_FLAGS), (const char *)payload))
                return err_setx(e, -EBADMSG, PROVENANCE_FILE ": statement: not in the form mlvm writes");
        if ((r = check_statement(st, run_id, res.keyid, e)) < 0 || (r = subjects(st, &want, &nw, e)) < 0)
                return err_prefix(e, PROVENANCE_FILE);
        if ((r = provenance_scan(dir, &got, &ng, e)) < 0 || (r = compare(want, nw, got, ng, e)) < 0)
                return r;
        res.n_artifacts = nw;
        if (ret)
                *ret = res;
        if (ret_statement)
                *ret_statement = TAKE_PTR(st);
        return 0;
}

int provenance_verify_ex(const char *state_dir, const char *run_id, json_object **ret_statement,
                         struct provenance_result *ret, struct mlvm_err *e)
{
        if (!run_id_is_valid(run_id))
                return err_setx(e, -EINVAL, "\"%.32s\" is not a run id", run_id);
        int r = verify(state_dir, run_id, ret_statement, ret, e);
        return r < 0 ? err_prefix(e, "run %s", run_id) : 0;
}

int provenance_verify(const char *state_dir, const char *run_id, json_object **ret_statement, struct mlvm_err *e)
{
        return provenance_verify_ex(state_dir, run_id, ret_statement, NULL, e);
}
