/* src/energy/meter_internal.h — the meters' ops tables and shared helpers.
 *
 * enevo_meter_open fills m->ops and m->cfg, then calls ops->open, which sets
 * label, estimate, ticks, device and priv. ops->read returns the energy since
 * open; enevo_meter_read wraps it with the "never a silent zero" checks, so a
 * meter's own read need not repeat them. ops->close frees priv (m itself is
 * freed by enevo_meter_close).
 */
#ifndef ENEVO_METER_INTERNAL_H
#define ENEVO_METER_INTERNAL_H

#include "enevo/energy.h"

extern const struct enevo_meter_ops enevo_meter_nvml;
extern const struct enevo_meter_ops enevo_meter_rapl;
extern const struct enevo_meter_ops enevo_meter_model;
extern const struct enevo_meter_ops enevo_meter_fake;

/* enevo_now() (CLOCK_MONOTONIC seconds) is the time base of every reading. */
#include "enevo/io.h"

#endif
