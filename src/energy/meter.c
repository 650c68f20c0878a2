/* src/energy/meter.c — meter registry, `auto` selection, the read wrapper
 * that refuses impossible readings, and the model estimate's coefficients
 * and formulas. */
#include "energy/meter_internal.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Defaults of the model estimate. They are estimates, not measurements: every
 * reading of the model meter is labelled model-estimate, and the numbers are
 * meant to be calibrated against a real meter (nvml or rapl) on the target.
 *
 * e_flop_pj = 20 pJ/FLOP: energy of one FP32 FLOP on a server CPU core,
 *   instruction overhead (fetch, decode, register file, scheduling) included.
 *   The arithmetic alone is ~4.6 pJ for a 32-bit FP multiply-add at 45 nm
 *   (Horowitz, "Computing's energy problem", ISSCC 2014), but a core spends
 *   several times that per useful FLOP: ~5 W of dynamic power for 150-250
 *   GFLOP/s of AVX-512 FMA on 2 cores gives 20-40 pJ/FLOP. 20 is the low end,
 *   as GEMM-dominated convolution keeps the vector units busy.
 * e_byte_pj = 10 pJ/byte moved: on-chip SRAM/cache traffic costs ~1-10
 *   pJ/byte, DRAM ~20-100 pJ/byte (Horowitz 2014); the activations of these
 *   small nets mostly stay in cache.
 * static_w = 10 W: power drawn while inference runs whatever it computes
 *   (uncore plus the leakage of the 2 cores used). A guess to be calibrated.
 * peak_gflops = 150: sustained FP32 GFLOP/s, as oneDNN reaches ~150-250
 *   GFLOP/s on 2 AVX-512 cores of the development machine (low end taken,
 *   since small layers do not reach peak).
 * bandwidth_gbs = 20: sustained memory bandwidth available to 2 cores. */
#define ENEVO__MODEL_E_FLOP_PJ 20.0
#define ENEVO__MODEL_E_BYTE_PJ 10.0
#define ENEVO__MODEL_STATIC_W 10.0
#define ENEVO__MODEL_PEAK_GFLOPS 150.0
#define ENEVO__MODEL_BANDWIDTH_GBS 20.0

struct enevo_meter_cfg enevo_meter_defaults(void)
{
    return (struct enevo_meter_cfg){
        .nvml_device = 0,
        .rapl_root = NULL,
        .on_gpu = false,
        .e_flop_pj = ENEVO__MODEL_E_FLOP_PJ,
        .e_byte_pj = ENEVO__MODEL_E_BYTE_PJ,
        .static_w = ENEVO__MODEL_STATIC_W,
        .peak_gflops = ENEVO__MODEL_PEAK_GFLOPS,
        .bandwidth_gbs = ENEVO__MODEL_BANDWIDTH_GBS,
        /* fake: 50 W idle and 1 nJ per FLOP, round numbers for tests */
        .fake_idle_w = 50.0,
        .fake_j_per_flop = 1e-9,
        .fake_zero = false,
    };
}

void enevo_energy_estimate(const struct enevo_meter_cfg *cfg, double flops, double bytes,
                           struct enevo_estimate *out)
{
    /* A roofline: the pass takes as long as its slower resource needs. A
     * non-positive peak or bandwidth drops that term rather than dividing by
     * zero (enevo_meter_open rejects such a config for the model meter). */
    double t_flop = cfg->peak_gflops > 0 ? flops / (cfg->peak_gflops * 1e9) : 0.0;
    double t_byte = cfg->bandwidth_gbs > 0 ? bytes / (cfg->bandwidth_gbs * 1e9) : 0.0;
    out->latency_s = t_flop > t_byte ? t_flop : t_byte;
    out->dynamic_j = flops * cfg->e_flop_pj * 1e-12 + bytes * cfg->e_byte_pj * 1e-12;
    out->static_j = cfg->static_w * out->latency_s;
    out->j_per_inference = out->dynamic_j + out->static_j;
    out->power_w = out->latency_s > 0 ? out->j_per_inference / out->latency_s : 0.0;
}

static const struct enevo_meter_ops *const meters[] = {
    &enevo_meter_nvml,
    &enevo_meter_rapl,
    &enevo_meter_model,
    &enevo_meter_fake,
};

static int open_one(const struct enevo_meter_ops *ops, const struct enevo_meter_cfg *cfg,
                    struct enevo_meter **out, char *err, size_t errlen)
{
    struct enevo_meter *m = calloc(1, sizeof *m);
    if (!m)
        return enevo_errf(err, errlen, ENEVO_ENOMEM, "out of memory opening meter %s", ops->name);
    m->ops = ops;
    m->cfg = *cfg;
    int status = ops->open(m, err, errlen);
    if (status) {
        free(m);
        return status;
    }
    *out = m;
    return 0;
}

#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static void
say(char *chosen, size_t chosen_len, const char *fmt, ...)
{
    if (!chosen || !chosen_len)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(chosen, chosen_len, fmt, ap);
    va_end(ap);
}

/* "cuda" -> 0, "cuda:N" -> N, "cpu" -> -1; -2 for anything else. The
 * meters build without the network code (bench/meter_check.c), so this
 * reads the resolved names itself rather than asking the backend registry. */
static int gpu_index(const char *device)
{
    if (!strcmp(device, "cpu"))
        return -1;
    if (strncmp(device, "cuda", 4))
        return -2;
    if (!device[4])
        return 0;
    if (device[4] != ':' || device[5] < '0' || device[5] > '9')
        return -2;
    char *end;
    long i = strtol(device + 5, &end, 10);
    return *end || i > 1023 ? -2 : (int)i;
}

