/* Stratified seeded splits and subsets; synthetic datasets for tests. */
#include "enevo/data.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "data/alloc.h"
#include "enevo/rng.h"

/* A cell of the class x set table, ordered by its rounding remainder. */
struct cell {
    int64_t rem;
    int k, s;
};

static int cell_cmp(const void *a, const void *b)
{
    const struct cell *p = a, *q = b;
    if (p->rem != q->rem)
        return p->rem > q->rem ? -1 : 1;
    if (p->k != q->k)
        return p->k < q->k ? -1 : 1;
    return (p->s > q->s) - (p->s < q->s);
}

/* Rounds the table count[k] * size[s] / n (S columns whose sizes sum to n)
 * so that every cell is the floor or the ceiling of its exact share and
 * every row and column total is exact. Rounding each column on its own by
 * largest remainder can hand one class more images than it has; here the
 * round-ups are first given by largest remainder wherever row and column
 * still need one, and the rest placed by augmenting paths (a bipartite
 * flow, which always completes because the fractional table is itself a
 * solution). q is [K, S]. */
static int round_table(const int *count, int K, const int *size, int S, int n, int *q)
{
    int rc = ENEVO_ENOMEM;
    int *need_row = calloc((size_t)K, sizeof *need_row);
    int *need_col = calloc((size_t)S, sizeof *need_col);
    unsigned char *up = calloc((size_t)K * (size_t)S, 1);   // [K, S] 1 = round up
    unsigned char *frac = calloc((size_t)K * (size_t)S, 1); // [K, S] 1 = may round up
    struct cell *cells = malloc((size_t)K * (size_t)S * sizeof *cells);
    int *par_col = malloc((size_t)S * sizeof *par_col);
    int *par_row = malloc((size_t)K * sizeof *par_row);
    int *queue = malloc((size_t)K * sizeof *queue);
    if (!need_row || !need_col || !up || !frac || !cells || !par_col || !par_row || !queue)
        goto done;
    for (int s = 0; s < S; s++)
        need_col[s] = size[s];
    for (int k = 0; k < K; k++) {
        need_row[k] = count[k];
        for (int s = 0; s < S; s++) {
            int64_t prod = (int64_t)count[k] * size[s];
            int fl = n ? (int)(prod / n) : 0;
            int64_t rem = n ? prod % n : 0;
            q[k * S + s] = fl;
            need_row[k] -= fl;
            need_col[s] -= fl;
            frac[k * S + s] = rem > 0;
            cells[k * S + s] = (struct cell){rem, k, s};
        }
    }
    qsort(cells, (size_t)K * (size_t)S, sizeof *cells, cell_cmp);
    for (int i = 0; i < K * S && cells[i].rem > 0; i++) {
        int k = cells[i].k, s = cells[i].s;
        if (need_row[k] > 0 && need_col[s] > 0) {
            up[k * S + s] = 1;
            need_row[k]--;
            need_col[s]--;
        }
    }
    for (int k0 = 0; k0 < K; k0++) {
        while (need_row[k0] > 0) {
            /* BFS: row -> column over a cell not yet rounded up, column ->
             * row over a cell that is (moving that round-up elsewhere). */
            for (int s = 0; s < S; s++)
                par_col[s] = -1;
            for (int k = 0; k < K; k++)
                par_row[k] = -1;
            int head = 0, tail = 0, target = -1;
            queue[tail++] = k0;
            par_row[k0] = S;
            while (head < tail && target < 0) {
                int u = queue[head++];
                for (int s = 0; s < S && target < 0; s++) {
                    if (par_col[s] >= 0 || !frac[u * S + s] || up[u * S + s])
                        continue;
                    par_col[s] = u;
                    if (need_col[s] > 0) {
                        target = s;
                        break;
                    }
                    for (int v = 0; v < K; v++)
                        if (par_row[v] < 0 && up[v * S + s]) {
                            par_row[v] = s;
                            queue[tail++] = v;
                        }
                }
            }
            if (target < 0) {
                rc = ENEVO_EINVAL; /* cannot happen: see the comment above */
                goto done;
            }
            need_col[target]--;
            need_row[k0]--;
            for (int s = target;;) {
                int u = par_col[s];
                up[u * S + s] = 1;
                if (u == k0)
                    break;
                s = par_row[u];
                up[u * S + s] = 0;
            }
        }
    }
    for (int i = 0; i < K * S; i++)
        q[i] += up[i];
    rc = 0;
done:
    free(need_row);
    free(need_col);
    free(up);
    free(frac);
    free(cells);
    free(par_col);
    free(par_row);
    free(queue);
    return rc;
}

