/* ENERGIZE drop-in, from a user's angle: grammars and configs written the
 * way an ENERGIZE user writes them (no seed_model, the user's own layer
 * subsets and attribute types) run for 2 generations of 1+2, and every
 * phenotype produced stays inside its grammar (layer kinds, learning rules,
 * attribute ranges and types), checked independently of the grammar engine
 * and by encoding it back. Plus: a seed that fits, a seed that does not
 * (the message), the time budget between batches, ENERGIZE's split sizes,
 * ENERGIZE's own fixture configs and grammars, and the CLI command of the
 * issue. */
#include "tests.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "enevo/config.h"
#include "enevo/data.h"
#include "enevo/energy.h"
#include "enevo/evo.h"
#include "enevo/grammar.h"
#include "enevo/net.h"
#include "enevo/optim.h"
#include "enevo/phenotype.h"
#include "enevo/rng.h"
#include "enevo/train.h"

/* ---- what a grammar allows, written out by hand ---------------------------- */

/* An attribute of entity kinds starting with `kind` (a layer kind, a
 * learning rule, or "learning" for any rule): type i
 * (int), f (float), p (int_power2: 2^k), v (inv_power2: 1/2^k), d (the
 * partition point: int in [0, L-1]); lo, hi as in the grammar. */
struct attr {
    const char *kind, *key;
    char type;
    double lo, hi;
};

struct row {
    const char *name;
    const char *grammar;
    const char *yaml;     /* the user's config, without seed_model */
    const char *layers;   /* allowed layer kinds, space separated */
    const char *learning; /* allowed learning rules */
    struct attr attrs[28];
    bool time_budget;
    bool ordered; /* modules conv -> pool -> fc, kept by the config's mutations */
};

#define OUT "<softmax> ::= layer:fc act:softmax out_features:10 bias:True\n"
#define ARCHX(evo, mods)                                                                           \
    "evolutionary:\n  generations: 2\n  lambda: 2\n  seed: 5\n  fitness_metric: accuracy\n" evo    \
    "network:\n  architecture:\n    reuse_layer: 0.2\n    macro_structure: [learning]\n"           \
    "    output: softmax\n    modules:\n" mods
#define ARCH(mods) ARCHX("", mods)
#define MOD(name, init, lo, hi)                                                                    \
    "      - {name: " name ", network_structure_init: " init ", network_structure: [" lo ", " hi   \
    "], levels_back: 1}\n"
#define EPOCHS1 "  learning:\n    default_train_epochs: 1\n"
#define TIME(s) "  learning:\n    learning_type: supervised\n    default_train_time: " s "\n"

