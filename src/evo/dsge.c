/* src/evo/dsge.c — DSGE genotypes: random derivation, decode with repair,
 * ENERGIZE's dsge mutation, dynamic-bound clamping, encode (phenotype text
 * back to a genotype) and a binary serialisation for checkpoints.
 *
 * Everything random goes through the one decoder: a genotype with empty
 * lists decodes into a fresh random derivation, and a mutated genotype is
 * repaired by decoding it again.
 */
#include "evo/grammar_internal.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Past this depth random draws only take productions of minimal height, so
 * recursive grammars terminate; decoding stored genotypes deeper than
 * MAX_DEPTH is refused rather than overflowing the C stack. */
#define DEEP 32
#define MAX_DEPTH 4000
/* A value with a one-point range cannot change; tries before giving up. */
#define REDRAW_TRIES 100
/* Backtracking budget for encode (steps of the search). */
#define ENCODE_STEPS 5000000L
#define DSGE_MAGIC 0x31475344u /* "DSG1" */

/* ---- genotype memory ------------------------------------------------------ */

static void list_truncate(struct enevo__explist *l, int n)
{
    for (int i = n; i < l->n; i++)
        free(l->items[i].values);
    if (n < l->n)
        l->n = n;
}

void enevo_dsge_free(struct enevo_dsge *d)
{
    if (!d)
        return;
    for (int i = 0; i < d->n_nt; i++) {
        list_truncate(&d->lists[i], 0);
        free(d->lists[i].items);
    }
    free(d->lists);
    free(d);
}

static struct enevo_dsge *dsge_new(int n_nt, int start)
{
    struct enevo_dsge *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->lists = calloc((size_t)n_nt, sizeof *d->lists);
    if (!d->lists) {
        free(d);
        return NULL;
    }
    d->n_nt = n_nt;
    d->start = start;
    return d;
}

/* Append an expansion with room for n_values (zeroed); NULL on OOM. The
 * returned pointer is valid until the next push onto the same list. */
static struct enevo__exp *list_push(struct enevo__explist *l, int prod, int n_values)
{
    if (l->n == l->cap) {
        int nc = l->cap ? l->cap * 2 : 4;
        struct enevo__exp *p = realloc(l->items, (size_t)nc * sizeof *p);
        if (!p)
            return NULL;
        l->items = p;
        l->cap = nc;
    }
    double *v = NULL;
    if (n_values > 0 && !(v = calloc((size_t)n_values, sizeof *v)))
        return NULL;
    struct enevo__exp *e = &l->items[l->n++];
    e->prod = prod;
    e->n_values = n_values;
    e->values = v;
    return e;
}

struct enevo_dsge *enevo_dsge_copy(const struct enevo_dsge *d)
{
    if (!d)
        return NULL;
    struct enevo_dsge *c = dsge_new(d->n_nt, d->start);
    if (!c)
        return NULL;
    for (int i = 0; i < d->n_nt; i++)
        for (int k = 0; k < d->lists[i].n; k++) {
            const struct enevo__exp *e = &d->lists[i].items[k];
            struct enevo__exp *ce = list_push(&c->lists[i], e->prod, e->n_values);
            if (!ce) {
                enevo_dsge_free(c);
                return NULL;
            }
            if (e->n_values)
                memcpy(ce->values, e->values, (size_t)e->n_values * sizeof *e->values);
        }
    return c;
}

int enevo_dsge_start(const struct enevo_dsge *d)
{
    return d ? d->start : -1;
}

/* ---- attribute values ------------------------------------------------------ */

static const struct enevo_dyn_bound *find_dyn(const char *name, const struct enevo_dyn_bound *dyn,
                                              int n_dyn)
{
    for (int i = 0; i < n_dyn; i++)
        if (dyn[i].name && !strcmp(dyn[i].name, name))
            return &dyn[i];
    return NULL;
}

/* Current bounds of an attribute (of the exponent for the power-of-two
 * types). ENEVO_EINVAL when a `_` bound was not supplied or the range is
 * empty. */
