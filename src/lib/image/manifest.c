/* manifest.c: image manifest and signature files; see manifest.h. */
#include "mlvm-build.h"

#include <openssl/evp.h>

#include "manifest.h"
#include "cleanup.h"
#include "util.h"

uint64_t manifest_part_max(const char *name)
{
        if (streq(name, "kernel"))
                return 256ULL << 20;
        if (streq(name, "initramfs"))
                return 1ULL << 30;
        if (streq(name, "rootfs"))
                return 64ULL << 30;
        return 0;
}

const struct image_part *manifest_part(const struct manifest *m, const char *name)
{
        for (size_t i = 0; i < m->n_parts; i++)
                if (streq(m->parts[i].name, name))
                        return &m->parts[i];
        return NULL;
}

void manifest_clear(struct manifest *m)
{
        free(m->name);
        free(m->recipe);
        free(m->kernel_release);
        free(m->cmdline);
        free(m->agent_version);
        free(m->build_time);
        for (size_t i = 0; i < m->n_inputs; i++) {
                free(m->inputs[i].package);
                free(m->inputs[i].version);
        }
        *m = (struct manifest){ 0 };
}

static bool printable(const char *s, size_t max)
{
        size_t n = 0;
        for (; *s; s++, n++)
                if ((unsigned char)*s < 0x20 || *s == 0x7f || n >= max)
                        return false;
        return true;
}

/* Only these keys, each of the right type: anything else is refused. */
static int check_keys(json_object *o, const char *const *allowed, const char *where, struct mlvm_err *e)
{
        json_object_object_foreach(o, k, v) {
                (void)v;
                bool ok = false;
                for (size_t i = 0; allowed[i]; i++)
                        ok |= streq(k, allowed[i]);
                if (!ok)
                        return err_setx(e, -EINVAL, "manifest: %s: unknown key \"%.64s\"", where, k);
        }
        return 0;
}

static int get_str(json_object *o, const char *key, const char *where, size_t max, char **ret, struct mlvm_err *e)
{
        json_object *v;
        if (!json_object_object_get_ex(o, key, &v))
                return err_setx(e, -EINVAL, "manifest: %s: missing \"%s\"", where, key);
        if (!json_object_is_type(v, json_type_string))
                return err_setx(e, -EINVAL, "manifest: %s: \"%s\" must be a string", where, key);
        const char *s = json_object_get_string(v);
        if ((size_t)json_object_get_string_len(v) != strlen(s) || !printable(s, max))
                return err_setx(e, -EINVAL, "manifest: %s: \"%s\" is longer than %zu bytes or not printable", where,
                                key, max);
        *ret = xstrdup(s);
        return 0;
}

static int get_hex(json_object *o, const char *where, char out[SHA256_HEX_LEN + 1], struct mlvm_err *e)
{
        _cleanup_free_ char *s = NULL;
        int r = get_str(o, "sha256", where, SHA256_HEX_LEN + 1, &s, e);
        if (r < 0)
                return r;
        if (!is_sha256_hex(s))
                return err_setx(e, -EINVAL, "manifest: %s: sha256 is not 64 lowercase hex digits", where);
        memcpy(out, s, SHA256_HEX_LEN + 1);
        return 0;
}

static int parse_part(json_object *p, struct manifest *m, size_t idx, struct mlvm_err *e)
{
        static const char *const keys[] = { "name", "size", "sha256", NULL };
        _cleanup_free_ char *name = NULL;
        char where[64];
        json_object *v;
        int r;

        (void)snprintf(where, sizeof(where), "parts[%zu]", idx);
        if (!json_object_is_type(p, json_type_object))
                return err_setx(e, -EINVAL, "manifest: %s: must be an object", where);
        if ((r = check_keys(p, keys, where, e)) < 0 || (r = get_str(p, "name", where, 64, &name, e)) < 0)
                return r;
        if (strchr(name, '/') || strstr(name, ".."))
                return err_setx(e, -EINVAL, "manifest: part name \"%s\" contains / or ..", name);
        uint64_t max = manifest_part_max(name);
        if (!max)
                return err_setx(e, -EINVAL, "manifest: part name \"%s\" is not kernel, initramfs or rootfs", name);
        if (manifest_part(m, name))
                return err_setx(e, -EINVAL, "manifest: part %s is listed twice", name);
        if (!json_object_object_get_ex(p, "size", &v) || !json_object_is_type(v, json_type_int))
                return err_setx(e, -EINVAL, "manifest: part %s: size must be an integer", name);
        int64_t size = json_object_get_int64(v);
        if (size < 0 || (uint64_t)size > max)
                return err_setx(e, -EINVAL, "manifest: part %s: size %lld is out of range (0 to %llu)", name,
                                (long long)size, (unsigned long long)max);
        struct image_part *part = &m->parts[m->n_parts];
        (void)snprintf(part->name, sizeof(part->name), "%s", name);
        part->size = (uint64_t)size;
        if ((r = get_hex(p, name, part->sha256, e)) < 0)
                return r;
        m->n_parts++;
        return 0;
}

