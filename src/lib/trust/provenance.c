/* provenance.c: the in-toto statement of a run, signed as a DSSE envelope;
 * see provenance.h. The predicate is SLSA Provenance v1:
 *
 *   buildDefinition:
 *     buildType: "https://mlvm.invalid/run/v1"
 *     externalParameters: { name, kind, config (the run's mlvm.yaml entry
 *                           as used), command }
 *     internalParameters: { accel, uri (without userinfo), transport,
 *                           mlvm_run: { state, exit_code, exit_signal,
 *                                       timed_out, credentials: [{name,
 *                                       source, leases: [...]}], timings } }
 *     resolvedDependencies: [ {name: "image", uri: "mlvm-image:REF",
 *                              digest: {sha256}},
 *                             {name: "data:DISK", uri: "file:SOURCE",
 *                              digest: {sha256}} ... ]
 *   runDetails:
 *     builder: { id: "mlvm:host:<host key id>" }
 *     metadata: { invocationId: run id, startedOn, finishedOn (RFC 3339) }
 *     byproducts: []
 *
 * The run record is our own file but is read as if it were not: only the
 * fields named above are copied, each only when it has the expected type,
 * and never a credential's value (the record has none; whitelisting keeps
 * it that way). "config" and "timings" are copied whole. */
#include "mlvm-build.h"

#include <math.h>
#include <time.h>

#include "dsse.h"
#include "keys.h"
#include "provenance.h"
#include "provenance-internal.h"
#include "run.h"
#include "cleanup.h"
#include "util.h"

bool provenance_path_is_valid(const char *p)
{
        size_t n = strlen(p);

        if (n == 0 || n > ARTIFACT_PATH_MAX || p[0] == '/' || p[n - 1] == '/')
                return false;
        for (const char *c = p; *c;) {
                size_t len = strcspn(c, "/");
                if (len == 0 || (len == 1 && c[0] == '.') || (len == 2 && c[0] == '.' && c[1] == '.'))
                        return false;
                c += len;
                if (*c == '/')
                        c++;
        }
        return true;
}

char *provenance_quote(const char *s)
{
        _cleanup_json_ json_object *o = json_object_new_string(s);
        return xstrdup(json_object_to_json_string_ext(o, PROVENANCE_JSON_FLAGS));
}

static json_object *member(json_object *o, const char *key, json_type t)
{
        json_object *v;
        return o && json_object_object_get_ex(o, key, &v) && json_object_is_type(v, t) ? v : NULL;
}

static void add_str(json_object *o, const char *key, const char *v)
{
        if (v)
                json_object_object_add(o, key, json_object_new_string(v));
}

static void add_copy(json_object *o, const char *key, json_object *v)
{
        json_object *c = NULL;
        if (v && json_object_deep_copy(v, &c, NULL) == 0)
                json_object_object_add(o, key, c);
}

/* Unix seconds (int or double member KEY) as RFC 3339 UTC, or NULL. */
static bool rfc3339(json_object *run, const char *key, char buf[32])
{
        json_object *v;
        if (!json_object_object_get_ex(run, key, &v) ||
            !(json_object_is_type(v, json_type_double) || json_object_is_type(v, json_type_int)))
                return false;
        double t = json_object_get_double(v);
        if (!isfinite(t) || t < 0 || t >= 253402300800.0)   /* year 10000 */
                return false;
        time_t s = (time_t)t;
        struct tm tm;
        return gmtime_r(&s, &tm) && strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 20;
}

/* A libvirt URI without its userinfo (qemu+ssh://user:pw@host/...): what
 * connected matters, not as whom. */
static char *uri_without_userinfo(const char *uri)
{
        const char *p = strstr(uri, "://");
        if (!p)
                return xstrdup(uri);
        const char *auth = p + 3, *at = NULL;
        for (const char *q = auth; *q && !strchr("/?#", *q); q++)
                if (*q == '@')
                        at = q;
        return at ? xasprintf("%.*s%s", (int)(auth - uri), uri, at + 1) : xstrdup(uri);
}

