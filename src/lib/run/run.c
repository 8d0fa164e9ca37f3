/* run.c: run records in the state directory; see run.h. */
#include "mlvm-build.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <openssl/rand.h>

#include "run.h"
#include "units.h"
#include "cleanup.h"
#include "util.h"

bool run_state_is_live(const char *state)
{
        return state && (streq(state, RUN_STARTING) || streq(state, RUN_READY));
}

char *run_dir(const char *state_dir, const char *id) { return xasprintf("%s/runs/%s", state_dir, id); }

char *run_file(const char *state_dir, const char *id, const char *name)
{
        return xasprintf("%s/runs/%s/%s", state_dir, id, name);
}

int run_new_id(char ret[RUN_ID_LEN + 1])
{
        unsigned char b[RUN_ID_LEN / 2];
        if (RAND_bytes(b, sizeof(b)) != 1)
                return -EIO;
        for (size_t i = 0; i < sizeof(b); i++)
                (void)snprintf(ret + 2 * i, 3, "%02x", b[i]);
        return 0;
}

bool run_id_is_valid(const char *id)
{
        return strlen(id) == RUN_ID_LEN && strspn(id, "0123456789abcdef") == RUN_ID_LEN;
}

double run_now(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int run_load(const char *state_dir, const char *id, json_object **ret, struct mlvm_err *e)
{
        _cleanup_free_ char *path = run_file(state_dir, id, "run.json"), *buf = NULL;
        size_t len;
        int r = read_file_capped(path, RUN_JSON_MAX, &buf, &len);

        if (r < 0)
                return err_set(e, r, "run %s: %s", id, path);
        json_object *o = json_tokener_parse(buf);
        if (!o || !json_object_is_type(o, json_type_object)) {
                json_object_put(o);
                return err_setx(e, -EINVAL, "run %s: %s is not a JSON object", id, path);
        }
        *ret = o;
        return 0;
}

int run_save(const char *state_dir, const char *id, json_object *run, struct mlvm_err *e)
{
        _cleanup_free_ char *path = run_file(state_dir, id, "run.json");
        const char *s = json_object_to_json_string_ext(run, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                                                JSON_C_TO_STRING_NOSLASHESCAPE);
        int r = write_file_atomic(path, s, strlen(s), 0600);
        return r < 0 ? err_set(e, r, "write %s", path) : 0;
}

int run_update(const char *state_dir, const char *id, void (*fn)(json_object *run, void *u), void *u,
               struct mlvm_err *e)
{
        _cleanup_free_ char *lockpath = run_file(state_dir, id, "run.lock");
        _cleanup_close_ int lock = open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        _cleanup_json_ json_object *run = NULL;
        int r;

        if (lock < 0 || flock(lock, LOCK_EX) < 0)
                return err_set(e, -errno, "lock %s", lockpath);
        if ((r = run_load(state_dir, id, &run, e)) < 0)
                return r;
        fn(run, u);
        return run_save(state_dir, id, run, e);
}

struct state_change {
        const char *state, *why;
};

static void set_state(json_object *run, void *u)
{
        const struct state_change *c = u;
        _cleanup_free_ char *key = xasprintf("%s_at", c->state);
        json_object_object_add(run, "state", json_object_new_string(c->state));
        json_object_object_add(run, key, json_object_new_double(run_now()));
        if (c->why)
                json_object_object_add(run, "error", json_object_new_string(c->why));
}

int run_set_state(const char *state_dir, const char *id, const char *state, const char *why, struct mlvm_err *e)
{
        struct state_change c = { state, why };
        return run_update(state_dir, id, set_state, &c, e);
}

int run_name_get(const char *state_dir, const char *name, char ret[RUN_ID_LEN + 1])
{
        _cleanup_free_ char *path = xasprintf("%s/names/%s", state_dir, name), *buf = NULL;
        size_t len;

        if (!name_is_valid(name) || read_file_capped(path, 64, &buf, &len) < 0)
                return -ENOENT;
        while (len && buf[len - 1] == '\n')
                buf[--len] = '\0';
        if (!run_id_is_valid(buf))
                return -EINVAL;
        memcpy(ret, buf, RUN_ID_LEN + 1);
        return 0;
}

int run_name_set(const char *state_dir, const char *name, const char *id, struct mlvm_err *e)
{
        _cleanup_free_ char *dir = xasprintf("%s/names", state_dir), *path = xasprintf("%s/names/%s", state_dir, name);
        _cleanup_free_ char *text = xasprintf("%s\n", id);
        int r = mkdir_p(dir, 0700);
        if (r == 0)
                r = write_file_atomic(path, text, strlen(text), 0600);
        return r < 0 ? err_set(e, r, "%s", path) : 0;
}

void run_name_clear(const char *state_dir, const char *name, const char *id)
{
        /* Under the lock that up takes to claim a name: never drop a newer claim. */
        _cleanup_free_ char *lockpath = xasprintf("%s/runs.lock", state_dir);
        _cleanup_close_ int lock = open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        char cur[RUN_ID_LEN + 1];

        if (lock >= 0)
                (void)flock(lock, LOCK_EX);
        if (run_name_get(state_dir, name, cur) == 0 && streq(cur, id)) {
                _cleanup_free_ char *path = xasprintf("%s/names/%s", state_dir, name);
                (void)unlink(path);
        }
}

struct entry {
        char id[RUN_ID_LEN + 1];
        double created;
};

static int cmp_entry(const void *a, const void *b)
{
        double x = ((const struct entry *)a)->created, y = ((const struct entry *)b)->created;
        return x < y ? -1 : x > y;
}

int run_list(const char *state_dir, char (**ret)[RUN_ID_LEN + 1], size_t *ret_n, struct mlvm_err *e)
{
        _cleanup_free_ char *dir = xasprintf("%s/runs", state_dir);
        _cleanup_free_ struct entry *v = NULL;
        size_t n = 0;
        DIR *d = opendir(dir);
        struct dirent *de;

        if (!d && errno != ENOENT)
                return err_set(e, -errno, "%s", dir);
        while (d && (de = readdir(d))) {
                json_object *run = NULL, *x;
                if (!run_id_is_valid(de->d_name) || run_load(state_dir, de->d_name, &run, NULL) < 0)
                        continue;
                v = xreallocarray(v, n + 1, sizeof(*v));
                memcpy(v[n].id, de->d_name, RUN_ID_LEN + 1);
                v[n].created = json_object_object_get_ex(run, "created_at", &x) ? json_object_get_double(x) : 0;
                json_object_put(run);
                n++;
        }
        if (d)
                closedir(d);
        if (n)
                qsort(v, n, sizeof(*v), cmp_entry);
        char (*ids)[RUN_ID_LEN + 1] = xcalloc(n ? n : 1, sizeof(*ids));
        for (size_t i = 0; i < n; i++)
                memcpy(ids[i], v[i].id, RUN_ID_LEN + 1);
        *ret = ids;
        *ret_n = n;
        return 0;
}

int run_resolve(const char *state_dir, const char *ref, char ret[RUN_ID_LEN + 1], struct mlvm_err *e)
{
        char (*ids)[RUN_ID_LEN + 1] = NULL;
        size_t n = 0, hits = 0;
        int r;

        if (name_is_valid(ref) && run_name_get(state_dir, ref, ret) == 0)
                return 0;
        if ((r = run_list(state_dir, &ids, &n, e)) < 0)
                return r;
        /* The newest run of that name, or a run id prefix (at least 4 digits). */
        for (size_t i = n; i-- > 0;) {
                json_object *run = NULL, *x;
                bool match = strlen(ref) >= 4 && strncmp(ids[i], ref, strlen(ref)) == 0;
                if (!match && run_load(state_dir, ids[i], &run, NULL) == 0) {
                        match = json_object_object_get_ex(run, "name", &x) && streq(json_object_get_string(x), ref) &&
                                hits == 0;
                        json_object_put(run);
                }
                if (match) {
                        if (hits++ == 0)
                                memcpy(ret, ids[i], RUN_ID_LEN + 1);
                }
        }
        free(ids);
        if (hits == 0)
                return err_setx(e, -ENOENT, "%.64s: no such run or name (see mlvm ps --all)", ref);
        return 0;
}

bool run_name_is_live(const char *state_dir, const char *name, char ret[RUN_ID_LEN + 1])
{
        _cleanup_json_ json_object *run = NULL;
        char id[RUN_ID_LEN + 1];
        if (run_name_get(state_dir, name, id) < 0 || run_load(state_dir, id, &run, NULL) < 0)
                return false;
        const char *state = json_str(run, "state");
        if (!state || !run_state_is_live(state))
                return false;
        memcpy(ret, id, sizeof(id));
        return true;
}

int run_resolve_id(const char *state_dir, const char *prefix, char ret[RUN_ID_LEN + 1])
{
        char (*ids)[RUN_ID_LEN + 1] = NULL;
        size_t n = 0, hits = 0;

        if (strlen(prefix) < 4 || strlen(prefix) > RUN_ID_LEN || run_list(state_dir, &ids, &n, NULL) < 0)
                return -ENOENT;
        for (size_t i = 0; i < n; i++)
                if (strncmp(ids[i], prefix, strlen(prefix)) == 0 && hits++ == 0)
                        memcpy(ret, ids[i], RUN_ID_LEN + 1);
        free(ids);
        return hits == 1 ? 0 : -ENOENT;
}

int run_using_image(const char *state_dir, const char *digest, char ret[RUN_ID_LEN + 1])
{
        char (*ids)[RUN_ID_LEN + 1] = NULL;
        size_t n = 0;
        int r = -ENOENT;

        if (run_list(state_dir, &ids, &n, NULL) < 0)
                return -ENOENT;
        for (size_t i = 0; i < n && r < 0; i++) {
                json_object *run = NULL, *x, *d;
                if (run_load(state_dir, ids[i], &run, NULL) < 0)
                        continue;
                if (json_object_object_get_ex(run, "state", &x) && run_state_is_live(json_object_get_string(x)) &&
                    json_object_object_get_ex(run, "image_digest", &d) && streq(json_object_get_string(d), digest)) {
                        memcpy(ret, ids[i], RUN_ID_LEN + 1);
                        r = 0;
                }
                json_object_put(run);
        }
        free(ids);
        return r;
}

/* PID's command line into BUF (NUL-separated), its length; 0 when empty
 * or unreadable. */
static ssize_t read_cmdline(pid_t pid, char *buf, size_t size)
{
        char path[64];
        (void)snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return 0;
        ssize_t n = read(fd, buf, size - 1);
        close(fd);
        return n > 0 ? n : 0;
}

/* How long a live process's command line may read empty before it counts
 * as not a monitor: an exec in progress, 5 ms at a time. */
#define CMDLINE_EMPTY_TRIES 40

bool run_monitor_alive(pid_t pid, const char *id)
{
        char buf[512];
        if (pid <= 1 || kill(pid, 0) < 0)
                return false;
        /* A process in the middle of execve reads an empty command line:
         * the kernel closes the close-on-exec descriptors (monitor_spawn
         * waits for that) before it sets up the new program's arguments.
         * Under load up once read that moment as a dead monitor. A zombie
         * or a kernel thread stays empty; a monitor does not for long. */
        ssize_t n = 0;
        for (int i = 0; i < CMDLINE_EMPTY_TRIES && (n = read_cmdline(pid, buf, sizeof(buf))) == 0; i++) {
                if (kill(pid, 0) < 0)
                        return false;
                struct timespec ts = { 0, 5000000 };
                nanosleep(&ts, NULL);
        }
        if (n <= 0)
                return false;
        buf[n] = '\0';
        for (ssize_t i = 0; i < n; i++)
                if (!buf[i])
                        buf[i] = ' ';
        return strstr(buf, "mlvm-monitor") && strstr(buf, id);
}

int run_proc_start_time(pid_t pid, unsigned long long *ret)
{
        char path[64], buf[1024];
        (void)snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        ssize_t n = read(fd, buf, sizeof(buf) - 1);
        if (n <= 0)
                return -EIO;
        buf[n] = '\0';
        /* The command name may hold spaces and parentheses: fields count from the last ')'. */
        char *p = strrchr(buf, ')');
        if (!p)
                return -EIO;
        p++;
        for (int field = 2; field < 21; field++) {
                p = strchr(p + 1, ' ');
                if (!p)
                        return -EIO;
        }
        char *end;
        errno = 0;
        unsigned long long v = strtoull(p + 1, &end, 10);
        if (errno || end == p + 1 || (*end != ' ' && *end != '\0' && *end != '\n'))
                return -EIO;
        *ret = v;
        return 0;
}

/* /proc/PID/exe names the mlvm-monitor binary (" (deleted)" once it was
 * replaced by a rebuild or an upgrade: still the monitor that was started). */
static bool exe_is_monitor(pid_t pid)
{
        char path[64], target[4096];
        (void)snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
        ssize_t n = readlink(path, target, sizeof(target) - 1);
        if (n <= 0)
                return false;
        target[n] = '\0';
        const char *base = strrchr(target, '/');
        base = base ? base + 1 : target;
        return streq(base, "mlvm-monitor") || streq(base, "mlvm-monitor (deleted)");
}

bool run_monitor_matches(json_object *run, const char *id)
{
        json_object *x;
        pid_t pid = json_object_object_get_ex(run, "monitor_pid", &x) ? (pid_t)json_object_get_int(x) : 0;
        unsigned long long want, got;
        if (!json_object_object_get_ex(run, "monitor_start", &x) || !json_object_is_type(x, json_type_int))
                return false;
        want = (unsigned long long)json_object_get_int64(x);
        return run_monitor_alive(pid, id) && run_proc_start_time(pid, &got) == 0 && got == want &&
               exe_is_monitor(pid);
}

const char *run_effective_state(const char *state_dir, json_object *run, const char *id)
{
        json_object *x;
        const char *state = json_object_object_get_ex(run, "state", &x) ? json_object_get_string(x) : "unknown";
        if (!run_state_is_live(state))
                return state;
        if (run_up_in_progress(state_dir, id))
                return state;
        pid_t pid = json_object_object_get_ex(run, "monitor_pid", &x) ? (pid_t)json_object_get_int(x) : 0;
        return run_monitor_alive(pid, id) ? state : "failed (monitor gone)";
}

int run_up_lock(const char *state_dir, const char *id, int *ret_fd, struct mlvm_err *e)
{
        _cleanup_free_ char *path = run_file(state_dir, id, "up.lock");
        _cleanup_close_ int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0 || flock(fd, LOCK_EX) < 0)
                return err_set(e, -errno, "lock %s", path);
        *ret_fd = TAKE_FD(fd);
        return 0;
}

