/* units.c: strict size, duration, integer and name parsers; see units.h. */
#include "mlvm-build.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "units.h"

#define DURATION_MAX_S (366ULL * 24 * 3600)

/* Parse a run of decimal digits at *p; advances *p. */
static int parse_digits(const char **p, uint64_t *ret)
{
        const char *s = *p;
        uint64_t v = 0;

        if (*s < '0' || *s > '9')
                return -EINVAL;
        if (s[0] == '0' && s[1] >= '0' && s[1] <= '9')
                return -EINVAL; /* leading zeros read as octal elsewhere: refuse */
        for (; *s >= '0' && *s <= '9'; s++) {
                uint64_t d = (uint64_t)(*s - '0');
                if (v > (UINT64_MAX - d) / 10)
                        return -ERANGE;
                v = v * 10 + d;
        }
        *p = s;
        *ret = v;
        return 0;
}

int parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *ret)
{
        uint64_t v;
        int r = parse_digits(&s, &v);
        if (r < 0)
                return r;
        if (*s)
                return -EINVAL;
        if (v < min || v > max)
                return -ERANGE;
        *ret = v;
        return 0;
}

static int unit_shift(char c)
{
        switch (c) {
        case 'K': case 'k': return 10;
        case 'M': case 'm': return 20;
        case 'G': case 'g': return 30;
        case 'T': case 't': return 40;
        default: return -1;
        }
}

int parse_size(const char *s, uint64_t *ret_bytes)
{
        uint64_t v;
        int r = parse_digits(&s, &v);
        if (r < 0)
                return r;
        int shift = unit_shift(*s);
        if (shift < 0 || s[1] != '\0')
                return -EINVAL;
        if (v > (UINT64_MAX >> shift))
                return -ERANGE;
        *ret_bytes = v << shift;
        return 0;
}

void format_size(uint64_t bytes, char *buf, size_t len)
{
        static const struct { char c; int shift; } units[] = {
                { 'T', 40 }, { 'G', 30 }, { 'M', 20 }, { 'K', 10 },
        };

        for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
                uint64_t unit = 1ULL << units[i].shift;
                if (bytes && bytes % unit == 0) {
                        (void)snprintf(buf, len, "%llu%c",
                                       (unsigned long long)(bytes >> units[i].shift), units[i].c);
                        return;
                }
        }
        /* Sizes mlvm stores are KiB multiples; anything else renders as 0K. */
        (void)snprintf(buf, len, "0K");
}

static uint64_t duration_unit(char c)
{
        switch (c) {
        case 'd': return 86400;
        case 'h': return 3600;
        case 'm': return 60;
        case 's': return 1;
        default: return 0;
        }
}

int parse_duration(const char *s, uint64_t *ret_seconds)
{
        uint64_t total = 0, last_unit = UINT64_MAX;

        if (!*s)
                return -EINVAL;
        while (*s) {
                uint64_t v;
                int r = parse_digits(&s, &v);
                if (r < 0)
                        return r;
                uint64_t unit = duration_unit(*s);
                if (unit == 0 || unit >= last_unit)
                        return -EINVAL; /* missing/unknown unit, or out of order */
                s++;
                last_unit = unit;
                if (v > DURATION_MAX_S / unit)
                        return -ERANGE;
                total += v * unit;
                if (total > DURATION_MAX_S)
                        return -ERANGE;
        }
        *ret_seconds = total;
        return 0;
}

void format_duration(uint64_t seconds, char *buf, size_t len)
{
        static const struct { char c; uint64_t n; } units[] = {
                { 'd', 86400 }, { 'h', 3600 }, { 'm', 60 }, { 's', 1 },
        };
        size_t off = 0;

        if (seconds == 0) {
                (void)snprintf(buf, len, "0s");
                return;
        }
        buf[0] = '\0';
        for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
                uint64_t q = seconds / units[i].n;
                if (!q)
                        continue;
                seconds %= units[i].n;
                int n = snprintf(buf + off, len - off, "%llu%c", (unsigned long long)q, units[i].c);
                if (n < 0 || (size_t)n >= len - off)
                        return;
                off += (size_t)n;
        }
}

bool name_is_valid(const char *s)
{
        size_t n = strlen(s);

        if (n == 0 || n > 63)
                return false;
        for (size_t i = 0; i < n; i++) {
                char c = s[i];
                bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (c == '-' && i > 0);
                if (!ok)
                        return false;
        }
        return true;
}

bool env_name_is_valid(const char *s)
{
        size_t n = strlen(s);

        if (n == 0 || n > 128)
                return false;
        for (size_t i = 0; i < n; i++) {
                char c = s[i];
                bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' ||
                          (c >= '0' && c <= '9' && i > 0);
                if (!ok)
                        return false;
        }
        return true;
}
