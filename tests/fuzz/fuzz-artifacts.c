/* fuzz-artifacts.c: libFuzzer target for the artifact tar reader
 * (src/lib/artifacts/artifacts.c): the input is the guest's stream, its size and SHA-256
 * reported truthfully and no files reported, so parsing goes on until the
 * first regular file (which is then refused as unreported) or the end. The
 * source hands out the input in uneven pieces. Beyond memory errors, it
 * traps when a refusal is not one line, when anything is left behind after
 * a failure, when anything appears outside the staging directory, or when
 * the reader asks for bytes past the reported size. */
#include "mlvm-build.h"

#include <dirent.h>
#include <ftw.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>

#include "artifacts.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct src {
        const uint8_t *p;
        size_t len, pos, calls;
};

static ssize_t src_read(void *opaque, void *buf, size_t len, struct mlvm_err *e)
{
        struct src *s = opaque;
        size_t piece = 1 + (s->calls++ * 7919) % 9000;
        if (len > s->len - s->pos)
                __builtin_trap(); /* asked past the reported size */
        size_t n = len < piece ? len : piece;
        memcpy(buf, s->p + s->pos, n);
        s->pos += n;
        return (ssize_t)n;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
        return flag == FTW_DP ? rmdir(path) : unlink(path);
}

static int entries(const char *dir)
{
        DIR *d = opendir(dir);
        struct dirent *de;
        int n = 0;
        if (!d)
                __builtin_trap();
        while ((de = readdir(d)))
                n += de->d_name[0] != '.' || (de->d_name[1] && (de->d_name[1] != '.' || de->d_name[2]));
        closedir(d);
        return n;
}

static char *top, *dest;

static void rm_top(void) { (void)rmdir(top); }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static const struct artifact_limits lim = { .max_entries = 64, .max_file = 1 << 20, .max_total = 4 << 20 };
        struct artifact_report rep = { .tar_size = size };
        struct src s = { .p = data, .len = size };
        struct mlvm_err e = { 0 };

        if (!top) {
                char tmpl[] = "/tmp/mlvm-fuzz-artifacts-XXXXXX";
                if (!mkdtemp(tmpl))
                        __builtin_trap();
                top = xstrdup(tmpl);
                dest = xasprintf("%s/out", tmpl);
                atexit(rm_top);
        }
        sha256_hex(data, size, rep.tar_sha256);
        int r = artifacts_extract(src_read, &s, &rep, &lim, NULL, dest, &e);
        if (r < 0 && (!e.msg[0] || strchr(e.msg, '\n') || e.code != r || !strstartswith(e.msg, "artifact ")))
                __builtin_trap();
        if (r < 0 && entries(top) != 0)
                __builtin_trap(); /* the staging directory, or something next to it, survived */
        if (r == 0 && (s.pos != size || entries(top) != 1))
                __builtin_trap();
        if (r == 0 && nftw(dest, rm_one, 16, FTW_DEPTH | FTW_PHYS) != 0)
                __builtin_trap();
        return 0;
}
