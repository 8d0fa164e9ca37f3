/* test-manifest.c: manifest.json and manifest.sig (src/lib/image/manifest.c). Both
 * arrive from publishers, so every malformed document must fail with its
 * exact message and leave the output untouched; what the serializer writes
 * (the bytes that are hashed and signed) is pinned by a golden copy. */
#include "mlvm-build.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "manifest.h"
#include "util.h"

#define HEX "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

/* A valid manifest, built from fields so that cases can drop or change one. */
#define F_SCHEMA "\"schema\": \"mlvm.image.v1\""
#define F_NAME "\"name\": \"minimal\""
#define F_RECIPE "\"recipe\": \"images/minimal\""
#define F_KREL "\"kernel_release\": \"6.1.0-28-cloud-amd64\""
#define F_CMDLINE "\"cmdline\": \"console=hvc0\""
#define F_AGENT "\"agent_version\": \"0.1.0\""
#define F_TIME "\"build_time\": \"2024-11-20T10:00:00Z\""
#define TOP F_SCHEMA ", " F_NAME ", " F_RECIPE ", " F_KREL ", " F_CMDLINE ", " F_AGENT ", " F_TIME
#define INPUT "{\"package\": \"busybox-static\", \"version\": \"1.35\", \"sha256\": \"" HEX "\"}"
#define INPUTS "\"inputs\": [" INPUT "]"
#define PART(name, size) "{\"name\": \"" name "\", \"size\": " size ", \"sha256\": \"" HEX "\"}"
#define KERNEL PART("kernel", "7")
#define INITRD PART("initramfs", "9")
#define PARTS_OF(...) "\"parts\": [" __VA_ARGS__ "]"
#define PARTS PARTS_OF(KERNEL ", " INITRD)
#define GOOD "{" TOP ", " INPUTS ", " PARTS "}"
/* The same with one part or one input replaced. */
#define WITH_PARTS(...) "{" TOP ", " INPUTS ", " PARTS_OF(__VA_ARGS__) "}"
#define WITH_INPUT(x) "{" TOP ", \"inputs\": [" x "], " PARTS "}"
#define WITH_TOP(top) "{" top ", " INPUTS ", " PARTS "}"

struct bad_case {
        const char *name;
        const char *text;
        const char *error;
};

