/* enevo/config.h — run configuration (YAML, or JSON read as YAML).
 *
 *     struct enevo_config c;
 *     char err[ENEVO_ERR_LEN];
 *     if (enevo_config_load("run.yaml", &c, stderr, err, sizeof err)) ...   // NULL = built-in default
 *     // A user's file, read as ENERGIZE reads it, and where each value came from:
 *     struct enevo_config_origin *o = calloc(1, sizeof *o);
 *     if (enevo_config_load_user("my.yaml", &c, o, stderr, err, sizeof err)) ...
 *     char *annotated = enevo_config_format_origin(&c, o);   // caller frees both
 *
 * Sections and keys follow ENERGIZE's (../shared/reference/ENERGIZE.md §7):
 *
 *   evolutionary: generations, lambda, max_epochs, seed (ours),
 *     mutation: {add_connection, remove_connection, add_layer, reuse_layer,
 *                remove_layer, reuse_module, remove_module, dsge_layer,
 *                macro_layer, train_longer},
 *     fitness_metric: NAME | fitness_function: [{metric, objective
 *       (maximize|minimize), weight, conditions: [{metric, type
 *       (greater_than|less_than), value}]}]
 *     track_mutations (accepted, always on)
 *     strategy (ours: one_plus_lambda | nsga2), population (ours: NSGA-II's
 *       survivors; 0 = lambda), objectives (ours: [{metric, objective}], 1-4,
 *       required by nsga2), constraints (ours: [{metric, type, value}], as
 *       conditions), hypervolume_reference (ours: one number per objective,
 *       in its own units)
 *   network.architecture: reuse_layer, macro_structure: [names], output,
 *     modules: [{name, network_structure_init: [counts],
 *                network_structure: [min, max], levels_back}]
 *   network.learning: data_splits {evo_train, evo_validation, evo_test}
 *     (fractions of the training images), learning_type (supervised),
 *     default_train_time (seconds; opt-in, not reproducible),
 *     default_train_epochs (ours; the reproducible budget; 0 = no cap, only
 *     with a time budget), train_subset (ours), dataset (ours),
 *     split_sizes (ours: enevo | energize, see enevo_split_sizes),
 *     augmentation {train, test} {resize {size}, random_crop {size,
 *       padding}, random_horizontal_flip {p}, ... (enevo_aug_kind), in order}
 *   energize: model_partition, model_partition_n, measure_power {...},
 *     ensure_gpu_exclusivity, seed_model {phenotype, weights_path} (null,
 *     {} or an empty phenotype: no seed)
 *   threads, device, tf32 (ours), defaults (ours: builtin | energize, how
 *     enevo_config_parse_user reads the file), checkpoints_path,
 *     statistics_format
 *
 * Keys ENERGIZE defines that enevo does not use yet are accepted with a
 * warning naming them (written to `warnings`); keys neither tool knows are
 * errors naming the key and its place ("run.yaml:12:5: unknown key
 * 'lamda' in evolutionary"). Every value is type- and range-checked.
 */
#ifndef ENEVO_CONFIG_H
#define ENEVO_CONFIG_H

#include "enevo/api.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "enevo/data.h"
#include "enevo/error.h"

#define ENEVO_NAME_LEN 32
#define ENEVO_MAX_MODULES 8
#define ENEVO_MAX_TERMS 8
#define ENEVO_MAX_CONDS 4
#define ENEVO_MAX_MACRO 4
#ifndef ENEVO_MAX_OBJECTIVES
#define ENEVO_MAX_OBJECTIVES 4 /* as enevo/pareto.h */
#endif
#define ENEVO_MAX_CONSTRAINTS 4

/* evolutionary.strategy */
enum enevo_strategy {
    ENEVO_STRATEGY_ONE_PLUS_LAMBDA = 0, /* ENERGIZE's (1+λ)-ES on the scalar fitness */
    ENEVO_STRATEGY_NSGA2 = 1,           /* NSGA-II on evolutionary.objectives */
};

/* One objective of evolutionary.objectives: a metric (as fitness_metric
 * names them) and its direction. */
struct enevo_objective {
    char metric[ENEVO_NAME_LEN];
    bool maximize;
};

