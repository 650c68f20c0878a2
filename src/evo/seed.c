/* Encoding a phenotype back into a genotype, to seed a run with a known
 * network (ENERGIZE's seed_model). Layers go to the modules in config
 * order: each layer is encoded with the current module's grammar rule, and
 * when that fails, with the next module's (so convs land in features and
 * the first fc in classification). The output layer is encoded with the
 * output rule, the learning entity with the macro rules. */
#include <stdlib.h>
#include <string.h>

#include "evo/evo_internal.h"

/* The user's own tokens are encoded, not the canonical phenotype's: a
 * grammar's constant terminal `momentum:0.9` must match the seed's
 * `momentum:0.9`, which the canonical form prints as 0.90000000000000002. */

static bool entity_start(const char *p, size_t n)
{
    return (n > 6 && !strncmp(p, "layer:", 6)) || (n > 9 && !strncmp(p, "learning:", 9)) ||
           (n > 16 && !strncmp(p, "model_partition:", 16));
}

/* The k-th entity of `text` whose first token starts with `prefix`, as the
 * phenotype parser reads tokens ('#' comments skipped); NULL when there
 * are fewer. *line gets its 1-based line. */
static const char *find_entity(const char *text, const char *prefix, int k, int *line)
{
    int ln = 1, seen = 0;
    for (const char *p = text; *p;) {
        if (*p == '\n') {
            ln++;
            p++;
        } else if (*p == '#') {
            p += strcspn(p, "\n");
        } else if (*p == ' ' || *p == '\t' || *p == '\r') {
            p++;
        } else {
            size_t n = strcspn(p, " \t\r\n#");
            if (entity_start(p, n) && !strncmp(p, prefix, strlen(prefix)) && seen++ == k) {
                *line = ln;
                return p;
            }
            p += n;
        }
    }
    *line = 0;
    return NULL;
}

/* The tokens of the entity at `at` up to the next entity, without input:
 * and comments, space-separated. Caller frees; NULL when out of memory. */
static char *entity_tokens(const char *at)
{
    char *out = malloc(strlen(at) + 1);
    if (!out)
        return NULL;
    size_t len = 0;
    bool first = true;
    for (const char *p = at; *p;) {
        if (*p == '#') {
            p += strcspn(p, "\n");
        } else if (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n') {
            p++;
        } else {
            size_t n = strcspn(p, " \t\r\n#");
            if (!first && entity_start(p, n))
                break;
            if (strncmp(p, "input:", 6)) {
                if (len)
                    out[len++] = ' ';
                memcpy(out + len, p, n);
                len += n;
            }
            first = false;
            p += n;
        }
    }
    out[len] = 0;
    return out;
}

#define SEED_FIX                                                                                   \
    "Fix: use tokens and values the grammar allows, pass --grammar with a grammar that "           \
    "derives the seed, or remove energize.seed_model (random networks of the grammar)"

/* The encoder's message without its "encode: " prefix. */
static const char *why(const char *e)
{
    return strncmp(e, "encode: ", 8) ? e : e + 8;
}

/* A seed entity the grammar cannot derive: where it is, which rule(s) were
 * tried and why they failed, and how to fix it. */
static int misfit(char *err, size_t errlen, const char *at, int line, const char *tokens,
                  const char *tried)
{
    /* The user's own line from the entity on. */
    if (!at)
        at = tokens;
    int n = (int)strcspn(at, "\n");
    return enevo_errf(
        err, errlen, ENEVO_EFORMAT,
        "seed_model.phenotype line %d '%.60s%s' does not fit the grammar: %.300s. " SEED_FIX, line,
        at, n > 60 ? "..." : "", tried);
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
    /* Module-local bookkeeping: the global id where each module starts. */
    int type = 0, start = 0;
    struct enevo_module mod = {.type = 0};
    for (int id = 0; id < p.n_layers && !rc; id++) {
        int ln;
        const char *at = find_entity(text, "layer:", id, &ln);
        char *tokens = at ? entity_tokens(at) : NULL;
        if (!at) {
            rc = enevo_errf(err, errlen, ENEVO_EFORMAT, "seed_model.phenotype: no layer %d", id);
            break;
        }
        if (!tokens) {
            rc = enevo_errf(err, errlen, ENEVO_ENOMEM, "out of memory");
            break;
        }
        const struct enevo_layer_spec *l = &p.layers[id];
        if (id == p.n_layers - 1) {
            rc = enevo_dsge_encode(s->g, s->output_sym, tokens, &out->output, err, errlen);
            if (rc == ENEVO_EFORMAT) {
                char tried[ENEVO_ERR_LEN];
                snprintf(tried, sizeof tried, "the output rule <%s> was tried: %.400s", c->output,
                         why(err));
                rc = misfit(err, errlen, at, ln, tokens, tried);
            }
            free(tokens);
            if (rc)
                break;
            if (mod.n_layers)
                rc = enevo_module_insert(out, out->n_modules, &mod);
            break;
        }
        struct enevo_dsge *d = NULL;
        char tried[ENEVO_ERR_LEN] = "";
        while (type < c->n_modules &&
               enevo_dsge_encode(s->g, s->module_sym[type], tokens, &d, err, errlen)) {
            size_t tl = strlen(tried);
            const char *w = why(err), *m = strstr(w, " matches ");
            snprintf(tried + tl, sizeof tried - tl, "%s<%s> %s%.200s", tl ? ", " : "",
                     c->modules[type].name, m ? "fails at " : "", m ? m + 9 : w);
            /* Not this module's rule: close the module, try the next type. */
            if (mod.n_layers && (rc = enevo_module_insert(out, out->n_modules, &mod)))
                break;
            enevo_module_free(&mod);
            start = id;
            mod.type = ++type;
        }
        if (!rc && type >= c->n_modules) {
            char what[ENEVO_ERR_LEN];
            snprintf(what, sizeof what,
                     "layer %d fits no module rule left (modules take layers in "
                     "config order); tried %.400s",
                     id, tried[0] ? tried : "none");
            rc = misfit(err, errlen, at, ln, tokens, what);
        }
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
        rc = enevo_module_insert_layer(&mod, mod.n_layers, g.dsge, c->modules[type].levels_back);
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
        const char *use = NULL, *at = NULL;
        int ln = 0;
        if (learning) {
            at = find_entity(text, "learning:", 0, &ln);
            if (!at) {
                rc = enevo_errf(err, errlen, ENEVO_EFORMAT,
                                "seed_model.phenotype has no learning: entity");
                break;
            }
            tokens = entity_tokens(at);
            if (!tokens) {
                rc = enevo_errf(err, errlen, ENEVO_ENOMEM, "out of memory");
                break;
            }
            use = tokens;
        } else if (p.has_partition) {
            snprintf(buf, sizeof buf, "model_partition:_ partition_point:%d", p.partition_point);
            use = buf;
        }
        if (use) {
            rc = enevo_dsge_encode(s->g, s->macro_sym[i], use, &out->macro[i], err, errlen);
            if (rc == ENEVO_EFORMAT) {
                char what[ENEVO_ERR_LEN];
                snprintf(what, sizeof what, "rule <%s> was tried: %.400s", c->macro[i], why(err));
                if (!at)
                    at = find_entity(text, "model_partition:", 0, &ln);
                rc = misfit(err, errlen, at, ln, use, what);
            }
        }
        if (!learning && (!use || rc) && rng) {
            rc = enevo_dsge_random(s->g, s->macro_sym[i], dyn, 1, rng, &out->macro[i]);
        }
        if (!rc)
            out->n_macro = i + 1;
        free(tokens);
    }
    enevo_module_free(&mod);
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
