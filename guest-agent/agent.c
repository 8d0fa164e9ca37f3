/* agent.c: mlvm-agent, PID 1 of every mlvm guest.
 *
 * Boots the guest's userspace (mounts, kernel modules), finds the channel to
 * the host, says HELLO and answers the host. Every wait has a deadline
 * (mlvm.timeout= on the kernel command line, default 60 s), and every
 * failure ends in an ERROR to the host when possible and a power-off: a
 * guest never hangs. It trusts the host (which built and verified this
 * image) but still decodes its frames strictly.
 *
 * For tests it also runs as an ordinary process speaking over an
 * inherited fd: `mlvm-agent --fd N` (no mounts, no modules, exits instead
 * of powering off). */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "proto.h"

/* <linux/vm_sockets.h> is not in musl's include path; the ABI is stable. */
#ifndef AF_VSOCK
#define AF_VSOCK 40
#endif
#define VMADDR_CID_HOST 2
struct sockaddr_vm {
        sa_family_t svm_family;
        unsigned short svm_reserved1;
        unsigned int svm_port;
        unsigned int svm_cid;
        unsigned char svm_zero[sizeof(struct sockaddr) - sizeof(sa_family_t) - sizeof(unsigned short) -
                               2 * sizeof(unsigned int)];
};

#ifndef AGENT_VERSION
#define AGENT_VERSION "0.0.0"
#endif

#define MODULE_LIST    "/etc/mlvm/modules"
#define MODULE_DIR     "/lib/modules/mlvm"
#define MODULE_LIST_MAX 65536
#define CMDLINE_MAX    4096
#define VSOCK_HOST_PORT 7011
#define DEFAULT_TIMEOUT_S 60

static bool as_pid1;
static int host_fd = -1;
static const char *transport = "virtio-serial";
static unsigned timeout_s = DEFAULT_TIMEOUT_S;
static char root_serial[21];          /* mlvm.root=SERIAL: virtio-blk serials are at most 20 bytes */
static char root_desc[PROTO_STR_SHORT] = "initramfs";
static uint8_t session[PROTO_SESSION_LEN];   /* from HELLO_ACK; sent back in a re-HELLO */
static bool have_session;
static uint32_t last_id;                     /* the last host request completed */
static struct workload wl = { .out = -1, .err = -1 };
static uint8_t frame[PROTO_HDR_SIZE + PROTO_MAX_PAYLOAD];
static uint64_t frame_msg[(sizeof(struct proto_msg) + 7) / 8];   /* decoded host request */
static size_t frame_len;                     /* bytes of the last frame received into frame[] */

void logmsg(const char *fmt, ...)
{
        char buf[512];
        va_list ap;
        int n = snprintf(buf, sizeof(buf), "mlvm-agent: ");

        va_start(ap, fmt);
        int m = vsnprintf(buf + n, sizeof(buf) - (size_t)n - 1, fmt, ap);
        va_end(ap);
        if (m < 0)
                m = 0;
        n += m;
        if ((size_t)n > sizeof(buf) - 2)
                n = (int)sizeof(buf) - 2;
        buf[n++] = '\n';
        (void)!write(STDERR_FILENO, buf, (size_t)n);
}

bool agent_is_pid1(void) { return as_pid1; }

