/* enevo/grammar.h — ENERGIZE/Fast-DENSER BNF grammars and DSGE genotypes.
 *
 *     struct enevo_grammar *g;
 *     char err[ENEVO_ERR_LEN];
 *     if (enevo_grammar_load("energize.grammar", &g, err, sizeof err)) ...
 *     int features = enevo_grammar_symbol(g, "features");
 *     enevo_rng r; enevo_rng_seed(&r, 1, ENEVO_STREAM_EVO);
 *     struct enevo_dsge *layer;
 *     enevo_dsge_random(g, features, NULL, 0, &r, &layer);
 *     char *text;                                  // "layer:conv out_channels:74 ..."
 *     enevo_dsge_decode(g, layer, NULL, 0, &r, &text);
 *     enevo_dsge_mutate(g, layer, NULL, 0, &r);   // DSGE mutation, in place
 *     free(text); enevo_dsge_free(layer); enevo_grammar_free(g);
 *
 * Syntax, one rule per line: `<nt> ::= alt | alt ...`; an alternative is a
 * list of symbols: `<x>` (a non-terminal), `key:value` (a terminal), or
 * `[name,type,n,min,max]` (an attribute: n values of type int, float,
 * int_power2 (2^k, k in [min,max]) or inv_power2 (1/2^k)); `_` as min or
 * max is a dynamic bound supplied when the attribute is generated. An
 * alternative listed twice counts twice. Blank lines and lines starting
 * with '#' are ignored.
 *
 * A DSGE genotype (struct enevo_dsge) stores, per non-terminal, the ordered
 * list of expansions used in a depth-first derivation: the production index
 * and the values of its attributes. Decoding consumes them in order; a
 * non-terminal that runs out draws a new random expansion (appended), and
 * expansions left over are dropped (the genotype is repaired in place).
 */
#ifndef ENEVO_GRAMMAR_H
#define ENEVO_GRAMMAR_H

#include "enevo/api.h"

#include <stddef.h>
#include <stdint.h>

#include "enevo/error.h"
#include "enevo/rng.h"

struct enevo_grammar;
struct enevo_dsge;

/* Bounds for `_` in attributes, by attribute name (e.g. partition_point). */
struct enevo_dyn_bound {
    const char *name;
    double lo, hi;
};

/* Parse a grammar. Errors give "source:line:col: what was expected". Also
 * rejected: a non-terminal used but never defined (naming it and where it
 * is used), a rule defined twice, bad attribute types or bounds (min > max),
 * and unbounded recursion (a non-terminal that can never terminate). */
ENEVO_API int enevo_grammar_parse(const char *text, const char *source, struct enevo_grammar **out,
                                  char *err, size_t errlen);
ENEVO_API int enevo_grammar_load(const char *path, struct enevo_grammar **out, char *err,
                                 size_t errlen);
ENEVO_API void enevo_grammar_free(struct enevo_grammar *g);
/* Index of non-terminal `name` (without <>), or -1. */
ENEVO_API int enevo_grammar_symbol(const struct enevo_grammar *g, const char *name);
/* The grammar's canonical text (for run directories), malloc'd. */
ENEVO_API char *enevo_grammar_format(const struct enevo_grammar *g);

/* A random derivation of `start`. Missing dynamic bounds are an error. */
ENEVO_API int enevo_dsge_random(const struct enevo_grammar *g, int start,
                                const struct enevo_dyn_bound *dyn, int n_dyn, enevo_rng *rng,
                                struct enevo_dsge **out);
/* The phenotype text of the derivation (terminals and attributes, space
 * separated: "layer:conv out_channels:32 kernel_size:3 ... bias:True");
 * ints print as integers, floats as the shortest decimal that reads back
 * exactly (so a seeded ENERGIZE phenotype decodes to its own digits). Repairs the genotype as
 * described above (draws from rng only when it has to). */
ENEVO_API int enevo_dsge_decode(const struct enevo_grammar *g, struct enevo_dsge *d,
                                const struct enevo_dyn_bound *dyn, int n_dyn, enevo_rng *rng,
                                char **text);
/* ENERGIZE's DSGE mutation: pick a random non-terminal occurrence of the
 * derivation; switch it to a different production (weight 1, if it has
 * alternatives) or re-draw one attribute value until it changes (weight 2,
 * if it has attributes). Returns 0 (also when nothing could change). */
ENEVO_API int enevo_dsge_mutate(const struct enevo_grammar *g, struct enevo_dsge *d,
                                const struct enevo_dyn_bound *dyn, int n_dyn, enevo_rng *rng);
/* Re-draw every attribute named `name` within new bounds if out of them
 * (e.g. partition_point after a layer was removed). Returns how many changed. */
ENEVO_API int enevo_dsge_clamp(const struct enevo_grammar *g, struct enevo_dsge *d,
                               const struct enevo_dyn_bound *dyn, int n_dyn, enevo_rng *rng);
/* Encode: find a derivation of `start` whose text has exactly the tokens of
 * `text` (order as the grammar writes them; attribute values parsed). For
 * seeding a run with a known phenotype. ENEVO_EFORMAT if none matches. */
ENEVO_API int enevo_dsge_encode(const struct enevo_grammar *g, int start, const char *text,
                                struct enevo_dsge **out, char *err, size_t errlen);
/* Deep copy (never shares memory with the original). */
ENEVO_API struct enevo_dsge *enevo_dsge_copy(const struct enevo_dsge *d);
ENEVO_API void enevo_dsge_free(struct enevo_dsge *d);
ENEVO_API int enevo_dsge_start(const struct enevo_dsge *d);
/* Serialise for checkpoints: appends to a growing buffer (*buf, *len, *cap
 * managed with realloc); read back with enevo_dsge_read, which checks every
 * index against the grammar. */
ENEVO_API int enevo_dsge_write(const struct enevo_dsge *d, unsigned char **buf, size_t *len,
                               size_t *cap);
ENEVO_API int enevo_dsge_read(const struct enevo_grammar *g, const unsigned char *buf, size_t len,
                              size_t *pos, struct enevo_dsge **out, char *err, size_t errlen);

#endif
