/* audit-read.c: reading the audit log back, one capped line at a time, under
 * the writers' lock taken shared: audit_verify checks the chain and its signed
 * checkpoint, audit_read lists the events for `mlvm audit`; see audit.h. The log
 * is untrusted input (whoever can write the state directory may have edited
 * it), so every line is capped and parsed strictly. */
#include "mlvm-build.h"

#include <fcntl.h>
#include <inttypes.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <openssl/pem.h>

#include "audit-internal.h"
#include "cleanup.h"
#include "util.h"

static const char *get_string(json_object *o, const char *key)
{
        json_object *v;
        if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
                return NULL;
        return json_object_get_string(v);
}

static bool time_is_valid(const char *s)
{
        struct tm tm = { 0 };
        const char *end = s ? strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm) : NULL;
        return end && *end == '\0' && strlen(s) == 20;
}

/* ---- reading the log, one capped line at a time ------------------------ */

struct line_reader {
        int fd;
        char buf[AUDIT_LINE_MAX + 1];   /* a whole line and its newline */
        size_t start, len;              /* unread bytes: buf[start, len) */
        uint64_t n;                     /* lines returned so far */
        uint64_t used;                  /* bytes of those lines, newlines included */
        bool eof;
};

/* 1 with the next line (newline excluded) in *ret, *ret_len; 0 at the end. */
static int next_line(struct line_reader *lr, const char **ret, size_t *ret_len, struct mlvm_err *e)
{
        for (;;) {
                char *p = lr->buf + lr->start, *nl = memchr(p, '\n', lr->len - lr->start);
                if (nl) {
                        size_t n = (size_t)(nl - p);
                        lr->n++;
                        if (lr->used + n + 1 > AUDIT_LOG_MAX)
                                return err_setx(e, -EBADMSG,
                                                LOG_NAME " line %" PRIu64 " goes past the %u MiB limit of the log",
                                                lr->n, AUDIT_LOG_MAX >> 20);
                        lr->used += n + 1;
                        lr->start += n + 1;
                        *ret = p;
                        *ret_len = n;
                        return 1;
                }
                if (lr->eof) {
                        if (lr->start == lr->len)
                                return 0;
                        return err_setx(e, -EBADMSG, LOG_NAME " line %" PRIu64 " is incomplete (no newline at the end)",
                                        lr->n + 1);
                }
                memmove(lr->buf, p, lr->len - lr->start);
                lr->len -= lr->start;
                lr->start = 0;
                if (lr->len == sizeof(lr->buf))
                        return err_setx(e, -EBADMSG, LOG_NAME " line %" PRIu64 " is longer than %u bytes", lr->n + 1,
                                        AUDIT_LINE_MAX);
                ssize_t k = read(lr->fd, lr->buf + lr->len, sizeof(lr->buf) - lr->len);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return err_set(e, -errno, LOG_NAME);
                if (k == 0)
                        lr->eof = true;
                lr->len += (size_t)k;
        }
}

/* Readers take the lock shared, so they never see half of an append. A
 * missing lock file means no writer ever ran: nothing to wait for. */
static int lock_shared(const char *state_dir, int *ret_fd, struct mlvm_err *e)
{
        _cleanup_free_ char *path = xasprintf("%s/" LOCK_NAME, state_dir);
        int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW);

        if (fd < 0) {
                *ret_fd = -1;
                return errno == ENOENT ? 0 : err_set(e, -errno, "%s", path);
        }
        while (flock(fd, LOCK_SH) < 0) {
                if (errno != EINTR) {
                        int r = err_set(e, -errno, "lock %s", path);
                        (void)close(fd);
                        return r;
                }
        }
        *ret_fd = fd;
        return 0;
}

