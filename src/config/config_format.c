/* The effective configuration as YAML: what a run directory keeps in
 * config.used.yaml. Canonical (every key, fixed order, %.17g numbers), so
 * format(parse(format(c))) == format(c) and a resume can tell an edited file
 * by its hash. The exceptions: keys newer than the format (device, tf32,
 * split_sizes, strategy and the multi-objective keys) are written only when
 * not at their defaults. */
#include <ctype.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "enevo/config.h"

struct out {
    char *s;
    size_t len, cap;
    bool oom;
};

static void emit(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void emit(struct out *o, const char *fmt, ...)
{
    va_list ap;
    for (;;) {
        va_start(ap, fmt);
        int n = vsnprintf(o->s ? o->s + o->len : NULL, o->s ? o->cap - o->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            o->oom = true;
            return;
        }
        if (o->s && o->len + (size_t)n < o->cap) {
            o->len += (size_t)n;
            return;
        }
        size_t cap = o->cap ? o->cap * 2 : 4096;
        while (cap < o->len + (size_t)n + 1)
            cap *= 2;
        char *s = realloc(o->s, cap);
        if (!s) {
            o->oom = true;
            return;
        }
        o->s = s;
        o->cap = cap;
    }
}

/* Whether s, written as it is, reads back as the same plain scalar in a
 * block or flow context. Every name enevo or a grammar writes passes (so
 * the canonical text, and the hash a resume checks, stay as they were);
 * anything else is quoted (emit_str). */
static bool plain_ok(const char *s)
{
    if (!isalnum((unsigned char)s[0]) && s[0] != '_' && s[0] != '.' && s[0] != '/')
        return false;
    for (const char *p = s; *p; p++)
        if (!isalnum((unsigned char)*p) && !strchr("_-.:/+@", *p))
            return false;
    return s[strlen(s) - 1] != ':';
}

/* A string as a YAML scalar: plain when plain_ok, else double-quoted with
 * escapes (code points outside printable ASCII as \uXXXX), so
 * parse(format(c)) gives back every name, whatever it holds. */
static void emit_str(struct out *o, const char *s)
{
    if (plain_ok(s)) {
        emit(o, "%s", s);
        return;
    }
    emit(o, "\"");
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        unsigned c = *p, n = 1;
        if (c >= 0xc2 && c < 0xe0 && (p[1] & 0xc0) == 0x80)
            c = (c & 0x1f) << 6 | (p[1] & 0x3fu), n = 2;
        else if (c >= 0xe0 && c < 0xf0 && (p[1] & 0xc0) == 0x80 && (p[2] & 0xc0) == 0x80)
            c = (c & 0x0f) << 12 | (p[1] & 0x3fu) << 6 | (p[2] & 0x3fu), n = 3;
        else if (c >= 0xf0 && c < 0xf5 && (p[1] & 0xc0) == 0x80 && (p[2] & 0xc0) == 0x80 &&
                 (p[3] & 0xc0) == 0x80)
            c = (c & 0x07) << 18 | (p[1] & 0x3fu) << 12 | (p[2] & 0x3fu) << 6 | (p[3] & 0x3fu),
            n = 4;
        if (c == '"' || c == '\\')
            emit(o, "\\%c", (int)c);
        else if (c >= 0x20 && c < 0x7f)
            emit(o, "%c", (int)c);
        else if (c < 0x10000)
            emit(o, "\\u%04x", c);
        else
            emit(o, "\\U%08x", c);
        p += n;
    }
    emit(o, "\"");
}

/* Whether a phenotype survives a literal block (`|`): its first non-empty
 * line must not start with a space (that would set the block's
 * indentation), and a control character other than a newline or tab is
 * refused or changed by YAML readers. */
static bool literal_ok(const char *s)
{
    const char *first = s + strspn(s, "\n");
    if (*first == ' ')
        return false;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if ((*p < 0x20 && *p != '\n' && *p != '\t') || *p == 0x7f)
            return false;
    return true;
}

/* One transform list: resize first (it acts at load), then the rest in
 * order, every parameter spelled out. */
