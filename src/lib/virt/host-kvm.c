/* host-kvm.c: the accelerator, chosen on evidence; see host-kvm.h.
 * Everything here reads files under a root directory handed in, so the
 * unit tests feed it hosts this machine is not (hardware KVM with and
 * without access, PVM, no /dev/kvm). */
#include "mlvm-build.h"

#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <time.h>

#include "host-kvm.h"
#include "util.h"
#include "virt.h"

#define QEMU_CONF_MAX_BYTES (1 << 20)
#define KVM_CACHE_MAX_BYTES 65536

static char *under(const char *root, const char *path)
{
        return xasprintf("%s%s", root && *root ? root : "", path);
}

/* qemu.conf: `KEY = "VALUE"` on a line of its own; comments start with #. */
static void conf_string(const char *text, const char *key, char *out, size_t len)
{
        size_t klen = strlen(key);
        for (const char *line = text; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
                const char *p = line;
                while (*p == ' ' || *p == '\t')
                        p++;
                if (strncmp(p, key, klen) != 0)
                        continue;
                p += klen;
                while (*p == ' ' || *p == '\t')
                        p++;
                if (*p++ != '=')
                        continue;
                while (*p == ' ' || *p == '\t')
                        p++;
                if (*p++ != '"')
                        continue;
                const char *end = strchr(p, '"');
                const char *nl = strchr(p, '\n');
                if (!end || (nl && nl < end) || (size_t)(end - p) >= len)
                        continue;
                memcpy(out, p, (size_t)(end - p));
                out[end - p] = '\0';
        }
}

/* "+N" is a number, a name otherwise (qemu.conf's convention). */
static bool numeric(const char *s, unsigned long *ret)
{
        char *end;
        if (s[0] != '+' || !s[1])
                return false;
        errno = 0;
        unsigned long v = strtoul(s + 1, &end, 10);
        if (errno || *end || v > 0x7fffffffUL)
                return false;
        *ret = v;
        return true;
}

void host_qemu_ids_read(const char *root, struct host_qemu_ids *ret)
{
        struct host_qemu_ids ids = { 0 };
        _cleanup_free_ char *conf = under(root, "/etc/libvirt/qemu.conf"), *text = NULL;
        _cleanup_free_ char *pw_path = under(root, "/etc/passwd"), *gr_path = under(root, "/etc/group");
        bool have_uid = false, have_gid = false;
        unsigned long n;

        /* Debian's build defaults: user and group libvirt-qemu. */
        snprintf(ids.user, sizeof(ids.user), "libvirt-qemu");
        snprintf(ids.group, sizeof(ids.group), "libvirt-qemu");
        if (read_file_capped(conf, QEMU_CONF_MAX_BYTES, &text, NULL) == 0) {
                conf_string(text, "user", ids.user, sizeof(ids.user));
                conf_string(text, "group", ids.group, sizeof(ids.group));
        }
        if (numeric(ids.user, &n)) {
                ids.uid = (uid_t)n;
                have_uid = true;
        }
        if (numeric(ids.group, &n)) {
                ids.gid = (gid_t)n;
                have_gid = true;
        }
        gid_t primary = 0;
        bool have_primary = false;
        _cleanup_fclose_ FILE *pw = fopen(pw_path, "re");
        for (struct passwd *p; pw && (p = fgetpwent(pw));) {
                if ((have_uid && p->pw_uid == ids.uid) || (!have_uid && streq(p->pw_name, ids.user))) {
                        ids.uid = p->pw_uid;
                        have_uid = true;
                        primary = p->pw_gid;
                        have_primary = true;
                        if (numeric(ids.user, &n))
                                snprintf(ids.user, sizeof(ids.user), "%s", p->pw_name);
                        break;
                }
        }
        /* libvirt gives QEMU the user's primary and supplementary groups besides qemu.conf's group. */
        _cleanup_fclose_ FILE *gr = fopen(gr_path, "re");
        for (struct group *g; gr && (g = fgetgrent(gr));) {
                bool member = have_primary && g->gr_gid == primary;
                for (char **m = g->gr_mem; !member && m && *m; m++)
                        member = streq(*m, ids.user);
                if (!have_gid && streq(g->gr_name, ids.group)) {
                        ids.gid = g->gr_gid;
                        have_gid = true;
                }
                if (member && ids.n_groups < HOST_QEMU_MAX_GROUPS)
                        ids.groups[ids.n_groups++] = g->gr_gid;
        }
        if (have_primary && ids.n_groups < HOST_QEMU_MAX_GROUPS) {
                bool seen = false;
                for (size_t i = 0; i < ids.n_groups; i++)
                        seen |= ids.groups[i] == primary;
                if (!seen)
                        ids.groups[ids.n_groups++] = primary;
        }
        ids.resolved = have_uid && have_gid;
        *ret = ids;
}

