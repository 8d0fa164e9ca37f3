/* test-audit.c: the hash-chained, checkpoint-signed audit log (src/lib/trust/audit.c,
 * audit-read.c).
 * Each tampering test starts from a fresh state directory holding 8 events,
 * changes the files the way an intruder would, and asserts the exact
 * one-line message that names the first bad line. */
#include "mlvm-build.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <cmocka.h>
#include <openssl/evp.h>

#include "audit.h"
#include "keys.h"
#include "util.h"
#include "virt.h"

#define N_EVENTS 8

static const char *const NOTE = "say \"hi\"\nsecond line\twith a tab, a \\ and a /";
static const char *const UNICODE = "h\xc3\xa9llo \xe2\x80\x94 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x9a\x80";
static const char *const CONTROL = "\x01\x1b[31mred\r";

struct lines {
        char *v[64];
        size_t n;
};

static char *path_in(const char *dir, const char *name) { return xasprintf("%s/%s", dir, name); }

static char *make_state_dir(void)
{
        char tmpl[] = "/tmp/mlvm-test-audit-XXXXXX";
        assert_non_null(mkdtemp(tmpl));
        return xstrdup(tmpl);
}

static void rm_state_dir(const char *dir)
{
        _cleanup_free_ char *cmd = xasprintf("rm -rf -- '%s'", dir);
        assert_int_equal(system(cmd), 0);
}

static void read_lines(const char *dir, struct lines *l)
{
        _cleanup_free_ char *path = path_in(dir, "audit.log"), *buf = NULL;
        size_t len;

        assert_int_equal(read_file_capped(path, 1 << 20, &buf, &len), 0);
        l->n = 0;
        for (char *p = buf, *nl; (nl = memchr(p, '\n', len - (size_t)(p - buf))); p = nl + 1) {
                assert_true(l->n < ARRAY_SIZE(l->v));
                l->v[l->n++] = xstrndup(p, (size_t)(nl - p));
        }
}

static void write_lines(const char *dir, const struct lines *l)
{
        _cleanup_free_ char *path = path_in(dir, "audit.log");
        _cleanup_fclose_ FILE *f = fopen(path, "we");

        assert_non_null(f);
        for (size_t i = 0; i < l->n; i++)
                fprintf(f, "%s\n", l->v[i]);
}

static void lines_free(struct lines *l)
{
        for (size_t i = 0; i < l->n; i++)
                free(l->v[i]);
        l->n = 0;
}

