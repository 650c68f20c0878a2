/* tools/cmd_evolve.c — enevo evolve and resume: a config (and the command
 * line's overrides), the data as it says, then the run (src/evo/). */
#include <cjson/cJSON.h>
#include <omp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "enevo/config.h"
#include "enevo/data.h"
#include "enevo/energy.h"
#include "enevo/evo.h"
#include "enevo/grammar.h"
#include "enevo/io.h"

/* SIGINT/SIGTERM during a run: the first asks the run to stop (training
 * checks between batches; the run's last checkpoint stays what a resume
 * starts from), a second one exits at once, which is as safe as kill -9
 * (every run file is replaced atomically or cut back on resume). */
static void on_stop_signal(int sig)
{
    if (enevo_stop_requested())
        _exit(128 + sig);
    enevo_request_stop(sig);
    static const char msg[] = "\nenevo: stopping: the current network is abandoned, the last "
                              "checkpoint stays (again to exit at once)\n";
    ssize_t w = write(STDERR_FILENO, msg, sizeof msg - 1);
    (void)w;
}

static void catch_stop_signals(bool on)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on ? on_stop_signal : SIG_DFL;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

/* An image folder's class names, one a line in label order, to
 * RUN_DIR/classes.txt. */
static int write_classes(const char *cmd, const char *run_dir, const struct enevo_data *d)
{
    char path[4096], err[ENEVO_ERR_LEN];
    snprintf(path, sizeof path, "%s/classes.txt", run_dir);
    size_t len = 0;
    for (int i = 0; i < d->n_class_names; i++)
        len += strlen(d->class_names[i]) + 1;
    char *buf = malloc(len + 1), *p = buf;
    if (!buf)
        return fail(cmd, "out of memory", ENEVO_ENOMEM);
    for (int i = 0; i < d->n_class_names; i++)
        p += sprintf(p, "%s\n", d->class_names[i]);
    int rc = enevo_mkdir_p(run_dir, err, sizeof err);
    if (!rc)
        rc = enevo_write_atomic(path, buf, len, err, sizeof err);
    free(buf);
    return rc ? fail(cmd, err, rc) : 0;
}

/* Shared by evolve and resume: data as the config says, then the run.
 * config_text is what the run directory records and its checkpoint hashes;
 * `c` may differ from it by what resume lets the command line override
 * (threads, device). Takes config_text (frees it). */
