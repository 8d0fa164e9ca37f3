/* virt.h: libvirt and libxml2 cleanup helpers and connection setup.
 * Every host-side operation goes through a virConnectPtr
 * (docs/architecture.md, principles), so any URI works, local or remote. */
#pragma once

#include <stdbool.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <libxml/tree.h>
#include <libxml/xpath.h>
#include <json-c/json.h>

#include "err.h"

static inline void virConnectClosep(virConnectPtr *c) { if (*c) (void)virConnectClose(*c); }
static inline void virDomainFreep(virDomainPtr *d) { if (*d) (void)virDomainFree(*d); }
static inline void virStoragePoolFreep(virStoragePoolPtr *p) { if (*p) (void)virStoragePoolFree(*p); }
static inline void virStorageVolFreep(virStorageVolPtr *v) { if (*v) (void)virStorageVolFree(*v); }
static inline void virStreamFreep(virStreamPtr *s) { if (*s) (void)virStreamFree(*s); }
static inline void xmlFreeDocp(xmlDocPtr *d) { if (*d) xmlFreeDoc(*d); }
static inline void xmlXPathFreeContextp(xmlXPathContextPtr *c) { if (*c) xmlXPathFreeContext(*c); }
static inline void xmlXPathFreeObjectp(xmlXPathObjectPtr *o) { if (*o) xmlXPathFreeObject(*o); }

#define _cleanup_virConnect_ __attribute__((cleanup(virConnectClosep)))
#define _cleanup_virDomain_ __attribute__((cleanup(virDomainFreep)))
#define _cleanup_virStoragePool_ __attribute__((cleanup(virStoragePoolFreep)))
#define _cleanup_vol_ __attribute__((cleanup(virStorageVolFreep)))
#define _cleanup_stream_ __attribute__((cleanup(virStreamFreep)))
#define _cleanup_xmlDoc_ __attribute__((cleanup(xmlFreeDocp)))
#define _cleanup_xmlXPathContext_ __attribute__((cleanup(xmlXPathFreeContextp)))
#define _cleanup_xmlXPathObject_ __attribute__((cleanup(xmlXPathFreeObjectp)))

/* Stop libvirt from printing errors itself: only the CLI prints. */
void virt_init(void);

/* For a process that does not run libvirt's event loop itself (the CLI):
 * run it on a thread of its own, every signal blocked there. libvirtd
 * drops a client that leaves its keepalive unanswered for 30 s, and a
 * CLI connection sits idle while mlvm hashes or copies GiB (up verifying
 * a 10 GiB rootfs failed with "Cannot write data: Broken pipe"). The CLI
 * registers no callbacks: the loop answers keepalives and nothing else.
 * After virt_init, before the first connection. */
void virt_event_thread(void);

/* Is URI one mlvm can use, before anything connects: DRIVER[+TRANSPORT]://
 * [USER@][HOST][:PORT]/PATH[?PARAMS] with driver qemu (or libvirt's
 * in-process test driver, for tests) and a transport libvirt knows. A
 * malformed URI is -EINVAL, a driver or transport mlvm cannot use
 * -EPROTONOSUPPORT, each with a one-line message naming the URI and what
 * is wrong; so that a typo is not reported as a daemon that is down. */
int virt_uri_check(const char *uri, struct mlvm_err *e);
/* Does URI name another host (a host part, or a network transport)? */
bool virt_uri_is_remote(const char *uri);

/* Open URI, after virt_uri_check. When libvirtd is not running or not
 * reachable, the error says so and how to start it. */
int virt_connect(const char *uri, virConnectPtr *ret, struct mlvm_err *e);

/* Parse XML text that libvirt (not the guest) produced; network access off. */
xmlDocPtr virt_parse_xml(const char *xml, size_t len);
/* The string value of an XPath expression, or NULL (caller frees). */
char *xpath_string(xmlXPathContextPtr ctx, const char *expr);
