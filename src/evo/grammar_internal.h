/* src/evo/grammar_internal.h — the grammar and DSGE structures shared by
 * grammar.c (parser, format) and dsge.c (genotypes). Callers outside
 * src/evo/ use enevo/grammar.h only.
 */
#ifndef ENEVO_EVO_GRAMMAR_INTERNAL_H
#define ENEVO_EVO_GRAMMAR_INTERNAL_H

#include "enevo/grammar.h"

enum enevo__attr_type {
    ENEVO__ATTR_INT,
    ENEVO__ATTR_FLOAT,
    ENEVO__ATTR_INT_POWER2, /* 2^k, k an integer in [lo, hi] */
    ENEVO__ATTR_INV_POWER2, /* 1/2^k, k an integer in [lo, hi] */
    ENEVO__ATTR__COUNT
};

enum enevo__sym_kind { ENEVO__SYM_NT, ENEVO__SYM_TERM, ENEVO__SYM_ATTR };

struct enevo__sym {
    int kind;
    int nt;     /* SYM_NT: rule index */
    char *text; /* SYM_NT: name; SYM_TERM: the token; SYM_ATTR: attribute name */
    int line, col;
    /* SYM_ATTR only */
    int type, n;
    double lo, hi;      /* for the power-of-two types: bounds of the exponent */
    int lo_dyn, hi_dyn; /* `_`: the bound comes from enevo_dyn_bound */
    int val_off;        /* index of its first value in the expansion's values */
};

struct enevo__prod {
    int n_syms;
    struct enevo__sym *syms;
    int n_values; /* sum of n over the attributes */
};

struct enevo__rule {
    char *name;
    int line, col;
    int n_prods;
    struct enevo__prod *prods;
    /* Length of the shortest derivation chain (1 = only terminals), used to
     * force termination when random derivations get deep. */
    int height;
};

struct enevo_grammar {
    int n_rules;
    struct enevo__rule *rules;
};

struct enevo__exp {
    int prod;
    int n_values;
    double *values; /* [n_values], the production's attributes in symbol order */
};

struct enevo__explist {
    int n, cap;
    struct enevo__exp *items;
};

struct enevo_dsge {
    int start;
    int n_nt;
    struct enevo__explist *lists; /* [n_nt] */
};

/* 1 when the two productions write the same symbols (a duplicate
 * alternative), so switching between them would change nothing. */
int enevo__prods_equal(const struct enevo__prod *a, const struct enevo__prod *b);
/* Height of a production: 1 + the largest height of its non-terminals. */
int enevo__prod_height(const struct enevo_grammar *g, const struct enevo__prod *p);
/* The shortest decimal that reads back as exactly v (as Python's repr()
 * writes floats, so texts match ENERGIZE's), without an exponent for
 * 1 <= |v| < 1e16. buf needs 32 bytes. */
void enevo__fmt_double(char *buf, size_t n, double v);
extern const char *const enevo__attr_type_names[ENEVO__ATTR__COUNT];
/* enevo_dsge_encode with a search budget of max_steps (enevo_dsge_encode:
 * 5 million, ~50 ms); the fuzzer (tests/fuzz/fuzz_grammar.c) uses a smaller
 * one so that a grammar that exhausts it costs little under sanitizers. */
int enevo__dsge_encode_steps(const struct enevo_grammar *g, int start, const char *text,
                             long max_steps, struct enevo_dsge **out, char *err, size_t errlen);

#endif