static void sha256_hex(const char *s, char out[65])
{
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int n = 0;
        assert_true(EVP_Digest(s, strlen(s), md, &n, EVP_sha256(), NULL));
        for (unsigned int i = 0; i < n; i++)
                (void)snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* Replace the prev hash of line I (0-based) with the hash of line I-1. */
static void rechain(struct lines *l, size_t i)
{
        char *p = strstr(l->v[i], ",\"prev\":\"");
        assert_non_null(p);
        sha256_hex(l->v[i - 1], p + 9);
        p[9 + 64] = '"';   /* sha256_hex wrote a NUL there */
}

static void replace_in_line(struct lines *l, size_t i, const char *from, const char *to)
{
        char *p = strstr(l->v[i], from);
        assert_non_null(p);
        char *s = xasprintf("%.*s%s%s", (int)(p - l->v[i]), l->v[i], to, p + strlen(from));
        free(l->v[i]);
        l->v[i] = s;
}

static void expect_fail(const char *dir, const char *msg)
{
        struct audit_status st = { .lines = 12345 };
        struct mlvm_err e = { 0 };

        assert_int_equal(audit_verify(dir, &st, &e), -EBADMSG);
        assert_string_equal(e.msg, msg);
        assert_int_equal(st.lines, 12345);   /* untouched on failure */
}

static void append(const char *dir, const char *event, json_object *fields)
{
        struct mlvm_err e = { 0 };
        int r = audit_append(dir, event, fields, &e);
        if (r < 0)
                fail_msg("audit_append %s: %s", event, e.msg);
        json_object_put(fields);
}

static json_object *obj(const char *k1, const char *v1, const char *k2, const char *v2)
{
        json_object *o = json_object_new_object();
        json_object_object_add(o, k1, json_object_new_string(v1));
        if (k2)
                json_object_object_add(o, k2, json_object_new_string(v2));
        return o;
}

static int setup(void **state)
{
        char *dir = make_state_dir();
        json_object *nested = json_object_new_object(), *arr = json_object_new_array();

        append(dir, "image.build", obj("recipe", "images/minimal", "digest", "sha256:0123"));
        append(dir, "image.import", obj("tag", "minimal", "note", NOTE));
        json_object_array_add(arr, json_object_new_int(1));
        json_object_array_add(arr, NULL);
        json_object_array_add(arr, json_object_new_boolean(true));
        json_object_object_add(nested, "reason", json_object_new_string(UNICODE));
        json_object_object_add(nested, "list", arr);
        append(dir, "image.verify-failed", nested);
        append(dir, "run.start", obj("run", "r1", NULL, NULL));
        append(dir, "run.stop", NULL);
        append(dir, "image.rm", obj("tag", CONTROL, NULL, NULL));
        append(dir, "creds.rotate", obj("lease", "l-7", NULL, NULL));
        append(dir, "image.import", obj("tag", "python", NULL, NULL));
        *state = dir;
        return 0;
}

static int setup_empty(void **state)
{
        *state = make_state_dir();
        return 0;
}

static int teardown(void **state)
{
        rm_state_dir(*state);
        free(*state);
        return 0;
}

static char *host_key_id(const char *dir)
{
        _cleanup_pkey_ EVP_PKEY *k = NULL;
        struct mlvm_err e = { 0 };
        char id[KEY_ID_LEN + 1];

        assert_int_equal(key_load_private(dir, KEY_HOST, false, &k, &e), 0);
        assert_int_equal(key_id(k, id), 0);
        return xstrdup(id);
}

static void test_append_and_verify(void **state)
{
        const char *dir = *state;
        _cleanup_free_ char *id = host_key_id(dir), *log = path_in(dir, "audit.log");
        _cleanup_free_ char *cp = path_in(dir, "audit.checkpoint");
        struct audit_status st;
        struct mlvm_err e = { 0 };
        struct lines l;
        struct stat sb;

        assert_int_equal(audit_verify(dir, &st, &e), 0);
        assert_int_equal(st.lines, N_EVENTS);
        assert_int_equal(st.checkpoint_seq, N_EVENTS);
        assert_string_equal(st.key_id, id);
        assert_int_equal(stat(log, &sb), 0);
        assert_int_equal(sb.st_mode & 0777, 0600);
        assert_int_equal(stat(cp, &sb), 0);
        assert_int_equal(sb.st_mode & 0777, 0600);

        /* Quotes, newlines, unicode and control characters: still one line each. */
        read_lines(dir, &l);
        assert_int_equal(l.n, N_EVENTS);
        assert_true(strstartswith(l.v[0], "{\"seq\":1,\"time\":\"20"));
        assert_non_null(strstr(l.v[0], "Z\",\"event\":\"image.build\",\"recipe\":\"images/minimal\",\"digest\":"
                                        "\"sha256:0123\",\"prev\":\"00000000000000000000000000000000"
                                        "00000000000000000000000000000000\"}"));
        assert_non_null(strstr(l.v[1], "\"note\":\"say \\\"hi\\\"\\nsecond line\\twith a tab, a \\\\ and a /\""));
        assert_non_null(strstr(l.v[2], UNICODE));   /* UTF-8 kept as is */
        assert_non_null(strstr(l.v[5], "\"tag\":\"\\u0001\\u001b[31mred\\r\""));
        assert_non_null(strstr(l.v[4], "\"event\":\"run.stop\",\"prev\":"));
        lines_free(&l);

        /* The checkpoint is exactly the documented object. */
        _cleanup_free_ char *buf = NULL;
        assert_int_equal(read_file_capped(cp, 4096, &buf, NULL), 0);
        _cleanup_free_ char *head = xasprintf("{\"seq\":8,\"hash\":\"");
        assert_true(strstartswith(buf, head));
        _cleanup_free_ char *mid = xasprintf("\",\"key\":\"%s\",\"sig\":\"", id);
        assert_non_null(strstr(buf, mid));
        assert_true(strlen(buf) == strlen(head) + 64 + strlen(mid) + 88 + 3);
}

static void test_read_and_filter(void **state)
{
        const char *dir = *state;
        _cleanup_json_ json_object *all = NULL, *images = NULL, *none = NULL;
        struct mlvm_err e = { 0 };
        json_object *v;

        assert_int_equal(audit_read(dir, NULL, &all, &e), 0);
        assert_int_equal(json_object_array_length(all), N_EVENTS);
        assert_true(json_object_object_get_ex(json_object_array_get_idx(all, 1), "note", &v));
        assert_string_equal(json_object_get_string(v), NOTE);
        assert_true(json_object_object_get_ex(json_object_array_get_idx(all, 5), "tag", &v));
        assert_string_equal(json_object_get_string(v), CONTROL);
        assert_true(json_object_object_get_ex(json_object_array_get_idx(all, 2), "reason", &v));
        assert_string_equal(json_object_get_string(v), UNICODE);
        assert_true(json_object_object_get_ex(json_object_array_get_idx(all, 7), "seq", &v));
        assert_int_equal(json_object_get_int64(v), 8);

        assert_int_equal(audit_read(dir, "image.", &images, &e), 0);
        assert_int_equal(json_object_array_length(images), 5);
        assert_int_equal(audit_read(dir, "nothing", &none, &e), 0);
        assert_int_equal(json_object_array_length(none), 0);
}

static void test_empty(void **state)
{
        const char *base = *state;
        _cleanup_free_ char *dir = path_in(base, "never-created");
        _cleanup_json_ json_object *a = NULL;
        struct audit_status st = { .lines = 99 };
        struct mlvm_err e = { 0 };
        struct stat sb;

        assert_int_equal(audit_verify(dir, &st, &e), 0);
        assert_int_equal(st.lines, 0);
        assert_int_equal(st.checkpoint_seq, 0);
        assert_string_equal(st.key_id, "");
        assert_int_equal(audit_read(dir, NULL, &a, &e), 0);
        assert_int_equal(json_object_array_length(a), 0);
        assert_int_equal(stat(dir, &sb), -1);   /* reading creates nothing */

        /* An empty log file with no checkpoint is empty too. */
        _cleanup_free_ char *log = path_in(base, "audit.log");
        assert_int_equal(write_file_atomic(log, "", 0, 0600), 0);
        assert_int_equal(audit_verify(base, &st, &e), 0);
        assert_int_equal(st.lines, 0);
}

static void test_bad_input(void **state)
{
        const char *dir = *state;
        _cleanup_free_ char *log = path_in(dir, "audit.log");
        char longest[AUDIT_EVENT_MAX + 2];
        memset(longest, 'a', sizeof(longest) - 1);
        longest[AUDIT_EVENT_MAX + 1] = '\0';
        const char *const bad[] = { "", "Image.build", "1image", "image build", "image_build", "-x", "a\nb",
                                    longest };
        struct mlvm_err e = { 0 };
        struct stat sb;

        for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
                assert_int_equal(audit_append(dir, bad[i], NULL, &e), -EINVAL);
                assert_true(strstartswith(e.msg, "audit event \""));
        }
        assert_int_equal(audit_append(dir, "image.build", NULL, &e), 0);
        longest[AUDIT_EVENT_MAX] = '\0';   /* 64 characters: the longest valid name */
        assert_int_equal(audit_append(dir, longest, NULL, &e), 0);

        _cleanup_json_ json_object *arr = json_object_new_array();
        assert_int_equal(audit_append(dir, "x", arr, &e), -EINVAL);
        assert_string_equal(e.msg, "audit event x: fields must be a JSON object");
        static const char *const reserved[] = { "seq", "time", "event", "prev" };
        for (size_t i = 0; i < ARRAY_SIZE(reserved); i++) {
                _cleanup_json_ json_object *o = obj("ok", "1", reserved[i], "forged");
                _cleanup_free_ char *want = xasprintf("audit event x: field \"%s\" is reserved", reserved[i]);
                assert_int_equal(audit_append(dir, "x", o, &e), -EINVAL);
                assert_string_equal(e.msg, want);
        }
        /* Bytes that are not UTF-8 would not read back: refused, not written. */
        _cleanup_json_ json_object *bin = obj("blob", "\xff\xfe", NULL, NULL);
        assert_int_equal(audit_append(dir, "x", bin, &e), -EINVAL);
        assert_string_equal(e.msg, "audit event x: fields are not valid JSON (bad UTF-8 or a NaN?)");
        /* A line over 64 KiB is refused. */
        _cleanup_free_ char *big = xmalloc(AUDIT_LINE_MAX + 1);
        memset(big, 'a', AUDIT_LINE_MAX);
        big[AUDIT_LINE_MAX] = '\0';
        _cleanup_json_ json_object *huge = obj("blob", big, NULL, NULL);
        assert_int_equal(audit_append(dir, "x", huge, &e), -E2BIG);
        assert_true(strstartswith(e.msg, "audit event x: "));

        struct audit_status st;
        assert_int_equal(audit_verify(dir, &st, &e), 0);
        assert_int_equal(st.lines, 2);
        assert_int_equal(stat(log, &sb), 0);
}

