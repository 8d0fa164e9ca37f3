/* cleanup.h: the cleanup attributes every layer uses (docs/style.md,
 * rule 3): plain memory and descriptors, json-c objects and OpenSSL
 * objects. Each destructor accepts NULL. libvirt's and libxml2's live in
 * src/lib/virt/virt.h, included only where those libraries are used. */
#pragma once

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <json-c/json.h>
#include <openssl/bio.h>
#include <openssl/evp.h>

#define _cleanup_(f) __attribute__((cleanup(f)))

static inline void freep(void *p) { free(*(void **)p); }
static inline void closep(int *fd) { if (*fd >= 0) (void)close(*fd); }
static inline void fclosep(FILE **f) { if (*f) (void)fclose(*f); }
static inline void closedirp(DIR **d) { if (*d) (void)closedir(*d); }
static inline void json_object_putp(json_object **o) { if (*o) (void)json_object_put(*o); }
static inline void BIO_freep(BIO **b) { BIO_free(*b); }
static inline void EVP_PKEY_freep(EVP_PKEY **k) { EVP_PKEY_free(*k); }
static inline void EVP_CIPHER_CTX_freep(EVP_CIPHER_CTX **c) { EVP_CIPHER_CTX_free(*c); }

#define _cleanup_free_ _cleanup_(freep)
#define _cleanup_close_ _cleanup_(closep)
#define _cleanup_fclose_ _cleanup_(fclosep)
#define _cleanup_closedir_ _cleanup_(closedirp)
#define _cleanup_json_ _cleanup_(json_object_putp)
#define _cleanup_bio_ _cleanup_(BIO_freep)
#define _cleanup_pkey_ _cleanup_(EVP_PKEY_freep)
#define _cleanup_cipher_ _cleanup_(EVP_CIPHER_CTX_freep)

/* Hand ownership out of a cleanup variable. */
#define TAKE_PTR(p) ({ __typeof__(p) _p = (p); (p) = NULL; _p; })
#define TAKE_FD(fd) ({ int _fd = (fd); (fd) = -1; _fd; })
