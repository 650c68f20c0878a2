#include "enevo/train.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "enevo/rng.h"

#include <omp.h>

struct enevo_train_opts enevo_train_defaults(void)
{
    return (struct enevo_train_opts){.epochs = 10, .patience = 5, .seed = 42};
}

int enevo_evaluate_heads(struct enevo_net *net, const struct enevo_dataset *d, double accuracy[2],
                         double loss[2], double *weighted, double *images_per_s)
{
    char err[ENEVO_ERR_LEN];
    double t0 = enevo_now();
    int rc = enevo_net_bind_data(net, 2, d, err, sizeof err);
    if (!rc)
        rc = enevo_net_evaluate_bound(net, 2, accuracy, loss, weighted);
    double dt = enevo_now() - t0;
    if (images_per_s)
        *images_per_s = !rc && dt > 0 ? d->n / dt : 0;
    return rc;
}

int enevo_evaluate(struct enevo_net *net, const struct enevo_dataset *d, double *accuracy,
                   double *loss, double *images_per_s)
{
    double acc[2];
    int rc = enevo_evaluate_heads(net, d, acc, NULL, loss, images_per_s);
    if (!rc && accuracy)
        *accuracy = acc[0];
    return rc;
}

/* NaN weights can hide behind a relu (oneDNN's max(NaN, 0) gives 0): the
 * logits stay finite and the net quietly predicts one class. So the
 * weights themselves are checked after every epoch. */
static bool all_finite(const float *v, size_t n)
{
    bool ok = true;
    for (size_t i = 0; i < n; i++)
        ok &= isfinite(v[i]);
    return ok;
}

static void progress_bar(int epoch, int epochs, int done, int total, double ips, double loss,
                         double eta)
{
    char bar[31];
    int fill = total ? (int)(30.0 * done / total) : 30;
    for (int i = 0; i < 30; i++)
        bar[i] = i < fill ? '=' : (i == fill ? '>' : ' ');
    bar[30] = 0;
    fprintf(stderr, "\repoch %d/%d [%s] %3d%% %7.0f img/s  loss %.4f  ETA %4.0fs ", epoch, epochs,
            bar, total ? 100 * done / total : 100, ips, loss, eta);
    fflush(stderr);
}

/* Augmentation (train->augment): on the host, each chunk of batches is
 * augmented into a small buffer bound in the training set's place, so the
 * extra memory is one chunk; a device binds its data once per call, so
 * there a whole augmented copy is bound once per epoch. Each image's draws
 * are keyed by (seed, epoch, image index): any thread count, same images. */
struct aug_state {
    struct enevo_augment a;
    struct enevo_dataset buf; /* [cap] augmented images */
    float *scratch;           /* [threads, per] */
    size_t per;
    int threads;
    int *ident;               /* 0, 1, ... */
};

static int aug_init(struct aug_state *st, const struct enevo_dataset *train, int cap, uint64_t seed,
                    char *err, size_t errlen)
{
    memset(st, 0, sizeof *st);
    st->a = *train->augment;
    st->a.seed = seed;
    int rc = enevo_augment_check(&st->a, train->c, train->h, train->w, err, errlen);
    if (rc)
        return rc;
    size_t img = (size_t)train->c * (size_t)train->h * (size_t)train->w;
    /* Per thread: the augmentation's scratch, then (a set of bytes) the
     * source image as floats. */
    st->per = enevo_augment_scratch(&st->a, train->c, train->h, train->w) + (train->u8 ? img : 0);
    st->threads = omp_get_max_threads();
    st->buf = (struct enevo_dataset){.n = cap, .c = train->c, .h = train->h, .w = train->w,
                                     .n_classes = train->n_classes};
    st->buf.x = malloc(sizeof(float) * img * (size_t)cap + 1);
    st->buf.y = malloc((size_t)cap + 1);
    st->scratch = malloc(sizeof(float) * st->per * (size_t)st->threads);
    st->ident = malloc(sizeof(int) * (size_t)cap + 1);
    if (!st->buf.x || !st->buf.y || !st->scratch || !st->ident)
        return enevo_errf(err, errlen, ENEVO_ENOMEM, "augmentation: out of memory for %d images",
                          cap);
    for (int i = 0; i < cap; i++)
        st->ident[i] = i;
    return 0;
}

static void aug_free(struct aug_state *st)
{
    free(st->buf.x);
    free(st->buf.y);
    free(st->scratch);
    free(st->ident);
    memset(st, 0, sizeof *st);
}