int run_up_trylock(const char *state_dir, const char *id, int *ret_fd)
{
        _cleanup_free_ char *path = run_file(state_dir, id, "up.lock");
        /* Never created here: a missing lock is a run being removed (it goes last). */
        _cleanup_close_ int fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return -errno;
        if (flock(fd, LOCK_EX | LOCK_NB) < 0)
                return errno == EWOULDBLOCK ? -EWOULDBLOCK : -errno;
        *ret_fd = TAKE_FD(fd);
        return 0;
}

bool run_up_in_progress(const char *state_dir, const char *id)
{
        int fd = -1;
        int r = run_up_trylock(state_dir, id, &fd);
        if (fd >= 0)
                close(fd);
        return r == -EWOULDBLOCK;
}

bool run_owner_is_valid(const char *owner)
{
        return owner && strlen(owner) == RUN_OWNER_LEN && strspn(owner, "0123456789abcdef") == RUN_OWNER_LEN;
}

static int owner_read(const char *path, char ret[RUN_OWNER_LEN + 1])
{
        _cleanup_free_ char *buf = NULL;
        size_t len;
        int r = read_file_capped(path, 64, &buf, &len);
        if (r < 0)
                return r;
        while (len && buf[len - 1] == '\n')
                buf[--len] = '\0';
        if (!run_owner_is_valid(buf))
                return -EBADMSG;
        memcpy(ret, buf, RUN_OWNER_LEN + 1);
        return 0;
}

