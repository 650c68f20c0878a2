/* enevo/evo.h — the neuroevolution engine: genotypes of DSGE modules,
 * ENERGIZE's mutations, the (1+λ) evolution strategy, fitness, the run
 * directory with its crash-safe checkpoint.
 *
 *     struct enevo_config c; enevo_config_load(NULL, &c, stderr, err, sizeof err);
 *     struct enevo_grammar *g; enevo_grammar_parse(enevo_default_grammar_text(), "default", &g, ...);
 *     struct enevo_evo_data d = {&split.train, &split.validation, &split.fitness, &data.test};
 *     struct enevo_evo_opts o = {.run_dir = "runs/x", .log = stdout};
 *     struct enevo_evo_result r;
 *     enevo_evolve(&c, config_text, g, grammar_text, &d, &o, &r, err, sizeof err);
 *
 * If run_dir already holds a checkpoint, enevo_evolve resumes it (after
 * checking that the config and grammar are the ones it was started with).
 */
#ifndef ENEVO_EVO_H
#define ENEVO_EVO_H

#include "enevo/api.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "enevo/config.h"
#include "enevo/data.h"
#include "enevo/grammar.h"
#include "enevo/phenotype.h"
#include "enevo/rng.h"

/* ---- genotype ---- */

struct enevo_layer_gene {
    struct enevo_dsge *dsge; /* owned */
    int n_in;
    int in[ENEVO_MAX_INPUTS]; /* module-local ids; -1 = the module's input */
};

struct enevo_module {
    int type; /* index into config->modules */
    int n_layers, cap;
    struct enevo_layer_gene *layers; /* owned */
};

struct enevo_genotype {
    int n_modules, cap;
    struct enevo_module *modules;     /* owned */
    struct enevo_dsge *output;        /* the output rule */
    int n_macro;
    struct enevo_dsge *macro[ENEVO_MAX_MACRO];
};

/* The grammar symbols a config refers to, resolved once. */
struct enevo_evo_space {
    const struct enevo_config *cfg;
    const struct enevo_grammar *g;
    int module_sym[ENEVO_MAX_MODULES];
    int output_sym;
    int macro_sym[ENEVO_MAX_MACRO];
};

ENEVO_API int enevo_space_init(struct enevo_evo_space *s, const struct enevo_config *c,
                               const struct enevo_grammar *g, char *err, size_t errlen);

/* A random individual: each module type once, in config order, with a
 * layer count drawn from network_structure_init. */
ENEVO_API int enevo_genotype_random(const struct enevo_evo_space *s, enevo_rng *rng,
                                    struct enevo_genotype *out);
/* The genotype of a known phenotype (ENERGIZE's seed_model), its layers
 * assigned to the config's modules in order; tokens must be in the order the
 * grammar writes them (the canonical phenotype order). A macro rule the
 * phenotype lacks (model_partition) is drawn from rng (NULL: an error). */
ENEVO_API int enevo_genotype_encode(const struct enevo_evo_space *s, const char *phenotype,
                                    enevo_rng *rng, struct enevo_genotype *out, char *err,
                                    size_t errlen);
ENEVO_API int enevo_genotype_copy(const struct enevo_genotype *src, struct enevo_genotype *dst);
ENEVO_API void enevo_genotype_free(struct enevo_genotype *gt);
ENEVO_API int enevo_genotype_layer_count(const struct enevo_genotype *gt);
/* The phenotype text (one layer per line with global input ids, then the
 * output layer, then the macro rules). Repairs the DSGE genotypes (may draw
 * from rng). Caller frees. */
ENEVO_API int enevo_genotype_phenotype(const struct enevo_evo_space *s, struct enevo_genotype *gt,
                                       enevo_rng *rng, char **text);
/* Serialise / restore, for checkpoints. */
ENEVO_API int enevo_genotype_write(const struct enevo_genotype *gt, unsigned char **buf,
                                   size_t *len, size_t *cap);
ENEVO_API int enevo_genotype_read(const struct enevo_evo_space *s, const unsigned char *buf,
                                  size_t len, size_t *pos, struct enevo_genotype *out, char *err,
                                  size_t errlen);

/* ---- mutation ---- */

/* Which mutations were applied (bit per kind), for statistics. */
enum enevo_mutation {
    ENEVO_MUT_TRAIN_LONGER = 1 << 0,
    ENEVO_MUT_REUSE_MODULE = 1 << 1,
    ENEVO_MUT_REMOVE_MODULE = 1 << 2,
    ENEVO_MUT_ADD_LAYER = 1 << 3,
    ENEVO_MUT_REUSE_LAYER = 1 << 4,
    ENEVO_MUT_REMOVE_LAYER = 1 << 5,
    ENEVO_MUT_DSGE_LAYER = 1 << 6,
    ENEVO_MUT_ADD_CONNECTION = 1 << 7,
    ENEVO_MUT_REMOVE_CONNECTION = 1 << 8,
    ENEVO_MUT_MACRO_LAYER = 1 << 9,
};

/* A hook for reuse_module (the energy issue fills it): insert a module from
 * an archive into gt at a random position; return 1 if it did, 0 if not. */
typedef int (*enevo_reuse_module_fn)(void *ctx, const struct enevo_evo_space *s,
                                     struct enevo_genotype *gt, enevo_rng *rng);

/* Apply ENERGIZE's mutations in order (§2.3). Returns the applied set as a
 * bit mask (ENEVO_MUT_*). train_longer, when it fires, is the only one. */