static int make_set(const struct enevo_dataset *all, const int *idx, int m,
                    struct enevo_dataset *out)
{
    size_t img = (size_t)all->c * (size_t)all->h * (size_t)all->w;
    *out = (struct enevo_dataset){
        .n = 0, .c = all->c, .h = all->h, .w = all->w, .n_classes = all->n_classes};
    if (m == 0)
        return 0;
    if (all->u8) { /* bytes stay bytes, with their map */
        memcpy(out->u8_mean, all->u8_mean, sizeof out->u8_mean);
        memcpy(out->u8_inv, all->u8_inv, sizeof out->u8_inv);
        out->u8 = enevo__data_alloc((size_t)m * img);
    } else {
        out->x = enevo__data_alloc((size_t)m * img * sizeof *out->x);
    }
    out->y = malloc((size_t)m);
    if ((!out->x && !out->u8) || !out->y) {
        enevo_dataset_free(out);
        return ENEVO_ENOMEM;
    }
    for (int i = 0; i < m; i++) {
        if (all->u8)
            memcpy(out->u8 + (size_t)i * img, all->u8 + (size_t)idx[i] * img, img);
        else
            memcpy(out->x + (size_t)i * img, all->x + (size_t)idx[i] * img, img * sizeof *out->x);
        out->y[i] = all->y[idx[i]];
    }
    out->n = m;
    return 0;
}

/* Draws nsets disjoint stratified sets of the given sizes from `all`
 * (sizes summing to at most all->n): *pick gets their image indices, set
 * after set, each set in a seeded order (caller frees). */
static int stratify_idx(const struct enevo_dataset *all, const int *sizes, int nsets,
                        enevo_rng *r, int **pick, char *err, size_t errlen)
{
    int K = all->n_classes > 0 ? all->n_classes : 0;
    for (int i = 0; i < all->n; i++)
        if (all->y[i] >= K)
            K = all->y[i] + 1;
    int S = nsets + 1; /* the last column is what no set takes */
    int col[4];
    int rest = all->n;
    for (int s = 0; s < nsets; s++) {
        col[s] = sizes[s];
        rest -= sizes[s];
    }
    col[nsets] = rest;

    int rc = ENEVO_ENOMEM;
    int *count = calloc((size_t)K + 1, sizeof *count);
    int *start = calloc((size_t)K + 1, sizeof *start);
    int *cursor = calloc((size_t)K + 1, sizeof *cursor);
    int *order = malloc(((size_t)all->n + 1) * sizeof *order); // [n] indices grouped by class
    int *q = malloc(((size_t)K * (size_t)S + 1) * sizeof *q);  // [K, S]
    int *idx = malloc(((size_t)all->n + 1) * sizeof *idx);
    *pick = NULL;
    if (!count || !start || !cursor || !order || !q || !idx) {
        enevo_errf(err, errlen, rc, "stratified split: out of memory for %d images", all->n);
        goto done;
    }
    for (int i = 0; i < all->n; i++)
        count[all->y[i]]++;
    for (int k = 1; k <= K; k++)
        start[k] = start[k - 1] + count[k - 1];
    memcpy(cursor, start, (size_t)K * sizeof *cursor);
    for (int i = 0; i < all->n; i++)
        order[cursor[all->y[i]]++] = i;
    for (int k = 0; k < K; k++)
        enevo_rng_shuffle(r, order + start[k], count[k]);
    rc = round_table(count, K, col, S, all->n, q);
    if (rc) {
        enevo_errf(err, errlen, rc, "stratified split: cannot apportion %d images", all->n);
        goto done;
    }
    /* Each class's shuffled indices are taken in turn, train first. */
    memcpy(cursor, start, (size_t)K * sizeof *cursor);
    int m = 0;
    for (int s = 0; s < nsets; s++) {
        int first = m;
        for (int k = 0; k < K; k++) {
            int take = q[k * S + s];
            memcpy(idx + m, order + cursor[k], (size_t)take * sizeof *idx);
            cursor[k] += take;
            m += take;
        }
        enevo_rng_shuffle(r, idx + first, m - first);
    }
    *pick = idx;
    idx = NULL;
    rc = 0;
done:
    free(count);
    free(start);
    free(cursor);
    free(order);
    free(q);
    free(idx);
    return rc;
}

