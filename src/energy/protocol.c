/* The measurement protocol (docs/MEASUREMENT.md): idle baseline, warm-up,
 * R windows of at least window_s each, aligned to counter ticks where the
 * meter ticks, medians and a distribution-free 95% CI. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "enevo/energy.h"
#include "enevo/train.h"

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

void enevo_median_ci(double *v, int n, double *median, double *lo, double *hi)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    *median = n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
    /* The k-th smallest and k-th largest bound the median with confidence
     * 1 - 2 P(Bin(n, 1/2) < k); take the largest k that keeps it >= 95%. */
    int k = 0;
    double tail = 0, term = pow(0.5, n); /* P(X = 0) */
    for (int j = 0; j < n / 2; j++) {
        if (2 * (tail + term) > 0.05)
            break;
        tail += term;
        k = j + 1;
        term = term * (n - j) / (j + 1);
    }
    if (k == 0) { /* too few windows for a 95% interval: the full range */
        *lo = v[0];
        *hi = v[n - 1];
    } else {
        *lo = v[k - 1];
        *hi = v[n - k];
    }
}

struct enevo_measure_opts enevo_measure_defaults(const struct enevo_meter *m)
{
    struct enevo_measure_opts o = {.repetitions = 10, .window_s = 1.0, .idle_s = 1.0,
                                   .warmup_min = 3};
    /* The model estimate depends only on the work, not on the window: short
     * windows suffice to measure latency. */
    if (m && m->estimate) {
        o.repetitions = 5;
        o.window_s = 0.2;
        o.idle_s = 0;
    }
    return o;
}

static void sleep_s(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts))
        ;
}

/* Wait for the next change of a ticking counter (at most 2 s). */
static int next_tick(struct enevo_meter *m, double *e, double *t, char *err, size_t errlen)
{
    double e0, t0;
    int rc = enevo_meter_read(m, &e0, &t0, err, errlen);
    if (rc)
        return rc;
    do {
        if ((rc = enevo_meter_read(m, e, t, err, errlen)))
            return rc;
    } while (*e == e0 && *t - t0 < 2.0);
    return 0;
}

