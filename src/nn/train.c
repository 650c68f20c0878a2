#include "enevo/train.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "enevo/rng.h"

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
    if (rc) {
        free(order);
        free(keys);
        free(best);
        return rc;
    }
    double train_time = 0;
    for (int epoch = 1; epoch <= opts->epochs && !rc; epoch++) {
        enevo_rng r;
        enevo_rng_seed3(&r, opts->seed, ENEVO_STREAM_SHUFFLE, (uint64_t)epoch, 0);
        for (int i = 0; i < train->n; i++)
            order[i] = i;
        enevo_rng_shuffle(&r, order, train->n);
        for (int s = 0; s < steps; s++)
            keys[s] = enevo_rng_u64(&r);
        double t0 = enevo_now(), loss_sum = 0, last_bar = 0;
        /* Chunks of steps, so the progress bar moves (a GPU syncs once per chunk). */
        const int chunk = 32;
        for (int s = 0; s < steps && !rc; s += chunk) {
            int n = steps - s < chunk ? steps - s : chunk;
            rc = enevo_net_train_steps(net, optim, order + (size_t)s * batch, keys + s, n,
                                       &loss_sum);
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
        if (rc) {
            enevo_errf(err, errlen, rc, "training failed in epoch %d", epoch);
            break;
        }
        res->epochs = epoch;
        res->last_train_loss = loss_sum / steps;
        double vacc = NAN, vloss = NAN;
        double vacc2[2];
        if (have_val && !(rc = enevo_net_evaluate_bound(net, 1, vacc2, NULL, &vloss)))
            vacc = vacc2[0];
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
            fprintf(opts->log, ", %.0f img/s, %.1f s\n", steps * (double)batch / dt, dt);
            fflush(opts->log);
        }
        if (have_val && opts->patience > 0 && since_best >= opts->patience) {
            res->stopped_early = true;
            break;
        }
        if (opts->max_seconds > 0 && train_time >= opts->max_seconds)
            break;
    }
    int prc = enevo_net_pull_optim(net, optim);
    if (!rc && prc)
        rc = enevo_errf(err, errlen, prc, "could not copy the optimiser state from the device");
    if (!rc && res->best_epoch > 0) {
        memcpy(enevo_net_params(net), best, sizeof(float) * np);
        memcpy(enevo_net_stats(net), best + np, sizeof(float) * ns);
    }
    res->seconds = train_time;
    res->images_per_s = train_time > 0 ? res->epochs * (double)steps * batch / train_time : 0;
    free(order);
    free(keys);
    free(best);
    return rc;
}
