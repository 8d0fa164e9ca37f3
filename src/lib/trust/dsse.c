/* dsse.c: DSSE v1 envelopes signed with Ed25519; see dsse.h.
 * Envelopes are read back as untrusted input (whoever can write the state
 * directory may have edited one): parsed strictly, base64 accepted only in
 * its canonical spelling, and the whole envelope must be exactly what this
 * writer produces, so no two parsers can see two different payloads
 * (duplicate keys, odd escapes). */
#include "mlvm-build.h"

#include <limits.h>
#include <openssl/pem.h>

#include "dsse.h"
#include "json-util.h"
#include "cleanup.h"
#include "util.h"

#define SIG_B64_LEN 88   /* base64 of 64 bytes, with "==" */
#define JSON_FLAGS (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)


char *dsse_pae(const char *type, const void *payload, size_t len, size_t *ret_len)
{
        _cleanup_free_ char *head = xasprintf("DSSEv1 %zu %s %zu ", strlen(type), type, len);
        size_t hlen = strlen(head);
        char *buf = xmalloc(hlen + len + 1);

        memcpy(buf, head, hlen);
        if (len)
                memcpy(buf + hlen, payload, len);
        buf[hlen + len] = '\0';
        *ret_len = hlen + len;
        return buf;
}

char *dsse_b64_encode(const void *data, size_t len)
{
        char *out = xmalloc((len + 2) / 3 * 4 + 1);
        /* EVP_EncodeBlock takes an int: encode in slices of whole 3-byte groups. */
        size_t in = 0, o = 0;
        while (in < len) {
                size_t n = len - in > (3u << 20) ? (3u << 20) : len - in;
                o += (size_t)EVP_EncodeBlock((unsigned char *)out + o, (const unsigned char *)data + in, (int)n);
                in += n;
        }
        out[o] = '\0';
        return out;
}

static bool is_b64_char(char c)
{
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/';
}

int dsse_b64_decode(const char *s, size_t len, uint8_t **ret, size_t *ret_len)
{
        size_t pad = 0;

        if (len % 4 || len > INT_MAX)
                return -EINVAL;
        if (len && s[len - 1] == '=')
                pad = len > 1 && s[len - 2] == '=' ? 2 : 1;
        for (size_t i = 0; i < len - pad; i++)
                if (!is_b64_char(s[i]))
                        return -EINVAL;
        _cleanup_free_ uint8_t *out = xmalloc(len / 4 * 3 + 1);
        if (len && EVP_DecodeBlock(out, (const unsigned char *)s, (int)len) != (int)(len / 4 * 3))
                return -EINVAL;
        size_t n = len / 4 * 3 - pad;
        /* DecodeBlock ignores the pad bits: only the one canonical spelling passes. */
        _cleanup_free_ char *again = dsse_b64_encode(out, n);
        if (strlen(again) != len || memcmp(again, s, len) != 0)
                return -EINVAL;
        out[n] = 0;
        *ret = TAKE_PTR(out);
        *ret_len = n;
        return 0;
}

json_object *dsse_parse_object(const char *s, size_t len)
{
        return json_parse_object(s, len, JSON_TOKENER_DEFAULT_DEPTH);
}

int dsse_sign(EVP_PKEY *key, const char *type, const void *payload, size_t len, char **ret_json,
              struct mlvm_err *e)
{
        char id[KEY_ID_LEN + 1];
        uint8_t sig[KEY_SIG_LEN];
        size_t plen;
        int r;

        if (key_id(key, id) < 0)
                return err_setx(e, -EINVAL, "cannot compute the key id");
        _cleanup_free_ char *pae = dsse_pae(type, payload, len, &plen);
        if ((r = key_sign(key, pae, plen, sig, e)) < 0)
                return r;
        _cleanup_free_ char *b64 = dsse_b64_encode(payload, len), *sig64 = dsse_b64_encode(sig, sizeof(sig));
        _cleanup_json_ json_object *o = json_object_new_object();
        json_object *sigs = json_object_new_array(), *s = json_object_new_object();
        json_object_object_add(o, "payloadType", json_object_new_string(type));
        json_object_object_add(o, "payload", json_object_new_string(b64));
        json_object_object_add(s, "keyid", json_object_new_string(id));
        json_object_object_add(s, "sig", json_object_new_string(sig64));
        json_object_array_add(sigs, s);
        json_object_object_add(o, "signatures", sigs);
        *ret_json = xstrdup(json_object_to_json_string_ext(o, JSON_FLAGS));
        return 0;
}

