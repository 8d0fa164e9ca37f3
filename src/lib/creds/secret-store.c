/* secret-store.c: values encrypted at rest under a per-host store key; see
 * secret-store.h for the layout. The store key never leaves this file, and
 * every buffer that held it or a value is wiped before it is freed. */
#include "mlvm-build.h"

#include <dirent.h>
#include <fcntl.h>
#include <time.h>
#include <sys/stat.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "secret-file.h"
#include "secret-store.h"
#include "util.h"

#define STORE_KEY_LEN 32
#define FP_DOMAIN "mlvm fingerprint v1"
#define AAD_DOMAIN "mlvm-secret-v1"
#define NAME_RULE "must match [A-Za-z0-9_][A-Za-z0-9_.-]{0,63}"


void secret_wipe(void *p, size_t len)
{
        if (!p)
                return;
        OPENSSL_cleanse(p, len);
        free(p);
}

static int check_name(const char *name, struct mlvm_err *e)
{
        if (secret_name_is_valid(name))
                return 0;
        return err_setx(e, -EINVAL, "secret name \"%.80s\": " NAME_RULE, name ? name : "");
}

/* ---- the store directory and its key ----------------------------------- */

/* STATE_DIR/secrets must be ours and closed to everyone else: a store that
 * others can list or write may already hold their files. */
static int open_store(const char *state_dir, bool create, char **ret_dir, struct mlvm_err *e)
{
        _cleanup_free_ char *dir = xasprintf("%s/secrets", state_dir);
        struct stat st;
        int r;

        if (create) {
                if ((r = mkdir_p(state_dir, 0700)) < 0)
                        return err_set(e, r, "state directory %s", state_dir);
                if (mkdir(dir, 0700) < 0 && errno != EEXIST)
                        return err_set(e, -errno, "secret store %s", dir);
        }
        if (lstat(dir, &st) < 0)
                return err_set(e, -errno, "secret store %s", dir);
        if (!S_ISDIR(st.st_mode))
                return err_setx(e, -ENOTDIR, "secret store %s is not a directory", dir);
        if (st.st_uid != geteuid())
                return err_setx(e, -EPERM, "secret store %s is owned by uid %u, not by this user", dir,
                                (unsigned)st.st_uid);
        if (st.st_mode & 077)
                return err_setx(e, -EPERM, "secret store %s has mode %04o: group and others can reach it; "
                                "run 'chmod 700 %s'", dir, (unsigned)(st.st_mode & 07777), dir);
        *ret_dir = TAKE_PTR(dir);
        return 0;
}

static int read_key(const char *path, uint8_t key[STORE_KEY_LEN], struct mlvm_err *e)
{
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW | O_NONBLOCK);
        struct stat st;
        size_t got = 0;

        if (fd < 0)
                return err_set(e, -errno, "secret store key %s", path);
        if (fstat(fd, &st) < 0)
                return err_set(e, -errno, "secret store key %s", path);
        if (!S_ISREG(st.st_mode))
                return err_setx(e, -EINVAL, "secret store key %s is not a regular file", path);
        if (st.st_mode & 077)
                return err_setx(e, -EPERM, "secret store key %s has mode %03o: group or others can read it; "
                                "chmod 600 it", path, (unsigned)(st.st_mode & 0777));
        if (st.st_size != STORE_KEY_LEN)
                return err_setx(e, -EINVAL, "secret store key %s is %lld bytes, not %d (damaged?)", path,
                                (long long)st.st_size, STORE_KEY_LEN);
        while (got < STORE_KEY_LEN) {
                ssize_t n = read(fd, key + got, STORE_KEY_LEN - got);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0) {
                        OPENSSL_cleanse(key, STORE_KEY_LEN);
                        return err_setx(e, -EIO, "secret store key %s: short read", path);
                }
                got += (size_t)n;
        }
        return 0;
}

/* A new key is written to a private temporary file (O_EXCL) and published
 * with link(), which never replaces: of two processes racing, one links and
 * the other gets EEXIST and reads the winner's key. Nobody ever sees a
 * partly written store.key. */
