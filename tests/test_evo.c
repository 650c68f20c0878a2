/* The evolution engine: mutations keep genotypes valid and never alias,
 * fitness terms, determinism of a tiny run, kill-and-resume equality, and
 * corrupted checkpoints. */
#include "tests.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "enevo/config.h"
#include "enevo/data.h"
#include "enevo/energy.h"
#include "enevo/evo.h"
#include "enevo/grammar.h"
#include "enevo/phenotype.h"
#include "evo/evo_internal.h"

struct world {
    struct enevo_config c;
    struct enevo_grammar *g;
    struct enevo_evo_space s;
};

static void world_init(struct world *w)
{
    char err[ENEVO_ERR_LEN];
    enevo_config_defaults(&w->c);
    assert_int_equal(
        enevo_grammar_parse(enevo_default_grammar_text(), "default.grammar", &w->g, err, sizeof err),
        0);
    if (enevo_space_init(&w->s, &w->c, w->g, err, sizeof err))
        fail_msg("%s", err);
}

static void world_free(struct world *w)
{
    enevo_grammar_free(w->g);
}

/* A `_` bound the engine does not fill is refused when the run is set up,
 * naming the attribute, its line and what to do, not later as a failed
 * individual. partition_point's `_` (the default grammar's) is accepted. */
static void unfilled_dynamic_bound_is_refused(void **state)
{
    (void)state;
    char err[ENEVO_ERR_LEN];
    struct world w;
    world_init(&w); /* the default grammar, with partition_point:_, passes */
    world_free(&w);
    const char *def = enevo_default_grammar_text();
    const char *at = strstr(def, "[out_channels,int,1,32,256]");
    assert_non_null(at);
    size_t n = strlen(def);
    char *text = malloc(n + 8);
    assert_non_null(text);
    snprintf(text, n + 8, "%.*s[out_channels,int,1,32,_]%s", (int)(at - def), def,
             at + strlen("[out_channels,int,1,32,256]"));
    struct enevo_config c;
    struct enevo_grammar *g;
    struct enevo_evo_space sp;
    enevo_config_defaults(&c);
    assert_int_equal(enevo_grammar_parse(text, "t.grammar", &g, err, sizeof err), 0);
    assert_int_equal(enevo_space_init(&sp, &c, g, err, sizeof err), ENEVO_EINVAL);
    assert_non_null(strstr(err, "'out_channels' of <convolution>"));
    assert_non_null(strstr(err, "give 'out_channels' numeric bounds"));
    assert_non_null(strstr(err, "grammar line "));
    enevo_grammar_free(g);
    free(text);
}

/* The phenotype parses, and every module respects its size range and has a
 * sequential backbone with inputs inside levels_back. */
static void check_valid(const struct world *w, struct enevo_genotype *gt, enevo_rng *r)
{
    for (int m = 0; m < gt->n_modules; m++) {
        const struct enevo_module *mod = &gt->modules[m];
        const struct enevo_module_cfg *mc = &w->c.modules[mod->type];
        assert_true(mod->n_layers >= mc->min && mod->n_layers <= mc->max);
        assert_true(mod->n_layers >= 1);
        for (int i = 0; i < mod->n_layers; i++) {
            const struct enevo_layer_gene *l = &mod->layers[i];
            assert_true(l->n_in >= 1);
            assert_int_equal(l->in[0], i - 1);
            for (int k = 1; k < l->n_in; k++)
                assert_true(l->in[k] >= 0 && l->in[k] < i - 1 && l->in[k] >= i - mc->levels_back);
        }
    }
    char *text, err[ENEVO_ERR_LEN];
    assert_int_equal(enevo_genotype_phenotype(&w->s, gt, r, &text), 0);
    struct enevo_phenotype p;
    if (enevo_phenotype_parse(text, "mutant", &p, err, sizeof err))
        fail_msg("%s\n%s", err, text);
    assert_int_equal(p.n_layers, enevo_genotype_layer_count(gt) + 1);
    enevo_phenotype_free(&p);
    free(text);
}

