/* run-stats.c: libvirt's typed parameters to a sample, two samples to a
 * CPU figure, rows to a table line and to JSON; see run-stats.h. Pure:
 * tests/unit/test-run-stats.c feeds it recorded parameters. */
#include "mlvm-build.h"

#include <stdio.h>

#include "run-stats.h"
#include "util.h"

/* The hypervisor host answers here; a remote one is not ours to trust
 * blindly: types and indexes are checked, sums saturate. */
static uint64_t add_sat(uint64_t a, uint64_t b)
{
        return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static int want_type(const virTypedParameter *p, int type, struct mlvm_err *e)
{
        if (p->type == type)
                return 0;
        return err_setx(e, -EPROTO, "domain stats: %s: unexpected type %d", p->field, p->type);
}

/* "block.N.rd.bytes": N as a strict decimal below STATS_BLOCK_MAX, and the rest in RET_REST. */
static int block_index(const char *field, unsigned *ret_idx, const char **ret_rest)
{
        const char *s = field + strlen("block.");
        unsigned v = 0;
        if (*s < '0' || *s > '9' || (s[0] == '0' && s[1] >= '0' && s[1] <= '9'))
                return -EINVAL;
        for (; *s >= '0' && *s <= '9'; s++) {
                v = v * 10 + (unsigned)(*s - '0');
                if (v >= STATS_BLOCK_MAX)
                        return -ERANGE;
        }
        if (*s != '.')
                return -EINVAL;
        *ret_idx = v;
        *ret_rest = s + 1;
        return 0;
}

static int parse_block(const virTypedParameter *p, struct stats_sample *s, bool *seen, struct mlvm_err *e)
{
        static const char *const fields[] = { "rd.bytes", "wr.bytes", "rd.reqs", "wr.reqs" };
        uint64_t *sums[] = { &s->rd_bytes, &s->wr_bytes, &s->rd_ops, &s->wr_ops };
        const char *rest;
        unsigned idx;
        int r;

        if (streq(p->field, "block.count")) {
                if ((r = want_type(p, VIR_TYPED_PARAM_UINT, e)) < 0)
                        return r;
                if (p->value.ui > STATS_BLOCK_MAX)
                        return err_setx(e, -EPROTO, "domain stats: block.count %u: more than %d", p->value.ui,
                                        STATS_BLOCK_MAX);
                s->n_block = p->value.ui;
                return 0;
        }
        if ((r = block_index(p->field, &idx, &rest)) < 0)
                return err_setx(e, -EPROTO, "domain stats: %s: %s", p->field,
                                r == -ERANGE ? "block index out of range" : "not a block index");
        for (size_t i = 0; i < ARRAY_SIZE(fields); i++) {
                if (!streq(rest, fields[i]))
                        continue;
                if ((r = want_type(p, VIR_TYPED_PARAM_ULLONG, e)) < 0)
                        return r;
                *sums[i] = add_sat(*sums[i], p->value.ul);
                seen[idx] = true;
        }
        return 0;   /* name, path, allocation, ...: not shown */
}

int stats_sample_parse(const virTypedParameter *params, int n, struct stats_sample *ret, struct mlvm_err *e)
{
        struct stats_sample s = { .state = -1 };
        bool seen[STATS_BLOCK_MAX] = { false };
        int r;

        for (int i = 0; i < n; i++) {
                const virTypedParameter *p = &params[i];
                if (streq(p->field, "cpu.time")) {
                        if ((r = want_type(p, VIR_TYPED_PARAM_ULLONG, e)) < 0)
                                return r;
                        s.cpu_ns = p->value.ul;
                        s.has_cpu = true;
                } else if (streq(p->field, "balloon.current")) {
                        if ((r = want_type(p, VIR_TYPED_PARAM_ULLONG, e)) < 0)
                                return r;
                        s.memory_kib = p->value.ul;
                        s.has_memory = true;
                } else if (streq(p->field, "balloon.rss")) {
                        if ((r = want_type(p, VIR_TYPED_PARAM_ULLONG, e)) < 0)
                                return r;
                        s.rss_kib = p->value.ul;
                        s.has_rss = true;
                } else if (streq(p->field, "state.state")) {
                        if ((r = want_type(p, VIR_TYPED_PARAM_INT, e)) < 0)
                                return r;
                        s.state = p->value.i;
                        s.has_state = true;
                } else if (strstartswith(p->field, "block.")) {
                        if ((r = parse_block(p, &s, seen, e)) < 0)
                                return r;
                }
        }
        for (unsigned i = s.n_block; i < STATS_BLOCK_MAX; i++)
                if (seen[i])
                        return err_setx(e, -EPROTO, "domain stats: block.%u: past block.count %u", i, s.n_block);
        *ret = s;
        return 0;
}

double stats_cpu_percent(const struct stats_sample *s0, usec_t t0, const struct stats_sample *s1, usec_t t1)
{
        if (!s0->has_cpu || !s1->has_cpu || t1 <= t0 || s1->cpu_ns < s0->cpu_ns)
                return -1;
        double busy_us = (double)(s1->cpu_ns - s0->cpu_ns) / 1000.0;
        return busy_us * 100.0 / (double)(t1 - t0);
}

void stats_rows_free(struct stats_row *rows, size_t n)
{
        for (size_t i = 0; rows && i < n; i++) {
                free(rows[i].name);
                free(rows[i].domain);
        }
        free(rows);
}

void stats_format_bytes(uint64_t bytes, char *buf, size_t len)
{
        static const char *const units[] = { "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
        if (bytes < 1024) {
                (void)snprintf(buf, len, "%lluB", (unsigned long long)bytes);
                return;
        }
        double v = (double)bytes / 1024.0;
        size_t u = 0;
        while (v >= 1024.0 && u + 1 < ARRAY_SIZE(units)) {
                v /= 1024.0;
                u++;
        }
        /* Three significant digits, as docker stats shows them. */
        (void)snprintf(buf, len, v < 10 ? "%.2f%s" : v < 100 ? "%.1f%s" : "%.0f%s", v, units[u]);
}

static const char *state_word(const struct stats_sample *s)
{
        if (!s->has_state)
                return "unknown";
        switch (s->state) {
        case VIR_DOMAIN_RUNNING: return "running";
        case VIR_DOMAIN_BLOCKED: return "blocked";
        case VIR_DOMAIN_PAUSED: return "paused";
        case VIR_DOMAIN_SHUTDOWN: return "shutdown";
        case VIR_DOMAIN_SHUTOFF: return "shutoff";
        case VIR_DOMAIN_CRASHED: return "crashed";
        case VIR_DOMAIN_PMSUSPENDED: return "suspended";
        default: return "unknown";
        }
}

/* RSS against the guest's memory: QEMU's own overhead (and TCG's code
 * cache) can take it past 100. -1 when either is missing. */
static double memory_percent(const struct stats_sample *s)
{
        if (!s->has_rss || !s->has_memory || s->memory_kib == 0)
                return -1;
        return (double)s->rss_kib * 100.0 / (double)s->memory_kib;
}

static uint64_t kib(uint64_t v)
{
        return v > UINT64_MAX / 1024 ? UINT64_MAX : v * 1024;
}

#define STATS_FMT "%-20s %-8s %7s %-21s %6s %-21s %s"

const char *stats_table_header(void)
{
        static char line[160];
        (void)snprintf(line, sizeof(line), STATS_FMT, "NAME", "RUN", "CPU %", "MEM USAGE / GUEST", "MEM %",
                       "BLOCK I/O (R / W)", "BLOCK OPS (R / W)");
        return line;
}

void stats_format_row(const struct stats_row *r, char *buf, size_t len)
{
        char cpu[24] = "--", rss[16] = "--", mem[16] = "--", mp[24] = "--", rd[16], wr[16];
        char musage[40], io[40], ops[48];
        double m = memory_percent(&r->s);

        if (r->cpu_percent >= 0)
                (void)snprintf(cpu, sizeof(cpu), "%.2f%%", r->cpu_percent);
        if (r->s.has_rss)
                stats_format_bytes(kib(r->s.rss_kib), rss, sizeof(rss));
        if (r->s.has_memory)
                stats_format_bytes(kib(r->s.memory_kib), mem, sizeof(mem));
        if (m >= 0)
                (void)snprintf(mp, sizeof(mp), "%.1f%%", m);
        stats_format_bytes(r->s.rd_bytes, rd, sizeof(rd));
        stats_format_bytes(r->s.wr_bytes, wr, sizeof(wr));
        (void)snprintf(musage, sizeof(musage), "%s / %s", rss, mem);
        (void)snprintf(io, sizeof(io), "%s / %s", rd, wr);
        (void)snprintf(ops, sizeof(ops), "%llu / %llu", (unsigned long long)r->s.rd_ops,
                       (unsigned long long)r->s.wr_ops);
        (void)snprintf(buf, len, STATS_FMT, *r->name ? r->name : "-", r->id, cpu, musage, mp, io, ops);
}

/* A figure with DIGITS decimals, printed as such ("12.35", not
 * "12.345000000000001"); NULL (JSON null) when V < 0, not known. */
static json_object *fixed(double v, int digits)
{
        char buf[64];
        if (v < 0)
                return NULL;
        (void)snprintf(buf, sizeof(buf), "%.*f", digits, v);
        return json_object_new_double_s(strtod(buf, NULL), buf);
}

static json_object *u64_or_null(bool has, uint64_t v)
{
        return has ? json_object_new_uint64(v) : NULL;
}

json_object *stats_rows_to_json(const struct stats_row *rows, size_t n)
{
        json_object *a = json_object_new_array();
        for (size_t i = 0; i < n; i++) {
                const struct stats_row *r = &rows[i];
                double m = memory_percent(&r->s);
                json_object *o = json_object_new_object();
                json_object_object_add(o, "name", json_object_new_string(r->name));
                json_object_object_add(o, "run", json_object_new_string(r->id));
                json_object_object_add(o, "domain", json_object_new_string(r->domain));
                json_object_object_add(o, "state", json_object_new_string(state_word(&r->s)));
                json_object_object_add(o, "cpu_percent", fixed(r->cpu_percent, 2));
                json_object_object_add(o, "memory_bytes", u64_or_null(r->s.has_memory, kib(r->s.memory_kib)));
                json_object_object_add(o, "memory_rss_bytes", u64_or_null(r->s.has_rss, kib(r->s.rss_kib)));
                json_object_object_add(o, "memory_percent", fixed(m, 2));
                json_object_object_add(o, "block_read_bytes", json_object_new_uint64(r->s.rd_bytes));
                json_object_object_add(o, "block_write_bytes", json_object_new_uint64(r->s.wr_bytes));
                json_object_object_add(o, "block_read_ops", json_object_new_uint64(r->s.rd_ops));
                json_object_object_add(o, "block_write_ops", json_object_new_uint64(r->s.wr_ops));
                json_object_object_add(o, "interval_s", fixed(r->interval_s, 3));
                json_object_array_add(a, o);
        }
        return a;
}