/* The sets as copies of the picked images. */
static int stratify(const struct enevo_dataset *all, const int *sizes, int nsets, enevo_rng *r,
                    struct enevo_dataset *out, char *err, size_t errlen)
{
    for (int s = 0; s < nsets; s++)
        out[s] = (struct enevo_dataset){0};
    int *idx;
    int rc = stratify_idx(all, sizes, nsets, r, &idx, err, errlen);
    if (rc)
        return rc;
    int m = 0;
    for (int s = 0; s < nsets && !rc; s++) {
        rc = make_set(all, idx + m, sizes[s], &out[s]);
        if (rc)
            enevo_errf(err, errlen, rc, "stratified split: cannot allocate %d images", sizes[s]);
        m += sizes[s];
    }
    if (rc)
        for (int s = 0; s < nsets; s++)
            enevo_dataset_free(&out[s]);
    free(idx);
    return rc;
}

/* The three sizes are non-negative and fit in the set. */
static int check_sizes(const struct enevo_dataset *all, int n_train, int n_val, int n_fit,
                       char *err, size_t errlen)
{
    if (n_train < 0 || n_val < 0 || n_fit < 0)
        return enevo_errf(err, errlen, ENEVO_EINVAL,
                          "split: negative size (train %d, validation %d, fitness %d)", n_train,
                          n_val, n_fit);
    int64_t total = (int64_t)n_train + n_val + n_fit;
    if (total > all->n)
        return enevo_errf(err, errlen, ENEVO_EINVAL,
                          "split: %d + %d + %d = %lld images requested but only %d available",
                          n_train, n_val, n_fit, (long long)total, all->n);
    return 0;
}

int enevo_data_split(const struct enevo_dataset *all, int n_train, int n_val, int n_fit,
                     uint64_t seed, struct enevo_split *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    int rc0 = check_sizes(all, n_train, n_val, n_fit, err, errlen);
    if (rc0)
        return rc0;
    enevo_rng r;
    enevo_rng_seed(&r, seed, ENEVO_STREAM_SPLIT);
    int sizes[3] = {n_train, n_val, n_fit};
    struct enevo_dataset sets[3];
    int rc = stratify(all, sizes, 3, &r, sets, err, errlen);
    if (rc)
        return rc;
    out->train = sets[0];
    out->validation = sets[1];
    out->fitness = sets[2];
    /* Energy measurement reads the fitness images directly: floats. */
    if ((rc = enevo_dataset_to_float(&out->fitness, err, errlen)))
        enevo_split_free(out);
    return rc;
}

