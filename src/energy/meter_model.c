/* src/energy/meter_model.c — the model estimate as a meter.
 *
 * It accumulates the work accounted to it and reads the energy the model
 * gives for that work (dynamic energy plus static power over the modelled,
 * not the measured, busy time). So a reading depends only on the work done,
 * never on wall-clock time or machine load: two runs of the same network
 * read the same. An idle window reads no energy, by definition (the model's
 * idle power is 0); that is a property of the estimate, not a broken meter.
 */
#include "energy/meter_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct model_priv {
    double flops, bytes; /* accounted since open */
    double j;            /* the estimate for them */
};

static int model_open(struct enevo_meter *m, char *err, size_t errlen)
{
    const struct enevo_meter_cfg *c = &m->cfg;
    /* The coefficients come from a config file; catch what would make the
     * estimate NaN, negative or infinite here, with the key to fix. */
    if (!(c->peak_gflops > 0) || !isfinite(c->peak_gflops))
        return enevo_errf(err, errlen, ENEVO_EINVAL,
                          "model meter: peak_gflops must be > 0 (got %g)", c->peak_gflops);
    if (!(c->bandwidth_gbs > 0) || !isfinite(c->bandwidth_gbs))
        return enevo_errf(err, errlen, ENEVO_EINVAL,
                          "model meter: bandwidth_gbs must be > 0 (got %g)", c->bandwidth_gbs);
    if (!(c->e_flop_pj >= 0) || !(c->e_byte_pj >= 0) || !(c->static_w >= 0) ||
        !isfinite(c->e_flop_pj) || !isfinite(c->e_byte_pj) || !isfinite(c->static_w))
        return enevo_errf(err, errlen, ENEVO_EINVAL,
                          "model meter: e_flop_pj, e_byte_pj and static_w must be finite and >= 0 "
                          "(got %g, %g, %g)",
                          c->e_flop_pj, c->e_byte_pj, c->static_w);
    struct model_priv *p = calloc(1, sizeof *p);
    if (!p)
        return enevo_errf(err, errlen, ENEVO_ENOMEM, "out of memory opening the model meter");
    m->priv = p;
    snprintf(m->label, sizeof m->label, "model-estimate");
    snprintf(m->device, sizeof m->device,
             "roofline model: %g pJ/FLOP, %g pJ/byte, %g W static, %g GFLOP/s, %g GB/s",
             c->e_flop_pj, c->e_byte_pj, c->static_w, c->peak_gflops, c->bandwidth_gbs);
    m->estimate = true;
    m->ticks = false;
    return 0;
}

static int model_read(struct enevo_meter *m, double *joules, double *t, char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    const struct model_priv *p = m->priv;
    *joules = p->j;
    *t = enevo_now();
    return 0;
}

static void model_account(struct enevo_meter *m, double flops, double bytes)
{
    struct model_priv *p = m->priv;
    struct enevo_estimate e;
    /* Per pass, so that the meter agrees with enevo_energy_estimate summed
     * over passes (the roofline's max() is not additive over passes). */
    enevo_energy_estimate(&m->cfg, flops, bytes, &e);
    p->flops += flops;
    p->bytes += bytes;
    p->j += e.j_per_inference;
}

static void model_close(struct enevo_meter *m)
{
    free(m->priv);
    m->priv = NULL;
}

const struct enevo_meter_ops enevo_meter_model = {
    .name = "model",
    .open = model_open,
    .read = model_read,
    .close = model_close,
    .account = model_account,
};
