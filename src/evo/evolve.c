/* The (1+λ) evolution strategy with its run directory.
 *
 * Crash safety: after every evaluated individual, in this order, its model
 * file is written (atomically), its rows are appended to stats.csv and
 * timing.csv, and the checkpoint is replaced (atomically). The checkpoint
 * records the byte length of both CSV files, so a resume first cuts off
 * rows written after the last checkpoint, then re-evaluates from there.
 * Every individual draws from its own stream (seed, generation, index) and
 * training is deterministic, so the re-done rows are the same bytes: a run
 * killed at any moment and resumed writes the stats.csv of a run that never
 * stopped. Wall-clock times go to timing.csv, which is not reproducible. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdarg.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "enevo/energy.h"
#include "enevo/io.h"
#include "enevo/model.h"
#include "enevo/partition.h"
#include "enevo/net.h"
#include "enevo/optim.h"
#include "enevo/train.h"
#include "evo/evo_internal.h"
#include "nn/plan.h"

#define CKPT_MAGIC "ENEVOCKP"
#define CKPT_VERSION 1u

struct indiv {
    struct enevo_genotype gt;
    char *phenotype;
    unsigned mutations;
    int gen, idx;           /* who this is (the generation and index it was made in) */
    int eval_gen, eval_idx; /* where its latest evaluation happened */
    int parent_gen, parent_idx; /* -1: random */
    int budget;             /* epochs allocated in total */
    struct enevo_metrics m;
    double fitness;         /* of its latest evaluation */
    double fitness_mean;    /* running mean over its evaluations */
    int n_evals;
    char meter[64];         /* label of the meter that measured it */
    char reused[96];        /* the module reuse_module inserted: "type#hash:J" */
};

struct run {
    const struct enevo_config *c;
    struct enevo_evo_space space;
    const struct enevo_evo_data *d;
    const struct enevo_evo_opts *o;
    const char *dir;
    uint64_t cfg_hash, gram_hash;
    /* checkpointed state */
    int gen, next;          /* generation, index of the next evaluation in it */
    int pop_n;              /* evaluated so far in this generation */
    struct indiv pop[1 + 64];
    bool has_parent;
    struct indiv parent;
    double best_fitness;
    int best_gen, best_idx;
    long stats_len, timing_len;
    int evaluations;
    long total_epochs;
    struct enevo_archive archive; /* modules for reuse_module */
    /* this process only */
    double overhead, t_start;
    int evaluated_here;
};

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
    return h;
}

static void indiv_free(struct indiv *x)
{
    enevo_genotype_free(&x->gt);
    free(x->phenotype);
    memset(x, 0, sizeof *x);
}

static int pop_size(const struct run *r, int gen)
{
    if (gen == 0)
        return r->c->lambda;
    return r->c->lambda + (r->c->reevaluate_parent ? 1 : 0);
}

static void path_of(const struct run *r, char *buf, size_t len, const char *name)
{
    snprintf(buf, len, "%s/%s", r->dir, name);
}

static void model_path(const struct run *r, char *buf, size_t len, int gen, int idx)
{
    snprintf(buf, len, "%s/models/g%d_i%d.enevo", r->dir, gen, idx);
}

/* The extracted models of a partitioned evaluation: part 0 (full), 1 (early exit). */
static void part_path(const struct run *r, char *buf, size_t len, int gen, int idx, int part)
{
    snprintf(buf, len, "%s/models/g%d_i%d.model%d.enevo", r->dir, gen, idx, part);
}

static void remove_models(const struct run *r, int gen, int idx)
{
    char path[1024];
    model_path(r, path, sizeof path, gen, idx);
    unlink(path);
    for (int k = 0; k < 2; k++) {
        part_path(r, path, sizeof path, gen, idx, k);
        unlink(path);
    }
}

static int write_text(const char *path, const char *text, char *err, size_t errlen)
{
    return enevo_write_atomic(path, text, strlen(text), err, errlen);
}


/* Append to a CSV file and return its new length (for the checkpoint). */
static int append(const char *path, const char *text, long *len, char *err, size_t errlen)
{
    FILE *f = fopen(path, "ab");
    if (!f)
        return enevo_errf(err, errlen, ENEVO_EIO, "%s: %s", path, strerror(errno));
    fputs(text, f);
    fflush(f);
    int bad = ferror(f) || fsync(fileno(f));
    *len = ftell(f);
    if (fclose(f) || bad)
        return enevo_errf(err, errlen, ENEVO_EIO, "%s: write failed", path);
    return 0;
}

/* ---- checkpoint encoding ---- */

struct wbuf {
    unsigned char *b;
    size_t len, cap;
    int rc;
};

