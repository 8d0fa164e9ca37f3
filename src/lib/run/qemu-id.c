/* qemu-id.c: per-run QEMU uids, the range and the claims; see qemu-id.h. */
#include "mlvm-build.h"

#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>

#include "json-util.h"
#include "qemu-id.h"
#include "units.h"
#include "util.h"

const struct qemu_id_files qemu_id_host_files = { "/etc/passwd", "/etc/group", "/etc/subuid", "/etc/subgid" };

int qemu_id_range_parse(const char *s, struct qemu_id_range *ret, struct mlvm_err *e)
{
        char out[SHOWN_MAX];
        uint64_t first = 0, last = 0;

        if (streq(s, "off")) {
                *ret = (struct qemu_id_range){ .off = true };
                return 0;
        }
        const char *dash = strchr(s, '-');
        _cleanup_free_ char *a = dash ? xstrndup(s, (size_t)(dash - s)) : NULL;
        if (!dash || parse_uint(a, 0, UINT32_MAX, &first) < 0 || parse_uint(dash + 1, 0, UINT32_MAX, &last) < 0)
                return err_setx(e, -EINVAL, "$%s \"%s\": not FIRST-LAST (decimal uids) or off", QEMU_ID_ENV,
                                shown(s, out));
        if (first < QEMU_ID_MIN || last > QEMU_ID_MAX || first > last)
                return err_setx(e, -ERANGE, "$%s \"%s\": must lie within %u-%u, FIRST <= LAST", QEMU_ID_ENV,
                                shown(s, out), QEMU_ID_MIN, QEMU_ID_MAX);
        *ret = (struct qemu_id_range){ .first = (uint32_t)first, .last = (uint32_t)last };
        return 0;
}

int qemu_id_range_from_env(struct qemu_id_range *ret, struct mlvm_err *e)
{
        const char *s = getenv("MLVM_QEMU_UIDS");   /* QEMU_ID_ENV */
        return qemu_id_range_parse(s && *s ? s : QEMU_ID_DEFAULT, ret, e);
}

static bool in_range(const struct qemu_id_range *r, uint64_t first, uint64_t last)
{
        return first <= r->last && last >= r->first;
}

static int conflict(const struct qemu_id_range *r, const char *path, const char *what, const char *name,
                    uint64_t first, uint64_t last, struct mlvm_err *e)
{
        char out[SHOWN_MAX];
        if (first == last)
                return err_setx(e, -EEXIST, "$%s %u-%u: %s %llu (%s) in %s lies in it", QEMU_ID_ENV, r->first,
                                r->last, what, (unsigned long long)first, shown(name, out), path);
        return err_setx(e, -EEXIST, "$%s %u-%u: %s range %llu-%llu (%s) in %s overlaps it", QEMU_ID_ENV, r->first,
                        r->last, what, (unsigned long long)first, (unsigned long long)last, shown(name, out), path);
}

/* "NAME:START:COUNT" lines (subuid(5)); lines that are not are skipped. */
static int check_sub(const struct qemu_id_range *r, const char *path, const char *what, FILE *f,
                     struct mlvm_err *e)
{
        char line[1024];
        while (fgets(line, sizeof(line), f)) {
                line[strcspn(line, "\n")] = '\0';
                char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
                uint64_t start, count;
                if (!c2)
                        continue;
                *c1 = *c2 = '\0';
                if (parse_uint(c1 + 1, 0, UINT32_MAX, &start) < 0 || parse_uint(c2 + 1, 1, UINT32_MAX, &count) < 0)
                        continue;
                if (in_range(r, start, start + count - 1))
                        return conflict(r, path, what, line, start, start + count - 1, e);
        }
        return 0;
}