static const struct bad_case bad[] = {
        { "not JSON", "schema: mlvm.image.v1\n", "manifest: not one valid JSON value" },
        { "empty", "", "manifest: not one valid JSON value" },
        { "truncated", "{" F_SCHEMA ", ", "manifest: not one valid JSON value" },
        { "trailing garbage", GOOD " x", "manifest: not one valid JSON value" },
        { "two objects", GOOD "\n" GOOD, "manifest: not one valid JSON value" },
        { "array", "[" GOOD "]", "manifest: must be a JSON object" },
        { "string", "\"mlvm.image.v1\"", "manifest: must be a JSON object" },
        { "wrong schema", WITH_TOP("\"schema\": \"mlvm.image.v2\", " F_NAME ", " F_RECIPE ", " F_KREL ", " F_CMDLINE
                                   ", " F_AGENT ", " F_TIME),
          "manifest: schema \"mlvm.image.v2\" is not mlvm.image.v1" },
        { "schema not a string", WITH_TOP("\"schema\": 1, " F_NAME ", " F_RECIPE ", " F_KREL ", " F_CMDLINE ", " F_AGENT
                                          ", " F_TIME),
          "manifest: top level: \"schema\" must be a string" },
        { "unknown top-level key", "{" TOP ", " INPUTS ", " PARTS ", \"signature\": \"x\"}",
          "manifest: top level: unknown key \"signature\"" },
        { "unknown key before schema", "{\"Schema\": \"mlvm.image.v1\"}", "manifest: top level: unknown key \"Schema\"" },
        { "missing schema", WITH_TOP(F_NAME ", " F_RECIPE ", " F_KREL ", " F_CMDLINE ", " F_AGENT ", " F_TIME),
          "manifest: top level: missing \"schema\"" },
        { "missing name", WITH_TOP(F_SCHEMA ", " F_RECIPE ", " F_KREL ", " F_CMDLINE ", " F_AGENT ", " F_TIME),
          "manifest: top level: missing \"name\"" },
        { "missing recipe", WITH_TOP(F_SCHEMA ", " F_NAME ", " F_KREL ", " F_CMDLINE ", " F_AGENT ", " F_TIME),
          "manifest: top level: missing \"recipe\"" },
        { "missing kernel_release", WITH_TOP(F_SCHEMA ", " F_NAME ", " F_RECIPE ", " F_CMDLINE ", " F_AGENT ", " F_TIME),
          "manifest: top level: missing \"kernel_release\"" },
        { "missing cmdline", WITH_TOP(F_SCHEMA ", " F_NAME ", " F_RECIPE ", " F_KREL ", " F_AGENT ", " F_TIME),
          "manifest: top level: missing \"cmdline\"" },
        { "missing agent_version", WITH_TOP(F_SCHEMA ", " F_NAME ", " F_RECIPE ", " F_KREL ", " F_CMDLINE ", " F_TIME),
          "manifest: top level: missing \"agent_version\"" },
        { "missing build_time", WITH_TOP(F_SCHEMA ", " F_NAME ", " F_RECIPE ", " F_KREL ", " F_CMDLINE ", " F_AGENT),
          "manifest: top level: missing \"build_time\"" },
        { "missing inputs", "{" TOP ", " PARTS "}", "manifest: inputs must be a list of at most 16 packages" },
        { "missing parts", "{" TOP ", " INPUTS "}", "manifest: parts must be a list of 1 to 3 parts" },
        { "name null", WITH_TOP(F_SCHEMA ", \"name\": null, " F_RECIPE ", " F_KREL ", " F_CMDLINE ", " F_AGENT ", " F_TIME),
          "manifest: top level: \"name\" must be a string" },
        { "cmdline a list", WITH_TOP(F_SCHEMA ", " F_NAME ", " F_RECIPE ", " F_KREL ", \"cmdline\": [\"quiet\"], " F_AGENT
                                     ", " F_TIME),
          "manifest: top level: \"cmdline\" must be a string" },
        { "build_time a number", WITH_TOP(F_SCHEMA ", " F_NAME ", " F_RECIPE ", " F_KREL ", " F_CMDLINE ", " F_AGENT
                                          ", \"build_time\": 1732096800"),
          "manifest: top level: \"build_time\" must be a string" },
        { "inputs an object", "{" TOP ", \"inputs\": {}, " PARTS "}",
          "manifest: inputs must be a list of at most 16 packages" },
        { "parts an object", "{" TOP ", " INPUTS ", \"parts\": {}}", "manifest: parts must be a list of 1 to 3 parts" },
        { "control character", WITH_TOP(F_SCHEMA ", \"name\": \"a\\u0001b\", " F_RECIPE ", " F_KREL ", " F_CMDLINE ", "
                                         F_AGENT ", " F_TIME),
          "manifest: top level: \"name\" is longer than 64 bytes or not printable" },
        { "DEL character", WITH_TOP(F_SCHEMA ", " F_NAME ", " F_RECIPE ", " F_KREL ", \"cmdline\": \"quiet\\u007f\", "
                                    F_AGENT ", " F_TIME),
          "manifest: top level: \"cmdline\" is longer than 2048 bytes or not printable" },
        { "newline escape", WITH_TOP(F_SCHEMA ", " F_NAME ", " F_RECIPE ", " F_KREL ", \"cmdline\": \"a\\nb\", " F_AGENT
                                     ", " F_TIME),
          "manifest: top level: \"cmdline\" is longer than 2048 bytes or not printable" },
        { "escaped NUL", WITH_TOP(F_SCHEMA ", " F_NAME ", \"recipe\": \"images/a\\u0000b\", " F_KREL ", " F_CMDLINE ", "
                                  F_AGENT ", " F_TIME),
          "manifest: top level: \"recipe\" is longer than 64 bytes or not printable" },
        { "input not an object", WITH_INPUT("\"busybox\""), "manifest: inputs[0] must be an object" },
        { "input unknown key", WITH_INPUT("{\"package\": \"a\", \"version\": \"1\", \"sha256\": \"" HEX "\", \"arch\": \"x\"}"),
          "manifest: inputs: unknown key \"arch\"" },
        { "input package a number", WITH_INPUT("{\"package\": 1, \"version\": \"1\", \"sha256\": \"" HEX "\"}"),
          "manifest: inputs: \"package\" must be a string" },
        { "input missing version", WITH_INPUT("{\"package\": \"a\", \"sha256\": \"" HEX "\"}"),
          "manifest: inputs: missing \"version\"" },
        { "input version with NUL", WITH_INPUT("{\"package\": \"a\", \"version\": \"1\\u0000\", \"sha256\": \"" HEX "\"}"),
          "manifest: inputs: \"version\" is longer than 128 bytes or not printable" },
        { "input sha256 upper case", WITH_INPUT("{\"package\": \"a\", \"version\": \"1\", \"sha256\": \""
                                                "0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef\"}"),
          "manifest: inputs: sha256 is not 64 lowercase hex digits" },
        { "no parts", WITH_PARTS(""), "manifest: parts must be a list of 1 to 3 parts" },
        { "four parts", WITH_PARTS(KERNEL ", " INITRD ", " PART("rootfs", "1") ", " PART("rootfs", "2")),
          "manifest: parts must be a list of 1 to 3 parts" },
        { "part not an object", WITH_PARTS(KERNEL ", [\"initramfs\"]"), "manifest: parts[1]: must be an object" },
        { "part unknown key", WITH_PARTS(KERNEL ", {\"name\": \"initramfs\", \"size\": 1, \"sha256\": \"" HEX
                                         "\", \"mode\": 420}"),
          "manifest: parts[1]: unknown key \"mode\"" },
        { "part without name", WITH_PARTS("{\"size\": 1, \"sha256\": \"" HEX "\"}"), "manifest: parts[0]: missing \"name\"" },
        { "part name a number", WITH_PARTS("{\"name\": 0, \"size\": 1, \"sha256\": \"" HEX "\"}"),
          "manifest: parts[0]: \"name\" must be a string" },
        { "part name with /", WITH_PARTS(KERNEL ", " PART("boot/initramfs", "9")),
          "manifest: part name \"boot/initramfs\" contains / or .." },
        { "part name ..", WITH_PARTS(PART("..", "7")), "manifest: part name \"..\" contains / or .." },
        { "part name with ..", WITH_PARTS(PART("kernel..", "7")), "manifest: part name \"kernel..\" contains / or .." },
        { "unknown part name", WITH_PARTS(KERNEL ", " INITRD ", " PART("swap", "1")),
          "manifest: part name \"swap\" is not kernel, initramfs or rootfs" },
        { "part name case", WITH_PARTS(PART("Kernel", "7")),
          "manifest: part name \"Kernel\" is not kernel, initramfs or rootfs" },
        { "duplicate part", WITH_PARTS(KERNEL ", " INITRD ", " KERNEL), "manifest: part kernel is listed twice" },
        { "size negative", WITH_PARTS(PART("kernel", "-1") ", " INITRD),
          "manifest: part kernel: size -1 is out of range (0 to 268435456)" },
        { "kernel size over cap", WITH_PARTS(PART("kernel", "268435457") ", " INITRD),
          "manifest: part kernel: size 268435457 is out of range (0 to 268435456)" },
        { "initramfs size over cap", WITH_PARTS(KERNEL ", " PART("initramfs", "1073741825")),
          "manifest: part initramfs: size 1073741825 is out of range (0 to 1073741824)" },
        { "rootfs size over cap", WITH_PARTS(KERNEL ", " INITRD ", " PART("rootfs", "68719476737")),
          "manifest: part rootfs: size 68719476737 is out of range (0 to 68719476736)" },
        /* json-c clamps what does not fit an int64: still refused, never wrapped. */
        { "size past uint64", WITH_PARTS(PART("kernel", "18446744073709551616") ", " INITRD),
          "manifest: part kernel: size 9223372036854775807 is out of range (0 to 268435456)" },
        { "size a string", WITH_PARTS(PART("kernel", "\"7\"") ", " INITRD), "manifest: part kernel: size must be an integer" },
        { "size a fraction", WITH_PARTS(PART("kernel", "7.0") ", " INITRD), "manifest: part kernel: size must be an integer" },
        { "size with exponent", WITH_PARTS(PART("kernel", "7e3") ", " INITRD),
          "manifest: part kernel: size must be an integer" },
        { "size null", WITH_PARTS(PART("kernel", "null") ", " INITRD), "manifest: part kernel: size must be an integer" },
        { "size missing", WITH_PARTS("{\"name\": \"kernel\", \"sha256\": \"" HEX "\"}, " INITRD),
          "manifest: part kernel: size must be an integer" },
        { "sha256 missing", WITH_PARTS("{\"name\": \"kernel\", \"size\": 7}, " INITRD), "manifest: kernel: missing \"sha256\"" },
        { "sha256 63 digits", WITH_PARTS("{\"name\": \"kernel\", \"size\": 7, \"sha256\": \"" HEX "\"}, "
                                         "{\"name\": \"initramfs\", \"size\": 9, \"sha256\": \""
                                         "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde\"}"),
          "manifest: initramfs: sha256 is not 64 lowercase hex digits" },
        { "sha256 65 digits", WITH_PARTS("{\"name\": \"kernel\", \"size\": 7, \"sha256\": \"" HEX "0\"}, " INITRD),
          "manifest: kernel: sha256 is not 64 lowercase hex digits" },
        { "sha256 66 digits", WITH_PARTS("{\"name\": \"kernel\", \"size\": 7, \"sha256\": \"" HEX "00\"}, " INITRD),
          "manifest: kernel: \"sha256\" is longer than 65 bytes or not printable" },
        { "sha256 upper case", WITH_PARTS("{\"name\": \"kernel\", \"size\": 7, \"sha256\": \""
                                          "0123456789abcdef0123456789abcdef0123456789abcdef0123456789ABCDEF\"}, " INITRD),
          "manifest: kernel: sha256 is not 64 lowercase hex digits" },
        { "sha256 not hex", WITH_PARTS("{\"name\": \"kernel\", \"size\": 7, \"sha256\": \""
                                       "g123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\"}, " INITRD),
          "manifest: kernel: sha256 is not 64 lowercase hex digits" },
        { "sha256 prefixed", WITH_PARTS("{\"name\": \"kernel\", \"size\": 7, \"sha256\": \"sha256:"
                                        "0123456789abcdef0123456789abcdef0123456789abcdef0123456789\"}, " INITRD),
          "manifest: kernel: sha256 is not 64 lowercase hex digits" },
        { "missing kernel", WITH_PARTS(INITRD), "manifest: parts must include kernel and initramfs" },
        { "missing initramfs", WITH_PARTS(KERNEL ", " PART("rootfs", "1")),
          "manifest: parts must include kernel and initramfs" },
};

