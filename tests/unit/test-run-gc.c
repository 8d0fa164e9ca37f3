/* test-run-gc.c: what `mlvm gc` decides (src/lib/run/run-gc-plan.c), fed
 * recorded inputs: runs as their run.json says, domains with the metadata
 * libvirt returned, pool volumes, temporary files. The collecting and the
 * removing are tested against libvirtd by tests/integration/faults.sh. */
#include "mlvm-build.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "run-gc.h"
#include "run.h"
#include "util.h"

#define OURS   "0123456789abcdef0123456789abcdef"
#define OTHER  "fedcba9876543210fedcba9876543210"
#define URI    "qemu:///system"
#define NOW    1000000.0

struct fixture {
        struct gc_input in;
        struct gc_run runs[8];
        struct gc_domain doms[8];
        char *vols[16];
        struct gc_tmpfile tmps[4];
        struct gc_name names[4];
        struct gc_plan plan;
};

static struct fixture *fx_new(void)
{
        struct fixture *f = xcalloc(1, sizeof(*f));
        f->in = (struct gc_input){ .owner = OURS, .uri = URI, .now = NOW, .runs = f->runs, .domains = f->doms,
                                   .volumes = f->vols, .tmpfiles = f->tmps, .names = f->names };
        return f;
}

static void fx_free(struct fixture *f)
{
        for (size_t i = 0; i < f->in.n_runs; i++)
                json_object_put(f->runs[i].record);
        gc_plan_clear(&f->plan);
        free(f);
}

/* A run as its record says: STATE, with OWNER (NULL: none), and how it looks. */
static struct gc_run *add_run(struct fixture *f, const char *id, const char *state, const char *owner)
{
        struct gc_run *r = &f->runs[f->in.n_runs++];
        _cleanup_free_ char *text =
                owner ? xasprintf("{\"id\":\"%s\",\"state\":\"%s\",\"owner\":\"%s\",\"uri\":\"%s\",\"monitor_pid\":4242}",
                                  id, state, owner, URI)
                      : xasprintf("{\"id\":\"%s\",\"state\":\"%s\",\"uri\":\"%s\"}", id, state, URI);
        *r = (struct gc_run){ .lock_fd = -1, .mtime = NOW - 3600 };
        memcpy(r->id, id, RUN_ID_LEN + 1);
        r->record = json_tokener_parse(text);
        assert_non_null(r->record);
        return r;
}

static void add_domain(struct fixture *f, const char *name, bool active, const char *id, const char *owner)
{
        f->doms[f->in.n_domains++] = (struct gc_domain){ .name = (char *)name, .active = active, .has_meta = id != NULL,
                                                        .meta_id = (char *)id, .meta_owner = (char *)owner };
}

static void add_volume(struct fixture *f, const char *name) { f->vols[f->in.n_volumes++] = (char *)name; }

/* The action for KIND NAME, or -1 when the plan does not mention it. */
static int action_of(struct fixture *f, enum gc_kind kind, const char *name)
{
        for (size_t i = 0; i < f->plan.n; i++)
                if (f->plan.items[i].kind == kind && streq(f->plan.items[i].name, name))
                        return (int)f->plan.items[i].action;
        return -1;
}

static size_t count(struct fixture *f, enum gc_action a)
{
        size_t n = 0;
        for (size_t i = 0; i < f->plan.n; i++)
                n += f->plan.items[i].action == a;
        return n;
}

static void test_live_run_is_kept(void **state)
{
        struct fixture *f = fx_new();
        struct gc_run *r = add_run(f, "1111aaaa", "ready", OURS);
        r->monitor_matches = r->socket_present = true;
        add_domain(f, "mlvm-idle-1111aaaa", true, "1111aaaa", OURS);
        add_volume(f, "mlvm-run-1111aaaa-root");
        f->names[f->in.n_names++] = (struct gc_name){ .name = (char *)"idle", .id = "1111aaaa" };
        gc_decide(&f->in, &f->plan);
        assert_int_equal(count(f, GC_REMOVE), 0);
        assert_int_equal(action_of(f, GC_DOMAIN, "mlvm-idle-1111aaaa"), GC_LIVE);
        assert_int_equal(action_of(f, GC_VOLUME, "mlvm-run-1111aaaa-root"), GC_LIVE);
        assert_int_equal(action_of(f, GC_RECORD, "1111aaaa"), GC_LIVE);
        fx_free(f);
}