static void mutations_keep_genotypes_valid(void **state)
{
    (void)state;
    struct world w;
    world_init(&w);
    /* Everything switched on, including connections, with a wider window. */
    w.c.mutation = (struct enevo_mutation_cfg){0.3, 0.3, 0.5, 0.3, 0.5, 0, 0.2, 0.5, 0.5, 0.1};
    w.c.modules[0].levels_back = 3;
    enevo_rng r;
    enevo_rng_seed(&r, 5, ENEVO_STREAM_EVO);
    unsigned seen = 0;
    for (int trial = 0; trial < 20; trial++) {
        struct enevo_genotype gt;
        assert_int_equal(enevo_genotype_random(&w.s, &r, &gt), 0);
        check_valid(&w, &gt, &r);
        for (int step = 0; step < 15; step++) {
            seen |= enevo_mutate(&w.s, &gt, &r, NULL, NULL);
            check_valid(&w, &gt, &r);
        }
        enevo_genotype_free(&gt);
    }
    /* Every operator but reuse_module (no archive here) fired at least once. */
    unsigned want = ENEVO_MUT_TRAIN_LONGER | ENEVO_MUT_REMOVE_MODULE | ENEVO_MUT_ADD_LAYER |
                    ENEVO_MUT_REUSE_LAYER | ENEVO_MUT_REMOVE_LAYER | ENEVO_MUT_DSGE_LAYER |
                    ENEVO_MUT_ADD_CONNECTION | ENEVO_MUT_REMOVE_CONNECTION |
                    ENEVO_MUT_MACRO_LAYER;
    assert_int_equal(seen & want, want);
    world_free(&w);
}

static void mutated_copies_never_alias(void **state)
{
    (void)state;
    struct world w;
    world_init(&w);
    w.c.mutation.train_longer = 0;
    w.c.mutation.dsge_layer = 1;
    w.c.mutation.reuse_layer = 1; /* layer copies inside a module */
    w.c.mutation.add_layer = 1;
    enevo_rng r;
    enevo_rng_seed(&r, 9, ENEVO_STREAM_EVO);
    struct enevo_genotype a, b;
    assert_int_equal(enevo_genotype_random(&w.s, &r, &a), 0);
    char *before, *after, *mutated;
    assert_int_equal(enevo_genotype_phenotype(&w.s, &a, &r, &before), 0);
    assert_int_equal(enevo_genotype_copy(&a, &b), 0);
    for (int i = 0; i < 10; i++)
        enevo_mutate(&w.s, &b, &r, NULL, NULL);
    assert_int_equal(enevo_genotype_phenotype(&w.s, &a, &r, &after), 0);
    assert_int_equal(enevo_genotype_phenotype(&w.s, &b, &r, &mutated), 0);
    assert_string_equal(before, after);
    assert_string_not_equal(before, mutated);
    /* Within one genotype: mutating a reused layer leaves its twin alone. */
    struct enevo_module *m = &b.modules[0];
    if (m->n_layers >= 2) {
        enevo_dsge_free(m->layers[1].dsge);
        m->layers[1].dsge = enevo_dsge_copy(m->layers[0].dsge);
        char *t0, *t1;
        assert_int_equal(enevo_dsge_decode(w.g, m->layers[0].dsge, NULL, 0, &r, &t0), 0);
        for (int i = 0; i < 20; i++)
            enevo_dsge_mutate(w.g, m->layers[1].dsge, NULL, 0, &r);
        assert_int_equal(enevo_dsge_decode(w.g, m->layers[0].dsge, NULL, 0, &r, &t1), 0);
        assert_string_equal(t0, t1);
        free(t0);
        free(t1);
    }
    free(before);
    free(after);
    free(mutated);
    enevo_genotype_free(&a);
    enevo_genotype_free(&b);
    world_free(&w);
}