/* One account file of kind K (0 passwd, 1 group, 2 subuid, 3 subgid). */
static int check_file(const struct qemu_id_range *r, const char *path, int k, struct mlvm_err *e)
{
        static const char *const what[] = { "uid", "gid", "subordinate uid", "subordinate gid" };
        if (!path)
                return 0;
        _cleanup_fclose_ FILE *f = fopen(path, "re");
        if (!f)
                return errno == ENOENT ? 0 : err_set(e, -errno, "%s", path);
        if (k >= 2)
                return check_sub(r, path, what[k], f, e);
        for (;;) {
                errno = 0;
                if (k == 0) {
                        struct passwd *pw = fgetpwent(f);
                        if (!pw)
                                break;
                        if (in_range(r, pw->pw_uid, pw->pw_uid))
                                return conflict(r, path, what[k], pw->pw_name, pw->pw_uid, pw->pw_uid, e);
                } else {
                        struct group *gr = fgetgrent(f);
                        if (!gr)
                                break;
                        if (in_range(r, gr->gr_gid, gr->gr_gid))
                                return conflict(r, path, what[k], gr->gr_name, gr->gr_gid, gr->gr_gid, e);
                }
        }
        /* fgetpwent skips nothing silently: a malformed line ends it with an error. */
        if (errno && errno != ENOENT)
                return err_set(e, -errno, "%s", path);
        return 0;
}

int qemu_id_range_check(const struct qemu_id_range *r, const struct qemu_id_files *files, struct mlvm_err *e)
{
        const char *paths[] = { files->passwd, files->group, files->subuid, files->subgid };
        int rc;
        if (r->off)
                return 0;
        for (int k = 0; k < 4; k++)
                if ((rc = check_file(r, paths[k], k, e)) < 0)
                        return rc;
        return 0;
}

char *qemu_id_label(uint32_t uid, uint32_t gid)
{
        return xasprintf("+%u:+%u", uid, gid);
}

bool qemu_id_label_parse(const char *s, uint32_t *ret_uid, uint32_t *ret_gid)
{
        const char *colon = s ? strchr(s, ':') : NULL;
        uint64_t u, g;
        if (!colon || s[0] != '+' || colon[1] != '+')
                return false;
        _cleanup_free_ char *a = xstrndup(s + 1, (size_t)(colon - s - 1));
        if (parse_uint(a, 0, UINT32_MAX - 1, &u) < 0 || parse_uint(colon + 2, 0, UINT32_MAX - 1, &g) < 0)
                return false;
        *ret_uid = (uint32_t)u;
        *ret_gid = (uint32_t)g;
        return true;
}

static bool is_busy(uint32_t uid, const uint32_t *busy, size_t n)
{
        for (size_t i = 0; i < n; i++)
                if (busy[i] == uid)
                        return true;
        return false;
}

int qemu_id_claim(const char *dir, const struct qemu_id_range *r, const uint32_t *busy, size_t n_busy,
                  const char *owner, const char *run_id, const char *state_dir, uint32_t *ret_uid,
                  struct mlvm_err *e)
{
        int rc;
        if (r->off)
                return err_setx(e, -EINVAL, "$%s is off: no uid to claim", QEMU_ID_ENV);
        if ((rc = mkdir_p(dir, 0700)) < 0)
                return err_set(e, rc, "%s", dir);
        _cleanup_json_ json_object *o = json_object_new_object();
        json_object_object_add(o, "owner", json_object_new_string(owner));
        json_object_object_add(o, "run", json_object_new_string(run_id));
        json_object_object_add(o, "state_dir", json_object_new_string(state_dir));
        json_object_object_add(o, "pid", json_object_new_int((int32_t)getpid()));
        const char *text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
        /* Whole before it has its name: link(2) publishes it or fails with EEXIST. */
        _cleanup_free_ char *tmp = xasprintf("%s/.claim.%d.%s", dir, (int)getpid(), run_id);
        _cleanup_close_ int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
                return err_set(e, -errno, "%s", tmp);
        if ((rc = write_full(fd, text, strlen(text))) < 0 || (rc = write_full(fd, "\n", 1)) < 0 ||
            (fsync(fd) < 0 && (rc = -errno) < 0)) {
                (void)unlink(tmp);
                return err_set(e, rc, "%s", tmp);
        }
        rc = -ENOSPC;
        uint32_t uid = r->first;
        for (;; uid++) {
                if (!is_busy(uid, busy, n_busy) && !getpwuid(uid)) {
                        _cleanup_free_ char *path = xasprintf("%s/%u", dir, uid);
                        if (link(tmp, path) == 0) {
                                rc = 0;
                                break;
                        }
                        if (errno != EEXIST) {
                                rc = err_set(e, -errno, "%s", path);
                                break;
                        }
                }
                if (uid == r->last)
                        break;
        }
        (void)unlink(tmp);
        if (rc == -ENOSPC)
                return err_setx(e, rc, "$%s %u-%u: every uid is claimed or in use (claims in %s)", QEMU_ID_ENV,
                                r->first, r->last, dir);
        if (rc < 0)
                return rc;
        *ret_uid = uid;
        return 0;
}