static json_object *digest_of(const char *hex)
{
        json_object *d = json_object_new_object();
        json_object_object_add(d, "sha256", json_object_new_string(hex));
        return d;
}

static json_object *resolved_dependencies(json_object *run)
{
        json_object *deps = json_object_new_array(), *img = json_object_new_object(), *disks;
        const char *ref = json_str(run, "image"), *digest = json_str(run, "image_digest");

        json_object_object_add(img, "name", json_object_new_string("image"));
        if (ref) {
                _cleanup_free_ char *uri = xasprintf("mlvm-image:%s", ref);
                add_str(img, "uri", uri);
        }
        if (digest && strstartswith(digest, "sha256:"))
                digest += 7;
        if (digest && is_sha256_hex(digest))
                json_object_object_add(img, "digest", digest_of(digest));
        json_object_array_add(deps, img);
        if (!(disks = member(run, "data_disks", json_type_array)))
                return deps;
        for (size_t i = 0; i < json_object_array_length(disks); i++) {
                json_object *d = json_object_array_get_idx(disks, i);
                const char *name = json_str(d, "name"), *src = json_str(d, "source"), *sha = json_str(d, "sha256");
                if (!name)
                        continue;
                json_object *x = json_object_new_object();
                _cleanup_free_ char *n = xasprintf("data:%s", name), *uri = src ? xasprintf("file:%s", src) : NULL;
                add_str(x, "name", n);
                add_str(x, "uri", uri);
                if (sha && is_sha256_hex(sha))
                        json_object_object_add(x, "digest", digest_of(sha));
                json_object_array_add(deps, x);
        }
        return deps;
}

/* Granted credentials by name, kind of source and lease ids: never values. */
static json_object *credentials(json_object *run)
{
        json_object *out = json_object_new_array(), *creds = member(run, "creds", json_type_array);

        for (size_t i = 0; creds && i < json_object_array_length(creds); i++) {
                json_object *c = json_object_array_get_idx(creds, i), *leases = member(c, "leases", json_type_array);
                const char *name = json_str(c, "name"), *from = json_str(c, "from");
                if (!name)
                        continue;
                json_object *o = json_object_new_object(), *l = json_object_new_array();
                add_str(o, "name", name);
                if (from)
                        add_str(o, "source", strstartswith(from, "store:") ? "store"
                                             : strstartswith(from, "exec:") ? "exec" : "jwt");
                if (leases) {
                        for (size_t j = 0; j < json_object_array_length(leases); j++) {
                                json_object *v = json_object_array_get_idx(leases, j);
                                if (json_object_is_type(v, json_type_string))
                                        json_object_array_add(l, json_object_new_string(json_object_get_string(v)));
                        }
                } else {
                        const char *prev = json_str(c, "previous_lease"), *cur = json_str(c, "lease");
                        if (prev && *prev)
                                json_object_array_add(l, json_object_new_string(prev));
                        if (cur && *cur)
                                json_object_array_add(l, json_object_new_string(cur));
                }
                json_object_object_add(o, "leases", l);
                json_object_array_add(out, o);
        }
        return out;
}

static json_object *mlvm_run(json_object *run)
{
        json_object *o = json_object_new_object(), *v;

        add_str(o, "state", json_str(run, "state"));
        if ((v = member(run, "exit_code", json_type_int)))
                json_object_object_add(o, "exit_code", json_object_new_int64(json_object_get_int64(v)));
        if ((v = member(run, "exit_signal", json_type_int)))
                json_object_object_add(o, "exit_signal", json_object_new_int64(json_object_get_int64(v)));
        if ((v = member(run, "timed_out", json_type_boolean)))
                json_object_object_add(o, "timed_out", json_object_new_boolean(json_object_get_boolean(v)));
        json_object_object_add(o, "credentials", credentials(run));
        add_copy(o, "timings", member(run, "timings", json_type_object));
        return o;
}