bool host_node_openable(const struct host_qemu_ids *ids, uid_t uid, gid_t gid, mode_t mode)
{
        if (!ids->resolved)
                return false;
        if (ids->uid == 0)
                return true;   /* QEMU as root (user = "+0") opens anything */
        if (ids->uid == uid)
                return (mode & 0600) == 0600;
        bool in_group = ids->gid == gid;
        for (size_t i = 0; !in_group && i < ids->n_groups; i++)
                in_group = ids->groups[i] == gid;
        if (in_group)
                return (mode & 0060) == 0060;
        return (mode & 0006) == 0006;
}

/* The name of uid/gid in ROOT's passwd/group, else the number. */
static void id_name(const char *root, bool group, unsigned id, char *out, size_t len)
{
        _cleanup_free_ char *path = under(root, group ? "/etc/group" : "/etc/passwd");
        _cleanup_fclose_ FILE *f = fopen(path, "re");
        snprintf(out, len, "%u", id);
        if (group)
                for (struct group *g; f && (g = fgetgrent(f));) {
                        if (g->gr_gid == id) {
                                snprintf(out, len, "%s", g->gr_name);
                                return;
                        }
                }
        else
                for (struct passwd *p; f && (p = fgetpwent(f));) {
                        if (p->pw_uid == id) {
                                snprintf(out, len, "%s", p->pw_name);
                                return;
                        }
                }
}

