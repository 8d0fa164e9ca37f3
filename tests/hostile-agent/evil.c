/* evil.c: the hostile test agent, mlvm-agent-evil: TEST BUILDS ONLY,
 * never installed or packed into a real image (tests/integration/
 * experiments.sh packs it into its own test image).
 *
 * It is the production agent (every object of guest-agent/) linked with
 * this file, which installs its own artifact writer before main() runs
 * (artifacts_set_writer(), agent-artifacts.h). When the workload leaves a
 * file .mlvm-evil in the artifact directory, it writes the hostile
 * artifact stream the file's first line names, so that the host's checks
 * are tested against bytes that really travel through the artifact volume
 * and virStorageVolDownload; without it, the stream is the honest one
 * (artifacts_write_tree()). Reports stay honest except where the case is
 * a lie in the report itself; the stream's own size and digest are always
 * reported truthfully, so it is the host's entry rules that must catch it.
 *
 * It also turns hostile on the channel itself when the run's EXEC carries
 * MLVM_EVIL=MODE in its environment (mlvm.yaml's env:, so each run picks
 * its own; tests/integration/hostile.sh). It takes over at that EXEC
 * (agent_set_exec_hook(), agent.h), answers its DONE (the run is ready:
 * `mlvm up` returns) and never gives the channel back:
 *
 *     oversize      a header whose length is over the 1 MiB cap
 *     unknown-type  a header of a type no one knows
 *     short-body    a header for 1000 bytes, 100 of them, then silence
 *     half-header   8 of a header's 16 bytes, then silence
 *     garbage       64 MiB of pseudo-random bytes, then silence
 *     contained     replayed and out-of-order reply ids (DONE, PONG,
 *                   CRED_EXPIRED), then a storm of stream frames for
 *                   streams nobody opened, then "evil: storm sent" on
 *                   stdout, then deaf
 *     flood         the console and STDIO frames flooded without end
 *                   (64 KiB frames, both streams), while deaf
 *
 * Deaf: it reads what the host sends, answers PING and opens every
 * stream the host asks for (STREAM_OPENED, full credit; then nothing on
 * it), and never answers CRED_REVOKE or SHUTDOWN, nor powers off. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "agent-artifacts.h"
#include "agent.h"
#include "agent-util.h"
#include "tar.h"
#include "transport.h"

static int report(const char *path, const void *data, size_t len, const char *claim)
{
        static struct proto_msg m;
        struct sha256 h;
        m = (struct proto_msg){ .type = PROTO_ARTIFACT, .id = 0 };
        proto_strlcpy(m.u.artifact.path, path, sizeof(m.u.artifact.path));
        m.u.artifact.size = len;
        sha256_init(&h);
        sha256_update(&h, claim ? claim : data, claim ? strlen(claim) : len);
        sha256_final_hex(&h, m.u.artifact.digest);
        return transport_send(&m);
}

static int file(struct tarw *w, const char *name, const char *data)
{
        size_t len = strlen(data);
        int r = tarw_header(w, name, '0', len, NULL, 0, 0);
        if (r == 0)
                r = tarw_data(w, data, len);
        return r ? r : tarw_pad(w, len);
}

/* The hostile stream .mlvm-evil names, written to W: > 0 when it did (FILES
 * reported), 0 when there is no .mlvm-evil, -errno when the case failed. */
