/* enevo — the command-line tool. Commands come from one table; each parses
 * its own flags. Usage errors exit 2; data, phenotype and model errors 1. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "enevo/config.h"
#include "enevo/data.h"
#include "enevo/energy.h"
#include "enevo/evo.h"
#include "enevo/grammar.h"
#include "enevo/io.h"
#include "enevo/model.h"
#include "enevo/net.h"
#include "enevo/optim.h"
#include "enevo/partition.h"
#include "enevo/phenotype.h"
#include "enevo/report.h"
#include "enevo/rng.h"
#include "enevo/train.h"

#define ENEVO_VERSION "0.1.0"

enum { EXIT_USAGE = 2 };

/* Flags every command may take; each command says which it accepts. */
struct args {
    const char *positional;
    const char *dataset;
    const char *save;
    const char *grammar;
    const char *run_dir;
    const char *meter;
    const char *device; /* NULL: cpu, or the config's for evolve and resume */
    int repetitions, networks;
    double window;
    int generations, lambda;
    bool positional_optional;
    int epochs, batch_size, train_subset, threads, resize;
    double seconds;
    uint64_t seed;
    bool json;
    bool tf32;
    bool seed_set;
};

enum flag_bit {
    F_DATASET = 1 << 0,
    F_EPOCHS = 1 << 1,
    F_BATCH = 1 << 2,
    F_SUBSET = 1 << 3,
    F_SEED = 1 << 4,
    F_THREADS = 1 << 5,
    F_SAVE = 1 << 6,
    F_JSON = 1 << 7,
    F_SECONDS = 1 << 8,
    F_RESIZE = 1 << 9,
    F_GRAMMAR = 1 << 10,
    F_RUNDIR = 1 << 11,
    F_GENERATIONS = 1 << 12,
    F_LAMBDA = 1 << 13,
    F_OPTIONAL = 1 << 14, /* the positional argument may be left out */
    F_METER = 1 << 15,
    F_REPS = 1 << 16,
    F_WINDOW = 1 << 17,
    F_NETWORKS = 1 << 18,
    F_DEVICE = 1 << 19,
    F_TF32 = 1 << 20,
};

struct command {
    const char *name;
    int (*run)(const struct args *a);
    const char *usage;
    const char *help;
    unsigned flags;
};

static const struct command *find_command(const char *name);

static int usage_error(const struct command *c, const char *fmt, const char *what)
{
    fprintf(stderr, "enevo %s: ", c->name);
    fprintf(stderr, fmt, what);
    fprintf(stderr, "\nusage: enevo %s\n", c->usage);
    return EXIT_USAGE;
}

