/* run-health.c: a run's health from its probes, the HTTP verdict, and
 * waiting until runs are healthy; see run-health.h. */
#include "mlvm-build.h"

#include <time.h>

#include "run-health.h"
#include "util.h"

const char *run_health_step(const char *cur, unsigned *failures, bool ok, bool in_start_period, unsigned retries)
{
        if (ok) {
                *failures = 0;
                return RUN_HEALTH_HEALTHY;
        }
        /* Docker's start period: a model still loading is not failing yet. */
        if (in_start_period && streq(cur, RUN_HEALTH_STARTING))
                return cur;
        if (*failures < UINT32_MAX)
                (*failures)++;
        return *failures >= retries ? RUN_HEALTH_UNHEALTHY : cur;
}

int run_health_http_verdict(const char *buf, size_t len, bool final)
{
        const char *eol = memchr(buf, '\n', len);
        if (!eol)
                return final || len >= RUN_HEALTH_READ_MAX ? 0 : -EAGAIN;
        /* "HTTP/1.x NNN ...": the version, one space, three digits. */
        size_t n = (size_t)(eol - buf);
        if (n < 12 || memcmp(buf, "HTTP/1.", 7) != 0 || buf[7] < '0' || buf[7] > '9' || buf[8] != ' ')
                return 0;
        for (int i = 9; i < 12; i++)
                if (buf[i] < '0' || buf[i] > '9')
                        return 0;
        if (n > 12 && buf[12] != ' ' && buf[12] != '\r')
                return 0;
        return buf[9] == '2' || buf[9] == '3';
}

/* 1: this run is done waiting for; 0: not yet; <0: it failed. */
static int one(const char *state_dir, const char *id, const char *name, struct mlvm_err *e)
{
        _cleanup_json_ json_object *run = NULL, *cfg = NULL;
        json_object *c;
        char sn[SHOWN_MAX];
        int r = run_load(state_dir, id, &run, e);
        if (r < 0)
                return err_prefix(e, "%s", name);
        const char *st = run_effective_state(state_dir, run, id);
        if (!run_state_is_live(st))
                return err_setx(e, -EIO, "%s: run %s ended (%s) before it was healthy", name, id, st);
        bool checked = json_object_object_get_ex(run, "config", &c) && json_object_object_get_ex(c, "healthcheck", NULL);
        if (!checked)
                return streq(st, RUN_READY);
        const char *h = run_health(run);
        if (h && streq(h, RUN_HEALTH_UNHEALTHY)) {
                const char *why = json_str(run, "health_error");
                if (why)
                        return err_setx(e, -EIO, "%s: run %s is unhealthy: %s", name, id, shown(why, sn));
                return err_setx(e, -EIO, "%s: run %s is unhealthy", name, id);
        }
        return h && streq(h, RUN_HEALTH_HEALTHY);
}

int run_health_wait(const char *state_dir, char (*ids)[RUN_ID_LEN + 1], const char *const *names, size_t n,
                    usec_t deadline, struct mlvm_err *e)
{
        _cleanup_free_ bool *done = xcalloc(n ? n : 1, sizeof(*done));
        for (;;) {
                size_t left = 0;
                for (size_t i = 0; i < n; i++) {
                        if (done[i])
                                continue;
                        int r = one(state_dir, ids[i], names[i], e);
                        if (r < 0)
                                return r;
                        done[i] = r > 0;
                        left += !done[i];
                }
                if (left == 0)
                        return 0;
                if (now_usec() >= deadline) {
                        for (size_t i = 0; i < n; i++)
                                if (!done[i])
                                        return err_setx(e, -ETIMEDOUT, "%s: run %s not healthy in time", names[i],
                                                        ids[i]);
                }
                struct timespec ts = { 0, 200000000 };
                nanosleep(&ts, NULL);
        }
}