static void put(struct wbuf *w, const void *p, size_t n)
{
    if (w->rc)
        return;
    if (w->len + n > w->cap) {
        size_t cap = w->cap ? w->cap : 4096;
        while (cap < w->len + n)
            cap *= 2;
        unsigned char *b = realloc(w->b, cap);
        if (!b) {
            w->rc = ENEVO_ENOMEM;
            return;
        }
        w->b = b;
        w->cap = cap;
    }
    memcpy(w->b + w->len, p, n);
    w->len += n;
}

/* Values are written in the machine's byte order: a checkpoint resumes on
 * the machine kind that wrote it (x86-64 and arm64 are little-endian). */
static void put_i64(struct wbuf *w, int64_t v) { put(w, &v, sizeof v); }
static void put_f64(struct wbuf *w, double v) { put(w, &v, sizeof v); }
static void put_str(struct wbuf *w, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    put_i64(w, (int64_t)n);
    put(w, s ? s : "", n);
}

struct rbuf {
    const unsigned char *b;
    size_t len, pos;
    bool bad;
};

static void get(struct rbuf *r, void *p, size_t n)
{
    if (r->bad || r->pos + n > r->len) {
        r->bad = true;
        memset(p, 0, n);
        return;
    }
    memcpy(p, r->b + r->pos, n);
    r->pos += n;
}

static int64_t get_i64(struct rbuf *r)
{
    int64_t v;
    get(r, &v, sizeof v);
    return v;
}

static double get_f64(struct rbuf *r)
{
    double v;
    get(r, &v, sizeof v);
    return v;
}

static char *get_str(struct rbuf *r)
{
    int64_t n = get_i64(r);
    if (r->bad || n < 0 || (size_t)n > r->len - r->pos) {
        r->bad = true;
        return NULL;
    }
    char *s = malloc((size_t)n + 1);
    if (!s) {
        r->bad = true;
        return NULL;
    }
    get(r, s, (size_t)n);
    s[n] = 0;
    return s;
}

static void put_metrics(struct wbuf *w, const struct enevo_metrics *m)
{
    double v[] = {m->accuracy,      m->loss,      m->val_accuracy, m->val_loss,
                  m->train_loss,    m->test_accuracy, m->params, m->flops,
                  m->energy,        m->power,     m->latency,      m->energy_ci_low,
                  m->energy_ci_high, m->accuracy_0, m->accuracy_1, m->test_accuracy_1,
                  m->energy_0,      m->energy_1,  m->power_0,      m->power_1,
                  m->latency_0,     m->latency_1};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        put_f64(w, v[i]);
    put_i64(w, m->epochs);
    put_i64(w, m->valid);
}

static void get_metrics(struct rbuf *r, struct enevo_metrics *m)
{
    double *v[] = {&m->accuracy,       &m->loss,       &m->val_accuracy, &m->val_loss,
                   &m->train_loss,     &m->test_accuracy, &m->params,   &m->flops,
                   &m->energy,         &m->power,      &m->latency,      &m->energy_ci_low,
                   &m->energy_ci_high, &m->accuracy_0, &m->accuracy_1,   &m->test_accuracy_1,
                   &m->energy_0,       &m->energy_1,   &m->power_0,      &m->power_1,
                   &m->latency_0,      &m->latency_1};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        *v[i] = get_f64(r);
    m->epochs = (int)get_i64(r);
    m->valid = get_i64(r) != 0;
}

static void put_indiv(struct wbuf *w, const struct indiv *x)
{
    if (!w->rc)
        w->rc = enevo_genotype_write(&x->gt, &w->b, &w->len, &w->cap);
    put_str(w, x->phenotype);
    int64_t ints[] = {x->mutations, x->gen,      x->idx,    x->eval_gen, x->eval_idx,
                      x->parent_gen, x->parent_idx, x->budget, x->n_evals};
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++)
        put_i64(w, ints[i]);
    put_metrics(w, &x->m);
    put_f64(w, x->fitness);
    put_f64(w, x->fitness_mean);
    put_str(w, x->meter);
    put_str(w, x->reused);
}

static int get_indiv(struct run *run, struct rbuf *r, struct indiv *x, char *err, size_t errlen)
{
    memset(x, 0, sizeof *x);
    if (r->bad)
        return ENEVO_EFORMAT;
    int rc = enevo_genotype_read(&run->space, r->b, r->len, &r->pos, &x->gt, err, errlen);
    if (rc) {
        r->bad = true;
        return rc;
    }
    x->phenotype = get_str(r);
    x->mutations = (unsigned)get_i64(r);
    x->gen = (int)get_i64(r);
    x->idx = (int)get_i64(r);
    x->eval_gen = (int)get_i64(r);
    x->eval_idx = (int)get_i64(r);
    x->parent_gen = (int)get_i64(r);
    x->parent_idx = (int)get_i64(r);
    x->budget = (int)get_i64(r);
    x->n_evals = (int)get_i64(r);
    get_metrics(r, &x->m);
    x->fitness = get_f64(r);
    x->fitness_mean = get_f64(r);
    char *meter = get_str(r), *reused = get_str(r);
    if (meter)
        snprintf(x->meter, sizeof x->meter, "%s", meter);
    if (reused)
        snprintf(x->reused, sizeof x->reused, "%s", reused);
    free(meter);
    free(reused);
    return r->bad ? ENEVO_EFORMAT : 0;
}

