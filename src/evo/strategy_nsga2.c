/* src/evo/strategy_nsga2.c — NSGA-II (Deb et al. 2002) over the config's
 * objectives, with mutation as the only variation (ENERGIZE's operators;
 * DSGE genotypes of different module structure have no crossover here).
 *
 * Generation 0: `population` individuals (random, or the seed and its
 * mutants, as (1+λ)'s generation 0). Each later generation: λ children,
 * child i a mutant of a survivor picked by binary tournament (rank, then
 * crowding distance) drawn from child i's own stream (seed, generation, i);
 * then the `population` best of survivors + children by non-dominated
 * sorting under constrained domination and crowding distance survive.
 * Selection is deterministic (enevo/pareto.h breaks ties by index), so a
 * run reproduces from its seed and resumes exactly.
 *
 * The front archive: every valid, feasible individual evaluated so far that
 * no other one dominates, in the order they entered. front/ holds its model
 * files (copies), front.csv and front.json; generations.csv one row per
 * generation with the archive's hypervolume against hypervolume_reference.
 * Model files in models/ are kept for the survivors only (train_longer
 * continues from them) and swept after each generation's checkpoint (and
 * on resume), so a generation redone after a kill finds every file it
 * copies.
 */
#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "enevo/io.h"
#include "enevo/pareto.h"
#include "evo/run_internal.h"

_Static_assert(ENEVO_MAX_OBJECTIVES == 4, "config.h and pareto.h agree on ENEVO_MAX_OBJECTIVES");

#define ALL_MAX (2 * ENEVO__POP_MAX + 1)

const char *const ENEVO__GENERATIONS_HEADER =
    "generation,evaluations,survivors,survivors_first_front,front_size,hypervolume\n";

static int mu(const struct run *r)
{
    return r->c->population ? r->c->population : r->c->lambda;
}

double enevo__metric(struct run *r, const char *metric, const struct enevo_metrics *m)
{
    /* enevo_fitness of one `maximize` term of weight 1 is the metric's
     * value, derived ones (log2_energy, energy_mj) included. */
    struct enevo_config *p = r->probe;
    snprintf(p->terms[0].metric, sizeof p->terms[0].metric, "%s", metric);
    double f;
    char err[ENEVO_ERR_LEN];
    if (enevo_fitness(p, m, &f, err, sizeof err) || f == ENEVO_WORST_FITNESS)
        return NAN;
    return f;
}

/* x's objectives, all minimised (maximised ones negated), and its total
 * constraint violation; false when it has nothing to compare (invalid, or
 * an objective that is not a finite number). */
static bool objectives(struct run *r, const struct indiv *x, double *obj, double *viol)
{
    const struct enevo_config *c = r->c;
    *viol = 0;
    for (int j = 0; j < c->n_objectives; j++)
        obj[j] = 0;
    if (!x->m.valid)
        return false;
    for (int j = 0; j < c->n_objectives; j++) {
        double v = enevo__metric(r, c->objectives[j].metric, &x->m);
        if (!isfinite(v))
            return false;
        obj[j] = c->objectives[j].maximize ? -v : v;
    }
    /* How far each constraint is from holding, in its metric's units. */
    for (int k = 0; k < c->n_constraints; k++) {
        const struct enevo_fitness_cond *q = &c->constraints[k];
        double v = enevo__metric(r, q->metric, &x->m);
        if (!isfinite(v))
            *viol += 1e300;
        else
            *viol += q->greater_than ? fmax(0, q->value - v) : fmax(0, v - q->value);
    }
    return true;
}

static void points(struct run *r, struct indiv *const *xs, int n, double *obj,
                   struct enevo_pareto_point *p)
{
    int m = r->c->n_objectives;
    for (int i = 0; i < n; i++) {
        p[i].obj = obj + (size_t)i * m;
        p[i].valid = objectives(r, xs[i], obj + (size_t)i * m, &p[i].violation);
    }
}

static int indiv_copy(const struct indiv *src, struct indiv *dst)
{
    *dst = *src;
    memset(&dst->gt, 0, sizeof dst->gt);
    dst->phenotype = src->phenotype ? strdup(src->phenotype) : NULL;
    int rc = enevo_genotype_copy(&src->gt, &dst->gt);
    if (rc || (src->phenotype && !dst->phenotype)) {
        enevo__indiv_free(dst);
        return rc ? rc : ENEVO_ENOMEM;
    }
    return 0;
}

