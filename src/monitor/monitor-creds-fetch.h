/* monitor-creds-fetch.h: a credential's next lease, fetched for a rotation
 * without stalling the event loop. A child, `mlvm-monitor fetch STATE_DIR
 * RUNID SECRET` (monitor-main.c), asks the source and writes the lease
 * document to a pipe; the monitor reads it from libvirt's loop, capped in
 * size and time, and wipes it once the caller has parsed it. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "err.h"

struct monitor_fetch {
        pid_t pid;                      /* 0: none under way */
        int fd, watch, timer;
        char *buf;
        size_t len;
        /* Called once per fetch: with what the child wrote (BUF, LEN; wiped
         * after), or with WHY it failed. */
        void (*done)(const char *buf, size_t len, const char *why, void *opaque);
        void *opaque;
};

#define MONITOR_FETCH_INIT { .fd = -1, .watch = -1, .timer = -1 }

/* Start fetching SECRET's next lease; DONE follows, unless cancelled. */
int monitor_fetch_start(struct monitor_fetch *f, const char *secret,
                        void (*done)(const char *buf, size_t len, const char *why, void *opaque), void *opaque,
                        struct mlvm_err *e);
bool monitor_fetch_busy(const struct monitor_fetch *f);
/* Stop it (the child is killed), without calling DONE. */
void monitor_fetch_cancel(struct monitor_fetch *f);