static void test_monitor_killed(void **state)
{
        /* Recorded after kill -9 of the monitor: record ready, domain running, socket left. */
        struct fixture *f = fx_new();
        struct gc_run *r = add_run(f, "2222bbbb", "ready", OURS);
        r->socket_present = true;   /* nobody answers on it */
        add_domain(f, "mlvm-idle-2222bbbb", true, "2222bbbb", OURS);
        add_volume(f, "mlvm-run-2222bbbb-root");
        add_volume(f, "mlvm-run-2222bbbb-data-in");
        add_volume(f, "mlvm-img-0123456789abcdef-kernel");
        f->names[f->in.n_names++] = (struct gc_name){ .name = (char *)"idle", .id = "2222bbbb" };
        gc_decide(&f->in, &f->plan);
        assert_int_equal(action_of(f, GC_DOMAIN, "mlvm-idle-2222bbbb"), GC_REMOVE);
        assert_int_equal(action_of(f, GC_VOLUME, "mlvm-run-2222bbbb-root"), GC_REMOVE);
        assert_int_equal(action_of(f, GC_VOLUME, "mlvm-run-2222bbbb-data-in"), GC_REMOVE);
        assert_int_equal(action_of(f, GC_VOLUME, "mlvm-img-0123456789abcdef-kernel"), -1);
        assert_int_equal(action_of(f, GC_SOCKET, "runs/2222bbbb/control.sock"), GC_REMOVE);
        assert_int_equal(action_of(f, GC_RECORD, "2222bbbb"), GC_REMOVE);
        assert_int_equal(action_of(f, GC_NAME, "idle"), GC_REMOVE);
        assert_int_equal(action_of(f, GC_MONITOR, "pid 4242"), -1);   /* not proven: never signalled */
        fx_free(f);
}

static void test_others_are_not_touched(void **state)
{
        struct fixture *f = fx_new();
        add_domain(f, "mlvm-idle-3333cccc", true, "3333cccc", OTHER);    /* another state dir's */
        add_domain(f, "mlvm-old-4444dddd", true, "4444dddd", NULL);      /* metadata without an owner */
        add_domain(f, "mlvm-fake-5555eeee", true, NULL, NULL);           /* a name, no metadata */
        add_domain(f, "someone-else", true, NULL, NULL);
        add_volume(f, "mlvm-run-3333cccc-root");                         /* no record here */
        add_volume(f, "mlvm-run-x-root");
        gc_decide(&f->in, &f->plan);
        assert_int_equal(count(f, GC_REMOVE), 0);
        assert_int_equal(action_of(f, GC_DOMAIN, "mlvm-idle-3333cccc"), GC_NOT_OURS);
        assert_int_equal(action_of(f, GC_DOMAIN, "mlvm-old-4444dddd"), GC_NOT_OURS);
        assert_int_equal(action_of(f, GC_DOMAIN, "mlvm-fake-5555eeee"), GC_NOT_OURS);
        assert_int_equal(action_of(f, GC_DOMAIN, "someone-else"), -1);
        assert_int_equal(action_of(f, GC_VOLUME, "mlvm-run-3333cccc-root"), GC_NOT_OURS);
        fx_free(f);
}

static void test_record_without_owner_is_not_ours(void **state)
{
        /* Same run id as another state dir's dead run; our record has no owner. */
        struct fixture *f = fx_new();
        add_run(f, "6666ffff", "ready", NULL);
        add_run(f, "7777aaaa", "ready", OTHER);
        add_domain(f, "mlvm-idle-6666ffff", true, "6666ffff", OURS);
        add_volume(f, "mlvm-run-6666ffff-root");
        add_volume(f, "mlvm-run-7777aaaa-root");
        gc_decide(&f->in, &f->plan);
        assert_int_equal(count(f, GC_REMOVE), 0);
        assert_int_equal(action_of(f, GC_VOLUME, "mlvm-run-6666ffff-root"), GC_NOT_OURS);
        assert_int_equal(action_of(f, GC_VOLUME, "mlvm-run-7777aaaa-root"), GC_NOT_OURS);
        assert_int_equal(action_of(f, GC_RECORD, "6666ffff"), GC_NOT_OURS);
        fx_free(f);
}