static int create_key(const char *path, struct mlvm_err *e)
{
        _cleanup_free_ char *tmp = xasprintf("%s.new.%ld", path, (long)getpid());
        uint8_t key[STORE_KEY_LEN];
        int r = 0;

        (void)unlink(tmp);      /* our pid's leftover from a crash, if any */
        _cleanup_close_ int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
                return err_set(e, -errno, "secret store key %s", tmp);
        if (RAND_bytes(key, sizeof(key)) != 1) {
                r = err_setx(e, -EIO, "secret store key: no random bytes from OpenSSL");
                goto out;
        }
        ssize_t n = write(fd, key, sizeof(key));
        if (n != (ssize_t)sizeof(key) || fsync(fd) < 0) {
                r = err_set(e, n < 0 || n == (ssize_t)sizeof(key) ? -errno : -EIO, "secret store key %s", tmp);
                goto out;
        }
        if (link(tmp, path) < 0 && errno != EEXIST)
                r = err_set(e, -errno, "secret store key %s", path);
out:
        OPENSSL_cleanse(key, sizeof(key));
        (void)unlink(tmp);
        return r;
}

static int load_key(const char *dir, bool create, uint8_t key[STORE_KEY_LEN], struct mlvm_err *e)
{
        _cleanup_free_ char *path = xasprintf("%s/store.key", dir);
        int r;

        if (create && access(path, F_OK) < 0 && errno == ENOENT && (r = create_key(path, e)) < 0)
                return r;
        return read_key(path, key, e);
}

static int fingerprint(const uint8_t key[STORE_KEY_LEN], const void *value, size_t len,
                       char ret[SECRET_FP_LEN + 1])
{
        uint8_t fpkey[EVP_MAX_MD_SIZE], mac[EVP_MAX_MD_SIZE];
        unsigned int klen = 0, mlen = 0;
        int ok = HMAC(EVP_sha256(), key, STORE_KEY_LEN, (const uint8_t *)FP_DOMAIN, strlen(FP_DOMAIN), fpkey,
                      &klen) != NULL &&
                 HMAC(EVP_sha256(), fpkey, (int)klen, value, len, mac, &mlen) != NULL && mlen >= 16;

        OPENSSL_cleanse(fpkey, sizeof(fpkey));
        if (!ok)
                return -EIO;
        memcpy(ret, SECRET_FP_PREFIX, strlen(SECRET_FP_PREFIX));
        for (size_t i = 0; i < 16; i++)
                (void)snprintf(ret + strlen(SECRET_FP_PREFIX) + 2 * i, 3, "%02x", mac[i]);
        return 0;
}

/* ---- AES-256-GCM --------------------------------------------------------- */


/* The AAD binds the ciphertext to its name and creation time. */
static char *make_aad(const char *name, int64_t created_at)
{
        return xasprintf(AAD_DOMAIN "\n%s\n%lld\n", name, (long long)created_at);
}

static int seal(const uint8_t key[STORE_KEY_LEN], const char *name, int64_t created_at, const void *pt,
                size_t len, struct sealed *s)
{
        _cleanup_cipher_ EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
        _cleanup_free_ char *aad = make_aad(name, created_at);
        int n = 0, fin = 0;

        s->ct = xmalloc(len);
        if (!ctx || RAND_bytes(s->nonce, SECRET_NONCE_LEN) != 1 ||
            EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
            EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, SECRET_NONCE_LEN, NULL) != 1 ||
            EVP_EncryptInit_ex(ctx, NULL, NULL, key, s->nonce) != 1 ||
            EVP_EncryptUpdate(ctx, NULL, &n, (const uint8_t *)aad, (int)strlen(aad)) != 1 ||
            EVP_EncryptUpdate(ctx, s->ct, &n, pt, (int)len) != 1 || (size_t)n != len ||
            EVP_EncryptFinal_ex(ctx, s->ct + n, &fin) != 1 || fin != 0 ||
            EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, SECRET_TAG_LEN, s->tag) != 1)
                return -EIO;
        return 0;
}

