/* agent-util.c: the agent's base helpers; see agent-util.h. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent-util.h"
#include "proto.h"

static bool as_pid1;

void util_set_pid1(void) { as_pid1 = true; }
bool util_is_pid1(void) { return as_pid1; }

void util_log(const char *fmt, ...)
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

static uint64_t clock_ms(clockid_t clock)
{
        struct timespec ts;
        clock_gettime(clock, &ts);
        return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

uint64_t util_now_ms(void) { return clock_ms(CLOCK_MONOTONIC); }
uint64_t util_uptime_ms(void) { return clock_ms(CLOCK_BOOTTIME); }

void util_sleep_ms(unsigned ms)
{
        struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

int util_mkdir_p(const char *path)
{
        char buf[PROTO_PATH_MAX * 2];
        if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
                return -ENAMETOOLONG;
        for (char *p = buf + 1; *p; p++) {
                if (*p != '/')
                        continue;
                *p = 0;
                if (mkdir(buf, 0755) < 0 && errno != EEXIST)
                        return -errno;
                *p = '/';
        }
        return mkdir(buf, 0755) < 0 && errno != EEXIST ? -errno : 0;
}

int util_find_disk(const char *serial, uint64_t deadline, char *ret_dev, size_t cap)
{
        do {
                DIR *d = opendir("/sys/block");
                struct dirent *de;
                while (d && (de = readdir(d))) {
                        char path[300], got[64];
                        if (strncmp(de->d_name, "vd", 2) != 0)
                                continue;
                        (void)snprintf(path, sizeof(path), "/sys/block/%s/serial", de->d_name);
                        int fd = open(path, O_RDONLY | O_CLOEXEC);
                        if (fd < 0)
                                continue;
                        ssize_t n = read(fd, got, sizeof(got) - 1);
                        close(fd);
                        if (n <= 0)
                                continue;
                        got[n] = 0;
                        got[strcspn(got, "\n")] = 0;
                        if (strcmp(got, serial) == 0) {
                                (void)snprintf(ret_dev, cap, "%.32s", de->d_name);
                                closedir(d);
                                return 0;
                        }
                }
                if (d)
                        closedir(d);
                util_sleep_ms(20);
        } while (util_now_ms() < deadline);
        return -ENOENT;
}
