/* test-agent-creds.c: the guest agent's credential handling, driven over
 * a socketpair: the real agent binary in its test mode (`mlvm-agent --fd
 * 3`, no mounts, secrets in $MLVM_AGENT_SECRETS_DIR). Delivery (file,
 * bytes, mode 0400), replacement under a new lease, expiry after the TTL
 * with CRED_EXPIRED naming the live lease, refusal of a bad name, and
 * revocation with the count removed. TTLs are in milliseconds here, so it
 * runs in about a second. */
#include "mlvm-build.h"

#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <cmocka.h>


#include "agent-harness.h"

static char dir[64];

/* The next frame from the agent, within TIMEOUT_MS (it must come). */
static void recv_msg(struct proto_msg *m, int timeout_ms)
{
        assert_int_equal(agent_recv_msg(m, timeout_ms), 0);
}

static void put(uint32_t id, const char *name, const char *lease, uint64_t ttl_ms, const char *value)
{
        static struct proto_msg m;
        memset(&m, 0, sizeof(m));
        m.type = PROTO_CRED_PUT;
        m.id = id;
        proto_strlcpy(m.u.cred.name, name, sizeof(m.u.cred.name));
        proto_strlcpy(m.u.cred.lease, lease, sizeof(m.u.cred.lease));
        m.u.cred.ttl_ms = ttl_ms;
        m.u.cred.len = (uint32_t)strlen(value);
        memcpy(m.u.cred.value, value, m.u.cred.len);
        agent_send_msg(&m);
}

static char *content(const char *name, mode_t *mode)
{
        _cleanup_free_ char *path = xasprintf("%s/%s", dir, name);
        char *buf = NULL;
        size_t len;
        struct stat st;
        if (read_file_capped(path, 1 << 20, &buf, &len) < 0)
                return NULL;
        assert_int_equal(stat(path, &st), 0);
        *mode = st.st_mode & 07777;
        return buf;
}

static int setup(void **state)
{
        snprintf(dir, sizeof(dir), "/tmp/mlvm-test-agent-XXXXXX");
        assert_non_null(mkdtemp(dir));
        agent_start("MLVM_AGENT_SECRETS_DIR", dir);
        return 0;
}

static int teardown(void **state)
{
        agent_stop();
        _cleanup_free_ char *cmd = xasprintf("rm -rf -- '%s'", dir);
        assert_int_equal(system(cmd), 0);
        return 0;
}

static void test_lifecycle(void **state)
{
        struct proto_msg m;
        mode_t mode = 0;

        put(2, "A", "lease-a1", 60000, "first value");
        recv_msg(&m, 5000);
        assert_int_equal(m.type, PROTO_DONE);
        assert_int_equal(m.id, 2);
        _cleanup_free_ char *a = content("A", &mode);
        assert_non_null(a);
        assert_string_equal(a, "first value");
        assert_int_equal(mode, 0400);

        put(3, "B", "lease-b1", 60000, "bee");
        recv_msg(&m, 5000);
        assert_int_equal(m.type, PROTO_DONE);

        /* A new lease replaces the file and its deadline: 300 ms now. */
        put(4, "A", "lease-a2", 300, "second value");
        recv_msg(&m, 5000);
        assert_int_equal(m.type, PROTO_DONE);
        assert_int_equal(m.id, 4);
        _cleanup_free_ char *a2 = content("A", &mode);
        assert_string_equal(a2, "second value");

        /* The TTL ends: the file goes, the agent names the live lease. */
        recv_msg(&m, 5000);
        assert_int_equal(m.type, PROTO_CRED_EXPIRED);
        assert_int_equal(m.id, 0);
        assert_string_equal(m.u.cred.name, "A");
        assert_string_equal(m.u.cred.lease, "lease-a2");
        assert_null(content("A", &mode));
        _cleanup_free_ char *b = content("B", &mode);
        assert_non_null(b);

        /* A name that could escape the directory is refused. */
        put(5, "../x", "lease-x", 60000, "nope");
        recv_msg(&m, 5000);
        assert_int_equal(m.type, PROTO_ERROR);
        assert_int_equal(m.id, 5);

        /* Revoke all: what is left (B) goes, and the count says so. */
        struct proto_msg r = { .type = PROTO_CRED_REVOKE, .id = 6 };
        agent_send_msg(&r);
        recv_msg(&m, 5000);
        assert_int_equal(m.type, PROTO_DONE);
        assert_int_equal(m.id, 6);
        assert_int_equal(m.u.done.count, 1);
        assert_null(content("B", &mode));
        /* Nothing else was written in the directory (no temp file left). */
        _cleanup_free_ char *cmd = xasprintf("test -z \"$(ls -A '%s')\"", dir);
        assert_int_equal(system(cmd), 0);

        /* A revoke of one name that is not there removes nothing. */
        struct proto_msg r2 = { .type = PROTO_CRED_REVOKE, .id = 7 };
        proto_strlcpy(r2.u.cred.name, "B", sizeof(r2.u.cred.name));
        agent_send_msg(&r2);
        recv_msg(&m, 5000);
        assert_int_equal(m.type, PROTO_DONE);
        assert_int_equal(m.u.done.count, 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_lifecycle, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
