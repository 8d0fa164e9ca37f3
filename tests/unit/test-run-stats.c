/* test-run-stats.c: libvirt's domain stats to `mlvm stats` figures
 * (src/lib/run/run-stats.c): typed parameters as libvirt 9.0 returned them
 * for a run of the minimal image under TCG (`virsh domstats --state
 * --cpu-total --balloon --block`), CPU % from two samples, the table line
 * and the JSON keys; and replies that must be refused. */
#include "mlvm-build.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "run-stats.h"
#include "util.h"

static virTypedParameter ull(const char *field, unsigned long long v)
{
        virTypedParameter p = { .type = VIR_TYPED_PARAM_ULLONG };
        (void)snprintf(p.field, sizeof(p.field), "%s", field);
        p.value.ul = v;
        return p;
}

static virTypedParameter u32(const char *field, unsigned v)
{
        virTypedParameter p = { .type = VIR_TYPED_PARAM_UINT };
        (void)snprintf(p.field, sizeof(p.field), "%s", field);
        p.value.ui = v;
        return p;
}

static virTypedParameter i32(const char *field, int v)
{
        virTypedParameter p = { .type = VIR_TYPED_PARAM_INT };
        (void)snprintf(p.field, sizeof(p.field), "%s", field);
        p.value.i = v;
        return p;
}

static virTypedParameter str(const char *field, char *v)
{
        virTypedParameter p = { .type = VIR_TYPED_PARAM_STRING };
        (void)snprintf(p.field, sizeof(p.field), "%s", field);
        p.value.s = v;
        return p;
}

/* The reply recorded by tests/integration/stats.sh (libvirt 9.0, TCG): a
 * model of the minimal image with one data disk, as `virsh domstats`
 * printed it; CPU and read bytes as the caller asks. */
static void recorded(virTypedParameter *p, int *n, unsigned long long cpu, unsigned long long rd)
{
        static char vda[] = "vda", path[] = "/tmp/tmp.ajVDf0fT86/pool/mlvm-run-01e720fa-data-in";
        int k = 0;
        p[k++] = i32("state.state", 1);
        p[k++] = i32("state.reason", 1);
        p[k++] = ull("cpu.time", cpu);
        p[k++] = ull("cpu.user", 2988739000ULL);
        p[k++] = ull("cpu.system", 910004000ULL);
        p[k++] = u32("cpu.cache.monitor.count", 0);
        p[k++] = ull("cpu.haltpoll.success.time", 0);
        p[k++] = ull("cpu.haltpoll.fail.time", 0);
        p[k++] = ull("balloon.current", 262144);
        p[k++] = ull("balloon.maximum", 262144);
        p[k++] = ull("balloon.rss", 220628);
        p[k++] = u32("block.count", 1);
        p[k++] = str("block.0.name", vda);
        p[k++] = str("block.0.path", path);
        p[k++] = u32("block.0.backingIndex", 1);
        p[k++] = ull("block.0.rd.reqs", 6);
        p[k++] = ull("block.0.rd.bytes", rd);
        p[k++] = ull("block.0.rd.times", 5068675);
        p[k++] = ull("block.0.wr.reqs", 0);
        p[k++] = ull("block.0.wr.bytes", 0);
        p[k++] = ull("block.0.wr.times", 0);
        p[k++] = ull("block.0.fl.reqs", 0);
        p[k++] = ull("block.0.fl.times", 0);
        p[k++] = ull("block.0.allocation", 0);
        p[k++] = ull("block.0.capacity", 53248);
        p[k++] = ull("block.0.physical", 53248);
        *n = k;
}

/* The same with a second disk (an experiment's artifact disk, written to). */
static void recorded_two(virTypedParameter *p, int *n)
{
        static char vdb[] = "vdb";
        recorded(p, n, 3898743000ULL, 12288);
        p[11] = u32("block.count", 2);
        p[(*n)++] = str("block.1.name", vdb);
        p[(*n)++] = ull("block.1.rd.reqs", 4);
        p[(*n)++] = ull("block.1.rd.bytes", 16384);
        p[(*n)++] = ull("block.1.wr.reqs", 3);
        p[(*n)++] = ull("block.1.wr.bytes", 12288);
}

