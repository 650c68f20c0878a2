#include "tests.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "enevo/config.h"
#include "enevo/error.h"

/* Parses `text` over the defaults; returns the status, message in err. */
static int parse(const char *text, struct enevo_config *c, char *err)
{
    enevo_config_defaults(c);
    err[0] = '\0';
    return enevo_config_parse(text, "run.yaml", c, NULL, err, ENEVO_ERR_LEN);
}

/* Asserts that `text` fails with EFORMAT and a message holding every
 * fragment given (NULL-terminated). */
static void expect_error(const char *text, ...)
{
    struct enevo_config c;
    char err[ENEVO_ERR_LEN];
    int rc = parse(text, &c, err);
    if (rc != ENEVO_EFORMAT)
        fail_msg("expected ENEVO_EFORMAT for:\n%s\ngot %d (%s)", text, rc, err);
    va_list ap;
    va_start(ap, text);
    for (const char *frag; (frag = va_arg(ap, const char *));)
        if (!strstr(err, frag))
            fail_msg("message '%s' lacks '%s'", err, frag);
    va_end(ap);
}

static void config_defaults_match_default_yaml(void **state)
{
    (void)state;
    struct enevo_config a, b;
    char err[ENEVO_ERR_LEN];
    enevo_config_defaults(&a);
    assert_int_equal(parse(enevo_default_config_text(), &b, err), 0);
    assert_memory_equal(&a, &b, sizeof a);
    /* And through enevo_config_load(NULL), with no warnings at all. */
    FILE *w = tmpfile();
    assert_non_null(w);
    memset(&b, 0xa5, sizeof b);
    assert_int_equal(enevo_config_load(NULL, &b, w, err, sizeof err), 0);
    assert_memory_equal(&a, &b, sizeof a);
    assert_int_equal(ftell(w), 0);
    fclose(w);
    /* Spot checks, so a wrong value can't hide in both places at once. */
    assert_int_equal(a.generations, 10);
    assert_int_equal(a.lambda, 3);
    assert_true(a.reevaluate_parent);
    assert_non_null(strstr(a.seed_phenotype, "layer:conv out_channels:32"));
    assert_true(a.mutation.macro_layer == 0.3);
    assert_int_equal(a.n_terms, 2);
    assert_string_equal(a.terms[1].metric, "log2_energy");
    assert_int_equal(a.n_modules, 2);
    assert_int_equal(a.modules[0].max, 30);
    assert_int_equal(a.default_train_epochs, 3);
    assert_string_equal(a.dataset, "/usr/share/datasets/fashion-mnist");
}

static void config_default_grammar_is_embedded(void **state)
{
    (void)state;
    const char *g = enevo_default_grammar_text();
    assert_non_null(g);
    assert_non_null(strstr(g, "<features> ::="));
    assert_non_null(strstr(g, "<model_partition> ::= model_partition:_ [partition_point,int,1,0,_]"));
    assert_non_null(strstr(g, "out_features:10"));
}