struct enevo_module_cfg {
    char name[ENEVO_NAME_LEN]; /* a non-terminal of the grammar */
    int n_init;
    int init[16];              /* network_structure_init: layer counts to pick from */
    int min, max;              /* network_structure */
    int levels_back;
};

struct enevo_fitness_cond {
    char metric[ENEVO_NAME_LEN];
    bool greater_than;         /* else less_than */
    double value;
};

struct enevo_fitness_term {
    char metric[ENEVO_NAME_LEN];
    bool maximize;
    double weight;
    int n_conds;
    struct enevo_fitness_cond conds[ENEVO_MAX_CONDS];
};

struct enevo_mutation_cfg {
    double add_connection, remove_connection, add_layer, reuse_layer, remove_layer,
        reuse_module, remove_module, dsge_layer, macro_layer, train_longer;
};

struct enevo_config {
    /* evolutionary */
    int generations;
    int lambda;
    long max_epochs;
    bool reevaluate_parent;    /* ours: retrain the parent each generation, keep a running mean */
    long max_params;           /* ours: larger networks are invalid (memory guard); 0 = none */
    double max_mflops;         /* ours: forward MFLOP per image above which a network is
                                  invalid (time guard); 0 = none */
    double max_memory_mb;      /* ours: a network whose training (or measurement) needs
                                  more memory than this (estimated from its plan, before
                                  anything is allocated) is invalid; 0 = auto: 3/4 of the
                                  machine's memory, or the GPU's free memory */
    uint64_t seed;
    struct enevo_mutation_cfg mutation;
    /* Multi-objective search (ours; README "Evolution strategies"). Keys
     * newer than config.used.yaml's format: written only when set. */
    int strategy;              /* enum enevo_strategy */
    int population;            /* NSGA-II's survivors (mu); 0 = lambda */
    int n_objectives;
    struct enevo_objective objectives[ENEVO_MAX_OBJECTIVES];
    int n_constraints;         /* an individual is feasible when all hold */
    struct enevo_fitness_cond constraints[ENEVO_MAX_CONSTRAINTS];
    int n_hv_ref;              /* 0 or n_objectives: hypervolume_reference, in the */
    double hv_ref[ENEVO_MAX_OBJECTIVES]; /* objectives' own units and directions */
    char fitness_metric[ENEVO_NAME_LEN]; /* used when n_terms == 0 */
    int n_terms;
    struct enevo_fitness_term terms[ENEVO_MAX_TERMS];
    /* network.architecture */
    double reuse_layer;        /* probability a new layer copies an earlier one at init */
    int n_macro;
    char macro[ENEVO_MAX_MACRO][ENEVO_NAME_LEN];
    char output[ENEVO_NAME_LEN];
    int n_modules;
    struct enevo_module_cfg modules[ENEVO_MAX_MODULES];
    /* network.learning */
    double split_train, split_val, split_fit;
    /* network.learning.split_sizes (ours): how the fractions become image
     * counts (enevo_split_sizes); ENEVO_SPLIT_ENEVO (0) unless the file
     * says `energize`. */
    int split_method;
    double default_train_time;  /* > 0: seconds budget (ENERGIZE), else epochs */
    int default_train_epochs;   /* 0 (only with a time budget): no cap but the
                                   phenotype's epochs */
    int train_subset;           /* 0 = whole train split */
    char dataset[256];
    int resize;                 /* 0 = native size */
    /* augmentation.train / .test in config order (enevo_augment in data.h);
     * test holds only deterministic transforms. */
    struct enevo_augment aug_train, aug_test;
    /* energize */
    bool model_partition;
    double partition_weight;    /* ours: w1 of L0 + w1 L1 unless the phenotype evolves it */
    /* energize.seed_model.phenotype: generation 0 is this network plus
     * lambda - 1 mutants of it ("" = lambda random individuals). */
    char seed_phenotype[8192];
    /* energy (ours) */
    char meter[16];             /* auto | nvml | rapl | model */
    int energy_batch;           /* measurement batch size, independent of training's */
    int energy_repetitions;     /* R windows (hardware meters) */
    double energy_window_s;     /* each window at least this long */
    double energy_idle_s;       /* idle baseline length */
    int nvml_device;
    int archive_size;           /* modules kept per module type for reuse_module */
    bool reuse_by_power;        /* draw reused modules by 1/power instead of 1/energy */
    double e_flop_pj, e_byte_pj, static_w, peak_gflops, bandwidth_gbs; /* model meter */
    /* top level */
    int threads;                /* 0 = all cores */
    /* What every network runs on: cpu, cuda, cuda:N or auto (see
     * enevo_device_resolve). Only the spelling is checked at load time: a
     * device this build or machine lacks is an error when the run starts. */
    char device[16];
    bool tf32;                  /* GPU convolutions may use TF32 (enevo_net_opts.tf32) */
};