static bool parse_int(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

static int parse_args(const struct command *c, int argc, char **argv, struct args *a)
{
    memset(a, 0, sizeof *a);
    a->dataset = ENEVO_DEFAULT_DATASET;
    a->seed = 42;
    a->seconds = 3;
    static const struct {
        const char *name;
        unsigned bit;
        long lo, hi;
    } ints[] = {
        {"--epochs", F_EPOCHS, 1, 100000},      {"--batch-size", F_BATCH, 1, 65536},
        {"--train-subset", F_SUBSET, 1, INT_MAX}, {"--threads", F_THREADS, 1, 1024},
        {"--resize", F_RESIZE, 4, 1024},        {"--generations", F_GENERATIONS, 1, 1000000},
        {"--lambda", F_LAMBDA, 1, 64},           {"--repetitions", F_REPS, 1, 1000},
        {"--networks", F_NETWORKS, 3, 1000},
    };
    for (int i = 0; i < argc; i++) {
        const char *f = argv[i];
        if (f[0] != '-' || !f[1]) {
            if (a->positional)
                return usage_error(c, "unexpected argument '%s'", f);
            a->positional = f;
            continue;
        }
        if (!strcmp(f, "--json") && (c->flags & F_JSON)) {
            a->json = true;
            continue;
        }
        if (!strcmp(f, "--tf32") && (c->flags & F_TF32)) {
            a->tf32 = true;
            continue;
        }
        if (!strcmp(f, "-h") || !strcmp(f, "--help")) {
            printf("usage: enevo %s\n\n%s\n", c->usage, c->help);
            exit(0);
        }
        bool known = false;
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        for (size_t k = 0; k < sizeof ints / sizeof ints[0]; k++) {
            if (strcmp(f, ints[k].name) || !(c->flags & ints[k].bit))
                continue;
            long x;
            if (!v)
                return usage_error(c, "%s needs a value", f);
            if (!parse_int(v, ints[k].lo, ints[k].hi, &x)) {
                fprintf(stderr, "enevo %s: %s expects an integer in [%ld, %ld], got '%s'\n",
                        c->name, f, ints[k].lo, ints[k].hi, v);
                return EXIT_USAGE;
            }
            int *dst = ints[k].bit == F_EPOCHS        ? &a->epochs
                       : ints[k].bit == F_BATCH       ? &a->batch_size
                       : ints[k].bit == F_SUBSET      ? &a->train_subset
                       : ints[k].bit == F_THREADS     ? &a->threads
                       : ints[k].bit == F_GENERATIONS ? &a->generations
                       : ints[k].bit == F_LAMBDA      ? &a->lambda
                       : ints[k].bit == F_REPS        ? &a->repetitions
                       : ints[k].bit == F_NETWORKS    ? &a->networks
                                                      : &a->resize;
            *dst = (int)x;
            known = true;
            i++;
            break;
        }
        if (known)
            continue;
        if (!v && ((!strcmp(f, "--seed") && (c->flags & F_SEED)) ||
                   (!strcmp(f, "--dataset") && (c->flags & F_DATASET)) ||
                   (!strcmp(f, "--save") && (c->flags & F_SAVE)) ||
                   (!strcmp(f, "--grammar") && (c->flags & F_GRAMMAR)) ||
                   (!strcmp(f, "--run-dir") && (c->flags & F_RUNDIR)) ||
                   (!strcmp(f, "--meter") && (c->flags & F_METER)) ||
                   (!strcmp(f, "--device") && (c->flags & F_DEVICE)) ||
                   (!strcmp(f, "--window") && (c->flags & F_WINDOW)) ||
                   (!strcmp(f, "--seconds") && (c->flags & F_SECONDS))))
            return usage_error(c, "%s needs a value", f);
        if (!strcmp(f, "--seed") && (c->flags & F_SEED)) {
            char *end;
            errno = 0;
            unsigned long long s = strtoull(v, &end, 10);
            if (errno || end == v || *end || v[0] == '-')
                return usage_error(c, "--seed expects a non-negative integer, got '%s'", v);
            a->seed = s;
            a->seed_set = true;
            i++;
        } else if (!strcmp(f, "--dataset") && (c->flags & F_DATASET)) {
            a->dataset = argv[++i];
        } else if (!strcmp(f, "--save") && (c->flags & F_SAVE)) {
            a->save = argv[++i];
        } else if (!strcmp(f, "--grammar") && (c->flags & F_GRAMMAR)) {
            a->grammar = argv[++i];
        } else if (!strcmp(f, "--run-dir") && (c->flags & F_RUNDIR)) {
            a->run_dir = argv[++i];
        } else if (!strcmp(f, "--meter") && (c->flags & F_METER)) {
            a->meter = argv[++i];
        } else if (!strcmp(f, "--device") && (c->flags & F_DEVICE)) {
            a->device = argv[++i];
        } else if (!strcmp(f, "--window") && (c->flags & F_WINDOW)) {
            char *end;
            a->window = strtod(v, &end);
            if (end == v || *end || !(a->window > 0) || a->window > 600)
                return usage_error(c, "--window expects seconds in (0, 600], got '%s'", v);
            i++;
        } else if (!strcmp(f, "--seconds") && (c->flags & F_SECONDS)) {
            char *end;
            a->seconds = strtod(v, &end);
            if (end == v || *end || !(a->seconds > 0) || a->seconds > 3600)
                return usage_error(c, "--seconds expects a number in (0, 3600], got '%s'", v);
            i++;
        } else {
            return usage_error(c, "unknown option '%s'", f);
        }
    }
    if (!a->positional && !(c->flags & F_OPTIONAL))
        return usage_error(c, "%s", "missing argument");
    if (a->threads > 0)
        omp_set_num_threads(a->threads);
    return 0;
}

static int fail(const char *cmd, const char *err, int rc)
{
    fprintf(stderr, "enevo %s: %s (%s)\n", cmd, err, enevo_strerror(rc));
    return 1;
}

/* The device a command runs on, resolved once at its start so that a bad
 * name or a missing GPU fails before any work. */
struct device {
    char name[16];  /* canonical: "cpu", "cuda:0"; what the nets are given */
    char desc[256]; /* "CPU, 2 threads", "NVIDIA H100 80GB HBM3" */
};

static int resolve_device(const char *cmd, const char *want, struct device *dv)
{
    char err[ENEVO_ERR_LEN];
    int rc = enevo_device_resolve(want ? want : "cpu", dv->name, sizeof dv->name, dv->desc,
                                  sizeof dv->desc, err, sizeof err);
    return rc ? fail(cmd, err, rc) : 0;
}

static long peak_rss_kib(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

static void print_json(cJSON *o)
{
    char *s = cJSON_PrintUnformatted(o);
    if (s)
        printf("%s\n", s);
    free(s);
    cJSON_Delete(o);
}

/* Load the dataset (optionally resized) or report why not. */
static int load_data(const char *cmd, const struct args *a, struct enevo_data *d)
{
    char err[ENEVO_ERR_LEN];
    int rc = enevo_data_load(a->dataset, d, err, sizeof err);
    if (rc)
        return fail(cmd, err, rc);
    if (a->resize &&
        ((rc = enevo_dataset_resize(&d->train, a->resize, err, sizeof err)) ||
         (rc = enevo_dataset_resize(&d->test, a->resize, err, sizeof err)))) {
        enevo_data_free(d);
        return fail(cmd, err, rc);
    }
    return 0;
}

static int cmd_train(const struct args *a)
{
    char err[ENEVO_ERR_LEN];
    struct device dv;
    if (resolve_device("train", a->device, &dv))
        return 1;
    struct enevo_phenotype p;
    int rc = enevo_phenotype_load(a->positional, &p, err, sizeof err);
    if (rc)
        return fail("train", err, rc);
    if (a->epochs)
        p.learning.epochs = a->epochs;
    if (a->batch_size)
        p.learning.batch_size = a->batch_size;
    struct enevo_data d;
    if (load_data("train", a, &d)) {
        enevo_phenotype_free(&p);
        return 1;
    }
    int status = 1;
    struct enevo_split split = {0};
    struct enevo_dataset subset = {0};
    struct enevo_net *net = NULL, *infer = NULL;
    struct enevo_optim opt = {0};
    double t_start = enevo_now();
    int n_train = 42000, n_val = 12000, n_fit = 6000;
    if (n_train + n_val + n_fit > d.train.n) {
        /* Smaller datasets keep ENERGIZE's 70/20/10 proportions. */
        n_train = d.train.n * 7 / 10;
        n_val = d.train.n * 2 / 10;
        n_fit = d.train.n - n_train - n_val;
    }
    if ((rc = enevo_data_split(&d.train, n_train, n_val, n_fit, a->seed, &split, err,
                               sizeof err))) {
        fail("train", err, rc);
        goto out;
    }
    /* The splits hold copies: the full training set is no longer needed. */
    struct enevo_shape in = {d.train.c, d.train.h, d.train.w};
    int n_classes = d.train.n_classes;
    enevo_dataset_free(&d.train);
    const struct enevo_dataset *tr = &split.train;
    if (a->train_subset && a->train_subset < tr->n) {
        if ((rc = enevo_dataset_subset(tr, a->train_subset, a->seed, &subset, err, sizeof err))) {
            fail("train", err, rc);
            goto out;
        }
        tr = &subset;
    }
    struct enevo_net_opts no = {.batch = p.learning.batch_size, .training = true,
                                .threads = a->threads, .device = dv.name, .tf32 = a->tf32};
    if ((rc = enevo_net_create(&p, in, n_classes, &no, &net, err, sizeof err))) {
        fail("train", err, rc);
        goto out;
    }
    enevo_rng init;
    enevo_rng_seed(&init, a->seed, ENEVO_STREAM_INIT);
    enevo_net_init_params(net, &init);
    int nseg;
    const struct enevo_param_seg *segs = enevo_net_segments(net, &nseg);
    if ((rc = enevo_optim_init(&opt, &p.learning, enevo_net_param_count(net), segs, nseg, err,
                               sizeof err))) {
        fail("train", err, rc);
        goto out;
    }
    FILE *log = a->json ? stderr : stdout;
    fprintf(log,
            "enevo train %s: %zu parameters, %.2f MFLOP/image, %s, batch %d, up to %d epochs, "
            "%d train / %d validation images, %d threads, device %s (%s)\n",
            a->positional, enevo_net_param_count(net), enevo_net_flops(net) / 1e6,
            enevo_optimizer_name(p.learning.optimizer), p.learning.batch_size, p.learning.epochs,
            tr->n, split.validation.n, omp_get_max_threads(), dv.name, dv.desc);
    struct enevo_train_opts to = enevo_train_defaults();
    to.epochs = p.learning.epochs;
    to.patience = p.learning.early_stop;
    to.seed = a->seed;
    to.log = log;
    to.progress = true;
    struct enevo_train_result res;
    if ((rc = enevo_train(net, &opt, tr, &split.validation, &to, &res, err, sizeof err))) {
        fail("train", err, rc);
        goto out;
    }
    /* Inference runs on a net without gradient buffers, at a larger batch. */
    struct enevo_net_opts io = {.batch = 256, .training = false, .threads = a->threads,
                                .device = dv.name, .tf32 = a->tf32};
    if ((rc = enevo_net_create(&p, in, n_classes, &io, &infer, err, sizeof err))) {
        fail("train", err, rc);
        goto out;
    }
    memcpy(enevo_net_params(infer), enevo_net_params(net),
           sizeof(float) * enevo_net_param_count(net));
    memcpy(enevo_net_stats(infer), enevo_net_stats(net), sizeof(float) * enevo_net_stats_count(net));
    double test_acc, test_loss, infer_ips, fit_acc = NAN;
    double tacc[2] = {NAN, NAN}, facc[2] = {NAN, NAN};
    bool two = enevo_net_heads(infer) == 2;
    if ((rc = enevo_evaluate_heads(infer, &d.test, tacc, NULL, &test_loss, &infer_ips)) ||
        (split.fitness.n &&
         (rc = enevo_evaluate_heads(infer, &split.fitness, facc, NULL, NULL, NULL)))) {
        fail("train", "evaluation failed", rc);
        goto out;
    }
    test_acc = tacc[0];
    fit_acc = facc[0];
    char model1_path[1100] = "";
    if (a->save) {
        /* With a partition: model 0 (the full network) at FILE, model 1 (the
         * early exit) beside it; both ordinary model files. */
        struct enevo_extracted ex[2] = {0};
        for (int k = 0; two && !rc && k < 2; k++)
            rc = enevo_partition_extract(&p, net, k, &ex[k], err, sizeof err);
        if (two) {
            size_t n = strlen(a->save);
            if (n > 6 && !strcmp(a->save + n - 6, ".enevo"))
                snprintf(model1_path, sizeof model1_path, "%.*s.model1.enevo", (int)(n - 6),
                         a->save);
            else
                snprintf(model1_path, sizeof model1_path, "%s.model1", a->save);
        }
        for (int k = 0; !rc && k < (two ? 2 : 1); k++) {
            char *text = enevo_phenotype_format(two ? &ex[k].phenotype : &p);
            struct enevo_model_file m = {
                .in_c = in.c, .in_h = in.h, .in_w = in.w, .n_classes = n_classes,
                .mean = d.mean, .std = d.std, .phenotype = text,
                .params = two ? ex[k].params : enevo_net_params(net),
                .n_params = two ? ex[k].n_params : enevo_net_param_count(net),
                .stats = two ? ex[k].stats : enevo_net_stats(net),
                .n_stats = two ? ex[k].n_stats : enevo_net_stats_count(net),
            };
            rc = text ? enevo_model_save(k ? model1_path : a->save, &m, err, sizeof err)
                      : ENEVO_ENOMEM;
            free(text);
        }
        enevo_extracted_free(&ex[0]);
        enevo_extracted_free(&ex[1]);
        if (rc) {
            fail("train", err, rc);
            goto out;
        }
    }
    if (two)
        fprintf(log,
                "model partition after layer %d: model 0 (full) test accuracy %.2f%%, fitness-split "
                "%.2f%%; model 1 (early exit) test accuracy %.2f%%, fitness-split %.2f%%%s%s\n",
                p.partition_point, 100 * tacc[0], 100 * facc[0], 100 * tacc[1], 100 * facc[1],
                model1_path[0] ? "; model 1 saved to " : "", model1_path);
    double secs = enevo_now() - t_start;
    fprintf(log,
            "done: %d epochs (best %d%s), validation loss %.4f, fitness-split accuracy %.2f%%, "
            "test accuracy %.2f%%, test loss %.4f\n"
            "      training %.0f img/s, inference %.0f img/s, %.1f s in all, peak memory %.0f "
            "MiB%s%s\n",
            res.epochs, res.best_epoch, res.stopped_early ? ", stopped early" : "",
            res.best_val_loss, 100 * fit_acc, 100 * test_acc, test_loss, res.images_per_s,
            infer_ips, secs, peak_rss_kib() / 1024.0, a->save ? ", model saved to " : "",
            a->save ? a->save : "");
    if (a->json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "phenotype_file", a->positional);
        cJSON_AddNumberToObject(o, "test_accuracy", test_acc);
        cJSON_AddNumberToObject(o, "test_loss", test_loss);
        cJSON_AddNumberToObject(o, "validation_loss", res.best_val_loss);
        cJSON_AddNumberToObject(o, "validation_accuracy", res.best_val_accuracy);
        cJSON_AddNumberToObject(o, "fitness_accuracy", fit_acc);
        if (two) {
            cJSON_AddNumberToObject(o, "test_accuracy_1", tacc[1]);
            cJSON_AddNumberToObject(o, "fitness_accuracy_1", facc[1]);
            cJSON_AddNumberToObject(o, "partition_point", p.partition_point);
            if (model1_path[0])
                cJSON_AddStringToObject(o, "model1_file", model1_path);
        }
        cJSON_AddNumberToObject(o, "epochs", res.epochs);
        cJSON_AddNumberToObject(o, "best_epoch", res.best_epoch);
        cJSON_AddNumberToObject(o, "train_images_per_s", res.images_per_s);
        cJSON_AddNumberToObject(o, "infer_images_per_s", infer_ips);
        cJSON_AddNumberToObject(o, "params", (double)enevo_net_param_count(net));
        cJSON_AddNumberToObject(o, "flops_per_image", enevo_net_flops(net));
        cJSON_AddNumberToObject(o, "seconds", secs);
        cJSON_AddNumberToObject(o, "seed", (double)a->seed);
        cJSON_AddNumberToObject(o, "threads", omp_get_max_threads());
        cJSON_AddStringToObject(o, "device", dv.name);
        cJSON_AddNumberToObject(o, "peak_rss_mib", peak_rss_kib() / 1024.0);
        print_json(o);
    }
    status = 0;
out:
    enevo_optim_free(&opt);
    enevo_net_free(net);
    enevo_net_free(infer);
    enevo_dataset_free(&subset);
    enevo_split_free(&split);
    enevo_data_free(&d);
    enevo_phenotype_free(&p);
    return status;
}

static int cmd_eval(const struct args *a)
{
    char err[ENEVO_ERR_LEN];
    struct device dv;
    if (resolve_device("eval", a->device, &dv))
        return 1;
    struct enevo_model_file m;
    int rc = enevo_model_load(a->positional, &m, err, sizeof err);
    if (rc)
        return fail("eval", err, rc);
    struct enevo_phenotype p;
    if ((rc = enevo_phenotype_parse(m.phenotype, a->positional, &p, err, sizeof err))) {
        enevo_model_file_free(&m);
        return fail("eval", err, rc);
    }
    struct enevo_data d;
    struct args la = *a;
    if (!la.resize && m.in_h != 28)
        la.resize = m.in_h;
    if (load_data("eval", &la, &d)) {
        enevo_phenotype_free(&p);
        enevo_model_file_free(&m);
        return 1;
    }
    int status = 1;
    struct enevo_net *net = NULL;
    if (d.test.c != m.in_c || d.test.h != m.in_h || d.test.w != m.in_w) {
        fprintf(stderr, "enevo eval: %s expects %dx%dx%d images, %s has %dx%dx%d\n",
                a->positional, m.in_c, m.in_h, m.in_w, a->dataset, d.test.c, d.test.h, d.test.w);
        goto out;
    }
    /* Re-normalise if the model was trained with other statistics. */
    if (m.mean != d.mean || m.std != d.std) {
        size_t n = (size_t)d.test.n * d.test.c * d.test.h * d.test.w;
        for (size_t i = 0; i < n; i++)
            d.test.x[i] = (d.test.x[i] * d.std + d.mean - m.mean) / m.std;
    }
    struct enevo_net_opts no = {.batch = a->batch_size ? a->batch_size : 256, .threads = a->threads,
                                .device = dv.name};
    struct enevo_shape in = {m.in_c, m.in_h, m.in_w};
    if ((rc = enevo_net_create(&p, in, m.n_classes, &no, &net, err, sizeof err))) {
        fail("eval", err, rc);
        goto out;
    }
    if (m.n_params != enevo_net_param_count(net) || m.n_stats != enevo_net_stats_count(net)) {
        fprintf(stderr,
                "enevo eval: %s holds %zu parameters and %zu statistics, its phenotype needs "
                "%zu and %zu\n",
                a->positional, m.n_params, m.n_stats, enevo_net_param_count(net),
                enevo_net_stats_count(net));
        goto out;
    }
    memcpy(enevo_net_params(net), m.params, sizeof(float) * m.n_params);
    memcpy(enevo_net_stats(net), m.stats, sizeof(float) * m.n_stats);
    double accs[2], losses[2], ips;
    if ((rc = enevo_evaluate_heads(net, &d.test, accs, losses, NULL, &ips))) {
        fail("eval", "evaluation failed", rc);
        goto out;
    }
    double acc = accs[0], loss = losses[0];
    FILE *log = a->json ? stderr : stdout;
    fprintf(log,
            "%s on %s (%d test images), device %s (%s): accuracy %.2f%%, loss %.4f, %.0f img/s\n",
            a->positional, a->dataset, d.test.n, dv.name, dv.desc, 100 * acc, loss, ips);
    bool two = enevo_net_heads(net) == 2;
    if (two)
        fprintf(log, "  two-headed (partition after layer %d): early-exit head accuracy %.2f%%, "
                     "loss %.4f\n",
                p.partition_point, 100 * accs[1], losses[1]);
    if (a->json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "model", a->positional);
        cJSON_AddNumberToObject(o, "test_accuracy", acc);
        cJSON_AddNumberToObject(o, "test_loss", loss);
        if (two) {
            cJSON_AddNumberToObject(o, "test_accuracy_1", accs[1]);
            cJSON_AddNumberToObject(o, "test_loss_1", losses[1]);
        }
        cJSON_AddNumberToObject(o, "test_images", d.test.n);
        cJSON_AddStringToObject(o, "device", dv.name);
        cJSON_AddNumberToObject(o, "infer_images_per_s", ips);
        cJSON_AddNumberToObject(o, "params", (double)m.n_params);
        cJSON_AddNumberToObject(o, "flops_per_image", enevo_net_flops(net));
        print_json(o);
    }
    status = 0;
out:
    enevo_net_free(net);
    enevo_data_free(&d);
    enevo_phenotype_free(&p);
    enevo_model_file_free(&m);
    return status;
}

