/* host-rc.c: which resource controls the host enforces; see host-rc.h. */
#include "mlvm-build.h"

#include <dirent.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <time.h>

#include "host-rc.h"
#include "util.h"
#include "virt.h"

#define RC_CACHE_MAX_BYTES 65536
#define RC_CACHE_TTL_S     (24 * 3600)
#define SCHED_MAX_BYTES    4096

static const struct {
        const char *key, *words;
} names[HOST_RC_N] = {
        [HOST_RC_CPU_SHARES] = { "cpu_shares", "CPU shares" },
        [HOST_RC_CPU_QUOTA] = { "cpu_quota", "CPU quota" },
        [HOST_RC_MEM_SOFT] = { "memory_soft_limit", "memory soft limit" },
        [HOST_RC_MEM_HARD] = { "memory_hard_limit", "memory hard limit" },
        [HOST_RC_IO_WEIGHT] = { "io_weight", "I/O weight" },
        [HOST_RC_DISK_IOTUNE] = { "disk_iotune", "per-disk I/O limits" },
};

const char *host_rc_key(enum host_rc_control c) { return names[c].key; }
const char *host_rc_describe(enum host_rc_control c) { return names[c].words; }

static void set(struct host_rc *rc, enum host_rc_control c, bool on, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
static void set(struct host_rc *rc, enum host_rc_control c, bool on, const char *fmt, ...)
{
        va_list ap;
        rc->enforced[c] = on;
        va_start(ap, fmt);
        (void)vsnprintf(rc->why[c], sizeof(rc->why[c]), fmt, ap);
        va_end(ap);
}

static bool exists(const char *dir, const char *file)
{
        _cleanup_free_ char *p = xasprintf("%s/%s", dir, file);
        struct stat st;
        return stat(p, &st) == 0;
}

/* The v1 hierarchy that carries CTRL: a directory whose comma-separated
 * name lists it (cpu, cpu,cpuacct). NULL when none is mounted. */
static char *v1_dir(const char *cg, const char *ctrl)
{
        _cleanup_closedir_ DIR *d = opendir(cg);
        size_t n = strlen(ctrl);
        for (struct dirent *de; d && (de = readdir(d));) {
                const char *p = de->d_name;
                if (p[0] == '.')
                        continue;
                for (const char *q = p; *q;) {
                        const char *end = strchr(q, ',');
                        size_t len = end ? (size_t)(end - q) : strlen(q);
                        if (len == n && !strncmp(q, ctrl, n)) {
                                char *dir = xasprintf("%s/%s", cg, p);
                                struct stat st;
                                if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
                                        return dir;
                                free(dir);
                                break;
                        }
                        q += len + (end ? 1 : 0);
                }
        }
        return NULL;
}

/* Every block scheduler any disk offers ("none mq-deadline kyber"), once each. */
static void schedulers(const char *root, char *out, size_t len)
{
        _cleanup_free_ char *block = xasprintf("%s/sys/block", root);
        _cleanup_closedir_ DIR *d = opendir(block);
        size_t used = 0;

        out[0] = '\0';
        for (struct dirent *de; d && (de = readdir(d));) {
                if (de->d_name[0] == '.')
                        continue;
                _cleanup_free_ char *p = xasprintf("%s/%s/queue/scheduler", block, de->d_name), *text = NULL;
                if (read_file_capped(p, SCHED_MAX_BYTES, &text, NULL) < 0)
                        continue;
                for (char *save = NULL, *w = strtok_r(text, " \t\n[]", &save); w; w = strtok_r(NULL, " \t\n[]", &save)) {
                        _cleanup_free_ char *pad = xasprintf(" %s ", w), *have = xasprintf(" %s ", out);
                        if (strstr(have, pad) || used + strlen(w) + 2 > len)
                                continue;
                        used += (size_t)snprintf(out + used, len - used, "%s%s", used ? " " : "", w);
                }
        }
}

static bool word_in(const char *list, const char *word)
{
        _cleanup_free_ char *l = xasprintf(" %s ", list), *w = xasprintf(" %s ", word);
        for (char *p = l; *p; p++)
                if (*p == '\n' || *p == '\t')
                        *p = ' ';
        return strstr(l, w) != NULL;
}

static void from_v2(const char *cg, const char *controllers, const char *scheds, struct host_rc *rc)
{
        bool cpu = word_in(controllers, "cpu"), mem = word_in(controllers, "memory"), io = word_in(controllers, "io");

        snprintf(rc->source, sizeof(rc->source), "cgroup v2");
        if (cpu) {
                set(rc, HOST_RC_CPU_SHARES, true, "cgroup v2 cpu.weight");
                set(rc, HOST_RC_CPU_QUOTA, true, "cgroup v2 cpu.max");
        } else {
                set(rc, HOST_RC_CPU_SHARES, false, "cgroup v2 without the cpu controller");
                set(rc, HOST_RC_CPU_QUOTA, false, "cgroup v2 without the cpu controller");
        }
        if (mem) {
                set(rc, HOST_RC_MEM_SOFT, true, "cgroup v2 memory.high");
                set(rc, HOST_RC_MEM_HARD, true, "cgroup v2 memory.max");
        } else {
                set(rc, HOST_RC_MEM_SOFT, false, "cgroup v2 without the memory controller");
                set(rc, HOST_RC_MEM_HARD, false, "cgroup v2 without the memory controller");
        }
        if (!io)
                set(rc, HOST_RC_IO_WEIGHT, false, "cgroup v2 without the io controller");
        else if (word_in(scheds, "bfq"))
                set(rc, HOST_RC_IO_WEIGHT, true, "cgroup v2 io.bfq.weight (BFQ)");
        else if (exists(cg, "io.cost.qos"))
                set(rc, HOST_RC_IO_WEIGHT, true, "cgroup v2 io.weight (io.cost)");
        else
                set(rc, HOST_RC_IO_WEIGHT, false, "cgroup v2 io controller, but no disk offers BFQ (schedulers: %s) "
                    "and there is no io.cost", scheds[0] ? scheds : "none found");
}

static void from_v1(const char *cg, const char *scheds, struct host_rc *rc)
{
        _cleanup_free_ char *cpu = v1_dir(cg, "cpu"), *mem = v1_dir(cg, "memory"), *blk = v1_dir(cg, "blkio");

        snprintf(rc->source, sizeof(rc->source), "cgroup v1");
        if (cpu && exists(cpu, "cpu.shares"))
                set(rc, HOST_RC_CPU_SHARES, true, "cgroup v1 cpu.shares");
        else
                set(rc, HOST_RC_CPU_SHARES, false, "cgroup v1 without a cpu hierarchy offering cpu.shares");
        if (cpu && exists(cpu, "cpu.cfs_quota_us"))
                set(rc, HOST_RC_CPU_QUOTA, true, "cgroup v1 cpu.cfs_quota_us");
        else
                set(rc, HOST_RC_CPU_QUOTA, false, "cgroup v1 without CFS bandwidth control (cpu.cfs_quota_us)");
        if (mem && exists(mem, "memory.soft_limit_in_bytes"))
                set(rc, HOST_RC_MEM_SOFT, true, "cgroup v1 memory.soft_limit_in_bytes");
        else
                set(rc, HOST_RC_MEM_SOFT, false, "cgroup v1 without the memory controller");
        if (mem && exists(mem, "memory.limit_in_bytes"))
                set(rc, HOST_RC_MEM_HARD, true, "cgroup v1 memory.limit_in_bytes");
        else
                set(rc, HOST_RC_MEM_HARD, false, "cgroup v1 without the memory controller");
        if (!blk)
                set(rc, HOST_RC_IO_WEIGHT, false, "cgroup v1 without the blkio controller");
        else if (exists(blk, "blkio.bfq.weight"))
                set(rc, HOST_RC_IO_WEIGHT, true, "cgroup v1 blkio.bfq.weight (BFQ)");
        else if (exists(blk, "blkio.weight"))
                set(rc, HOST_RC_IO_WEIGHT, true, "cgroup v1 blkio.weight (CFQ)");
        else
                set(rc, HOST_RC_IO_WEIGHT, false, "cgroup v1 blkio has no weight: the disks' schedulers (%s) are "
                    "neither BFQ nor CFQ", scheds[0] ? scheds : "none found");
}

void host_rc_from_sysfs(const char *root, struct host_rc *ret)
{
        struct host_rc rc = { 0 };
        const char *r = root ? root : "";
        _cleanup_free_ char *cg = xasprintf("%s/sys/fs/cgroup", r), *ctl = xasprintf("%s/cgroup.controllers", cg);
        _cleanup_free_ char *controllers = NULL;
        char scheds[256];

        schedulers(r, scheds, sizeof(scheds));
        if (read_file_capped(ctl, SCHED_MAX_BYTES, &controllers, NULL) == 0)
                from_v2(cg, controllers, scheds, &rc);
        else {
                from_v1(cg, scheds, &rc);
                bool any = false;
                for (int c = 0; c < HOST_RC_DISK_IOTUNE; c++)
                        any |= rc.enforced[c];
                if (!any) {
                        snprintf(rc.source, sizeof(rc.source), "none");
                        for (int c = 0; c < HOST_RC_DISK_IOTUNE; c++)
                                set(&rc, (enum host_rc_control)c, false, "no cgroup controllers under %s/sys/fs/cgroup", r);
                }
        }
        set(&rc, HOST_RC_DISK_IOTUNE, true, "QEMU throttles each disk itself (no cgroup needed)");
        rc.probed_at = time(NULL);
        *ret = rc;
}

void host_rc_refusal(enum host_rc_control c, const char *msg, char *why, size_t len)
{
        char m[SHOWN_MAX];
        if (!msg || !*msg)
                (void)snprintf(why, len, "the host refused the %s", names[c].words);
        else
                (void)snprintf(why, len, "the host refused it: %s", shown(msg, m));
}

/* Set one control live on the probe domain; libvirt applies it to the
 * domain's cgroup now, or says why it cannot. */
static void try_live(virDomainPtr dom, enum host_rc_control c, struct host_rc *rc)
{
        virTypedParameterPtr params = NULL;
        int n = 0, max = 0, r = -1;

        switch (c) {
        case HOST_RC_CPU_SHARES:
                (void)virTypedParamsAddULLong(&params, &n, &max, VIR_DOMAIN_SCHEDULER_CPU_SHARES, 1024);
                r = virDomainSetSchedulerParametersFlags(dom, params, n, VIR_DOMAIN_AFFECT_LIVE);
                break;
        case HOST_RC_CPU_QUOTA:
                (void)virTypedParamsAddULLong(&params, &n, &max, VIR_DOMAIN_SCHEDULER_GLOBAL_PERIOD, 100000);
                (void)virTypedParamsAddLLong(&params, &n, &max, VIR_DOMAIN_SCHEDULER_GLOBAL_QUOTA, 100000);
                r = virDomainSetSchedulerParametersFlags(dom, params, n, VIR_DOMAIN_AFFECT_LIVE);
                break;
        case HOST_RC_MEM_SOFT:
                (void)virTypedParamsAddULLong(&params, &n, &max, VIR_DOMAIN_MEMORY_SOFT_LIMIT, 1 << 20);
                r = virDomainSetMemoryParameters(dom, params, n, VIR_DOMAIN_AFFECT_LIVE);
                break;
        case HOST_RC_MEM_HARD:
                (void)virTypedParamsAddULLong(&params, &n, &max, VIR_DOMAIN_MEMORY_HARD_LIMIT, 1 << 20);
                r = virDomainSetMemoryParameters(dom, params, n, VIR_DOMAIN_AFFECT_LIVE);
                break;
        case HOST_RC_IO_WEIGHT:
                (void)virTypedParamsAddUInt(&params, &n, &max, VIR_DOMAIN_BLKIO_WEIGHT, 500);
                r = virDomainSetBlkioParameters(dom, params, n, VIR_DOMAIN_AFFECT_LIVE);
                break;
        default:
                break;
        }
        virTypedParamsFree(params, n);
        if (r == 0)
                set(rc, c, true, "accepted live by the host's libvirt");
        else {
                virErrorPtr err = virGetLastError();
                rc->enforced[c] = false;
                host_rc_refusal(c, err ? err->message : NULL, rc->why[c], sizeof(rc->why[c]));
        }
}

static bool cache_read(const char *path, const char *uri, struct host_rc *ret)
{
        _cleanup_free_ char *buf = NULL;
        _cleanup_json_ json_object *o = NULL;
        json_object *v, *c;
        struct host_rc rc = { 0 };

        if (read_file_capped(path, RC_CACHE_MAX_BYTES, &buf, NULL) < 0 || !(o = json_tokener_parse(buf)) ||
            !json_object_is_type(o, json_type_object))
                return false;
        if (!json_object_object_get_ex(o, "uri", &v) || !json_object_is_type(v, json_type_string) ||
            !streq(json_object_get_string(v), uri))
                return false;
        if (!json_object_object_get_ex(o, "probed_at", &v) || !json_object_is_type(v, json_type_int))
                return false;
        int64_t at = json_object_get_int64(v), now = (int64_t)time(NULL);
        if (at > now || at < now - RC_CACHE_TTL_S || !json_object_object_get_ex(o, "controls", &c) ||
            !json_object_is_type(c, json_type_object))
                return false;
        for (int i = 0; i < HOST_RC_N; i++) {
                json_object *one, *en, *why;
                if (!json_object_object_get_ex(c, names[i].key, &one) || !json_object_is_type(one, json_type_object) ||
                    !json_object_object_get_ex(one, "enforced", &en) || !json_object_is_type(en, json_type_boolean) ||
                    !json_object_object_get_ex(one, "why", &why) || !json_object_is_type(why, json_type_string))
                        return false;
                set(&rc, (enum host_rc_control)i, json_object_get_boolean(en), "%s", json_object_get_string(why));
        }
        snprintf(rc.source, sizeof(rc.source), "probe domain");
        rc.probed_at = (time_t)at;
        rc.cached = true;
        *ret = rc;
        return true;
}

static void cache_write(const char *state_dir, const char *path, const char *uri, const struct host_rc *rc)
{
        _cleanup_json_ json_object *o = host_rc_json(rc);
        _cleanup_free_ char *dir = xasprintf("%s/cache", state_dir);

        if (mkdir_p(dir, 0700) < 0)
                return;
        json_object_object_add(o, "uri", json_object_new_string(uri));
        json_object_object_add(o, "probed_at", json_object_new_int64((int64_t)rc->probed_at));
        const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
        (void)write_file_atomic(path, s, strlen(s), 0600);
}

static int probe(virConnectPtr conn, const struct host_caps *caps, struct host_rc *ret, struct mlvm_err *e)
{
        struct host_rc rc = { 0 };
        /* Paused: no guest code runs, TCG is enough to learn what libvirt applies. */
        _cleanup_virDomain_ virDomainPtr dom = host_probe_domain_start(conn, caps, MLVM_ACCEL_TCG, false);

        if (!dom)
                return err_virt(e, "resource controls: start a paused probe domain");
        snprintf(rc.source, sizeof(rc.source), "probe domain");
        for (int c = 0; c < HOST_RC_DISK_IOTUNE; c++)
                try_live(dom, (enum host_rc_control)c, &rc);
        set(&rc, HOST_RC_DISK_IOTUNE, true, "QEMU throttles each disk itself (no cgroup needed)");
        (void)virDomainDestroy(dom);
        rc.probed_at = time(NULL);
        *ret = rc;
        return 0;
}

int host_rc_get(virConnectPtr conn, const char *uri, const char *state_dir, const struct host_caps *caps,
                bool refresh, struct host_rc *ret, struct mlvm_err *e)
{
        const char *type = virConnectGetType(conn);

        if (host_uri_is_local(uri) && type && streq(type, "QEMU")) {
                host_rc_from_sysfs("", ret);
                /* An unprivileged libvirtd puts its domains in no cgroup of their own. */
                if (strstr(uri, "/session")) {
                        snprintf(ret->source, sizeof(ret->source), "session");
                        for (int c = 0; c < HOST_RC_DISK_IOTUNE; c++)
                                set(ret, (enum host_rc_control)c, false, "a session libvirtd (%s) gives domains no "
                                    "cgroup of their own", uri);
                }
                return 0;
        }
        _cleanup_free_ char *path = state_dir ? host_cache_path(state_dir, "rc", uri) : NULL;
        if (!refresh && path && cache_read(path, uri, ret))
                return 0;
        struct host_rc rc;
        int r = probe(conn, caps, &rc, e);
        if (r < 0)
                return r;
        if (path)
                cache_write(state_dir, path, uri, &rc);
        *ret = rc;
        return 0;
}

json_object *host_rc_json(const struct host_rc *rc)
{
        json_object *o = json_object_new_object(), *c = json_object_new_object();
        json_object_object_add(o, "source", json_object_new_string(rc->source));
        for (int i = 0; i < HOST_RC_N; i++) {
                json_object *one = json_object_new_object();
                json_object_object_add(one, "enforced", json_object_new_boolean(rc->enforced[i]));
                json_object_object_add(one, "why", json_object_new_string(rc->why[i]));
                json_object_object_add(c, names[i].key, one);
        }
        json_object_object_add(o, "controls", c);
        return o;
}

unsigned host_rc_missing(const struct host_rc *rc)
{
        unsigned m = 0;
        for (int i = 0; i < HOST_RC_N; i++)
                if (!rc->enforced[i])
                        m |= 1u << i;
        return m;
}
