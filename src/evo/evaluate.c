/* src/evo/evaluate.c — the in-process evaluator: each candidate is
 * trained, evaluated on the fitness split and measured, one after another in
 * this process; after each one its rows go to stats.csv and the checkpoint
 * is replaced (rundir.c says why that order makes a killed run resume
 * exactly).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "enevo/energy.h"
#include "enevo/io.h"
#include "enevo/model.h"
#include "enevo/net.h"
#include "enevo/optim.h"
#include "enevo/partition.h"
#include "enevo/train.h"
#include "backend/backend.h"
#include "evo/run_internal.h"
#include "nn/plan.h"

static void nan_metrics(struct enevo_metrics *m)
{
    m->accuracy = m->loss = m->val_accuracy = m->val_loss = m->train_loss = m->test_accuracy =
        NAN;
    m->params = m->flops = NAN;
    m->energy = m->power = m->latency = m->energy_ci_low = m->energy_ci_high = NAN;
    m->accuracy_0 = m->accuracy_1 = m->test_accuracy_1 = NAN;
    m->energy_0 = m->energy_1 = m->power_0 = m->power_1 = m->latency_0 = m->latency_1 = NAN;
    m->epochs = 0;
    m->valid = false;
}

/* A batch of `batch` fitness-split images (repeated if the split is smaller). */
static float *measurement_batch(const struct enevo_dataset *d, int batch)
{
    size_t img = (size_t)d->c * d->h * d->w;
    float *x = malloc(sizeof(float) * img * (size_t)batch);
    if (!x || d->n == 0) {
        free(x);
        return NULL;
    }
    for (int i = 0; i < batch; i++)
        memcpy(x + (size_t)i * img, d->x + (size_t)(i % d->n) * img, sizeof(float) * img);
    return x;
}

struct energy {
    double j, ci_low, ci_high, power, latency;
};

/* Energy per inference of one network: the model estimate from its plan,
 * or the protocol on a batch of the fitness split with its weights. */
static int measure_one(struct run *r, const struct enevo_phenotype *p, const float *params,
                       const float *stats, struct energy *out, char *err, size_t errlen)
{
    struct enevo_meter *m = r->o->meter;
    const struct enevo_dataset *d = r->d->fitness;
    int B = r->c->energy_batch;
    struct enevo_shape in = {d->c, d->h, d->w};
    if (m->estimate) {
        struct enevo_plan plan;
        int rc = enevo_plan_build(p, in, d->n_classes, &plan, err, errlen);
        if (rc)
            return rc;
        struct enevo_estimate e;
        enevo_energy_estimate(&m->cfg, plan.flops,
                              plan.act_bytes + 4.0 * (double)plan.n_params / B, &e);
        enevo_plan_free(&plan);
        *out = (struct energy){e.j_per_inference, e.j_per_inference, e.j_per_inference,
                               e.power_w, e.latency_s};
        return 0;
    }
    struct enevo_net_opts no = {.batch = B, .training = false, .threads = r->o->threads,
                                .device = r->c->device, .tf32 = r->c->tf32};
    struct enevo_net *net = NULL;
    float *xb = measurement_batch(d, B);
    int rc = xb ? enevo_net_create(p, in, d->n_classes, &no, &net, err, errlen) : ENEVO_ENOMEM;
    if (!rc) {
        memcpy(enevo_net_params(net), params, sizeof(float) * enevo_net_param_count(net));
        memcpy(enevo_net_stats(net), stats, sizeof(float) * enevo_net_stats_count(net));
        struct enevo_measure_opts mo = enevo_measure_defaults(m);
        mo.repetitions = r->c->energy_repetitions;
        mo.window_s = r->c->energy_window_s;
        mo.idle_s = r->c->energy_idle_s;
        struct enevo_measurement res;
        rc = enevo_measure(net, xb, m, &mo, &res, err, errlen);
        if (!rc)
            *out = (struct energy){res.j_per_inference, res.ci_low, res.ci_high, res.power_w,
                                   res.latency_image_s};
    }
    enevo_net_free(net);
    free(xb);
    return rc;
}

/* Energy per inference of the trained network (and, with a partition, of
 * model 0 and model 1), then each module's share of it for the archive: the
 * modules are measured in their real context. */
