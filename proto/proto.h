/* proto.h: the mlvm agent wire protocol, shared by the host and the guest
 * agent (the spec is PROTOCOL.md beside this file).
 *
 * Everything the host reads here was written by a guest that may be
 * hostile: the decoder checks the header (magic, version, flags, type,
 * length cap) before anything is read or allocated, and decodes payloads
 * into fixed-size structs; unknown types, unknown or duplicate tags,
 * missing required tags and over-long values are errors. No allocation,
 * no libc beyond <string.h>, so the static agent links it as-is. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define PROTO_MAGIC        0x4d4c5641u      /* "MLVA" */
#define PROTO_VERSION      1
#define PROTO_HDR_SIZE     16
#define PROTO_MAX_PAYLOAD  (1024u * 1024u)  /* 1 MiB: larger frames are rejected from the header */
#define PROTO_CHANNEL_NAME "org.mlvm.agent.0"

enum proto_type {
        PROTO_HELLO = 1,      /* agent -> host: first frame on a channel */
        PROTO_HELLO_ACK = 2,  /* host -> agent: the host is there; carries the session id */
        PROTO_ERROR = 3,      /* either way: something failed; the sender closes after it */
        PROTO_PING = 4,       /* either way: liveness; answered by PONG with the same nonce */
        PROTO_PONG = 5,
        PROTO_EXEC = 6,       /* host -> agent: start the workload */
        PROTO_STDIO = 7,      /* agent -> host: a chunk of the workload's stdout or stderr */
        PROTO_EXIT = 8,       /* agent -> host: the workload ended */
        PROTO_SHUTDOWN = 9,   /* host -> agent: stop the workload, sync, power off */
        PROTO_MOUNT = 10,     /* host -> agent: mount a data disk read-only */
        PROTO_DONE = 11,      /* agent -> host: the request with this id succeeded */
        PROTO_CRED_PUT = 12,  /* host -> agent: write a credential to tmpfs for TTL_MS */
        PROTO_CRED_REVOKE = 13, /* host -> agent: remove one credential (NAME) or all of them */
        PROTO_CRED_EXPIRED = 14, /* agent -> host: a credential's TTL ended and its file is gone */
        PROTO_ARTIFACT = 15,  /* agent -> host: one artifact file (path, size, SHA-256) */
        PROTO_ARTIFACTS_DONE = 16, /* agent -> host: the artifact stream is on the disk (count, size, SHA-256) */
        PROTO_STREAM_OPEN = 17,   /* host -> agent: connect stream S to the guest's 127.0.0.1:PORT */
        PROTO_STREAM_OPENED = 18, /* agent -> host: stream S is connected */
        PROTO_STREAM_DATA = 19,   /* either way: bytes of stream S, within the credit the other side gave */
        PROTO_STREAM_WINDOW = 20, /* either way: the sender may send WINDOW more bytes on stream S */
        PROTO_STREAM_CLOSE = 21,  /* either way: stream S ends (HOW: end of data, reset, refused) */
        PROTO_STREAM_EXEC = 22,   /* host -> agent: run ARGV as the workload's user on stream S (mlvm exec) */
        PROTO_TYPE_MAX = 22,
};

enum proto_tag {
        PROTO_T_AGENT_VERSION = 1,   /* str */
        PROTO_T_PROTO_VERSION = 2,   /* u32 */
        PROTO_T_UPTIME_MS = 3,       /* u64 */
        PROTO_T_TRANSPORT = 4,       /* str: "virtio-serial" or "vsock" */
        PROTO_T_SESSION = 5,         /* 16 bytes */
        PROTO_T_CODE = 6,            /* u32 */
        PROTO_T_MESSAGE = 7,         /* str */
        PROTO_T_NONCE = 8,           /* u64 */
        PROTO_T_BOOT_ID = 9,         /* str: the guest kernel's boot id */
        PROTO_T_ROOT = 10,           /* str: what / of the workload is: "initramfs" or "vda:ext4" */
        PROTO_T_LAST_ID = 11,        /* u32: the last request id the agent completed (re-HELLO) */
        PROTO_T_ARGV = 12,           /* strv: NUL-terminated strings, one after the other */
        PROTO_T_ENV = 13,            /* strv: NAME=value strings */
        PROTO_T_CWD = 14,            /* str (256) */
        PROTO_T_STREAM = 15,         /* u32: 1 stdout, 2 stderr */
        PROTO_T_DATA = 16,           /* blob */
        PROTO_T_SIGNAL = 17,         /* u32: the signal that ended the workload, 0 if it exited */
        PROTO_T_SERIAL = 18,         /* str (64): a virtio disk serial */
        PROTO_T_PATH = 19,           /* str (256): an absolute guest path */
        PROTO_T_FSTYPE = 20,         /* str (64) */
        PROTO_T_NAME = 21,           /* str (64): a credential's name, [A-Za-z_][A-Za-z0-9_]* */
        PROTO_T_LEASE = 22,          /* str (64): a credential's lease id */
        PROTO_T_TTL_MS = 23,         /* u64: how long from delivery the credential lives */
        PROTO_T_VALUE = 24,          /* blob (64 KiB): a credential's bytes */
        PROTO_T_COUNT = 25,          /* u32 */
        PROTO_T_SIZE = 26,           /* u64: bytes */
        PROTO_T_DIGEST = 27,         /* str (65): SHA-256 as 64 lowercase hex digits */
        PROTO_T_ARTIFACTS_DIR = 28,  /* str (256): the workload's artifact directory (absolute guest path) */
        PROTO_T_ARTIFACTS_SERIAL = 29, /* str (64): the serial of the raw artifact disk */
        PROTO_T_STREAM_ID = 30,      /* u32: a stream, chosen by the host, never 0 */
        PROTO_T_PORT = 31,           /* u32: a TCP port, 1..65535 */
        PROTO_T_WINDOW = 32,         /* u32: credit in bytes */
        PROTO_T_HOW = 33,            /* u32: how a stream closes, enum proto_close */
        PROTO_T_TTY = 34,            /* u32: 1: give the command a terminal */
        PROTO_T_ROWS = 35,           /* u32: the terminal's size */
        PROTO_T_COLS = 36,           /* u32 */
};

