/* fuzz_grammar: a BNF grammar (configs/default.grammar, ENERGIZE's): parse;
 * the canonical text, which must parse back to itself; then for a few start
 * symbols a random derivation, its phenotype text, a mutation, a clamp, the
 * checkpoint encoding read back, and the text encoded back into a
 * derivation. Draws are seeded from the input, so a crash replays. */
#include "common.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "enevo/grammar.h"
#include "enevo/rng.h"
#include "evo/grammar_internal.h"

/* A bound for every `_` attribute of g (at most 16 names). */
static int dyn_bounds(const struct enevo_grammar *g, struct enevo_dyn_bound *dyn, int max)
{
    int n = 0;
    for (int r = 0; r < g->n_rules; r++)
        for (int p = 0; p < g->rules[r].n_prods; p++)
            for (int s = 0; s < g->rules[r].prods[p].n_syms; s++) {
                const struct enevo__sym *a = &g->rules[r].prods[p].syms[s];
                if (a->kind != ENEVO__SYM_ATTR || !(a->lo_dyn || a->hi_dyn))
                    continue;
                int k = 0;
                while (k < n && strcmp(dyn[k].name, a->text))
                    k++;
                if (k == n && n < max)
                    dyn[n++] = (struct enevo_dyn_bound){a->text, 0, 3};
            }
    return n;
}

static void derive(const struct enevo_grammar *g, int start, const struct enevo_dyn_bound *dyn,
                   int n_dyn, enevo_rng *rng, bool encode)
{
    char err[ENEVO_ERR_LEN];
    struct enevo_dsge *d = NULL;
    if (enevo_dsge_random(g, start, dyn, n_dyn, rng, &d) || !d)
        return;
    char *text = NULL;
    if (enevo_dsge_decode(g, d, dyn, n_dyn, rng, &text) == 0 && text && encode) {
        struct enevo_dsge *e = NULL;
        if (enevo__dsge_encode_steps(g, start, text, 50000, &e, err, sizeof err) == 0)
            enevo_dsge_free(e);
    }
    free(text);
    enevo_dsge_mutate(g, d, dyn, n_dyn, rng);
    enevo_dsge_clamp(g, d, dyn, n_dyn, rng);
    text = NULL;
    if (enevo_dsge_decode(g, d, dyn, n_dyn, rng, &text) == 0)
        free(text);
    unsigned char *buf = NULL;
    size_t len = 0, cap = 0, pos = 0;
    if (enevo_dsge_write(d, &buf, &len, &cap) == 0) {
        struct enevo_dsge *back = NULL;
        if (enevo_dsge_read(g, buf, len, &pos, &back, err, sizeof err))
            fuzz_fail("a derivation's encoding does not read back", err);
        enevo_dsge_free(back);
    }
    free(buf);
    enevo_dsge_free(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_text(data, size);
    if (!text)
        return 0;
    char err[ENEVO_ERR_LEN];
    struct enevo_grammar *g = NULL;
    if (enevo_grammar_parse(text, "fuzz.grammar", &g, err, sizeof err) == 0 && g) {
        char *f = enevo_grammar_format(g);
        if (f) {
            struct enevo_grammar *h = NULL;
            if (enevo_grammar_parse(f, "canonical", &h, err, sizeof err))
                fuzz_fail("the canonical grammar does not parse back", err);
            char *f2 = enevo_grammar_format(h);
            if (f2 && strcmp(f, f2))
                fuzz_fail("the canonical grammar changes when parsed back", f2);
            free(f2);
            enevo_grammar_free(h);
            free(f);
        }
        struct enevo_dyn_bound dyn[16];
        int n_dyn = dyn_bounds(g, dyn, 16);
        enevo_rng rng;
        enevo_rng_seed(&rng, fuzz_hash(data, size), 0);
        /* Encoding is a bounded search: 5 million steps take 1.4 s under
         * the sanitizers when an ambiguous grammar exhausts them. Here the
         * budget is 50,000 (the give-up path included) and one input in
         * four encodes its first derivation, so the rate stays high. */
        bool encode = (fuzz_hash(data, size) & 3) == 0;
        for (int k = 0; k < 4 && g->n_rules > 0; k++)
            derive(g, k == 0 ? 0 : (int)enevo_rng_below(&rng, (uint32_t)g->n_rules), dyn, n_dyn,
                   &rng, encode && k == 0);
        enevo_grammar_free(g);
    }
    free(text);
    return 0;
}