static int evil_artifacts(const char *dir, struct tarw *w, uint32_t *files, char *why, size_t cap)
{
        char path[PROTO_PATH_MAX * 2 + 16], what[64] = "";
        (void)snprintf(path, sizeof(path), "%s/.mlvm-evil", dir);
        int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return 0;
        ssize_t n = read(fd, what, sizeof(what) - 1);
        close(fd);
        what[n > 0 ? n : 0] = 0;
        what[strcspn(what, "\n")] = 0;
        util_log("EVIL TEST AGENT: writing a hostile artifact stream: %s", what);
        int r = -EINVAL;
        *files = 0;
        if (!strcmp(what, "dotdot"))
                r = file(w, "../x", "escaped\n");
        else if (!strcmp(what, "absolute"))
                r = file(w, "/etc/x", "escaped\n");
        else if (!strcmp(what, "symlink"))
                r = tarw_header(w, "link", '2', 0, "/etc/passwd", 0, 0);
        else if (!strcmp(what, "hardlink")) {
                r = file(w, "a", "aaa\n");
                if (r == 0 && (r = report("a", "aaa\n", 4, NULL)) == 0)
                        r = tarw_header(w, "b", '1', 0, "a", 0, 0);
                *files = 1;
        } else if (!strcmp(what, "device"))
                r = tarw_header(w, "null", '3', 0, NULL, 1, 3);
        else if (!strcmp(what, "fifo"))
                r = tarw_header(w, "fifo", '6', 0, NULL, 0, 0);
        else if (!strcmp(what, "oversize")) {
                /* Declares 17 GiB, carries a few bytes: the header alone must be refused. */
                r = tarw_header(w, "huge.bin", '0', 17ULL << 30, NULL, 0, 0);
                if (r == 0)
                        r = tarw_data(w, "x", 1);
                if (r == 0)
                        r = tarw_pad(w, 1);
        } else if (!strcmp(what, "many")) {
                /* Directories need no report: only the entry cap stops them. */
                for (unsigned i = 0; i < 10001 && r <= 0; i++) {
                        char name[32];
                        (void)snprintf(name, sizeof(name), "d%05u/", i);
                        r = tarw_header(w, name, '5', 0, NULL, 0, 0);
                }
        } else if (!strcmp(what, "digest")) {
                /* The bytes are "real model", the report claims "fake model". */
                r = file(w, "model.bin", "real model\n");
                if (r == 0)
                        r = report("model.bin", "real model\n", 11, "fake model\n");
                *files = 1;
        } else
                (void)snprintf(why, cap, "evil: unknown case %s", what);
        if (r < 0 && !why[0])
                (void)snprintf(why, cap, "evil %s: %s", what, strerror(-r));
        return r < 0 ? r : 1;
}

/* The hostile stream when .mlvm-evil asks for one; else, and when the case
 * is unknown or failed, the honest stream after whatever it wrote. */
static int evil_writer(const char *dir, struct tarw *w, char *why, size_t cap)
{
        uint32_t files = 0;
        if (evil_artifacts(dir, w, &files, why, cap) > 0)
                return (int)files;
        int n = artifacts_write_tree(dir, w, why, cap);
        return n < 0 ? n : n + (int)files;
}

/* ---- hostile on the channel -------------------------------------------------- */

/* Bytes as they are, past the codec, by DEADLINE; false when the host stopped taking them. */
static bool raw(const void *p, size_t len)
{
        const uint8_t *b = p;
        while (len > 0) {
                ssize_t n = write(transport_fd(), b, len);
                if (n > 0) {
                        b += n;
                        len -= (size_t)n;
                        continue;
                }
                if (n < 0 && errno != EAGAIN && errno != EINTR)
                        return false;
                if (transport_wait_fd(transport_fd(), POLLOUT, UINT64_MAX) < 0)
                        return false;
        }
        return true;
}

static void put32(uint8_t *p, uint32_t v)
{
        p[0] = (uint8_t)(v >> 24);
        p[1] = (uint8_t)(v >> 16);
        p[2] = (uint8_t)(v >> 8);
        p[3] = (uint8_t)v;
}

/* A header as the codec would write it, but with any TYPE and LEN. */
static void header(uint8_t h[PROTO_HDR_SIZE], uint8_t type, uint32_t id, uint32_t len)
{
        memset(h, 0, PROTO_HDR_SIZE);
        put32(h, PROTO_MAGIC);
        h[4] = PROTO_VERSION;
        h[5] = type;
        put32(h + 8, id);
        put32(h + 12, len);
}

static void send_or_die(const struct proto_msg *m)
{
        if (transport_send(m) < 0)
                transport_fatal(PROTO_E_INTERNAL, "evil: the host stopped reading");
}

static void silence(void)
{
        util_log("EVIL TEST AGENT: silent from now on");
        for (;;)
                pause();
}

