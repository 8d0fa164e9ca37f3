/* run-filter.c: ps --filter; see run-filter.h. */
#include "mlvm-build.h"

#include <fnmatch.h>

#include "run-filter.h"
#include "run.h"
#include "util.h"

static const struct {
        const char *word;
        unsigned bits;
} state_words[] = {
        { RUN_STARTING, 1u << 0 }, { RUN_READY, 1u << 1 },   { RUN_EXITED, 1u << 2 }, { RUN_FAILED, 1u << 3 },
        { RUN_STOPPED, 1u << 4 },  { "live", 3u << 0 },      { "ended", 7u << 2 },
};

static unsigned state_bits(const char *s, size_t len)
{
        for (size_t i = 0; i < ARRAY_SIZE(state_words); i++)
                if (strlen(state_words[i].word) == len && strncmp(state_words[i].word, s, len) == 0)
                        return state_words[i].bits;
        return 0;
}

int run_filter_add(struct run_filter *f, const char *spec, struct mlvm_err *e)
{
        char b[SHOWN_MAX];
        const char *p = spec;

        if (!*spec)
                return err_setx(e, -EINVAL, "empty filter: expected KEY=VALUE (state, name)");
        while (*p) {
                size_t len = strcspn(p, ",");
                _cleanup_free_ char *term = xstrndup(p, len);
                char *eq = strchr(term, '=');
                p += len + (p[len] == ',');
                if (!eq || eq == term)
                        return err_setx(e, -EINVAL, "%s: expected KEY=VALUE (state, name)", shown(term, b));
                *eq = '\0';
                const char *key = term, *val = eq + 1;
                if (!*val || strlen(val) > RUN_FILTER_VALUE_MAX)
                        return err_setx(e, -EINVAL, "%s: expected a value of 1 to %d characters", key,
                                        RUN_FILTER_VALUE_MAX);
                if (streq(key, "state")) {
                        unsigned bits = state_bits(val, strlen(val));
                        if (!bits)
                                return err_setx(e, -EINVAL,
                                                "state=%s: unknown state (starting, ready, exited, failed, stopped, "
                                                "live, ended)",
                                                shown(val, b));
                        f->states |= bits;
                } else if (streq(key, "name")) {
                        if (f->n_names >= RUN_FILTER_MAX)
                                return err_setx(e, -EINVAL, "more than %d name filters", RUN_FILTER_MAX);
                        f->names[f->n_names++] = xstrdup(val);
                } else
                        return err_setx(e, -EINVAL, "%s: unknown filter key (state, name)", shown(key, b));
        }
        if (p > spec && p[-1] == ',')
                return err_setx(e, -EINVAL, "%s: ends with a comma", shown(spec, b));
        return 0;
}

bool run_filter_match(const struct run_filter *f, const char *name, const char *state)
{
        if (f->states) {
                /* "failed (monitor gone)" is failed. */
                unsigned bits = state_bits(state, strcspn(state, " "));
                if (!(bits & f->states))
                        return false;
        }
        if (f->n_names) {
                bool any = false;
                for (size_t i = 0; i < f->n_names && !any; i++)
                        any = fnmatch(f->names[i], name, 0) == 0;
                if (!any)
                        return false;
        }
        return true;
}

bool run_filter_has_state(const struct run_filter *f) { return f->states != 0; }

void run_filter_clear(struct run_filter *f)
{
        for (size_t i = 0; i < f->n_names; i++)
                free(f->names[i]);
        *f = (struct run_filter){ 0 };
}
