#include "nn/plan.h"

#include <stdlib.h>
#include <string.h>

#include "enevo/error.h"

static double node_flops(const struct enevo_plan_node *n)
{
    const struct enevo_shape *i = &n->in_shape, *o = &n->out_shape;
    double out_elems = (double)o->c * o->h * o->w;
    double in_elems = (double)i->c * i->h * i->w;
    double merge = (double)(n->n_in - 1) * in_elems;
    switch (n->spec.kind) {
    case ENEVO_LAYER_CONV: {
        double k2 = (double)n->spec.kernel_size * n->spec.kernel_size;
        return merge + 2.0 * k2 * i->c * out_elems + (n->spec.bias ? out_elems : 0);
    }
    case ENEVO_LAYER_FC:
        return merge + 2.0 * in_elems * o->c + (n->spec.bias ? o->c : 0);
    case ENEVO_LAYER_POOL_MAX:
    case ENEVO_LAYER_POOL_AVG:
        return merge + (double)n->spec.kernel_size * n->spec.kernel_size * out_elems;
    case ENEVO_LAYER_BATCH_NORM:
        return merge + 2.0 * out_elems;
    case ENEVO_LAYER_DROPOUT:
    case ENEVO_LAYER__COUNT:
        break;
    }
    return merge;
}

static void assign_params(struct enevo_plan *plan, struct enevo_plan_node *n)
{
    const struct enevo_shape *i = &n->in_shape;
    size_t in_elems = (size_t)i->c * i->h * i->w;
    switch (n->spec.kind) {
    case ENEVO_LAYER_CONV:
        n->w_count = (size_t)n->spec.out_channels * i->c * n->spec.kernel_size * n->spec.kernel_size;
        n->b_count = n->spec.bias ? (size_t)n->spec.out_channels : 0;
        break;
    case ENEVO_LAYER_FC:
        n->w_count = (size_t)n->spec.out_features * in_elems;
        n->b_count = n->spec.bias ? (size_t)n->spec.out_features : 0;
        break;
    case ENEVO_LAYER_BATCH_NORM:
        n->w_count = n->b_count = (size_t)i->c;
        n->s_count = 2 * (size_t)i->c;
        break;
    default:
        break;
    }
    n->w_off = plan->n_params;
    n->b_off = n->w_off + n->w_count;
    plan->n_params += n->w_count + n->b_count;
    n->s_off = plan->n_stats;
    plan->n_stats += n->s_count;
}

/* A 1x1 linear conv (or fc, for flat tensors) that maps `from` to `to`.
 * Larger maps are strided down, smaller ones padded on the bottom/right:
 * stride s = ceil(H / Ht), pad_r = max(0, (Ht - 1) * s - (H - 1)), which
 * gives exactly Ht outputs (docs/ARCHITECTURE.md). */
static void make_fix(struct enevo_plan_node *fix, int src, struct enevo_shape from,
                     struct enevo_shape to, bool flat)
{
    memset(fix, 0, sizeof *fix);
    fix->spec.kind = flat ? ENEVO_LAYER_FC : ENEVO_LAYER_CONV;
    fix->spec.out_channels = to.c;
    fix->spec.out_features = to.c;
    fix->spec.kernel_size = 1;
    fix->spec.act = ENEVO_ACT_LINEAR;
    fix->spec.bias = true;
    fix->spec.padding = ENEVO_PAD_VALID;
    int s = from.h > to.h ? (from.h + to.h - 1) / to.h : 1;
    int pr = (to.h - 1) * s - (from.h - 1);
    fix->stride = flat ? 1 : s;
    fix->pad_l = 0;
    fix->pad_r = flat || pr < 0 ? 0 : pr;
    fix->spec.stride = fix->stride;
    fix->n_in = 1;
    fix->in[0] = src;
    fix->in_shape = from;
    fix->in_is_flat = flat;
    fix->out_shape = to;
    fix->phen_id = -1;
}

static bool same_shape(struct enevo_shape a, struct enevo_shape b)
{
    return a.c == b.c && a.h == b.h && a.w == b.w;
}