static void fitness_terms_and_conditions(void **state)
{
    (void)state;
    struct enevo_config c;
    enevo_config_defaults(&c);
    c.n_terms = 0;
    snprintf(c.fitness_metric, sizeof c.fitness_metric, "accuracy");
    char err[ENEVO_ERR_LEN];
    struct enevo_metrics m = {.accuracy = 0.8, .loss = 0.5, .params = 1000, .flops = 4e6,
                              .valid = true};
    double f;
    assert_int_equal(enevo_fitness(&c, &m, &f, err, sizeof err), 0);
    assert_true(f == 0.8); /* default: accuracy */
    snprintf(c.fitness_metric, sizeof c.fitness_metric, "loss");
    assert_int_equal(enevo_fitness(&c, &m, &f, err, sizeof err), 0);
    assert_true(f == -0.5); /* minimised metrics are negated */
    /* ENERGIZE's form: acc + [0.7 < acc < 0.9] * 10 / params */
    c.n_terms = 2;
    c.terms[0] = (struct enevo_fitness_term){"accuracy", true, 1.0, 0, {{"", false, 0}}};
    c.terms[1] = (struct enevo_fitness_term){
        "params", false, 10.0, 2, {{"accuracy", true, 0.7}, {"accuracy", false, 0.9}}};
    assert_int_equal(enevo_fitness(&c, &m, &f, err, sizeof err), 0);
    assert_true(fabs(f - (0.8 + 10.0 / 1000)) < 1e-12);
    m.accuracy = 0.95; /* the bonus disappears above 0.9 */
    assert_int_equal(enevo_fitness(&c, &m, &f, err, sizeof err), 0);
    assert_true(f == 0.95);
    m.valid = false;
    assert_int_equal(enevo_fitness(&c, &m, &f, err, sizeof err), 0);
    assert_true(f == ENEVO_WORST_FITNESS);
    /* log2_energy, maximised with a negative weight: one point of accuracy
     * per halving of the energy. */
    c.terms[1] = (struct enevo_fitness_term){"log2_energy", true, -0.01, 0, {{"", false, 0}}};
    m.valid = true;
    m.accuracy = 0.9;
    m.energy = 0.5e-3;
    double f1, f2;
    assert_int_equal(enevo_fitness(&c, &m, &f1, err, sizeof err), 0);
    m.energy = 0.25e-3;
    assert_int_equal(enevo_fitness(&c, &m, &f2, err, sizeof err), 0);
    assert_true(fabs((f2 - f1) - 0.01) < 1e-12);
    c.terms[1] = (struct enevo_fitness_term){"energy_mj", false, 2.0, 0, {{"", false, 0}}};
    assert_int_equal(enevo_fitness(&c, &m, &f, err, sizeof err), 0);
    assert_true(fabs(f - (0.9 + 2.0 / 0.25)) < 1e-9);
    snprintf(c.terms[1].metric, sizeof c.terms[1].metric, "joules_per_smile");
    assert_int_equal(enevo_fitness_check(&c, err, sizeof err), ENEVO_EINVAL);
    assert_non_null(strstr(err, "joules_per_smile"));
}

/* ---- small runs on generated data ---- */

static void tiny_config(struct enevo_config *c)
{
    enevo_config_defaults(c);
    c->generations = 3;
    c->lambda = 2;
    c->seed = 17;
    c->default_train_epochs = 1;
    c->max_params = 2000000;
    c->reevaluate_parent = true;
    /* Accuracy only: these runs have no energy meter. */
    c->n_terms = 0;
    snprintf(c->fitness_metric, sizeof c->fitness_metric, "accuracy");
    /* Small layers keep the test fast. */
    c->modules[0].n_init = 1;
    c->modules[0].init[0] = 2;
    c->modules[0].max = 4;
}


static int run_evo_cfg(const struct enevo_config *cfg, struct enevo_meter *meter, const char *dir,
                       struct enevo_test_evo_data *x, int stop_after, struct enevo_evo_result *res, char *err,
                       size_t errlen)
{
    struct enevo_config c = *cfg;
    struct enevo_grammar *g;
    assert_int_equal(
        enevo_grammar_parse(enevo_default_grammar_text(), "default.grammar", &g, err, errlen), 0);
    struct enevo_evo_opts o = {.run_dir = dir, .log = NULL, .threads = 2, .stop_after = stop_after,
                               .meter = meter};
    int rc = enevo_evolve(&c, "tiny config", g, enevo_default_grammar_text(), &x->d, &o, res, err,
                          errlen);
    enevo_grammar_free(g);
    return rc;
}

static int run_evo(const char *dir, struct enevo_test_evo_data *x, int stop_after, struct enevo_evo_result *res,
                   char *err, size_t errlen)
{
    struct enevo_config c;
    tiny_config(&c);
    return run_evo_cfg(&c, NULL, dir, x, stop_after, res, err, errlen);
}

/* Energy-aware fitness with the model meter and reuse_module: energies in
 * stats.csv, reused modules with their energies, the archive in the
 * checkpoint (the interrupted run equals the uninterrupted one). */
