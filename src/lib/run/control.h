/* control.h: the client side of a monitor's control socket (JSON lines). */
#pragma once

#include <json-c/json.h>

#include "err.h"

/* Connect to run ID's monitor. -ENOENT/-ECONNREFUSED when it is not there. */
int control_connect(const char *state_dir, const char *id, int *ret_fd, struct mlvm_err *e);
int control_send(int fd, const char *cmd, struct mlvm_err *e);
/* {"cmd": CMD, ...the members of ARGS (borrowed, may be NULL)} */
int control_send_args(int fd, const char *cmd, json_object *args, struct mlvm_err *e);
/* Requests and replies nest an array of objects at most (rotate's
 * results); deeper is not ours. */
#define CONTROL_DEPTH_MAX 8
/* One line of the protocol, LEN bytes without its newline: exactly one
 * JSON object, strict JSON (strings may hold any bytes but NUL), nothing
 * after it. The pure step of control_recv and of the monitor's reading of
 * requests (control-request.h), fuzzed by tests/fuzz/fuzz-control.c. */
int control_parse_line(const char *line, size_t len, json_object **ret, struct mlvm_err *e);
/* Read one JSON object line, waiting at most TIMEOUT_MS (-1: no deadline). */
int control_recv(int fd, int timeout_ms, json_object **ret, struct mlvm_err *e);