static void test_no_identity_owns_nothing(void **state)
{
        struct fixture *f = fx_new();
        f->in.owner = "";
        add_domain(f, "mlvm-idle-1234abcd", true, "1234abcd", OURS);
        gc_decide(&f->in, &f->plan);
        assert_int_equal(action_of(f, GC_DOMAIN, "mlvm-idle-1234abcd"), GC_NOT_OURS);
        fx_free(f);
}

static void test_up_in_progress_is_live(void **state)
{
        /* up stopped after the volumes: no monitor, no domain, but it holds up.lock. */
        struct fixture *f = fx_new();
        struct gc_run *r = add_run(f, "8888bbbb", "starting", OURS);
        r->up_locked = true;
        add_volume(f, "mlvm-run-8888bbbb-root");
        gc_decide(&f->in, &f->plan);
        assert_int_equal(count(f, GC_REMOVE), 0);
        assert_int_equal(action_of(f, GC_VOLUME, "mlvm-run-8888bbbb-root"), GC_LIVE);
        /* The same once the up was killed: everything goes. */
        gc_plan_clear(&f->plan);
        r->up_locked = false;
        gc_decide(&f->in, &f->plan);
        assert_int_equal(action_of(f, GC_VOLUME, "mlvm-run-8888bbbb-root"), GC_REMOVE);
        assert_int_equal(action_of(f, GC_RECORD, "8888bbbb"), GC_REMOVE);
        fx_free(f);
}

static void test_ended_run_keeps_its_record(void **state)
{
        struct fixture *f = fx_new();
        struct gc_run *r = add_run(f, "9999cccc", "stopped", OURS);
        r->socket_present = true;
        add_volume(f, "mlvm-run-9999cccc-artifacts");
        gc_decide(&f->in, &f->plan);
        assert_int_equal(action_of(f, GC_VOLUME, "mlvm-run-9999cccc-artifacts"), GC_REMOVE);
        assert_int_equal(action_of(f, GC_SOCKET, "runs/9999cccc/control.sock"), GC_REMOVE);
        assert_int_equal(action_of(f, GC_RECORD, "9999cccc"), -1);   /* history: ps --all, inspect, verify */
        fx_free(f);
}

static void test_monitor_tearing_down(void **state)
{
        /* QEMU was killed: the domain is gone, the monitor (proven) still writes. */
        struct fixture *f = fx_new();
        struct gc_run *r = add_run(f, "aaaa0001", "ready", OURS);
        r->monitor_matches = r->socket_present = true;
        r->mtime = NOW - 5;
        add_volume(f, "mlvm-run-aaaa0001-root");
        gc_decide(&f->in, &f->plan);
        assert_int_equal(count(f, GC_REMOVE), 0);
        /* The same monitor, silent past the grace: a wedged one goes. */
        gc_plan_clear(&f->plan);
        r->mtime = NOW - GC_GRACE_S - 1;
        gc_decide(&f->in, &f->plan);
        assert_int_equal(action_of(f, GC_MONITOR, "pid 4242"), GC_REMOVE);
        assert_int_equal(f->plan.items[0].kind, GC_MONITOR);   /* before anything of its run */
        assert_int_equal(f->plan.items[0].pid, 4242);
        assert_int_equal(action_of(f, GC_VOLUME, "mlvm-run-aaaa0001-root"), GC_REMOVE);
        fx_free(f);
}

static void test_monitor_waiting_to_restart(void **state)
{
        /* Ended long ago, its monitor (proven) in the restart backoff: kept. */
        struct fixture *f = fx_new();
        struct gc_run *r = add_run(f, "aaaa0002", "exited", OURS);
        r->monitor_matches = true;
        json_object_object_add(r->record, "restart_pending", json_object_new_boolean(1));
        gc_decide(&f->in, &f->plan);
        assert_int_equal(count(f, GC_REMOVE), 0);
        /* Its monitor gone (killed during the backoff): an ended run. */
        gc_plan_clear(&f->plan);
        r->monitor_matches = false;
        gc_decide(&f->in, &f->plan);
        assert_int_equal(action_of(f, GC_MONITOR, "pid 4242"), -1);
        fx_free(f);
}

