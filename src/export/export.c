/* Export: plan the model file, pick the nodes of the one model being
 * exported, and place every activation in a per-image arena by liveness;
 * then hand over to the ONNX or the C writer (onnx.c, c_emit.c). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "enevo/io.h"
#include "export/export_internal.h"

#define ARENA_ALIGN 16 /* floats: every buffer starts on a 64-byte boundary */

static int new_tensor(struct enevo__xnet *x, size_t elems, int step)
{
    struct enevo__xtensor *t = &x->t[x->n_t];
    t->elems = (elems + ARENA_ALIGN - 1) / ARENA_ALIGN * ARENA_ALIGN;
    t->first = t->last = step;
    t->off = 0;
    return x->n_t++;
}

static size_t shape_elems(struct enevo_shape s)
{
    return (size_t)s.c * (size_t)s.h * (size_t)s.w;
}

int enevo__xnet_src(const struct enevo__xnet *x, int node, int k)
{
    int in = x->plan.nodes[node].in[k];
    return in < 0 ? ENEVO_EXPORT_IMAGE : x->dst[in];
}

void enevo__xnet_node_name(const struct enevo__xnet *x, int node, char *buf, size_t n)
{
    const struct enevo_plan_node *p = &x->plan.nodes[node];
    if (p->phen_id >= 0) {
        snprintf(buf, n, "layer %d (%s)", p->phen_id, enevo_layer_kind_name(p->spec.kind));
        return;
    }
    if (p->phen_id == -2) {
        snprintf(buf, n, "partition head (fc after layer %d)", x->phen.partition_point);
        return;
    }
    int id = -1;
    for (int j = node; id < 0 && j < x->plan.n; j++)
        id = x->plan.nodes[j].phen_id;
    snprintf(buf, n, "shape-fix %s before layer %d", enevo_layer_kind_name(p->spec.kind), id);
}

/* Greedy placement, largest buffer first (TFLite Micro's greedy planner):
 * each goes at the lowest offset free over its whole lifetime. */
static void place(struct enevo__xnet *x, int *order)
{
    for (int i = 0; i < x->n_t; i++)
        order[i] = i;
    /* insertion sort: a few dozen tensors */
    for (int i = 1; i < x->n_t; i++) {
        int v = order[i], j = i - 1;
        while (j >= 0 && (x->t[order[j]].elems < x->t[v].elems ||
                          (x->t[order[j]].elems == x->t[v].elems && order[j] > v))) {
            order[j + 1] = order[j];
            j--;
        }
        order[j + 1] = v;
    }
    x->arena_floats = 0;
    for (int i = 0; i < x->n_t; i++) {
        struct enevo__xtensor *t = &x->t[order[i]];
        size_t off = 0;
        bool moved = true;
        /* Move past every placed, time-overlapping buffer it collides with,
         * until it collides with none. */
        while (moved) {
            moved = false;
            for (int j = 0; j < i; j++) {
                const struct enevo__xtensor *p = &x->t[order[j]];
                bool time = p->first <= t->last && t->first <= p->last;
                bool space = p->off < off + t->elems && off < p->off + p->elems;
                if (time && space) {
                    off = p->off + p->elems;
                    moved = true;
                }
            }
        }
        t->off = off;
        if (off + t->elems > x->arena_floats)
            x->arena_floats = off + t->elems;
    }
}