static bool module_loaded(const char *root, const char *name)
{
        _cleanup_free_ char *p = xasprintf("%s/sys/module/%s", root && *root ? root : "", name);
        struct stat st;
        return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

void host_kvm_facts_read(const char *root, struct host_kvm_facts *f)
{
        static const struct {
                const char *name;
                enum host_kvm_module kind;
        } mods[] = {
                /* PVM first: a kernel may carry a built-in kvm_intel entry (its
                 * parameters) beside the kvm_pvm that really runs guests. */
                { "kvm_pvm", HOST_KVM_MODULE_PVM },
                { "kvm_intel", HOST_KVM_MODULE_VENDOR },
                { "kvm_amd", HOST_KVM_MODULE_VENDOR },
                { "kvm", HOST_KVM_MODULE_OTHER },
        };
        _cleanup_free_ char *node = under(root, "/dev/kvm");
        struct stat st;

        f->module = HOST_KVM_MODULE_NONE;
        f->module_name[0] = '\0';
        for (size_t i = 0; i < ARRAY_SIZE(mods); i++)
                if (module_loaded(root, mods[i].name)) {
                        f->module = mods[i].kind;
                        snprintf(f->module_name, sizeof(f->module_name), "%s", mods[i].name);
                        break;
                }
        f->node = (struct host_node){ 0 };
        /* A test tree stands a regular file in for the character device. */
        if (stat(node, &st) == 0 && (S_ISCHR(st.st_mode) || (root && *root && S_ISREG(st.st_mode)))) {
                f->node.exists = true;
                f->node.uid = st.st_uid;
                f->node.gid = st.st_gid;
                f->node.mode = st.st_mode & 07777;
                id_name(root, false, st.st_uid, f->node.owner, sizeof(f->node.owner));
                id_name(root, true, st.st_gid, f->node.group, sizeof(f->node.group));
                f->node.qemu_can_open = host_node_openable(&f->qemu, st.st_uid, st.st_gid, st.st_mode);
        }
}

/* Why KVM cannot be used on a local host, or false when it can. */
static bool local_blocker(const struct host_kvm_facts *f, bool caps_kvm, struct host_accel_choice *c)
{
        const struct host_node *n = &f->node;
        if (f->module == HOST_KVM_MODULE_PVM) {
                text_set(c->why, sizeof(c->why), "KVM here is PVM (%s), which boots only PVM guest kernels", f->module_name);
                return true;
        }
        if (f->module == HOST_KVM_MODULE_NONE) {
                text_set(c->why, sizeof(c->why), "no KVM on this host (no kvm_intel or kvm_amd module%s)",
                    n->exists ? "" : ", no /dev/kvm");
                text_set(c->fix, sizeof(c->fix), "a host with hardware virtualization and its KVM module");
                return true;
        }
        if (f->module == HOST_KVM_MODULE_OTHER) {
                text_set(c->why, sizeof(c->why), "the KVM module here is %s without kvm_intel or kvm_amd, which mlvm "
                    "does not know to boot ordinary kernels", f->module_name);
                return true;
        }
        if (!n->exists) {
                text_set(c->why, sizeof(c->why), "%s is loaded but there is no /dev/kvm", f->module_name);
                text_set(c->fix, sizeof(c->fix), "create the node (udev does; mknod /dev/kvm c 10 232), then mlvm setup");
                return true;
        }
        if (!n->qemu_can_open) {
                text_set(c->why, sizeof(c->why), "/dev/kvm is %s:%s %04o, which libvirt's QEMU user %s cannot open",
                    n->owner, n->group, (unsigned)n->mode, f->qemu.user);
                text_set(c->fix, sizeof(c->fix), "mlvm setup (as root) gives it group kvm and mode 0660, as udev would");
                return true;
        }
        if (!caps_kvm) {
                text_set(c->why, sizeof(c->why), "libvirt offers no KVM domain on this host");
                return true;
        }
        return false;
}

int host_accel_choose(const struct host_accel_input *in, struct host_accel_choice *ret, struct mlvm_err *e)
{
        struct host_accel_choice c = { .accel = MLVM_ACCEL_TCG };
        bool blocked;

        if (in->request == MLVM_ACCEL_ASK_TCG) {
                *ret = c;
                return 0;
        }
        if (in->local)
                blocked = local_blocker(in->local, in->caps_kvm, &c);
        else if (!in->caps_kvm) {
                text_set(c.why, sizeof(c.why), "the host behind %s offers no KVM domain", in->uri);
                blocked = true;
        } else
                blocked = false;
        if (!blocked && in->watch && in->watch->state == HOST_KVM_FAILS && in->request == MLVM_ACCEL_AUTO) {
                /* An explicit kvm tries again (the host may have been fixed); auto trusts the record. */
                text_set(c.why, sizeof(c.why), "KVM on %s failed to boot a guest before (%s)", in->uri, in->watch->reason);
                text_set(c.fix, sizeof(c.fix), "mlvm info --refresh forgets that and tries KVM again");
                blocked = true;
        }
        if (blocked) {
                if (in->request == MLVM_ACCEL_ASK_KVM)
                        return err_setx(e, -ENODEV, "accel kvm: %s%s%s", c.why, c.fix[0] ? "; fix: " : "", c.fix);
                *ret = c;
                return 0;
        }
        c.accel = MLVM_ACCEL_KVM;
        c.watch = !in->watch || in->watch->state != HOST_KVM_BOOTS;
        *ret = c;
        return 0;
}

/* The calling user's ids: who QEMU runs as under qemu:///session. */
static void session_ids(struct host_qemu_ids *ids)
{
        gid_t groups[HOST_QEMU_MAX_GROUPS];
        int n = getgroups(HOST_QEMU_MAX_GROUPS, groups);
        struct passwd *pw = getpwuid(getuid());

        *ids = (struct host_qemu_ids){ .resolved = true, .uid = getuid(), .gid = getgid() };
        text_set(ids->user, sizeof(ids->user), "%s", pw ? pw->pw_name : "this user");
        text_set(ids->group, sizeof(ids->group), "%u", (unsigned)getgid());
        for (int i = 0; i < n && n > 0; i++)
                ids->groups[ids->n_groups++] = groups[i];
}

int host_accel_for(virConnectPtr conn, const char *uri, const char *state_dir, const struct host_caps *caps,
                   enum mlvm_accel_request request, struct host_kvm_facts *ret_facts, bool *ret_local,
                   struct host_kvm_watch *ret_watch, struct host_accel_choice *ret, struct mlvm_err *e)
{
        struct host_kvm_facts f = { 0 };
        struct host_kvm_watch w = { .state = HOST_KVM_UNTRIED };
        const char *type = virConnectGetType(conn);
        /* Only a local QEMU driver's host is this machine: its /sys and /dev are ours to read. */
        bool local = host_uri_is_local(uri) && type && streq(type, "QEMU");

        if (local) {
                if (strstr(uri, "/session"))
                        session_ids(&f.qemu);   /* a session libvirtd runs QEMU as its caller */
                else
                        host_qemu_ids_read("", &f.qemu);
                host_kvm_facts_read("", &f);
        }
        if (state_dir)
                host_kvm_watch_load(state_dir, uri, &w);
        struct host_accel_input in = { .request = request, .caps_kvm = caps->accel == MLVM_ACCEL_KVM,
                                       .local = local ? &f : NULL, .watch = &w, .uri = uri };
        int r = host_accel_choose(&in, ret, e);
        if (ret_facts)
                *ret_facts = f;
        if (ret_local)
                *ret_local = local;
        if (ret_watch)
                *ret_watch = w;
        return r;
}

bool host_kvm_watch_failed(bool hello_timed_out, bool domain_paused, int paused_reason, const char *qemu_log,
                           char *why, size_t why_len)
{
        static const char *const marks[] = { "KVM internal error", "emulation failure",
                                             "Could not access KVM kernel module", "failed to initialize kvm",
                                             "kvm run failed" };
        for (size_t i = 0; qemu_log && i < ARRAY_SIZE(marks); i++)
                if (strstr(qemu_log, marks[i])) {
                        text_set(why, why_len, "QEMU's log says \"%s\"", marks[i]);
                        return true;
                }
        if (domain_paused && (paused_reason == VIR_DOMAIN_PAUSED_UNKNOWN || paused_reason == VIR_DOMAIN_PAUSED_CRASHED)) {
                /* mlvm never pauses a booting run: a pause for no known reason is QEMU
                 * stopping the guest on an error (an I/O error, a user or a shutdown is not KVM's doing). */
                text_set(why, why_len, "the guest stopped itself while booting (libvirt paused reason %d)", paused_reason);
                return true;
        }
        if (hello_timed_out) {
                text_set(why, why_len, "no HELLO from the agent within the KVM deadline");
                return true;
        }
        return false;
}

/* The cache file of the URI's first KVM boot. */
static char *watch_path(const char *state_dir, const char *uri)
{
        return host_cache_path(state_dir, "kvm", uri);
}

void host_kvm_watch_load(const char *state_dir, const char *uri, struct host_kvm_watch *ret)
{
        _cleanup_free_ char *path = watch_path(state_dir, uri), *buf = NULL;
        _cleanup_json_ json_object *o = NULL;
        json_object *v;

        *ret = (struct host_kvm_watch){ .state = HOST_KVM_UNTRIED };
        if (!path || read_file_capped(path, KVM_CACHE_MAX_BYTES, &buf, NULL) < 0)
                return;
        o = json_tokener_parse(buf);
        if (!o || !json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, "uri", &v) ||
            !json_object_is_type(v, json_type_string) || !streq(json_object_get_string(v), uri))
                return;
        if (!json_object_object_get_ex(o, "boots", &v) || !json_object_is_type(v, json_type_boolean))
                return;
        ret->state = json_object_get_boolean(v) ? HOST_KVM_BOOTS : HOST_KVM_FAILS;
        ret->cached = true;
        if (json_object_object_get_ex(o, "at", &v) && json_object_is_type(v, json_type_int))
                ret->at = (time_t)json_object_get_int64(v);
        if (json_object_object_get_ex(o, "reason", &v) && json_object_is_type(v, json_type_string))
                snprintf(ret->reason, sizeof(ret->reason), "%s", json_object_get_string(v));
}

