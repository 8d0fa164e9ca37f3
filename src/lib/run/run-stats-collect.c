/* run-stats-collect.c: which domains `mlvm stats` samples, and sampling
 * them through libvirt's domain stats; see run-stats.h. */
#include "mlvm-build.h"

#include "cleanup.h"
#include "domain.h"
#include "run-stats.h"
#include "util.h"
#include "virt.h"

#define STATS_GROUPS \
        (VIR_DOMAIN_STATS_STATE | VIR_DOMAIN_STATS_CPU_TOTAL | VIR_DOMAIN_STATS_BALLOON | VIR_DOMAIN_STATS_BLOCK)

struct prev {
        char id[RUN_ID_LEN + 1];
        struct stats_sample s;
        usec_t t;
};

struct run_stats {
        char *state_dir, *uri;
        char owner[RUN_OWNER_LEN + 1];   /* "" : this state directory never started a run */
        virConnectPtr conn;
        bool all;                        /* no REFS: every live run */
        char (*ids)[RUN_ID_LEN + 1];     /* with REFS: the runs they named */
        size_t n_ids;
        struct prev *prev;
        size_t n_prev;
};

/* A live run of this state directory on this URI. */
struct cand {
        char id[RUN_ID_LEN + 1];
        char *name, *domain;
};

static void cands_free(struct cand *c, size_t n)
{
        for (size_t i = 0; c && i < n; i++) {
                free(c[i].name);
                free(c[i].domain);
        }
        free(c);
}

/* The records that say live, on ST's URI, with this state directory's
 * identity and a domain name: what ps lists without --all. */
static int live_runs(const struct run_stats *st, struct cand **ret, size_t *ret_n, struct mlvm_err *e)
{
        char (*ids)[RUN_ID_LEN + 1] = NULL;
        size_t n = 0, k = 0;
        int r;

        if ((r = run_list(st->state_dir, &ids, &n, e)) < 0)
                return r;
        struct cand *c = xcalloc(n ? n : 1, sizeof(*c));
        for (size_t i = 0; i < n && st->owner[0]; i++) {
                _cleanup_json_ json_object *run = NULL;
                if (run_load(st->state_dir, ids[i], &run, NULL) < 0)
                        continue;
                const char *uri = json_str(run, "uri"), *state = json_str(run, "state");
                const char *owner = json_str(run, "owner"), *dom = json_str(run, "domain");
                if (!uri || !streq(uri, st->uri) || !state || !run_state_is_live(state) || !owner ||
                    !streq(owner, st->owner) || !dom)
                        continue;
                memcpy(c[k].id, ids[i], sizeof(c[k].id));
                c[k].name = xstrdup(json_str(run, "name") ?: "");
                c[k].domain = xstrdup(dom);
                k++;
        }
        free(ids);
        *ret = c;
        *ret_n = k;
        return 0;
}

static bool is_hex(const char *s)
{
        return *s && strspn(s, "0123456789abcdef") == strlen(s);
}

static void add_id(struct run_stats *st, const char *id)
{
        for (size_t i = 0; i < st->n_ids; i++)
                if (streq(st->ids[i], id))
                        return;
        st->ids = xreallocarray(st->ids, st->n_ids + 1, sizeof(*st->ids));
        memcpy(st->ids[st->n_ids++], id, RUN_ID_LEN + 1);
}

/* REF names a live run: its name, its id, or a prefix of at least 4 digits of one id. */
static int resolve_ref(struct run_stats *st, const struct cand *c, size_t n, const char *ref, struct mlvm_err *e)
{
        char shown_ref[SHOWN_MAX];
        size_t len = strlen(ref), hits = 0, at = 0;
        for (size_t i = 0; i < n; i++)
                if (streq(c[i].name, ref) ||
                    (len >= 4 && len <= RUN_ID_LEN && is_hex(ref) && strncmp(c[i].id, ref, len) == 0)) {
                        if (hits++ == 0)
                                at = i;
                }
        if (hits == 0)
                return err_setx(e, -ENOENT, "%s: no running run of that name or id on %s", shown(ref, shown_ref),
                                st->uri);
        if (hits > 1 && !streq(c[at].name, ref))
                return err_setx(e, -EINVAL, "%s: names %zu running runs; give more of the run id", shown(ref, shown_ref),
                                hits);
        add_id(st, c[at].id);
        return 0;
}

void run_stats_free(struct run_stats *st)
{
        if (!st)
                return;
        if (st->conn)
                (void)virConnectClose(st->conn);
        free(st->state_dir);
        free(st->uri);
        free(st->ids);
        free(st->prev);
        free(st);
}

int run_stats_open(const char *state_dir, const char *uri, char *const *refs, size_t n_refs,
                   struct run_stats **ret, struct mlvm_err *e)
{
        _cleanup_(run_stats_freep) struct run_stats *st = xcalloc(1, sizeof(*st));
        struct cand *c = NULL;
        size_t n = 0;
        int r;

