/* src/energy/meter_fake.c — a scripted meter for tests of the protocol:
 * constant power fake_idle_w since open plus fake_j_per_flop per accounted
 * FLOP, or (fake_zero) a broken meter that always reads 0 J. */
#include "energy/meter_internal.h"

#include <stdio.h>
#include <stdlib.h>

struct fake_priv {
    double t_open;
    double flops;
};

static int fake_open(struct enevo_meter *m, char *err, size_t errlen)
{
    struct fake_priv *p = calloc(1, sizeof *p);
    if (!p)
        return enevo_errf(err, errlen, ENEVO_ENOMEM, "out of memory opening the fake meter");
    p->t_open = enevo_now();
    m->priv = p;
    snprintf(m->label, sizeof m->label, "fake");
    if (m->cfg.fake_zero)
        snprintf(m->device, sizeof m->device, "fake meter that always reads 0 J");
    else
        snprintf(m->device, sizeof m->device, "fake meter: %g W + %g J/FLOP", m->cfg.fake_idle_w,
                 m->cfg.fake_j_per_flop);
    m->estimate = false;
    m->ticks = false;
    return 0;
}

static int fake_read(struct enevo_meter *m, double *joules, double *t, char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    const struct fake_priv *p = m->priv;
    double now = enevo_now();
    *t = now;
    *joules = m->cfg.fake_zero
                  ? 0.0
                  : m->cfg.fake_idle_w * (now - p->t_open) + p->flops * m->cfg.fake_j_per_flop;
    return 0;
}

static void fake_account(struct enevo_meter *m, double flops, double bytes)
{
    (void)bytes;
    struct fake_priv *p = m->priv;
    p->flops += flops;
}

static void fake_close(struct enevo_meter *m)
{
    free(m->priv);
    m->priv = NULL;
}

const struct enevo_meter_ops enevo_meter_fake = {
    .name = "fake",
    .open = fake_open,
    .read = fake_read,
    .close = fake_close,
    .account = fake_account,
};
