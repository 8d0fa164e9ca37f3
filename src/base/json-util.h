/* json-util.h: small json-c helpers shared by every reader of JSON that
 * mlvm or a guest wrote (audit lines, DSSE envelopes, JWTs, records). */
#pragma once

#include <stddef.h>

#include <json-c/json.h>

/* Exactly one JSON object spanning all LEN bytes of BUF, parsed strictly
 * (json-c's strict mode, valid UTF-8, no NUL, nesting at most DEPTH), or
 * NULL. */
json_object *json_parse_object(const void *buf, size_t len, int depth);
/* The same with json-c's tokener FLAGS instead (JSON_TOKENER_STRICT
 * without VALIDATE_UTF8 takes strings of arbitrary bytes). */
json_object *json_parse_object_flags(const void *buf, size_t len, int depth, int flags);

/* O's member KEY when it is a string, else NULL. */
const char *json_str(json_object *o, const char *key);