static int attr_bounds(const struct enevo__sym *a, const struct enevo_dyn_bound *dyn, int n_dyn,
                       double *lo, double *hi)
{
    *lo = a->lo;
    *hi = a->hi;
    if (a->lo_dyn || a->hi_dyn) {
        const struct enevo_dyn_bound *b = find_dyn(a->text, dyn, n_dyn);
        if (!b)
            return ENEVO_EINVAL;
        if (a->lo_dyn)
            *lo = b->lo;
        if (a->hi_dyn)
            *hi = b->hi;
    }
    if (a->type != ENEVO__ATTR_FLOAT) {
        *lo = ceil(*lo);
        *hi = floor(*hi);
    }
    if (!isfinite(*lo) || !isfinite(*hi) || *lo > *hi)
        return ENEVO_EINVAL;
    return 0;
}

static double draw_int(double lo, double hi, enevo_rng *rng)
{
    double span = hi - lo + 1;
    if (span <= 4294967295.0)
        return lo + (double)enevo_rng_below(rng, (uint32_t)span);
    return lo + floor(enevo_rng_double(rng) * span);
}

static double draw_value(const struct enevo__sym *a, double lo, double hi, enevo_rng *rng)
{
    switch (a->type) {
    case ENEVO__ATTR_FLOAT:
        return lo + (hi - lo) * enevo_rng_double(rng);
    case ENEVO__ATTR_INT_POWER2:
        return ldexp(1.0, (int)draw_int(lo, hi, rng));
    case ENEVO__ATTR_INV_POWER2:
        return ldexp(1.0, -(int)draw_int(lo, hi, rng));
    default:
        return draw_int(lo, hi, rng);
    }
}

/* The exponent k of v = 2^k, or 0 with *ok = 0 when v is no power of two. */
static int log2_exact(double v, int *ok)
{
    int e;
    double m = frexp(v, &e);
    *ok = v > 0 && m == 0.5;
    return e - 1;
}

/* Whether v is a legal value of the attribute within [lo, hi]; a bound is
 * ignored where its flag in use_lo/use_hi is 0 (dynamic sides in encode). */
static int value_ok(const struct enevo__sym *a, double v, double lo, double hi, int use_lo,
                    int use_hi)
{
    if (!isfinite(v))
        return 0;
    double x = v;
    if (a->type == ENEVO__ATTR_INT_POWER2 || a->type == ENEVO__ATTR_INV_POWER2) {
        int ok, k = log2_exact(v, &ok);
        if (!ok)
            return 0;
        x = a->type == ENEVO__ATTR_INT_POWER2 ? k : -k;
    } else if (a->type == ENEVO__ATTR_INT && v != floor(v)) {
        return 0;
    }
    return (!use_lo || x >= lo) && (!use_hi || x <= hi);
}

/* Draw all attribute values of production p into values[p->n_values]. */
static int fill_values(const struct enevo__prod *p, const struct enevo_dyn_bound *dyn, int n_dyn,
                       enevo_rng *rng, double *values)
{
    for (int k = 0; k < p->n_syms; k++) {
        const struct enevo__sym *a = &p->syms[k];
        if (a->kind != ENEVO__SYM_ATTR)
            continue;
        double lo, hi;
        int rc = attr_bounds(a, dyn, n_dyn, &lo, &hi);
        if (rc)
            return rc;
        for (int i = 0; i < a->n; i++)
            values[a->val_off + i] = draw_value(a, lo, hi, rng);
    }
    return 0;
}

/* ---- decode (and random derivation, and repair) --------------------------- */

struct strbuf {
    char *p;
    size_t len, cap;
};

