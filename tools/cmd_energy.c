/* tools/cmd_energy.c — enevo measure and calibrate: energy per inference
 * by the measurement protocol (docs/MEASUREMENT.md), and the model meter's
 * coefficients fitted to real measurements. */
#include <cjson/cJSON.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "enevo/config.h"
#include "enevo/energy.h"
#include "enevo/evo.h"
#include "enevo/grammar.h"
#include "enevo/io.h"
#include "enevo/model.h"
#include "enevo/net.h"
#include "enevo/phenotype.h"
#include "enevo/rng.h"

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

int cmd_measure(const struct args *a)
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

int cmd_calibrate(const struct args *a)
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
