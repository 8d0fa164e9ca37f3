/* test-provenance.c: signed run provenance (src/lib/trust/provenance.c,
 * src/lib/trust/provenance-verify.c, src/lib/trust/dsse.c). The envelope is taken apart and its
 * signature checked here with OpenSSL directly over a PAE rebuilt by hand,
 * so a PAE or base64 bug in the writer shows even when the reader shares
 * it; forged envelopes are built by hand the same way. Every test gets its
 * own state directory with one fake run. */
#include "mlvm-build.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <json-c/json.h>

#include "keys.h"
#include "provenance.h"
#include "run.h"
#include "util.h"
#include "virt.h"

#define RUN "1a2b3c4d"
#define IMG "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define DISK "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

/* A record as up and the monitor write it, plus decoys the whitelist must drop. */
static const char record[] =
        "{\"id\":\"" RUN "\",\"name\":\"exp-1\",\"kind\":\"experiment\",\"state\":\"exited\","
        "\"created_at\":1763857200.25,\"ready_at\":1763857202.5,\"exited_at\":1763857260.75,"
        "\"uri\":\"qemu+ssh://alice:hunter2@gpu-7/system?keyfile=/k\",\"image\":\"minimal\","
        "\"image_digest\":\"" IMG "\",\"accel\":\"tcg\",\"transport\":\"virtio-serial\","
        "\"config\":{\"image\":\"minimal\",\"vcpus\":1,\"memory\":\"256M\","
        "\"secrets\":{\"API_KEY\":{\"from\":\"store:k\",\"ttl\":\"10m\"}}},"
        "\"command\":[\"python3\",\"/opt/exp/train.py\"],"
        "\"data_disks\":[{\"name\":\"weights\",\"source\":\"./weights\",\"sha256\":\"" DISK "\"}],"
        "\"creds\":[{\"name\":\"API_KEY\",\"from\":\"store:k\",\"lease\":\"l-2\",\"previous_lease\":\"l-1\","
        "\"fingerprint\":\"hmac-sha256:00\",\"value\":\"sk-DECOY\"},"
        "{\"name\":\"RUN_TOKEN\",\"from\":\"jwt\",\"leases\":[\"j-1\",\"j-2\",\"j-3\"],\"lease\":\"j-3\"}],"
        "\"secret\":\"sk-DECOY2\",\"env\":{\"X\":\"sk-DECOY3\"},"
        "\"exit_code\":3,\"exit_signal\":0,\"timed_out\":false,\"timings\":{\"verify_image_s\":0.5}}";

struct fixture {
        char *dir, *run_dir, *arts, *prov;
        json_object *run;
};

static void put(const char *path, const char *text)
{
        assert_int_equal(write_file_atomic(path, text, strlen(text), 0600), 0);
}

__attribute__((noinline)) static char *slurp(const char *path, size_t *len)
{
        char *buf = NULL;
        assert_int_equal(read_file_capped(path, 64u << 20, &buf, len), 0);
        return buf;
}

static int setup(void **state)
{
        char tmpl[] = "/tmp/mlvm-test-provenance-XXXXXX";
        struct fixture *f = xcalloc(1, sizeof(*f));

        assert_non_null(mkdtemp(tmpl));
        f->dir = xstrdup(tmpl);
        f->run_dir = run_dir(f->dir, RUN);
        f->arts = run_file(f->dir, RUN, "artifacts");
        f->prov = run_file(f->dir, RUN, PROVENANCE_FILE);
        _cleanup_free_ char *sub = xasprintf("%s/sub", f->arts), *empty = xasprintf("%s/empty", f->arts);
        assert_int_equal(mkdir_p(f->run_dir, 0700), 0);
        assert_int_equal(mkdir(f->arts, 0700), 0);
        assert_int_equal(mkdir(sub, 0700), 0);
        assert_int_equal(mkdir(empty, 0700), 0);
        _cleanup_free_ char *a = xasprintf("%s/model.bin", f->arts), *b = xasprintf("%s/metrics.json", f->arts);
        _cleanup_free_ char *c = xasprintf("%s/sub/log.txt", f->arts);
        put(a, "weights\n");
        put(b, "{\"acc\":0.9}\n");
        put(c, "");
        f->run = json_tokener_parse(record);
        assert_non_null(f->run);
        *state = f;
        return 0;
}

