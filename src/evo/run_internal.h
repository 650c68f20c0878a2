/* src/evo/run_internal.h — what the files of an evolution run share.
 * Internal.
 *
 *   evolve.c          the driver: setup, the generation loop, the result
 *   rundir.c          the run directory: checkpoint, stats.csv, JSON, best/
 *   evaluate.c        the in-process evaluator (trains and measures)
 *   strategy_es.c     the (1+λ) evolution strategy
 *   strategy_nsga2.c  NSGA-II with the front archive (front/, generations.csv)
 *
 * A strategy makes candidates and selects; an evaluator turns candidates
 * into metrics. The two meet only in struct enevo__strategy and struct
 * enevo__evaluator below (docs/ARCHITECTURE.md, "The evolution run").
 */
#ifndef ENEVO_RUN_INTERNAL_H
#define ENEVO_RUN_INTERNAL_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "enevo/evo.h"

#define ENEVO__POP_MAX 64 /* lambda and population at most */

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

/* What a strategy hands the evaluator: an individual to train, with how. */
struct enevo__cand {
    struct indiv *x;         /* genotype and phenotype set; metrics filled by the evaluator */
    uint64_t train_seed;
    char init_model[1024];   /* "": from scratch; else continue from this model file */
    int prior_epochs, epochs;
    bool reeval;             /* a re-evaluation of the parent (log text only) */
};

struct run;

/* The part of making candidate idx both strategies share (strategy_es.c):
 * seeds rng from the stream (seed, generation, idx), draws the training
 * seed, zeroes cand->x and sets its ids; training from scratch for the
 * config's default epochs. */
void enevo__cand_start(struct run *r, int idx, struct enevo__cand *cand, enevo_rng *rng);

/* A strategy: which candidates a generation has, and selection. Every
 * function is deterministic in the run's checkpointed state, so a resumed
 * run makes the same candidates. */
struct enevo__strategy {
    const char *name;
    /* Candidates in the current generation (r->gen). */
    int (*generation_size)(const struct run *r);
    /* Candidate idx of the current generation into cand->x (zeroed by the
     * callee), drawing only from the stream (seed, generation, idx). */
    int (*make)(struct run *r, int idx, struct enevo__cand *cand, char *err, size_t errlen);
    /* After the evaluator filled x's metrics: fitness and bookkeeping. */
    int (*tell)(struct run *r, struct indiv *x, char *err, size_t errlen);
    /* Selection and end-of-generation files; idempotent (a run killed in
     * here redoes it on resume); ends with a checkpoint. */
    int (*end_generation)(struct run *r, char *err, size_t errlen);
    /* After a checkpoint was loaded (may be NULL): tidy what a kill left. */
    void (*resumed)(struct run *r);
};

/* An evaluator: evaluates candidates [r->next, n) of the current
 * generation and records each one in stats.csv and the checkpoint, in
 * index order. Returns 0 when all are done or it stopped early (stop_after,
 * max_epochs: *stopped set), else a status. */
struct enevo__evaluator {
    const char *name;
    int (*run_batch)(struct run *r, int n, bool *stopped, char *err, size_t errlen);
};

extern const struct enevo__strategy enevo__strategy_es;
extern const struct enevo__strategy enevo__strategy_nsga2;
extern const struct enevo__evaluator enevo__evaluator_inprocess;

struct run {
    const struct enevo_config *c;
    struct enevo_evo_space space;
    const struct enevo_evo_data *d;
    const struct enevo_evo_opts *o;
    const char *dir;
    uint64_t cfg_hash, gram_hash;
    const struct enevo__strategy *strategy;
    const struct enevo__evaluator *evaluator;
    /* checkpointed state */
    int gen, next;          /* generation, index of the next evaluation in it */
    int pop_n;              /* evaluated so far in this generation */
    struct indiv pop[1 + ENEVO__POP_MAX];
    bool has_parent;        /* (1+λ) */
    struct indiv parent;
    double best_fitness;
    int best_gen, best_idx;
    long stats_len, timing_len, gens_len;
    int evaluations;
    long total_epochs;
    struct enevo_archive archive; /* modules for reuse_module */
    /* NSGA-II: survivors in preference order, and the front archive (every
     * feasible non-dominated individual evaluated so far, in entry order) */
    int n_surv;
    struct indiv surv[ENEVO__POP_MAX];
    int n_front, cap_front;
    struct indiv *front;
    /* this process only */
    struct enevo_config *probe; /* a copy of c with one fitness term, to read metrics */
    double overhead, t_start;
    int evaluated_here;
    bool stats_v1;          /* stats.csv from before its note column (a resumed old run) */
    char device[32];        /* the resolved device */
    double mem_limit;       /* bytes a candidate's networks may need; 0 = no limit */
    char mem_what[160];     /* where mem_limit comes from, for the reason */
};

