/* agent-util.h: the agent's base helpers, below every other file of it:
 * logging to the console, the monotonic clock in milliseconds (the one
 * clock for the agent's deadlines and durations), sleeping, mkdir -p,
 * finding a virtio disk by serial, and the agent's mode (the guest's
 * PID 1, or an ordinary process in test mode).
 *
 * Named agent-util, not util: scripts/check-layers finds headers by name,
 * and the host has src/base/util.h. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The package version, set by the build (-DAGENT_VERSION). */
#ifndef AGENT_VERSION
#define AGENT_VERSION "0.0.0"
#endif

/* One line "mlvm-agent: MESSAGE" on stderr (the console, as PID 1). */
void util_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Milliseconds on CLOCK_MONOTONIC: every deadline and duration of the agent. */
uint64_t util_now_ms(void);
/* Milliseconds since boot, suspend included (CLOCK_BOOTTIME): only what
 * HELLO reports as the guest's uptime, never a deadline. */
uint64_t util_uptime_ms(void);
void util_sleep_ms(unsigned ms);

/* mkdir -p PATH (mode 0755). 0 or -errno. */
int util_mkdir_p(const char *path);

/* The virtio disk with SERIAL, as "vdX" in RET_DEV (CAP bytes); waits
 * until DEADLINE (util_now_ms) for it to appear. 0 or -ENOENT. */
int util_find_disk(const char *serial, uint64_t deadline, char *ret_dev, size_t cap);

/* The agent's mode, set once by main() before anything else: the guest's
 * PID 1 (mounts, power-off), or test mode (`--fd N`: no mounts, exits). */
void util_set_pid1(void);
bool util_is_pid1(void);
