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
 */
#include "enevo/config.h"
#include "enevo/io.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define PATH_LEN 192
/* Config files are a few KiB; a bigger file is a mistake, not a config. */
#define MAX_FILE_BYTES (16L << 20)

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

/* ---- messages ------------------------------------------------------------ */

static int fail(struct ctx *x, const yaml_node_t *n, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

static int fail(struct ctx *x, const yaml_node_t *n, const char *fmt, ...)
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

static void unused(struct ctx *x, const yaml_node_t *key, const char *path, const char *why)
{
    if (x->warn)
        fprintf(x->warn, "enevo: warning: %s:%lu: %s is accepted but not used by enevo (%s)\n",
                x->src, (unsigned long)key->start_mark.line + 1, path, why);
}

/* "'four'", "a list", ... for "expected X, got Y". */
static const char *got(const yaml_node_t *n, char *buf, size_t len)
{
    switch (n->type) {
    case YAML_SCALAR_NODE:
        if (n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE)
            snprintf(buf, len, "'%.40s'%s", (const char *)n->data.scalar.value,
                     n->data.scalar.length > 40 ? "..." : "");
        else
            snprintf(buf, len, "the string '%.40s'%s", (const char *)n->data.scalar.value,
                     n->data.scalar.length > 40 ? "..." : "");
        return buf;
    case YAML_SEQUENCE_NODE:
        return "a list";
    case YAML_MAPPING_NODE:
        return "a mapping";
    default:
        return "nothing";
    }
}

static int expected(struct ctx *x, const yaml_node_t *n, const char *path, const char *what)
{
    char g[64];
    return fail(x, n, "%s: expected %s, got %s", path, what, got(n, g, sizeof g));
}

static void join(char *out, const char *path, const char *key)
{
    if (path[0])
        snprintf(out, PATH_LEN, "%s.%s", path, key);
    else
        snprintf(out, PATH_LEN, "%s", key);
}

/* ---- scalars --------------------------------------------------------------- */

static const char *text(const yaml_node_t *n)
{
    return n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

/* Numbers and booleans must be plain scalars: "4" in quotes is a string,
 * as ENERGIZE's JSON schema sees it. */
static const char *plain(const yaml_node_t *n)
{
    if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return NULL;
    return (const char *)n->data.scalar.value;
}

static bool is_null(const yaml_node_t *n)
{
    const char *s = plain(n);
    return s && (!s[0] || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") ||
                 !strcmp(s, "NULL"));
}

static bool to_ll(const char *s, long long *v)
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

static int get_int(struct ctx *x, yaml_node_t *n, const char *path, long long lo, long long hi,
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
    if (!to_ll(plain(n), v) || *v < lo || *v > hi)
        return expected(x, n, path, what);
    return 0;
}

static int get_num(struct ctx *x, yaml_node_t *n, const char *path, double lo, double hi,
                   double *v)
{
    char what[96];
    range_text(what, sizeof what, "a finite number", lo, hi);
    if (!to_double(plain(n), v) || *v < lo || *v > hi)
        return expected(x, n, path, what);
    return 0;
}

static int get_bool(struct ctx *x, yaml_node_t *n, const char *path, bool *v)
{
    /* YAML 1.1's spellings, which is what ENERGIZE's PyYAML accepts. */
    static const char *const yes[] = {"true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON"};
    static const char *const no[] = {"false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF"};
    const char *s = plain(n);
    for (size_t i = 0; s && i < NFIELDS(yes); i++) {
        if (!strcmp(s, yes[i]))
            return *v = true, 0;
        if (!strcmp(s, no[i]))
            return *v = false, 0;
    }
    return expected(x, n, path, "true or false");
}

/* Copies a string into a fixed buffer, zero-filling the rest so configs
 * built along different paths compare equal byte for byte. */
static int get_str(struct ctx *x, yaml_node_t *n, const char *path, char *dst, size_t size)
{
    const char *s = text(n);
    if (!s || !s[0] || is_null(n))
        return expected(x, n, path, "a non-empty string");
    size_t len = n->data.scalar.length;
    if (len >= size || strlen(s) != len)
        return fail(x, n, "%s: '%.40s...' is too long (at most %zu characters)", path, s, size - 1);
    memset(dst, 0, size);
    memcpy(dst, s, len);
    return 0;
}

/* ---- mappings -------------------------------------------------------------- */

static int apply(struct ctx *x, const struct field *f, yaml_node_t *key, yaml_node_t *val,
                 const char *path, void *base);

/* Applies each key of `node` by the table; *seen gets bit i for row i. */
static int walk_map(struct ctx *x, yaml_node_t *node, const char *path, const struct field *t,
                    size_t nt, void *base, uint32_t *seen)
{
    if (seen)
        *seen = 0;
    if (node->type != YAML_MAPPING_NODE)
        return expected(x, node, path[0] ? path : "the config", "a mapping");
    for (yaml_node_pair_t *p = node->data.mapping.pairs.start; p < node->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = yaml_document_get_node(x->doc, p->key);
        yaml_node_t *v = yaml_document_get_node(x->doc, p->value);
        const char *name = text(k);
        if (!name)
            return fail(x, k, "%s: keys must be strings", path[0] ? path : "the top level");
        for (yaml_node_pair_t *q = node->data.mapping.pairs.start; q < p; q++) {
            const char *prev = text(yaml_document_get_node(x->doc, q->key));
            if (prev && !strcmp(prev, name))
                return fail(x, k, "duplicate key '%s' in %s", name,
                            path[0] ? path : "the top level");
        }
        size_t i = 0;
        while (i < nt && strcmp(t[i].key, name))
            i++;
        if (i == nt) {
            if (path[0])
                return fail(x, k, "unknown key '%s' in %s", name, path);
            return fail(x, k, "unknown key '%s' at the top level", name);
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
    switch (f->kind) {
    case K_INT:
        rc = get_int(x, val, path, (long long)f->lo, isinf(f->hi) ? INT_MAX : (long long)f->hi, &ll);
        if (!rc)
            *(int *)dst = (int)ll;
        return rc;
    case K_LONG:
        rc = get_int(x, val, path, (long long)f->lo, isinf(f->hi) ? LONG_MAX : (long long)f->hi,
                     &ll);
        if (!rc)
            *(long *)dst = (long)ll;
        return rc;
    case K_U64: {
        const char *s = plain(val);
        char *end;
        errno = 0;
        unsigned long long u = s && *s && *s != '-' && *s != ' ' ? strtoull(s, &end, 10) : 0;
        if (!s || !*s || *s == '-' || *s == ' ' || errno || *end)
            return expected(x, val, path, "an integer in [0, 2^64 - 1]");
        *(uint64_t *)dst = (uint64_t)u;
        return 0;
    }
    case K_NUM:
        return get_num(x, val, path, f->lo, f->hi, (double *)dst);
    case K_BOOL:
        return get_bool(x, val, path, (bool *)dst);
    case K_STR:
        return get_str(x, val, path, (char *)dst, f->size);
    case K_MAP:
        return walk_map(x, val, path, f->sub, f->nsub, base, NULL);
    case K_FN:
        return f->fn(x, val, path, dst);
    case K_UNUSED:
        if (f->sub && !is_null(val) && (rc = walk_map(x, val, path, f->sub, f->nsub, NULL, NULL)))
            return rc;
        unused(x, key, path, f->why);
        return 0;
    case K_SKIP:
        return 0;
    }
    return ENEVO_EINVAL;
}

/* ---- evolutionary ------------------------------------------------------------ */

/* Only the shape of a metric name is checked here: which metrics exist is
 * the evaluator's business (src/evo/fitness.c, enevo_fitness_check), and
 * ENERGIZE's accuracy_1 or power_1 must at least load. */
static bool metric_ok(const char *s)
{
    if (!(*s >= 'a' && *s <= 'z'))
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_'))
            return false;
    return true;
}

static int fn_metric(struct ctx *x, yaml_node_t *val, const char *path, void *dst)
{
    const char *s = text(val);
    if (!s || !metric_ok(s))
        return expected(x, val, path,
                        "a metric name (lowercase letters, digits and '_', e.g. accuracy)");
    return get_str(x, val, path, (char *)dst, ENEVO_NAME_LEN);
}

static int fn_fitness_metric(struct ctx *x, yaml_node_t *val, const char *path, void *dst)
{
    x->metric_node = val;
    return fn_metric(x, val, path, dst);
}

static int fn_objective(struct ctx *x, yaml_node_t *val, const char *path, void *dst)
{
    /* ENERGIZE spells them maximize/minimize; the British forms are the
     * same word, so they are accepted too. */
    const char *s = text(val);
    if (s && (!strcmp(s, "maximize") || !strcmp(s, "maximise")))
        return *(bool *)dst = true, 0;
    if (s && (!strcmp(s, "minimize") || !strcmp(s, "minimise")))
        return *(bool *)dst = false, 0;
    return expected(x, val, path, "maximize or minimize");
}

static int fn_cond_type(struct ctx *x, yaml_node_t *val, const char *path, void *dst)
{
    const char *s = text(val);
    if (s && !strcmp(s, "greater_than"))
        return *(bool *)dst = true, 0;
    if (s && !strcmp(s, "less_than"))
        return *(bool *)dst = false, 0;
    return expected(x, val, path, "greater_than or less_than");
}

static int check_list(struct ctx *x, yaml_node_t *val, const char *path, size_t lo, size_t max,
                      const char *limit_name)
{
    if (val->type != YAML_SEQUENCE_NODE)
        return expected(x, val, path, "a list");
    size_t n = (size_t)(val->data.sequence.items.top - val->data.sequence.items.start);
    if (n < lo)
        return fail(x, val, "%s: expected at least %zu item%s, got %zu", path, lo,
                    lo == 1 ? "" : "s", n);
    if (n > max)
        return fail(x, val, "%s: at most %zu items (%s), got %zu", path, max, limit_name, n);
    return 0;
}

static yaml_node_t *item(struct ctx *x, yaml_node_t *seq, size_t i)
{
    return yaml_document_get_node(x->doc, seq->data.sequence.items.start[i]);
}

static size_t n_items(yaml_node_t *seq)
{
    return (size_t)(seq->data.sequence.items.top - seq->data.sequence.items.start);
}

/* Reports the first row of `t` whose bit is in `required` but not in `seen`. */
static int require(struct ctx *x, yaml_node_t *node, const char *path, const struct field *t,
                   size_t nt, uint32_t required, uint32_t seen)
{
    for (size_t i = 0; i < nt; i++)
        if ((required >> i & 1) && !(seen >> i & 1))
            return fail(x, node, "%s: missing key '%s'", path, t[i].key);
    return 0;
}

static const struct field cond_fields[] = {
    F_FN("metric", offsetof(struct enevo_fitness_cond, metric), fn_metric),
    F_FN("type", offsetof(struct enevo_fitness_cond, greater_than), fn_cond_type),
    F_NUM("value", offsetof(struct enevo_fitness_cond, value), -INFINITY, INFINITY),
};

static int fn_conditions(struct ctx *x, yaml_node_t *val, const char *path, void *dst)
{
    struct enevo_fitness_term *t = dst;
    int rc = check_list(x, val, path, 0, ENEVO_MAX_CONDS, "ENEVO_MAX_CONDS");
    if (rc)
        return rc;
    memset(t->conds, 0, sizeof t->conds);
    t->n_conds = (int)n_items(val);
    for (size_t i = 0; i < n_items(val); i++) {
        char p[PATH_LEN];
        snprintf(p, sizeof p, "%s[%zu]", path, i);
        uint32_t seen;
        yaml_node_t *it = item(x, val, i);
        if ((rc = walk_map(x, it, p, cond_fields, NFIELDS(cond_fields), &t->conds[i], &seen)) ||
            (rc = require(x, it, p, cond_fields, NFIELDS(cond_fields), 7, seen)))
            return rc;
    }
    return 0;
}

static const struct field term_fields[] = {
    F_FN("metric", offsetof(struct enevo_fitness_term, metric), fn_metric),
    F_FN("objective", offsetof(struct enevo_fitness_term, maximize), fn_objective),
    F_NUM("weight", offsetof(struct enevo_fitness_term, weight), -INFINITY, INFINITY),
    F_FN("conditions", 0, fn_conditions),
};

static int fn_fitness_function(struct ctx *x, yaml_node_t *val, const char *path, void *dst)
{
    struct enevo_config *c = dst;
    int rc = check_list(x, val, path, 1, ENEVO_MAX_TERMS, "ENEVO_MAX_TERMS");
    if (rc)
        return rc;
    x->function_node = val;
    memset(c->terms, 0, sizeof c->terms);
    c->n_terms = (int)n_items(val);
    for (size_t i = 0; i < n_items(val); i++) {
        char p[PATH_LEN];
        snprintf(p, sizeof p, "%s[%zu]", path, i);
        uint32_t seen;
        yaml_node_t *it = item(x, val, i);
        /* metric, objective and weight are required, as in ENERGIZE's schema. */
        if ((rc = walk_map(x, it, p, term_fields, NFIELDS(term_fields), &c->terms[i], &seen)) ||
            (rc = require(x, it, p, term_fields, NFIELDS(term_fields), 7, seen)))
            return rc;
    }
    return 0;
}

static int fn_track_mutations(struct ctx *x, yaml_node_t *val, const char *path, void *dst)
{
    (void)dst;
    bool on = true;
    int rc = get_bool(x, val, path, &on);
    if (!rc && !on)
        unused(x, val, path, "enevo always tracks mutations");
    return rc;
}

static const struct field mutation_fields[] = {
    F_PROB("add_connection", CFG(mutation.add_connection)),
    F_PROB("remove_connection", CFG(mutation.remove_connection)),
    F_PROB("add_layer", CFG(mutation.add_layer)),
    F_PROB("reuse_layer", CFG(mutation.reuse_layer)),
    F_PROB("remove_layer", CFG(mutation.remove_layer)),
    F_PROB("reuse_module", CFG(mutation.reuse_module)),
    F_PROB("remove_module", CFG(mutation.remove_module)),
    F_PROB("dsge_layer", CFG(mutation.dsge_layer)),
    F_PROB("macro_layer", CFG(mutation.macro_layer)),
    F_PROB("train_longer", CFG(mutation.train_longer)),
};

static const struct field selection_fields[] = {F_SKIP("method"), F_SKIP("metrics")};

static const struct field evolutionary_fields[] = {
    F_INT("generations", CFG(generations), 1, INFINITY),
    F_INT("lambda", CFG(lambda), 1, INFINITY),
    F_LONG("max_epochs", CFG(max_epochs), 1, INFINITY),
    F_U64("seed", CFG(seed)),
    F_BOOL("reevaluate_parent", CFG(reevaluate_parent)),
    F_LONG("max_params", CFG(max_params), 0, INFINITY),
    F_NUM("max_mflops", CFG(max_mflops), 0, INFINITY),
    F_MAP("mutation", mutation_fields),
    F_FN("track_mutations", 0, fn_track_mutations),
    F_FN("fitness_metric", CFG(fitness_metric), fn_fitness_metric),
    F_FN("fitness_function", 0, fn_fitness_function),
    F_UNUSED_MAP("selection", selection_fields,
                 "enevo selects by fitness_metric or fitness_function"),
};

/* ---- network.architecture ------------------------------------------------------ */

static int fn_macro(struct ctx *x, yaml_node_t *val, const char *path, void *dst)
{
    struct enevo_config *c = dst;
    int rc = check_list(x, val, path, 1, ENEVO_MAX_MACRO, "ENEVO_MAX_MACRO");
    if (rc)
        return rc;
    x->macro_node = val;
    memset(c->macro, 0, sizeof c->macro);
    c->n_macro = (int)n_items(val);
    for (size_t i = 0; i < n_items(val); i++) {
        char p[PATH_LEN];
        snprintf(p, sizeof p, "%s[%zu]", path, i);
        yaml_node_t *it = item(x, val, i);
        if ((rc = get_str(x, it, p, c->macro[i], ENEVO_NAME_LEN)))
            return rc;
        for (size_t j = 0; j < i; j++)
            if (!strcmp(c->macro[j], c->macro[i]))
                return fail(x, it, "%s: '%s' is listed twice", path, c->macro[i]);
    }
    return 0;
}

static int fn_structure_init(struct ctx *x, yaml_node_t *val, const char *path, void *dst)
{
    struct enevo_module_cfg *m = dst;
    const size_t max = sizeof m->init / sizeof m->init[0];
    int rc = check_list(x, val, path, 1, max, "16, the size of enevo_module_cfg.init");
    if (rc)
        return rc;
    memset(m->init, 0, sizeof m->init);
    m->n_init = (int)n_items(val);
    for (size_t i = 0; i < n_items(val); i++) {
        char p[PATH_LEN];
        long long v = 0;
        snprintf(p, sizeof p, "%s[%zu]", path, i);
        if ((rc = get_int(x, item(x, val, i), p, 0, INT_MAX, &v)))
            return rc;
        m->init[i] = (int)v;
    }
    return 0;
}

static int fn_structure(struct ctx *x, yaml_node_t *val, const char *path, void *dst)
{
    struct enevo_module_cfg *m = dst;
    if (val->type != YAML_SEQUENCE_NODE || n_items(val) != 2)
        return expected(x, val, path, "a list [min, max]");
    long long lo = 0, hi = 0;
    char p[PATH_LEN];
    int rc;
    snprintf(p, sizeof p, "%s[0]", path);
    if ((rc = get_int(x, item(x, val, 0), p, 0, INT_MAX, &lo)))
        return rc;
    snprintf(p, sizeof p, "%s[1]", path);
    if ((rc = get_int(x, item(x, val, 1), p, lo, INT_MAX, &hi)))
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
    int rc = check_list(x, val, path, 1, ENEVO_MAX_MODULES, "ENEVO_MAX_MODULES");
    if (rc)
        return rc;
    memset(c->modules, 0, sizeof c->modules);
    c->n_modules = (int)n_items(val);
    for (size_t i = 0; i < n_items(val); i++) {
        char p[PATH_LEN];
        snprintf(p, sizeof p, "%s[%zu]", path, i);
        struct enevo_module_cfg *m = &c->modules[i];
        yaml_node_t *it = item(x, val, i);
        uint32_t seen;
        /* A module list replaces the defaults' whole, so a module cannot
         * inherit its shape; levels_back alone has an obvious default. */
        m->levels_back = 1;
        if ((rc = walk_map(x, it, p, module_fields, NFIELDS(module_fields), m, &seen)) ||
            (rc = require(x, it, p, module_fields, NFIELDS(module_fields), 7, seen)))
            return rc;
        for (int j = 0; j < m->n_init; j++)
            if (m->init[j] < m->min || m->init[j] > m->max)
                return fail(x, it,
                            "%s: network_structure_init count %d is outside network_structure "
                            "[%d, %d]",
                            p, m->init[j], m->min, m->max);
        for (size_t j = 0; j < i; j++)
            if (!strcmp(c->modules[j].name, m->name))
                return fail(x, it, "%s: module '%s' is listed twice", p, m->name);
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
    int rc = walk_map(x, val, path, split_fields, NFIELDS(split_fields), c, NULL);
    if (rc)
        return rc;
    /* The slack lets 0.7 + 0.2 + 0.1 (1.0000000000000002 in doubles) pass. */
    if (c->split_train + c->split_val + c->split_fit > 1.0 + 1e-9)
        return fail(x, val, "%s: evo_train + evo_validation + evo_test is %.17g, more than 1",
                    path, c->split_train + c->split_val + c->split_fit);
    if (!(c->split_train > 0.0))
        return fail(x, val, "%s: evo_train must be > 0", path);
    return 0;
}

static int fn_learning_type(struct ctx *x, yaml_node_t *val, const char *path, void *dst)
{
    (void)dst;
    const char *s = text(val);
    if (!s || strcmp(s, "supervised"))
        return expected(x, val, path, "supervised (the only learning type enevo has)");
    return 0;
}

static int fn_resize_size(struct ctx *x, yaml_node_t *val, const char *path, void *dst)
{
    long long v;
    if (!to_ll(plain(val), &v) || (v != 0 && (v < 8 || v > 1024)))
        return expected(x, val, path, "0 (native size) or an integer in [8, 1024]");
    *(int *)dst = (int)v;
    return 0;
}

static const struct field resize_fields[] = {F_FN("size", 0, fn_resize_size)};

static int fn_resize(struct ctx *x, yaml_node_t *val, const char *path, void *dst)
{
    /* ENERGIZE writes resize: {size: 32}; its paper-era configs resize: 32. */
    if (val->type == YAML_MAPPING_NODE) {
        uint32_t seen;
        int rc = walk_map(x, val, path, resize_fields, NFIELDS(resize_fields), dst, &seen);
        return rc ? rc : require(x, val, path, resize_fields, 1, 1, seen);
    }
    return fn_resize_size(x, val, path, dst);
}

#define NO_AUGMENTATION "enevo applies no data augmentation besides resize"
/* ENERGIZE's TransformOperation names. */
static const struct field transform_fields[] = {
    F_FN("resize", 0, fn_resize),
    F_UNUSED("color_jitter", NO_AUGMENTATION),
    F_UNUSED("normalize", NO_AUGMENTATION),
    F_UNUSED("padding", NO_AUGMENTATION),
    F_UNUSED("random_crop", NO_AUGMENTATION),
    F_UNUSED("random_horizontal_flip", NO_AUGMENTATION),
    F_UNUSED("random_resized_crop", NO_AUGMENTATION),
    F_UNUSED("random_grayscale", NO_AUGMENTATION),
    F_UNUSED("gaussian_blur", NO_AUGMENTATION),
    F_UNUSED("random_solarize", NO_AUGMENTATION),
    F_UNUSED("center_crop", NO_AUGMENTATION),
};

/* A transform list without resize (or null) means the native size. */
static int fn_aug_train(struct ctx *x, yaml_node_t *val, const char *path, void *dst)
{
    struct enevo_config *c = dst;
    c->resize = 0;
    if (is_null(val))
        return 0;
    return walk_map(x, val, path, transform_fields, NFIELDS(transform_fields), &c->resize, NULL);
}

static int fn_aug_test(struct ctx *x, yaml_node_t *val, const char *path, void *dst)
{
    (void)dst;
    x->test_node = val;
    x->test_resize = 0;
    if (is_null(val))
        return 0;
    return walk_map(x, val, path, transform_fields, NFIELDS(transform_fields), &x->test_resize,
                    NULL);
}

static const struct field augmentation_fields[] = {
    F_FN("train", 0, fn_aug_train),
    F_FN("test", 0, fn_aug_test),
};

static const struct field learning_fields[] = {
    F_FN("data_splits", 0, fn_splits),
    F_FN("learning_type", 0, fn_learning_type),
    F_NUM("default_train_time", CFG(default_train_time), 0.0, INFINITY),
    F_INT("default_train_epochs", CFG(default_train_epochs), 1, INFINITY),
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
    return get_bool(x, val, path, (bool *)dst);
}

static int fn_partition_n(struct ctx *x, yaml_node_t *val, const char *path, void *dst)
{
    (void)dst;
    long long v = 0;
    /* ENERGIZE's schema allows more, but only 2 was ever run (ENERGIZE.md §3),
     * and enevo builds exactly one extra head. */
    return get_int(x, val, path, 2, 2, &v);
}

static const struct field measure_power_fields[] = {
    F_SKIP("train"),
    F_SKIP("test"),
    F_SKIP("num_measurements_test"),
    F_SKIP("modules"),
};

static const struct field seed_model_fields[] = {
    F_STR("phenotype", CFG(seed_phenotype), sizeof(((struct enevo_config *)0)->seed_phenotype)),
    F_UNUSED("weights_path", "the seed is trained from scratch like every individual"),
};

static const struct field energize_fields[] = {
    F_FN("model_partition", CFG(model_partition), fn_partition),
    F_FN("model_partition_n", 0, fn_partition_n),
    F_NUM("partition_weight", CFG(partition_weight), 0, 1000),
    F_UNUSED_MAP("measure_power", measure_power_fields,
                 "enevo takes no power-measurement settings from the config"),
    F_UNUSED("ensure_gpu_exclusivity", "enevo does not change the GPU's compute mode"),
    F_MAP("seed_model", seed_model_fields),
};

static int fn_meter(struct ctx *x, yaml_node_t *val, const char *path, void *dst)
{
    static const char *const names[] = {"auto", "nvml", "rapl", "model"};
    int rc = get_str(x, val, path, (char *)dst, sizeof(((struct enevo_config *)0)->meter));
    if (rc)
        return rc;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strcmp((char *)dst, names[i]))
            return 0;
    return fail(x, val, "%s: expected auto, nvml, rapl or model, got '%s'", path, (char *)dst);
}

static int fn_reuse_selection(struct ctx *x, yaml_node_t *val, const char *path, void *dst)
{
    char s[16];
    int rc = get_str(x, val, path, s, sizeof s);
    if (rc)
        return rc;
    if (strcmp(s, "energy") && strcmp(s, "power"))
        return fail(x, val, "%s: expected energy or power, got '%s'", path, s);
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
    int rc = get_str(x, val, path, s, sizeof s);
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
        return fail(x, val, "%s: unknown device '%s': expected cpu, cuda, cuda:N or auto", path,
                    s);
    memcpy(dst, s, sizeof s);
    return 0;
}

static const struct field top_fields[] = {
    F_MAP("energy", energy_fields),
    F_UNUSED("checkpoints_path", "enevo's output directory is set on its command line"),
    F_UNUSED("statistics_format", "enevo writes its statistics in its own format"),
    F_MAP("energize", energize_fields),
    F_MAP("evolutionary", evolutionary_fields),
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
        unused(x, x->metric_node, "evolutionary.fitness_metric",
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
        return fail(x, at,
                    "network.architecture.macro_structure contains model_partition but "
                    "energize.model_partition is false");
    }
    if (!has && c->model_partition) {
        /* ENERGIZE appends it for the user; so does enevo. */
        if (c->n_macro >= ENEVO_MAX_MACRO)
            return fail(x, x->partition_node ? x->partition_node : x->root,
                        "network.architecture.macro_structure: no room to add model_partition "
                        "(at most %d items, ENEVO_MAX_MACRO)",
                        ENEVO_MAX_MACRO);
        memset(c->macro[c->n_macro], 0, ENEVO_NAME_LEN);
        memcpy(c->macro[c->n_macro], "model_partition", sizeof "model_partition");
        c->n_macro++;
    }

    if (x->test_node && x->test_resize != c->resize)
        return fail(x, x->test_node,
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

int enevo_config_parse(const char *text_in, const char *source, struct enevo_config *c,
                       FILE *warnings, char *err, size_t errlen)
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
        .root = root,
    };
    rc = walk_map(&x, root, "", top_fields, NFIELDS(top_fields), &tmp, NULL);
    if (!rc)
        rc = finish(&x);
    if (!rc)
        memcpy(c, &tmp, sizeof tmp);
out:
    yaml_document_delete(&doc);
    yaml_parser_delete(&p);
    free(untabbed);
    return rc;
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
