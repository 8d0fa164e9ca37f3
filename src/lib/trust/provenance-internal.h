/* provenance-internal.h: shared by provenance.c (writing) and
 * provenance-verify.c (checking). */
#pragma once

#include <stdbool.h>

#include "provenance.h"

#define PROVENANCE_JSON_FLAGS (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

/* A relative, normalized artifact path (the rules of artifacts.h). */
bool provenance_path_is_valid(const char *p);
/* S as a JSON string literal, so a guest-chosen name cannot put control
 * characters into a message; caller frees. */
char *provenance_quote(const char *s);
/* The unsigned statement of run RUN_ID from its record RUN and ARTIFACTS,
 * built by the host key KEYID. -EINVAL for a bad or repeated path or digest. */
int provenance_statement(const char *run_id, json_object *run, const struct artifact *arts, size_t n,
                         const char *keyid, json_object **ret, struct mlvm_err *e);
