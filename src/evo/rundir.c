/* src/evo/rundir.c — the run directory: paths, the checkpoint, stats.csv
 * and timing.csv rows, the generation JSON, best/.
 *
 * Crash safety: after every evaluated individual, in this order, its model
 * file is written (atomically), its rows are appended to stats.csv and
 * timing.csv, and the checkpoint is replaced (atomically). The checkpoint
 * records the byte length of the CSV files (generations.csv too), so a
 * resume first cuts off rows written after the last checkpoint, then
 * re-evaluates from there. Every individual draws from its own stream
 * (seed, generation, index) and training is deterministic, so the re-done
 * rows are the same bytes: a run killed at any moment and resumed writes
 * the stats.csv of a run that never stopped. Wall-clock times go to
 * timing.csv, which is not reproducible.
 *
 * Checkpoint versions: 1 (the (1+λ) state), 2 (1 followed by the strategy,
 * generations.csv's length, NSGA-II's survivors and front archive). Both
 * are read; 2 is written.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "enevo/io.h"
#include "core/fault.h"
#include "evo/run_internal.h"

#define CKPT_MAGIC "ENEVOCKP"
#define CKPT_VERSION 2u

/* ---- paths and files ---- */

void enevo__indiv_free(struct indiv *x)
{
    enevo_genotype_free(&x->gt);
    free(x->phenotype);
    memset(x, 0, sizeof *x);
}
void enevo__path(const struct run *r, char *buf, size_t len, const char *name)
{
    snprintf(buf, len, "%s/%s", r->dir, name);
}

void enevo__model_path(const struct run *r, char *buf, size_t len, int gen, int idx)
{
    snprintf(buf, len, "%s/models/g%d_i%d.enevo", r->dir, gen, idx);
}

/* The extracted models of a partitioned evaluation: part 0 (full), 1 (early exit). */
void enevo__part_path(const struct run *r, char *buf, size_t len, int gen, int idx, int part)
{
    snprintf(buf, len, "%s/models/g%d_i%d.model%d.enevo", r->dir, gen, idx, part);
}

void enevo__remove_models(const struct run *r, int gen, int idx)
{
    char path[1024];
    enevo__model_path(r, path, sizeof path, gen, idx);
    unlink(path);
    for (int k = 0; k < 2; k++) {
        enevo__part_path(r, path, sizeof path, gen, idx, k);
        unlink(path);
    }
}

int enevo__write_text(const char *path, const char *text, char *err, size_t errlen)
{
    return enevo_write_atomic(path, text, strlen(text), err, errlen);
}


/* Append to a CSV file and return its new length (for the checkpoint). */
int enevo__append(const char *path, const char *text, long *len, char *err, size_t errlen)
{
    FILE *f = fopen(path, "ab");
    if (!f)
        return enevo_errf(err, errlen, ENEVO_EIO, "%s: %s", path, strerror(errno));
    /* A failed append may leave part of the row; the checkpoint keeps the
     * length before it, and a resume cuts the file back to that. */
    int code = 0;
    size_t n = strlen(text);
    bool fault = enevo__fault(ENEVO__FAULT_WRITE, path, &code);
    if (fault) /* as a disk that fills mid-row */
        fwrite(text, 1, n / 2, f);
    else if (fwrite(text, 1, n, f) != n || fflush(f))
        code = errno;
    if (!code && fsync(fileno(f)))
        code = errno;
    *len = ftell(f);
    if (fclose(f) && !code)
        code = errno ? errno : EIO;
    if (code)
        return enevo_errf(err, errlen, ENEVO_EIO, "%s: write failed: %s", path, strerror(code));
    return 0;
}

/* ---- checkpoint encoding ---- */

void enevo__put(struct wbuf *w, const void *p, size_t n)
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
static void put_f64(struct wbuf *w, double v) { enevo__put(w, &v, sizeof v); }
static void put_str(struct wbuf *w, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    enevo__put_i64(w, (int64_t)n);
    enevo__put(w, s ? s : "", n);
}
void enevo__get(struct rbuf *r, void *p, size_t n)
{
    if (r->bad || r->pos + n > r->len) {
        r->bad = true;
        memset(p, 0, n);
        return;
    }
    memcpy(p, r->b + r->pos, n);
    r->pos += n;
}
static double get_f64(struct rbuf *r)
{
    double v;
    enevo__get(r, &v, sizeof v);
    return v;
}

