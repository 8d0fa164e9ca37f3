/* run-stats.h: per-run CPU, memory and disk figures for `mlvm stats`, from
 * libvirt's domain stats (virDomainListGetStats with the cpu-total,
 * balloon, block and state groups), so that they come the same way over a
 * local or a remote URI.
 *
 * Two concerns, two files: run-stats.c turns libvirt's typed parameters
 * into a sample and two samples into figures, and renders them (pure, fed
 * recorded parameters by tests/unit/test-run-stats.c); run-stats-collect.c
 * finds the domains of this state directory's live runs and samples them. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>
#include <libvirt/libvirt.h>

#include "err.h"
#include "mtime.h"
#include "run.h"

/* More block devices than a run ever has (root, data disks, artifacts):
 * a reply naming more is refused rather than walked. */
#define STATS_BLOCK_MAX 64

/* One domain's figures as libvirt reported them at one moment. */
struct stats_sample {
        bool has_cpu, has_memory, has_rss, has_state;
        uint64_t cpu_ns;        /* cpu.time: the guest's and QEMU's threads, since start */
        uint64_t memory_kib;    /* balloon.current: the guest's memory (no balloon: all of it) */
        uint64_t rss_kib;       /* balloon.rss: what QEMU holds resident on the host */
        uint64_t rd_bytes, wr_bytes, rd_ops, wr_ops;   /* summed over the block devices */
        unsigned n_block;
        int state;              /* state.state, a virDomainState */
};

/* Read the typed parameters of one domain's stats record into RET.
 * Unknown keys are skipped (libvirt adds groups and fields); a known key
 * with the wrong type, a block index past block.count or a block.count
 * past STATS_BLOCK_MAX is -EPROTO naming the key. */
int stats_sample_parse(const virTypedParameter *params, int n, struct stats_sample *ret, struct mlvm_err *e);

/* CPU as a percentage of one host CPU (100 = one CPU busy the whole
 * interval, as docker stats and top count), from two samples of the same
 * domain taken at monotonic times T0 < T1. -1 when it cannot be known:
 * a sample without cpu.time, no time between them, or a counter that went
 * backwards (the domain restarted). */
double stats_cpu_percent(const struct stats_sample *s0, usec_t t0, const struct stats_sample *s1, usec_t t1);

/* One line of the table or one element of the JSON array. */
struct stats_row {
        char id[RUN_ID_LEN + 1];
        char *name;             /* the run's name ("" when none) */
        char *domain;
        struct stats_sample s;
        double cpu_percent;     /* -1: not known (first sample) */
        double interval_s;      /* between the two samples; 0 for the first */
};
void stats_rows_free(struct stats_row *rows, size_t n);

/* "0B", "512KiB", "45.2MiB", "1.50GiB": binary units, as docker stats. */
void stats_format_bytes(uint64_t bytes, char *buf, size_t len);
/* The table: its header, then one line per row (no newline). */
const char *stats_table_header(void);
void stats_format_row(const struct stats_row *r, char *buf, size_t len);
/* The rows as a JSON array with stable keys (README, "mlvm stats"):
 * name, run, domain, state, cpu_percent (null when not known),
 * memory_bytes, memory_rss_bytes (null when libvirt gave none),
 * memory_percent, block_read_bytes, block_write_bytes, block_read_ops,
 * block_write_ops, interval_s. */
json_object *stats_rows_to_json(const struct stats_row *rows, size_t n);

/* A stats session: a connection to URI and the runs it watches. REFS
 * (names or run ids, or unique prefixes of at least 4 digits) each must
 * name a live run of this state directory on URI, else -ENOENT naming
 * the first that does not; none: every live run, also those started
 * later. Only domains whose mlvm metadata names the run and this state
 * directory's identity are sampled (another tenant's domain never is). */
struct run_stats;
int run_stats_open(const char *state_dir, const char *uri, char *const *refs, size_t n_refs,
                   struct run_stats **ret, struct mlvm_err *e);
/* Sample every watched run that is live now; each row's CPU figure is
 * against that run's previous sample in this session (-1 on its first).
 * Runs that ended drop out; with REFS, once all ended the rows are none. */
int run_stats_sample(struct run_stats *st, struct stats_row **ret, size_t *ret_n, struct mlvm_err *e);
void run_stats_free(struct run_stats *st);
static inline void run_stats_freep(struct run_stats **st) { run_stats_free(*st); }