int enevo_data_split_take(struct enevo_dataset *all, int n_train, int n_val, int n_fit,
                          uint64_t seed, struct enevo_split *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    int rc0 = check_sizes(all, n_train, n_val, n_fit, err, errlen);
    if (rc0)
        return rc0;
    int64_t total = (int64_t)n_train + n_val + n_fit;
    if (all->borrowed)
        return enevo_errf(err, errlen, ENEVO_EINVAL, "split: the set does not own its images");
    enevo_rng r;
    enevo_rng_seed(&r, seed, ENEVO_STREAM_SPLIT);
    int sizes[3] = {n_train, n_val, n_fit};
    int *idx = NULL;
    int rc = stratify_idx(all, sizes, 3, &r, &idx, err, errlen);
    if (rc)
        return rc;
    /* src[j]: the image position j receives; the picked ones first, then
     * the unused ones in their order. Applied in place along its cycles,
     * so the sets need no second copy of the images. */
    int n = all->n > 0 ? all->n : 0;
    int *src = malloc(sizeof *src * ((size_t)n + 1));
    unsigned char *done = calloc((size_t)n + 1, 1);
    size_t img = (size_t)all->c * (size_t)all->h * (size_t)all->w;
    /* One image is `isz` bytes of the block, floats or (u8) bytes. */
    size_t isz = all->u8 ? img : img * sizeof(float);
    unsigned char *block = all->u8 ? all->u8 : (unsigned char *)all->x;
    unsigned char *tmp = malloc(isz + 1);
    if (!src || !done || !tmp) {
        free(idx);
        free(src);
        free(done);
        free(tmp);
        return enevo_errf(err, errlen, ENEVO_ENOMEM, "split: out of memory for %d images", n);
    }
    for (int j = 0; j < (int)total; j++) {
        src[j] = idx[j];
        done[idx[j]] = 1;
    }
    for (int i = 0, j = (int)total; i < n; i++)
        if (!done[i])
            src[j++] = i;
    memset(done, 0, (size_t)n + 1);
    for (int j = 0; j < n; j++) {
        if (done[j] || src[j] == j) {
            done[j] = 1;
            continue;
        }
        memcpy(tmp, block + (size_t)j * isz, isz);
        uint8_t ty = all->y[j];
        int k = j;
        for (;;) {
            done[k] = 1;
            int from = src[k];
            if (from == j) {
                memcpy(block + (size_t)k * isz, tmp, isz);
                all->y[k] = ty;
                break;
            }
            memcpy(block + (size_t)k * isz, block + (size_t)from * isz, isz);
            all->y[k] = all->y[from];
            k = from;
        }
    }
    free(idx);
    free(src);
    free(done);
    free(tmp);
    struct enevo_dataset base = {.c = all->c, .h = all->h, .w = all->w,
                                 .n_classes = all->n_classes};
    memcpy(base.u8_mean, all->u8_mean, sizeof base.u8_mean);
    memcpy(base.u8_inv, all->u8_inv, sizeof base.u8_inv);
    out->train = base;
    out->train.n = n_train;
    out->train.y = all->y;
    out->validation = base;
    out->validation.n = n_val;
    out->validation.y = all->y + n_train;
    out->validation.borrowed = true;
    out->fitness = base;
    out->fitness.n = n_fit;
    out->fitness.y = all->y + n_train + n_val;
    out->fitness.borrowed = true;
    if (all->u8) {
        out->train.u8 = all->u8;
        out->validation.u8 = all->u8 + (size_t)n_train * img;
        out->fitness.u8 = all->u8 + (size_t)(n_train + n_val) * img;
    } else {
        out->train.x = all->x;
        out->validation.x = all->x + (size_t)n_train * img;
        out->fitness.x = all->x + (size_t)(n_train + n_val) * img;
    }
    all->x = NULL;
    all->u8 = NULL;
    all->y = NULL;
    all->n = 0;
    /* Energy measurement reads the fitness images directly: floats (its
     * own copy; the bytes it leaves in the block are n_fit images). */
    if ((rc = enevo_dataset_to_float(&out->fitness, err, errlen)))
        enevo_split_free(out);
    return rc;
}

int enevo_split_sizes(int n, double train, double val, double fit, int method, int *n_train,
                      int *n_val, int *n_fit, char *err, size_t errlen)
{
    if (n < 0 || !(train > 0 && train <= 1) || !(val >= 0 && val <= 1) || !(fit >= 0 && fit <= 1))
        return enevo_errf(err, errlen, ENEVO_EINVAL,
                          "split sizes: fractions train %g, validation %g, fitness %g of %d "
                          "images: expected train in (0, 1], the others in [0, 1]",
                          train, val, fit, n);
    if (method == ENEVO_SPLIT_ENEVO) {
        *n_train = (int)(train * n + 0.5);
        *n_val = (int)(val * n + 0.5);
        *n_fit = (int)(fit * n + 0.5);
        if (*n_train + *n_val + *n_fit > n)
            *n_fit = n - *n_train - *n_val;
    } else if (method == ENEVO_SPLIT_ENERGIZE) {
        /* scikit-learn's train_test_split: a float test_size takes
         * ceil(test_size n), a float train_size floor(train_size n). */
        if (!(fit < 1))
            return enevo_errf(err, errlen, ENEVO_EINVAL,
                              "split sizes: ENERGIZE's split needs evo_test < 1, got %g", fit);
        *n_fit = (int)ceil(fit * n);
        int pool = (int)floor(train * n);
        if (pool + *n_fit > n)
            pool = n - *n_fit;
        *n_val = (int)ceil(pool * (val / (1 - fit)));
        if (*n_val > pool)
            *n_val = pool;
        *n_train = pool - *n_val;
    } else {
        return enevo_errf(err, errlen, ENEVO_EINVAL, "split sizes: unknown method %d", method);
    }
    if (*n_train < 1 || *n_fit < 0 || *n_val < 0)
        return enevo_errf(err, errlen, ENEVO_EINVAL,
                          "split sizes: %d images give %d train / %d validation / %d fitness; "
                          "the train set needs at least one image",
                          n, *n_train, *n_val, *n_fit);
    return 0;
}

