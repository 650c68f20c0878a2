/* GPU version of src/nn/optim.c: same formulas, same operation order, float
 * where optim.c uses float and double where it uses double. The float
 * arithmetic goes through the _rn intrinsics so that nvcc neither contracts
 * it into FMAs nor (under fast-math flags) approximates division or sqrt: as
 * the CPU build (C11, no FMA contraction) rounds each operation, SGD and
 * RMSprop agree bit for bit, Adam up to the device pow() in its bias
 * corrections, LARS up to the summation order of its norms.
 *
 * optim.c increments o->t after the update, so inside a step "t" there is
 * the number of earlier steps: SGD's first step (momentum buffer = d) is
 * o->t == 0 and Adam's bias corrections use o->t + 1. Here *t_dev already is
 * that 1-based step number: first step <=> *t_dev == 1, Adam uses *t_dev.
 *
 * SGD, Adam and RMSprop loop over the whole flat block (segments unused), as
 * optim.c does: one grid-stride kernel each. LARS loops over segments, which
 * enevo_optim_init makes cover the block exactly; here every segment is cut
 * into chunks of CHUNK floats, one block per chunk (grid-stride over chunks):
 *  1. lars_norms: per chunk, sum p^2 and d^2 (d = g + wd*p) in double with a
 *     fixed tree; the last block of a segment to finish (integer ticket, so
 *     the result does not depend on which it is) adds the segment's chunk
 *     partials in chunk order and writes the trust ratio q. 1-D segments
 *     skip this (q = 1, no weight decay).
 *  2. lars_update: per chunk, the elementwise update with its segment's q.
 * No float atomics: the same inputs give the same bits on every run.
 */
#include "backend/cuda/cuda_optim.h"

#include <math.h>
#include <stdlib.h>

#define THREADS 256
#define CHUNK 8192 /* floats per LARS block */

struct co_hyper {
    float neg_lr, wd, mom, w1, b2, w2, alpha, w_alpha; /* floats as optim.c rounds them */
    double lr, beta1, beta2;                           /* adam: bias corrections in double */
    int nesterov, lerp_lo;
};
struct co_chunk {
    size_t off;
    int count, seg;
};
struct co_seg {
    int first, n_chunks, is_1d;
    float neg_lr;
};

struct cuda_optim {
    enum enevo_optimizer kind;
    size_t n, n_state; /* floats */
    struct co_hyper h;
    int grid, n_chunks, n_segs;
    float *state;            /* [n_state] */
    struct co_chunk *chunks; /* [n_chunks] */
    struct co_seg *segs;     /* [n_segs] */
    double *part;            /* [n_chunks][2]: sum p^2, sum d^2 */
    float *seg_q;            /* [n_segs] trust ratio */
    unsigned *seg_done;      /* [n_segs] tickets; 0 between steps */
    size_t bytes;
};

/* Rounded float operations: never contracted into FMAs, never approximated. */
#define rn_add __fadd_rn
#define rn_sub __fsub_rn
#define rn_mul __fmul_rn
#define rn_div __fdiv_rn

#define GRID_STRIDE(i, n)                                                                          \
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < (n);                        \
         i += (size_t)gridDim.x * blockDim.x)

static __global__ void k_sgd(size_t n, float *__restrict__ p, const float *__restrict__ g,
                             float *__restrict__ buf, const long long *t_dev, struct co_hyper h)
{
    const int first = *t_dev == 1;
    GRID_STRIDE(i, n)
    {
        float d = rn_add(g[i], rn_mul(h.wd, p[i]));
        if (buf) { /* momentum != 0 */
            float b = first ? d : rn_add(rn_mul(buf[i], h.mom), d);
            buf[i] = b;
            d = h.nesterov ? rn_add(d, rn_mul(h.mom, b)) : b;
        }
        p[i] = rn_add(p[i], rn_mul(h.neg_lr, d));
    }
}

