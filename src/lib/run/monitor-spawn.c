/* monitor-spawn.c: how `mlvm up` starts a run's monitor; see monitor.h. */
#include "mlvm-build.h"

#include <fcntl.h>
#include <sys/wait.h>

#include "monitor-spawn.h"
#include "run.h"
#include "util.h"

char *monitor_find_binary(void)
{
        return find_helper_binary("MLVM_MONITOR", "mlvm-monitor", PKGLIBEXECDIR "/mlvm-monitor");
}

/* Start the monitor detached (its own session, reparented to init) and
 * return its pid, which the grandchild reports through a pipe. With
 * credentials, *RET_CREDS_FD is the write end of a pipe that the monitor
 * reads the first leases from (fd 3 there). */
int monitor_spawn(const char *state_dir, const char *id, bool creds, pid_t *ret_pid, int *ret_creds_fd,
                  struct mlvm_err *e)
{
        _cleanup_free_ char *bin = monitor_find_binary();
        _cleanup_free_ char *log = run_file(state_dir, id, "monitor.log");
        int p[2], cp[2] = { -1, -1 };

        if (access(bin, X_OK) < 0)
                return err_set(e, -errno, "monitor %s", bin);
        if (pipe2(p, O_CLOEXEC) < 0)
                return err_set(e, -errno, "pipe");
        if (creds && pipe2(cp, O_CLOEXEC) < 0) {
                close(p[0]);
                close(p[1]);
                return err_set(e, -errno, "pipe");
        }
        pid_t child = fork();
        if (child < 0) {
                int r = err_set(e, -errno, "fork");
                close(p[0]);
                close(p[1]);
                if (creds) {
                        close(cp[0]);
                        close(cp[1]);
                }
                return r;
        }
        if (child == 0) {
                (void)setsid();
                pid_t gc = fork();
                if (gc != 0) {
                        (void)!write(p[1], &gc, sizeof(gc));
                        _exit(gc < 0);
                }
                /* The hand-over moves out of the way first, then becomes fd 3. */
                int hand = creds ? fcntl(cp[0], F_DUPFD_CLOEXEC, 100) : -1;
                int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
                int out = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
                if (null < 0 || out < 0 || dup2(null, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0 ||
                    (creds && (hand < 0 || dup2(hand, 3) < 0)))
                        _exit(127);
                execl(bin, "mlvm-monitor", state_dir, id, creds ? "3" : (char *)NULL, (char *)NULL);
                _exit(127);
        }
        if (creds)
                close(cp[0]);
        close(p[1]);
        pid_t gc = -1;
        ssize_t n = read(p[0], &gc, sizeof(gc));
        /* EOF once the grandchild exec'd (the pipe is O_CLOEXEC) or died: from
         * then on /proc/PID/cmdline names mlvm-monitor and the run. */
        char x;
        while (read(p[0], &x, 1) < 0 && errno == EINTR)
                ;
        close(p[0]);
        int status;
        (void)waitpid(child, &status, 0);
        if (n != sizeof(gc) || gc <= 0) {
                if (creds)
                        close(cp[1]);
                return err_setx(e, -EIO, "could not start the monitor");
        }
        *ret_pid = gc;
        if (creds)
                *ret_creds_fd = cp[1];
        return 0;
}
