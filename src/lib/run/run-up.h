/* run-up.h: `mlvm up` as a library call. */
#pragma once

#include <stdbool.h>

#include "config.h"
#include "err.h"
#include "host.h"
#include "run.h"

struct up_opts {
        const char *state_dir, *uri, *pool_name;
        const struct mlvm_config *config;
        const struct mlvm_workload *workload;
        unsigned boot_timeout_s;     /* HELLO deadline */
        const char *kernel_args;     /* appended to the image's command line (debugging) */
        bool no_wait;                /* return once the domain and monitor started */
        unsigned revoke_timeout_ms;  /* down: wait this long for the agent to confirm revocation (0: 2000) */
        bool experiment;             /* mlvm run: the workload is an experiment */
        const struct mlvm_publish *publish;   /* --publish, besides the config's */
        size_t n_publish;
        bool publish_public;         /* --publish-public: non-loopback addresses allowed */
        uint64_t artifact_disk_size; /* bytes of the raw artifact disk (0: RUN_ARTIFACT_DISK_SIZE) */
        enum mlvm_accel_request accel;   /* --accel, else $MLVM_ACCEL, else the config's */
        const char *restart_of;      /* up --restart-of: the ended run this one restarts (run-restart.h) */
};

#define RUN_ARTIFACT_DISK_SIZE (4ULL << 30)   /* sparse: costs what is written */
#define RUN_ARTIFACT_SERIAL "mlvm-artifacts"

struct up_result {
        char id[RUN_ID_LEN + 1];
        enum mlvm_accel accel;
        double ready_s;              /* from the start of up to agent ready */
        double verify_s, volumes_s, overlay_s, create_s;
        /* What the user should know: KVM not used and why, controls left out. */
#define UP_MAX_NOTICES 8
#define UP_NOTICE_MAX  768
        char notices[UP_MAX_NOTICES][UP_NOTICE_MAX];
        size_t n_notices;
};

/* Start a run. SIGINT, SIGTERM or SIGHUP while it starts undoes it
 * (-EINTR, nothing left) and stays noted: run_up_interrupted() tells a
 * caller starting several to stop. */
int run_up(const struct up_opts *o, struct up_result *ret, struct mlvm_err *e);
bool run_up_interrupted(void);

/* The keys of workload W (of config C) that up and run refuse whatever
 * the host and the command line: a model's artifacts or timeout, transport
 * vsock (not landed yet). run_up checks them first; `mlvm config check`
 * calls this too, so a file it passes is not then refused by up. */
int up_check_workload(const struct mlvm_config *c, const struct mlvm_workload *w, struct mlvm_err *e);
/* Models start with up, experiments with run (EXPERIMENT): -ENOTSUP naming
 * the file, the position and the verb that starts W otherwise. */
int up_check_kind(const struct mlvm_config *c, const struct mlvm_workload *w, bool experiment, struct mlvm_err *e);
