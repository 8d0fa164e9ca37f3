/* run-logs.h: what `mlvm logs --tail N --since T --timestamps` needs from
 * a run's console.log and output.log.
 *
 * The logs hold bytes as the guest sent them, with no time per line.
 * Since this change, run_log_append (run.h) writes beside each log
 * PATH.times, one "OFFSET TIME" line per chunk appended (TIME in Unix
 * seconds). A line's time is that of the chunk holding its first byte:
 * when the monitor received it, not when the guest wrote it. Logs written
 * before PATH.times existed, and chunks past its cap, have no time:
 * --timestamps shows "-" for them and --since leaves them out. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct log_times {
        uint64_t *off;   /* increasing */
        double *t;
        size_t n;
};

/* Parse PATH.times' text (TEXT, LEN): strict lines "OFFSET TIME", offsets
 * increasing; parsing stops at the first line that is not (a torn last
 * line), keeping what came before. */
void log_times_parse(const char *text, size_t len, struct log_times *ret);
/* Load LOG's LOG.times; -ENOENT when there is none. */
int log_times_load(const char *log, struct log_times *ret);
/* The time of the byte at OFF: the last chunk starting at or before it. */
bool log_times_at(const struct log_times *lt, uint64_t off, double *ret);
void log_times_clear(struct log_times *lt);

/* --since: a duration before NOW ("10m", "2h", parse_duration), or a UTC
 * time "YYYY-MM-DDTHH:MM:SSZ". -EINVAL otherwise. */
int logs_parse_since(const char *s, double now, double *ret);
