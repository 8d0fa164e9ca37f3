/* test-config.c: the mlvm.yaml loader (src/lib/config/config.c, src/lib/config/config-json.c).
 * Each malformed file must fail with the exact FILE:LINE:COL: KEY: message;
 * each valid file must match its golden JSON and load back from that JSON. */
#include "mlvm-build.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "config.h"
#include "util.h"
#include "virt.h"

struct bad_case {
        const char *name;
        const char *yaml;
        const char *error;
};

#define M "models:\n  a:\n    image: minimal\n"   /* a valid model to extend */

static const struct bad_case bad[] = {
        { "unknown top-level key", "foo: 1\n",
          "t.yaml:1:1: foo: unknown key (expected models, experiments, retention or x-*)" },
        { "unknown model key", M "    colour: red\n",
          "t.yaml:4:5: models.a.colour: unknown key" },
        { "missing image", "models:\n  a:\n    vcpus: 1\n",
          "t.yaml:2:3: models.a: missing required key \"image\"" },
        { "vcpus quoted", M "    vcpus: \"2\"\n",
          "t.yaml:4:12: models.a.vcpus: must be an integer, not a quoted string" },
        { "vcpus zero", M "    vcpus: 0\n",
          "t.yaml:4:12: models.a.vcpus: 0 is out of range (1 to 64)" },
        { "vcpus too many", M "    vcpus: 65\n",
          "t.yaml:4:12: models.a.vcpus: 65 is out of range (1 to 64)" },
        { "vcpus fraction", M "    vcpus: 1.5\n",
          "t.yaml:4:12: models.a.vcpus: invalid integer \"1.5\"" },
        { "vcpus leading zero", M "    vcpus: 01\n",
          "t.yaml:4:12: models.a.vcpus: invalid integer \"01\"" },
        { "vcpus list", M "    vcpus: [1]\n",
          "t.yaml:4:12: models.a.vcpus: must be an integer, not a list" },
        { "memory without unit", M "    memory: 256\n",
          "t.yaml:4:13: models.a.memory: invalid size \"256\": expected a whole number and a unit K, M, G or T (e.g. 256M)" },
        { "memory MB suffix", M "    memory: 256MB\n",
          "t.yaml:4:13: models.a.memory: invalid size \"256MB\": expected a whole number and a unit K, M, G or T (e.g. 256M)" },
        { "memory decimal", M "    memory: 1.5G\n",
          "t.yaml:4:13: models.a.memory: invalid size \"1.5G\": expected a whole number and a unit K, M, G or T (e.g. 256M)" },
        { "memory too small", M "    memory: 32M\n",
          "t.yaml:4:13: models.a.memory: size 32M is out of range (64M to 1T)" },
        { "memory overflow", M "    memory: 99999999999999999999T\n",
          "t.yaml:4:13: models.a.memory: size 99999999999999999999T is out of range (64M to 1T)" },
        { "memory not MiB", M "    memory: 66049K\n",
          "t.yaml:4:13: models.a.memory: size 66049K is not a whole number of MiB" },
        { "memory_limit below memory", M "    memory: 512M\n    memory_limit: 256M\n",
          "t.yaml:5:5: models.a.memory_limit: must be at least memory" },
        { "timeout unit", M "    timeout: 10x\n",
          "t.yaml:4:14: models.a.timeout: invalid duration \"10x\": expected e.g. 30s, 10m, 1h30m, 2d" },
        { "timeout order", M "    timeout: 10m5h\n",
          "t.yaml:4:14: models.a.timeout: invalid duration \"10m5h\": expected e.g. 30s, 10m, 1h30m, 2d" },
        { "retention too short", "retention: 30s\n" M,
          "t.yaml:1:12: retention: duration 30s is out of range (1m to 366d)" },
        { "retention not a duration", "retention: forever\n" M,
          "t.yaml:1:12: retention: invalid duration \"forever\": expected e.g. 30s, 10m, 1h30m, 2d" },
        { "retention misspelt", "retension: 7d\n" M,
          "t.yaml:1:1: retension: unknown key (did you mean retention?)" },
        { "timeout zero", M "    timeout: 0s\n",
          "t.yaml:4:14: models.a.timeout: duration 0s is out of range (1s to 7d)" },
        { "timeout too long", M "    timeout: 8d\n",
          "t.yaml:4:14: models.a.timeout: duration 8d is out of range (1s to 7d)" },
        { "duplicate key", M "    image: other\n",
          "t.yaml:4:5: models.a.image: duplicate key" },
        { "duplicate model", "models:\n  a: {image: x}\n  a: {image: y}\n",
          "t.yaml:3:3: models.a: duplicate key" },
        { "bad name uppercase", "models:\n  Model_A:\n    image: minimal\n",
          "t.yaml:2:3: models.Model_A: not a valid name ([a-z0-9][a-z0-9-]{0,62})" },
        { "bad name leading dash", "models:\n  -a:\n    image: minimal\n",
          "t.yaml:2:3: models.-a: not a valid name ([a-z0-9][a-z0-9-]{0,62})" },
        { "name too long", "models:\n  a123456789012345678901234567890123456789012345678901234567890123:\n    image: x\n",
          "t.yaml:2:3: models.a123456789012345678901234567890123456789012345678901234567890123: not a valid name ([a-z0-9][a-z0-9-]{0,62})" },
        { "name with xml metacharacters", "models:\n  \"a<b>&\":\n    image: x\n",
          "t.yaml:2:3: models.a<b>&: not a valid name ([a-z0-9][a-z0-9-]{0,62})" },
        { "name reused across sections", "models:\n  a: {image: x}\nexperiments:\n  a: {image: x}\n",
          "t.yaml:4:3: experiments.a: name already used by model a at line 2" },
        { "command scalar", M "    command: /bin/true\n",
          "t.yaml:4:14: models.a.command: must be a list of strings, not a scalar" },
        { "command empty", M "    command: []\n",
          "t.yaml:4:14: models.a.command: must not be empty" },
        { "command null item", M "    command: [/bin/x, ~]\n",
          "t.yaml:4:23: models.a.command[1]: must be a string, not null" },
        { "command empty program", M "    command: [\"\", x]\n",
          "t.yaml:4:14: models.a.command: the program name must not be empty" },
        { "transport unknown", M "    transport: tcp\n",
          "t.yaml:4:16: models.a.transport: \"tcp\" is not one of auto, vsock, virtio-serial" },
        { "accel unknown", M "    accel: hvf\n",
          "t.yaml:4:12: models.a.accel: \"hvf\" is not one of auto, kvm, tcg" },
        { "accel not a string", M "    accel: [kvm]\n",
          "t.yaml:4:12: models.a.accel: must be a string, not a list" },
        { "image bad reference", "models:\n  a:\n    image: Minimal\n",
          "t.yaml:3:12: models.a.image: \"Minimal\" is not NAME[:TAG] or sha256:<64 hex digits>" },
        { "image short digest", "models:\n  a:\n    image: sha256:abc\n",
          "t.yaml:3:12: models.a.image: \"sha256:abc\" is not NAME[:TAG] or sha256:<64 hex digits>" },
        { "image custom tag", "models:\n  a:\n    image: !foo bar\n",
          "t.yaml:3:12: models.a.image: unsupported YAML tag !foo" },
        { "secret ttl too short", M "    secrets:\n      K: {from: jwt, ttl: 5s}\n",
          "t.yaml:5:27: models.a.secrets.K.ttl: duration 5s is out of range (10s to 1d)" },
        { "secret ttl too long", M "    secrets:\n      K: {from: jwt, ttl: 25h}\n",
          "t.yaml:5:27: models.a.secrets.K.ttl: duration 25h is out of range (10s to 1d)" },
        { "secret without ttl", M "    secrets:\n      K: {from: \"store:k\"}\n",
          "t.yaml:5:7: models.a.secrets.K: missing required key \"ttl\"" },
        { "secret unknown source", M "    secrets:\n      K: {from: vault, ttl: 1m}\n",
          "t.yaml:5:17: models.a.secrets.K.from: \"vault\" is not a source: use store:NAME, exec:COMMAND or jwt" },
        { "secret scope without jwt", M "    secrets:\n      K: {from: \"store:k\", ttl: 1m, scope: [a]}\n",
          "t.yaml:5:37: models.a.secrets.K.scope: only allowed with from: jwt" },
        { "secret rotate not a bool", M "    secrets:\n      K: {from: jwt, ttl: 1m, rotate: yes}\n",
          "t.yaml:5:39: models.a.secrets.K.rotate: \"yes\": expected true or false" },
        { "secret bad store name", M "    secrets:\n      K: {from: \"store:../k\", ttl: 1m}\n",
          "t.yaml:5:17: models.a.secrets.K.from: \"store:../k\": store name must match [A-Za-z0-9_][A-Za-z0-9_.-]{0,63}" },
        { "exec neither allow nor deny", M "    exec: yes\n",
          "t.yaml:4:11: models.a.exec: \"yes\": expected allow or deny" },
        { "secret bad name", M "    secrets:\n      1K: {from: jwt, ttl: 1m}\n",
          "t.yaml:5:7: models.a.secrets.1K: not a valid secret name ([A-Za-z_][A-Za-z0-9_]*)" },
        { "disk mount relative", M "    disks:\n      w: {source: ./w, mount: models}\n",
          "t.yaml:5:31: models.a.disks.w.mount: \"models\" must be an absolute path" },
        { "disk mount dotdot", M "    disks:\n      w: {source: ./w, mount: /models/../etc}\n",
          "t.yaml:5:31: models.a.disks.w.mount: \"/models/../etc\" must be a normalized path (no //, . or ..)" },
        { "disk unknown key", M "    disks:\n      w: {source: ./w, mount: /m, rw: true}\n",
          "t.yaml:5:35: models.a.disks.w.rw: unknown key" },
        { "disk without source", M "    disks:\n      w: {mount: /m}\n",
          "t.yaml:5:7: models.a.disks.w: missing required key \"source\"" },
        { "disk mount reused", M "    disks:\n      w: {source: a, mount: /m}\n      v: {source: b, mount: /m}\n",
          "t.yaml:6:29: models.a.disks.v.mount: /m is already the mount point of disk w" },
        { "publish one port", M "    publish: [\"8080\"]\n",
          "t.yaml:4:15: models.a.publish[0]: \"8080\" is not [ADDR:]HOST_PORT:GUEST_PORT or unix:/PATH:GUEST_PORT" },
        { "publish port range", M "    publish: [\"127.0.0.1:70000:80\"]\n",
          "t.yaml:4:15: models.a.publish[0]: \"127.0.0.1:70000:80\" is not [ADDR:]HOST_PORT:GUEST_PORT or unix:/PATH:GUEST_PORT" },
        { "publish bad address", M "    publish: [\"localhost:8080:80\"]\n",
          "t.yaml:4:15: models.a.publish[0]: \"localhost:8080:80\" is not [ADDR:]HOST_PORT:GUEST_PORT or unix:/PATH:GUEST_PORT" },
        { "publish same host port", M "    publish: [\"8080:80\", \"127.0.0.1:8080:81\"]\n",
          "t.yaml:4:26: models.a.publish[1]: \"127.0.0.1:8080:81\" binds the same host address as models.a.publish[0]" },
        { "env bad name", M "    env: {1X: y}\n",
          "t.yaml:4:11: models.a.env.1X: not a valid variable name ([A-Za-z_][A-Za-z0-9_]*)" },
        { "env value mapping", M "    env: {X: {y: 1}}\n",
          "t.yaml:4:14: models.a.env.X: must be a string, not a mapping" },
        { "artifacts root", M "    artifacts: /\n",
          "t.yaml:4:16: models.a.artifacts: must not be /" },
        { "syntax error", "models:\n  a: [\n",
          "t.yaml:3:1: syntax: did not find expected node content while parsing a flow node" },
        { "undefined alias", "models:\n  a:\n    image: *nope\n",
          "t.yaml:3:12: syntax: found undefined alias" },
        { "empty file", "# nothing here\n",
          "t.yaml:1:1: (file): is empty: define models: or experiments:" },
        { "root is a list", "- a\n- b\n",
          "t.yaml:1:1: (file): must be a mapping with models: and/or experiments:, not a list" },
        { "no workloads", "x-only: 1\n",
          "t.yaml:1:1: (file): defines no models or experiments" },
        { "models null", "models:\n",
          "t.yaml:1:8: models: must be a mapping, not null" },
        { "two documents", M "---\nfoo: 1\n",
          "t.yaml:5:1: (file): more than one YAML document" },
        { "non-scalar key", "? [a]\n: 1\n",
          "t.yaml:1:3: (file): keys must be strings, not a list" },
        { "merge of a scalar", "models:\n  a:\n    <<: 5\n    image: x\n",
          "t.yaml:3:9: models.a: <<: must be a mapping or a list of mappings, not a scalar" },
        { "two merge keys", M "    <<: {vcpus: 2}\n    <<: {memory: 512M}\n",
          "t.yaml:5:5: models.a: duplicate key \"<<\" (use <<: [*a, *b])" },
        { "two merge keys in a merge source",
          "x-b: &b {<<: {vcpus: 2}, <<: {vcpus: 3}}\nmodels:\n  a:\n    <<: *b\n    image: x\n",
          "t.yaml:1:26: models.a: duplicate key \"<<\" (use <<: [*a, *b])" },
        { "null-looking key is a name", "~: 1\n",
          "t.yaml:1:1: ~: unknown key (expected models, experiments, retention or x-*)" },
        { "NULL is an unknown model key", M "    NULL: 1\n",
          "t.yaml:4:5: models.a.NULL: unknown key" },
        { "empty key", "? \n: 1\n",
          "t.yaml:1:2: (file): keys must be strings, not null" },
        { "nested too deep (block)",
          "a:\n b:\n  c:\n   d:\n    e:\n     f:\n      g:\n       h:\n        i:\n         j:\n"
          "          - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - x\n",
          "t.yaml:11:119: (file): nested deeper than 64" },
        { "syntax error before deep nesting", "x: ]\n[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\n",
          "t.yaml:1:4: syntax: did not find expected node content while parsing a block node" },
        { "control characters in a key", "models:\n  \"a\\tb\":\n    image: x\n",
          "t.yaml:2:3: models.a?b: not a valid name ([a-z0-9][a-z0-9-]{0,62})" },
        { "merge fan-out of empty mappings",
          "x-e: &e {}\n"
          "x-1: &l1 {<<: [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]}\n"
          "x-2: &l2 {<<: [*l1,*l1,*l1,*l1,*l1,*l1,*l1,*l1,*l1,*l1]}\n"
          "x-3: &l3 {<<: [*l2,*l2,*l2,*l2,*l2,*l2,*l2,*l2,*l2,*l2]}\n"
          "x-4: &l4 {<<: [*l3,*l3,*l3,*l3,*l3,*l3,*l3,*l3,*l3,*l3]}\n"
          "x-5: &l5 {<<: [*l4,*l4,*l4,*l4,*l4,*l4,*l4,*l4,*l4,*l4]}\n"
          "models:\n  m:\n    image: x\n    env: *l5\n",
          "t.yaml:1:6: models.m.env: too many nodes after alias expansion (limit 100000)" },
        { "custom tag on a key", "models:\n  !foo a:\n    image: x\n",
          "t.yaml:2:3: models: unsupported YAML tag !foo" },
        { "custom tag on a merge source", "models:\n  a:\n    <<: !foo {image: x}\n",
          "t.yaml:3:9: models.a: unsupported YAML tag !foo" },
        { "merge bomb",
          "x-0: &l0 {k0: a, k1: a, k2: a, k3: a, k4: a, k5: a, k6: a, k7: a, k8: a, k9: a}\n"
          "x-1: &l1 {<<: [*l0,*l0,*l0,*l0,*l0,*l0,*l0,*l0,*l0,*l0]}\n"
          "x-2: &l2 {<<: [*l1,*l1,*l1,*l1,*l1,*l1,*l1,*l1,*l1,*l1]}\n"
          "x-3: &l3 {<<: [*l2,*l2,*l2,*l2,*l2,*l2,*l2,*l2,*l2,*l2]}\n"
          "x-4: &l4 {<<: [*l3,*l3,*l3,*l3,*l3,*l3,*l3,*l3,*l3,*l3]}\n"
          "x-5: &l5 {<<: [*l4,*l4,*l4,*l4,*l4,*l4,*l4,*l4,*l4,*l4]}\n"
          "models:\n  m:\n    image: x\n    env: *l5\n",
          "t.yaml:1:46: models.m.env: too many nodes after alias expansion (limit 100000)" },
        /* restart and healthcheck (config-upkeep.c) */
        { "restart unknown", M "    restart: sometimes\n",
          "t.yaml:4:14: models.a.restart: \"sometimes\" is not one of no, on-failure, always" },
        { "restart a list", M "    restart: [always]\n",
          "t.yaml:4:14: models.a.restart: must be a string, not a list" },
        { "restart_max without restart", M "    restart_max: 3\n",
          "t.yaml:4:5: models.a.restart_max: needs restart: on-failure or always" },
        { "restart_max zero", M "    restart: always\n    restart_max: 0\n",
          "t.yaml:5:18: models.a.restart_max: 0 is out of range (1 to 1000)" },
        { "restart_delay without restart", M "    restart: \"no\"\n    restart_delay: 5s\n",
          "t.yaml:5:5: models.a.restart_delay: needs restart: on-failure or always" },
        { "restart_delay zero", M "    restart: always\n    restart_delay: 0s\n",
          "t.yaml:5:20: models.a.restart_delay: duration 0s is out of range (1s to 1d)" },
        { "restart of an experiment", "experiments:\n  e:\n    image: minimal\n    restart: always\n",
          "t.yaml:4:5: experiments.e.restart: only models restart (an experiment runs once)" },
        { "healthcheck of an experiment", "experiments:\n  e:\n    image: minimal\n    healthcheck: {tcp: 80}\n",
          "t.yaml:4:5: experiments.e.healthcheck: only models have a healthcheck" },
        { "healthcheck without probe", M "    healthcheck: {interval: 3s}\n",
          "t.yaml:4:5: models.a.healthcheck: missing a probe: tcp: PORT or http: {port: PORT, path: /PATH}" },
        { "healthcheck two probes", M "    healthcheck: {tcp: 80, http: {port: 1}}\n",
          "t.yaml:4:28: models.a.healthcheck.http: one probe only: tcp or http, not both" },
        { "healthcheck tcp port 0", M "    healthcheck: {tcp: 0}\n",
          "t.yaml:4:24: models.a.healthcheck.tcp: 0 is out of range (1 to 65535)" },
        { "healthcheck http without port", M "    healthcheck: {http: {path: /x}}\n",
          "t.yaml:4:19: models.a.healthcheck.http: missing required key \"port\"" },
        { "healthcheck http relative path", M "    healthcheck: {http: {port: 80, path: x}}\n",
          "t.yaml:4:42: models.a.healthcheck.http.path: \"x\" must start with /" },
        { "healthcheck http path with a space", M "    healthcheck: {http: {port: 80, path: \"/a b\"}}\n",
          "t.yaml:4:42: models.a.healthcheck.http.path: \"/a b\": only printable ASCII without spaces" },
        { "healthcheck http path with CRLF", M "    healthcheck: {http: {port: 80, path: \"/a\\r\\nX: y\"}}\n",
          "t.yaml:4:42: models.a.healthcheck.http.path: \"/a??X: y\": only printable ASCII without spaces" },
        { "healthcheck http unknown key", M "    healthcheck: {http: {port: 80, pth: /}}\n",
          "t.yaml:4:36: models.a.healthcheck.http.pth: unknown key (did you mean path?)" },
        { "healthcheck timeout over interval", M "    healthcheck: {tcp: 80, interval: 2s, timeout: 3s}\n",
          "t.yaml:4:51: models.a.healthcheck.timeout: must not be longer than interval" },
        { "healthcheck interval zero", M "    healthcheck: {tcp: 80, interval: 0s}\n",
          "t.yaml:4:38: models.a.healthcheck.interval: duration 0s is out of range (1s to 1h)" },
        { "healthcheck retries zero", M "    healthcheck: {tcp: 80, retries: 0}\n",
          "t.yaml:4:37: models.a.healthcheck.retries: 0 is out of range (1 to 100)" },
        { "healthcheck unknown key", M "    healthcheck: {tcp: 80, retires: 2}\n",
          "t.yaml:4:28: models.a.healthcheck.retires: unknown key (did you mean retries?)" },
        { "healthcheck a list", M "    healthcheck: [tcp]\n",
          "t.yaml:4:18: models.a.healthcheck: must be a mapping, not a list" },
};

