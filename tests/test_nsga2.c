/* NSGA-II runs (evolutionary.strategy: nsga2): the config keys and their
 * errors, a tiny run that reproduces from its seed and resumes exactly
 * (stats.csv, generations.csv and every byte of front/), the hypervolume
 * of generations.csv against front.csv, a version 1 checkpoint of a
 * (1+λ) run that still resumes, and the CLI end to end: SIGKILL at work,
 * `enevo resume`, `enevo front`. */
#include "tests.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include "enevo/config.h"
#include "enevo/data.h"
#include "enevo/energy.h"
#include "enevo/evo.h"
#include "enevo/grammar.h"
#include "enevo/model.h"
#include "enevo/phenotype.h"
#include "enevo/pareto.h"

/* ---- config ---- */

static int parse(const char *text, struct enevo_config *c, char *err, size_t errlen)
{
    enevo_config_defaults(c);
    return enevo_config_parse(text, "t.yaml", c, NULL, err, errlen);
}

static void nsga2_config_keys_parse_and_round_trip(void **state)
{
    (void)state;
    char err[ENEVO_ERR_LEN];
    struct enevo_config c, d;
    /* The default config says nothing of them, so run directories written
     * before they existed hash as they did. */
    enevo_config_defaults(&c);
    assert_int_equal(c.strategy, ENEVO_STRATEGY_ONE_PLUS_LAMBDA);
    char *t = enevo_config_format(&c);
    assert_null(strstr(t, "strategy"));
    assert_null(strstr(t, "objectives"));
    free(t);
    const char *y = "evolutionary:\n"
                    "  strategy: nsga2\n"
                    "  population: 6\n"
                    "  objectives:\n"
                    "    - {metric: accuracy, objective: maximize}\n"
                    "    - {metric: log2_energy, objective: minimize}\n"
                    "  constraints:\n"
                    "    - {metric: params, type: less_than, value: 500000}\n"
                    "  hypervolume_reference: [0, -2.5]\n";
    if (parse(y, &c, err, sizeof err))
        fail_msg("%s", err);
    assert_int_equal(c.strategy, ENEVO_STRATEGY_NSGA2);
    assert_int_equal(c.population, 6);
    assert_int_equal(c.n_objectives, 2);
    assert_string_equal(c.objectives[1].metric, "log2_energy");
    assert_true(c.objectives[0].maximize && !c.objectives[1].maximize);
    assert_int_equal(c.n_constraints, 1);
    assert_false(c.constraints[0].greater_than);
    assert_true(c.constraints[0].value == 500000);
    assert_int_equal(c.n_hv_ref, 2);
    assert_true(c.hv_ref[1] == -2.5);
    /* config.used.yaml round-trips. */
    t = enevo_config_format(&c);
    assert_non_null(strstr(t, "  strategy: nsga2\n"));
    if (parse(t, &d, err, sizeof err))
        fail_msg("%s\n%s", err, t);
    char *t2 = enevo_config_format(&d);
    assert_string_equal(t, t2);
    assert_int_equal(memcmp(&c, &d, sizeof c), 0);
    free(t);
    free(t2);
    /* Bad values: file:line:col and what was expected. */
    static const struct {
        const char *text, *want;
    } bad[] = {
        {"evolutionary:\n  strategy: nsga3\n",
         "t.yaml:2:13: evolutionary.strategy: expected one_plus_lambda"},
        {"evolutionary:\n  strategy: nsga2\n", "nsga2 needs evolutionary.objectives"},
        {"evolutionary:\n  population: 1\n", "t.yaml:2:15: evolutionary.population: expected 0"},
        {"evolutionary:\n  objectives:\n    - {metric: accuracy, objective: most}\n",
         "t.yaml:3:37: evolutionary.objectives[0].objective: expected maximize or minimize"},
        {"evolutionary:\n  objectives:\n    - {metric: accuracy}\n",
         "evolutionary.objectives[0]: missing key 'objective'"},
        {"evolutionary:\n  objectives:\n    - {metric: accuracy, objective: maximize}\n"
         "    - {metric: accuracy, objective: minimize}\n",
         "metric 'accuracy' is listed twice"},
        {"evolutionary:\n  objectives:\n    - {metric: accuracy, objective: maximize}\n"
         "  hypervolume_reference: [0, 1]\n",
         "t.yaml:4:26: evolutionary.hypervolume_reference: 2 values for 1 objective"},
        {"evolutionary:\n  constraints:\n    - {metric: params, type: at_most, value: 3}\n",
         "expected greater_than or less_than"},
        {"evolutionary:\n  objectives: []\n", "expected at least 1 item"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = parse(bad[i].text, &c, err, sizeof err);
        if (rc != ENEVO_EFORMAT || !strstr(err, bad[i].want))
            fail_msg("case %zu: rc %d, got '%s', want '%s'", i, rc, err, bad[i].want);
    }
}

/* ---- small runs on generated data ---- */

static void tiny_nsga2(struct enevo_config *c)
{
    enevo_config_defaults(c);
    c->generations = 3;
    c->lambda = 2;
    c->seed = 23;
    c->default_train_epochs = 1;
    c->max_params = 2000000;
    c->n_terms = 0;
    snprintf(c->fitness_metric, sizeof c->fitness_metric, "accuracy");
    c->modules[0].n_init = 1;
    c->modules[0].init[0] = 2;
    c->modules[0].max = 4;
    c->mutation.train_longer = 0.3; /* continues from a survivor's model file */
    c->strategy = ENEVO_STRATEGY_NSGA2;
    c->population = 3;
    c->n_objectives = 2;
    c->objectives[0] = (struct enevo_objective){"accuracy", true};
    c->objectives[1] = (struct enevo_objective){"log2_energy", false};
    c->n_constraints = 1;
    c->constraints[0] = (struct enevo_fitness_cond){"params", false, 1e7};
    c->n_hv_ref = 2;
    c->hv_ref[0] = 0;
    c->hv_ref[1] = 0; /* 1 J per inference */
}

static int run_cfg(const struct enevo_config *c, struct enevo_meter *m, const char *dir,
                   struct enevo_test_evo_data *x, int stop_after, struct enevo_evo_result *res, char *err,
                   size_t errlen)
{
    struct enevo_grammar *g;
    assert_int_equal(
        enevo_grammar_parse(enevo_default_grammar_text(), "default.grammar", &g, err, errlen), 0);
    struct enevo_evo_opts o = {.run_dir = dir, .threads = 2, .stop_after = stop_after,
                               .meter = m};
    char *text = enevo_config_format(c);
    int rc = enevo_evolve(c, text, g, enevo_default_grammar_text(), &x->d, &o, res, err, errlen);
    free(text);
    free(res->best_phenotype);
    res->best_phenotype = NULL;
    enevo_grammar_free(g);
    return rc;
}

static void assert_same_file(const char *a, const char *b, const char *name)
{
    char pa[1024], pb[1024];
    snprintf(pa, sizeof pa, "%s/%s", a, name);
    snprintf(pb, sizeof pb, "%s/%s", b, name);
    FILE *fa = fopen(pa, "rb"), *fb = fopen(pb, "rb");
    if (!fa || !fb)
        fail_msg("%s: missing in %s", name, fa ? b : a);
    int ca, cb;
    long at = 0;
    do {
        ca = fgetc(fa);
        cb = fgetc(fb);
        if (ca != cb)
            fail_msg("%s differs at byte %ld between %s and %s", name, at, a, b);
        at++;
    } while (ca != EOF);
    fclose(fa);
    fclose(fb);
}

/* Every file of dir/sub (names and bytes) equals the other's. Returns the count. */
static int assert_same_dir(const char *a, const char *b, const char *sub)
{
    char da[1024], db[1024];
    snprintf(da, sizeof da, "%s/%s", a, sub);
    snprintf(db, sizeof db, "%s/%s", b, sub);
    int n = 0, nb = 0;
    DIR *d = opendir(da);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char name[600];
        snprintf(name, sizeof name, "%s/%s", sub, e->d_name);
        assert_same_file(a, b, name);
        n++;
    }
    closedir(d);
    d = opendir(db);
    assert_non_null(d);
    while ((e = readdir(d)))
        nb += e->d_name[0] != '.';
    closedir(d);
    assert_int_equal(n, nb);
    return n;
}

