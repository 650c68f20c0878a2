/* The backend-independent network: plan, flat parameter block, parameter
 * initialisation and the fused softmax + cross-entropy loss. */
#include "enevo/net.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "backend/softmax_ce.h"
#include "core/fault.h"
#include "enevo/data.h"
#include "nn/plan.h"

struct enevo_net {
    struct enevo_plan plan;
    struct enevo_net_opts opts;
    const struct enevo_backend *backend;
    void *impl;
    float *block;  /* params [n_params] | grads [n_params] | stats [n_stats] */
    float *params, *grads, *stats;
    float *logits; /* [batch, classes] */
    float *logits2, *dlogits2; /* the partition head's, or NULL */
    double head_weight;        /* w1 of w0 L0 + w1 L1 */
    bool params_dirty; /* the block may have been written since the last forward */
    float *dlogits;
    struct enevo_param_seg *segs;
    int n_segs;
    char device[32];
    /* Device backends: the device holds newer parameters and statistics
     * than the host block (after device training steps). */
    bool dev_newer;
    const float *last_x;                   /* input of the last forward (CPU) */
    const struct enevo_dataset *bound[3];  /* enevo_net_bind_data slots */
    float *xbuf;                           /* host loops: one gathered batch */
    uint8_t *ybuf;
};

int enevo_net_create(const struct enevo_phenotype *p, struct enevo_shape input, int n_classes,
                     const struct enevo_net_opts *opts, struct enevo_net **out, char *err,
                     size_t errlen)
{
    *out = NULL;
    if (opts->batch < 1)
        return enevo_errf(err, errlen, ENEVO_EINVAL, "batch size must be >= 1, got %d",
                          opts->batch);
    int code;
    if (enevo__fault(ENEVO__FAULT_ALLOC, "net", &code))
        return enevo_errf(err, errlen, ENEVO_ENOMEM,
                          "out of memory allocating the network's buffers (%s, injected)",
                          strerror(code));
    struct enevo_net *net = calloc(1, sizeof *net);
    if (!net)
        return enevo_errf(err, errlen, ENEVO_ENOMEM, "out of memory");
    net->opts = *opts;
    net->opts.device = NULL; /* the caller's string need not outlive the call */
    net->params_dirty = true;
    int rc = enevo_device_resolve(opts->device, net->device, sizeof net->device, NULL, 0, err,
                                  errlen);
    if (rc) {
        free(net);
        return rc;
    }
    rc = enevo_plan_build(p, input, n_classes, &net->plan, err, errlen);
    if (rc) {
        free(net);
        return rc;
    }
    const struct enevo_plan *plan = &net->plan;
    size_t np = plan->n_params, ns = plan->n_stats;
    size_t total = np * (opts->training ? 2 : 1) + ns;
    size_t nl = (size_t)opts->batch * (size_t)n_classes;
    net->block = calloc(total ? total : 1, sizeof(float));
    net->logits = calloc(nl, sizeof(float));
    net->dlogits = calloc(nl, sizeof(float));
    net->segs = calloc((size_t)plan->n * 2 + 1, sizeof *net->segs);
    net->head_weight = p->partition_weight;
    if (plan->output2 >= 0) {
        net->logits2 = calloc(nl, sizeof(float));
        net->dlogits2 = calloc(nl, sizeof(float));
    }
    if (!net->block || !net->logits || !net->dlogits || !net->segs ||
        (plan->output2 >= 0 && (!net->logits2 || !net->dlogits2))) {
        enevo_net_free(net);
        return enevo_errf(err, errlen, ENEVO_ENOMEM,
                          "out of memory: %zu parameters at batch %d", np, opts->batch);
    }
    net->params = net->block;
    net->grads = opts->training ? net->block + np : NULL;
    net->stats = net->block + np * (opts->training ? 2 : 1);
    for (int i = 0; i < plan->n; i++) {
        const struct enevo_plan_node *n = &plan->nodes[i];
        bool bn = n->spec.kind == ENEVO_LAYER_BATCH_NORM;
        if (n->w_count)
            net->segs[net->n_segs++] = (struct enevo_param_seg){n->w_off, n->w_count, bn};
        if (n->b_count)
            net->segs[net->n_segs++] = (struct enevo_param_seg){n->b_off, n->b_count, true};
    }
    net->backend = enevo_backend_get(net->device);
    struct enevo_net_opts bo = *opts;
    bo.device = net->device;
    rc = net->backend->create(plan, &bo, net->params, net->grads, net->stats, &net->impl, err,
                              errlen);
    if (rc) {
        enevo_net_free(net);
        return rc;
    }
    char slow[1024];
    if (enevo_net_slow_path(net, slow, sizeof slow) && !getenv("ENEVO_QUIET_SLOW_PATH"))
        fprintf(stderr, "enevo: warning: %s%s\n", opts->training ? "training net: " : "", slow);
    *out = net;
    return 0;
}