/* Parse TEXT expecting failure with MSG and CODE; the output stays untouched. */
static void expect_fail_len(const char *text, size_t len, int code, const char *msg)
{
        struct manifest m, before;
        struct mlvm_err e = { 0 };

        memset(&m, 0x5a, sizeof(m));
        before = m;
        assert_int_equal(manifest_parse(text, len, &m, &e), code);
        assert_string_equal(e.msg, msg);
        assert_int_equal(e.code, code);
        assert_memory_equal(&m, &before, sizeof(m));
}

static void expect_fail(const char *text, const char *msg)
{
        expect_fail_len(text, strlen(text), -EINVAL, msg);
}

static void parse_ok(const char *text, struct manifest *m)
{
        struct mlvm_err e = { 0 };
        int r = manifest_parse(text, strlen(text), m, &e);
        if (r < 0)
                fail_msg("manifest_parse: %s", e.msg);
}

static void test_bad(void **state)
{
        const struct bad_case *c = *state;
        expect_fail(c->text, c->error);
}

/* What manifest_serialize writes for full(): the bytes that are hashed and
 * signed, so any change to them (json-c's formatting included) shows here. */
static const char golden[] =
        "{\n"
        "  \"schema\": \"mlvm.image.v1\",\n"
        "  \"name\": \"minimal\",\n"
        "  \"recipe\": \"images/minimal\",\n"
        "  \"kernel_release\": \"6.1.0-28-cloud-amd64\",\n"
        "  \"cmdline\": \"console=hvc0 quiet x=\\\"y\\\" a\\\\b /sbin/init \xc3\xa9\",\n"
        "  \"agent_version\": \"0.1.0\",\n"
        "  \"build_time\": \"2024-11-20T10:00:00Z\",\n"
        "  \"inputs\": [\n"
        "    {\n"
        "      \"package\": \"linux-image-6.1.0-28-cloud-amd64\",\n"
        "      \"version\": \"6.1.119-1\",\n"
        "      \"sha256\": \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"\n"
        "    },\n"
        "    {\n"
        "      \"package\": \"busybox-static\",\n"
        "      \"version\": \"1:1.35.0-4+b3\",\n"
        "      \"sha256\": \"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\"\n"
        "    }\n"
        "  ],\n"
        "  \"parts\": [\n"
        "    {\n"
        "      \"name\": \"kernel\",\n"
        "      \"size\": 268435456,\n"
        "      \"sha256\": \"1111111111111111111111111111111111111111111111111111111111111111\"\n"
        "    },\n"
        "    {\n"
        "      \"name\": \"initramfs\",\n"
        "      \"size\": 0,\n"
        "      \"sha256\": \"2222222222222222222222222222222222222222222222222222222222222222\"\n"
        "    },\n"
        "    {\n"
        "      \"name\": \"rootfs\",\n"
        "      \"size\": 68719476736,\n"
        "      \"sha256\": \"3333333333333333333333333333333333333333333333333333333333333333\"\n"
        "    }\n"
        "  ]\n"
        "}\n";