/* Median of n doubles (sorts in place). */
static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* Images per second over three windows of seconds/3 each, after a warm-up;
 * the median window. Training (opt set): enevo_net_train_steps calls of
 * `steps` steps over the data bound at slot 0. Inference: reruns of the
 * input of an earlier enevo_net_forward (enevo_net_forward_again). Each
 * window ends with a sync before the clock is read, so the work a GPU
 * queued asynchronously is counted in its window (train_steps syncs too). */
static int throughput(struct enevo_net *net, struct enevo_optim *opt, const int *order,
                      const uint64_t *keys, int steps, double seconds, double *ips)
{
    int batch = enevo_net_batch(net), rc;
    double w[3];
    for (int r = -1; r < 3; r++) {
        double window = r < 0 ? fmin(0.5, seconds / 6) : seconds / 3;
        double t0 = enevo_now();
        long calls = 0;
        double images = 0;
        do {
            if (opt) {
                double loss = 0;
                rc = enevo_net_train_steps(net, opt, order, keys, steps, &loss);
                images += (double)steps * batch;
            } else {
                rc = enevo_net_forward_again(net);
                images += batch;
            }
            if (rc)
                return rc;
            calls++;
        } while (enevo_now() - t0 < window || calls < (opt ? 1 : 3));
        if ((rc = enevo_net_sync(net)))
            return rc;
        double t = enevo_now() - t0;
        if (r >= 0)
            w[r] = images / t;
    }
    *ips = median(w, 3);
    return 0;
}