static void test_bad(void **state)
{
        const struct bad_case *c = *state;
        struct mlvm_config *cfg = NULL;
        struct mlvm_err e = { 0 };

        int r = mlvm_config_parse("t.yaml", "/base", c->yaml, strlen(c->yaml), &cfg, &e);
        assert_int_equal(r, -EINVAL);
        assert_null(cfg);
        assert_string_equal(e.msg, c->error);
}

static void test_too_big(void **state)
{
        size_t n = MLVM_CONFIG_MAX_BYTES + 1;
        _cleanup_free_ char *buf = xmalloc(n);
        struct mlvm_config *cfg = NULL;
        struct mlvm_err e = { 0 };

        memset(buf, '#', n);
        assert_int_equal(mlvm_config_parse("t.yaml", "/base", buf, n, &cfg, &e), -EFBIG);
        assert_string_equal(e.msg, "t.yaml: larger than 1048576 bytes");
}

static void test_too_many_keys(void **state)
{
        size_t cap = 32 * (MLVM_CONFIG_MAX_KEYS + 2);
        _cleanup_free_ char *buf = xmalloc(cap);
        size_t off = (size_t)snprintf(buf, cap, "models:\n  a:\n    image: x\n    env:\n");
        struct mlvm_config *cfg = NULL;
        struct mlvm_err e = { 0 };

        for (int i = 0; i <= MLVM_CONFIG_MAX_KEYS; i++)
                off += (size_t)snprintf(buf + off, cap - off, "      K%d: v\n", i);
        assert_int_equal(mlvm_config_parse("t.yaml", "/base", buf, off, &cfg, &e), -EINVAL);
        assert_string_equal(e.msg, "t.yaml:1029:7: models.a.env: more than 1024 keys in one mapping");
}