static int teardown(void **state)
{
        struct fixture *f = *state;
        _cleanup_free_ char *cmd = xasprintf("rm -rf -- '%s'", f->dir);
        assert_int_equal(system(cmd), 0);
        json_object_put(f->run);
        free(f->dir);
        free(f->run_dir);
        free(f->arts);
        free(f->prov);
        free(f);
        return 0;
}

static void sha256_of(const void *data, size_t len, char hex[65])
{
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int n = 0;
        assert_int_equal(EVP_Digest(data, len, md, &n, EVP_sha256(), NULL), 1);
        for (unsigned i = 0; i < n; i++)
                (void)snprintf(hex + 2 * i, 3, "%02x", md[i]);
}

/* Write the run's provenance over what is on disk now. */
static void write_prov(struct fixture *f)
{
        _cleanup_free_ struct artifact *arts = NULL;
        struct mlvm_err e = { 0 };
        size_t n = 0;
        if (provenance_scan(f->arts, &arts, &n, &e) < 0 || provenance_write(f->dir, RUN, f->run, arts, n, NULL, &e) < 0)
                fail_msg("write: %s", e.msg);
}

/* provenance_verify fails with -EBADMSG and a message containing WANT. */
static void expect_fail(struct fixture *f, const char *want)
{
        struct mlvm_err e = { 0 };
        json_object *st = NULL;
        assert_int_equal(provenance_verify(f->dir, RUN, &st, &e), -EBADMSG);
        assert_null(st);
        if (!strstr(e.msg, want))
                fail_msg("message \"%s\" lacks \"%s\"", e.msg, want);
        assert_null(strchr(e.msg, '\n'));
}

/* Independent base64 (RFC 4648, standard alphabet, padded) decoding. */
static uint8_t *b64dec(const char *s, size_t *ret_len)
{
        static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        size_t n = strlen(s), o = 0;
        uint8_t *out = xmalloc(n / 4 * 3 + 1);
        uint32_t acc = 0;
        int bits = 0;
        assert_int_equal(n % 4, 0);
        for (size_t i = 0; i < n && s[i] != '='; i++) {
                const char *p = strchr(al, s[i]);
                assert_non_null(p);
                acc = (acc << 6) | (uint32_t)(p - al);
                if ((bits += 6) >= 8) {
                        bits -= 8;
                        out[o++] = (uint8_t)(acc >> bits);
                }
        }
        out[o] = 0;
        *ret_len = o;
        return out;
}

static char *b64enc(const void *data, size_t len)
{
        char *out = xmalloc((len + 2) / 3 * 4 + 1);
        assert_int_equal(EVP_EncodeBlock((unsigned char *)out, data, (int)len), (int)((len + 2) / 3 * 4));
        return out;
}

static char *pae(const char *type, const void *payload, size_t len, size_t *ret_len)
{
        char head[256];
        int h = snprintf(head, sizeof(head), "DSSEv1 %zu %s %zu ", strlen(type), type, len);
        char *buf = xmalloc((size_t)h + len);
        memcpy(buf, head, (size_t)h);
        memcpy(buf + h, payload, len);
        *ret_len = (size_t)h + len;
        return buf;
}

/* An envelope built by hand: PAYLOAD signed by KEY, claiming KEYID. */
static void forge(struct fixture *f, const char *payload, size_t len, EVP_PKEY *key, const char *keyid)
{
        size_t plen, siglen = 64;
        uint8_t sig[64];
        _cleanup_free_ char *m = pae(PROVENANCE_PAYLOAD_TYPE, payload, len, &plen);
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        assert_int_equal(EVP_DigestSignInit(ctx, NULL, NULL, NULL, key), 1);
        assert_int_equal(EVP_DigestSign(ctx, sig, &siglen, (unsigned char *)m, plen), 1);
        EVP_MD_CTX_free(ctx);
        _cleanup_free_ char *p64 = b64enc(payload, len), *s64 = b64enc(sig, siglen);
        _cleanup_free_ char *text = xasprintf("{\"payloadType\":\"%s\",\"payload\":\"%s\",\"signatures\":[{\"keyid\":\"%s\","
                                              "\"sig\":\"%s\"}]}\n", PROVENANCE_PAYLOAD_TYPE, p64, keyid, s64);
        put(f->prov, text);
}