/* Per layer, the implementation of each primitive (see enevo_net_kernels). */
static cJSON *kernels_json(const struct enevo_net *net)
{
    cJSON *arr = cJSON_CreateArray();
    int n = enevo_net_kernels(net, NULL, 0);
    struct enevo_kernel *k = n > 0 ? calloc((size_t)n, sizeof *k) : NULL;
    if (!k)
        return arr;
    enevo_net_kernels(net, k, n);
    for (int i = 0; i < n; i++) {
        char where[96];
        enevo_net_describe_node(net, k[i].node, where, sizeof where);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "node", k[i].node);
        cJSON_AddStringToObject(o, "layer", where);
        cJSON_AddStringToObject(o, "op", k[i].op);
        cJSON_AddStringToObject(o, "impl", k[i].impl);
        cJSON_AddBoolToObject(o, "reference", k[i].reference);
        cJSON_AddItemToArray(arr, o);
    }
    free(k);
    return arr;
}

static int cmd_bench(const struct args *a)
{
    char err[ENEVO_ERR_LEN];
    struct device dv;
    if (resolve_device("bench", a->device, &dv))
        return 1;
    struct enevo_phenotype p;
    int rc = enevo_phenotype_load(a->positional, &p, err, sizeof err);
    if (rc)
        return fail("bench", err, rc);
    int batch = a->batch_size ? a->batch_size : p.learning.batch_size;
    int side = a->resize ? a->resize : 28;
    struct enevo_shape in = {1, side, side};
    int classes = 10, status = 1;
    struct enevo_net *tn = NULL, *in_net = NULL;
    struct enevo_optim opt = {0};
    struct enevo_dataset set = {0};
    int *order = NULL;
    uint64_t *keys = NULL;
    /* The cost of a step does not depend on the learning rate. At rate 0
     * the weights stay put, so training on random labels cannot diverge (a
     * non-finite loss ends enevo_net_train_steps early and would spoil the
     * count). */
    struct enevo_learning_spec spec = p.learning;
    spec.lr = spec.lr_weights = spec.lr_biases = 0;
    struct enevo_net_opts to = {.batch = batch, .training = true, .threads = a->threads,
                                .device = dv.name, .tf32 = a->tf32};
    struct enevo_net_opts io = {.batch = batch, .training = false, .threads = a->threads,
                                .device = dv.name, .tf32 = a->tf32};
    if ((rc = enevo_net_create(&p, in, classes, &to, &tn, err, sizeof err)) ||
        (rc = enevo_net_create(&p, in, classes, &io, &in_net, err, sizeof err))) {
        fail("bench", err, rc);
        goto out;
    }
    enevo_rng r;
    enevo_rng_seed(&r, a->seed, ENEVO_STREAM_INIT);
    enevo_net_init_params(tn, &r);
    memcpy(enevo_net_params(in_net), enevo_net_params(tn),
           sizeof(float) * enevo_net_param_count(tn));
    int nseg;
    const struct enevo_param_seg *segs = enevo_net_segments(tn, &nseg);
    if ((rc = enevo_optim_init(&opt, &spec, enevo_net_param_count(tn), segs, nseg, err,
                               sizeof err))) {
        fail("bench", err, rc);
        goto out;
    }
    /* A bound set of up to 16 batches in the real data shape, values like
     * normalised pixels (at most ~256 MiB of them: big batches cycle over
     * fewer); one train_steps call of 16 steps goes through it. */
    const int steps = 16;
    size_t img = (size_t)in.c * in.h * in.w;
    int nb = (int)fmin(steps, fmax(1, (256.0 * 1048576) / (sizeof(float) * img * batch)));
    set = (struct enevo_dataset){.n = nb * batch, .c = in.c, .h = in.h, .w = in.w,
                                 .n_classes = classes};
    set.x = malloc(sizeof(float) * img * (size_t)set.n);
    set.y = malloc((size_t)set.n);
    order = malloc(sizeof(int) * (size_t)steps * batch);
    keys = malloc(sizeof(uint64_t) * steps);
    if (!set.x || !set.y || !order || !keys) {
        fail("bench", "out of memory", ENEVO_ENOMEM);
        goto out;
    }
    for (size_t i = 0; i < img * (size_t)set.n; i++)
        set.x[i] = enevo_rng_normal(&r);
    for (int i = 0; i < set.n; i++)
        set.y[i] = (uint8_t)enevo_rng_below(&r, (uint32_t)classes);
    for (int s = 0; s < steps; s++) {
        keys[s] = (uint64_t)s;
        for (int i = 0; i < batch; i++)
            order[(size_t)s * batch + i] = (s % nb) * batch + i;
    }
    double train_ips = 0, infer_ips = 0;
    if ((rc = enevo_net_bind_data(tn, 0, &set, err, sizeof err))) {
        fail("bench", err, rc);
        goto out;
    }
    /* The inference windows rerun this first batch, already on the device. */
    if ((rc = throughput(tn, &opt, order, keys, steps, a->seconds, &train_ips)) ||
        (rc = enevo_net_forward(in_net, set.x, false, 0)) ||
        (rc = throughput(in_net, NULL, NULL, NULL, 0, a->seconds, &infer_ips))) {
        fail("bench", "a benchmark step failed", rc);
        goto out;
    }
    double flops = enevo_net_flops(tn);
    /* A training step costs about three forward passes (forward, backward
     * data, backward weights): the usual estimate, not a count. */
    double train_gflops = train_ips * 3 * flops / 1e9, infer_gflops = infer_ips * flops / 1e9;
    FILE *log = a->json ? stderr : stdout;
    fprintf(log,
            "%s: batch %d, %d threads, device %s (%s)%s, %zu params, %.2f MFLOP/image\n"
            "  training  %9.0f img/s  (~%.1f GFLOP/s, 3x forward estimate)\n"
            "  inference %9.0f img/s  (%.1f GFLOP/s)\n"
            "  activation arena %.1f MiB (training net)\n",
            a->positional, batch, omp_get_max_threads(), dv.name, dv.desc,
            a->tf32 ? ", tf32" : "", enevo_net_param_count(tn), flops / 1e6, train_ips,
            train_gflops, infer_ips, infer_gflops, enevo_net_arena_bytes(tn) / 1048576.0);
    if (a->json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "phenotype_file", a->positional);
        cJSON_AddNumberToObject(o, "batch_size", batch);
        cJSON_AddNumberToObject(o, "threads", omp_get_max_threads());
        cJSON_AddStringToObject(o, "device", dv.name);
        cJSON_AddBoolToObject(o, "tf32", a->tf32);
        cJSON_AddNumberToObject(o, "train_images_per_s", train_ips);
        cJSON_AddNumberToObject(o, "infer_images_per_s", infer_ips);
        cJSON_AddNumberToObject(o, "params", (double)enevo_net_param_count(tn));
        cJSON_AddNumberToObject(o, "flops_per_image", flops);
        cJSON_AddNumberToObject(o, "train_gflops_estimate", train_gflops);
        cJSON_AddNumberToObject(o, "infer_gflops", infer_gflops);
        cJSON_AddNumberToObject(o, "arena_bytes", (double)enevo_net_arena_bytes(tn));
        if (!strcmp(dv.name, "cpu"))
            cJSON_AddStringToObject(o, "cpu_isa", enevo_cpu_isa());
        cJSON_AddItemToObject(o, "kernels_training", kernels_json(tn));
        cJSON_AddItemToObject(o, "kernels_inference", kernels_json(in_net));
        print_json(o);
    }
    status = 0;