static const struct row rows[] = {
    {"issue_conv_pool_fc_sgd_inv_power2",
     "<features> ::= <conv> | <conv> | <pool>\n"
     "<conv> ::= layer:conv [out_channels,int_power2,1,2,4] [kernel_size,int,1,2,3] stride:1 "
     "padding:same act:relu bias:True\n"
     "<pool> ::= layer:pool_max kernel_size:2 stride:2 padding:valid\n"
     "<classification> ::= layer:fc act:relu [out_features,int,1,8,32] bias:True\n" OUT
     "<learning> ::= learning:gradient_descent [lr,inv_power2,1,3,7] momentum:0.9 "
     "weight_decay:0 nesterov:False early_stop:3 batch_size:32 epochs:3\n",
     ARCH(MOD("features", "[1, 2]", "1", "3") MOD("classification", "[1]", "1", "2")) TIME("0.3"),
     "conv pool_max fc",
     "gradient_descent",
     {{"conv", "out_channels", 'p', 2, 4},
      {"conv", "kernel_size", 'i', 2, 3},
      {"fc", "out_features", 'i', 8, 32},
      {"learning", "lr", 'v', 3, 7}},
     true,
     false},
    {"fc_only_adam_float",
     "<hidden> ::= layer:fc <act> [out_features,int,1,4,24] <bias>\n"
     "<act> ::= act:relu | act:sigmoid | act:linear\n<bias> ::= bias:True | bias:False\n" OUT
     "<learning> ::= learning:adam [lr,float,1,0.0005,0.01] beta1:0.9 beta2:0.999 "
     "weight_decay:0 early_stop:3 batch_size:64 epochs:1\n",
     ARCH(MOD("hidden", "[1, 2, 3]", "1", "4")) EPOCHS1,
     "fc",
     "adam",
     {{"fc", "out_features", 'i', 4, 24}, {"learning", "lr", 'f', 0.0005, 0.01}},
     false,
     false},
    {"conv_and_pooling_only_rmsprop",
     "<features> ::= <conv> | <pool>\n"
     "<conv> ::= layer:conv [out_channels,int,1,4,12] [kernel_size,int,1,1,3] "
     "[stride,int,1,1,2] <padding> act:relu bias:True\n"
     "<pool> ::= <ptype> [kernel_size,int,1,2,3] [stride,int,1,1,2] <padding>\n"
     "<ptype> ::= layer:pool_max | layer:pool_avg\n<padding> ::= padding:same | padding:valid\n" OUT
     "<learning> ::= learning:rmsprop [lr,float,1,0.0005,0.005] [alpha,float,1,0.9,0.99] "
     "weight_decay:0 early_stop:2 batch_size:32 epochs:2\n",
     ARCH(MOD("features", "[1, 2, 3]", "1", "4")) TIME("0.2"),
     "conv pool_max pool_avg",
     "rmsprop",
     {{"conv", "out_channels", 'i', 4, 12},
      {"conv", "kernel_size", 'i', 1, 3},
      {"conv", "stride", 'i', 1, 2},
      {"pool", "kernel_size", 'i', 2, 3},
      {"pool", "stride", 'i', 1, 2},
      {"learning", "lr", 'f', 0.0005, 0.005},
      {"learning", "alpha", 'f', 0.9, 0.99}},
     true,
     false},
    {"every_attribute_type",
     "<features> ::= <conv> | <drop>\n"
     "<conv> ::= layer:conv [out_channels,int_power2,1,2,3] [kernel_size,int,1,2,3] stride:1 "
     "padding:same act:relu bias:True\n"
     "<drop> ::= layer:dropout [rate,float,1,0.0,0.5]\n"
     "<classification> ::= layer:fc act:relu [out_features,int,1,8,16] bias:True | <drop>\n" OUT
     "<learning> ::= learning:gradient_descent [lr,inv_power2,1,4,6] [momentum,float,1,0.5,0.9] "
     "weight_decay:0 nesterov:True early_stop:2 [batch_size,int_power2,1,4,6] epochs:1\n",
     ARCH(MOD("features", "[1, 2]", "1", "3") MOD("classification", "[1, 2]", "1", "3")) EPOCHS1,
     "conv dropout fc",
     "gradient_descent",
     {{"conv", "out_channels", 'p', 2, 3},
      {"conv", "kernel_size", 'i', 2, 3},
      {"dropout", "rate", 'f', 0.0, 0.5},
      {"fc", "out_features", 'i', 8, 16},
      {"learning", "lr", 'v', 4, 6},
      {"learning", "momentum", 'f', 0.5, 0.9},
      {"learning", "batch_size", 'p', 4, 6}},
     false,
     false},
    {"weighted_alternatives_lars",
     "<features> ::= <conv> | <conv> | <conv> | <bn>\n"
     "<conv> ::= layer:conv [out_channels,int,1,4,8] kernel_size:3 stride:1 padding:same "
     "act:relu bias:True\n<bn> ::= layer:batch_norm\n"
     "<classification> ::= layer:fc act:relu [out_features,int,1,8,16] bias:True\n" OUT
     "<learning> ::= learning:lars [lr_weights,float,1,0.05,0.2] [lr_biases,float,1,0.001,0.01] "
     "momentum:0.9 weight_decay:0.00001 early_stop:3 batch_size:32 epochs:1\n",
     ARCH(MOD("features", "[2, 3]", "1", "4") MOD("classification", "[1]", "1", "2")) EPOCHS1,
     "conv batch_norm fc",
     "lars",
     {{"conv", "out_channels", 'i', 4, 8},
      {"fc", "out_features", 'i', 8, 16},
      {"learning", "lr_weights", 'f', 0.05, 0.2},
      {"learning", "lr_biases", 'f', 0.001, 0.01}},
     false,
     false},
    {"dynamic_bound_partition_point",
     "<features> ::= <conv> | <pool>\n"
     "<conv> ::= layer:conv [out_channels,int,1,4,8] kernel_size:3 stride:1 padding:same "
     "act:relu bias:True\n<pool> ::= layer:pool_avg kernel_size:2 stride:2 padding:valid\n"
     "<classification> ::= layer:fc act:relu [out_features,int,1,8,16] bias:True\n" OUT
     "<learning> ::= learning:adam [lr,float,1,0.001,0.01] beta1:0.9 beta2:0.999 "
     "weight_decay:0 early_stop:3 batch_size:32 epochs:1\n"
     "<model_partition> ::= model_partition:_ [partition_point,int,1,0,_]\n",
     ARCH(MOD("features", "[1, 2]", "1", "3") MOD("classification", "[1]", "1", "2")) EPOCHS1
     "energize:\n  model_partition: true\n",
     "conv pool_avg fc",
     "adam",
     {{"conv", "out_channels", 'i', 4, 8},
      {"fc", "out_features", 'i', 8, 16},
      {"learning", "lr", 'f', 0.001, 0.01},
      {"model_partition", "partition_point", 'd', 0, 0}},
     false,
     false},
    {"four_learning_rules",
     "<features> ::= layer:conv [out_channels,int,1,4,8] kernel_size:3 stride:1 padding:same "
     "act:relu bias:True\n"
     "<classification> ::= layer:fc act:relu out_features:16 bias:True\n" OUT
     "<learning> ::= <sgd> <common> | <adam> <common> | <rms> <common> | <lars> <common>\n"
     "<sgd> ::= learning:gradient_descent [lr,float,1,0.001,0.05] momentum:0.9 weight_decay:0 "
     "<nesterov>\n<nesterov> ::= nesterov:True | nesterov:False\n"
     "<adam> ::= learning:adam [lr,float,1,0.001,0.05] beta1:0.9 beta2:0.999 weight_decay:0\n"
     "<rms> ::= learning:rmsprop [lr,float,1,0.001,0.05] alpha:0.99 weight_decay:0\n"
     "<lars> ::= learning:lars lr_weights:0.1 lr_biases:0.005 momentum:0.9 weight_decay:0\n"
     "<common> ::= [early_stop,int,1,2,4] batch_size:32 epochs:1\n",
     ARCH(MOD("features", "[1, 2]", "1", "3") MOD("classification", "[1]", "1", "2")) EPOCHS1,
     "conv fc",
     "gradient_descent adam rmsprop lars",
     {{"conv", "out_channels", 'i', 4, 8},
      {"learning", "lr", 'f', 0.001, 0.05},
      {"learning", "early_stop", 'i', 2, 4}},
     false,
     false},
    {"three_modules_in_order",
     "<convs> ::= layer:conv [out_channels,int,1,4,8] [kernel_size,int,1,2,3] stride:1 "
     "padding:same act:relu bias:True\n"
     "<pools> ::= layer:pool_max [kernel_size,int,1,2,3] stride:2 padding:same\n"
     "<dense> ::= layer:fc act:sigmoid [out_features,int_power2,1,3,5] bias:False\n" OUT
     "<learning> ::= learning:gradient_descent [lr,float,1,0.01,0.1] momentum:0.5 "
     "weight_decay:0 nesterov:False early_stop:3 batch_size:32 epochs:1\n",
     ARCHX("  mutation: {reuse_module: 0, remove_module: 0}\n",
           MOD("convs", "[1, 2]", "1", "2") MOD("pools", "[1]", "1", "2")
               MOD("dense", "[1]", "1", "2")) EPOCHS1,
     "conv pool_max fc",
     "gradient_descent",
     {{"conv", "out_channels", 'i', 4, 8},
      {"conv", "kernel_size", 'i', 2, 3},
      {"pool", "kernel_size", 'i', 2, 3},
      {"fc", "out_features", 'p', 3, 5},
      {"learning", "lr", 'f', 0.01, 0.1}},
     false,
     true},
};