uint64_t now_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void sleep_ms(unsigned ms)
{
        struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

static int send_msg(const struct proto_msg *m, uint64_t deadline);

static void send_error(uint32_t code, const char *what)
{
        struct proto_msg m = { .type = PROTO_ERROR, .id = 0 };

        if (host_fd < 0)
                return;
        m.u.error.code = code;
        proto_strlcpy(m.u.error.message, what, sizeof(m.u.error.message));
        (void)send_msg(&m, now_ms() + 2000);
}

/* The one way out. PID 1 must never exit: power off, else reboot (the
 * domain has on_reboot=destroy), else stop forever. */
static void __attribute__((noreturn)) finish(int status, uint32_t code, const char *why)
{
        if (why) {
                logmsg("%s", why);
                send_error(code, why);
        }
        if (!as_pid1)
                exit(status);
        sync();
        logmsg("powering off");
        (void)reboot(RB_POWER_OFF);
        (void)reboot(RB_AUTOBOOT);
        for (;;)
                pause();
}

static void __attribute__((noreturn, format(printf, 2, 3))) fatal(uint32_t code, const char *fmt, ...)
{
        char why[PROTO_STR_LONG];
        va_list ap;

        va_start(ap, fmt);
        (void)vsnprintf(why, sizeof(why), fmt, ap);
        va_end(ap);
        finish(1, code, why);
}

/* Expiries found while the agent waits on the host (even while it is
 * away): the file goes at once, the report when the host can hear it. */
static struct {
        char name[PROTO_STR_SHORT], lease[PROTO_STR_SHORT];
} expired[64];
static size_t n_expired;

static void defer_expired(const char *name, const char *lease)
{
        if (n_expired < sizeof(expired) / sizeof(expired[0])) {
                proto_strlcpy(expired[n_expired].name, name, sizeof(expired[0].name));
                proto_strlcpy(expired[n_expired].lease, lease, sizeof(expired[0].lease));
                n_expired++;
        }
}

/* Wait for EVENTS on fd until the deadline. Returns revents, 0 on timeout.
 * A virtio-serial port whose host side is closed reports POLLHUP at once:
 * callers that wait for the host to connect treat that as "not yet". */
static int wait_fd(int fd, short events, uint64_t deadline)
{
        for (;;) {
                uint64_t now = now_ms();
                if (now >= deadline)
                        return 0;
                struct pollfd p = { .fd = fd, .events = events };
                int left = (int)(deadline - now > 1000 ? 1000 : deadline - now);
                int next = secrets_next_timeout_ms();
                if (next >= 0 && next < left)
                        left = next;
                int r = poll(&p, 1, left);
                secrets_expire(defer_expired);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r < 0)
                        return -errno;
                if (r > 0)
                        return p.revents;
        }
}

static int write_all(const uint8_t *p, size_t len, uint64_t deadline)
{
        while (len > 0) {
                ssize_t n = write(host_fd, p, len);
                if (n > 0) {
                        p += n;
                        len -= (size_t)n;
                        continue;
                }
                if (n < 0 && errno != EAGAIN && errno != EINTR)
                        return -errno;
                int ev = wait_fd(host_fd, POLLOUT, deadline);
                if (ev == 0)
                        return -ETIMEDOUT;
                if (ev < 0)
                        return ev;
                if ((ev & POLLHUP) && !(ev & POLLOUT))
                        sleep_ms(20);
        }
        return 0;
}

/* Read exactly len bytes. Returns 0, -EPIPE when the host went away, or
 * -ETIMEDOUT. A deadline of UINT64_MAX waits as long as the host is there. */
static int read_exact(uint8_t *p, size_t len, uint64_t deadline)
{
        while (len > 0) {
                ssize_t n = read(host_fd, p, len);
                if (n > 0) {
                        p += n;
                        len -= (size_t)n;
                        continue;
                }
                if (n == 0)
                        return -EPIPE;
                if (errno != EAGAIN && errno != EINTR)
                        return -errno;
                int ev = wait_fd(host_fd, POLLIN, deadline);
                if (ev == 0)
                        return -ETIMEDOUT;
                if (ev < 0)
                        return ev;
                if ((ev & POLLHUP) && !(ev & POLLIN))
                        return -EPIPE;
        }
        return 0;
}

static int send_msg(const struct proto_msg *m, uint64_t deadline)
{
        long n = proto_encode(m, frame, sizeof(frame));
        if (n < 0)
                return -EINVAL;
        return write_all(frame, (size_t)n, deadline);
}

int agent_send(const struct proto_msg *m)
{
        return send_msg(m, now_ms() + (uint64_t)timeout_s * 1000);
}

/* Returns 0 with *m filled, -EPIPE/-ETIMEDOUT, or -EPROTO (already reported). */
static int recv_msg(struct proto_msg *m, uint64_t deadline)
{
        struct proto_hdr h;
        int r = read_exact(frame, PROTO_HDR_SIZE, deadline);
        if (r < 0)
                return r;
        if ((r = proto_hdr_decode(frame, &h)) < 0) {
                logmsg("bad frame header from host: %s", proto_strerror(r));
                return -EPROTO;
        }
        if ((r = read_exact(frame + PROTO_HDR_SIZE, h.len, deadline)) < 0)
                return r;
        frame_len = PROTO_HDR_SIZE + h.len;
        if ((r = proto_payload_decode(&h, frame + PROTO_HDR_SIZE, m)) < 0) {
                logmsg("bad %s frame from host: %s", proto_type_name(h.type), proto_strerror(r));
                return -EPROTO;
        }
        return 0;
}