static void energy_aware_run_reuses_modules_and_resumes(void **state)
{
    (void)state;
    struct enevo_test_evo_data x;
    enevo_test_evo_data_init(&x, 12, 320, 80, 80);
    struct enevo_config c;
    tiny_config(&c);
    c.generations = 4;
    c.mutation.reuse_module = 1.0;
    c.mutation.train_longer = 0;
    c.n_terms = 2;
    c.terms[0] = (struct enevo_fitness_term){"accuracy", true, 1.0, 0, {{"", false, 0}}};
    c.terms[1] = (struct enevo_fitness_term){"energy_mj", false, 0.01, 0, {{"", false, 0}}};
    char err[ENEVO_ERR_LEN];
    struct enevo_meter_cfg mc = enevo_meter_defaults();
    struct enevo_meter *m;
    assert_int_equal(enevo_meter_open("model", &mc, &m, NULL, 0, err, sizeof err), 0);
    char a[512], b[512];
    snprintf(a, sizeof a, "%s/evo-energy-a", enevo_test_tmpdir());
    snprintf(b, sizeof b, "%s/evo-energy-b", enevo_test_tmpdir());
    struct enevo_evo_result r;
    if (run_evo_cfg(&c, m, a, &x, 0, &r, err, sizeof err))
        fail_msg("%s", err);
    free(r.best_phenotype);
    int stops[] = {4, 3, 0};
    for (int i = 0; i < 3; i++) {
        if (run_evo_cfg(&c, m, b, &x, stops[i], &r, err, sizeof err))
            fail_msg("%s", err);
        free(r.best_phenotype);
    }
    char pa[600], pb[600];
    snprintf(pa, sizeof pa, "%s/stats.csv", a);
    snprintf(pb, sizeof pb, "%s/stats.csv", b);
    char *sa = enevo_test_slurp(pa), *sb = enevo_test_slurp(pb);
    assert_string_equal(sa, sb);
    assert_non_null(strstr(sa, "energy_j_per_inference,power_w,latency_s"));
    assert_non_null(strstr(sa, "model-estimate"));
    /* reuse_module fired and says which module, with its energy. */
    assert_non_null(strstr(sa, "reuse_module"));
    assert_non_null(strstr(sa, " J,\""));
    free(sa);
    free(sb);
    enevo_meter_close(m);
    enevo_test_evo_data_free(&x);
}

static void tiny_evolution_is_deterministic_and_resumes_exactly(void **state)
{
    (void)state;
    struct enevo_test_evo_data x;
    enevo_test_evo_data_init(&x, 12, 320, 80, 80);
    char a[512], b[512], err[ENEVO_ERR_LEN];
    snprintf(a, sizeof a, "%s/evo-a", enevo_test_tmpdir());
    snprintf(b, sizeof b, "%s/evo-b", enevo_test_tmpdir());
    struct enevo_evo_result ra, rb;
    int rc = run_evo(a, &x, 0, &ra, err, sizeof err);
    if (rc)
        fail_msg("%s", err);
    assert_true(ra.finished);
    assert_int_equal(ra.generations, 3);
    assert_int_equal(ra.evaluations, 2 + 3 + 3);
    free(ra.best_phenotype);
    /* Interrupted after 3, then 2 more evaluations, then run to the end. */
    int stops[] = {3, 2, 0};
    for (int i = 0; i < 3; i++) {
        rc = run_evo(b, &x, stops[i], &rb, err, sizeof err);
        if (rc)
            fail_msg("%s", err);
        free(rb.best_phenotype);
    }
    assert_true(rb.finished);
    char pa[600], pb[600];
    snprintf(pa, sizeof pa, "%s/stats.csv", a);
    snprintf(pb, sizeof pb, "%s/stats.csv", b);
    char *sa = enevo_test_slurp(pa), *sb = enevo_test_slurp(pb);
    assert_non_null(sa);
    assert_non_null(sb);
    assert_string_equal(sa, sb);
    /* 8 rows and the header. */
    int lines = 0;
    for (char *p = sa; *p; p++)
        lines += *p == '\n';
    assert_int_equal(lines, 9);
    free(sa);
    free(sb);
    snprintf(pa, sizeof pa, "%s/best/model.enevo", a);
    assert_int_equal(access(pa, R_OK), 0);
    enevo_test_evo_data_free(&x);
}

