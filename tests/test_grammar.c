/* tests/test_grammar.c — grammar parser, DSGE genotypes: random, decode,
 * mutate, clamp, encode, copy, write/read. */
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

/* The energize fixture, or NULL (the caller skips). */
static struct enevo_grammar *load_fixture(const char *name)
{
    const char *path = enevo_test_fixture(name);
    if (!path)
        return NULL;
    struct enevo_grammar *g;
    char err[ENEVO_ERR_LEN] = "";
    if (enevo_grammar_load(path, &g, err, sizeof err))
        fail_msg("load %s failed: %s", name, err);
    return g;
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

/* Attribute ranges of energize.grammar. `scope` is the entity token the
 * range applies to ("" for any): weight_decay and momentum differ per
 * optimiser. */
static const struct range {
    const char *scope, *name;
    double lo, hi;
    int is_int;
} ranges[] = {
    {"", "out_channels", 32, 256, 1},
    {"", "kernel_size", 2, 5, 1},
    {"", "stride", 1, 3, 1},
    {"", "rate", 0, 0.7, 0},
    {"", "out_features", 128, 2048, 1},
    {"", "batch_size", 32, 1024, 1},
    {"", "early_stop", 5, 20, 1},
    {"", "lr", 0.0001, 0.1, 0},
    {"learning:gradient_descent", "momentum", 0.68, 0.99, 0},
    {"learning:gradient_descent", "weight_decay", 0.000001, 0.001, 0},
    {"learning:adam", "beta1", 0.5, 0.9999, 0},
    {"learning:adam", "beta2", 0.5, 0.9999, 0},
    {"learning:adam", "weight_decay", 0.000001, 0.001, 0},
    {"learning:rmsprop", "alpha", 0.5, 1, 0},
    {"learning:rmsprop", "weight_decay", 0.000001, 0.001, 0},
    {"learning:lars", "lr_weights", 0.05, 0.35, 0},
    {"learning:lars", "lr_biases", 0.001, 0.01, 0},
    {"learning:lars", "momentum", 0.7, 0.9, 0},
    {"learning:lars", "weight_decay", 0.0000001, 0.00001, 0},
};

/* Every numeric attribute of the text lies in its grammar range; returns
 * how many were checked. Terminals with fixed values are passed over. */
static int check_ranges(const char *text)
{
    char *copy = strdup(text), *save = NULL, scope[64] = "";
    int checked = 0;
    for (char *t = strtok_r(copy, " ", &save); t; t = strtok_r(NULL, " ", &save)) {
        char *colon = strchr(t, ':');
        if (!colon)
            fail_msg("token without ':' in '%s'", text);
        if (!strncmp(t, "layer:", 6) || !strncmp(t, "learning:", 9))
            snprintf(scope, sizeof scope, "%s", t);
        for (size_t i = 0; i < ENEVO_COUNT(ranges); i++) {
            const struct range *r = &ranges[i];
            if (strlen(r->name) != (size_t)(colon - t) || strncmp(t, r->name, strlen(r->name)))
                continue;
            if (r->scope[0] && strcmp(r->scope, scope))
                continue;
            char *end;
            double v = strtod(colon + 1, &end);
            if (*end)
                fail_msg("'%s' is not a number in '%s'", t, text);
            if (v < r->lo || v > r->hi || (r->is_int && v != floor(v)))
                fail_msg("'%s' out of [%g, %g] in '%s'", t, r->lo, r->hi, text);
            checked++;
        }
    }
    free(copy);
    return checked;
}

static const char *const starts[] = {"features", "classification", "learning", "softmax"};

/* ---- parsing ---------------------------------------------------------- */

static void fixtures_parse(void **state)
{
    (void)state;
    struct enevo_grammar *g = load_fixture("energize.grammar");
    if (!g)
        skip();
    struct enevo_grammar *dg = load_fixture("denser.grammar");
    assert_non_null(dg);
    assert_int_equal(enevo_grammar_symbol(g, "features"), 0);
    assert_int_equal(enevo_grammar_symbol(g, "<features>"), 0);
    assert_int_equal(enevo_grammar_symbol(g, "convolution"), 1);
    assert_int_equal(enevo_grammar_symbol(g, "early_stop"), 18);
    assert_int_equal(enevo_grammar_symbol(g, "model_partition"), 19);
    assert_int_equal(enevo_grammar_symbol(g, "nope"), -1);
    assert_int_equal(enevo_grammar_symbol(dg, "model_partition"), -1);
    assert_int_equal(enevo_grammar_symbol(dg, "early_stop"), 18);
    /* rule count: the last index plus one, and no index beyond */
    char *f = enevo_grammar_format(g), *df = enevo_grammar_format(dg);
    int lines = 0, dlines = 0;
    for (const char *p = f; *p; p++)
        lines += *p == '\n';
    for (const char *p = df; *p; p++)
        dlines += *p == '\n';
    assert_int_equal(lines, 20);
    assert_int_equal(dlines, 19);
    free(f);
    free(df);
    enevo_grammar_free(g);
    enevo_grammar_free(dg);
}

static void format_round_trips(void **state)
{
    (void)state;
    struct enevo_grammar *g = load_fixture("energize.grammar");
    if (!g)
        skip();
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
    enevo_grammar_free(g);
    enevo_grammar_free(g2);
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

static void random_derivations_are_in_range(void **state)
{
    (void)state;
    struct enevo_grammar *g = load_fixture("energize.grammar");
    if (!g)
        skip();
    enevo_rng r;
    enevo_rng_seed(&r, 42, ENEVO_STREAM_EVO);
    int seen_conv = 0, seen_adam = 0;
    for (size_t s = 0; s < ENEVO_COUNT(starts); s++) {
        int checked = 0;
        for (int i = 0; i < 200; i++) {
            struct enevo_dsge *d;
            assert_int_equal(enevo_dsge_random(g, sym(g, starts[s]), NULL, 0, &r, &d), 0);
            assert_int_equal(enevo_dsge_start(d), sym(g, starts[s]));
            char *t = decode_ok(g, d, &r);
            if (strcmp(starts[s], "softmax")) /* out_features:10 is a fixed terminal */
                checked += check_ranges(t);
            seen_conv += !strncmp(t, "layer:conv out_channels:", 24);
            seen_adam += !strncmp(t, "learning:adam lr:", 17);
            if (!strcmp(starts[s], "softmax"))
                assert_string_equal(t, "layer:fc act:softmax out_features:10 bias:True");
            if (!strcmp(starts[s], "learning"))
                assert_non_null(strstr(t, " epochs:10000"));
            free(t);
            enevo_dsge_free(d);
        }
        if (strcmp(starts[s], "softmax"))
            assert_true(checked >= 100);
    }
    assert_true(seen_conv > 0 && seen_adam > 0);
    enevo_grammar_free(g);
}

static void same_seed_same_text(void **state)
{
    (void)state;
    struct enevo_grammar *g = load_fixture("energize.grammar");
    if (!g)
        skip();
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
    enevo_grammar_free(g);
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

static void mutation_changes_and_stays_in_range(void **state)
{
    (void)state;
    struct enevo_grammar *g = load_fixture("energize.grammar");
    if (!g)
        skip();
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
            check_ranges(after);
            changed += strcmp(before, after) != 0;
            free(before);
            before = after;
        }
        if (changed <= 100)
            fail_msg("<%s>: only %d of 200 mutations changed the text", which[s], changed);
        free(before);
        enevo_dsge_free(d);
    }
    enevo_grammar_free(g);
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

static void copies_do_not_alias(void **state)
{
    (void)state;
    struct enevo_grammar *g = load_fixture("energize.grammar");
    if (!g)
        skip();
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
    enevo_grammar_free(g);
}

/* ---- serialisation ------------------------------------------------------- */

static void write_read_round_trip(void **state)
{
    (void)state;
    struct enevo_grammar *g = load_fixture("energize.grammar");
    if (!g)
        skip();
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
    enevo_grammar_free(g);
}

static void corrupt_serialisations_are_rejected(void **state)
{
    (void)state;
    struct enevo_grammar *g = load_fixture("energize.grammar");
    if (!g)
        skip();
    struct enevo_grammar *dg = load_fixture("denser.grammar");
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
    /* wrong grammar: denser has one rule fewer */
    pos = 0;
    assert_int_equal(enevo_dsge_read(dg, buf, len, &pos, &out, err, sizeof err), ENEVO_EFORMAT);
    assert_non_null(strstr(err, "non-terminals"));
    /* bad magic */
    buf[0] ^= 0xff;
    pos = 0;
    assert_int_equal(enevo_dsge_read(g, buf, len, &pos, &out, err, sizeof err), ENEVO_EFORMAT);
    assert_non_null(strstr(err, "magic"));
    free(buf);

    /* <softmax> (index 11): header 12 bytes, 11 empty counts, then its
     * count at 56, production at 60, value count at 64 */
    buf = NULL;
    len = cap = 0;
    assert_int_equal(sym(g, "softmax"), 11);
    assert_int_equal(enevo_dsge_random(g, 11, NULL, 0, &r, &d), 0);
    assert_int_equal(enevo_dsge_write(d, &buf, &len, &cap), 0);
    enevo_dsge_free(d);
    assert_int_equal(len, 12 + 20 * 4 + 8);
    assert_int_equal(buf[56], 1);
    buf[60] = 1; /* <softmax> has one production */
    pos = 0;
    assert_int_equal(enevo_dsge_read(g, buf, len, &pos, &out, err, sizeof err), ENEVO_EFORMAT);
    assert_non_null(strstr(err, "<softmax> has 1 productions"));
    buf[60] = 0;
    buf[64] = 1; /* no values in that production */
    pos = 0;
    assert_int_equal(enevo_dsge_read(g, buf, len, &pos, &out, err, sizeof err), ENEVO_EFORMAT);
    assert_non_null(strstr(err, "values"));
    buf[64] = 0;
    buf[4] = 25; /* start symbol out of range */
    pos = 0;
    assert_int_equal(enevo_dsge_read(g, buf, len, &pos, &out, err, sizeof err), ENEVO_EFORMAT);
    assert_non_null(strstr(err, "start"));
    buf[4] = 11;
    pos = 0;
    assert_int_equal(enevo_dsge_read(g, buf, len, &pos, &out, err, sizeof err), 0);
    enevo_dsge_free(out);
    free(buf);

    /* <early_stop> (index 18) holds one int, stored just before the last
     * count (<model_partition>'s): 12.5, infinity and NaN are no ints */
    buf = NULL;
    len = cap = 0;
    assert_int_equal(enevo_dsge_random(g, 18, NULL, 0, &r, &d), 0);
    assert_int_equal(enevo_dsge_write(d, &buf, &len, &cap), 0);
    enevo_dsge_free(d);
    assert_int_equal(len, 12 + 20 * 4 + 16);
    double bad_values[] = {12.5, INFINITY, NAN};
    for (size_t i = 0; i < ENEVO_COUNT(bad_values); i++) {
        uint64_t bits;
        memcpy(&bits, &bad_values[i], sizeof bits);
        for (int b = 0; b < 8; b++)
            buf[len - 12 + (size_t)b] = (unsigned char)(bits >> (8 * b));
        pos = 0;
        assert_int_equal(enevo_dsge_read(g, buf, len, &pos, &out, err, sizeof err), ENEVO_EFORMAT);
        if (!strstr(err, "early_stop has an invalid int value"))
            fail_msg("value %zu: %s", i, err);
    }
    free(buf);
    enevo_grammar_free(dg);
    enevo_grammar_free(g);
}

/* ---- encode ---------------------------------------------------------------- */

static void encode_decode_round_trip(void **state)
{
    (void)state;
    struct enevo_grammar *g = load_fixture("energize.grammar");
    if (!g)
        skip();
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
    enevo_grammar_free(g);
}

static void encode_energize_phenotype_lines(void **state)
{
    (void)state;
    struct enevo_grammar *g = load_fixture("energize.grammar");
    if (!g)
        skip();
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
    enevo_grammar_free(g);
}

/* ---- dynamic bounds --------------------------------------------------------- */

static void dynamic_bounds_and_clamp(void **state)
{
    (void)state;
    struct enevo_grammar *g = load_fixture("energize.grammar");
    if (!g)
        skip();
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
    enevo_grammar_free(g);
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
