/* audit.c: appending to the hash-chained audit log, and its signed checkpoint
 * (reading, checking and writing it); audit-read.c reads the log back; see
 * audit.h. mlvm writes the log, but reads it back as untrusted input: whoever can
 * write the state directory may have edited it, so every read is capped and
 * every line and the checkpoint are parsed strictly. */
#include "mlvm-build.h"

#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <openssl/evp.h>

#include "audit-internal.h"
#include "json-util.h"
#include "cleanup.h"
#include "util.h"

#define CHECKPOINT_MAX 1024
#define SIG_B64_LEN 88          /* base64 of 64 bytes, with "==" */
#define CHECKPOINT_DOMAIN "mlvm-audit-checkpoint-v1"

const char audit_zero_hash[HASH_HEX_LEN + 1] =
        "0000000000000000000000000000000000000000000000000000000000000000";

bool audit_event_is_valid(const char *event)
{
        size_t n = strlen(event);

        if (n < 1 || n > AUDIT_EVENT_MAX || !(event[0] >= 'a' && event[0] <= 'z'))
                return false;
        return strspn(event, "abcdefghijklmnopqrstuvwxyz0123456789.-") == n;
}

bool audit_is_hex(const char *s, size_t n)
{
        return strlen(s) == n && strspn(s, "0123456789abcdef") == n;
}

int audit_sha256_hex(const void *data, size_t len, char ret[HASH_HEX_LEN + 1])
{
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int n = 0;

        if (!EVP_Digest(data, len, md, &n, EVP_sha256(), NULL) || n != HASH_HEX_LEN / 2)
                return -EIO;
        for (unsigned int i = 0; i < n; i++)
                (void)snprintf(ret + 2 * i, 3, "%02x", md[i]);
        return 0;
}

/* Exactly one JSON object spanning all LEN bytes, or NULL. json-c's strict
 * mode may grow stricter in later releases; appends re-parse what they
 * write with these same flags, so this release always reads its own lines. */
json_object *audit_parse_object(const char *s, size_t len)
{
        return json_parse_object(s, len, JSON_TOKENER_DEFAULT_DEPTH);
}

/* ---- the checkpoint ---------------------------------------------------- */

static char *checkpoint_message(uint64_t seq, const char *hash)
{
        return xasprintf(CHECKPOINT_DOMAIN "\n%" PRIu64 "\n%s\n", seq, hash);
}

/* Base64 of exactly 64 bytes, in its one canonical spelling. */
static int sig_decode(const char *s, uint8_t ret[KEY_SIG_LEN])
{
        unsigned char raw[SIG_B64_LEN / 4 * 3], again[SIG_B64_LEN + 1];

        if (strlen(s) != SIG_B64_LEN || EVP_DecodeBlock(raw, (const unsigned char *)s, SIG_B64_LEN) != sizeof(raw))
                return -EINVAL;
        /* DecodeBlock skips blanks and ignores the pad bits: re-encode and compare. */
        if (EVP_EncodeBlock(again, raw, KEY_SIG_LEN) != SIG_B64_LEN || memcmp(again, s, SIG_B64_LEN) != 0)
                return -EINVAL;
        memcpy(ret, raw, KEY_SIG_LEN);
        return 0;
}

/* Parse STATE/audit.checkpoint strictly. *ret_exists is false (and 0
 * returned) when there is none. */
