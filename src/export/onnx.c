/* ONNX export: one ModelProto (IR version 7, opset 13) written with our own
 * protobuf writer (pb.c). Field numbers are those of onnx.proto (ONNX 1.12):
 * ModelProto 1 ir_version, 2 producer_name, 3 producer_version, 5
 * model_version, 6 doc_string, 7 graph, 8 opset_import, 14 metadata_props;
 * GraphProto 1 node, 2 name, 5 initializer, 11 input, 12 output; NodeProto
 * 1 input, 2 output, 3 name, 4 op_type, 5 attribute; AttributeProto 1 name,
 * 2 f, 3 i, 8 ints, 20 type; TensorProto 1 dims, 2 data_type, 8 name, 9
 * raw_data; ValueInfoProto 1 name, 2 type; TypeProto 1 tensor_type;
 * TypeProto.Tensor 1 elem_type, 2 shape; TensorShapeProto 1 dim;
 * Dimension 1 dim_value, 2 dim_param; OperatorSetIdProto 1 domain, 2
 * version; StringStringEntryProto 1 key, 2 value. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "export/export_internal.h"

#define ONNX_IR_VERSION 7 /* the IR version of opset 13 (ONNX 1.8) */
#define ONNX_OPSET 13
#define ONNX_FLOAT 1
#define ATTR_FLOAT 1
#define ATTR_INT 2
#define ATTR_STRING 3
#define ATTR_INTS 7
#define BN_EPS 1e-5f /* src/backend/cpu/layers/batch_norm.c */
#define PROTOBUF_LIMIT 2147483647.0 /* one protobuf message: 2 GiB - 1 */

struct onnx {
    const struct enevo__xnet *x;
    const struct enevo_export_opts *o;
    struct enevo_pb graph;
    size_t weight_floats;
};

static void attr_int(struct enevo_pb *node, const char *name, int64_t v)
{
    struct enevo_pb a = {0};
    enevo__pb_str(&a, 1, name);
    enevo__pb_int(&a, 3, v);
    enevo__pb_int(&a, 20, ATTR_INT);
    enevo__pb_msg(node, 5, &a);
}

static void attr_float(struct enevo_pb *node, const char *name, float v)
{
    struct enevo_pb a = {0};
    enevo__pb_str(&a, 1, name);
    enevo__pb_float(&a, 2, v);
    enevo__pb_int(&a, 20, ATTR_FLOAT);
    enevo__pb_msg(node, 5, &a);
}

static void attr_ints(struct enevo_pb *node, const char *name, const int64_t *v, int n)
{
    struct enevo_pb a = {0};
    enevo__pb_str(&a, 1, name);
    for (int i = 0; i < n; i++)
        enevo__pb_int(&a, 8, v[i]);
    enevo__pb_int(&a, 20, ATTR_INTS);
    enevo__pb_msg(node, 5, &a);
}

/* A node without attributes yet; the caller adds them and calls done(). */
static struct enevo_pb node_begin(const char *op, const char *name, const char *const *in, int n_in,
                                  const char *out)
{
    struct enevo_pb n = {0};
    for (int i = 0; i < n_in; i++)
        enevo__pb_str(&n, 1, in[i]);
    enevo__pb_str(&n, 2, out);
    enevo__pb_str(&n, 3, name);
    enevo__pb_str(&n, 4, op);
    return n;
}

static void node_done(struct onnx *g, struct enevo_pb *n)
{
    enevo__pb_msg(&g->graph, 1, n);
}

static void initializer(struct onnx *g, const char *name, const float *v, const int64_t *dims,
                        int n_dims)
{
    size_t n = 1;
    struct enevo_pb t = {0};
    for (int i = 0; i < n_dims; i++) {
        enevo__pb_int(&t, 1, dims[i]);
        n *= (size_t)dims[i];
    }
    enevo__pb_int(&t, 2, ONNX_FLOAT);
    enevo__pb_str(&t, 8, name);
    enevo__pb_floats_le(&t, 9, v, n);
    enevo__pb_msg(&g->graph, 5, &t);
    g->weight_floats += n;
}