/* ---- candidates ---- */

static int nsga2_generation_size(const struct run *r)
{
    return r->gen == 0 ? mu(r) : r->c->lambda;
}

static int nsga2_make(struct run *r, int idx, struct enevo__cand *cand, char *err, size_t errlen)
{
    const struct enevo_config *c = r->c;
    struct indiv *x = cand->x;
    enevo_rng rng;
    enevo__cand_start(r, idx, cand, &rng);
    int rc;
    if (r->gen == 0) {
        rc = enevo__make_initial(r, idx, &rng, cand);
    } else {
        int n = r->n_surv, rank[ENEVO__POP_MAX];
        double crowd[ENEVO__POP_MAX], obj[ENEVO__POP_MAX * ENEVO_MAX_OBJECTIVES];
        struct enevo_pareto_point p[ENEVO__POP_MAX];
        struct indiv *xs[ENEVO__POP_MAX];
        if (n < 1)
            return enevo_errf(err, errlen, ENEVO_EINVAL, "generation %d has no survivors",
                              r->gen);
        for (int i = 0; i < n; i++)
            xs[i] = &r->surv[i];
        points(r, xs, n, obj, p);
        rc = enevo_pareto_rank(p, n, c->n_objectives, rank, crowd);
        if (rc < 0)
            return enevo_errf(err, errlen, rc, "ranking the survivors of generation %d",
                              r->gen - 1);
        int k = n > 1 ? enevo_nsga2_tournament(rank, crowd, n, &rng) : 0;
        if (k < 0 || k >= n)
            return enevo_errf(err, errlen, ENEVO_EINVAL, "tournament gave %d of %d", k, n);
        rc = enevo__make_mutant(r, &r->surv[k], &rng, cand);
    }
    if (!rc)
        rc = enevo_genotype_phenotype(&r->space, &x->gt, &rng, &x->phenotype);
    return rc;
}

static int nsga2_tell(struct run *r, struct indiv *x, char *err, size_t errlen)
{
    /* The scalar fitness is reported (stats.csv, best/), not selected on. */
    int rc = enevo_fitness(r->c, &x->m, &x->fitness, err, errlen);
    x->n_evals = 1;
    x->fitness_mean = x->fitness;
    return rc;
}

/* ---- the front archive and front/ ---- */

static void front_name(char *buf, size_t len, const struct indiv *x, int part)
{
    if (part < 0)
        snprintf(buf, len, "g%d-i%d.enevo", x->gen, x->idx);
    else
        snprintf(buf, len, "g%d-i%d.model%d.enevo", x->gen, x->idx, part);
}

/* A member's model files into front/ (from models/, where a member that
 * entered in this generation still has them; earlier members' copies are
 * already there). */
static int front_copy_models(struct run *r, const struct indiv *x, char *err, size_t errlen)
{
    char src[1024], dst[1024], name[96], rel[128];
    for (int part = -1; part < 2; part++) {
        if (part < 0)
            enevo__model_path(r, src, sizeof src, x->gen, x->idx);
        else
            enevo__part_path(r, src, sizeof src, x->gen, x->idx, part);
        front_name(name, sizeof name, x, part);
        snprintf(rel, sizeof rel, "front/%s", name);
        enevo__path(r, dst, sizeof dst, rel);
        if (access(src, R_OK) == 0) {
            int rc = enevo__copy_file(src, dst, err, errlen);
            if (rc)
                return rc;
        } else if (part < 0 && access(dst, R_OK) != 0) {
            return enevo_errf(err, errlen, ENEVO_EIO,
                              "front member %d-%d: neither %s nor %s exists", x->gen, x->idx,
                              src, dst);
        }
    }
    return 0;
}

/* Deletes the files of front/ (models) that belong to no member. */
static void front_sweep(struct run *r)
{
    char dir[1024];
    enevo__path(r, dir, sizeof dir, "front");
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        int g, i, n = 0;
        if (strstr(e->d_name, ".tmp.")) { /* an atomic write a kill cut short */
            char path[1400];
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            unlink(path);
            continue;
        }
        if (sscanf(e->d_name, "g%d-i%d.%n", &g, &i, &n) != 2 || n == 0 ||
            !strstr(e->d_name, ".enevo"))
            continue;
        /* A copy cut short by a kill leaves NAME.tmp.PID behind: never kept. */
        bool keep = false;
        for (int k = 0; k < r->n_front && !keep && !strstr(e->d_name, ".tmp."); k++)
            keep = r->front[k].gen == g && r->front[k].idx == i;
        if (!keep) {
            char path[1400];
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            unlink(path);
        }
    }
    closedir(d);
}

