/* disk-tool.c: a tiny driver of src/lib/virt/disk.c for tests/integration/disks.sh.
 *   disk-tool overlay URI POOL NAME BASE-VOLUME   prints the ms disk_create_overlay took
 *   disk-tool data URI POOL NAME SOURCE           prints the image's SHA-256 and the ms it took
 *   disk-tool artifacts URI POOL NAME BYTES
 *   disk-tool delete URI POOL RUN-ID
 *   disk-tool ls ISO-FILE                         prints "MODE SIZE SHA256 PATH" per entry
 * Exit 0 on success, 1 with "disk-tool: MESSAGE" on stderr otherwise. */
#include "mlvm-build.h"

#include <fcntl.h>
#include <time.h>
#include <archive.h>
#include <archive_entry.h>
#include <openssl/evp.h>

#include "disk.h"
#include "units.h"
#include "util.h"
#include "virt.h"
#include "volume.h"

static double now_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int ls(const char *path)
{
        struct archive *a = archive_read_new();
        struct archive_entry *ent;
        _cleanup_free_ char *buf = xmalloc(1 << 16);
        int r;

        if (archive_read_support_format_iso9660(a) != ARCHIVE_OK || archive_read_open_filename(a, path, 1 << 16) != ARCHIVE_OK) {
                fprintf(stderr, "disk-tool: %s: %s\n", path, archive_error_string(a));
                return 1;
        }
        while ((r = archive_read_next_header(a, &ent)) == ARCHIVE_OK) {
                EVP_MD_CTX *md = EVP_MD_CTX_new();
                unsigned char d[EVP_MAX_MD_SIZE];
                unsigned int dlen = 0;
                la_ssize_t n;
                (void)EVP_DigestInit_ex(md, EVP_sha256(), NULL);
                while ((n = archive_read_data(a, buf, 1 << 16)) > 0)
                        (void)EVP_DigestUpdate(md, buf, (size_t)n);
                (void)EVP_DigestFinal_ex(md, d, &dlen);
                EVP_MD_CTX_free(md);
                printf("%o %lld ", (unsigned)archive_entry_mode(ent), (long long)archive_entry_size(ent));
                for (unsigned i = 0; i < dlen; i++)
                        printf("%02x", d[i]);
                printf(" %s\n", archive_entry_pathname(ent));
        }
        if (r != ARCHIVE_EOF)
                fprintf(stderr, "disk-tool: %s: %s\n", path, archive_error_string(a));
        archive_read_free(a);
        return r == ARCHIVE_EOF ? 0 : 1;
}

int main(int argc, char **argv)
{
        _cleanup_virConnect_ virConnectPtr conn = NULL;
        _cleanup_virStoragePool_ virStoragePoolPtr pool = NULL;
        struct mlvm_err e = { 0 };
        int r;

        if (argc == 3 && streq(argv[1], "ls"))
                return ls(argv[2]);
        if (argc < 5) {
                fputs("usage: disk-tool overlay|data|artifacts|delete URI POOL ARGS... | ls ISO-FILE\n", stderr);
                return 2;
        }
        virt_init();
        if ((r = virt_connect(argv[2], &conn, &e)) < 0 || (r = volume_pool(conn, argv[3], &pool, &e)) < 0)
                goto out;
        if (streq(argv[1], "overlay") && argc == 6) {
                _cleanup_free_ char *base = volume_path(pool, argv[5], &e);
                if (!base) {
                        r = -EIO;
                        goto out;
                }
                double t0 = now_ms();
                if ((r = disk_create_overlay(pool, argv[4], base, 0, NULL, &e)) == 0)
                        printf("%.2f\n", now_ms() - t0);
        } else if (streq(argv[1], "data") && argc == 6) {
                char hex[SHA256_HEX_LEN + 1];
                double t0 = now_ms();
                if ((r = disk_create_data(pool, argv[4], argv[5], NULL, hex, &e)) == 0)
                        printf("%s %.2f\n", hex, now_ms() - t0);
        } else if (streq(argv[1], "artifacts") && argc == 6) {
                uint64_t size;
                if ((r = parse_uint(argv[5], 1, UINT64_MAX, &size)) < 0)
                        r = err_setx(&e, r, "bad size %s", argv[5]);
                else
                        r = disk_create_artifacts(pool, argv[4], size, NULL, &e);
        } else if (streq(argv[1], "delete") && argc == 5) {
                r = disk_delete_run(pool, argv[4], &e);
        } else {
                fputs("disk-tool: unknown command or wrong arguments\n", stderr);
                return 2;
        }
out:
        if (r < 0)
                fprintf(stderr, "disk-tool: %s\n", e.msg);
        return r < 0 ? 1 : 0;
}