/* "x-deep: [[...]]" (LEVELS brackets) before a valid model: the root
 * mapping is one level more. */
static char *nested(size_t levels)
{
        size_t cap = 2 * levels + 64, off = 0;
        char *buf = xmalloc(cap);

        off += (size_t)snprintf(buf, cap, "x-deep: ");
        memset(buf + off, '[', levels);
        memset(buf + off + levels, ']', levels);
        off += 2 * levels;
        (void)snprintf(buf + off, cap - off, "\nmodels: {a: {image: x}}\n");
        return buf;
}

static void test_depth(void **state)
{
        _cleanup_free_ char *ok = nested(63), *deep = nested(64);  /* plus the root mapping */
        _cleanup_(mlvm_config_freep) struct mlvm_config *c = NULL;
        struct mlvm_config *none = NULL;
        struct mlvm_err e = { 0 };

        assert_int_equal(mlvm_config_parse("t.yaml", "/base", ok, strlen(ok), &c, &e), 0);
        assert_int_equal(mlvm_config_parse("t.yaml", "/base", deep, strlen(deep), &none, &e), -EINVAL);
        assert_null(none);
        assert_string_equal(e.msg, "t.yaml:1:72: (file): nested deeper than 64");
}

/* libyaml's scanner costs O(depth) per token: a file of '[' used to take
 * minutes. The depth pass stops at level 65 (the test's run time shows it). */