/* Deletes the model files of models/ that belong to no survivor and to no
 * evaluation of the current generation (a file written by an evaluation
 * the checkpoint does not have yet goes too: it is redone). */
static void models_sweep(struct run *r)
{
    char dir[1024];
    enevo__path(r, dir, sizeof dir, "models");
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        int g, i, n = 0;
        if (sscanf(e->d_name, "g%d_i%d.%n", &g, &i, &n) != 2 || n == 0)
            continue;
        bool keep = false;
        for (int k = 0; k < r->n_surv && !keep && !strstr(e->d_name, ".tmp."); k++)
            keep = r->surv[k].gen == g && r->surv[k].idx == i;
        for (int k = 0; k < r->pop_n && !keep && !strstr(e->d_name, ".tmp."); k++)
            keep = r->pop[k].eval_gen == g && r->pop[k].eval_idx == i;
        if (!keep) {
            char path[1400];
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            unlink(path);
        }
    }
    closedir(d);
}

struct enevo__buf_lite {
    char *s;
    size_t len, cap;
    bool failed;
};

static void buf_add(struct enevo__buf_lite *b, const char *s, size_t n)
{
    if (b->failed)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? 2 * b->cap : 4096;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *t = realloc(b->s, cap);
        if (!t) {
            b->failed = true;
            return;
        }
        b->s = t;
        b->cap = cap;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = 0;
}

static void buf_num(struct enevo__buf_lite *b, const char *sep, double v)
{
    char t[48];
    if (isnan(v))
        snprintf(t, sizeof t, "%s", sep);
    else
        snprintf(t, sizeof t, "%s%.17g", sep, v);
    buf_add(b, t, strlen(t));
}

/* A quoted CSV field, newlines as " | " (as stats.csv writes phenotypes). */
static void csv_text(struct enevo__buf_lite *b, const char *s)
{
    buf_add(b, "\"", 1);
    size_t n = s ? strlen(s) : 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\n') {
            if (i + 1 < n)
                buf_add(b, " | ", 3);
        } else {
            buf_add(b, s[i] == '"' ? "'" : &s[i], 1);
        }
    }
    buf_add(b, "\"", 1);
}

/* front.csv's columns beside the objectives (stats.csv's names), unless
 * an objective already is that metric. */
static const struct {
    const char *column, *metric;
} FIXED[] = {{"accuracy", "accuracy"},
             {"test_accuracy", "test_accuracy"},
             {"energy_j_per_inference", "energy"},
             {"params", "params"},
             {"flops", "flops"}};

static bool is_objective(const struct enevo_config *c, const char *metric)
{
    for (int j = 0; j < c->n_objectives; j++)
        if (!strcmp(c->objectives[j].metric, metric))
            return true;
    return false;
}

