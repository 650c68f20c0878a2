/* src/config/config.c — run configuration from YAML, or JSON read as YAML.
 *
 * libyaml's document API loads the whole file into a node tree (JSON is YAML
 * flow style, so the same loader reads ENERGIZE's .json configs), and the
 * tree is walked with tables of known keys, one table per mapping. A table
 * row says what a key holds and where it goes, so every key is type- and
 * range-checked in one place and an unknown key is found wherever it is.
 *
 * The file is applied to a copy of the caller's struct, committed only when
 * the whole file is valid: a failed parse leaves *c as it was.
 *
 * This file: the shared helpers and the tables of every section but two,
 * which have files of their own: evolutionary (config_evo.c: fitness,
 * objectives, constraints, mutation) and network.learning.augmentation
 * (config_aug.c: the transform lists). The parser context and the table
 * types are in config_internal.h.
 */
#include "enevo/config.h"
#include "enevo/io.h"
#include "config/config_internal.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

/* Config files are a few KiB; a bigger file is a mistake, not a config. */
#define MAX_FILE_BYTES (16L << 20)

/* ---- messages ------------------------------------------------------------ */

int enevo__cfg_fail(struct ctx *x, const yaml_node_t *n, const char *fmt, ...)
{
    if (!x->err || !x->errlen)
        return ENEVO_EFORMAT;
    int k = snprintf(x->err, x->errlen, "%s:%lu:%lu: ", x->src,
                     (unsigned long)n->start_mark.line + 1, (unsigned long)n->start_mark.column + 1);
    if (k >= 0 && (size_t)k < x->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(x->err + k, x->errlen - (size_t)k, fmt, ap);
        va_end(ap);
    }
    return ENEVO_EFORMAT;
}

void enevo__cfg_unused(struct ctx *x, const yaml_node_t *key, const char *path, const char *why)
{
    if (x->warn)
        fprintf(x->warn, "enevo: warning: %s:%lu: %s is accepted but not used by enevo (%s)\n",
                x->src, (unsigned long)key->start_mark.line + 1, path, why);
}

/* "'four'", "a list", ... for "expected X, got Y". */
static const char *got(const yaml_node_t *n, char *buf, size_t len)
{
    switch (n->type) {
    case YAML_SCALAR_NODE: {
        /* Never NULL for a scalar; said so that gcc's inliner agrees. */
        const char *v = n->data.scalar.value ? (const char *)n->data.scalar.value : "";
        if (n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE)
            snprintf(buf, len, "'%.40s'%s", v, n->data.scalar.length > 40 ? "..." : "");
        else
            snprintf(buf, len, "the string '%.40s'%s", v, n->data.scalar.length > 40 ? "..." : "");
        return buf;
    }
    case YAML_SEQUENCE_NODE:
        return "a list";
    case YAML_MAPPING_NODE:
        return "a mapping";
    default:
        return "nothing";
    }
}

int enevo__cfg_expected(struct ctx *x, const yaml_node_t *n, const char *path, const char *what)
{
    char g[64];
    return enevo__cfg_fail(x, n, "%s: expected %s, got %s", path, what, got(n, g, sizeof g));
}

static void join(char *out, const char *path, const char *key)
{
    if (path[0])
        snprintf(out, PATH_LEN, "%s.%s", path, key);
    else
        snprintf(out, PATH_LEN, "%s", key);
}

/* ---- scalars --------------------------------------------------------------- */