static void emit_augment(struct out *o, const char *name, int resize,
                         const struct enevo_augment *a)
{
    emit(o, "      %s:\n", name);
    if (resize || !a->n)
        emit(o, "        resize:\n          size: %d\n", resize);
    for (int i = 0; i < a->n; i++) {
        const struct enevo_aug_op *p = &a->op[i];
        emit(o, "        %s:\n", enevo_aug_name(p->kind));
        switch (p->kind) {
        case ENEVO_AUG_RANDOM_CROP:
            emit(o, "          size: %d\n          padding: %d\n", p->size, p->padding);
            break;
        case ENEVO_AUG_CENTER_CROP:
            emit(o, "          size: %d\n", p->size);
            break;
        case ENEVO_AUG_PADDING:
            emit(o, "          padding: %d\n", p->padding);
            break;
        case ENEVO_AUG_HFLIP:
        case ENEVO_AUG_GRAYSCALE:
            emit(o, "          p: %.17g\n", p->p);
            break;
        case ENEVO_AUG_SOLARIZE:
            emit(o, "          threshold: %.17g\n          p: %.17g\n", p->a[0], p->p);
            break;
        case ENEVO_AUG_COLOR_JITTER:
            emit(o,
                 "          brightness: %.17g\n          contrast: %.17g\n"
                 "          saturation: %.17g\n          hue: %.17g\n",
                 p->a[0], p->a[1], p->a[2], p->a[3]);
            break;
        case ENEVO_AUG_BLUR:
            emit(o, "          kernel_size: %d\n          sigma: [%.17g, %.17g]\n", p->kernel,
                 p->a[0], p->a[1]);
            break;
        case ENEVO_AUG_RESIZED_CROP:
            emit(o,
                 "          size: %d\n          scale: [%.17g, %.17g]\n"
                 "          ratio: [%.17g, %.17g]\n",
                 p->size, p->a[0], p->a[1], p->a[2], p->a[3]);
            break;
        case ENEVO_AUG_NORMALIZE:
            emit(o, "          mean: [");
            for (int k = 0; k < p->n_norm; k++)
                emit(o, "%s%.9g", k ? ", " : "", p->mean[k]);
            emit(o, "]\n          std: [");
            for (int k = 0; k < p->n_norm; k++)
                emit(o, "%s%.9g", k ? ", " : "", p->std[k]);
            emit(o, "]\n");
            break;
        default:
            break;
        }
    }
}