static void config_loads_energize_yaml(void **state)
{
    (void)state;
    const char *path = enevo_test_fixture_or_say("example_config.yaml", NULL);
    if (!path)
        skip();
    struct enevo_config c;
    char err[ENEVO_ERR_LEN];
    FILE *w = tmpfile();
    assert_non_null(w);
    int rc = enevo_config_load(path, &c, w, err, sizeof err);
    if (rc)
        fail_msg("%s", err);
    assert_int_equal(c.lambda, 4);
    assert_int_equal(c.generations, 150);
    assert_int_equal(c.max_epochs, 1000000);
    assert_true(c.mutation.reuse_module == 0.15);
    assert_int_equal(c.n_terms, 2);
    assert_string_equal(c.terms[0].metric, "accuracy_1");
    assert_true(c.terms[0].maximize);
    assert_true(c.terms[0].weight == 1.0);
    assert_int_equal(c.terms[0].n_conds, 0);
    assert_string_equal(c.terms[1].metric, "power_1");
    assert_false(c.terms[1].maximize);
    assert_true(c.terms[1].weight == 10.0);
    assert_int_equal(c.terms[1].n_conds, 2);
    assert_true(c.terms[1].conds[0].greater_than);
    assert_true(c.terms[1].conds[0].value == 0.7);
    assert_false(c.terms[1].conds[1].greater_than);
    assert_true(c.terms[1].conds[1].value == 0.9);
    assert_true(c.reuse_layer == 0.7);
    assert_int_equal(c.n_macro, 2);
    assert_string_equal(c.macro[1], "model_partition");
    assert_true(c.model_partition);
    assert_int_equal(c.modules[0].n_init, 3);
    assert_int_equal(c.modules[1].max, 10);
    assert_true(c.default_train_time == 1.0);
    assert_int_equal(c.resize, 32);
    /* Defaults survive where the file says nothing. */
    assert_int_equal(c.default_train_epochs, 3);

    long n = ftell(w);
    assert_true(n > 0);
    char *text = calloc(1, (size_t)n + 1);
    assert_non_null(text);
    rewind(w);
    assert_int_equal(fread(text, 1, (size_t)n, w), (size_t)n);
    fclose(w);
    /* Checked into flags first: a failed assert would leak `text`. */
    static const char *const want[] = {
        "enevo: warning: ",
        "energize.ensure_gpu_exclusivity is accepted but not used",
        "example_config.yaml:13: energize.ensure_gpu_exclusivity",
        "checkpoints_path",
        "energize.measure_power",
        /* Both fitness keys: fitness_function wins, with a word about it. */
        "evolutionary.fitness_metric is accepted but not used",
    };
    /* Keys enevo does use (or that say what it does anyway) stay quiet. */
    static const char *const quiet[] = {"track_mutations", "learning_type", "model_partition_n",
                                        "resize"};
    const char *missing = NULL, *noisy = NULL;
    for (size_t i = 0; i < ENEVO_COUNT(want); i++)
        if (!strstr(text, want[i]))
            missing = want[i];
    for (size_t i = 0; i < ENEVO_COUNT(quiet); i++)
        if (strstr(text, quiet[i]))
            noisy = quiet[i];
    free(text);
    if (missing)
        fail_msg("warnings lack '%s'", missing);
    if (noisy)
        fail_msg("warnings mention '%s'", noisy);
}

static void config_loads_energize_json(void **state)
{
    (void)state;
    const char *path = enevo_test_fixture_or_say("example_config.json", NULL);
    if (!path)
        skip();
    struct enevo_config c;
    char err[ENEVO_ERR_LEN];
    int rc = enevo_config_load(path, &c, NULL, err, sizeof err);
    if (rc)
        fail_msg("%s", err);
    assert_int_equal(c.lambda, 4);
    assert_int_equal(c.generations, 150);
    assert_int_equal(c.n_terms, 2);
    assert_string_equal(c.terms[1].metric, "power_1");
    assert_false(c.terms[1].maximize);
    assert_true(c.terms[1].weight == 10.0);
    assert_int_equal(c.terms[1].n_conds, 2);
    assert_int_equal(c.modules[0].n_init, 5);
    assert_int_equal(c.modules[0].min, 0);
    assert_int_equal(c.modules[0].max, 50);
    assert_int_equal(c.modules[1].max, 25);
    assert_true(c.default_train_time == 300.0);
    assert_true(c.model_partition);
    assert_int_equal(c.n_macro, 2);
    assert_int_equal(c.resize, 32);
}

static void config_loads_denser_json(void **state)
{
    (void)state;
    const char *path = enevo_test_fixture_or_say("denser_config.json", NULL);
    if (!path)
        skip();
    struct enevo_config c;
    char err[ENEVO_ERR_LEN];
    int rc = enevo_config_load(path, &c, NULL, err, sizeof err);
    if (rc)
        fail_msg("%s", err);
    assert_int_equal(c.lambda, 4);
    assert_int_equal(c.generations, 150);
    assert_string_equal(c.fitness_metric, "accuracy");
    assert_int_equal(c.n_terms, 0);
    assert_false(c.model_partition);
    assert_int_equal(c.n_macro, 1);
    assert_string_equal(c.macro[0], "learning");
    /* Not in the file: the defaults' module mutations stay. */
    assert_true(c.mutation.reuse_module == 0.15);
    assert_true(c.default_train_time == 5.0);
}