const char *enevo__cfg_text(const yaml_node_t *n)
{
    return n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

/* Numbers and booleans must be plain scalars: "4" in quotes is a string,
 * as ENERGIZE's JSON schema sees it. */
const char *enevo__cfg_plain(const yaml_node_t *n)
{
    if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return NULL;
    return (const char *)n->data.scalar.value;
}

bool enevo__cfg_is_null(const yaml_node_t *n)
{
    const char *s = enevo__cfg_plain(n);
    return s && (!s[0] || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") ||
                 !strcmp(s, "NULL"));
}

bool enevo__cfg_to_ll(const char *s, long long *v)
{
    if (!s || !*s || *s == ' ')
        return false;
    char *end;
    errno = 0;
    *v = strtoll(s, &end, 10);
    return !errno && !*end;
}

static bool to_double(const char *s, double *v)
{
    if (!s || !*s || *s == ' ')
        return false;
    char *end;
    errno = 0;
    *v = strtod(s, &end);
    /* ERANGE on underflow still gives a usable (tiny) value; overflow does not. */
    return !*end && isfinite(*v);
}

static void range_text(char *buf, size_t len, const char *what, double lo, double hi)
{
    if (isinf(hi) && isinf(lo))
        snprintf(buf, len, "%s", what);
    else if (isinf(hi))
        snprintf(buf, len, "%s >= %.17g", what, lo);
    else
        snprintf(buf, len, "%s in [%.17g, %.17g]", what, lo, hi);
}

int enevo__cfg_get_int(struct ctx *x, yaml_node_t *n, const char *path, long long lo, long long hi,
                       long long *v)
{
    char what[96];
    /* The type's own maximum is no real bound; don't print it. */
    if (hi == INT_MAX || hi == LONG_MAX || hi == LLONG_MAX)
        snprintf(what, sizeof what, "an integer >= %lld", lo);
    else if (lo == hi)
        snprintf(what, sizeof what, "the integer %lld", lo);
    else
        snprintf(what, sizeof what, "an integer in [%lld, %lld]", lo, hi);
    if (!enevo__cfg_to_ll(enevo__cfg_plain(n), v) || *v < lo || *v > hi)
        return enevo__cfg_expected(x, n, path, what);
    return 0;
}

int enevo__cfg_get_num(struct ctx *x, yaml_node_t *n, const char *path, double lo, double hi,
                       double *v)
{
    char what[96];
    range_text(what, sizeof what, "a finite number", lo, hi);
    if (!to_double(enevo__cfg_plain(n), v) || *v < lo || *v > hi)
        return enevo__cfg_expected(x, n, path, what);
    return 0;
}

int enevo__cfg_get_bool(struct ctx *x, yaml_node_t *n, const char *path, bool *v)
{
    /* YAML 1.1's spellings, which is what ENERGIZE's PyYAML accepts. */
    static const char *const yes[] = {"true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON"};
    static const char *const no[] = {"false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF"};
    const char *s = enevo__cfg_plain(n);
    for (size_t i = 0; s && i < NFIELDS(yes); i++) {
        if (!strcmp(s, yes[i]))
            return *v = true, 0;
        if (!strcmp(s, no[i]))
            return *v = false, 0;
    }
    return enevo__cfg_expected(x, n, path, "true or false");
}

/* Copies a string into a fixed buffer, zero-filling the rest so configs
 * built along different paths compare equal byte for byte. */
int enevo__cfg_get_str(struct ctx *x, yaml_node_t *n, const char *path, char *dst, size_t size)
{
    const char *s = enevo__cfg_text(n);
    if (!s || !s[0] || enevo__cfg_is_null(n))
        return enevo__cfg_expected(x, n, path, "a non-empty string");
    size_t len = n->data.scalar.length;
    if (len >= size || strlen(s) != len)
        return enevo__cfg_fail(x, n, "%s: '%.40s...' is too long (at most %zu characters)", path, s,
                               size - 1);
    memset(dst, 0, size);
    memcpy(dst, s, len);
    return 0;
}

/* ---- mappings -------------------------------------------------------------- */

static int apply(struct ctx *x, const struct field *f, yaml_node_t *key, yaml_node_t *val,
                 const char *path, void *base);

/* Applies each key of `node` by the table; *seen gets bit i for row i. */
int enevo__cfg_walk_map(struct ctx *x, yaml_node_t *node, const char *path, const struct field *t,
                        size_t nt, void *base, uint32_t *seen)
{
    if (seen)
        *seen = 0;
    if (node->type != YAML_MAPPING_NODE)
        return enevo__cfg_expected(x, node, path[0] ? path : "the config", "a mapping");
    for (yaml_node_pair_t *p = node->data.mapping.pairs.start; p < node->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = yaml_document_get_node(x->doc, p->key);
        yaml_node_t *v = yaml_document_get_node(x->doc, p->value);
        const char *name = enevo__cfg_text(k);
        if (!name)
            return enevo__cfg_fail(x, k, "%s: keys must be strings",
                                   path[0] ? path : "the top level");
        for (yaml_node_pair_t *q = node->data.mapping.pairs.start; q < p; q++) {
            const char *prev = enevo__cfg_text(yaml_document_get_node(x->doc, q->key));
            if (prev && !strcmp(prev, name))
                return enevo__cfg_fail(x, k, "duplicate key '%s' in %s", name,
                                       path[0] ? path : "the top level");
        }
        size_t i = 0;
        while (i < nt && strcmp(t[i].key, name))
            i++;
        if (i == nt) {
            if (path[0])
                return enevo__cfg_fail(x, k, "unknown key '%s' in %s", name, path);
            return enevo__cfg_fail(x, k, "unknown key '%s' at the top level", name);
        }
        if (seen)
            *seen |= UINT32_C(1) << i;
        int rc = apply(x, &t[i], k, v, path, base);
        if (rc)
            return rc;
    }
    return 0;
}

static int apply(struct ctx *x, const struct field *f, yaml_node_t *key, yaml_node_t *val,
                 const char *parent, void *base)
{
    char path[PATH_LEN];
    join(path, parent, f->key);
    void *dst = base ? (char *)base + f->off : NULL;
    long long ll = 0;
    int rc;
    /* A section records nothing itself: its keys do. */
    if (x->origin && f->kind != K_UNUSED && f->kind != K_SKIP && f->kind != K_MAP)
        enevo_config_origin_mark(x->origin, path, ENEVO_FROM_FILE);
    switch (f->kind) {
    case K_INT:
        rc = enevo__cfg_get_int(x, val, path, (long long)f->lo,
                                isinf(f->hi) ? INT_MAX : (long long)f->hi, &ll);
        if (!rc)
            *(int *)dst = (int)ll;
        return rc;
    case K_LONG:
        rc = enevo__cfg_get_int(x, val, path, (long long)f->lo,
                                isinf(f->hi) ? LONG_MAX : (long long)f->hi, &ll);
        if (!rc)
            *(long *)dst = (long)ll;
        return rc;
    case K_U64: {
        const char *s = enevo__cfg_plain(val);
        char *end;
        errno = 0;
        unsigned long long u = s && *s && *s != '-' && *s != ' ' ? strtoull(s, &end, 10) : 0;
        if (!s || !*s || *s == '-' || *s == ' ' || errno || *end)
            return enevo__cfg_expected(x, val, path, "an integer in [0, 2^64 - 1]");
        *(uint64_t *)dst = (uint64_t)u;
        return 0;
    }
    case K_NUM:
        return enevo__cfg_get_num(x, val, path, f->lo, f->hi, (double *)dst);
    case K_BOOL:
        return enevo__cfg_get_bool(x, val, path, (bool *)dst);
    case K_STR:
        return enevo__cfg_get_str(x, val, path, (char *)dst, f->size);
    case K_MAP:
        return enevo__cfg_walk_map(x, val, path, f->sub, f->nsub, base, NULL);
    case K_FN:
        return f->fn(x, val, path, dst);
    case K_UNUSED:
        if (f->sub && !enevo__cfg_is_null(val) &&
            (rc = enevo__cfg_walk_map(x, val, path, f->sub, f->nsub, NULL, NULL)))
            return rc;
        enevo__cfg_unused(x, key, path, f->why);
        return 0;
    case K_SKIP:
        return 0;
    }
    return ENEVO_EINVAL;
}

/* ---- lists ----------------------------------------------------------------- */

int enevo__cfg_check_list(struct ctx *x, yaml_node_t *val, const char *path, size_t lo, size_t max,
                          const char *limit_name)
{
    if (val->type != YAML_SEQUENCE_NODE)
        return enevo__cfg_expected(x, val, path, "a list");
    size_t n = (size_t)(val->data.sequence.items.top - val->data.sequence.items.start);
    if (n < lo)
        return enevo__cfg_fail(x, val, "%s: expected at least %zu item%s, got %zu", path, lo,
                               lo == 1 ? "" : "s", n);
    if (n > max)
        return enevo__cfg_fail(x, val, "%s: at most %zu items (%s), got %zu", path, max, limit_name,
                               n);
    return 0;
}

yaml_node_t *enevo__cfg_item(struct ctx *x, yaml_node_t *seq, size_t i)
{
    return yaml_document_get_node(x->doc, seq->data.sequence.items.start[i]);
}

size_t enevo__cfg_n_items(yaml_node_t *seq)
{
    return (size_t)(seq->data.sequence.items.top - seq->data.sequence.items.start);
}

/* Reports the first row of `t` whose bit is in `required` but not in `seen`. */
int enevo__cfg_require(struct ctx *x, yaml_node_t *node, const char *path, const struct field *t,
                       size_t nt, uint32_t required, uint32_t seen)
{
    for (size_t i = 0; i < nt; i++)
        if ((required >> i & 1) && !(seen >> i & 1))
            return enevo__cfg_fail(x, node, "%s: missing key '%s'", path, t[i].key);
    return 0;
}

/* ---- network.architecture ------------------------------------------------------ */

static int fn_macro(struct ctx *x, yaml_node_t *val, const char *path, void *dst)
{
    struct enevo_config *c = dst;
    int rc = enevo__cfg_check_list(x, val, path, 1, ENEVO_MAX_MACRO, "ENEVO_MAX_MACRO");
    if (rc)
        return rc;
    x->macro_node = val;
    memset(c->macro, 0, sizeof c->macro);
    c->n_macro = (int)enevo__cfg_n_items(val);
    for (size_t i = 0; i < enevo__cfg_n_items(val); i++) {
        char p[PATH_LEN];
        snprintf(p, sizeof p, "%s[%zu]", path, i);
        yaml_node_t *it = enevo__cfg_item(x, val, i);
        if ((rc = enevo__cfg_get_str(x, it, p, c->macro[i], ENEVO_NAME_LEN)))
            return rc;
        for (size_t j = 0; j < i; j++)
            if (!strcmp(c->macro[j], c->macro[i]))
                return enevo__cfg_fail(x, it, "%s: '%s' is listed twice", path, c->macro[i]);
    }
    return 0;
}

static int fn_structure_init(struct ctx *x, yaml_node_t *val, const char *path, void *dst)
{
    struct enevo_module_cfg *m = dst;
    const size_t max = sizeof m->init / sizeof m->init[0];
    int rc = enevo__cfg_check_list(x, val, path, 1, max, "16, the size of enevo_module_cfg.init");
    if (rc)
        return rc;
    memset(m->init, 0, sizeof m->init);
    m->n_init = (int)enevo__cfg_n_items(val);
    for (size_t i = 0; i < enevo__cfg_n_items(val); i++) {
        char p[PATH_LEN];
        long long v = 0;
        snprintf(p, sizeof p, "%s[%zu]", path, i);
        if ((rc = enevo__cfg_get_int(x, enevo__cfg_item(x, val, i), p, 0, INT_MAX, &v)))
            return rc;
        m->init[i] = (int)v;
    }
    return 0;
}

static int fn_structure(struct ctx *x, yaml_node_t *val, const char *path, void *dst)
{
    struct enevo_module_cfg *m = dst;
    if (val->type != YAML_SEQUENCE_NODE || enevo__cfg_n_items(val) != 2)
        return enevo__cfg_expected(x, val, path, "a list [min, max]");
    long long lo = 0, hi = 0;
    char p[PATH_LEN];
    int rc;
    snprintf(p, sizeof p, "%s[0]", path);
    if ((rc = enevo__cfg_get_int(x, enevo__cfg_item(x, val, 0), p, 0, INT_MAX, &lo)))
        return rc;
    snprintf(p, sizeof p, "%s[1]", path);
    if ((rc = enevo__cfg_get_int(x, enevo__cfg_item(x, val, 1), p, lo, INT_MAX, &hi)))
        return rc;
    m->min = (int)lo;
    m->max = (int)hi;
    return 0;
}

static const struct field module_fields[] = {
    F_STR("name", offsetof(struct enevo_module_cfg, name), ENEVO_NAME_LEN),
    F_FN("network_structure_init", 0, fn_structure_init),
    F_FN("network_structure", 0, fn_structure),
    F_INT("levels_back", offsetof(struct enevo_module_cfg, levels_back), 1, INFINITY),
};

static int fn_modules(struct ctx *x, yaml_node_t *val, const char *path, void *dst)
{
    struct enevo_config *c = dst;
    int rc = enevo__cfg_check_list(x, val, path, 1, ENEVO_MAX_MODULES, "ENEVO_MAX_MODULES");
    if (rc)
        return rc;
    memset(c->modules, 0, sizeof c->modules);
    c->n_modules = (int)enevo__cfg_n_items(val);
    for (size_t i = 0; i < enevo__cfg_n_items(val); i++) {
        char p[PATH_LEN];
        snprintf(p, sizeof p, "%s[%zu]", path, i);
        struct enevo_module_cfg *m = &c->modules[i];
        yaml_node_t *it = enevo__cfg_item(x, val, i);
        uint32_t seen;
        /* A module list replaces the defaults' whole, so a module cannot
         * inherit its shape; levels_back alone has an obvious default. */
        m->levels_back = 1;
        if ((rc = enevo__cfg_walk_map(x, it, p, module_fields, NFIELDS(module_fields), m, &seen)) ||
            (rc = enevo__cfg_require(x, it, p, module_fields, NFIELDS(module_fields), 7, seen)))
            return rc;
        for (int j = 0; j < m->n_init; j++)
            if (m->init[j] < m->min || m->init[j] > m->max)
                return enevo__cfg_fail(
                    x, it,
                    "%s: network_structure_init count %d is outside network_structure "
                    "[%d, %d]",
                    p, m->init[j], m->min, m->max);
        for (size_t j = 0; j < i; j++)
            if (!strcmp(c->modules[j].name, m->name))
                return enevo__cfg_fail(x, it, "%s: module '%s' is listed twice", p, m->name);
    }
    return 0;
}

static const struct field architecture_fields[] = {
    F_PROB("reuse_layer", CFG(reuse_layer)),
    F_FN("macro_structure", 0, fn_macro),
    F_STR("output", CFG(output), ENEVO_NAME_LEN),
    F_FN("modules", 0, fn_modules),
};

/* ---- network.learning ------------------------------------------------------------- */

static const struct field split_fields[] = {
    F_PROB("evo_train", CFG(split_train)),
    F_PROB("evo_validation", CFG(split_val)),
    F_PROB("evo_test", CFG(split_fit)),
};

static int fn_splits(struct ctx *x, yaml_node_t *val, const char *path, void *dst)
{
    struct enevo_config *c = dst;
    int rc = enevo__cfg_walk_map(x, val, path, split_fields, NFIELDS(split_fields), c, NULL);
    if (rc)
        return rc;
    /* The slack lets 0.7 + 0.2 + 0.1 (1.0000000000000002 in doubles) pass. */
    if (c->split_train + c->split_val + c->split_fit > 1.0 + 1e-9)
        return enevo__cfg_fail(x, val,
                               "%s: evo_train + evo_validation + evo_test is %.17g, more than 1",
                               path, c->split_train + c->split_val + c->split_fit);
    if (!(c->split_train > 0.0))
        return enevo__cfg_fail(x, val, "%s: evo_train must be > 0", path);
    return 0;
}

static int fn_learning_type(struct ctx *x, yaml_node_t *val, const char *path, void *dst)
{
    (void)dst;
    const char *s = enevo__cfg_text(val);
    if (!s || strcmp(s, "supervised"))
        return enevo__cfg_expected(x, val, path, "supervised (the only learning type enevo has)");
    return 0;
}

/* 0 (no cap but the phenotype's epochs) is checked against the time
 * budget in finish(), once the whole file is read. */
static int fn_train_epochs(struct ctx *x, yaml_node_t *val, const char *path, void *dst)
{
    long long v = 0;
    int rc = enevo__cfg_get_int(x, val, path, 0, INT_MAX, &v);
    if (!rc) {
        *(int *)dst = (int)v;
        x->epochs_node = val;
    }
    return rc;
}

/* enevo_split_sizes's methods (include/enevo/data.h): 0 enevo, 1 energize. */
static int fn_split_method(struct ctx *x, yaml_node_t *val, const char *path, void *dst)
{
    const char *s = enevo__cfg_plain(val);
    if (s && !strcmp(s, "enevo"))
        return *(int *)dst = 0, 0;
    if (s && !strcmp(s, "energize"))
        return *(int *)dst = 1, 0;
    return enevo__cfg_expected(
        x, val, path,
        "enevo (42,000 / 12,000 / 6,000 of 60,000) or energize (ENERGIZE's code: "
        "32,666 / 9,334 / 6,000)");
}

static const struct field augmentation_fields[] = {
    F_FN("train", 0, enevo__cfg_aug_train),
    F_FN("test", 0, enevo__cfg_aug_test),
};

static const struct field learning_fields[] = {
    F_FN("data_splits", 0, fn_splits),
    F_FN("learning_type", 0, fn_learning_type),
    F_NUM("default_train_time", CFG(default_train_time), 0.0, INFINITY),
    F_FN("default_train_epochs", CFG(default_train_epochs), fn_train_epochs),
    F_FN("split_sizes", CFG(split_method), fn_split_method),
    F_INT("train_subset", CFG(train_subset), 0, INFINITY),
    F_STR("dataset", CFG(dataset), sizeof(((struct enevo_config *)0)->dataset)),
    F_MAP("augmentation", augmentation_fields),
};

static const struct field network_fields[] = {
    F_MAP("architecture", architecture_fields),
    F_MAP("learning", learning_fields),
};

/* ---- energize and the top level ------------------------------------------------------ */

static int fn_partition(struct ctx *x, yaml_node_t *val, const char *path, void *dst)
{
    x->partition_node = val;
    return enevo__cfg_get_bool(x, val, path, (bool *)dst);
}

static int fn_partition_n(struct ctx *x, yaml_node_t *val, const char *path, void *dst)
{
    (void)dst;
    long long v = 0;
    /* ENERGIZE's schema allows more, but only 2 was ever run (ENERGIZE.md §3),
     * and enevo builds exactly one extra head. */
    return enevo__cfg_get_int(x, val, path, 2, 2, &v);
}

static const struct field measure_power_fields[] = {
    F_SKIP("train"),
    F_SKIP("test"),
    F_SKIP("num_measurements_test"),
    F_SKIP("modules"),
};

/* An empty or null phenotype is no seed, as an absent one is. */
static int fn_seed_phenotype(struct ctx *x, yaml_node_t *val, const char *path, void *dst)
{
    const char *s = enevo__cfg_text(val);
    if (s && (enevo__cfg_is_null(val) || !s[0]))
        return memset(dst, 0, sizeof(((struct enevo_config *)0)->seed_phenotype)), 0;
    return enevo__cfg_get_str(x, val, path, (char *)dst,
                              sizeof(((struct enevo_config *)0)->seed_phenotype));
}

static const struct field seed_model_fields[] = {
    F_FN("phenotype", 0, fn_seed_phenotype),
    F_UNUSED("weights_path", "the seed is trained from scratch like every individual"),
};

/* seed_model: null, {} or {phenotype: ""} all mean no seed (generation 0
 * is random networks of the grammar), as leaving the block out does. */
static int fn_seed_model(struct ctx *x, yaml_node_t *val, const char *path, void *dst)
{
    memset(dst, 0, sizeof(((struct enevo_config *)0)->seed_phenotype));
    if (enevo__cfg_is_null(val))
        return 0;
    return enevo__cfg_walk_map(x, val, path, seed_model_fields, NFIELDS(seed_model_fields), dst,
                               NULL);
}

static const struct field energize_fields[] = {
    F_FN("model_partition", CFG(model_partition), fn_partition),
    F_FN("model_partition_n", 0, fn_partition_n),
    F_NUM("partition_weight", CFG(partition_weight), 0, 1000),
    F_UNUSED_MAP("measure_power", measure_power_fields,
                 "enevo takes no power-measurement settings from the config"),
    F_UNUSED("ensure_gpu_exclusivity", "enevo does not change the GPU's compute mode"),
    F_FN("seed_model", CFG(seed_phenotype), fn_seed_model),
};

static int fn_meter(struct ctx *x, yaml_node_t *val, const char *path, void *dst)
{
    static const char *const names[] = {"auto", "nvml", "rapl", "model"};
    int rc =
        enevo__cfg_get_str(x, val, path, (char *)dst, sizeof(((struct enevo_config *)0)->meter));
    if (rc)
        return rc;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strcmp((char *)dst, names[i]))
            return 0;
    return enevo__cfg_fail(x, val, "%s: expected auto, nvml, rapl or model, got '%s'", path,
                           (char *)dst);
}