out:
    enevo_optim_free(&opt);
    enevo_net_free(tn);
    enevo_net_free(in_net);
    enevo_dataset_free(&set);
    free(order);
    free(keys);
    enevo_phenotype_free(&p);
    return status;
}

/* A whole text file, or NULL with the reason on stderr. */
static char *slurp(const char *cmd, const char *path)
{
    char err[ENEVO_ERR_LEN], *text;
    int rc = enevo_read_text(path, 64 << 20, &text, NULL, err, sizeof err);
    if (rc) {
        fail(cmd, err, rc);
        return NULL;
    }
    return text;
}

/* The meter a command asked for, with the config's model coefficients, for
 * work on `device` (resolved: auto then measures a cuda:N device with nvml
 * on GPU N, and never uses nvml for the CPU); says which one auto picked. */
static int open_meter(const char *cmd, const char *name, const struct enevo_config *c,
                      const char *device, struct enevo_meter **m, FILE *log)
{
    char err[ENEVO_ERR_LEN], chosen[2 * ENEVO_ERR_LEN + 256] = "";
    struct enevo_meter_cfg mc = enevo_meter_defaults();
    mc.nvml_device = c->nvml_device;
    snprintf(mc.compute_device, sizeof mc.compute_device, "%s", device);
    mc.e_flop_pj = c->e_flop_pj;
    mc.e_byte_pj = c->e_byte_pj;
    mc.static_w = c->static_w;
    mc.peak_gflops = c->peak_gflops;
    mc.bandwidth_gbs = c->bandwidth_gbs;
    int rc = enevo_meter_open(name, &mc, m, chosen, sizeof chosen, err, sizeof err);
    if (rc)
        return fail(cmd, err, rc);
    if (chosen[0])
        fprintf(log, "%s\n", chosen);
    if ((*m)->estimate)
        fprintf(log, "energy: %s (no sensor used: an estimate from FLOPs, bytes moved and a "
                     "static power, see docs/MEASUREMENT.md)\n",
                (*m)->label);
    return 0;
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
    if (load_data(cmd, &da, &d))
        goto out;
    int n = d.train.n;
    int n_train = (int)(c->split_train * n + 0.5), n_val = (int)(c->split_val * n + 0.5);
    int n_fit = (int)(c->split_fit * n + 0.5);
    if (n_train + n_val + n_fit > n)
        n_fit = n - n_train - n_val;
    if ((rc = enevo_data_split(&d.train, n_train, n_val, n_fit, c->seed, &split, err,
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
    struct enevo_evo_data ed = {tr, &split.validation, &split.fitness, &d.test, d.mean, d.std};
    struct enevo_meter *meter = NULL;
    if (open_meter(cmd, c->meter, c, dv.name, &meter, log))
        goto out;
    struct enevo_evo_opts o = {.run_dir = run_dir, .log = log, .threads = c->threads,
                               .meter = meter};
    if (c->default_train_time > 0)
        fprintf(stderr, "enevo %s: note: default_train_time %.17g s is a wall-clock budget: "
                        "results will not reproduce from the seed (default_train_epochs does)\n",
                cmd, c->default_train_time);
    struct enevo_evo_result res;
    rc = enevo_evolve(c, config_text, g, grammar_text, &ed, &o, &res, err, sizeof err);
    enevo_meter_close(meter);
    if (rc) {
        fail(cmd, err, rc);
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

static int cmd_evolve(const struct args *a)
{
    char err[ENEVO_ERR_LEN];
    struct enevo_config c;
    enevo_config_defaults(&c);
    char *text = NULL;
    int rc;
    if (a->positional) {
        if (!(text = slurp("evolve", a->positional)))
            return 1;
        rc = enevo_config_parse(text, a->positional, &c, stderr, err, sizeof err);
    } else {
        rc = enevo_config_parse(enevo_default_config_text(), "default.yaml", &c, stderr, err,
                                sizeof err);
    }
    free(text);
    if (rc)
        return fail("evolve", err, rc);
    if (a->seed_set)
        c.seed = a->seed;
    if (a->generations)
        c.generations = a->generations;
    if (a->lambda)
        c.lambda = a->lambda;
    if (a->train_subset)
        c.train_subset = a->train_subset;
    if (a->epochs)
        c.default_train_epochs = a->epochs;
    if (a->threads)
        c.threads = a->threads;
    if (a->device && override_device("evolve", &c, a->device))
        return 1;
    if (a->tf32)
        c.tf32 = true;
    if (a->meter) {
        if (strcmp(a->meter, "auto") && strcmp(a->meter, "nvml") && strcmp(a->meter, "rapl") &&
            strcmp(a->meter, "model")) {
            fprintf(stderr, "enevo evolve: --meter expects auto, nvml, rapl or model, got '%s'\n",
                    a->meter);
            return 2;
        }
        snprintf(c.meter, sizeof c.meter, "%s", a->meter);
    }
    if (a->dataset && strcmp(a->dataset, ENEVO_DEFAULT_DATASET))
        snprintf(c.dataset, sizeof c.dataset, "%s", a->dataset);
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

static int cmd_resume(const struct args *a)
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

/* A network to measure: a model file (its weights) or a phenotype (random
 * weights: the energy of inference hardly depends on their values). */
static int load_for_inference(const char *cmd, const char *path, int batch, int threads,
                              const char *device, struct enevo_net **net, struct enevo_shape *in)
{
    char err[ENEVO_ERR_LEN];
    struct enevo_model_file mf = {0};
    struct enevo_phenotype p;
    int rc;
    FILE *f = fopen(path, "rb");
    char magic[8] = {0};
    bool is_model = f && fread(magic, 1, 8, f) == 8 && !memcmp(magic, ENEVO_MODEL_MAGIC, 8);
    if (f)
        fclose(f);
    if (is_model) {
        if ((rc = enevo_model_load(path, &mf, err, sizeof err)))
            return fail(cmd, err, rc);
        rc = enevo_phenotype_parse(mf.phenotype, path, &p, err, sizeof err);
        *in = (struct enevo_shape){mf.in_c, mf.in_h, mf.in_w};
    } else {
        rc = enevo_phenotype_load(path, &p, err, sizeof err);
        *in = (struct enevo_shape){1, 28, 28};
    }
    if (rc) {
        enevo_model_file_free(&mf);
        return fail(cmd, err, rc);
    }
    struct enevo_net_opts no = {.batch = batch, .training = false, .threads = threads,
                                .device = device};
    rc = enevo_net_create(&p, *in, is_model ? mf.n_classes : 10, &no, net, err, sizeof err);
    enevo_phenotype_free(&p);
    if (!rc && is_model) {
        if (mf.n_params != enevo_net_param_count(*net) || mf.n_stats != enevo_net_stats_count(*net))
            rc = enevo_errf(err, sizeof err, ENEVO_EFORMAT,
                            "%s: parameter counts do not match its phenotype", path);
        else {
            memcpy(enevo_net_params(*net), mf.params, sizeof(float) * mf.n_params);
            memcpy(enevo_net_stats(*net), mf.stats, sizeof(float) * mf.n_stats);
        }
    } else if (!rc) {
        enevo_rng r;
        enevo_rng_seed(&r, 1, ENEVO_STREAM_INIT);
        enevo_net_init_params(*net, &r);
    }
    enevo_model_file_free(&mf);
    if (rc) {
        enevo_net_free(*net);
        *net = NULL;
        return fail(cmd, err, rc);
    }
    return 0;
}

static float *random_batch(struct enevo_shape in, int batch, uint64_t seed)
{
    size_t n = (size_t)batch * in.c * in.h * in.w;
    float *x = malloc(sizeof(float) * n);
    enevo_rng r;
    enevo_rng_seed(&r, seed, ENEVO_STREAM_INIT);
    for (size_t i = 0; x && i < n; i++)
        x[i] = enevo_rng_normal(&r);
    return x;
}

static int cmd_measure(const struct args *a)
{
    char err[ENEVO_ERR_LEN];
    struct enevo_config c;
    enevo_config_defaults(&c);
    FILE *log = a->json ? stderr : stdout;
    int batch = a->batch_size ? a->batch_size : c.energy_batch;
    struct enevo_net *net = NULL;
    struct enevo_shape in;
    struct enevo_meter *m = NULL;
    struct device dv;
    if (resolve_device("measure", a->device, &dv) ||
        load_for_inference("measure", a->positional, batch, a->threads, dv.name, &net, &in))
        return 1;
    if (open_meter("measure", a->meter ? a->meter : c.meter, &c, dv.name, &m, log)) {
        enevo_net_free(net);
        return 1;
    }
    struct enevo_measure_opts mo = enevo_measure_defaults(m);
    if (a->repetitions)
        mo.repetitions = a->repetitions;
    if (a->window)
        mo.window_s = a->window;
    float *x = random_batch(in, batch, a->seed);
    struct enevo_measurement r;
    int rc = x ? enevo_measure(net, x, m, &mo, &r, err, sizeof err) : ENEVO_ENOMEM;
    int status = 1;
    if (rc) {
        fail("measure", x ? err : "out of memory", rc);
        goto out;
    }
    const char *tag = r.estimate ? " (estimate)" : "";
    fprintf(log,
            "%s: batch %d, %d threads, device %s (%s), %.2f MFLOP/image, meter %s%s\n"
            "  energy per inference  %.4g J%s  (95%% CI %.4g - %.4g, median of %d windows of "
            ">= %.2g s)\n"
            "  net of idle           %.4g J%s  (idle %.3g W)\n"
            "  average power         %.4g W%s\n"
            "  latency               %.4g ms per batch, %.4g us per image (measured)\n"
            "  throughput            %.0f images/s (measured)\n",
            a->positional, batch, omp_get_max_threads(), dv.name, dv.desc,
            enevo_net_flops(net) / 1e6, r.label,
            r.estimate ? " (no sensor: estimate)" : "", r.j_per_inference, tag, r.ci_low,
            r.ci_high, r.repetitions, r.window_s, r.j_per_inference_net, tag, r.idle_w, r.power_w,
            tag, 1e3 * r.latency_batch_s, 1e6 * r.latency_image_s, r.images_per_s);
    if (a->json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "file", a->positional);
        cJSON_AddStringToObject(o, "device", dv.name);
        cJSON_AddStringToObject(o, "meter", r.label);
        cJSON_AddBoolToObject(o, "estimate", r.estimate);
        cJSON_AddNumberToObject(o, "energy_j_per_inference", r.j_per_inference);
        cJSON_AddNumberToObject(o, "energy_j_per_inference_net", r.j_per_inference_net);
        cJSON_AddNumberToObject(o, "energy_ci_low", r.ci_low);
        cJSON_AddNumberToObject(o, "energy_ci_high", r.ci_high);
        cJSON_AddNumberToObject(o, "power_w", r.power_w);
        cJSON_AddNumberToObject(o, "idle_power_w", r.idle_w);
        cJSON_AddNumberToObject(o, "latency_batch_s", r.latency_batch_s);
        cJSON_AddNumberToObject(o, "latency_image_s", r.latency_image_s);
        cJSON_AddNumberToObject(o, "images_per_s", r.images_per_s);
        cJSON_AddNumberToObject(o, "repetitions", r.repetitions);
        cJSON_AddNumberToObject(o, "window_s", r.window_s);
        cJSON_AddNumberToObject(o, "batch_size", batch);
        cJSON_AddNumberToObject(o, "flops_per_image", enevo_net_flops(net));
        cJSON_AddNumberToObject(o, "params", (double)enevo_net_param_count(net));
        print_json(o);
    }
    status = 0;
out:
    free(x);
    enevo_meter_close(m);
    enevo_net_free(net);
    return status;
}

/* Least squares of J/inference = flops*e_flop + bytes*e_byte + static_w *
 * latency over random networks measured with a real meter. */
static int solve3(double A[3][3], double b[3], double x[3])
{
    for (int i = 0; i < 3; i++) {
        int piv = i;
        for (int r = i + 1; r < 3; r++)
            if (fabs(A[r][i]) > fabs(A[piv][i]))
                piv = r;
        if (fabs(A[piv][i]) < 1e-300)
            return -1;
        for (int k = 0; k < 3; k++) {
            double t = A[i][k];
            A[i][k] = A[piv][k];
            A[piv][k] = t;
        }
        double t = b[i];
        b[i] = b[piv];
        b[piv] = t;
        for (int r = i + 1; r < 3; r++) {
            double f = A[r][i] / A[i][i];
            for (int k = i; k < 3; k++)
                A[r][k] -= f * A[i][k];
            b[r] -= f * b[i];
        }
    }
    for (int i = 2; i >= 0; i--) {
        double s = b[i];
        for (int k = i + 1; k < 3; k++)
            s -= A[i][k] * x[k];
        x[i] = s / A[i][i];
    }
    return 0;
}

static int cmd_calibrate(const struct args *a)
{
    char err[ENEVO_ERR_LEN];
    struct enevo_config c;
    enevo_config_defaults(&c);
    FILE *log = a->json ? stderr : stdout;
    struct enevo_meter *m = NULL;
    struct device dv;
    if (resolve_device("calibrate", a->device, &dv) ||
        open_meter("calibrate", a->meter ? a->meter : "auto", &c, dv.name, &m, log))
        return 1;
    fprintf(log, "enevo calibrate: device %s (%s)\n", dv.name, dv.desc);
    if (m->estimate) {
        fprintf(stderr, "enevo calibrate: the %s meter is itself the estimate; calibration needs "
                        "a real meter (rapl or nvml), and none is available here\n",
                m->label);
        enevo_meter_close(m);
        return 1;
    }
    /* Random networks of the default grammar with its default config. */
    struct enevo_grammar *g = NULL;
    struct enevo_evo_space s;
    int n = a->networks ? a->networks : 12, batch = a->batch_size ? a->batch_size : c.energy_batch;
    int rc = enevo_grammar_parse(enevo_default_grammar_text(), "default.grammar", &g, err,
                                 sizeof err);
    if (!rc)
        rc = enevo_space_init(&s, &c, g, err, sizeof err);
    double (*rows)[4] = calloc((size_t)n, sizeof *rows); /* flops, bytes, latency, J */
    int got = 0;
    enevo_rng r;
    enevo_rng_seed(&r, a->seed, ENEVO_STREAM_EVO);
    for (int tries = 0; !rc && got < n && tries < 50 * n; tries++) {
        struct enevo_genotype gt;
        char *text = NULL;
        struct enevo_phenotype p;
        struct enevo_net *net = NULL;
        if (enevo_genotype_random(&s, &r, &gt))
            continue;
        int ok = !enevo_genotype_phenotype(&s, &gt, &r, &text) &&
                 !enevo_phenotype_parse(text, "random", &p, err, sizeof err);
        enevo_genotype_free(&gt);
        free(text);
        if (!ok)
            continue;
        struct enevo_net_opts no = {.batch = batch, .threads = a->threads, .device = dv.name};
        ok = !enevo_net_create(&p, (struct enevo_shape){1, 28, 28}, 10, &no, &net, err,
                               sizeof err) &&
             enevo_net_flops(net) < 30e6;
        enevo_phenotype_free(&p);
        if (!ok) {
            enevo_net_free(net);
            continue;
        }
        enevo_rng ir;
        enevo_rng_seed(&ir, (uint64_t)got, ENEVO_STREAM_INIT);
        enevo_net_init_params(net, &ir);
        float *x = random_batch((struct enevo_shape){1, 28, 28}, batch, (uint64_t)got);
        struct enevo_measure_opts mo = enevo_measure_defaults(m);
        mo.repetitions = a->repetitions ? a->repetitions : 5;
        if (a->window)
            mo.window_s = a->window;
        struct enevo_measurement res;
        rc = enevo_measure(net, x, m, &mo, &res, err, sizeof err);
        if (!rc) {
            rows[got][0] = enevo_net_flops(net);
            rows[got][1] = enevo_net_bytes_per_batch(net) / batch;
            rows[got][2] = res.latency_image_s;
            rows[got][3] = res.j_per_inference;
            fprintf(log, "network %2d: %7.2f MFLOP, %7.2f MB, %8.2f us, %.4g J/inference (%s)\n",
                    got + 1, rows[got][0] / 1e6, rows[got][1] / 1e6, 1e6 * rows[got][2],
                    rows[got][3], res.label);
            got++;
        }
        free(x);
        enevo_net_free(net);
    }
    int status = 1;
    if (rc) {
        fail("calibrate", err, rc);
        goto out;
    }
    double A[3][3] = {{0}}, b[3] = {0}, coef[3] = {0};
    for (int i = 0; i < got; i++)
        for (int j = 0; j < 3; j++) {
            for (int k = 0; k < 3; k++)
                A[j][k] += rows[i][j] * rows[i][k];
            b[j] += rows[i][j] * rows[i][3];
        }
    if (got < 3 || solve3(A, b, coef)) {
        fprintf(stderr, "enevo calibrate: %d networks are not enough for a fit\n", got);
        goto out;
    }
    double se = 0;
    for (int i = 0; i < got; i++) {
        double pred = rows[i][0] * coef[0] + rows[i][1] * coef[1] + rows[i][2] * coef[2];
        se += pow((pred - rows[i][3]) / rows[i][3], 2);
    }
    double rms = sqrt(se / got);
    fprintf(log,
            "fit over %d networks (%s): e_flop_pj %.4g, e_byte_pj %.4g, static_w %.4g; relative "
            "RMS error %.1f%%\nput them under energy.model in the config\n",
            got, m->label, coef[0] * 1e12, coef[1] * 1e12, coef[2], 100 * rms);
    if (a->json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "device", dv.name);
        cJSON_AddStringToObject(o, "meter", m->label);
        cJSON_AddNumberToObject(o, "networks", got);
        cJSON_AddNumberToObject(o, "e_flop_pj", coef[0] * 1e12);
        cJSON_AddNumberToObject(o, "e_byte_pj", coef[1] * 1e12);
        cJSON_AddNumberToObject(o, "static_w", coef[2]);
        cJSON_AddNumberToObject(o, "relative_rms_error", rms);
        print_json(o);
    }
    status = 0;
out:
    free(rows);
    enevo_grammar_free(g);
    enevo_meter_close(m);
    return status;
}

/* report takes several run directories, so it parses its own arguments. */
static int report_main(int argc, char **argv)
{
    const char *out = "report", *baseline = NULL;
    const char **runs = calloc((size_t)argc + 1, sizeof *runs);
    int n = 0;
    bool json = false;
    for (int i = 0; i < argc; i++) {
        if ((!strcmp(argv[i], "--out") || !strcmp(argv[i], "--baseline")) && i + 1 < argc) {
            *(argv[i][2] == 'o' ? &out : &baseline) = argv[i + 1];
            i++;
        } else if (!strcmp(argv[i], "--json")) {
            json = true;
        } else if (argv[i][0] == '-') {
            fprintf(stderr, "enevo report: unknown option '%s'\nusage: enevo report RUN_DIR... "
                            "[--out DIR] [--baseline SETTING] [--json]\n",
                    argv[i]);
            free(runs);
            return EXIT_USAGE;
        } else {
            runs[n++] = argv[i];
        }
    }
    if (n == 0) {
        fprintf(stderr, "enevo report: no run directory given\nusage: enevo report RUN_DIR... "
                        "[--out DIR] [--baseline SETTING] [--json]\n");
        free(runs);
        return EXIT_USAGE;
    }
    char err[ENEVO_ERR_LEN];
    struct enevo_report_opts o = {.out_dir = out, .baseline = baseline,
                                  .log = json ? stderr : stdout};
    int rc = enevo_report(runs, n, &o, err, sizeof err);
    free(runs);
    if (rc)
        return fail("report", err, rc);
    fprintf(json ? stderr : stdout, "report: %s/report.md and %s/report.html\n", out, out);
    if (json) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "report_md", out);
        cJSON_AddNumberToObject(j, "runs", n);
        print_json(j);
    }
    return 0;
}

/* enevo export: its own flags (tools/export_cmd.c), dispatched from main. */
int enevo_tool_export(int argc, char **argv);
static int cmd_export(const struct args *a)
{
    (void)a;
    return 0;
}

static int cmd_report(const struct args *a)
{
    (void)a; /* dispatched to report_main from main */
    return 0;
}

static int cmd_help(const struct args *a);

#define DEVICE_HELP                                                                            \
    "--device: cpu (the default), cuda (= cuda:0), cuda:N, or auto (cuda:0 when enevo was\n"  \
    "built with make CUDA=1 and a GPU is usable, else cpu)."
#define TF32_HELP                                                                              \
    "\n--tf32: on a GPU, convolutions may use TF32 tensor cores (~1e-3 relative error; off:\n" \
    "strict fp32)."

static const struct command commands[] = {
    {"train", cmd_train,
     "train PHENOTYPE_FILE [--dataset DIR] [--epochs N] [--batch-size N] [--train-subset N]\n"
     "             [--seed N] [--threads N] [--device D] [--tf32] [--resize S] [--save FILE]\n"
     "             [--json]",
     "Train the network a phenotype describes on the train split (42,000 images), with early\n"
     "stopping on the validation split (12,000), then report accuracy on the fitness split\n"
     "(6,000) and the official test set. Flags override the phenotype's learning values.\n"
     DEVICE_HELP TF32_HELP,
     F_DATASET | F_EPOCHS | F_BATCH | F_SUBSET | F_SEED | F_THREADS | F_SAVE | F_JSON | F_RESIZE |
         F_DEVICE | F_TF32},
    {"eval", cmd_eval,
     "eval MODEL_FILE [--dataset DIR] [--batch-size N] [--threads N] [--device D] [--json]",
     "Test accuracy and loss of a saved model on the dataset's test images.\n" DEVICE_HELP,
     F_DATASET | F_BATCH | F_THREADS | F_JSON | F_DEVICE},
    {"bench", cmd_bench,
     "bench PHENOTYPE_FILE [--batch-size N] [--threads N] [--device D] [--tf32] [--seconds S]\n"
     "             [--resize S] [--json]",
     "Training and inference images/s on the real data shape (1x28x28, 10 classes), median of\n"
     "three windows after a warm-up. Training steps run over 16 batches of random images bound\n"
     "to the net (on a GPU: in device memory), at learning rate 0; inference reruns one batch.\n"
     "--json adds cpu_isa (the instruction set oneDNN uses, after any ONEDNN_MAX_CPU_ISA cap)\n"
     "and, per layer, the implementation of every primitive of the training and inference\n"
     "nets (kernels_training, kernels_inference); a reference kernel is a slow path.\n"
     DEVICE_HELP TF32_HELP,
     F_BATCH | F_THREADS | F_SECONDS | F_JSON | F_SEED | F_RESIZE | F_DEVICE | F_TF32},
    {"evolve", cmd_evolve,
     "evolve [CONFIG] [--grammar FILE] [--run-dir DIR] [--seed N] [--generations N]\n"
     "             [--lambda N] [--train-subset N] [--epochs N] [--meter M] [--threads N]\n"
     "             [--device D] [--tf32] [--dataset DIR] [--json]",
     "Grammar-based neuroevolution, (1+lambda) strategy. CONFIG is YAML or JSON (ENERGIZE's\n"
     "keys; the built-in default when left out); the grammar defaults to the built-in one.\n"
     "The run directory (default runs/seed<N>) gets config.used.yaml, grammar.used,\n"
     "stats.csv, timing.csv, stats/generation_<g>.json, best/ and a checkpoint after every\n"
     "evaluation; if it already holds a checkpoint of the same config, the run resumes.\n"
     "--device and --tf32 set the config's device and tf32 keys (default cpu, false).\n"
     DEVICE_HELP TF32_HELP,
     F_GRAMMAR | F_RUNDIR | F_SEED | F_GENERATIONS | F_LAMBDA | F_SUBSET | F_THREADS | F_JSON |
         F_DATASET | F_OPTIONAL | F_METER | F_EPOCHS | F_DEVICE | F_TF32},
    {"resume", cmd_resume, "resume RUN_DIR [--threads N] [--device D] [--json]",
     "Continue a killed or stopped run where its checkpoint left it; the result is the one\n"
     "an uninterrupted run gives. Refused if config.used.yaml or grammar.used changed.\n"
     "The run keeps the device its config records; --threads and --device override them\n"
     "for this process only (another device gives slightly different numbers).",
     F_THREADS | F_JSON | F_DEVICE},
    {"measure", cmd_measure,
     "measure MODEL_FILE|PHENOTYPE_FILE [--meter M] [--batch-size N] [--repetitions R]\n"
     "             [--window S] [--threads N] [--device D] [--json]",
     "Energy per inference with the measurement protocol (docs/MEASUREMENT.md): idle\n"
     "baseline, warm-up, R windows of at least S seconds, median and 95% CI. Meters: auto\n"
     "(nvml on the GPU of a cuda device; for cpu rapl, else model), nvml, rapl, model (an\n"
     "estimate, labelled so).\n" DEVICE_HELP,
     F_METER | F_BATCH | F_REPS | F_WINDOW | F_THREADS | F_JSON | F_SEED | F_DEVICE},
    {"calibrate", cmd_calibrate,
     "calibrate [--meter M] [--networks N] [--batch-size N] [--repetitions R] [--window S]\n"
     "             [--device D] [--json]",
     "Fit the model meter's coefficients (energy.model) by least squares to real measurements\n"
     "of N random networks; needs a real meter (rapl or nvml).\n" DEVICE_HELP,
     F_METER | F_NETWORKS | F_BATCH | F_REPS | F_WINDOW | F_THREADS | F_JSON | F_SEED |
         F_OPTIONAL | F_DEVICE},
    {"report", cmd_report, "report RUN_DIR... [--out DIR] [--baseline SETTING] [--json]",
     "A report (report.md, report.html, gnuplot PNG and SVG plots) over run directories:\n"
     "progress per generation, accuracy against energy per inference with the\n"
     "non-dominated front, and for runs named <setting>-seed<N> the mean and std over seeds\n"
     "of each setting's best, with the energy reduction against the baseline setting.",
     0},
    {"export", cmd_export,
     "export MODEL_FILE --format onnx|c [-o OUT [-o OUT2]] [--logits] [--prefix NAME]\n"
     "             [--bench] [--seconds S] [--json]",
     "Export a saved model (train --save, a run's best/ or models/) to ONNX (opset 13) or to\n"
     "one dependency-free C99 file plus header (static const weights, one static arena, no\n"
     "malloc). Prints the arena size, weight bytes and FLOPs per image; --bench compiles the\n"
     "C file with cc -O2 and times one image. A two-headed (partitioned) model gives two\n"
     "files: OUT.model0 and OUT.model1 (or two -o). The input is normalised, not folded in:\n"
     "(pixel - mean) / std, stated in the ONNX metadata and the C header. --logits leaves\n"
     "out the output softmax. See README.md (\"Export\") and docs/FORMATS.md.",
     0},
    {"help", cmd_help, "help [COMMAND]", "Show the commands, or one command's flags.", 0},
};

static const struct command *find_command(const char *name)
{
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(commands[i].name, name))
            return &commands[i];
    return NULL;
}

static void print_usage(FILE *f)
{
    fprintf(f, "enevo %s — energy-aware neuroevolution\n\nusage:\n", ENEVO_VERSION);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  enevo %s\n", commands[i].usage);
    fprintf(f, "\n'enevo help COMMAND' explains one command.\n");
}

static int cmd_help(const struct args *a)
{
    const struct command *c = a->positional ? find_command(a->positional) : NULL;
    if (!c) {
        print_usage(stdout);
        return 0;
    }
    printf("usage: enevo %s\n\n%s\n", c->usage, c->help);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        print_usage(stderr);
        return EXIT_USAGE;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("enevo %s\n", ENEVO_VERSION);
        return 0;
    }
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        print_usage(stdout);
        return 0;
    }
    const struct command *c = find_command(argv[1]);
    if (!c) {
        fprintf(stderr, "enevo: unknown command '%s'\n", argv[1]);
        print_usage(stderr);
        return EXIT_USAGE;
    }
    struct args a;
    if (c->run == cmd_report)
        return report_main(argc - 2, argv + 2);
    if (c->run == cmd_export)
        return enevo_tool_export(argc - 2, argv + 2);
    if (c->run == cmd_help) {
        memset(&a, 0, sizeof a);
        a.positional = argc > 2 ? argv[2] : NULL;
        return cmd_help(&a);
    }
    int rc = parse_args(c, argc - 2, argv + 2, &a);
    if (rc)
        return rc;
    return c->run(&a);
}