/* One frame from the host, if one is there, handled deafly (above). */
static void deaf_once(int timeout_ms)
{
        static struct proto_msg m, r;
        struct pollfd p = { .fd = transport_fd(), .events = POLLIN };
        if (poll(&p, 1, timeout_ms) <= 0 || !(p.revents & POLLIN))
                return;
        int e = transport_recv(&m, util_now_ms() + 60000);
        if (e == -EPIPE)
                return;   /* the host went away: stay (never power off) */
        if (e < 0)
                return;
        if (m.type == PROTO_PING) {
                r = (struct proto_msg){ .type = PROTO_PONG, .id = m.id, .u.ping = m.u.ping };
                send_or_die(&r);
        } else if (m.type == PROTO_STREAM_OPEN) {
                r = (struct proto_msg){ .type = PROTO_STREAM_OPENED, .id = 0 };
                r.u.stream.id = m.u.stream.id;
                r.u.stream.window = PROTO_STREAM_CREDIT;
                send_or_die(&r);
        } else if (m.type == PROTO_CRED_REVOKE || m.type == PROTO_SHUTDOWN)
                util_log("EVIL TEST AGENT: ignoring %s", proto_type_name(m.type));
}

static void deaf(void)
{
        util_log("EVIL TEST AGENT: deaf from now on");
        for (;;)
                deaf_once(-1);
}

static void done(uint32_t id)
{
        struct proto_msg d = { .type = PROTO_DONE, .id = id };
        send_or_die(&d);
}

static void stdio(uint32_t stream, const void *data, size_t len)
{
        static struct proto_msg m;
        m = (struct proto_msg){ .type = PROTO_STDIO, .id = 0 };
        m.u.stdio.stream = stream;
        m.u.stdio.len = (uint32_t)len;
        memcpy(m.u.stdio.data, data, len);
        send_or_die(&m);
}

/* Replayed and out-of-order reply ids, then frames for streams nobody opened. */
static void contained(uint32_t exec_id)
{
        static struct proto_msg m;
        for (uint32_t i = 0; i < 1000; i++) {
                done(exec_id);                  /* replayed: already done */
                done(exec_id + 1 + i);          /* out of order: never sent */
                m = (struct proto_msg){ .type = PROTO_PONG, .id = 1000 + i, .u.ping.nonce = i };
                send_or_die(&m);                /* a PONG for no PING */
                m = (struct proto_msg){ .type = PROTO_CRED_EXPIRED, .id = 0 };
                proto_strlcpy(m.u.cred.name, "NOSUCH", sizeof(m.u.cred.name));
                proto_strlcpy(m.u.cred.lease, "lease", sizeof(m.u.cred.lease));
                send_or_die(&m);                /* an expiry of nothing granted */
        }
        static const uint8_t types[] = { PROTO_STREAM_OPENED, PROTO_STREAM_DATA, PROTO_STREAM_WINDOW,
                                         PROTO_STREAM_CLOSE };
        uint32_t x = 2463534242u;
        for (uint32_t i = 0; i < 20000; i++) {
                x ^= x << 13, x ^= x >> 17, x ^= x << 5;
                m = (struct proto_msg){ .type = types[i % 4], .id = 0 };
                m.u.stream.id = (x | 1) & (i & 1 ? 0xffffffffu : 0x7fffffffu);   /* both halves of the id space */
                m.u.stream.window = 4096;
                m.u.stream.how = PROTO_CLOSE_RESET;
                m.u.stream.len = 16;
                send_or_die(&m);
                deaf_once(0);   /* the host answers some of them: keep reading */
        }
        stdio(PROTO_STDOUT, "evil: storm sent\n", 17);
        deaf();
}

static void flood(void)
{
        static uint8_t chunk[PROTO_DATA_MAX];
        memset(chunk, 'f', sizeof(chunk));
        for (size_t i = 79; i < sizeof(chunk); i += 80)
                chunk[i] = '\n';
        pid_t pid = fork();
        if (pid == 0) {
                int fd = open("/dev/console", O_WRONLY | O_NOCTTY | O_CLOEXEC);
                for (;;)
                        (void)!write(fd >= 0 ? fd : 2, chunk, 4096);
        }
        util_log("EVIL TEST AGENT: flooding the console (pid %d) and STDIO", (int)pid);
        for (uint32_t i = 0;; i++) {
                stdio(i & 1 ? PROTO_STDERR : PROTO_STDOUT, chunk, sizeof(chunk));
                deaf_once(0);
        }
}

