/* Private to src/data: the readers behind enevo_data_open. */
#ifndef ENEVO_DATA_INTERNAL_H
#define ENEVO_DATA_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "enevo/data.h"

/* Each reader fills train and test with pixels in the source's own scale
 * (uint8 sources: [0, 1]; float sources: as stored), labels checked against
 * the format's range, before resizing and normalisation. With `u8` (NumPy,
 * folders: o->u8), the IDX, CIFAR, uint8 NumPy and folder readers leave the
 * training set's bytes in train.u8 (x NULL); normalise() then records the
 * per-channel map instead of applying it. */
int enevo__idx_dir_load(const char *dir, bool u8, struct enevo_data *out, char *err, size_t errlen);
int enevo__cifar_load(const char *dir, int cifar100, int coarse, bool u8, struct enevo_data *out,
                      char *err, size_t errlen);
int enevo__npz_load(const char *path, const struct enevo_data_opts *o, struct enevo_data *out,
                    char *err, size_t errlen);
int enevo__npy_dir_load(const char *dir, const struct enevo_data_opts *o, struct enevo_data *out,
                        char *err, size_t errlen);
int enevo__folder_load(const char *dir, const struct enevo_data_opts *o, struct enevo_data *out,
                       char *err, size_t errlen);

/* The size of a regular file, or an error naming it. */
int enevo__file_size(const char *path, size_t *size, char *err, size_t errlen);

/* Labels: 1 + the largest, each already checked < 256. */
int enevo__max_label(const uint8_t *y, int n);

/* One output position o of a bilinear resize from `in` samples (scale =
 * in / out), as torch's area_pixel_compute_source_index with
 * align_corners=False: pixel centres line up, sources left of the first
 * centre clamp to it. Taps i0, i1 and the weight l1 of i1. Shared by the
 * resize at load (idx.c) and the augmentation crops (augment.c). */
static inline void enevo__bilinear_tap(float scale, int o, int in, int *i0, int *i1, float *l1)
{
    float src = scale * ((float)o + 0.5f) - 0.5f;
    if (src < 0)
        src = 0;
    int i = (int)src;
    if (i > in - 1)
        i = in - 1;
    *i0 = i;
    *i1 = i < in - 1 ? i + 1 : i;
    *l1 = src - (float)i;
}

#endif