/* ---- checkpoint encoding (rundir.c) ---- */

struct wbuf {
    unsigned char *b;
    size_t len, cap;
    int rc;
};

struct rbuf {
    const unsigned char *b;
    size_t len, pos;
    bool bad;
};

void enevo__put(struct wbuf *w, const void *p, size_t n);
void enevo__get(struct rbuf *r, void *p, size_t n);
/* Values in the machine's byte order: a checkpoint resumes on the machine
 * kind that wrote it (x86-64 and arm64 are little-endian). */
static inline void enevo__put_i64(struct wbuf *w, int64_t v) { enevo__put(w, &v, sizeof v); }
static inline int64_t enevo__get_i64(struct rbuf *r)
{
    int64_t v;
    enevo__get(r, &v, sizeof v);
    return v;
}
void enevo__put_indiv(struct wbuf *w, const struct indiv *x);
int enevo__get_indiv(struct run *run, struct rbuf *r, struct indiv *x, char *err, size_t errlen);

int enevo__save_checkpoint(struct run *r, char *err, size_t errlen);
/* 1 when a checkpoint was loaded, 0 when there is none, or a status. */
int enevo__load_checkpoint(struct run *r, char *err, size_t errlen);
/* The checkpoint's bytes buf[0..len) into r (0 or a status; `path` names
 * them in messages); what enevo__load_checkpoint runs on the file. r needs
 * c, space, the hashes and an initialised archive; on failure r may hold
 * part of the state (the caller frees it as after a run). */
int enevo__load_checkpoint_mem(struct run *r, const char *path, const unsigned char *buf,
                               size_t len, char *err, size_t errlen);

/* ---- the run directory (rundir.c) ---- */

void enevo__indiv_free(struct indiv *x);
void enevo__path(const struct run *r, char *buf, size_t len, const char *name);
void enevo__model_path(const struct run *r, char *buf, size_t len, int gen, int idx);
/* The extracted models of a partitioned evaluation: part 0 (full), 1 (early exit). */
void enevo__part_path(const struct run *r, char *buf, size_t len, int gen, int idx, int part);
void enevo__remove_models(const struct run *r, int gen, int idx);
int enevo__write_text(const char *path, const char *text, char *err, size_t errlen);
/* Append to a file (fsynced) and return its new length (for the checkpoint). */
int enevo__append(const char *path, const char *text, long *len, char *err, size_t errlen);
int enevo__copy_file(const char *from, const char *to, char *err, size_t errlen);
/* Writes and deletes o. */
int enevo__write_json(const char *path, cJSON *o, char *err, size_t errlen);
void enevo__label(char *buf, size_t len, int gen, int idx);
cJSON *enevo__indiv_json(const struct indiv *x);
/* The stats.csv and timing.csv rows of one evaluation; note: why it is
 * invalid, or "" (stats.csv's last column). */
int enevo__record(struct run *r, const struct indiv *x, const char *note, double train_secs,
                  double total_secs, char *err, size_t errlen);
/* best/: x's model files, phenotype and metrics. */
int enevo__write_best(struct run *r, const struct indiv *x, char *err, size_t errlen);
void enevo__logf(struct run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

extern const char *const ENEVO__STATS_HEADER;
extern const char *const ENEVO__STATS_HEADER_V1;
extern const char *const ENEVO__TIMING_HEADER;
extern const char *const ENEVO__GENERATIONS_HEADER; /* NSGA-II's generations.csv */

/* ---- evaluation (evaluate.c) ---- */

/* Train and measure cand->x; an impossible or diverging network is marked
 * invalid (not an error). note gets a reason for the log. */
int enevo__evaluate(struct run *r, const struct enevo__cand *cand, double *train_secs, char *note,
                    size_t notelen);

/* ---- strategies (strategy_es.c, strategy_nsga2.c) ---- */

/* Generation 0's individual idx (the seed and its mutants, or random), or
 * a mutant of parent p (train_longer continues from p's model file). */
int enevo__make_initial(struct run *r, int idx, enevo_rng *rng, struct enevo__cand *cand);
int enevo__make_mutant(struct run *r, const struct indiv *p, enevo_rng *rng,
                       struct enevo__cand *cand);
/* The value of a metric (as the config names it) of m; NaN when it has none. */
double enevo__metric(struct run *r, const char *metric, const struct enevo_metrics *m);

#endif
