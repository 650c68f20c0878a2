/* src/evo/strategy_es.c — the (1+λ) evolution strategy (ENERGIZE's):
 * generation 0 is λ individuals (random, or the seed and λ - 1 mutants of
 * it); each later generation λ mutants of the parent, plus the parent
 * re-trained from scratch when reevaluate_parent is set; the fittest of
 * parent and children (by the running mean of fitness; the parent wins
 * ties) is the next parent.
 *
 * Also the candidate makers NSGA-II shares: the initial individual and the
 * mutant of a parent.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "enevo/io.h"
#include "evo/run_internal.h"

int enevo__make_initial(struct run *r, int idx, enevo_rng *rng, struct enevo__cand *cand)
{
    const struct enevo_config *c = r->c;
    struct indiv *x = cand->x;
    int rc;
    if (c->seed_phenotype[0]) {
        /* ENERGIZE's seed_model: the seed, then mutants of it. */
        char err[ENEVO_ERR_LEN];
        rc = enevo_genotype_encode(&r->space, c->seed_phenotype, rng, &x->gt, err, sizeof err);
        if (!rc && idx > 0) {
            struct enevo_config no_longer = *c;
            no_longer.mutation.train_longer = 0; /* nothing to continue from */
            struct enevo_evo_space s = r->space;
            s.cfg = &no_longer;
            x->mutations = enevo_mutate(&s, &x->gt, rng, NULL, NULL);
            x->parent_gen = 0;
            x->parent_idx = 0;
        }
        x->budget = c->default_train_epochs;
    } else {
        rc = enevo_genotype_random(&r->space, rng, &x->gt);
        x->budget = c->default_train_epochs;
    }
    return rc;
}

int enevo__make_mutant(struct run *r, const struct indiv *p, enevo_rng *rng,
                       struct enevo__cand *cand)
{
    const struct enevo_config *c = r->c;
    struct indiv *x = cand->x;
    int rc = enevo_genotype_copy(&p->gt, &x->gt);
    x->parent_gen = p->gen;
    x->parent_idx = p->idx;
    x->budget = p->budget;
    if (rc)
        return rc;
    struct enevo_archive_ctx ac = {.archive = &r->archive, .by_power = c->reuse_by_power};
    x->mutations = enevo_mutate(&r->space, &x->gt, rng, enevo_archive_reuse, &ac);
    if (x->mutations & ENEVO_MUT_REUSE_MODULE)
        snprintf(x->reused, sizeof x->reused, "%s#%016llx:%.6g J",
                 c->modules[ac.last.mod.type].name, (unsigned long long)ac.last.hash,
                 ac.last.energy_j);
    /* An invalid parent has no weights to continue from. */
    if ((x->mutations & ENEVO_MUT_TRAIN_LONGER) && p->m.valid) {
        x->budget = p->budget + c->default_train_epochs;
        cand->prior_epochs = p->m.epochs;
        cand->epochs = c->default_train_epochs;
        /* The parent's own model file is where train_longer continues from. */
        enevo__model_path(r, cand->init_model, sizeof cand->init_model, p->gen, p->idx);
    } else {
        x->budget = c->default_train_epochs;
    }
    return 0;
}

static int es_generation_size(const struct run *r)
{
    if (r->gen == 0)
        return r->c->lambda;
    return r->c->lambda + (r->c->reevaluate_parent ? 1 : 0);
}

void enevo__cand_start(struct run *r, int idx, struct enevo__cand *cand, enevo_rng *rng)
{
    enevo_rng_seed3(rng, r->c->seed, ENEVO_STREAM_EVO, (uint64_t)r->gen, (uint64_t)idx);
    cand->train_seed = enevo_rng_u64(rng);
    struct indiv *x = cand->x;
    memset(x, 0, sizeof *x);
    x->gen = x->eval_gen = r->gen;
    x->idx = x->eval_idx = idx;
    x->parent_gen = x->parent_idx = -1;
    cand->init_model[0] = 0;
    cand->prior_epochs = 0;
    cand->epochs = r->c->default_train_epochs;
    cand->reeval = false;
}

static int es_make(struct run *r, int idx, struct enevo__cand *cand, char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    const struct enevo_config *c = r->c;
    struct indiv *x = cand->x;
    enevo_rng rng;
    enevo__cand_start(r, idx, cand, &rng);
    cand->reeval = r->gen > 0 && c->reevaluate_parent && idx == 0;
    int rc;
    if (r->gen == 0) {
        rc = enevo__make_initial(r, idx, &rng, cand);
    } else if (cand->reeval) {
        /* The parent again, from scratch with a fresh stream: its fitness
         * becomes the mean over its evaluations. */
        const struct indiv *p = &r->parent;
        rc = enevo_genotype_copy(&p->gt, &x->gt);
        x->budget = p->budget;
        x->gen = p->gen;
        x->idx = p->idx;
        x->parent_gen = p->parent_gen;
        x->parent_idx = p->parent_idx;
        x->mutations = p->mutations;
        cand->epochs = p->budget;
    } else {
        rc = enevo__make_mutant(r, &r->parent, &rng, cand);
    }
    if (!rc)
        rc = enevo_genotype_phenotype(&r->space, &x->gt, &rng, &x->phenotype);
    return rc;
}