static void config_json_and_yaml_agree(void **state)
{
    (void)state;
    static const char yaml[] =
        "evolutionary:\n"
        "  lambda: 6\n"
        "  seed: 18446744073709551615\n"
        "  fitness_function:\n"
        "    - {metric: accuracy, objective: maximize, weight: 1}\n"
        "    - metric: energy\n"
        "      objective: minimize\n"
        "      weight: 2.5e-1\n"
        "      conditions:\n"
        "        - {metric: accuracy, type: greater_than, value: 0.5}\n"
        "network:\n"
        "  architecture:\n"
        "    modules:\n"
        "      - name: features\n"
        "        network_structure_init: [1, 2]\n"
        "        network_structure: [0, 5]\n"
        "        levels_back: 2\n"
        "  learning:\n"
        "    dataset: \"/data/fm\"\n"
        "    augmentation: {train: {resize: {size: 32}}, test: {resize: {size: 32}}}\n"
        "energize: {model_partition: true, model_partition_n: 2}\n"
        "threads: 3\n";
    /* Compact JSON with tabs (even where YAML forbids them: before the first
     * '{' and on a line after the last '}'), no spaces after ':' and an
     * escaped '/'. */
    static const char json[] =
        "\t{\"evolutionary\":{\"lambda\":6,\"seed\":18446744073709551615,\n"
        "\t\"fitness_function\":[{\"metric\":\"accuracy\",\"objective\":\"maximize\","
        "\"weight\":1},\n"
        "\t\t{\"metric\":\"energy\",\"objective\":\"minimize\",\"weight\":2.5e-1,"
        "\"conditions\":[{\"metric\":\"accuracy\",\"type\":\"greater_than\",\"value\":0.5}]}]},\n"
        "\"network\":{\"architecture\":{\"modules\":[{\"name\":\"features\","
        "\"network_structure_init\":[1,2],\"network_structure\":[0,5],\"levels_back\":2}]},\n"
        "\t\"learning\":{\"dataset\":\"\\/data\\/fm\",\"augmentation\":{\"train\":{\"resize\":"
        "{\"size\":32}},\"test\":{\"resize\":{\"size\":32}}}}},\n"
        "\"energize\":{\"model_partition\":true,\"model_partition_n\":2},\"threads\":3}\n\t\n";
    struct enevo_config a, b;
    char err[ENEVO_ERR_LEN];
    if (parse(yaml, &a, err))
        fail_msg("yaml: %s", err);
    if (parse(json, &b, err))
        fail_msg("json: %s", err);
    assert_memory_equal(&a, &b, sizeof a);
    assert_int_equal(a.lambda, 6);
    assert_true(a.seed == UINT64_MAX);
    assert_int_equal(a.n_terms, 2);
    assert_true(a.terms[1].weight == 0.25);
    assert_int_equal(a.n_modules, 1);
    assert_int_equal(a.modules[0].levels_back, 2);
    assert_string_equal(a.dataset, "/data/fm");
    assert_int_equal(a.resize, 32);
    assert_int_equal(a.threads, 3);
    /* model_partition was appended to the defaults' macro structure. */
    assert_int_equal(a.n_macro, 2);
    assert_string_equal(a.macro[1], "model_partition");
}

static void config_fitness_metric_replaces_function(void **state)
{
    (void)state;
    struct enevo_config c;
    char err[ENEVO_ERR_LEN];
    assert_int_equal(parse("evolutionary:\n  fitness_function:\n"
                           "    - {metric: power, objective: minimize, weight: 1}\n",
                           &c, err),
                     0);
    assert_int_equal(c.n_terms, 1);
    /* A later file choosing a plain metric drops the terms. */
    assert_int_equal(
        enevo_config_parse("evolutionary: {fitness_metric: loss}", "b.yaml", &c, NULL, err,
                           sizeof err),
        0);
    assert_int_equal(c.n_terms, 0);
    assert_string_equal(c.fitness_metric, "loss");
}

static void config_unknown_keys_are_errors(void **state)
{
    (void)state;
    expect_error("evolutionary:\n  generations: 3\n  lamda: 4\n",
                 "run.yaml:3:3: unknown key 'lamda' in evolutionary", NULL);
    expect_error("threads: 2\nthreadz: 2\n", "run.yaml:2:1: unknown key 'threadz' at the top level",
                 NULL);
    expect_error("network:\n  architecture:\n    modules:\n      - name: features\n"
                 "        network_structure_init: [1]\n        network_structure: [1, 2]\n"
                 "        level_back: 1\n",
                 "run.yaml:7:9:", "unknown key 'level_back' in network.architecture.modules[0]",
                 NULL);
    expect_error("energize:\n  measure_power: {train: true, tset: true}\n",
                 "unknown key 'tset' in energize.measure_power", NULL);
    expect_error("network:\n  learning:\n    augmentation:\n      train: {flip: true}\n",
                 "unknown key 'flip' in network.learning.augmentation.train", NULL);
    expect_error("threads: 1\nthreads: 2\n", "run.yaml:2:1: duplicate key 'threads'", NULL);
}