static json_object *path_get(json_object *o, const char *path)
{
        _cleanup_free_ char *p = xstrdup(path);
        for (char *save = NULL, *k = strtok_r(p, ".", &save); k; k = strtok_r(NULL, ".", &save)) {
                json_object *v = NULL;
                if (json_object_is_type(o, json_type_array))
                        v = json_object_array_get_idx(o, (size_t)strtoul(k, NULL, 10));
                else if (!json_object_object_get_ex(o, k, &v))
                        fail_msg("%s: no %s", path, k);
                o = v;
        }
        assert_non_null(o);
        return o;
}

static const char *sget(json_object *o, const char *path) { return json_object_get_string(path_get(o, path)); }

/* The payload of the envelope on disk, its signature checked by hand. */
static char *payload_checked(struct fixture *f, size_t *ret_len)
{
        _cleanup_free_ char *text = NULL, *pem_path = xasprintf("%s/keys/host.pub", f->dir), *m = NULL;
        _cleanup_free_ uint8_t *sig = NULL;
        _cleanup_json_ json_object *env = NULL;
        _cleanup_pkey_ EVP_PKEY *pub = NULL;
        char id[KEY_ID_LEN + 1];
        size_t len, n, siglen, plen;

        text = slurp(f->prov, &len);
        assert_non_null(env = json_tokener_parse(text));
        assert_int_equal(json_object_object_length(env), 3);
        assert_string_equal(sget(env, "payloadType"), "application/vnd.in-toto+json");
        assert_int_equal(json_object_array_length(path_get(env, "signatures")), 1);
        assert_int_equal(json_object_object_length(path_get(env, "signatures.0")), 2);
        char *payload = (char *)b64dec(sget(env, "payload"), &n);
        sig = b64dec(sget(env, "signatures.0.sig"), &siglen);
        assert_int_equal(siglen, 64);
        _cleanup_fclose_ FILE *pf = fopen(pem_path, "re");
        assert_non_null(pub = PEM_read_PUBKEY(pf, NULL, NULL, NULL));
        assert_int_equal(key_id(pub, id), 0);
        assert_string_equal(sget(env, "signatures.0.keyid"), id);
        m = pae("application/vnd.in-toto+json", payload, n, &plen);
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        assert_int_equal(EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, pub), 1);
        int ok = EVP_DigestVerify(ctx, sig, siglen, (unsigned char *)m, plen);
        EVP_MD_CTX_free(ctx);
        assert_int_equal(ok, 1);
        *ret_len = n;
        return payload;
}

static void test_write_verify(void **state)
{
        struct fixture *f = *state;
        _cleanup_free_ struct artifact *arts = NULL;
        _cleanup_json_ json_object *st = NULL;
        _cleanup_free_ char *text = NULL;
        struct provenance_result res;
        struct mlvm_err e = { 0 };
        char sha[SHA256_HEX_LEN + 1], want[65], host[KEY_ID_LEN + 1];
        struct stat sb;
        size_t n = 0, len;

        assert_int_equal(provenance_scan(f->arts, &arts, &n, &e), 0);
        assert_int_equal(n, 3);
        assert_string_equal(arts[0].path, "metrics.json");
        assert_string_equal(arts[2].path, "sub/log.txt");
        assert_int_equal(arts[0].size, 12);
        assert_int_equal(provenance_write(f->dir, RUN, f->run, arts, n, sha, &e), 0);
        text = slurp(f->prov, &len);
        sha256_of(text, len, want);
        assert_string_equal(sha, want);
        assert_int_equal(stat(f->prov, &sb), 0);
        assert_int_equal(sb.st_mode & 07777, 0600);
        assert_int_equal(text[len - 1], '\n');

        assert_int_equal(provenance_verify_ex(f->dir, RUN, &st, &res, &e), 0);
        assert_true(res.host_key);
        assert_int_equal(res.n_artifacts, 3);
        _cleanup_pkey_ EVP_PKEY *k = NULL;
        assert_int_equal(key_load_private(f->dir, KEY_HOST, false, &k, &e), 0);
        assert_int_equal(key_id(k, host), 0);
        assert_string_equal(res.keyid, host);
        assert_string_equal(sget(st, "predicate.runDetails.metadata.invocationId"), RUN);
}

