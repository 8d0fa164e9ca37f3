/* untar.h: the monitor's artifact parser, the one process that reads the
 * artifact disk's tar stream (docs/security.md, "The monitor's privilege
 * separation"). The privileged monitor reads the volume, hashes it and
 * writes the files (artifacts.h); the parsing runs here.
 *
 * For each collection the monitor starts it (untar_parser's START): fork,
 * the stream's pipe on fd 0, the records' pipe on fd 1, /dev/null on 2
 * and nothing else, supplementary groups dropped, gid and uid set to the
 * frame gate's (the run's QEMU uid, gate_identity), no capability in any
 * set, PR_SET_NO_NEW_PRIVS, then exec of this very binary as
 * `mlvm-monitor untar RUNID MAX_ENTRIES MAX_FILE MAX_TOTAL` with an empty
 * environment but MLVM_MONITOR_SECCOMP. It makes itself non-dumpable,
 * checks that it holds no privilege, sets up libarchive, installs its
 * seccomp filter (read on 0, write on 1, memory, exit) and then runs
 * artifact_tar_parse (artifact-tar.h).
 *
 * Test hook: with MLVM_TEST_PAUSE_AT=untar in the monitor's environment,
 * the monitor stops itself (SIGSTOP) once the parser said READY, so a
 * test can read the confined parser from /proc. */
#pragma once

#include <sys/types.h>

#include "artifacts.h"

struct untar {
        const char *run_id;
        uid_t uid;
        gid_t gid;
        pid_t pid;
};

/* The parser for artifacts_collect, under U's identity (U is its state). */
void untar_parser(struct untar *u, struct artifact_parser *ret);

/* The parser's seccomp filter, as untar_main installs it (also for
 * tests): read on 0, write on 1, brk, mmap without PROT_EXEC, munmap,
 * mremap and exit_group; anything else kills the process. */
int untar_seccomp(struct mlvm_err *e);

/* The parser's main: `mlvm-monitor untar RUNID MAX_ENTRIES MAX_FILE
 * MAX_TOTAL` (ARGV from "untar" on); exit code 0 after END, 1 otherwise. */
int untar_main(int argc, char **argv);