static __global__ void k_adam(size_t n, float *__restrict__ p, const float *__restrict__ g,
                              float *__restrict__ m, float *__restrict__ v, const long long *t_dev,
                              struct co_hyper h)
{
    const double t = (double)*t_dev;
    const double bc1 = 1.0 - pow(h.beta1, t), bc2 = 1.0 - pow(h.beta2, t);
    const float neg_step = (float)-(h.lr / bc1);
    const float bc2_sqrt = (float)sqrt(bc2), eps = 1e-8f;
    GRID_STRIDE(i, n)
    {
        float d = rn_add(g[i], rn_mul(h.wd, p[i]));
        float mi = m[i];
        mi = h.lerp_lo ? rn_add(mi, rn_mul(h.w1, rn_sub(d, mi)))
                       : rn_sub(d, rn_mul(rn_sub(d, mi), rn_sub(1.0f, h.w1)));
        float vi = rn_add(rn_mul(v[i], h.b2), rn_mul(rn_mul(h.w2, d), d));
        m[i] = mi;
        v[i] = vi;
        float denom = rn_add(rn_div(__fsqrt_rn(vi), bc2_sqrt), eps);
        p[i] = rn_add(p[i], rn_div(rn_mul(neg_step, mi), denom));
    }
}

static __global__ void k_rmsprop(size_t n, float *__restrict__ p, const float *__restrict__ g,
                                 float *__restrict__ v, struct co_hyper h)
{
    GRID_STRIDE(i, n)
    {
        float d = rn_add(g[i], rn_mul(h.wd, p[i]));
        float vi = rn_add(rn_mul(v[i], h.alpha), rn_mul(rn_mul(h.w_alpha, d), d));
        v[i] = vi;
        p[i] = rn_add(p[i], rn_div(rn_mul(h.neg_lr, d), rn_add(__fsqrt_rn(vi), 1e-8f)));
    }
}

/* Fixed-shape tree sum of (a, b) over the block; every thread gets the result. */
static __device__ void block_sum2(double *a, double *b)
{
    __shared__ double sa[THREADS], sb[THREADS];
    __syncthreads(); /* the previous call's readers are done */
    sa[threadIdx.x] = *a;
    sb[threadIdx.x] = *b;
    for (int s = THREADS / 2; s > 0; s >>= 1) {
        __syncthreads();
        if ((int)threadIdx.x < s) {
            sa[threadIdx.x] += sa[threadIdx.x + s];
            sb[threadIdx.x] += sb[threadIdx.x + s];
        }
    }
    __syncthreads();
    *a = sa[0];
    *b = sb[0];
}

static __global__ void __launch_bounds__(THREADS)
    k_lars_norms(int n_chunks, const struct co_chunk *__restrict__ chunks,
                 const struct co_seg *__restrict__ segs, const float *__restrict__ p,
                 const float *__restrict__ g, double *part, float *seg_q, unsigned *seg_done,
                 float wd)
{
    __shared__ int last;
    for (int c = blockIdx.x; c < n_chunks; c += gridDim.x) {
        const struct co_chunk ch = chunks[c];
        const struct co_seg sg = segs[ch.seg];
        if (sg.is_1d)
            continue; /* uniform over the block */
        double pp = 0, uu = 0;
        for (int i = threadIdx.x; i < ch.count; i += THREADS) {
            float pv = p[ch.off + i], d = rn_add(g[ch.off + i], rn_mul(wd, pv));
            pp += (double)pv * pv; /* exact products: FMA or not, same bits */
            uu += (double)d * d;
        }
        block_sum2(&pp, &uu);
        if (threadIdx.x == 0) {
            part[2 * c] = pp;
            part[2 * c + 1] = uu;
            __threadfence(); /* partials visible before the ticket */
            last = atomicAdd(&seg_done[ch.seg], 1u) == (unsigned)sg.n_chunks - 1;
        }
        __syncthreads();
        if (!last)
            continue;
        __threadfence();
        pp = 0, uu = 0;
        for (int k = sg.first + threadIdx.x; k < sg.first + sg.n_chunks; k += THREADS) {
            pp += __ldcg(&part[2 * k]); /* L2: written by other blocks */
            uu += __ldcg(&part[2 * k + 1]);
        }
        block_sum2(&pp, &uu);
        if (threadIdx.x == 0) {
            double pn = sqrt(pp), un = sqrt(uu);
            seg_q[ch.seg] = pn > 0 && un > 0 ? (float)(0.001 * pn / un) : 1.0f; /* eta 0.001 */
            seg_done[ch.seg] = 0; /* ready for the next step (or graph replay) */
        }
    }
}

