/* keys.c: Ed25519 key pairs and the trusted set; see keys.h. */
#include "mlvm-build.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "keys.h"
#include "units.h"
#include "util.h"

#define PEM_MAX 8192


static char *keys_dir(const char *state_dir) { return xasprintf("%s/keys", state_dir); }

int key_id(EVP_PKEY *pkey, char ret_id[KEY_ID_LEN + 1])
{
        unsigned char *der = NULL, md[EVP_MAX_MD_SIZE];
        unsigned int mdlen = 0;
        int n = i2d_PUBKEY(pkey, &der);

        if (n <= 0)
                return -EINVAL;
        int ok = EVP_Digest(der, (size_t)n, md, &mdlen, EVP_sha256(), NULL);
        OPENSSL_free(der);
        if (!ok)
                return -EIO;
        for (int i = 0; i < KEY_ID_LEN / 2; i++)
                (void)snprintf(ret_id + 2 * i, 3, "%02x", md[i]);
        return 0;
}

static int write_pem(const char *path, EVP_PKEY *k, bool private, struct mlvm_err *e)
{
        _cleanup_bio_ BIO *b = BIO_new(BIO_s_mem());
        char *data;
        int ok = private ? PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL) : PEM_write_bio_PUBKEY(b, k);

        if (!ok)
                return err_setx(e, -EIO, "%s: cannot encode key", path);
        long len = BIO_get_mem_data(b, &data);
        /* Private keys are created 0600 and never widened. */
        int r = write_file_atomic(path, data, (size_t)len, private ? 0600 : 0644);
        if (r < 0)
                return err_set(e, r, "%s", path);
        return 0;
}

static int read_pem(const char *path, bool private, EVP_PKEY **ret, struct mlvm_err *e)
{
        _cleanup_free_ char *buf = NULL;
        size_t len;
        int r = read_file_capped(path, PEM_MAX, &buf, &len);

        if (r < 0)
                return err_set(e, r, "%s", path);
        _cleanup_bio_ BIO *b = BIO_new_mem_buf(buf, (int)len);
        EVP_PKEY *k = private ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : PEM_read_bio_PUBKEY(b, NULL, NULL, NULL);
        if (!k)
                return err_setx(e, -EINVAL, "%s: not a PEM %s key", path, private ? "private" : "public");
        if (EVP_PKEY_get_id(k) != EVP_PKEY_ED25519) {
                EVP_PKEY_free(k);
                return err_setx(e, -EINVAL, "%s: not an Ed25519 key", path);
        }
        *ret = k;
        return 0;
}

int key_gen(const char *state_dir, const char *name, char ret_id[KEY_ID_LEN + 1], struct mlvm_err *e)
{
        _cleanup_free_ char *dir = keys_dir(state_dir);
        _cleanup_free_ char *priv = xasprintf("%s/%s.key", dir, name), *pub = xasprintf("%s/%s.pub", dir, name);
        _cleanup_pkey_ EVP_PKEY *k = NULL;
        struct stat st;
        int r;

        if (!name_is_valid(name))
                return err_setx(e, -EINVAL, "key name \"%s\": must match [a-z0-9][a-z0-9-]{0,62}", name);
        if (stat(priv, &st) == 0)
                return err_setx(e, -EEXIST, "key %s already exists (%s)", name, priv);
        if ((r = mkdir_p(dir, 0700)) < 0)
                return err_set(e, r, "%s", dir);
        EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, NULL);
        if (!ctx || EVP_PKEY_keygen_init(ctx) <= 0 || EVP_PKEY_keygen(ctx, &k) <= 0) {
                EVP_PKEY_CTX_free(ctx);
                return err_setx(e, -EIO, "generate Ed25519 key: OpenSSL failed");
        }
        EVP_PKEY_CTX_free(ctx);
        if ((r = write_pem(priv, k, true, e)) < 0)
                return r;
        if ((r = write_pem(pub, k, false, e)) < 0) {
                (void)unlink(priv);
                return r;
        }
        if (ret_id)
                (void)key_id(k, ret_id);
        return 0;
}