static int save_checkpoint(struct run *r, char *err, size_t errlen)
{
    struct wbuf w = {0};
    put(&w, CKPT_MAGIC, 8);
    uint32_t ver = CKPT_VERSION;
    put(&w, &ver, 4);
    put_i64(&w, (int64_t)r->cfg_hash);
    put_i64(&w, (int64_t)r->gram_hash);
    int64_t ints[] = {r->gen,      r->next,       r->pop_n,          r->has_parent, r->best_gen,
                      r->best_idx, r->stats_len,  r->timing_len,     r->evaluations,
                      r->total_epochs};
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++)
        put_i64(&w, ints[i]);
    put_f64(&w, r->best_fitness);
    if (r->has_parent)
        put_indiv(&w, &r->parent);
    for (int i = 0; i < r->pop_n; i++)
        put_indiv(&w, &r->pop[i]);
    if (!w.rc)
        w.rc = enevo_archive_write(&r->archive, &w.b, &w.len, &w.cap);
    uint32_t crc = w.rc ? 0 : (uint32_t)crc32(0L, w.b, (uInt)w.len);
    put(&w, &crc, 4);
    int rc = w.rc;
    char path[1024];
    path_of(r, path, sizeof path, "checkpoint.bin");
    if (!rc)
        rc = enevo_write_atomic(path, w.b, w.len, err, errlen);
    else
        enevo_errf(err, errlen, rc, "out of memory writing the checkpoint");
    free(w.b);
    return rc;
}

/* Returns 1 when a checkpoint was loaded, 0 when there is none. */
static int load_checkpoint(struct run *r, char *err, size_t errlen)
{
    char path[1024];
    path_of(r, path, sizeof path, "checkpoint.bin");
    char *buf;
    size_t len;
    if (access(path, F_OK))
        return 0;
    if (enevo_read_file(path, 0, &buf, &len, NULL, 0))
        return enevo_errf(err, errlen, ENEVO_EIO, "%s: cannot read", path);
    int rc = 0;
    if (len < 16 || memcmp(buf, CKPT_MAGIC, 8)) {
        rc = enevo_errf(err, errlen, ENEVO_EFORMAT, "%s: not an enevo checkpoint", path);
        goto out;
    }
    uint32_t crc;
    memcpy(&crc, buf + len - 4, 4);
    if (crc != (uint32_t)crc32(0L, (const unsigned char *)buf, (uInt)(len - 4))) {
        rc = enevo_errf(err, errlen, ENEVO_ECORRUPT,
                        "%s: checksum mismatch: the checkpoint is corrupted or truncated", path);
        goto out;
    }
    struct rbuf rb = {(const unsigned char *)buf, len - 4, 8, false};
    uint32_t ver;
    get(&rb, &ver, 4);
    if (ver != CKPT_VERSION) {
        rc = enevo_errf(err, errlen, ENEVO_EVERSION, "%s: checkpoint version %u, this enevo reads %u",
                        path, ver, CKPT_VERSION);
        goto out;
    }
    uint64_t ch = (uint64_t)get_i64(&rb), gh = (uint64_t)get_i64(&rb);
    if (ch != r->cfg_hash || gh != r->gram_hash) {
        rc = enevo_errf(err, errlen, ENEVO_EINVAL,
                        "%s: this run was started with a different %s; resuming it with another "
                        "would mix two experiments (start a new run directory instead)",
                        r->dir, ch != r->cfg_hash ? "config" : "grammar");
        goto out;
    }
    r->gen = (int)get_i64(&rb);
    r->next = (int)get_i64(&rb);
    r->pop_n = (int)get_i64(&rb);
    r->has_parent = get_i64(&rb) != 0;
    r->best_gen = (int)get_i64(&rb);
    r->best_idx = (int)get_i64(&rb);
    r->stats_len = (long)get_i64(&rb);
    r->timing_len = (long)get_i64(&rb);
    r->evaluations = (int)get_i64(&rb);
    r->total_epochs = (long)get_i64(&rb);
    r->best_fitness = get_f64(&rb);
    if (rb.bad || r->pop_n < 0 || r->pop_n > (int)(sizeof r->pop / sizeof r->pop[0]) ||
        r->gen < 0) {
        rc = enevo_errf(err, errlen, ENEVO_EFORMAT, "%s: malformed checkpoint", path);
        goto out;
    }
    if (r->has_parent && (rc = get_indiv(r, &rb, &r->parent, err, errlen)))
        goto out;
    for (int i = 0; i < r->pop_n; i++)
        if ((rc = get_indiv(r, &rb, &r->pop[i], err, errlen)))
            goto out;
    enevo_archive_free(&r->archive);
    if ((rc = enevo_archive_read(&r->archive, &r->space, rb.b, rb.len, &rb.pos, err, errlen)))
        goto out;
    if (rb.pos != rb.len)
        rc = enevo_errf(err, errlen, ENEVO_EFORMAT, "%s: malformed checkpoint (%zu extra bytes)",
                        path, rb.len - rb.pos);
out:
    free(buf);
    if (rc)
        return rc;
    return 1;
}

