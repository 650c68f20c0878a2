/* enevo/energy.h — energy meters and the measurement protocol.
 *
 *     struct enevo_meter_cfg mc = enevo_meter_defaults();
 *     snprintf(mc.compute_device, sizeof mc.compute_device, "%s", enevo_net_device(net));
 *     struct enevo_meter *m;
 *     char chosen[512];                                             // which auto chose, and why
 *     if (enevo_meter_open("auto", &mc, &m, chosen, sizeof chosen, err, sizeof err)) ...
 *     struct enevo_measure_opts mo = enevo_measure_defaults(m);
 *     struct enevo_measurement r;
 *     enevo_measure(net, x, m, &mo, &r, err, sizeof err);           // x: one batch of inputs
 *     printf("%.3g J/inference (%s)\n", r.j_per_inference, r.label);
 *     enevo_meter_close(m);
 *
 * Meters (`struct enevo_meter`): nvml (NVIDIA, loaded with dlopen at run
 * time: the energy counter, else an integral of power samples), rapl (Linux
 * powercap: package and dram domains, counter wraparound handled), model (an
 * estimate from FLOPs and bytes moved, always labelled model-estimate), fake
 * (scripted, for tests). A meter never reports a silent zero: a failed or
 * zero reading is an error with its reason.
 */
#ifndef ENEVO_ENERGY_H
#define ENEVO_ENERGY_H

#include "enevo/api.h"

#include <stdbool.h>
#include <stddef.h>

#include "enevo/error.h"
#include "enevo/net.h"

struct enevo_meter;

struct enevo_meter_ops {
    const char *name;
    int (*open)(struct enevo_meter *m, char *err, size_t errlen);
    /* Energy since open (J) and the time of the reading (monotonic s). */
    int (*read)(struct enevo_meter *m, double *joules, double *t, char *err, size_t errlen);
    void (*close)(struct enevo_meter *m);
    /* The work a measured pass did (model and fake meters use it). */
    void (*account)(struct enevo_meter *m, double flops, double bytes);
};

/* Coefficients of the model estimate and the meters' settings. */
struct enevo_meter_cfg {
    int nvml_device;        /* GPU index for nvml */
    bool nvml_force_integral; /* integrate power even where the energy counter
                                 works (to compare the two methods) */
    const char *rapl_root;  /* powercap root; NULL = $ENEVO_POWERCAP_ROOT or /sys/class/powercap */
    bool on_gpu;            /* inference runs on a GPU (auto then prefers nvml) */
    /* The device the measured work runs on, resolved: "cpu" or "cuda:N"
     * ("" = not said: on_gpu and nvml_device as set). When set it decides:
     * cuda:N sets on_gpu and nvml_device = N; cpu clears on_gpu, so auto
     * never picks nvml (it would measure an idle GPU while the CPU works),
     * though an explicit "nvml" still opens. */
    char compute_device[16];
    /* model: energy = flops * e_flop + bytes * e_byte + static_w * latency,
     * latency = max(flops / peak_flops, bytes / bandwidth) (a roofline, so the
     * estimate is a deterministic function of the network). */
    double e_flop_pj;       /* pJ per FLOP */
    double e_byte_pj;       /* pJ per byte moved */
    double static_w;        /* W drawn while inference runs, whatever it does */
    double peak_gflops;     /* sustained GFLOP/s of the device */
    double bandwidth_gbs;   /* sustained GB/s */
    /* fake: constant power plus energy per accounted FLOP */
    double fake_idle_w, fake_j_per_flop;
    bool fake_zero;         /* a broken meter that reads zero */
};

struct enevo_meter {
    const struct enevo_meter_ops *ops;
    struct enevo_meter_cfg cfg;
    char label[64];   /* nvml-energy-counter, nvml-power-integral, rapl-package,
                         rapl-package+dram, model-estimate, fake */
    bool estimate;    /* true for model-estimate: printed as an estimate */
    bool ticks;       /* readings change in steps: align windows to them */
    char device[160]; /* what is measured, e.g. "GPU 0 (NVIDIA H100 80GB HBM3)" or
                         "/sys/class/powercap: package-0+dram" (for the run record) */
    void *priv;
    /* enevo_meter_read's memory of the previous reading (it rejects a
     * reading that goes down); zero-initialise when building a meter by hand. */
    bool has_last;
    double last_j, last_t;
};

ENEVO_API struct enevo_meter_cfg enevo_meter_defaults(void);
/* name: auto | nvml | rapl | model | fake. For auto, *chosen (if not NULL)
 * gets a sentence saying which meter was picked and why: on a GPU nvml,
 * else rapl, else the model estimate. Caller closes. */
ENEVO_API int enevo_meter_open(const char *name, const struct enevo_meter_cfg *cfg,
                               struct enevo_meter **out, char *chosen, size_t chosen_len, char *err,
                               size_t errlen);
ENEVO_API void enevo_meter_close(struct enevo_meter *m);
ENEVO_API int enevo_meter_read(struct enevo_meter *m, double *joules, double *t, char *err,
                               size_t errlen);

/* The model estimate for a network, without running it (J per image,
 * and its parts). Deterministic. */
struct enevo_estimate {
    double j_per_inference, dynamic_j, static_j, latency_s, power_w;
};
ENEVO_API void enevo_energy_estimate(const struct enevo_meter_cfg *cfg, double flops, double bytes,
                                     struct enevo_estimate *out);

/* ---- the protocol ---- */

struct enevo_measure_opts {
    int repetitions;   /* R windows (default 10) */
    double window_s;   /* each at least this long (default 1 s) */
    double idle_s;     /* idle baseline length (default 1 s; 0 = skip) */
    int warmup_min;    /* untimed passes before timing (default 3) */
};

struct enevo_measurement {
    /* medians over the R windows, per image */
    double j_per_inference;        /* gross */
    double j_per_inference_net;    /* minus idle power over the window */
    double ci_low, ci_high;        /* 95% CI of the gross median (order statistics) */
    double power_w;                /* mean power in the windows */
    double idle_w;                 /* baseline before the windows */
    double latency_batch_s, latency_image_s, images_per_s;
    int repetitions, batch;
    double window_s;
    char label[64];
    bool estimate;
};

ENEVO_API struct enevo_measure_opts enevo_measure_defaults(const struct enevo_meter *m);
/* Measure inference of `net` (an inference net; its batch is the
 * measurement batch) on the batch x: idle baseline, warm-up, R windows of at
 * least window_s each (aligned to counter ticks where the meter ticks),
 * then medians and a 95% CI. x is copied to the device by the warm-up only:
 * the windows rerun the net on it (enevo_net_forward_again) and synchronise
 * the device at both ends, so they hold the work and no copies; the latency
 * is a window's time over its passes. */
ENEVO_API int enevo_measure(struct enevo_net *net, const float *x, struct enevo_meter *m,
                            const struct enevo_measure_opts *o, struct enevo_measurement *out,
                            char *err, size_t errlen);
/* Median of v[0..n) and the distribution-free 95% CI of the median from
 * order statistics (sorts v in place). */
ENEVO_API void enevo_median_ci(double *v, int n, double *median, double *lo, double *hi);

#endif