void enevo_net_free(struct enevo_net *net)
{
    if (!net)
        return;
    if (net->impl)
        net->backend->destroy(net->impl);
    enevo_plan_free(&net->plan);
    free(net->block);
    free(net->logits);
    free(net->dlogits);
    free(net->logits2);
    free(net->dlogits2);
    free(net->segs);
    free(net->xbuf);
    free(net->ybuf);
    free(net);
}

/* Before the host reads or writes the blocks: bring the device's newer
 * parameters and statistics back. */
static int host_current(struct enevo_net *net)
{
    if (!net->dev_newer)
        return 0;
    net->dev_newer = false;
    return net->backend->pull(net->impl);
}

/* Before device work that reads the parameters: send the host's newer ones. */
static int device_current(struct enevo_net *net)
{
    if (!net->params_dirty || !net->backend->push)
        return 0;
    net->params_dirty = false;
    return net->backend->push(net->impl);
}

void enevo_net_init_params(struct enevo_net *net, enevo_rng *rng)
{
    for (int i = 0; i < net->plan.n; i++) {
        const struct enevo_plan_node *n = &net->plan.nodes[i];
        float *w = net->params + n->w_off;
        float *b = net->params + n->b_off;
        if (n->spec.kind == ENEVO_LAYER_BATCH_NORM) {
            for (size_t k = 0; k < n->w_count; k++) {
                w[k] = 1.0f;
                b[k] = 0.0f;
            }
            float *mean = net->stats + n->s_off, *var = mean + n->w_count;
            for (size_t k = 0; k < n->w_count; k++) {
                mean[k] = 0.0f;
                var[k] = 1.0f;
            }
            continue;
        }
        if (!n->w_count)
            continue;
        int out = n->out_shape.c;
        double fan_in = (double)n->w_count / out;
        double fan_out = n->spec.kind == ENEVO_LAYER_CONV
                             ? (double)out * n->spec.kernel_size * n->spec.kernel_size
                             : out;
        if (n->spec.act == ENEVO_ACT_RELU) {
            /* He: keeps activation variance through relu layers. */
            float sd = (float)sqrt(2.0 / fan_in);
            for (size_t k = 0; k < n->w_count; k++)
                w[k] = sd * enevo_rng_normal(rng);
        } else {
            /* Glorot: for linear, sigmoid and softmax outputs. */
            float lim = (float)sqrt(6.0 / (fan_in + fan_out));
            for (size_t k = 0; k < n->w_count; k++)
                w[k] = lim * (2.0f * enevo_rng_uniform(rng) - 1.0f);
        }
        for (size_t k = 0; k < n->b_count; k++)
            b[k] = 0.0f;
    }
}

int enevo_net_forward(struct enevo_net *net, const float *x, bool train, uint64_t dropout_key)
{
    if (train && !net->opts.training)
        return ENEVO_EINVAL;
    /* Training nets change their weights every step; inference nets only
     * when someone asked for the writable block. */
    int rc = host_current(net);
    if (rc)
        return rc;
    bool changed = net->params_dirty || net->opts.training;
    net->params_dirty = false;
    net->last_x = x;
    return net->backend->forward(net->impl, x, train, dropout_key, changed, net->logits,
                                 net->logits2);
}

int enevo_net_forward_again(struct enevo_net *net)
{
    if (!net->last_x)
        return ENEVO_EINVAL;
    if (!net->backend->forward_again || net->params_dirty || net->dev_newer)
        return enevo_net_forward(net, net->last_x, false, 0);
    return net->backend->forward_again(net->impl);
}