/* The hypervolume of the last generations.csv row equals that of the
 * front.csv points, computed here from the file. */
static void check_hypervolume(const char *dir)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/front/front.csv", dir);
    char *s = enevo_test_slurp(path);
    assert_non_null(s);
    assert_true(!strncmp(s, "id,generation,index,accuracy,log2_energy,violation,", 50));
    double obj[64 * 2];
    int n = 0;
    for (char *line = strchr(s, '\n') + 1; *line && n < 64; line = strchr(line, '\n') + 1) {
        char id[32];
        int g, i;
        double acc, le, viol;
        assert_int_equal(sscanf(line, "%31[^,],%d,%d,%lf,%lf,%lf", id, &g, &i, &acc, &le, &viol),
                         6);
        assert_true(viol == 0);
        obj[2 * n] = -acc;
        obj[2 * n + 1] = le;
        n++;
        /* its model file is in front/ */
        char mp[1100];
        snprintf(mp, sizeof mp, "%s/front/g%d-i%d.enevo", dir, g, i);
        assert_int_equal(access(mp, R_OK), 0);
    }
    free(s);
    assert_true(n >= 1);
    /* No member dominates another. */
    for (int a = 0; a < n; a++)
        for (int b = 0; b < n; b++) {
            struct enevo_pareto_point pa = {obj + 2 * a, 0, true}, pb = {obj + 2 * b, 0, true};
            assert_false(enevo_pareto_dominates(&pa, &pb, 2));
        }
    double ref[2] = {0, 0};
    double hv = enevo_hypervolume(obj, n, 2, ref);
    assert_true(hv > 0);
    snprintf(path, sizeof path, "%s/generations.csv", dir);
    s = enevo_test_slurp(path);
    assert_non_null(s);
    const char *head = "generation,evaluations,survivors,survivors_first_front,front_size,"
                       "hypervolume\n";
    assert_true(!strncmp(s, head, strlen(head)));
    /* Hypervolume never falls: the archive only gains ground. */
    double prev = 0, last = NAN;
    for (char *line = strchr(s, '\n') + 1; *line; line = strchr(line, '\n') + 1) {
        int g, ev, sv, sf, fs;
        assert_int_equal(sscanf(line, "%d,%d,%d,%d,%d,%lf", &g, &ev, &sv, &sf, &fs, &last), 6);
        assert_true(last >= prev);
        prev = last;
    }
    free(s);
    assert_true(fabs(last - hv) <= 1e-12 * fabs(hv));
}