/* Streams (published ports): each direction has its own credit, granted
 * by the receiver (initially with OPEN / OPENED, then by WINDOW) and
 * spent by DATA; a sender never sends more than it was granted, so
 * neither side buffers more than it granted. Either side ends its
 * direction with CLOSE END (a half-close); a stream is gone when both did,
 * or after a CLOSE RESET or REFUSED from either side. */
enum proto_close {
        PROTO_CLOSE_END = 1,      /* no more data this way (EOF) */
        PROTO_CLOSE_RESET = 2,    /* abort both ways */
        PROTO_CLOSE_REFUSED = 3,  /* agent: nothing accepted the connection (or too many streams) */
};

#define PROTO_STREAM_CREDIT 262144u    /* initial credit each way */
#define PROTO_STREAMS_MAX 64           /* open streams per guest */

#define PROTO_STR_SHORT  64
#define PROTO_STR_LONG   1024
#define PROTO_SESSION_LEN 16
#define PROTO_PATH_MAX   256
#define PROTO_STRV_MAX   65536      /* bytes of an argv or env list */
#define PROTO_STRV_COUNT 256        /* strings in one list */
#define PROTO_DATA_MAX   65536      /* one STDIO chunk */
#define PROTO_VALUE_MAX  65536      /* one credential */

struct proto_hello {
        char agent_version[PROTO_STR_SHORT];
        uint32_t proto_version;
        uint64_t uptime_ms;
        char transport[PROTO_STR_SHORT];
        char boot_id[PROTO_STR_SHORT];
        char root[PROTO_STR_SHORT];
        uint8_t session[PROTO_SESSION_LEN];   /* re-HELLO: the session the host gave; zero on first HELLO */
        uint32_t last_id;                     /* re-HELLO: last request id completed */
};

struct proto_hello_ack {
        uint8_t session[PROTO_SESSION_LEN];
};

/* Error codes carried in ERROR frames. */
enum proto_error_code {
        PROTO_E_INTERNAL = 1,     /* the sender failed (message says how) */
        PROTO_E_PROTOCOL = 2,     /* the sender received a malformed frame */
        PROTO_E_UNSUPPORTED = 3,  /* a well-formed frame the sender does not handle */
        PROTO_E_BOOT = 4,         /* the guest could not finish booting */
        PROTO_E_ARTIFACTS = 5,    /* the artifacts could not be collected; EXIT follows */
};

struct proto_error {
        uint32_t code;
        char message[PROTO_STR_LONG];
};

struct proto_ping {
        uint64_t nonce;
};

/* A list of strings on the wire: LEN bytes, COUNT NUL-terminated strings. */
struct proto_strv {
        char buf[PROTO_STRV_MAX];
        uint32_t len, count;
};

struct proto_exec {
        struct proto_strv argv;   /* at least one string */
        struct proto_strv env;
        char cwd[PROTO_PATH_MAX];
        char artifacts_dir[PROTO_PATH_MAX];        /* "" when the run keeps no artifacts */
        char artifacts_serial[PROTO_STR_SHORT];
};

enum proto_stream { PROTO_STDOUT = 1, PROTO_STDERR = 2 };

