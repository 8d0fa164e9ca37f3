/* monitor-core.h: what the monitor's core offers its handlers, and the
 * table each handler registers. The core (monitor.c and the files it
 * names) owns libvirt's event loop, the domain, the agent channel and its
 * session, the request queue, stream ids, the control socket and the
 * order of the teardown. A handler (monitor-creds.c, monitor-publish.c,
 * monitor-exec.c, monitor-artifacts.c; monitor-handlers.h) keeps its own
 * state in its own file and reaches the run, the agent and the control
 * clients only through the functions below; the core reaches the handler
 * only through its table, so adding one touches no switch in the core. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <json-c/json.h>
#include <libvirt/libvirt.h>

#include "err.h"
#include "json-util.h"
#include "mtime.h"
#include "proto.h"

/* ---- the table a handler registers ------------------------------------------ */

/* A control connection (control.sock), owned by the core; a handler
 * keeps what it needs per client itself and forgets it in client_gone. */
struct monitor_client;

/* One control command: the request line's {"cmd": NAME, ...}. RUN answers
 * C itself (monitor_client_send), now or later. */
struct monitor_command {
        const char *name;
        void (*run)(struct monitor_client *c, json_object *req);
};

/* What the monitor was started with, for the handlers' init. */
struct monitor_start {
        int creds_fd;                   /* the first leases from up, -1: none (the reader closes it) */
};

/* Every member may be left out (NULL, 0). Hooks run in the order the
 * handlers are registered (monitor.c). */
struct monitor_handler {
        const char *name;
        /* Agent frames of these types (a 0-terminated list) go to on_frame.
         * PROTO_DONE here means the DONEs that are not for the request
         * queue. A type no table lists fails the run. */
        const uint8_t *frames;
        void (*on_frame)(const struct proto_msg *m);
        /* ERROR frames with this code (0: none) go to on_frame too;
         * other ERRORs fail the run. */
        uint32_t error_code;
        /* Stream frames (STREAM_OPENED, _DATA, _WINDOW, _CLOSE, and the EXIT
         * of a stream) whose id has (id & ~stream_mask) == stream_base;
         * monitor_stream_id hands out ids in that range. */
        uint32_t stream_base, stream_mask;
        void (*on_stream)(const struct proto_msg *m);
        /* Control commands, ended by one with a NULL name. */
        const struct monitor_command *commands;

        /* Start: read the run record, queue requests for the agent. */
        int (*init)(const struct monitor_start *s, struct mlvm_err *e);
        /* Then, once the control socket is there: open what faces outside. */
        int (*open)(struct mlvm_err *e);
        /* The agent came back with the same session (after libvirtd
         * restarted): send again what it had not confirmed. */
        void (*resumed)(void);
        /* The channel went: whatever lived on it is gone. */
        void (*channel_reset)(void);
        /* The channel has room again (channel.h, the throttle). */
        void (*unthrottle)(void);
        /* The run begins to end, before the agent is asked to stop: true
         * when the handler calls monitor_drained() later (bounded by its
         * own deadline), false when it has nothing to wait for. */
        bool (*drain)(void);
        void (*client_gone)(struct monitor_client *c);
        /* Teardown, before the domain goes: stop timers, close listeners. */
        void (*stop)(void);
        /* Teardown, the guest gone and its volumes not yet deleted: what
         * the handler keeps of them, for the end event under its name;
         * *RET_FAILURE (malloc'd) when that fails the run. */
        json_object *(*collect)(virStoragePoolPtr pool, char **ret_failure);
        /* Teardown, the run's record final. */
        void (*finished)(void);
};

/* ---- the run ----------------------------------------------------------------- */

/* monitor.log (the monitor's stderr), one stamped line. */
void monitor_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Guest text for records and logs: a copy, printable ASCII only. */
char *monitor_ascii(const char *s);

