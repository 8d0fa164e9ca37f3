/* run-batch.c: the models `mlvm up` and `mlvm down` act on; see run-batch.h. */
#include "mlvm-build.h"

#include "cleanup.h"
#include "run-batch.h"
#include "run-restart.h"
#include "run-up.h"
#include "util.h"

int batch_up_select(const struct mlvm_config *c, const char *file, char *const *names, size_t n,
                    const struct mlvm_workload ***ret, size_t *ret_n, struct mlvm_err *e)
{
        _cleanup_free_ const struct mlvm_workload **sel = xcalloc(c->n + n + 1, sizeof(*sel));
        size_t k = 0;
        int r;

        if (n == 0) {
                for (size_t i = 0; i < c->n; i++)
                        if (c->w[i].kind == MLVM_KIND_MODEL)
                                sel[k++] = &c->w[i];
                if (k == 0)
                        return err_setx(e, -ENOENT, "%s: no models to start (experiments start with `mlvm run NAME`)",
                                        file);
        }
        for (size_t i = 0; i < n; i++) {
                const struct mlvm_workload *w = mlvm_config_find(c, names[i]);
                if (!w)
                        return mlvm_config_not_found(c, file, names[i], e);
                if ((r = up_check_kind(c, w, false, e)) < 0)
                        return r;
                bool seen = false;
                for (size_t j = 0; j < k && !seen; j++)
                        seen = sel[j] == w;
                if (!seen)
                        sel[k++] = w;
        }
        *ret = TAKE_PTR(sel);
        *ret_n = k;
        return 0;
}

int batch_down_select(const char *state_dir, const char *uri, const struct mlvm_config *c, struct batch_run **ret,
                      size_t *ret_n)
{
        struct batch_run *v = xcalloc(c->n ? c->n : 1, sizeof(*v));
        size_t k = 0;

        for (size_t i = 0; i < c->n; i++) {
                const struct mlvm_workload *w = &c->w[i];
                _cleanup_json_ json_object *run = NULL;
                char id[RUN_ID_LEN + 1];
                /* A run waiting to restart (run-restart.h) is down's to stop too. */
                if (w->kind != MLVM_KIND_MODEL ||
                    (!run_name_is_live(state_dir, w->name, id) && !run_restart_pending(state_dir, w->name, id)) ||
                    run_load(state_dir, id, &run, NULL) < 0)
                        continue;
                const char *ruri = json_str(run, "uri");
                if (!ruri || !streq(ruri, uri))
                        continue;
                memcpy(v[k].id, id, sizeof(id));
                v[k].name = w->name;
                k++;
        }
        *ret = v;
        *ret_n = k;
        return 0;
}