static json_object *build_definition(json_object *run)
{
        json_object *bd = json_object_new_object(), *ext = json_object_new_object(), *in = json_object_new_object();
        json_object *cmd = member(run, "command", json_type_array);
        const char *uri = json_str(run, "uri");

        json_object_object_add(bd, "buildType", json_object_new_string(PROVENANCE_BUILD_TYPE));
        add_str(ext, "name", json_str(run, "name"));
        add_str(ext, "kind", json_str(run, "kind"));
        add_copy(ext, "config", member(run, "config", json_type_object));
        if (cmd) {
                json_object *a = json_object_new_array();
                for (size_t i = 0; i < json_object_array_length(cmd); i++) {
                        json_object *v = json_object_array_get_idx(cmd, i);
                        if (json_object_is_type(v, json_type_string))
                                json_object_array_add(a, json_object_new_string(json_object_get_string(v)));
                }
                json_object_object_add(ext, "command", a);
        }
        json_object_object_add(bd, "externalParameters", ext);
        add_str(in, "accel", json_str(run, "accel"));
        if (uri) {
                _cleanup_free_ char *u = uri_without_userinfo(uri);
                add_str(in, "uri", u);
        }
        add_str(in, "transport", json_str(run, "transport"));
        json_object_object_add(in, "mlvm_run", mlvm_run(run));
        json_object_object_add(bd, "internalParameters", in);
        json_object_object_add(bd, "resolvedDependencies", resolved_dependencies(run));
        return bd;
}

static json_object *run_details(const char *run_id, json_object *run, const char *keyid)
{
        static const char *const ends[] = { RUN_EXITED, RUN_FAILED, RUN_STOPPED };
        json_object *rd = json_object_new_object(), *b = json_object_new_object(), *m = json_object_new_object();
        _cleanup_free_ char *id = xasprintf(PROVENANCE_BUILDER_PREFIX "%s", keyid);
        const char *state = json_str(run, "state");
        char t[32];

        add_str(b, "id", id);
        json_object_object_add(rd, "builder", b);
        add_str(m, "invocationId", run_id);
        if (rfc3339(run, "created_at", t))
                add_str(m, "startedOn", t);
        /* The end of the state the run is in, else whichever end was stamped. */
        bool found = false;
        if (state && !run_state_is_live(state)) {
                _cleanup_free_ char *key = xasprintf("%s_at", state);
                found = rfc3339(run, key, t);
        }
        for (size_t i = 0; i < ARRAY_SIZE(ends) && !found; i++) {
                _cleanup_free_ char *key = xasprintf("%s_at", ends[i]);
                found = rfc3339(run, key, t);
        }
        if (found)
                add_str(m, "finishedOn", t);
        json_object_object_add(rd, "metadata", m);
        json_object_object_add(rd, "byproducts", json_object_new_array());
        return rd;
}

static int cmp_artifact(const void *a, const void *b)
{
        return strcmp(((const struct artifact *)a)->path, ((const struct artifact *)b)->path);
}

int provenance_statement(const char *run_id, json_object *run, const struct artifact *arts, size_t n,
                         const char *keyid, json_object **ret, struct mlvm_err *e)
{
        _cleanup_free_ struct artifact *v = xcalloc(n ? n : 1, sizeof(*v));

        if (n)
                memcpy(v, arts, n * sizeof(*v));
        for (size_t i = 0; i < n; i++) {
                if (!provenance_path_is_valid(v[i].path)) {
                        _cleanup_free_ char *q = provenance_quote(v[i].path);
                        return err_setx(e, -EINVAL, "artifact %s: not a relative, normalized path", q);
                }
                if (!is_sha256_hex(v[i].sha256)) {
                        _cleanup_free_ char *q = provenance_quote(v[i].path);
                        return err_setx(e, -EINVAL, "artifact %s: not a SHA-256 in hex", q);
                }
        }
        if (n)
                qsort(v, n, sizeof(*v), cmp_artifact);
        for (size_t i = 1; i < n; i++)
                if (streq(v[i - 1].path, v[i].path)) {
                        _cleanup_free_ char *q = provenance_quote(v[i].path);
                        return err_setx(e, -EINVAL, "artifact %s: listed twice", q);
                }
        json_object *st = json_object_new_object(), *subj = json_object_new_array(), *pred = json_object_new_object();
        for (size_t i = 0; i < n; i++) {
                json_object *s = json_object_new_object();
                add_str(s, "name", v[i].path);
                json_object_object_add(s, "digest", digest_of(v[i].sha256));
                json_object_array_add(subj, s);
        }
        json_object_object_add(st, "_type", json_object_new_string(PROVENANCE_STATEMENT_TYPE));
        json_object_object_add(st, "subject", subj);
        json_object_object_add(st, "predicateType", json_object_new_string(PROVENANCE_PREDICATE_TYPE));
        json_object_object_add(pred, "buildDefinition", build_definition(run));
        json_object_object_add(pred, "runDetails", run_details(run_id, run, keyid));
        json_object_object_add(st, "predicate", pred);
        *ret = st;
        return 0;
}

