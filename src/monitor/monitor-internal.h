/* monitor-internal.h: what the core's files (monitor.c, the run, the
 * agent, libvirt; monitor-control.c, the control socket) share. Handlers
 * never include it: they have monitor-core.h. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <json-c/json.h>
#include <libvirt/libvirt.h>

#include "channel.h"
#include "monitor-core.h"

#define CONTROL_LINE_MAX 4096

struct monitor_client {
        int fd;
        int watch;
        char buf[CONTROL_LINE_MAX];
        size_t len;
        bool follow;
        bool wants_down;        /* answer when the teardown is done */
        bool taken;             /* a handler speaks on it now (monitor_client_take) */
        uint32_t ping_id;       /* answer on this PONG */
        double ping_sent;
};

struct request {                /* what the monitor sends the agent after HELLO, in order */
        struct proto_msg *msg;
        uint32_t id;
        const struct monitor_request_ops *ops;
        void *opaque;
};

struct monitor {
        const char *state_dir, *id;
        char *uri, *domain_name, *name, *pool_name;
        json_object *run;
        virConnectPtr conn;
        virDomainPtr dom;
        struct channel *ch;
        virStreamPtr console;
        int lifecycle_cb;
        int listen_fd, listen_watch;
        struct monitor_client clients[MONITOR_CLIENTS_MAX];
        struct request reqs[24];
        size_t n_reqs, next_req;
        bool hello, ready, ending, done, conn_lost;
        bool session_up;        /* HELLO_ACK sent on the current channel: the agent takes other frames */
        int hello_timer, grace_timer, reconnect_timer;
        double lost_at;
        uint8_t session[PROTO_SESSION_LEN];
        uint32_t next_id;
        char *console_path, *output_path;
        const char *end_state;
        char *end_reason;
        int exit_code, exit_signal;
        bool have_exit;
        int boot_timeout;
        int64_t timeout_s;      /* the workload's, 0: none */
        int timeout_timer;
        bool timed_out;
        double exit_at;         /* when the agent reported EXIT */
        unsigned draining;      /* drain hooks still to call monitor_drained */
};

/* The one monitor of this process. */
extern struct monitor mlvm_monitor;
#define M mlvm_monitor

/* The registered handlers, in order; NULL past the last. */
const struct monitor_handler *monitor_handler(size_t i);

/* monitor-control.c */
int monitor_control_listen(struct mlvm_err *e);
/* A PONG: answer the client that pinged. */
void monitor_control_pong(uint32_t id);
/* The run is over: END to followers and to whoever asked for down; every client closed. */
void monitor_control_end(json_object *end);