static int fn_reuse_selection(struct ctx *x, yaml_node_t *val, const char *path, void *dst)
{
    char s[16];
    int rc = enevo__cfg_get_str(x, val, path, s, sizeof s);
    if (rc)
        return rc;
    if (strcmp(s, "energy") && strcmp(s, "power"))
        return enevo__cfg_fail(x, val, "%s: expected energy or power, got '%s'", path, s);
    *(bool *)dst = !strcmp(s, "power");
    return 0;
}

static const struct field model_fields[] = {
    F_NUM("e_flop_pj", CFG(e_flop_pj), 0, INFINITY),
    F_NUM("e_byte_pj", CFG(e_byte_pj), 0, INFINITY),
    F_NUM("static_w", CFG(static_w), 0, INFINITY),
    F_NUM("peak_gflops", CFG(peak_gflops), 1e-3, INFINITY),
    F_NUM("bandwidth_gbs", CFG(bandwidth_gbs), 1e-3, INFINITY),
};

static const struct field energy_fields[] = {
    F_FN("meter", CFG(meter), fn_meter),
    F_INT("batch_size", CFG(energy_batch), 1, 65536),
    F_INT("repetitions", CFG(energy_repetitions), 1, 1000),
    F_NUM("window_seconds", CFG(energy_window_s), 0.001, 3600),
    F_NUM("idle_seconds", CFG(energy_idle_s), 0, 3600),
    F_INT("nvml_device", CFG(nvml_device), 0, 64),
    F_INT("archive_size", CFG(archive_size), 1, 100000),
    F_FN("reuse_selection", CFG(reuse_by_power), fn_reuse_selection),
    F_MAP("model", model_fields),
};