static bool word_in(const char *list, const char *w)
{
    size_t n = strlen(w);
    for (const char *p = list; (p = strstr(p, w)); p += n)
        if ((p == list || p[-1] == ' ') && (p[n] == 0 || p[n] == ' '))
            return true;
    return false;
}

/* A terminal `tok` of the grammar: the exact token, space-delimited. */
static bool terminal_in(const char *grammar, const char *tok)
{
    size_t n = strlen(tok);
    for (const char *p = grammar; (p = strstr(p, tok)); p += n)
        if ((p == grammar || p[-1] == ' ') && (p[n] == 0 || p[n] == ' ' || p[n] == '\n'))
            return true;
    return false;
}

static bool power2(double v, double lo, double hi, bool inverse)
{
    if (!(v > 0))
        return false;
    double k = inverse ? -log2(v) : log2(v);
    return fabs(k - round(k)) < 1e-9 && round(k) >= lo && round(k) <= hi;
}

/* Checks one phenotype against a row by hand; "" when it fits, else why. */
static void check_by_hand(const char *grammar, const char *layers, const char *learning,
                          const struct attr *attrs, size_t nattrs, const char *phen, char *why,
                          size_t len)
{
    why[0] = 0;
    char *copy = strdup(phen);
    assert_non_null(copy);
    int n_layers = 0;
    for (const char *p = phen; (p = strstr(p, "layer:")); p++)
        n_layers++;
    const char *kind = "";
    int layer = 0;
    bool output = false; /* in the output layer: its tokens are the output rule's terminals */
    bool in_learning = false;
    for (char *save = NULL, *t = strtok_r(copy, " \n", &save); t && !why[0];
         t = strtok_r(NULL, " \n", &save)) {
        char *colon = strchr(t, ':');
        if (!colon) {
            snprintf(why, len, "token '%s' is not key:value", t);
            break;
        }
        *colon = 0;
        const char *key = t, *val = colon + 1;
        if (!strcmp(key, "input"))
            goto next;
        if (!strcmp(key, "layer")) {
            kind = val;
            in_learning = false;
            /* The output layer is the output rule's, whatever the modules hold. */
            *colon = ':';
            output = ++layer == n_layers && terminal_in(grammar, t);
            *colon = 0;
            if (!output && !word_in(layers, val))
                snprintf(why, len, "layer kind '%s' is not in the grammar", val);
            goto next;
        }
        if (!strcmp(key, "learning")) {
            kind = val;
            in_learning = true;
            output = false;
            if (!word_in(learning, val))
                snprintf(why, len, "learning rule '%s' is not in the grammar", val);
            goto next;
        }
        if (!strcmp(key, "model_partition")) {
            kind = "model_partition";
            in_learning = false;
            goto next;
        }
        for (size_t i = 0; i < nattrs && attrs[i].key && !output; i++) {
            const struct attr *a = &attrs[i];
            bool of_kind = !strncmp(kind, a->kind, strlen(a->kind)) ||
                           (in_learning && !strcmp(a->kind, "learning"));
            if (!of_kind || strcmp(a->key, key))
                continue;
            char *end;
            double v = strtod(val, &end);
            bool ok = *end == 0;
            bool integral = ok && v == floor(v) && !strchr(val, '.') && !strchr(val, 'e');
            switch (a->type) {
            case 'i':
                ok = integral && v >= a->lo && v <= a->hi;
                break;
            case 'f':
                ok = ok && v >= a->lo && v <= a->hi;
                break;
            case 'p':
                ok = integral && power2(v, a->lo, a->hi, false);
                break;
            case 'v':
                ok = ok && power2(v, a->lo, a->hi, true);
                break;
            case 'd':
                /* Dynamic bound: [0, L-1] over the evolved layers (the
                 * output layer is not one). */
                ok = integral && v >= 0 && v <= n_layers - 2;
                break;
            }
            if (!ok)
                snprintf(why, len, "%s %s:%s is outside its grammar type/range (%c [%g, %g])", kind,
                         key, val, a->type, a->lo, a->hi);
            goto next;
        }
        /* Not an attribute: the token must be a terminal of the grammar. */
        *colon = ':';
        if (!terminal_in(grammar, t))
            snprintf(why, len, "token '%s' (in %s) is no terminal of the grammar", t, kind);
        *colon = 0;
    next:;
    }
    free(copy);
}

/* The hand checker is no rubber stamp: what the grammar cannot make fails. */
static void hand_checker_rejects_what_the_grammar_cannot_make(void **state)
{
    (void)state;
    const struct row *r = &rows[0];
    static const char *const bad[] = {
        "lr:0.01 ",                          /* no inv_power2 */
        "out_channels:6 ",                   /* no int_power2 */
        "layer:dropout rate:0.1 input:-1\n", /* no such kind in the grammar */
        "act:sigmoid ",                      /* no such terminal */
        "out_features:33 ",                  /* above the range */
    };
    const char *good = "layer:conv out_channels:8 kernel_size:3 stride:1 padding:same act:relu "
                       "bias:True input:-1\nlayer:fc act:relu out_features:20 bias:True input:0\n"
                       "layer:fc act:softmax out_features:10 bias:True input:1\n"
                       "learning:gradient_descent lr:0.125 momentum:0.9 weight_decay:0 "
                       "nesterov:False early_stop:3 batch_size:32 epochs:3\n";
    char why[300], phen[600];
    size_t na = sizeof r->attrs / sizeof r->attrs[0];
    check_by_hand(r->grammar, r->layers, r->learning, r->attrs, na, good, why, sizeof why);
    assert_string_equal(why, "");
    static const char *const replace[] = {"lr:0.125 ", "out_channels:8 ",
                                          "layer:conv out_channels:8 kernel_size:3 stride:1 "
                                          "padding:same act:relu bias:True input:-1\n",
                                          "act:relu ", "out_features:20 "};
    for (size_t i = 0; i < ENEVO_COUNT(bad); i++) {
        const char *at = strstr(good, replace[i]);
        assert_non_null(at);
        snprintf(phen, sizeof phen, "%.*s%s%s", (int)(at - good), good, bad[i],
                 at + strlen(replace[i]));
        check_by_hand(r->grammar, r->layers, r->learning, r->attrs, na, phen, why, sizeof why);
        if (!why[0])
            fail_msg("accepted:\n%s", phen);
    }
}

