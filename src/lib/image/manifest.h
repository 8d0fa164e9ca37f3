/* manifest.h: an image's signed manifest. manifest.json lists the parts
 * (name, size, SHA-256), the kernel command line, the agent version, the
 * recipe, the inputs and the build time; manifest.sig is
 * {"key": KEYID, "sig": base64(Ed25519(manifest.json bytes))}. The image
 * digest is the SHA-256 of the manifest.json bytes. Manifests arrive from
 * publishers, so parsing is strict and capped. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "digest.h"
#include "err.h"
#include "keys.h"

#define MANIFEST_SCHEMA    "mlvm.image.v1"
#define MANIFEST_MAX_BYTES 65536
#define MANIFEST_SIG_MAX   4096
#define MANIFEST_MAX_PARTS 3
#define MANIFEST_MAX_INPUTS 16

struct image_part {
        char name[16];                  /* kernel, initramfs or rootfs */
        uint64_t size;
        char sha256[SHA256_HEX_LEN + 1];
};

struct image_input {
        char *package, *version;
        char sha256[SHA256_HEX_LEN + 1];
};

struct manifest {
        char *name, *recipe, *kernel_release, *cmdline, *agent_version, *build_time;
        struct image_input inputs[MANIFEST_MAX_INPUTS];
        size_t n_inputs;
        struct image_part parts[MANIFEST_MAX_PARTS];
        size_t n_parts;
};

/* Largest size a part may declare. */
uint64_t manifest_part_max(const char *name);
const struct image_part *manifest_part(const struct manifest *m, const char *name);

int manifest_parse(const char *text, size_t len, struct manifest *ret, struct mlvm_err *e);
/* Canonical JSON bytes for M (what is hashed and signed). Caller frees. */
char *manifest_serialize(const struct manifest *m);
void manifest_clear(struct manifest *m);

/* manifest.sig */
char *manifest_sig_serialize(const char keyid[KEY_ID_LEN + 1], const uint8_t sig[KEY_SIG_LEN]);
int manifest_sig_parse(const char *text, size_t len, char ret_keyid[KEY_ID_LEN + 1], uint8_t ret_sig[KEY_SIG_LEN],
                       struct mlvm_err *e);
