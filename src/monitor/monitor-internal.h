/* monitor-internal.h: what monitor.c (the run, the agent, libvirt) and
 * monitor-control.c (the control socket and its clients) share. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <json-c/json.h>
#include <libvirt/libvirt.h>

#include "channel.h"
#include "err.h"
#include "json-util.h"
#include "proto.h"

#define CONTROL_LINE_MAX 4096
#define MAX_CLIENTS 16

struct client {
        int fd;
        int watch;
        char buf[CONTROL_LINE_MAX];
        size_t len;
        bool follow;
        bool wants_down;        /* answer when the teardown is done */
        uint32_t ping_id;       /* answer on this PONG */
        double ping_sent;
        int rotations;          /* credential rotations this client waits for */
        json_object *rotated;   /* their results so far */
        uint32_t exec_stream;   /* mlvm exec: the connection carries this stream's frames */
        uint8_t *xin, *xout;
        size_t xin_len, xout_len, xout_cap;
        bool xdone;             /* the command ended: close once xout is sent */
};

struct request {                /* what the monitor sends the agent after HELLO, in order */
        struct proto_msg *msg;
        uint32_t id;
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
        struct client clients[MAX_CLIENTS];
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
        int revoke_timeout_ms;
        int64_t timeout_s;      /* the workload's, 0: none */
        int timeout_timer;
        bool timed_out;
        double exit_at;         /* when the agent reported EXIT */
};

/* The one monitor of this process. */
extern struct monitor mlvm_monitor;
#define M mlvm_monitor

void monitor_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *monitor_ascii(const char *s);
void monitor_shutdown(const char *state, const char *why);

/* monitor-control.c */
void monitor_client_send(struct client *c, json_object *o);
void monitor_client_close(struct client *c);
/* Send guest bytes to every follower, in bounded lines. */
void monitor_broadcast(const char *key, const void *data, size_t len);
int monitor_control_listen(struct mlvm_err *e);

/* monitor-creds.c */
/* Read the grants from the run record and the first leases from FD (the
 * hand-over from up; -1 when the run has none). */
int creds_init(int fd, struct mlvm_err *e);
size_t creds_count(void);
/* The CRED_PUT of credential I's first lease, for the request queue (the
 * creds code owns and frees it). */
struct proto_msg *creds_initial_put(size_t i);
/* The request queue is about to send / sent MSG (a CRED_PUT from
 * creds_initial_put); before sending, a JWT is minted afresh in place. */
void creds_before_send(struct proto_msg *msg);
void creds_note_sent(const struct proto_msg *msg);
void creds_client_gone(int fd);
/* A DONE from the agent: true when it was for a credential request. */
bool creds_on_done(uint32_t id, uint32_t count);
void creds_on_expired(const struct proto_msg *m);
/* Rotate NAME (NULL: all) now; C gets one reply when all are done. */
int creds_rotate(struct client *c, const char *name, struct mlvm_err *e);
/* Revoke every live credential; true when THEN will be called once the
 * agent confirms or the deadline passes, false when there was nothing to
 * wait for (no live credential, or no channel: audited as unconfirmed). */
bool creds_revoke_all(void (*then)(void));
/* After a re-HELLO: send again what the agent had not confirmed. */
void creds_resend(void);
/* The run ends: stop timers and fetches; audit what was not confirmed. */
void creds_teardown(const char *why);

/* monitor-artifacts.c */
void artifacts_on_report(const struct proto_msg *m);
void artifacts_on_done(const struct proto_msg *m);
void artifacts_on_error(const char *why);
/* Collect and check the artifacts once the guest is gone (NULL when the
 * run keeps none); *REJECTED when that fails the run. */
json_object *artifacts_collect_run(virStoragePoolPtr pool, bool *rejected);
/* Sign the provenance of the finished run. */
void provenance_run(void);

/* monitor-publish.c */
int publish_init(struct mlvm_err *e);
void publish_on_frame(const struct proto_msg *m);
void publish_reset_streams(void);
void publish_close(void);
/* The channel has room again: read the clients (channel_on_unthrottle). */
void publish_unthrottle(void);

/* monitor-exec.c */
void exec_start(struct client *c, json_object *req);
/* A frame of the agent's: true when it was for an exec stream. */
bool exec_on_frame(const struct proto_msg *m);
/* The channel went: every exec client is told (its connection closes). */
void exec_reset_all(void);
void exec_unthrottle(void);