static void json_object_putp_local(json_object **o) { if (*o) json_object_put(*o); }

int manifest_parse(const char *text, size_t len, struct manifest *ret, struct mlvm_err *e)
{
        static const char *const keys[] = { "schema", "name", "recipe", "kernel_release", "cmdline", "agent_version",
                                            "build_time", "inputs", "parts", NULL };
        __attribute__((cleanup(json_object_putp_local))) json_object *o = NULL;
        struct manifest m = { 0 };
        _cleanup_free_ char *schema = NULL;
        json_tokener *tok;
        json_object *v;
        int r;

        if (len > MANIFEST_MAX_BYTES)
                return err_setx(e, -EFBIG, "manifest: larger than %d bytes", MANIFEST_MAX_BYTES);
        if (strlen(text) != len)
                return err_setx(e, -EINVAL, "manifest: contains a NUL byte");
        tok = json_tokener_new_ex(8);   /* the schema is 3 levels deep */
        o = json_tokener_parse_ex(tok, text, (int)len);
        bool complete = json_tokener_get_error(tok) == json_tokener_success &&
                        json_tokener_get_parse_end(tok) == len;
        json_tokener_free(tok);
        if (!o || !complete)
                return err_setx(e, -EINVAL, "manifest: not one valid JSON value");
        if (!json_object_is_type(o, json_type_object))
                return err_setx(e, -EINVAL, "manifest: must be a JSON object");
        if ((r = check_keys(o, keys, "top level", e)) < 0)
                goto fail;
        if ((r = get_str(o, "schema", "top level", 64, &schema, e)) < 0)
                goto fail;
        if (!streq(schema, MANIFEST_SCHEMA)) {
                r = err_setx(e, -EINVAL, "manifest: schema \"%.64s\" is not %s", schema, MANIFEST_SCHEMA);
                goto fail;
        }
        if ((r = get_str(o, "name", "top level", 64, &m.name, e)) < 0 ||
            (r = get_str(o, "recipe", "top level", 64, &m.recipe, e)) < 0 ||
            (r = get_str(o, "kernel_release", "top level", 128, &m.kernel_release, e)) < 0 ||
            (r = get_str(o, "cmdline", "top level", 2048, &m.cmdline, e)) < 0 ||
            (r = get_str(o, "agent_version", "top level", 64, &m.agent_version, e)) < 0 ||
            (r = get_str(o, "build_time", "top level", 64, &m.build_time, e)) < 0)
                goto fail;
        if (!json_object_object_get_ex(o, "inputs", &v) || !json_object_is_type(v, json_type_array) ||
            json_object_array_length(v) > MANIFEST_MAX_INPUTS) {
                r = err_setx(e, -EINVAL, "manifest: inputs must be a list of at most %d packages", MANIFEST_MAX_INPUTS);
                goto fail;
        }
        for (size_t i = 0; i < json_object_array_length(v); i++) {
                static const char *const ikeys[] = { "package", "version", "sha256", NULL };
                json_object *in = json_object_array_get_idx(v, i);
                struct image_input *x = &m.inputs[m.n_inputs];
                if (!json_object_is_type(in, json_type_object)) {
                        r = err_setx(e, -EINVAL, "manifest: inputs[%zu] must be an object", i);
                        goto fail;
                }
                m.n_inputs++;
                if ((r = check_keys(in, ikeys, "inputs", e)) < 0 ||
                    (r = get_str(in, "package", "inputs", 128, &x->package, e)) < 0 ||
                    (r = get_str(in, "version", "inputs", 128, &x->version, e)) < 0 ||
                    (r = get_hex(in, "inputs", x->sha256, e)) < 0)
                        goto fail;
        }
        if (!json_object_object_get_ex(o, "parts", &v) || !json_object_is_type(v, json_type_array) ||
            json_object_array_length(v) < 1 || json_object_array_length(v) > MANIFEST_MAX_PARTS) {
                r = err_setx(e, -EINVAL, "manifest: parts must be a list of 1 to %d parts", MANIFEST_MAX_PARTS);
                goto fail;
        }
        for (size_t i = 0; i < json_object_array_length(v); i++)
                if ((r = parse_part(json_object_array_get_idx(v, i), &m, i, e)) < 0)
                        goto fail;
        if (!manifest_part(&m, "kernel") || !manifest_part(&m, "initramfs")) {
                r = err_setx(e, -EINVAL, "manifest: parts must include kernel and initramfs");
                goto fail;
        }
        *ret = m;
        return 0;
fail:
        manifest_clear(&m);
        return r;
}