void host_kvm_watch_forget(const char *state_dir, const char *uri)
{
        _cleanup_free_ char *path = watch_path(state_dir, uri);
        if (path)
                (void)unlink(path);
}

int host_kvm_watch_save(const char *state_dir, const char *uri, enum host_kvm_record state, const char *reason)
{
        _cleanup_free_ char *path = watch_path(state_dir, uri), *dir = xasprintf("%s/cache", state_dir);
        _cleanup_json_ json_object *o = json_object_new_object();
        int r;

        if (!path)
                return -EIO;
        if ((r = mkdir_p(dir, 0700)) < 0)
                return r;
        json_object_object_add(o, "uri", json_object_new_string(uri));
        json_object_object_add(o, "boots", json_object_new_boolean(state == HOST_KVM_BOOTS));
        json_object_object_add(o, "at", json_object_new_int64((int64_t)time(NULL)));
        if (reason)
                json_object_object_add(o, "reason", json_object_new_string(reason));
        const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
        return write_file_atomic(path, s, strlen(s), 0600);
}

bool host_node_openable_by_run(const struct host_qemu_ids *qemu, uid_t uid, gid_t gid, mode_t mode)
{
        /* A run's own uid (never the node's owner, never root), libvirt's
         * QEMU group, no supplementary groups (libvirt gives a static label
         * none). */
        struct host_qemu_ids run = { .resolved = qemu->resolved, .uid = (uid_t)-2, .gid = qemu->gid };
        return host_node_openable(&run, uid, gid, mode);
}