int enevo_net_sync(struct enevo_net *net)
{
    return net->backend->sync ? net->backend->sync(net->impl) : 0;
}

const char *enevo_net_device(const struct enevo_net *net) { return net->device; }

int enevo_net_bind_data(struct enevo_net *net, int slot, const struct enevo_dataset *d, char *err,
                        size_t errlen)
{
    struct enevo_shape in = net->plan.input;
    if (slot < 0 || slot > 2)
        return enevo_errf(err, errlen, ENEVO_EINVAL, "data slot %d: expected 0, 1 or 2", slot);
    if (d->c != in.c || d->h != in.h || d->w != in.w)
        return enevo_errf(err, errlen, ENEVO_EINVAL,
                          "data set images are %dx%dx%d but the network takes %dx%dx%d", d->c,
                          d->h, d->w, in.c, in.h, in.w);
    net->bound[slot] = d;
    if (!net->backend->bind_data)
        return 0;
    if (!d->u8)
        return net->backend->bind_data(net->impl, slot, d->x, d->y, d->n, err, errlen);
    /* Bytes: the floats are made on the host for the copy, then dropped
     * (the device holds floats; the host keeps a quarter of that). */
    size_t img = (size_t)d->c * (size_t)d->h * (size_t)d->w;
    float *x = malloc(sizeof(float) * img * (size_t)d->n + 1);
    if (!x)
        return enevo_errf(err, errlen, ENEVO_ENOMEM, "out of memory for %d images", d->n);
    enevo_dataset_images(d, 0, d->n, x);
    int rc = net->backend->bind_data(net->impl, slot, x, d->y, d->n, err, errlen);
    free(x);
    return rc;
}

/* Host loops: copy batch images (idx, or first..first+n-1 when idx is NULL)
 * into net->xbuf / ybuf, zero-padding a short batch. */
static int gather(struct enevo_net *net, const struct enevo_dataset *d, const int *idx, int first,
                  int n)
{
    int batch = net->opts.batch;
    size_t img = (size_t)d->c * d->h * d->w;
    if (!net->xbuf) {
        net->xbuf = malloc(sizeof(float) * img * (size_t)batch);
        net->ybuf = malloc((size_t)batch);
        if (!net->xbuf || !net->ybuf)
            return ENEVO_ENOMEM;
    }
    if (idx)
        enevo_dataset_gather(d, idx, n, net->xbuf);
    else
        enevo_dataset_images(d, first, n, net->xbuf);
    for (int i = 0; i < n; i++)
        net->ybuf[i] = d->y[idx ? idx[i] : first + i];
    if (n < batch)
        memset(net->xbuf + (size_t)n * img, 0, sizeof(float) * img * (size_t)(batch - n));
    return 0;
}

int enevo_net_train_steps(struct enevo_net *net, struct enevo_optim *o, const int *order,
                          const uint64_t *keys, int steps, double *loss_sum)
{
    const struct enevo_dataset *d = net->bound[0];
    if (!net->opts.training || !d)
        return ENEVO_EINVAL;
    int rc;
    if (net->backend->train_steps) {
        if ((rc = device_current(net)))
            return rc;
        net->dev_newer = true;
        return net->backend->train_steps(net->impl, o, order, keys, steps, net->head_weight,
                                         loss_sum);
    }
    int batch = net->opts.batch;
    for (int s = 0; s < steps; s++) {
        if ((rc = gather(net, d, order + (size_t)s * batch, 0, batch)) ||
            (rc = enevo_net_forward(net, net->xbuf, true, keys[s])))
            return rc;
        double l = enevo_net_loss(net, net->ybuf, batch, NULL);
        if (!isfinite(l))
            return ENEVO_ENUMERIC;
        *loss_sum += l;
        if ((rc = enevo_net_backward(net)))
            return rc;
        enevo_optim_step(o, enevo_net_params(net), enevo_net_grads(net));
    }
    return 0;
}

int enevo_net_pull_optim(struct enevo_net *net, struct enevo_optim *o)
{
    return net->backend->pull_optim ? net->backend->pull_optim(net->impl, o) : 0;
}

