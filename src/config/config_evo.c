/* src/config/config_evo.c — the evolutionary section of a config: the
 * (1+lambda) keys, the mutation rates, the fitness (fitness_metric or
 * fitness_function with its conditions) and the multi-objective keys
 * (strategy, population, objectives, constraints, hypervolume_reference).
 * config.c walks the table at its end; the helpers are config.c's
 * (config_internal.h). */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "config/config_internal.h"
#include "enevo/config.h"

/* ---- evolutionary ------------------------------------------------------------ */

/* Only the shape of a metric name is checked here: which metrics exist is
 * the evaluator's business (src/evo/fitness.c, enevo_fitness_check), and
 * ENERGIZE's accuracy_1 or power_1 must at least load. */
static bool metric_ok(const char *s)
{
    if (!(*s >= 'a' && *s <= 'z'))
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_'))
            return false;
    return true;
}

static int fn_metric(struct ctx *x, yaml_node_t *val, const char *path, void *dst)
{
    const char *s = enevo__cfg_text(val);
    if (!s || !metric_ok(s))
        return enevo__cfg_expected(
            x, val, path, "a metric name (lowercase letters, digits and '_', e.g. accuracy)");
    return enevo__cfg_get_str(x, val, path, (char *)dst, ENEVO_NAME_LEN);
}

static int fn_fitness_metric(struct ctx *x, yaml_node_t *val, const char *path, void *dst)
{
    x->metric_node = val;
    return fn_metric(x, val, path, dst);
}

static int fn_objective(struct ctx *x, yaml_node_t *val, const char *path, void *dst)
{
    /* ENERGIZE spells them maximize/minimize; the British forms are the
     * same word, so they are accepted too. */
    const char *s = enevo__cfg_text(val);
    if (s && (!strcmp(s, "maximize") || !strcmp(s, "maximise")))
        return *(bool *)dst = true, 0;
    if (s && (!strcmp(s, "minimize") || !strcmp(s, "minimise")))
        return *(bool *)dst = false, 0;
    return enevo__cfg_expected(x, val, path, "maximize or minimize");
}

static int fn_cond_type(struct ctx *x, yaml_node_t *val, const char *path, void *dst)
{
    const char *s = enevo__cfg_text(val);
    if (s && !strcmp(s, "greater_than"))
        return *(bool *)dst = true, 0;
    if (s && !strcmp(s, "less_than"))
        return *(bool *)dst = false, 0;
    return enevo__cfg_expected(x, val, path, "greater_than or less_than");
}

static const struct field cond_fields[] = {
    F_FN("metric", offsetof(struct enevo_fitness_cond, metric), fn_metric),
    F_FN("type", offsetof(struct enevo_fitness_cond, greater_than), fn_cond_type),
    F_NUM("value", offsetof(struct enevo_fitness_cond, value), -INFINITY, INFINITY),
};

static int fn_conditions(struct ctx *x, yaml_node_t *val, const char *path, void *dst)
{
    struct enevo_fitness_term *t = dst;
    int rc = enevo__cfg_check_list(x, val, path, 0, ENEVO_MAX_CONDS, "ENEVO_MAX_CONDS");
    if (rc)
        return rc;
    memset(t->conds, 0, sizeof t->conds);
    t->n_conds = (int)enevo__cfg_n_items(val);
    for (size_t i = 0; i < enevo__cfg_n_items(val); i++) {
        char p[PATH_LEN];
        snprintf(p, sizeof p, "%s[%zu]", path, i);
        uint32_t seen;
        yaml_node_t *it = enevo__cfg_item(x, val, i);
        if ((rc = enevo__cfg_walk_map(x, it, p, cond_fields, NFIELDS(cond_fields), &t->conds[i],
                                      &seen)) ||
            (rc = enevo__cfg_require(x, it, p, cond_fields, NFIELDS(cond_fields), 7, seen)))
            return rc;
    }
    return 0;
}

static const struct field term_fields[] = {
    F_FN("metric", offsetof(struct enevo_fitness_term, metric), fn_metric),
    F_FN("objective", offsetof(struct enevo_fitness_term, maximize), fn_objective),
    F_NUM("weight", offsetof(struct enevo_fitness_term, weight), -INFINITY, INFINITY),
    F_FN("conditions", 0, fn_conditions),
};