static void test_depth_megabyte(void **state)
{
        size_t n = MLVM_CONFIG_MAX_BYTES;
        _cleanup_free_ char *buf = xmalloc(n);
        struct mlvm_config *c = NULL;
        struct mlvm_err e = { 0 };

        memset(buf, '[', n);
        assert_int_equal(mlvm_config_parse("t.yaml", "/base", buf, n, &c, &e), -EINVAL);
        assert_null(c);
        assert_string_equal(e.msg, "t.yaml:1:65: (file): nested deeper than 64");
}

/* Keys are names: plain null, Null and NULL spell themselves. */
static void test_null_named_keys(void **state)
{
        const char *yaml = "models:\n  null:\n    image: x\n    env: {NULL: a, Null: b}\n";
        _cleanup_(mlvm_config_freep) struct mlvm_config *c = NULL;
        struct mlvm_err e = { 0 };

        assert_int_equal(mlvm_config_parse("t.yaml", "/base", yaml, strlen(yaml), &c, &e), 0);
        assert_int_equal(c->n, 1);
        assert_string_equal(c->w[0].name, "null");
        assert_int_equal(c->w[0].n_env, 2);
        assert_string_equal(c->w[0].env[0].name, "NULL");
        assert_string_equal(c->w[0].env[0].value, "a");
        assert_string_equal(c->w[0].env[1].name, "Null");
}

