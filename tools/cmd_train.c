/* tools/cmd_train.c — enevo train, eval and bench: one network, trained
 * and tested on a dataset, a saved model tested, or a network timed. */
#include <cjson/cJSON.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "cli.h"
#include "enevo/data.h"
#include "enevo/io.h"
#include "enevo/model.h"
#include "enevo/net.h"
#include "enevo/optim.h"
#include "enevo/partition.h"
#include "enevo/phenotype.h"
#include "enevo/rng.h"
#include "enevo/train.h"

static long peak_rss_kib(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

int cmd_train(const struct args *a)
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
    /* The splits take the training images (no second copy of them). */
    if ((rc = enevo_data_split_take(&d.train, n_train, n_val, n_fit, a->seed, &split, err,
                                    sizeof err))) {
        fail("train", err, rc);
        goto out;
    }
    /* The splits own the images now (d.train keeps only its shape). */
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
            struct enevo_dataset normed = {.c = in.c};
            carry_norm(&normed, &d);
            enevo_model_set_norm(&m, &normed);
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

int cmd_eval(const struct args *a)
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
    /* Re-normalise, channel by channel, if the model was trained with other
     * statistics (load fills m.ch_* from mean/std for older files). */
    for (int ch = 0; ch < d.test.c && ch < m.norm_c; ch++) {
        float dm = d.ch_mean[ch], ds = d.ch_std[ch], mm = m.ch_mean[ch], ms = m.ch_std[ch];
        if (dm == mm && ds == ms)
            continue;
        size_t plane = (size_t)d.test.h * d.test.w;
        for (int i = 0; i < d.test.n; i++) {
            float *x = d.test.x + ((size_t)i * d.test.c + (size_t)ch) * plane;
            for (size_t k = 0; k < plane; k++)
                x[k] = (x[k] * ds + dm - mm) / ms;
        }
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

int cmd_bench(const struct args *a)
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