static __global__ void __launch_bounds__(THREADS)
    k_lars_update(int n_chunks, const struct co_chunk *__restrict__ chunks,
                  const struct co_seg *__restrict__ segs, float *__restrict__ p,
                  const float *__restrict__ g, float *__restrict__ mu,
                  const float *__restrict__ seg_q, float wd, float mom)
{
    for (int c = blockIdx.x; c < n_chunks; c += gridDim.x) {
        const struct co_chunk ch = chunks[c];
        const struct co_seg sg = segs[ch.seg];
        const float q = sg.is_1d ? 1.0f : seg_q[ch.seg], wds = sg.is_1d ? 0.0f : wd;
        for (int k = threadIdx.x; k < ch.count; k += THREADS) {
            size_t i = ch.off + k;
            float d = rn_mul(rn_add(g[i], rn_mul(wds, p[i])), q);
            float m = rn_add(rn_mul(mu[i], mom), d);
            mu[i] = m;
            p[i] = rn_add(p[i], rn_mul(sg.neg_lr, m));
        }
    }
}

static int dalloc(struct cuda_optim *co, void **ptr, size_t bytes, const char *what, char *err,
                  size_t errlen)
{
    cudaError_t e = cudaMalloc(ptr, bytes);
    if (e != cudaSuccess) {
        *ptr = NULL;
        return enevo_errf(err, errlen, ENEVO_ENOMEM,
                          "cuda optimiser: cudaMalloc of %zu bytes for %s: %s", bytes, what,
                          cudaGetErrorString(e));
    }
    co->bytes += bytes;
    return 0;
}

static int cuda_fail(cudaError_t e, const char *what, char *err, size_t errlen)
{
    return enevo_errf(err, errlen, ENEVO_EBACKEND, "cuda optimiser: %s: %s", what,
                      cudaGetErrorString(e));
}