static void resume_refuses_changed_config_and_corrupt_checkpoint(void **state)
{
    (void)state;
    struct enevo_test_evo_data x;
    enevo_test_evo_data_init(&x, 12, 320, 80, 80);
    char dir[512], err[ENEVO_ERR_LEN];
    snprintf(dir, sizeof dir, "%s/evo-c", enevo_test_tmpdir());
    struct enevo_evo_result r;
    assert_int_equal(run_evo(dir, &x, 1, &r, err, sizeof err), 0);
    free(r.best_phenotype);
    /* Another config text → refused. */
    struct enevo_config c;
    tiny_config(&c);
    struct enevo_grammar *g;
    assert_int_equal(
        enevo_grammar_parse(enevo_default_grammar_text(), "default.grammar", &g, err, sizeof err),
        0);
    struct enevo_evo_opts o = {.run_dir = dir, .threads = 2, .stop_after = 1};
    int rc = enevo_evolve(&c, "another config", g, enevo_default_grammar_text(), &x.d, &o, &r, err,
                          sizeof err);
    assert_int_equal(rc, ENEVO_EINVAL);
    assert_non_null(strstr(err, "different config"));
    free(r.best_phenotype);
    /* A flipped byte, then a truncation → refused with the reason. */
    char path[600];
    snprintf(path, sizeof path, "%s/checkpoint.bin", dir);
    FILE *f = fopen(path, "r+b");
    fseek(f, 40, SEEK_SET);
    int ch = fgetc(f);
    fseek(f, 40, SEEK_SET);
    fputc(ch ^ 1, f);
    fclose(f);
    rc = enevo_evolve(&c, "tiny config", g, enevo_default_grammar_text(), &x.d, &o, &r, err,
                      sizeof err);
    assert_int_equal(rc, ENEVO_ECORRUPT);
    assert_non_null(strstr(err, "checkpoint"));
    free(r.best_phenotype);
    assert_int_equal(truncate(path, 30), 0);
    rc = enevo_evolve(&c, "tiny config", g, enevo_default_grammar_text(), &x.d, &o, &r, err,
                      sizeof err);
    assert_true(rc == ENEVO_ECORRUPT || rc == ENEVO_EFORMAT);
    free(r.best_phenotype);
    enevo_grammar_free(g);
    enevo_test_evo_data_free(&x);
}

static void genotype_serialisation_round_trips(void **state)
{
    (void)state;
    struct world w;
    world_init(&w);
    enevo_rng r;
    enevo_rng_seed(&r, 3, ENEVO_STREAM_EVO);
    for (int t = 0; t < 10; t++) {
        struct enevo_genotype a, b;
        assert_int_equal(enevo_genotype_random(&w.s, &r, &a), 0);
        for (int k = 0; k < t; k++)
            enevo_mutate(&w.s, &a, &r, NULL, NULL);
        unsigned char *buf = NULL;
        size_t len = 0, cap = 0, pos = 0;
        assert_int_equal(enevo_genotype_write(&a, &buf, &len, &cap), 0);
        char err[ENEVO_ERR_LEN];
        assert_int_equal(enevo_genotype_read(&w.s, buf, len, &pos, &b, err, sizeof err), 0);
        assert_int_equal(pos, len);
        char *ta, *tb;
        assert_int_equal(enevo_genotype_phenotype(&w.s, &a, &r, &ta), 0);
        assert_int_equal(enevo_genotype_phenotype(&w.s, &b, &r, &tb), 0);
        assert_string_equal(ta, tb);
        /* Truncated: rejected, never a crash. */
        struct enevo_genotype c;
        pos = 0;
        assert_int_not_equal(enevo_genotype_read(&w.s, buf, len / 2, &pos, &c, err, sizeof err), 0);
        free(ta);
        free(tb);
        free(buf);
        enevo_genotype_free(&a);
        enevo_genotype_free(&b);
    }
    world_free(&w);
}

/* model_partition: the partition point stays in range through every
 * mutation (the phenotype check rejects it otherwise), both models are
 * measured, best/ keeps both, and the run resumes exactly. */