/* ValueInfoProto of a float tensor [N, d1, ...] with a symbolic batch N. */
static void value_info(struct enevo_pb *graph, int field, const char *name, const int64_t *dims,
                       int n_dims)
{
    struct enevo_pb shape = {0}, d = {0};
    enevo__pb_str(&d, 2, "N");
    enevo__pb_msg(&shape, 1, &d);
    for (int i = 0; i < n_dims; i++) {
        d = (struct enevo_pb){0};
        enevo__pb_int(&d, 1, dims[i]);
        enevo__pb_msg(&shape, 1, &d);
    }
    struct enevo_pb tt = {0}, type = {0}, vi = {0};
    enevo__pb_int(&tt, 1, ONNX_FLOAT);
    enevo__pb_msg(&tt, 2, &shape);
    enevo__pb_msg(&type, 1, &tt);
    enevo__pb_str(&vi, 1, name);
    enevo__pb_msg(&vi, 2, &type);
    enevo__pb_msg(graph, field, &vi);
}

static void meta(struct enevo_pb *model, const char *key, const char *value)
{
    struct enevo_pb e = {0};
    enevo__pb_str(&e, 1, key);
    enevo__pb_str(&e, 2, value);
    enevo__pb_msg(model, 14, &e);
}

/* The name of node i's output tensor. */
static void tname(const struct onnx *g, int i, char *buf, size_t n)
{
    if (i < 0)
        snprintf(buf, n, "input");
    else if (i == g->x->out && g->o->logits)
        snprintf(buf, n, "logits");
    else
        snprintf(buf, n, "n%d", i);
}

/* A readable node name: L3_conv, fix4_conv, head_fc, then the op. */
static void nname(const struct onnx *g, int i, const char *op, char *buf, size_t n)
{
    const struct enevo_plan_node *p = &g->x->plan.nodes[i];
    const char *kind = enevo_layer_kind_name(p->spec.kind);
    if (p->phen_id >= 0)
        snprintf(buf, n, "L%d_%s_%s", p->phen_id, kind, op);
    else if (p->phen_id == -2)
        snprintf(buf, n, "head_%s_%s", kind, op);
    else
        snprintf(buf, n, "fix%d_%s_%s", i, kind, op);
}

int enevo__onnx_check_node(const struct enevo__xnet *x, int node, char *err, size_t errlen)
{
    const struct enevo_plan_node *p = &x->plan.nodes[node];
    int k = p->spec.kernel_size;
    if ((p->spec.kind == ENEVO_LAYER_POOL_MAX || p->spec.kind == ENEVO_LAYER_POOL_AVG) &&
        (p->pad_l >= k || p->pad_r >= k)) {
        char name[96];
        enevo__xnet_node_name(x, node, name, sizeof name);
        return enevo_errf(err, errlen, ENEVO_EUNSUPPORTED,
                          "%s: padding %d (top/left) and %d (bottom/right) on a %dx%d window: "
                          "ONNX pooling (as ONNX Runtime runs it) needs padding smaller than "
                          "the window",
                          name, p->pad_l, p->pad_r, k, k);
    }
    if (p->spec.kind == ENEVO_LAYER_FC && p->spec.act == ENEVO_ACT_SOFTMAX && node != x->out) {
        char name[96];
        enevo__xnet_node_name(x, node, name, sizeof name);
        return enevo_errf(err, errlen, ENEVO_EUNSUPPORTED,
                          "%s: softmax inside the network; enevo exports softmax only at the "
                          "output",
                          name);
    }
    return 0;
}

