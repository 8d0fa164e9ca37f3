/* control-request.h: the monitor's reading of a control request (a line
 * from a local client of STATE/runs/RUNID/control.sock, control.h). Pure,
 * apart from the socket, so that tests/fuzz/fuzz-control.c fuzzes exactly
 * what the monitor runs. */
#pragma once

#include <json-c/json.h>

#include "err.h"
#include "proto.h"

/* The longest request line the monitor takes, its newline excluded. */
#define CONTROL_REQUEST_MAX 4095
/* A terminal's size is two unsigned shorts (struct winsize). */
#define CONTROL_TTY_SIZE_MAX 65535

/* LINE (LEN bytes, no newline) as a request: its object in *RET_REQ (the
 * caller's) and its "cmd" in *RET_CMD (a string of *RET_REQ without a NUL
 * inside). The message in E is the reply's. */
int control_parse_request(const char *line, size_t len, json_object **ret_req, const char **ret_cmd,
                          struct mlvm_err *e);

/* {"cmd":"exec","argv":[STR...],"tty":BOOL,"rows":N,"cols":N}: argv (one
 * to PROTO_STRV_COUNT strings that fit one frame), tty (false when
 * absent), rows and cols (0..CONTROL_TTY_SIZE_MAX, 0 when absent) into
 * RET's fields of those names; RET is written only on success. */
int control_parse_exec(json_object *req, struct proto_conn *ret, struct mlvm_err *e);