static void test_parse_recorded(void **state)
{
        virTypedParameter p[40];
        struct stats_sample s;
        struct mlvm_err e = { 0 };
        int n;
        recorded(p, &n, 3898743000ULL, 12288);
        assert_int_equal(stats_sample_parse(p, n, &s, &e), 0);
        assert_true(s.has_cpu && s.has_memory && s.has_rss && s.has_state);
        assert_true(s.cpu_ns == 3898743000ULL);
        assert_true(s.memory_kib == 262144);
        assert_true(s.rss_kib == 220628);
        assert_int_equal(s.state, VIR_DOMAIN_RUNNING);
        assert_int_equal(s.n_block, 1);
        assert_true(s.rd_bytes == 12288 && s.rd_ops == 6);
        assert_true(s.wr_bytes == 0 && s.wr_ops == 0);

        recorded_two(p, &n);
        assert_int_equal(stats_sample_parse(p, n, &s, &e), 0);
        assert_int_equal(s.n_block, 2);
        assert_true(s.rd_bytes == 12288 + 16384);   /* summed over the disks */
        assert_true(s.rd_ops == 10);
        assert_true(s.wr_bytes == 12288 && s.wr_ops == 3);
}

static void test_parse_partial(void **state)
{
        /* An inactive domain: state and balloon.current only, no block group. */
        virTypedParameter p[] = { i32("state.state", 5), ull("balloon.current", 262144) };
        struct stats_sample s;
        assert_int_equal(stats_sample_parse(p, 2, &s, NULL), 0);
        assert_false(s.has_cpu);
        assert_false(s.has_rss);
        assert_true(s.has_memory);
        assert_int_equal(s.n_block, 0);
        assert_true(s.rd_bytes == 0 && s.wr_ops == 0);
        assert_true(stats_cpu_percent(&s, 0, &s, 1000000) < 0);
}

static void expect_refused(virTypedParameter *p, int n, const char *msg)
{
        struct stats_sample s = { .cpu_ns = 42 };
        struct mlvm_err e = { 0 };
        assert_int_equal(stats_sample_parse(p, n, &s, &e), -EPROTO);
        assert_string_equal(e.msg, msg);
        assert_true(s.cpu_ns == 42);   /* RET untouched */
}

static void test_parse_refuses(void **state)
{
        virTypedParameter wrong_type[] = { i32("cpu.time", 5) };
        expect_refused(wrong_type, 1, "domain stats: cpu.time: unexpected type 1");
        virTypedParameter too_many[] = { u32("block.count", 65) };
        expect_refused(too_many, 1, "domain stats: block.count 65: more than 64");
        virTypedParameter past_count[] = { u32("block.count", 1), ull("block.1.rd.bytes", 1) };
        expect_refused(past_count, 2, "domain stats: block.1: past block.count 1");
        virTypedParameter no_count[] = { ull("block.0.wr.reqs", 1) };
        expect_refused(no_count, 1, "domain stats: block.0: past block.count 0");
        virTypedParameter big_index[] = { u32("block.count", 2), ull("block.64.rd.bytes", 1) };
        expect_refused(big_index, 2, "domain stats: block.64.rd.bytes: block index out of range");
        virTypedParameter bad_index[] = { u32("block.count", 2), ull("block.01.rd.bytes", 1) };
        expect_refused(bad_index, 2, "domain stats: block.01.rd.bytes: not a block index");
        virTypedParameter no_index[] = { ull("block.x.rd.bytes", 1) };
        expect_refused(no_index, 1, "domain stats: block.x.rd.bytes: not a block index");
}

static void test_sums_saturate(void **state)
{
        virTypedParameter p[] = { u32("block.count", 2), ull("block.0.rd.bytes", UINT64_MAX - 1),
                                  ull("block.1.rd.bytes", 5) };
        struct stats_sample s;
        assert_int_equal(stats_sample_parse(p, 3, &s, NULL), 0);
        assert_true(s.rd_bytes == UINT64_MAX);
}

static void test_cpu_percent(void **state)
{
        virTypedParameter p[40];
        struct stats_sample a, b;
        int n;
        recorded(p, &n, 3898743000ULL, 0);
        assert_int_equal(stats_sample_parse(p, n, &a, NULL), 0);
        recorded(p, &n, 3898743000ULL + 250000000ULL, 0);   /* 0.25 s of CPU ... */
        assert_int_equal(stats_sample_parse(p, n, &b, NULL), 0);
        /* ... in 1.0 s: a quarter of one CPU */
        double pct = stats_cpu_percent(&a, 5000000, &b, 6000000);
        assert_true(pct > 24.999 && pct < 25.001);
        /* two vCPUs busy: past 100 */
        b.cpu_ns = a.cpu_ns + 1800000000ULL;
        pct = stats_cpu_percent(&a, 5000000, &b, 6000000);
        assert_true(pct > 179.999 && pct < 180.001);
        assert_true(stats_cpu_percent(&a, 6000000, &b, 6000000) < 0);   /* no time between */
        assert_true(stats_cpu_percent(&b, 5000000, &a, 6000000) < 0);   /* counter went back */
}