static int run_evolution(const char *cmd, const struct args *a, struct enevo_config *c,
                         char *config_text, const char *grammar_text, const char *grammar_name,
                         const char *run_dir)
{
    char err[ENEVO_ERR_LEN];
    int status = 1, rc;
    struct enevo_grammar *g = NULL;
    struct enevo_data d = {0};
    struct enevo_split split = {0};
    struct enevo_dataset subset = {0};
    if (!config_text)
        return fail(cmd, "out of memory", ENEVO_ENOMEM);
    FILE *log = a->json ? stderr : stdout;
    if (c->threads > 0)
        omp_set_num_threads(c->threads);
    /* Every net of the run gets the resolved name, so auto is decided once. */
    struct device dv;
    if (resolve_device(cmd, c->device, &dv))
        goto out;
    snprintf(c->device, sizeof c->device, "%s", dv.name);
    fprintf(log, "enevo %s: device %s (%s)%s\n", cmd, dv.name, dv.desc, c->tf32 ? ", tf32" : "");
    if ((rc = enevo_grammar_parse(grammar_text, grammar_name, &g, err, sizeof err))) {
        fail(cmd, err, rc);
        goto out;
    }
    struct args da = *a;
    da.dataset = c->dataset;
    da.resize = c->resize;
    da.norm_from = &c->aug_train;
    if (load_data(cmd, &da, &d))
        goto out;
    /* The pipeline works on the loaded images: check it against them now. */
    struct enevo_augment aug = c->aug_train;
    aug.c = d.train.c;
    memcpy(aug.mean, d.ch_mean, sizeof aug.mean);
    memcpy(aug.std, d.ch_std, sizeof aug.std);
    if ((rc = enevo_augment_check(&aug, d.train.c, d.train.h, d.train.w, err, sizeof err)) ||
        (rc = enevo_augment_check(&c->aug_test, d.train.c, d.train.h, d.train.w, err,
                                  sizeof err))) {
        fail(cmd, err, rc);
        goto out;
    }
    int n_train, n_val, n_fit;
    if ((rc = enevo_split_sizes(d.train.n, c->split_train, c->split_val, c->split_fit,
                                c->split_method, &n_train, &n_val, &n_fit, err, sizeof err)) ||
        (rc = enevo_data_split_take(&d.train, n_train, n_val, n_fit, c->seed, &split, err,
                                    sizeof err))) {
        fail(cmd, err, rc);
        goto out;
    }
    enevo_dataset_free(&d.train);
    const struct enevo_dataset *tr = &split.train;
    if (c->train_subset && c->train_subset < tr->n) {
        if ((rc = enevo_dataset_subset(tr, c->train_subset, c->seed, &subset, err, sizeof err))) {
            fail(cmd, err, rc);
            goto out;
        }
        tr = &subset;
    }
    carry_norm(&split.train, &d);
    carry_norm(&subset, &d);
    if (aug.n) {
        split.train.augment = &aug;
        subset.augment = &aug;
    }
    if (d.n_class_names && write_classes(cmd, run_dir, &d))
        goto out;
    struct enevo_evo_data ed = {tr, &split.validation, &split.fitness, &d.test, d.mean, d.std};
    struct enevo_meter *meter = NULL;
    if (open_meter(cmd, c->meter, c, dv.name, &meter, log))
        goto out;
    struct enevo_evo_opts o = {.run_dir = run_dir, .log = log, .threads = c->threads,
                               .meter = meter};
    if (c->default_train_time > 0)
        fprintf(stderr, "enevo %s: note: default_train_time %.17g s is a wall-clock budget "
                        "(training + validation, checked between batches): results will not "
                        "reproduce from the seed (default_train_epochs does)\n",
                cmd, c->default_train_time);
    struct enevo_evo_result res;
    enevo_clear_stop();
    catch_stop_signals(true);
    rc = enevo_evolve(c, config_text, g, grammar_text, &ed, &o, &res, err, sizeof err);
    catch_stop_signals(false);
    enevo_meter_close(meter);
    if (rc == ENEVO_EINTERRUPTED) {
        int sig = enevo_stop_requested();
        fprintf(stderr,
                "enevo %s: %s; %d evaluations are in the checkpoint: continue with\n"
                "  enevo resume %s\n",
                cmd, err, res.evaluations, run_dir);
        free(res.best_phenotype);
        status = sig > 0 && sig < 64 ? 128 + sig : 130;
        goto out;
    }
    if (rc) {
        fail(cmd, err, rc);
        if (rc == ENEVO_EIO)
            fprintf(stderr,
                    "enevo %s: the run directory's last checkpoint, stats.csv and models are "
                    "intact; once the cause is fixed (disk space, permissions), continue with\n"
                    "  enevo resume %s\n",
                    cmd, run_dir);
        free(res.best_phenotype);
        goto out;
    }
    fprintf(log,
            "%s: %d generations, %d evaluations, %.0f s (evolution overhead %.2f s = %.3f%%)\n"
            "best: fitness %.4f, fitness-split accuracy %.4f, test accuracy %.4f\n"
            "best model: %s/best/model.enevo (phenotype in %s/best/phenotype.txt)\n",
            res.finished ? "finished" : "stopped", res.generations, res.evaluations, res.seconds,
            res.overhead_seconds, 100 * res.overhead_seconds / (res.seconds > 0 ? res.seconds : 1),
            res.best_fitness, res.best_accuracy, res.best_test_accuracy, run_dir, run_dir);
    if (a->json) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "run_dir", run_dir);
        cJSON_AddStringToObject(j, "device", dv.name);
        cJSON_AddNumberToObject(j, "best_fitness", res.best_fitness);
        cJSON_AddNumberToObject(j, "best_accuracy", res.best_accuracy);
        cJSON_AddNumberToObject(j, "best_test_accuracy", res.best_test_accuracy);
        cJSON_AddNumberToObject(j, "generations", res.generations);
        cJSON_AddNumberToObject(j, "evaluations", res.evaluations);
        cJSON_AddNumberToObject(j, "seconds", res.seconds);
        cJSON_AddNumberToObject(j, "overhead_seconds", res.overhead_seconds);
        cJSON_AddBoolToObject(j, "finished", res.finished);
        print_json(j);
    }
    free(res.best_phenotype);
    status = 0;
out:
    free(config_text);
    enevo_grammar_free(g);
    enevo_dataset_free(&subset);
    enevo_split_free(&split);
    enevo_data_free(&d);
    return status;
}

/* --device NAME for evolve and resume, in place of the config's; a name
 * that does not resolve fails now. The name is kept as given (auto stays
 * auto, as in a config file) unless it does not fit. */
static int override_device(const char *cmd, struct enevo_config *c, const char *name)
{
    struct device dv;
    if (resolve_device(cmd, name, &dv))
        return 1;
    snprintf(c->device, sizeof c->device, "%s", strlen(name) < sizeof c->device ? name : dv.name);
    return 0;
}