int audit_checkpoint_read(const char *state_dir, struct checkpoint *ret, bool *ret_exists, struct mlvm_err *e)
{
        _cleanup_free_ char *path = xasprintf("%s/" CHECKPOINT_NAME, state_dir);
        _cleanup_free_ char *buf = NULL;
        struct checkpoint cp = { 0 };
        size_t len;
        int r = read_file_capped(path, CHECKPOINT_MAX, &buf, &len);

        if (r == -ENOENT) {
                *ret_exists = false;
                return 0;
        }
        if (r == -EFBIG)
                return err_setx(e, -EBADMSG, CHECKPOINT_NAME ": larger than %d bytes", CHECKPOINT_MAX);
        if (r < 0)
                return err_set(e, r, "%s", path);
        if (len > 0 && buf[len - 1] == '\n')
                len--;   /* the one newline the writer adds */
        _cleanup_json_ json_object *o = audit_parse_object(buf, len);
        if (!o)
                return err_setx(e, -EBADMSG, CHECKPOINT_NAME ": not a JSON object");
        json_object_object_foreach(o, k, v) {
                const char *str = json_object_is_type(v, json_type_string) ? json_object_get_string(v) : "";
                if (streq(k, "seq")) {
                        int64_t seq = json_object_get_int64(v);
                        if (!json_object_is_type(v, json_type_int) || seq < 1 || seq == INT64_MAX)
                                return err_setx(e, -EBADMSG, CHECKPOINT_NAME ": \"seq\" is not a line number");
                        cp.seq = (uint64_t)seq;
                } else if (streq(k, "hash")) {
                        if (!audit_is_hex(str, HASH_HEX_LEN))
                                return err_setx(e, -EBADMSG, CHECKPOINT_NAME ": \"hash\" is not a SHA-256 in hex");
                        memcpy(cp.hash, str, HASH_HEX_LEN + 1);
                } else if (streq(k, "key")) {
                        if (!audit_is_hex(str, KEY_ID_LEN))
                                return err_setx(e, -EBADMSG, CHECKPOINT_NAME ": \"key\" is not a key id");
                        memcpy(cp.key, str, KEY_ID_LEN + 1);
                } else if (streq(k, "sig")) {
                        if (sig_decode(str, cp.sig) < 0)
                                return err_setx(e, -EBADMSG,
                                                CHECKPOINT_NAME ": \"sig\" is not base64 of a %d-byte signature",
                                                KEY_SIG_LEN);
                } else
                        return err_setx(e, -EBADMSG, CHECKPOINT_NAME ": unknown key \"%.64s\"", k);
        }
        if (json_object_object_length(o) != 4)
                return err_setx(e, -EBADMSG, CHECKPOINT_NAME ": needs exactly \"seq\", \"hash\", \"key\" and \"sig\"");
        *ret = cp;
        *ret_exists = true;
        return 0;
}

/* The checkpoint must be signed by KEY, the host key (its private or public half). */
int audit_checkpoint_check_sig(const struct checkpoint *cp, EVP_PKEY *key, struct mlvm_err *e)
{
        char id[KEY_ID_LEN + 1];

        if (key_id(key, id) < 0)
                return err_setx(e, -EINVAL, CHECKPOINT_NAME ": cannot compute the host key id");
        if (!streq(cp->key, id))
                return err_setx(e, -EBADMSG, CHECKPOINT_NAME ": signed by key %s, not the host key %s", cp->key, id);
        _cleanup_free_ char *msg = checkpoint_message(cp->seq, cp->hash);
        if (key_verify(key, msg, strlen(msg), cp->sig) < 0)
                return err_setx(e, -EBADMSG, CHECKPOINT_NAME ": signature does not verify with the host key");
        return 0;
}

static int checkpoint_write(const char *state_dir, EVP_PKEY *key, uint64_t seq, const char *hash,
                            struct mlvm_err *e)
{
        _cleanup_free_ char *path = xasprintf("%s/" CHECKPOINT_NAME, state_dir);
        _cleanup_free_ char *msg = checkpoint_message(seq, hash);
        unsigned char b64[SIG_B64_LEN + 1];
        uint8_t sig[KEY_SIG_LEN];
        char id[KEY_ID_LEN + 1];
        int r;