static int sb_add(struct strbuf *b, const char *s, size_t n)
{
    if (b->len + n + 2 > b->cap) {
        size_t nc = b->cap ? b->cap : 128;
        while (nc < b->len + n + 2)
            nc *= 2;
        char *np = realloc(b->p, nc);
        if (!np)
            return ENEVO_ENOMEM;
        b->p = np;
        b->cap = nc;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
    return 0;
}

/* `name:v1,v2`: integer types as integers, the rest as the shortest
 * decimal that reads back as the same double. */
static int sb_attr(struct strbuf *b, const struct enevo__sym *a, const double *v)
{
    if (b->len && sb_add(b, " ", 1))
        return ENEVO_ENOMEM;
    if (sb_add(b, a->text, strlen(a->text)) || sb_add(b, ":", 1))
        return ENEVO_ENOMEM;
    for (int i = 0; i < a->n; i++) {
        char tmp[48];
        if (a->type == ENEVO__ATTR_INT || a->type == ENEVO__ATTR_INT_POWER2)
            snprintf(tmp, sizeof tmp, "%lld", llround(v[i]));
        else
            enevo__fmt_double(tmp, sizeof tmp, v[i]);
        if ((i && sb_add(b, ",", 1)) || sb_add(b, tmp, strlen(tmp)))
            return ENEVO_ENOMEM;
    }
    return 0;
}

struct decoder {
    const struct enevo_grammar *g;
    struct enevo_dsge *d;
    const struct enevo_dyn_bound *dyn;
    int n_dyn;
    enevo_rng *rng;
    int *cursor;        /* [n_nt] next expansion to consume */
    struct strbuf *out; /* NULL: no text wanted */
};

/* Draw a random expansion of nt and append it. */
static int draw_expansion(struct decoder *c, int nt, int depth)
{
    const struct enevo__rule *rule = &c->g->rules[nt];
    int prod;
    if (depth < DEEP) {
        prod = (int)enevo_rng_below(c->rng, (uint32_t)rule->n_prods);
    } else {
        /* Uniform among the minimal-height productions (duplicates still
         * count twice), which shortens the derivation at every level. */
        int n_min = 0;
        for (int p = 0; p < rule->n_prods; p++)
            n_min += enevo__prod_height(c->g, &rule->prods[p]) == rule->height;
        int pick = (int)enevo_rng_below(c->rng, (uint32_t)n_min);
        for (prod = 0; prod < rule->n_prods; prod++)
            if (enevo__prod_height(c->g, &rule->prods[prod]) == rule->height && pick-- == 0)
                break;
    }
    const struct enevo__prod *p = &rule->prods[prod];
    struct enevo__exp *e = list_push(&c->d->lists[nt], prod, p->n_values);
    if (!e)
        return ENEVO_ENOMEM;
    int rc = fill_values(p, c->dyn, c->n_dyn, c->rng, e->values);
    if (rc) {
        c->d->lists[nt].n--;
        free(e->values);
    }
    return rc;
}

static int decode_nt(struct decoder *c, int nt, int depth)
{
    if (depth > MAX_DEPTH)
        return ENEVO_EFORMAT;
    struct enevo__explist *l = &c->d->lists[nt];
    int idx = c->cursor[nt];
    if (idx >= l->n) {
        if (!c->rng)
            return ENEVO_EINVAL;
        int rc = draw_expansion(c, nt, depth);
        if (rc)
            return rc;
    }
    c->cursor[nt]++;
    const struct enevo__rule *rule = &c->g->rules[nt];
    int prod = l->items[idx].prod;
    if (prod < 0 || prod >= rule->n_prods || l->items[idx].n_values != rule->prods[prod].n_values)
        return ENEVO_EINVAL; /* a genotype of another grammar */
    const struct enevo__prod *p = &rule->prods[prod];
    for (int k = 0; k < p->n_syms; k++) {
        const struct enevo__sym *s = &p->syms[k];
        int rc = 0;
        if (s->kind == ENEVO__SYM_NT) {
            rc = decode_nt(c, s->nt, depth + 1);
        } else if (c->out && s->kind == ENEVO__SYM_TERM) {
            if (c->out->len)
                rc = sb_add(c->out, " ", 1);
            if (!rc)
                rc = sb_add(c->out, s->text, strlen(s->text));
        } else if (c->out) {
            /* re-read the list: nested pushes onto it may have moved items */
            rc = sb_attr(c->out, s, c->d->lists[nt].items[idx].values + s->val_off);
        }
        if (rc)
            return rc;
    }
    return 0;
}

static int check_args(const struct enevo_grammar *g, const struct enevo_dsge *d)
{
    if (!g || !d || d->n_nt != g->n_rules || d->start < 0 || d->start >= g->n_rules)
        return ENEVO_EINVAL;
    return 0;
}

/* Decode, then drop the expansions the derivation did not reach. */
static int run_decoder(const struct enevo_grammar *g, struct enevo_dsge *d,
                       const struct enevo_dyn_bound *dyn, int n_dyn, enevo_rng *rng,
                       struct strbuf *out)
{
    int rc = check_args(g, d);
    if (rc)
        return rc;
    int *cursor = calloc((size_t)d->n_nt, sizeof *cursor);
    if (!cursor)
        return ENEVO_ENOMEM;
    struct decoder c = {g, d, dyn, n_dyn, rng, cursor, out};
    rc = decode_nt(&c, d->start, 0);
    if (!rc)
        for (int i = 0; i < d->n_nt; i++)
            list_truncate(&d->lists[i], cursor[i]);
    free(cursor);
    return rc;
}

int enevo_dsge_decode(const struct enevo_grammar *g, struct enevo_dsge *d,
                      const struct enevo_dyn_bound *dyn, int n_dyn, enevo_rng *rng, char **text)
{
    struct strbuf b = {0};
    if (text)
        *text = NULL;
    int rc = run_decoder(g, d, dyn, n_dyn, rng, text ? &b : NULL);
    if (!rc && text && !b.p)
        rc = sb_add(&b, "", 0);
    if (rc) {
        free(b.p);
        return rc;
    }
    if (text)
        *text = b.p;
    return 0;
}

int enevo_dsge_random(const struct enevo_grammar *g, int start, const struct enevo_dyn_bound *dyn,
                      int n_dyn, enevo_rng *rng, struct enevo_dsge **out)
{
    *out = NULL;
    if (!g || !rng || start < 0 || start >= g->n_rules)
        return ENEVO_EINVAL;
    struct enevo_dsge *d = dsge_new(g->n_rules, start);
    if (!d)
        return ENEVO_ENOMEM;
    int rc = run_decoder(g, d, dyn, n_dyn, rng, NULL);
    if (rc) {
        enevo_dsge_free(d);
        return rc;
    }
    *out = d;
    return 0;
}

/* ---- mutation and clamping ------------------------------------------------- */

int enevo_dsge_mutate(const struct enevo_grammar *g, struct enevo_dsge *d,
                      const struct enevo_dyn_bound *dyn, int n_dyn, enevo_rng *rng)
{
    if (!rng)
        return ENEVO_EINVAL;
    /* After the repair every stored expansion is a non-terminal occurrence
     * of the derivation, so picking uniformly over the lists picks an
     * occurrence uniformly. */
    int rc = run_decoder(g, d, dyn, n_dyn, rng, NULL);
    if (rc)
        return rc;
    int total = 0;
    for (int i = 0; i < d->n_nt; i++)
        total += d->lists[i].n;
    if (total == 0)
        return 0;
    int pick = (int)enevo_rng_below(rng, (uint32_t)total), nt = 0;
    while (pick >= d->lists[nt].n)
        pick -= d->lists[nt++].n;
    struct enevo__exp *e = &d->lists[nt].items[pick];
    const struct enevo__rule *rule = &g->rules[nt];
    const struct enevo__prod *cur = &rule->prods[e->prod];

    int n_alt = 0;
    for (int p = 0; p < rule->n_prods; p++)
        n_alt += p != e->prod && !enevo__prods_equal(&rule->prods[p], cur);
    int w_switch = n_alt ? 1 : 0, w_attr = cur->n_values ? 2 : 0;
    if (w_switch + w_attr == 0)
        return 0;

    if ((int)enevo_rng_below(rng, (uint32_t)(w_switch + w_attr)) < w_switch) {
        int k = (int)enevo_rng_below(rng, (uint32_t)n_alt), np;
        for (np = 0; np < rule->n_prods; np++)
            if (np != e->prod && !enevo__prods_equal(&rule->prods[np], cur) && k-- == 0)
                break;
        const struct enevo__prod *p = &rule->prods[np];
        double *v = NULL;
        if (p->n_values && !(v = calloc((size_t)p->n_values, sizeof *v)))
            return ENEVO_ENOMEM;
        if ((rc = fill_values(p, dyn, n_dyn, rng, v))) {
            free(v);
            return rc;
        }
        free(e->values);
        e->prod = np;
        e->n_values = p->n_values;
        e->values = v;
        /* Sub-derivations: the new production consumes whatever the lists
         * hold next and draws the rest; the decode repairs. */
        return run_decoder(g, d, dyn, n_dyn, rng, NULL);
    }

    int vi = (int)enevo_rng_below(rng, (uint32_t)cur->n_values);
    const struct enevo__sym *a = NULL;
    for (int k = 0; k < cur->n_syms; k++)
        if (cur->syms[k].kind == ENEVO__SYM_ATTR && vi >= cur->syms[k].val_off &&
            vi < cur->syms[k].val_off + cur->syms[k].n)
            a = &cur->syms[k];
    double lo, hi;
    if ((rc = attr_bounds(a, dyn, n_dyn, &lo, &hi)))
        return rc;
    if (lo == hi && value_ok(a, e->values[vi], lo, hi, 1, 1))
        return 0; /* nothing else to draw */
    for (int t = 0; t < REDRAW_TRIES; t++) {
        double v = draw_value(a, lo, hi, rng);
        if (v != e->values[vi]) {
            e->values[vi] = v;
            break;
        }
    }
    return 0;
}

int enevo_dsge_clamp(const struct enevo_grammar *g, struct enevo_dsge *d,
                     const struct enevo_dyn_bound *dyn, int n_dyn, enevo_rng *rng)
{
    int rc = check_args(g, d);
    if (rc)
        return rc;
    if (!rng)
        return ENEVO_EINVAL;
    int changed = 0;
    for (int nt = 0; nt < d->n_nt; nt++)
        for (int i = 0; i < d->lists[nt].n; i++) {
            struct enevo__exp *e = &d->lists[nt].items[i];
            if (e->prod < 0 || e->prod >= g->rules[nt].n_prods)
                return ENEVO_EINVAL;
            const struct enevo__prod *p = &g->rules[nt].prods[e->prod];
            if (e->n_values != p->n_values)
                return ENEVO_EINVAL;
            for (int k = 0; k < p->n_syms; k++) {
                const struct enevo__sym *a = &p->syms[k];
                if (a->kind != ENEVO__SYM_ATTR || !find_dyn(a->text, dyn, n_dyn))
                    continue;
                double lo, hi;
                if ((rc = attr_bounds(a, dyn, n_dyn, &lo, &hi)))
                    return rc;
                for (int j = 0; j < a->n; j++) {
                    double *v = &e->values[a->val_off + j];
                    if (!value_ok(a, *v, lo, hi, 1, 1)) {
                        *v = draw_value(a, lo, hi, rng);
                        changed++;
                    }
                }
            }
        }
    return changed;
}

/* ---- encode ---------------------------------------------------------------- */

/* One pending production in the depth-first search: symbols i.. of
 * production `prod` of `nt`, whose expansion is trail[exp]; then `next`. */
struct frame {
    int nt, prod, i, exp;
    const struct frame *next;
};

struct trail_exp {
    int nt, prod, val_start;
};

struct encoder {
    const struct enevo_grammar *g;
    char **tok;
    int ntok;
    struct trail_exp *trail;
    int n_trail, cap_trail;
    double *vals;
    int n_vals, cap_vals;
    int far; /* furthest token position at which matching failed */
    long steps, max_steps;
    int oom, too_long;
};

/* Parse `name:v1,...` for attribute a into vals; 1 if legal. */
static int match_attr(const struct enevo__sym *a, const char *tok, double *vals)
{
    size_t nl = strlen(a->text);
    if (strncmp(tok, a->text, nl) || tok[nl] != ':')
        return 0;
    const char *s = tok + nl + 1;
    for (int i = 0; i < a->n; i++) {
        char *end;
        errno = 0;
        double v = strtod(s, &end);
        if (end == s || errno)
            return 0;
        if (*end != (i + 1 < a->n ? ',' : '\0'))
            return 0;
        /* `_` sides have no bound here: encode gets no dynamic bounds */
        if (!value_ok(a, v, a->lo, a->hi, !a->lo_dyn, !a->hi_dyn))
            return 0;
        vals[i] = v;
        s = end + 1;
    }
    return 1;
}

static int expand(struct encoder *c, int nt, const struct frame *rest, int pos, int stall,
                  int depth);

static int enc(struct encoder *c, const struct frame *k, int pos, int stall, int depth)
{
    if (++c->steps > c->max_steps || depth > MAX_DEPTH) {
        c->too_long = 1;
        return 0;
    }
    /* Skip finished productions. */
    while (k && k->i == c->g->rules[k->nt].prods[k->prod].n_syms)
        k = k->next;
    if (!k) {
        if (pos == c->ntok)
            return 1;
        if (pos > c->far)
            c->far = pos;
        return 0;
    }
    const struct enevo__prod *p = &c->g->rules[k->nt].prods[k->prod];
    const struct enevo__sym *s = &p->syms[k->i];
    struct frame rest = {k->nt, k->prod, k->i + 1, k->exp, k->next};
    if (s->kind != ENEVO__SYM_NT) {
        int ok = pos < c->ntok;
        if (ok && s->kind == ENEVO__SYM_TERM)
            ok = !strcmp(c->tok[pos], s->text);
        else if (ok)
            ok = match_attr(s, c->tok[pos], c->vals + c->trail[k->exp].val_start + s->val_off);
        if (!ok) {
            if (pos > c->far)
                c->far = pos;
            return 0;
        }
        return enc(c, &rest, pos + 1, 0, depth + 1);
    }
    return expand(c, s->nt, &rest, pos, stall, depth);
}

/* Try each production of nt at pos, followed by the continuation `rest`. */
static int expand(struct encoder *c, int nt, const struct frame *rest, int pos, int stall,
                  int depth)
{
    /* Expanding without consuming: every derivation writes at least one
     * token per pending symbol, so a chain longer than this only loops
     * (left recursion, unit cycles). */
    if (stall > c->g->n_rules * (c->ntok - pos + 1))
        return 0;
    const struct enevo__rule *rule = &c->g->rules[nt];
    for (int q = 0; q < rule->n_prods; q++) {
        int nv = rule->prods[q].n_values;
        if (c->n_trail == c->cap_trail) {
            int nc = c->cap_trail ? c->cap_trail * 2 : 32;
            struct trail_exp *t = realloc(c->trail, (size_t)nc * sizeof *t);
            if (!t) {
                c->oom = 1;
                return 0;
            }
            c->trail = t;
            c->cap_trail = nc;
        }
        if (c->n_vals + nv > c->cap_vals) {
            int nc = c->cap_vals ? c->cap_vals : 64;
            while (nc < c->n_vals + nv)
                nc *= 2;
            double *v = realloc(c->vals, (size_t)nc * sizeof *v);
            if (!v) {
                c->oom = 1;
                return 0;
            }
            c->vals = v;
            c->cap_vals = nc;
        }
        int t = c->n_trail++;
        c->trail[t] = (struct trail_exp){nt, q, c->n_vals};
        c->n_vals += nv;
        struct frame child = {nt, q, 0, t, rest};
        if (enc(c, &child, pos, stall + 1, depth + 1))
            return 1;
        c->n_trail = t;
        c->n_vals = c->trail[t].val_start;
        if (c->oom || c->too_long)
            return 0;
    }
    return 0;
}

int enevo_dsge_encode(const struct enevo_grammar *g, int start, const char *text,
                      struct enevo_dsge **out, char *err, size_t errlen)
{
    return enevo__dsge_encode_steps(g, start, text, ENCODE_STEPS, out, err, errlen);
}

int enevo__dsge_encode_steps(const struct enevo_grammar *g, int start, const char *text,
                             long max_steps, struct enevo_dsge **out, char *err, size_t errlen)
{
    *out = NULL;
    if (!g || !text || start < 0 || start >= g->n_rules)
        return enevo_errf(err, errlen, ENEVO_EINVAL, "encode: bad arguments");
    char *copy = strdup(text);
    int cap = 16;
    char **tok = malloc((size_t)cap * sizeof *tok);
    struct encoder c = {.g = g, .far = -1, .max_steps = max_steps};
    int rc = 0;
    if (!copy || !tok) {
        rc = ENEVO_ENOMEM;
        goto done;
    }
    for (char *save = NULL, *t = strtok_r(copy, " \t\r\n", &save); t;
         t = strtok_r(NULL, " \t\r\n", &save)) {
        if (c.ntok == cap) {
            char **nt = realloc(tok, (size_t)cap * 2 * sizeof *nt);
            if (!nt) {
                rc = ENEVO_ENOMEM;
                goto done;
            }
            tok = nt;
            cap *= 2;
        }
        tok[c.ntok++] = t;
    }
    c.tok = tok;

    int found = expand(&c, start, NULL, 0, 0, 0);
    if (c.oom) {
        rc = ENEVO_ENOMEM;
        goto done;
    }
    if (!found) {
        const char *name = g->rules[start].name;
        if (c.too_long)
            rc = enevo_errf(err, errlen, ENEVO_EFORMAT,
                            "encode: search for a derivation of <%s> gave up (too long)", name);
        else if (c.far >= 0 && c.far < c.ntok)
            rc = enevo_errf(err, errlen, ENEVO_EFORMAT,
                            "encode: no derivation of <%s> matches token %d '%s'", name, c.far + 1,
                            c.tok[c.far]);
        else
            rc = enevo_errf(err, errlen, ENEVO_EFORMAT,
                            "encode: the text ends before a derivation of <%s> is complete", name);
        goto done;
    }
    struct enevo_dsge *d = dsge_new(g->n_rules, start);
    if (!d) {
        rc = ENEVO_ENOMEM;
        goto done;
    }
    /* The trail is in depth-first order, the order decode consumes it. */
    for (int t = 0; t < c.n_trail; t++) {
        int nv = g->rules[c.trail[t].nt].prods[c.trail[t].prod].n_values;
        struct enevo__exp *e = list_push(&d->lists[c.trail[t].nt], c.trail[t].prod, nv);
        if (!e) {
            enevo_dsge_free(d);
            rc = ENEVO_ENOMEM;
            goto done;
        }
        if (nv)
            memcpy(e->values, c.vals + c.trail[t].val_start, (size_t)nv * sizeof *e->values);
    }
    *out = d;
done:
    if (rc == ENEVO_ENOMEM)
        enevo_errf(err, errlen, rc, "encode: out of memory");
    free(c.trail);
    free(c.vals);
    free(tok);
    free(copy);
    return rc;
}

/* ---- binary serialisation --------------------------------------------------
 *
 * Little-endian: u32 magic "DSG1", u32 start, u32 n_nt, then per
 * non-terminal u32 count and per expansion u32 production, u32 n_values and
 * n_values IEEE-754 doubles (as u64 bit patterns).
 */

static int put_bytes(unsigned char **buf, size_t *len, size_t *cap, const unsigned char *src,
                     size_t n)
{
    if (*len + n > *cap) {
        size_t nc = *cap ? *cap : 256;
        while (nc < *len + n)
            nc *= 2;
        unsigned char *p = realloc(*buf, nc);
        if (!p)
            return ENEVO_ENOMEM;
        *buf = p;
        *cap = nc;
    }
    memcpy(*buf + *len, src, n);
    *len += n;
    return 0;
}

static int put_u32(unsigned char **buf, size_t *len, size_t *cap, uint32_t v)
{
    unsigned char b[4];
    for (int i = 0; i < 4; i++)
        b[i] = (unsigned char)(v >> (8 * i));
    return put_bytes(buf, len, cap, b, 4);
}

static int put_f64(unsigned char **buf, size_t *len, size_t *cap, double x)
{
    uint64_t v;
    memcpy(&v, &x, sizeof v);
    unsigned char b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)(v >> (8 * i));
    return put_bytes(buf, len, cap, b, 8);
}

