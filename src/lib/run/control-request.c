/* control-request.c: the monitor's reading of control requests; see
 * control-request.h. The client is local but not trusted: every member is
 * checked for its type and range before the monitor acts on it. */
#include "mlvm-build.h"

#include "control.h"
#include "control-request.h"
#include "json-util.h"
#include "util.h"

/* A string member without a NUL inside: json-c allows "\u0000", and C
 * would read a shorter string than the JSON says. */
static bool plain_string(json_object *v)
{
        return json_object_is_type(v, json_type_string) &&
               strlen(json_object_get_string(v)) == (size_t)json_object_get_string_len(v);
}

int control_parse_request(const char *line, size_t len, json_object **ret_req, const char **ret_cmd,
                          struct mlvm_err *e)
{
        json_object *req = NULL, *cmd;

        if (len > CONTROL_REQUEST_MAX)
                return err_setx(e, -EMSGSIZE, "a request over %d bytes", CONTROL_REQUEST_MAX);
        if (control_parse_line(line, len, &req, NULL) < 0 || !json_object_object_get_ex(req, "cmd", &cmd) ||
            !plain_string(cmd)) {
                json_object_put(req);
                return err_setx(e, -EPROTO, "expected {\"cmd\": ...}");
        }
        *ret_req = req;
        *ret_cmd = json_object_get_string(cmd);
        return 0;
}

/* Member KEY of REQ as 0..CONTROL_TTY_SIZE_MAX, 0 when absent. */
static int tty_size(json_object *req, const char *key, uint32_t *ret, struct mlvm_err *e)
{
        json_object *v;
        if (!json_object_object_get_ex(req, key, &v)) {
                *ret = 0;
                return 0;
        }
        int64_t n = json_object_is_type(v, json_type_int) ? json_object_get_int64(v) : -1;
        if (n < 0 || n > CONTROL_TTY_SIZE_MAX)
                return err_setx(e, -EINVAL, "exec: %s must be an integer 0..%d", key, CONTROL_TTY_SIZE_MAX);
        *ret = (uint32_t)n;
        return 0;
}

int control_parse_exec(json_object *req, struct proto_conn *ret, struct mlvm_err *e)
{
        _cleanup_free_ struct proto_strv *argv = xcalloc(1, sizeof(*argv));
        json_object *a, *v;
        uint32_t rows, cols;
        bool tty = false;

        if (!json_object_object_get_ex(req, "argv", &a) || !json_object_is_type(a, json_type_array) ||
            json_object_array_length(a) == 0)
                return err_setx(e, -EINVAL, "exec needs a command");
        for (size_t i = 0; i < json_object_array_length(a); i++) {
                v = json_object_array_get_idx(a, i);
                if (!plain_string(v))
                        return err_setx(e, -EINVAL, "exec: argv[%zu] is not a string", i);
                if (proto_strv_add(argv, json_object_get_string(v)) < 0)
                        return err_setx(e, -E2BIG, "the command is too long for one frame");
        }
        if (json_object_object_get_ex(req, "tty", &v)) {
                if (!json_object_is_type(v, json_type_boolean))
                        return err_setx(e, -EINVAL, "exec: tty must be true or false");
                tty = json_object_get_boolean(v);
        }
        int r = tty_size(req, "rows", &rows, e);
        if (r < 0 || (r = tty_size(req, "cols", &cols, e)) < 0)
                return r;
        memcpy(&ret->argv, argv, sizeof(*argv));
        ret->tty = tty;
        ret->rows = rows;
        ret->cols = cols;
        return 0;
}