/* ---- one evaluation ---- */

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
        snprintf(note, notelen, "energy measurement failed: %s", err);
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
static int evaluate(struct run *r, struct indiv *x, uint64_t train_seed, const char *init_model,
                    int prior_epochs, int epochs, double *train_secs, char *note, size_t notelen)
{
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
    rc = enevo_net_create(&p, in, d->train->n_classes, &no, &net, err, sizeof err);
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
    to.patience = p.learning.early_stop;
    to.seed = train_seed;
    to.max_seconds = r->c->default_train_time;
    struct enevo_train_result tr;
    double t0 = enevo_now();
    rc = enevo_train(net, &opt, d->train, d->validation, &to, &tr, err, sizeof err);
    *train_secs = enevo_now() - t0;
    r->total_epochs += tr.epochs;
    if (rc == ENEVO_ENUMERIC || rc == ENEVO_EINVAL) {
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
    if ((rc = measure_energy(r, &p, net, &plan, x, note, notelen)))
        goto out;
    /* Each evaluation has its own file; an individual's weights are those
     * of its first evaluation (a re-evaluation never overwrites them). */
    char path[1024];
    model_path(r, path, sizeof path, x->eval_gen, x->eval_idx);
    char *text = enevo_phenotype_format(&p);
    struct enevo_model_file mf = {
        .in_c = in.c, .in_h = in.h, .in_w = in.w, .n_classes = d->train->n_classes,
        .mean = d->mean, .std = d->std, .phenotype = text,
        .params = enevo_net_params(net), .n_params = enevo_net_param_count(net),
        .stats = enevo_net_stats(net), .n_stats = enevo_net_stats_count(net),
    };
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
            part_path(r, path, sizeof path, x->eval_gen, x->eval_idx, k);
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

/* ---- statistics ---- */

static const char *STATS_HEADER =
    "generation,index,id,parent,mutations,valid,layers,params,flops,epochs,train_loss,val_loss,"
    "val_accuracy,accuracy,loss,test_accuracy,energy_j_per_inference,power_w,latency_s,"
    "energy_ci_low,energy_ci_high,accuracy_0,accuracy_1,test_accuracy_1,energy_0,energy_1,"
    "meter,fitness,fitness_mean,evaluations,reused_module,phenotype\n";
static const char *TIMING_HEADER = "generation,index,train_seconds,total_seconds\n";

static void label(char *buf, size_t len, int gen, int idx)
{
    if (gen < 0)
        snprintf(buf, len, "-");
    else
        snprintf(buf, len, "%d-%d", gen, idx);
}

/* %.17g for exactness; NaN as an empty field. */
static void num(char *buf, size_t len, double v)
{
    if (isnan(v))
        buf[0] = 0;
    else
        snprintf(buf, len, "%.17g", v);
}

static char *stats_row(const struct indiv *x)
{
    char id[32], par[32], mut[256], f[20][40];
    label(id, sizeof id, x->gen, x->idx);
    label(par, sizeof par, x->parent_gen, x->parent_idx);
    enevo_mutation_names(x->mutations, mut, sizeof mut);
    const double v[] = {x->m.params,        x->m.flops,          x->m.train_loss,
                        x->m.val_loss,      x->m.val_accuracy,   x->m.accuracy,
                        x->m.loss,          x->m.test_accuracy,  x->m.energy,
                        x->m.power,         x->m.latency,        x->m.energy_ci_low,
                        x->m.energy_ci_high, x->m.accuracy_0,    x->m.accuracy_1,
                        x->m.test_accuracy_1, x->m.energy_0,     x->m.energy_1,
                        x->fitness,         x->fitness_mean};
    for (int i = 0; i < 20; i++)
        num(f[i], sizeof f[i], v[i]);
    size_t plen = x->phenotype ? strlen(x->phenotype) : 0;
    char *row = malloc(plen + 1024);
    if (!row)
        return NULL;
    int n = snprintf(row, 1024,
                     "%d,%d,%s,%s,%s,%d,%d,%s,%s,%d,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,"
                     "%s,%s,%s,%s,%d,%s,\"",
                     x->eval_gen, x->eval_idx, id, par, mut, x->m.valid ? 1 : 0,
                     enevo_genotype_layer_count(&x->gt), f[0], f[1], x->m.epochs, f[2], f[3],
                     f[4], f[5], f[6], f[7], f[8], f[9], f[10], f[11], f[12], f[13], f[14],
                     f[15], f[16], f[17], x->m.valid ? x->meter : "", f[18], f[19], x->n_evals,
                     x->reused);
    /* One CSV field: newlines become " | ", there are no quotes to escape. */
    char *o = row + n;
    for (size_t i = 0; i < plen; i++) {
        char ch = x->phenotype[i];
        if (ch == '\n') {
            if (i + 1 < plen) {
                memcpy(o, " | ", 3);
                o += 3;
            }
        } else {
            *o++ = ch == '"' ? '\'' : ch;
        }
    }
    memcpy(o, "\"\n", 3);
    return row;
}

static int record(struct run *r, const struct indiv *x, double train_secs, double total_secs,
                  char *err, size_t errlen)
{
    char path[1024];
    char *row = stats_row(x);
    if (!row)
        return enevo_errf(err, errlen, ENEVO_ENOMEM, "out of memory");
    path_of(r, path, sizeof path, "stats.csv");
    int rc = append(path, row, &r->stats_len, err, errlen);
    free(row);
    char t[128];
    snprintf(t, sizeof t, "%d,%d,%.3f,%.3f\n", x->eval_gen, x->eval_idx, train_secs, total_secs);
    path_of(r, path, sizeof path, "timing.csv");
    if (!rc)
        rc = append(path, t, &r->timing_len, err, errlen);
    return rc;
}

static cJSON *indiv_json(const struct indiv *x)
{
    cJSON *o = cJSON_CreateObject();
    char par[32], mut[256];
    label(par, sizeof par, x->parent_gen, x->parent_idx);
    char id[32];
    label(id, sizeof id, x->gen, x->idx);
    cJSON_AddStringToObject(o, "id", id);
    cJSON_AddNumberToObject(o, "evaluated_in_generation", x->eval_gen);
    cJSON_AddStringToObject(o, "parent", par);
    cJSON_AddStringToObject(o, "mutations", enevo_mutation_names(x->mutations, mut, sizeof mut));
    cJSON_AddBoolToObject(o, "valid", x->m.valid);
    cJSON_AddStringToObject(o, "phenotype", x->phenotype ? x->phenotype : "");
    cJSON_AddStringToObject(o, "meter", x->meter);
    if (x->reused[0])
        cJSON_AddStringToObject(o, "reused_module", x->reused);
    const struct {
        const char *k;
        double v;
    } kv[] = {{"params", x->m.params},         {"flops", x->m.flops},
              {"epochs", x->m.epochs},         {"train_loss", x->m.train_loss},
              {"val_loss", x->m.val_loss},     {"val_accuracy", x->m.val_accuracy},
              {"accuracy", x->m.accuracy},     {"loss", x->m.loss},
              {"test_accuracy", x->m.test_accuracy},
              {"energy_j_per_inference", x->m.energy},
              {"power_w", x->m.power},
              {"latency_s", x->m.latency},
              {"energy_ci_low", x->m.energy_ci_low},
              {"energy_ci_high", x->m.energy_ci_high},
              {"accuracy_0", x->m.accuracy_0},
              {"accuracy_1", x->m.accuracy_1},
              {"test_accuracy_1", x->m.test_accuracy_1},
              {"energy_0", x->m.energy_0},
              {"energy_1", x->m.energy_1},
              {"power_0", x->m.power_0},
              {"power_1", x->m.power_1},
              {"latency_0", x->m.latency_0},
              {"latency_1", x->m.latency_1},
              {"fitness", x->fitness},
              {"fitness_mean", x->fitness_mean},     {"evaluations", x->n_evals}};
    for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++) {
        if (isnan(kv[i].v))
            cJSON_AddNullToObject(o, kv[i].k);
        else
            cJSON_AddNumberToObject(o, kv[i].k, kv[i].v);
    }
    return o;
}

static int write_json(const char *path, cJSON *o, char *err, size_t errlen)
{
    char *s = cJSON_Print(o);
    cJSON_Delete(o);
    if (!s)
        return enevo_errf(err, errlen, ENEVO_ENOMEM, "out of memory");
    size_t n = strlen(s);
    s[n] = '\n';
    int rc = enevo_write_atomic(path, s, n + 1, err, errlen);
    free(s);
    return rc;
}

static int copy_file(const char *from, const char *to, char *err, size_t errlen)
{
    char *buf;
    size_t len;
    if (enevo_read_file(from, 0, &buf, &len, NULL, 0))
        return enevo_errf(err, errlen, ENEVO_EIO, "%s: cannot read", from);
    int rc = enevo_write_atomic(to, buf, len, err, errlen);
    free(buf);
    return rc;
}

static void logf_(struct run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void logf_(struct run *r, const char *fmt, ...)
{
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (r->o->log) {
        fputs(line, r->o->log);
        fflush(r->o->log);
    }
    char path[1024];
    path_of(r, path, sizeof path, "log.txt");
    FILE *f = fopen(path, "a");
    if (f) {
        fputs(line, f);
        fclose(f);
    }
}

/* ---- the generation loop ---- */

static int make_individual(struct run *r, int idx, struct indiv *x, uint64_t *train_seed,
                           const char **init_model, int *prior_epochs, int *epochs)
{
    const struct enevo_config *c = r->c;
    enevo_rng rng;
    enevo_rng_seed3(&rng, c->seed, ENEVO_STREAM_EVO, (uint64_t)r->gen, (uint64_t)idx);
    *train_seed = enevo_rng_u64(&rng);
    memset(x, 0, sizeof *x);
    x->gen = x->eval_gen = r->gen;
    x->idx = x->eval_idx = idx;
    x->parent_gen = x->parent_idx = -1;
    *init_model = NULL;
    *prior_epochs = 0;
    *epochs = c->default_train_epochs;
    int rc;
    if (r->gen == 0 && c->seed_phenotype[0]) {
        /* ENERGIZE's seed_model: the seed, then mutants of it. */
        char err[ENEVO_ERR_LEN];
        rc = enevo_genotype_encode(&r->space, c->seed_phenotype, &rng, &x->gt, err, sizeof err);
        if (!rc && idx > 0) {
            struct enevo_config no_longer = *c;
            no_longer.mutation.train_longer = 0; /* nothing to continue from */
            struct enevo_evo_space s = r->space;
            s.cfg = &no_longer;
            x->mutations = enevo_mutate(&s, &x->gt, &rng, NULL, NULL);
            x->parent_gen = 0;
            x->parent_idx = 0;
        }
        x->budget = c->default_train_epochs;
    } else if (r->gen == 0) {
        rc = enevo_genotype_random(&r->space, &rng, &x->gt);
        x->budget = c->default_train_epochs;
    } else {
        const struct indiv *p = &r->parent;
        rc = enevo_genotype_copy(&p->gt, &x->gt);
        x->parent_gen = p->gen;
        x->parent_idx = p->idx;
        x->budget = p->budget;
        bool reeval = c->reevaluate_parent && idx == 0;
        if (reeval) {
            /* The parent again, from scratch with a fresh stream: its
             * fitness becomes the mean over its evaluations. */
            x->gen = p->gen;
            x->idx = p->idx;
            x->parent_gen = p->parent_gen;
            x->parent_idx = p->parent_idx;
            x->mutations = p->mutations;
            *epochs = p->budget;
        } else if (!rc) {
            struct enevo_archive_ctx ac = {.archive = &r->archive, .by_power = c->reuse_by_power};
            x->mutations = enevo_mutate(&r->space, &x->gt, &rng, enevo_archive_reuse, &ac);
            if (x->mutations & ENEVO_MUT_REUSE_MODULE)
                snprintf(x->reused, sizeof x->reused, "%s#%016llx:%.6g J",
                         c->modules[ac.last.mod.type].name, (unsigned long long)ac.last.hash,
                         ac.last.energy_j);
            /* An invalid parent has no weights to continue from. */
            if ((x->mutations & ENEVO_MUT_TRAIN_LONGER) && p->m.valid) {
                x->budget = p->budget + c->default_train_epochs;
                *prior_epochs = p->m.epochs;
                *epochs = c->default_train_epochs;
                *init_model = "parent";
            } else {
                x->budget = c->default_train_epochs;
            }
        }
    }
    if (!rc)
        rc = enevo_genotype_phenotype(&r->space, &x->gt, &rng, &x->phenotype);
    return rc;
}

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
    uint64_t seed;
    const char *init;
    int prior, epochs;
    int rc = make_individual(r, r->next, x, &seed, &init, &prior, &epochs);
    if (rc)
        return enevo_errf(err, errlen, rc, "cannot build individual %d-%d", r->gen, r->next);
    bool reeval = r->gen > 0 && r->c->reevaluate_parent && r->next == 0;
    char parent_model[1024], note[2048];
    if (init) {
        /* The parent's own model file is where train_longer continues from. */
        model_path(r, parent_model, sizeof parent_model, r->parent.gen, r->parent.idx);
        init = parent_model;
    }
    double prep = enevo_now() - t0, train_secs = 0;
    /* A re-evaluation trains from scratch into a file of its own. */
    rc = evaluate(r, x, seed, init, prior, epochs, &train_secs, note, sizeof note);
    double t1 = enevo_now();
    if (rc)
        return enevo_errf(err, errlen, rc, "evaluating %d-%d: %s", x->gen, x->idx,
                          note[0] ? note : enevo_strerror(rc));
    rc = enevo_fitness(r->c, &x->m, &x->fitness, err, errlen);
    if (rc)
        return rc;
    if (reeval) {
        x->n_evals = r->parent.n_evals + 1;
        x->fitness_mean = (r->parent.fitness_mean * r->parent.n_evals + x->fitness) / x->n_evals;
    } else {
        x->n_evals = 1;
        x->fitness_mean = x->fitness;
    }
    r->pop_n++;
    r->next++;
    r->evaluations++;
    double total = enevo_now() - t0;
    if ((rc = record(r, x, train_secs, total, err, errlen)))
        return rc;
    if ((rc = save_checkpoint(r, err, errlen)))
        return rc;
    r->overhead += prep + (enevo_now() - t1);
    r->evaluated_here++;
    char mut[256], etext[192];
    if (x->m.valid)
        logf_(r,
              "gen %d #%d %-28s %2d layers %9.0f params  acc %.4f  test %.4f  %s  fitness "
              "%.4f%s  %d ep  %.1f s\n",
              r->gen, r->next - 1, reeval ? "(parent re-evaluated)"
                                          : enevo_mutation_names(x->mutations, mut, sizeof mut),
              enevo_genotype_layer_count(&x->gt), x->m.params, x->m.accuracy,
              x->m.test_accuracy, energy_text(x, etext, sizeof etext), x->fitness_mean,
              reeval ? " (mean)" : "", x->m.epochs, total);
    else
        logf_(r, "gen %d #%d %-28s %s\n", r->gen, r->next - 1,
              enevo_mutation_names(x->mutations, mut, sizeof mut), note);
    return 0;
}

/* Selection at the end of a generation: the fittest of parent and
 * children; the parent (first) wins ties. Idempotent, so a run killed in
 * here redoes it on resume. */
static int end_generation(struct run *r, char *err, size_t errlen)
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
    char path[1024], src[1024];
    int rc = 0;
    if (improved && chosen.m.valid) {
        r->best_fitness = chosen.fitness_mean;
        r->best_gen = chosen.gen;
        r->best_idx = chosen.idx;
        path_of(r, path, sizeof path, "best/model.enevo");
        model_path(r, src, sizeof src, chosen.gen, chosen.idx);
        rc = copy_file(src, path, err, errlen);
        for (int k = 0; !rc && k < 2; k++) {
            /* model0.enevo and model1.enevo when it has a partition */
            char name[32];
            snprintf(name, sizeof name, "best/model%d.enevo", k);
            path_of(r, path, sizeof path, name);
            part_path(r, src, sizeof src, chosen.gen, chosen.idx, k);
            if (access(src, R_OK) == 0)
                rc = copy_file(src, path, err, errlen);
            else
                unlink(path);
        }
        path_of(r, path, sizeof path, "best/phenotype.txt");
        if (!rc)
            rc = write_text(path, chosen.phenotype, err, errlen);
        path_of(r, path, sizeof path, "best/metrics.json");
        if (!rc)
            rc = write_json(path, indiv_json(&chosen), err, errlen);
    }
    /* stats/generation_<g>.json */
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "generation", r->gen);
    cJSON *arr = cJSON_AddArrayToObject(o, "individuals");
    for (int i = 0; i < r->pop_n; i++)
        if (i != best)
            cJSON_AddItemToArray(arr, indiv_json(&r->pop[i]));
    if (best >= 0)
        cJSON_AddItemToArray(arr, indiv_json(&chosen));
    cJSON_AddItemToObject(o, "parent", indiv_json(&chosen));
    char lab[32];
    label(lab, sizeof lab, r->best_gen, r->best_idx);
    cJSON_AddStringToObject(o, "best_so_far", lab);
    cJSON_AddNumberToObject(o, "best_fitness", r->best_fitness);
    char name[64];
    snprintf(name, sizeof name, "stats/generation_%d.json", r->gen);
    path_of(r, path, sizeof path, name);
    if (!rc)
        rc = write_json(path, o, err, errlen);
    else
        cJSON_Delete(o);
    if (rc) {
        indiv_free(&chosen);
        return rc;
    }
    logf_(r, "generation %d: parent %d-%d, fitness %.4f (%d evaluation%s), test accuracy %.4f; "
             "best so far %s, fitness %.4f; %d evaluations, %.0f s\n",
          r->gen, chosen.gen, chosen.idx, chosen.fitness_mean, chosen.n_evals,
          chosen.n_evals == 1 ? "" : "s", chosen.m.test_accuracy, lab, r->best_fitness,
          r->evaluations, enevo_now() - r->t_start);
    /* Model files of this generation's evaluations go, except the new
     * parent's own (train_longer continues from it); best/ has a copy of the
     * best. A re-evaluation's file is never the parent's own. */
    for (int i = 0; i < r->pop_n; i++) {
        const struct indiv *y = i == best ? &chosen : &r->pop[i];
        if (!(y->eval_gen == chosen.gen && y->eval_idx == chosen.idx))
            remove_models(r, y->eval_gen, y->eval_idx);
        if (i != best)
            indiv_free(&r->pop[i]);
    }
    if (r->has_parent && !(r->parent.gen == chosen.gen && r->parent.idx == chosen.idx) &&
        r->parent.phenotype) {
        remove_models(r, r->parent.gen, r->parent.idx);
    }
    indiv_free(&r->parent);
    r->parent = chosen;
    r->has_parent = true;
    r->pop_n = 0;
    r->next = 0;
    r->gen++;
    return save_checkpoint(r, err, errlen);
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
    int rc = enevo_space_init(&r->space, c, g, err, errlen);
    if (!rc)
        rc = enevo_fitness_check(c, err, errlen);
    /* A device this build or machine lacks fails now, not at the first net. */
    char device[32] = "cpu";
    if (!rc)
        rc = enevo_device_resolve(c->device, device, sizeof device, NULL, 0, err, errlen);
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
    char path[1024];
    if (!rc)
        rc = enevo_mkdir_p(r->dir, err, errlen);
    if (!rc) {
        char sub[1024];
        path_of(r, sub, sizeof sub, "models");
        rc = enevo_mkdir_p(sub, err, errlen);
        path_of(r, sub, sizeof sub, "stats");
        if (!rc)
            rc = enevo_mkdir_p(sub, err, errlen);
        path_of(r, sub, sizeof sub, "best");
        if (!rc)
            rc = enevo_mkdir_p(sub, err, errlen);
    }
    if (!rc && enevo_archive_init(&r->archive, c->n_modules, c->archive_size > 0 ? c->archive_size : 1))
        rc = enevo_errf(err, errlen, ENEVO_ENOMEM, "out of memory");
    int loaded = rc ? 0 : load_checkpoint(r, err, errlen);
    if (loaded < 0)
        rc = loaded;
    if (!rc && loaded) {
        /* Cut off what was written after the last checkpoint. */
        path_of(r, path, sizeof path, "stats.csv");
        if (truncate(path, r->stats_len))
            rc = enevo_errf(err, errlen, ENEVO_EIO, "%s: %s", path, strerror(errno));
        path_of(r, path, sizeof path, "timing.csv");
        if (!rc && truncate(path, r->timing_len))
            rc = enevo_errf(err, errlen, ENEVO_EIO, "%s: %s", path, strerror(errno));
        if (!rc)
            logf_(r, "resuming %s at generation %d, evaluation %d (%d done)\n", r->dir, r->gen,
                  r->next, r->evaluations);
    } else if (!rc) {
        path_of(r, path, sizeof path, "config.used.yaml");
        rc = write_text(path, config_text, err, errlen);
        path_of(r, path, sizeof path, "grammar.used");
        if (!rc)
            rc = write_text(path, grammar_text, err, errlen);
        path_of(r, path, sizeof path, "stats.csv");
        if (!rc)
            rc = write_text(path, STATS_HEADER, err, errlen);
        r->stats_len = (long)strlen(STATS_HEADER);
        path_of(r, path, sizeof path, "timing.csv");
        if (!rc)
            rc = write_text(path, TIMING_HEADER, err, errlen);
        r->timing_len = (long)strlen(TIMING_HEADER);
        if (!rc)
            rc = save_checkpoint(r, err, errlen);
        if (!rc)
            logf_(r, "enevo evolve: %d generations of 1+%d, %d train / %d validation / %d "
                     "fitness images, %d epochs per individual, seed %llu, device %s, run "
                     "directory %s\n",
                  c->generations, c->lambda, d->train->n, d->validation->n, d->fitness->n,
                  c->default_train_epochs, (unsigned long long)c->seed, device, r->dir);
    }
    while (!rc && r->gen < c->generations) {
        if (c->max_epochs > 0 && r->total_epochs >= c->max_epochs)
            break;
        if (r->next < pop_size(r, r->gen)) {
            if (o->stop_after > 0 && r->evaluated_here >= o->stop_after)
                break;
            rc = evaluate_next(r, err, errlen);
        } else {
            double t0 = enevo_now();
            rc = end_generation(r, err, errlen);
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
    if (r->has_parent) {
        res->best_accuracy = NAN;
        res->best_test_accuracy = NAN;
        /* The best is in best/metrics.json; report the parent if it is it. */
        path_of(r, path, sizeof path, "best/metrics.json");
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
    indiv_free(&r->parent);
    for (int i = 0; i < (int)(sizeof r->pop / sizeof r->pop[0]); i++)
        indiv_free(&r->pop[i]);
    enevo_archive_free(&r->archive);
    free(r);
    return rc;
}