/* Open the log for reading: -ENOENT (without touching e) when absent. */
static int open_log(const char *state_dir, int *ret_fd, struct mlvm_err *e)
{
        _cleanup_free_ char *path = xasprintf("%s/" LOG_NAME, state_dir);
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW);
        struct stat st;

        if (fd < 0)
                return errno == ENOENT ? -ENOENT : err_set(e, -errno, "%s", path);
        if (fstat(fd, &st) < 0)
                return err_set(e, -errno, "%s", path);
        if (!S_ISREG(st.st_mode))
                return err_setx(e, -EBADMSG, "%s: not a regular file", path);
        *ret_fd = TAKE_FD(fd);
        return 0;
}

/* One line of the chain: a JSON object whose prev is PREV_HASH and seq is N. */
static int check_line(const char *line, size_t len, uint64_t n, const char *prev_hash, struct mlvm_err *e)
{
        _cleanup_json_ json_object *o = audit_parse_object(line, len);
        json_object *seq;
        const char *prev, *event;

        if (!o)
                return err_setx(e, -EBADMSG, LOG_NAME " line %" PRIu64 ": not a JSON object", n);
        if (!(prev = get_string(o, "prev")) || !audit_is_hex(prev, HASH_HEX_LEN))
                return err_setx(e, -EBADMSG, LOG_NAME " line %" PRIu64 ": \"prev\" is not a SHA-256 in hex", n);
        if (!streq(prev, prev_hash)) {
                if (n == 1)
                        return err_setx(e, -EBADMSG, LOG_NAME " line 1: prev is not the start of the chain "
                                                     "(the first line was removed or replaced)");
                return err_setx(e, -EBADMSG, LOG_NAME " line %" PRIu64 ": prev does not match line %" PRIu64
                                             " (a line was edited, removed or reordered)", n, n - 1);
        }
        if (!json_object_object_get_ex(o, "seq", &seq) || !json_object_is_type(seq, json_type_int) ||
            json_object_get_int64(seq) != (int64_t)n)
                return err_setx(e, -EBADMSG, LOG_NAME " line %" PRIu64 ": seq is not %" PRIu64, n, n);
        if (!time_is_valid(get_string(o, "time")))
                return err_setx(e, -EBADMSG, LOG_NAME " line %" PRIu64 ": \"time\" is not an RFC 3339 UTC time", n);
        if (!(event = get_string(o, "event")) || !audit_event_is_valid(event))
                return err_setx(e, -EBADMSG, LOG_NAME " line %" PRIu64 ": \"event\" is not an event name", n);
        return 0;
}

