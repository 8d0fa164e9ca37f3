/* fuzz-control.c: libFuzzer target for the control socket's JSON lines
 * (control.h): what a local client sends a monitor (control_parse_request,
 * then exec's arguments, control-request.h) and what a client reads back
 * (control_parse_line). The input is cut into lines at '\n', as both
 * readers cut what they receive. */
#include "mlvm-build.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "control.h"
#include "control-request.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void request(const char *line, size_t len)
{
        static struct proto_conn exec;
        json_object *req = NULL;
        const char *cmd;

        if (control_parse_request(line, len, &req, &cmd, NULL) < 0)
                return;
        memset(&exec, 0, sizeof(exec));
        if (control_parse_exec(req, &exec, NULL) == 0) {
                /* What is accepted fits one STREAM_EXEC frame and a winsize. */
                static struct proto_msg m;
                static uint8_t frame[PROTO_HDR_SIZE + 4 * PROTO_STRV_MAX];
                memset(&m, 0, sizeof(m));
                m.type = PROTO_STREAM_EXEC;
                m.u.stream = exec;
                m.u.stream.id = 1;
                if (exec.argv.count == 0 || exec.rows > CONTROL_TTY_SIZE_MAX || exec.cols > CONTROL_TTY_SIZE_MAX ||
                    proto_encode(&m, frame, sizeof(frame)) < 0)
                        __builtin_trap();
        }
        json_object_put(req);
}

static void reply(const char *line, size_t len)
{
        json_object *o = NULL, *again = NULL;

        if (control_parse_line(line, len, &o, NULL) < 0)
                return;
        /* The monitor answers with json-c's own text of what it built: a
         * client must read that back, whatever it holds. */
        const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
        if (control_parse_line(s, strlen(s), &again, NULL) < 0)
                __builtin_trap();
        json_object_put(again);
        json_object_put(o);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        const char *p = (const char *)data, *end = p + size;

        while (p < end) {
                const char *nl = memchr(p, '\n', (size_t)(end - p));
                size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
                request(p, len);
                reply(p, len);
                p += len + 1;
        }
        return 0;
}