static void test_edited(void **state)
{
        struct lines l;
        read_lines(*state, &l);
        replace_in_line(&l, 3, "\"run\":\"r1\"", "\"run\":\"r2\"");
        write_lines(*state, &l);
        lines_free(&l);
        expect_fail(*state, "audit.log line 5: prev does not match line 4 (a line was edited, removed or reordered)");
}

static void test_removed(void **state)
{
        struct lines l;
        read_lines(*state, &l);
        free(l.v[3]);
        memmove(&l.v[3], &l.v[4], (l.n - 4) * sizeof(l.v[0]));
        l.n--;
        write_lines(*state, &l);
        expect_fail(*state, "audit.log line 4: prev does not match line 3 (a line was edited, removed or reordered)");

        /* Without the first line, the chain has no start. */
        free(l.v[0]);
        memmove(&l.v[0], &l.v[1], (l.n - 1) * sizeof(l.v[0]));
        l.n--;
        write_lines(*state, &l);
        lines_free(&l);
        expect_fail(*state, "audit.log line 1: prev is not the start of the chain "
                            "(the first line was removed or replaced)");
}

static void test_swapped(void **state)
{
        struct lines l;
        read_lines(*state, &l);
        char *t = l.v[4];
        l.v[4] = l.v[5];
        l.v[5] = t;
        write_lines(*state, &l);
        lines_free(&l);
        expect_fail(*state, "audit.log line 5: prev does not match line 4 (a line was edited, removed or reordered)");
}