static void test_socket_answers_for_an_older_monitor(void **state)
{
        struct fixture *f = fx_new();
        struct gc_run *r = add_run(f, "bbbb0002", "ready", OURS);
        r->socket_present = r->socket_answers = true;
        add_domain(f, "mlvm-idle-bbbb0002", true, "bbbb0002", OURS);
        gc_decide(&f->in, &f->plan);
        assert_int_equal(count(f, GC_REMOVE), 0);
        fx_free(f);
}

static void test_orphan_domain_of_ours(void **state)
{
        /* Our metadata, no record (removed by hand): the domain and its volumes go. */
        struct fixture *f = fx_new();
        add_domain(f, "mlvm-idle-cccc0003", true, "cccc0003", OURS);
        add_volume(f, "mlvm-run-cccc0003-root");
        f->names[f->in.n_names++] = (struct gc_name){ .name = (char *)"idle", .id = "cccc0003" };
        gc_decide(&f->in, &f->plan);
        assert_int_equal(action_of(f, GC_DOMAIN, "mlvm-idle-cccc0003"), GC_REMOVE);
        assert_int_equal(action_of(f, GC_VOLUME, "mlvm-run-cccc0003-root"), GC_REMOVE);
        assert_int_equal(action_of(f, GC_NAME, "idle"), GC_REMOVE);
        fx_free(f);
}

/* run_monitor_alive on real processes: a process whose command line names
 * mlvm-monitor and the run is its monitor; another run's, or a zombie
 * (alive to kill(2), its command line empty for good), is not. */
static void test_monitor_alive_by_proc(void **state)
{
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                execl("/bin/sh", "mlvm-monitor", "-c", "sleep 30; :", "/state", "0123abcd", (char *)NULL);
                _exit(127);
        }
        bool alive = false;
        for (int i = 0; i < 500 && !alive; i++) {   /* until the exec is done */
                alive = run_monitor_alive(pid, "0123abcd");
                usleep(10000);
        }
        assert_true(alive);
        assert_false(run_monitor_alive(pid, "4567cdef"));
        assert_int_equal(kill(pid, SIGKILL), 0);
        /* Not reaped yet: a zombie. */
        usleep(100000);
        assert_false(run_monitor_alive(pid, "0123abcd"));
        int st;
        assert_int_equal(waitpid(pid, &st, 0), pid);
        assert_false(run_monitor_alive(pid, "0123abcd"));
}

static void test_tmpfiles(void **state)
{
        struct fixture *f = fx_new();
        f->tmps[f->in.n_tmpfiles++] = (struct gc_tmpfile){ .path = (char *)"runs/x/run.json.tmp.77", .writer_alive = false };
        f->tmps[f->in.n_tmpfiles++] = (struct gc_tmpfile){ .path = (char *)"names/idle.tmp.78", .writer_alive = true };
        gc_decide(&f->in, &f->plan);
        assert_int_equal(action_of(f, GC_TMPFILE, "runs/x/run.json.tmp.77"), GC_REMOVE);
        assert_int_equal(action_of(f, GC_TMPFILE, "names/idle.tmp.78"), -1);
        fx_free(f);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_live_run_is_kept),
                cmocka_unit_test(test_monitor_killed),
                cmocka_unit_test(test_others_are_not_touched),
                cmocka_unit_test(test_record_without_owner_is_not_ours),
                cmocka_unit_test(test_no_identity_owns_nothing),
                cmocka_unit_test(test_up_in_progress_is_live),
                cmocka_unit_test(test_ended_run_keeps_its_record),
                cmocka_unit_test(test_monitor_tearing_down),
                cmocka_unit_test(test_monitor_waiting_to_restart),
                cmocka_unit_test(test_socket_answers_for_an_older_monitor),
                cmocka_unit_test(test_orphan_domain_of_ours),
                cmocka_unit_test(test_tmpfiles),
                cmocka_unit_test(test_monitor_alive_by_proc),
        };
        return cmocka_run_group_tests_name("run-gc", tests, NULL, NULL);
}