/* Decrypt into a fresh buffer; -EBADMSG when the tag does not match. */
static int unseal(const uint8_t key[STORE_KEY_LEN], const char *name, const struct sealed *s, uint8_t **ret)
{
        _cleanup_cipher_ EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
        _cleanup_free_ char *aad = make_aad(name, s->info.created_at);
        uint8_t *pt = xmalloc(s->info.size), tag[SECRET_TAG_LEN];
        int n = 0, fin = 0;

        memcpy(tag, s->tag, SECRET_TAG_LEN);
        if (!ctx || EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
            EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, SECRET_NONCE_LEN, NULL) != 1 ||
            EVP_DecryptInit_ex(ctx, NULL, NULL, key, s->nonce) != 1 ||
            EVP_DecryptUpdate(ctx, NULL, &n, (const uint8_t *)aad, (int)strlen(aad)) != 1 ||
            EVP_DecryptUpdate(ctx, pt, &n, s->ct, (int)s->info.size) != 1 || (size_t)n != s->info.size ||
            EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, SECRET_TAG_LEN, tag) != 1 ||
            EVP_DecryptFinal_ex(ctx, pt + n, &fin) != 1) {
                /* GCM writes plaintext before it checks the tag. */
                secret_wipe(pt, s->info.size);
                return -EBADMSG;
        }
        *ret = pt;
        return 0;
}

/* ---- the API --------------------------------------------------------------- */

/* NAME's store directory and file path, for reading (nothing is created). */
static int find_secret(const char *state_dir, const char *name, char **ret_dir, char **ret_path,
                       struct mlvm_err *e)
{
        int r;

        if ((r = check_name(name, e)) < 0)
                return r;
        if ((r = open_store(state_dir, false, ret_dir, e)) < 0)
                return r == -ENOENT ? err_setx(e, -ENOENT, "secret %s: no such secret", name) : r;
        *ret_path = secret_path(*ret_dir, name);
        return 0;
}

int secret_set(const char *state_dir, const char *name, const void *value, size_t len, struct secret_info *info,
               struct mlvm_err *e)
{
        _cleanup_free_ char *dir = NULL, *path = NULL, *text = NULL;
        _cleanup_(sealed_done) struct sealed s = { 0 };
        uint8_t key[STORE_KEY_LEN];
        int r;

        if ((r = check_name(name, e)) < 0)
                return r;
        if (len == 0)
                return err_setx(e, -EINVAL, "secret %s: the value is empty", name);
        if (len > SECRET_VALUE_MAX)
                return err_setx(e, -EFBIG, "secret %s: the value is %zu bytes, more than %d", name, len,
                                SECRET_VALUE_MAX);
        if ((r = open_store(state_dir, true, &dir, e)) < 0 || (r = load_key(dir, true, key, e)) < 0)
                return r;
        path = secret_path(dir, name);
        memcpy(s.info.name, name, strlen(name) + 1);
        s.info.created_at = (int64_t)time(NULL);
        s.info.size = len;
        if (fingerprint(key, value, len, s.info.fingerprint) < 0 ||
            seal(key, name, s.info.created_at, value, len, &s) < 0) {
                OPENSSL_cleanse(key, sizeof(key));
                return err_setx(e, -EIO, "secret %s: encryption failed in OpenSSL", name);
        }
        OPENSSL_cleanse(key, sizeof(key));
        text = secret_file_format(name, &s);
        if ((r = write_file_atomic(path, text, strlen(text), 0600)) < 0)
                return err_set(e, r, "secret %s: %s", name, path);
        if (info)
                *info = s.info;
        return 0;
}

int secret_get(const char *state_dir, const char *name, uint8_t **ret, size_t *ret_len, struct secret_info *info,
               struct mlvm_err *e)
{
        _cleanup_free_ char *dir = NULL, *path = NULL;
        _cleanup_(sealed_done) struct sealed s = { 0 };
        char fp[SECRET_FP_LEN + 1];
        uint8_t key[STORE_KEY_LEN], *pt = NULL;
        int r;