int host_kvm_fix_node(const char *root, bool per_run_uids, bool *ret_changed, struct mlvm_err *e)
{
        struct host_kvm_facts f = { 0 };
        _cleanup_free_ char *node = under(root, "/dev/kvm"), *gr_path = under(root, "/etc/group");
        _cleanup_fclose_ FILE *gr = NULL;
        bool have_kvm = false;
        gid_t kvm = 0;

        (void)e;
        *ret_changed = false;
        host_qemu_ids_read(root, &f.qemu);
        host_kvm_facts_read(root, &f);
        /* Nothing to fix, or nothing we can judge: an unknown QEMU user is
         * no reason to touch the node. */
        if (!f.node.exists || !f.qemu.resolved)
                return 0;
        if (per_run_uids ? host_node_openable_by_run(&f.qemu, f.node.uid, f.node.gid, f.node.mode) : f.node.qemu_can_open)
                return 0;
        gr = fopen(gr_path, "re");
        for (struct group *g; gr && (g = fgetgrent(gr));)
                if (streq(g->gr_name, "kvm")) {
                        kvm = g->gr_gid;
                        have_kvm = true;
                        break;
                }
        /* Only what udev's rule would give (group kvm, group rw), only when
         * it helps (QEMU's user is in group kvm), and never narrower than
         * the host made it. */
        mode_t mode = (f.node.mode | 0660) & 07777;
        /* Each run's QEMU has a uid of its own and no group kvm: only what
         * systemd-udev's default rule gives (group kvm, mode 0666) opens it. */
        if (per_run_uids)
                mode |= 0666;
        if (!have_kvm || (per_run_uids ? !host_node_openable_by_run(&f.qemu, f.node.uid, kvm, mode)
                                       : !host_node_openable(&f.qemu, f.node.uid, kvm, mode)))
                return 0;
        if (chown(node, f.node.uid, kvm) < 0)
                return err_set(e, -errno, "/dev/kvm: chgrp kvm");
        if (chmod(node, mode) < 0)
                return err_set(e, -errno, "/dev/kvm: chmod %04o", (unsigned)mode);
        *ret_changed = true;
        return 0;
}