/* buf[i] = augment(train[idx[i]]) for i < n. */
static void aug_fill(struct aug_state *st, const struct enevo_dataset *train, const int *idx, int n,
                     int epoch)
{
    size_t img = (size_t)train->c * (size_t)train->h * (size_t)train->w;
#pragma omp parallel for schedule(static)
    for (int i = 0; i < n; i++) {
        int k = idx[i];
        float *scr = st->scratch + st->per * (size_t)omp_get_thread_num();
        const float *src = train->x ? train->x + (size_t)k * img : NULL;
        if (!src) { /* bytes: the image as floats, at the end of this thread's scratch */
            float *f = scr + st->per - img;
            enevo_dataset_images(train, k, 1, f);
            src = f;
        }
        enevo_augment_image(&st->a, (uint64_t)epoch, (uint64_t)k, train->c, train->h, train->w, src,
                            st->buf.x + (size_t)i * img, scr);
        st->buf.y[i] = train->y[k];
    }
}

int enevo_train(struct enevo_net *net, struct enevo_optim *optim, const struct enevo_dataset *train,
                const struct enevo_dataset *val, const struct enevo_train_opts *opts,
                struct enevo_train_result *res, char *err, size_t errlen)
{
    memset(res, 0, sizeof *res);
    res->best_val_loss = NAN;
    int batch = enevo_net_batch(net);
    int steps = train->n / batch;
    if (steps < 1)
        return enevo_errf(err, errlen, ENEVO_EINVAL,
                          "the training set (%d images) is smaller than one batch (%d)", train->n,
                          batch);
    size_t np = enevo_net_param_count(net), ns = enevo_net_stats_count(net);
    int *order = malloc(sizeof(int) * (size_t)train->n);
    uint64_t *keys = malloc(sizeof(uint64_t) * (size_t)steps);
    float *best = malloc(sizeof(float) * (np + ns + 1));
    if (!order || !keys || !best) {
        free(order);
        free(keys);
        free(best);
        return enevo_errf(err, errlen, ENEVO_ENOMEM, "out of memory");
    }
    bool bar = opts->progress && isatty(STDERR_FILENO);
    bool have_val = val && val->n > 0;
    int rc = enevo_net_bind_data(net, 0, train, err, errlen), since_best = 0;
    if (!rc && have_val)
        rc = enevo_net_bind_data(net, 1, val, err, errlen);
    bool aug = !rc && train->augment && train->augment->n > 0;
    bool host_aug = aug && !strcmp(enevo_net_device(net), "cpu");
    struct aug_state as = {0};
    if (aug)
        rc = aug_init(&as, train, host_aug ? 32 * batch : train->n, opts->seed, err, errlen);
    if (rc) {
        aug_free(&as);
        free(order);
        free(keys);
        free(best);
        return rc;
    }
    double train_time = 0, spent = 0; /* spent: training and validation, what the budget counts */
    double images = 0;
    bool budget = opts->max_seconds > 0, out_of_time = false;
    for (int epoch = 1; epoch <= opts->epochs && !rc && !out_of_time; epoch++) {
        enevo_rng r;
        enevo_rng_seed3(&r, opts->seed, ENEVO_STREAM_SHUFFLE, (uint64_t)epoch, 0);
        for (int i = 0; i < train->n; i++)
            order[i] = i;
        enevo_rng_shuffle(&r, order, train->n);
        for (int s = 0; s < steps; s++)
            keys[s] = enevo_rng_u64(&r);
        double t0 = enevo_now(), loss_sum = 0, last_bar = 0;
        if (aug && !host_aug) {
            /* Same positions as the training set, so `order` indexes it. */
            aug_fill(&as, train, as.ident, train->n, epoch);
            rc = enevo_net_bind_data(net, 0, &as.buf, err, errlen);
        }
        /* Chunks of steps, so the progress bar moves (a GPU syncs once per
         * chunk); with a time budget, one step at a time, so the budget is
         * checked between batches and costs the same on any machine. */
        const int chunk = budget ? 1 : 32;
        int done = steps;
        for (int s = 0; s < steps && !rc; s += chunk) {
            if (enevo_stop_requested()) {
                /* SIGINT/SIGTERM: abandon the epoch (the caller's last
                 * checkpoint is the state to resume from). */
                rc = enevo_errf(err, errlen, ENEVO_EINTERRUPTED,
                                "training interrupted in epoch %d (signal %d)", epoch,
                                enevo_stop_requested());
                break;
            }
            if (budget && s > 0 && spent + (enevo_now() - t0) >= opts->max_seconds) {
                /* The epoch ends here; it is validated like a whole one. */
                out_of_time = true;
                done = s;
                break;
            }
            int n = steps - s < chunk ? steps - s : chunk;
            const int *ord = order + (size_t)s * batch;
            if (host_aug) {
                aug_fill(&as, train, ord, n * batch, epoch);
                rc = enevo_net_bind_data(net, 0, &as.buf, err, errlen);
                ord = as.ident;
            }
            if (!rc)
                rc = enevo_net_train_steps(net, optim, ord, keys + s, n, &loss_sum);
            double now = enevo_now();
            if (!rc && bar && (now - last_bar > 0.2 || s + n == steps)) {
                double el = now - t0, ips = (s + n) * (double)batch / el;
                double eta = el / (s + n) * (steps - s - n);
                progress_bar(epoch, opts->epochs, s + n, steps, ips, loss_sum / (s + n), eta);
                last_bar = now;
            }
        }
        double dt = enevo_now() - t0;
        train_time += dt;
        if (bar)
            fputc('\n', stderr);
        if (!rc && !all_finite(enevo_net_params(net), np))
            rc = ENEVO_ENUMERIC;
        if (rc == ENEVO_ENUMERIC) {
            rc = enevo_errf(err, errlen, rc,
                            "training diverged in epoch %d (non-finite loss or weights); a "
                            "lower learning rate may help",
                            epoch);
            break;
        }
        if (rc == ENEVO_EINTERRUPTED)
            break;
        if (rc) {
            enevo_errf(err, errlen, rc, "training failed in epoch %d", epoch);
            break;
        }
        res->epochs = epoch;
        images += done * (double)batch;
        res->last_train_loss = loss_sum / done;
        double vacc = NAN, vloss = NAN;
        double vacc2[2], tv = enevo_now();
        if (have_val && !(rc = enevo_net_evaluate_bound(net, 1, vacc2, NULL, &vloss)))
            vacc = vacc2[0];
        spent += dt + (enevo_now() - tv);
        if (rc) {
            enevo_errf(err, errlen, rc, "validation failed in epoch %d", epoch);
            break;
        }
        bool improved = !have_val || !(vloss >= res->best_val_loss) || epoch == 1;
        if (have_val && !isfinite(vloss))
            improved = false;
        if (improved) {
            res->best_epoch = epoch;
            res->best_val_loss = vloss;
            res->best_val_accuracy = vacc;
            memcpy(best, enevo_net_params(net), sizeof(float) * np);
            memcpy(best + np, enevo_net_stats(net), sizeof(float) * ns);
            since_best = 0;
        } else {
            since_best++;
        }
        if (opts->log) {
            fprintf(opts->log, "epoch %d/%d: train loss %.4f", epoch, opts->epochs,
                    res->last_train_loss);
            if (have_val)
                fprintf(opts->log, ", val loss %.4f, val acc %.2f%%%s", vloss, 100 * vacc,
                        improved ? " *" : "");
            fprintf(opts->log, ", %.0f img/s, %.1f s%s\n", done * (double)batch / dt, dt,
                    out_of_time ? " (time budget spent mid-epoch)" : "");
            fflush(opts->log);
        }
        if (have_val && opts->patience > 0 && since_best >= opts->patience) {
            res->stopped_early = true;
            break;
        }
        if (budget && spent >= opts->max_seconds)
            break;
    }
    if (host_aug) /* the buffer goes; leave the set itself bound */
        enevo_net_bind_data(net, 0, train, NULL, 0);
    aug_free(&as);
    int prc = enevo_net_pull_optim(net, optim);
    if (!rc && prc)
        rc = enevo_errf(err, errlen, prc, "could not copy the optimiser state from the device");
    if (!rc && res->best_epoch > 0) {
        memcpy(enevo_net_params(net), best, sizeof(float) * np);
        memcpy(enevo_net_stats(net), best + np, sizeof(float) * ns);
    }
    res->seconds = train_time;
    res->budget_seconds = spent;
    res->out_of_time = out_of_time || (budget && spent >= opts->max_seconds);
    res->images_per_s = train_time > 0 ? images / train_time : 0;
    free(order);
    free(keys);
    free(best);
    return rc;
}