static char *get_str(struct rbuf *r)
{
    int64_t n = enevo__get_i64(r);
    if (r->bad || n < 0 || (size_t)n > r->len - r->pos) {
        r->bad = true;
        return NULL;
    }
    char *s = malloc((size_t)n + 1);
    if (!s) {
        r->bad = true;
        return NULL;
    }
    enevo__get(r, s, (size_t)n);
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
    enevo__put_i64(w, m->epochs);
    enevo__put_i64(w, m->valid);
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
    m->epochs = (int)enevo__get_i64(r);
    m->valid = enevo__get_i64(r) != 0;
}

void enevo__put_indiv(struct wbuf *w, const struct indiv *x)
{
    if (!w->rc)
        w->rc = enevo_genotype_write(&x->gt, &w->b, &w->len, &w->cap);
    put_str(w, x->phenotype);
    int64_t ints[] = {x->mutations, x->gen,      x->idx,    x->eval_gen, x->eval_idx,
                      x->parent_gen, x->parent_idx, x->budget, x->n_evals};
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++)
        enevo__put_i64(w, ints[i]);
    put_metrics(w, &x->m);
    put_f64(w, x->fitness);
    put_f64(w, x->fitness_mean);
    put_str(w, x->meter);
    put_str(w, x->reused);
}

int enevo__get_indiv(struct run *run, struct rbuf *r, struct indiv *x, char *err, size_t errlen)
{
    memset(x, 0, sizeof *x);
    if (r->bad)
        return enevo_errf(err, errlen, ENEVO_EFORMAT, "individual cut off at byte %zu", r->pos);
    int rc = enevo_genotype_read(&run->space, r->b, r->len, &r->pos, &x->gt, err, errlen);
    if (rc) {
        r->bad = true;
        enevo__indiv_free(x);
        return rc;
    }
    x->phenotype = get_str(r);
    x->mutations = (unsigned)enevo__get_i64(r);
    x->gen = (int)enevo__get_i64(r);
    x->idx = (int)enevo__get_i64(r);
    x->eval_gen = (int)enevo__get_i64(r);
    x->eval_idx = (int)enevo__get_i64(r);
    x->parent_gen = (int)enevo__get_i64(r);
    x->parent_idx = (int)enevo__get_i64(r);
    x->budget = (int)enevo__get_i64(r);
    x->n_evals = (int)enevo__get_i64(r);
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
    if (!r->bad)
        return 0;
    /* Nothing half-read stays behind: the caller's count never covers x. */
    enevo__indiv_free(x);
    return enevo_errf(err, errlen, ENEVO_EFORMAT, "individual cut off or malformed at byte %zu",
                      r->pos);
}

int enevo__save_checkpoint(struct run *r, char *err, size_t errlen)
{
    struct wbuf w = {0};
    enevo__put(&w, CKPT_MAGIC, 8);
    uint32_t ver = CKPT_VERSION;
    enevo__put(&w, &ver, 4);
    enevo__put_i64(&w, (int64_t)r->cfg_hash);
    enevo__put_i64(&w, (int64_t)r->gram_hash);
    int64_t ints[] = {r->gen,      r->next,       r->pop_n,          r->has_parent, r->best_gen,
                      r->best_idx, r->stats_len,  r->timing_len,     r->evaluations,
                      r->total_epochs};
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++)
        enevo__put_i64(&w, ints[i]);
    put_f64(&w, r->best_fitness);
    if (r->has_parent)
        enevo__put_indiv(&w, &r->parent);
    for (int i = 0; i < r->pop_n; i++)
        enevo__put_indiv(&w, &r->pop[i]);
    if (!w.rc)
        w.rc = enevo_archive_write(&r->archive, &w.b, &w.len, &w.cap);
    /* Version 2 from here. */
    enevo__put_i64(&w, r->c->strategy);
    enevo__put_i64(&w, r->gens_len);
    enevo__put_i64(&w, r->n_surv);
    for (int i = 0; i < r->n_surv; i++)
        enevo__put_indiv(&w, &r->surv[i]);
    enevo__put_i64(&w, r->n_front);
    for (int i = 0; i < r->n_front; i++)
        enevo__put_indiv(&w, &r->front[i]);
    uint32_t crc = w.rc ? 0 : (uint32_t)crc32(0L, w.b, (uInt)w.len);
    enevo__put(&w, &crc, 4);
    int rc = w.rc;
    char path[1024];
    enevo__path(r, path, sizeof path, "checkpoint.bin");
    if (!rc)
        rc = enevo_write_atomic(path, w.b, w.len, err, errlen);
    else
        enevo_errf(err, errlen, rc, "out of memory writing the checkpoint");
    free(w.b);
    return rc;
}