/* front/front.csv and front/front.json of the current archive. */
static int front_write(struct run *r, double hv, char *err, size_t errlen)
{
    const struct enevo_config *c = r->c;
    struct enevo__buf_lite b = {0};
    buf_add(&b, "id,generation,index", 19);
    for (int j = 0; j < c->n_objectives; j++) {
        buf_add(&b, ",", 1);
        buf_add(&b, c->objectives[j].metric, strlen(c->objectives[j].metric));
    }
    buf_add(&b, ",violation", 10);
    for (size_t f = 0; f < sizeof FIXED / sizeof FIXED[0]; f++)
        if (!is_objective(c, FIXED[f].metric)) {
            buf_add(&b, ",", 1);
            buf_add(&b, FIXED[f].column, strlen(FIXED[f].column));
        }
    buf_add(&b, ",model,phenotype\n", 17);
    cJSON *o = cJSON_CreateObject();
    cJSON *objs = cJSON_AddArrayToObject(o, "objectives");
    for (int j = 0; j < c->n_objectives; j++) {
        cJSON *q = cJSON_CreateObject();
        cJSON_AddStringToObject(q, "metric", c->objectives[j].metric);
        cJSON_AddStringToObject(q, "objective", c->objectives[j].maximize ? "maximize" : "minimize");
        if (c->n_hv_ref)
            cJSON_AddNumberToObject(q, "reference", c->hv_ref[j]);
        cJSON_AddItemToArray(objs, q);
    }
    if (isnan(hv))
        cJSON_AddNullToObject(o, "hypervolume");
    else
        cJSON_AddNumberToObject(o, "hypervolume", hv);
    cJSON_AddNumberToObject(o, "generation", r->gen);
    cJSON *arr = cJSON_AddArrayToObject(o, "members");
    for (int k = 0; k < r->n_front; k++) {
        const struct indiv *x = &r->front[k];
        char id[32], name[96], t[64];
        enevo__label(id, sizeof id, x->gen, x->idx);
        front_name(name, sizeof name, x, -1);
        snprintf(t, sizeof t, "%s,%d,%d", id, x->gen, x->idx);
        buf_add(&b, t, strlen(t));
        double obj[ENEVO_MAX_OBJECTIVES], viol;
        objectives(r, x, obj, &viol);
        for (int j = 0; j < c->n_objectives; j++)
            buf_num(&b, ",", c->objectives[j].maximize ? -obj[j] : obj[j]);
        buf_num(&b, ",", viol);
        for (size_t f = 0; f < sizeof FIXED / sizeof FIXED[0]; f++)
            if (!is_objective(c, FIXED[f].metric))
                buf_num(&b, ",",
                        !strcmp(FIXED[f].metric, "test_accuracy")
                            ? x->m.test_accuracy
                            : enevo__metric(r, FIXED[f].metric, &x->m));
        buf_add(&b, ",", 1);
        buf_add(&b, name, strlen(name));
        buf_add(&b, ",", 1);
        csv_text(&b, x->phenotype);
        buf_add(&b, "\n", 1);
        cJSON *j = enevo__indiv_json(x);
        cJSON_AddStringToObject(j, "model", name);
        cJSON_AddItemToArray(arr, j);
    }
    char path[1024];
    int rc = b.failed ? enevo_errf(err, errlen, ENEVO_ENOMEM, "out of memory") : 0;
    enevo__path(r, path, sizeof path, "front/front.csv");
    if (!rc)
        rc = enevo_write_atomic(path, b.s, b.len, err, errlen);
    free(b.s);
    enevo__path(r, path, sizeof path, "front/front.json");
    if (!rc)
        rc = enevo__write_json(path, o, err, errlen);
    else
        cJSON_Delete(o);
    return rc;
}

/* The archive after this generation: the non-dominated set of the old
 * archive and this generation's valid feasible individuals, old members
 * first (of identical points, both stay). */
static int front_update(struct run *r, char *err, size_t errlen)
{
    int m = r->c->n_objectives, n = 0;
    int total = r->n_front + r->pop_n;
    struct indiv **xs = calloc((size_t)total + 1, sizeof *xs);
    double *obj = calloc((size_t)(total + 1) * m, sizeof *obj);
    struct enevo_pareto_point *p = calloc((size_t)total + 1, sizeof *p);
    int *rank = calloc((size_t)total + 1, sizeof *rank);
    struct indiv *nf = calloc((size_t)total + 1, sizeof *nf);
    int rc = xs && obj && p && rank && nf ? 0 : ENEVO_ENOMEM;
    for (int k = 0; !rc && k < r->n_front; k++)
        xs[n++] = &r->front[k];
    for (int i = 0; !rc && i < r->pop_n; i++) {
        double o[ENEVO_MAX_OBJECTIVES], viol;
        if (objectives(r, &r->pop[i], o, &viol) && viol == 0)
            xs[n++] = &r->pop[i];
    }
    if (!rc) {
        points(r, xs, n, obj, p);
        int fronts = n ? enevo_pareto_rank(p, n, m, rank, NULL) : 0;
        if (fronts < 0)
            rc = fronts;
    }
    int nn = 0;
    for (int k = 0; !rc && k < n; k++) {
        if (rank[k] != 0)
            continue;
        if (k < r->n_front) {
            nf[nn] = r->front[k];
            memset(&r->front[k], 0, sizeof r->front[k]);
            nn++;
        } else if (!(rc = indiv_copy(xs[k], &nf[nn]))) {
            nn++;
            rc = front_copy_models(r, xs[k], err, errlen);
            if (rc) {
                free(xs);
                free(obj);
                free(p);
                free(rank);
                for (int q = 0; q < nn; q++)
                    enevo__indiv_free(&nf[q]);
                free(nf);
                return rc;
            }
        }
    }
    free(xs);
    free(obj);
    free(p);
    free(rank);
    if (rc) {
        for (int q = 0; q < nn; q++)
            enevo__indiv_free(&nf[q]);
        free(nf);
        return enevo_errf(err, errlen, rc, "updating the front archive: %s", enevo_strerror(rc));
    }
    for (int k = 0; k < r->n_front; k++)
        enevo__indiv_free(&r->front[k]);
    free(r->front);
    r->front = nf;
    r->n_front = nn;
    r->cap_front = total + 1;
    return 0;
}