/* The spelling enevo_device_resolve accepts: cpu, auto, cuda, cuda:N. Only
 * the spelling: whether this build has CUDA and the machine a GPU is for the
 * run to find out (resolving here would start the GPU driver on a load). */
static int fn_device(struct ctx *x, yaml_node_t *val, const char *path, void *dst)
{
    char s[sizeof(((struct enevo_config *)0)->device)];
    int rc = enevo__cfg_get_str(x, val, path, s, sizeof s);
    if (rc)
        return rc;
    bool ok = !strcmp(s, "cpu") || !strcmp(s, "auto") || !strcmp(s, "cuda");
    if (!ok && !strncmp(s, "cuda:", 5) && s[5] >= '0' && s[5] <= '9') {
        char *end;
        errno = 0;
        long i = strtol(s + 5, &end, 10);
        ok = !errno && !*end && i <= 1023;
    }
    if (!ok)
        return enevo__cfg_fail(
            x, val, "%s: unknown device '%s': expected cpu, cuda, cuda:N or auto", path, s);
    memcpy(dst, s, sizeof s);
    return 0;
}

/* defaults: builtin lays the file over the whole built-in default (its
 * seed network included); energize (what a file gets without the key)
 * reads it as ENERGIZE does. See enevo_config_parse_user. */