static void test_truncated(void **state)
{
        const char *dir = *state;
        _cleanup_free_ char *log = path_in(dir, "audit.log");
        struct lines l;

        read_lines(dir, &l);
        l.n -= 2;
        write_lines(dir, &l);
        expect_fail(dir, "audit.log ends at line 6 but the signed checkpoint covers line 8 (truncated)");
        l.n += 2;

        /* Cut in the middle of the last line. */
        write_lines(dir, &l);
        struct stat sb;
        assert_int_equal(stat(log, &sb), 0);
        assert_int_equal(truncate(log, sb.st_size - 10), 0);
        expect_fail(dir, "audit.log line 8 is incomplete (no newline at the end)");
        lines_free(&l);

        assert_int_equal(truncate(log, 0), 0);
        expect_fail(dir, "audit.log is empty but the signed checkpoint covers line 8 (truncated)");
        assert_int_equal(unlink(log), 0);
        expect_fail(dir, "audit.log is missing but the signed checkpoint covers line 8 (the log was deleted)");
}

/* Edit line 3 and recompute every later prev: the chain is consistent again,
 * and only the signed checkpoint shows it. */
static void test_rewritten_chain(void **state)
{
        struct lines l;
        read_lines(*state, &l);
        replace_in_line(&l, 2, "\"list\":[1,null,true]", "\"list\":[0]");
        for (size_t i = 3; i < l.n; i++)
                rechain(&l, i);
        write_lines(*state, &l);
        lines_free(&l);
        expect_fail(*state, "audit.log line 8 does not match the signed checkpoint "
                            "(lines were edited and the chain rewritten)");
}

static void write_checkpoint(const char *dir, const char *text)
{
        _cleanup_free_ char *cp = path_in(dir, "audit.checkpoint");
        assert_int_equal(write_file_atomic(cp, text, strlen(text), 0600), 0);
}

