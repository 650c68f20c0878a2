/* src/evo/evolve.c — the evolution run: checks, the run directory, and the
 * generation loop over a strategy (strategy_es.c: (1+λ); strategy_nsga2.c:
 * NSGA-II) and an evaluator (evaluate.c: in this process). The strategy
 * says how many candidates a generation has and makes them; the evaluator
 * trains and records them, checkpointing after each; then the strategy
 * selects. rundir.c explains why a killed run resumes exactly.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "enevo/io.h"
#include "backend/backend.h"
#include "enevo/net.h"
#include "evo/run_internal.h"

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
    return h;
}

/* Every objective and constraint metric is one enevo_fitness knows; r->probe
 * reads them (a copy of the config with one `maximize` term). */
static int check_objectives(struct run *r, char *err, size_t errlen)
{
    const struct enevo_config *c = r->c;
    r->probe = malloc(sizeof *r->probe);
    if (!r->probe)
        return enevo_errf(err, errlen, ENEVO_ENOMEM, "out of memory");
    *r->probe = *c;
    struct enevo_config *p = r->probe;
    p->n_terms = 1;
    memset(p->terms, 0, sizeof p->terms);
    p->terms[0].maximize = true;
    p->terms[0].weight = 1;
    for (int j = 0; j < c->n_objectives + c->n_constraints; j++) {
        const char *m = j < c->n_objectives ? c->objectives[j].metric
                                            : c->constraints[j - c->n_objectives].metric;
        snprintf(p->terms[0].metric, sizeof p->terms[0].metric, "%s", m);
        char why[ENEVO_ERR_LEN];
        if (enevo_fitness_check(p, why, sizeof why))
            return enevo_errf(err, errlen, ENEVO_EINVAL, "evolutionary.%s: %s",
                              j < c->n_objectives ? "objectives" : "constraints", why);
        /* Model 1's metrics exist only with a partition: without one every
         * network would be incomparable. */
        size_t len = strlen(m);
        if (!c->model_partition && len > 2 && !strcmp(m + len - 2, "_1"))
            return enevo_errf(err, errlen, ENEVO_EINVAL,
                              "evolutionary.%s: '%s' is a metric of model 1, which needs "
                              "energize.model_partition: true",
                              j < c->n_objectives ? "objectives" : "constraints", m);
    }
    if (c->strategy == ENEVO_STRATEGY_NSGA2 && c->n_objectives < 1)
        return enevo_errf(err, errlen, ENEVO_EINVAL, "nsga2 needs evolutionary.objectives");
    if (c->n_hv_ref && c->n_hv_ref != c->n_objectives)
        return enevo_errf(err, errlen, ENEVO_EINVAL,
                          "evolutionary.hypervolume_reference has %d values for %d objectives",
                          c->n_hv_ref, c->n_objectives);
    return 0;
}