/* The statement's bytes, in the one form that parses back to itself: what
 * is signed is exactly what any reader, and our own verify, will see. */
static int canonical_bytes(json_object *st, char **ret, struct mlvm_err *e)
{
        const char *first = json_object_to_json_string_ext(st, PROVENANCE_JSON_FLAGS);
        _cleanup_json_ json_object *again = dsse_parse_object(first, strlen(first));
        if (!again)
                return err_setx(e, -EINVAL, "the statement is not strict JSON (a NaN or infinity in the run record?)");
        _cleanup_free_ char *text = xstrdup(json_object_to_json_string_ext(again, PROVENANCE_JSON_FLAGS));
        _cleanup_json_ json_object *third = dsse_parse_object(text, strlen(text));
        if (!third || !streq(json_object_to_json_string_ext(third, PROVENANCE_JSON_FLAGS), text))
                return err_setx(e, -EINVAL, "the statement does not serialize stably");
        *ret = TAKE_PTR(text);
        return 0;
}

int provenance_write(const char *state_dir, const char *run_id, json_object *run, const struct artifact *arts,
                     size_t n, char ret_sha256[SHA256_HEX_LEN + 1], struct mlvm_err *e)
{
        _cleanup_pkey_ EVP_PKEY *key = NULL;
        _cleanup_json_ json_object *st = NULL;
        _cleanup_free_ char *payload = NULL, *env = NULL, *text = NULL, *path = NULL;
        char keyid[KEY_ID_LEN + 1];
        int r;

        if (!run_id_is_valid(run_id))
                return err_setx(e, -EINVAL, "\"%.32s\" is not a run id", run_id);
        if ((r = key_load_private(state_dir, KEY_HOST, true, &key, e)) < 0)
                return err_prefix(e, "provenance of run %s", run_id);
        if (key_id(key, keyid) < 0)
                return err_setx(e, -EINVAL, "provenance of run %s: cannot compute the host key id", run_id);
        if ((r = provenance_statement(run_id, run, arts, n, keyid, &st, e)) < 0 ||
            (r = canonical_bytes(st, &payload, e)) < 0 ||
            (r = dsse_sign(key, PROVENANCE_PAYLOAD_TYPE, payload, strlen(payload), &env, e)) < 0)
                return err_prefix(e, "provenance of run %s", run_id);
        text = xasprintf("%s\n", env);
        if (strlen(text) > PROVENANCE_MAX_BYTES)
                return err_setx(e, -EFBIG, "provenance of run %s: larger than %u MiB", run_id,
                                PROVENANCE_MAX_BYTES >> 20);
        path = run_file(state_dir, run_id, PROVENANCE_FILE);
        /* 0600 like every state file: it names the run's credentials' leases. */
        if ((r = write_file_atomic(path, text, strlen(text), 0600)) < 0)
                return err_set(e, r, "write %s", path);
        if (ret_sha256)
                sha256_hex(text, strlen(text), ret_sha256);
        return 0;
}