/* 3 parts at their size bounds (cap, 0, cap), 2 inputs, a cmdline that
 * needs escaping. The strings are literals: never passed to manifest_clear. */
static struct manifest full(void)
{
        struct manifest m = {
                .name = (char *)"minimal", .recipe = (char *)"images/minimal",
                .kernel_release = (char *)"6.1.0-28-cloud-amd64",
                .cmdline = (char *)"console=hvc0 quiet x=\"y\" a\\b /sbin/init \xc3\xa9",
                .agent_version = (char *)"0.1.0", .build_time = (char *)"2024-11-20T10:00:00Z",
                .n_inputs = 2, .n_parts = 3,
        };
        m.inputs[0].package = (char *)"linux-image-6.1.0-28-cloud-amd64";
        m.inputs[0].version = (char *)"6.1.119-1";
        memset(m.inputs[0].sha256, 'a', SHA256_HEX_LEN);
        m.inputs[1].package = (char *)"busybox-static";
        m.inputs[1].version = (char *)"1:1.35.0-4+b3";
        memset(m.inputs[1].sha256, 'b', SHA256_HEX_LEN);
        (void)snprintf(m.parts[0].name, sizeof(m.parts[0].name), "kernel");
        m.parts[0].size = manifest_part_max("kernel");
        memset(m.parts[0].sha256, '1', SHA256_HEX_LEN);
        (void)snprintf(m.parts[1].name, sizeof(m.parts[1].name), "initramfs");
        m.parts[1].size = 0;
        memset(m.parts[1].sha256, '2', SHA256_HEX_LEN);
        (void)snprintf(m.parts[2].name, sizeof(m.parts[2].name), "rootfs");
        m.parts[2].size = manifest_part_max("rootfs");
        memset(m.parts[2].sha256, '3', SHA256_HEX_LEN);
        return m;
}