/* The module order conv* pool* fc* (then the output fc). */
static bool in_order(const char *phen)
{
    int stage = 0;
    for (const char *p = phen; (p = strstr(p, "layer:")); p += 6) {
        int s = p[6] == 'c' ? 0 : p[6] == 'p' ? 1 : 2;
        if (s < stage)
            return false;
        stage = s;
    }
    return true;
}

/* ---- runs ------------------------------------------------------------------- */

/* Every phenotype of a finished run (stats/generation_<g>.json), as one
 * NUL-separated list in *out; returns the count. */
static int run_phenotypes(const char *dir, int generations, char ***out)
{
    int n = 0, cap = 16;
    char **list = malloc((size_t)cap * sizeof *list);
    assert_non_null(list);
    for (int g = 0; g < generations; g++) {
        char path[700];
        snprintf(path, sizeof path, "%s/stats/generation_%d.json", dir, g);
        char *text = enevo_test_slurp(path);
        assert_non_null(text);
        cJSON *j = cJSON_Parse(text);
        free(text);
        assert_non_null(j);
        cJSON *ind, *all = cJSON_GetObjectItem(j, "individuals");
        cJSON_ArrayForEach(ind, all)
        {
            cJSON *p = cJSON_GetObjectItem(ind, "phenotype");
            if (!cJSON_IsString(p))
                continue;
            if (n == cap) {
                cap *= 2;
                list = realloc(list, (size_t)cap * sizeof *list);
                assert_non_null(list);
            }
            list[n++] = strdup(p->valuestring);
        }
        cJSON_Delete(j);
    }
    *out = list;
    return n;
}

static void free_list(char **list, int n)
{
    for (int i = 0; i < n; i++)
        free(list[i]);
    free(list);
}

/* Runs a config over a grammar (as `enevo evolve` does after loading) and
 * checks every phenotype: by hand against `r` (when given) and by encoding
 * it back with the grammar. Returns the number of phenotypes. */
static int run_and_check(const struct enevo_config *c, const char *grammar_text,
                         const struct row *r, struct enevo_test_evo_data *x, struct enevo_meter *meter,
                         const char *name)
{
    char err[ENEVO_ERR_LEN], dir[600];
    snprintf(dir, sizeof dir, "%s/dropin-%s", enevo_test_tmpdir(), name);
    struct enevo_grammar *g;
    if (enevo_grammar_parse(grammar_text, name, &g, err, sizeof err))
        fail_msg("%s: grammar: %s", name, err);
    struct enevo_evo_opts o = {.run_dir = dir, .threads = 2, .meter = meter};
    struct enevo_evo_result res;
    char *ctext = enevo_config_format(c);
    assert_non_null(ctext);
    int rc = enevo_evolve(c, ctext, g, grammar_text, &x->d, &o, &res, err, sizeof err);
    free(ctext);
    free(res.best_phenotype);
    if (rc)
        fail_msg("%s: evolve: %s", name, err);
    assert_true(res.finished);
    assert_int_equal(res.generations, 2);

    char **phen;
    int n = run_phenotypes(dir, 2, &phen);
    struct enevo_evo_space s;
    assert_int_equal(enevo_space_init(&s, c, g, err, sizeof err), 0);
    char why[300] = "";
    int bad = -1;
    for (int i = 0; i < n && bad < 0; i++) {
        if (r) {
            size_t na = sizeof r->attrs / sizeof r->attrs[0];
            check_by_hand(r->grammar, r->layers, r->learning, r->attrs, na, phen[i], why,
                          sizeof why);
            if (!why[0] && r->ordered && !in_order(phen[i]))
                snprintf(why, sizeof why, "modules out of order");
        }
        if (!why[0]) {
            /* And the grammar engine agrees: it derives the phenotype. */
            struct enevo_genotype gt;
            enevo_rng rng;
            enevo_rng_seed(&rng, 1, ENEVO_STREAM_EVO);
            if (enevo_genotype_encode(&s, phen[i], &rng, &gt, why, sizeof why) == 0) {
                enevo_genotype_free(&gt);
                why[0] = 0;
            }
        }
        if (why[0])
            bad = i;
    }
    if (bad >= 0) {
        char msg[1200];
        snprintf(msg, sizeof msg, "%s: phenotype %d outside its grammar: %s\n%.600s", name, bad,
                 why, phen[bad]);
        free_list(phen, n);
        enevo_grammar_free(g);
        fail_msg("%s", msg);
    }
    free_list(phen, n);
    enevo_grammar_free(g);
    /* Generation 0: lambda random networks; generation 1: lambda children. */
    assert_int_equal(n, 2 * c->lambda);
    return n;
}

static void config_of(const struct row *r, struct enevo_config *c)
{
    char err[ENEVO_ERR_LEN];
    if (enevo_config_parse_user(r->yaml, r->name, c, NULL, NULL, err, sizeof err))
        fail_msg("%s: config: %s", r->name, err);
}

static void user_grammars_without_seed_stay_inside_their_grammar(void **state)
{
    (void)state;
    struct enevo_test_evo_data x;
    enevo_test_evo_data_init(&x, 12, 320, 80, 40);
    for (size_t i = 0; i < ENEVO_COUNT(rows); i++) {
        const struct row *r = &rows[i];
        struct enevo_config c;
        config_of(r, &c);
        /* What a file without those keys means (ENERGIZE's reading). */
        assert_string_equal(c.seed_phenotype, "");
        assert_false(c.reevaluate_parent);
        assert_true(c.max_mflops == 0);
        assert_int_equal(c.default_train_epochs, r->time_budget ? 0 : 1);
        assert_int_equal(run_and_check(&c, r->grammar, r, &x, NULL, r->name), 4);
    }
    enevo_test_evo_data_free(&x);
}