static void config_wrong_types_are_errors(void **state)
{
    (void)state;
    expect_error("evolutionary:\n  lambda: four\n",
                 "run.yaml:2:11: evolutionary.lambda: expected an integer >= 1, got 'four'", NULL);
    expect_error("evolutionary:\n  lambda: \"4\"\n", "evolutionary.lambda", "the string '4'", NULL);
    expect_error("evolutionary:\n  lambda: 4.5\n", "expected an integer", NULL);
    expect_error("evolutionary:\n  lambda: [4]\n", "evolutionary.lambda", "got a list", NULL);
    expect_error("network:\n  architecture:\n    output: {a: 1}\n",
                 "network.architecture.output: expected a non-empty string, got a mapping", NULL);
    expect_error("evolutionary: 3\n", "run.yaml:1:15: evolutionary: expected a mapping, got '3'",
                 NULL);
    expect_error("energize:\n  model_partition: maybe\n",
                 "energize.model_partition: expected true or false", NULL);
    expect_error("evolutionary:\n  mutation:\n    add_layer: lots\n",
                 "evolutionary.mutation.add_layer: expected a finite number in [0, 1]", NULL);
    expect_error("evolutionary:\n  seed: -1\n", "evolutionary.seed", NULL);
    expect_error("network:\n  architecture:\n    modules: features\n",
                 "network.architecture.modules: expected a list", NULL);
    expect_error("[1, 2]\n", "run.yaml:1:1", "expected a mapping", NULL);
}

static void config_out_of_range_values_are_errors(void **state)
{
    (void)state;
    expect_error("evolutionary: {generations: 0}", "evolutionary.generations", ">= 1", "'0'",
                 NULL);
    expect_error("evolutionary: {lambda: 0}", "evolutionary.lambda", NULL);
    expect_error("evolutionary: {mutation: {dsge_layer: 1.5}}", "dsge_layer", "[0, 1]", NULL);
    expect_error("evolutionary: {max_epochs: 99999999999999999999}", "max_epochs", NULL);
    expect_error("evolutionary:\n  fitness_function:\n"
                 "    - {metric: power, objective: minimize, weight: .inf}\n",
                 "weight", "finite", NULL);
    expect_error("evolutionary:\n  fitness_function:\n"
                 "    - {metric: power, objective: lowest, weight: 1}\n",
                 "fitness_function[0].objective: expected maximize or minimize", NULL);
    expect_error("evolutionary:\n  fitness_function:\n"
                 "    - {metric: power, objective: minimize}\n",
                 "fitness_function[0]: missing key 'weight'", NULL);
    expect_error("evolutionary:\n  fitness_function:\n"
                 "    - metric: power\n      objective: minimize\n      weight: 1\n"
                 "      conditions: [{metric: accuracy, type: above, value: 1}]\n",
                 "conditions[0].type: expected greater_than or less_than", NULL);
    expect_error("evolutionary: {fitness_metric: Accuracy!}", "evolutionary.fitness_metric",
                 "'Accuracy!'", NULL);
    expect_error("evolutionary: {reevaluate_parent: 2}", "evolutionary.reevaluate_parent",
                 "true or false", NULL);
    expect_error("evolutionary: {max_params: -1}", "evolutionary.max_params", ">= 0", NULL);
    expect_error("evolutionary: {fitness_function: []}", "at least 1 item", NULL);
    expect_error("network:\n  architecture:\n    modules:\n      - name: features\n"
                 "        network_structure_init: [5]\n        network_structure: [1, 3]\n",
                 "run.yaml:4:9:", "count 5 is outside network_structure [1, 3]", NULL);
    expect_error("network:\n  architecture:\n    modules:\n      - name: features\n"
                 "        network_structure_init: [1]\n        network_structure: [4, 3]\n",
                 "network_structure[1]: expected an integer >= 4, got '3'", NULL);
    expect_error("network:\n  architecture:\n    modules:\n      - name: features\n"
                 "        network_structure_init: [1]\n        network_structure: [-1, 3]\n",
                 "network_structure[0]", NULL);
    expect_error("network:\n  architecture:\n    modules:\n      - name: features\n"
                 "        network_structure_init: [1]\n        network_structure: [1, 3]\n"
                 "        levels_back: 0\n",
                 "levels_back", NULL);
    expect_error("network:\n  architecture:\n    modules:\n      - name: features\n"
                 "        network_structure: [1, 3]\n",
                 "missing key 'network_structure_init'", NULL);
    expect_error("network:\n  architecture:\n    modules: []\n", "at least 1 item", NULL);
    expect_error("network:\n  learning:\n    data_splits: {evo_train: 0.8, evo_validation: 0.2, "
                 "evo_test: 0.1}\n",
                 "network.learning.data_splits", "more than 1", NULL);
    expect_error("network:\n  learning:\n    data_splits: {evo_train: 0, evo_validation: 0.2}\n",
                 "evo_train must be > 0", NULL);
    expect_error("network:\n  learning: {default_train_time: -1}\n", "default_train_time", NULL);
    expect_error("network:\n  learning: {default_train_epochs: 0}\n", "default_train_epochs",
                 NULL);
    expect_error("network:\n  learning: {train_subset: -5}\n", "train_subset", NULL);
    expect_error("network:\n  learning: {learning_type: unsupervised}\n", "supervised", NULL);
    expect_error("network:\n  learning:\n    augmentation: {train: {resize: {size: 4}}}\n",
                 "augmentation.train.resize.size", "[8, 1024]", NULL);
    expect_error("network:\n  learning:\n    augmentation: {train: {resize: {size: 32}}, "
                 "test: {resize: {size: 28}}}\n",
                 "augmentation.test: resize 28 differs from train's 32", NULL);
    expect_error("threads: -1\n", "threads: expected an integer >= 0", NULL);
    expect_error("energize: {model_partition: true, model_partition_n: 3}",
                 "energize.model_partition_n: expected the integer 2", NULL);
    expect_error("network:\n  architecture:\n    macro_structure: [learning, model_partition]\n",
                 "run.yaml:3:22:", "contains model_partition but energize.model_partition is false",
                 NULL);
    expect_error("network:\n  architecture:\n    macro_structure: [learning, learning]\n",
                 "listed twice", NULL);
}

