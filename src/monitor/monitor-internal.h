/* monitor-internal.h: what the core's files call of each other. Each keeps
 * its own state; this is the only way between them. Handlers never
 * include it: they have monitor-core.h.
 *
 *   monitor.c           the run: its record and files, the handlers, the end and the teardown
 *   monitor-session.c   the agent: channel, HELLO and session, request queue, frame routing
 *   monitor-workload.c  the run's data disks and workload: their requests, output, timeout, exit
 *   monitor-libvirt.c   the connection, the domain, its lifecycle events, console, reconnecting
 *   monitor-control.c   the control socket, its clients, command routing
 *   monitor-restart.c   restart: the decision at the teardown, the backoff, the next up */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <json-c/json.h>
#include <libvirt/libvirt.h>

#include "channel.h"
#include "monitor-core.h"

/* ---- monitor.c ---------------------------------------------------------------- */

/* The registered handlers, in order; NULL past the last. */
#define MONITOR_HANDLERS_MAX 8
const struct monitor_handler *monitor_handler(size_t i);
const char *monitor_console_path(void);
const char *monitor_output_path(void);
/* Guest bytes the capped logs could not keep (console.log, output.log):
 * counted, said once in monitor.log, recorded in run.json at the end. */
void monitor_log_dropped(bool console, size_t n);
/* The monitor's end of its frame gate (gate.h), -1 before it started. */
int monitor_gate_fd(void);
/* The teardown has run: the run is over. */
bool monitor_torn_down(void);
/* End the run now, in STATE unless one is set already (monitor_shutdown);
 * tear it down. */
void monitor_end(const char *state, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The domain stopped or crashed (its lifecycle event). */
/* The domain stopped: WHY is NULL when the guest powered off, else why it failed. */
void monitor_guest_stopped(const char *why);

/* ---- monitor-session.c -------------------------------------------------------- */

/* Draw the session id and read the HELLO deadline; false when there are
 * no random bytes. */
bool monitor_session_init(void);
/* The HELLO deadline starts. */
void monitor_session_await_hello(void);
/* A new channel (attach): the agent says HELLO on it. */
void monitor_session_attach(struct channel *ch);
/* The channel goes (detach): the handlers forget what lived on it. */
void monitor_session_detach(void);

/* ---- monitor-workload.c ------------------------------------------------------- */

/* Queue the run's MOUNTs and its EXEC. */
int monitor_workload_plan(struct mlvm_err *e);
void monitor_workload_on_output(const struct proto_msg *m);
void monitor_workload_on_exit(const struct proto_msg *m);
/* The exit code as the run reports it; false before the workload ended. */
bool monitor_workload_exit_code(int *ret_code);
/* The workload's end into run.json (exit code and signal, timed_out, when). */
void monitor_workload_record(json_object *run);

/* ---- monitor-libvirt.c -------------------------------------------------------- */

/* Read the URI, domain and pool from the record. */
void monitor_libvirt_init(void);
const char *monitor_uri(void);
const char *monitor_domain_name(void);
/* Connect, find the domain, subscribe to its events, open the console and
 * the agent channel. */
int monitor_libvirt_attach(struct mlvm_err *e);
void monitor_libvirt_detach(void);
/* False while libvirt is away and being reconnected to. */
bool monitor_connected(void);
/* The agent channel's stream failed (not the agent's EOF, not a protocol
 * error) while the connection looked alive: reopen the channel, or
 * reconnect if libvirt says the connection is gone too. */
void monitor_libvirt_channel_failed(void);
/* Destroy the domain (reconnecting once if libvirt is away); false when
 * that left something behind. */
bool monitor_libvirt_destroy(void);
/* The libvirt connection, reconnected if it died; false when it cannot be. */
bool monitor_libvirt_alive(void);
/* The run's pool: 1 with *RET_POOL, 0 when there is no connection. */
int monitor_libvirt_pool(virStoragePoolPtr *ret_pool, struct mlvm_err *e);

/* ---- monitor-restart.c -------------------------------------------------------- */

/* mlvm down asked: the run does not restart. */
void monitor_restart_note_down(void);
/* At the teardown: does the run restart (its record's restart policy,
 * how it ended)? CLEAN: the teardown left nothing behind. */
bool monitor_restart_decide(const char *end_state, bool clean, bool have_code, int code);
/* restart_pending (and why a restart did not happen) into the record. */
void monitor_restart_record(json_object *run);
/* After the event loop: when a restart is pending, wait the backoff and
 * exec mlvm up --restart-of (no return); else, or when cancelled, STATUS. */
int monitor_restart_run(int status);

/* ---- monitor-control.c -------------------------------------------------------- */

int monitor_control_listen(struct mlvm_err *e);
/* A PONG: answer the client that pinged. */
void monitor_control_pong(uint32_t id);
/* The run is over: END to followers and to whoever asked for down; every
 * client closed, the socket removed. */
void monitor_control_end(json_object *end);
