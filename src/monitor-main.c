/* monitor-main.c: mlvm-monitor STATE_DIR RUNID — started detached by
 * `mlvm up`, one per run; see monitor.c. */
#include "mlvm-build.h"

#include "monitor.h"
#include "run.h"
#include "util.h"

int main(int argc, char **argv)
{
        if (argc != 3 || argv[1][0] != '/' || !run_id_is_valid(argv[2])) {
                fprintf(stderr, "usage: mlvm-monitor STATE_DIR RUNID (started by mlvm up)\n");
                return 2;
        }
        return monitor_run(argv[1], argv[2]);
}