/* Version 2's tail: the strategy's own state. */
static int load_v2(struct run *r, struct rbuf *rb, const char *path, char *err, size_t errlen)
{
    int64_t strategy = enevo__get_i64(rb);
    r->gens_len = (long)enevo__get_i64(rb);
    if (!rb->bad && strategy != r->c->strategy)
        return enevo_errf(err, errlen, ENEVO_EINVAL,
                          "%s: the checkpoint is of strategy %lld, the config says %d", path,
                          (long long)strategy, r->c->strategy);
    int64_t n = enevo__get_i64(rb);
    if (rb->bad || n < 0 || n > ENEVO__POP_MAX)
        return enevo_errf(err, errlen, ENEVO_EFORMAT, "%s: malformed checkpoint (survivors)",
                          path);
    int rc;
    for (r->n_surv = 0; r->n_surv < (int)n; r->n_surv++)
        if ((rc = enevo__get_indiv(r, rb, &r->surv[r->n_surv], err, errlen)))
            return rc;
    n = enevo__get_i64(rb);
    /* Each entry takes at least 100 bytes: a bound before allocating. */
    if (rb->bad || n < 0 || (size_t)n > (rb->len - rb->pos) / 100 + 1)
        return enevo_errf(err, errlen, ENEVO_EFORMAT, "%s: malformed checkpoint (front)", path);
    if (n > 0) {
        r->front = calloc((size_t)n, sizeof *r->front);
        if (!r->front)
            return enevo_errf(err, errlen, ENEVO_ENOMEM, "out of memory");
        r->cap_front = (int)n;
    }
    for (r->n_front = 0; r->n_front < (int)n; r->n_front++)
        if ((rc = enevo__get_indiv(r, rb, &r->front[r->n_front], err, errlen)))
            return rc;
    return 0;
}

/* Returns 1 when a checkpoint was loaded, 0 when there is none. */
int enevo__load_checkpoint(struct run *r, char *err, size_t errlen)
{
    char path[1024];
    enevo__path(r, path, sizeof path, "checkpoint.bin");
    char *buf;
    size_t len;
    if (access(path, F_OK))
        return 0;
    if (enevo_read_file(path, 0, &buf, &len, NULL, 0))
        return enevo_errf(err, errlen, ENEVO_EIO, "%s: cannot read", path);
    int rc = enevo__load_checkpoint_mem(r, path, (const unsigned char *)buf, len, err, errlen);
    free(buf);
    return rc ? rc : 1;
}