static void test_roundtrip(void **state)
{
        struct manifest src = full(), m;
        _cleanup_free_ char *text = manifest_serialize(&src), *again = NULL;

        assert_string_equal(text, golden);
        parse_ok(text, &m);
        assert_string_equal(m.name, "minimal");
        assert_string_equal(m.recipe, "images/minimal");
        assert_string_equal(m.kernel_release, "6.1.0-28-cloud-amd64");
        assert_string_equal(m.cmdline, src.cmdline);
        assert_string_equal(m.agent_version, "0.1.0");
        assert_string_equal(m.build_time, "2024-11-20T10:00:00Z");
        assert_int_equal(m.n_inputs, 2);
        for (size_t i = 0; i < 2; i++) {
                assert_string_equal(m.inputs[i].package, src.inputs[i].package);
                assert_string_equal(m.inputs[i].version, src.inputs[i].version);
                assert_string_equal(m.inputs[i].sha256, src.inputs[i].sha256);
        }
        assert_int_equal(m.n_parts, 3);
        for (size_t i = 0; i < 3; i++) {        /* in the order listed */
                assert_string_equal(m.parts[i].name, src.parts[i].name);
                assert_true(m.parts[i].size == src.parts[i].size);
                assert_string_equal(m.parts[i].sha256, src.parts[i].sha256);
        }
        assert_ptr_equal(manifest_part(&m, "initramfs"), &m.parts[1]);
        assert_null(manifest_part(&m, "swap"));
        again = manifest_serialize(&m);
        assert_string_equal(again, text);
        manifest_clear(&m);
        assert_null(m.name);
        assert_int_equal(m.n_inputs, 0);
        assert_int_equal(m.n_parts, 0);
}

static void test_minimal_and_whitespace(void **state)
{
        struct manifest m;

        /* No inputs, the two required parts, surrounding whitespace. */
        parse_ok("\n  {" TOP ", \"inputs\": [], " PARTS "}\n\n", &m);
        assert_int_equal(m.n_inputs, 0);
        assert_int_equal(m.n_parts, 2);
        assert_true(manifest_part(&m, "kernel")->size == 7);
        assert_null(manifest_part(&m, "rootfs"));
        manifest_clear(&m);
        /* Key order is free; parts in any order. */
        parse_ok("{" PARTS_OF(INITRD ", " KERNEL) ", " INPUTS ", " TOP "}", &m);
        assert_string_equal(m.parts[0].name, "initramfs");
        assert_string_equal(m.parts[1].name, "kernel");
        manifest_clear(&m);
        manifest_clear(&m);   /* idempotent on a cleared manifest */
}

static void test_part_max(void **state)
{
        assert_true(manifest_part_max("kernel") == 256ULL << 20);
        assert_true(manifest_part_max("initramfs") == 1ULL << 30);
        assert_true(manifest_part_max("rootfs") == 64ULL << 30);
        assert_true(manifest_part_max("swap") == 0);
        assert_true(manifest_part_max("") == 0);
}

