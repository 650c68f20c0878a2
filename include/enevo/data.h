/* enevo/data.h — IDX datasets (raw or gzip), normalisation, seeded splits.
 *
 *     struct enevo_data d;
 *     char err[ENEVO_ERR_LEN];
 *     if (enevo_data_load("/usr/share/datasets/fashion-mnist", &d, err, sizeof err)) ...
 *     struct enevo_split s;
 *     enevo_data_split(&d.train, 42000, 12000, 6000, seed, &s, err, sizeof err);
 *     ... s.train, s.validation, s.fitness, d.test ...
 *     enevo_split_free(&s);
 *     enevo_data_free(&d);
 */
#ifndef ENEVO_DATA_H
#define ENEVO_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "enevo/error.h"

#define ENEVO_DEFAULT_DATASET "/usr/share/datasets/fashion-mnist"

/* n images of c x h x w floats (NCHW, contiguous) and their labels. */
struct enevo_dataset {
    int n, c, h, w;
    int n_classes;  /* 1 + the largest label seen in the training set */
    float *x;       /* [n, c, h, w]; owned */
    uint8_t *y;     /* [n]; owned */
};

struct enevo_data {
    struct enevo_dataset train; /* the 60,000 official training images */
    struct enevo_dataset test;  /* the 10,000 official test images */
    float mean, std;            /* of the raw training pixels in [0, 1] */
};

/* Read one IDX image file (idx3, ubyte) and its IDX label file (idx1,
 * ubyte). Each path may name a raw file or a .gz; when `path` does not exist
 * `path.gz` is tried. Pixels are scaled to [0, 1] (not normalised). Errors
 * name the file: missing, wrong magic, truncated, count mismatch. */
int enevo_idx_load(const char *images_path, const char *labels_path, struct enevo_dataset *out,
                   char *err, size_t errlen);

/* Load DIR/{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz], then
 * normalise both sets with the training set's pixel mean and std. */
int enevo_data_load(const char *dir, struct enevo_data *out, char *err, size_t errlen);

/* Bilinear resize of every image to size x size (torchvision Resize,
 * antialias off), in place (reallocates x). For ENERGIZE's 32x32 inputs. */
int enevo_dataset_resize(struct enevo_dataset *d, int size, char *err, size_t errlen);

void enevo_dataset_free(struct enevo_dataset *d);
void enevo_data_free(struct enevo_data *d);

/* Stratified, seeded split of `all` into three disjoint sets of n_train,
 * n_val and n_fit images (n_train + n_val + n_fit <= all->n); each set keeps
 * the class proportions of `all` (largest-remainder rounding) and is
 * returned in a seeded random order. Copies the images (the split owns them). */
struct enevo_split {
    struct enevo_dataset train, validation, fitness;
};
int enevo_data_split(const struct enevo_dataset *all, int n_train, int n_val, int n_fit,
                     uint64_t seed, struct enevo_split *out, char *err, size_t errlen);
void enevo_split_free(struct enevo_split *s);

/* Stratified seeded subset of n images of d (a copy), e.g. --train-subset. */
int enevo_dataset_subset(const struct enevo_dataset *d, int n, uint64_t seed,
                         struct enevo_dataset *out, char *err, size_t errlen);

/* Generated data for tests: n images of c x h x w in n_classes classes, each
 * class a distinct pattern plus noise, so a small network can learn it. */
int enevo_dataset_synthetic(int n, int c, int h, int w, int n_classes, uint64_t seed,
                            struct enevo_dataset *out);

#endif