/* Repeated alternatives weight the choice: <conv> three times, <bn> once. */
static void repeated_alternatives_weight_the_draw(void **state)
{
    (void)state;
    const struct row *r = &rows[4];
    struct enevo_config c;
    config_of(r, &c);
    char err[ENEVO_ERR_LEN];
    struct enevo_grammar *g;
    assert_int_equal(enevo_grammar_parse(r->grammar, "w", &g, err, sizeof err), 0);
    struct enevo_evo_space s;
    assert_int_equal(enevo_space_init(&s, &c, g, err, sizeof err), 0);
    int conv = 0, bn = 0;
    for (int i = 0; i < 300; i++) {
        enevo_rng rng;
        enevo_rng_seed3(&rng, 9, ENEVO_STREAM_EVO, (uint64_t)i, 0);
        struct enevo_genotype gt;
        char *text;
        assert_int_equal(enevo_genotype_random(&s, &rng, &gt), 0);
        assert_int_equal(enevo_genotype_phenotype(&s, &gt, &rng, &text), 0);
        for (const char *p = text; (p = strstr(p, "layer:")); p += 6) {
            conv += !strncmp(p, "layer:conv", 10);
            bn += !strncmp(p, "layer:batch_norm", 16);
        }
        free(text);
        enevo_genotype_free(&gt);
    }
    enevo_grammar_free(g);
    /* 3:1 expected; reuse_layer copies drift it a little. */
    double share = (double)conv / (conv + bn);
    if (!(share > 0.65 && share < 0.85))
        fail_msg("conv share %.3f of %d feature layers, expected about 0.75", share, conv + bn);
}

#define SEED_OK                                                                                    \
    "energize:\n  seed_model:\n    phenotype: |\n"                                                 \
    "      layer:conv out_channels:8 kernel_size:3 stride:1 padding:same act:relu "                \
    "bias:True input:-1\n"                                                                         \
    "      layer:pool_max kernel_size:2 stride:2 padding:valid input:0\n"                          \
    "      layer:fc act:relu out_features:16 bias:True input:1\n"                                  \
    "      layer:fc act:softmax out_features:10 bias:True input:2\n"                               \
    "      learning:gradient_descent lr:LR momentum:0.9 weight_decay:0 nesterov:False "            \
    "early_stop:3 batch_size:32 epochs:3\n"

static void seed_that_fits_runs_and_one_that_does_not_says_why(void **state)
{
    (void)state;
    const struct row *r = &rows[0];
    char text[4096], err[ENEVO_ERR_LEN];
    struct enevo_test_evo_data x;
    enevo_test_evo_data_init(&x, 12, 320, 80, 40);
    /* Fits: 0.0625 is 1/2^4, inside [3, 7]. */
    snprintf(text, sizeof text, "%s%s", r->yaml, SEED_OK);
    char *lr = strstr(text, "lr:LR");
    memmove(lr + 9, lr + 5, strlen(lr + 5) + 1);
    memcpy(lr, "lr:0.0625", 9);
    struct enevo_config c;
    if (enevo_config_parse_user(text, "seed.yaml", &c, NULL, NULL, err, sizeof err))
        fail_msg("%s", err);
    assert_non_null(strstr(c.seed_phenotype, "out_channels:8"));
    run_and_check(&c, r->grammar, r, &x, NULL, "seed-fits");
    /* Generation 0's first individual is the seed itself. */
    char path[700];
    snprintf(path, sizeof path, "%s/dropin-seed-fits/stats.csv", enevo_test_tmpdir());
    char *csv = enevo_test_slurp(path);
    assert_non_null(csv);
    bool seeded = strstr(csv, "\n0,0,0-0,-,none,") &&
                  strstr(csv, "layer:conv out_channels:8 kernel_size:3") &&
                  strstr(csv, "lr:0.0625");
    free(csv);
    assert_true(seeded);

    /* Does not fit: lr 0.01 is no inv_power2. The error says where, what
     * was tried and how to fix it, before any work (no run directory). */
    memcpy(lr, "lr:0.01  ", 9);
    memmove(lr + 7, lr + 9, strlen(lr + 9) + 1);
    if (enevo_config_parse_user(text, "seed.yaml", &c, NULL, NULL, err, sizeof err))
        fail_msg("%s", err);
    struct enevo_grammar *g;
    assert_int_equal(enevo_grammar_parse(r->grammar, "my.grammar", &g, err, sizeof err), 0);
    char dir[600];
    snprintf(dir, sizeof dir, "%s/dropin-seed-misfit", enevo_test_tmpdir());
    struct enevo_evo_opts o = {.run_dir = dir, .threads = 2};
    struct enevo_evo_result res;
    int rc = enevo_evolve(&c, "x", g, r->grammar, &x.d, &o, &res, err, sizeof err);
    free(res.best_phenotype);
    enevo_grammar_free(g);
    enevo_test_evo_data_free(&x);
    assert_int_equal(rc, ENEVO_EFORMAT);
    static const char *const want[] = {
        "seed_model.phenotype line 5", "lr:0.01", "<learning>", "token 2", "Fix:",
        "remove energize.seed_model"};
    for (size_t i = 0; i < ENEVO_COUNT(want); i++)
        if (!strstr(err, want[i]))
            fail_msg("message lacks '%s': %s", want[i], err);
    struct stat st;
    assert_int_not_equal(stat(dir, &st), 0);
}

/* ENERGIZE's own configs and grammars, unchanged, run the same way (with a
 * small time budget and a FLOP guard so the test stays fast). */