        if (key_id(key, id) < 0)
                return err_setx(e, -EINVAL, "%s: cannot compute the host key id", path);
        if ((r = key_sign(key, msg, strlen(msg), sig, e)) < 0)
                return err_prefix(e, "%s", path);
        if (EVP_EncodeBlock(b64, sig, KEY_SIG_LEN) != SIG_B64_LEN)
                return err_setx(e, -EIO, "%s: cannot encode the signature", path);
        _cleanup_json_ json_object *o = json_object_new_object();
        json_object_object_add(o, "seq", json_object_new_int64((int64_t)seq));
        json_object_object_add(o, "hash", json_object_new_string(hash));
        json_object_object_add(o, "key", json_object_new_string(id));
        json_object_object_add(o, "sig", json_object_new_string((const char *)b64));
        _cleanup_free_ char *text = xasprintf(
                "%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
        if ((r = write_file_atomic(path, text, strlen(text), 0600)) < 0)
                return err_set(e, r, "%s", path);
        return 0;
}

/* ---- appending --------------------------------------------------------- */

/* The hash of the last line of a log of SIZE > 0 bytes, which must end
 * with a newline. Reads at most one line, not the whole log. */
static int tail_hash(int fd, uint64_t size, char ret[HASH_HEX_LEN + 1], struct mlvm_err *e)
{
        size_t want = size < AUDIT_LINE_MAX + 2 ? (size_t)size : AUDIT_LINE_MAX + 2;
        off_t off = (off_t)(size - want);
        _cleanup_free_ char *buf = xmalloc(want);
        size_t got = 0, start = 0, end = want - 1;

        while (got < want) {
                ssize_t n = pread(fd, buf + got, want - got, off + (off_t)got);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return err_set(e, -errno, LOG_NAME);
                if (n == 0)
                        return err_setx(e, -EIO, LOG_NAME ": shrank while being read");
                got += (size_t)n;
        }
        if (buf[end] != '\n')
                return err_setx(e, -EBADMSG, LOG_NAME ": the last line is incomplete (run 'mlvm audit verify'); "
                                             "not appending");
        for (start = end; start > 0 && buf[start - 1] != '\n'; start--)
                ;
        if (start == 0 && off > 0)
                return err_setx(e, -EBADMSG, LOG_NAME ": the last line is longer than %u bytes (run 'mlvm audit "
                                             "verify'); not appending", AUDIT_LINE_MAX);
        if (audit_sha256_hex(buf + start, end - start, ret) < 0)
                return err_setx(e, -EIO, "SHA-256 failed");
        return 0;
}

static int fields_check(const char *event, json_object *fields, struct mlvm_err *e)
{
        static const char *const reserved[] = { "seq", "time", "event", "prev" };

        if (!audit_event_is_valid(event))
                return err_setx(e, -EINVAL, "audit event \"%.80s\": must match [a-z][a-z0-9.-]{0,63}", event);
        if (!fields)
                return 0;
        if (!json_object_is_type(fields, json_type_object))
                return err_setx(e, -EINVAL, "audit event %s: fields must be a JSON object", event);
        json_object_object_foreach(fields, k, v) {
                (void)v;
                for (size_t i = 0; i < ARRAY_SIZE(reserved); i++)
                        if (streq(k, reserved[i]))
                                return err_setx(e, -EINVAL, "audit event %s: field \"%s\" is reserved", event, k);
        }
        return 0;
}

static char *make_line(uint64_t seq, const char *event, json_object *fields, const char *prev)
{
        char when[32];
        struct tm tm;
        time_t now = time(NULL);

        if (!gmtime_r(&now, &tm) || !strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm))
                return NULL;
        _cleanup_json_ json_object *o = json_object_new_object();
        json_object_object_add(o, "seq", json_object_new_int64((int64_t)seq));
        json_object_object_add(o, "time", json_object_new_string(when));
        json_object_object_add(o, "event", json_object_new_string(event));
        if (fields) {
                json_object_object_foreach(fields, k, v)
                        json_object_object_add(o, k, json_object_get(v));
        }
        json_object_object_add(o, "prev", json_object_new_string(prev));
        return xstrdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
}

/* Under the exclusive lock: the checkpoint must cover the log's last line
 * exactly, else signing a new one would bless a truncation or a line
 * added by hand. Sets the new line's seq and prev. */
static int append_position(const char *state_dir, int fd, uint64_t size, EVP_PKEY *key, uint64_t *ret_seq,
                           char ret_prev[HASH_HEX_LEN + 1], struct mlvm_err *e)
{
        struct checkpoint cp;
        bool have_cp = false;
        char last[HASH_HEX_LEN + 1];
        int r;

        if ((r = audit_checkpoint_read(state_dir, &cp, &have_cp, e)) < 0)
                return err_prefix(e, "not appending to the audit log (run 'mlvm audit verify')");
        if (size == 0 && !have_cp) {
                *ret_seq = 1;
                memcpy(ret_prev, audit_zero_hash, HASH_HEX_LEN + 1);
                return 0;
        }
        if (!have_cp)
                return err_setx(e, -EBADMSG, CHECKPOINT_NAME " is missing but " LOG_NAME " is not empty "
                                             "(run 'mlvm audit verify'); not appending");
        if (size == 0)
                return err_setx(e, -EBADMSG, LOG_NAME " is empty but the signed checkpoint covers line %" PRIu64
                                             " (run 'mlvm audit verify'); not appending", cp.seq);
        if ((r = audit_checkpoint_check_sig(&cp, key, e)) < 0)
                return err_prefix(e, "not appending to the audit log (run 'mlvm audit verify')");
        if ((r = tail_hash(fd, size, last, e)) < 0)
                return r;
        if (!streq(last, cp.hash))
                return err_setx(e, -EBADMSG,
                                "the last line of " LOG_NAME " is not line %" PRIu64 " that the checkpoint signed "
                                "(run 'mlvm audit verify'); not appending", cp.seq);
        *ret_seq = cp.seq + 1;
        memcpy(ret_prev, last, HASH_HEX_LEN + 1);
        return 0;
}