int cuda_optim_create(const struct enevo_optim *o, struct cuda_optim **out, char *err,
                      size_t errlen)
{
    *out = NULL;
    const struct enevo_learning_spec *s = &o->spec;
    if ((int)s->optimizer < ENEVO_OPT_SGD || (int)s->optimizer > ENEVO_OPT_LARS)
        return enevo_errf(err, errlen, ENEVO_EINVAL, "cuda optimiser: unknown kind %d",
                          (int)s->optimizer);
    struct cuda_optim *co = (struct cuda_optim *)calloc(1, sizeof *co);
    if (!co)
        return enevo_errf(err, errlen, ENEVO_ENOMEM, "cuda optimiser: out of memory");
    co->kind = s->optimizer;
    co->n = o->n;
    co->n_state = (size_t)enevo_optim_state_floats(s) * o->n;
    struct co_hyper *h = &co->h;
    h->wd = (float)s->weight_decay;
    h->mom = (float)s->momentum;
    h->nesterov = s->nesterov;
    h->neg_lr = -(float)s->lr; /* sgd, rmsprop */
    h->lr = s->lr, h->beta1 = s->beta1, h->beta2 = s->beta2;
    h->w1 = (float)(1.0 - s->beta1);
    h->lerp_lo = fabsf(h->w1) < 0.5f;
    h->b2 = (float)s->beta2, h->w2 = (float)(1.0 - s->beta2);
    h->alpha = (float)s->alpha, h->w_alpha = (float)(1.0 - s->alpha);

    int dev = 0, sms = 0, rc = 0;
    cudaError_t e = cudaGetDevice(&dev);
    if (e == cudaSuccess)
        e = cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev);
    if (e != cudaSuccess) {
        free(co);
        return cuda_fail(e, "device query", err, errlen);
    }
    size_t blocks = (o->n + THREADS - 1) / THREADS, cap = (size_t)sms * 8;
    co->grid = (int)(blocks < cap ? (blocks ? blocks : 1) : cap);

    struct co_chunk *hc = NULL;
    struct co_seg *hs = NULL;
    if (co->n_state && !o->state)
        rc = enevo_errf(err, errlen, ENEVO_EINVAL, "cuda optimiser: no host state to upload");
    if (!rc && co->n_state)
        rc = dalloc(co, (void **)&co->state, co->n_state * sizeof(float), "state", err, errlen);
    if (!rc && co->n_state) {
        e = cudaMemcpy(co->state, o->state, co->n_state * sizeof(float), cudaMemcpyHostToDevice);
        if (e != cudaSuccess)
            rc = cuda_fail(e, "state upload", err, errlen);
    }
    if (!rc && s->optimizer == ENEVO_OPT_LARS && o->n_segs > 0 && o->n > 0) {
        size_t nc = 0;
        for (int i = 0; i < o->n_segs; i++)
            nc += (o->segs[i].count + CHUNK - 1) / CHUNK;
        if (nc > 0x7fffffff)
            rc = enevo_errf(err, errlen, ENEVO_EINVAL, "cuda optimiser: %zu LARS chunks", nc);
        hc = (struct co_chunk *)malloc((nc ? nc : 1) * sizeof *hc);
        hs = (struct co_seg *)malloc((size_t)o->n_segs * sizeof *hs);
        if (!rc && (!hc || !hs))
            rc = enevo_errf(err, errlen, ENEVO_ENOMEM,
                            "cuda optimiser: out of memory for LARS tables");
        const double scale = (double)s->batch_size / 256.0;
        int k = 0;
        for (int i = 0; i < o->n_segs && !rc; i++) {
            const struct enevo_param_seg sg = o->segs[i];
            hs[i].first = k;
            hs[i].is_1d = sg.is_1d;
            hs[i].neg_lr = (float)-((sg.is_1d ? s->lr_biases : s->lr_weights) * scale);
            for (size_t off = 0; off < sg.count; off += CHUNK, k++) {
                hc[k].off = sg.offset + off;
                hc[k].count = (int)(sg.count - off < CHUNK ? sg.count - off : CHUNK);
                hc[k].seg = i;
            }
            hs[i].n_chunks = k - hs[i].first;
        }
        co->n_chunks = (int)nc;
        co->n_segs = o->n_segs;
        if (!rc && nc) {
            rc = dalloc(co, (void **)&co->chunks, nc * sizeof *hc, "LARS chunks", err, errlen);
            if (!rc)
                rc = dalloc(co, (void **)&co->part, 2 * nc * sizeof(double), "LARS partials", err,
                            errlen);
        }
        if (!rc)
            rc = dalloc(co, (void **)&co->segs, (size_t)o->n_segs * sizeof *hs, "LARS segments",
                        err, errlen);
        if (!rc)
            rc = dalloc(co, (void **)&co->seg_q, (size_t)o->n_segs * sizeof(float), "LARS ratios",
                        err, errlen);
        if (!rc)
            rc = dalloc(co, (void **)&co->seg_done, (size_t)o->n_segs * sizeof(unsigned),
                        "LARS tickets", err, errlen);
        if (!rc && nc &&
            (e = cudaMemcpy(co->chunks, hc, nc * sizeof *hc, cudaMemcpyHostToDevice)) !=
                cudaSuccess)
            rc = cuda_fail(e, "LARS chunk upload", err, errlen);
        if (!rc && (e = cudaMemcpy(co->segs, hs, (size_t)o->n_segs * sizeof *hs,
                                   cudaMemcpyHostToDevice)) != cudaSuccess)
            rc = cuda_fail(e, "LARS segment upload", err, errlen);
        if (!rc &&
            (e = cudaMemset(co->seg_done, 0, (size_t)o->n_segs * sizeof(unsigned))) != cudaSuccess)
            rc = cuda_fail(e, "LARS ticket reset", err, errlen);
    }
    free(hc);
    free(hs);
    if (rc) {
        cuda_optim_free(co);
        return rc;
    }
    *out = co;
    return 0;
}