static int fn_defaults(struct ctx *x, yaml_node_t *val, const char *path, void *dst)
{
    (void)dst;
    const char *s = enevo__cfg_plain(val);
    if (s && !strcmp(s, "builtin"))
        return x->builtin_base = true, 0;
    if (s && !strcmp(s, "energize"))
        return x->builtin_base = false, 0;
    return enevo__cfg_expected(x, val, path, "builtin or energize");
}

static const struct field top_fields[] = {
    F_FN("defaults", 0, fn_defaults),
    F_MAP("energy", energy_fields),
    F_UNUSED("checkpoints_path", "enevo's output directory is set on its command line"),
    F_UNUSED("statistics_format", "enevo writes its statistics in its own format"),
    F_MAP("energize", energize_fields),
    F_MAP("evolutionary", enevo__cfg_evolutionary_fields),
    F_MAP("network", network_fields),
    F_INT("threads", CFG(threads), 0, INFINITY),
    F_FN("device", CFG(device), fn_device),
    F_BOOL("tf32", CFG(tf32)),
};

/* The rules that need the whole document. */
static int finish(struct ctx *x)
{
    struct enevo_config *c = x->c;
    if (x->metric_node && x->function_node)
        enevo__cfg_unused(x, x->metric_node, "evolutionary.fitness_metric",
                          "fitness_function takes precedence");
    if (x->function_node) {
        /* One fitness at a time: the struct says which by n_terms, and
         * fitness_metric stays empty beside terms (so configs compare). */
        memset(c->fitness_metric, 0, sizeof c->fitness_metric);
    } else if (x->metric_node) {
        c->n_terms = 0;
        memset(c->terms, 0, sizeof c->terms);
    }

    int has = 0;
    for (int i = 0; i < c->n_macro; i++)
        has |= !strcmp(c->macro[i], "model_partition");
    if (has && !c->model_partition) {
        yaml_node_t *at = x->macro_node ? x->macro_node
                          : x->partition_node ? x->partition_node
                                              : x->root;
        return enevo__cfg_fail(x, at,
                               "network.architecture.macro_structure contains model_partition but "
                               "energize.model_partition is false");
    }
    if (!has && c->model_partition) {
        /* ENERGIZE appends it for the user; so does enevo. */
        if (c->n_macro >= ENEVO_MAX_MACRO)
            return enevo__cfg_fail(
                x, x->partition_node ? x->partition_node : x->root,
                "network.architecture.macro_structure: no room to add model_partition "
                "(at most %d items, ENEVO_MAX_MACRO)",
                ENEVO_MAX_MACRO);
        memset(c->macro[c->n_macro], 0, ENEVO_NAME_LEN);
        memcpy(c->macro[c->n_macro], "model_partition", sizeof "model_partition");
        c->n_macro++;
    }

    if (c->default_train_epochs == 0 && !(c->default_train_time > 0))
        return enevo__cfg_fail(x, x->epochs_node ? x->epochs_node : x->root,
                               "network.learning.default_train_epochs: 0 (no epoch cap) needs a "
                               "default_train_time > 0; expected an integer >= 1");
    if (c->strategy == ENEVO_STRATEGY_NSGA2 && c->n_objectives == 0)
        return enevo__cfg_fail(x, x->strategy_node ? x->strategy_node : x->root,
                               "evolutionary.strategy: nsga2 needs evolutionary.objectives, e.g. "
                               "[{metric: accuracy, objective: maximize}, {metric: log2_energy, "
                               "objective: minimize}]");
    if (c->n_hv_ref && c->n_hv_ref != c->n_objectives)
        return enevo__cfg_fail(x, x->hv_node ? x->hv_node : x->root,
                               "evolutionary.hypervolume_reference: %d value%s for %d objective%s; "
                               "expected one per objective",
                               c->n_hv_ref, c->n_hv_ref == 1 ? "" : "s", c->n_objectives,
                               c->n_objectives == 1 ? "" : "s");
    if (x->test_node && x->test_resize != c->resize)
        return enevo__cfg_fail(
            x, x->test_node,
            "network.learning.augmentation.test: resize %d differs from train's %d; "
            "enevo feeds train and test images at one size",
            x->test_resize, c->resize);
    return 0;
}