        if ((r = find_secret(state_dir, name, &dir, &path, e)) < 0 || (r = secret_file_read(path, name, &s, e)) < 0 ||
            (r = load_key(dir, false, key, e)) < 0)
                return r;
        r = unseal(key, name, &s, &pt);
        /* The fingerprint is outside the AAD: check it against the value. */
        if (r == 0 && (fingerprint(key, pt, s.info.size, fp) < 0 || !streq(fp, s.info.fingerprint))) {
                secret_wipe(pt, s.info.size);
                r = -EBADMSG;
        }
        OPENSSL_cleanse(key, sizeof(key));
        if (r < 0)
                return err_setx(e, -EBADMSG, "secret %s: %s fails authentication (tampered, or another store's key)",
                                name, path);
        *ret = pt;
        *ret_len = s.info.size;
        if (info)
                *info = s.info;
        return 0;
}

int secret_stat(const char *state_dir, const char *name, struct secret_info *ret, struct mlvm_err *e)
{
        _cleanup_free_ char *dir = NULL, *path = NULL;
        _cleanup_(sealed_done) struct sealed s = { 0 };
        int r;

        if ((r = find_secret(state_dir, name, &dir, &path, e)) < 0 || (r = secret_file_read(path, name, &s, e)) < 0)
                return r;
        *ret = s.info;
        return 0;
}

int secret_rm(const char *state_dir, const char *name, struct mlvm_err *e)
{
        _cleanup_free_ char *dir = NULL, *path = NULL;
        struct stat st;
        int r;

        if ((r = find_secret(state_dir, name, &dir, &path, e)) < 0)
                return r;
        /* A damaged file can be removed too: nothing but its name is read. */
        if (lstat(path, &st) < 0 || unlink(path) < 0)
                return errno == ENOENT ? err_setx(e, -ENOENT, "secret %s: no such secret", name)
                                       : err_set(e, -errno, "secret %s: %s", name, path);
        return 0;
}

static int cmp_info(const void *a, const void *b)
{
        return strcmp(((const struct secret_info *)a)->name, ((const struct secret_info *)b)->name);
}

int secret_list(const char *state_dir, struct secret_info **ret, size_t *ret_n, struct mlvm_err *e)
{
        _cleanup_free_ char *dir = NULL;
        _cleanup_free_ struct secret_info *v = NULL;
        size_t n = 0;
        struct dirent *de;
        int r;

        if ((r = open_store(state_dir, false, &dir, e)) < 0) {
                if (r != -ENOENT)
                        return r;
                err_clear(e);
                *ret = NULL;
                *ret_n = 0;
                return 0;
        }
        DIR *d = opendir(dir);
        if (!d)
                return err_set(e, -errno, "secret store %s", dir);
        while ((de = readdir(d))) {
                size_t len = strlen(de->d_name), sl = strlen(SECRET_SUFFIX);
                if (len <= sl || !streq(de->d_name + len - sl, SECRET_SUFFIX))
                        continue;
                _cleanup_free_ char *name = xstrndup(de->d_name, len - sl);
                if (!secret_name_is_valid(name))
                        continue;
                if (n >= SECRET_MAX_COUNT) {
                        closedir(d);
                        return err_setx(e, -E2BIG, "secret store %s holds more than %d secrets", dir,
                                        SECRET_MAX_COUNT);
                }
                _cleanup_free_ char *path = secret_path(dir, name);
                _cleanup_(sealed_done) struct sealed s = { 0 };
                if ((r = secret_file_read(path, name, &s, e)) < 0) {
                        closedir(d);
                        return r;
                }
                v = xreallocarray(v, n + 1, sizeof(*v));
                v[n++] = s.info;
        }
        closedir(d);
        if (n)
                qsort(v, n, sizeof(*v), cmp_info);
        *ret = TAKE_PTR(v);
        *ret_n = n;
        return 0;
}

int secret_fingerprint(const char *state_dir, const void *value, size_t len, char ret[SECRET_FP_LEN + 1],
                       struct mlvm_err *e)
{
        _cleanup_free_ char *dir = NULL;
        uint8_t key[STORE_KEY_LEN];
        int r;

        if ((r = open_store(state_dir, true, &dir, e)) < 0 || (r = load_key(dir, true, key, e)) < 0)
                return r;
        r = fingerprint(key, value, len, ret);
        OPENSSL_cleanse(key, sizeof(key));
        return r < 0 ? err_setx(e, -EIO, "fingerprint: HMAC failed in OpenSSL") : 0;
}
