/* src/backend/softmax_ce.h — one row of the fused softmax + cross-entropy,
 * shared by the host loss (src/nn/net.c) and the CUDA loss kernel, so both
 * compute it the same way. Compiled as C and as CUDA device code. Internal. */
#ifndef ENEVO_SOFTMAX_CE_H
#define ENEVO_SOFTMAX_CE_H

#include <math.h>
#include <stdint.h>

#include "backend/hostdev.h"

/* log sum_j exp z[j], computed around the max (stable for any logit
 * scale), and the argmax (the first of equal maxima) in *arg. The row's
 * loss for label y is the result minus z[y]. */
static inline ENEVO_HD double enevo_row_lse(const float *z, int k, int *arg)
{
    int a = 0;
    for (int j = 1; j < k; j++)
        if (z[j] > z[a])
            a = j;
    double m = z[a], s = 0;
    for (int j = 0; j < k; j++)
        s += exp((double)z[j] - m);
    *arg = a;
    return m + log(s);
}

/* d loss / d z of the row, scaled by scale / n (n: rows in the mean). */
static inline ENEVO_HD void enevo_row_ce_grad(const float *z, int k, int y, double lse,
                                              double scale, int n, float *dz)
{
    for (int j = 0; j < k; j++)
        dz[j] = (float)(scale * (exp((double)z[j] - lse) - (j == y)) / n);
}

#endif