static void test_statement(void **state)
{
        struct fixture *f = *state;
        char want[65], host[KEY_ID_LEN + 1];
        size_t n;

        write_prov(f);
        _cleanup_free_ char *payload = payload_checked(f, &n);
        assert_int_equal(strlen(payload), n);
        /* Neither the decoy values nor anything called value made it in. */
        assert_null(strstr(payload, "value"));
        assert_null(strstr(payload, "sk-DECOY"));
        assert_null(strstr(payload, "hunter2"));
        assert_null(strstr(payload, "fingerprint"));
        _cleanup_json_ json_object *st = json_tokener_parse(payload);
        assert_non_null(st);
        assert_string_equal(sget(st, "_type"), "https://in-toto.io/Statement/v1");
        assert_string_equal(sget(st, "predicateType"), "https://slsa.dev/provenance/v1");
        json_object *subj = path_get(st, "subject");
        assert_int_equal(json_object_array_length(subj), 3);
        assert_string_equal(sget(st, "subject.0.name"), "metrics.json");
        assert_string_equal(sget(st, "subject.1.name"), "model.bin");
        assert_string_equal(sget(st, "subject.2.name"), "sub/log.txt");
        sha256_of("{\"acc\":0.9}\n", 12, want);
        assert_string_equal(sget(st, "subject.0.digest.sha256"), want);
        sha256_of("weights\n", 8, want);
        assert_string_equal(sget(st, "subject.1.digest.sha256"), want);
        sha256_of("", 0, want);
        assert_string_equal(sget(st, "subject.2.digest.sha256"), want);

        json_object *bd = path_get(st, "predicate.buildDefinition");
        assert_string_equal(sget(bd, "buildType"), "https://mlvm.invalid/run/v1");
        assert_string_equal(sget(bd, "externalParameters.name"), "exp-1");
        assert_string_equal(sget(bd, "externalParameters.kind"), "experiment");
        assert_string_equal(sget(bd, "externalParameters.config.memory"), "256M");
        assert_string_equal(sget(bd, "externalParameters.config.secrets.API_KEY.from"), "store:k");
        assert_string_equal(sget(bd, "externalParameters.command.1"), "/opt/exp/train.py");
        assert_string_equal(sget(bd, "internalParameters.accel"), "tcg");
        assert_string_equal(sget(bd, "internalParameters.transport"), "virtio-serial");
        assert_string_equal(sget(bd, "internalParameters.uri"), "qemu+ssh://gpu-7/system?keyfile=/k");
        assert_string_equal(sget(bd, "resolvedDependencies.0.name"), "image");
        assert_string_equal(sget(bd, "resolvedDependencies.0.uri"), "mlvm-image:minimal");
        assert_string_equal(sget(bd, "resolvedDependencies.0.digest.sha256"), IMG);
        assert_string_equal(sget(bd, "resolvedDependencies.1.name"), "data:weights");
        assert_string_equal(sget(bd, "resolvedDependencies.1.uri"), "file:./weights");
        assert_string_equal(sget(bd, "resolvedDependencies.1.digest.sha256"), DISK);
        assert_int_equal(json_object_array_length(path_get(bd, "resolvedDependencies")), 2);

        json_object *mr = path_get(bd, "internalParameters.mlvm_run");
        assert_int_equal(json_object_get_int(path_get(mr, "exit_code")), 3);
        assert_int_equal(json_object_get_int(path_get(mr, "exit_signal")), 0);
        assert_false(json_object_get_boolean(path_get(mr, "timed_out")));
        assert_string_equal(sget(mr, "state"), "exited");
        assert_true(json_object_get_double(path_get(mr, "timings.verify_image_s")) == 0.5);
        assert_int_equal(json_object_array_length(path_get(mr, "credentials")), 2);
        assert_string_equal(sget(mr, "credentials.0.name"), "API_KEY");
        assert_string_equal(sget(mr, "credentials.0.source"), "store");
        assert_int_equal(json_object_array_length(path_get(mr, "credentials.0.leases")), 2);
        assert_string_equal(sget(mr, "credentials.0.leases.0"), "l-1");
        assert_string_equal(sget(mr, "credentials.0.leases.1"), "l-2");
        assert_string_equal(sget(mr, "credentials.1.name"), "RUN_TOKEN");
        assert_string_equal(sget(mr, "credentials.1.source"), "jwt");
        assert_int_equal(json_object_array_length(path_get(mr, "credentials.1.leases")), 3);
        assert_string_equal(sget(mr, "credentials.1.leases.2"), "j-3");
        assert_int_equal(json_object_object_length(path_get(mr, "credentials.1")), 3);

        _cleanup_pkey_ EVP_PKEY *k = NULL;
        struct mlvm_err e = { 0 };
        assert_int_equal(key_load_private(f->dir, KEY_HOST, false, &k, &e), 0);
        assert_int_equal(key_id(k, host), 0);
        _cleanup_free_ char *builder = xasprintf("mlvm:host:%s", host);
        assert_string_equal(sget(st, "predicate.runDetails.builder.id"), builder);
        assert_string_equal(sget(st, "predicate.runDetails.metadata.invocationId"), RUN);
        assert_string_equal(sget(st, "predicate.runDetails.metadata.startedOn"), "2025-11-23T00:20:00Z");
        assert_string_equal(sget(st, "predicate.runDetails.metadata.finishedOn"), "2025-11-23T00:21:00Z");
        assert_int_equal(json_object_array_length(path_get(st, "predicate.runDetails.byproducts")), 0);
        assert_int_equal(json_object_object_length(path_get(st, "predicate")), 2);
}

