/* tools/cli.c — helpers the commands share: messages, the device, the
 * dataset, the meter, JSON output (declared in tools/cli.h). */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "enevo/config.h"
#include "enevo/data.h"
#include "enevo/energy.h"
#include "enevo/error.h"
#include "enevo/io.h"
#include "enevo/net.h"

int fail(const char *cmd, const char *err, int rc)
{
    fprintf(stderr, "enevo %s: %s (%s)\n", cmd, err, enevo_strerror(rc));
    return 1;
}

int resolve_device(const char *cmd, const char *want, struct device *dv)
{
    char err[ENEVO_ERR_LEN];
    int rc = enevo_device_resolve(want ? want : "cpu", dv->name, sizeof dv->name, dv->desc,
                                  sizeof dv->desc, err, sizeof err);
    return rc ? fail(cmd, err, rc) : 0;
}

void print_json(cJSON *o)
{
    char *s = cJSON_PrintUnformatted(o);
    if (s)
        printf("%s\n", s);
    free(s);
    cJSON_Delete(o);
}

/* Load the dataset (any format enevo_data_open reads; optionally resized)
 * or report why not. */
int load_data(const char *cmd, const struct args *a, struct enevo_data *d)
{
    char err[ENEVO_ERR_LEN];
    struct enevo_data_opts o = enevo_data_opts_default();
    o.resize = a->resize;
    o.coarse = a->labels && !strcmp(a->labels, "coarse");
    for (int i = 0; a->norm_from && i < a->norm_from->n; i++) {
        const struct enevo_aug_op *op = &a->norm_from->op[i];
        if (op->kind != ENEVO_AUG_NORMALIZE)
            continue;
        o.norm_c = op->n_norm;
        memcpy(o.norm_mean, op->mean, sizeof o.norm_mean);
        memcpy(o.norm_std, op->std, sizeof o.norm_std);
    }
    int rc = enevo_data_open(a->dataset, &o, d, err, sizeof err);
    if (rc)
        return fail(cmd, err, rc);
    return 0;
}

/* The set carries the normalisation, for the model files written from it. */
void carry_norm(struct enevo_dataset *s, const struct enevo_data *d)
{
    s->norm_mean = d->ch_mean;
    s->norm_std = d->ch_std;
}

/* A whole text file, or NULL with the reason on stderr. */
char *slurp(const char *cmd, const char *path)
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
int open_meter(const char *cmd, const char *name, const struct enevo_config *c,
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
