/* pool.c: storage pool lookup and creation; see pool.h. */
#include "mlvm-build.h"

#include <libxml/tree.h>

#include "pool.h"
#include "util.h"
#include "virt.h"

void pool_info_clear(struct pool_info *p)
{
        free(p->path);
        *p = (struct pool_info){ 0 };
}

static char *pool_target_path(virStoragePoolPtr pool)
{
        _cleanup_free_ char *xml = virStoragePoolGetXMLDesc(pool, 0);
        if (!xml)
                return NULL;
        _cleanup_xmlDoc_ xmlDocPtr doc = virt_parse_xml(xml, strlen(xml));
        if (!doc)
                return NULL;
        _cleanup_xmlXPathContext_ xmlXPathContextPtr ctx = xmlXPathNewContext(doc);
        return ctx ? xpath_string(ctx, "string(/pool/target/path)") : NULL;
}

int pool_info(virConnectPtr conn, const char *name, struct pool_info *ret, struct mlvm_err *e)
{
        _cleanup_virStoragePool_ virStoragePoolPtr pool = virStoragePoolLookupByName(conn, name);
        struct pool_info p = { .n_volumes = -1 };
        virStoragePoolInfo info;
        int autostart = 0;

        if (!pool) {
                virErrorPtr err = virGetLastError();
                if (err && err->code == VIR_ERR_NO_STORAGE_POOL) {
                        *ret = p;
                        return 0;
                }
                return err_virt(e, "storage pool %s", name);
        }
        p.exists = true;
        if (virStoragePoolGetInfo(pool, &info) < 0)
                return err_virt(e, "storage pool %s", name);
        (void)virStoragePoolGetAutostart(pool, &autostart);
        p.autostart = autostart;
        p.active = info.state == VIR_STORAGE_POOL_RUNNING;
        p.capacity = info.capacity;
        p.allocation = info.allocation;
        p.available = info.available;
        if (p.active)
                p.n_volumes = virStoragePoolNumOfVolumes(pool);
        p.path = pool_target_path(pool);
        *ret = p;
        return 0;
}

int pool_ensure(virConnectPtr conn, const char *name, const char *path, unsigned *ret_done, struct mlvm_err *e)
{
        _cleanup_virStoragePool_ virStoragePoolPtr pool = virStoragePoolLookupByName(conn, name);
        unsigned done = 0;
        int active;

        if (!pool) {
                virErrorPtr err = virGetLastError();
                if (!err || err->code != VIR_ERR_NO_STORAGE_POOL)
                        return err_virt(e, "storage pool %s", name);
                /* Build the XML with libxml2 so a name or path can never break out of it. */
                _cleanup_xmlDoc_ xmlDocPtr doc = xmlNewDoc((const xmlChar *)"1.0");
                xmlNodePtr root = xmlNewNode(NULL, (const xmlChar *)"pool");
                xmlDocSetRootElement(doc, root);
                xmlNewProp(root, (const xmlChar *)"type", (const xmlChar *)"dir");
                xmlNewTextChild(root, NULL, (const xmlChar *)"name", (const xmlChar *)name);
                xmlNodePtr target = xmlNewChild(root, NULL, (const xmlChar *)"target", NULL);
                xmlNewTextChild(target, NULL, (const xmlChar *)"path", (const xmlChar *)path);
                xmlNodePtr perms = xmlNewChild(target, NULL, (const xmlChar *)"permissions", NULL);
                /* Others may traverse but not list: QEMU runs as libvirt-qemu and
                 * must reach the volumes by path; each volume's own mode decides
                 * who may read it. */
                xmlNewTextChild(perms, NULL, (const xmlChar *)"mode", (const xmlChar *)"0711");
                xmlChar *xml = NULL;
                int len = 0;
                xmlDocDumpMemory(doc, &xml, &len);
                pool = virStoragePoolDefineXML(conn, (const char *)xml, 0);
                xmlFree(xml);
                if (!pool)
                        return err_virt(e, "define storage pool %s at %s", name, path);
                if (virStoragePoolBuild(pool, 0) < 0) {
                        struct mlvm_err saved;
                        (void)err_virt(&saved, "build storage pool %s at %s", name, path);
                        (void)virStoragePoolUndefine(pool);
                        *e = saved;
                        return saved.code;
                }
                done |= POOL_DEFINED;
        }
        active = virStoragePoolIsActive(pool);
        if (active < 0)
                return err_virt(e, "storage pool %s", name);
        if (!active) {
                /* Build first: the directory of a pool that was stopped may be gone. */
                if (virStoragePoolCreate(pool, VIR_STORAGE_POOL_CREATE_WITH_BUILD) < 0)
                        return err_virt(e, "start storage pool %s", name);
                done |= POOL_STARTED;
        }
        int autostart = 0;
        if (virStoragePoolGetAutostart(pool, &autostart) == 0 && !autostart) {
                if (virStoragePoolSetAutostart(pool, 1) < 0)
                        return err_virt(e, "autostart storage pool %s", name);
                done |= POOL_AUTOSTART;
        }
        if (ret_done)
                *ret_done = done;
        return 0;
}