static void config_array_limits_are_errors(void **state)
{
    (void)state;
    char text[4096];
    size_t n = (size_t)snprintf(text, sizeof text, "network:\n  architecture:\n    modules:\n");
    for (int i = 0; i <= ENEVO_MAX_MODULES; i++)
        n += (size_t)snprintf(text + n, sizeof text - n,
                              "      - {name: m%d, network_structure_init: [1], "
                              "network_structure: [1, 2]}\n",
                              i);
    expect_error(text, "network.architecture.modules: at most 8 items (ENEVO_MAX_MODULES), got 9",
                 NULL);

    n = (size_t)snprintf(text, sizeof text, "evolutionary:\n  fitness_function:\n");
    for (int i = 0; i <= ENEVO_MAX_TERMS; i++)
        n += (size_t)snprintf(text + n, sizeof text - n,
                              "    - {metric: accuracy, objective: maximize, weight: 1}\n");
    expect_error(text, "ENEVO_MAX_TERMS", NULL);

    expect_error("evolutionary:\n  fitness_function:\n"
                 "    - metric: power\n      objective: minimize\n      weight: 1\n"
                 "      conditions: [{metric: accuracy, type: less_than, value: 1},"
                 "{metric: accuracy, type: less_than, value: 1},"
                 "{metric: accuracy, type: less_than, value: 1},"
                 "{metric: accuracy, type: less_than, value: 1},"
                 "{metric: accuracy, type: less_than, value: 1}]\n",
                 "ENEVO_MAX_CONDS", NULL);
    expect_error("network:\n  architecture:\n    macro_structure: [a, b, c, d, e]\n",
                 "ENEVO_MAX_MACRO", NULL);
    expect_error("network:\n  architecture:\n    macro_structure: [a, b, c, d]\n"
                 "energize: {model_partition: true}\n",
                 "no room to add model_partition", NULL);
    expect_error("network:\n  architecture:\n    modules:\n      - name: features\n"
                 "        network_structure_init: [1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]\n"
                 "        network_structure: [1, 3]\n",
                 "network_structure_init: at most 16 items", NULL);
    expect_error("network:\n  architecture:\n    output: "
                 "a_name_that_is_much_longer_than_thirty_one_characters\n",
                 "too long (at most 31 characters)", NULL);
}