struct proto_stdio {
        uint32_t stream;
        uint8_t data[PROTO_DATA_MAX];
        uint32_t len;
};

struct proto_exit {
        uint32_t code;            /* exit status when signal is 0 */
        uint32_t signal;
        uint32_t stream;          /* an exec stream's command, or 0 for the workload */
};

struct proto_mount {
        char serial[PROTO_STR_SHORT];
        char path[PROTO_PATH_MAX];
        char fstype[PROTO_STR_SHORT];
};

/* CRED_PUT carries everything; CRED_REVOKE a name or none (all);
 * CRED_EXPIRED a name and lease. */
struct proto_cred {
        char name[PROTO_STR_SHORT];
        char lease[PROTO_STR_SHORT];
        uint64_t ttl_ms;
        uint8_t value[PROTO_VALUE_MAX];
        uint32_t len;
};

#define PROTO_DIGEST_LEN 65        /* 64 hex digits and a NUL */

/* ARTIFACT: path, size, digest; ARTIFACTS_DONE: count, size, digest (of the stream). */
struct proto_artifact {
        char path[PROTO_PATH_MAX];
        uint64_t size;
        char digest[PROTO_DIGEST_LEN];
        uint32_t count;
};

struct proto_conn {
        uint32_t id;
        uint32_t port;            /* OPEN */
        uint32_t window;          /* OPEN, OPENED, WINDOW, EXEC */
        uint32_t how;             /* CLOSE */
        uint32_t fd;              /* DATA of an exec stream: 2 for stderr, else stdout (or stdin, host -> agent) */
        uint8_t data[PROTO_DATA_MAX];   /* DATA */
        uint32_t len;
        uint32_t tty, rows, cols; /* EXEC */
        struct proto_strv argv;   /* EXEC */
};

struct proto_done {
        uint32_t count;           /* CRED_REVOKE: how many credentials were removed */
};

struct proto_msg {
        uint8_t type;
        uint32_t id;              /* request id; replies carry the request's id */
        union {
                struct proto_hello hello;
                struct proto_hello_ack hello_ack;
                struct proto_error error;
                struct proto_ping ping;   /* PING and PONG */
                struct proto_exec exec;
                struct proto_stdio stdio;
                struct proto_exit exit;
                struct proto_mount mount;
                struct proto_cred cred;   /* CRED_PUT, CRED_REVOKE, CRED_EXPIRED */
                struct proto_done done;
                struct proto_artifact artifact;   /* ARTIFACT, ARTIFACTS_DONE */
                struct proto_conn stream;         /* STREAM_* */
        } u;
};

struct proto_hdr {
        uint8_t version, type;
        uint16_t flags;
        uint32_t id, len;
};

/* Decoder results: 0, or one of these (negative). */
enum proto_status {
        PROTO_OK = 0,
        PROTO_EMAGIC = -1,      /* not a frame: bad magic */
        PROTO_EVERSION = -2,    /* unsupported protocol version */
        PROTO_EFLAGS = -3,      /* reserved flags set */
        PROTO_ETYPE = -4,       /* unknown message type */
        PROTO_ETOOBIG = -5,     /* payload over PROTO_MAX_PAYLOAD, or over the buffer */
        PROTO_ETLV = -6,        /* truncated TLV */
        PROTO_ETAG = -7,        /* tag not allowed for this type */
        PROTO_EDUP = -8,        /* tag repeated */
        PROTO_EVALUE = -9,      /* value of the wrong size, too long, or with a NUL byte */
        PROTO_EMISSING = -10,   /* a required tag is missing */
};

const char *proto_strerror(int status);
const char *proto_type_name(uint8_t type);

/* Check a 16-byte header; on success fill *h. Called before reading (or
 * allocating for) the payload. */
int proto_hdr_decode(const uint8_t *buf, struct proto_hdr *h);
/* Decode a payload of h->len bytes for h->type into *m. */
int proto_payload_decode(const struct proto_hdr *h, const uint8_t *payload, struct proto_msg *m);
/* Header + payload in one buffer of len bytes (must be exactly one frame). */
int proto_decode(const uint8_t *buf, size_t len, struct proto_msg *m);

/* Encode *m as one frame into buf (cap bytes). Returns the frame length,
 * or a negative proto_status (PROTO_ETOOBIG when it does not fit). */
long proto_encode(const struct proto_msg *m, uint8_t *buf, size_t cap);

/* Bounded string copy for filling message fields (always terminated). */
void proto_strlcpy(char *dst, const char *src, size_t cap);
/* Append S to a string list; -1 when it does not fit. */
int proto_strv_add(struct proto_strv *v, const char *s);
/* The string after P in V (start with P = NULL), or NULL at the end. */
const char *proto_strv_next(const struct proto_strv *v, const char *p);