int enevo_plan_build(const struct enevo_phenotype *p, struct enevo_shape input, int n_classes,
                     struct enevo_plan *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    struct enevo_shape *shapes = calloc((size_t)p->n_layers + 1, sizeof *shapes);
    if (!shapes)
        return enevo_errf(err, errlen, ENEVO_ENOMEM, "out of memory planning the network");
    int rc = enevo_phenotype_check(p, input, n_classes, shapes, err, errlen);
    if (rc) {
        free(shapes);
        return rc;
    }
    /* At most one fix per merged input, and the partition head. */
    size_t cap = (size_t)p->n_layers * (1 + ENEVO_MAX_INPUTS) + 1;
    int *map = malloc(sizeof(int) * (size_t)p->n_layers);
    bool *flat = calloc((size_t)p->n_layers, sizeof *flat);
    out->nodes = calloc(cap, sizeof *out->nodes);
    if (!map || !flat || !out->nodes) {
        free(shapes);
        free(map);
        free(flat);
        free(out->nodes);
        out->nodes = NULL;
        return enevo_errf(err, errlen, ENEVO_ENOMEM, "out of memory planning the network");
    }
    out->input = input;
    out->n_classes = n_classes;
    for (int id = 0; id < p->n_layers; id++) {
        const struct enevo_layer_spec *l = &p->layers[id];
        /* The merge target is the input with the lowest id (-1 = the image). */
        int lowest = l->inputs[0];
        for (int k = 1; k < l->n_inputs; k++)
            if (l->inputs[k] < lowest)
                lowest = l->inputs[k];
        struct enevo_shape target = lowest < 0 ? input : shapes[lowest];
        bool in_flat = lowest >= 0 && flat[lowest];
        struct enevo_plan_node node;
        memset(&node, 0, sizeof node);
        node.spec = *l;
        node.n_in = l->n_inputs;
        for (int k = 0; k < l->n_inputs; k++) {
            int src = l->inputs[k];
            struct enevo_shape s = src < 0 ? input : shapes[src];
            int src_node = src < 0 ? -1 : map[src];
            if (!same_shape(s, target)) {
                struct enevo_plan_node *fix = &out->nodes[out->n];
                make_fix(fix, src_node, s, target, in_flat);
                src_node = out->n++;
            }
            node.in[k] = src_node;
        }
        node.in_shape = target;
        node.in_is_flat = in_flat;
        node.out_shape = shapes[id];
        node.stride = enevo_layer_effective_stride(l);
        if (l->kind == ENEVO_LAYER_CONV || l->kind == ENEVO_LAYER_POOL_MAX ||
            l->kind == ENEVO_LAYER_POOL_AVG)
            enevo_layer_out_size(l, target.h, &node.pad_l, &node.pad_r);
        node.phen_id = id;
        flat[id] = l->kind == ENEVO_LAYER_FC || in_flat;
        map[id] = out->n;
        out->nodes[out->n++] = node;
    }
    out->output = map[p->n_layers - 1];
    out->output2 = out->partition_node = -1;
    if (p->has_partition) {
        /* The second head: flatten + fc with one output per class, fed by
         * evolved layer k (ENERGIZE.md §3). Its parameters come last, so
         * the full model's block is a prefix of the two-headed one. */
        int k = p->partition_point;
        struct enevo_plan_node *h = &out->nodes[out->n];
        memset(h, 0, sizeof *h);
        h->spec.kind = ENEVO_LAYER_FC;
        h->spec.out_features = n_classes;
        h->spec.act = ENEVO_ACT_SOFTMAX;
        h->spec.bias = true;
        h->n_in = 1;
        h->in[0] = map[k];
        h->in_shape = shapes[k];
        h->in_is_flat = flat[k];
        h->out_shape = (struct enevo_shape){n_classes, 1, 1};
        h->stride = 1;
        h->phen_id = -2;
        out->partition_node = map[k];
        out->output2 = out->n++;
    }
    for (int i = 0; i < out->n; i++) {
        struct enevo_plan_node *n = &out->nodes[i];
        assign_params(out, n);
        n->flops = node_flops(n);
        out->flops += n->flops;
        out->act_bytes += 4.0 * ((double)n->n_in * n->in_shape.c * n->in_shape.h * n->in_shape.w +
                                 (double)n->out_shape.c * n->out_shape.h * n->out_shape.w);
        for (int k = 0; k < n->n_in; k++)
            if (n->in[k] >= 0)
                out->nodes[n->in[k]].n_consumers++;
    }
    free(shapes);
    free(map);
    free(flat);
    return 0;
}

void enevo_plan_free(struct enevo_plan *plan)
{
    free(plan->nodes);
    memset(plan, 0, sizeof *plan);
}

double enevo__plan_memory(const struct enevo_plan *plan, int batch, bool training)
{
    /* Every node's output, its channels padded to 16 as oneDNN's blocked
     * formats (and cuDNN's aligned ones) store them; in training also its
     * gradient and one reorder or workspace of the same size. Parameters
     * and statistics: the weights, and in training the gradients and up to
     * two optimiser moments, plus the backends' own copies of the weights
     * in their formats. */
    double act = 0;
    for (int i = 0; i < plan->n; i++) {
        const struct enevo_plan_node *n = &plan->nodes[i];
        double c = (double)((n->out_shape.c + 15) / 16 * 16);
        act += c * n->out_shape.h * n->out_shape.w;
    }
    double in = (double)((plan->input.c + 15) / 16 * 16) * plan->input.h * plan->input.w;
    double per_image = 4.0 * (act * (training ? 3 : 2) + in * 2);
    double params = 4.0 * (double)plan->n_params * (training ? 5 : 2) + 4.0 * (double)plan->n_stats;
    return per_image * batch + params + (1 << 20) /* descriptors, scratch */;
}