int enevo_dsge_write(const struct enevo_dsge *d, unsigned char **buf, size_t *len, size_t *cap)
{
    if (!d || !buf || !len || !cap)
        return ENEVO_EINVAL;
    int rc = put_u32(buf, len, cap, DSGE_MAGIC);
    rc = rc ? rc : put_u32(buf, len, cap, (uint32_t)d->start);
    rc = rc ? rc : put_u32(buf, len, cap, (uint32_t)d->n_nt);
    for (int i = 0; !rc && i < d->n_nt; i++) {
        rc = put_u32(buf, len, cap, (uint32_t)d->lists[i].n);
        for (int k = 0; !rc && k < d->lists[i].n; k++) {
            const struct enevo__exp *e = &d->lists[i].items[k];
            rc = put_u32(buf, len, cap, (uint32_t)e->prod);
            rc = rc ? rc : put_u32(buf, len, cap, (uint32_t)e->n_values);
            for (int j = 0; !rc && j < e->n_values; j++)
                rc = put_f64(buf, len, cap, e->values[j]);
        }
    }
    return rc;
}

struct reader {
    const unsigned char *buf;
    size_t len, pos;
};

static int get_u32(struct reader *r, uint32_t *v)
{
    if (r->len - r->pos < 4)
        return 0;
    *v = 0;
    for (int i = 0; i < 4; i++)
        *v |= (uint32_t)r->buf[r->pos + (size_t)i] << (8 * i);
    r->pos += 4;
    return 1;
}