/* Where each value of a config came from, for `enevo evolve --print-config`.
 * A key path is dotted as in messages ("evolutionary.lambda"); a path
 * covers everything under it ("network.architecture.modules"). */
enum enevo_config_from {
    ENEVO_FROM_DEFAULT = 0, /* configs/default.yaml, built in */
    ENEVO_FROM_FILE,        /* the config file */
    ENEVO_FROM_ENERGIZE,    /* left out of the file: ENERGIZE's meaning of "absent" */
    ENEVO_FROM_CLI,         /* a command-line option */
};
#define ENEVO_ORIGIN_MAX 256
struct enevo_config_origin {
    int n;
    bool full;              /* more keys than fit: the rest count as the file's */
    struct {
        char path[96];
        int from;           /* enum enevo_config_from */
    } keys[ENEVO_ORIGIN_MAX];
};

/* The built-in defaults (configs/default.yaml's values). */
ENEVO_API void enevo_config_defaults(struct enevo_config *c);
/* Parse YAML/JSON text over *c: every key the text leaves out keeps its
 * value in *c (an overlay). Right for complete texts (config.used.yaml) and
 * programs that build configs; a user's file goes through
 * enevo_config_parse_user. */
ENEVO_API int enevo_config_parse(const char *text, const char *source, struct enevo_config *c,
                                 FILE *warnings, char *err, size_t errlen);
/* Load a file over the built-in defaults (an overlay, as
 * enevo_config_parse); path NULL gives the built-in default config. */
ENEVO_API int enevo_config_load(const char *path, struct enevo_config *c, FILE *warnings, char *err,
                                size_t errlen);
/* A config file as ENERGIZE reads it (README "Config"): keys the file sets
 * are taken as they are; of those it leaves out, energize.seed_model is
 * absent (generation 0 is random networks of the grammar),
 * reevaluate_parent is false, max_mflops 0 (no cap) and, with a
 * default_train_time, default_train_epochs 0 (no epoch cap but the
 * phenotype's); every other key comes from the built-in default. A file
 * with the top-level key `defaults: builtin` is instead laid over the whole
 * built-in default, seed included. `origin` (may be NULL) gets where each
 * value came from. */
ENEVO_API int enevo_config_parse_user(const char *text, const char *source, struct enevo_config *c,
                                      struct enevo_config_origin *origin, FILE *warnings, char *err,
                                      size_t errlen);
ENEVO_API int enevo_config_load_user(const char *path, struct enevo_config *c,
                                     struct enevo_config_origin *origin, FILE *warnings, char *err,
                                     size_t errlen);
/* Records that `path` came from `from` (replacing an earlier record). */
ENEVO_API void enevo_config_origin_mark(struct enevo_config_origin *o, const char *path, int from);
/* Where `path` came from: its own record or its nearest recorded parent's;
 * ENEVO_FROM_DEFAULT when none. */
ENEVO_API int enevo_config_origin_of(const struct enevo_config_origin *o, const char *path);
/* enevo_config_format with a trailing comment on every value line naming
 * where it came from ("# file", "# built-in default", "# ENERGIZE (not in
 * the file)", "# command line"). Caller frees; NULL when out of memory. */
ENEVO_API char *enevo_config_format_origin(const struct enevo_config *c,
                                           const struct enevo_config_origin *o);

/* The effective configuration as canonical YAML (every key; parses back to
 * the same struct). Caller frees; NULL when out of memory. */
ENEVO_API char *enevo_config_format(const struct enevo_config *c);

/* The built-in default config and grammar texts (configs/default.yaml and
 * configs/default.grammar, compiled in). */
ENEVO_API const char *enevo_default_config_text(void);
ENEVO_API const char *enevo_default_grammar_text(void);

#endif