int enevo_meter_open(const char *name, const struct enevo_meter_cfg *cfg_in,
                     struct enevo_meter **out, char *chosen, size_t chosen_len, char *err,
                     size_t errlen)
{
    if (!name || !cfg_in || !out)
        return enevo_errf(err, errlen, ENEVO_EINVAL, "enevo_meter_open: NULL argument");
    *out = NULL;
    if (chosen && chosen_len)
        chosen[0] = '\0';
    /* The device the work runs on decides where a GPU meter looks. */
    struct enevo_meter_cfg eff = *cfg_in;
    const struct enevo_meter_cfg *cfg = &eff;
    if (eff.compute_device[0]) {
        int gpu = gpu_index(eff.compute_device);
        if (gpu == -2)
            return enevo_errf(err, errlen, ENEVO_EINVAL,
                              "meter: unknown compute device '%s': expected cpu or cuda:N",
                              eff.compute_device);
        eff.on_gpu = gpu >= 0;
        if (gpu >= 0)
            eff.nvml_device = gpu;
    }

    if (strcmp(name, "auto") != 0) {
        for (size_t i = 0; i < sizeof meters / sizeof meters[0]; i++) {
            if (strcmp(name, meters[i]->name) != 0)
                continue;
            int status = open_one(meters[i], cfg, out, err, errlen);
            if (!status)
                say(chosen, chosen_len, "%s: using %s (%s)", name, (*out)->label, (*out)->device);
            return status;
        }
        return enevo_errf(err, errlen, ENEVO_EINVAL,
                          "unknown meter '%s': valid meters are auto, nvml, rapl, model, fake",
                          name);
    }

    /* auto: a real counter where there is one, else the model, and say why.
     * The reasons the real meters failed go into the sentence, because a run
     * that silently fell back to an estimate is what the protocol must avoid. */
    char why_nvml[ENEVO_ERR_LEN] = "", why_rapl[ENEVO_ERR_LEN] = "";
    if (cfg->on_gpu) {
        int status = open_one(&enevo_meter_nvml, cfg, out, why_nvml, sizeof why_nvml);
        if (!status) {
            say(chosen, chosen_len, "auto: using %s on %s", (*out)->label, (*out)->device);
            return 0;
        }
        /* Only a missing sensor falls through; a bad GPU index is the
         * user's to fix, not a reason to measure something else. */
        if (status != ENEVO_EUNSUPPORTED)
            return enevo_errf(err, errlen, status, "%s", why_nvml);
    } else {
        /* nvml would measure an idle GPU while the CPU does the work. */
        snprintf(why_nvml, sizeof why_nvml, "nvml not tried: the work runs on the CPU");
    }
    int status = open_one(&enevo_meter_rapl, cfg, out, why_rapl, sizeof why_rapl);
    if (!status) {
        if (cfg->on_gpu)
            /* RAPL sees the CPU package, not the GPU doing the work. */
            say(chosen, chosen_len,
                "auto: using %s on %s, which measures the CPU package only, not the GPU. "
                "Why: %s",
                (*out)->label, (*out)->device, why_nvml);
        else
            say(chosen, chosen_len, "auto: using %s on %s (%s)", (*out)->label, (*out)->device,
                why_nvml);
        return 0;
    }
    if (status != ENEVO_EUNSUPPORTED)
        return enevo_errf(err, errlen, status, "%s", why_rapl);
    status = open_one(&enevo_meter_model, cfg, out, err, errlen);
    if (status)
        return status;
    say(chosen, chosen_len,
        "auto: using model-estimate (an estimate from FLOPs and bytes moved, not a "
        "measurement). Why: %s%s%s",
        why_nvml, why_nvml[0] ? "; " : "", why_rapl);
    return 0;
}

void enevo_meter_close(struct enevo_meter *m)
{
    if (!m)
        return;
    if (m->ops && m->ops->close)
        m->ops->close(m);
    free(m);
}

int enevo_meter_read(struct enevo_meter *m, double *joules, double *t, char *err, size_t errlen)
{
    if (!m || !m->ops || !joules || !t)
        return enevo_errf(err, errlen, ENEVO_EINVAL, "enevo_meter_read: NULL argument");
    double j = NAN, when = NAN;
    int status = m->ops->read(m, &j, &when, err, errlen);
    if (status)
        return status;
    /* Never a silent zero, nor a silent nonsense: a reading the caller would
     * turn into a negative or NaN energy is reported with its reason instead. */
    if (!isfinite(j) || !isfinite(when))
        return enevo_errf(err, errlen, ENEVO_ENUMERIC,
                          "meter %s returned a non-finite reading (%g J at t=%g s)", m->label, j,
                          when);
    if (j < 0)
        return enevo_errf(err, errlen, ENEVO_EIO,
                          "meter %s returned a negative energy (%g J since open)", m->label, j);
    if (m->has_last && j < m->last_j)
        return enevo_errf(err, errlen, ENEVO_EIO,
                          "meter %s went down from %.9g J to %.9g J since the last reading "
                          "(counter reset, or a wraparound not handled?)",
                          m->label, m->last_j, j);
    if (m->has_last && when < m->last_t)
        return enevo_errf(err, errlen, ENEVO_EIO,
                          "meter %s: time went backwards (%.9g s after %.9g s)", m->label, when,
                          m->last_t);
    m->has_last = true;
    m->last_j = j;
    m->last_t = when;
    *joules = j;
    *t = when;
    return 0;
}
