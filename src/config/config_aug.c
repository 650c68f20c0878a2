/* src/config/config_aug.c — network.learning.augmentation: the train and
 * test transform lists (include/enevo/data.h, enum enevo_aug_kind), resize
 * among them. The helpers are config.c's (config_internal.h). */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "config/config_internal.h"
#include "enevo/config.h"
#include "enevo/data.h"

/* ---- resize (it acts at load, not in the pipeline) ---------------------------- */

static int fn_resize_size(struct ctx *x, yaml_node_t *val, const char *path, void *dst)
{
    long long v;
    if (!enevo__cfg_to_ll(enevo__cfg_plain(val), &v) || (v != 0 && (v < 8 || v > 1024)))
        return enevo__cfg_expected(x, val, path, "0 (native size) or an integer in [8, 1024]");
    *(int *)dst = (int)v;
    return 0;
}

static const struct field resize_fields[] = {F_FN("size", 0, fn_resize_size)};

static int fn_resize(struct ctx *x, yaml_node_t *val, const char *path, void *dst)
{
    /* ENERGIZE writes resize: {size: 32}; its paper-era configs resize: 32. */
    if (val->type == YAML_MAPPING_NODE) {
        uint32_t seen;
        int rc =
            enevo__cfg_walk_map(x, val, path, resize_fields, NFIELDS(resize_fields), dst, &seen);
        return rc ? rc : enevo__cfg_require(x, val, path, resize_fields, 1, 1, seen);
    }
    return fn_resize_size(x, val, path, dst);
}

/* ---- augmentation transforms (include/enevo/data.h, enum enevo_aug_kind) ---- */

/* join, for paths built here: a path too long is cut, not overflowed. */
static void aug_join(char *out, const char *path, const char *key)
{
    if (snprintf(out, PATH_LEN, "%s.%s", path, key) >= PATH_LEN)
        out[PATH_LEN - 1] = 0;
}

/* A transform's parameters: a mapping of known keys, or (first key only)
 * a bare scalar, as `random_horizontal_flip: 0.5`; null takes defaults.
 * vals[i] gets key i's node or NULL. */
static int aug_params(struct ctx *x, yaml_node_t *val, const char *path, const char *const *keys,
                      int nk, yaml_node_t **vals)
{
    for (int i = 0; i < nk; i++)
        vals[i] = NULL;
    if (enevo__cfg_is_null(val))
        return 0;
    if (val->type == YAML_SCALAR_NODE && nk > 0) {
        vals[0] = val;
        return 0;
    }
    if (val->type != YAML_MAPPING_NODE)
        return enevo__cfg_expected(x, val, path, "a mapping of the transform's parameters");
    for (yaml_node_pair_t *p = val->data.mapping.pairs.start; p < val->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = yaml_document_get_node(x->doc, p->key);
        const char *name = enevo__cfg_text(k);
        int i = 0;
        while (name && i < nk && strcmp(keys[i], name))
            i++;
        if (!name || i == nk) {
            char known[160] = "";
            for (int j = 0; j < nk; j++)
                snprintf(known + strlen(known), sizeof known - strlen(known), "%s%s",
                         j ? ", " : "", keys[j]);
            return enevo__cfg_fail(x, k, "unknown key '%s' in %s (expected %s)", name ? name : "?",
                                   path, known);
        }
        if (vals[i])
            return enevo__cfg_fail(x, k, "duplicate key '%s' in %s", name, path);
        vals[i] = yaml_document_get_node(x->doc, p->value);
    }
    return 0;
}

static int aug_int(struct ctx *x, yaml_node_t *n, const char *path, const char *key, long long lo,
                   long long hi, int *dst)
{
    if (!n)
        return 0;
    char p[PATH_LEN];
    aug_join(p, path, key);
    long long v = 0;
    int rc = enevo__cfg_get_int(x, n, p, lo, hi, &v);
    if (!rc)
        *dst = (int)v;
    return rc;
}

static int aug_num(struct ctx *x, yaml_node_t *n, const char *path, const char *key, double lo,
                   double hi, double *dst)
{
    if (!n)
        return 0;
    char p[PATH_LEN];
    aug_join(p, path, key);
    return enevo__cfg_get_num(x, n, p, lo, hi, dst);
}

/* A number or a list of up to max numbers, each in [lo, hi]. */
static int aug_list(struct ctx *x, yaml_node_t *n, const char *path, const char *key, double lo,
                    double hi, int max, double *dst, int *count)
{
    if (!n)
        return 0;
    char p[PATH_LEN];
    aug_join(p, path, key);
    if (n->type == YAML_SCALAR_NODE) {
        *count = 1;
        return enevo__cfg_get_num(x, n, p, lo, hi, dst);
    }
    if (n->type != YAML_SEQUENCE_NODE)
        return enevo__cfg_expected(x, n, p, "a number or a list of numbers");
    int k = 0;
    for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top;
         it++) {
        yaml_node_t *e = yaml_document_get_node(x->doc, *it);
        if (k == max)
            return enevo__cfg_fail(x, e, "%s: at most %d values", p, max);
        int rc = enevo__cfg_get_num(x, e, p, lo, hi, &dst[k]);
        if (rc)
            return rc;
        k++;
    }
    if (k == 0)
        return enevo__cfg_expected(x, n, p, "at least one number");
    *count = k;
    return 0;
}