const char *monitor_state_dir(void);
const char *monitor_run_id(void);
const char *monitor_name(void);
/* run.json as the monitor read it at start; the handlers only read it. */
json_object *monitor_record(void);
/* A duration from it: KEY counted in UNIT (USEC_PER_SEC, USEC_PER_MSEC),
 * DFLT when absent, USEC_INFINITY (no deadline) when negative. */
usec_t monitor_record_usec(const char *key, usec_t unit, usec_t dflt);
/* Durations are usec_t on CLOCK_MONOTONIC (mtime.h); this is one as the
 * milliseconds libvirt's timers take: -1 (never) for USEC_INFINITY, at
 * least MIN_MS, at most INT_MAX. */
int monitor_timer_ms(usec_t usec, int min_ms);

/* Every queued request confirmed: the run is ready. */
bool monitor_ready(void);
/* The agent said HELLO (at least once). */
bool monitor_said_hello(void);
/* The run is ending (shutdown begun) or over. */
bool monitor_ending(void);
/* The workload reported its end / was stopped at its timeout. */
bool monitor_workload_exited(void);
bool monitor_workload_timed_out(void);

/* End the run in STATE: revoke (drain), ask the agent to stop, destroy
 * the domain after a grace period. WHY is the run's error, or NULL. */
void monitor_shutdown(const char *state, const char *why);
/* A drain hook that returned true is done. */
void monitor_drained(void);

/* ---- the agent --------------------------------------------------------------- */

/* The channel is open and the agent's session up: it takes frames. */
bool monitor_agent_up(void);
/* Ready, the agent up, nothing ending or reconnecting: new streams may open. */
bool monitor_serving(void);
/* A fresh request id. */
uint32_t monitor_next_id(void);
/* Queue M on the channel; -ENOTCONN ("the agent channel is not open")
 * when the agent is not up. */
int monitor_send(const struct proto_msg *m, struct mlvm_err *e);
/* The channel's throttle (channel.h): full only looks; throttled also
 * makes the core call the unthrottle hooks once there is room. */
bool monitor_channel_full(void);
bool monitor_throttled(void);
/* The next stream id in H's range. */
uint32_t monitor_stream_id(const struct monitor_handler *h);

/* The request queue: what goes to the agent after HELLO, one at a time,
 * in order, each after the previous one's DONE; once all are done the run
 * is ready. */
struct monitor_request_ops {
        void (*before_send)(struct proto_msg *m, void *opaque);
        void (*sent)(const struct proto_msg *m, void *opaque);
        /* Confirmed, by its DONE or by a resumed session (COUNT 0). The
         * queue forgets M first: with a done hook, its owner frees it. */
        void (*done)(uint32_t id, uint32_t count, void *opaque);
};
/* Queue M (its id is set here); OPS may be NULL. -E2BIG when full. */
int monitor_queue(struct proto_msg *m, const struct monitor_request_ops *ops, void *opaque);

/* ---- control clients ------------------------------------------------------- */

#define MONITOR_CLIENTS_MAX 16

/* One JSON line; a client that does not take it is closed. */
void monitor_client_send(struct monitor_client *c, json_object *o);
void monitor_client_close(struct monitor_client *c);
/* The client's socket, -1 once closed. */
int monitor_client_fd(const struct monitor_client *c);
/* From now on the connection is CB's (libvirt handle callback, OPAQUE):
 * no more command lines. Bytes that came after the last line are copied
 * to BUF (CAP bytes), their count to *RET_LEN. */
void monitor_client_take(struct monitor_client *c, virEventHandleCallback cb, void *opaque, uint8_t *buf,
                         size_t cap, size_t *ret_len);
/* Which events (VIR_EVENT_HANDLE_*) a taken connection waits for. */
void monitor_client_events(struct monitor_client *c, int events);
/* Guest bytes to every follower, in bounded lines, under KEY. */
void monitor_broadcast(const char *key, const void *data, size_t len);
/* A line of the monitor's own to every follower (mlvm run prints it with
 * --progress), such as how far the artifact collection is: {"progress":
 * LINE}; not kept for replay. */
void monitor_control_progress(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