static void test_format_bytes(void **state)
{
        char buf[16];
        stats_format_bytes(0, buf, sizeof(buf));
        assert_string_equal(buf, "0B");
        stats_format_bytes(1023, buf, sizeof(buf));
        assert_string_equal(buf, "1023B");
        stats_format_bytes(4616192, buf, sizeof(buf));
        assert_string_equal(buf, "4.40MiB");
        stats_format_bytes(183508ULL * 1024, buf, sizeof(buf));
        assert_string_equal(buf, "179MiB");
        stats_format_bytes(256ULL << 20, buf, sizeof(buf));
        assert_string_equal(buf, "256MiB");
        stats_format_bytes(3ULL << 30, buf, sizeof(buf));
        assert_string_equal(buf, "3.00GiB");
        stats_format_bytes(UINT64_MAX, buf, sizeof(buf));
        assert_string_equal(buf, "16.0EiB");
}

static struct stats_row sample_row(void)
{
        virTypedParameter p[40];
        struct stats_row r = { .id = "0123abcd", .cpu_percent = 12.345, .interval_s = 1.002 };
        int n;
        recorded_two(p, &n);
        assert_int_equal(stats_sample_parse(p, n, &r.s, NULL), 0);
        r.name = xstrdup("model-a");
        r.domain = xstrdup("mlvm-model-a-0123abcd");
        return r;
}

static void test_table(void **state)
{
        struct stats_row r = sample_row();
        char line[256];
        assert_string_equal(stats_table_header(),
                            "NAME                 RUN        CPU % MEM USAGE / GUEST      MEM % BLOCK I/O (R / W)     "
                            "BLOCK OPS (R / W)");
        stats_format_row(&r, line, sizeof(line));
        assert_string_equal(line, "model-a              0123abcd  12.35% 215MiB / 256MiB        84.2% 28.0KiB / 12.0KiB     "
                                  "10 / 3");
        r.cpu_percent = -1;
        r.s.has_rss = false;
        stats_format_row(&r, line, sizeof(line));
        assert_string_equal(line, "model-a              0123abcd      -- -- / 256MiB               -- 28.0KiB / 12.0KiB     "
                                  "10 / 3");
        free(r.name);
        free(r.domain);
}

static void test_json(void **state)
{
        struct stats_row *rows = xcalloc(1, sizeof(*rows));
        rows[0] = sample_row();
        json_object *a = stats_rows_to_json(rows, 1);
        assert_string_equal(
                json_object_to_json_string_ext(a, JSON_C_TO_STRING_PLAIN),
                "[{\"name\":\"model-a\",\"run\":\"0123abcd\",\"domain\":\"mlvm-model-a-0123abcd\",\"state\":\"running\","
                "\"cpu_percent\":12.35,\"memory_bytes\":268435456,\"memory_rss_bytes\":225923072,"
                "\"memory_percent\":84.16,\"block_read_bytes\":28672,\"block_write_bytes\":12288,"
                "\"block_read_ops\":10,\"block_write_ops\":3,\"interval_s\":1.002}]");
        json_object_put(a);
        rows[0].cpu_percent = -1;
        rows[0].s.has_rss = false;
        a = stats_rows_to_json(rows, 1);
        json_object *o = json_object_array_get_idx(a, 0), *x;
        assert_true(json_object_object_get_ex(o, "cpu_percent", &x) && x == NULL);   /* null, key kept */
        assert_true(json_object_object_get_ex(o, "memory_rss_bytes", &x) && x == NULL);
        assert_true(json_object_object_get_ex(o, "memory_percent", &x) && x == NULL);
        json_object_put(a);
        a = stats_rows_to_json(NULL, 0);
        assert_string_equal(json_object_to_json_string_ext(a, JSON_C_TO_STRING_PLAIN), "[]");
        json_object_put(a);
        stats_rows_free(rows, 1);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse_recorded), cmocka_unit_test(test_parse_partial),
                cmocka_unit_test(test_parse_refuses),  cmocka_unit_test(test_sums_saturate),
                cmocka_unit_test(test_cpu_percent),    cmocka_unit_test(test_format_bytes),
                cmocka_unit_test(test_table),          cmocka_unit_test(test_json),
        };
        return cmocka_run_group_tests_name("run-stats", tests, NULL, NULL);
}