/* A [lo, hi] range (a number x means [x, x]... or for sigma/scale the pair). */
static int aug_range(struct ctx *x, yaml_node_t *n, const char *path, const char *key, double lo,
                     double hi, double *a, double *b)
{
    double v[2];
    int k = 0;
    int rc = aug_list(x, n, path, key, lo, hi, 2, v, &k);
    if (rc || !n)
        return rc;
    *a = v[0];
    *b = k == 2 ? v[1] : v[0];
    if (*a > *b) {
        char p[PATH_LEN];
        aug_join(p, path, key);
        return enevo__cfg_fail(x, n, "%s: [%g, %g] is not a range (low > high)", p, *a, *b);
    }
    return 0;
}

static int aug_op(struct ctx *x, int kind, yaml_node_t *key, yaml_node_t *val, const char *path,
                  struct enevo_aug_op *o)
{
    yaml_node_t *v[4];
    int rc;
    memset(o, 0, sizeof *o);
    o->kind = kind;
    switch (kind) {
    case ENEVO_AUG_RANDOM_CROP: {
        static const char *const k[] = {"size", "padding"};
        if ((rc = aug_params(x, val, path, k, 2, v)))
            return rc;
        if (!v[0])
            return enevo__cfg_fail(x, key, "%s: missing key 'size'", path);
        if ((rc = aug_int(x, v[0], path, "size", 1, 4096, &o->size)) ||
            (rc = aug_int(x, v[1], path, "padding", 0, 1024, &o->padding)))
            return rc;
        return 0;
    }
    case ENEVO_AUG_CENTER_CROP: {
        static const char *const k[] = {"size"};
        if ((rc = aug_params(x, val, path, k, 1, v)))
            return rc;
        if (!v[0])
            return enevo__cfg_fail(x, key, "%s: missing key 'size'", path);
        return aug_int(x, v[0], path, "size", 1, 4096, &o->size);
    }
    case ENEVO_AUG_PADDING: {
        static const char *const k[] = {"padding"};
        if ((rc = aug_params(x, val, path, k, 1, v)))
            return rc;
        if (!v[0])
            return enevo__cfg_fail(x, key, "%s: missing key 'padding'", path);
        return aug_int(x, v[0], path, "padding", 0, 1024, &o->padding);
    }
    case ENEVO_AUG_HFLIP:
    case ENEVO_AUG_GRAYSCALE: {
        static const char *const k[] = {"p"};
        o->p = kind == ENEVO_AUG_HFLIP ? 0.5 : 0.1; /* torchvision's defaults */
        if ((rc = aug_params(x, val, path, k, 1, v)))
            return rc;
        return aug_num(x, v[0], path, "p", 0, 1, &o->p);
    }
    case ENEVO_AUG_SOLARIZE: {
        static const char *const k[] = {"threshold", "p"};
        o->p = 0.5;
        if ((rc = aug_params(x, val, path, k, 2, v)))
            return rc;
        if (!v[0])
            return enevo__cfg_fail(x, key, "%s: missing key 'threshold'", path);
        if ((rc = aug_num(x, v[0], path, "threshold", 0, 1, &o->a[0])) ||
            (rc = aug_num(x, v[1], path, "p", 0, 1, &o->p)))
            return rc;
        return 0;
    }
    case ENEVO_AUG_COLOR_JITTER: {
        static const char *const k[] = {"brightness", "contrast", "saturation", "hue"};
        if ((rc = aug_params(x, val, path, k, 4, v)))
            return rc;
        for (int i = 0; i < 4; i++)
            if ((rc = aug_num(x, v[i], path, k[i], 0, i == 3 ? 0.5 : 1e6, &o->a[i])))
                return rc;
        return 0;
    }
    case ENEVO_AUG_BLUR: {
        static const char *const k[] = {"kernel_size", "sigma"};
        o->a[0] = 0.1;
        o->a[1] = 2.0;
        if ((rc = aug_params(x, val, path, k, 2, v)))
            return rc;
        if (!v[0])
            return enevo__cfg_fail(x, key, "%s: missing key 'kernel_size'", path);
        if ((rc = aug_int(x, v[0], path, "kernel_size", 1, 63, &o->kernel)))
            return rc;
        if (o->kernel % 2 == 0)
            return enevo__cfg_expected(x, v[0], path, "an odd kernel_size in [1, 63]");
        return aug_range(x, v[1], path, "sigma", 1e-3, 1e3, &o->a[0], &o->a[1]);
    }
    case ENEVO_AUG_RESIZED_CROP: {
        static const char *const k[] = {"size", "scale", "ratio"};
        o->a[0] = 0.08;
        o->a[1] = 1.0;
        o->a[2] = 3.0 / 4.0;
        o->a[3] = 4.0 / 3.0;
        if ((rc = aug_params(x, val, path, k, 3, v)))
            return rc;
        if (!v[0])
            return enevo__cfg_fail(x, key, "%s: missing key 'size'", path);
        if ((rc = aug_int(x, v[0], path, "size", 1, 4096, &o->size)) ||
            (rc = aug_range(x, v[1], path, "scale", 1e-6, 1, &o->a[0], &o->a[1])) ||
            (rc = aug_range(x, v[2], path, "ratio", 1e-3, 1e3, &o->a[2], &o->a[3])))
            return rc;
        return 0;
    }
    case ENEVO_AUG_NORMALIZE: {
        static const char *const k[] = {"mean", "std"};
        if ((rc = aug_params(x, val, path, k, 2, v)))
            return rc;
        if (!v[0] || !v[1] || val->type != YAML_MAPPING_NODE)
            return enevo__cfg_fail(x, key, "%s: expected a mapping with mean and std", path);
        double m[ENEVO_MAX_CHANNELS], s[ENEVO_MAX_CHANNELS];
        int nm = 0, ns = 0;
        if ((rc = aug_list(x, v[0], path, "mean", -1e6, 1e6, ENEVO_MAX_CHANNELS, m, &nm)) ||
            (rc = aug_list(x, v[1], path, "std", 1e-9, 1e6, ENEVO_MAX_CHANNELS, s, &ns)))
            return rc;
        if (nm != ns)
            return enevo__cfg_fail(x, v[1], "%s: %d means but %d stds", path, nm, ns);
        o->n_norm = nm;
        for (int i = 0; i < nm; i++) {
            o->mean[i] = (float)m[i];
            o->std[i] = (float)s[i];
        }
        return 0;
    }
    default:
        return ENEVO_EINVAL;
    }
}