int cmd_evolve(const struct args *a)
{
    char err[ENEVO_ERR_LEN];
    struct enevo_config c;
    enevo_config_defaults(&c);
    /* Where each value came from, for --print-config. */
    struct enevo_config_origin *og = calloc(1, sizeof *og);
    if (!og)
        return fail("evolve", "out of memory", ENEVO_ENOMEM);
    char *text = NULL;
    int rc;
    if (a->positional) {
        /* A user's file means what it means in ENERGIZE (README "Config"). */
        if (!(text = slurp("evolve", a->positional))) {
            free(og);
            return 1;
        }
        rc = enevo_config_parse_user(text, a->positional, &c, og, stderr, err, sizeof err);
    } else {
        rc = enevo_config_parse(enevo_default_config_text(), "default.yaml", &c, stderr, err,
                                sizeof err);
    }
    free(text);
    if (rc) {
        free(og);
        return fail("evolve", err, rc);
    }
#define CLI_SET(cond, path, stmt)                                  \
    do {                                                           \
        if (cond) {                                                \
            stmt;                                                  \
            enevo_config_origin_mark(og, path, ENEVO_FROM_CLI);    \
        }                                                          \
    } while (0)
    CLI_SET(a->seed_set, "evolutionary.seed", c.seed = a->seed);
    CLI_SET(a->generations, "evolutionary.generations", c.generations = a->generations);
    CLI_SET(a->lambda, "evolutionary.lambda", c.lambda = a->lambda);
    CLI_SET(a->population, "evolutionary.population", c.population = a->population);
    CLI_SET(a->train_subset, "network.learning.train_subset", c.train_subset = a->train_subset);
    CLI_SET(a->epochs, "network.learning.default_train_epochs",
            c.default_train_epochs = a->epochs);
    CLI_SET(a->threads, "threads", c.threads = a->threads);
    if (a->device && override_device("evolve", &c, a->device)) {
        free(og);
        return 1;
    }
    CLI_SET(a->device, "device", (void)0);
    CLI_SET(a->tf32, "tf32", c.tf32 = true);
    if (a->meter) {
        if (strcmp(a->meter, "auto") && strcmp(a->meter, "nvml") && strcmp(a->meter, "rapl") &&
            strcmp(a->meter, "model")) {
            fprintf(stderr, "enevo evolve: --meter expects auto, nvml, rapl or model, got '%s'\n",
                    a->meter);
            return 2;
        }
        snprintf(c.meter, sizeof c.meter, "%s", a->meter);
        enevo_config_origin_mark(og, "energy.meter", ENEVO_FROM_CLI);
    }
    CLI_SET(a->dataset && strcmp(a->dataset, ENEVO_DEFAULT_DATASET), "network.learning.dataset",
            snprintf(c.dataset, sizeof c.dataset, "%s", a->dataset));
#undef CLI_SET
    if (a->print_config) {
        /* The effective config (what config.used.yaml would hold), each
         * value with where it came from; nothing runs. */
        char *t = enevo_config_format_origin(&c, og);
        free(og);
        if (!t)
            return fail("evolve", "out of memory", ENEVO_ENOMEM);
        printf("# enevo evolve %s: the effective config; after each value, where it came "
               "from\n# (file = %s, built-in default = configs/default.yaml, ENERGIZE = left "
               "out of the\n# file, where ENERGIZE gives absence a meaning: README \"Config\")\n%s",
               a->positional ? a->positional : "(no CONFIG)",
               a->positional ? a->positional : "none", t);
        free(t);
        return 0;
    }
    free(og);
    char *gtext = a->grammar ? slurp("evolve", a->grammar) : strdup(enevo_default_grammar_text());
    if (!gtext)
        return 1;
    char dir[512];
    if (a->run_dir)
        snprintf(dir, sizeof dir, "%s", a->run_dir);
    else
        snprintf(dir, sizeof dir, "runs/seed%llu", (unsigned long long)c.seed);
    int status = run_evolution("evolve", a, &c, enevo_config_format(&c), gtext,
                               a->grammar ? a->grammar : "default.grammar", dir);
    free(gtext);
    return status;
}

int cmd_resume(const struct args *a)
{
    char err[ENEVO_ERR_LEN], path[1024];
    snprintf(path, sizeof path, "%s/checkpoint.bin", a->positional);
    if (access(path, R_OK)) {
        fprintf(stderr, "enevo resume: %s: no checkpoint.bin here: not a run directory\n",
                a->positional);
        return 1;
    }
    snprintf(path, sizeof path, "%s/config.used.yaml", a->positional);
    char *text = slurp("resume", path);
    snprintf(path, sizeof path, "%s/grammar.used", a->positional);
    char *gtext = text ? slurp("resume", path) : NULL;
    if (!text || !gtext) {
        free(text);
        return 1;
    }
    struct enevo_config c;
    enevo_config_defaults(&c);
    snprintf(path, sizeof path, "%s/config.used.yaml", a->positional);
    int rc = enevo_config_parse(text, path, &c, stderr, err, sizeof err);
    free(text);
    if (rc) {
        free(gtext);
        return fail("resume", err, rc);
    }
    /* The recorded config, before the overrides: they change how the run
     * computes, not what it is, so the checkpoint still matches. A run
     * resumes on the device it recorded unless --device says otherwise
     * (results then differ in the last bits from an uninterrupted run). */
    char *config_text = enevo_config_format(&c);
    if (a->threads)
        c.threads = a->threads;
    if (a->device && override_device("resume", &c, a->device)) {
        free(config_text);
        free(gtext);
        return 1;
    }
    int status = run_evolution("resume", a, &c, config_text, gtext, "grammar.used", a->positional);
    free(gtext);
    return status;
}
