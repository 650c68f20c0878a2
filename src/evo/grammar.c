/* src/evo/grammar.c — BNF grammar parser, symbol table and canonical format.
 *
 * The parser works line by line. Non-terminal references are kept by name
 * until the whole text is read, because rules may use non-terminals defined
 * further down; rule indices are definition order, so that format() followed
 * by parse() gives back the same indices (and genotypes stay valid).
 */
#include "enevo/io.h"
#include "evo/grammar_internal.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const enevo__attr_type_names[ENEVO__ATTR__COUNT] = {
    [ENEVO__ATTR_INT] = "int",
    [ENEVO__ATTR_FLOAT] = "float",
    [ENEVO__ATTR_INT_POWER2] = "int_power2",
    [ENEVO__ATTR_INV_POWER2] = "inv_power2",
};

#define HEIGHT_INF INT_MAX

/* ---- memory ------------------------------------------------------------- */

static void prod_free(struct enevo__prod *p)
{
    for (int i = 0; i < p->n_syms; i++)
        free(p->syms[i].text);
    free(p->syms);
}

void enevo_grammar_free(struct enevo_grammar *g)
{
    if (!g)
        return;
    for (int r = 0; r < g->n_rules; r++) {
        for (int p = 0; p < g->rules[r].n_prods; p++)
            prod_free(&g->rules[r].prods[p]);
        free(g->rules[r].prods);
        free(g->rules[r].name);
    }
    free(g->rules);
    free(g);
}

/* Grow *items (of `size` bytes each) so that index n is valid. */
static int grow(void **items, int *cap, int n, size_t size)
{
    if (n < *cap)
        return 0;
    int nc = *cap ? *cap * 2 : 4;
    while (nc <= n)
        nc *= 2;
    void *p = realloc(*items, (size_t)nc * size);
    if (!p)
        return ENEVO_ENOMEM;
    *items = p;
    *cap = nc;
    return 0;
}

/* ---- parser ------------------------------------------------------------- */

struct parser {
    const char *source;
    int line;
    char *err;
    size_t errlen;
    struct enevo_grammar *g;
    int rules_cap;
};

