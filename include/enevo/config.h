/* enevo/config.h — run configuration (YAML, or JSON read as YAML).
 *
 *     struct enevo_config c;
 *     char err[ENEVO_ERR_LEN];
 *     if (enevo_config_load("run.yaml", &c, stderr, err, sizeof err)) ...   // NULL = built-in default
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
 *   network.architecture: reuse_layer, macro_structure: [names], output,
 *     modules: [{name, network_structure_init: [counts],
 *                network_structure: [min, max], levels_back}]
 *   network.learning: data_splits {evo_train, evo_validation, evo_test}
 *     (fractions of the training images), learning_type (supervised),
 *     default_train_time (seconds; opt-in, not reproducible),
 *     default_train_epochs (ours; the reproducible budget),
 *     train_subset (ours), dataset (ours), augmentation {train, test}
 *     {resize {size}}
 *   energize: model_partition, model_partition_n, measure_power {...},
 *     ensure_gpu_exclusivity, seed_model {phenotype, weights_path}
 *   threads, device, tf32 (ours), checkpoints_path, statistics_format
 *
 * Keys ENERGIZE defines that enevo does not use yet are accepted with a
 * warning naming them (written to `warnings`); keys neither tool knows are
 * errors naming the key and its place ("run.yaml:12:5: unknown key
 * 'lamda' in evolutionary"). Every value is type- and range-checked.
 */
#ifndef ENEVO_CONFIG_H
#define ENEVO_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "enevo/error.h"

#define ENEVO_NAME_LEN 32
#define ENEVO_MAX_MODULES 8
#define ENEVO_MAX_TERMS 8
#define ENEVO_MAX_CONDS 4
#define ENEVO_MAX_MACRO 4

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
    uint64_t seed;
    struct enevo_mutation_cfg mutation;
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
    double default_train_time;  /* > 0: seconds budget (ENERGIZE), else epochs */
    int default_train_epochs;
    int train_subset;           /* 0 = whole train split */
    char dataset[256];
    int resize;                 /* 0 = native size */
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

/* The built-in defaults (configs/default.yaml's values). */
void enevo_config_defaults(struct enevo_config *c);
/* Parse YAML/JSON text over the defaults. */
int enevo_config_parse(const char *text, const char *source, struct enevo_config *c,
                       FILE *warnings, char *err, size_t errlen);
/* Load a file; path NULL gives the built-in default config. */
int enevo_config_load(const char *path, struct enevo_config *c, FILE *warnings, char *err,
                      size_t errlen);
/* The effective configuration as canonical YAML (every key; parses back to
 * the same struct). Caller frees; NULL when out of memory. */
char *enevo_config_format(const struct enevo_config *c);

/* The built-in default config and grammar texts (configs/default.yaml and
 * configs/default.grammar, compiled in). */
const char *enevo_default_config_text(void);
const char *enevo_default_grammar_text(void);

#endif