static void read_checkpoint(const char *dir, char **ret)
{
        _cleanup_free_ char *cp = path_in(dir, "audit.checkpoint");
        assert_int_equal(read_file_capped(cp, 4096, ret, NULL), 0);
}

static void test_checkpoint_altered(void **state)
{
        const char *dir = *state;
        _cleanup_free_ char *orig = NULL, *id = host_key_id(dir), *text = NULL;

        read_checkpoint(dir, &orig);
        text = xstrdup(orig);

        /* One character of the signature, still canonical base64 of 64 bytes. */
        char *sig = strstr(text, "\"sig\":\"") + 7;
        sig[10] = sig[10] == 'A' ? 'B' : 'A';
        write_checkpoint(dir, text);
        expect_fail(dir, "audit.checkpoint: signature does not verify with the host key");

        /* The signature covers seq and hash: moving the checkpoint back fails too. */
        free(text);
        text = xstrdup(orig);
        text[7] = '7';
        write_checkpoint(dir, text);
        expect_fail(dir, "audit.checkpoint: signature does not verify with the host key");

        /* Non-canonical or short base64 is refused before any verification. */
        free(text);
        text = xstrdup(orig);
        sig = strstr(text, "\"sig\":\"") + 7;
        sig[85]++;   /* A, Q, g or w: set a pad bit of the last byte */
        write_checkpoint(dir, text);
        expect_fail(dir, "audit.checkpoint: \"sig\" is not base64 of a 64-byte signature");

        /* Signed by another key that is not the host's. */
        _cleanup_pkey_ EVP_PKEY *other = NULL;
        struct mlvm_err e = { 0 };
        char oid[KEY_ID_LEN + 1];
        uint8_t raw[KEY_SIG_LEN];
        unsigned char b64[89];
        assert_int_equal(key_gen(dir, "other", oid, &e), 0);
        assert_int_equal(key_load_private(dir, "other", false, &other, &e), 0);
        char *hash = strstr(orig, "\"hash\":\"") + 8;
        _cleanup_free_ char *msg = xasprintf("mlvm-audit-checkpoint-v1\n8\n%.64s\n", hash);
        assert_int_equal(key_sign(other, msg, strlen(msg), raw, &e), 0);
        assert_int_equal(EVP_EncodeBlock(b64, raw, KEY_SIG_LEN), 88);
        free(text);
        text = xasprintf("{\"seq\":8,\"hash\":\"%.64s\",\"key\":\"%s\",\"sig\":\"%s\"}\n", hash, oid, b64);
        write_checkpoint(dir, text);
        _cleanup_free_ char *want = xasprintf("audit.checkpoint: signed by key %s, not the host key %s", oid, id);
        expect_fail(dir, want);

        /* Strict parsing. */
        write_checkpoint(dir, "{\"seq\":8}");
        expect_fail(dir, "audit.checkpoint: needs exactly \"seq\", \"hash\", \"key\" and \"sig\"");
        write_checkpoint(dir, "{\"seq\":8,\"extra\":1}");
        expect_fail(dir, "audit.checkpoint: unknown key \"extra\"");
        write_checkpoint(dir, "{\"seq\":\"8\"}");
        expect_fail(dir, "audit.checkpoint: \"seq\" is not a line number");
        write_checkpoint(dir, "{\"seq\":8} trailing");
        expect_fail(dir, "audit.checkpoint: not a JSON object");

        /* The original verifies again. */
        struct audit_status st;
        write_checkpoint(dir, orig);
        assert_int_equal(audit_verify(dir, &st, &e), 0);
}

static void test_checkpoint_deleted(void **state)
{
        _cleanup_free_ char *cp = path_in(*state, "audit.checkpoint");
        assert_int_equal(unlink(cp), 0);
        expect_fail(*state, "audit.checkpoint is missing but audit.log has 8 lines (the checkpoint was deleted)");
}

/* A well-formed line 9, with the right seq and prev, added without the key. */
static void test_appended_by_hand(void **state)
{
        const char *dir = *state;
        struct lines l;
        char h[65];

        read_lines(dir, &l);
        sha256_hex(l.v[7], h);
        l.v[l.n++] = xasprintf("{\"seq\":9,\"time\":\"2026-11-23T00:20:00Z\",\"event\":\"image.import\","
                               "\"tag\":\"evil\",\"prev\":\"%s\"}", h);
        write_lines(dir, &l);
        lines_free(&l);
        expect_fail(dir, "audit.log line 9 is past the signed checkpoint (line 8)");
}

