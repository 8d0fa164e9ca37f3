/* secret-file.c: the NAME.secret file format (secret-store.h): writing it
 * with json-c, and reading it back as untrusted input, capped before it is
 * parsed, every field checked and unknown ones refused. Nothing here sees
 * a key or a value. */
#include "mlvm-build.h"

#include <sys/stat.h>
#include <openssl/evp.h>
#include <json-c/json.h>

#include "secret-file.h"
#include "cleanup.h"
#include "util.h"

#define B64_LEN(n) (4 * (((n) + 2) / 3))

bool secret_name_is_valid(const char *name)
{
        static const char first[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_";
        size_t len = name ? strlen(name) : 0;

        if (len == 0 || len > SECRET_NAME_MAX || !strchr(first, name[0]))
                return false;
        for (size_t i = 1; i < len; i++)
                if (!strchr(first, name[i]) && name[i] != '.' && name[i] != '-')
                        return false;
        return true;
}

void sealed_done(struct sealed *s) { free(s->ct); }
static void json_tokener_freep(json_tokener **t) { if (*t) json_tokener_free(*t); }

static char *b64(const void *data, size_t len)
{
        char *s = xmalloc(B64_LEN(len) + 1);
        (void)EVP_EncodeBlock((unsigned char *)s, data, (int)len);
        return s;
}

/* Strict: exactly the canonical spelling of exactly LEN bytes. */
static int unb64(const char *s, size_t len, uint8_t *ret)
{
        size_t slen = strlen(s);

        if (len == 0 || slen != B64_LEN(len))
                return -EINVAL;
        _cleanup_free_ uint8_t *raw = xmalloc(slen / 4 * 3);
        _cleanup_free_ char *again = NULL;
        if (EVP_DecodeBlock(raw, (const unsigned char *)s, (int)slen) != (int)(slen / 4 * 3))
                return -EINVAL;
        /* DecodeBlock skips blanks and ignores pad bits: re-encode and compare. */
        again = b64(raw, len);
        if (!streq(again, s))
                return -EINVAL;
        memcpy(ret, raw, len);
        return 0;
}

char *secret_path(const char *dir, const char *name) { return xasprintf("%s/%s" SECRET_SUFFIX, dir, name); }

char *secret_file_format(const char *name, const struct sealed *s)
{
        _cleanup_json_ json_object *o = json_object_new_object();
        _cleanup_free_ char *nonce = b64(s->nonce, SECRET_NONCE_LEN), *ct = b64(s->ct, s->info.size);
        _cleanup_free_ char *tag = b64(s->tag, SECRET_TAG_LEN);

        json_object_object_add(o, "version", json_object_new_int(1));
        json_object_object_add(o, "name", json_object_new_string(name));
        json_object_object_add(o, "created_at", json_object_new_int64(s->info.created_at));
        json_object_object_add(o, "size", json_object_new_int64((int64_t)s->info.size));
        json_object_object_add(o, "fingerprint", json_object_new_string(s->info.fingerprint));
        json_object_object_add(o, "nonce", json_object_new_string(nonce));
        json_object_object_add(o, "ciphertext", json_object_new_string(ct));
        json_object_object_add(o, "tag", json_object_new_string(tag));
        return xasprintf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
                                                                   JSON_C_TO_STRING_NOSLASHESCAPE));
}

static const char *get_string(json_object *o, const char *key)
{
        json_object *v;
        return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string)
                       ? json_object_get_string(v) : NULL;
}

static bool get_int(json_object *o, const char *key, int64_t min, int64_t max, int64_t *ret)
{
        json_object *v;
        if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
                return false;
        errno = 0;
        int64_t x = json_object_get_int64(v);
        if (errno || x < min || x > max)
                return false;
        *ret = x;
        return true;
}

static bool fp_is_valid(const char *s)
{
        return strlen(s) == SECRET_FP_LEN && strstartswith(s, SECRET_FP_PREFIX) &&
               strspn(s + strlen(SECRET_FP_PREFIX), "0123456789abcdef") == 32;
}