int key_load_private(const char *state_dir, const char *name, bool create, EVP_PKEY **ret, struct mlvm_err *e)
{
        _cleanup_free_ char *dir = keys_dir(state_dir);
        _cleanup_free_ char *priv = xasprintf("%s/%s.key", dir, name);
        struct stat st;
        int r;

        if (!name_is_valid(name))
                return err_setx(e, -EINVAL, "key name \"%s\": must match [a-z0-9][a-z0-9-]{0,62}", name);
        if (stat(priv, &st) < 0) {
                if (errno != ENOENT || !create)
                        return err_set(e, -errno, "key %s: %s", name, priv);
                if ((r = key_gen(state_dir, name, NULL, e)) < 0)
                        return r;
                if (stat(priv, &st) < 0)
                        return err_set(e, -errno, "%s", priv);
        }
        /* A private key anyone else can read is no longer ours alone. */
        if (st.st_mode & 0077)
                return err_setx(e, -EPERM, "%s: mode %03o is readable by others; chmod 600 it", priv,
                                (unsigned)(st.st_mode & 0777));
        return read_pem(priv, true, ret, e);
}

int key_export_public(const char *state_dir, const char *name, char **ret_pem, struct mlvm_err *e)
{
        _cleanup_free_ char *dir = keys_dir(state_dir);
        _cleanup_free_ char *pub = xasprintf("%s/%s.pub", dir, name);
        _cleanup_pkey_ EVP_PKEY *k = NULL;
        int r;

        if (!name_is_valid(name))
                return err_setx(e, -EINVAL, "key name \"%s\": must match [a-z0-9][a-z0-9-]{0,62}", name);
        /* A name that is not a key is the user's typo: name it, not our path. */
        if ((r = read_pem(pub, false, &k, e)) == -ENOENT)
                return err_setx(e, -ENOENT, "key %s: no such key (see mlvm key ls)", name);
        if (r < 0)
                return r;
        return read_file_capped(pub, PEM_MAX, ret_pem, NULL) < 0 ? err_set(e, -EIO, "%s", pub) : 0;
}

static int trust_key(const char *state_dir, EVP_PKEY *k, char ret_id[KEY_ID_LEN + 1], struct mlvm_err *e)
{
        _cleanup_free_ char *dir = xasprintf("%s/keys/trusted", state_dir);
        char id[KEY_ID_LEN + 1];
        int r;

        if (key_id(k, id) < 0)
                return err_setx(e, -EINVAL, "cannot compute key id");
        if ((r = mkdir_p(dir, 0700)) < 0)
                return err_set(e, r, "%s", dir);
        _cleanup_free_ char *path = xasprintf("%s/%s.pub", dir, id);
        if ((r = write_pem(path, k, false, e)) < 0)
                return r;
        if (ret_id)
                memcpy(ret_id, id, sizeof(id));
        return 0;
}

int key_trust_file(const char *state_dir, const char *path, char ret_id[KEY_ID_LEN + 1], struct mlvm_err *e)
{
        _cleanup_pkey_ EVP_PKEY *k = NULL;
        int r = read_pem(path, false, &k, e);
        return r < 0 ? r : trust_key(state_dir, k, ret_id, e);
}

int key_trust_own(const char *state_dir, const char *name, struct mlvm_err *e)
{
        if (!name_is_valid(name))
                return err_setx(e, -EINVAL, "key name \"%s\": must match [a-z0-9][a-z0-9-]{0,62}", name);
        _cleanup_free_ char *pub = xasprintf("%s/keys/%s.pub", state_dir, name);
        _cleanup_pkey_ EVP_PKEY *k = NULL;
        int r = read_pem(pub, false, &k, e);
        return r < 0 ? r : trust_key(state_dir, k, NULL, e);
}

static bool is_trusted(const char *state_dir, const char *id)
{
        _cleanup_free_ char *path = xasprintf("%s/keys/trusted/%s.pub", state_dir, id);
        return access(path, F_OK) == 0;
}

static int cmp_key(const void *a, const void *b)
{
        return strcmp(((const struct key_info *)a)->name, ((const struct key_info *)b)->name);
}