/* Golden files: tests/data/config/good/NAME.yaml -> NAME.json. */
static const char *const good[] = { "defaults", "full", "anchors", "publish", "accel", "upkeep" };

static char *json_text(const struct mlvm_config *c)
{
        _cleanup_json_ json_object *j = mlvm_config_to_json(c);
        return xstrdup(json_object_to_json_string_ext(j, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                                             JSON_C_TO_STRING_NOSLASHESCAPE));
}

static void test_good(void **state)
{
        const char *name = *state;
        _cleanup_free_ char *ypath = xasprintf("%s/config/good/%s.yaml", TEST_DATA, name);
        _cleanup_free_ char *jpath = xasprintf("%s/config/good/%s.json", TEST_DATA, name);
        _cleanup_free_ char *yaml = NULL, *want = NULL, *got = NULL, *again = NULL;
        _cleanup_(mlvm_config_freep) struct mlvm_config *c = NULL, *c2 = NULL;
        struct mlvm_err e = { 0 };
        size_t ylen, wlen;

        assert_int_equal(read_file_capped(ypath, 1 << 20, &yaml, &ylen), 0);
        assert_int_equal(read_file_capped(jpath, 1 << 20, &want, &wlen), 0);
        int r = mlvm_config_parse("good.yaml", "/base", yaml, ylen, &c, &e);
        if (r < 0)
                fail_msg("%s: %s", name, e.msg);
        got = json_text(c);
        while (wlen > 0 && want[wlen - 1] == '\n')
                want[--wlen] = '\0';
        assert_string_equal(got, want);
        /* The normalized JSON is itself a valid mlvm.yaml that normalizes to itself. */
        r = mlvm_config_parse("again.yaml", "/base", got, strlen(got), &c2, &e);
        if (r < 0)
                fail_msg("%s (reloaded): %s", name, e.msg);
        again = json_text(c2);
        assert_string_equal(again, got);
}