/* A transform list in config order; resize goes to *resize (it acts at
 * load), the others to a. null: none, native size. */
static int aug_list_parse(struct ctx *x, yaml_node_t *val, const char *path, int *resize,
                          struct enevo_augment *a, bool test)
{
    *resize = 0;
    memset(a, 0, sizeof *a);
    if (enevo__cfg_is_null(val))
        return 0;
    if (val->type != YAML_MAPPING_NODE)
        return enevo__cfg_expected(x, val, path, "a mapping of transforms");
    for (yaml_node_pair_t *p = val->data.mapping.pairs.start; p < val->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = yaml_document_get_node(x->doc, p->key);
        yaml_node_t *v = yaml_document_get_node(x->doc, p->value);
        const char *name = enevo__cfg_text(k);
        int kind = name ? enevo_aug_kind(name) : -1;
        if (kind < 0)
            return enevo__cfg_fail(
                x, k,
                "unknown key '%s' in %s (expected a transform: resize, random_crop, "
                "random_horizontal_flip, center_crop, padding, normalize, color_jitter, "
                "random_grayscale, gaussian_blur, random_resized_crop, random_solarize)",
                name ? name : "?", path);
        for (yaml_node_pair_t *q = val->data.mapping.pairs.start; q < p; q++) {
            const char *prev = enevo__cfg_text(yaml_document_get_node(x->doc, q->key));
            if (prev && !strcmp(prev, name))
                return enevo__cfg_fail(x, k, "duplicate key '%s' in %s", name, path);
        }
        char sub[PATH_LEN];
        aug_join(sub, path, name);
        if (x->origin)
            enevo_config_origin_mark(x->origin, sub, ENEVO_FROM_FILE);
        if (kind == ENEVO_AUG_RESIZE) {
            int rc = fn_resize(x, v, sub, resize);
            if (rc)
                return rc;
            continue;
        }
        if (test && enevo_aug_is_random(kind))
            return enevo__cfg_fail(
                x, k,
                "%s: a random transform; the test images take only deterministic ones "
                "(resize, center_crop, padding, normalize)",
                sub);
        if (a->n == ENEVO_AUG_MAX)
            return enevo__cfg_fail(x, k, "%s: at most %d transforms", path, ENEVO_AUG_MAX);
        int rc = aug_op(x, kind, k, v, sub, &a->op[a->n]);
        if (rc)
            return rc;
        a->n++;
    }
    return 0;
}

int enevo__cfg_aug_train(struct ctx *x, yaml_node_t *val, const char *path, void *dst)
{
    struct enevo_config *c = dst;
    return aug_list_parse(x, val, path, &c->resize, &c->aug_train, false);
}

int enevo__cfg_aug_test(struct ctx *x, yaml_node_t *val, const char *path, void *dst)
{
    struct enevo_config *c = dst;
    x->test_node = val;
    return aug_list_parse(x, val, path, &x->test_resize, &c->aug_test, true);
}

