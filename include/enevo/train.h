/* enevo/train.h — the training loop and evaluation.
 *
 *     struct enevo_train_opts o = enevo_train_defaults();
 *     o.epochs = 10; o.patience = 5; o.seed = 42;
 *     struct enevo_train_result r;
 *     if (enevo_train(net, &optim, &split.train, &split.validation, &o, &r, err, sizeof err)) ...
 *     double acc, loss;
 *     enevo_evaluate(net, &data.test, &acc, &loss);
 *
 * Each epoch reshuffles the training set from (seed, epoch) and runs every
 * full batch (the remainder, fewer than one batch, is left out of that
 * epoch; the next shuffle covers it). After each epoch the validation loss
 * is measured; training stops after `patience` epochs without improvement
 * and the weights (and batch-norm statistics) of the best epoch are
 * restored. Bit-for-bit deterministic for one seed and one thread count.
 */
#ifndef ENEVO_TRAIN_H
#define ENEVO_TRAIN_H

#include "enevo/api.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "enevo/data.h"
#include "enevo/io.h" /* enevo_now */
#include "enevo/net.h"
#include "enevo/optim.h"

struct enevo_train_opts {
    int epochs;      /* cap */
    int patience;    /* early stopping; 0 = never stop early */
    uint64_t seed;   /* shuffling and dropout */
    FILE *log;       /* one line per epoch (NULL = quiet) */
    bool progress;   /* a live bar on stderr (only when stderr is a terminal) */
    double max_seconds; /* > 0: a wall-clock budget (ENERGIZE's
                           default_train_time; not reproducible). It counts
                           training and validation and is checked before
                           every batch: once spent, the epoch ends there, is
                           validated (the one pass past the budget) and
                           training stops. `epochs` and patience still apply. */
};

struct enevo_train_result {
    int epochs;            /* epochs run */
    int best_epoch;        /* 1-based; its weights are the ones kept */
    double best_val_loss;  /* NaN when there is no validation set */
    double best_val_accuracy;
    double last_train_loss;
    double seconds;        /* training time, validation excluded */
    double budget_seconds; /* training and validation: what max_seconds counts */
    bool out_of_time;      /* stopped by max_seconds */
    double images_per_s;   /* training throughput */
    bool stopped_early;
};

ENEVO_API struct enevo_train_opts enevo_train_defaults(void);

ENEVO_API int enevo_train(struct enevo_net *net, struct enevo_optim *optim,
                          const struct enevo_dataset *train, const struct enevo_dataset *val,
                          const struct enevo_train_opts *opts, struct enevo_train_result *res,
                          char *err, size_t errlen);

/* Accuracy and mean loss over all of d, in evaluation mode (the last partial
 * batch is padded, and the padding ignored). images_per_s may be NULL. With
 * a model partition, accuracy is the full model's (head 0) and loss the
 * weighted loss of both heads (what early stopping watches). */
ENEVO_API int enevo_evaluate(struct enevo_net *net, const struct enevo_dataset *d, double *accuracy,
                             double *loss, double *images_per_s);
/* Per head: accuracy[h], loss[h] (NaN for head 1 without a partition), and
 * the weighted total loss. Any output may be NULL. */
ENEVO_API int enevo_evaluate_heads(struct enevo_net *net, const struct enevo_dataset *d,
                                   double accuracy[2], double loss[2], double *weighted,
                                   double *images_per_s);

#endif