int enevo_net_evaluate_bound(struct enevo_net *net, int slot, double accuracy[2], double loss[2],
                             double *weighted)
{
    const struct enevo_dataset *d = slot >= 0 && slot <= 2 ? net->bound[slot] : NULL;
    if (!d)
        return ENEVO_EINVAL;
    double total[2] = {0, 0}, wtotal = 0;
    int correct[2] = {0, 0}, rc;
    if (net->backend->evaluate) {
        if ((rc = device_current(net)) ||
            (rc = net->backend->evaluate(net->impl, slot, net->head_weight, total, correct,
                                         &wtotal)))
            return rc;
    } else {
        int batch = net->opts.batch;
        size_t img = (size_t)d->c * d->h * d->w;
        for (int start = 0; start < d->n; start += batch) {
            int n = d->n - start < batch ? d->n - start : batch;
            /* Full float batches are read in place; bytes are mapped
             * into xbuf, and the tail is padded. */
            const float *x = d->x ? d->x + (size_t)start * img : NULL;
            const uint8_t *y = d->y + start;
            if (n < batch || !x) {
                if ((rc = gather(net, d, NULL, start, n)))
                    return rc;
                x = net->xbuf;
                y = net->ybuf;
            }
            if ((rc = enevo_net_forward(net, x, false, 0)))
                return rc;
            double l[2];
            wtotal += enevo_net_loss_heads(net, y, n, l, correct) * n;
            total[0] += l[0] * n;
            total[1] += l[1] * n;
        }
    }
    bool two = net->logits2 != NULL;
    for (int h = 0; h < 2; h++) {
        bool have = h == 0 || two;
        if (accuracy)
            accuracy[h] = have && d->n ? (double)correct[h] / d->n : (have ? 0 : NAN);
        if (loss)
            loss[h] = have && d->n ? total[h] / d->n : (have ? 0 : NAN);
    }
    if (weighted)
        *weighted = d->n ? wtotal / d->n : 0;
    return 0;
}

const float *enevo_net_logits(const struct enevo_net *net)
{
    return net->logits;
}

/* Softmax + cross-entropy of one head; d loss / d logits (scaled by
 * `scale`) into dz. Returns the mean loss over n rows. */
static double head_loss(const float *logits, float *dlogits, int batch, int k, const uint8_t *labels,
                        int n, double scale, int *correct)
{
    double total = 0;
    int hits = 0;
    for (int i = 0; i < batch; i++) {
        const float *z = logits + (size_t)i * k;
        float *dz = dlogits + (size_t)i * k;
        if (i >= n) {
            memset(dz, 0, sizeof(float) * (size_t)k);
            continue;
        }
        int arg, y = labels[i];
        double lse = enevo_row_lse(z, k, &arg);
        total += lse - z[y];
        hits += arg == y;
        enevo_row_ce_grad(z, k, y, lse, scale, n, dz);
    }
    if (correct)
        *correct += hits;
    return n ? total / n : 0.0;
}

double enevo_net_loss_heads(struct enevo_net *net, const uint8_t *labels, int n, double loss[2],
                            int correct[2])
{
    int k = net->plan.n_classes, batch = net->opts.batch;
    double l0 = head_loss(net->logits, net->dlogits, batch, k, labels, n, 1.0,
                          correct ? &correct[0] : NULL);
    double l1 = 0;
    if (net->logits2)
        l1 = head_loss(net->logits2, net->dlogits2, batch, k, labels, n, net->head_weight,
                       correct ? &correct[1] : NULL);
    if (loss) {
        loss[0] = l0;
        loss[1] = net->logits2 ? l1 : NAN;
    }
    return l0 + (net->logits2 ? net->head_weight * l1 : 0);
}

double enevo_net_loss(struct enevo_net *net, const uint8_t *labels, int n, int *correct)
{
    int c[2] = {0, 0};
    double total = enevo_net_loss_heads(net, labels, n, NULL, c);
    if (correct)
        *correct += c[0];
    return total;
}

int enevo_net_backward(struct enevo_net *net)
{
    int rc = host_current(net);
    if (rc)
        return rc;
    return net->backend->backward(net->impl, net->dlogits, net->dlogits2);
}

