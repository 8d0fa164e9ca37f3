/* monitor-libvirt.c: the monitor's libvirt side (see monitor-internal.h):
 * the connection, the run's domain and its lifecycle events, the serial
 * console into console.log, the agent channel handed to the session, and
 * reconnecting when libvirtd restarts under a running guest. */
#include "mlvm-build.h"

#include "monitor-internal.h"
#include "paths.h"
#include "run.h"
#include "util.h"
#include "virt.h"
#include "volume.h"

#define RECONNECT_WINDOW (120 * USEC_PER_SEC)
#define RECONNECT_RETRY USEC_PER_SEC

static char *uri, *domain_name, *pool_name;
static virConnectPtr conn;
static virDomainPtr dom;
static virStreamPtr console;
static int lifecycle_cb = -1;
static bool conn_lost;
static usec_t lost_at;
static int reconnect_timer = -1;
static int channel_timer = -1;     /* the channel alone is reopened (monitor_libvirt_channel_failed) */

void monitor_libvirt_init(void)
{
        json_object *run = monitor_record();
        uri = xstrdup(json_str(run, "uri") ?: "");
        domain_name = xstrdup(json_str(run, "domain") ?: "");
        pool_name = xstrdup(json_str(run, "pool") ?: mlvm_pool_name());
}

const char *monitor_uri(void) { return uri; }
const char *monitor_domain_name(void) { return domain_name; }
bool monitor_connected(void) { return !conn_lost; }

/* ---- console -------------------------------------------------------------- */

static void on_console(virStreamPtr st, int events, void *opaque)
{
        char buf[16384];
        for (;;) {
                int n = virStreamRecv(st, buf, sizeof(buf));
                if (n > 0) {
                        monitor_log_dropped(true, run_log_append(monitor_console_path(), buf, (size_t)n, RUN_CONSOLE_MAX));
                        monitor_broadcast("console", buf, (size_t)n);
                        continue;
                }
                if (n == -2)
                        return;
                (void)virStreamEventRemoveCallback(st);
                (void)virStreamAbort(st);
                (void)virStreamFree(st);
                if (console == st)
                        console = NULL;
                return;
        }
}

static void open_console(void)
{
        virStreamPtr st = virStreamNew(conn, VIR_STREAM_NONBLOCK);
        if (!st)
                return;
        if (virDomainOpenConsole(dom, NULL, st, VIR_DOMAIN_CONSOLE_FORCE) < 0 ||
            virStreamEventAddCallback(st, VIR_STREAM_EVENT_READABLE | VIR_STREAM_EVENT_HANGUP | VIR_STREAM_EVENT_ERROR,
                                      on_console, NULL, NULL) < 0) {
                monitor_log("console: %s", virGetLastErrorMessage());
                virStreamFree(st);
                return;
        }
        console = st;
}

/* ---- the connection ---------------------------------------------------------- */

static int on_lifecycle(virConnectPtr c, virDomainPtr d, int event, int detail, void *opaque)
{
        /* Only a guest that shut itself down powered off: QEMU killed or
         * crashed, or a destroy that was not ours, is the run failing. */
        if (event == VIR_DOMAIN_EVENT_CRASHED)
                monitor_guest_stopped("the guest crashed");
        else if (event == VIR_DOMAIN_EVENT_STOPPED)
                monitor_guest_stopped(detail == VIR_DOMAIN_EVENT_STOPPED_SHUTDOWN ? NULL
                                      : detail == VIR_DOMAIN_EVENT_STOPPED_DESTROYED
                                              ? "the domain was destroyed outside mlvm"
                                              : detail == VIR_DOMAIN_EVENT_STOPPED_FAILED ||
                                                                detail == VIR_DOMAIN_EVENT_STOPPED_CRASHED
                                                        ? "QEMU died (killed or crashed)"
                                                        : "the domain stopped without a shutdown");
        return 0;
}

static void on_conn_closed(virConnectPtr c, int reason, void *opaque);

int monitor_libvirt_attach(struct mlvm_err *e)
{
        struct channel *ch;
        if (virt_connect(uri, &conn, e) < 0)
                return -EIO;
        (void)virConnectRegisterCloseCallback(conn, on_conn_closed, NULL, NULL);
        dom = virDomainLookupByName(conn, domain_name);
        if (!dom)
                return err_virt(e, "domain %s", domain_name);
        lifecycle_cb = virConnectDomainEventRegisterAny(conn, dom, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                                                        VIR_DOMAIN_EVENT_CALLBACK(on_lifecycle), NULL, NULL);
        if (lifecycle_cb < 0)
                return err_virt(e, "domain events");
        if (virDomainIsActive(dom) != 1)
                return err_setx(e, -ESRCH, "domain %s is not running", domain_name);
        open_console();
        if (channel_open(dom, PROTO_CHANNEL_NAME, monitor_gate_fd(), &ch, e) < 0)
                return -EIO;
        monitor_session_attach(ch);
        return 0;
}

