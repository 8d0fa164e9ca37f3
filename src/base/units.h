/* units.h: strict parsers for sizes, durations and names found in mlvm.yaml
 * and on the command line. Input is untrusted: every parser checks range
 * and rejects anything it does not fully consume. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* "256M", "1G": decimal digits and one binary unit K, M, G or T (either case).
 * -EINVAL on bad syntax, -ERANGE on overflow. */
int parse_size(const char *s, uint64_t *ret_bytes);
/* Shortest exact rendering that parse_size() reads back: "256M", "1536K". */
void format_size(uint64_t bytes, char *buf, size_t len);

/* "30s", "10m", "1h30m", "2d": components with units d, h, m, s, in that order,
 * each at most once. -EINVAL on bad syntax, -ERANGE past 366 days. */
int parse_duration(const char *s, uint64_t *ret_seconds);
/* Canonical rendering that parse_duration() reads back: "1h30m", "45s". */
void format_duration(uint64_t seconds, char *buf, size_t len);

/* Decimal integer with no sign, no leading zeros, no spaces, within [min, max]. */
int parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *ret);

/* [a-z0-9][a-z0-9-]{0,62}: model, experiment and disk names. */
bool name_is_valid(const char *s);
/* [A-Za-z_][A-Za-z0-9_]{0,127}: environment variable and secret names. */
bool env_name_is_valid(const char *s);