static void partitioned_run_keeps_point_in_range_and_resumes(void **state)
{
    (void)state;
    struct world w;
    world_init(&w);
    w.c.model_partition = true;
    snprintf(w.c.macro[w.c.n_macro++], ENEVO_NAME_LEN, "model_partition");
    char err[ENEVO_ERR_LEN];
    if (enevo_space_init(&w.s, &w.c, w.g, err, sizeof err))
        fail_msg("%s", err);
    w.c.mutation = (struct enevo_mutation_cfg){0, 0, 0.5, 0.3, 0.6, 0, 0.3, 0.3, 0.5, 0};
    enevo_rng r;
    enevo_rng_seed(&r, 8, ENEVO_STREAM_EVO);
    for (int trial = 0; trial < 10; trial++) {
        struct enevo_genotype gt;
        assert_int_equal(enevo_genotype_random(&w.s, &r, &gt), 0);
        for (int step = 0; step < 20; step++) {
            enevo_mutate(&w.s, &gt, &r, NULL, NULL);
            check_valid(&w, &gt, &r); /* parses: partition_point in [0, L-1] */
        }
        enevo_genotype_free(&gt);
    }
    world_free(&w);

    struct enevo_test_evo_data x;
    enevo_test_evo_data_init(&x, 12, 320, 80, 80);
    struct enevo_config c;
    tiny_config(&c);
    c.model_partition = true;
    snprintf(c.macro[c.n_macro++], ENEVO_NAME_LEN, "model_partition");
    c.n_terms = 2;
    c.terms[0] = (struct enevo_fitness_term){"accuracy_1", true, 1.0, 0, {{"", false, 0}}};
    c.terms[1] = (struct enevo_fitness_term){"energy_1", false, 1e-5, 0, {{"", false, 0}}};
    struct enevo_meter_cfg mc = enevo_meter_defaults();
    struct enevo_meter *m;
    assert_int_equal(enevo_meter_open("model", &mc, &m, NULL, 0, err, sizeof err), 0);
    char a[512], b[512];
    snprintf(a, sizeof a, "%s/evo-part-a", enevo_test_tmpdir());
    snprintf(b, sizeof b, "%s/evo-part-b", enevo_test_tmpdir());
    struct enevo_evo_result res;
    if (run_evo_cfg(&c, m, a, &x, 0, &res, err, sizeof err))
        fail_msg("%s", err);
    free(res.best_phenotype);
    int stops[] = {2, 3, 0};
    for (int i = 0; i < 3; i++) {
        if (run_evo_cfg(&c, m, b, &x, stops[i], &res, err, sizeof err))
            fail_msg("%s", err);
        free(res.best_phenotype);
    }
    char pa[600], pb[600];
    snprintf(pa, sizeof pa, "%s/stats.csv", a);
    snprintf(pb, sizeof pb, "%s/stats.csv", b);
    char *sa = enevo_test_slurp(pa), *sb = enevo_test_slurp(pb);
    assert_string_equal(sa, sb);
    assert_non_null(strstr(sa, "accuracy_0,accuracy_1,test_accuracy_1,energy_0,energy_1"));
    assert_non_null(strstr(sa, "model_partition:"));
    free(sa);
    free(sb);
    for (int k = 0; k < 2; k++) {
        snprintf(pa, sizeof pa, "%s/best/model%d.enevo", a, k);
        assert_int_equal(access(pa, R_OK), 0);
    }
    enevo_meter_close(m);
    enevo_test_evo_data_free(&x);
}

const struct CMUnitTest enevo_tests_evo[] = {
    cmocka_unit_test(partitioned_run_keeps_point_in_range_and_resumes),
    cmocka_unit_test(unfilled_dynamic_bound_is_refused),
    cmocka_unit_test(mutations_keep_genotypes_valid),
    cmocka_unit_test(mutated_copies_never_alias),
    cmocka_unit_test(fitness_terms_and_conditions),
    cmocka_unit_test(genotype_serialisation_round_trips),
    cmocka_unit_test(tiny_evolution_is_deterministic_and_resumes_exactly),
    cmocka_unit_test(resume_refuses_changed_config_and_corrupt_checkpoint),
    cmocka_unit_test(energy_aware_run_reuses_modules_and_resumes),
};
const size_t enevo_tests_evo_count = ENEVO_COUNT(enevo_tests_evo);
