/* evil.c: the hostile test agent, mlvm-agent-evil: TEST BUILDS ONLY,
 * never installed or packed into a real image (tests/integration/
 * experiments.sh packs it into its own test image).
 *
 * It is the production agent (every object of guest-agent/) linked with
 * this file, which installs its own artifact writer before main() runs
 * (artifacts_set_writer(), agent-artifacts.h). When the workload leaves a
 * file .mlvm-evil in the artifact directory, it writes the hostile
 * artifact stream the file's first line names, so that the host's checks
 * are tested against bytes that really travel through the artifact volume
 * and virStorageVolDownload; without it, the stream is the honest one
 * (artifacts_write_tree()). Reports stay honest except where the case is
 * a lie in the report itself; the stream's own size and digest are always
 * reported truthfully, so it is the host's entry rules that must catch it. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "agent-artifacts.h"
#include "agent-util.h"
#include "tar.h"
#include "transport.h"

static int report(const char *path, const void *data, size_t len, const char *claim)
{
        static struct proto_msg m;
        struct sha256 h;
        m = (struct proto_msg){ .type = PROTO_ARTIFACT, .id = 0 };
        proto_strlcpy(m.u.artifact.path, path, sizeof(m.u.artifact.path));
        m.u.artifact.size = len;
        sha256_init(&h);
        sha256_update(&h, claim ? claim : data, claim ? strlen(claim) : len);
        sha256_final_hex(&h, m.u.artifact.digest);
        return transport_send(&m);
}

static int file(struct tarw *w, const char *name, const char *data)
{
        size_t len = strlen(data);
        int r = tarw_header(w, name, '0', len, NULL, 0, 0);
        if (r == 0)
                r = tarw_data(w, data, len);
        return r ? r : tarw_pad(w, len);
}

/* The hostile stream .mlvm-evil names, written to W: > 0 when it did (FILES
 * reported), 0 when there is no .mlvm-evil, -errno when the case failed. */
static int evil_artifacts(const char *dir, struct tarw *w, uint32_t *files, char *why, size_t cap)
{
        char path[PROTO_PATH_MAX * 2 + 16], what[64] = "";
        (void)snprintf(path, sizeof(path), "%s/.mlvm-evil", dir);
        int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return 0;
        ssize_t n = read(fd, what, sizeof(what) - 1);
        close(fd);
        what[n > 0 ? n : 0] = 0;
        what[strcspn(what, "\n")] = 0;
        util_log("EVIL TEST AGENT: writing a hostile artifact stream: %s", what);
        int r = -EINVAL;
        *files = 0;
        if (!strcmp(what, "dotdot"))
                r = file(w, "../x", "escaped\n");
        else if (!strcmp(what, "absolute"))
                r = file(w, "/etc/x", "escaped\n");
        else if (!strcmp(what, "symlink"))
                r = tarw_header(w, "link", '2', 0, "/etc/passwd", 0, 0);
        else if (!strcmp(what, "hardlink")) {
                r = file(w, "a", "aaa\n");
                if (r == 0 && (r = report("a", "aaa\n", 4, NULL)) == 0)
                        r = tarw_header(w, "b", '1', 0, "a", 0, 0);
                *files = 1;
        } else if (!strcmp(what, "device"))
                r = tarw_header(w, "null", '3', 0, NULL, 1, 3);
        else if (!strcmp(what, "fifo"))
                r = tarw_header(w, "fifo", '6', 0, NULL, 0, 0);
        else if (!strcmp(what, "oversize")) {
                /* Declares 17 GiB, carries a few bytes: the header alone must be refused. */
                r = tarw_header(w, "huge.bin", '0', 17ULL << 30, NULL, 0, 0);
                if (r == 0)
                        r = tarw_data(w, "x", 1);
                if (r == 0)
                        r = tarw_pad(w, 1);
        } else if (!strcmp(what, "many")) {
                /* Directories need no report: only the entry cap stops them. */
                for (unsigned i = 0; i < 10001 && r <= 0; i++) {
                        char name[32];
                        (void)snprintf(name, sizeof(name), "d%05u/", i);
                        r = tarw_header(w, name, '5', 0, NULL, 0, 0);
                }
        } else if (!strcmp(what, "digest")) {
                /* The bytes are "real model", the report claims "fake model". */
                r = file(w, "model.bin", "real model\n");
                if (r == 0)
                        r = report("model.bin", "real model\n", 11, "fake model\n");
                *files = 1;
        } else
                (void)snprintf(why, cap, "evil: unknown case %s", what);
        if (r < 0 && !why[0])
                (void)snprintf(why, cap, "evil %s: %s", what, strerror(-r));
        return r < 0 ? r : 1;
}

/* The hostile stream when .mlvm-evil asks for one; else, and when the case
 * is unknown or failed, the honest stream after whatever it wrote. */
static int evil_writer(const char *dir, struct tarw *w, char *why, size_t cap)
{
        uint32_t files = 0;
        if (evil_artifacts(dir, w, &files, why, cap) > 0)
                return (int)files;
        int n = artifacts_write_tree(dir, w, why, cap);
        return n < 0 ? n : n + (int)files;
}

__attribute__((constructor)) static void install_evil_writer(void)
{
        artifacts_set_writer(evil_writer);
}