/* Waits for an `mlvm exec`, then sends its stream 2 MiB of output at
 * once, eight times the 256 KiB of credit the host granted, and an EXIT. */
static void exec_overrun(void)
{
        static struct proto_msg m, r;
        util_log("EVIL TEST AGENT: waiting for an exec to overrun its credit");
        for (;;) {
                struct pollfd p = { .fd = transport_fd(), .events = POLLIN };
                if (poll(&p, 1, -1) <= 0 || !(p.revents & POLLIN) || transport_recv(&m, util_now_ms() + 60000) < 0)
                        continue;
                if (m.type == PROTO_PING) {
                        r = (struct proto_msg){ .type = PROTO_PONG, .id = m.id, .u.ping = m.u.ping };
                        send_or_die(&r);
                }
                if (m.type != PROTO_STREAM_EXEC)
                        continue;
                uint32_t id = m.u.stream.id;
                r = (struct proto_msg){ .type = PROTO_STREAM_OPENED, .id = 0 };
                r.u.stream.id = id;
                r.u.stream.window = PROTO_STREAM_CREDIT;
                send_or_die(&r);
                for (int i = 0; i < 32; i++) {
                        r = (struct proto_msg){ .type = PROTO_STREAM_DATA, .id = 0 };
                        r.u.stream.id = id;
                        r.u.stream.len = PROTO_DATA_MAX;
                        memset(r.u.stream.data, 'o', PROTO_DATA_MAX);
                        send_or_die(&r);
                }
                r = (struct proto_msg){ .type = PROTO_EXIT, .id = 0 };
                r.u.exit.stream = id;
                send_or_die(&r);
                util_log("EVIL TEST AGENT: 2 MiB sent on exec stream %u, with 256 KiB of credit", id);
        }
}

static void evil_exec(const struct proto_msg *m)
{
        static uint8_t junk[1 << 20];
        const char *mode = NULL;
        for (const char *p = NULL; (p = proto_strv_next(&m->u.exec.env, p));)
                if (!strncmp(p, "MLVM_EVIL=", 10))
                        mode = p + 10;
        if (!mode)
                return;   /* an honest run */
        util_log("EVIL TEST AGENT: hostile on the channel: %s", mode);
        done(m->id);
        uint8_t h[PROTO_HDR_SIZE];
        if (!strcmp(mode, "oversize")) {
                header(h, PROTO_STDIO, 0, PROTO_MAX_PAYLOAD + 1);
                (void)raw(h, sizeof(h));
                (void)raw(junk, 4096);
                silence();
        } else if (!strcmp(mode, "unknown-type")) {
                header(h, 200, 0, 0);
                (void)raw(h, sizeof(h));
                silence();
        } else if (!strcmp(mode, "short-body")) {
                header(h, PROTO_STDIO, 0, 1000);
                (void)raw(h, sizeof(h));
                (void)raw(junk, 100);
                silence();
        } else if (!strcmp(mode, "half-header")) {
                header(h, PROTO_DONE, m->id, 10);
                (void)raw(h, 8);
                silence();
        } else if (!strcmp(mode, "garbage")) {
                uint32_t x = 88172645u;
                for (size_t i = 0; i < sizeof(junk); i += 4) {
                        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
                        memcpy(junk + i, &x, 4);
                }
                for (int i = 0; i < 64 && raw(junk, sizeof(junk)); i++)
                        ;
                util_log("EVIL TEST AGENT: 64 MiB of garbage sent (or the host stopped taking it)");
                silence();
        } else if (!strcmp(mode, "contained"))
                contained(m->id);
        else if (!strcmp(mode, "flood"))
                flood();
        else if (!strcmp(mode, "exec-overrun"))
                exec_overrun();
        util_log("EVIL TEST AGENT: unknown mode %s", mode);
        deaf();
}

__attribute__((constructor)) static void install_evil(void)
{
        artifacts_set_writer(evil_writer);
        agent_set_exec_hook(evil_exec);
}
