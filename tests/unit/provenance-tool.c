/* provenance-tool.c: writes a run's provenance for tests/cli/verify.sh,
 * where no monitor runs (the monitor is what writes it for real runs).
 *   provenance-tool write STATE RUNID   signs runs/RUNID/provenance.json over
 *                                       the files under runs/RUNID/artifacts
 *                                       and prints the file's SHA-256
 * Exit 0 on success, 1 with "provenance-tool: MESSAGE" on stderr otherwise. */
#include "mlvm-build.h"

#include "provenance.h"
#include "run.h"
#include "util.h"
#include "virt.h"

int main(int argc, char **argv)
{
        _cleanup_json_ json_object *run = NULL;
        _cleanup_free_ struct artifact *arts = NULL;
        _cleanup_free_ char *dir = NULL;
        struct mlvm_err e = { 0 };
        char sha[SHA256_HEX_LEN + 1];
        size_t n = 0;

        if (argc != 4 || !streq(argv[1], "write")) {
                fprintf(stderr, "usage: provenance-tool write STATE RUNID\n");
                return 2;
        }
        if (!run_id_is_valid(argv[3])) {
                fprintf(stderr, "provenance-tool: %s is not a run id\n", argv[3]);
                return 1;
        }
        dir = run_file(argv[2], argv[3], "artifacts");
        if (run_load(argv[2], argv[3], &run, &e) < 0 || provenance_scan(dir, &arts, &n, &e) < 0 ||
            provenance_write(argv[2], argv[3], run, arts, n, sha, &e) < 0) {
                fprintf(stderr, "provenance-tool: %s\n", e.msg);
                return 1;
        }
        printf("%s\n", sha);
        return 0;
}
