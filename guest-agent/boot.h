/* boot.h: the guest's first second, PID 1's side (boot.c): pseudo file
 * systems, the console, the kernel command line, the loopback, kernel
 * modules, the root disk and the channel to the host, found and returned
 * as a struct boot_config; or the same struct for test mode (--fd N).
 * Every failure at boot ends in transport_fatal(). */
#pragma once

#include <stddef.h>

#include "proto.h"

/* What boot found, for the rest of the agent. */
struct boot_config {
        int fd;                          /* the channel to the host */
        const char *transport;           /* "virtio-serial" or "vsock", for HELLO */
        unsigned timeout_s;              /* mlvm.timeout= (1..3600 s, default 60) */
        char root_serial[21];            /* mlvm.root=SERIAL: virtio-blk serials are at most 20 bytes */
        char root_desc[PROTO_STR_SHORT]; /* "initramfs" or "vdX:ext4", for HELLO */
        const char *root;                /* the workload's root: "" (the initramfs) or "/sysroot" */
};

/* As PID 1: boot the guest's userspace and find the channel, within
 * mlvm.timeout; powers off on failure. */
struct boot_config boot_guest(void);
/* Test mode: the channel is FD (made non-blocking), nothing is mounted;
 * $MLVM_AGENT_TIMEOUT (1..3600 s) replaces the default deadline. */
struct boot_config boot_test_mode(int fd);

/* /proc/sys/kernel/random/boot_id into BUF (CAP bytes), "" when unknown. */
void boot_read_boot_id(char *buf, size_t cap);