int run_owner(const char *state_dir, bool create, char ret[RUN_OWNER_LEN + 1], struct mlvm_err *e)
{
        _cleanup_free_ char *path = xasprintf("%s/owner", state_dir);
        int r = owner_read(path, ret);
        if (r == -EBADMSG)
                return err_setx(e, r, "%s: not 32 hex digits (the state directory's identity)", path);
        if (r == 0 || r != -ENOENT || !create)
                return r == 0 ? 0 : err_set(e, r, "%s", path);
        unsigned char b[RUN_OWNER_LEN / 2];
        char hex[RUN_OWNER_LEN + 2];
        if (RAND_bytes(b, sizeof(b)) != 1)
                return err_setx(e, -EIO, "no random bytes for %s", path);
        for (size_t i = 0; i < sizeof(b); i++)
                (void)snprintf(hex + 2 * i, 3, "%02x", b[i]);
        hex[RUN_OWNER_LEN] = '\n';
        hex[RUN_OWNER_LEN + 1] = '\0';
        /* Written aside, then linked: two first ups agree on one identity. */
        _cleanup_free_ char *tmp = xasprintf("%s.tmp.%ld", path, (long)getpid());
        if ((r = write_file_atomic(tmp, hex, RUN_OWNER_LEN + 1, 0600)) < 0)
                return err_set(e, r, "%s", tmp);
        r = link(tmp, path) < 0 && errno != EEXIST ? -errno : 0;
        (void)unlink(tmp);
        if (r < 0)
                return err_set(e, r, "%s", path);
        if ((r = owner_read(path, ret)) < 0)
                return err_set(e, r, "%s", path);
        return 0;
}