/* A failed pull leaves the host block as it was; the next device call
 * reports the device error. */
float *enevo_net_params(struct enevo_net *net)
{
    (void)host_current(net);
    net->params_dirty = true;
    return net->params;
}
float *enevo_net_grads(struct enevo_net *net)
{
    (void)host_current(net);
    return net->grads;
}
size_t enevo_net_param_count(const struct enevo_net *net) { return net->plan.n_params; }
float *enevo_net_stats(struct enevo_net *net)
{
    (void)host_current(net);
    net->params_dirty = true;
    return net->stats;
}
size_t enevo_net_stats_count(const struct enevo_net *net) { return net->plan.n_stats; }
double enevo_net_flops(const struct enevo_net *net) { return net->plan.flops; }

double enevo_net_bytes_per_batch(const struct enevo_net *net)
{
    return net->plan.act_bytes * net->opts.batch + 4.0 * (double)net->plan.n_params;
}
int enevo_net_batch(const struct enevo_net *net) { return net->opts.batch; }
int enevo_net_heads(const struct enevo_net *net) { return net->logits2 ? 2 : 1; }
const float *enevo_net_logits2(const struct enevo_net *net) { return net->logits2; }
void enevo_net_set_head_weight(struct enevo_net *net, double w) { net->head_weight = w; }
int enevo_net_classes(const struct enevo_net *net) { return net->plan.n_classes; }
struct enevo_shape enevo_net_input_shape(const struct enevo_net *net) { return net->plan.input; }

const struct enevo_param_seg *enevo_net_segments(const struct enevo_net *net, int *n)
{
    *n = net->n_segs;
    return net->segs;
}

const struct enevo_plan *enevo__net_plan(const struct enevo_net *net)
{
    return &net->plan;
}

size_t enevo_net_arena_bytes(const struct enevo_net *net)
{
    return net->backend->arena_bytes(net->impl);
}

int enevo_net_kernels(const struct enevo_net *net, struct enevo_kernel *out, int max)
{
    return net->backend->kernels ? net->backend->kernels(net->impl, out, max) : 0;
}

void enevo_net_describe_node(const struct enevo_net *net, int node, char *buf, size_t len)
{
    const struct enevo_plan *plan = &net->plan;
    if (node < 0 || node >= plan->n) {
        snprintf(buf, len, "input");
        return;
    }
    const struct enevo_plan_node *n = &plan->nodes[node];
    const char *kind = enevo_layer_kind_name(n->spec.kind);
    if (n->phen_id >= 0) {
        snprintf(buf, len, "layer %d (%s)", n->phen_id, kind);
    } else if (n->phen_id == -2) {
        snprintf(buf, len, "partition head (%s)", kind);
    } else {
        /* A shape-fix conv feeds the merge right after it. */
        int consumer = -1;
        for (int i = node + 1; i < plan->n && consumer < 0; i++)
            for (int k = 0; k < plan->nodes[i].n_in; k++)
                if (plan->nodes[i].in[k] == node && plan->nodes[i].phen_id >= 0)
                    consumer = plan->nodes[i].phen_id;
        snprintf(buf, len, "shape-fix %s before layer %d", kind, consumer);
    }
}

int enevo_net_slow_path(const struct enevo_net *net, char *buf, size_t len)
{
    int n = enevo_net_kernels(net, NULL, 0), slow = 0;
    struct enevo_kernel *k = n > 0 ? malloc(sizeof *k * (size_t)n) : NULL;
    size_t used = 0;
    if (len)
        buf[0] = '\0';
    if (!k)
        return 0;
    enevo_net_kernels(net, k, n);
    for (int i = 0; i < n; i++) {
        if (!k[i].reference)
            continue;
        char where[96];
        enevo_net_describe_node(net, k[i].node, where, sizeof where);
        if (used < len)
            used += (size_t)snprintf(buf + used, len - used, "%s%s: %s runs %s", slow ? "; " : "slow path: ",
                                     where, k[i].op, k[i].impl);
        slow++;
    }
    if (slow && used < len)
        snprintf(buf + used, len - used,
                 " (a oneDNN reference kernel, 10-1000x slower than a JIT one; please report it)");
    free(k);
    return slow;
}