static void config_bad_yaml_is_an_error(void **state)
{
    (void)state;
    expect_error("evolutionary:\n  lambda: 4\n   generations: 3\n", "run.yaml:3:", "YAML syntax error",
                 NULL);
    expect_error("{\"evolutionary\": {\"lambda\": 4,}\n", "run.yaml:", "YAML syntax error", NULL);
    /* A truncated JSON file. */
    expect_error("{\"evolutionary\": {\"lambda\": 4", "run.yaml:", "YAML syntax error", NULL);
    expect_error("{\"threads\": 1\n \"lambda\": 4}\n", "run.yaml:2:", "YAML syntax error", NULL);
    expect_error("{\"evolutionary\": {\"lambda\": 4\n", "run.yaml:2:1:", "YAML syntax error",
                 NULL);
    expect_error("", "empty config", NULL);
    expect_error("threads: 1\n---\nthreads: 2\n", "run.yaml:3: a second YAML document", NULL);
    expect_error("threads: *nowhere\n", "run.yaml:1:", NULL);

    /* A failed parse leaves the struct as it was. */
    struct enevo_config a, b;
    char err[ENEVO_ERR_LEN];
    enevo_config_defaults(&a);
    memcpy(&b, &a, sizeof b);
    assert_int_equal(enevo_config_parse("threads: 5\nevolutionary: {lambda: 0}\n", "x", &b, NULL,
                                        err, sizeof err),
                     ENEVO_EFORMAT);
    assert_memory_equal(&a, &b, sizeof a);
}

static void config_missing_file_is_eio(void **state)
{
    (void)state;
    struct enevo_config c;
    char err[ENEVO_ERR_LEN];
    assert_int_equal(enevo_config_load("/nonexistent/run.yaml", &c, NULL, err, sizeof err),
                     ENEVO_EIO);
    assert_non_null(strstr(err, "/nonexistent/run.yaml"));
}

static void config_file_errors_name_the_file(void **state)
{
    (void)state;
    char path[512];
    snprintf(path, sizeof path, "%s/bad_config.yaml", enevo_test_tmpdir());
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("# a comment\nevolutionary:\n  lambda: four\n", f);
    fclose(f);
    struct enevo_config c;
    char err[ENEVO_ERR_LEN];
    assert_int_equal(enevo_config_load(path, &c, NULL, err, sizeof err), ENEVO_EFORMAT);
    char want[600];
    snprintf(want, sizeof want, "%s:3:11: evolutionary.lambda: expected an integer >= 1, got 'four'",
             path);
    assert_string_equal(err, want);
    remove(path);
}

/* enevo_config_format writes what a run keeps (config.used.yaml); it must
 * parse back to the same struct and the same text. */
static void round_trip(const struct enevo_config *a)
{
    char err[ENEVO_ERR_LEN];
    char *t1 = enevo_config_format(a);
    assert_non_null(t1);
    struct enevo_config b;
    enevo_config_defaults(&b);
    FILE *w = tmpfile();
    assert_non_null(w);
    int rc = enevo_config_parse(t1, "used.yaml", &b, w, err, sizeof err);
    long warned = ftell(w);
    fclose(w);
    if (rc) {
        fprintf(stderr, "%s\n", t1);
        free(t1);
        fail_msg("%s", err);
    }
    char *t2 = enevo_config_format(&b);
    int same_text = t2 && !strcmp(t1, t2);
    int same_struct = !memcmp(a, &b, sizeof b);
    free(t1);
    free(t2);
    assert_true(same_text);
    assert_true(same_struct);
    assert_int_equal(warned, 0);
}

static void config_format_parses_back(void **state)
{
    (void)state;
    struct enevo_config c;
    char err[ENEVO_ERR_LEN];
    enevo_config_defaults(&c);
    round_trip(&c);
    assert_int_equal(parse("evolutionary:\n  seed: 12345678901234567890\n"
                           "  reevaluate_parent: true\n  max_params: 2000000\n"
                           "network:\n  learning: {dataset: \"/data/my set\", train_subset: 500}\n",
                           &c, err),
                     0);
    assert_true(c.reevaluate_parent);
    assert_int_equal(c.max_params, 2000000);
    round_trip(&c);
    /* The project's own config file, read from disk: the defaults, with no
     * warnings, and it round-trips. */
    struct enevo_config d;
    FILE *w = tmpfile();
    assert_non_null(w);
    if (enevo_config_load("configs/default.yaml", &c, w, err, sizeof err))
        fail_msg("%s", err);
    long warned = ftell(w);
    fclose(w);
    assert_int_equal(warned, 0);
    enevo_config_defaults(&d);
    assert_memory_equal(&c, &d, sizeof c);
    round_trip(&c);
    /* And ENERGIZE's example, when ../shared is there. */
    const char *path =
        enevo_test_fixture_or_say("example_config.yaml", "round-tripped configs/default.yaml only");
    if (!path)
        return;
    if (enevo_config_load(path, &c, NULL, err, sizeof err))
        fail_msg("%s", err);
    round_trip(&c);
}

