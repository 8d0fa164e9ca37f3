/* control.h: the client side of a monitor's control socket (JSON lines). */
#pragma once

#include <json-c/json.h>

#include "err.h"

/* Connect to run ID's monitor. -ENOENT/-ECONNREFUSED when it is not there. */
int control_connect(const char *state_dir, const char *id, int *ret_fd, struct mlvm_err *e);
int control_send(int fd, const char *cmd, struct mlvm_err *e);
/* {"cmd": CMD, ...the members of ARGS (borrowed, may be NULL)} */
int control_send_args(int fd, const char *cmd, json_object *args, struct mlvm_err *e);
/* Read one JSON object line, waiting at most TIMEOUT_MS (-1: no deadline). */
int control_recv(int fd, int timeout_ms, json_object **ret, struct mlvm_err *e);
