/* Encoding a phenotype back into a genotype, to seed a run with a known
 * network (ENERGIZE's seed_model). Layers go to the modules in config
 * order: each layer is encoded with the current module's grammar rule, and
 * when that fails, with the next module's (so convs land in features and
 * the first fc in classification). The output layer is encoded with the
 * output rule, the learning entity with the macro rules. */
#include <stdlib.h>
#include <string.h>

#include "evo/evo_internal.h"

/* One line of the canonical phenotype without its " input:..." token. */
static char *strip_input(const char *line, size_t n)
{
    char *s = malloc(n + 1);
    if (!s)
        return NULL;
    memcpy(s, line, n);
    s[n] = 0;
    char *in = strstr(s, " input:");
    if (in)
        *in = 0;
    return s;
}

int enevo_genotype_encode(const struct enevo_evo_space *s, const char *text, enevo_rng *rng,
                          struct enevo_genotype *out, char *err, size_t errlen)
{
    const struct enevo_config *c = s->cfg;
    memset(out, 0, sizeof *out);
    struct enevo_phenotype p;
    int rc = enevo_phenotype_parse(text, "seed_model.phenotype", &p, err, errlen);
    if (rc)
        return rc;
    char *canon = enevo_phenotype_format(&p);
    if (!canon) {
        enevo_phenotype_free(&p);
        return enevo_errf(err, errlen, ENEVO_ENOMEM, "out of memory");
    }
    /* Module-local bookkeeping: the global id where each module starts. */
    int type = 0, start = 0;
    struct enevo_module mod = {.type = 0};
    const char *line = canon;
    for (int id = 0; id < p.n_layers && !rc; id++) {
        const char *nl = strchr(line, '\n');
        size_t n = nl ? (size_t)(nl - line) : strlen(line);
        char *tokens = strip_input(line, n);
        line += n + (nl ? 1 : 0);
        if (!tokens) {
            rc = enevo_errf(err, errlen, ENEVO_ENOMEM, "out of memory");
            break;
        }
        const struct enevo_layer_spec *l = &p.layers[id];
        if (id == p.n_layers - 1) {
            rc = enevo_dsge_encode(s->g, s->output_sym, tokens, &out->output, err, errlen);
            free(tokens);
            if (rc)
                break;
            if (mod.n_layers)
                rc = enevo_module_insert(out, out->n_modules, &mod);
            break;
        }
        struct enevo_dsge *d = NULL;
        while (type < c->n_modules &&
               enevo_dsge_encode(s->g, s->module_sym[type], tokens, &d, err, errlen)) {
            /* Not this module's rule: close the module, try the next type. */
            if (mod.n_layers && (rc = enevo_module_insert(out, out->n_modules, &mod)))
                break;
            enevo_module_free(&mod);
            start = id;
            mod.type = ++type;
        }
        if (!rc && type >= c->n_modules)
            rc = enevo_errf(err, errlen, ENEVO_EFORMAT,
                            "seed_model.phenotype: layer %d (%s) fits no module of the config's "
                            "grammar",
                            id, tokens);
        free(tokens);
        if (rc)
            break;
        /* Inputs become module-local; the first must be the previous layer. */
        struct enevo_layer_gene g = {.dsge = d};
        for (int k = 0; k < l->n_inputs; k++) {
            int local = l->inputs[k] < start ? -1 : l->inputs[k] - start;
            if (k == 0 && local != mod.n_layers - 1) {
                rc = enevo_errf(err, errlen, ENEVO_EFORMAT,
                                "seed_model.phenotype: layer %d must take the previous layer as "
                                "its first input",
                                id);
                break;
            }
            g.in[g.n_in++] = local;
        }
        if (rc) {
            enevo_dsge_free(d);
            break;
        }
        rc = enevo_module_insert_layer(&mod, mod.n_layers, g.dsge,
                                       c->modules[type].levels_back);
        if (!rc) {
            struct enevo_layer_gene *dst = &mod.layers[mod.n_layers - 1];
            dst->n_in = g.n_in;
            memcpy(dst->in, g.in, sizeof g.in);
            enevo_module_repair(&mod, c->modules[type].levels_back);
        }
    }
    /* The macro rules: learning from the learning entity; model_partition
     * from the partition entity in ENERGIZE's spelling, or drawn at random
     * (within [0, L-1]) when the seed has none. */
    int L = 0;
    for (int m = 0; m < out->n_modules; m++)
        L += out->modules[m].n_layers;
    struct enevo_dyn_bound dyn[1] = {{"partition_point", 0, L > 1 ? L - 1 : 0}};
    for (int i = 0; !rc && i < c->n_macro; i++) {
        bool learning = strcmp(c->macro[i], "model_partition") != 0;
        char buf[64];
        char *tokens = NULL;
        const char *use = NULL;
        if (learning) {
            const char *at = strstr(canon, "learning:");
            if (!at) {
                rc = enevo_errf(err, errlen, ENEVO_EFORMAT,
                                "seed_model.phenotype has no learning: entity");
                break;
            }
            tokens = strip_input(at, strcspn(at, "\n"));
            use = tokens;
        } else if (p.has_partition) {
            snprintf(buf, sizeof buf, "model_partition:_ partition_point:%d", p.partition_point);
            use = buf;
        }
        if (use)
            rc = enevo_dsge_encode(s->g, s->macro_sym[i], use, &out->macro[i], err, errlen);
        if (!learning && (!use || rc) && rng) {
            rc = enevo_dsge_random(s->g, s->macro_sym[i], dyn, 1, rng, &out->macro[i]);
        }
        if (!rc)
            out->n_macro = i + 1;
        free(tokens);
    }
    enevo_module_free(&mod);
    free(canon);
    enevo_phenotype_free(&p);
    if (!rc && out->n_modules == 0)
        rc = enevo_errf(err, errlen, ENEVO_EFORMAT, "seed_model.phenotype has no hidden layers");
    if (!rc) {
        for (int m = 0; m < out->n_modules; m++) {
            const struct enevo_module_cfg *mc = &c->modules[out->modules[m].type];
            if (out->modules[m].n_layers > mc->max || out->modules[m].n_layers < mc->min)
                rc = enevo_errf(err, errlen, ENEVO_EFORMAT,
                                "seed_model.phenotype: module %s gets %d layers, outside [%d, %d]",
                                mc->name, out->modules[m].n_layers, mc->min, mc->max);
        }
    }
    if (rc)
        enevo_genotype_free(out);
    return rc;
}