static void mount_or_die(const char *src, const char *dst, const char *type, unsigned long flags, const char *data)
{
        (void)mkdir(dst, 0755);
        if (mount(src, dst, type, flags, data) < 0 && errno != EBUSY)
                fatal(PROTO_E_BOOT, "mount %s on %s: %s", type, dst, strerror(errno));
}

static void setup_console(void)
{
        int fd = open("/dev/console", O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (fd < 0)
                return;
        for (int i = 0; i < 3; i++)
                (void)dup2(fd, i);  /* dup2 clears O_CLOEXEC on 0-2, as a console should */
        if (fd > 2)
                close(fd);
}

static void parse_cmdline(void)
{
        char buf[CMDLINE_MAX];
        int fd = open("/proc/cmdline", O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return;
        ssize_t n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        if (n <= 0)
                return;
        buf[n] = 0;
        for (char *save = NULL, *tok = strtok_r(buf, " \n", &save); tok; tok = strtok_r(NULL, " \n", &save)) {
                if (strncmp(tok, "mlvm.root=", 10) == 0) {
                        if (strlen(tok + 10) == 0 || strlen(tok + 10) >= sizeof(root_serial))
                                fatal(PROTO_E_BOOT, "bad %s (a virtio disk serial of 1..20 bytes)", tok);
                        proto_strlcpy(root_serial, tok + 10, sizeof(root_serial));
                } else if (strncmp(tok, "mlvm.timeout=", 13) == 0) {
                        char *end;
                        unsigned long v = strtoul(tok + 13, &end, 10);
                        if (*end == 0 && v >= 1 && v <= 3600)
                                timeout_s = (unsigned)v;
                        else
                                logmsg("ignoring bad %s (1..3600 seconds)", tok);
                }
        }
}

/* The guest has no network card, but its loopback serves published ports. */
static void loopback_up(void)
{
        struct ifreq ifr;
        int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return;
        memset(&ifr, 0, sizeof(ifr));
        proto_strlcpy(ifr.ifr_name, "lo", sizeof(ifr.ifr_name));
        if (ioctl(fd, SIOCGIFFLAGS, &ifr) == 0) {
                ifr.ifr_flags |= IFF_UP;
                if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
                        logmsg("loopback: %s", strerror(errno));
        }
        close(fd);
}

static void load_modules(void)
{
        static char list[MODULE_LIST_MAX + 1];
        int fd = open(MODULE_LIST, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return;  /* an image may have everything built in */
        ssize_t n = read(fd, list, MODULE_LIST_MAX);
        close(fd);
        if (n < 0)
                fatal(PROTO_E_BOOT, "read %s: %s", MODULE_LIST, strerror(errno));
        list[n] = 0;
        for (char *save = NULL, *name = strtok_r(list, "\n", &save); name; name = strtok_r(NULL, "\n", &save)) {
                char path[256];
                if (strchr(name, '/') || snprintf(path, sizeof(path), "%s/%s.ko", MODULE_DIR, name) >= (int)sizeof(path))
                        fatal(PROTO_E_BOOT, "bad module name in %s", MODULE_LIST);
                int mfd = open(path, O_RDONLY | O_CLOEXEC);
                if (mfd < 0)
                        fatal(PROTO_E_BOOT, "open %s: %s", path, strerror(errno));
                if (syscall(SYS_finit_module, mfd, "", 0) < 0 && errno != EEXIST)
                        logmsg("load %s: %s", name, strerror(errno));
                close(mfd);
        }
}

/* The virtio disk whose serial is root_serial, mounted ext4 on /sysroot.
 * It is the run's copy-on-write overlay of the image's root filesystem, so
 * it is mounted read-write; the verified base below it is never written. */
static void mount_root(uint64_t deadline)
{
        char dev[40], path[64];

        if (find_disk(root_serial, deadline, dev, sizeof(dev)) < 0)
                fatal(PROTO_E_BOOT, "no virtio disk with serial %s (the root filesystem) after %u s", root_serial,
                      timeout_s);
        (void)snprintf(path, sizeof(path), "/dev/%s", dev);
        (void)mkdir("/sysroot", 0755);
        if (mount(path, "/sysroot", "ext4", MS_NOATIME, NULL) < 0)
                fatal(PROTO_E_BOOT, "mount %s (serial %s) as ext4 on /sysroot: %s", path, root_serial, strerror(errno));
        (void)snprintf(root_desc, sizeof(root_desc), "%.32s:ext4", dev);
        workload_root = "/sysroot";
        logmsg("root filesystem %s mounted on /sysroot", path);
}

/* The virtio-serial port whose name is org.mlvm.agent.0, as /dev/vportNpM. */
static int open_virtio_port(void)
{
        DIR *d = opendir("/sys/class/virtio-ports");
        struct dirent *de;
        int fd = -1;

        if (!d)
                return -1;
        while (fd < 0 && (de = readdir(d))) {
                char path[300], name[64], dev[300];
                if (de->d_name[0] == '.')
                        continue;
                (void)snprintf(path, sizeof(path), "/sys/class/virtio-ports/%s/name", de->d_name);
                int nfd = open(path, O_RDONLY | O_CLOEXEC);
                if (nfd < 0)
                        continue;
                ssize_t n = read(nfd, name, sizeof(name) - 1);
                close(nfd);
                if (n <= 0)
                        continue;
                name[n] = 0;
                name[strcspn(name, "\n")] = 0;
                if (strcmp(name, PROTO_CHANNEL_NAME) != 0)
                        continue;
                (void)snprintf(dev, sizeof(dev), "/dev/%s", de->d_name);
                fd = open(dev, O_RDWR | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
        }
        closedir(d);
        return fd;
}

/* AF_VSOCK to the host (CID 2), when the guest has a vsock device. */
static int open_vsock(uint64_t deadline)
{
        struct sockaddr_vm sa = { .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_HOST, .svm_port = VSOCK_HOST_PORT };
        int fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

        if (fd < 0)
                return -1;
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno != EINPROGRESS) {
                close(fd);
                return -1;
        }
        int ev = wait_fd(fd, POLLOUT, deadline);
        int err = 0;
        socklen_t len = sizeof(err);
        if (ev <= 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err) {
                close(fd);
                return -1;
        }
        return fd;
}

static void find_channel(uint64_t deadline)
{
        bool have_vsock = access("/dev/vsock", F_OK) == 0;

        while (now_ms() < deadline) {
                if ((host_fd = open_virtio_port()) >= 0)
                        return;
                if (have_vsock && (host_fd = open_vsock(now_ms() + 500)) >= 0) {
                        transport = "vsock";
                        return;
                }
                sleep_ms(20);
        }
        fatal(PROTO_E_BOOT, "no channel to the host (virtio-serial port %s%s) after %u s", PROTO_CHANNEL_NAME,
              have_vsock ? " or vsock" : "", timeout_s);
}

static void read_boot_id(char *buf, size_t cap)
{
        int fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
        buf[0] = 0;
        if (fd < 0)
                return;
        ssize_t n = read(fd, buf, cap - 1);
        close(fd);
        buf[n > 0 ? n : 0] = 0;
        buf[strcspn(buf, "\n")] = 0;
}

/* How long a lost host may take to come back: at least as long as the
 * host's monitor keeps trying to reconnect (120 s). */
#define RECONNECT_WAIT_S 120

static void handshake(void)
{
        struct proto_msg m = { .type = PROTO_HELLO, .id = 1 };
        struct timespec up;
        unsigned wait_s = have_session && timeout_s < RECONNECT_WAIT_S ? RECONNECT_WAIT_S : timeout_s;
        uint64_t deadline = now_ms() + (uint64_t)wait_s * 1000;
        int r;

        clock_gettime(CLOCK_BOOTTIME, &up);
        proto_strlcpy(m.u.hello.agent_version, AGENT_VERSION, sizeof(m.u.hello.agent_version));
        m.u.hello.proto_version = PROTO_VERSION;
        m.u.hello.uptime_ms = (uint64_t)up.tv_sec * 1000 + (uint64_t)up.tv_nsec / 1000000;
        proto_strlcpy(m.u.hello.transport, transport, sizeof(m.u.hello.transport));
        read_boot_id(m.u.hello.boot_id, sizeof(m.u.hello.boot_id));
        proto_strlcpy(m.u.hello.root, root_desc, sizeof(m.u.hello.root));
        if (have_session) {
                /* A re-HELLO: the host resumes this session after losing it. */
                memcpy(m.u.hello.session, session, sizeof(session));
                m.u.hello.last_id = last_id;
        }
        if ((r = send_msg(&m, deadline)) < 0)
                fatal(PROTO_E_BOOT, "send HELLO: %s", r == -ETIMEDOUT ? "the host did not connect in time" : strerror(-r));
        logmsg("HELLO sent over %s after %llu ms", transport, (unsigned long long)m.u.hello.uptime_ms);
        if ((r = recv_msg(&m, deadline)) < 0) {
                if (r == -EPROTO)
                        fatal(PROTO_E_PROTOCOL, "malformed reply to HELLO");
                fatal(PROTO_E_BOOT, "no HELLO_ACK: %s", r == -ETIMEDOUT ? "timed out" : "the host went away");
        }
        if (m.type != PROTO_HELLO_ACK || m.id != 1)
                fatal(PROTO_E_PROTOCOL, "expected HELLO_ACK for request 1, got %s for %u", proto_type_name(m.type), m.id);
        if (have_session && memcmp(session, m.u.hello_ack.session, sizeof(session)) != 0)
                logmsg("the host started a new session");
        memcpy(session, m.u.hello_ack.session, sizeof(session));
        have_session = true;
}

static uint64_t deadline_from_now(void) { return now_ms() + (uint64_t)timeout_s * 1000; }

static void reply(uint8_t type, uint32_t id)
{
        struct proto_msg m = { .type = type, .id = id };
        int r = send_msg(&m, deadline_from_now());
        if (r < 0)
                fatal(PROTO_E_INTERNAL, "send %s: %s", proto_type_name(type), strerror(-r));
}

static void reply_error(uint32_t id, uint32_t code, const char *why)
{
        struct proto_msg m = { .type = PROTO_ERROR, .id = id };
        m.u.error.code = code;
        proto_strlcpy(m.u.error.message, why, sizeof(m.u.error.message));
        logmsg("request %u failed: %s", id, why);
        (void)send_msg(&m, deadline_from_now());
}

/* Forward what the workload wrote on FD as STDIO frames; closes it at EOF. */
static void forward_output(int *fd, uint32_t stream)
{
        static struct proto_msg m;
        ssize_t n = read(*fd, m.u.stdio.data, sizeof(m.u.stdio.data));
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
                return;
        if (n <= 0) {
                close(*fd);
                *fd = -1;
                return;
        }
        m.type = PROTO_STDIO;
        m.id = 0;
        m.u.stdio.stream = stream;
        m.u.stdio.len = (uint32_t)n;
        int r = send_msg(&m, deadline_from_now());
        if (r < 0)
                fatal(PROTO_E_INTERNAL, "send output: %s", strerror(-r));
}

static void report_exit(void)
{
        struct proto_msg m = { .type = PROTO_EXIT, .id = 0 };
        if (WIFSIGNALED(wl.status))
                m.u.exit.signal = (uint32_t)WTERMSIG(wl.status);
        else
                m.u.exit.code = (uint32_t)WEXITSTATUS(wl.status);
        logmsg("workload ended: %s %u", m.u.exit.signal ? "signal" : "exit status",
               m.u.exit.signal ? m.u.exit.signal : m.u.exit.code);
        int r = send_msg(&m, deadline_from_now());
        if (r < 0)
                fatal(PROTO_E_INTERNAL, "send EXIT: %s", strerror(-r));
}

/* Tell the host about expiries (those found while it was away too). */
static void flush_expired(void)
{
        static struct proto_msg m;
        for (size_t i = 0; i < n_expired; i++) {
                m = (struct proto_msg){ .type = PROTO_CRED_EXPIRED, .id = 0 };
                proto_strlcpy(m.u.cred.name, expired[i].name, sizeof(m.u.cred.name));
                proto_strlcpy(m.u.cred.lease, expired[i].lease, sizeof(m.u.cred.lease));
                int r = send_msg(&m, deadline_from_now());
                if (r < 0)
                        fatal(PROTO_E_INTERNAL, "send CRED_EXPIRED: %s", strerror(-r));
        }
        n_expired = 0;
}

/* Credential bytes do not linger in the agent's buffers. */
static void wipe(volatile uint8_t *p, size_t len)
{
        while (len--)
                *p++ = 0;
}

static void handle(const struct proto_msg *m)
{
        char why[PROTO_STR_LONG];

        if (m->id > last_id && m->type != PROTO_PING && m->type != PROTO_PONG)
                last_id = m->id;
        switch (m->type) {
        case PROTO_CRED_PUT: {
                int r = secrets_put(&m->u.cred, why, sizeof(why));
                wipe((volatile uint8_t *)m->u.cred.value, m->u.cred.len);
                wipe(frame, frame_len);   /* the frame it came in */
                if (r < 0)
                        reply_error(m->id, PROTO_E_INTERNAL, why);
                else
                        reply(PROTO_DONE, m->id);
                return;
        }
        case PROTO_STREAM_OPEN:
        case PROTO_STREAM_EXEC:
        case PROTO_STREAM_DATA:
        case PROTO_STREAM_WINDOW:
        case PROTO_STREAM_CLOSE:
                streams_on_frame(m);
                return;
        case PROTO_CRED_REVOKE: {
                struct proto_msg d = { .type = PROTO_DONE, .id = m->id };
                d.u.done.count = secrets_revoke(m->u.cred.name);
                int r = send_msg(&d, deadline_from_now());
                if (r < 0)
                        fatal(PROTO_E_INTERNAL, "send DONE: %s", strerror(-r));
                return;
        }
        case PROTO_PING: {
                struct proto_msg pong = { .type = PROTO_PONG, .id = m->id, .u.ping = m->u.ping };
                int r = send_msg(&pong, deadline_from_now());
                if (r < 0)
                        fatal(PROTO_E_INTERNAL, "send PONG: %s", strerror(-r));
                return;
        }
        case PROTO_PONG:
                return;
        case PROTO_MOUNT:
                if (workload_mount(&m->u.mount, deadline_from_now(), why, sizeof(why)) < 0)
                        reply_error(m->id, PROTO_E_INTERNAL, why);
                else
                        reply(PROTO_DONE, m->id);
                return;
        case PROTO_EXEC:
                if (wl.pid) {
                        reply_error(m->id, PROTO_E_UNSUPPORTED, "a workload is already running");
                        return;
                }
                /* The root's own mounts first, so the artifact directory is not covered later. */
                if (workload_prepare_root(why, sizeof(why)) < 0 || artifacts_prepare(&m->u.exec, why, sizeof(why)) < 0 ||
                    workload_start(&m->u.exec, &wl, why, sizeof(why)) < 0)
                        reply_error(m->id, PROTO_E_INTERNAL, why);
                else
                        reply(PROTO_DONE, m->id);
                return;
        case PROTO_SHUTDOWN:
                logmsg("shutdown requested by the host");
                workload_stop(&wl, 2000);
                finish(0, 0, NULL);
        case PROTO_ERROR:
                logmsg("host error %u: %s", m->u.error.code, m->u.error.message);
                finish(1, 0, "the host reported an error; stopping");
        default:
                fatal(PROTO_E_UNSUPPORTED, "unexpected %s from the host", proto_type_name(m->type));
        }
}

/* Serve the host and the workload until the host goes away (returns). */
static void serve(void)
{
        static bool exit_sent;

        for (;;) {
                struct pollfd p[3 + 3 * PROTO_STREAMS_MAX] = {
                        { .fd = host_fd, .events = POLLIN },
                        { .fd = wl.out, .events = POLLIN },
                        { .fd = wl.err, .events = POLLIN },
                };
                size_t ns = streams_poll_fill(p + 3);
                int timeout = (wl.pid && !exit_sent) || streams_running() ? 200 : -1, next = secrets_next_timeout_ms();
                if (next >= 0 && (timeout < 0 || next < timeout))
                        timeout = next;
                int r = poll(p, 3 + ns, timeout);
                if (r < 0 && errno != EINTR)
                        fatal(PROTO_E_INTERNAL, "poll: %s", strerror(errno));
                if (r > 0)
                        streams_poll_handle(p + 3, ns);
                secrets_expire(defer_expired);
                flush_expired();
                if (p[1].revents)
                        forward_output(&wl.out, PROTO_STDOUT);
                if (p[2].revents)
                        forward_output(&wl.err, PROTO_STDERR);
                workload_reap(&wl);
                streams_tick();
                /* EXIT once the process is gone and its output is drained. */
                if (wl.pid && wl.exited && wl.out < 0 && wl.err < 0 && !exit_sent) {
                        char why[PROTO_STR_LONG];
                        /* Whatever the workload left running goes first: nothing may
                         * change the artifact directory while it is read. */
                        if (artifacts_wanted())
                                (void)kill(-wl.pid, SIGKILL);
                        if (artifacts_wanted() && artifacts_finish(why, sizeof(why)) < 0) {
                                struct proto_msg e = { .type = PROTO_ERROR, .id = 0 };
                                e.u.error.code = PROTO_E_ARTIFACTS;
                                proto_strlcpy(e.u.error.message, why, sizeof(e.u.error.message));
                                logmsg("%s", why);
                                (void)send_msg(&e, deadline_from_now());
                        }
                        report_exit();
                        exit_sent = true;
                }
                if (!(p[0].revents & (POLLIN | POLLHUP | POLLERR)))
                        continue;
                struct proto_msg *m = (struct proto_msg *)frame_msg;
                r = recv_msg(m, deadline_from_now());
                if (r == -EPROTO)
                        fatal(PROTO_E_PROTOCOL, "malformed frame from the host");
                if (r == -EPIPE) {
                        streams_reset_all();
                        return;
                }
                if (r == -ETIMEDOUT)
                        fatal(PROTO_E_PROTOCOL, "the host sent part of a frame and stopped");
                if (r < 0)
                        fatal(PROTO_E_INTERNAL, "read from the host: %s", strerror(-r));
                handle(m);
        }
}

int main(int argc, char **argv)
{
        if (argc == 3 && strcmp(argv[1], "--fd") == 0) {
                char *end;
                long fd = strtol(argv[2], &end, 10);
                if (*end || fd < 0 || fd > 1024) {
                        logmsg("usage: mlvm-agent --fd N");
                        return 2;
                }
                host_fd = (int)fd;
                (void)fcntl(host_fd, F_SETFL, fcntl(host_fd, F_GETFL) | O_NONBLOCK);
                const char *t = getenv("MLVM_AGENT_TIMEOUT");
                unsigned long v = t ? strtoul(t, &end, 10) : 0;
                if (t && *end == 0 && v >= 1 && v <= 3600)
                        timeout_s = (unsigned)v;
        } else if (getpid() == 1) {
                as_pid1 = true;
                mount_or_die("devtmpfs", "/dev", "devtmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755");
                setup_console();
                mount_or_die("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
                mount_or_die("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
                mount_or_die("tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=64m");
                /* Terminals for mlvm exec -t. */
                mount_or_die("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "mode=0620,ptmxmode=0666");
                mount_or_die("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777,size=64m");
                parse_cmdline();
                loopback_up();
                logmsg("version %s, host deadline %u s", AGENT_VERSION, timeout_s);
                load_modules();
                if (root_serial[0])
                        mount_root(now_ms() + (uint64_t)timeout_s * 1000);
                find_channel(now_ms() + (uint64_t)timeout_s * 1000);
        } else {
                logmsg("must run as PID 1 (or with --fd N for tests)");
                return 2;
        }
        signal(SIGPIPE, SIG_IGN);
        streams_init();
        for (;;) {
                handshake();
                serve();
                if (!as_pid1)
                        finish(0, 0, NULL);
                /* The host side closed: wait for it to come back (the next
                 * handshake has the usual deadline), else power off. */
                logmsg("the host closed the channel; waiting up to %u s for it to reconnect",
                       timeout_s < RECONNECT_WAIT_S ? RECONNECT_WAIT_S : timeout_s);
        }
}