/* ---- entry points ------------------------------------------------------------------ */

void enevo_config_defaults(struct enevo_config *c)
{
    /* The values are those of configs/default.yaml, compiled in: one source
     * of truth. Zero first so padding and string tails compare equal. The
     * embedded text is tested to parse without error or warning. */
    memset(c, 0, sizeof *c);
    char err[ENEVO_ERR_LEN];
    if (enevo_config_parse(enevo_default_config_text(), "default.yaml", c, NULL, err, sizeof err))
        abort(); /* unreachable: the build embeds a tested file */
}

static int yaml_error(const yaml_parser_t *p, const char *src, char *err, size_t errlen)
{
    if (p->error == YAML_MEMORY_ERROR)
        return enevo_errf(err, errlen, ENEVO_ENOMEM, "%s: out of memory reading YAML", src);
    if (p->error == YAML_READER_ERROR)
        return enevo_errf(err, errlen, ENEVO_EFORMAT, "%s: byte %zu: %s", src, p->problem_offset,
                          p->problem ? p->problem : "unreadable text");
    if (p->context)
        return enevo_errf(err, errlen, ENEVO_EFORMAT,
                          "%s:%lu:%lu: YAML syntax error: %s (%s at line %lu)", src,
                          (unsigned long)p->problem_mark.line + 1,
                          (unsigned long)p->problem_mark.column + 1,
                          p->problem ? p->problem : "unknown problem", p->context,
                          (unsigned long)p->context_mark.line + 1);
    return enevo_errf(err, errlen, ENEVO_EFORMAT, "%s:%lu:%lu: YAML syntax error: %s", src,
                      (unsigned long)p->problem_mark.line + 1,
                      (unsigned long)p->problem_mark.column + 1,
                      p->problem ? p->problem : "unknown problem");
}