static void energize_fixture_configs_run_with_their_grammars(void **state)
{
    (void)state;
    static const char *const pairs[][2] = {{"example_config.yaml", "energize.grammar"},
                                           {"example_config.json", "energize.grammar"},
                                           {"denser_config.json", "denser.grammar"}};
    static const struct attr energize_attrs[] = {
        {"conv", "out_channels", 'i', 32, 256},
        {"conv", "kernel_size", 'i', 2, 5},
        {"conv", "stride", 'i', 1, 3},
        {"pool", "kernel_size", 'i', 2, 5},
        {"pool", "stride", 'i', 1, 3},
        {"dropout", "rate", 'f', 0, 0.7},
        {"fc", "out_features", 'i', 128, 2048},
        {"learning", "batch_size", 'i', 32, 1024},
        {"learning", "early_stop", 'i', 5, 20},
        {"model_partition", "partition_point", 'd', 0, 0},
        {"gradient_descent", "lr", 'f', 0.0001, 0.1},
        {"gradient_descent", "momentum", 'f', 0.68, 0.99},
        {"gradient_descent", "weight_decay", 'f', 0.000001, 0.001},
        {"adam", "lr", 'f', 0.0001, 0.1},
        {"adam", "beta1", 'f', 0.5, 0.9999},
        {"adam", "beta2", 'f', 0.5, 0.9999},
        {"adam", "weight_decay", 'f', 0.000001, 0.001},
        {"rmsprop", "lr", 'f', 0.0001, 0.1},
        {"rmsprop", "alpha", 'f', 0.5, 1},
        {"rmsprop", "weight_decay", 'f', 0.000001, 0.001},
        {"lars", "lr_weights", 'f', 0.05, 0.35},
        {"lars", "lr_biases", 'f', 0.001, 0.01},
        {"lars", "momentum", 'f', 0.7, 0.9},
        {"lars", "weight_decay", 'f', 0.0000001, 0.00001},
    };
    if (!enevo_test_fixture(pairs[0][0]))
        skip();
    struct enevo_test_evo_data x;
    enevo_test_evo_data_init(&x, 32, 160, 80, 40);
    char err[ENEVO_ERR_LEN];
    struct enevo_meter_cfg mc = enevo_meter_defaults();
    struct enevo_meter *m;
    assert_int_equal(enevo_meter_open("model", &mc, &m, NULL, 0, err, sizeof err), 0);
    for (size_t i = 0; i < ENEVO_COUNT(pairs); i++) {
        char cpath[600];
        snprintf(cpath, sizeof cpath, "%s", enevo_test_fixture(pairs[i][0]));
        char *gtext = enevo_test_slurp(enevo_test_fixture(pairs[i][1]));
        assert_non_null(gtext);
        struct enevo_config c;
        if (enevo_config_load_user(cpath, &c, NULL, NULL, err, sizeof err))
            fail_msg("%s", err);
        assert_string_equal(c.seed_phenotype, "");
        assert_false(c.reevaluate_parent);
        assert_int_equal(c.default_train_epochs, 0); /* the time is the budget */
        assert_int_equal(c.resize, 32);
        c.generations = 2;
        c.lambda = 2;
        c.default_train_time = 0.2;
        c.max_mflops = 20;
        char name[64];
        snprintf(name, sizeof name, "fixture-%zu", i);
        /* By hand: the layer kinds, learning rules and ranges of
         * ENERGIZE.md section 1.2. */
        struct row r = {.grammar = gtext,
                        .layers = "conv pool_avg pool_max dropout batch_norm fc",
                        .learning = "gradient_descent adam rmsprop lars"};
        memcpy(r.attrs, energize_attrs, sizeof energize_attrs);
        run_and_check(&c, gtext, &r, &x, m, name);
        free(gtext);
    }
    enevo_meter_close(m);
    enevo_test_evo_data_free(&x);
}

/* ---- budgets and splits ---------------------------------------------------------- */

static void time_budget_is_checked_between_batches(void **state)
{
    (void)state;
    struct enevo_dataset tr, val;
    assert_int_equal(enevo_dataset_synthetic(80000, 1, 12, 12, 10, 1, &tr), 0);
    assert_int_equal(enevo_dataset_synthetic(200, 1, 12, 12, 10, 2, &val), 0);
    const char *text = "layer:conv out_channels:8 kernel_size:3 stride:1 padding:same act:relu "
                       "bias:True input:-1\nlayer:fc act:softmax out_features:10 bias:True "
                       "input:0\nlearning:gradient_descent lr:0.01 momentum:0.9 early_stop:5 "
                       "batch_size:16 epochs:50\n";
    char err[ENEVO_ERR_LEN];
    struct enevo_phenotype p;
    assert_int_equal(enevo_phenotype_parse(text, "t", &p, err, sizeof err), 0);
    struct enevo_net_opts no = {.batch = 16, .training = true, .threads = 2};
    struct enevo_net *net;
    assert_int_equal(
        enevo_net_create(&p, (struct enevo_shape){1, 12, 12}, 10, &no, &net, err, sizeof err), 0);
    enevo_rng ir;
    enevo_rng_seed(&ir, 1, ENEVO_STREAM_INIT);
    enevo_net_init_params(net, &ir);
    int nseg;
    const struct enevo_param_seg *segs = enevo_net_segments(net, &nseg);
    struct enevo_optim opt;
    assert_int_equal(enevo_optim_init(&opt, &p.learning, enevo_net_param_count(net), segs, nseg,
                                      err, sizeof err),
                     0);
    struct enevo_train_opts to = enevo_train_defaults();
    to.epochs = 50;
    to.max_seconds = 0.15;
    struct enevo_train_result res;
    double t0 = enevo_now();
    int rc = enevo_train(net, &opt, &tr, &val, &to, &res, err, sizeof err);
    double wall = enevo_now() - t0;
    double images = res.images_per_s * res.seconds;
    enevo_optim_free(&opt);
    enevo_net_free(net);
    enevo_phenotype_free(&p);
    enevo_dataset_free(&tr);
    enevo_dataset_free(&val);
    assert_int_equal(rc, 0);
    /* 5,000 batches per epoch: the budget ran out inside an epoch (the
     * first one on any machine slower than 530,000 img/s) and that epoch
     * stopped there, validated, so it has a loss. On a faster machine an
     * epoch may end just before the budget and its validation spend the
     * rest: then the run stops there with whole epochs, which is right too,
     * but only when the training alone stayed inside the budget. */
    assert_true(res.out_of_time);
    assert_true(res.epochs >= 1 && res.epochs < 50);
    bool mid_epoch = fmod(images, 80000.0) > 0.5;
    if (!mid_epoch && !(res.seconds < 0.15 && res.budget_seconds >= 0.15))
        fail_msg("%.0f images in %d epochs: stopped on an epoch boundary, but training took "
                 "%.3f s of the 0.15 s budget (%.3f s with validation)",
                 images, res.epochs, res.seconds, res.budget_seconds);
    assert_true(images <= 80000.0 * res.epochs);
    assert_true(isfinite(res.best_val_loss));
    if (!(res.seconds < 0.15 + 0.25 && wall < 5.0))
        fail_msg("budget 0.15 s: trained %.3f s, %.3f s in all", res.seconds, wall);
    assert_true(res.budget_seconds >= 0.15);
}