static int fn_fitness_function(struct ctx *x, yaml_node_t *val, const char *path, void *dst)
{
    struct enevo_config *c = dst;
    int rc = enevo__cfg_check_list(x, val, path, 1, ENEVO_MAX_TERMS, "ENEVO_MAX_TERMS");
    if (rc)
        return rc;
    x->function_node = val;
    memset(c->terms, 0, sizeof c->terms);
    c->n_terms = (int)enevo__cfg_n_items(val);
    for (size_t i = 0; i < enevo__cfg_n_items(val); i++) {
        char p[PATH_LEN];
        snprintf(p, sizeof p, "%s[%zu]", path, i);
        uint32_t seen;
        yaml_node_t *it = enevo__cfg_item(x, val, i);
        /* metric, objective and weight are required, as in ENERGIZE's schema. */
        if ((rc = enevo__cfg_walk_map(x, it, p, term_fields, NFIELDS(term_fields), &c->terms[i],
                                      &seen)) ||
            (rc = enevo__cfg_require(x, it, p, term_fields, NFIELDS(term_fields), 7, seen)))
            return rc;
    }
    return 0;
}

static int fn_track_mutations(struct ctx *x, yaml_node_t *val, const char *path, void *dst)
{
    (void)dst;
    bool on = true;
    int rc = enevo__cfg_get_bool(x, val, path, &on);
    if (!rc && !on)
        enevo__cfg_unused(x, val, path, "enevo always tracks mutations");
    return rc;
}

static const struct field mutation_fields[] = {
    F_PROB("add_connection", CFG(mutation.add_connection)),
    F_PROB("remove_connection", CFG(mutation.remove_connection)),
    F_PROB("add_layer", CFG(mutation.add_layer)),
    F_PROB("reuse_layer", CFG(mutation.reuse_layer)),
    F_PROB("remove_layer", CFG(mutation.remove_layer)),
    F_PROB("reuse_module", CFG(mutation.reuse_module)),
    F_PROB("remove_module", CFG(mutation.remove_module)),
    F_PROB("dsge_layer", CFG(mutation.dsge_layer)),
    F_PROB("macro_layer", CFG(mutation.macro_layer)),
    F_PROB("train_longer", CFG(mutation.train_longer)),
};

static const struct field selection_fields[] = {F_SKIP("method"), F_SKIP("metrics")};

/* ---- evolutionary: the multi-objective keys (ours) ---- */

static int fn_strategy(struct ctx *x, yaml_node_t *val, const char *path, void *dst)
{
    const char *s = enevo__cfg_plain(val);
    x->strategy_node = val;
    if (s && !strcmp(s, "one_plus_lambda"))
        return *(int *)dst = ENEVO_STRATEGY_ONE_PLUS_LAMBDA, 0;
    if (s && !strcmp(s, "nsga2"))
        return *(int *)dst = ENEVO_STRATEGY_NSGA2, 0;
    return enevo__cfg_expected(x, val, path, "one_plus_lambda (ENERGIZE's (1+lambda)-ES) or nsga2");
}

static int fn_population(struct ctx *x, yaml_node_t *val, const char *path, void *dst)
{
    long long v = 0;
    /* Survivors live in a fixed array of 64, as lambda's children do. */
    if (!enevo__cfg_to_ll(enevo__cfg_plain(val), &v) || v == 1 || v < 0 || v > 64)
        return enevo__cfg_expected(x, val, path, "0 (= lambda) or an integer in [2, 64]");
    *(int *)dst = (int)v;
    return 0;
}

static const struct field objective_fields[] = {
    F_FN("metric", offsetof(struct enevo_objective, metric), fn_metric),
    F_FN("objective", offsetof(struct enevo_objective, maximize), fn_objective),
};

