/* volume.c: upload, download-and-hash and delete pool volumes; see volume.h. */
#include "mlvm-build.h"

#include <libxml/tree.h>
#include <openssl/evp.h>

#include "util.h"
#include "virt.h"
#include "volume.h"


int volume_pool(virConnectPtr conn, const char *name, virStoragePoolPtr *ret, struct mlvm_err *e)
{
        virStoragePoolPtr p = virStoragePoolLookupByName(conn, name);
        if (!p)
                return err_virt(e, "storage pool %s (run 'mlvm setup')", name);
        if (virStoragePoolIsActive(p) != 1) {
                (void)virStoragePoolFree(p);
                return err_setx(e, -ENODEV, "storage pool %s is not active (run 'mlvm setup')", name);
        }
        (void)virStoragePoolRefresh(p, 0);
        *ret = p;
        return 0;
}

int volume_pool_for_removal(virConnectPtr conn, const char *name, virStoragePoolPtr *ret, bool *ret_restarted,
                            struct mlvm_err *e)
{
        *ret_restarted = false;
        virStoragePoolPtr p = virStoragePoolLookupByName(conn, name);
        if (!p)
                return err_virt(e, "storage pool %s (run 'mlvm setup')", name);
        /* A refresh of a pool whose directory was removed stops it. */
        if (virStoragePoolIsActive(p) == 1)
                (void)virStoragePoolRefresh(p, 0);
        if (virStoragePoolIsActive(p) != 1) {
                if (virStoragePoolCreate(p, VIR_STORAGE_POOL_CREATE_WITH_BUILD) < 0) {
                        (void)virStoragePoolFree(p);
                        return err_virt(e, "storage pool %s is not active and does not start", name);
                }
                *ret_restarted = true;
        }
        *ret = p;
        return 0;
}

char *volume_xml(const struct volume_spec *v)
{
        _cleanup_xmlDoc_ xmlDocPtr doc = xmlNewDoc((const xmlChar *)"1.0");
        xmlNodePtr root = xmlNewNode(NULL, (const xmlChar *)"volume");
        char cap[32];
        xmlChar *out = NULL;
        int len = 0;

        xmlDocSetRootElement(doc, root);
        xmlNewTextChild(root, NULL, (const xmlChar *)"name", (const xmlChar *)v->name);
        (void)snprintf(cap, sizeof(cap), "%llu", (unsigned long long)v->capacity);
        xmlNodePtr c = xmlNewTextChild(root, NULL, (const xmlChar *)"capacity", (const xmlChar *)cap);
        xmlNewProp(c, (const xmlChar *)"unit", (const xmlChar *)"bytes");
        if (v->sparse) {
                xmlNodePtr a = xmlNewTextChild(root, NULL, (const xmlChar *)"allocation", (const xmlChar *)"0");
                xmlNewProp(a, (const xmlChar *)"unit", (const xmlChar *)"bytes");
        }
        xmlNodePtr t = xmlNewChild(root, NULL, (const xmlChar *)"target", NULL);
        xmlNodePtr f = xmlNewChild(t, NULL, (const xmlChar *)"format", NULL);
        xmlNewProp(f, (const xmlChar *)"type", (const xmlChar *)v->format);
        xmlNodePtr perms = xmlNewChild(t, NULL, (const xmlChar *)"permissions", NULL);
        xmlNewTextChild(perms, NULL, (const xmlChar *)"mode", (const xmlChar *)v->mode);
        if (v->owner) {
                char id[16];
                (void)snprintf(id, sizeof(id), "%u", v->owner->uid);
                xmlNewTextChild(perms, NULL, (const xmlChar *)"owner", (const xmlChar *)id);
                (void)snprintf(id, sizeof(id), "%u", v->owner->gid);
                xmlNewTextChild(perms, NULL, (const xmlChar *)"group", (const xmlChar *)id);
        }
        if (v->backing) {
                xmlNodePtr bs = xmlNewChild(root, NULL, (const xmlChar *)"backingStore", NULL);
                xmlNewTextChild(bs, NULL, (const xmlChar *)"path", (const xmlChar *)v->backing);
                /* Said, never probed: QEMU must not guess the base's format from its bytes. */
                xmlNodePtr bf = xmlNewChild(bs, NULL, (const xmlChar *)"format", NULL);
                xmlNewProp(bf, (const xmlChar *)"type", (const xmlChar *)"raw");
        }
        xmlDocDumpMemory(doc, &out, &len);
        char *s = xstrdup((const char *)out);
        xmlFree(out);
        return s;
}

int volume_create(virStoragePoolPtr pool, const struct volume_spec *v, struct mlvm_err *e)
{
        _cleanup_free_ char *xml = volume_xml(v);
        _cleanup_vol_ virStorageVolPtr vol = virStorageVolCreateXML(pool, xml, 0);
        return vol ? 0 : err_virt(e, "create volume %s", v->name);
}