static void split_sizes_enevo_and_energize(void **state)
{
    (void)state;
    int a, b, c;
    char err[ENEVO_ERR_LEN];
    assert_int_equal(
        enevo_split_sizes(60000, 0.7, 0.2, 0.1, ENEVO_SPLIT_ENEVO, &a, &b, &c, err, sizeof err), 0);
    assert_int_equal(a, 42000);
    assert_int_equal(b, 12000);
    assert_int_equal(c, 6000);
    assert_int_equal(
        enevo_split_sizes(60000, 0.7, 0.2, 0.1, ENEVO_SPLIT_ENERGIZE, &a, &b, &c, err, sizeof err),
        0);
    assert_int_equal(a, 32666);
    assert_int_equal(b, 9334);
    assert_int_equal(c, 6000);
    assert_int_equal(enevo_split_sizes(600, 0.7, 0.2, 0.1, 7, &a, &b, &c, err, sizeof err),
                     ENEVO_EINVAL);
    /* The config key, and its canonical form (written only when set). */
    struct enevo_config cfg;
    assert_int_equal(enevo_config_parse_user("network:\n  learning: {split_sizes: energize}\n",
                                             "s.yaml", &cfg, NULL, NULL, err, sizeof err),
                     0);
    assert_int_equal(cfg.split_method, ENEVO_SPLIT_ENERGIZE);
    char *t = enevo_config_format(&cfg);
    assert_non_null(t);
    bool has = strstr(t, "split_sizes: energize") != NULL;
    free(t);
    assert_true(has);
    assert_int_equal(enevo_config_parse_user("network:\n  learning: {split_sizes: sklearn}\n",
                                             "s.yaml", &cfg, NULL, NULL, err, sizeof err),
                     ENEVO_EFORMAT);
    assert_non_null(strstr(err, "s.yaml:2:"));
}

/* ---- the config rule --------------------------------------------------------------- */

static void user_config_keys_and_origins(void **state)
{
    (void)state;
    char err[ENEVO_ERR_LEN];
    struct enevo_config c, d;
    struct enevo_config_origin *o = calloc(1, sizeof *o);
    assert_non_null(o);
    enevo_config_defaults(&d);
    /* Seed switched off every way ENERGIZE users write it. */
    static const char *const off[] = {
        "energize: {seed_model: null}\n", "energize: {seed_model: {}}\n",
        "energize: {seed_model: {phenotype: \"\"}}\n", "evolutionary: {lambda: 2}\n"};
    for (size_t i = 0; i < ENEVO_COUNT(off); i++) {
        if (enevo_config_parse_user(off[i], "u.yaml", &c, o, NULL, err, sizeof err))
            fail_msg("%s: %s", off[i], err);
        assert_string_equal(c.seed_phenotype, "");
        /* And through the overlay reading too (what resume uses). */
        struct enevo_config e = d;
        if (i < 3) {
            assert_int_equal(enevo_config_parse(off[i], "u.yaml", &e, NULL, err, sizeof err), 0);
            assert_string_equal(e.seed_phenotype, "");
        }
    }
    /* Where values came from. */
    assert_int_equal(enevo_config_parse_user("evolutionary: {lambda: 2}\nnetwork:\n  learning: "
                                             "{default_train_time: 30}\n",
                                             "u.yaml", &c, o, NULL, err, sizeof err),
                     0);
    assert_int_equal(enevo_config_origin_of(o, "evolutionary.lambda"), ENEVO_FROM_FILE);
    assert_int_equal(enevo_config_origin_of(o, "evolutionary.generations"), ENEVO_FROM_DEFAULT);
    assert_int_equal(enevo_config_origin_of(o, "energize.seed_model"), ENEVO_FROM_ENERGIZE);
    assert_int_equal(enevo_config_origin_of(o, "evolutionary.max_mflops"), ENEVO_FROM_ENERGIZE);
    assert_int_equal(c.default_train_epochs, 0);
    assert_int_equal(c.max_params, d.max_params); /* the memory guard stays */
    assert_int_equal(c.generations, d.generations);
    char *t = enevo_config_format_origin(&c, o);
    assert_non_null(t);
    bool ok = strstr(t, "  lambda: 2  # file\n") &&
              strstr(t, "  generations: 10  # built-in default\n") &&
              strstr(t, "  seed_model: null  # ENERGIZE (not in the file)\n") &&
              strstr(t, "  max_mflops: 0  # ENERGIZE (not in the file)\n") &&
              strstr(t, "    default_train_epochs: 0  # ENERGIZE (not in the file)\n");
    /* The annotated text is still the config: it parses to the same one. */
    struct enevo_config back = d;
    int rc = enevo_config_parse(t, "annotated", &back, NULL, err, sizeof err);
    free(t);
    assert_true(ok);
    assert_int_equal(rc, 0);
    assert_memory_equal(&back, &c, sizeof c);
    /* A file may ask for the built-in default under it, seed included. */
    assert_int_equal(enevo_config_parse_user("defaults: builtin\nevolutionary: {lambda: 2}\n",
                                             "u.yaml", &c, o, NULL, err, sizeof err),
                     0);
    assert_string_equal(c.seed_phenotype, d.seed_phenotype);
    assert_true(c.reevaluate_parent);
    assert_true(c.max_mflops == d.max_mflops);
    /* An explicit epoch cap beside a time budget is kept; 0 without one is
     * an error. */
    assert_int_equal(enevo_config_parse_user("network:\n  learning: {default_train_time: 30, "
                                             "default_train_epochs: 4}\n",
                                             "u.yaml", &c, o, NULL, err, sizeof err),
                     0);
    assert_int_equal(c.default_train_epochs, 4);
    assert_int_equal(enevo_config_parse_user("network:\n  learning: {default_train_epochs: 0}\n",
                                             "u.yaml", &c, o, NULL, err, sizeof err),
                     ENEVO_EFORMAT);
    assert_non_null(strstr(err, "default_train_time"));
    free(o);
}