/* A manifest whose field KEY holds N copies of C; NAME etc. kept valid. */
static char *with_field(const char *key, size_t n)
{
        _cleanup_free_ char *v = xmalloc(n + 1);
        memset(v, 'x', n);
        v[n] = '\0';
        if (streq(key, "package"))
                return xasprintf("{" TOP ", \"inputs\": [{\"package\": \"%s\", \"version\": \"1\", \"sha256\": \"" HEX
                                 "\"}], " PARTS "}", v);
        _cleanup_free_ char *top = xasprintf(F_SCHEMA ", " F_NAME ", " F_RECIPE ", " F_KREL ", " F_CMDLINE ", " F_AGENT
                                             ", " F_TIME);
        /* Replace the field's value: cut at "KEY": "...". */
        _cleanup_free_ char *needle = xasprintf("\"%s\": \"", key);
        char *p = strstr(top, needle);
        assert_non_null(p);
        char *q = strchr(p + strlen(needle), '"');
        return xasprintf("{%.*s%s%s, " INPUTS ", " PARTS "}", (int)(p - top + (ptrdiff_t)strlen(needle)), top, v, q);
}

static void test_string_caps(void **state)
{
        static const struct { const char *key; size_t max; const char *where; } caps[] = {
                { "name", 64, "top level" }, { "recipe", 64, "top level" }, { "kernel_release", 128, "top level" },
                { "cmdline", 2048, "top level" }, { "agent_version", 64, "top level" },
                { "build_time", 64, "top level" }, { "package", 128, "inputs" },
        };
        for (size_t i = 0; i < ARRAY_SIZE(caps); i++) {
                _cleanup_free_ char *ok = with_field(caps[i].key, caps[i].max);
                _cleanup_free_ char *over = with_field(caps[i].key, caps[i].max + 1);
                _cleanup_free_ char *msg = xasprintf("manifest: %s: \"%s\" is longer than %zu bytes or not printable",
                                                     caps[i].where, caps[i].key, caps[i].max);
                struct manifest m;
                parse_ok(ok, &m);
                manifest_clear(&m);
                expect_fail(over, msg);
        }
}

static char *with_inputs(size_t n)
{
        _cleanup_free_ char *list = xstrdup("");
        for (size_t i = 0; i < n; i++) {
                char *l = xasprintf("%s%s{\"package\": \"p%zu\", \"version\": \"1\", \"sha256\": \"" HEX "\"}", list,
                                    i ? ", " : "", i);
                free(list);
                list = l;
        }
        return xasprintf("{" TOP ", \"inputs\": [%s], " PARTS "}", list);
}

static void test_input_cap(void **state)
{
        _cleanup_free_ char *sixteen = with_inputs(MANIFEST_MAX_INPUTS);
        _cleanup_free_ char *seventeen = with_inputs(MANIFEST_MAX_INPUTS + 1);
        struct manifest m;

        parse_ok(sixteen, &m);
        assert_int_equal(m.n_inputs, 16);
        assert_string_equal(m.inputs[15].package, "p15");
        manifest_clear(&m);
        expect_fail(seventeen, "manifest: inputs must be a list of at most 16 packages");
}

static void test_size_cap(void **state)
{
        size_t base = strlen(GOOD);
        _cleanup_free_ char *buf = xmalloc(MANIFEST_MAX_BYTES + 2);
        struct manifest m;

        /* Exactly the cap (padded with whitespace) is fine, one more byte is not. */
        memcpy(buf, GOOD, base);
        memset(buf + base, ' ', MANIFEST_MAX_BYTES + 1 - base);
        buf[MANIFEST_MAX_BYTES] = '\0';
        parse_ok(buf, &m);
        manifest_clear(&m);
        buf[MANIFEST_MAX_BYTES] = ' ';
        buf[MANIFEST_MAX_BYTES + 1] = '\0';
        expect_fail_len(buf, MANIFEST_MAX_BYTES + 1, -EFBIG, "manifest: larger than 65536 bytes");
}

static void test_nul_byte(void **state)
{
        char text[] = GOOD;
        char *p = strstr(text, "minimal");

        assert_non_null(p);
        p[3] = '\0';
        expect_fail_len(text, sizeof(text) - 1, -EINVAL, "manifest: contains a NUL byte");
}

/* An unknown key holding DEPTH levels (the object itself is one). */
static char *nested(size_t depth)
{
        _cleanup_free_ char *open = xmalloc(depth), *close = xmalloc(depth);
        memset(open, '[', depth - 1);
        open[depth - 1] = '\0';
        memset(close, ']', depth - 1);
        close[depth - 1] = '\0';
        return xasprintf("{" TOP ", " INPUTS ", " PARTS ", \"x\": %s%s}", open, close);
}

