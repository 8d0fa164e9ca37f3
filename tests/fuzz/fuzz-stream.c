/* fuzz-stream.c: libFuzzer target for the frames of an exec stream as
 * `mlvm exec` reads them: the agent's STREAM_OPENED, DATA, WINDOW, CLOSE
 * and EXIT, relayed by the monitor (exec-client-internal.h). The input is
 * what arrives on the socket, fed in as many bytes as the buffer takes,
 * and the client spends its stdin credit as it goes. */
#include "mlvm-build.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "exec-client-internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static struct exec_stream s;
        int status = -1;

        s.in_len = 0;
        s.credit = 0;
        s.opened = false;
        while (size) {
                size_t n = sizeof(s.in) - s.in_len < size ? sizeof(s.in) - s.in_len : size;
                memcpy(s.in + s.in_len, data, n);
                s.in_len += n;
                data += n;
                size -= n;
                for (;;) {
                        int k = exec_stream_next(&s, &status, NULL);
                        if (s.credit > PROTO_STREAM_CREDIT || s.in_len > sizeof(s.in))
                                __builtin_trap();
                        if (k < 0 || k == EXEC_EXIT)
                                return 0;
                        if (k == EXEC_MORE)
                                break;
                        if (k == EXEC_OUTPUT && s.msg.u.stream.len > PROTO_DATA_MAX)
                                __builtin_trap();
                        /* stdin goes out: half of what the agent allows. */
                        s.credit -= s.credit / 2;
                }
                /* A whole frame always fits: no full buffer waits for more. */
                if (s.in_len == sizeof(s.in))
                        __builtin_trap();
        }
        return 0;
}