int enevo__xnet_init(struct enevo__xnet *x, const struct enevo_model_file *m, int which,
                     char *err, size_t errlen)
{
    memset(x, 0, sizeof *x);
    x->m = m;
    x->which = which;
    int rc = enevo_phenotype_parse(m->phenotype, "the model's phenotype", &x->phen, err, errlen);
    if (rc)
        return rc;
    struct enevo_shape in = {m->in_c, m->in_h, m->in_w};
    if ((rc = enevo_plan_build(&x->phen, in, m->n_classes, &x->plan, err, errlen))) {
        enevo_phenotype_free(&x->phen);
        return rc;
    }
    if (m->n_params != x->plan.n_params || m->n_stats != x->plan.n_stats) {
        rc = enevo_errf(err, errlen, ENEVO_EFORMAT,
                        "the model holds %zu parameters and %zu statistics, its phenotype needs "
                        "%zu and %zu",
                        m->n_params, m->n_stats, x->plan.n_params, x->plan.n_stats);
        goto fail;
    }
    int n_models = x->plan.output2 >= 0 ? 2 : 1;
    if (which < 0 || which >= n_models) {
        rc = enevo_errf(err, errlen, ENEVO_EINVAL, "model %d: the file holds %s", which,
                        n_models == 2 ? "models 0 (full) and 1 (early exit)" : "one model (0)");
        goto fail;
    }
    int n = x->plan.n;
    x->out = which ? x->plan.output2 : x->plan.output;
    x->keep = calloc((size_t)n, sizeof *x->keep);
    x->dst = malloc(sizeof(int) * (size_t)n);
    x->sum = malloc(sizeof(int) * (size_t)n);
    x->t = calloc(2 * (size_t)n + 1, sizeof *x->t);
    int *order = malloc(sizeof(int) * (2 * (size_t)n + 1));
    if (!x->keep || !x->dst || !x->sum || !x->t || !order) {
        free(order);
        rc = enevo_errf(err, errlen, ENEVO_ENOMEM, "out of memory");
        goto fail;
    }
    /* Ancestors of the output head: inputs always precede their consumers. */
    x->keep[x->out] = true;
    for (int i = x->out; i >= 0; i--)
        for (int k = 0; x->keep[i] && k < x->plan.nodes[i].n_in; k++)
            if (x->plan.nodes[i].in[k] >= 0)
                x->keep[x->plan.nodes[i].in[k]] = true;
    for (int i = 0; i < n; i++) {
        const struct enevo_plan_node *p = &x->plan.nodes[i];
        x->dst[i] = x->sum[i] = -1;
        if (!x->keep[i])
            continue;
        x->flops += p->flops;
        for (int k = 0; k < p->n_in; k++) {
            int s = enevo__xnet_src(x, i, k);
            if (s >= 0 && x->t[s].last < i)
                x->t[s].last = i;
        }
        if (p->n_in > 1)
            x->sum[i] = new_tensor(x, shape_elems(p->in_shape), i);
        if (p->spec.kind == ENEVO_LAYER_DROPOUT) /* identity at inference */
            x->dst[i] = p->n_in > 1 ? x->sum[i] : enevo__xnet_src(x, i, 0);
        else
            x->dst[i] = new_tensor(x, shape_elems(p->out_shape), i);
    }
    x->t[x->dst[x->out]].last = n; /* read once more, into the caller's output */
    place(x, order);
    free(order);
    return 0;
fail:
    enevo__xnet_free(x);
    return rc;
}

void enevo__xnet_free(struct enevo__xnet *x)
{
    free(x->keep);
    free(x->dst);
    free(x->sum);
    free(x->t);
    enevo_plan_free(&x->plan);
    enevo_phenotype_free(&x->phen);
    memset(x, 0, sizeof *x);
}

void enevo__xnet_norm(const struct enevo_model_file *m, int c, float *mean, float *std)
{
    bool per =
        m->norm_c > 0 && m->norm_c == m->in_c && c < m->norm_c && m->norm_c <= ENEVO_MAX_CHANNELS;
    *mean = per ? m->ch_mean[c] : m->mean;
    *std = per ? m->ch_std[c] : m->std;
}

char *enevo__xnet_norm_list(const struct enevo_model_file *m, bool std, const char *sep,
                            const char *suffix)
{
    struct enevo_pb b = {0};
    for (int c = 0; c < (m->in_c > 0 ? m->in_c : 1); c++) {
        float mu, sd;
        char num[32], v[64];
        enevo__xnet_norm(m, c, &mu, &sd);
        snprintf(num, sizeof num, "%.9g", (double)(std ? sd : mu));
        /* A C literal with a suffix needs a point: "1.0f", not "1f". */
        bool point = strpbrk(num, ".eEn") != NULL;
        int n = snprintf(v, sizeof v, "%s%s%s%s", c ? sep : "", num,
                         suffix[0] && !point ? ".0" : "", suffix);
        enevo__pb_raw(&b, v, n > 0 && (size_t)n < sizeof v ? (size_t)n : 0);
    }
    enevo__pb_raw(&b, "", 1);
    if (b.oom) {
        enevo__pb_free(&b);
        return NULL;
    }
    return (char *)b.p;
}

int enevo_export_count(const struct enevo_model_file *m, int *n, char *err, size_t errlen)
{
    struct enevo__xnet x;
    int rc = enevo__xnet_init(&x, m, 0, err, errlen);
    if (rc)
        return rc;
    *n = x.plan.output2 >= 0 ? 2 : 1;
    enevo__xnet_free(&x);
    return 0;
}

