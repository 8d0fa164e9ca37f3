/* provenance.h: a signed record of exactly what a run was and produced.
 *
 * STATE_DIR/runs/RUNID/provenance.json is a DSSE envelope
 * (https://github.com/secure-systems-lab/dsse, envelope.md):
 *   {"payloadType":"application/vnd.in-toto+json",
 *    "payload":"<base64 of the statement>",
 *    "signatures":[{"keyid":"<host key id>","sig":"<base64 Ed25519>"}]}
 * signed over the DSSE pre-authentication encoding
 *   "DSSEv1" SP LEN(type) SP type SP LEN(payload) SP payload
 * (lengths in ASCII decimal) with the host's Ed25519 key. The payload is
 * an in-toto Statement v1 (https://in-toto.io/Statement/v1):
 *   {"_type":"https://in-toto.io/Statement/v1",
 *    "subject":[{"name":"<artifact path>","digest":{"sha256":"<hex>"}}...],
 *    "predicateType":"https://slsa.dev/provenance/v1",
 *    "predicate":{ SLSA v1 buildDefinition/runDetails, see provenance.c }}
 * whose predicate records the image digest, the workload's config as
 * used, the data disks' digests, the granted credentials by name and lease
 * ids (never values), the accelerator, the timings and the exit status.
 * Any DSSE/in-toto tool can check it with the PEM of `mlvm key export host`. */
#pragma once

#include <stdbool.h>

#include <json-c/json.h>

#include "artifacts.h"
#include "err.h"
#include "keys.h"

#define PROVENANCE_FILE "provenance.json"
#define PROVENANCE_PAYLOAD_TYPE "application/vnd.in-toto+json"
#define PROVENANCE_MAX_BYTES (16u << 20)
#define PROVENANCE_STATEMENT_TYPE "https://in-toto.io/Statement/v1"
#define PROVENANCE_PREDICATE_TYPE "https://slsa.dev/provenance/v1"
#define PROVENANCE_BUILD_TYPE "https://mlvm.invalid/run/v1"
#define PROVENANCE_BUILDER_PREFIX "mlvm:host:"

/* Build the statement from the run record RUN and the accepted ARTIFACTS,
 * sign it with the host key and write it atomically (0600) as
 * runs/RUN_ID/provenance.json. RET_SHA256 (may be NULL): SHA-256 of the file. */
int provenance_write(const char *state_dir, const char *run_id, json_object *run, const struct artifact *arts,
                     size_t n, char ret_sha256[SHA256_HEX_LEN + 1], struct mlvm_err *e);

/* Check runs/RUN_ID/provenance.json: envelope shape, payload type, the
 * signature by the host key (or a trusted key) over the PAE, the
 * statement's shape, and every subject against the files under
 * runs/RUN_ID/artifacts (same set, same SHA-256). RET_STATEMENT (may be
 * NULL) receives the statement. -EBADMSG with a one-line reason. */
int provenance_verify(const char *state_dir, const char *run_id, json_object **ret_statement, struct mlvm_err *e);

/* What provenance_verify_ex found besides the statement. */
struct provenance_result {
        char keyid[KEY_ID_LEN + 1];   /* the key that signed */
        bool host_key;                /* the host key (else a trusted key) */
        size_t n_artifacts;           /* subjects, all matched */
};

/* provenance_verify that also says who signed and how many artifacts
 * matched. RET (may be NULL) is filled on success only. */
int provenance_verify_ex(const char *state_dir, const char *run_id, json_object **ret_statement,
                         struct provenance_result *ret, struct mlvm_err *e);

/* Walk DIR and hash every regular file (a missing DIR is empty): RET
 * sorted by path, sizes and SHA-256s filled. Only regular files and
 * directories are allowed (never followed through a symlink); paths obey
 * the artifact rules of artifacts.h. -EBADMSG naming the first offender.
 * The same job as artifacts_scan, kept here so that verification depends
 * on nothing but this file and the state directory. */
int provenance_scan(const char *dir, struct artifact **ret, size_t *ret_n, struct mlvm_err *e);