static int es_tell(struct run *r, struct indiv *x, char *err, size_t errlen)
{
    int rc = enevo_fitness(r->c, &x->m, &x->fitness, err, errlen);
    if (rc)
        return rc;
    bool reeval = r->gen > 0 && r->c->reevaluate_parent && r->next == 0;
    if (reeval) {
        x->n_evals = r->parent.n_evals + 1;
        x->fitness_mean = (r->parent.fitness_mean * r->parent.n_evals + x->fitness) / x->n_evals;
    } else {
        x->n_evals = 1;
        x->fitness_mean = x->fitness;
    }
    return 0;
}

/* Selection at the end of a generation: the fittest of parent and
 * children; the parent (first) wins ties. Idempotent, so a run killed in
 * here redoes it on resume. */
static int es_end_generation(struct run *r, char *err, size_t errlen)
{
    int best = -1;
    double bf = -INFINITY;
    bool parent_in_pop = r->gen > 0 && r->c->reevaluate_parent;
    if (r->gen > 0 && !parent_in_pop) {
        bf = r->parent.fitness_mean; /* not re-evaluated: its running mean stands */
    }
    for (int i = 0; i < r->pop_n; i++)
        if (r->pop[i].fitness_mean > bf) {
            bf = r->pop[i].fitness_mean;
            best = i;
        }
    struct indiv chosen;
    if (best >= 0) {
        chosen = r->pop[best];
        memset(&r->pop[best], 0, sizeof r->pop[best]);
    } else {
        chosen = r->parent;
        memset(&r->parent, 0, sizeof r->parent);
    }
    bool improved = !r->has_parent || r->best_gen < 0 || chosen.fitness_mean > r->best_fitness;
    char path[1024];
    int rc = 0;
    if (improved && chosen.m.valid) {
        r->best_fitness = chosen.fitness_mean;
        r->best_gen = chosen.gen;
        r->best_idx = chosen.idx;
        rc = enevo__write_best(r, &chosen, err, errlen);
    }
    /* stats/generation_<g>.json */
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "generation", r->gen);
    cJSON *arr = cJSON_AddArrayToObject(o, "individuals");
    for (int i = 0; i < r->pop_n; i++)
        if (i != best)
            cJSON_AddItemToArray(arr, enevo__indiv_json(&r->pop[i]));
    if (best >= 0)
        cJSON_AddItemToArray(arr, enevo__indiv_json(&chosen));
    cJSON_AddItemToObject(o, "parent", enevo__indiv_json(&chosen));
    char lab[32];
    enevo__label(lab, sizeof lab, r->best_gen, r->best_idx);
    cJSON_AddStringToObject(o, "best_so_far", lab);
    cJSON_AddNumberToObject(o, "best_fitness", r->best_fitness);
    char name[64];
    snprintf(name, sizeof name, "stats/generation_%d.json", r->gen);
    enevo__path(r, path, sizeof path, name);
    if (!rc)
        rc = enevo__write_json(path, o, err, errlen);
    else
        cJSON_Delete(o);
    if (rc) {
        enevo__indiv_free(&chosen);
        return rc;
    }
    enevo__logf(r,
                "generation %d: parent %d-%d, fitness %.4f (%d evaluation%s), test accuracy "
                "%.4f; best so far %s, fitness %.4f; %d evaluations, %.0f s\n",
                r->gen, chosen.gen, chosen.idx, chosen.fitness_mean, chosen.n_evals,
          chosen.n_evals == 1 ? "" : "s", chosen.m.test_accuracy, lab, r->best_fitness,
          r->evaluations, enevo_now() - r->t_start);
    /* Model files of this generation's evaluations go, except the new
     * parent's own (train_longer continues from it); best/ has a copy of the
     * best. A re-evaluation's file is never the parent's own. */
    for (int i = 0; i < r->pop_n; i++) {
        const struct indiv *y = i == best ? &chosen : &r->pop[i];
        if (!(y->eval_gen == chosen.gen && y->eval_idx == chosen.idx))
            enevo__remove_models(r, y->eval_gen, y->eval_idx);
        if (i != best)
            enevo__indiv_free(&r->pop[i]);
    }
    if (r->has_parent && !(r->parent.gen == chosen.gen && r->parent.idx == chosen.idx) &&
        r->parent.phenotype) {
        enevo__remove_models(r, r->parent.gen, r->parent.idx);
    }
    enevo__indiv_free(&r->parent);
    r->parent = chosen;
    r->has_parent = true;
    r->pop_n = 0;
    r->next = 0;
    r->gen++;
    return enevo__save_checkpoint(r, err, errlen);
}

const struct enevo__strategy enevo__strategy_es = {
    .name = "one_plus_lambda",
    .generation_size = es_generation_size,
    .make = es_make,
    .tell = es_tell,
    .end_generation = es_end_generation,
};
