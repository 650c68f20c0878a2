/* Fitness: ENERGIZE's single metric or weighted terms with conditions. */
#include <math.h>
#include <string.h>

#include "enevo/evo.h"

struct metric {
    const char *name;
    bool maximize; /* its natural direction, for a single fitness_metric */
    size_t offset;
    bool is_int;
};

#define M(n, max, field) {n, max, offsetof(struct enevo_metrics, field), false}
static const struct metric metrics[] = {
    M("accuracy", true, accuracy),
    M("loss", false, loss),
    M("val_accuracy", true, val_accuracy),
    M("val_loss", false, val_loss),
    M("params", false, params),
    M("flops", false, flops),
    M("energy", false, energy),
    M("power", false, power),
    M("latency", false, latency),
    M("accuracy_0", true, accuracy_0),
    M("accuracy_1", true, accuracy_1),
    M("energy_0", false, energy_0),
    M("energy_1", false, energy_1),
    M("power_0", false, power_0),
    M("power_1", false, power_1),
    M("latency_0", false, latency_0),
    M("latency_1", false, latency_1),
};
#undef M

/* Derived metrics. energy_mj: energy in millijoules, so that ENERGIZE's w/m
 * terms get weights of a readable size. log2_energy: log2 of J per
 * inference, for scale-free trade-offs: `maximize` with weight -0.01 makes
 * each halving of the energy worth one point of accuracy. */
static const struct metric energy_mj = {"energy_mj", false, offsetof(struct enevo_metrics, energy),
                                        false};
static const struct metric log2_energy = {"log2_energy", false,
                                          offsetof(struct enevo_metrics, energy), false};
static const struct metric log2_energy_0 = {"log2_energy_0", false,
                                            offsetof(struct enevo_metrics, energy_0), false};
static const struct metric log2_energy_1 = {"log2_energy_1", false,
                                            offsetof(struct enevo_metrics, energy_1), false};
static const struct metric *const derived[] = {&energy_mj, &log2_energy, &log2_energy_0,
                                               &log2_energy_1};

static const struct metric *find(const char *name)
{
    for (size_t i = 0; i < sizeof metrics / sizeof metrics[0]; i++)
        if (!strcmp(metrics[i].name, name))
            return &metrics[i];
    for (size_t i = 0; i < sizeof derived / sizeof derived[0]; i++)
        if (!strcmp(derived[i]->name, name))
            return derived[i];
    return NULL;
}

static double value(const struct metric *mt, const struct enevo_metrics *m)
{
    double v = *(const double *)((const char *)m + mt->offset);
    if (mt == &energy_mj)
        return 1e3 * v;
    return mt == &log2_energy || mt == &log2_energy_0 || mt == &log2_energy_1 ? log2(v) : v;
}

static int unknown(const char *name, char *err, size_t errlen)
{
    return enevo_errf(err, errlen, ENEVO_EINVAL,
                      "unknown fitness metric '%s' (known: accuracy, loss, val_accuracy, "
                      "val_loss, params, flops, energy (J per inference), energy_mj, "
                      "log2_energy, power (W), latency (s per inference); with a model "
                      "partition also accuracy_0/1, energy_0/1, log2_energy_0/1, power_0/1, "
                      "latency_0/1)",
                      name);
}

int enevo_fitness_check(const struct enevo_config *c, char *err, size_t errlen)
{
    if (c->n_terms == 0)
        return find(c->fitness_metric) ? 0 : unknown(c->fitness_metric, err, errlen);
    for (int t = 0; t < c->n_terms; t++) {
        if (!find(c->terms[t].metric))
            return unknown(c->terms[t].metric, err, errlen);
        for (int k = 0; k < c->terms[t].n_conds; k++)
            if (!find(c->terms[t].conds[k].metric))
                return unknown(c->terms[t].conds[k].metric, err, errlen);
    }
    return 0;
}

int enevo_fitness(const struct enevo_config *c, const struct enevo_metrics *m, double *out,
                  char *err, size_t errlen)
{
    *out = ENEVO_WORST_FITNESS;
    int rc = enevo_fitness_check(c, err, errlen);
    if (rc || !m->valid)
        return rc;
    double f;
    if (c->n_terms == 0) {
        const struct metric *mt = find(c->fitness_metric);
        f = mt->maximize ? value(mt, m) : -value(mt, m);
    } else {
        f = 0;
        for (int t = 0; t < c->n_terms; t++) {
            const struct enevo_fitness_term *term = &c->terms[t];
            bool ok = true;
            for (int k = 0; k < term->n_conds; k++) {
                double v = value(find(term->conds[k].metric), m);
                ok &= term->conds[k].greater_than ? v > term->conds[k].value
                                                  : v < term->conds[k].value;
            }
            if (!ok)
                continue;
            double v = value(find(term->metric), m);
            f += term->maximize ? term->weight * v : term->weight / v;
        }
    }
    if (isfinite(f))
        *out = f;
    return 0;
}