void enevo_split_free(struct enevo_split *s)
{
    if (!s)
        return;
    enevo_dataset_free(&s->train);
    enevo_dataset_free(&s->validation);
    enevo_dataset_free(&s->fitness);
}

int enevo_dataset_subset(const struct enevo_dataset *d, int n, uint64_t seed,
                         struct enevo_dataset *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (n < 0 || n > d->n)
        return enevo_errf(err, errlen, ENEVO_EINVAL, "subset: %d images requested of %d", n, d->n);
    enevo_rng r;
    enevo_rng_seed(&r, seed, ENEVO_STREAM_SUBSET);
    return stratify(d, &n, 1, &r, out, err, errlen);
}

/* Own stream id for synthetic data: outside the library's enum, so a test's
 * data never shares draws with the init or shuffle streams of the same seed. */
#define SYNTH_STREAM 0x5e17

int enevo_dataset_synthetic(int n, int c, int h, int w, int n_classes, uint64_t seed,
                            struct enevo_dataset *out)
{
    memset(out, 0, sizeof *out);
    if (n < 0 || c <= 0 || h <= 0 || w <= 0 || n_classes <= 0 || n_classes > 256)
        return ENEVO_EINVAL;
    enevo_rng r;
    enevo_rng_seed(&r, seed, SYNTH_STREAM);
    size_t plane = (size_t)h * (size_t)w, img = (size_t)c * plane;
    struct enevo_dataset d = {.n = n, .c = c, .h = h, .w = w, .n_classes = n_classes};
    d.x = malloc(((size_t)n * img + 1) * sizeof *d.x);
    d.y = malloc((size_t)n + 1);
    int *perm = malloc(((size_t)n + 1) * sizeof *perm);
    if (!d.x || !d.y || !perm) {
        free(perm);
        enevo_dataset_free(&d);
        return ENEVO_ENOMEM;
    }
    /* Balanced labels in a random order. */
    for (int i = 0; i < n; i++)
        perm[i] = i % n_classes;
    enevo_rng_shuffle(&r, perm, n);
    /* Class k is a blob centred on cell k of a g x g grid; channel ch moves
     * the blob a further ch cells along, so colour carries class too. */
    int g = 1;
    while (g * g < n_classes)
        g++;
    float sigma = 0.5f * (float)(h < w ? h : w) / (float)g;
    if (sigma < 0.75f)
        sigma = 0.75f;
    for (int i = 0; i < n; i++) {
        int k = perm[i];
        d.y[i] = (uint8_t)k;
        for (int ch = 0; ch < c; ch++) {
            int cellk = (k + ch) % (g * g);
            float cy = ((float)(cellk / g) + 0.5f) * (float)h / (float)g - 0.5f;
            float cx = ((float)(cellk % g) + 0.5f) * (float)w / (float)g - 0.5f;
            float *p = d.x + (size_t)i * img + (size_t)ch * plane; // [h, w]
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++) {
                    float dy = ((float)y - cy) / sigma, dx = ((float)x - cx) / sigma;
                    p[(size_t)y * (size_t)w + (size_t)x] =
                        expf(-0.5f * (dy * dy + dx * dx)) + 0.2f * enevo_rng_normal(&r);
                }
        }
    }
    free(perm);
    *out = d;
    return 0;
}