int enevo__load_checkpoint_mem(struct run *r, const char *path, const unsigned char *buf,
                               size_t len, char *err, size_t errlen)
{
    int rc = 0;
    if (len < 16 || memcmp(buf, CKPT_MAGIC, 8)) {
        rc = enevo_errf(err, errlen, ENEVO_EFORMAT, "%s: not an enevo checkpoint", path);
        goto out;
    }
    uint32_t crc;
    memcpy(&crc, buf + len - 4, 4);
    if (crc != (uint32_t)crc32(0L, buf, (uInt)(len - 4))) {
        rc = enevo_errf(err, errlen, ENEVO_ECORRUPT,
                        "%s: checksum mismatch: the checkpoint is corrupted or truncated", path);
        goto out;
    }
    struct rbuf rb = {buf, len - 4, 8, false};
    uint32_t ver;
    enevo__get(&rb, &ver, 4);
    if (ver != 1 && ver != CKPT_VERSION) {
        rc = enevo_errf(err, errlen, ENEVO_EVERSION,
                        "%s: checkpoint version %u, this enevo reads 1 and %u", path, ver,
                        CKPT_VERSION);
        goto out;
    }
    uint64_t ch = (uint64_t)enevo__get_i64(&rb), gh = (uint64_t)enevo__get_i64(&rb);
    if (ch != r->cfg_hash || gh != r->gram_hash) {
        rc = enevo_errf(err, errlen, ENEVO_EINVAL,
                        "%s: this run was started with a different %s; resuming it with another "
                        "would mix two experiments (start a new run directory instead)",
                        r->dir, ch != r->cfg_hash ? "config" : "grammar");
        goto out;
    }
    r->gen = (int)enevo__get_i64(&rb);
    r->next = (int)enevo__get_i64(&rb);
    r->pop_n = (int)enevo__get_i64(&rb);
    r->has_parent = enevo__get_i64(&rb) != 0;
    r->best_gen = (int)enevo__get_i64(&rb);
    r->best_idx = (int)enevo__get_i64(&rb);
    r->stats_len = (long)enevo__get_i64(&rb);
    r->timing_len = (long)enevo__get_i64(&rb);
    r->evaluations = (int)enevo__get_i64(&rb);
    r->total_epochs = (long)enevo__get_i64(&rb);
    r->best_fitness = get_f64(&rb);
    if (rb.bad || r->pop_n < 0 || r->pop_n > (int)(sizeof r->pop / sizeof r->pop[0]) ||
        r->gen < 0) {
        rc = enevo_errf(err, errlen, ENEVO_EFORMAT, "%s: malformed checkpoint", path);
        goto out;
    }
    if (r->has_parent && (rc = enevo__get_indiv(r, &rb, &r->parent, err, errlen)))
        goto out;
    for (int i = 0; i < r->pop_n; i++)
        if ((rc = enevo__get_indiv(r, &rb, &r->pop[i], err, errlen)))
            goto out;
    enevo_archive_free(&r->archive);
    if ((rc = enevo_archive_read(&r->archive, &r->space, rb.b, rb.len, &rb.pos, err, errlen)))
        goto out;
    /* Version 1 is a (1+λ) run without generations.csv. */
    if (ver == 1 && r->c->strategy != ENEVO_STRATEGY_ONE_PLUS_LAMBDA) {
        rc = enevo_errf(err, errlen, ENEVO_EINVAL,
                        "%s: a version 1 checkpoint is of a one_plus_lambda run", path);
        goto out;
    }
    if (ver >= 2 && (rc = load_v2(r, &rb, path, err, errlen)))
        goto out;
    if (rb.pos != rb.len)
        rc = enevo_errf(err, errlen, ENEVO_EFORMAT, "%s: malformed checkpoint (%zu extra bytes)",
                        path, rb.len - rb.pos);
out:
    /* The genotype, individual and archive readers do not know the file. */
    if (rc && err && errlen && strncmp(err, path, strlen(path))) {
        char inner[ENEVO_ERR_LEN];
        snprintf(inner, sizeof inner, "%s", err);
        enevo_errf(err, errlen, rc, "%s: malformed checkpoint: %s", path,
                   inner[0] ? inner : "cut off or inconsistent");
    }
    return rc;
}

/* ---- statistics ---- */

const char *const ENEVO__STATS_HEADER =
    "generation,index,id,parent,mutations,valid,layers,params,flops,epochs,train_loss,val_loss,"
    "val_accuracy,accuracy,loss,test_accuracy,energy_j_per_inference,power_w,latency_s,"
    "energy_ci_low,energy_ci_high,accuracy_0,accuracy_1,test_accuracy_1,energy_0,energy_1,"
    "meter,fitness,fitness_mean,evaluations,reused_module,phenotype,note\n";
/* Before the note column (run directories of enevo <= 0.10): a resume of
 * one keeps writing its rows without it. */
const char *const ENEVO__STATS_HEADER_V1 =
    "generation,index,id,parent,mutations,valid,layers,params,flops,epochs,train_loss,val_loss,"
    "val_accuracy,accuracy,loss,test_accuracy,energy_j_per_inference,power_w,latency_s,"
    "energy_ci_low,energy_ci_high,accuracy_0,accuracy_1,test_accuracy_1,energy_0,energy_1,"
    "meter,fitness,fitness_mean,evaluations,reused_module,phenotype\n";
const char *const ENEVO__TIMING_HEADER = "generation,index,train_seconds,total_seconds\n";

void enevo__label(char *buf, size_t len, int gen, int idx)
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

/* text as one quoted CSV field at o: newlines become " | ", double quotes
 * single ones (so no quote needs escaping). Returns the end. */
static char *put_field(char *o, const char *text)
{
    size_t len = text ? strlen(text) : 0;
    *o++ = '"';
    for (size_t i = 0; i < len; i++) {
        char ch = text[i];
        if (ch == '\n') {
            if (i + 1 < len) {
                memcpy(o, " | ", 3);
                o += 3;
            }
        } else {
            *o++ = ch == '"' ? '\'' : ch;
        }
    }
    *o++ = '"';
    return o;
}