static void nsga2_run_reproduces_and_resumes_exactly(void **state)
{
    (void)state;
    struct enevo_test_evo_data x;
    enevo_test_evo_data_init(&x, 12, 240, 60, 60);
    struct enevo_config c;
    tiny_nsga2(&c);
    char err[ENEVO_ERR_LEN];
    struct enevo_meter_cfg mc = enevo_meter_defaults();
    struct enevo_meter *m;
    assert_int_equal(enevo_meter_open("model", &mc, &m, NULL, 0, err, sizeof err), 0);
    char a[512], b[512];
    snprintf(a, sizeof a, "%s/nsga2-a", enevo_test_tmpdir());
    snprintf(b, sizeof b, "%s/nsga2-b", enevo_test_tmpdir());
    struct enevo_evo_result r;
    if (run_cfg(&c, m, a, &x, 0, &r, err, sizeof err))
        fail_msg("%s", err);
    assert_true(r.finished);
    assert_int_equal(r.generations, 3);
    /* population 3 in generation 0, then lambda 2 per generation */
    assert_int_equal(r.evaluations, 3 + 2 + 2);
    /* Stopped after 2, 3 and 1 evaluations (mid-generation and at its end). */
    int stops[] = {2, 3, 1, 0};
    for (int i = 0; i < 4; i++)
        if (run_cfg(&c, m, b, &x, stops[i], &r, err, sizeof err))
            fail_msg("%s", err);
    assert_true(r.finished);
    assert_same_file(a, b, "stats.csv");
    assert_same_file(a, b, "generations.csv");
    int files = assert_same_dir(a, b, "front");
    assert_true(files >= 3); /* front.csv, front.json and a model */
    assert_same_dir(a, b, "models");
    assert_same_file(a, b, "best/model.enevo");
    char path[1024];
    snprintf(path, sizeof path, "%s/stats.csv", a);
    assert_int_equal(enevo_test_count_lines(path), 1 + 7);
    snprintf(path, sizeof path, "%s/generations.csv", a);
    assert_int_equal(enevo_test_count_lines(path), 1 + 3);
    check_hypervolume(a);
    /* models/ keeps the survivors' files only. */
    snprintf(path, sizeof path, "%s/models", a);
    int models = 0;
    DIR *d = opendir(path);
    struct dirent *e;
    while ((e = readdir(d)))
        models += strstr(e->d_name, ".enevo") != NULL;
    closedir(d);
    assert_true(models >= 1 && models <= 3);
    /* The generation JSON names survivors with their ranks. */
    snprintf(path, sizeof path, "%s/stats/generation_2.json", a);
    char *js = enevo_test_slurp(path);
    cJSON *j = cJSON_Parse(js);
    assert_non_null(j);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "survivors")), 3);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "individuals")), 2);
    cJSON_Delete(j);
    free(js);
    /* Another seed, another run. */
    char o[512];
    snprintf(o, sizeof o, "%s/nsga2-other", enevo_test_tmpdir());
    c.seed = 24;
    if (run_cfg(&c, m, o, &x, 0, &r, err, sizeof err))
        fail_msg("%s", err);
    snprintf(path, sizeof path, "%s/stats.csv", a);
    char *sa = enevo_test_slurp(path);
    snprintf(path, sizeof path, "%s/stats.csv", o);
    char *so = enevo_test_slurp(path);
    assert_true(strcmp(sa, so) != 0);
    free(sa);
    free(so);
    /* A constraint nothing meets: every network is infeasible, so the front
     * archive stays empty (hypervolume 0) while selection goes on by
     * violation. */
    char inf[512];
    snprintf(inf, sizeof inf, "%s/nsga2-infeasible", enevo_test_tmpdir());
    struct enevo_config ci = c;
    ci.constraints[0] = (struct enevo_fitness_cond){"accuracy", true, 2.0};
    if (run_cfg(&ci, m, inf, &x, 0, &r, err, sizeof err))
        fail_msg("%s", err);
    assert_true(r.finished);
    snprintf(path, sizeof path, "%s/front/front.csv", inf);
    assert_int_equal(enevo_test_count_lines(path), 1);
    snprintf(path, sizeof path, "%s/generations.csv", inf);
    char *gs = enevo_test_slurp(path);
    assert_non_null(strstr(gs, "\n2,7,3,"));
    assert_non_null(strstr(gs, ",0,0\n"));
    free(gs);
    snprintf(path, sizeof path, "%s/stats/generation_2.json", inf);
    js = enevo_test_slurp(path);
    j = cJSON_Parse(js);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "survivors")), 3);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "front")), 0);
    cJSON_Delete(j);
    free(js);
    /* An energy objective without a meter is refused before any work. */
    char z[512];
    snprintf(z, sizeof z, "%s/nsga2-nometer", enevo_test_tmpdir());
    assert_int_equal(run_cfg(&c, NULL, z, &x, 0, &r, err, sizeof err), ENEVO_EINVAL);
    assert_non_null(strstr(err, "log2_energy"));
    /* So is an unknown objective metric. */
    snprintf(c.objectives[1].metric, sizeof c.objectives[1].metric, "joules_per_smile");
    assert_int_equal(run_cfg(&c, m, z, &x, 0, &r, err, sizeof err), ENEVO_EINVAL);
    assert_non_null(strstr(err, "evolutionary.objectives"));
    enevo_meter_close(m);
    enevo_test_evo_data_free(&x);
}