ENEVO_API unsigned enevo_mutate(const struct enevo_evo_space *s, struct enevo_genotype *gt,
                                enevo_rng *rng, enevo_reuse_module_fn reuse, void *reuse_ctx);
/* "add_layer+dsge_layer" style text of a mutation mask (static buffer in *buf). */
ENEVO_API const char *enevo_mutation_names(unsigned mask, char *buf, size_t len);

/* ---- the module archive behind reuse_module ---- */

struct enevo_archive_entry {
    struct enevo_module mod;
    uint64_t hash;     /* of the module's phenotype text and connections */
    double energy_j;   /* per inference, measured in its real context */
    double power_w;
};

struct enevo_archive {
    int n_types, cap;  /* module types; entries kept per type */
    int n[ENEVO_MAX_MODULES];
    struct enevo_archive_entry *e[ENEVO_MAX_MODULES];
};

/* The state enevo_archive_reuse needs (pass as reuse_ctx to enevo_mutate). */
struct enevo_archive_ctx {
    const struct enevo_archive *archive;
    bool by_power;
    struct enevo_archive_entry last; /* the module reused last (mod left empty) */
};

ENEVO_API int enevo_archive_init(struct enevo_archive *a, int n_types, int cap);
ENEVO_API void enevo_archive_free(struct enevo_archive *a);
/* Store a copy of m unless a module with the same hash is there; returns 1
 * if stored, 0 if not, or a negative status. */
ENEVO_API int enevo_archive_add(struct enevo_archive *a, const struct enevo_evo_space *s,
                                const struct enevo_module *m, double energy_j, double power_w);
/* An entry of `type` drawn with probability proportional to 1/energy (or
 * 1/power); NULL if the type has none. */
ENEVO_API const struct enevo_archive_entry *
enevo_archive_draw(const struct enevo_archive *a, int type, bool by_power, enevo_rng *r);
/* The reuse_module hook (enevo_reuse_module_fn) over a struct enevo_archive_ctx. */
ENEVO_API int enevo_archive_reuse(void *ctx, const struct enevo_evo_space *s,
                                  struct enevo_genotype *gt, enevo_rng *r);
ENEVO_API uint64_t enevo_module_hash(const struct enevo_evo_space *s, const struct enevo_module *m);
ENEVO_API int enevo_archive_write(const struct enevo_archive *a, unsigned char **buf, size_t *len,
                                  size_t *cap);
ENEVO_API int enevo_archive_read(struct enevo_archive *a, const struct enevo_evo_space *s,
                                 const unsigned char *buf, size_t len, size_t *pos, char *err,
                                 size_t errlen);

/* ---- fitness ---- */

/* The metrics an evaluated individual has; NaN = not available. */
struct enevo_metrics {
    double accuracy;        /* fitness split */
    double loss;            /* fitness split */
    double val_accuracy, val_loss, train_loss;
    double test_accuracy;   /* NaN unless measured (reporting only) */
    double params, flops;
    /* energy per inference of the trained network (the measurement protocol
     * on the fitness split, or the model estimate) */
    double energy, power, latency; /* J per image, W, s per image */
    double energy_ci_low, energy_ci_high;
    /* With a model partition, model 0 (full) and model 1 (early exit);
     * accuracy is then their mean, as ENERGIZE's, and energy that of the
     * two-headed network. Without one, _0 equals the plain metric and _1 is
     * NaN. */
    double accuracy_0, accuracy_1, test_accuracy_1;
    double energy_0, energy_1, power_0, power_1, latency_0, latency_1;
    int epochs;             /* epochs trained in total */
    bool valid;             /* false: invalid network, never trained */
};

/* The fitness of m under the config: fitness_function terms (maximise adds
 * w*m, minimise adds w/m, each gated by its conditions) or the single
 * fitness_metric (maximised metrics as is, minimised ones negated). Invalid
 * individuals get ENEVO_WORST_FITNESS. Unknown metric: ENEVO_EINVAL. */
#define ENEVO_WORST_FITNESS (-1e30)
ENEVO_API int enevo_fitness(const struct enevo_config *c, const struct enevo_metrics *m,
                            double *out, char *err, size_t errlen);
/* Check every metric name the config uses, before a run starts. */
ENEVO_API int enevo_fitness_check(const struct enevo_config *c, char *err, size_t errlen);

/* ---- the run ---- */

struct enevo_evo_data {
    const struct enevo_dataset *train, *validation, *fitness, *test;
    float mean, std; /* the normalisation the images carry (stored in model files) */
};

struct enevo_meter;

struct enevo_evo_opts {
    struct enevo_meter *meter; /* measures every valid individual (NULL: no energy) */
    const char *run_dir;
    FILE *log;        /* progress lines (NULL = quiet) */
    int threads;
    int stop_after;   /* > 0: return ENEVO_OK after this many evaluations in this
                         call, as if killed (for the resume tests) */
};

struct enevo_evo_result {
    int generations;   /* completed */
    int evaluations;   /* in the whole run */
    double best_fitness, best_accuracy, best_test_accuracy;
    char *best_phenotype; /* owned by the caller (free) */
    double seconds;
    double overhead_seconds; /* everything but training and evaluation */
    bool finished;
};

ENEVO_API int enevo_evolve(const struct enevo_config *c, const char *config_text,
                           const struct enevo_grammar *g, const char *grammar_text,
                           const struct enevo_evo_data *d, const struct enevo_evo_opts *o,
                           struct enevo_evo_result *res, char *err, size_t errlen);

#endif