void enevo_export_prefix_from_path(const char *path, char *prefix, size_t n)
{
    if (!n)
        return;
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    const char *dot = strrchr(base, '.');
    size_t len = dot && dot != base ? (size_t)(dot - base) : strlen(base);
    size_t j = 0;
    if (len && isdigit((unsigned char)base[0]) && j + 1 < n)
        prefix[j++] = '_';
    for (size_t i = 0; i < len && j + 1 < n; i++) {
        unsigned char c = (unsigned char)base[i];
        prefix[j++] = isalnum(c) || c == '_' ? (char)c : '_';
    }
    if (!j && n > 3)
        strcpy(prefix, "net"), j = 3;
    prefix[j] = 0;
}

int enevo_export_buffer(const struct enevo_model_file *m, int which,
                        const struct enevo_export_opts *o, const char *header_name, char **out,
                        size_t *len, char **hdr, struct enevo_export_info *info, char *err,
                        size_t errlen)
{
    *out = NULL;
    *len = 0;
    if (hdr)
        *hdr = NULL;
    struct enevo_export_info tmp;
    if (!info)
        info = &tmp;
    memset(info, 0, sizeof *info);
    struct enevo__xnet x;
    int rc = enevo__xnet_init(&x, m, which, err, errlen);
    if (rc)
        return rc;
    info->arena_bytes = sizeof(float) * x.arena_floats;
    info->flops = x.flops;
    info->classes = m->n_classes;
    if (o->format == ENEVO_EXPORT_ONNX) {
        for (int i = 0; !rc && i < x.plan.n; i++)
            if (x.keep[i])
                rc = enevo__onnx_check_node(&x, i, err, errlen);
        struct enevo_pb pb = {0};
        if (!rc)
            rc = enevo__onnx_write(&x, o, &pb, info, err, errlen);
        if (!rc) {
            *out = (char *)pb.p;
            *len = pb.n;
        } else {
            enevo__pb_free(&pb);
        }
    } else if (o->format == ENEVO_EXPORT_C) {
        char prefix[64];
        if (o->prefix && o->prefix[0])
            snprintf(prefix, sizeof prefix, "%s", o->prefix);
        else
            enevo_export_prefix_from_path(header_name ? header_name : "net", prefix,
                                          sizeof prefix);
        for (const char *c = prefix; !rc && *c; c++)
            if (!(isalnum((unsigned char)*c) || *c == '_') || isdigit((unsigned char)prefix[0]))
                rc = enevo_errf(err, errlen, ENEVO_EINVAL,
                                "prefix '%s': expected a C identifier ([A-Za-z_][A-Za-z0-9_]*)",
                                prefix);
        char *h = NULL;
        if (!rc)
            rc = enevo__c_write(&x, o, prefix, header_name ? header_name : "net.h", out, &h,
                                info, err, errlen);
        if (!rc) {
            *len = strlen(*out);
            if (hdr)
                *hdr = h;
            else
                free(h);
        }
    } else {
        rc = enevo_errf(err, errlen, ENEVO_EINVAL, "unknown export format %d", (int)o->format);
    }
    info->bytes_written = *len;
    enevo__xnet_free(&x);
    return rc;
}

int enevo_export_write(const struct enevo_model_file *m, int which,
                       const struct enevo_export_opts *o, const char *path,
                       struct enevo_export_info *info, char *err, size_t errlen)
{
    char hpath[1200], *hname;
    size_t n = strlen(path);
    if (n + 3 > sizeof hpath)
        return enevo_errf(err, errlen, ENEVO_EINVAL, "path too long: %s", path);
    if (n > 2 && !strcmp(path + n - 2, ".c"))
        snprintf(hpath, sizeof hpath, "%.*s.h", (int)(n - 2), path);
    else
        snprintf(hpath, sizeof hpath, "%s.h", path);
    hname = strrchr(hpath, '/');
    hname = hname ? hname + 1 : hpath;
    struct enevo_export_opts oo = *o;
    char prefix[64];
    if (!oo.prefix || !oo.prefix[0]) {
        enevo_export_prefix_from_path(path, prefix, sizeof prefix);
        oo.prefix = prefix;
    }
    char *text, *hdr = NULL;
    size_t len;
    int rc = enevo_export_buffer(m, which, &oo, hname, &text, &len,
                                 o->format == ENEVO_EXPORT_C ? &hdr : NULL, info, err, errlen);
    if (rc)
        return rc;
    if (hdr)
        rc = enevo_write_atomic(hpath, hdr, strlen(hdr), err, errlen);
    if (!rc)
        rc = enevo_write_atomic(path, text, len, err, errlen);
    free(text);
    free(hdr);
    return rc;
}