static void test_depth_cap(void **state)
{
        _cleanup_free_ char *at_cap = nested(8), *over = nested(9), *deep = nested(100000);

        /* 8 levels reach the key check; 9 stop in the tokener. */
        expect_fail(at_cap, "manifest: top level: unknown key \"x\"");
        expect_fail(over, "manifest: not one valid JSON value");
        expect_fail_len(deep, strlen(deep), -EFBIG, "manifest: larger than 65536 bytes");
        deep[MANIFEST_MAX_BYTES] = '\0';     /* 64K of '[': no recursion, just refused */
        expect_fail(deep, "manifest: not one valid JSON value");
}

/* ---- manifest.sig ------------------------------------------------------- */

#define KEYID "0123456789abcdef"
/* base64 of the bytes 0, 7, 14, ... (i * 7 mod 256), as json-c writes it. */
#define SIG_B64 "AAcOFRwjKjE4P0ZNVFtiaXB3foWMk5qhqK+2vcTL0tng5+71\\/AMKERgfJi00O0JJUFdeZWxzeoGIj5adpKuyuQ=="
#define SIGFILE(key, sig) "{\"key\":\"" key "\",\"sig\":\"" sig "\"}\n"

static void sig_bytes(uint8_t sig[KEY_SIG_LEN])
{
        for (int i = 0; i < KEY_SIG_LEN; i++)
                sig[i] = (uint8_t)(i * 7);
}

static void test_sig_roundtrip(void **state)
{
        uint8_t sig[KEY_SIG_LEN], got[KEY_SIG_LEN];
        char keyid[KEY_ID_LEN + 1];
        struct mlvm_err e = { 0 };

        sig_bytes(sig);
        _cleanup_free_ char *text = manifest_sig_serialize(KEYID, sig);
        assert_string_equal(text, SIGFILE(KEYID, SIG_B64));
        assert_int_equal(manifest_sig_parse(text, strlen(text), keyid, got, &e), 0);
        assert_string_equal(keyid, KEYID);
        assert_memory_equal(got, sig, KEY_SIG_LEN);

        /* All-0xff bytes: the base64 alphabet's last characters. */
        memset(sig, 0xff, sizeof(sig));
        _cleanup_free_ char *ff = manifest_sig_serialize("ffffffffffffffff", sig);
        assert_int_equal(manifest_sig_parse(ff, strlen(ff), keyid, got, &e), 0);
        assert_string_equal(keyid, "ffffffffffffffff");
        assert_memory_equal(got, sig, KEY_SIG_LEN);
}

static void expect_sig_fail_len(const char *text, size_t len, const char *msg)
{
        char keyid[KEY_ID_LEN + 1], keyid_before[KEY_ID_LEN + 1];
        uint8_t sig[KEY_SIG_LEN], sig_before[KEY_SIG_LEN];
        struct mlvm_err e = { 0 };

        memset(keyid, 0x5a, sizeof(keyid));
        memset(sig, 0x5a, sizeof(sig));
        memcpy(keyid_before, keyid, sizeof(keyid));
        memcpy(sig_before, sig, sizeof(sig));
        assert_int_equal(manifest_sig_parse(text, len, keyid, sig, &e), -EINVAL);
        assert_string_equal(e.msg, msg);
        assert_memory_equal(keyid, keyid_before, sizeof(keyid));
        assert_memory_equal(sig, sig_before, sizeof(sig));
}