/* Claims are root's files, but read as any input: capped, strict, checked. */
int qemu_id_read(const char *dir, uint32_t uid, struct qemu_id_claim *ret, struct mlvm_err *e)
{
        _cleanup_free_ char *path = xasprintf("%s/%u", dir, uid);
        _cleanup_close_ int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        char buf[QEMU_ID_CLAIM_MAX + 1];
        struct stat st;

        if (fd < 0)
                return errno == ENOENT ? -ENOENT : err_set(e, -errno, "%s", path);
        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > QEMU_ID_CLAIM_MAX)
                return err_setx(e, -EINVAL, "%s: not a uid claim", path);
        ssize_t n = read_retry(fd, buf, QEMU_ID_CLAIM_MAX + 1);
        if (n < 0 || n > QEMU_ID_CLAIM_MAX)
                return err_setx(e, -EINVAL, "%s: not a uid claim", path);
        while (n > 0 && buf[n - 1] == '\n')
                n--;
        _cleanup_json_ json_object *o = json_parse_object(buf, (size_t)n, 4);
        const char *owner = o ? json_str(o, "owner") : NULL, *run = o ? json_str(o, "run") : NULL;
        const char *sd = o ? json_str(o, "state_dir") : NULL;
        if (!owner || !run || !sd || strlen(owner) != RUN_OWNER_LEN || !run_id_is_valid(run) ||
            strlen(sd) >= sizeof(ret->state_dir))
                return err_setx(e, -EINVAL, "%s: not a uid claim", path);
        struct qemu_id_claim c = { .uid = uid };
        memcpy(c.owner, owner, RUN_OWNER_LEN + 1);
        memcpy(c.run, run, RUN_ID_LEN + 1);
        memcpy(c.state_dir, sd, strlen(sd) + 1);
        *ret = c;
        return 0;
}

int qemu_id_release(const char *dir, uint32_t uid, const char *owner, const char *run_id, struct mlvm_err *e)
{
        struct qemu_id_claim c;
        int rc = qemu_id_read(dir, uid, &c, e);
        if (rc == -ENOENT)
                return 0;
        if (rc < 0)
                return rc;
        if (!streq(c.owner, owner) || !streq(c.run, run_id))
                return err_setx(e, -EBUSY, "uid %u is claimed by run %s of %s", uid, c.run, c.state_dir);
        _cleanup_free_ char *path = xasprintf("%s/%u", dir, uid);
        if (unlink(path) < 0 && errno != ENOENT)
                return err_set(e, -errno, "%s", path);
        return 0;
}

int qemu_id_list(const char *dir, struct qemu_id_claim **ret, size_t *ret_n, struct mlvm_err *e)
{
        DIR *d = opendir(dir);
        struct qemu_id_claim *v = NULL;
        size_t n = 0;
        struct dirent *de;

        if (!d) {
                if (errno != ENOENT)
                        return err_set(e, -errno, "%s", dir);
                *ret = NULL;
                *ret_n = 0;
                return 0;
        }
        while ((de = readdir(d))) {
                uint64_t uid;
                struct qemu_id_claim c;
                if (parse_uint(de->d_name, 0, UINT32_MAX - 1, &uid) < 0 || qemu_id_read(dir, (uint32_t)uid, &c, NULL) < 0)
                        continue;
                v = xreallocarray(v, n + 1, sizeof(*v));
                v[n++] = c;
        }
        closedir(d);
        *ret = v;
        *ret_n = n;
        return 0;
}

int qemu_id_release_run(const char *dir, json_object *run, struct mlvm_err *e)
{
        const char *owner = json_str(run, "owner"), *id = json_str(run, "id");
        json_object *x;
        int64_t uid = json_object_object_get_ex(run, "qemu_uid", &x) && json_object_is_type(x, json_type_int)
                              ? json_object_get_int64(x) : -1;
        if (!owner || !id || uid < QEMU_ID_MIN || uid > QEMU_ID_MAX)
                return 0;   /* no uid of its own: nothing to release */
        return qemu_id_release(dir, (uint32_t)uid, owner, id, e);
}