static void test_tamper_artifacts(void **state)
{
        struct fixture *f = *state;
        _cleanup_free_ char *model = xasprintf("%s/model.bin", f->arts), *log = xasprintf("%s/sub/log.txt", f->arts);
        _cleanup_free_ char *extra = xasprintf("%s/sub/extra.txt", f->arts), *link = xasprintf("%s/link", f->arts);
        _cleanup_free_ char *fifo = xasprintf("%s/fifo", f->arts);
        struct mlvm_err e = { 0 };

        write_prov(f);
        put(model, "weightS\n");
        expect_fail(f, "artifact \"model.bin\": SHA-256 ");
        put(model, "weights\n");
        assert_int_equal(provenance_verify(f->dir, RUN, NULL, &e), 0);

        assert_int_equal(unlink(log), 0);
        expect_fail(f, "artifact \"sub/log.txt\" is missing");
        put(log, "");
        put(extra, "x");
        expect_fail(f, "artifact \"sub/extra.txt\" is not in the provenance");
        assert_int_equal(unlink(extra), 0);
        assert_int_equal(provenance_verify(f->dir, RUN, NULL, &e), 0);

        assert_int_equal(symlink("model.bin", link), 0);
        expect_fail(f, "artifact \"link\" is a symlink");
        assert_int_equal(unlink(link), 0);
        assert_int_equal(mkfifo(fifo, 0600), 0);
        expect_fail(f, "artifact \"fifo\" is a FIFO");
        assert_int_equal(unlink(fifo), 0);

        /* The artifact directory itself may not be a symlink either. */
        _cleanup_free_ char *moved = xasprintf("%s/real", f->run_dir);
        assert_int_equal(rename(f->arts, moved), 0);
        assert_int_equal(symlink("real", f->arts), 0);
        expect_fail(f, "not a directory (a symlink?)");
        assert_int_equal(unlink(f->arts), 0);
        assert_int_equal(rename(moved, f->arts), 0);
        assert_int_equal(provenance_verify(f->dir, RUN, NULL, &e), 0);
}

