/* agent.h: agent.c, the top of mlvm-agent: main(), the handshake with the
 * host (HELLO, HELLO_ACK, the re-HELLO after the host reconnects) and the
 * dispatcher that serves the host's requests and forwards the workload's
 * output. It exports one test seam (agent_set_exec_hook); this header
 * also gives the shape of the dispatcher's table.
 *
 * The agent's files, bottom up (guest-agent/README has the details), each
 * with its own header and including only headers below it:
 *
 *   agent-util    logging, the monotonic clock, mkdir -p, disks by serial
 *   transport     the channel to the host, frames, the way out (power-off)
 *   sha256, tar   the digest and the ustar writer of the artifact stream
 *   boot          PID 1's first second; returns a struct boot_config
 *   workload      the workload's root and process, exec commands
 *   secrets       credentials in the workload's root
 *   datadisk      MOUNT: data disks
 *   streams       published ports and exec streams
 *   agent-artifacts  the artifact directory and stream
 *   agent         main() and the dispatcher
 */
#pragma once

#include <stdint.h>

#include "proto.h"

/* One row of the dispatcher's table: what agent.c does with a host
 * request of TYPE. A type without a row ends the agent (fail closed). */
struct agent_handler {
        uint8_t type;                              /* PROTO_* */
        void (*handle)(const struct proto_msg *m);
};

/* FN sees each EXEC before the agent handles it, and may take the channel
 * over from there (it then never returns). The agent never sets one: this
 * is the seam through which the tests' hostile agent (tests/hostile-agent/
 * evil.c) turns hostile on the channel when a run asks it to. */
typedef void (*agent_exec_hook)(const struct proto_msg *m);
void agent_set_exec_hook(agent_exec_hook fn);
