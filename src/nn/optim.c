/* Optimisers over the flat parameter block (see enevo/optim.h).
 *
 * Every update is written in float32 in the operation order of the
 * corresponding PyTorch CPU kernel (add with alpha, lerp, addcmul, addcdiv),
 * with hyperparameters rounded to float as PyTorch's scalar arguments are, so
 * a step agrees with torch.optim to within rounding of the last bit.
 * Elementwise loops are independent per parameter, hence deterministic under
 * OpenMP; the LARS norms are reduced serially in double so the result does
 * not depend on the thread count. The loops carry no `omp simd`: -O3
 * vectorises them anyway, and clang -Werror rejects a forced simd loop it
 * cannot vectorise (sqrtf with errno, or under the sanitizers).
 */
#include "enevo/optim.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Below this many parameters a parallel region costs more than it saves. */
#define OPTIM_PAR_MIN 32768

int enevo_optim_state_floats(const struct enevo_learning_spec *spec)
{
    switch (spec->optimizer) {
    case ENEVO_OPT_SGD:
        return spec->momentum != 0 ? 1 : 0;
    case ENEVO_OPT_ADAM:
        return 2;
    case ENEVO_OPT_RMSPROP:
        return 1;
    case ENEVO_OPT_LARS:
        return 1;
    }
    return 0;
}

static int cmp_seg_offset(const void *a, const void *b)
{
    const struct enevo_param_seg *x = a, *y = b;
    return (x->offset > y->offset) - (x->offset < y->offset);
}

static int check_spec(const struct enevo_learning_spec *s, char *err, size_t errlen)
{
    if ((int)s->optimizer < ENEVO_OPT_SGD || (int)s->optimizer > ENEVO_OPT_LARS)
        return enevo_errf(err, errlen, ENEVO_EINVAL, "optimiser: unknown kind %d", (int)s->optimizer);
    if (!isfinite(s->weight_decay) || s->weight_decay < 0)
        return enevo_errf(err, errlen, ENEVO_EINVAL, "optimiser: weight_decay %g must be >= 0",
                          s->weight_decay);
    switch (s->optimizer) {
    case ENEVO_OPT_SGD:
        if (!isfinite(s->lr) || s->lr < 0)
            return enevo_errf(err, errlen, ENEVO_EINVAL, "gradient_descent: lr %g must be >= 0", s->lr);
        if (!isfinite(s->momentum) || s->momentum < 0)
            return enevo_errf(err, errlen, ENEVO_EINVAL, "gradient_descent: momentum %g must be >= 0",
                              s->momentum);
        /* torch.optim.SGD refuses this too. */
        if (s->nesterov && s->momentum == 0)
            return enevo_errf(err, errlen, ENEVO_EINVAL,
                              "gradient_descent: nesterov momentum needs momentum > 0");
        break;
    case ENEVO_OPT_ADAM:
        if (!isfinite(s->lr) || s->lr < 0)
            return enevo_errf(err, errlen, ENEVO_EINVAL, "adam: lr %g must be >= 0", s->lr);
        if (!(s->beta1 >= 0 && s->beta1 < 1) || !(s->beta2 >= 0 && s->beta2 < 1))
            return enevo_errf(err, errlen, ENEVO_EINVAL, "adam: betas (%g, %g) must be in [0, 1)",
                              s->beta1, s->beta2);
        break;
    case ENEVO_OPT_RMSPROP:
        if (!isfinite(s->lr) || s->lr < 0)
            return enevo_errf(err, errlen, ENEVO_EINVAL, "rmsprop: lr %g must be >= 0", s->lr);
        if (!(s->alpha >= 0 && s->alpha <= 1))
            return enevo_errf(err, errlen, ENEVO_EINVAL, "rmsprop: alpha %g must be in [0, 1]", s->alpha);
        break;
    case ENEVO_OPT_LARS:
        if (!isfinite(s->lr_weights) || s->lr_weights < 0 || !isfinite(s->lr_biases) ||
            s->lr_biases < 0)
            return enevo_errf(err, errlen, ENEVO_EINVAL,
                              "lars: lr_weights %g and lr_biases %g must be >= 0", s->lr_weights,
                              s->lr_biases);
        if (!isfinite(s->momentum) || s->momentum < 0)
            return enevo_errf(err, errlen, ENEVO_EINVAL, "lars: momentum %g must be >= 0", s->momentum);
        if (s->batch_size <= 0)
            return enevo_errf(err, errlen, ENEVO_EINVAL, "lars: batch_size %d must be > 0",
                              s->batch_size);
        break;
    }
    return 0;
}

