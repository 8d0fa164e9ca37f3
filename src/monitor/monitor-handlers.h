/* monitor-handlers.h: the handler tables (monitor-core.h) the monitor's
 * modules define; monitor.c registers them, in the order their hooks run. */
#pragma once

#include "monitor-core.h"

/* monitor-publish.c: published ports as agent streams */
extern const struct monitor_handler monitor_publish_handler;
/* monitor-health.c: healthcheck probes as agent streams */
extern const struct monitor_handler monitor_health_handler;
/* monitor-creds.c: credentials delivered, rotated, revoked */
extern const struct monitor_handler monitor_creds_handler;
/* monitor-exec.c: mlvm exec, relayed between a control client and the agent */
extern const struct monitor_handler monitor_exec_handler;
/* monitor-artifacts.c: the agent's artifact reports, collection, provenance */
extern const struct monitor_handler monitor_artifacts_handler;