/* ---- the command of the issue ----------------------------------------------------- */

static void write_idx(const char *dir, const char *split, int n)
{
    char path[700];
    unsigned char hdr[16];
    snprintf(path, sizeof path, "%s/%s-images-idx3-ubyte", dir, split);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    unsigned int words[4] = {0x803, (unsigned)n, 28, 28};
    for (int i = 0; i < 4; i++)
        for (int b = 0; b < 4; b++)
            hdr[4 * i + b] = (unsigned char)(words[i] >> (8 * (3 - b)));
    fwrite(hdr, 1, 16, f);
    unsigned char img[784];
    for (int i = 0; i < n; i++) {
        int k = i % 10;
        for (int p = 0; p < 784; p++)
            img[p] = (unsigned char)(((p / 28) / 3 == k || (p % 28) / 3 == k ? 200 : 0) +
                                     (p * 7 + i) % 40);
        fwrite(img, 1, 784, f);
    }
    fclose(f);
    snprintf(path, sizeof path, "%s/%s-labels-idx1-ubyte", dir, split);
    f = fopen(path, "wb");
    assert_non_null(f);
    unsigned int lw[2] = {0x801, (unsigned)n};
    for (int i = 0; i < 2; i++)
        for (int b = 0; b < 4; b++)
            hdr[4 * i + b] = (unsigned char)(lw[i] >> (8 * (3 - b)));
    fwrite(hdr, 1, 8, f);
    for (int i = 0; i < n; i++)
        fputc(i % 10, f);
    fclose(f);
}

static int enevo_run(char *out, size_t outlen, const char *args)
{
    const char *bin = getenv("ENEVO_BIN");
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s %s 2>&1", bin ? bin : "build/enevo", args);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t n = fread(out, 1, outlen - 1, p);
    out[n] = 0;
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void cli_user_grammar_and_config_without_seed(void **state)
{
    (void)state;
    char dir[512], path[700], args[2048];
    static char out[65536];
    snprintf(dir, sizeof dir, "%s/dropin-cli", enevo_test_tmpdir());
    mkdir(dir, 0755);
    write_idx(dir, "train", 500);
    write_idx(dir, "t10k", 50);
    const struct row *r = &rows[0];
    snprintf(path, sizeof path, "%s/my.grammar", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(r->grammar, f);
    fclose(f);
    snprintf(path, sizeof path, "%s/my.yaml", dir);
    f = fopen(path, "w");
    assert_non_null(f);
    /* The user's file, with the data directory of the test. */
    fprintf(f, "%s    dataset: %s\n", r->yaml, dir);
    fclose(f);
    snprintf(args, sizeof args,
             "evolve %s/my.yaml --grammar %s/my.grammar --generations 2 "
             "--lambda 2 --print-config",
             dir, dir);
    assert_int_equal(enevo_run(out, sizeof out, args), 0);
    static const char *const shown[] = {"  lambda: 2  # command line\n",
                                        "  seed_model: null  # ENERGIZE (not in the file)\n",
                                        "  reevaluate_parent: false  # ENERGIZE (not in the file)",
                                        "    default_train_time: 0.29999999999999999  # file\n",
                                        "  max_params: 10000000  # built-in default\n"};
    for (size_t i = 0; i < ENEVO_COUNT(shown); i++)
        if (!strstr(out, shown[i]))
            fail_msg("--print-config lacks '%s':\n%s", shown[i], out);
    snprintf(args, sizeof args,
             "evolve %s/my.yaml --grammar %s/my.grammar --generations 2 "
             "--lambda 2 --threads 2 --run-dir %s/run",
             dir, dir, dir);
    int rc = enevo_run(out, sizeof out, args);
    if (rc)
        fail_msg("evolve failed (%d): %s", rc, out);
    assert_non_null(strstr(out, "finished: 2 generations, 4 evaluations"));
    snprintf(path, sizeof path, "%s/run/config.used.yaml", dir);
    char *used = enevo_test_slurp(path);
    assert_non_null(used);
    bool no_seed = strstr(used, "seed_model: null") && !strstr(used, "phenotype:");
    free(used);
    assert_true(no_seed);
    /* The recorded config reads back as it was: resume accepts it. */
    snprintf(args, sizeof args, "resume %s/run --threads 2", dir);
    rc = enevo_run(out, sizeof out, args);
    if (rc)
        fail_msg("resume failed (%d): %s", rc, out);
}

const struct CMUnitTest enevo_tests_dropin[] = {
    cmocka_unit_test(user_config_keys_and_origins),
    cmocka_unit_test(split_sizes_enevo_and_energize),
    cmocka_unit_test(time_budget_is_checked_between_batches),
    cmocka_unit_test(repeated_alternatives_weight_the_draw),
    cmocka_unit_test(hand_checker_rejects_what_the_grammar_cannot_make),
    cmocka_unit_test(user_grammars_without_seed_stay_inside_their_grammar),
    cmocka_unit_test(seed_that_fits_runs_and_one_that_does_not_says_why),
    cmocka_unit_test(energize_fixture_configs_run_with_their_grammars),
    cmocka_unit_test(cli_user_grammar_and_config_without_seed),
};
const size_t enevo_tests_dropin_count = ENEVO_COUNT(enevo_tests_dropin);