static double front_hypervolume(struct run *r)
{
    const struct enevo_config *c = r->c;
    int m = c->n_objectives;
    if (!c->n_hv_ref)
        return NAN;
    double ref[ENEVO_MAX_OBJECTIVES];
    for (int j = 0; j < m; j++)
        ref[j] = c->objectives[j].maximize ? -c->hv_ref[j] : c->hv_ref[j];
    double *obj = calloc((size_t)r->n_front * m + 1, sizeof *obj);
    if (!obj)
        return NAN;
    for (int k = 0; k < r->n_front; k++) {
        double viol;
        objectives(r, &r->front[k], obj + (size_t)k * m, &viol);
    }
    double hv = enevo_hypervolume(obj, r->n_front, m, ref);
    free(obj);
    return hv;
}

/* ---- end of a generation ---- */

static int nsga2_end_generation(struct run *r, char *err, size_t errlen)
{
    const struct enevo_config *c = r->c;
    int m = c->n_objectives;
    /* Survivors of survivors + children. */
    int n = 0;
    struct indiv *all[ALL_MAX];
    for (int i = 0; i < r->n_surv; i++)
        all[n++] = &r->surv[i];
    for (int i = 0; i < r->pop_n; i++)
        all[n++] = &r->pop[i];
    double obj[ALL_MAX * ENEVO_MAX_OBJECTIVES];
    struct enevo_pareto_point p[ALL_MAX];
    int keep[ALL_MAX];
    points(r, all, n, obj, p);
    int k = mu(r) < n ? mu(r) : n;
    int rc = enevo_nsga2_survivors(p, n, m, k, keep);
    if (rc < 0)
        return enevo_errf(err, errlen, rc, "NSGA-II selection in generation %d", r->gen);
    /* The front archive, front/ and its hypervolume. */
    char path[1024];
    enevo__path(r, path, sizeof path, "front");
    if ((rc = enevo_mkdir_p(path, err, errlen)) || (rc = front_update(r, err, errlen)))
        return rc;
    double hv = front_hypervolume(r);
    if ((rc = front_write(r, hv, err, errlen)))
        return rc;
    front_sweep(r);
    /* best/: the highest scalar fitness so far (reported, not selected on). */
    int best = -1;
    double bf = r->best_gen < 0 ? -INFINITY : r->best_fitness;
    for (int i = 0; i < r->pop_n; i++)
        if (r->pop[i].m.valid && r->pop[i].fitness_mean > bf) {
            bf = r->pop[i].fitness_mean;
            best = i;
        }
    if (best >= 0) {
        r->best_fitness = bf;
        r->best_gen = r->pop[best].gen;
        r->best_idx = r->pop[best].idx;
        if ((rc = enevo__write_best(r, &r->pop[best], err, errlen)))
            return rc;
    }
    /* The new survivors in preference order, and their ranks (for the JSON). */
    struct indiv ns[ENEVO__POP_MAX];
    bool taken[ALL_MAX] = {false};
    for (int i = 0; i < k; i++) {
        ns[i] = *all[keep[i]];
        taken[keep[i]] = true;
    }
    int srank[ENEVO__POP_MAX];
    double scrowd[ENEVO__POP_MAX], sobj[ENEVO__POP_MAX * ENEVO_MAX_OBJECTIVES];
    struct enevo_pareto_point sp[ENEVO__POP_MAX];
    struct indiv *sx[ENEVO__POP_MAX];
    for (int i = 0; i < k; i++)
        sx[i] = &ns[i];
    points(r, sx, k, sobj, sp);
    if ((rc = enevo_pareto_rank(sp, k, m, srank, scrowd)) < 0)
        return enevo_errf(err, errlen, rc, "ranking the survivors of generation %d", r->gen);
    int first = 0;
    for (int i = 0; i < k; i++)
        first += srank[i] == 0;
    /* generations.csv */
    char row[256], hvs[48] = "";
    if (!isnan(hv))
        snprintf(hvs, sizeof hvs, "%.17g", hv);
    snprintf(row, sizeof row, "%d,%d,%d,%d,%d,%s\n", r->gen, r->evaluations, k, first, r->n_front,
             hvs);
    enevo__path(r, path, sizeof path, "generations.csv");
    if ((rc = enevo__append(path, row, &r->gens_len, err, errlen)))
        return rc;
    /* stats/generation_<g>.json */
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "generation", r->gen);
    cJSON_AddStringToObject(o, "strategy", "nsga2");
    cJSON *arr = cJSON_AddArrayToObject(o, "individuals");
    for (int i = 0; i < r->pop_n; i++)
        cJSON_AddItemToArray(arr, enevo__indiv_json(&r->pop[i]));
    arr = cJSON_AddArrayToObject(o, "survivors");
    for (int i = 0; i < k; i++) {
        char id[32];
        enevo__label(id, sizeof id, ns[i].gen, ns[i].idx);
        cJSON *s = cJSON_CreateObject();
        cJSON_AddStringToObject(s, "id", id);
        cJSON_AddNumberToObject(s, "rank", srank[i]);
        if (isfinite(scrowd[i]))
            cJSON_AddNumberToObject(s, "crowding", scrowd[i]);
        else
            cJSON_AddStringToObject(s, "crowding", "inf");
        cJSON_AddItemToArray(arr, s);
    }
    arr = cJSON_AddArrayToObject(o, "front");
    for (int i = 0; i < r->n_front; i++) {
        char id[32];
        enevo__label(id, sizeof id, r->front[i].gen, r->front[i].idx);
        cJSON_AddItemToArray(arr, cJSON_CreateString(id));
    }
    if (isnan(hv))
        cJSON_AddNullToObject(o, "hypervolume");
    else
        cJSON_AddNumberToObject(o, "hypervolume", hv);
    char lab[32];
    enevo__label(lab, sizeof lab, r->best_gen, r->best_idx);
    cJSON_AddStringToObject(o, "best_so_far", lab);
    cJSON_AddNumberToObject(o, "best_fitness", r->best_fitness);
    char name[64];
    snprintf(name, sizeof name, "stats/generation_%d.json", r->gen);
    enevo__path(r, path, sizeof path, name);
    if ((rc = enevo__write_json(path, o, err, errlen)))
        return rc;
    enevo__logf(r,
                "generation %d: %d survivors (%d in the first front), front archive %d, "
                "hypervolume %s; best fitness so far %s %.4f; %d evaluations, %.0f s\n",
                r->gen, k, first, r->n_front, hvs[0] ? hvs : "n/a (no hypervolume_reference)",
                lab, r->best_fitness, r->evaluations, enevo_now() - r->t_start);
    /* Commit: the survivors move, everyone else is freed. */
    for (int i = 0; i < n; i++)
        if (!taken[i])
            enevo__indiv_free(all[i]);
    for (int i = 0; i < k; i++)
        r->surv[i] = ns[i];
    for (int i = k; i < ENEVO__POP_MAX; i++)
        memset(&r->surv[i], 0, sizeof r->surv[i]);
    r->n_surv = k;
    for (int i = 0; i < r->pop_n; i++)
        memset(&r->pop[i], 0, sizeof r->pop[i]);
    r->pop_n = 0;
    r->next = 0;
    r->gen++;
    if ((rc = enevo__save_checkpoint(r, err, errlen)))
        return rc;
    models_sweep(r);
    return 0;
}

const struct enevo__strategy enevo__strategy_nsga2 = {
    .name = "nsga2",
    .generation_size = nsga2_generation_size,
    .make = nsga2_make,
    .tell = nsga2_tell,
    .end_generation = nsga2_end_generation,
    .resumed = models_sweep,
};
