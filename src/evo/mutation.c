/* ENERGIZE's mutation operators, applied in its order (ENERGIZE.md §2.3).
 * Differences, on purpose: layer copies are deep copies (ENERGIZE shares
 * the object, so mutating one silently mutated its twins), and a module is
 * never removed below one module or a layer below the module's minimum. */
#include <string.h>

#include "evo/evo_internal.h"

static bool coin(enevo_rng *r, double p)
{
    return p > 0 && enevo_rng_double(r) < p;
}

static unsigned add_layers(const struct enevo_evo_space *s, struct enevo_genotype *gt,
                           enevo_rng *r)
{
    const struct enevo_mutation_cfg *mu = &s->cfg->mutation;
    unsigned applied = 0;
    for (int m = 0; m < gt->n_modules; m++) {
        struct enevo_module *mod = &gt->modules[m];
        const struct enevo_module_cfg *mc = &s->cfg->modules[mod->type];
        int tries = 1 + (int)enevo_rng_below(r, 2);
        for (int t = 0; t < tries; t++) {
            if (!coin(r, mu->add_layer) || mod->n_layers >= mc->max)
                continue;
            struct enevo_dsge *d = NULL;
            if (mod->n_layers > 0 && coin(r, mu->reuse_layer)) {
                d = enevo_dsge_copy(mod->layers[enevo_rng_below(r, (uint32_t)mod->n_layers)].dsge);
                applied |= ENEVO_MUT_REUSE_LAYER;
            } else if (enevo_dsge_random(s->g, s->module_sym[mod->type], NULL, 0, r, &d)) {
                d = NULL;
            }
            if (!d)
                continue;
            int pos = (int)enevo_rng_below(r, (uint32_t)mod->n_layers + 1);
            if (enevo_module_insert_layer(mod, pos, d, mc->levels_back)) {
                enevo_dsge_free(d);
                continue;
            }
            applied |= ENEVO_MUT_ADD_LAYER;
        }
    }
    return applied;
}

static unsigned remove_layers(const struct enevo_evo_space *s, struct enevo_genotype *gt,
                              enevo_rng *r)
{
    unsigned applied = 0;
    for (int m = 0; m < gt->n_modules; m++) {
        struct enevo_module *mod = &gt->modules[m];
        const struct enevo_module_cfg *mc = &s->cfg->modules[mod->type];
        int tries = 1 + (int)enevo_rng_below(r, 2);
        for (int t = 0; t < tries; t++) {
            if (!coin(r, s->cfg->mutation.remove_layer) || mod->n_layers <= mc->min ||
                mod->n_layers <= 1)
                continue;
            enevo_module_remove_layer(mod, (int)enevo_rng_below(r, (uint32_t)mod->n_layers),
                                      mc->levels_back);
            applied |= ENEVO_MUT_REMOVE_LAYER;
        }
    }
    return applied;
}

static unsigned connections(const struct enevo_evo_space *s, struct enevo_genotype *gt,
                            enevo_rng *r)
{
    const struct enevo_mutation_cfg *mu = &s->cfg->mutation;
    unsigned applied = 0;
    for (int m = 0; m < gt->n_modules; m++) {
        struct enevo_module *mod = &gt->modules[m];
        int lb = s->cfg->modules[mod->type].levels_back;
        for (int i = 1; i < mod->n_layers; i++) {
            struct enevo_layer_gene *l = &mod->layers[i];
            if (coin(r, mu->add_connection)) {
                /* Candidates: [max(0, i - levels_back), i - 1), not yet inputs. */
                int cand[64], nc = 0;
                for (int j = i - lb > 0 ? i - lb : 0; j < i - 1 && nc < 64; j++) {
                    bool have = false;
                    for (int k = 0; k < l->n_in; k++)
                        have |= l->in[k] == j;
                    if (!have)
                        cand[nc++] = j;
                }
                if (nc && l->n_in < ENEVO_MAX_INPUTS) {
                    l->in[l->n_in++] = cand[enevo_rng_below(r, (uint32_t)nc)];
                    applied |= ENEVO_MUT_ADD_CONNECTION;
                }
            }
            if (coin(r, mu->remove_connection) && l->n_in > 1) {
                /* Never the sequential input (index 0 after repair). */
                int k = 1 + (int)enevo_rng_below(r, (uint32_t)l->n_in - 1);
                l->in[k] = l->in[--l->n_in];
                applied |= ENEVO_MUT_REMOVE_CONNECTION;
            }
        }
        enevo_module_repair(mod, lb);
    }
    return applied;
}

unsigned enevo_mutate(const struct enevo_evo_space *s, struct enevo_genotype *gt, enevo_rng *r,
                      enevo_reuse_module_fn reuse, void *reuse_ctx)
{
    const struct enevo_mutation_cfg *mu = &s->cfg->mutation;
    if (coin(r, mu->train_longer))
        return ENEVO_MUT_TRAIN_LONGER;
    unsigned applied = 0;
    if (coin(r, mu->reuse_module) && reuse && reuse(reuse_ctx, s, gt, r) > 0)
        applied |= ENEVO_MUT_REUSE_MODULE;
    if (coin(r, mu->remove_module) && gt->n_modules > 1) {
        int m = (int)enevo_rng_below(r, (uint32_t)gt->n_modules);
        enevo_module_free(&gt->modules[m]);
        memmove(gt->modules + m, gt->modules + m + 1,
                sizeof *gt->modules * (size_t)(gt->n_modules - m - 1));
        gt->n_modules--;
        applied |= ENEVO_MUT_REMOVE_MODULE;
    }
    applied |= add_layers(s, gt, r);
    applied |= remove_layers(s, gt, r);
    for (int m = 0; m < gt->n_modules; m++)
        for (int i = 0; i < gt->modules[m].n_layers; i++)
            if (coin(r, mu->dsge_layer)) {
                enevo_dsge_mutate(s->g, gt->modules[m].layers[i].dsge, NULL, 0, r);
                applied |= ENEVO_MUT_DSGE_LAYER;
            }
    applied |= connections(s, gt, r);
    /* Macro rules; an attribute bounded by the layer count (partition_point)
     * is forced back in range when layers were removed. */
    int L = enevo_genotype_layer_count(gt);
    struct enevo_dyn_bound dyn[1] = {{"partition_point", 0, L > 1 ? L - 1 : 0}};
    for (int i = 0; i < gt->n_macro; i++) {
        bool forced = enevo_dsge_clamp(s->g, gt->macro[i], dyn, 1, r) > 0;
        if (coin(r, mu->macro_layer)) {
            enevo_dsge_mutate(s->g, gt->macro[i], dyn, 1, r);
            forced = true;
        }
        if (forced)
            applied |= ENEVO_MUT_MACRO_LAYER;
    }
    return applied;
}

const char *enevo_mutation_names(unsigned mask, char *buf, size_t len)
{
    static const char *const names[] = {
        "train_longer", "reuse_module", "remove_module",  "add_layer",         "reuse_layer",
        "remove_layer", "dsge_layer",   "add_connection", "remove_connection", "macro_layer",
    };
    buf[0] = 0;
    size_t used = 0;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (!(mask & (1u << i)))
            continue;
        int n = snprintf(buf + used, len - used, "%s%s", used ? "+" : "", names[i]);
        if (n < 0 || (size_t)n >= len - used)
            break;
        used += (size_t)n;
    }
    if (!used)
        snprintf(buf, len, "%s", mask ? "?" : "none");
    return buf;
}