/* note: NULL leaves the column out (a run directory from before it). */
static char *stats_row(const struct indiv *x, const char *note)
{
    char id[32], par[32], mut[256], f[20][40];
    enevo__label(id, sizeof id, x->gen, x->idx);
    enevo__label(par, sizeof par, x->parent_gen, x->parent_idx);
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
    size_t nlen = note ? strlen(note) : 0;
    char *row = malloc(3 * (plen + nlen) + 1024);
    if (!row)
        return NULL;
    int n = snprintf(row, 1024,
                     "%d,%d,%s,%s,%s,%d,%d,%s,%s,%d,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,"
                     "%s,%s,%s,%s,%d,%s,",
                     x->eval_gen, x->eval_idx, id, par, mut, x->m.valid ? 1 : 0,
                     enevo_genotype_layer_count(&x->gt), f[0], f[1], x->m.epochs, f[2], f[3],
                     f[4], f[5], f[6], f[7], f[8], f[9], f[10], f[11], f[12], f[13], f[14],
                     f[15], f[16], f[17], x->m.valid ? x->meter : "", f[18], f[19], x->n_evals,
                     x->reused);
    char *o = put_field(row + n, x->phenotype);
    if (note) {
        *o++ = ',';
        o = put_field(o, note);
    }
    memcpy(o, "\n", 2);
    return row;
}

int enevo__record(struct run *r, const struct indiv *x, const char *note, double train_secs,
                  double total_secs, char *err, size_t errlen)
{
    char path[1024];
    char *row = stats_row(x, r->stats_v1 ? NULL : note ? note : "");
    if (!row)
        return enevo_errf(err, errlen, ENEVO_ENOMEM, "out of memory");
    enevo__path(r, path, sizeof path, "stats.csv");
    int rc = enevo__append(path, row, &r->stats_len, err, errlen);
    free(row);
    char t[128];
    snprintf(t, sizeof t, "%d,%d,%.3f,%.3f\n", x->eval_gen, x->eval_idx, train_secs, total_secs);
    enevo__path(r, path, sizeof path, "timing.csv");
    if (!rc)
        rc = enevo__append(path, t, &r->timing_len, err, errlen);
    return rc;
}

cJSON *enevo__indiv_json(const struct indiv *x)
{
    cJSON *o = cJSON_CreateObject();
    char par[32], mut[256];
    enevo__label(par, sizeof par, x->parent_gen, x->parent_idx);
    char id[32];
    enevo__label(id, sizeof id, x->gen, x->idx);
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

int enevo__write_json(const char *path, cJSON *o, char *err, size_t errlen)
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

int enevo__copy_file(const char *from, const char *to, char *err, size_t errlen)
{
    char *buf;
    size_t len;
    if (enevo_read_file(from, 0, &buf, &len, NULL, 0))
        return enevo_errf(err, errlen, ENEVO_EIO, "%s: cannot read", from);
    int rc = enevo_write_atomic(to, buf, len, err, errlen);
    free(buf);
    return rc;
}

void enevo__logf(struct run *r, const char *fmt, ...)
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
    enevo__path(r, path, sizeof path, "log.txt");
    FILE *f = fopen(path, "a");
    if (f) {
        fputs(line, f);
        fclose(f);
    }
}

int enevo__write_best(struct run *r, const struct indiv *x, char *err, size_t errlen)
{
    char path[1024], src[1024];
    enevo__path(r, path, sizeof path, "best/model.enevo");
    enevo__model_path(r, src, sizeof src, x->gen, x->idx);
    int rc = enevo__copy_file(src, path, err, errlen);
    for (int k = 0; !rc && k < 2; k++) {
        /* model0.enevo and model1.enevo when it has a partition */
        char name[32];
        snprintf(name, sizeof name, "best/model%d.enevo", k);
        enevo__path(r, path, sizeof path, name);
        enevo__part_path(r, src, sizeof src, x->gen, x->idx, k);
        if (access(src, R_OK) == 0)
            rc = enevo__copy_file(src, path, err, errlen);
        else
            unlink(path);
    }
    enevo__path(r, path, sizeof path, "best/phenotype.txt");
    if (!rc)
        rc = enevo__write_text(path, x->phenotype, err, errlen);
    enevo__path(r, path, sizeof path, "best/metrics.json");
    if (!rc)
        rc = enevo__write_json(path, enevo__indiv_json(x), err, errlen);
    return rc;
}