char *enevo_config_format(const struct enevo_config *c)
{
    struct out o = {0};
    const struct enevo_mutation_cfg *m = &c->mutation;
    emit(&o, "# The effective configuration of this run, written by enevo. A resume checks\n"
             "# that it is unchanged: copy it elsewhere to start a variant.\n");
    emit(&o, "evolutionary:\n  generations: %d\n  lambda: %d\n  max_epochs: %ld\n",
         c->generations, c->lambda, c->max_epochs);
    emit(&o, "  seed: %llu\n  reevaluate_parent: %s\n  max_params: %ld\n  max_mflops: %.17g\n",
         (unsigned long long)c->seed, c->reevaluate_parent ? "true" : "false", c->max_params,
         c->max_mflops);
    emit(&o,
         "  mutation:\n    add_connection: %.17g\n    remove_connection: %.17g\n"
         "    add_layer: %.17g\n    reuse_layer: %.17g\n    remove_layer: %.17g\n"
         "    reuse_module: %.17g\n    remove_module: %.17g\n    dsge_layer: %.17g\n"
         "    macro_layer: %.17g\n    train_longer: %.17g\n",
         m->add_connection, m->remove_connection, m->add_layer, m->reuse_layer, m->remove_layer,
         m->reuse_module, m->remove_module, m->dsge_layer, m->macro_layer, m->train_longer);
    if (c->n_terms == 0) {
        emit(&o, "  fitness_metric: ");
        emit_str(&o, c->fitness_metric);
        emit(&o, "\n");
    } else {
        emit(&o, "  fitness_function:\n");
        for (int t = 0; t < c->n_terms; t++) {
            const struct enevo_fitness_term *f = &c->terms[t];
            emit(&o, "    - metric: ");
            emit_str(&o, f->metric);
            emit(&o, "\n      objective: %s\n      weight: %.17g\n",
                 f->maximize ? "maximize" : "minimize", f->weight);
            if (f->n_conds)
                emit(&o, "      conditions:\n");
            for (int k = 0; k < f->n_conds; k++) {
                emit(&o, "        - metric: ");
                emit_str(&o, f->conds[k].metric);
                emit(&o, "\n          type: %s\n          value: %.17g\n",
                     f->conds[k].greater_than ? "greater_than" : "less_than", f->conds[k].value);
            }
        }
    }
    /* Newer keys, left out at their defaults (the memory limit's auto, the
     * (1+λ) strategy), so earlier run directories format and hash as they
     * did. */
    if (c->max_memory_mb > 0)
        emit(&o, "  max_memory_mb: %.17g\n", c->max_memory_mb);
    if (c->strategy == ENEVO_STRATEGY_NSGA2)
        emit(&o, "  strategy: nsga2\n");
    if (c->population)
        emit(&o, "  population: %d\n", c->population);
    if (c->n_objectives)
        emit(&o, "  objectives:\n");
    for (int i = 0; i < c->n_objectives; i++) {
        emit(&o, "    - metric: ");
        emit_str(&o, c->objectives[i].metric);
        emit(&o, "\n      objective: %s\n", c->objectives[i].maximize ? "maximize" : "minimize");
    }
    if (c->n_constraints)
        emit(&o, "  constraints:\n");
    for (int k = 0; k < c->n_constraints; k++) {
        emit(&o, "    - metric: ");
        emit_str(&o, c->constraints[k].metric);
        emit(&o, "\n      type: %s\n      value: %.17g\n",
             c->constraints[k].greater_than ? "greater_than" : "less_than",
             c->constraints[k].value);
    }
    if (c->n_hv_ref) {
        emit(&o, "  hypervolume_reference: [");
        for (int i = 0; i < c->n_hv_ref; i++)
            emit(&o, "%s%.17g", i ? ", " : "", c->hv_ref[i]);
        emit(&o, "]\n");
    }
    emit(&o, "network:\n  architecture:\n    reuse_layer: %.17g\n    macro_structure: [",
         c->reuse_layer);
    for (int i = 0; i < c->n_macro; i++) {
        emit(&o, "%s", i ? ", " : "");
        emit_str(&o, c->macro[i]);
    }
    emit(&o, "]\n    output: ");
    emit_str(&o, c->output);
    emit(&o, "\n    modules:\n");
    for (int i = 0; i < c->n_modules; i++) {
        const struct enevo_module_cfg *mc = &c->modules[i];
        emit(&o, "      - name: ");
        emit_str(&o, mc->name);
        emit(&o, "\n        network_structure_init: [");
        for (int k = 0; k < mc->n_init; k++)
            emit(&o, "%s%d", k ? ", " : "", mc->init[k]);
        emit(&o, "]\n        network_structure: [%d, %d]\n        levels_back: %d\n", mc->min,
             mc->max, mc->levels_back);
    }
    emit(&o,
         "  learning:\n    data_splits:\n      evo_train: %.17g\n      evo_validation: %.17g\n"
         "      evo_test: %.17g\n    default_train_time: %.17g\n    default_train_epochs: %d\n"
         "    train_subset: %d\n    dataset: \"",
         c->split_train, c->split_val, c->split_fit, c->default_train_time,
         c->default_train_epochs, c->train_subset);
    /* A YAML double-quoted scalar: escape backslashes and quotes. */
    for (const char *p = c->dataset; *p; p++)
        emit(&o, "%s%c", *p == '"' || *p == '\\' ? "\\" : "", *p);
    emit(&o, "\"\n");
    /* Left out at its default, like device and tf32 below. */
    if (c->split_method)
        emit(&o, "    split_sizes: energize\n");
    if (c->resize || c->aug_train.n || c->aug_test.n) {
        emit(&o, "    augmentation:\n");
        emit_augment(&o, "train", c->resize, &c->aug_train);
        if (c->aug_test.n)
            emit_augment(&o, "test", c->resize, &c->aug_test);
    }
    emit(&o, "energize:\n  model_partition: %s\n  partition_weight: %.17g\n",
         c->model_partition ? "true" : "false", c->partition_weight);
    if (c->seed_phenotype[0] && !literal_ok(c->seed_phenotype)) {
        emit(&o, "  seed_model:\n    phenotype: ");
        emit_str(&o, c->seed_phenotype);
        emit(&o, "\n");
    } else if (c->seed_phenotype[0]) {
        /* A literal block keeps the phenotype's lines as they are. */
        emit(&o, "  seed_model:\n    phenotype: |\n");
        const char *p = c->seed_phenotype;
        while (*p) {
            const char *nl = strchr(p, '\n');
            int n = nl ? (int)(nl - p) : (int)strlen(p);
            emit(&o, "      %.*s\n", n, p);
            p += n + (nl ? 1 : 0);
        }
    } else {
        /* Said, not left out: read over the built-in default (resume
         * does), a missing block would bring back its seed. */
        emit(&o, "  seed_model: null\n");
    }
    emit(&o, "energy:\n  meter: ");
    emit_str(&o, c->meter);
    emit(&o,
         "\n  batch_size: %d\n  repetitions: %d\n  window_seconds: %.17g\n"
         "  idle_seconds: %.17g\n  nvml_device: %d\n  archive_size: %d\n  reuse_selection: %s\n"
         "  model:\n    e_flop_pj: %.17g\n    e_byte_pj: %.17g\n    static_w: %.17g\n"
         "    peak_gflops: %.17g\n    bandwidth_gbs: %.17g\n",
         c->energy_batch, c->energy_repetitions, c->energy_window_s, c->energy_idle_s,
         c->nvml_device, c->archive_size, c->reuse_by_power ? "power" : "energy", c->e_flop_pj,
         c->e_byte_pj, c->static_w, c->peak_gflops, c->bandwidth_gbs);
    emit(&o, "threads: %d\n", c->threads);
    /* Left out at their defaults, so a run directory written before these
     * keys existed formats (and hashes) as it did, and still resumes. */
    if (strcmp(c->device, "cpu")) {
        emit(&o, "device: ");
        emit_str(&o, c->device);
        emit(&o, "\n");
    }
    if (c->tf32)
        emit(&o, "tf32: true\n");
    if (o.oom) {
        free(o.s);
        return NULL;
    }
    return o.s;
}
