/* fuzz-health.c: libFuzzer target for a healthcheck's HTTP answer
 * (run-health.c, run_health_http_verdict): the guest's bytes, judged as
 * they arrive (every prefix) and at the end. The verdict never reads past
 * LEN, and a complete status line gets the same verdict either way. */
#include "mlvm-build.h"

#include <stddef.h>
#include <stdint.h>

#include "run-health.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        if (size > RUN_HEALTH_READ_MAX)
                size = RUN_HEALTH_READ_MAX;
        /* A copy of exactly SIZE bytes: a read past it is caught by ASan. */
        char *buf = xmalloc(size ? size : 1);
        memcpy(buf, data, size);
        for (size_t n = 0; n <= size; n++) {
                int partial = run_health_http_verdict(buf, n, false);
                int final = run_health_http_verdict(buf, n, true);
                if (final != 0 && final != 1)
                        __builtin_trap();
                if (partial != -EAGAIN && partial != final)
                        __builtin_trap();
                if (partial == -EAGAIN && (memchr(buf, '\n', n) || n >= RUN_HEALTH_READ_MAX))
                        __builtin_trap();
        }
        free(buf);
        return 0;
}
