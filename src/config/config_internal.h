/* src/config/config_internal.h — what the files of src/config/ share:
 * enevo__config_parse for config_user.c, and the parser's context, table
 * types and helpers for config.c, config_evo.c and config_aug.c. */
#ifndef ENEVO_CONFIG_INTERNAL_H
#define ENEVO_CONFIG_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <yaml.h>

#include "enevo/config.h"

/* Config files are a few KiB; a bigger file is a mistake, not a config. */
#define ENEVO__CONFIG_MAX_BYTES (16L << 20)

/* enevo_config_parse, also recording in `origin` (may be NULL) every key the
 * text sets (ENEVO_FROM_FILE) and in *builtin (may be NULL) whether it says
 * `defaults: builtin`. */
int enevo__config_parse(const char *text, const char *source, struct enevo_config *c,
                        struct enevo_config_origin *origin, bool *builtin, FILE *warnings,
                        char *err, size_t errlen);

/* ---- the parser (config.c walks the tables; config_evo.c and config_aug.c
 * hold two sections' tables and handlers) ---------------------------------- */

#define PATH_LEN 192

struct ctx {
    yaml_document_t *doc;
    const char *src;
    FILE *warn;
    char *err;
    size_t errlen;
    struct enevo_config *c;
    yaml_node_t *root;
    /* What this file said, for the rules that need the whole document. */
    yaml_node_t *metric_node;    /* evolutionary.fitness_metric */
    yaml_node_t *function_node;  /* evolutionary.fitness_function */
    yaml_node_t *macro_node;     /* network.architecture.macro_structure */
    yaml_node_t *partition_node; /* energize.model_partition */
    yaml_node_t *test_node;      /* network.learning.augmentation.test */
    int test_resize;
    yaml_node_t *epochs_node;    /* network.learning.default_train_epochs */
    yaml_node_t *strategy_node;  /* evolutionary.strategy */
    yaml_node_t *hv_node;        /* evolutionary.hypervolume_reference */
    bool builtin_base;           /* defaults: builtin */
    struct enevo_config_origin *origin; /* NULL: not recorded */
};

enum kind {
    K_INT,    /* int in [lo, hi] */
    K_LONG,   /* long in [lo, hi] */
    K_U64,    /* uint64_t */
    K_NUM,    /* finite double in [lo, hi] */
    K_BOOL,
    K_STR,    /* non-empty string of < size bytes */
    K_MAP,    /* nested mapping, same base */
    K_FN,     /* custom handler */
    K_UNUSED, /* ENERGIZE key enevo ignores: warn (shape-checked by sub) */
    K_SKIP,   /* inside an ignored block: anything goes */
};

struct field;
/* A custom handler gets the value node, its key path and base + off. */
typedef int (*field_fn)(struct ctx *x, yaml_node_t *val, const char *path, void *dst);

struct field {
    const char *key;
    enum kind kind;
    size_t off;
    double lo, hi;
    size_t size;
    field_fn fn;
    const struct field *sub;
    size_t nsub;
    const char *why;
};

#define CFG(m) offsetof(struct enevo_config, m)
#define F_INT(k, o, a, b) {.key = (k), .kind = K_INT, .off = (o), .lo = (a), .hi = (b)}
#define F_LONG(k, o, a, b) {.key = (k), .kind = K_LONG, .off = (o), .lo = (a), .hi = (b)}
#define F_U64(k, o) {.key = (k), .kind = K_U64, .off = (o)}
#define F_NUM(k, o, a, b) {.key = (k), .kind = K_NUM, .off = (o), .lo = (a), .hi = (b)}
#define F_PROB(k, o) F_NUM(k, o, 0.0, 1.0)
#define F_BOOL(k, o) {.key = (k), .kind = K_BOOL, .off = (o)}
#define F_STR(k, o, n) {.key = (k), .kind = K_STR, .off = (o), .size = (n)}
#define F_MAP(k, t) {.key = (k), .kind = K_MAP, .sub = (t), .nsub = sizeof(t) / sizeof((t)[0])}
#define F_FN(k, o, f) {.key = (k), .kind = K_FN, .off = (o), .fn = (f)}
#define F_UNUSED(k, w) {.key = (k), .kind = K_UNUSED, .why = (w)}
#define F_UNUSED_MAP(k, t, w) \
    {.key = (k), .kind = K_UNUSED, .sub = (t), .nsub = sizeof(t) / sizeof((t)[0]), .why = (w)}
#define F_SKIP(k) {.key = (k), .kind = K_SKIP}
#define NFIELDS(t) (sizeof(t) / sizeof((t)[0]))

/* Messages (config.c). Each returns ENEVO_EFORMAT with "src:line:col: ..."
 * in x->err; unused warns on x->warn that a key is accepted but ignored. */
int enevo__cfg_fail(struct ctx *x, const yaml_node_t *n, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
int enevo__cfg_expected(struct ctx *x, const yaml_node_t *n, const char *path, const char *what);
void enevo__cfg_unused(struct ctx *x, const yaml_node_t *key, const char *path, const char *why);

/* Scalars (config.c): text is any scalar's value, plain a plain scalar's
 * (numbers and booleans must be plain); NULL otherwise. */
const char *enevo__cfg_text(const yaml_node_t *n);
const char *enevo__cfg_plain(const yaml_node_t *n);
bool enevo__cfg_is_null(const yaml_node_t *n);
bool enevo__cfg_to_ll(const char *s, long long *v);
int enevo__cfg_get_int(struct ctx *x, yaml_node_t *n, const char *path, long long lo, long long hi,
                       long long *v);
int enevo__cfg_get_num(struct ctx *x, yaml_node_t *n, const char *path, double lo, double hi,
                       double *v);
int enevo__cfg_get_bool(struct ctx *x, yaml_node_t *n, const char *path, bool *v);
int enevo__cfg_get_str(struct ctx *x, yaml_node_t *n, const char *path, char *dst, size_t size);

/* Mappings and lists (config.c). walk_map applies each key of `node` by the
 * table t (*seen, if not NULL, gets bit i for row i); require reports the
 * first row whose bit is in `required` but not in `seen`. */
int enevo__cfg_walk_map(struct ctx *x, yaml_node_t *node, const char *path, const struct field *t,
                        size_t nt, void *base, uint32_t *seen);
int enevo__cfg_require(struct ctx *x, yaml_node_t *node, const char *path, const struct field *t,
                       size_t nt, uint32_t required, uint32_t seen);
int enevo__cfg_check_list(struct ctx *x, yaml_node_t *val, const char *path, size_t lo,
                          size_t max, const char *limit_name);
yaml_node_t *enevo__cfg_item(struct ctx *x, yaml_node_t *seq, size_t i);
size_t enevo__cfg_n_items(yaml_node_t *seq);

/* The evolutionary section's table (config_evo.c); its size is stated so
 * that config.c's F_MAP row can count it. */
#define ENEVO__CFG_N_EVOLUTIONARY 18
extern const struct field enevo__cfg_evolutionary_fields[ENEVO__CFG_N_EVOLUTIONARY];

/* network.learning.augmentation.train and .test (config_aug.c): K_FN
 * handlers on the whole config. */
int enevo__cfg_aug_train(struct ctx *x, yaml_node_t *val, const char *path, void *dst);
int enevo__cfg_aug_test(struct ctx *x, yaml_node_t *val, const char *path, void *dst);

#endif