/* A run directory of an enevo before this one: its checkpoint is version 1
 * (no strategy, no NSGA-II state). It resumes to the same stats.csv. */
static void nsga2_version1_checkpoint_still_resumes(void **state)
{
    (void)state;
    struct enevo_test_evo_data x;
    enevo_test_evo_data_init(&x, 12, 240, 60, 60);
    struct enevo_config c;
    tiny_nsga2(&c);
    c.strategy = ENEVO_STRATEGY_ONE_PLUS_LAMBDA;
    c.n_objectives = c.n_constraints = c.n_hv_ref = 0;
    c.population = 0;
    c.generations = 2;
    char err[ENEVO_ERR_LEN], a[512], b[512], path[1024];
    snprintf(a, sizeof a, "%s/v1-a", enevo_test_tmpdir());
    snprintf(b, sizeof b, "%s/v1-b", enevo_test_tmpdir());
    struct enevo_evo_result r;
    if (run_cfg(&c, NULL, a, &x, 0, &r, err, sizeof err))
        fail_msg("%s", err);
    if (run_cfg(&c, NULL, b, &x, 3, &r, err, sizeof err))
        fail_msg("%s", err);
    /* Rewrite b's checkpoint as version 1: drop the version 2 tail (strategy,
     * generations.csv length, no survivors, no front: four int64) and
     * re-checksum. */
    snprintf(path, sizeof path, "%s/checkpoint.bin", b);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    unsigned char *buf = malloc(1 << 20);
    assert_non_null(buf);
    size_t len = fread(buf, 1, 1 << 20, f);
    fclose(f);
    assert_true(len > 48 && len < (1 << 20));
    int64_t tail[4];
    memcpy(tail, buf + len - 4 - 32, 32);
    assert_true(tail[0] == 0 && tail[2] == 0 && tail[3] == 0);
    len -= 4 + 32;
    uint32_t ver = 1;
    memcpy(buf + 8, &ver, 4);
    uint32_t crc = (uint32_t)crc32(0L, buf, (uInt)len);
    memcpy(buf + len, &crc, 4);
    len += 4;
    f = fopen(path, "wb");
    assert_int_equal(fwrite(buf, 1, len, f), len);
    fclose(f);
    free(buf);
    if (run_cfg(&c, NULL, b, &x, 0, &r, err, sizeof err))
        fail_msg("resuming a version 1 checkpoint: %s", err);
    assert_true(r.finished);
    assert_same_file(a, b, "stats.csv");
    enevo_test_evo_data_free(&x);
}