        st->state_dir = xstrdup(state_dir);
        st->uri = xstrdup(uri);
        st->all = n_refs == 0;
        if ((r = virt_uri_check(uri, e)) < 0)
                return r;
        if ((r = run_owner(state_dir, false, st->owner, e)) < 0 && r != -ENOENT)
                return r;
        if ((r = live_runs(st, &c, &n, e)) < 0)
                return r;
        for (size_t i = 0; i < n_refs && r >= 0; i++)
                r = resolve_ref(st, c, n, refs[i], e);
        cands_free(c, n);
        if (r < 0)
                return r;
        if ((r = virt_connect(uri, &st->conn, e)) < 0)
                return r;
        *ret = TAKE_PTR(st);
        return 0;
}

static bool watched(const struct run_stats *st, const char *id)
{
        if (st->all)
                return true;
        for (size_t i = 0; i < st->n_ids; i++)
                if (streq(st->ids[i], id))
                        return true;
        return false;
}

/* Another tenant's domain may carry any name: only one whose mlvm
 * metadata names run ID and our identity is sampled. */
static bool domain_is_ours(virDomainPtr d, const char *id, const char *owner)
{
        _cleanup_free_ char *md = virDomainGetMetadata(d, VIR_DOMAIN_METADATA_ELEMENT, DOMAIN_XMLNS, 0);
        if (!md) {
                virResetLastError();
                return false;
        }
        _cleanup_xmlDoc_ xmlDocPtr doc = virt_parse_xml(md, strlen(md));
        xmlNodePtr root = doc ? xmlDocGetRootElement(doc) : NULL;
        if (!root || xmlStrcmp(root->name, (const xmlChar *)"run") != 0)
                return false;
        xmlChar *mid = xmlGetProp(root, (const xmlChar *)"id"), *mown = xmlGetProp(root, (const xmlChar *)"owner");
        bool ok = mid && mown && streq((const char *)mid, id) && streq((const char *)mown, owner);
        xmlFree(mid);
        xmlFree(mown);
        return ok;
}

static const struct prev *find_prev(const struct run_stats *st, const char *id)
{
        for (size_t i = 0; i < st->n_prev; i++)
                if (streq(st->prev[i].id, id))
                        return &st->prev[i];
        return NULL;
}

/* One domain's stats: 1 with RET filled, 0 when the domain went away
 * meanwhile, or -errno. */
static int sample_one(virDomainPtr d, struct stats_sample *ret, usec_t *ret_t, struct mlvm_err *e)
{
        virDomainPtr doms[] = { d, NULL };
        virDomainStatsRecordPtr *recs = NULL;
        int n = virDomainListGetStats(doms, STATS_GROUPS, &recs, 0);
        usec_t t = now_usec();
        if (n < 0) {
                if (virGetLastErrorCode() == VIR_ERR_NO_DOMAIN || virGetLastErrorCode() == VIR_ERR_OPERATION_INVALID) {
                        virResetLastError();
                        return 0;
                }
                return err_virt(e, "domain stats of %s", virDomainGetName(d));
        }
        int r = n == 1 ? stats_sample_parse(recs[0]->params, recs[0]->nparams, ret, e) : 0;
        virDomainStatsRecordListFree(recs);
        if (r < 0)
                return err_prefix(e, "%s", virDomainGetName(d));
        *ret_t = t;
        return n == 1;
}

int run_stats_sample(struct run_stats *st, struct stats_row **ret, size_t *ret_n, struct mlvm_err *e)
{
        struct cand *c = NULL;
        size_t n = 0, k = 0;
        int r;

        if ((r = live_runs(st, &c, &n, e)) < 0)
                return r;
        struct stats_row *rows = xcalloc(n ? n : 1, sizeof(*rows));
        struct prev *next = xcalloc(n ? n : 1, sizeof(*next));
        for (size_t i = 0; i < n; i++) {
                if (!watched(st, c[i].id))
                        continue;
                _cleanup_virDomain_ virDomainPtr d = virDomainLookupByName(st->conn, c[i].domain);
                if (!d || virDomainIsActive(d) != 1 || !domain_is_ours(d, c[i].id, st->owner)) {
                        virResetLastError();
                        continue;   /* not started yet, gone meanwhile, or not ours */
                }
                struct stats_row *row = &rows[k];
                usec_t t = 0;
                if ((r = sample_one(d, &row->s, &t, e)) < 0)
                        break;
                if (r == 0)
                        continue;
                memcpy(row->id, c[i].id, sizeof(row->id));
                row->name = TAKE_PTR(c[i].name);
                row->domain = TAKE_PTR(c[i].domain);
                const struct prev *p = find_prev(st, row->id);
                row->cpu_percent = p ? stats_cpu_percent(&p->s, p->t, &row->s, t) : -1;
                row->interval_s = p && t > p->t ? usec_to_sec(t - p->t) : 0;
                memcpy(next[k].id, row->id, sizeof(next[k].id));
                next[k].s = row->s;
                next[k].t = t;
                k++;
        }
        cands_free(c, n);
        if (r < 0) {
                stats_rows_free(rows, k);
                free(next);
                return r;
        }
        free(st->prev);
        st->prev = next;
        st->n_prev = k;
        *ret = rows;
        *ret_n = k;
        return 0;
}
