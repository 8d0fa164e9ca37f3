/* run-health.h: healthcheck: in mlvm.yaml, what is not the probe itself
 * (the monitor probes, monitor-health.c): how a probe's result moves a
 * run's health, how an HTTP answer is judged, and `mlvm up
 * --wait-healthy` waiting on the records. The health lives in run.json
 * ("health", run_health() in run.h), written by the run's monitor when it
 * changes. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "err.h"
#include "mtime.h"
#include "run.h"

/* The probe's answer: at most this much of it is read (the guest is
 * hostile), enough for a status line. */
#define RUN_HEALTH_READ_MAX 512

/* The health after a probe: OK makes it healthy (failures 0); a failure
 * counts into *FAILURES, except while the run is starting and within its
 * start_period (IN_START_PERIOD), and RETRIES of them in a row make it
 * unhealthy. CUR is the health before (RUN_HEALTH_*). */
const char *run_health_step(const char *cur, unsigned *failures, bool ok, bool in_start_period, unsigned retries);

/* An HTTP answer's first LEN bytes: 1 when its status line is complete
 * and says 2xx or 3xx, 0 when it is complete and says anything else or is
 * no status line, -EAGAIN when more bytes may complete it (EOF: pass
 * FINAL, and an incomplete line is a 0). */
int run_health_http_verdict(const char *buf, size_t len, bool final);

/* `mlvm up --wait-healthy`: wait until every run of IDS (N of them, with
 * their NAMES) is healthy, or ready when it has no healthcheck. -EIO
 * naming the model when one turns unhealthy or ends first, -ETIMEDOUT
 * when DEADLINE (CLOCK_MONOTONIC) passes. */
int run_health_wait(const char *state_dir, char (*ids)[RUN_ID_LEN + 1], const char *const *names, size_t n,
                    usec_t deadline, struct mlvm_err *e);
