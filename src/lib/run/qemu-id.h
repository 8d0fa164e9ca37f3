/* qemu-id.h: each run's QEMU gets a uid of its own (docs/security.md,
 * "One tenant reads another's data").
 *
 * libvirt's DAC model starts QEMU under a static per-domain label
 * "+UID:+GID" (domain.c) with relabel='no': libvirt chowns nothing, and
 * the run's volumes are created owned by that uid, mode 0600 (0400 for
 * read-only disks), through the volume XML (disk.c), which works over a
 * remote URI too. The uid comes from a host-side range, $MLVM_QEMU_UIDS
 * ("FIRST-LAST", default 6553600-6619135; "off" keeps libvirt's one QEMU
 * user for every run), that no passwd, group, subuid or subgid entry may
 * touch. The gid is libvirt's QEMU group (the DAC base label's), shared:
 * QEMU must traverse libvirt's own 0750 directories to read its master
 * key, and libvirt gives a statically labelled QEMU no supplementary
 * groups (measured on libvirt 9.0; docs/security.md).
 *
 * A uid is claimed by a file QEMU_ID_CLAIMS_DIR/UID, made complete and
 * then link(2)ed into place, so two concurrent `up`s (of any state
 * directory on this host) never get the same uid. The claim names the
 * state directory's owner identity and the run; it is released when the
 * run's domain is gone (monitor, `down`, a failed `up`, `gc`). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "err.h"
#include "run.h"

#define QEMU_ID_ENV           "MLVM_QEMU_UIDS"
#define QEMU_ID_DEFAULT       "6553600-6619135"
/* Below 65536 live the accounts of a classic 16-bit uid space (nobody is
 * 65534); above 2^31-2 tools that keep uids in an int go wrong. */
#define QEMU_ID_MIN           65536u
#define QEMU_ID_MAX           2147483646u
/* On tmpfs: domains are transient, so no claim outlives a reboot either. */
#define QEMU_ID_CLAIMS_DIR    "/run/mlvm/qemu-uids"
#define QEMU_ID_CLAIM_MAX     4096

struct qemu_id_range {
        uint32_t first, last;
        bool off;              /* "off": libvirt's default QEMU user for every run */
};

/* "FIRST-LAST" (decimal, QEMU_ID_MIN <= FIRST <= LAST <= QEMU_ID_MAX) or
 * "off". The error names $MLVM_QEMU_UIDS and the value. */
int qemu_id_range_parse(const char *s, struct qemu_id_range *ret, struct mlvm_err *e);
/* $MLVM_QEMU_UIDS, or QEMU_ID_DEFAULT when unset. */
int qemu_id_range_from_env(struct qemu_id_range *ret, struct mlvm_err *e);

/* The account files the range is checked against; NULL skips one. */
struct qemu_id_files {
        const char *passwd, *group, *subuid, *subgid;
};
extern const struct qemu_id_files qemu_id_host_files;   /* /etc/passwd, /etc/group, /etc/subuid, /etc/subgid */

/* -EEXIST naming the file and the entry when any uid (passwd, subuid) or
 * gid (group, subgid) of FILES lies in R: the range must be nobody's. A
 * file that does not exist holds nothing. */
int qemu_id_range_check(const struct qemu_id_range *r, const struct qemu_id_files *files, struct mlvm_err *e);

struct qemu_id_claim {
        uint32_t uid;
        char owner[RUN_OWNER_LEN + 1];
        char run[RUN_ID_LEN + 1];
        char state_dir[4096];
};

/* Claim the lowest uid of R that is not claimed in DIR, not in BUSY (the
 * uids active domains run as) and has no passwd entry (getpwuid: NSS
 * included), for run RUN_ID of the state directory OWNER at STATE_DIR.
 * DIR is created 0700. -ENOSPC when the range is used up. */
int qemu_id_claim(const char *dir, const struct qemu_id_range *r, const uint32_t *busy, size_t n_busy,
                  const char *owner, const char *run_id, const char *state_dir, uint32_t *ret_uid,
                  struct mlvm_err *e);
/* Read DIR/UID. -ENOENT when there is none; -EINVAL when it is not a claim. */
int qemu_id_read(const char *dir, uint32_t uid, struct qemu_id_claim *ret, struct mlvm_err *e);
/* Release UID when its claim is OWNER's run RUN_ID: 0 when released or
 * not claimed at all; -EBUSY (left alone) when another run holds it. */
int qemu_id_release(const char *dir, uint32_t uid, const char *owner, const char *run_id, struct mlvm_err *e);
/* Release the uid run record RUN (run.json) names, as qemu_id_release;
 * 0 when the record names none. Call only once the run's domain is gone. */
int qemu_id_release_run(const char *dir, json_object *run, struct mlvm_err *e);
/* Every readable claim in DIR (none when DIR does not exist). */
int qemu_id_list(const char *dir, struct qemu_id_claim **ret, size_t *ret_n, struct mlvm_err *e);

/* "+UID:+GID", libvirt's numeric DAC label. */
char *qemu_id_label(uint32_t uid, uint32_t gid);
/* Parse "+UID:+GID"; false for anything else (names, junk). */
bool qemu_id_label_parse(const char *s, uint32_t *ret_uid, uint32_t *ret_gid);