/* PATH.times: one "OFFSET TIME" line per chunk appended to PATH, so that
 * logs can tell when each line was written (run_logs.h). */
static void log_times_append(const char *path, uint64_t offset)
{
        _cleanup_free_ char *tpath = xasprintf("%s.times", path);
        _cleanup_close_ int fd = open(tpath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
        struct stat st;
        char line[64];
        if (fd < 0 || fstat(fd, &st) < 0 || (uint64_t)st.st_size >= RUN_LOG_TIMES_MAX)
                return;   /* past the cap, later chunks have no time: logs says so */
        int n = snprintf(line, sizeof(line), "%llu %.3f\n", (unsigned long long)offset, run_now());
        if (n > 0 && (size_t)n < sizeof(line))
                (void)!write(fd, line, (size_t)n);
}

size_t run_log_append(const char *path, const void *data, size_t len, size_t cap)
{
        _cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
        struct stat st;
        static const char marker[] = "\n[mlvm: log truncated: size cap reached]\n";

        if (fd < 0 || fstat(fd, &st) < 0)
                return len;
        uint64_t size = (uint64_t)st.st_size;
        if (size + sizeof(marker) > cap)
                return len;   /* full, marker written */
        if (len)
                log_times_append(path, size);
        if (size + len > cap - sizeof(marker)) {
                size_t room = cap - sizeof(marker) > size ? cap - sizeof(marker) - size : 0;
                ssize_t n = write(fd, data, room < len ? room : len);
                (void)!write(fd, marker, sizeof(marker) - 1);
                return n > 0 ? len - (size_t)n : len;
        }
        ssize_t n = write(fd, data, len);
        return n > 0 ? len - (size_t)n : len;
}

int run_remove_record(const char *state_dir, const char *id)
{
        static const char *const files[] = { "run.json", "run.lock", "domain.xml", "console.log", "output.log",
                                             "monitor.log", "qemu.log", "control.sock", "console.log.times",
                                             "output.log.times",
                                             /* PROVENANCE_FILE (provenance.h includes run.h: named here) */
                                             "provenance.json" };
        /* up.lock last: while it exists, gc and down can tell an up at work. */
        if (!run_id_is_valid(id))
                return -EINVAL;
        for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
                _cleanup_free_ char *f = run_file(state_dir, id, files[i]);
                (void)unlink(f);
        }
        /* The run's accepted artifacts: written by mlvm, never followed out of the directory. */
        _cleanup_free_ char *art = run_file(state_dir, id, "artifacts");
        (void)remove_tree(art);
        _cleanup_free_ char *lock = run_file(state_dir, id, "up.lock"), *d = run_dir(state_dir, id);
        (void)unlink(lock);
        return rmdir(d) < 0 && errno != ENOENT ? -errno : 0;
}

const char *run_health(json_object *run)
{
        static const char *const known[] = { RUN_HEALTH_STARTING, RUN_HEALTH_HEALTHY, RUN_HEALTH_UNHEALTHY };
        const char *h = json_str(run, "health");
        for (size_t i = 0; h && i < ARRAY_SIZE(known); i++)
                if (streq(h, known[i]))
                        return known[i];
        return NULL;
}