int enevo_measure(struct enevo_net *net, const float *x, struct enevo_meter *m,
                  const struct enevo_measure_opts *o, struct enevo_measurement *out, char *err,
                  size_t errlen)
{
    memset(out, 0, sizeof *out);
    int R = o->repetitions;
    if (R < 1 || R > 1000 || !(o->window_s > 0))
        return enevo_errf(err, errlen, ENEVO_EINVAL,
                          "repetitions must be in [1, 1000] and the window > 0 s");
    int batch = enevo_net_batch(net);
    double flops = enevo_net_flops(net) * batch, bytes = enevo_net_bytes_per_batch(net);
    snprintf(out->label, sizeof out->label, "%s", m->label);
    out->estimate = m->estimate;
    out->batch = batch;
    out->repetitions = R;
    out->window_s = o->window_s;
    double e0, t0, e1, t1;
    int rc;
    /* 1. idle baseline, nothing running */
    if (o->idle_s > 0) {
        if ((rc = enevo_meter_read(m, &e0, &t0, err, errlen)))
            return rc;
        sleep_s(o->idle_s);
        if ((rc = enevo_meter_read(m, &e1, &t1, err, errlen)))
            return rc;
        out->idle_w = t1 > t0 ? (e1 - e0) / (t1 - t0) : 0;
    }
    /* 2. warm-up until the pass time settles (within 10% of the last). It
     * also copies x to the device, once: the windows rerun the net on it. */
    double last = 0;
    for (int i = 0; i < 50; i++) {
        double s = enevo_now();
        if ((rc = enevo_net_forward(net, x, false, 0)))
            return enevo_errf(err, errlen, rc, "inference failed during warm-up");
        double d = enevo_now() - s;
        if (i + 1 >= o->warmup_min && last > 0 && fabs(d - last) <= 0.1 * last)
            break;
        last = d;
    }
    /* 2b. With a real meter, the windows' own workload for one window's
     * length before the first: a GPU's clocks and power take hundreds of
     * milliseconds to settle, and the first window would read low. */
    if (!m->estimate) {
        double ws = enevo_now();
        do {
            if ((rc = enevo_net_forward_again(net)))
                return enevo_errf(err, errlen, rc, "inference failed during warm-up");
        } while (enevo_now() - ws < o->window_s);
        if ((rc = enevo_net_sync(net)))
            return enevo_errf(err, errlen, rc, "the device failed during warm-up");
    }
    /* 3. R windows */
    double *jpi = calloc((size_t)R, sizeof *jpi), *jnet = calloc((size_t)R, sizeof *jnet),
           *pw = calloc((size_t)R, sizeof *pw), *lat = calloc((size_t)R, sizeof *lat);
    if (!jpi || !jnet || !pw || !lat) {
        free(jpi);
        free(jnet);
        free(pw);
        free(lat);
        return enevo_errf(err, errlen, ENEVO_ENOMEM, "out of memory");
    }
    for (int r = 0; r < R && !rc; r++) {
        /* A window holds its own passes only: nothing queued before it
         * (a GPU runs asynchronously), nothing of it left after it. */
        if ((rc = enevo_net_sync(net))) {
            enevo_errf(err, errlen, rc, "device error before a measurement window");
            break;
        }
        rc = m->ticks ? next_tick(m, &e0, &t0, err, errlen)
                      : enevo_meter_read(m, &e0, &t0, err, errlen);
        if (rc)
            break;
        double ws = enevo_now();
        long passes = 0;
        do {
            if ((rc = enevo_net_forward_again(net))) {
                enevo_errf(err, errlen, rc, "inference failed during measurement");
                break;
            }
            if (m->ops->account)
                m->ops->account(m, flops, bytes);
            passes++;
        } while (enevo_now() - ws < o->window_s);
        if (!rc && (rc = enevo_net_sync(net)))
            enevo_errf(err, errlen, rc, "device error at the end of a measurement window");
        if (rc)
            break;
        /* Timing each pass would time its launch only on a GPU: the
         * latency is the window's time, up to the sync, over its passes. */
        double work = enevo_now() - ws;
        /* Stop on the first tick after the work ended: the counter then
         * covers all of it (and a little idle time, counted in T). */
        rc = m->ticks ? next_tick(m, &e1, &t1, err, errlen)
                      : enevo_meter_read(m, &e1, &t1, err, errlen);
        if (rc)
            break;
        double E = e1 - e0, T = t1 - t0, imgs = (double)passes * batch;
        if (!(E > 0) && !m->estimate) {
            rc = enevo_errf(err, errlen, ENEVO_EIO,
                            "%s read %.3g J over a %.2f s window of work: the counter is not "
                            "updating",
                            m->label, E, T);
            break;
        }
        jpi[r] = E / imgs;
        jnet[r] = (E - out->idle_w * T) / imgs;
        pw[r] = T > 0 ? E / T : 0;
        lat[r] = work / (double)passes;
    }
    if (!rc) {
        double lo, hi, dummy;
        enevo_median_ci(jnet, R, &out->j_per_inference_net, &dummy, &dummy);
        enevo_median_ci(pw, R, &out->power_w, &dummy, &dummy);
        enevo_median_ci(lat, R, &out->latency_batch_s, &dummy, &dummy);
        enevo_median_ci(jpi, R, &out->j_per_inference, &lo, &hi);
        out->ci_low = lo;
        out->ci_high = hi;
        out->latency_image_s = out->latency_batch_s / batch;
        out->images_per_s = out->latency_batch_s > 0 ? batch / out->latency_batch_s : 0;
    }
    free(jpi);
    free(jnet);
    free(pw);
    free(lat);
    return rc;
}