static int perr(struct parser *ps, int col, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

static int perr(struct parser *ps, int col, const char *fmt, ...)
{
    char what[ENEVO_ERR_LEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return enevo_errf(ps->err, ps->errlen, ENEVO_EFORMAT, "%s:%d:%d: %s", ps->source, ps->line, col,
                      what);
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

static char *dup_range(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

/* Strip spaces at both ends of [*s, *s + *n). */
static void trim(const char **s, size_t *n)
{
    while (*n && is_space(**s)) {
        (*s)++;
        (*n)--;
    }
    while (*n && is_space((*s)[*n - 1]))
        (*n)--;
}

/* A bound: `_` (dynamic) or a finite number; integer types need integers. */
static int parse_bound(struct parser *ps, int col, const char *f, size_t n, int type,
                       const char *which, double *v, int *dyn)
{
    char buf[64];
    if (n == 1 && f[0] == '_') {
        *dyn = 1;
        *v = 0;
        return 0;
    }
    *dyn = 0;
    if (n == 0 || n >= sizeof buf)
        return perr(ps, col, "non-numeric %s bound '%.*s'", which, (int)n, f);
    memcpy(buf, f, n);
    buf[n] = '\0';
    char *end;
    errno = 0;
    double x = strtod(buf, &end);
    if (*end || errno || !isfinite(x))
        return perr(ps, col, "non-numeric %s bound '%s'", which, buf);
    if (type != ENEVO__ATTR_FLOAT && x != floor(x))
        return perr(ps, col, "%s bound '%s' must be an integer for type %s", which, buf,
                    enevo__attr_type_names[type]);
    /* Values must survive the checkpoint (which reads ints up to 9e15, the
     * integers a double holds exactly) and power-of-two exponents must make
     * a finite double. */
    if (type == ENEVO__ATTR_INT && fabs(x) > 9e15)
        return perr(ps, col, "%s bound '%s' is beyond +-9e15 for type int", which, buf);
    if ((type == ENEVO__ATTR_INT_POWER2 || type == ENEVO__ATTR_INV_POWER2) && fabs(x) > 1023)
        return perr(ps, col, "%s bound '%s' is beyond +-1023 for the exponent of type %s", which,
                    buf, enevo__attr_type_names[type]);
    *v = x;
    return 0;
}

/* Parse the inside of `[name,type,n,min,max]` (line text from `s`, the
 * column of s[0] is col0). Spaces around the fields are tolerated. */
static int parse_attr(struct parser *ps, const char *s, size_t len, int col0,
                      struct enevo__sym *sym)
{
    const char *f[5];
    size_t fl[5];
    int fc[5];
    int nf = 0;
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || s[i] == ',') {
            if (nf == 5)
                return perr(ps, col0 - 1, "expected [name,type,n,min,max] (too many fields)");
            f[nf] = s + start;
            fl[nf] = i - start;
            trim(&f[nf], &fl[nf]);
            fc[nf] = col0 + (int)(f[nf] - s);
            nf++;
            start = i + 1;
        }
    }
    if (nf != 5)
        return perr(ps, col0 - 1, "expected [name,type,n,min,max] (got %d fields)", nf);
    for (size_t i = 0; i < fl[0]; i++)
        if (is_space(f[0][i]) || f[0][i] == ':')
            return perr(ps, fc[0], "attribute name '%.*s' has a space or ':'", (int)fl[0], f[0]);
    if (fl[0] == 0)
        return perr(ps, fc[0], "empty attribute name");

    sym->type = -1;
    for (int t = 0; t < ENEVO__ATTR__COUNT; t++)
        if (strlen(enevo__attr_type_names[t]) == fl[1] &&
            !memcmp(enevo__attr_type_names[t], f[1], fl[1]))
            sym->type = t;
    if (sym->type < 0)
        return perr(ps, fc[1],
                    "unknown attribute type '%.*s' (expected int, float, int_power2 or "
                    "inv_power2)",
                    (int)fl[1], f[1]);

    char nbuf[32];
    if (fl[2] == 0 || fl[2] >= sizeof nbuf)
        return perr(ps, fc[2], "attribute count '%.*s' is not a number", (int)fl[2], f[2]);
    memcpy(nbuf, f[2], fl[2]);
    nbuf[fl[2]] = '\0';
    char *end;
    errno = 0;
    long n = strtol(nbuf, &end, 10);
    if (*end || errno)
        return perr(ps, fc[2], "attribute count '%s' is not a number", nbuf);
    if (n < 1 || n > 1000000)
        return perr(ps, fc[2], "attribute count n=%ld must be at least 1 (and sane)", n);
    sym->n = (int)n;

    int rc = parse_bound(ps, fc[3], f[3], fl[3], sym->type, "min", &sym->lo, &sym->lo_dyn);
    if (!rc)
        rc = parse_bound(ps, fc[4], f[4], fl[4], sym->type, "max", &sym->hi, &sym->hi_dyn);
    if (rc)
        return rc;
    if (!sym->lo_dyn && !sym->hi_dyn && sym->lo > sym->hi)
        return perr(ps, fc[3], "attribute %.*s has min > max (%.*s > %.*s)", (int)fl[0], f[0],
                    (int)fl[3], f[3], (int)fl[4], f[4]);
    /* A draw is min + (max - min) u: the span must be a finite double. */
    if (!sym->lo_dyn && !sym->hi_dyn && !isfinite(sym->hi - sym->lo))
        return perr(ps, fc[3], "attribute %.*s: the range %.*s..%.*s is too wide", (int)fl[0],
                    f[0], (int)fl[3], f[3], (int)fl[4], f[4]);
    sym->kind = ENEVO__SYM_ATTR;
    sym->text = dup_range(f[0], fl[0]);
    return sym->text ? 0 : ENEVO_ENOMEM;
}

static int find_rule(const struct enevo_grammar *g, const char *name, size_t n)
{
    for (int r = 0; r < g->n_rules; r++)
        if (strlen(g->rules[r].name) == n && !memcmp(g->rules[r].name, name, n))
            return r;
    return -1;
}

/* Append a finished alternative to the rule, or complain that it is empty. */
static int end_alt(struct parser *ps, struct enevo__rule *rule, struct enevo__prod *alt,
                   int *prods_cap, int col)
{
    if (alt->n_syms == 0)
        return perr(ps, col, "empty alternative in <%s>", rule->name);
    int off = 0;
    for (int i = 0; i < alt->n_syms; i++)
        if (alt->syms[i].kind == ENEVO__SYM_ATTR) {
            alt->syms[i].val_off = off;
            off += alt->syms[i].n;
        }
    alt->n_values = off;
    if (grow((void **)&rule->prods, prods_cap, rule->n_prods, sizeof *rule->prods))
        return ENEVO_ENOMEM;
    rule->prods[rule->n_prods++] = *alt;
    memset(alt, 0, sizeof *alt);
    return 0;
}

static int parse_line(struct parser *ps, const char *s, size_t len)
{
    size_t i = 0;
    while (i < len && is_space(s[i]))
        i++;
    if (i == len || s[i] == '#')
        return 0;
    if (s[i] != '<')
        return perr(ps, (int)i + 1, "expected '<name>' at the start of a rule");
    size_t name0 = i + 1, j = name0;
    while (j < len && s[j] != '>' && s[j] != '<' && !is_space(s[j]) && s[j] != '|')
        j++;
    if (j == len || s[j] != '>' || j == name0)
        return perr(ps, (int)i + 1, "expected '<name>' at the start of a rule");
    size_t name_len = j - name0;
    i = j + 1;
    while (i < len && is_space(s[i]))
        i++;
    if (len - i < 3 || memcmp(s + i, "::=", 3))
        return perr(ps, (int)i + 1, "expected '::=' after <%.*s>", (int)name_len, s + name0);

    int dup = find_rule(ps->g, s + name0, name_len);
    if (dup >= 0)
        return perr(ps, (int)name0, "rule <%s> is defined twice (first at %s:%d:%d)",
                    ps->g->rules[dup].name, ps->source, ps->g->rules[dup].line,
                    ps->g->rules[dup].col);
    struct enevo_grammar *g = ps->g;
    if (grow((void **)&g->rules, &ps->rules_cap, g->n_rules, sizeof *g->rules))
        return ENEVO_ENOMEM;
    struct enevo__rule *rule = &g->rules[g->n_rules];
    memset(rule, 0, sizeof *rule);
    rule->name = dup_range(s + name0, name_len);
    if (!rule->name)
        return ENEVO_ENOMEM;
    rule->line = ps->line;
    rule->col = (int)name0;
    g->n_rules++;

    i += 3;
    struct enevo__prod alt = {0};
    int syms_cap = 0, prods_cap = 0;
    int rc = 0;
    for (;;) {
        while (i < len && is_space(s[i]))
            i++;
        if (i == len || s[i] == '|') {
            rc = end_alt(ps, rule, &alt, &prods_cap, (int)i + 1);
            syms_cap = 0;
            if (rc || i == len)
                break;
            i++;
            continue;
        }
        if ((rc = grow((void **)&alt.syms, &syms_cap, alt.n_syms, sizeof *alt.syms)))
            break;
        struct enevo__sym *sym = &alt.syms[alt.n_syms];
        memset(sym, 0, sizeof *sym);
        sym->line = ps->line;
        sym->col = (int)i + 1;
        size_t t0 = i;
        if (s[i] == '[') {
            size_t k = i + 1;
            while (k < len && s[k] != ']')
                k++;
            if (k == len) {
                rc = perr(ps, (int)i + 1, "expected ']' to close the attribute");
                break;
            }
            rc = parse_attr(ps, s + i + 1, k - i - 1, (int)i + 2, sym);
            alt.n_syms++; /* counted even on error so that its name is freed */
            if (rc)
                break;
            i = k + 1;
            if (i < len && !is_space(s[i]) && s[i] != '|') {
                rc = perr(ps, (int)i + 1, "expected a space after ']'");
                break;
            }
            continue;
        }
        while (i < len && !is_space(s[i]) && s[i] != '|')
            i++;
        if (s[t0] == '<') {
            int ok = i - t0 > 2 && s[i - 1] == '>';
            for (size_t k = t0 + 1; ok && k < i - 1; k++)
                ok = s[k] != '<' && s[k] != '>';
            if (!ok) {
                rc = perr(ps, (int)t0 + 1, "malformed non-terminal '%.*s' (expected <name>)",
                          (int)(i - t0), s + t0);
                break;
            }
            sym->kind = ENEVO__SYM_NT;
            sym->nt = -1; /* resolved when the whole text is read */
            sym->text = dup_range(s + t0 + 1, i - t0 - 2);
        } else {
            sym->kind = ENEVO__SYM_TERM;
            sym->text = dup_range(s + t0, i - t0);
        }
        alt.n_syms++;
        if (!sym->text) {
            rc = ENEVO_ENOMEM;
            break;
        }
    }
    prod_free(&alt);
    return rc;
}

/* Resolve non-terminal names and compute heights; rejects undefined
 * non-terminals and ones that can never finish a derivation. */
static int finish(struct parser *ps)
{
    struct enevo_grammar *g = ps->g;
    if (g->n_rules == 0)
        return enevo_errf(ps->err, ps->errlen, ENEVO_EFORMAT, "%s: the grammar has no rules",
                          ps->source);
    for (int r = 0; r < g->n_rules; r++)
        for (int p = 0; p < g->rules[r].n_prods; p++) {
            struct enevo__prod *pr = &g->rules[r].prods[p];
            for (int k = 0; k < pr->n_syms; k++) {
                struct enevo__sym *sym = &pr->syms[k];
                if (sym->kind != ENEVO__SYM_NT)
                    continue;
                sym->nt = find_rule(g, sym->text, strlen(sym->text));
                if (sym->nt < 0)
                    return enevo_errf(ps->err, ps->errlen, ENEVO_EFORMAT,
                                      "<%s> used at %s:%d:%d is never defined", sym->text,
                                      ps->source, sym->line, sym->col);
            }
        }
    /* Fixed point: a rule's height is known once one of its productions has
     * only non-terminals of known height. */
    for (int r = 0; r < g->n_rules; r++)
        g->rules[r].height = HEIGHT_INF;
    for (int changed = 1; changed;) {
        changed = 0;
        for (int r = 0; r < g->n_rules; r++)
            for (int p = 0; p < g->rules[r].n_prods; p++) {
                int h = enevo__prod_height(g, &g->rules[r].prods[p]);
                if (h < g->rules[r].height) {
                    g->rules[r].height = h;
                    changed = 1;
                }
            }
    }
    for (int r = 0; r < g->n_rules; r++)
        if (g->rules[r].height == HEIGHT_INF)
            return enevo_errf(ps->err, ps->errlen, ENEVO_EFORMAT,
                              "<%s> (%s:%d:%d) has no terminating derivation: every "
                              "alternative recurses forever",
                              g->rules[r].name, ps->source, g->rules[r].line, g->rules[r].col);
    return 0;
}

int enevo__prod_height(const struct enevo_grammar *g, const struct enevo__prod *p)
{
    int h = 1;
    for (int k = 0; k < p->n_syms; k++)
        if (p->syms[k].kind == ENEVO__SYM_NT) {
            int sh = g->rules[p->syms[k].nt].height;
            if (sh == HEIGHT_INF)
                return HEIGHT_INF;
            if (sh + 1 > h)
                h = sh + 1;
        }
    return h;
}

int enevo_grammar_parse(const char *text, const char *source, struct enevo_grammar **out, char *err,
                        size_t errlen)
{
    *out = NULL;
    if (!text)
        return enevo_errf(err, errlen, ENEVO_EINVAL, "grammar: no text");
    struct parser ps = {.source = source ? source : "<grammar>", .err = err, .errlen = errlen};
    ps.g = calloc(1, sizeof *ps.g);
    if (!ps.g)
        return enevo_errf(err, errlen, ENEVO_ENOMEM, "grammar: out of memory");
    int rc = 0;
    const char *s = text;
    for (ps.line = 1; !rc; ps.line++) {
        const char *nl = strchr(s, '\n');
        size_t n = nl ? (size_t)(nl - s) : strlen(s);
        rc = parse_line(&ps, s, n);
        if (!nl)
            break;
        s = nl + 1;
    }
    if (!rc)
        rc = finish(&ps);
    if (rc) {
        if (rc == ENEVO_ENOMEM)
            enevo_errf(err, errlen, rc, "%s: out of memory", ps.source);
        enevo_grammar_free(ps.g);
        return rc;
    }
    *out = ps.g;
    return 0;
}

int enevo_grammar_load(const char *path, struct enevo_grammar **out, char *err, size_t errlen)
{
    *out = NULL;
    char *buf;
    int rc = enevo_read_text(path, 0, &buf, NULL, err, errlen);
    if (rc)
        return rc;
    rc = enevo_grammar_parse(buf, path, out, err, errlen);
    free(buf);
    return rc;
}

int enevo_grammar_symbol(const struct enevo_grammar *g, const char *name)
{
    if (!g || !name)
        return -1;
    size_t n = strlen(name);
    if (n > 2 && name[0] == '<' && name[n - 1] == '>')
        return find_rule(g, name + 1, n - 2);
    return find_rule(g, name, n);
}

/* ---- format --------------------------------------------------------------- */

struct sbuf {
    char *p;
    size_t len, cap;
    int oom;
};

static void sb_printf(struct sbuf *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static void sb_printf(struct sbuf *b, const char *fmt, ...)
{
    if (b->oom)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->oom = 1;
            return;
        }
        if (b->p && b->len + (size_t)n < b->cap) {
            b->len += (size_t)n;
            return;
        }
        size_t nc = b->cap ? b->cap : 256;
        while (nc <= b->len + (size_t)n)
            nc *= 2;
        char *np = realloc(b->p, nc);
        if (!np) {
            b->oom = 1;
            return;
        }
        b->p = np;
        b->cap = nc;
    }
}

void enevo__fmt_double(char *buf, size_t n, double v)
{
    int prec = 1;
    for (; prec < 17; prec++) {
        snprintf(buf, n, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    /* %g switches to an exponent once the exponent reaches the precision;
     * widen the precision so 20 prints as "20", not "2e+01". */
    double a = fabs(v);
    if (a >= 1 && a < 1e16) {
        int digits = (int)floor(log10(a)) + 1;
        if (digits > prec)
            prec = digits;
    }
    snprintf(buf, n, "%.*g", prec, v);
}

static void sb_bound(struct sbuf *b, double v, int dyn)
{
    if (dyn) {
        sb_printf(b, "_");
        return;
    }
    char tmp[40];
    enevo__fmt_double(tmp, sizeof tmp, v);
    sb_printf(b, "%s", tmp);
}

char *enevo_grammar_format(const struct enevo_grammar *g)
{
    if (!g)
        return NULL;
    struct sbuf b = {0};
    for (int r = 0; r < g->n_rules; r++) {
        const struct enevo__rule *rule = &g->rules[r];
        sb_printf(&b, "<%s> ::=", rule->name);
        for (int p = 0; p < rule->n_prods; p++) {
            const struct enevo__prod *pr = &rule->prods[p];
            if (p)
                sb_printf(&b, " |");
            for (int k = 0; k < pr->n_syms; k++) {
                const struct enevo__sym *sym = &pr->syms[k];
                if (sym->kind == ENEVO__SYM_NT) {
                    sb_printf(&b, " <%s>", g->rules[sym->nt].name);
                } else if (sym->kind == ENEVO__SYM_TERM) {
                    sb_printf(&b, " %s", sym->text);
                } else {
                    sb_printf(&b, " [%s,%s,%d,", sym->text, enevo__attr_type_names[sym->type],
                              sym->n);
                    sb_bound(&b, sym->lo, sym->lo_dyn);
                    sb_printf(&b, ",");
                    sb_bound(&b, sym->hi, sym->hi_dyn);
                    sb_printf(&b, "]");
                }
            }
        }
        sb_printf(&b, "\n");
    }
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    return b.p;
}

int enevo__prods_equal(const struct enevo__prod *a, const struct enevo__prod *b)
{
    if (a->n_syms != b->n_syms)
        return 0;
    for (int k = 0; k < a->n_syms; k++) {
        const struct enevo__sym *x = &a->syms[k], *y = &b->syms[k];
        if (x->kind != y->kind)
            return 0;
        if (x->kind == ENEVO__SYM_NT) {
            if (x->nt != y->nt)
                return 0;
            continue;
        }
        if (strcmp(x->text, y->text))
            return 0;
        if (x->kind == ENEVO__SYM_ATTR &&
            (x->type != y->type || x->n != y->n || x->lo_dyn != y->lo_dyn ||
             x->hi_dyn != y->hi_dyn || (!x->lo_dyn && x->lo != y->lo) ||
             (!x->hi_dyn && x->hi != y->hi)))
            return 0;
    }
    return 1;
}
