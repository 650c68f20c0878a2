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

/* In-memory entry points: the file readers map or read a file and call
 * these, so a fuzzer (tests/fuzz/) runs the code users run. `name` names
 * the bytes in messages. Every size a header claims is checked against the
 * bytes present before it is allocated; gzip data, which has no size to
 * check, gets memory only as decompressed bytes arrive. */

/* One IDX image file (idx3, ubyte) or label file (idx1, ubyte), raw or
 * gzip (told by the first two bytes). Images fill n, c (1), h, w and x
 * ([0, 1]) or, with u8, the bytes; labels fill y and *n. */
int enevo__idx_images_mem(const unsigned char *buf, size_t len, const char *name, bool u8,
                          struct enevo_dataset *d, char *err, size_t errlen);
int enevo__idx_labels_mem(const unsigned char *buf, size_t len, const char *name,
                          struct enevo_dataset *d, int *n, char *err, size_t errlen);
/* One CIFAR binary batch (CIFAR-100 when cifar100; coarse: its 20 labels)
 * as a whole set. */
int enevo__cifar_mem(const unsigned char *buf, size_t len, const char *name, int cifar100,
                     int coarse, bool u8, struct enevo_dataset *d, char *err, size_t errlen);
/* An .npz archive (o: keys, layout, u8), as enevo__npz_load after mapping. */
int enevo__npz_mem(const unsigned char *buf, size_t len, const char *name,
                   const struct enevo_data_opts *o, struct enevo_data *out, char *err,
                   size_t errlen);
/* Images x and labels y, each an .npy held in memory, as one set. */
int enevo__npy_set_mem(const unsigned char *x, size_t xlen, const char *xname,
                       const unsigned char *y, size_t ylen, const char *yname, int layout,
                       bool u8, struct enevo_dataset *d, char *err, size_t errlen);
/* One PNG or JPEG image (told by its signature) as 8-bit grey (*c 1) or
 * RGB (*c 3), [h, w, c] in *px (malloc'd; the caller frees). */
int enevo__image_decode_mem(const unsigned char *buf, size_t len, const char *name,
                            unsigned char **px, int *c, int *h, int *w, char *err,
                            size_t errlen);

/* A whole file mapped read-only (p NULL and len 0 for an empty file). */
struct enevo__map {
    unsigned char *p;
    size_t len;
};
int enevo__map_file(const char *path, struct enevo__map *m, char *err, size_t errlen);
void enevo__unmap(struct enevo__map *m);

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