int enevo_evolve(const struct enevo_config *c, const char *config_text,
                 const struct enevo_grammar *g, const char *grammar_text,
                 const struct enevo_evo_data *d, const struct enevo_evo_opts *o,
                 struct enevo_evo_result *res, char *err, size_t errlen)
{
    memset(res, 0, sizeof *res);
    struct run *r = calloc(1, sizeof *r);
    if (!r)
        return enevo_errf(err, errlen, ENEVO_ENOMEM, "out of memory");
    r->c = c;
    r->d = d;
    r->o = o;
    r->dir = o->run_dir;
    r->cfg_hash = fnv1a(config_text);
    r->gram_hash = fnv1a(grammar_text);
    r->best_gen = r->best_idx = -1;
    r->best_fitness = -INFINITY;
    r->t_start = enevo_now();
    bool nsga2 = c->strategy == ENEVO_STRATEGY_NSGA2;
    r->strategy = nsga2 ? &enevo__strategy_nsga2 : &enevo__strategy_es;
    r->evaluator = &enevo__evaluator_inprocess;
    int rc = enevo_space_init(&r->space, c, g, err, errlen);
    if (!rc)
        rc = enevo_fitness_check(c, err, errlen);
    if (!rc)
        rc = check_objectives(r, err, errlen);
    /* A device this build or machine lacks fails now, not at the first net. */
    char *device = r->device;
    snprintf(device, sizeof r->device, "cpu");
    if (!rc)
        rc = enevo_device_resolve(c->device, device, sizeof r->device, NULL, 0, err, errlen);
    if (!rc && c->max_memory_mb > 0) {
        r->mem_limit = c->max_memory_mb * 1048576.0;
        snprintf(r->mem_what, sizeof r->mem_what, "evolutionary.max_memory_mb");
    } else if (!rc) {
        char what[128];
        r->mem_limit = enevo__device_memory(device, what, sizeof what);
        snprintf(r->mem_what, sizeof r->mem_what, "max_memory_mb 0: %s", what);
    }
    if (!rc && !o->meter) {
        static const char *const energy_metrics[] = {
            "energy",   "energy_mj", "log2_energy", "power",         "latency",       "energy_0",
            "energy_1", "power_0",   "power_1",     "log2_energy_0", "log2_energy_1", "latency_0",
            "latency_1"};
        for (size_t i = 0; !rc && i < sizeof energy_metrics / sizeof energy_metrics[0]; i++) {
            bool used = c->n_terms == 0 && !strcmp(c->fitness_metric, energy_metrics[i]);
            for (int t = 0; t < c->n_terms; t++) {
                used |= !strcmp(c->terms[t].metric, energy_metrics[i]);
                for (int k = 0; k < c->terms[t].n_conds; k++)
                    used |= !strcmp(c->terms[t].conds[k].metric, energy_metrics[i]);
            }
            if (used)
                rc = enevo_errf(err, errlen, ENEVO_EINVAL,
                                "the fitness uses '%s' but no energy meter was given",
                                energy_metrics[i]);
            /* NSGA-II selects on the objectives and constraints. */
            used = false;
            for (int j = 0; nsga2 && j < c->n_objectives; j++)
                used |= !strcmp(c->objectives[j].metric, energy_metrics[i]);
            for (int k = 0; nsga2 && k < c->n_constraints; k++)
                used |= !strcmp(c->constraints[k].metric, energy_metrics[i]);
            if (!rc && used)
                rc = enevo_errf(err, errlen, ENEVO_EINVAL,
                                "the objectives or constraints use '%s' but no energy meter was "
                                "given",
                                energy_metrics[i]);
        }
    }
    if (!rc && c->seed_phenotype[0]) {
        /* A seed that does not fit the grammar fails now, not mid-run. */
        struct enevo_genotype seed;
        enevo_rng probe;
        enevo_rng_seed(&probe, c->seed, ENEVO_STREAM_EVO);
        rc = enevo_genotype_encode(&r->space, c->seed_phenotype, &probe, &seed, err, errlen);
        if (!rc)
            enevo_genotype_free(&seed);
    }
    if (!rc && (c->lambda + 1 > (int)(sizeof r->pop / sizeof r->pop[0])))
        rc = enevo_errf(err, errlen, ENEVO_EINVAL, "lambda %d is above the limit of %d", c->lambda,
                        (int)(sizeof r->pop / sizeof r->pop[0]) - 1);
    if (!rc && nsga2) {
        int mu = c->population ? c->population : c->lambda;
        if (mu < 2 || mu > ENEVO__POP_MAX)
            rc = enevo_errf(err, errlen, ENEVO_EINVAL,
                            "nsga2: a population of %d (evolutionary.population, or lambda when "
                            "it is 0); expected 2 to %d",
                            mu, ENEVO__POP_MAX);
    }
    char path[1024];
    if (!rc)
        rc = enevo_mkdir_p(r->dir, err, errlen);
    if (!rc) {
        char sub[1024];
        enevo__path(r, sub, sizeof sub, "models");
        rc = enevo_mkdir_p(sub, err, errlen);
        enevo__path(r, sub, sizeof sub, "stats");
        if (!rc)
            rc = enevo_mkdir_p(sub, err, errlen);
        enevo__path(r, sub, sizeof sub, "best");
        if (!rc)
            rc = enevo_mkdir_p(sub, err, errlen);
    }
    if (!rc && enevo_archive_init(&r->archive, c->n_modules, c->archive_size > 0 ? c->archive_size : 1))
        rc = enevo_errf(err, errlen, ENEVO_ENOMEM, "out of memory");
    int loaded = rc ? 0 : enevo__load_checkpoint(r, err, errlen);
    if (loaded < 0)
        rc = loaded;
    if (!rc && loaded) {
        /* Cut off what was written after the last checkpoint. */
        enevo__path(r, path, sizeof path, "stats.csv");
        if (truncate(path, r->stats_len))
            rc = enevo_errf(err, errlen, ENEVO_EIO, "%s: %s", path, strerror(errno));
        /* A run from before stats.csv's note column goes on without it. */
        FILE *f = rc ? NULL : fopen(path, "rb");
        if (f) {
            char head[1024];
            size_t n = fread(head, 1, sizeof head - 1, f);
            head[n] = 0;
            r->stats_v1 = !strncmp(head, ENEVO__STATS_HEADER_V1, strlen(ENEVO__STATS_HEADER_V1));
            fclose(f);
        }
        enevo__path(r, path, sizeof path, "timing.csv");
        if (!rc && truncate(path, r->timing_len))
            rc = enevo_errf(err, errlen, ENEVO_EIO, "%s: %s", path, strerror(errno));
        enevo__path(r, path, sizeof path, "generations.csv");
        if (!rc && nsga2 && truncate(path, r->gens_len))
            rc = enevo_errf(err, errlen, ENEVO_EIO, "%s: %s", path, strerror(errno));
        if (!rc && r->strategy->resumed)
            r->strategy->resumed(r);
        if (!rc)
            enevo__logf(r, "resuming %s at generation %d, evaluation %d (%d done)\n", r->dir,
                        r->gen, r->next, r->evaluations);
    } else if (!rc) {
        enevo__path(r, path, sizeof path, "config.used.yaml");
        rc = enevo__write_text(path, config_text, err, errlen);
        enevo__path(r, path, sizeof path, "grammar.used");
        if (!rc)
            rc = enevo__write_text(path, grammar_text, err, errlen);
        enevo__path(r, path, sizeof path, "stats.csv");
        if (!rc)
            rc = enevo__write_text(path, ENEVO__STATS_HEADER, err, errlen);
        r->stats_len = (long)strlen(ENEVO__STATS_HEADER);
        enevo__path(r, path, sizeof path, "timing.csv");
        if (!rc)
            rc = enevo__write_text(path, ENEVO__TIMING_HEADER, err, errlen);
        r->timing_len = (long)strlen(ENEVO__TIMING_HEADER);
        if (nsga2) {
            enevo__path(r, path, sizeof path, "generations.csv");
            if (!rc)
                rc = enevo__write_text(path, ENEVO__GENERATIONS_HEADER, err, errlen);
            r->gens_len = (long)strlen(ENEVO__GENERATIONS_HEADER);
        }
        if (!rc)
            rc = enevo__save_checkpoint(r, err, errlen);
        char budget[96];
        if (c->default_train_time > 0)
            snprintf(budget, sizeof budget, "%.6g s (training + validation) per individual",
                     c->default_train_time);
        if (c->default_train_time > 0 && c->default_train_epochs > 0)
            snprintf(budget + strlen(budget), sizeof budget - strlen(budget), ", at most %d epochs",
                     c->default_train_epochs);
        else if (!(c->default_train_time > 0))
            snprintf(budget, sizeof budget, "%d epochs per individual", c->default_train_epochs);
        char shape[96];
        if (nsga2)
            snprintf(shape, sizeof shape, "NSGA-II (population %d, %d children)",
                     c->population ? c->population : c->lambda, c->lambda);
        else
            snprintf(shape, sizeof shape, "1+%d", c->lambda);
        if (!rc)
            enevo__logf(r,
                        "enevo evolve: %d generations of %s, %d train / %d validation / %d "
                        "fitness images, %s, seed %llu, device %s, run directory %s\n",
                        c->generations, shape, d->train->n, d->validation->n, d->fitness->n,
                        budget, (unsigned long long)c->seed, device, r->dir);
    }
    while (!rc && r->gen < c->generations) {
        if (c->max_epochs > 0 && r->total_epochs >= c->max_epochs)
            break;
        int n = r->strategy->generation_size(r);
        if (r->next < n) {
            bool stopped = false;
            rc = r->evaluator->run_batch(r, n, &stopped, err, errlen);
            if (stopped)
                break;
        } else {
            double t0 = enevo_now();
            rc = r->strategy->end_generation(r, err, errlen);
            r->overhead += enevo_now() - t0;
        }
    }
    res->generations = r->gen;
    res->evaluations = r->evaluations;
    res->finished = !rc && (r->gen >= c->generations ||
                            (c->max_epochs > 0 && r->total_epochs >= c->max_epochs));
    res->seconds = enevo_now() - r->t_start;
    res->overhead_seconds = r->overhead;
    res->best_fitness = r->best_fitness;
    if (r->has_parent || r->n_surv > 0) {
        res->best_accuracy = NAN;
        res->best_test_accuracy = NAN;
        /* The best is in best/metrics.json; report the parent if it is it. */
        enevo__path(r, path, sizeof path, "best/metrics.json");
        char *js;
        if (!enevo_read_text(path, 0, &js, NULL, NULL, 0)) {
            cJSON *j = cJSON_Parse(js);
            cJSON *a = cJSON_GetObjectItem(j, "accuracy"), *t = cJSON_GetObjectItem(j, "test_accuracy"),
                  *p = cJSON_GetObjectItem(j, "phenotype");
            if (cJSON_IsNumber(a))
                res->best_accuracy = a->valuedouble;
            if (cJSON_IsNumber(t))
                res->best_test_accuracy = t->valuedouble;
            if (cJSON_IsString(p))
                res->best_phenotype = strdup(p->valuestring);
            cJSON_Delete(j);
            free(js);
        }
    }
    enevo__indiv_free(&r->parent);
    for (int i = 0; i < (int)(sizeof r->pop / sizeof r->pop[0]); i++)
        enevo__indiv_free(&r->pop[i]);
    for (int i = 0; i < ENEVO__POP_MAX; i++)
        enevo__indiv_free(&r->surv[i]);
    for (int i = 0; i < r->n_front; i++)
        enevo__indiv_free(&r->front[i]);
    free(r->front);
    free(r->probe);
    enevo_archive_free(&r->archive);
    free(r);
    return rc;
}
