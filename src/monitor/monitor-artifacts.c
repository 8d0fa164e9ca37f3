/* monitor-artifacts.c: an experiment's artifacts, from the monitor's
 * side. The agent's reports (ARTIFACT, ARTIFACTS_DONE, or an ERROR with
 * code "artifacts") are checked and kept as they come; once the guest is
 * gone the artifact volume is read through libvirt and checked against
 * them under the strict rules of artifacts.h, the tar parsed by a
 * confined child (untar.h); the accepted files go to
 * runs/RUNID/artifacts. Then every finished run gets its signed
 * provenance. Nothing of a rejected stream is kept. */
#include "mlvm-build.h"

#include <stdarg.h>

#include "audit.h"
#include "artifacts.h"
#include "gate.h"
#include "monitor-handlers.h"
#include "provenance.h"
#include "run.h"
#include "untar.h"
#include "util.h"
#include "volume.h"

static struct artifact *reps;
static size_t n_reps;
static bool done_seen;
static uint64_t tar_size;
static uint32_t tar_count;
static char tar_sha[SHA256_HEX_LEN + 1];
static char *problem;                /* the first thing wrong with the reports */

static void reject(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void reject(const char *fmt, ...)
{
        if (problem)
                return;
        va_list ap;
        va_start(ap, fmt);
        if (vasprintf(&problem, fmt, ap) < 0)
                problem = NULL;
        va_end(ap);
        if (problem)
                monitor_log("artifacts: %s", problem);
}

static void on_report(const struct proto_msg *m)
{
        if (problem)
                return;
        if (done_seen)
                { reject("the agent reported an artifact after ARTIFACTS_DONE"); return; }
        if (!artifact_path_is_valid(m->u.artifact.path) || !is_sha256_hex(m->u.artifact.digest)) {
                _cleanup_free_ char *p = monitor_ascii(m->u.artifact.path);
                { reject("the agent reported an invalid artifact (%.80s)", p); return; }
        }
        if (n_reps >= artifact_default_limits.max_entries)
                { reject("the agent reported more than %llu artifacts",
                              (unsigned long long)artifact_default_limits.max_entries); return; }
        if (n_reps % 256 == 0)
                reps = xreallocarray(reps, n_reps + 256, sizeof(*reps));
        struct artifact *a = &reps[n_reps++];
        memcpy(a->path, m->u.artifact.path, sizeof(a->path));
        a->size = m->u.artifact.size;
        memcpy(a->sha256, m->u.artifact.digest, sizeof(a->sha256));
}

static void on_done(const struct proto_msg *m)
{
        if (problem)
                return;
        if (done_seen)
                { reject("the agent sent ARTIFACTS_DONE twice"); return; }
        if (!is_sha256_hex(m->u.artifact.digest))
                { reject("the agent reported an invalid stream digest"); return; }
        if (m->u.artifact.count != n_reps)
                { reject("the agent reported %zu artifacts but counted %u", n_reps, m->u.artifact.count); return; }
        done_seen = true;
        tar_size = m->u.artifact.size;
        tar_count = m->u.artifact.count;
        memcpy(tar_sha, m->u.artifact.digest, sizeof(tar_sha));
        monitor_log("artifacts reported: %u files, stream of %llu bytes", tar_count, (unsigned long long)tar_size);
}

/* An ERROR with code "artifacts": EXIT follows; the run fails at the end. */
static void on_error(const char *why)
{
        _cleanup_free_ char *w = monitor_ascii(why);
        reject("the agent could not collect them: %s", w);
}

static void set_result(json_object *run, void *u)
{
        json_object_object_add(run, "artifacts", json_object_get(u));
}

/* The summary O into run.json and the audit log. */
static void record_result(json_object *o)
{
        struct mlvm_err ignore = { 0 };
        if (run_update(monitor_state_dir(), monitor_run_id(), set_result, o, &ignore) < 0)
                monitor_log("run record: %s", ignore.msg);
        json_object *f = json_object_new_object();
        json_object_object_add(f, "run", json_object_new_string(monitor_run_id()));
        json_object_object_add(f, "name", json_object_new_string(monitor_name()));
        json_object_object_foreach(o, k, v) json_object_object_add(f, k, json_object_get(v));
        if (audit_append(monitor_state_dir(), "run.artifacts", f, &ignore) < 0)
                monitor_log("audit: %s", ignore.msg);
        json_object_put(f);
}

/* Why the artifacts are not (or cannot be) collected; NULL: they may be. */
static const char *not_collected(void)
{
        if (problem)
                return problem;
        if (monitor_workload_timed_out())
                return "not collected: the workload timed out";
        if (!monitor_workload_exited())
                return "not collected: the workload did not finish";
        if (!done_seen)
                return "the agent did not report its artifacts";
        return NULL;
}

/* How far the download is, for `mlvm run`: every 2 s at most. */
#define PROGRESS_EVERY_USEC (2 * USEC_PER_SEC)
static void say_bytes(void *u, uint64_t done, uint64_t total)
{
        usec_t *last = u, now = now_usec();
        if (done < total && now - *last < PROGRESS_EVERY_USEC)
                return;
        *last = now;
        monitor_control_progress("artifacts: %.1f of %.1f MiB read", (double)done / 1048576.0,
                                 (double)total / 1048576.0);
}

/* The artifact volume, read through libvirt and checked against the reports. */
static int collect_volume(virStoragePoolPtr pool, const char *volname, const char *dest, struct mlvm_err *e)
{
        virStorageVolPtr vol = pool ? virStorageVolLookupByName(pool, volname) : NULL;
        struct artifact_report rep = { reps, n_reps, tar_size, "" };
        struct untar u = { .run_id = monitor_run_id() };
        struct artifact_parser parser;
        usec_t last = now_usec();
        const struct artifact_progress pr = { .bytes = say_bytes, .u = &last };
        int r;

        memcpy(rep.tar_sha256, tar_sha, sizeof(rep.tar_sha256));
        if (!vol)
                return err_virt(e, "artifact volume %s", volname);
        /* The guest wrote the stream: it is parsed by a child without
         * privilege, as the run's QEMU uid (untar.h); this process writes. */
        gate_identity(monitor_record(), &u.uid, &u.gid);
        untar_parser(&u, &parser);
        monitor_control_progress("artifacts: collecting %zu files, a %.1f MiB stream", n_reps,
                                 (double)tar_size / 1048576.0);
        r = artifacts_collect(vol, &rep, &artifact_default_limits, &parser, &pr, dest, e);
        virStorageVolFree(vol);
        return r;
}

/* After the guest is gone, before the run's volumes are deleted (the
 * guest is gone: its artifact stream is complete and nobody writes it).
 * Returns the summary for the run record (also audited; NULL when the
 * run keeps no artifacts); *RET_FAILURE when the run must count as failed. */
static json_object *artifacts_collect_run(virStoragePoolPtr pool, char **ret_failure)
{
        struct mlvm_err e = { 0 };
        const char *dir = json_str(monitor_record(), "artifacts_dir");
        const char *volname = json_str(monitor_record(), "artifacts_volume");

        if (!dir || !volname)
                return NULL;
        json_object *o = json_object_new_object();
        const char *why = not_collected();
        bool collected = !why;
        usec_t t0 = now_usec();
        _cleanup_free_ char *dest = run_file(monitor_state_dir(), monitor_run_id(), "artifacts");
        if (!why && collect_volume(pool, volname, dest, &e) < 0)
                why = e.msg;
        double secs = usec_to_sec(now_usec() - t0);
        uint64_t bytes = 0;
        for (size_t i = 0; i < n_reps; i++)
                bytes += reps[i].size;
        json_object_object_add(o, "accepted", json_object_new_boolean(!why));
        if (why) {
                json_object_object_add(o, "error", json_object_new_string(why));
                if (!monitor_workload_timed_out() && monitor_workload_exited())
                        *ret_failure = xasprintf("artifacts rejected: %s", why);
        } else {
                json_object_object_add(o, "count", json_object_new_int64((int64_t)n_reps));
                json_object_object_add(o, "bytes", json_object_new_int64((int64_t)bytes));
                json_object_object_add(o, "stream_bytes", json_object_new_int64((int64_t)tar_size));
                json_object_object_add(o, "stream_sha256", json_object_new_string(tar_sha));
                json_object_object_add(o, "collect_s", json_object_new_double(secs));
        }
        monitor_log("artifacts: %s%s", why ? "rejected: " : "accepted", why ? why : "");
        if (collected && why)
                monitor_control_progress("artifacts: rejected: %s", why);
        else if (collected)
                monitor_control_progress("artifacts: %zu files (%.1f MiB) checked in %.1f s", n_reps,
                                         (double)bytes / 1048576.0, secs);
        record_result(o);
        return o;
}

static void set_provenance(json_object *run, void *u)
{
        json_object_object_add(run, "provenance_sha256", json_object_new_string(u));
}

/* The signed record of a finished run, over what was accepted; a run
 * whose agent never said HELLO ran nothing to sign. */
static void provenance_run(void)
{
        struct mlvm_err e = { 0 };
        json_object *run = NULL, *a;
        struct artifact *arts = NULL;
        size_t n = 0;
        char sha[SHA256_HEX_LEN + 1];

        if (!monitor_said_hello())
                return;
        if (run_load(monitor_state_dir(), monitor_run_id(), &run, &e) < 0) {
                monitor_log("provenance: %s", e.msg);
                return;
        }
        _cleanup_free_ char *dir = run_file(monitor_state_dir(), monitor_run_id(), "artifacts");
        if (json_object_object_get_ex(run, "artifacts", &a) && json_object_get_boolean(json_object_object_get(a, "accepted")) &&
            artifacts_scan(dir, &arts, &n, &e) < 0) {
                monitor_log("provenance: %s", e.msg);
                json_object_put(run);
                return;
        }
        if (provenance_write(monitor_state_dir(), monitor_run_id(), run, arts, n, sha, &e) < 0)
                monitor_log("provenance: %s", e.msg);
        else {
                (void)run_update(monitor_state_dir(), monitor_run_id(), set_provenance, sha, NULL);
                json_object *f = json_object_new_object();
                json_object_object_add(f, "run", json_object_new_string(monitor_run_id()));
                json_object_object_add(f, "name", json_object_new_string(monitor_name()));
                json_object_object_add(f, "sha256", json_object_new_string(sha));
                json_object_object_add(f, "subjects", json_object_new_int64((int64_t)n));
                if (audit_append(monitor_state_dir(), "run.provenance", f, &e) < 0)
                        monitor_log("audit: %s", e.msg);
                json_object_put(f);
                monitor_log("provenance signed: %s (%zu subjects)", sha, n);
        }
        free(arts);
        json_object_put(run);
}

static void artifacts_on_frame(const struct proto_msg *m)
{
        if (m->type == PROTO_ARTIFACT)
                on_report(m);
        else if (m->type == PROTO_ARTIFACTS_DONE)
                on_done(m);
        else if (m->type == PROTO_ERROR)
                on_error(m->u.error.message);
}

const struct monitor_handler monitor_artifacts_handler = {
        .name = "artifacts",
        .frames = (const uint8_t[]){ PROTO_ARTIFACT, PROTO_ARTIFACTS_DONE, 0 },
        .on_frame = artifacts_on_frame,
        .error_code = PROTO_E_ARTIFACTS,
        .collect = artifacts_collect_run,
        .finished = provenance_run,
};