int audit_append(const char *state_dir, const char *event, json_object *fields, struct mlvm_err *e)
{
        _cleanup_free_ char *lock_path = xasprintf("%s/" LOCK_NAME, state_dir);
        _cleanup_free_ char *log_path = xasprintf("%s/" LOG_NAME, state_dir);
        _cleanup_free_ char *line = NULL;
        _cleanup_close_ int lock = -1, fd = -1, dir = -1;
        _cleanup_pkey_ EVP_PKEY *key = NULL;
        char prev[HASH_HEX_LEN + 1], hash[HASH_HEX_LEN + 1];
        sigset_t block, old;
        struct stat st;
        uint64_t seq = 0;
        int r;

        if ((r = fields_check(event, fields, e)) < 0)
                return r;
        if ((r = mkdir_p(state_dir, 0700)) < 0)
                return err_set(e, r, "%s", state_dir);
        /* One writer at a time, across processes. O_NOFOLLOW here and below:
         * a symlink planted in the state directory cannot redirect our writes. */
        if ((lock = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW, 0600)) < 0)
                return err_set(e, -errno, "%s", lock_path);
        while (flock(lock, LOCK_EX) < 0)
                if (errno != EINTR)
                        return err_set(e, -errno, "lock %s", lock_path);
        /* Under the lock, so that two first appends cannot create two host keys. */
        if ((r = key_load_private(state_dir, KEY_HOST, true, &key, e)) < 0)
                return err_prefix(e, "audit log");
        if ((fd = open(log_path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW, 0600)) < 0)
                return err_set(e, -errno, "%s", log_path);
        if (fstat(fd, &st) < 0)
                return err_set(e, -errno, "%s", log_path);
        if (!S_ISREG(st.st_mode))
                return err_setx(e, -EINVAL, "%s: not a regular file", log_path);
        if ((r = append_position(state_dir, fd, (uint64_t)st.st_size, key, &seq, prev, e)) < 0)
                return r;
        if (!(line = make_line(seq, event, fields, prev)))
                return err_setx(e, -EIO, "audit event %s: cannot format the time", event);
        size_t len = strlen(line);
        /* Whatever the caller put in FIELDS, the line must read back. */
        _cleanup_json_ json_object *back = audit_parse_object(line, len);
        if (!back || memchr(line, '\n', len))
                return err_setx(e, -EINVAL, "audit event %s: fields are not valid JSON (bad UTF-8 or a NaN?)", event);
        if (len > AUDIT_LINE_MAX)
                return err_setx(e, -E2BIG, "audit event %s: %zu bytes, over the %u-byte limit of a line", event, len,
                                AUDIT_LINE_MAX);
        if ((uint64_t)st.st_size + len + 1 > AUDIT_LOG_MAX)
                return err_setx(e, -EFBIG, "%s: full (%u MiB)", log_path, AUDIT_LOG_MAX >> 20);
        if (audit_sha256_hex(line, len, hash) < 0)
                return err_setx(e, -EIO, "SHA-256 failed");
        line[len] = '\n';   /* replaces the NUL; written with its length below */

        /* A line without its checkpoint would stop every later append, so
         * hold off termination signals until both are written, and take
         * the line back when the checkpoint cannot be. */
        sigemptyset(&block);
        sigaddset(&block, SIGINT);
        sigaddset(&block, SIGTERM);
        sigaddset(&block, SIGHUP);
        sigaddset(&block, SIGQUIT);
        (void)pthread_sigmask(SIG_BLOCK, &block, &old);
        r = write_full(fd, line, len + 1);
        if (r == 0 && fsync(fd) < 0)
                r = -errno;
        if (r < 0)
                (void)err_set(e, r, "%s", log_path);
        else
                r = checkpoint_write(state_dir, key, seq, hash, e);
        if (r < 0 && ftruncate(fd, st.st_size) == 0)
                (void)fsync(fd);
        /* Make the new log's and the checkpoint's names durable too. */
        if (r == 0 && (dir = open(state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0)
                (void)fsync(dir);
        (void)pthread_sigmask(SIG_SETMASK, &old, NULL);
        return r;
}

int audit_removed(const char *state_dir, const char *event, json_object *removed, size_t more, struct mlvm_err *e)
{
        if (json_object_array_length(removed) == 0 && more == 0) {
                json_object_put(removed);
                return 0;
        }
        _cleanup_json_ json_object *f = json_object_new_object();
        json_object_object_add(f, "removed", removed);
        if (more)
                json_object_object_add(f, "more", json_object_new_int64((int64_t)more));
        return audit_append(state_dir, event, f, e);
}
