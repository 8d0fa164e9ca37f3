/* monitor-health.c: healthcheck: in mlvm.yaml, probed by the monitor.
 * The guest has no network card, so a probe is an agent stream to the
 * guest port, like a published port's (monitor-publish.c): tcp is the
 * connection accepted (STREAM_OPENED); http sends "GET PATH HTTP/1.0"
 * and judges the status line (run-health.h). One probe at a time, every
 * interval once the run is ready, each bounded by the timeout; the
 * results move the run's health (run_health_step), which goes into
 * run.json when it changes, for ps and up --wait-healthy.
 *
 * The guest is hostile: the agent may send at most RUN_HEALTH_READ_MAX
 * bytes on a probe's stream (the window we grant), nothing of it is
 * kept past the verdict, and a stream that breaks the rules fails the
 * probe, never the run. */
#include "mlvm-build.h"

#include "monitor-handlers.h"
#include "run-health.h"
#include "run.h"
#include "units.h"
#include "util.h"

#define TICK_MS 1000    /* durations in mlvm.yaml are whole seconds */

static struct {
        bool on;
        bool http;
        uint16_t port;
        char *request;
        usec_t interval, timeout, start_period;
        unsigned retries;
} cfg;

static int timer = -1;
static usec_t ready_at, next_at;
static const char *health = RUN_HEALTH_STARTING;
static unsigned failures;

/* The probe in flight (id 0: none). */
static struct {
        uint32_t id;
        usec_t started;
        bool opened;
        char buf[RUN_HEALTH_READ_MAX];
        size_t len;
} probe;

struct change {
        const char *health;
        unsigned failures;
        const char *why;
};

static void set_health(json_object *run, void *u)
{
        const struct change *c = u;
        json_object_object_add(run, "health", json_object_new_string(c->health));
        json_object_object_add(run, "health_at", json_object_new_double(run_now()));
        json_object_object_add(run, "health_failures", json_object_new_int((int32_t)c->failures));
        if (c->why)
                json_object_object_add(run, "health_error", json_object_new_string(c->why));
        else
                json_object_object_del(run, "health_error");
}

static void save(const char *why)
{
        struct mlvm_err e = { 0 };
        struct change c = { health, failures, why };
        if (run_update(monitor_state_dir(), monitor_run_id(), set_health, &c, &e) < 0)
                monitor_log("health: run record: %s", e.msg);
}

static void send_stream(uint8_t type, uint32_t window, uint32_t how)
{
        struct mlvm_err e = { 0 };
        struct proto_msg m = { .type = type, .id = 0 };
        m.u.stream.id = probe.id;
        m.u.stream.port = cfg.port;
        m.u.stream.window = window;
        m.u.stream.how = how;
        if (monitor_send(&m, &e) < 0 && e.msg[0])
                monitor_log("health: %s", e.msg);
}

/* The probe's end: OK or WHY. */
static void finish(bool ok, const char *why)
{
        const char *before = health;
        bool in_start = now_usec() - ready_at < cfg.start_period;

        if (probe.id)
                send_stream(PROTO_STREAM_CLOSE, 0, PROTO_CLOSE_RESET);
        memset(&probe, 0, sizeof(probe));
        health = run_health_step(health, &failures, ok, in_start, cfg.retries);
        if (!streq(health, before)) {
                monitor_log("health: %s%s%s", health, why ? ": " : "", why ? why : "");
                save(ok ? NULL : why);
        }
}

static void start_probe(void)
{
        probe.id = monitor_stream_id(&monitor_health_handler);
        probe.started = now_usec();
        /* The agent may send us this much and no more: the answer's cap. */
        send_stream(PROTO_STREAM_OPEN, RUN_HEALTH_READ_MAX, 0);
}

static void on_tick(int t, void *opaque)
{
        usec_t now = now_usec();
        if (!cfg.on || monitor_ending())
                return;
        if (probe.id) {
                if (now - probe.started >= cfg.timeout)
                        finish(false, "no answer within the timeout");
                return;
        }
        if (!monitor_serving())
                return;
        if (!ready_at)
                ready_at = next_at = now;
        if (now >= next_at) {
                next_at = now + cfg.interval;
                start_probe();
        }
}

static void judge(bool final)
{
        int v = run_health_http_verdict(probe.buf, probe.len, final);
        if (v == -EAGAIN)
                return;
        char line[80];
        size_t n = 0;
        for (; n < probe.len && n < sizeof(line) - 1 && probe.buf[n] != '\r' && probe.buf[n] != '\n'; n++)
                line[n] = probe.buf[n];
        line[n] = '\0';
        _cleanup_free_ char *shown_line = monitor_ascii(line);
        _cleanup_free_ char *why = v ? NULL : xasprintf("HTTP answer \"%s\"", shown_line);
        finish(v == 1, why);
}

