/* gate.h: the monitor's frame gate, the one process that reads the
 * agent's bytes (docs/security.md, "The monitor's privilege separation").
 *
 * The monitor starts it (gate_spawn, before it connects to libvirt or
 * reads a credential): fork, every descriptor closed but one end of a
 * SOCK_SEQPACKET socketpair (fd 3) and /dev/null on 0-2, supplementary
 * groups dropped, gid and uid set to the run's (its QEMU uid; gid the
 * same number), the capability bounding, inheritable and ambient sets
 * emptied, PR_SET_NO_NEW_PRIVS, then exec of this very binary as
 * `mlvm-monitor gate RUNID`, with an empty environment but
 * MLVM_MONITOR_SECCOMP. The gate then makes itself non-dumpable, checks
 * that it holds no privilege, installs its seccomp filter (gate-sandbox.c)
 * and serves gate-wire.h's messages until the monitor closes its end. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <json-c/json.h>

#include "err.h"
#include "mtime.h"
#include "proto.h"

/* The decoder's state: one frame at most (header + PROTO_MAX_PAYLOAD). */
struct gate_decoder {
        uint8_t *buf;
        size_t len;
        bool have_hdr, broken;
        struct proto_hdr hdr;
        usec_t partial_since;
        uint32_t gen;
        bool synced;          /* this generation's first frame header was seen */
        uint32_t skipped;     /* bytes skipped before it */
};

/* Feed N channel bytes of generation GEN (a new one starts afresh); each
 * record that results goes to EMIT (which returns <0 to stop: the monitor
 * is gone). After a malformed frame (one BAD record) the rest of the
 * generation is ignored. Returns 0 or EMIT's error.
 *
 * When the host's side of the channel went away in the middle of a frame
 * the agent was writing (libvirtd restarted), QEMU delivers the rest of
 * that frame first on the next connection (a generation): bytes before
 * its first valid frame header are skipped, at most GATE_RESYNC_MAX of
 * them (gate-wire.h; more is a bad frame), and counted in the SYNC
 * records. From that header on, the generation is decoded strictly. */
int gate_feed(struct gate_decoder *d, uint32_t gen, const uint8_t *data, size_t n,
              int (*emit)(const uint8_t *rec, size_t len, void *opaque), void *opaque);
/* When the frame being received began (0: none). */
usec_t gate_partial_since(const struct gate_decoder *d);

/* The gate's main: serve FD (fd 3) until the monitor closes it. Exit code
 * 0 at the monitor's end, 1 when the sandbox cannot be set up. */
int gate_main(int fd);

/* Whose identity the gate takes: the run's QEMU uid (qemu-id.h), with the
 * same number as its gid, a group nobody has (the range is checked
 * against /etc/group). Without one (MLVM_QEMU_UIDS=off) it is
 * nobody:nogroup, GATE_FALLBACK_ID, shared by every such run. */
#define GATE_FALLBACK_ID 65534
void gate_identity(json_object *run, uid_t *ret_uid, gid_t *ret_gid);

/* The monitor's side: start the gate under UID:GID; *RET_FD is the
 * monitor's end (SOCK_CLOEXEC), *RET_PID the gate. */
int gate_spawn(const char *run_id, uid_t uid, gid_t gid, int *ret_fd, pid_t *ret_pid, struct mlvm_err *e);