static void emit_node(struct onnx *g, int i)
{
    const struct enevo__xnet *x = g->x;
    const struct enevo_plan_node *p = &x->plan.nodes[i];
    const float *par = x->m->params, *st = x->m->stats;
    char in[ENEVO_MAX_INPUTS][32], cur[48], nxt[48], out[32], nm[96], w[48], b[48];
    for (int k = 0; k < p->n_in; k++)
        tname(g, p->in[k], in[k], sizeof in[k]);
    snprintf(cur, sizeof cur, "%s", in[0]);
    /* A sum-merge: a chain of Adds, in input order (as enevo sums them). */
    for (int k = 1; k < p->n_in; k++) {
        snprintf(nxt, sizeof nxt, "n%d_sum%d", i, k);
        const char *ab[2] = {cur, in[k]};
        char an[96];
        nname(g, i, "Add", an, sizeof an);
        snprintf(an + strlen(an), sizeof an - strlen(an), "%d", k);
        struct enevo_pb n = node_begin("Add", an, ab, 2, nxt);
        node_done(g, &n);
        snprintf(cur, sizeof cur, "%s", nxt);
    }
    tname(g, i, out, sizeof out);
    bool act = p->spec.act == ENEVO_ACT_RELU || p->spec.act == ENEVO_ACT_SIGMOID;
    bool has_act = (p->spec.kind == ENEVO_LAYER_CONV || p->spec.kind == ENEVO_LAYER_FC) && act;
    char lin[48];
    if (has_act)
        snprintf(lin, sizeof lin, "n%d_linear", i);
    else
        snprintf(lin, sizeof lin, "%s", out);
    snprintf(w, sizeof w, "n%d_W", i);
    snprintf(b, sizeof b, "n%d_B", i);
    int64_t k = p->spec.kernel_size, s = p->stride;
    int64_t kk[2] = {k, k}, ss[2] = {s, s}, pads[4] = {p->pad_l, p->pad_l, p->pad_r, p->pad_r};
    switch (p->spec.kind) {
    case ENEVO_LAYER_CONV: {
        int64_t dims[4] = {p->out_shape.c, p->in_shape.c, k, k};
        initializer(g, w, par + p->w_off, dims, 4);
        if (p->b_count)
            initializer(g, b, par + p->b_off, dims, 1);
        const char *ins[3] = {cur, w, b};
        nname(g, i, "Conv", nm, sizeof nm);
        struct enevo_pb n = node_begin("Conv", nm, ins, p->b_count ? 3 : 2, lin);
        attr_ints(&n, "kernel_shape", kk, 2);
        attr_ints(&n, "strides", ss, 2);
        attr_ints(&n, "pads", pads, 4);
        int64_t one[2] = {1, 1};
        attr_ints(&n, "dilations", one, 2);
        attr_int(&n, "group", 1);
        node_done(g, &n);
        break;
    }
    case ENEVO_LAYER_POOL_MAX:
    case ENEVO_LAYER_POOL_AVG: {
        bool mx = p->spec.kind == ENEVO_LAYER_POOL_MAX;
        const char *op = mx ? "MaxPool" : "AveragePool";
        const char *ins[1] = {cur};
        nname(g, i, op, nm, sizeof nm);
        struct enevo_pb n = node_begin(op, nm, ins, 1, out);
        attr_ints(&n, "kernel_shape", kk, 2);
        attr_ints(&n, "strides", ss, 2);
        attr_ints(&n, "pads", pads, 4);
        if (!mx) /* enevo's mean leaves the padding out (oneDNN avg_exclude_padding) */
            attr_int(&n, "count_include_pad", 0);
        node_done(g, &n);
        break;
    }
    case ENEVO_LAYER_BATCH_NORM: {
        char sc[48], sh[48], mu[48], va[48];
        snprintf(sc, sizeof sc, "n%d_scale", i);
        snprintf(sh, sizeof sh, "n%d_shift", i);
        snprintf(mu, sizeof mu, "n%d_mean", i);
        snprintf(va, sizeof va, "n%d_var", i);
        int64_t c = p->in_shape.c;
        initializer(g, sc, par + p->w_off, &c, 1);
        initializer(g, sh, par + p->b_off, &c, 1);
        initializer(g, mu, st + p->s_off, &c, 1);
        initializer(g, va, st + p->s_off + (size_t)c, &c, 1);
        const char *ins[5] = {cur, sc, sh, mu, va};
        nname(g, i, "BatchNormalization", nm, sizeof nm);
        struct enevo_pb n = node_begin("BatchNormalization", nm, ins, 5, out);
        attr_float(&n, "epsilon", BN_EPS);
        node_done(g, &n);
        break;
    }
    case ENEVO_LAYER_DROPOUT: {
        const char *ins[1] = {cur}; /* identity at inference */
        nname(g, i, "Identity", nm, sizeof nm);
        struct enevo_pb n = node_begin("Identity", nm, ins, 1, out);
        node_done(g, &n);
        break;
    }
    case ENEVO_LAYER_FC: {
        if (!p->in_is_flat) {
            /* NCHW order, as enevo's fc weights are laid out. */
            char fl[48];
            snprintf(fl, sizeof fl, "n%d_flat", i);
            const char *ins[1] = {cur};
            nname(g, i, "Flatten", nm, sizeof nm);
            struct enevo_pb n = node_begin("Flatten", nm, ins, 1, fl);
            attr_int(&n, "axis", 1);
            node_done(g, &n);
            snprintf(cur, sizeof cur, "%s", fl);
        }
        int64_t dims[2] = {p->out_shape.c,
                           (int64_t)p->in_shape.c * p->in_shape.h * p->in_shape.w};
        initializer(g, w, par + p->w_off, dims, 2);
        if (p->b_count)
            initializer(g, b, par + p->b_off, dims, 1);
        const char *ins[3] = {cur, w, b};
        nname(g, i, "Gemm", nm, sizeof nm);
        struct enevo_pb n = node_begin("Gemm", nm, ins, p->b_count ? 3 : 2, lin);
        attr_int(&n, "transB", 1);
        node_done(g, &n);
        break;
    }
    case ENEVO_LAYER__COUNT:
        break;
    }
    if (has_act) {
        const char *op = p->spec.act == ENEVO_ACT_RELU ? "Relu" : "Sigmoid";
        const char *ins[1] = {lin};
        nname(g, i, op, nm, sizeof nm);
        struct enevo_pb n = node_begin(op, nm, ins, 1, out);
        node_done(g, &n);
    }
}