static int send_from_fd(virStreamPtr st, char *data, size_t nbytes, void *opaque)
{
        int fd = *(int *)opaque;
        ssize_t n;
        do
                n = read(fd, data, nbytes);
        while (n < 0 && errno == EINTR);
        return (int)n;
}

int volume_upload(virStoragePoolPtr pool, const char *name, int fd, uint64_t size, const char *mode,
                  const struct volume_owner *owner, struct mlvm_err *e)
{
        const struct volume_spec spec = { .name = name, .capacity = size, .format = "raw", .mode = mode,
                                          .owner = owner };
        _cleanup_free_ char *xml = volume_xml(&spec);
        _cleanup_vol_ virStorageVolPtr vol = virStorageVolCreateXML(pool, xml, 0);
        _cleanup_stream_ virStreamPtr st = NULL;

        if (!vol)
                return err_virt(e, "create volume %s", name);
        st = virStreamNew(virStoragePoolGetConnect(pool), 0);
        if (!st || virStorageVolUpload(vol, st, 0, size, 0) < 0 ||
            virStreamSendAll(st, send_from_fd, &fd) < 0 || virStreamFinish(st) < 0) {
                struct mlvm_err saved;
                (void)err_virt(&saved, "upload volume %s", name);
                if (st)
                        (void)virStreamAbort(st);
                (void)virStorageVolDelete(vol, 0);
                if (e)
                        *e = saved;
                return saved.code;
        }
        return 0;
}

struct hash_sink {
        EVP_MD_CTX *ctx;
        uint64_t total, max;
};

static int recv_to_hash(virStreamPtr st, const char *data, size_t nbytes, void *opaque)
{
        struct hash_sink *h = opaque;
        h->total += nbytes;
        if (h->total > h->max)
                return -1;
        return EVP_DigestUpdate(h->ctx, data, nbytes) == 1 ? (int)nbytes : -1;
}

int volume_hash(virStoragePoolPtr pool, const char *name, uint64_t max, uint64_t *ret_size,
                char ret_hex[SHA256_HEX_LEN + 1], struct mlvm_err *e)
{
        _cleanup_vol_ virStorageVolPtr vol = virStorageVolLookupByName(pool, name);
        _cleanup_stream_ virStreamPtr st = NULL;
        struct hash_sink h = { .ctx = EVP_MD_CTX_new(), .max = max };
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int mdlen = 0;
        int r = 0;

        if (!vol) {
                EVP_MD_CTX_free(h.ctx);
                return err_virt(e, "volume %s", name);
        }
        st = virStreamNew(virStoragePoolGetConnect(pool), 0);
        if (!h.ctx || EVP_DigestInit_ex(h.ctx, EVP_sha256(), NULL) != 1 || !st ||
            virStorageVolDownload(vol, st, 0, 0, 0) < 0 || virStreamRecvAll(st, recv_to_hash, &h) < 0 ||
            virStreamFinish(st) < 0) {
                if (h.total > h.max)
                        r = err_setx(e, -EFBIG, "volume %s: larger than %llu bytes", name, (unsigned long long)max);
                else
                        r = err_virt(e, "read volume %s", name);
                if (st)
                        (void)virStreamAbort(st);
        } else if (EVP_DigestFinal_ex(h.ctx, md, &mdlen) != 1)
                r = err_setx(e, -EIO, "volume %s: hashing failed", name);
        EVP_MD_CTX_free(h.ctx);
        if (r < 0)
                return r;
        for (unsigned i = 0; i < 32; i++)
                (void)snprintf(ret_hex + 2 * i, 3, "%02x", md[i]);
        if (ret_size)
                *ret_size = h.total;
        return 0;
}

int volume_delete(virStoragePoolPtr pool, const char *name, struct mlvm_err *e)
{
        _cleanup_vol_ virStorageVolPtr vol = virStorageVolLookupByName(pool, name);
        if (!vol) {
                virErrorPtr err = virGetLastError();
                if (err && err->code == VIR_ERR_NO_STORAGE_VOL)
                        return 0;
                return err_virt(e, "volume %s", name);
        }
        if (virStorageVolDelete(vol, 0) < 0)
                return err_virt(e, "delete volume %s", name);
        return 0;
}

char *volume_path(virStoragePoolPtr pool, const char *name, struct mlvm_err *e)
{
        _cleanup_vol_ virStorageVolPtr vol = virStorageVolLookupByName(pool, name);
        char *p = vol ? virStorageVolGetPath(vol) : NULL;
        if (!p)
                (void)err_virt(e, "volume %s", name);
        return p;
}