static int fn_objectives(struct ctx *x, yaml_node_t *val, const char *path, void *dst)
{
    struct enevo_config *c = dst;
    int rc = enevo__cfg_check_list(x, val, path, 1, ENEVO_MAX_OBJECTIVES, "ENEVO_MAX_OBJECTIVES");
    if (rc)
        return rc;
    memset(c->objectives, 0, sizeof c->objectives);
    c->n_objectives = (int)enevo__cfg_n_items(val);
    for (size_t i = 0; i < enevo__cfg_n_items(val); i++) {
        char p[PATH_LEN];
        snprintf(p, sizeof p, "%s[%zu]", path, i);
        uint32_t seen;
        yaml_node_t *it = enevo__cfg_item(x, val, i);
        if ((rc = enevo__cfg_walk_map(x, it, p, objective_fields, NFIELDS(objective_fields),
                                      &c->objectives[i], &seen)) ||
            (rc = enevo__cfg_require(x, it, p, objective_fields, NFIELDS(objective_fields), 3,
                                     seen)))
            return rc;
        for (size_t j = 0; j < i; j++)
            if (!strcmp(c->objectives[j].metric, c->objectives[i].metric))
                return enevo__cfg_fail(x, it, "%s: metric '%s' is listed twice", p,
                                       c->objectives[i].metric);
    }
    return 0;
}

static int fn_constraints(struct ctx *x, yaml_node_t *val, const char *path, void *dst)
{
    struct enevo_config *c = dst;
    int rc = enevo__cfg_check_list(x, val, path, 0, ENEVO_MAX_CONSTRAINTS, "ENEVO_MAX_CONSTRAINTS");
    if (rc)
        return rc;
    memset(c->constraints, 0, sizeof c->constraints);
    c->n_constraints = (int)enevo__cfg_n_items(val);
    for (size_t i = 0; i < enevo__cfg_n_items(val); i++) {
        char p[PATH_LEN];
        snprintf(p, sizeof p, "%s[%zu]", path, i);
        uint32_t seen;
        yaml_node_t *it = enevo__cfg_item(x, val, i);
        if ((rc = enevo__cfg_walk_map(x, it, p, cond_fields, NFIELDS(cond_fields),
                                      &c->constraints[i], &seen)) ||
            (rc = enevo__cfg_require(x, it, p, cond_fields, NFIELDS(cond_fields), 7, seen)))
            return rc;
    }
    return 0;
}

/* Its length is checked against the objectives' in finish() (config.c). */
static int fn_hv_ref(struct ctx *x, yaml_node_t *val, const char *path, void *dst)
{
    struct enevo_config *c = dst;
    int rc = enevo__cfg_check_list(x, val, path, 1, ENEVO_MAX_OBJECTIVES, "ENEVO_MAX_OBJECTIVES");
    if (rc)
        return rc;
    x->hv_node = val;
    memset(c->hv_ref, 0, sizeof c->hv_ref);
    c->n_hv_ref = (int)enevo__cfg_n_items(val);
    for (size_t i = 0; i < enevo__cfg_n_items(val); i++) {
        char p[PATH_LEN];
        snprintf(p, sizeof p, "%s[%zu]", path, i);
        if ((rc = enevo__cfg_get_num(x, enevo__cfg_item(x, val, i), p, -INFINITY, INFINITY,
                                     &c->hv_ref[i])))
            return rc;
    }
    return 0;
}

/* The rows of evolutionary: top_fields in config.c maps to it. */
const struct field enevo__cfg_evolutionary_fields[ENEVO__CFG_N_EVOLUTIONARY] = {
    F_INT("generations", CFG(generations), 1, INFINITY),
    F_INT("lambda", CFG(lambda), 1, INFINITY),
    F_LONG("max_epochs", CFG(max_epochs), 1, INFINITY),
    F_U64("seed", CFG(seed)),
    F_BOOL("reevaluate_parent", CFG(reevaluate_parent)),
    F_LONG("max_params", CFG(max_params), 0, INFINITY),
    F_NUM("max_mflops", CFG(max_mflops), 0, INFINITY),
    F_NUM("max_memory_mb", CFG(max_memory_mb), 0, INFINITY),
    F_MAP("mutation", mutation_fields),
    F_FN("track_mutations", 0, fn_track_mutations),
    F_FN("fitness_metric", CFG(fitness_metric), fn_fitness_metric),
    F_FN("fitness_function", 0, fn_fitness_function),
    F_FN("strategy", CFG(strategy), fn_strategy),
    F_FN("population", CFG(population), fn_population),
    F_FN("objectives", 0, fn_objectives),
    F_FN("constraints", 0, fn_constraints),
    F_FN("hypervolume_reference", 0, fn_hv_ref),
    F_UNUSED_MAP("selection", selection_fields,
                 "enevo selects by fitness_metric or fitness_function"),
};