/* Change the byte SKIP bytes after the first AFTER in provenance.json to TO
 * (or to TO + 1 when it already is TO). */
static void edit(struct fixture *f, const char *after, size_t skip, char to)
{
        size_t len;
        _cleanup_free_ char *text = slurp(f->prov, &len);
        char *p = strstr(text, after);
        assert_non_null(p);
        p += strlen(after) + skip;
        *p = *p == to ? (char)(to + 1) : to;
        put(f->prov, text);
}

static void test_tamper_envelope(void **state)
{
        struct fixture *f = *state;
        size_t len;

        write_prov(f);
        _cleanup_free_ char *good = slurp(f->prov, &len);
        edit(f, "\"payload\":\"", 100, 'Q');
        expect_fail(f, "provenance.json: signature does not verify with the host key");
        put(f->prov, good);
        edit(f, "\"sig\":\"", 10, 'Q');
        expect_fail(f, "provenance.json: signature does not verify with the host key");
        put(f->prov, good);
        edit(f, "\"sig\":\"", 87, 'A');   /* the last pad character */
        expect_fail(f, "sig is not base64 of a 64-byte signature");
        put(f->prov, good);
        edit(f, "\"payloadType\":\"", 3, 'X');
        expect_fail(f, "provenance.json: payloadType is not \"application/vnd.in-toto+json\"");
        put(f->prov, good);
        edit(f, "\"keyid\":\"", 0, 'g');
        expect_fail(f, "keyid is not 16 hex digits");

        /* A key nobody trusts, spelled right. */
        put(f->prov, good);
        char *k = strstr(good, "\"keyid\":\"") + 9;
        memcpy(k, "0123456789abcdef", 16);
        put(f->prov, good);
        expect_fail(f, "signed by key 0123456789abcdef, which is not trusted");

        /* Same bytes, other spacing: not what mlvm writes. */
        struct mlvm_err e = { 0 };
        _cleanup_free_ char *spaced = NULL;
        write_prov(f);
        _cleanup_free_ char *orig = slurp(f->prov, &len);
        assert_int_equal(provenance_verify(f->dir, RUN, NULL, &e), 0);
        spaced = xasprintf("{ %s", orig + 1);
        put(f->prov, spaced);
        expect_fail(f, "not in the form mlvm writes");
        _cleanup_free_ char *dup = xasprintf("{\"payloadType\":\"x\",%s", orig + 1);
        put(f->prov, dup);
        expect_fail(f, "not in the form mlvm writes");
        put(f->prov, "[]");
        expect_fail(f, "provenance.json: not a JSON object");

        /* Past the cap, before anything is parsed. */
        int fd = open(f->prov, O_WRONLY | O_TRUNC | O_CLOEXEC);
        assert_true(fd >= 0);
        assert_int_equal(ftruncate(fd, (off_t)PROVENANCE_MAX_BYTES + 1), 0);
        close(fd);
        expect_fail(f, "provenance.json: larger than 16 MiB");
}

