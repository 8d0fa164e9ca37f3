/* exec-client.h: the client end of an exec stream (mlvm exec). Once a
 * run's monitor accepted an "exec" request on a control connection
 * (control.h), that connection carries the agent's stream frames
 * (proto/PROTOCOL.md) for the command; the monitor relays them to and from
 * the agent, forcing the stream id and holding both ends to their credit. */
#pragma once

#include "err.h"

/* Relay the command's stream on SOCK until its EXIT: what is read from
 * IN_FD goes to the command's stdin, within the credit the agent grants
 * (the end of IN_FD ends its stdin); its stdout and stderr are written to
 * OUT_FD and ERR_FD. Returns 0 with the command's status as a shell gives
 * it (its exit code, or 128+N when signal N ended it) in *RET_STATUS; or a
 * negative errno when the stream ended without an EXIT (the monitor went
 * away, the agent could not start the command, a malformed frame). */
int exec_client_relay(int sock, int in_fd, int out_fd, int err_fd, int *ret_status, struct mlvm_err *e);