/* Parse PATH as the file of secret NAME. The file is input: it is capped
 * before parsing, and every field is checked, unknown ones refused. The
 * metadata is not authenticated until the value is decrypted. */
int secret_file_read(const char *path, const char *name, struct sealed *s, struct mlvm_err *e)
{
        static const char *const keys[] = { "version", "name", "created_at", "size", "fingerprint",
                                            "nonce", "ciphertext", "tag" };
        _cleanup_free_ char *buf = NULL;
        const char *str, *why = NULL;
        struct stat st;
        size_t len;
        int64_t version = 0, created = 0, size = 0;
        int r;

        if (!secret_name_is_valid(name))
                return err_setx(e, -EINVAL, "secret name \"%.80s\" is not valid", name);
        if (lstat(path, &st) < 0)
                return errno == ENOENT ? err_setx(e, -ENOENT, "secret %s: no such secret", name)
                                       : err_set(e, -errno, "secret %s: %s", name, path);
        if (!S_ISREG(st.st_mode))
                return err_setx(e, -EINVAL, "secret %s: %s is not a regular file", name, path);
        if (st.st_mode & 077)
                return err_setx(e, -EPERM, "secret %s: %s has mode %03o: group or others can read it; "
                                "chmod 600 it", name, path, (unsigned)(st.st_mode & 0777));
        if ((r = read_file_capped(path, SECRET_FILE_MAX, &buf, &len)) < 0)
                return r == -EFBIG ? err_setx(e, -EBADMSG, "secret %s: %s is larger than %d bytes", name, path,
                                              SECRET_FILE_MAX)
                                   : err_set(e, r, "secret %s: %s", name, path);

        _cleanup_(json_tokener_freep) json_tokener *tok = json_tokener_new_ex(4);
        _cleanup_json_ json_object *o = NULL;
        if (!tok)
                return err_setx(e, -ENOMEM, "secret %s: out of memory", name);
        o = strlen(buf) == len ? json_tokener_parse_ex(tok, buf, (int)len) : NULL;
        size_t end = o ? json_tokener_get_parse_end(tok) : 0;
        if (!o || json_tokener_get_error(tok) != json_tokener_success || strspn(buf + end, " \n") != len - end ||
            !json_object_is_type(o, json_type_object))
                why = "not a JSON object";
        else if (json_object_object_length(o) != (int)ARRAY_SIZE(keys))
                why = "unexpected fields";
        for (size_t i = 0; !why && i < ARRAY_SIZE(keys); i++)
                if (!json_object_object_get_ex(o, keys[i], NULL))
                        why = "unexpected fields";
        if (!why && (!get_int(o, "version", 0, INT32_MAX, &version) || version != 1))
                why = "version is not 1";
        if (!why && (!(str = get_string(o, "name")) || !streq(str, name)))
                why = "holds another secret's name (renamed?)";
        if (!why && !get_int(o, "created_at", 0, INT64_MAX, &created))
                why = "bad created_at";
        if (!why && !get_int(o, "size", 1, SECRET_VALUE_MAX, &size))
                why = "bad size";
        if (!why && (!(str = get_string(o, "fingerprint")) || !fp_is_valid(str)))
                why = "bad fingerprint";
        if (!why) {
                memset(&s->info, 0, sizeof(s->info));
                memcpy(s->info.name, name, strlen(name) + 1);
                memcpy(s->info.fingerprint, str, SECRET_FP_LEN + 1);
                s->info.created_at = created;
                s->info.size = (size_t)size;
                s->ct = xmalloc((size_t)size);
                if (!(str = get_string(o, "nonce")) || unb64(str, SECRET_NONCE_LEN, s->nonce) < 0)
                        why = "bad nonce";
                else if (!(str = get_string(o, "tag")) || unb64(str, SECRET_TAG_LEN, s->tag) < 0)
                        why = "bad tag";
                else if (!(str = get_string(o, "ciphertext")) || unb64(str, (size_t)size, s->ct) < 0)
                        why = "bad ciphertext (or size)";
        }
        if (why)
                return err_setx(e, -EBADMSG, "secret %s: %s is damaged: %s", name, path, why);
        return 0;
}