char *manifest_serialize(const struct manifest *m)
{
        _cleanup_json_ json_object *o = json_object_new_object();
        json_object *inputs = json_object_new_array(), *parts = json_object_new_array();

        json_object_object_add(o, "schema", json_object_new_string(MANIFEST_SCHEMA));
        json_object_object_add(o, "name", json_object_new_string(m->name));
        json_object_object_add(o, "recipe", json_object_new_string(m->recipe));
        json_object_object_add(o, "kernel_release", json_object_new_string(m->kernel_release));
        json_object_object_add(o, "cmdline", json_object_new_string(m->cmdline));
        json_object_object_add(o, "agent_version", json_object_new_string(m->agent_version));
        json_object_object_add(o, "build_time", json_object_new_string(m->build_time));
        for (size_t i = 0; i < m->n_inputs; i++) {
                json_object *x = json_object_new_object();
                json_object_object_add(x, "package", json_object_new_string(m->inputs[i].package));
                json_object_object_add(x, "version", json_object_new_string(m->inputs[i].version));
                json_object_object_add(x, "sha256", json_object_new_string(m->inputs[i].sha256));
                json_object_array_add(inputs, x);
        }
        json_object_object_add(o, "inputs", inputs);
        for (size_t i = 0; i < m->n_parts; i++) {
                json_object *x = json_object_new_object();
                json_object_object_add(x, "name", json_object_new_string(m->parts[i].name));
                json_object_object_add(x, "size", json_object_new_int64((int64_t)m->parts[i].size));
                json_object_object_add(x, "sha256", json_object_new_string(m->parts[i].sha256));
                json_object_array_add(parts, x);
        }
        json_object_object_add(o, "parts", parts);
        return xasprintf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                                                   JSON_C_TO_STRING_NOSLASHESCAPE));
}

char *manifest_sig_serialize(const char keyid[KEY_ID_LEN + 1], const uint8_t sig[KEY_SIG_LEN])
{
        _cleanup_json_ json_object *o = json_object_new_object();
        unsigned char b64[4 * ((KEY_SIG_LEN + 2) / 3) + 1];

        EVP_EncodeBlock(b64, sig, KEY_SIG_LEN);
        json_object_object_add(o, "key", json_object_new_string(keyid));
        json_object_object_add(o, "sig", json_object_new_string((const char *)b64));
        return xasprintf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
}

int manifest_sig_parse(const char *text, size_t len, char ret_keyid[KEY_ID_LEN + 1], uint8_t ret_sig[KEY_SIG_LEN],
                       struct mlvm_err *e)
{
        static const char *const keys[] = { "key", "sig", NULL };
        __attribute__((cleanup(json_object_putp_local))) json_object *o = NULL;
        _cleanup_free_ char *key = NULL, *sig = NULL;
        /* 64 bytes are 88 base64 characters ending "=="; EVP_DecodeBlock
         * returns 66 for them (it counts the padding as zero bytes). */
        enum { B64_LEN = 4 * ((KEY_SIG_LEN + 2) / 3), RAW_LEN = 3 * B64_LEN / 4 };
        unsigned char raw[RAW_LEN];
        int r;

        if (len > MANIFEST_SIG_MAX || strlen(text) != len)
                return err_setx(e, -EINVAL, "manifest.sig: larger than %d bytes or contains NUL", MANIFEST_SIG_MAX);
        json_tokener *tok = json_tokener_new_ex(4);
        o = json_tokener_parse_ex(tok, text, (int)len);
        /* One object and nothing after it but whitespace. */
        size_t end = json_tokener_get_error(tok) == json_tokener_success ? json_tokener_get_parse_end(tok) : 0;
        json_tokener_free(tok);
        while (end < len && (text[end] == '\n' || text[end] == ' ' || text[end] == '\t' || text[end] == '\r'))
                end++;
        if (!o || end != len || !json_object_is_type(o, json_type_object))
                return err_setx(e, -EINVAL, "manifest.sig: not one JSON object");
        if ((r = check_keys(o, keys, "manifest.sig", e)) < 0 || (r = get_str(o, "key", "manifest.sig", 64, &key, e)) < 0 ||
            (r = get_str(o, "sig", "manifest.sig", 128, &sig, e)) < 0)
                return err_prefix(e, "signature");
        if (strlen(key) != KEY_ID_LEN || strspn(key, "0123456789abcdef") != KEY_ID_LEN)
                return err_setx(e, -EINVAL, "manifest.sig: key is not a %d-digit key id", KEY_ID_LEN);
        if (strlen(sig) != B64_LEN || sig[B64_LEN - 1] != '=' || sig[B64_LEN - 2] != '=' ||
            EVP_DecodeBlock(raw, (const unsigned char *)sig, B64_LEN) != RAW_LEN)
                return err_setx(e, -EINVAL, "manifest.sig: sig is not a base64 Ed25519 signature");
        memcpy(ret_keyid, key, KEY_ID_LEN + 1);
        memcpy(ret_sig, raw, KEY_SIG_LEN);
        return 0;
}
