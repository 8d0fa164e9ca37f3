/* boot.c: the guest's first second, PID 1's side: /dev, /proc, /sys,
 * tmpfs and devpts, the console, the kernel command line, the loopback,
 * kernel modules, the root disk, and the channel to the host (the
 * virtio-serial port, or vsock). Every wait has the agent's deadline and
 * every failure ends in transport_fatal(): an ERROR to the host when it can,
 * then power-off. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "agent-util.h"
#include "boot.h"
#include "proto.h"
#include "transport.h"

#define MODULE_LIST    "/etc/mlvm/modules"
#define MODULE_DIR     "/lib/modules/mlvm"
#define MODULE_LIST_MAX 65536
#define CMDLINE_MAX    4096
#define VSOCK_HOST_PORT 7011
#define DEFAULT_TIMEOUT_S 60

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

static void mount_or_die(const char *src, const char *dst, const char *type, unsigned long flags, const char *data)
{
        (void)mkdir(dst, 0755);
        if (mount(src, dst, type, flags, data) < 0 && errno != EBUSY)
                transport_fatal(PROTO_E_BOOT, "mount %s on %s: %s", type, dst, strerror(errno));
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

static void parse_cmdline(struct boot_config *c)
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
                        if (strlen(tok + 10) == 0 || strlen(tok + 10) >= sizeof(c->root_serial))
                                transport_fatal(PROTO_E_BOOT, "bad %s (a virtio disk serial of 1..20 bytes)", tok);
                        proto_strlcpy(c->root_serial, tok + 10, sizeof(c->root_serial));
                } else if (strncmp(tok, "mlvm.timeout=", 13) == 0) {
                        char *end;
                        unsigned long v = strtoul(tok + 13, &end, 10);
                        if (*end == 0 && v >= 1 && v <= 3600)
                                c->timeout_s = (unsigned)v;
                        else
                                util_log("ignoring bad %s (1..3600 seconds)", tok);
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
                        util_log("loopback: %s", strerror(errno));
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
                transport_fatal(PROTO_E_BOOT, "read %s: %s", MODULE_LIST, strerror(errno));
        list[n] = 0;
        for (char *save = NULL, *name = strtok_r(list, "\n", &save); name; name = strtok_r(NULL, "\n", &save)) {
                char path[256];
                if (strchr(name, '/') || snprintf(path, sizeof(path), "%s/%s.ko", MODULE_DIR, name) >= (int)sizeof(path))
                        transport_fatal(PROTO_E_BOOT, "bad module name in %s", MODULE_LIST);
                int mfd = open(path, O_RDONLY | O_CLOEXEC);
                if (mfd < 0)
                        transport_fatal(PROTO_E_BOOT, "open %s: %s", path, strerror(errno));
                if (syscall(SYS_finit_module, mfd, "", 0) < 0 && errno != EEXIST)
                        util_log("load %s: %s", name, strerror(errno));
                close(mfd);
        }
}

/* The virtio disk whose serial is mlvm.root=, mounted ext4 on /sysroot.
 * It is the run's copy-on-write overlay of the image's root filesystem, so
 * it is mounted read-write; the verified base below it is never written. */
static void mount_root(struct boot_config *c, uint64_t deadline)
{
        char dev[40], path[64];

        if (util_find_disk(c->root_serial, deadline, dev, sizeof(dev)) < 0)
                transport_fatal(PROTO_E_BOOT, "no virtio disk with serial %s (the root filesystem) after %u s", c->root_serial,
                      c->timeout_s);
        (void)snprintf(path, sizeof(path), "/dev/%s", dev);
        (void)mkdir("/sysroot", 0755);
        if (mount(path, "/sysroot", "ext4", MS_NOATIME, NULL) < 0)
                transport_fatal(PROTO_E_BOOT, "mount %s (serial %s) as ext4 on /sysroot: %s", path, c->root_serial, strerror(errno));
        (void)snprintf(c->root_desc, sizeof(c->root_desc), "%.32s:ext4", dev);
        c->root = "/sysroot";
        util_log("root filesystem %s mounted on /sysroot", path);
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
        int ev = transport_wait_fd(fd, POLLOUT, deadline);
        int err = 0;
        socklen_t len = sizeof(err);
        if (ev <= 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err) {
                close(fd);
                return -1;
        }
        return fd;
}

static void find_channel(struct boot_config *c, uint64_t deadline)
{
        bool have_vsock = access("/dev/vsock", F_OK) == 0;

        while (util_now_ms() < deadline) {
                if ((c->fd = open_virtio_port()) >= 0)
                        return;
                if (have_vsock && (c->fd = open_vsock(util_now_ms() + 500)) >= 0) {
                        c->transport = "vsock";
                        return;
                }
                util_sleep_ms(20);
        }
        transport_fatal(PROTO_E_BOOT, "no channel to the host (virtio-serial port %s%s) after %u s", PROTO_CHANNEL_NAME,
              have_vsock ? " or vsock" : "", c->timeout_s);
}

void boot_read_boot_id(char *buf, size_t cap)
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


static struct boot_config defaults(void)
{
        return (struct boot_config){ .fd = -1, .transport = "virtio-serial", .timeout_s = DEFAULT_TIMEOUT_S,
                                     .root_desc = "initramfs", .root = "" };
}

struct boot_config boot_guest(void)
{
        struct boot_config c = defaults();

        mount_or_die("devtmpfs", "/dev", "devtmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755");
        setup_console();
        mount_or_die("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
        mount_or_die("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
        mount_or_die("tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=64m");
        /* Terminals for mlvm exec -t. */
        mount_or_die("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "mode=0620,ptmxmode=0666");
        mount_or_die("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777,size=64m");
        parse_cmdline(&c);
        loopback_up();
        util_log("version %s, host deadline %u s", AGENT_VERSION, c.timeout_s);
        load_modules();
        if (c.root_serial[0])
                mount_root(&c, util_now_ms() + (uint64_t)c.timeout_s * 1000);
        find_channel(&c, util_now_ms() + (uint64_t)c.timeout_s * 1000);
        return c;
}

struct boot_config boot_test_mode(int fd)
{
        struct boot_config c = defaults();
        char *end;

        c.fd = fd;
        (void)fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
        const char *t = getenv("MLVM_AGENT_TIMEOUT");
        unsigned long v = t ? strtoul(t, &end, 10) : 0;
        if (t && *end == 0 && v >= 1 && v <= 3600)
                c.timeout_s = (unsigned)v;
        return c;
}