int key_list(const char *state_dir, struct key_info **ret, size_t *ret_n, struct mlvm_err *e)
{
        _cleanup_free_ char *dir = keys_dir(state_dir);
        _cleanup_free_ char *tdir = xasprintf("%s/trusted", dir);
        struct key_info *v = NULL;
        size_t n = 0;
        struct dirent *de;
        DIR *d = opendir(dir);

        if (d) {
                while ((de = readdir(d))) {
                        size_t len = strlen(de->d_name);
                        if (len < 5 || !streq(de->d_name + len - 4, ".pub"))
                                continue;
                        _cleanup_free_ char *name = xstrndup(de->d_name, len - 4);
                        _cleanup_free_ char *pub = xasprintf("%s/%s", dir, de->d_name);
                        _cleanup_free_ char *priv = xasprintf("%s/%s.key", dir, name);
                        _cleanup_pkey_ EVP_PKEY *k = NULL;
                        if (!name_is_valid(name) || read_pem(pub, false, &k, NULL) < 0)
                                continue;
                        v = xreallocarray(v, n + 1, sizeof(*v));
                        v[n] = (struct key_info){ .name = TAKE_PTR(name), .has_private = access(priv, F_OK) == 0 };
                        (void)key_id(k, v[n].id);
                        v[n].trusted = is_trusted(state_dir, v[n].id);
                        n++;
                }
                closedir(d);
        } else if (errno != ENOENT)
                return err_set(e, -errno, "%s", dir);
        /* Trusted keys without a local pair: publishers' keys. */
        if ((d = opendir(tdir))) {
                while ((de = readdir(d))) {
                        size_t len = strlen(de->d_name);
                        if (len != KEY_ID_LEN + 4 || !streq(de->d_name + KEY_ID_LEN, ".pub"))
                                continue;
                        bool known = false;
                        for (size_t i = 0; i < n; i++)
                                known |= strncmp(v[i].id, de->d_name, KEY_ID_LEN) == 0;
                        if (known)
                                continue;
                        v = xreallocarray(v, n + 1, sizeof(*v));
                        v[n] = (struct key_info){ .name = xasprintf("(trusted:%.16s)", de->d_name), .trusted = true };
                        memcpy(v[n].id, de->d_name, KEY_ID_LEN);
                        v[n].id[KEY_ID_LEN] = 0;
                        n++;
                }
                closedir(d);
        }
        if (n)
                qsort(v, n, sizeof(*v), cmp_key);
        *ret = v;
        *ret_n = n;
        return 0;
}

void key_list_free(struct key_info *k, size_t n)
{
        for (size_t i = 0; i < n; i++)
                free(k[i].name);
        free(k);
}

int key_sign(EVP_PKEY *pkey, const void *data, size_t len, uint8_t sig[KEY_SIG_LEN], struct mlvm_err *e)
{
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        size_t siglen = KEY_SIG_LEN;
        int ok = ctx && EVP_DigestSignInit(ctx, NULL, NULL, NULL, pkey) == 1 &&
                 EVP_DigestSign(ctx, sig, &siglen, data, len) == 1 && siglen == KEY_SIG_LEN;

        EVP_MD_CTX_free(ctx);
        return ok ? 0 : err_setx(e, -EIO, "Ed25519 signing failed");
}

int key_verify(EVP_PKEY *pub, const void *data, size_t len, const uint8_t sig[KEY_SIG_LEN])
{
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        int ok = ctx && EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, pub) == 1 &&
                 EVP_DigestVerify(ctx, sig, KEY_SIG_LEN, data, len) == 1;

        EVP_MD_CTX_free(ctx);
        return ok ? 0 : -EBADMSG;
}

int key_verify_trusted(const char *state_dir, const char *keyid, const void *data, size_t len,
                       const uint8_t sig[KEY_SIG_LEN], struct mlvm_err *e)
{
        _cleanup_pkey_ EVP_PKEY *k = NULL;

        if (strlen(keyid) != KEY_ID_LEN || strspn(keyid, "0123456789abcdef") != KEY_ID_LEN)
                return err_setx(e, -EINVAL, "key id \"%.32s\" is not %d hex digits", keyid, KEY_ID_LEN);
        _cleanup_free_ char *path = xasprintf("%s/keys/trusted/%s.pub", state_dir, keyid);
        if (access(path, F_OK) < 0)
                return err_setx(e, -EPERM, "signed by key %s, which is not trusted (see mlvm key trust)", keyid);
        int r = read_pem(path, false, &k, e);
        if (r < 0)
                return r;
        if (key_verify(k, data, len, sig) < 0)
                return err_setx(e, -EBADMSG, "signature does not verify with trusted key %s", keyid);
        return 0;
}
