/* json-util.c: see json-util.h. */
#include "mlvm-build.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "json-util.h"

json_object *json_parse_object(const void *buf, size_t len, int depth)
{
        return json_parse_object_flags(buf, len, depth, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
}

json_object *json_parse_object_flags(const void *buf, size_t len, int depth, int flags)
{
        if (len > INT32_MAX || memchr(buf, '\0', len))
                return NULL;
        json_tokener *tok = json_tokener_new_ex(depth);
        if (!tok)
                return NULL;
        json_tokener_set_flags(tok, flags);
        json_object *o = json_tokener_parse_ex(tok, buf, (int)len);
        bool ok = o && json_tokener_get_error(tok) == json_tokener_success &&
                  json_tokener_get_parse_end(tok) == len && json_object_is_type(o, json_type_object);
        json_tokener_free(tok);
        if (!ok) {
                json_object_put(o);
                return NULL;
        }
        return o;
}

const char *json_str(json_object *o, const char *key)
{
        json_object *v;
        return o && json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string)
                       ? json_object_get_string(v) : NULL;
}