/* The host key's public half and id, if the host has a key yet. */
static EVP_PKEY *host_public(const char *state_dir, char ret_id[KEY_ID_LEN + 1])
{
        _cleanup_free_ char *pem = NULL;

        if (key_export_public(state_dir, KEY_HOST, &pem, NULL) < 0)
                return NULL;
        _cleanup_bio_ BIO *b = BIO_new_mem_buf(pem, -1);
        EVP_PKEY *k = b ? PEM_read_bio_PUBKEY(b, NULL, NULL, NULL) : NULL;
        if (k && key_id(k, ret_id) < 0) {
                EVP_PKEY_free(k);
                return NULL;
        }
        return k;
}

static const char *str_member(json_object *o, const char *key)
{
        json_object *v;
        return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string)
                       ? json_object_get_string(v) : NULL;
}

static bool has_exactly(json_object *o, const char *const *keys, size_t n)
{
        json_object_object_foreach(o, k, v) {
                (void)v;
                bool known = false;
                for (size_t i = 0; i < n; i++)
                        known |= streq(k, keys[i]);
                if (!known)
                        return false;
        }
        return (size_t)json_object_object_length(o) == n;
}

int dsse_verify(const char *state_dir, const char *text, size_t len, const char *type, uint8_t **ret_payload,
                size_t *ret_len, char ret_keyid[KEY_ID_LEN + 1], bool *ret_host, struct mlvm_err *e)
{
        static const char *const env_keys[] = { "payloadType", "payload", "signatures" };
        static const char *const sig_keys[] = { "keyid", "sig" };
        _cleanup_free_ uint8_t *payload = NULL, *sig = NULL;
        _cleanup_pkey_ EVP_PKEY *host = NULL;
        char host_id[KEY_ID_LEN + 1] = "";
        size_t n, siglen, plen;
        json_object *sigs, *s;

        if (len > 0 && text[len - 1] == '\n')
                len--;   /* the one newline the writer adds */
        _cleanup_json_ json_object *o = dsse_parse_object(text, len);
        if (!o)
                return err_setx(e, -EBADMSG, "not a JSON object");
        if (!has_exactly(o, env_keys, ARRAY_SIZE(env_keys)))
                return err_setx(e, -EBADMSG, "needs exactly \"payloadType\", \"payload\" and \"signatures\"");
        const char *ptype = str_member(o, "payloadType"), *p64 = str_member(o, "payload");
        if (!ptype || !streq(ptype, type))
                return err_setx(e, -EBADMSG, "payloadType is not \"%s\"", type);
        if (!p64 || dsse_b64_decode(p64, strlen(p64), &payload, &n) < 0)
                return err_setx(e, -EBADMSG, "payload is not canonical base64");
        if (!json_object_object_get_ex(o, "signatures", &sigs) || !json_object_is_type(sigs, json_type_array) ||
            json_object_array_length(sigs) != 1)
                return err_setx(e, -EBADMSG, "needs exactly one signature");
        s = json_object_array_get_idx(sigs, 0);
        if (!json_object_is_type(s, json_type_object) || !has_exactly(s, sig_keys, ARRAY_SIZE(sig_keys)))
                return err_setx(e, -EBADMSG, "a signature needs exactly \"keyid\" and \"sig\"");
        const char *keyid = str_member(s, "keyid"), *sig64 = str_member(s, "sig");
        if (!keyid || strlen(keyid) != KEY_ID_LEN || strspn(keyid, "0123456789abcdef") != KEY_ID_LEN)
                return err_setx(e, -EBADMSG, "keyid is not %d hex digits", KEY_ID_LEN);
        if (!sig64 || strlen(sig64) != SIG_B64_LEN || dsse_b64_decode(sig64, SIG_B64_LEN, &sig, &siglen) < 0 ||
            siglen != KEY_SIG_LEN)
                return err_setx(e, -EBADMSG, "sig is not base64 of a %d-byte signature", KEY_SIG_LEN);
        /* Exactly the writer's bytes: nothing another parser could read differently. */
        const char *again = json_object_to_json_string_ext(o, JSON_FLAGS);
        if (strlen(again) != len || memcmp(again, text, len) != 0)
                return err_setx(e, -EBADMSG, "not in the form mlvm writes (extra spaces, escapes or repeated keys)");

        _cleanup_free_ char *pae = dsse_pae(type, payload, n, &plen);
        host = host_public(state_dir, host_id);
        /* Trust narrows to two sources: our own host key, or the trusted set. */
        if (host && streq(keyid, host_id)) {
                if (key_verify(host, pae, plen, sig) < 0)
                        return err_setx(e, -EBADMSG, "signature does not verify with the host key %s", host_id);
        } else {
                struct mlvm_err why = { 0 };
                if (key_verify_trusted(state_dir, keyid, pae, plen, sig, &why) < 0)
                        return err_setx(e, -EBADMSG, "%s", why.msg);
        }
        *ret_payload = TAKE_PTR(payload);
        *ret_len = n;
        memcpy(ret_keyid, keyid, KEY_ID_LEN + 1);
        *ret_host = host && streq(keyid, host_id);
        return 0;
}
