/* monitor-creds-rotate.c: {"cmd":"rotate","name":NAME} on the control
 * socket, for `mlvm creds rotate`: NAME's (or every credential's) next
 * lease now, and one reply to the client once every rotation it started
 * is over, with each one's lease or error. See monitor-creds.h. */
#include "mlvm-build.h"

#include "monitor-creds.h"
#include "util.h"

/* A control client's rotation request. One per client at most, so there
 * is always a free one. */
struct waiter {
        struct monitor_client *c;    /* NULL: free */
        int rotations;               /* still under way */
        json_object *rotated;        /* their results so far */
};
static struct waiter waiters[MONITOR_CLIENTS_MAX];

static struct waiter *waiter_of(struct monitor_client *c)
{
        for (size_t i = 0; i < MONITOR_CLIENTS_MAX; i++)
                if (waiters[i].c == c)
                        return &waiters[i];
        return NULL;
}

/* The last result a client waited for: one reply with all of them. */
static void reply_rotated(struct waiter *w)
{
        json_object *rep = json_object_new_object();
        bool all = true;
        for (size_t k = 0; k < json_object_array_length(w->rotated); k++) {
                json_object *x;
                if (json_object_object_get_ex(json_object_array_get_idx(w->rotated, k), "ok", &x))
                        all &= json_object_get_boolean(x);
        }
        json_object_object_add(rep, "ok", json_object_new_boolean(all));
        json_object_object_add(rep, "rotated", w->rotated);
        w->rotated = NULL;
        monitor_client_send(w->c, rep);
        json_object_put(rep);
}

void monitor_creds_rotated(struct monitor_client *c, json_object *result)
{
        struct waiter *w = waiter_of(c);
        if (!w || w->rotations <= 0) {
                json_object_put(result);
                return;
        }
        json_object_array_add(w->rotated, result);
        if (--w->rotations == 0)
                reply_rotated(w);
}

void monitor_creds_rotate_client_gone(struct monitor_client *c)
{
        for (size_t i = 0; i < MONITOR_CLIENTS_MAX; i++)
                if (waiters[i].c == c) {
                        json_object_put(waiters[i].rotated);
                        waiters[i] = (struct waiter){ 0 };
                }
}

static void cmd_rotate(struct monitor_client *c, json_object *req)
{
        struct mlvm_err e = { 0 };
        _cleanup_json_ json_object *rep = json_object_new_object();
        struct waiter *w = waiter_of(c) ?: waiter_of(NULL);

        if (!w || w->rotations > 0) {
                json_object_object_add(rep, "error", json_object_new_string("a rotation is already under way"));
                monitor_client_send(c, rep);
                return;
        }
        w->c = c;
        json_object_put(w->rotated);
        w->rotated = json_object_new_array();
        int n = monitor_creds_rotate(c, json_str(req, "name"), &e);
        if (n < 0) {
                json_object_object_add(rep, "error", json_object_new_string(e.msg));
                monitor_client_send(c, rep);
                return;
        }
        w->rotations = n;
}

const struct monitor_command monitor_creds_commands[] = {
        { "rotate", cmd_rotate },
        { NULL, NULL },
};