static int get_f64(struct reader *r, double *x)
{
    if (r->len - r->pos < 8)
        return 0;
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)r->buf[r->pos + (size_t)i] << (8 * i);
    r->pos += 8;
    memcpy(x, &v, sizeof *x);
    return 1;
}

int enevo_dsge_read(const struct enevo_grammar *g, const unsigned char *buf, size_t len,
                    size_t *pos, struct enevo_dsge **out, char *err, size_t errlen)
{
    *out = NULL;
    if (!g || !buf || !pos || *pos > len)
        return enevo_errf(err, errlen, ENEVO_EINVAL, "dsge: bad arguments");
    struct reader r = {buf, len, *pos};
    uint32_t magic, start, n_nt;
    if (!get_u32(&r, &magic) || !get_u32(&r, &start) || !get_u32(&r, &n_nt))
        return enevo_errf(err, errlen, ENEVO_EFORMAT, "dsge: truncated header at byte %zu", r.pos);
    if (magic != DSGE_MAGIC)
        return enevo_errf(err, errlen, ENEVO_EFORMAT, "dsge: bad magic 0x%08x at byte %zu",
                          (unsigned)magic, *pos);
    if (n_nt != (uint32_t)g->n_rules)
        return enevo_errf(err, errlen, ENEVO_EFORMAT,
                          "dsge: %u non-terminals, but the grammar has %d", (unsigned)n_nt,
                          g->n_rules);
    if (start >= n_nt)
        return enevo_errf(err, errlen, ENEVO_EFORMAT, "dsge: start symbol %u out of range",
                          (unsigned)start);
    struct enevo_dsge *d = dsge_new(g->n_rules, (int)start);
    if (!d)
        return enevo_errf(err, errlen, ENEVO_ENOMEM, "dsge: out of memory");
    int rc = 0;
    for (int nt = 0; !rc && nt < g->n_rules; nt++) {
        const struct enevo__rule *rule = &g->rules[nt];
        uint32_t count;
        /* each expansion takes at least 8 bytes: bounds the allocation */
        if (!get_u32(&r, &count) || count > (r.len - r.pos) / 8) {
            rc = enevo_errf(err, errlen, ENEVO_EFORMAT, "dsge: truncated at byte %zu (<%s>)", r.pos,
                            rule->name);
            break;
        }
        for (uint32_t k = 0; !rc && k < count; k++) {
            uint32_t prod, nv;
            if (!get_u32(&r, &prod) || !get_u32(&r, &nv)) {
                rc = enevo_errf(err, errlen, ENEVO_EFORMAT, "dsge: truncated at byte %zu (<%s>)",
                                r.pos, rule->name);
                break;
            }
            if (prod >= (uint32_t)rule->n_prods) {
                rc = enevo_errf(err, errlen, ENEVO_EFORMAT,
                                "dsge: <%s> has %d productions, expansion %u uses %u", rule->name,
                                rule->n_prods, (unsigned)k, (unsigned)prod);
                break;
            }
            if (nv != (uint32_t)rule->prods[prod].n_values) {
                rc = enevo_errf(err, errlen, ENEVO_EFORMAT,
                                "dsge: <%s> production %u has %d values, expansion %u has %u",
                                rule->name, (unsigned)prod, rule->prods[prod].n_values, (unsigned)k,
                                (unsigned)nv);
                break;
            }
            struct enevo__exp *e = list_push(&d->lists[nt], (int)prod, (int)nv);
            if (!e) {
                rc = enevo_errf(err, errlen, ENEVO_ENOMEM, "dsge: out of memory");
                break;
            }
            for (uint32_t j = 0; !rc && j < nv; j++) {
                if (!get_f64(&r, &e->values[j]))
                    rc = enevo_errf(err, errlen, ENEVO_EFORMAT,
                                    "dsge: truncated at byte %zu (<%s>)", r.pos, rule->name);
            }
            /* Ranges are not checked (dynamic bounds move), types are: an
             * int must be integral, a power of two a power of two. */
            const struct enevo__prod *p = &rule->prods[prod];
            for (int q = 0; !rc && q < p->n_syms; q++) {
                const struct enevo__sym *a = &p->syms[q];
                for (int j = 0; a->kind == ENEVO__SYM_ATTR && !rc && j < a->n; j++)
                    if (!value_ok(a, e->values[a->val_off + j], 0, 0, 0, 0) ||
                        (a->type == ENEVO__ATTR_INT && fabs(e->values[a->val_off + j]) > 9e15))
                        rc = enevo_errf(err, errlen, ENEVO_EFORMAT,
                                        "dsge: <%s> attribute %s has an invalid %s value %g",
                                        rule->name, a->text, enevo__attr_type_names[a->type],
                                        e->values[a->val_off + j]);
            }
        }
    }
    if (rc) {
        enevo_dsge_free(d);
        return rc;
    }
    *pos = r.pos;
    *out = d;
    return 0;
}
