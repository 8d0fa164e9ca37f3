/* replay.c: run every file of a fuzz corpus through LLVMFuzzerTestOneInput,
 * so that make check (built without libFuzzer) exercises the same target.
 * Arguments name files or directories; the default is CORPUS_DIR. */
#include "mlvm-build.h"

#include <dirent.h>
#include <stdint.h>
#include <sys/stat.h>

#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REPLAY_MAX_BYTES (4 * 1024 * 1024)

static int replay_file(const char *path)
{
        _cleanup_free_ char *buf = NULL;
        size_t len;
        int r = read_file_capped(path, REPLAY_MAX_BYTES, &buf, &len);

        if (r < 0) {
                fprintf(stderr, "replay: %s: %s\n", path, strerror(-r));
                return -1;
        }
        (void)LLVMFuzzerTestOneInput((const uint8_t *)buf, len);
        return 0;
}

static int replay(const char *path, size_t *count)
{
        struct stat st;
        if (stat(path, &st) < 0) {
                fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
                return -1;
        }
        if (!S_ISDIR(st.st_mode)) {
                (*count)++;
                return replay_file(path);
        }
        struct dirent **names = NULL;
        int n = scandir(path, &names, NULL, alphasort), r = 0;
        if (n < 0) {
                fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
                return -1;
        }
        for (int i = 0; i < n; i++) {
                if (names[i]->d_name[0] != '.') {
                        _cleanup_free_ char *p = xasprintf("%s/%s", path, names[i]->d_name);
                        if (replay(p, count) < 0)
                                r = -1;
                }
                free(names[i]);
        }
        free(names);
        return r;
}

int main(int argc, char **argv)
{
        size_t count = 0;
        int r = 0;

        if (argc < 2)
                r = replay(CORPUS_DIR, &count);
        for (int i = 1; i < argc; i++)
                if (replay(argv[i], &count) < 0)
                        r = -1;
        /* TAP, like the other tests: one point for the whole corpus. */
        printf("1..1\n%s 1 - replayed %zu corpus inputs without a crash%s\n",
               r < 0 || count == 0 ? "not ok" : "ok", count, count == 0 ? " (empty corpus)" : "");
        return r < 0 || count == 0 ? 1 : 0;
}
