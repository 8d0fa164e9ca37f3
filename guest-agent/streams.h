/* streams.h: published ports and `mlvm exec` commands inside the guest
 * (streams.c): streams with per-direction credit, each connected to the
 * guest's loopback or to a command. */
#pragma once

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "proto.h"

void streams_init(void);
/* A STREAM_OPEN, STREAM_EXEC, STREAM_DATA, STREAM_WINDOW or STREAM_CLOSE from the host. */
void streams_on_frame(const struct proto_msg *m);
/* Poll entries for the streams, three per stream, from P[0] (room for
 * 3 * PROTO_STREAMS_MAX); returns how many. */
size_t streams_poll_fill(struct pollfd *p);
/* What poll() found on the N entries streams_poll_fill() gave. */
void streams_poll_handle(const struct pollfd *p, size_t n);
/* The host went away: its streams are gone with it. */
void streams_reset_all(void);
/* A reaped child: the exec command of a stream, if it is one. */
void streams_child_exited(pid_t pid, int status);
/* After reaping: report exec commands that ended with their output drained. */
void streams_tick(void);
/* Is an exec command still running (the agent must then look regularly)? */
bool streams_running(void);