int audit_verify(const char *state_dir, struct audit_status *ret, struct mlvm_err *e)
{
        _cleanup_close_ int lock = -1, fd = -1;
        _cleanup_free_ struct line_reader *lr = NULL;
        struct checkpoint cp = { 0 };
        struct mlvm_err cp_err = { 0 };
        char prev[HASH_HEX_LEN + 1], at_cp[HASH_HEX_LEN + 1] = "";
        bool have_cp = false, have_log;
        const char *line;
        size_t len;
        int r;

        if ((r = lock_shared(state_dir, &lock, e)) < 0)
                return r;
        /* Read the checkpoint first, to note the hash of the line it covers
         * on the way; report its errors after the chain's, which come first. */
        int cp_r = audit_checkpoint_read(state_dir, &cp, &have_cp, &cp_err);
        r = open_log(state_dir, &fd, e);
        if (r < 0 && r != -ENOENT)
                return r;
        have_log = r == 0;
        r = 0;
        memcpy(prev, audit_zero_hash, sizeof(prev));
        lr = xcalloc(1, sizeof(*lr));
        lr->fd = fd;
        while (have_log && (r = next_line(lr, &line, &len, e)) > 0) {
                if ((r = check_line(line, len, lr->n, prev, e)) < 0)
                        return r;
                if (audit_sha256_hex(line, len, prev) < 0)
                        return err_setx(e, -EIO, "SHA-256 failed");
                if (cp_r == 0 && have_cp && lr->n == cp.seq)
                        memcpy(at_cp, prev, sizeof(at_cp));
        }
        if (r < 0)
                return r;
        uint64_t lines = lr->n;

        if (cp_r < 0) {
                *e = cp_err;
                return cp_r;
        }
        if (!have_cp) {
                if (lines > 0)
                        return err_setx(e, -EBADMSG,
                                        CHECKPOINT_NAME " is missing but " LOG_NAME " has %" PRIu64
                                        " line%s (the checkpoint was deleted)", lines, lines == 1 ? "" : "s");
                *ret = (struct audit_status){ 0 };
                return 0;
        }
        _cleanup_free_ char *pem = NULL;
        if ((r = key_export_public(state_dir, KEY_HOST, &pem, e)) < 0)
                return err_prefix(e, CHECKPOINT_NAME ": host key");
        _cleanup_bio_ BIO *b = BIO_new_mem_buf(pem, -1);
        _cleanup_pkey_ EVP_PKEY *pub = b ? PEM_read_bio_PUBKEY(b, NULL, NULL, NULL) : NULL;
        if (!pub)
                return err_setx(e, -EINVAL, CHECKPOINT_NAME ": host key: not a PEM public key");
        if ((r = audit_checkpoint_check_sig(&cp, pub, e)) < 0)
                return r;
        if (!have_log)
                return err_setx(e, -EBADMSG, LOG_NAME " is missing but the signed checkpoint covers line %" PRIu64
                                             " (the log was deleted)", cp.seq);
        if (lines == 0)
                return err_setx(e, -EBADMSG, LOG_NAME " is empty but the signed checkpoint covers line %" PRIu64
                                             " (truncated)", cp.seq);
        if (lines < cp.seq)
                return err_setx(e, -EBADMSG,
                                LOG_NAME " ends at line %" PRIu64 " but the signed checkpoint covers line %" PRIu64
                                " (truncated)", lines, cp.seq);
        if (!streq(at_cp, cp.hash))
                return err_setx(e, -EBADMSG, LOG_NAME " line %" PRIu64 " does not match the signed checkpoint "
                                             "(lines were edited and the chain rewritten)", cp.seq);
        if (lines > cp.seq)
                return err_setx(e, -EBADMSG,
                                LOG_NAME " line %" PRIu64 " is past the signed checkpoint (line %" PRIu64 ")",
                                cp.seq + 1, cp.seq);
        *ret = (struct audit_status){ .lines = lines, .checkpoint_seq = cp.seq };
        memcpy(ret->key_id, cp.key, sizeof(ret->key_id));
        return 0;
}

int audit_read(const char *state_dir, const char *event_prefix, json_object **ret_array, struct mlvm_err *e)
{
        _cleanup_close_ int lock = -1, fd = -1;
        _cleanup_free_ struct line_reader *lr = NULL;
        _cleanup_json_ json_object *a = json_object_new_array();
        const char *line;
        size_t len;
        int r;

        if ((r = lock_shared(state_dir, &lock, e)) < 0)
                return r;
        r = open_log(state_dir, &fd, e);
        if (r == -ENOENT) {
                *ret_array = TAKE_PTR(a);
                return 0;
        }
        if (r < 0)
                return r;
        lr = xcalloc(1, sizeof(*lr));
        lr->fd = fd;
        while ((r = next_line(lr, &line, &len, e)) > 0) {
                json_object *o = audit_parse_object(line, len);
                if (!o)
                        return err_setx(e, -EBADMSG,
                                        LOG_NAME " line %" PRIu64 ": not a JSON object (run 'mlvm audit verify')",
                                        lr->n);
                const char *event = get_string(o, "event");
                if (event_prefix && !(event && strstartswith(event, event_prefix))) {
                        json_object_put(o);
                        continue;
                }
                json_object_array_add(a, o);
        }
        if (r < 0)
                return r;
        *ret_array = TAKE_PTR(a);
        return 0;
}
