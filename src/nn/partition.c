/* Model partition (ENERGIZE.md §3): after one training of the two-headed
 * network, extract model 0 (the full network without the extra head) and
 * model 1 (every layer the extra head depends on, plus the head) as
 * ordinary networks with their own phenotypes and parameter blocks. */
#include <stdlib.h>
#include <string.h>

#include "enevo/partition.h"
#include "nn/plan.h"

/* Which plan nodes belong to the extracted model. */
static void select_nodes(const struct enevo_plan *plan, const bool *keep_layer, int which,
                         bool *keep_node)
{
    for (int i = 0; i < plan->n; i++) {
        const struct enevo_plan_node *n = &plan->nodes[i];
        if (n->phen_id == -2) {
            keep_node[i] = which == 1;
            continue;
        }
        /* A shape-fix conv belongs with the layer that merges its output,
         * which follows it in the plan. */
        int id = n->phen_id;
        for (int j = i; id == -1 && j < plan->n; j++)
            id = plan->nodes[j].phen_id;
        keep_node[i] = id >= 0 && keep_layer[id];
    }
}

int enevo_partition_extract(const struct enevo_phenotype *p, struct enevo_net *net, int which,
                            struct enevo_extracted *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    const struct enevo_plan *plan = enevo__net_plan(net);
    if (!p->has_partition || plan->output2 < 0)
        return enevo_errf(err, errlen, ENEVO_EINVAL, "the network has no model partition");
    if (which != 0 && which != 1)
        return enevo_errf(err, errlen, ENEVO_EINVAL, "model %d: expected 0 or 1", which);
    int n = p->n_layers, k = p->partition_point;
    bool *keep = calloc((size_t)n, sizeof *keep);
    int *new_id = malloc(sizeof(int) * (size_t)n);
    bool *keep_node = calloc((size_t)plan->n, sizeof *keep_node);
    struct enevo_layer_spec *layers = calloc((size_t)n + 1, sizeof *layers);
    if (!keep || !new_id || !keep_node || !layers) {
        free(keep);
        free(new_id);
        free(keep_node);
        free(layers);
        return enevo_errf(err, errlen, ENEVO_ENOMEM, "out of memory");
    }
    if (which == 0) {
        for (int i = 0; i < n; i++)
            keep[i] = true;
    } else {
        /* Ancestors of layer k: inputs always point back, so one pass from
         * k downwards finds them all. */
        keep[k] = true;
        for (int i = k; i >= 0; i--)
            if (keep[i])
                for (int j = 0; j < p->layers[i].n_inputs; j++)
                    if (p->layers[i].inputs[j] >= 0)
                        keep[p->layers[i].inputs[j]] = true;
    }
    int m = 0;
    for (int i = 0; i < n; i++) {
        new_id[i] = keep[i] ? m : -1;
        if (!keep[i])
            continue;
        layers[m] = p->layers[i];
        for (int j = 0; j < layers[m].n_inputs; j++)
            if (layers[m].inputs[j] >= 0)
                layers[m].inputs[j] = new_id[layers[m].inputs[j]];
        m++;
    }
    if (which == 1) {
        /* The head becomes the model's output layer. */
        struct enevo_layer_spec *h = &layers[m++];
        memset(h, 0, sizeof *h);
        h->kind = ENEVO_LAYER_FC;
        h->out_features = plan->n_classes;
        h->act = ENEVO_ACT_SOFTMAX;
        h->bias = true;
        h->n_inputs = 1;
        h->inputs[0] = new_id[k];
    }
    out->phenotype = *p;
    out->phenotype.layers = layers;
    out->phenotype.n_layers = m;
    out->phenotype.has_partition = false;
    out->phenotype.has_partition_weight = false;
    out->phenotype.partition_point = -1;
    select_nodes(plan, keep, which, keep_node);
    /* The selected nodes' parameters and statistics, in plan order: the
     * extracted phenotype plans to the same nodes in the same order. */
    const float *params = enevo_net_params(net), *stats = enevo_net_stats(net);
    size_t np = 0, ns = 0;
    for (int i = 0; i < plan->n; i++)
        if (keep_node[i]) {
            np += plan->nodes[i].w_count + plan->nodes[i].b_count;
            ns += plan->nodes[i].s_count;
        }
    out->params = malloc(sizeof(float) * (np ? np : 1));
    out->stats = malloc(sizeof(float) * (ns ? ns : 1));
    int rc = 0;
    if (!out->params || !out->stats) {
        rc = enevo_errf(err, errlen, ENEVO_ENOMEM, "out of memory");
    } else {
        for (int i = 0; i < plan->n; i++) {
            const struct enevo_plan_node *nd = &plan->nodes[i];
            if (!keep_node[i])
                continue;
            size_t c = nd->w_count + nd->b_count;
            memcpy(out->params + out->n_params, params + nd->w_off, sizeof(float) * c);
            out->n_params += c;
            memcpy(out->stats + out->n_stats, stats + nd->s_off, sizeof(float) * nd->s_count);
            out->n_stats += nd->s_count;
        }
    }
    free(keep);
    free(new_id);
    free(keep_node);
    if (rc)
        enevo_extracted_free(out);
    return rc;
}

void enevo_extracted_free(struct enevo_extracted *e)
{
    free(e->phenotype.layers);
    free(e->params);
    free(e->stats);
    memset(e, 0, sizeof *e);
}