void monitor_libvirt_detach(void)
{
        if (channel_timer >= 0)
                virEventRemoveTimeout(channel_timer);
        channel_timer = -1;
        monitor_session_detach();
        if (console) {
                (void)virStreamEventRemoveCallback(console);
                (void)virStreamFree(console);
                console = NULL;
        }
        if (conn && lifecycle_cb >= 0)
                (void)virConnectDomainEventDeregisterAny(conn, lifecycle_cb);
        lifecycle_cb = -1;
        if (dom)
                virDomainFree(dom);
        dom = NULL;
        if (conn) {
                (void)virConnectUnregisterCloseCallback(conn, on_conn_closed);
                virConnectClose(conn);
        }
        conn = NULL;
}

/* libvirtd went away (restart): the guest keeps running; reconnect, reopen
 * the console and the channel; the agent then resumes with a re-HELLO. */
static void on_reconnect(int timer, void *opaque)
{
        struct mlvm_err e = { 0 };
        monitor_libvirt_detach();
        if (monitor_libvirt_attach(&e) == 0) {
                monitor_log("reconnected to %s", uri);
                conn_lost = false;
                virEventRemoveTimeout(timer);
                reconnect_timer = -1;
                return;
        }
        if (now_usec() - lost_at > RECONNECT_WINDOW) {
                virEventRemoveTimeout(timer);
                reconnect_timer = -1;
                monitor_libvirt_detach();
                if (virt_connect(uri, &conn, NULL) == 0)
                        dom = virDomainLookupByName(conn, domain_name);
                monitor_end(RUN_FAILED, "lost libvirt for %llu s: %s",
                            (unsigned long long)(RECONNECT_WINDOW / USEC_PER_SEC), e.msg);
        }
}

static void on_conn_closed(virConnectPtr c, int reason, void *opaque)
{
        if (conn_lost || monitor_torn_down())
                return;
        monitor_log("libvirt connection closed (reason %d); reconnecting", reason);
        conn_lost = true;
        lost_at = now_usec();
        reconnect_timer = virEventAddTimeout(monitor_timer_ms(RECONNECT_RETRY, 0), on_reconnect, NULL, NULL);
}

/* The channel's stream failed before libvirt said anything of the
 * connection (its close callback may still be on its way): a dead
 * connection is lost as on_conn_closed says; on a live one the channel
 * alone is reopened a moment later, and the agent resumes with a
 * re-HELLO as after a reconnect. A domain that stopped is left to its
 * lifecycle event. */
static void on_channel_reopen(int timer, void *opaque)
{
        struct mlvm_err e = { 0 };
        struct channel *ch;

        virEventRemoveTimeout(timer);
        channel_timer = -1;
        if (conn_lost || monitor_torn_down() || !dom)
                return;
        if (virConnectIsAlive(conn) != 1) {
                on_conn_closed(conn, VIR_CONNECT_CLOSE_REASON_ERROR, NULL);
                return;
        }
        if (virDomainIsActive(dom) != 1)
                return;
        if (channel_open(dom, PROTO_CHANNEL_NAME, monitor_gate_fd(), &ch, &e) < 0) {
                monitor_log("agent channel: reopen: %s", e.msg);
                on_conn_closed(conn, VIR_CONNECT_CLOSE_REASON_ERROR, NULL);
                return;
        }
        monitor_log("agent channel reopened");
        monitor_session_attach(ch);
}

void monitor_libvirt_channel_failed(void)
{
        if (conn_lost || monitor_torn_down() || channel_timer >= 0)
                return;
        if (!conn || virConnectIsAlive(conn) != 1) {
                on_conn_closed(conn, VIR_CONNECT_CLOSE_REASON_ERROR, NULL);
                return;
        }
        channel_timer = virEventAddTimeout(monitor_timer_ms(RECONNECT_RETRY, 0), on_channel_reopen, NULL, NULL);
}

/* ---- the end ------------------------------------------------------------------- */

/* At the end, a connection that died (libvirtd restarted, or closed it
 * after keepalives went unanswered while the monitor was busy checking a
 * large artifact volume) gets one more try. False when there is none. */
bool monitor_libvirt_alive(void)
{
        if (conn && virConnectIsAlive(conn) == 1)
                return true;
        monitor_libvirt_detach();
        if (virt_connect(uri, &conn, NULL) < 0)
                return false;
        dom = virDomainLookupByName(conn, domain_name);
        monitor_log("reconnected to %s for the teardown", uri);
        return true;
}

bool monitor_libvirt_destroy(void)
{
        bool clean = monitor_libvirt_alive();

        /* A transient domain that powered off is simply gone: that is clean. */
        int active = dom ? virDomainIsActive(dom) : 0;
        if (active < 0 && virGetLastErrorCode() == VIR_ERR_NO_DOMAIN)
                active = 0;
        if (active != 0 && virDomainDestroy(dom) < 0) {
                int code = virGetLastErrorCode();
                if (code != VIR_ERR_NO_DOMAIN && code != VIR_ERR_OPERATION_INVALID) {
                        monitor_log("destroy: %s", virGetLastErrorMessage());
                        clean = false;
                }
        }
        return clean;
}

int monitor_libvirt_pool(virStoragePoolPtr *ret_pool, struct mlvm_err *e)
{
        int r;
        if (!conn)
                return 0;
        bool restarted;
        if ((r = volume_pool_for_removal(conn, pool_name, ret_pool, &restarted, e)) < 0)
                return r;
        if (restarted)
                monitor_log("storage pool %s was not active (was its directory removed?): started it again", pool_name);
        return 1;
}