int cuda_optim_upload(struct cuda_optim *co, const struct enevo_optim *o, char *err, size_t errlen)
{
    if (o->n != co->n || (size_t)enevo_optim_state_floats(&o->spec) * o->n != co->n_state)
        return enevo_errf(err, errlen, ENEVO_EINVAL,
                          "cuda optimiser: upload of a different optimiser");
    if (!co->n_state)
        return 0;
    cudaError_t e = cudaDeviceSynchronize(); /* no step in flight reads the old state */
    if (e == cudaSuccess)
        e = cudaMemcpy(co->state, o->state, co->n_state * sizeof(float), cudaMemcpyHostToDevice);
    return e == cudaSuccess ? 0 : cuda_fail(e, "state upload", err, errlen);
}

void cuda_optim_step(struct cuda_optim *co, float *params, const float *grads,
                     const long long *t_dev, cudaStream_t stream)
{
    const size_t n = co->n;
    if (n == 0)
        return;
    switch (co->kind) {
    case ENEVO_OPT_SGD:
        k_sgd<<<co->grid, THREADS, 0, stream>>>(n, params, grads, co->state, t_dev, co->h);
        break;
    case ENEVO_OPT_ADAM:
        k_adam<<<co->grid, THREADS, 0, stream>>>(n, params, grads, co->state, co->state + n, t_dev,
                                                 co->h);
        break;
    case ENEVO_OPT_RMSPROP:
        k_rmsprop<<<co->grid, THREADS, 0, stream>>>(n, params, grads, co->state, co->h);
        break;
    case ENEVO_OPT_LARS: {
        if (co->n_chunks == 0)
            break;
        int grid = co->n_chunks < 65535 ? co->n_chunks : 65535;
        k_lars_norms<<<grid, THREADS, 0, stream>>>(co->n_chunks, co->chunks, co->segs, params,
                                                   grads, co->part, co->seg_q, co->seg_done,
                                                   co->h.wd);
        k_lars_update<<<grid, THREADS, 0, stream>>>(co->n_chunks, co->chunks, co->segs, params,
                                                    grads, co->state, co->seg_q, co->h.wd,
                                                    co->h.mom);
        break;
    }
    }
}

int cuda_optim_download(struct cuda_optim *co, struct enevo_optim *o, char *err, size_t errlen)
{
    if (o->n != co->n || (size_t)enevo_optim_state_floats(&o->spec) * o->n != co->n_state)
        return enevo_errf(err, errlen, ENEVO_EINVAL,
                          "cuda optimiser: download into a different optimiser");
    if (!co->n_state)
        return 0;
    cudaError_t e = cudaDeviceSynchronize(); /* the caller's stream may be non-blocking */
    if (e == cudaSuccess)
        e = cudaMemcpy(o->state, co->state, co->n_state * sizeof(float), cudaMemcpyDeviceToHost);
    return e == cudaSuccess ? 0 : cuda_fail(e, "state download", err, errlen);
}

void cuda_optim_free(struct cuda_optim *co)
{
    if (!co)
        return;
    /* cudaFree errors here would be sticky ones an earlier call reported. */
    cudaFree(co->state);
    cudaFree(co->chunks);
    cudaFree(co->segs);
    cudaFree(co->part);
    cudaFree(co->seg_q);
    cudaFree(co->seg_done);
    free(co);
}

size_t cuda_optim_bytes(const struct cuda_optim *co)
{
    return co ? co->bytes : 0;
}
