/* mtime.h: one time type for durations and deadlines, as systemd's usec_t:
 * microseconds on CLOCK_MONOTONIC, which neither jumps with the wall clock
 * nor stops counting. Wall-clock times (records, audit lines) are
 * time(NULL) or run_now() and are never used to measure an interval. */
#pragma once

#include <stdint.h>
#include <time.h>

typedef uint64_t usec_t;

#define USEC_PER_SEC  1000000ULL
#define USEC_PER_MSEC 1000ULL
#define USEC_INFINITY UINT64_MAX

static inline usec_t now_usec(void)
{
        struct timespec ts;
        (void)clock_gettime(CLOCK_MONOTONIC, &ts);
        return (usec_t)ts.tv_sec * USEC_PER_SEC + (usec_t)ts.tv_nsec / 1000;
}

static inline double usec_to_sec(usec_t u) { return (double)u / (double)USEC_PER_SEC; }
static inline usec_t usec_from_ms(uint64_t ms) { return ms * USEC_PER_MSEC; }
static inline usec_t usec_from_sec(uint64_t s) { return s * USEC_PER_SEC; }
/* Milliseconds left until DEADLINE (0 once past), capped for poll(). */
static inline int usec_ms_left(usec_t deadline)
{
        usec_t now = now_usec();
        if (deadline == USEC_INFINITY)
                return -1;
        if (now >= deadline)
                return 0;
        uint64_t ms = (deadline - now + USEC_PER_MSEC - 1) / USEC_PER_MSEC;
        return ms > 0x7fffffff ? 0x7fffffff : (int)ms;
}