static int measure_energy(struct run *r, const struct enevo_phenotype *p, struct enevo_net *trained,
                          const struct enevo_plan *plan, struct indiv *x, char *note,
                          size_t notelen)
{
    struct enevo_meter *m = r->o->meter;
    if (!m)
        return 0;
    int B = r->c->energy_batch;
    char err[ENEVO_ERR_LEN];
    snprintf(x->meter, sizeof x->meter, "%s", m->label);
    struct energy e[3];
    int rc = measure_one(r, p, enevo_net_params(trained), enevo_net_stats(trained), &e[0], err,
                         sizeof err);
    for (int which = 0; !rc && p->has_partition && which < 2; which++) {
        struct enevo_extracted ex;
        rc = enevo_partition_extract(p, trained, which, &ex, err, sizeof err);
        if (!rc)
            rc = measure_one(r, &ex.phenotype, ex.params, ex.stats, &e[1 + which], err,
                             sizeof err);
        enevo_extracted_free(&ex);
    }
    if (rc) {
        snprintf(note, notelen, "%senergy measurement failed: %s",
                 rc == ENEVO_ENOMEM ? "invalid: " : "", err);
        return rc;
    }
    x->m.energy = e[0].j;
    x->m.energy_ci_low = e[0].ci_low;
    x->m.energy_ci_high = e[0].ci_high;
    x->m.power = e[0].power;
    x->m.latency = e[0].latency;
    const struct energy *m0 = p->has_partition ? &e[1] : &e[0];
    x->m.energy_0 = m0->j;
    x->m.power_0 = m0->power;
    x->m.latency_0 = m0->latency;
    if (p->has_partition) {
        x->m.energy_1 = e[2].j;
        x->m.power_1 = e[2].power;
        x->m.latency_1 = e[2].latency;
    }
    /* Module shares from the per-layer estimate; a shape-fix conv counts
     * for the layer that merges its output, the output layer for none. */
    double share[ENEVO_MAX_MODULES * 64] = {0}, total = 0;
    int nm = x->gt.n_modules < (int)(sizeof share / sizeof share[0]) ? x->gt.n_modules : 0;
    for (int i = 0; i < plan->n; i++) {
        const struct enevo_plan_node *n = &plan->nodes[i];
        int id = n->phen_id;
        for (int j = i; id < 0 && j < plan->n; j++)
            id = plan->nodes[j].phen_id;
        double bytes = 4.0 * ((double)n->n_in * n->in_shape.c * n->in_shape.h * n->in_shape.w +
                              (double)n->out_shape.c * n->out_shape.h * n->out_shape.w) +
                       4.0 * (double)(n->w_count + n->b_count) / B;
        struct enevo_estimate est;
        enevo_energy_estimate(&m->cfg, n->flops, bytes, &est);
        total += est.j_per_inference;
        for (int k = 0, start = 0; k < nm; start += x->gt.modules[k].n_layers, k++)
            if (id >= start && id < start + x->gt.modules[k].n_layers)
                share[k] += est.j_per_inference;
    }
    for (int k = 0; k < nm && total > 0; k++) {
        double f = share[k] / total;
        rc = enevo_archive_add(&r->archive, &r->space, &x->gt.modules[k], f * x->m.energy,
                               f * x->m.power);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* Train x (from scratch, or from `init_model` for train_longer) and fill
 * its metrics; an impossible or diverging network is marked invalid. */
int enevo__evaluate(struct run *r, const struct enevo__cand *cand, double *train_secs, char *note,
                    size_t notelen)
{
    struct indiv *x = cand->x;
    uint64_t train_seed = cand->train_seed;
    const char *init_model = cand->init_model[0] ? cand->init_model : NULL;
    int prior_epochs = cand->prior_epochs, epochs = cand->epochs;
    const struct enevo_evo_data *d = r->d;
    char err[ENEVO_ERR_LEN];
    note[0] = 0;
    nan_metrics(&x->m);
    struct enevo_phenotype p;
    int rc = enevo_phenotype_parse(x->phenotype, "phenotype", &p, err, sizeof err);
    if (rc) {
        snprintf(note, notelen, "invalid: %s", err);
        return 0;
    }
    if (p.has_partition && !p.has_partition_weight)
        p.partition_weight = r->c->partition_weight;
    struct enevo_shape in = {d->train->c, d->train->h, d->train->w};
    int batch = p.learning.batch_size;
    if (batch > d->train->n)
        batch = d->train->n;
    struct enevo_net_opts no = {.batch = batch, .training = true, .threads = r->o->threads,
                                .device = r->c->device, .tf32 = r->c->tf32};
    struct enevo_net *net = NULL;
    struct enevo_optim opt = {0};
    struct enevo_model_file init = {0};
    struct enevo_plan plan;
    bool have_plan = false;
    /* Shape check and size limits from the plan, before anything big is
     * allocated. */
    rc = enevo_plan_build(&p, in, d->train->n_classes, &plan, err, sizeof err);
    if (rc == ENEVO_ESHAPE) {
        snprintf(note, notelen, "invalid: %s", err);
        rc = 0;
        goto out;
    }
    if (rc)
        goto out;
    have_plan = true;
    x->m.params = (double)plan.n_params;
    x->m.flops = plan.flops;
    if (r->c->max_params > 0 && x->m.params > (double)r->c->max_params) {
        snprintf(note, notelen, "invalid: %.0f parameters > max_params %ld", x->m.params,
                 r->c->max_params);
        goto out;
    }
    if (r->c->max_mflops > 0 && x->m.flops > 1e6 * r->c->max_mflops) {
        snprintf(note, notelen, "invalid: %.1f MFLOP per image > max_mflops %.17g",
                 x->m.flops / 1e6, r->c->max_mflops);
        goto out;
    }
    /* Memory: refused before allocation when the estimate is over the
     * limit; a device also holds the bound data sets. */
    int eb = r->o->meter && !r->o->meter->estimate ? r->c->energy_batch : 0;
    double need = enevo__plan_memory(&plan, batch, true);
    if (eb > 0 && enevo__plan_memory(&plan, eb, false) > need)
        need = enevo__plan_memory(&plan, eb, false);
    if (strcmp(r->device, "cpu"))
        need += 4.0 * (double)d->train->c * d->train->h * d->train->w *
                ((double)d->train->n + d->validation->n + d->fitness->n);
    if (r->mem_limit > 0 && need > r->mem_limit) {
        snprintf(note, notelen,
                 "invalid: needs about %.0f MiB (estimate, batch %d) > the memory limit %.4g "
                 "MiB (%s)",
                 need / 1048576.0, batch, r->mem_limit / 1048576.0, r->mem_what);
        goto out;
    }
    rc = enevo_net_create(&p, in, d->train->n_classes, &no, &net, err, sizeof err);
    if (rc == ENEVO_ENOMEM) {
        /* Memory the estimate did not foresee: this candidate fails, not the run. */
        snprintf(note, notelen, "invalid: %s", err);
        rc = 0;
        goto out;
    }
    if (rc == ENEVO_ESHAPE || rc == ENEVO_EBACKEND) {
        snprintf(note, notelen, "invalid: %s", err);
        rc = 0;
        goto out;
    }
    if (rc)
        goto out;
    if (init_model) {
        rc = enevo_model_load(init_model, &init, err, sizeof err);
        if (!rc && (init.n_params != enevo_net_param_count(net) ||
                    init.n_stats != enevo_net_stats_count(net)))
            rc = enevo_errf(err, sizeof err, ENEVO_EFORMAT,
                            "it holds %zu parameters, the network needs %zu", init.n_params,
                            enevo_net_param_count(net));
        if (rc) {
            snprintf(note, notelen, "cannot continue from %s: %s", init_model, err);
            rc = ENEVO_EIO;
            goto out;
        }
        memcpy(enevo_net_params(net), init.params, sizeof(float) * init.n_params);
        memcpy(enevo_net_stats(net), init.stats, sizeof(float) * init.n_stats);
    } else {
        enevo_rng ir;
        enevo_rng_seed3(&ir, train_seed, ENEVO_STREAM_INIT, 0, 0);
        enevo_net_init_params(net, &ir);
    }
    int nseg;
    const struct enevo_param_seg *segs = enevo_net_segments(net, &nseg);
    p.learning.batch_size = batch;
    if ((rc = enevo_optim_init(&opt, &p.learning, enevo_net_param_count(net), segs, nseg, err,
                               sizeof err))) {
        snprintf(note, notelen, "invalid: %s", err);
        rc = 0;
        goto out;
    }
    struct enevo_train_opts to = enevo_train_defaults();
    to.epochs = epochs;
    if (epochs <= 0) /* default_train_epochs 0, with a time budget: the phenotype's cap */
        to.epochs = p.learning.epochs > prior_epochs ? p.learning.epochs - prior_epochs : 1;
    to.patience = p.learning.early_stop;
    to.seed = train_seed;
    to.max_seconds = r->c->default_train_time;
    struct enevo_train_result tr;
    double t0 = enevo_now();
    rc = enevo_train(net, &opt, d->train, d->validation, &to, &tr, err, sizeof err);
    *train_secs = enevo_now() - t0;
    r->total_epochs += tr.epochs;
    if (rc == ENEVO_ENUMERIC || rc == ENEVO_EINVAL || rc == ENEVO_ENOMEM) {
        snprintf(note, notelen, "invalid: %s", err);
        rc = 0;
        goto out;
    }
    if (rc)
        goto out;
    x->m.train_loss = tr.last_train_loss;
    x->m.val_loss = tr.best_val_loss;
    x->m.val_accuracy = tr.best_val_accuracy;
    x->m.epochs = prior_epochs + tr.epochs;
    double acc[2], test_acc[2] = {NAN, NAN};
    if ((rc = enevo_evaluate_heads(net, d->fitness, acc, NULL, &x->m.loss, NULL)))
        goto out;
    if (d->test && d->test->n &&
        (rc = enevo_evaluate_heads(net, d->test, test_acc, NULL, NULL, NULL)))
        goto out;
    /* With a partition, ENERGIZE's `accuracy` is the mean of both models'. */
    x->m.accuracy_0 = acc[0];
    x->m.accuracy_1 = acc[1];
    x->m.accuracy = p.has_partition ? 0.5 * (acc[0] + acc[1]) : acc[0];
    x->m.test_accuracy = test_acc[0];
    x->m.test_accuracy_1 = test_acc[1];
    x->m.valid = true;
    if ((rc = measure_energy(r, &p, net, &plan, x, note, notelen))) {
        if (rc == ENEVO_ENOMEM) { /* the measurement's net did not fit */
            x->m.valid = false;
            rc = 0;
        }
        goto out;
    }
    /* Each evaluation has its own file; an individual's weights are those
     * of its first evaluation (a re-evaluation never overwrites them). */
    char path[1024];
    enevo__model_path(r, path, sizeof path, x->eval_gen, x->eval_idx);
    char *text = enevo_phenotype_format(&p);
    struct enevo_model_file mf = {
        .in_c = in.c, .in_h = in.h, .in_w = in.w, .n_classes = d->train->n_classes,
        .mean = d->mean, .std = d->std, .phenotype = text,
        .params = enevo_net_params(net), .n_params = enevo_net_param_count(net),
        .stats = enevo_net_stats(net), .n_stats = enevo_net_stats_count(net),
    };
    enevo_model_set_norm(&mf, d->train); /* per-channel normalisation (colour data) */
    rc = text ? enevo_model_save(path, &mf, err, sizeof err) : ENEVO_ENOMEM;
    free(text);
    /* With a partition, also both models as ordinary model files (best/
     * keeps them). */
    for (int k = 0; !rc && p.has_partition && k < 2; k++) {
        struct enevo_extracted ex;
        rc = enevo_partition_extract(&p, net, k, &ex, err, sizeof err);
        char *t = rc ? NULL : enevo_phenotype_format(&ex.phenotype);
        if (!rc) {
            struct enevo_model_file pm = mf;
            pm.phenotype = t;
            pm.params = ex.params;
            pm.n_params = ex.n_params;
            pm.stats = ex.stats;
            pm.n_stats = ex.n_stats;
            enevo__part_path(r, path, sizeof path, x->eval_gen, x->eval_idx, k);
            rc = t ? enevo_model_save(path, &pm, err, sizeof err) : ENEVO_ENOMEM;
        }
        free(t);
        enevo_extracted_free(&ex);
    }
    if (rc == ENEVO_ENUMERIC) {
        /* Non-finite weights: a failed individual, not a failed run. */
        x->m.valid = false;
        snprintf(note, notelen, "invalid: %s", err);
        rc = 0;
    } else if (rc) {
        snprintf(note, notelen, "%s", err);
    }
out:
    if (have_plan)
        enevo_plan_free(&plan);
    enevo_model_file_free(&init);
    enevo_optim_free(&opt);
    enevo_net_free(net);
    enevo_phenotype_free(&p);
    return rc;
}

/* ---- the evaluator ---- */

static const char *energy_text(const struct indiv *x, char *buf, size_t len)
{
    const char *est = strcmp(x->meter, "model-estimate") ? "" : " (estimate)";
    if (!isnan(x->m.accuracy_1))
        snprintf(buf, len, "model 0: acc %.4f %.4g mJ/img, model 1: acc %.4f %.4g mJ/img%s",
                 x->m.accuracy_0, 1e3 * x->m.energy_0, x->m.accuracy_1, 1e3 * x->m.energy_1,
                 est);
    else if (isnan(x->m.energy))
        snprintf(buf, len, "energy n/a");
    else
        snprintf(buf, len, "%.4g mJ/img%s", 1e3 * x->m.energy, est);
    return buf;
}

static int evaluate_next(struct run *r, char *err, size_t errlen)
{
    double t0 = enevo_now();
    struct indiv *x = &r->pop[r->pop_n];
    struct enevo__cand cand = {.x = x};
    int rc = r->strategy->make(r, r->next, &cand, err, errlen);
    if (rc)
        return enevo_errf(err, errlen, rc, "cannot build individual %d-%d", r->gen, r->next);
    char note[2048];
    double prep = enevo_now() - t0, train_secs = 0;
    /* A re-evaluation trains from scratch into a file of its own. */
    rc = enevo__evaluate(r, &cand, &train_secs, note, sizeof note);
    double t1 = enevo_now();
    if (rc)
        return enevo_errf(err, errlen, rc, "evaluating %d-%d: %s", x->gen, x->idx,
                          note[0] ? note : enevo_strerror(rc));
    if ((rc = r->strategy->tell(r, x, err, errlen)))
        return rc;
    r->pop_n++;
    r->next++;
    r->evaluations++;
    double total = enevo_now() - t0;
    const char *why = x->m.valid ? "" : !strncmp(note, "invalid: ", 9) ? note + 9 : note;
    if ((rc = enevo__record(r, x, why, train_secs, total, err, errlen)))
        return rc;
    if ((rc = enevo__save_checkpoint(r, err, errlen)))
        return rc;
    r->overhead += prep + (enevo_now() - t1);
    r->evaluated_here++;
    char mut[256], etext[192];
    bool reeval = cand.reeval;
    if (x->m.valid)
        enevo__logf(r,
                    "gen %d #%d %-28s %2d layers %9.0f params  acc %.4f  test %.4f  %s  fitness "
                    "%.4f%s  %d ep  %.1f s\n",
                    r->gen, r->next - 1,
                    reeval ? "(parent re-evaluated)"
                           : enevo_mutation_names(x->mutations, mut, sizeof mut),
                    enevo_genotype_layer_count(&x->gt), x->m.params, x->m.accuracy,
                    x->m.test_accuracy, energy_text(x, etext, sizeof etext), x->fitness_mean,
                    reeval ? " (mean)" : "", x->m.epochs, total);
    else
        enevo__logf(r, "gen %d #%d %-28s %s\n", r->gen, r->next - 1,
                    enevo_mutation_names(x->mutations, mut, sizeof mut), note);
    return 0;
}

/* One candidate at a time, in index order; the stop checks come before
 * each one, as the run loop had them. */
static int inprocess_run_batch(struct run *r, int n, bool *stopped, char *err, size_t errlen)
{
    *stopped = false;
    while (r->next < n) {
        if (enevo_stop_requested())
            return enevo_errf(err, errlen, ENEVO_EINTERRUPTED,
                              "stopped by signal %d before evaluation %d-%d",
                              enevo_stop_requested(), r->gen, r->next);
        if ((r->c->max_epochs > 0 && r->total_epochs >= r->c->max_epochs) ||
            (r->o->stop_after > 0 && r->evaluated_here >= r->o->stop_after)) {
            *stopped = true;
            return 0;
        }
        int rc = evaluate_next(r, err, errlen);
        if (rc)
            return rc;
    }
    return 0;
}

const struct enevo__evaluator enevo__evaluator_inprocess = {
    .name = "in-process",
    .run_batch = inprocess_run_batch,
};