int enevo_optim_init(struct enevo_optim *o, const struct enevo_learning_spec *spec, size_t n,
                     const struct enevo_param_seg *segs, int n_segs, char *err, size_t errlen)
{
    memset(o, 0, sizeof *o);
    int rc = check_spec(spec, err, errlen);
    if (rc)
        return rc;
    if (n_segs < 0 || (n_segs > 0 && !segs))
        return enevo_errf(err, errlen, ENEVO_EINVAL, "optimiser: bad segment list (%d segments)", n_segs);
    if (n == 0 && n_segs > 0)
        return enevo_errf(err, errlen, ENEVO_EINVAL, "optimiser: %d segments but no parameters", n_segs);
    for (int i = 0; i < n_segs; i++) {
        if (segs[i].offset > n || segs[i].count > n - segs[i].offset)
            return enevo_errf(err, errlen, ENEVO_EINVAL,
                              "optimiser: segment %d [%zu, %zu) is outside the %zu parameters", i,
                              segs[i].offset, segs[i].offset + segs[i].count, n);
    }

    struct enevo_param_seg *sorted = NULL;
    if (n_segs > 0) {
        sorted = malloc((size_t)n_segs * sizeof *sorted);
        o->segs = malloc((size_t)n_segs * sizeof *o->segs);
        if (!sorted || !o->segs) {
            free(sorted);
            free(o->segs);
            o->segs = NULL;
            return enevo_errf(err, errlen, ENEVO_ENOMEM, "optimiser: out of memory for %d segments",
                              n_segs);
        }
        memcpy(sorted, segs, (size_t)n_segs * sizeof *sorted);
        memcpy(o->segs, segs, (size_t)n_segs * sizeof *o->segs);
        qsort(sorted, (size_t)n_segs, sizeof *sorted, cmp_seg_offset);
    }
    /* Overlaps, and for LARS gaps: a parameter outside every segment would
     * silently never be updated. */
    size_t covered = 0;
    for (int i = 0; i < n_segs && !rc; i++) {
        if (sorted[i].offset < covered)
            rc = enevo_errf(err, errlen, ENEVO_EINVAL,
                            "optimiser: segment [%zu, %zu) overlaps the one before it (ends at %zu)",
                            sorted[i].offset, sorted[i].offset + sorted[i].count, covered);
        else if (spec->optimizer == ENEVO_OPT_LARS && sorted[i].offset > covered)
            rc = enevo_errf(err, errlen, ENEVO_EINVAL,
                            "lars: parameters [%zu, %zu) belong to no segment", covered,
                            sorted[i].offset);
        else
            covered = sorted[i].offset + sorted[i].count;
    }
    if (!rc && spec->optimizer == ENEVO_OPT_LARS && covered < n)
        rc = enevo_errf(err, errlen, ENEVO_EINVAL, "lars: parameters [%zu, %zu) belong to no segment",
                        covered, n);
    free(sorted);
    if (rc) {
        free(o->segs);
        o->segs = NULL;
        return rc;
    }

    size_t per = (size_t)enevo_optim_state_floats(spec);
    if (per && n) {
        if (n > SIZE_MAX / sizeof(float) / per) {
            free(o->segs);
            o->segs = NULL;
            return enevo_errf(err, errlen, ENEVO_ENOMEM, "optimiser: state for %zu parameters too large", n);
        }
        o->state = calloc(per * n, sizeof(float));
        if (!o->state) {
            free(o->segs);
            o->segs = NULL;
            return enevo_errf(err, errlen, ENEVO_ENOMEM,
                              "optimiser: out of memory for %zu floats of state", per * n);
        }
    }
    o->spec = *spec;
    o->n = n;
    o->n_segs = n_segs;
    o->t = 0;
    return 0;
}

void enevo_optim_free(struct enevo_optim *o)
{
    if (!o)
        return;
    free(o->segs);
    free(o->state);
    memset(o, 0, sizeof *o);
}

/* torch.optim.SGD, dampening 0. */
static void step_sgd(struct enevo_optim *o, float *restrict p, const float *restrict g)
{
    const size_t n = o->n;
    const float lr = (float)o->spec.lr, wd = (float)o->spec.weight_decay;
    const float mom = (float)o->spec.momentum;
    if (o->spec.momentum == 0) {
#pragma omp parallel for if (n >= OPTIM_PAR_MIN)
        for (size_t i = 0; i < n; i++) {
            float d = g[i] + wd * p[i];
            p[i] = p[i] + -lr * d;
        }
        return;
    }
    float *restrict buf = o->state;
    const int first = o->t == 0, nesterov = o->spec.nesterov;
#pragma omp parallel for if (n >= OPTIM_PAR_MIN)
    for (size_t i = 0; i < n; i++) {
        float d = g[i] + wd * p[i];
        float b = first ? d : buf[i] * mom + d;
        buf[i] = b;
        d = nesterov ? d + mom * b : b;
        p[i] = p[i] + -lr * d;
    }
}

/* torch.optim.Adam (single-tensor path, as on CPU): exp_avg.lerp_(grad, 1-b1),
 * exp_avg_sq.mul_(b2).addcmul_(grad, grad, 1-b2),
 * denom = sqrt(exp_avg_sq) / sqrt(bc2) + eps, param.addcdiv_(exp_avg, denom, -lr/bc1). */