static void test_find_and_positions(void **state)
{
        const char *yaml = "models:\n  a:\n    image: minimal\n    memory: 1G\nexperiments:\n  e:\n    image: py\n";
        _cleanup_(mlvm_config_freep) struct mlvm_config *c = NULL;
        struct mlvm_err e = { 0 };

        assert_int_equal(mlvm_config_parse("t.yaml", "/base", yaml, strlen(yaml), &c, &e), 0);
        assert_int_equal(c->n, 2);
        const struct mlvm_workload *a = mlvm_config_find(c, "a");
        assert_non_null(a);
        assert_int_equal(a->kind, MLVM_KIND_MODEL);
        assert_int_equal(a->memory, 1ULL << 30);
        assert_int_equal(a->at.memory.line, 4);
        assert_int_equal(a->at.memory.col, 5);
        assert_int_equal(a->at.secrets.line, 0);
        const struct mlvm_workload *x = mlvm_config_find(c, "e");
        assert_non_null(x);
        assert_int_equal(x->kind, MLVM_KIND_EXPERIMENT);
        assert_null(mlvm_config_find(c, "nope"));
}

static void test_load_file_errors(void **state)
{
        struct mlvm_config *c = NULL;
        struct mlvm_err e = { 0 };

        assert_int_equal(mlvm_config_load("/nonexistent/mlvm.yaml", &c, &e), -ENOENT);
        assert_string_equal(e.msg, "/nonexistent/mlvm.yaml: No such file or directory");
        assert_int_equal(mlvm_config_load(TEST_DATA, &c, &e), -EISDIR);
        assert_null(c);
}