/* device: only the spelling is checked at load time, with line:col; a
 * device this build lacks (cuda without CUDA=1) is the run's error. */
static void config_device_key(void **state)
{
    (void)state;
    struct enevo_config c;
    char err[ENEVO_ERR_LEN];
    enevo_config_defaults(&c);
    assert_string_equal(c.device, "cpu");
    assert_false(c.tf32);
    /* At their defaults the keys are not written, so a run directory made
     * before they existed hashes as it did and still resumes. */
    char *t = enevo_config_format(&c);
    assert_non_null(t);
    assert_null(strstr(t, "\ndevice:"));
    assert_null(strstr(t, "\ntf32:"));
    free(t);
    const char *ok[] = {"cpu", "auto", "cuda", "cuda:0", "cuda:12"};
    for (size_t i = 0; i < ENEVO_COUNT(ok); i++) {
        char text[64];
        snprintf(text, sizeof text, "threads: 2\ndevice: %s\n", ok[i]);
        if (parse(text, &c, err))
            fail_msg("device %s: %s", ok[i], err);
        assert_string_equal(c.device, ok[i]);
        round_trip(&c);
    }
    assert_int_equal(parse("device: \"cuda:1\"\ntf32: true\n", &c, err), 0);
    assert_string_equal(c.device, "cuda:1");
    assert_true(c.tf32);
    t = enevo_config_format(&c);
    assert_non_null(strstr(t, "\ndevice: cuda:1\ntf32: true\n"));
    free(t);
    round_trip(&c);
    expect_error("threads: 2\ndevice: gpu\n",
                 "run.yaml:2:9: device: unknown device 'gpu': expected cpu, cuda, cuda:N or auto",
                 NULL);
    expect_error("device: \"cuda:\"\n", "run.yaml:1:9:", "unknown device 'cuda:'", NULL);
    expect_error("device: cuda:-1\n", "run.yaml:1:9:", "unknown device", NULL);
    expect_error("device: cuda:1x\n", "run.yaml:1:9:", "unknown device", NULL);
    expect_error("device: CPU\n", "run.yaml:1:9:", "unknown device 'CPU'", NULL);
    expect_error("device: cuda:99999999999999\n", "run.yaml:1:9:", "too long", NULL);
    expect_error("device:\n", "run.yaml:1:8:", "device: expected a non-empty string", NULL);
    expect_error("device: [cpu]\n", "run.yaml:1:9:", "device: expected a non-empty string",
                 NULL);
    expect_error("tf32: maybe\n", "run.yaml:1:7:", "tf32: expected true or false", NULL);
}

const struct CMUnitTest enevo_tests_config[] = {
    cmocka_unit_test(config_defaults_match_default_yaml),
    cmocka_unit_test(config_default_grammar_is_embedded),
    cmocka_unit_test(config_loads_energize_yaml),
    cmocka_unit_test(config_loads_energize_json),
    cmocka_unit_test(config_loads_denser_json),
    cmocka_unit_test(config_json_and_yaml_agree),
    cmocka_unit_test(config_fitness_metric_replaces_function),
    cmocka_unit_test(config_unknown_keys_are_errors),
    cmocka_unit_test(config_wrong_types_are_errors),
    cmocka_unit_test(config_out_of_range_values_are_errors),
    cmocka_unit_test(config_array_limits_are_errors),
    cmocka_unit_test(config_bad_yaml_is_an_error),
    cmocka_unit_test(config_missing_file_is_eio),
    cmocka_unit_test(config_file_errors_name_the_file),
    cmocka_unit_test(config_format_parses_back),
    cmocka_unit_test(config_device_key),
};
const size_t enevo_tests_config_count = ENEVO_COUNT(enevo_tests_config);
