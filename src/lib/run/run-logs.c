/* run-logs.c: the write times of a run's logs, and --since; see run-logs.h. */
#include "mlvm-build.h"

#include <time.h>

#include "run-logs.h"
#include "run.h"
#include "units.h"
#include "util.h"

void log_times_parse(const char *text, size_t len, struct log_times *ret)
{
        struct log_times lt = { 0 };
        size_t i = 0;
        while (i < len) {
                const char *nl = memchr(text + i, '\n', len - i);
                if (!nl)
                        break;   /* a torn last line */
                _cleanup_free_ char *line = xstrndup(text + i, (size_t)(nl - (text + i)));
                i = (size_t)(nl - text) + 1;
                char *sp = strchr(line, ' '), *end;
                uint64_t off;
                if (!sp)
                        break;
                *sp = '\0';
                errno = 0;
                double t = strtod(sp + 1, &end);
                if (parse_uint(line, 0, UINT64_MAX, &off) < 0 || errno || end == sp + 1 || *end || !(t > 0) ||
                    (lt.n && off < lt.off[lt.n - 1]))
                        break;
                lt.off = xreallocarray(lt.off, lt.n + 1, sizeof(*lt.off));
                lt.t = xreallocarray(lt.t, lt.n + 1, sizeof(*lt.t));
                lt.off[lt.n] = off;
                lt.t[lt.n++] = t;
        }
        *ret = lt;
}

int log_times_load(const char *log, struct log_times *ret)
{
        _cleanup_free_ char *path = xasprintf("%s.times", log), *buf = NULL;
        size_t len;
        int r = read_file_capped(path, RUN_LOG_TIMES_MAX + 64, &buf, &len);
        if (r < 0)
                return r;
        log_times_parse(buf, len, ret);
        return 0;
}

bool log_times_at(const struct log_times *lt, uint64_t off, double *ret)
{
        size_t lo = 0, hi = lt->n;
        /* The last entry with off <= OFF. */
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (lt->off[mid] <= off)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        if (lo == 0)
                return false;
        *ret = lt->t[lo - 1];
        return true;
}

void log_times_clear(struct log_times *lt)
{
        free(lt->off);
        free(lt->t);
        *lt = (struct log_times){ 0 };
}

int logs_parse_since(const char *s, double now, double *ret)
{
        uint64_t secs;
        struct tm tm = { 0 };
        if (parse_duration(s, &secs) == 0) {
                *ret = now - (double)secs;
                return 0;
        }
        const char *end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);
        if (!end || *end || strlen(s) != 20)
                return -EINVAL;
        time_t t = timegm(&tm);
        if (t == (time_t)-1)
                return -EINVAL;
        *ret = (double)t;
        return 0;
}
