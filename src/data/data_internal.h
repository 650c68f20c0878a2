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

#endif