/* JSON counts tabs as whitespace anywhere; YAML forbids them where block
 * indentation could be, which in a JSON file is only before the first '{'
 * and after the last '}'. A raw tab cannot occur inside a JSON string, so
 * for text that starts like JSON every tab outside "..." becomes a space:
 * one byte for one, so line:column in messages still match the file.
 * Returns NULL when the text is not JSON-like or has no tab to change. */
static char *untab_json(const char *s)
{
    const char *p = s;
    if (!strncmp(p, "\xef\xbb\xbf", 3))
        p += 3;
    p += strspn(p, " \t\r\n");
    if ((*p != '{' && *p != '[') || !strchr(s, '\t'))
        return NULL;
    char *t = strdup(s);
    if (!t)
        return NULL;
    bool in_str = false;
    for (char *q = t; *q; q++) {
        if (in_str && *q == '\\' && q[1])
            q++;
        else if (*q == '"')
            in_str = !in_str;
        else if (!in_str && *q == '\t')
            *q = ' ';
    }
    return t;
}

int enevo__config_parse(const char *text_in, const char *source, struct enevo_config *c,
                        struct enevo_config_origin *origin, bool *builtin, FILE *warnings,
                        char *err, size_t errlen)
{
    const char *src = source ? source : "<config>";
    if (!text_in || !c)
        return enevo_errf(err, errlen, ENEVO_EINVAL, "%s: no config text", src);
    char *untabbed = untab_json(text_in);
    if (untabbed)
        text_in = untabbed;
    yaml_parser_t p;
    if (!yaml_parser_initialize(&p)) {
        free(untabbed);
        return enevo_errf(err, errlen, ENEVO_ENOMEM, "%s: out of memory", src);
    }
    yaml_parser_set_input_string(&p, (const unsigned char *)text_in, strlen(text_in));
    yaml_document_t doc;
    if (!yaml_parser_load(&p, &doc)) {
        int rc = yaml_error(&p, src, err, errlen);
        yaml_parser_delete(&p);
        free(untabbed);
        return rc;
    }
    int rc = 0;
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (!root) {
        rc = enevo_errf(err, errlen, ENEVO_EFORMAT, "%s: empty config (no YAML document)", src);
        goto out;
    }
    /* A second document would be silently ignored otherwise. */
    yaml_document_t extra;
    if (!yaml_parser_load(&p, &extra)) {
        rc = yaml_error(&p, src, err, errlen);
        goto out;
    }
    yaml_node_t *extra_root = yaml_document_get_root_node(&extra);
    if (extra_root)
        rc = enevo_errf(err, errlen, ENEVO_EFORMAT,
                        "%s:%lu: a second YAML document; a config is one document", src,
                        (unsigned long)extra_root->start_mark.line + 1);
    yaml_document_delete(&extra);
    if (rc)
        goto out;

    /* Work on a copy so a bad file leaves *c untouched; memcpy keeps the
     * padding bytes too, so an unchanged config stays memcmp-equal. */
    struct enevo_config tmp;
    memcpy(&tmp, c, sizeof tmp);
    struct ctx x = {
        .doc = &doc, .src = src, .warn = warnings, .err = err, .errlen = errlen, .c = &tmp,
        .root = root, .origin = origin,
    };
    rc = enevo__cfg_walk_map(&x, root, "", top_fields, NFIELDS(top_fields), &tmp, NULL);
    if (!rc)
        rc = finish(&x);
    if (!rc)
        memcpy(c, &tmp, sizeof tmp);
    if (builtin)
        *builtin = x.builtin_base;
out:
    yaml_document_delete(&doc);
    yaml_parser_delete(&p);
    free(untabbed);
    return rc;
}

int enevo_config_parse(const char *text_in, const char *source, struct enevo_config *c,
                       FILE *warnings, char *err, size_t errlen)
{
    return enevo__config_parse(text_in, source, c, NULL, NULL, warnings, err, errlen);
}

int enevo_config_load(const char *path, struct enevo_config *c, FILE *warnings, char *err,
                      size_t errlen)
{
    if (!c)
        return enevo_errf(err, errlen, ENEVO_EINVAL, "no config to fill");
    enevo_config_defaults(c);
    if (!path)
        return enevo_config_parse(enevo_default_config_text(), "<built-in default config>", c,
                                  warnings, err, errlen);
    /* libyaml stops at the first NUL: enevo_read_text refuses one. */
    char *buf;
    int rc = enevo_read_text(path, (size_t)MAX_FILE_BYTES, &buf, NULL, err, errlen);
    if (rc)
        return rc;
    rc = enevo_config_parse(buf, path, c, warnings, err, errlen);
    free(buf);
    return rc;
}