static void test_load_resolves_sources(void **state)
{
        _cleanup_free_ char *path = xasprintf("%s/config/good/full.yaml", TEST_DATA);
        _cleanup_free_ char *dir = xasprintf("%s/config/good", TEST_DATA);
        _cleanup_free_ char *want = NULL;
        _cleanup_(mlvm_config_freep) struct mlvm_config *c = NULL;
        struct mlvm_err e = { 0 };
        char *real = realpath(dir, NULL);

        assert_non_null(real);
        want = xasprintf("%s/weights/model-a", real);
        free(real);
        assert_int_equal(mlvm_config_load(path, &c, &e), 0);
        const struct mlvm_workload *w = mlvm_config_find(c, "model-a");
        assert_non_null(w);
        assert_int_equal(w->n_disks, 2);
        assert_string_equal(w->disks[0].source, want);
        assert_string_equal(w->disks[1].source, "/srv/data");
}

int main(void)
{
        size_t nb = ARRAY_SIZE(bad), ng = ARRAY_SIZE(good), n = 0;
        struct CMUnitTest *t = xcalloc(nb + ng + 8, sizeof(*t));

        for (size_t i = 0; i < nb; i++)
                t[n++] = (struct CMUnitTest){ .name = bad[i].name, .test_func = test_bad,
                                              .initial_state = (void *)&bad[i] };
        for (size_t i = 0; i < ng; i++)
                t[n++] = (struct CMUnitTest){ .name = good[i], .test_func = test_good,
                                              .initial_state = (void *)good[i] };
        t[n++] = (struct CMUnitTest){ .name = "file over the size cap", .test_func = test_too_big };
        t[n++] = (struct CMUnitTest){ .name = "mapping over the key cap", .test_func = test_too_many_keys };
        t[n++] = (struct CMUnitTest){ .name = "nesting: 64 levels, not 65", .test_func = test_depth };
        t[n++] = (struct CMUnitTest){ .name = "nesting: 1 MiB of [", .test_func = test_depth_megabyte };
        t[n++] = (struct CMUnitTest){ .name = "keys named null and NULL", .test_func = test_null_named_keys };
        t[n++] = (struct CMUnitTest){ .name = "find and positions", .test_func = test_find_and_positions };
        t[n++] = (struct CMUnitTest){ .name = "load: file errors", .test_func = test_load_file_errors };
        t[n++] = (struct CMUnitTest){ .name = "load: relative sources", .test_func = test_load_resolves_sources };
        int r = _cmocka_run_group_tests("config", t, n, NULL, NULL);
        free(t);
        return r;
}
