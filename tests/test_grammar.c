/* tests/test_grammar.c — grammar parser, DSGE genotypes: random, decode,
 * mutate, clamp, encode, copy, write/read. The generic properties run on the
 * project's configs/default.grammar, and on ENERGIZE's energize.grammar too
 * when ../shared/fixtures/energize is there. */
#include "tests.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "enevo/error.h"
#include "enevo/grammar.h"

/* ---- helpers ---------------------------------------------------------- */

static struct enevo_grammar *parse_ok(const char *text)
{
    struct enevo_grammar *g;
    char err[ENEVO_ERR_LEN] = "";
    if (enevo_grammar_parse(text, "t.grammar", &g, err, sizeof err))
        fail_msg("parse failed: %s", err);
    return g;
}

static struct enevo_grammar *load_ok(const char *path)
{
    struct enevo_grammar *g;
    char err[ENEVO_ERR_LEN] = "";
    if (enevo_grammar_load(path, &g, err, sizeof err))
        fail_msg("load %s failed: %s", path, err);
    return g;
}

/* An ENERGIZE fixture grammar, or NULL after a line saying it is missing
 * and what is left out (`why`). */
static struct enevo_grammar *load_fixture(const char *name, const char *why)
{
    const char *path = enevo_test_fixture_or_say(name, why);
    return path ? load_ok(path) : NULL;
}

/* The grammars every generic property runs on: the project's own, always
 * (tests run from the repository root), and ENERGIZE's when ../shared is
 * there. Both describe ENERGIZE's Fashion-MNIST search space, rule for
 * rule (fixtures_parse checks this), so the spot checks that name rules and
 * tokens (<softmax>, epochs:10000, ...) hold for each; the range checks
 * read their ranges from the grammar itself and hold for any grammar. */
static const struct grammar_file {
    const char *path; /* from the repository root, or a fixture name */
    int fixture;
} grammar_files[] = {
    {"configs/default.grammar", 0},
    {"energize.grammar", 1},
};

/* Runs `fn` on each grammar of grammar_files that is there. */
static void each_grammar(void (*fn)(struct enevo_grammar *g, const char *name))
{
    for (size_t i = 0; i < ENEVO_COUNT(grammar_files); i++) {
        const struct grammar_file *f = &grammar_files[i];
        struct enevo_grammar *g =
            f->fixture ? load_fixture(f->path, "checked configs/default.grammar only")
                       : load_ok(f->path);
        if (!g)
            continue;
        fn(g, f->path);
        enevo_grammar_free(g);
    }
}

static int sym(const struct enevo_grammar *g, const char *name)
{
    int s = enevo_grammar_symbol(g, name);
    if (s < 0)
        fail_msg("no symbol <%s>", name);
    return s;
}

static char *decode_ok(const struct enevo_grammar *g, struct enevo_dsge *d, enevo_rng *r)
{
    char *text = NULL;
    assert_int_equal(enevo_dsge_decode(g, d, NULL, 0, r, &text), 0);
    assert_non_null(text);
    return text;
}

/* ---- a grammar read back from its canonical text ------------------------ */

/* The checks below must hold for any grammar, so they take rules, terminals
 * and attribute specs [name,type,n,min,max] from enevo_grammar_format's
 * text (the grammar itself is opaque). One name may have different ranges
 * in different places (weight_decay per optimiser), so a spec carries its
 * scope: the first terminal before it in its alternative ("learning:adam"),
 * or "" when there is none. */
enum { MAX_RULES = 64, MAX_SPECS = 128, MAX_TERMS = 256 };

struct spec {
    char scope[64], name[64], type[16];
    int n, rule;
    double lo, hi;
    int lo_dyn, hi_dyn; /* `_`: supplied when the value is drawn */
};

struct gtext {
    int n_rules, n_specs, n_terms;
    char name[MAX_RULES][64];    /* in index order */
    char *rhs[MAX_RULES];        /* owned copies */
    const char *term[MAX_TERMS]; /* literal key:value terminals, into text */
    struct spec spec[MAX_SPECS];
    char *text; /* cut up: rule names, terminals */
};