/* Appending after tampering would sign the tampered tail: it is refused. */
static void test_append_refuses_tampered_tail(void **state)
{
        const char *dir = *state;
        struct mlvm_err e = { 0 };
        struct lines l;

        read_lines(dir, &l);
        write_lines(dir, &(struct lines){ .n = 6, .v = { l.v[0], l.v[1], l.v[2], l.v[3], l.v[4], l.v[5] } });
        assert_int_equal(audit_append(dir, "run.start", NULL, &e), -EBADMSG);
        assert_string_equal(e.msg, "the last line of audit.log is not line 8 that the checkpoint signed "
                                   "(run 'mlvm audit verify'); not appending");
        expect_fail(dir, "audit.log ends at line 6 but the signed checkpoint covers line 8 (truncated)");

        _cleanup_free_ char *cp = path_in(dir, "audit.checkpoint");
        write_lines(dir, &l);
        assert_int_equal(unlink(cp), 0);
        assert_int_equal(audit_append(dir, "run.start", NULL, &e), -EBADMSG);
        assert_string_equal(e.msg, "audit.checkpoint is missing but audit.log is not empty "
                                   "(run 'mlvm audit verify'); not appending");
        lines_free(&l);
}

/* A line longer than the cap is named, not read into memory whole. */
static void test_line_cap(void **state)
{
        const char *dir = *state;
        struct lines l;

        read_lines(dir, &l);
        char *big = xmalloc(AUDIT_LINE_MAX + 2);
        memset(big, ' ', AUDIT_LINE_MAX + 1);
        big[AUDIT_LINE_MAX + 1] = '\0';
        free(l.v[2]);
        l.v[2] = big;
        write_lines(dir, &l);
        lines_free(&l);
        expect_fail(dir, "audit.log line 3 is longer than 65536 bytes");
}

static void test_concurrent(void **state)
{
        char *dir = *state;
        _cleanup_json_ json_object *a = NULL, *b = NULL;
        struct audit_status st;
        struct mlvm_err e = { 0 };
        pid_t pids[2];

        for (int p = 0; p < 2; p++) {
                pids[p] = fork();
                assert_true(pids[p] >= 0);
                if (pids[p] == 0) {
                        for (int i = 0; i < 50; i++) {
                                json_object *o = json_object_new_object();
                                json_object_object_add(o, "i", json_object_new_int(i));
                                int r = audit_append(dir, p ? "test.b" : "test.a", o, &e);
                                json_object_put(o);
                                if (r < 0) {
                                        fprintf(stderr, "child %d: %s\n", p, e.msg);
                                        _exit(1);
                                }
                        }
                        free(dir);   /* so that valgrind, which follows the fork, sees no leak */
                        _exit(0);
                }
        }
        for (int p = 0; p < 2; p++) {
                int status;
                assert_int_equal(waitpid(pids[p], &status, 0), pids[p]);
                assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        }
        assert_int_equal(audit_verify(dir, &st, &e), 0);
        assert_int_equal(st.lines, 100);
        assert_int_equal(st.checkpoint_seq, 100);
        assert_int_equal(audit_read(dir, "test.a", &a, &e), 0);
        assert_int_equal(audit_read(dir, "test.b", &b, &e), 0);
        assert_int_equal(json_object_array_length(a), 50);
        assert_int_equal(json_object_array_length(b), 50);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
#define T0(f) cmocka_unit_test_setup_teardown(f, setup_empty, teardown)

int main(void)
{
        const struct CMUnitTest tests[] = {
                T(test_append_and_verify),
                T(test_read_and_filter),
                T0(test_empty),
                T0(test_bad_input),
                T(test_edited),
                T(test_removed),
                T(test_swapped),
                T(test_truncated),
                T(test_rewritten_chain),
                T(test_checkpoint_altered),
                T(test_checkpoint_deleted),
                T(test_appended_by_hand),
                T(test_append_refuses_tampered_tail),
                T(test_line_cap),
                T0(test_concurrent),
        };
        return cmocka_run_group_tests_name("audit", tests, NULL, NULL);
}