static const struct bad_case bad_sig[] = {
        { "sig: not JSON", "key=" KEYID, "manifest.sig: not one JSON object" },
        { "sig: an array", "[\"" KEYID "\"]", "manifest.sig: not one JSON object" },
        { "sig: trailing garbage", "{\"key\":\"" KEYID "\",\"sig\":\"x\"} garbage", "manifest.sig: not one JSON object" },
        { "sig: extra key", "{\"key\":\"" KEYID "\",\"sig\":\"" SIG_B64 "\",\"alg\":\"ed25519\"}",
          "signature: manifest: manifest.sig: unknown key \"alg\"" },
        { "sig: missing key", "{\"sig\":\"" SIG_B64 "\"}", "signature: manifest: manifest.sig: missing \"key\"" },
        { "sig: missing sig", "{\"key\":\"" KEYID "\"}", "signature: manifest: manifest.sig: missing \"sig\"" },
        { "sig: key a number", "{\"key\":1234567890123456,\"sig\":\"" SIG_B64 "\"}",
          "signature: manifest: manifest.sig: \"key\" must be a string" },
        { "sig: sig over 128 bytes", SIGFILE(KEYID, SIG_B64 "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
          "signature: manifest: manifest.sig: \"sig\" is longer than 128 bytes or not printable" },
        { "sig: key 15 digits", SIGFILE("0123456789abcde", SIG_B64), "manifest.sig: key is not a 16-digit key id" },
        { "sig: key 17 digits", SIGFILE("0123456789abcdef0", SIG_B64), "manifest.sig: key is not a 16-digit key id" },
        { "sig: key upper case", SIGFILE("0123456789ABCDEF", SIG_B64), "manifest.sig: key is not a 16-digit key id" },
        { "sig: key not hex", SIGFILE("0123456789abcdeg", SIG_B64), "manifest.sig: key is not a 16-digit key id" },
        { "sig: base64 one group short", SIGFILE(KEYID, "AAcOFRwjKjE4P0ZNVFtiaXB3foWMk5qhqK+2vcTL0tng5+71\\/AMKERgfJi00"
                                                        "O0JJUFdeZWxzeoGIj5adpK=="),
          "manifest.sig: sig is not a base64 Ed25519 signature" },
        { "sig: base64 one group long", SIGFILE(KEYID, "AAAA" SIG_B64),
          "manifest.sig: sig is not a base64 Ed25519 signature" },
        { "sig: no padding", SIGFILE(KEYID, "AAcOFRwjKjE4P0ZNVFtiaXB3foWMk5qhqK+2vcTL0tng5+71\\/AMKERgfJi00O0JJUFde"
                                            "ZWxzeoGIj5adpKuyuQAA"),
          "manifest.sig: sig is not a base64 Ed25519 signature" },
        { "sig: one padding character", SIGFILE(KEYID, "AAcOFRwjKjE4P0ZNVFtiaXB3foWMk5qhqK+2vcTL0tng5+71\\/AMKERgfJi00"
                                                        "O0JJUFdeZWxzeoGIj5adpKuyuQA="),
          "manifest.sig: sig is not a base64 Ed25519 signature" },
        { "sig: not base64", SIGFILE(KEYID, "AAcOFRwjKjE4P0ZNVFtiaXB3foWMk5qhqK+2vcTL0tng5+71\\/AMKERgfJi00O0JJUFde"
                                            "ZWxzeoGIj5ad*KuyuQ=="),
          "manifest.sig: sig is not a base64 Ed25519 signature" },
        { "sig: space inside", SIGFILE(KEYID, "AAcOFRwjKjE4P0ZNVFtiaXB3foWMk5qhqK+2vcTL0tng5+71\\/AMKERgfJi00O0JJUFde"
                                              "ZWxzeoGIj5ad KuyuQ=="),
          "manifest.sig: sig is not a base64 Ed25519 signature" },
};

static void test_bad_sig(void **state)
{
        const struct bad_case *c = *state;
        expect_sig_fail_len(c->text, strlen(c->text), c->error);
}

static void test_sig_caps(void **state)
{
        char text[] = SIGFILE(KEYID, SIG_B64);
        _cleanup_free_ char *big = xmalloc(MANIFEST_SIG_MAX + 2);

        text[10] = '\0';
        expect_sig_fail_len(text, sizeof(text) - 1, "manifest.sig: larger than 4096 bytes or contains NUL");
        memset(big, ' ', MANIFEST_SIG_MAX + 1);
        memcpy(big, SIGFILE(KEYID, SIG_B64), strlen(SIGFILE(KEYID, SIG_B64)));
        big[MANIFEST_SIG_MAX + 1] = '\0';
        expect_sig_fail_len(big, MANIFEST_SIG_MAX + 1, "manifest.sig: larger than 4096 bytes or contains NUL");
}

int main(void)
{
        static const struct CMUnitTest fixed[] = {
                cmocka_unit_test(test_roundtrip),
                cmocka_unit_test(test_minimal_and_whitespace),
                cmocka_unit_test(test_part_max),
                cmocka_unit_test(test_string_caps),
                cmocka_unit_test(test_input_cap),
                cmocka_unit_test(test_size_cap),
                cmocka_unit_test(test_nul_byte),
                cmocka_unit_test(test_depth_cap),
                cmocka_unit_test(test_sig_roundtrip),
                cmocka_unit_test(test_sig_caps),
        };
        size_t nb = ARRAY_SIZE(bad), ns = ARRAY_SIZE(bad_sig), nf = ARRAY_SIZE(fixed), n = 0;
        struct CMUnitTest *t = xcalloc(nb + ns + nf, sizeof(*t));

        for (size_t i = 0; i < nf; i++)
                t[n++] = fixed[i];
        for (size_t i = 0; i < nb; i++)
                t[n++] = (struct CMUnitTest){ .name = bad[i].name, .test_func = test_bad,
                                              .initial_state = (void *)&bad[i] };
        for (size_t i = 0; i < ns; i++)
                t[n++] = (struct CMUnitTest){ .name = bad_sig[i].name, .test_func = test_bad_sig,
                                              .initial_state = (void *)&bad_sig[i] };
        int r = _cmocka_run_group_tests("manifest", t, n, NULL, NULL);
        free(t);
        return r;
}