int enevo__onnx_write(const struct enevo__xnet *x, const struct enevo_export_opts *o,
                      struct enevo_pb *model, struct enevo_export_info *info, char *err,
                      size_t errlen)
{
    double bytes = 0;
    for (int i = 0; i < x->plan.n; i++)
        if (x->keep[i])
            bytes += 4.0 * (double)(x->plan.nodes[i].w_count + x->plan.nodes[i].b_count +
                                    x->plan.nodes[i].s_count);
    if (bytes > PROTOBUF_LIMIT - (1 << 20))
        return enevo_errf(err, errlen, ENEVO_EUNSUPPORTED,
                          "the weights (%.2f GiB) do not fit one protobuf message (2 GiB); "
                          "ONNX external data is not supported",
                          bytes / (1 << 30));
    struct onnx g = {.x = x, .o = o};
    for (int i = 0; i < x->plan.n; i++)
        if (x->keep[i])
            emit_node(&g, i);
    char out[32];
    tname(&g, x->out, out, sizeof out);
    if (!o->logits) {
        const char *ins[1] = {out};
        struct enevo_pb n = node_begin("Softmax", "output_Softmax", ins, 1, "probabilities");
        attr_int(&n, "axis", 1);
        node_done(&g, &n);
    }
    enevo__pb_str(&g.graph, 2, "enevo");
    int64_t in_dims[3] = {x->m->in_c, x->m->in_h, x->m->in_w};
    value_info(&g.graph, 11, "input", in_dims, 3);
    int64_t out_dims[1] = {x->m->n_classes};
    value_info(&g.graph, 12, o->logits ? "logits" : "probabilities", out_dims, 1);

    memset(model, 0, sizeof *model);
    enevo__pb_int(model, 1, ONNX_IR_VERSION);
    enevo__pb_str(model, 2, "enevo");
    enevo__pb_str(model, 3, "0.1.0");
    enevo__pb_int(model, 5, 1);
    char *mean = enevo__xnet_norm_list(x->m, false, ",", ""),
         *std = enevo__xnet_norm_list(x->m, true, ",", "");
    if (!mean || !std) {
        free(mean);
        free(std);
        enevo__pb_free(&g.graph);
        enevo__pb_free(model);
        return enevo_errf(err, errlen, ENEVO_ENOMEM, "out of memory writing the ONNX model");
    }
    char doc[1400];
    snprintf(doc, sizeof doc,
             "enevo network%s%s%s. Input: %dx%dx%d images normalised per channel as (pixel - "
             "mean[c]) / std[c] with mean (%.300s) and std (%.300s), pixels in [0, 1] (not folded "
             "into the model). Output: %s of %d classes.",
             o->source ? " from " : "", o->source ? o->source : "",
             x->plan.output2 < 0 ? "" : (x->which ? ", model 1 (early exit)" : ", model 0 (full)"),
             x->m->in_c, x->m->in_h, x->m->in_w, mean, std,
             o->logits ? "logits" : "softmax probabilities", x->m->n_classes);
    enevo__pb_str(model, 6, doc);
    enevo__pb_msg(model, 7, &g.graph);
    struct enevo_pb opset = {0};
    enevo__pb_str(&opset, 1, "");
    enevo__pb_int(&opset, 2, ONNX_OPSET);
    enevo__pb_msg(model, 8, &opset);
    char v[64];
    meta(model, "enevo.input_mean", mean);
    meta(model, "enevo.input_std", std);
    free(mean);
    free(std);
    meta(model, "enevo.normalisation",
         "not folded: feed (pixel - input_mean[c]) / input_std[c] for channel c (one "
         "comma-separated value per input channel), pixels in [0, 1]");
    meta(model, "enevo.output", o->logits ? "logits" : "probabilities");
    snprintf(v, sizeof v, "%d", x->which);
    meta(model, "enevo.model", v);
    meta(model, "enevo.phenotype", x->m->phenotype);
    if (model->oom) {
        enevo__pb_free(model);
        return enevo_errf(err, errlen, ENEVO_ENOMEM, "out of memory writing the ONNX model");
    }
    info->weight_bytes = 4 * g.weight_floats;
    return 0;
}