static void test_other_keys(void **state)
{
        struct fixture *f = *state;
        _cleanup_pkey_ EVP_PKEY *other = NULL, *host = NULL;
        char oid[KEY_ID_LEN + 1], hid[KEY_ID_LEN + 1];
        struct mlvm_err e = { 0 };
        size_t n;

        write_prov(f);
        _cleanup_free_ char *payload = payload_checked(f, &n);
        assert_int_equal(key_gen(f->dir, "other", oid, &e), 0);
        assert_int_equal(key_load_private(f->dir, "other", false, &other, &e), 0);
        assert_int_equal(key_load_private(f->dir, KEY_HOST, false, &host, &e), 0);
        assert_int_equal(key_id(host, hid), 0);

        /* Built by hand with the host key: our PAE and the reader's agree. */
        forge(f, payload, n, host, hid);
        assert_int_equal(provenance_verify(f->dir, RUN, NULL, &e), 0);
        /* A valid signature by another key, claiming to be the host's. */
        forge(f, payload, n, other, hid);
        expect_fail(f, "signature does not verify with the host key");
        /* ... or under its own, untrusted, id. */
        forge(f, payload, n, other, oid);
        _cleanup_free_ char *msg = xasprintf("signed by key %s, which is not trusted", oid);
        expect_fail(f, msg);
        /* Trusted, it verifies, but cannot vouch for a statement naming the host as builder. */
        assert_int_equal(key_trust_own(f->dir, "other", &e), 0);
        _cleanup_free_ char *msg2 = xasprintf("builder.id is not mlvm:host:%s", oid);
        expect_fail(f, msg2);
        /* A statement signed properly but for another run. */
        _cleanup_free_ char *moved = xstrdup(payload);
        char *inv = strstr(moved, "\"invocationId\":\"" RUN);
        assert_non_null(inv);
        memcpy(inv + 16, "9999", 4);
        forge(f, moved, n, host, hid);
        expect_fail(f, "statement: invocationId is not this run (" RUN ")");
        /* A subject list out of order, signed properly. */
        _cleanup_free_ char *swapped = xstrdup(payload);
        char *m = strstr(swapped, "\"metrics.json\""), *b = strstr(swapped, "\"model.bin\"");
        assert_non_null(m);
        assert_non_null(b);
        memcpy(m + 1, "zz", 2);
        forge(f, swapped, n, host, hid);
        expect_fail(f, "statement: subject \"model.bin\" is out of order or repeated");
}

static void test_empty_and_bad_input(void **state)
{
        struct fixture *f = *state;
        _cleanup_json_ json_object *st = NULL, *bare = json_object_new_object();
        struct provenance_result res;
        struct mlvm_err e = { 0 };
        _cleanup_free_ char *cmd = xasprintf("rm -rf -- '%s'", f->arts);

        /* No artifacts at all: no directory, or an empty one. */
        assert_int_equal(system(cmd), 0);
        assert_int_equal(provenance_write(f->dir, RUN, bare, NULL, 0, NULL, &e), 0);
        assert_int_equal(provenance_verify_ex(f->dir, RUN, &st, &res, &e), 0);
        assert_int_equal(res.n_artifacts, 0);
        assert_int_equal(json_object_array_length(path_get(st, "subject")), 0);
        assert_int_equal(mkdir(f->arts, 0700), 0);
        assert_int_equal(provenance_verify(f->dir, RUN, NULL, &e), 0);

        /* Bad artifact lists are refused, and nothing is written. */
        struct artifact a[2] = { { .path = "x" }, { .path = "x" } };
        memset(a[0].sha256, 'a', 64);
        memset(a[1].sha256, 'a', 64);
        assert_int_equal(unlink(f->prov), 0);
        assert_int_equal(provenance_write(f->dir, RUN, f->run, a, 2, NULL, &e), -EINVAL);
        assert_string_equal(e.msg, "provenance of run " RUN ": artifact \"x\": listed twice");
        memcpy(a[1].path, "../y", 5);
        assert_int_equal(provenance_write(f->dir, RUN, f->run, a, 2, NULL, &e), -EINVAL);
        assert_non_null(strstr(e.msg, "artifact \"../y\": not a relative, normalized path"));
        memcpy(a[1].path, "y", 2);
        a[1].sha256[3] = 'G';
        assert_int_equal(provenance_write(f->dir, RUN, f->run, a, 2, NULL, &e), -EINVAL);
        assert_non_null(strstr(e.msg, "artifact \"y\": not a SHA-256 in hex"));
        assert_int_equal(access(f->prov, F_OK), -1);
        assert_int_equal(provenance_verify(f->dir, RUN, NULL, &e), -ENOENT);
        assert_int_equal(provenance_verify(f->dir, "../x", NULL, &e), -EINVAL);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
        static const struct CMUnitTest tests[] = {
                T(test_write_verify),
                T(test_statement),
                T(test_tamper_artifacts),
                T(test_tamper_envelope),
                T(test_other_keys),
                T(test_empty_and_bad_input),
        };
        return cmocka_run_group_tests_name("provenance", tests, NULL, NULL);
}