static void health_on_stream(const struct proto_msg *m)
{
        const struct proto_conn *s = &m->u.stream;
        if (m->type == PROTO_EXIT || !probe.id || s->id != probe.id)
                return;   /* a stream we closed already */
        switch (m->type) {
        case PROTO_STREAM_OPENED:
                if (probe.opened)
                        return finish(false, "the agent broke the stream rules");
                probe.opened = true;
                if (!cfg.http)
                        return finish(true, NULL);
                size_t len = strlen(cfg.request);
                if (s->window < len)
                        return finish(false, "the guest granted too little credit for the request");
                struct proto_msg d = { .type = PROTO_STREAM_DATA, .id = 0 };
                d.u.stream.id = probe.id;
                d.u.stream.len = (uint32_t)len;
                memcpy(d.u.stream.data, cfg.request, len);
                struct mlvm_err e = { 0 };
                if (monitor_send(&d, &e) < 0)
                        return finish(false, "the agent channel is not open");
                send_stream(PROTO_STREAM_CLOSE, 0, PROTO_CLOSE_END);
                return;
        case PROTO_STREAM_DATA:
                if (!probe.opened || s->len > sizeof(probe.buf) - probe.len)
                        return finish(false, "the agent broke the stream rules");
                memcpy(probe.buf + probe.len, s->data, s->len);
                probe.len += s->len;
                if (cfg.http)
                        judge(false);
                return;
        case PROTO_STREAM_CLOSE:
                if (!probe.opened)
                        return finish(false, s->how == PROTO_CLOSE_REFUSED ? "connection refused" : "connection reset");
                if (cfg.http)
                        return judge(true);
                return finish(false, "the connection ended");
        default:
                return;
        }
}

static int health_init(const struct monitor_start *st, struct mlvm_err *e)
{
        json_object *c, *h, *x, *http;
        uint64_t v;
        if (!json_object_object_get_ex(monitor_record(), "config", &c) || !json_object_object_get_ex(c, "healthcheck", &h))
                return 0;
        if (json_object_object_get_ex(h, "tcp", &x))
                cfg.port = (uint16_t)json_object_get_int(x);
        else if (json_object_object_get_ex(h, "http", &http) && json_object_object_get_ex(http, "port", &x)) {
                cfg.port = (uint16_t)json_object_get_int(x);
                cfg.http = true;
                cfg.request = xasprintf("GET %s HTTP/1.0\r\nHost: localhost\r\nUser-Agent: mlvm-healthcheck\r\n\r\n",
                                        json_str(http, "path") ?: "/");
                if (strlen(cfg.request) > PROTO_DATA_MAX)
                        return err_setx(e, -EINVAL, "healthcheck: the request is longer than one frame");
        }
        if (!cfg.port)
                return err_setx(e, -EINVAL, "healthcheck: no port in the run record");
        cfg.interval = (parse_duration(json_str(h, "interval") ?: "10s", &v) == 0 ? v : 10) * USEC_PER_SEC;
        cfg.timeout = (parse_duration(json_str(h, "timeout") ?: "5s", &v) == 0 ? v : 5) * USEC_PER_SEC;
        cfg.start_period = (parse_duration(json_str(h, "start_period") ?: "0s", &v) == 0 ? v : 0) * USEC_PER_SEC;
        cfg.retries = json_object_object_get_ex(h, "retries", &x) ? (unsigned)json_object_get_int(x) : 3;
        if (cfg.retries < 1)
                cfg.retries = 1;
        cfg.on = true;
        save(NULL);
        timer = virEventAddTimeout(TICK_MS, on_tick, NULL, NULL);
        monitor_log("healthcheck: %s port %u every %llu s", cfg.http ? "http" : "tcp", cfg.port,
                    (unsigned long long)(cfg.interval / USEC_PER_SEC));
        return 0;
}

/* The channel went (libvirtd restarted): the probe in flight went with it, and counts for nothing. */
static void health_channel_reset(void)
{
        memset(&probe, 0, sizeof(probe));
}

static void health_stop(void)
{
        if (timer >= 0)
                virEventRemoveTimeout(timer);
        timer = -1;
        memset(&probe, 0, sizeof(probe));
        free(cfg.request);
        cfg.request = NULL;
        cfg.on = false;
}

const struct monitor_handler monitor_health_handler = {
        .name = "health",
        /* Stream ids in the second quarter; published ports have the first. */
        .stream_base = 0x40000000u,
        .stream_mask = 0x3fffffffu,
        .on_stream = health_on_stream,
        .init = health_init,
        .channel_reset = health_channel_reset,
        .stop = health_stop,
};