static void step_adam(struct enevo_optim *o, float *restrict p, const float *restrict g)
{
    const size_t n = o->n;
    const double t = (double)(o->t + 1);
    const double bc1 = 1.0 - pow(o->spec.beta1, t), bc2 = 1.0 - pow(o->spec.beta2, t);
    const float neg_step = (float)-(o->spec.lr / bc1);
    const float bc2_sqrt = (float)sqrt(bc2);
    const float w1 = (float)(1.0 - o->spec.beta1);
    const float b2 = (float)o->spec.beta2, w2 = (float)(1.0 - o->spec.beta2);
    const float wd = (float)o->spec.weight_decay, eps = 1e-8f;
    float *restrict m = o->state;
    float *restrict v = o->state + n;
    /* at::lerp picks its form by the weight, so the same weight does every element. */
    const int lerp_lo = fabsf(w1) < 0.5f;
    /* sqrtf may set errno, so this loop vectorises only under -fno-math-errno. */
#pragma omp parallel for if (n >= OPTIM_PAR_MIN)
    for (size_t i = 0; i < n; i++) {
        float d = g[i] + wd * p[i];
        float mi = m[i];
        mi = lerp_lo ? mi + w1 * (d - mi) : d - (d - mi) * (1.0f - w1);
        float vi = v[i] * b2 + w2 * d * d;
        m[i] = mi;
        v[i] = vi;
        float denom = sqrtf(vi) / bc2_sqrt + eps;
        p[i] = p[i] + neg_step * mi / denom;
    }
}

/* torch.optim.RMSprop, not centred, no momentum: square_avg.mul_(alpha)
 * .addcmul_(grad, grad, 1-alpha); param.addcdiv_(grad, sqrt(square_avg) + eps, -lr). */
static void step_rmsprop(struct enevo_optim *o, float *restrict p, const float *restrict g)
{
    const size_t n = o->n;
    const float neg_lr = (float)-o->spec.lr, wd = (float)o->spec.weight_decay;
    const float a = (float)o->spec.alpha, w = (float)(1.0 - o->spec.alpha), eps = 1e-8f;
    float *restrict v = o->state;
#pragma omp parallel for if (n >= OPTIM_PAR_MIN) /* sqrtf: see step_adam */
    for (size_t i = 0; i < n; i++) {
        float d = g[i] + wd * p[i];
        float vi = v[i] * a + w * d * d;
        v[i] = vi;
        p[i] = p[i] + neg_lr * d / (sqrtf(vi) + eps);
    }
}

/* LARS as in Barlow Twins / ENERGIZE: per tensor, dp = grad (+ wd*p unless
 * 1-D), q = eta*||p||/||dp|| (1 for 1-D, or when either norm is 0),
 * mu = momentum*mu + q*dp, p -= lr*mu. */
static void step_lars(struct enevo_optim *o, float *restrict p, const float *restrict g)
{
    const double eta = 0.001, scale = (double)o->spec.batch_size / 256.0;
    const float wd = (float)o->spec.weight_decay, mom = (float)o->spec.momentum;
    float *restrict mu = o->state;
    for (int s = 0; s < o->n_segs; s++) {
        const struct enevo_param_seg seg = o->segs[s];
        float *restrict ps = p + seg.offset;
        const float *restrict gs = g + seg.offset;
        float *restrict ms = mu + seg.offset;
        const size_t c = seg.count;
        const float neg_lr = (float)-((seg.is_1d ? o->spec.lr_biases : o->spec.lr_weights) * scale);
        float q = 1.0f;
        float wds = seg.is_1d ? 0.0f : wd;
        if (!seg.is_1d) {
            /* Serial double sums: deterministic whatever the thread count. */
            double pp = 0, uu = 0;
            for (size_t i = 0; i < c; i++) {
                float d = gs[i] + wds * ps[i];
                pp += (double)ps[i] * ps[i];
                uu += (double)d * d;
            }
            double pn = sqrt(pp), un = sqrt(uu);
            if (pn > 0 && un > 0)
                q = (float)(eta * pn / un);
        }
#pragma omp parallel for if (c >= OPTIM_PAR_MIN)
        for (size_t i = 0; i < c; i++) {
            float d = (gs[i] + wds * ps[i]) * q;
            float m = ms[i] * mom + d;
            ms[i] = m;
            ps[i] = ps[i] + neg_lr * m;
        }
    }
}

void enevo_optim_step(struct enevo_optim *o, float *params, const float *grads)
{
    if (o->n == 0) {
        o->t++;
        return;
    }
    switch (o->spec.optimizer) {
    case ENEVO_OPT_SGD:
        step_sgd(o, params, grads);
        break;
    case ENEVO_OPT_ADAM:
        step_adam(o, params, grads);
        break;
    case ENEVO_OPT_RMSPROP:
        step_rmsprop(o, params, grads);
        break;
    case ENEVO_OPT_LARS:
        step_lars(o, params, grads);
        break;
    }
    o->t++;
}