static struct gtext *gtext_read(const struct enevo_grammar *g)
{
    struct gtext *t = calloc(1, sizeof *t);
    assert_non_null(t);
    t->text = enevo_grammar_format(g);
    assert_non_null(t->text);
    char *lsave = NULL;
    for (char *line = strtok_r(t->text, "\n", &lsave); line; line = strtok_r(NULL, "\n", &lsave)) {
        char *sep = strstr(line, " ::= ");
        if (line[0] != '<' || !sep || sep[-1] != '>' || t->n_rules == MAX_RULES)
            fail_msg("unexpected canonical line '%s'", line);
        int r = t->n_rules++;
        snprintf(t->name[r], sizeof t->name[r], "%.*s", (int)(sep - line - 2), line + 1);
        t->rhs[r] = strdup(sep + 5);
        char scope[64] = "", *save = NULL;
        for (char *tok = strtok_r(sep + 5, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
            if (!strcmp(tok, "|")) {
                scope[0] = '\0';
            } else if (tok[0] == '[') {
                struct spec *s = &t->spec[t->n_specs];
                char lo[32], hi[32];
                if (t->n_specs == MAX_SPECS || sscanf(tok, "[%63[^,],%15[^,],%d,%31[^,],%31[^]]]",
                                                      s->name, s->type, &s->n, lo, hi) != 5)
                    fail_msg("unexpected attribute '%s' in <%s>", tok, t->name[r]);
                snprintf(s->scope, sizeof s->scope, "%s", scope);
                s->rule = r;
                s->lo_dyn = !strcmp(lo, "_");
                s->hi_dyn = !strcmp(hi, "_");
                s->lo = s->lo_dyn ? 0 : strtod(lo, NULL);
                s->hi = s->hi_dyn ? 0 : strtod(hi, NULL);
                t->n_specs++;
            } else if (tok[0] != '<') {
                if (!scope[0])
                    snprintf(scope, sizeof scope, "%s", tok);
                assert_true(t->n_terms < MAX_TERMS);
                t->term[t->n_terms++] = tok;
            }
        }
    }
    assert_true(t->n_rules > 0);
    return t;
}

static void gtext_free(struct gtext *t)
{
    for (int r = 0; r < t->n_rules; r++)
        free(t->rhs[r]);
    free(t->text);
    free(t);
}

/* Marks in seen[] the rules a derivation of rule `start` can use. */
static void gtext_reach(const struct gtext *t, int start, char seen[MAX_RULES])
{
    memset(seen, 0, MAX_RULES);
    seen[start] = 1;
    for (int changed = 1; changed;) {
        changed = 0;
        for (int r = 0; r < t->n_rules; r++)
            for (int q = 0; seen[r] && q < t->n_rules; q++) {
                char ref[70];
                snprintf(ref, sizeof ref, "<%s>", t->name[q]);
                if (!seen[q] && strstr(t->rhs[r], ref))
                    seen[q] = changed = 1;
            }
    }
}

/* Whether a derivation of rule `start` can hold attributes (dyn: ones with
 * a dynamic bound `_`). */
static int gtext_has_attrs(const struct gtext *t, int start, int dyn)
{
    char seen[MAX_RULES];
    gtext_reach(t, start, seen);
    for (int i = 0; i < t->n_specs; i++)
        if (seen[t->spec[i].rule] && (!dyn || t->spec[i].lo_dyn || t->spec[i].hi_dyn))
            return 1;
    return 0;
}

/* Whether `vals` ("3", "8,16") are spec s's n values, each of its type
 * and within its bounds (a dynamic bound is not checked). */
static int spec_fits(const struct spec *s, const char *vals)
{
    int count = 0;
    for (const char *p = vals;; p++) {
        char *end;
        double v = strtod(p, &end), x = v;
        if (end == p || !isfinite(v))
            return 0;
        count++;
        if (!strcmp(s->type, "int_power2") || !strcmp(s->type, "inv_power2")) {
            if (v <= 0)
                return 0;
            x = strcmp(s->type, "int_power2") ? -log2(v) : log2(v); /* exact for 2^k */
            if (x != floor(x))
                return 0;
        } else if (!strcmp(s->type, "int")) {
            if (v != floor(v))
                return 0;
        } else if (strcmp(s->type, "float")) {
            fail_msg("unknown attribute type '%s'", s->type);
        }
        if ((!s->lo_dyn && x < s->lo) || (!s->hi_dyn && x > s->hi))
            return 0;
        if (!*end)
            break;
        if (*end != ',')
            return 0;
        p = end;
    }
    return count == s->n;
}

/* Every token of a decoded text is a terminal of the grammar or an
 * attribute whose values fit a spec of that name: one in the current scope
 * (the last scope terminal seen) when the name has one there, else any.
 * Returns how many attributes were checked, or -1 with a message in why. */
static int range_errors(const struct gtext *t, const char *text, char *why, size_t whylen)
{
    char *copy = strdup(text), *save = NULL;
    const char *scope = "";
    int checked = 0;
    for (char *tok = strtok_r(copy, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
        int literal = 0;
        for (int i = 0; i < t->n_terms; i++)
            literal |= !strcmp(tok, t->term[i]);
        for (int i = 0; i < t->n_specs; i++)
            if (!strcmp(tok, t->spec[i].scope))
                scope = t->spec[i].scope;
        if (literal)
            continue;
        char *colon = strchr(tok, ':');
        int named = 0, in_scope = 0, fits = 0, fits_in_scope = 0;
        for (int i = 0; colon && i < t->n_specs; i++) {
            const struct spec *s = &t->spec[i];
            if (strlen(s->name) != (size_t)(colon - tok) || strncmp(s->name, tok, strlen(s->name)))
                continue;
            int f = spec_fits(s, colon + 1);
            named++;
            fits |= f;
            if (!strcmp(s->scope, scope)) {
                in_scope++;
                fits_in_scope |= f;
            }
        }
        if (!named)
            snprintf(why, whylen, "'%s' is neither a terminal nor an attribute of the grammar",
                     tok);
        else if (in_scope ? !fits_in_scope : !fits)
            snprintf(why, whylen, "'%s' is out of its grammar range (scope '%s')", tok, scope);
        if (!named || (in_scope ? !fits_in_scope : !fits)) {
            free(copy);
            return -1;
        }
        checked++;
    }
    free(copy);
    return checked;
}

static int check_ranges(const struct gtext *t, const char *text)
{
    char why[256];
    int checked = range_errors(t, text, why, sizeof why);
    if (checked < 0)
        fail_msg("%s in '%s'", why, text);
    return checked;
}

static const char *const starts[] = {"features", "classification", "learning", "softmax"};

/* ---- parsing ---------------------------------------------------------- */

static int count_lines(const char *text)
{
    int n = 0;
    for (const char *p = text; *p; p++)
        n += *p == '\n';
    return n;
}

/* Rule indices where both files put them, and the rule count. */
static void fixtures_parse_on(struct enevo_grammar *g, const char *name)
{
    (void)name;
    assert_int_equal(enevo_grammar_symbol(g, "features"), 0);
    assert_int_equal(enevo_grammar_symbol(g, "<features>"), 0);
    assert_int_equal(enevo_grammar_symbol(g, "convolution"), 1);
    assert_int_equal(enevo_grammar_symbol(g, "early_stop"), 18);
    assert_int_equal(enevo_grammar_symbol(g, "model_partition"), 19);
    assert_int_equal(enevo_grammar_symbol(g, "nope"), -1);
    /* rule count: the last index plus one, and no index beyond */
    char *f = enevo_grammar_format(g);
    assert_int_equal(count_lines(f), 20);
    free(f);
}

/* How many canonical lines of `a` (each "<x> ::= ...\n") are not lines of `b`. */
static int rules_missing(const char *a, const char *b)
{
    size_t blen = strlen(b);
    char *nb = malloc(blen + 2);
    assert_non_null(nb);
    nb[0] = '\n';
    memcpy(nb + 1, b, blen + 1);
    int missing = 0;
    for (const char *l = a; *l;) {
        const char *e = strchr(l, '\n');
        size_t n = e ? (size_t)(e - l) + 1 : strlen(l);
        char *want = malloc(n + 2);
        assert_non_null(want);
        want[0] = '\n';
        memcpy(want + 1, l, n);
        want[n + 1] = '\0';
        if (!strstr(nb, want)) {
            print_message("rule not in the other grammar: %s", want + 1);
            missing++;
        }
        free(want);
        l += n;
    }
    free(nb);
    return missing;
}

static void fixtures_parse(void **state)
{
    (void)state;
    each_grammar(fixtures_parse_on);
    /* About ENERGIZE's own files: DENSER's grammar, and the project's
     * grammar being ENERGIZE's rule for rule (order aside). */
    if (!enevo_test_fixture_or_say("energize.grammar", "the checks of ENERGIZE's and DENSER's "
                                                       "grammars are left out"))
        return;
    struct enevo_grammar *g = load_ok(enevo_test_fixture("energize.grammar"));
    struct enevo_grammar *dg = load_ok(enevo_test_fixture("denser.grammar"));
    struct enevo_grammar *own = load_ok("configs/default.grammar");
    assert_int_equal(enevo_grammar_symbol(dg, "model_partition"), -1);
    assert_int_equal(enevo_grammar_symbol(dg, "early_stop"), 18);
    char *f = enevo_grammar_format(g), *df = enevo_grammar_format(dg),
         *of = enevo_grammar_format(own);
    assert_int_equal(count_lines(df), 19);
    assert_int_equal(rules_missing(of, f), 0);
    assert_int_equal(rules_missing(f, of), 0);
    free(f);
    free(df);
    free(of);
    enevo_grammar_free(g);
    enevo_grammar_free(dg);
    enevo_grammar_free(own);
}

static void format_round_trips_on(struct enevo_grammar *g, const char *name)
{
    (void)name;
    char *f1 = enevo_grammar_format(g);
    assert_non_null(strstr(f1, "<early_stop> ::= [early_stop,int,1,5,20]\n"));
    assert_non_null(strstr(f1, "[weight_decay,float,1,1e-07,1e-05]"));
    assert_non_null(strstr(f1, "<model_partition> ::= model_partition:_ "
                               "[partition_point,int,1,0,_]\n"));
    struct enevo_grammar *g2 = parse_ok(f1);
    char *f2 = enevo_grammar_format(g2);
    assert_string_equal(f1, f2);
    /* same indices, so the same seed gives the same derivation */
    for (size_t s = 0; s < ENEVO_COUNT(starts); s++) {
        enevo_rng r1, r2;
        enevo_rng_seed(&r1, 5, ENEVO_STREAM_EVO);
        enevo_rng_seed(&r2, 5, ENEVO_STREAM_EVO);
        struct enevo_dsge *a, *b;
        assert_int_equal(enevo_dsge_random(g, sym(g, starts[s]), NULL, 0, &r1, &a), 0);
        assert_int_equal(enevo_dsge_random(g2, sym(g2, starts[s]), NULL, 0, &r2, &b), 0);
        char *ta = decode_ok(g, a, &r1), *tb = decode_ok(g2, b, &r2);
        assert_string_equal(ta, tb);
        free(ta);
        free(tb);
        enevo_dsge_free(a);
        enevo_dsge_free(b);
    }
    free(f1);
    free(f2);
    enevo_grammar_free(g2);
}

static void format_round_trips(void **state)
{
    (void)state;
    each_grammar(format_round_trips_on);
}

static void parse_tolerates_spaces_comments_and_crlf(void **state)
{
    (void)state;
    struct enevo_grammar *g = parse_ok("# comment\r\n\r\n  <a> ::= [x, int, 2, 1, 3]  <b>\r\n"
                                       "<b> ::= y:1|y:2\n");
    assert_int_equal(enevo_grammar_symbol(g, "a"), 0);
    assert_int_equal(enevo_grammar_symbol(g, "b"), 1);
    char *f = enevo_grammar_format(g);
    assert_string_equal(f, "<a> ::= [x,int,2,1,3] <b>\n<b> ::= y:1 | y:2\n");
    free(f);
    enevo_grammar_free(g);
}

static void malformed_grammars_are_rejected(void **state)
{
    (void)state;
    static const struct {
        const char *text, *want1, *want2;
    } cases[] = {
        {"<a> x:1\n", "t.grammar:1:5:", "expected '::=' after <a>"},
        {"a ::= x:1\n", "t.grammar:1:1:", "expected '<name>'"},
        {"<a> ::= [x,long,1,0,1]\n", "t.grammar:1:12:", "unknown attribute type 'long'"},
        {"<a> ::= [x,int,0,0,1]\n", "t.grammar:1:16:", "at least 1"},
        {"<a> ::= [x,int,1,5,1]\n", "t.grammar:1:", "min > max"},
        {"<a> ::= [x,float,1,0,abc]\n", "t.grammar:1:22:", "non-numeric max bound 'abc'"},
        {"<a> ::= [x,int,1,0.5,1]\n", "t.grammar:1:", "must be an integer"},
        {"<a> ::= [x,int,1,0]\n", "t.grammar:1:9:", "expected [name,type,n,min,max]"},
        {"<a> ::= [x,int,1,0,1\n", "t.grammar:1:9:", "expected ']'"},
        {"<a> ::= x:1\n<b> ::= y:1 <foo>\n", "<foo> used at t.grammar:2:13", "never defined"},
        {"<a> ::= x:1\n\n<a> ::= y:1\n", "t.grammar:3:1:", "<a> is defined twice"},
        {"<a> ::= x:1 | | y:1\n", "t.grammar:1:15:", "empty alternative in <a>"},
        {"<a> ::= x:1 |\n", "t.grammar:1:14:", "empty alternative"},
        {"<a> ::=\n", "t.grammar:1:8:", "empty alternative"},
        {"<a> ::= <b>\n<b> ::= <a> x:1 | <b>\n", "<a>", "no terminating derivation"},
        {"<a> ::= <x\n", "t.grammar:1:9:", "malformed non-terminal"},
        {"# only a comment\n", "no rules", ""},
    };
    for (size_t i = 0; i < ENEVO_COUNT(cases); i++) {
        struct enevo_grammar *g = (void *)1;
        char err[ENEVO_ERR_LEN] = "";
        int rc = enevo_grammar_parse(cases[i].text, "t.grammar", &g, err, sizeof err);
        if (rc != ENEVO_EFORMAT || g || !strstr(err, cases[i].want1) ||
            !strstr(err, cases[i].want2))
            fail_msg("case %zu: rc %d, err '%s', want '%s' and '%s'", i, rc, err, cases[i].want1,
                     cases[i].want2);
    }
    char err[ENEVO_ERR_LEN];
    struct enevo_grammar *g;
    assert_int_equal(enevo_grammar_load("/nonexistent/x.grammar", &g, err, sizeof err), ENEVO_EIO);
    assert_non_null(strstr(err, "/nonexistent/x.grammar"));
}

/* ---- random derivations and decoding ---------------------------------- */

static void random_derivations_are_in_range_on(struct enevo_grammar *g, const char *name)
{
    struct gtext *t = gtext_read(g);
    /* The checker itself catches what it should. */
    static const char *const wrong[] = {
        "layer:conv out_channels:257 kernel_size:3 stride:1 padding:same act:relu bias:True",
        "layer:conv out_channels:32.5 kernel_size:3 stride:1 padding:same act:relu bias:True",
        "layer:dropout rate:nan",
        "layer:dropout rate:0.1,0.2",
        /* 0.95 is a gradient_descent momentum, out of lars's [0.7, 0.9] */
        "learning:lars lr_weights:0.1 lr_biases:0.005 momentum:0.95 weight_decay:0.000001",
        "layer:fc act:relu out_features:128 bias:Maybe",
    };
    char why[256];
    for (size_t i = 0; i < ENEVO_COUNT(wrong); i++)
        if (range_errors(t, wrong[i], why, sizeof why) >= 0)
            fail_msg("%s: range check accepts '%s'", name, wrong[i]);
    assert_int_equal(range_errors(t,
                                  "learning:gradient_descent lr:0.1 momentum:0.95 "
                                  "weight_decay:0.001 nesterov:True early_stop:5 "
                                  "batch_size:32 epochs:10000",
                                  why, sizeof why),
                     5);

    /* Every rule as a start, except those that need dynamic bounds
     * (dynamic_bounds_and_clamp). */
    enevo_rng r;
    enevo_rng_seed(&r, 42, ENEVO_STREAM_EVO);
    int seen_conv = 0, seen_adam = 0, n_starts = 0;
    for (int rule = 0; rule < t->n_rules; rule++) {
        if (gtext_has_attrs(t, rule, 1))
            continue;
        const char *start = t->name[rule];
        int st = sym(g, start), checked = 0;
        n_starts++;
        for (int i = 0; i < 200; i++) {
            struct enevo_dsge *d;
            assert_int_equal(enevo_dsge_random(g, st, NULL, 0, &r, &d), 0);
            assert_int_equal(enevo_dsge_start(d), st);
            char *text = decode_ok(g, d, &r);
            checked += check_ranges(t, text);
            seen_conv += !strncmp(text, "layer:conv out_channels:", 24);
            seen_adam += !strncmp(text, "learning:adam lr:", 17);
            /* spot checks of ENERGIZE's space (both grammars describe it) */
            if (!strcmp(start, "softmax")) /* out_features:10 is a fixed terminal */
                assert_string_equal(text, "layer:fc act:softmax out_features:10 bias:True");
            if (!strcmp(start, "learning"))
                assert_non_null(strstr(text, " epochs:10000"));
            free(text);
            enevo_dsge_free(d);
        }
        /* each start reaching an attribute draws one in at least 1 of 10 */
        if (gtext_has_attrs(t, rule, 0) ? checked < 20 : checked != 0)
            fail_msg("%s: <%s>: %d attributes in 200 derivations", name, start, checked);
    }
    assert_true(n_starts > 0);
    assert_true(seen_conv > 0 && seen_adam > 0);
    gtext_free(t);
}

static void random_derivations_are_in_range(void **state)
{
    (void)state;
    each_grammar(random_derivations_are_in_range_on);
}

static void same_seed_same_text_on(struct enevo_grammar *g, const char *name)
{
    (void)name;
    int differ = 0;
    for (int seed = 0; seed < 20; seed++) {
        enevo_rng r1, r2, r3;
        enevo_rng_seed(&r1, (uint64_t)seed, ENEVO_STREAM_EVO);
        enevo_rng_seed(&r2, (uint64_t)seed, ENEVO_STREAM_EVO);
        enevo_rng_seed(&r3, (uint64_t)seed + 1000, ENEVO_STREAM_EVO);
        struct enevo_dsge *a, *b, *c;
        int st = sym(g, "learning");
        assert_int_equal(enevo_dsge_random(g, st, NULL, 0, &r1, &a), 0);
        assert_int_equal(enevo_dsge_random(g, st, NULL, 0, &r2, &b), 0);
        assert_int_equal(enevo_dsge_random(g, st, NULL, 0, &r3, &c), 0);
        /* decoding a complete genotype draws nothing: rng may be NULL */
        char *ta = decode_ok(g, a, NULL), *tb = decode_ok(g, b, NULL), *tc = decode_ok(g, c, NULL);
        assert_string_equal(ta, tb);
        differ += strcmp(ta, tc) != 0;
        free(ta);
        free(tb);
        free(tc);
        enevo_dsge_free(a);
        enevo_dsge_free(b);
        enevo_dsge_free(c);
    }
    assert_true(differ >= 18);
}

static void same_seed_same_text(void **state)
{
    (void)state;
    each_grammar(same_seed_same_text_on);
}

static void duplicate_alternatives_weigh_double(void **state)
{
    (void)state;
    struct enevo_grammar *g = parse_ok("<a> ::= x:1 | x:1 | x:2\n");
    enevo_rng r;
    enevo_rng_seed(&r, 9, ENEVO_STREAM_EVO);
    int ones = 0, n = 3000;
    for (int i = 0; i < n; i++) {
        struct enevo_dsge *d;
        assert_int_equal(enevo_dsge_random(g, 0, NULL, 0, &r, &d), 0);
        char *t = decode_ok(g, d, &r);
        ones += !strcmp(t, "x:1");
        assert_true(!strcmp(t, "x:1") || !strcmp(t, "x:2"));
        free(t);
        enevo_dsge_free(d);
    }
    assert_in_range(ones, (int)(n * 0.62), (int)(n * 0.72));
    enevo_grammar_free(g);
}

static void power2_types_and_multi_values(void **state)
{
    (void)state;
    struct enevo_grammar *g =
        parse_ok("<a> ::= [p,int_power2,2,3,5] [q,inv_power2,1,1,3] [f,float,3,-1,1]\n");
    enevo_rng r;
    enevo_rng_seed(&r, 3, ENEVO_STREAM_EVO);
    for (int i = 0; i < 100; i++) {
        struct enevo_dsge *d;
        assert_int_equal(enevo_dsge_random(g, 0, NULL, 0, &r, &d), 0);
        char *t = decode_ok(g, d, &r);
        int p1, p2;
        double q, f[3];
        if (sscanf(t, "p:%d,%d q:%lf f:%lf,%lf,%lf", &p1, &p2, &q, &f[0], &f[1], &f[2]) != 6)
            fail_msg("unexpected text '%s'", t);
        assert_true(p1 == 8 || p1 == 16 || p1 == 32);
        assert_true(p2 == 8 || p2 == 16 || p2 == 32);
        assert_true(q == 0.5 || q == 0.25 || q == 0.125);
        for (int k = 0; k < 3; k++)
            assert_true(f[k] >= -1 && f[k] <= 1);
        struct enevo_dsge *e;
        char err[ENEVO_ERR_LEN] = "";
        if (enevo_dsge_encode(g, 0, t, &e, err, sizeof err))
            fail_msg("encode '%s': %s", t, err);
        char *t2 = decode_ok(g, e, NULL);
        assert_string_equal(t, t2);
        free(t);
        free(t2);
        enevo_dsge_free(d);
        enevo_dsge_free(e);
    }
    struct enevo_dsge *e;
    char err[ENEVO_ERR_LEN] = "";
    /* 12 is not a power of two; 64 is out of range; q needs 2^-k */
    assert_int_equal(enevo_dsge_encode(g, 0, "p:8,12 q:0.5 f:0,0,0", &e, err, sizeof err),
                     ENEVO_EFORMAT);
    assert_int_equal(enevo_dsge_encode(g, 0, "p:8,64 q:0.5 f:0,0,0", &e, err, sizeof err),
                     ENEVO_EFORMAT);
    assert_int_equal(enevo_dsge_encode(g, 0, "p:8,8 q:2 f:0,0,0", &e, err, sizeof err),
                     ENEVO_EFORMAT);
    assert_int_equal(enevo_dsge_encode(g, 0, "p:8,8 q:0.5 f:0,0", &e, err, sizeof err),
                     ENEVO_EFORMAT);
    assert_int_equal(enevo_dsge_encode(g, 0, "p:8,8 q:0.5 f:0,0,0", &e, err, sizeof err), 0);
    enevo_dsge_free(e);
    enevo_grammar_free(g);
}

static void recursive_grammars_terminate(void **state)
{
    (void)state;
    /* critical branching (mean offspring 1) and left recursion */
    struct enevo_grammar *g = parse_ok("<e> ::= <e> <e> | x:1\n<s> ::= <s> y:1 | z:1\n");
    enevo_rng r;
    enevo_rng_seed(&r, 11, ENEVO_STREAM_EVO);
    for (int i = 0; i < 200; i++) {
        struct enevo_dsge *d;
        assert_int_equal(enevo_dsge_random(g, 0, NULL, 0, &r, &d), 0);
        char *t = decode_ok(g, d, &r);
        free(t);
        for (int m = 0; m < 5; m++)
            assert_int_equal(enevo_dsge_mutate(g, d, NULL, 0, &r), 0);
        enevo_dsge_free(d);
    }
    struct enevo_dsge *e;
    char err[ENEVO_ERR_LEN] = "";
    if (enevo_dsge_encode(g, 1, "z:1 y:1 y:1 y:1", &e, err, sizeof err))
        fail_msg("left-recursive encode: %s", err);
    char *t = decode_ok(g, e, NULL);
    assert_string_equal(t, "z:1 y:1 y:1 y:1");
    free(t);
    enevo_dsge_free(e);
    if (enevo_dsge_encode(g, 0, "x:1 x:1 x:1 x:1 x:1", &e, err, sizeof err))
        fail_msg("ambiguous encode: %s", err);
    t = decode_ok(g, e, NULL);
    assert_string_equal(t, "x:1 x:1 x:1 x:1 x:1");
    free(t);
    enevo_dsge_free(e);
    enevo_grammar_free(g);
}

/* ---- mutation, copies ---------------------------------------------------- */

static void mutation_changes_and_stays_in_range_on(struct enevo_grammar *g, const char *name)
{
    struct gtext *t = gtext_read(g);
    enevo_rng r;
    enevo_rng_seed(&r, 7, ENEVO_STREAM_EVO);
    const char *which[] = {"features", "learning", "classification"};
    for (size_t s = 0; s < ENEVO_COUNT(which); s++) {
        struct enevo_dsge *d;
        assert_int_equal(enevo_dsge_random(g, sym(g, which[s]), NULL, 0, &r, &d), 0);
        char *before = decode_ok(g, d, &r);
        int changed = 0;
        for (int i = 0; i < 200; i++) {
            assert_int_equal(enevo_dsge_mutate(g, d, NULL, 0, &r), 0);
            /* mutate repairs: decoding now needs no draws */
            char *after = decode_ok(g, d, NULL);
            check_ranges(t, after);
            changed += strcmp(before, after) != 0;
            free(before);
            before = after;
        }
        if (changed <= 100)
            fail_msg("%s: <%s>: only %d of 200 mutations changed the text", name, which[s],
                     changed);
        free(before);
        enevo_dsge_free(d);
    }
    gtext_free(t);
}

static void mutation_changes_and_stays_in_range(void **state)
{
    (void)state;
    each_grammar(mutation_changes_and_stays_in_range_on);
}

static void mutation_skips_duplicate_productions(void **state)
{
    (void)state;
    struct enevo_grammar *g = parse_ok("<a> ::= x:1 | x:1 | x:2\n<b> ::= y:1 | y:1\n");
    enevo_rng r;
    enevo_rng_seed(&r, 1, ENEVO_STREAM_EVO);
    struct enevo_dsge *d;
    assert_int_equal(enevo_dsge_random(g, 0, NULL, 0, &r, &d), 0);
    for (int i = 0; i < 50; i++) {
        char *before = decode_ok(g, d, NULL);
        assert_int_equal(enevo_dsge_mutate(g, d, NULL, 0, &r), 0);
        char *after = decode_ok(g, d, NULL);
        /* the only different production is always taken */
        assert_string_not_equal(before, after);
        free(before);
        free(after);
    }
    enevo_dsge_free(d);
    /* <b>: nothing can change; mutate still succeeds */
    assert_int_equal(enevo_dsge_random(g, 1, NULL, 0, &r, &d), 0);
    assert_int_equal(enevo_dsge_mutate(g, d, NULL, 0, &r), 0);
    char *t = decode_ok(g, d, NULL);
    assert_string_equal(t, "y:1");
    free(t);
    enevo_dsge_free(d);
    enevo_grammar_free(g);
}

static void copies_do_not_alias_on(struct enevo_grammar *g, const char *name)
{
    (void)name;
    enevo_rng r;
    enevo_rng_seed(&r, 13, ENEVO_STREAM_EVO);
    for (size_t s = 0; s < ENEVO_COUNT(starts); s++) {
        struct enevo_dsge *d;
        assert_int_equal(enevo_dsge_random(g, sym(g, starts[s]), NULL, 0, &r, &d), 0);
        char *orig = decode_ok(g, d, NULL);
        struct enevo_dsge *c = enevo_dsge_copy(d);
        assert_non_null(c);
        char *ct = decode_ok(g, c, NULL);
        assert_string_equal(orig, ct);
        free(ct);
        for (int i = 0; i < 200; i++)
            assert_int_equal(enevo_dsge_mutate(g, c, NULL, 0, &r), 0);
        char *now = decode_ok(g, d, NULL);
        assert_string_equal(orig, now);
        free(now);
        free(orig);
        enevo_dsge_free(c);
        enevo_dsge_free(d);
    }
}

static void copies_do_not_alias(void **state)
{
    (void)state;
    each_grammar(copies_do_not_alias_on);
}

/* ---- serialisation ------------------------------------------------------- */

static void write_read_round_trip_on(struct enevo_grammar *g, const char *name)
{
    (void)name;
    enevo_rng r;
    enevo_rng_seed(&r, 21, ENEVO_STREAM_EVO);
    enum { N = 40 };
    char *texts[N];
    unsigned char *buf = NULL;
    size_t len = 0, cap = 0;
    for (int i = 0; i < N; i++) {
        struct enevo_dsge *d;
        assert_int_equal(enevo_dsge_random(g, sym(g, starts[i % 4]), NULL, 0, &r, &d), 0);
        texts[i] = decode_ok(g, d, NULL);
        assert_int_equal(enevo_dsge_write(d, &buf, &len, &cap), 0);
        enevo_dsge_free(d);
    }
    size_t pos = 0;
    for (int i = 0; i < N; i++) {
        struct enevo_dsge *d;
        char err[ENEVO_ERR_LEN] = "";
        if (enevo_dsge_read(g, buf, len, &pos, &d, err, sizeof err))
            fail_msg("read %d: %s", i, err);
        char *t = decode_ok(g, d, NULL);
        assert_string_equal(t, texts[i]);
        free(t);
        free(texts[i]);
        enevo_dsge_free(d);
    }
    assert_int_equal(pos, len);
    free(buf);
}

static void write_read_round_trip(void **state)
{
    (void)state;
    each_grammar(write_read_round_trip_on);
}

/* A rule with one production and no non-terminals: with `n_values` values,
 * all of them one attribute of type `type` with fixed bounds (n_values 0:
 * no attributes). Its index, or -1. */
static int plain_rule(const struct gtext *t, int n_values, const char *type)
{
    for (int r = 0; r < t->n_rules; r++) {
        if (strchr(t->rhs[r], '|') || strchr(t->rhs[r], '<'))
            continue;
        int n_specs = 0, ok = 1;
        for (int i = 0; i < t->n_specs; i++) {
            const struct spec *s = &t->spec[i];
            if (s->rule != r)
                continue;
            n_specs++;
            ok &= s->n == n_values && !strcmp(s->type, type) && !s->lo_dyn && !s->hi_dyn;
        }
        if (n_values ? n_specs == 1 && ok : n_specs == 0)
            return r;
    }
    return -1;
}

/* The layout enevo_dsge_write documents by example: a 12-byte header
 * (magic, start, rule count), then per rule its expansion count and each
 * expansion's production, value count and 8-byte values. A derivation of a
 * plain rule r (above) has count 1 at 12 + 4r, its production at 16 + 4r,
 * its value count at 20 + 4r and its values from 24 + 4r. */
static void corrupt_serialisations_are_rejected_on(struct enevo_grammar *g, const char *name)
{
    struct gtext *t = gtext_read(g);
    enevo_rng r;
    enevo_rng_seed(&r, 2, ENEVO_STREAM_EVO);
    struct enevo_dsge *d, *out;
    char err[ENEVO_ERR_LEN];
    size_t pos;

    /* every truncation of a learning genotype */
    unsigned char *buf = NULL;
    size_t len = 0, cap = 0;
    assert_int_equal(enevo_dsge_random(g, sym(g, "learning"), NULL, 0, &r, &d), 0);
    assert_int_equal(enevo_dsge_write(d, &buf, &len, &cap), 0);
    enevo_dsge_free(d);
    for (size_t cut = 0; cut < len; cut++) {
        pos = 0;
        err[0] = '\0';
        assert_int_equal(enevo_dsge_read(g, buf, cut, &pos, &out, err, sizeof err), ENEVO_EFORMAT);
        assert_null(out);
        assert_int_equal(pos, 0);
        assert_non_null(strstr(err, "truncated"));
    }
    /* wrong grammar: this one plus a rule */
    char *canon = enevo_grammar_format(g), *more_text = malloc(strlen(canon) + 64);
    assert_non_null(more_text);
    sprintf(more_text, "%s<zz_extra_rule> ::= x:1\n", canon);
    free(canon);
    struct enevo_grammar *more = parse_ok(more_text);
    free(more_text);
    pos = 0;
    assert_int_equal(enevo_dsge_read(more, buf, len, &pos, &out, err, sizeof err), ENEVO_EFORMAT);
    assert_non_null(strstr(err, "non-terminals"));
    enevo_grammar_free(more);
    /* bad magic */
    buf[0] ^= 0xff;
    pos = 0;
    assert_int_equal(enevo_dsge_read(g, buf, len, &pos, &out, err, sizeof err), ENEVO_EFORMAT);
    assert_non_null(strstr(err, "magic"));
    free(buf);

    /* a rule without attributes (<softmax>, <batch_norm>) */
    size_t nt = (size_t)t->n_rules;
    int fixed = plain_rule(t, 0, "");
    if (fixed < 0)
        fail_msg("%s: no rule with one production and no attributes", name);
    size_t at = 12 + 4 * (size_t)fixed;
    char want[128];
    buf = NULL;
    len = cap = 0;
    assert_int_equal(sym(g, t->name[fixed]), fixed);
    assert_int_equal(enevo_dsge_random(g, fixed, NULL, 0, &r, &d), 0);
    assert_int_equal(enevo_dsge_write(d, &buf, &len, &cap), 0);
    enevo_dsge_free(d);
    assert_int_equal(len, 12 + nt * 4 + 8);
    assert_int_equal(buf[at], 1);
    buf[at + 4] = 1; /* it has one production */
    pos = 0;
    assert_int_equal(enevo_dsge_read(g, buf, len, &pos, &out, err, sizeof err), ENEVO_EFORMAT);
    snprintf(want, sizeof want, "<%s> has 1 productions", t->name[fixed]);
    if (!strstr(err, want))
        fail_msg("%s: '%s' lacks '%s'", name, err, want);
    buf[at + 4] = 0;
    buf[at + 8] = 1; /* no values in that production */
    pos = 0;
    assert_int_equal(enevo_dsge_read(g, buf, len, &pos, &out, err, sizeof err), ENEVO_EFORMAT);
    assert_non_null(strstr(err, "values"));
    buf[at + 8] = 0;
    buf[4] = (unsigned char)(nt + 5); /* start symbol out of range */
    pos = 0;
    assert_int_equal(enevo_dsge_read(g, buf, len, &pos, &out, err, sizeof err), ENEVO_EFORMAT);
    assert_non_null(strstr(err, "start"));
    buf[4] = (unsigned char)fixed;
    pos = 0;
    assert_int_equal(enevo_dsge_read(g, buf, len, &pos, &out, err, sizeof err), 0);
    enevo_dsge_free(out);
    free(buf);

    /* a rule holding one int (<early_stop>): 12.5, infinity and NaN are no ints */
    int one_int = plain_rule(t, 1, "int");
    if (one_int < 0)
        fail_msg("%s: no rule with one production and one int", name);
    assert_int_equal(sym(g, t->name[one_int]), one_int);
    at = 24 + 4 * (size_t)one_int;
    buf = NULL;
    len = cap = 0;
    assert_int_equal(enevo_dsge_random(g, one_int, NULL, 0, &r, &d), 0);
    assert_int_equal(enevo_dsge_write(d, &buf, &len, &cap), 0);
    enevo_dsge_free(d);
    assert_int_equal(len, 12 + nt * 4 + 16);
    double bad_values[] = {12.5, INFINITY, NAN};
    const char *attr = NULL;
    for (int i = 0; i < t->n_specs; i++)
        if (t->spec[i].rule == one_int)
            attr = t->spec[i].name;
    snprintf(want, sizeof want, "attribute %s has an invalid int value", attr);
    for (size_t i = 0; i < ENEVO_COUNT(bad_values); i++) {
        uint64_t bits;
        memcpy(&bits, &bad_values[i], sizeof bits);
        for (int b = 0; b < 8; b++)
            buf[at + (size_t)b] = (unsigned char)(bits >> (8 * b));
        pos = 0;
        assert_int_equal(enevo_dsge_read(g, buf, len, &pos, &out, err, sizeof err), ENEVO_EFORMAT);
        if (!strstr(err, want))
            fail_msg("%s: value %zu: '%s' lacks '%s'", name, i, err, want);
    }
    free(buf);
    gtext_free(t);
}

static void corrupt_serialisations_are_rejected(void **state)
{
    (void)state;
    each_grammar(corrupt_serialisations_are_rejected_on);
    /* About ENERGIZE's own files: DENSER's grammar has one rule fewer. */
    const char *path = enevo_test_fixture_or_say("denser.grammar", "its check is left out");
    if (!path)
        return;
    struct enevo_grammar *dg = load_ok(path), *g = load_ok("configs/default.grammar");
    enevo_rng r;
    enevo_rng_seed(&r, 2, ENEVO_STREAM_EVO);
    struct enevo_dsge *d, *out;
    unsigned char *buf = NULL;
    size_t len = 0, cap = 0, pos = 0;
    char err[ENEVO_ERR_LEN];
    assert_int_equal(enevo_dsge_random(g, sym(g, "learning"), NULL, 0, &r, &d), 0);
    assert_int_equal(enevo_dsge_write(d, &buf, &len, &cap), 0);
    enevo_dsge_free(d);
    assert_int_equal(enevo_dsge_read(dg, buf, len, &pos, &out, err, sizeof err), ENEVO_EFORMAT);
    assert_non_null(strstr(err, "non-terminals"));
    free(buf);
    enevo_grammar_free(dg);
    enevo_grammar_free(g);
}

/* ---- encode ---------------------------------------------------------------- */

static void encode_decode_round_trip_on(struct enevo_grammar *g, const char *name)
{
    (void)name;
    enevo_rng r;
    enevo_rng_seed(&r, 77, ENEVO_STREAM_EVO);
    for (int i = 0; i < 100; i++) {
        int st = sym(g, starts[i % 4]);
        struct enevo_dsge *d, *e;
        assert_int_equal(enevo_dsge_random(g, st, NULL, 0, &r, &d), 0);
        char *t = decode_ok(g, d, NULL);
        char err[ENEVO_ERR_LEN] = "";
        if (enevo_dsge_encode(g, st, t, &e, err, sizeof err))
            fail_msg("encode '%s': %s", t, err);
        assert_int_equal(enevo_dsge_start(e), st);
        char *t2 = decode_ok(g, e, NULL);
        assert_string_equal(t, t2);
        free(t);
        free(t2);
        enevo_dsge_free(d);
        enevo_dsge_free(e);
    }
}

static void encode_decode_round_trip(void **state)
{
    (void)state;
    each_grammar(encode_decode_round_trip_on);
}

static void encode_energize_phenotype_lines_on(struct enevo_grammar *g, const char *name)
{
    (void)name;
    static const struct {
        const char *start, *text;
    } good[] = {
        {"features", "layer:conv out_channels:98 kernel_size:5 stride:2 padding:valid act:relu "
                     "bias:False"},
        {"features", "layer:pool_max kernel_size:3 stride:1 padding:same"},
        {"features", "layer:batch_norm"},
        {"classification", "layer:dropout rate:0.25"},
        {"classification", "layer:fc act:linear out_features:2048 bias:True"},
        {"softmax", "layer:fc act:softmax out_features:10 bias:True"},
        {"learning", "learning:adam lr:0.010994878808517258 beta1:0.7755784963206666 "
                     "beta2:0.8532100487924581 weight_decay:0.0005478934704170954 "
                     "early_stop:19 batch_size:512 epochs:10000"},
        {"model_partition", "model_partition:_ partition_point:3"},
    };
    for (size_t i = 0; i < ENEVO_COUNT(good); i++) {
        struct enevo_dsge *e;
        char err[ENEVO_ERR_LEN] = "";
        if (enevo_dsge_encode(g, sym(g, good[i].start), good[i].text, &e, err, sizeof err))
            fail_msg("encode '%s': %s", good[i].text, err);
        char *t = NULL;
        enevo_rng r;
        enevo_rng_seed(&r, 1, ENEVO_STREAM_EVO);
        assert_int_equal(enevo_dsge_decode(g, e, NULL, 0, NULL, &t), 0);
        assert_string_equal(t, good[i].text);
        free(t);
        enevo_dsge_free(e);
    }
    static const struct {
        const char *start, *text, *want;
    } bad[] = {
        /* the fixture's phenotype1 trains for 100 epochs, the grammar says 10000 */
        {"learning",
         "learning:adam lr:0.010994878808517258 beta1:0.7755784963206666 "
         "beta2:0.8532100487924581 weight_decay:0.0005478934704170954 "
         "early_stop:19 batch_size:512 epochs:100",
         "token 8 'epochs:100'"},
        {"features", "layer:pool_max kernel_size:9 stride:1 padding:same", "'kernel_size:9'"},
        {"features",
         "layer:conv out_channels:98.5 kernel_size:5 stride:2 padding:valid "
         "act:relu bias:False",
         "'out_channels:98.5'"},
        {"features", "layer:conv out_channels:98", "ends before"},
        {"softmax", "layer:fc act:softmax out_features:10 bias:True extra:1", "'extra:1'"},
        {"features", "", "ends before"},
    };
    for (size_t i = 0; i < ENEVO_COUNT(bad); i++) {
        struct enevo_dsge *e = (void *)1;
        char err[ENEVO_ERR_LEN] = "";
        int rc = enevo_dsge_encode(g, sym(g, bad[i].start), bad[i].text, &e, err, sizeof err);
        if (rc != ENEVO_EFORMAT || e || !strstr(err, bad[i].want))
            fail_msg("bad %zu: rc %d err '%s', want '%s'", i, rc, err, bad[i].want);
    }
}

static void encode_energize_phenotype_lines(void **state)
{
    (void)state;
    each_grammar(encode_energize_phenotype_lines_on);
}

/* ---- dynamic bounds --------------------------------------------------------- */

static void dynamic_bounds_and_clamp_on(struct enevo_grammar *g, const char *name)
{
    (void)name;
    int mp = sym(g, "model_partition");
    enevo_rng r;
    enevo_rng_seed(&r, 4, ENEVO_STREAM_EVO);
    struct enevo_dsge *d;
    /* missing dynamic bound */
    assert_int_equal(enevo_dsge_random(g, mp, NULL, 0, &r, &d), ENEVO_EINVAL);
    assert_null(d);

    struct enevo_dyn_bound hi3 = {"partition_point", 0, 3}, hi1 = {"partition_point", 0, 1};
    int seen[4] = {0}, total_changed = 0;
    for (int i = 0; i < 100; i++) {
        assert_int_equal(enevo_dsge_random(g, mp, &hi3, 1, &r, &d), 0);
        char *t = decode_ok(g, d, NULL);
        int k;
        if (sscanf(t, "model_partition:_ partition_point:%d", &k) != 1)
            fail_msg("unexpected '%s'", t);
        assert_in_range(k, 0, 3);
        seen[k]++;
        free(t);
        assert_int_equal(enevo_dsge_clamp(g, d, &hi3, 1, &r), 0);
        int changed = enevo_dsge_clamp(g, d, &hi1, 1, &r);
        assert_int_equal(changed, k > 1);
        total_changed += changed;
        t = decode_ok(g, d, NULL);
        assert_int_equal(sscanf(t, "model_partition:_ partition_point:%d", &k), 1);
        assert_in_range(k, 0, 1);
        free(t);
        /* mutation redraws within the current bounds */
        for (int m = 0; m < 10; m++) {
            assert_int_equal(enevo_dsge_mutate(g, d, &hi1, 1, &r), 0);
            t = decode_ok(g, d, NULL);
            assert_int_equal(sscanf(t, "model_partition:_ partition_point:%d", &k), 1);
            assert_in_range(k, 0, 1);
            free(t);
        }
        enevo_dsge_free(d);
    }
    for (int k = 0; k < 4; k++)
        assert_true(seen[k] > 5);
    assert_true(total_changed > 20);
    /* attributes not named in the bounds are left alone */
    assert_int_equal(enevo_dsge_random(g, sym(g, "learning"), NULL, 0, &r, &d), 0);
    assert_int_equal(enevo_dsge_clamp(g, d, &hi1, 1, &r), 0);
    enevo_dsge_free(d);
}

static void dynamic_bounds_and_clamp(void **state)
{
    (void)state;
    each_grammar(dynamic_bounds_and_clamp_on);
}

const struct CMUnitTest enevo_tests_grammar[] = {
    cmocka_unit_test(fixtures_parse),
    cmocka_unit_test(format_round_trips),
    cmocka_unit_test(parse_tolerates_spaces_comments_and_crlf),
    cmocka_unit_test(malformed_grammars_are_rejected),
    cmocka_unit_test(random_derivations_are_in_range),
    cmocka_unit_test(same_seed_same_text),
    cmocka_unit_test(duplicate_alternatives_weigh_double),
    cmocka_unit_test(power2_types_and_multi_values),
    cmocka_unit_test(recursive_grammars_terminate),
    cmocka_unit_test(mutation_changes_and_stays_in_range),
    cmocka_unit_test(mutation_skips_duplicate_productions),
    cmocka_unit_test(copies_do_not_alias),
    cmocka_unit_test(write_read_round_trip),
    cmocka_unit_test(corrupt_serialisations_are_rejected),
    cmocka_unit_test(encode_decode_round_trip),
    cmocka_unit_test(encode_energize_phenotype_lines),
    cmocka_unit_test(dynamic_bounds_and_clamp),
};
const size_t enevo_tests_grammar_count = ENEVO_COUNT(enevo_tests_grammar);
