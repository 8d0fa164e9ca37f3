/* monitor-main.c: mlvm-monitor STATE_DIR RUNID [CREDS_FD] — started
 * detached by `mlvm up`, one per run; see monitor.c. The monitor also
 * runs itself as `mlvm-monitor fetch STATE_DIR RUNID SECRET` to fetch a
 * credential's next lease: the document goes to stdout (a pipe to the
 * monitor), never to a file. */
#include "mlvm-build.h"

#include <linux/close_range.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "creds.h"
#include "gate.h"
#include "monitor.h"
#include "run.h"
#include "untar.h"
#include "util.h"

int main(int argc, char **argv)
{
        if (argc == 5 && streq(argv[1], "fetch") && argv[2][0] == '/' && run_id_is_valid(argv[3])) {
                (void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
                return creds_fetch_for_run(argv[2], argv[3], argv[4], 1) < 0 ? 1 : 0;
        }
        /* The frame gate (gate.h), started by the monitor alone: fd 3 is
         * its socket. _exit: no destructor runs under its seccomp filter. */
        if (argc == 3 && streq(argv[1], "gate") && run_id_is_valid(argv[2]))
                _exit(gate_main(3));
        /* The artifact parser (untar.h), started by the monitor alone: the
         * stream on 0, its records on 1. */
        if (argc == 6 && streq(argv[1], "untar") && run_id_is_valid(argv[2]))
                _exit(untar_main(argc - 1, argv + 1));
        if ((argc != 3 && argc != 4) || argv[1][0] != '/' || !run_id_is_valid(argv[2])) {
                fprintf(stderr, "usage: mlvm-monitor STATE_DIR RUNID [CREDS_FD] (started by mlvm up)\n");
                return 2;
        }
        int fd = -1;
        if (argc == 4) {
                char *end;
                long v = strtol(argv[3], &end, 10);
                if (*end || v < 3 || v > 1024) {
                        fprintf(stderr, "mlvm-monitor: bad CREDS_FD %s\n", argv[3]);
                        return 2;
                }
                fd = (int)v;
        }
        /* Whatever `mlvm up`'s caller had open (a shell's, a test's) is not
         * the monitor's to hold for the run's life: only stdio and the
         * credentials pipe stay. */
        if (fd < 0)
                (void)close_range(3, ~0U, 0);
        else {
                if (fd > 3)
                        (void)close_range(3, (unsigned)fd - 1, 0);
                (void)close_range((unsigned)fd + 1, ~0U, 0);
        }
        return monitor_run(argv[1], argv[2], fd);
}