/* ---- the command line ---- */

/* The acceptance check: an NSGA-II run killed with SIGKILL while it works,
 * then `enevo resume`, gives the stats.csv and front/ of a run that never
 * stopped, byte for byte (model meter). Then `enevo front`. */
static void nsga2_killed_with_sigkill_resumes_exactly(void **state)
{
    (void)state;
    char dir[512], cfg[600], out[32768];
    snprintf(dir, sizeof dir, "%s/nsga2cli", enevo_test_tmpdir());
    mkdir(dir, 0755);
    enevo_test_write_idx(dir, "train", 500, 10, 5);
    enevo_test_write_idx(dir, "t10k", 100, 10, 6);
    snprintf(cfg, sizeof cfg, "%s/pareto.yaml", dir);
    FILE *f = fopen(cfg, "w");
    fprintf(f, "defaults: builtin\n"
               "evolutionary:\n  generations: 3\n  lambda: 2\n  max_mflops: 5\n"
               "  strategy: nsga2\n  population: 3\n"
               "  objectives:\n    - {metric: accuracy, objective: maximize}\n"
               "    - {metric: log2_energy, objective: minimize}\n"
               "  hypervolume_reference: [0, 0]\n"
               "network:\n  learning:\n    default_train_epochs: 1\n    dataset: %s\n"
               "energy:\n  meter: model\n",
            dir);
    fclose(f);
    int rc = enevo_test_cli(out, sizeof out, "evolve %s --seed 3 --threads 2 --run-dir %s/a", cfg, dir);
    if (rc)
        fail_msg("evolve failed (%d): %s", rc, out);
    assert_non_null(strstr(out, "NSGA-II (population 3, 2 children)"));
    char stats[700], rundir[600];
    snprintf(stats, sizeof stats, "%s/b/stats.csv", dir);
    snprintf(rundir, sizeof rundir, "%s/b", dir);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 1);
        dup2(null, 2);
        execl(enevo_test_bin(), enevo_test_bin(), "evolve", cfg, "--seed", "3", "--threads", "2", "--run-dir", rundir,
              (char *)NULL);
        _exit(127);
    }
    /* Killed once it has 5 rows: in generation 1, after generation 0's
     * selection wrote front/. */
    int killed = 0;
    for (int i = 0; i < 6000 && !killed; i++) {
        if (enevo_test_count_lines(stats) >= 6) {
            kill(pid, SIGKILL);
            killed = 1;
        }
        usleep(10000);
    }
    int st;
    waitpid(pid, &st, 0);
    assert_true(killed);
    assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
    rc = enevo_test_cli(out, sizeof out, "resume %s/b --threads 2", dir);
    if (rc)
        fail_msg("resume failed (%d): %s", rc, out);
    assert_non_null(strstr(out, "resuming"));
    char a[600];
    snprintf(a, sizeof a, "%s/a", dir);
    assert_same_file(a, rundir, "stats.csv");
    assert_same_file(a, rundir, "generations.csv");
    assert_same_dir(a, rundir, "front");
    check_hypervolume(a);
    /* enevo front: the table, then JSON with every member. */
    rc = enevo_test_cli(out, sizeof out, "front %s", a);
    if (rc)
        fail_msg("front failed (%d): %s", rc, out);
    assert_non_null(strstr(out, "non-dominated"));
    assert_non_null(strstr(out, "hypervolume"));
    rc = enevo_test_cli(out, sizeof out, "front %s --json", a);
    assert_int_equal(rc, 0);
    cJSON *j = cJSON_Parse(out);
    if (!j)
        fail_msg("not JSON: %s", out);
    char path[700];
    snprintf(path, sizeof path, "%s/front/front.csv", a);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "members")),
                     enevo_test_count_lines(path) - 1);
    assert_true(cJSON_IsNumber(cJSON_GetObjectItem(j, "hypervolume")));
    cJSON_Delete(j);
    /* The cheapest member at any accuracy, copied out: a model file that
     * loads and a phenotype that parses. */
    rc = enevo_test_cli(out, sizeof out, "front %s --min-accuracy 0 --copy %s/pick", a, dir);
    if (rc)
        fail_msg("front --copy failed (%d): %s", rc, out);
    assert_non_null(strstr(out, "picked: "));
    char pm[800], perr[ENEVO_ERR_LEN];
    snprintf(pm, sizeof pm, "%s/pick/model.enevo", dir);
    struct enevo_model_file mf;
    if (enevo_model_load(pm, &mf, perr, sizeof perr))
        fail_msg("%s", perr);
    enevo_model_file_free(&mf);
    snprintf(pm, sizeof pm, "%s/pick/phenotype.txt", dir);
    struct enevo_phenotype ph;
    if (enevo_phenotype_load(pm, &ph, perr, sizeof perr))
        fail_msg("%s", perr);
    enevo_phenotype_free(&ph);
    /* Nothing meets an impossible pair: exit 1, saying so. */
    rc = enevo_test_cli(out, sizeof out, "front %s --min-accuracy 100 --max-energy 1uJ", a);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(out, "picked: none"));
    assert_int_equal(enevo_test_cli(out, sizeof out, "front %s --max-energy 3x", a), 2);
    /* A (1+λ) run has no front/: computed from stats.csv. */
    rc = enevo_test_cli(out, sizeof out,
             "evolve --seed 3 --threads 2 --generations 1 --lambda 2 --epochs 1 --meter model "
             "--dataset %s --run-dir %s/es",
             dir, dir);
    if (rc)
        fail_msg("evolve failed (%d): %s", rc, out);
    rc = enevo_test_cli(out, sizeof out, "front %s/es --json", dir);
    assert_int_equal(rc, 0);
    j = cJSON_Parse(out);
    assert_non_null(j);
    assert_string_equal(cJSON_GetObjectItem(j, "source")->valuestring, "stats.csv");
    assert_true(cJSON_GetArraySize(cJSON_GetObjectItem(j, "members")) >= 1);
    cJSON_Delete(j);
    rc = enevo_test_cli(out, sizeof out, "front %s/es --max-energy 1 --json", dir);
    assert_int_equal(rc, 0);
    j = cJSON_Parse(out);
    assert_non_null(j);
    assert_true(cJSON_IsObject(cJSON_GetObjectItem(j, "picked")));
    cJSON_Delete(j);
    /* Usage errors exit 2, a directory that is no run 1. */
    assert_int_equal(enevo_test_cli(out, sizeof out, "front"), 2);
    assert_int_equal(enevo_test_cli(out, sizeof out, "front %s --frobnicate", a), 2);
    assert_int_equal(enevo_test_cli(out, sizeof out, "front %s", dir), 1);
    assert_non_null(strstr(out, "not a run directory"));
    assert_int_equal(enevo_test_cli(out, sizeof out, "evolve --population 1 --run-dir %s/x", dir), 2);
    assert_non_null(strstr(out, "--population"));
}

const struct CMUnitTest enevo_tests_nsga2[] = {
    cmocka_unit_test(nsga2_config_keys_parse_and_round_trip),
    cmocka_unit_test(nsga2_run_reproduces_and_resumes_exactly),
    cmocka_unit_test(nsga2_version1_checkpoint_still_resumes),
    cmocka_unit_test(nsga2_killed_with_sigkill_resumes_exactly),
};
const size_t enevo_tests_nsga2_count = ENEVO_COUNT(enevo_tests_nsga2);
