/* enevo/data.h — datasets (IDX, CIFAR-10/100, NumPy .npz/.npy, image
 * folders), per-channel normalisation, seeded splits, augmentation.
 *
 *     struct enevo_data d;
 *     char err[ENEVO_ERR_LEN];
 *     if (enevo_data_load("/usr/share/datasets/fashion-mnist", &d, err, sizeof err)) ...
 *     struct enevo_data_opts o = enevo_data_opts_default();
 *     o.resize = 32;
 *     if (enevo_data_open("cifar100:/data/cifar-100-binary", &o, &d, err, sizeof err)) ...
 *     struct enevo_split s;
 *     enevo_data_split(&d.train, 42000, 12000, 6000, seed, &s, err, sizeof err);
 *     ... s.train, s.validation, s.fitness, d.test ...
 *     enevo_split_free(&s);
 *     enevo_data_free(&d);
 */
#ifndef ENEVO_DATA_H
#define ENEVO_DATA_H

#include "enevo/api.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "enevo/error.h"

#define ENEVO_DEFAULT_DATASET "/usr/share/datasets/fashion-mnist"
#define ENEVO_MAX_CHANNELS 16

struct enevo_augment;

/* n images of c x h x w floats (NCHW, contiguous) and their labels; or,
 * for a training set read from 8-bit pixels, the bytes themselves (u8, x
 * NULL: a quarter of the memory) and the per-channel map that turns them
 * into the floats a network sees, applied per batch (enevo_dataset_images):
 *     x = ((float)u8 * (1.0f / 255.0f) - u8_mean[ch]) * u8_inv[ch]
 * (float operations, the ones normalising a float set in place does, so
 * the values are bit for bit the same). At most one of x and u8 is set. */
struct enevo_dataset {
    int n, c, h, w;
    int n_classes;  /* 1 + the largest label seen in the training set */
    float *x;       /* [n, c, h, w]; owned; NULL when u8 holds the images */
    uint8_t *y;     /* [n]; owned */
    uint8_t *u8;    /* [n, c, h, w] raw pixels or NULL; owned like x */
    float u8_mean[ENEVO_MAX_CHANNELS], u8_inv[ENEVO_MAX_CHANNELS];
    /* Training-time augmentation applied per batch by enevo_train (NULL:
     * none); borrowed, never copied by splits or subsets. */
    const struct enevo_augment *augment;
    /* The per-channel normalisation the images carry ([c] each, borrowed;
     * NULL: not known), for the model files written from this set. */
    const float *norm_mean, *norm_std;
    /* x and y point into another set's block (enevo_data_split_take's
     * validation and fitness sets): enevo_dataset_free leaves them. */
    bool borrowed;
};

struct enevo_data {
    struct enevo_dataset train; /* the 60,000 official training images */
    struct enevo_dataset test;  /* the 10,000 official test images */
    float mean, std;            /* of the raw training pixels, all channels */
    /* Per channel: x = (raw - ch_mean[c]) / ch_std[c] (what was applied). */
    float ch_mean[ENEVO_MAX_CHANNELS], ch_std[ENEVO_MAX_CHANNELS];
    int n_class_names;          /* image folders: the sorted class names */
    char **class_names;         /* [n_class_names]; owned */
};

enum enevo_layout { ENEVO_LAYOUT_AUTO = 0, ENEVO_LAYOUT_NHWC, ENEVO_LAYOUT_NCHW };

/* How enevo_data_open reads a dataset. */
struct enevo_data_opts {
    int resize;        /* > 0: bilinear to resize x resize (image folders: required
                          when sizes differ) */
    bool coarse;       /* CIFAR-100: the 20 coarse labels instead of the 100 fine */
    int layout;        /* NumPy 4-d images: enum enevo_layout */
    char keys[4][64];  /* NumPy array names: x_train, y_train, x_test, y_test */
    /* > 0 channels: normalise with these (the config's `normalize`) instead
     * of the training split's own statistics. */
    int norm_c;
    float norm_mean[ENEVO_MAX_CHANNELS], norm_std[ENEVO_MAX_CHANNELS];
    /* Keep an 8-bit source's training images as bytes (enevo_dataset.u8)
     * when nothing resizes them: true in enevo_data_opts_default (the CLI),
     * false for enevo_data_load and a NULL o. The test set is always floats. */
    bool u8;
};
/* Default options (u8 true). */
ENEVO_API struct enevo_data_opts enevo_data_opts_default(void);

/* Load a dataset named by `spec`: "FORMAT:PATH" with FORMAT one of idx,
 * cifar10, cifar100, npz, npy (a directory of x_train.npy, ...), folder;
 * or a bare PATH whose format is detected (an .npz file; a directory holding
 * train-images-idx3-ubyte[.gz], data_batch_1.bin, train.bin, x_train.npy or
 * train/). NumPy specs take ",key=value" options after the path: layout=
 * nhwc|nchw, x_train=NAME, y_train=, x_test=, y_test=. Then resize (o->resize)
 * and per-channel normalisation with the training set's statistics (or
 * o->norm_*). Train and test must have one image shape; test labels must be
 * below the training set's class count. Errors name the file and what was
 * wrong. o may be NULL (defaults). */
ENEVO_API int enevo_data_open(const char *spec, const struct enevo_data_opts *o,
                              struct enevo_data *out, char *err, size_t errlen);

/* Read one IDX image file (idx3, ubyte) and its IDX label file (idx1,
 * ubyte). Each path may name a raw file or a .gz; when `path` does not exist
 * `path.gz` is tried. Pixels are scaled to [0, 1] (not normalised). Errors
 * name the file: missing, wrong magic, truncated, count mismatch. */
ENEVO_API int enevo_idx_load(const char *images_path, const char *labels_path,
                             struct enevo_dataset *out, char *err, size_t errlen);

/* enevo_data_open(dir, NULL, ...): kept for IDX callers; also detects the
 * other formats. */
ENEVO_API int enevo_data_load(const char *dir, struct enevo_data *out, char *err, size_t errlen);

/* Bilinear resize of every image to size x size (torchvision Resize,
 * antialias off), in place (reallocates x). For ENERGIZE's 32x32 inputs. */
ENEVO_API int enevo_dataset_resize(struct enevo_dataset *d, int size, char *err, size_t errlen);

/* Images first .. first+n-1 of d as the floats a network takes, into dst
 * ([n, c, h, w]): a copy of x, or u8 mapped as described above. */
ENEVO_API void enevo_dataset_images(const struct enevo_dataset *d, int first, int n, float *dst);
/* The same for images idx[0..n-1]. */
ENEVO_API void enevo_dataset_gather(const struct enevo_dataset *d, const int *idx, int n,
                                    float *dst);
/* A u8 set becomes a float set in place (x allocated, u8 freed; a
 * borrowed set gets its own x and stops borrowing images). Nothing for a
 * float set. */
ENEVO_API int enevo_dataset_to_float(struct enevo_dataset *d, char *err, size_t errlen);

ENEVO_API void enevo_dataset_free(struct enevo_dataset *d);
ENEVO_API void enevo_data_free(struct enevo_data *d);

/* Stratified, seeded split of `all` into three disjoint sets of n_train,
 * n_val and n_fit images (n_train + n_val + n_fit <= all->n); each set keeps
 * the class proportions of `all` (largest-remainder rounding) and is
 * returned in a seeded random order. Copies the images (the split owns them).
 * A u8 set gives u8 train and validation sets and a float fitness set
 * (energy measurement reads its images directly). */
struct enevo_split {
    struct enevo_dataset train, validation, fitness;
};
ENEVO_API int enevo_data_split(const struct enevo_dataset *all, int n_train, int n_val, int n_fit,
                               uint64_t seed, struct enevo_split *out, char *err, size_t errlen);
ENEVO_API void enevo_split_free(struct enevo_split *s);
/* The same sets as enevo_data_split (same seed, same images in the same
 * order), made by permuting `all`'s images in place and taking them: no
 * second copy of a large training set. `all` is left with no images; the
 * training set owns the block, the other two borrow from it, so free them
 * together with enevo_split_free. With a u8 set, the fitness set gets its
 * own floats (as above) and does not borrow. */
ENEVO_API int enevo_data_split_take(struct enevo_dataset *all, int n_train, int n_val, int n_fit,
                                    uint64_t seed, struct enevo_split *out, char *err,
                                    size_t errlen);

/* How the config's fractions of the n training images become set sizes.
 * ENEVO_SPLIT_ENEVO: each fraction of n, rounded to nearest (the fitness
 * set gives way if the three exceed n): 0.7/0.2/0.1 of 60,000 gives
 * 42,000 / 12,000 / 6,000. ENEVO_SPLIT_ENERGIZE: the sizes ENERGIZE's code
 * gets from its two scikit-learn splits: fitness = ceil(fit n), a pool of
 * floor(train n) (the rest of n is left unused), validation = ceil(pool
 * val / (1 - fit)), train = pool - validation: 32,666 / 9,334 / 6,000 (and
 * 12,000 unused) for 0.7/0.2/0.1 of 60,000. Which images go where is
 * enevo's seeded stratified draw either way (scikit-learn's draw cannot be
 * reproduced without its RNG). */
enum enevo_split_method { ENEVO_SPLIT_ENEVO = 0, ENEVO_SPLIT_ENERGIZE = 1 };
ENEVO_API int enevo_split_sizes(int n, double train, double val, double fit, int method,
                                int *n_train, int *n_val, int *n_fit, char *err, size_t errlen);

/* Stratified seeded subset of n images of d (a copy, u8 when d is), e.g.
 * --train-subset. */
ENEVO_API int enevo_dataset_subset(const struct enevo_dataset *d, int n, uint64_t seed,
                                   struct enevo_dataset *out, char *err, size_t errlen);

/* Generated data for tests: n images of c x h x w in n_classes classes, each
 * class a distinct pattern plus noise, so a small network can learn it. */
ENEVO_API int enevo_dataset_synthetic(int n, int c, int h, int w, int n_classes, uint64_t seed,
                                      struct enevo_dataset *out);

/* ---- augmentation: ENERGIZE's network.learning.augmentation transforms ----
 *
 * A pipeline of transforms in config order, applied by enevo_train to each
 * training batch (never to validation, fitness or test images). Images are
 * stored normalised; each is un-normalised to the source's pixel scale
 * ([0, 1] for 8-bit sources), transformed as torchvision does, and
 * normalised again. Draws come from a stream keyed by (seed, epoch, image
 * index), so training is reproducible on any thread count. `normalize` and
 * `resize` act at load time (enevo_data_opts.norm_*, resize), so in the
 * per-batch pipeline they do nothing. The pipeline must give back images of
 * the loaded size (enevo_augment_check). */
enum enevo_aug_kind {
    ENEVO_AUG_RESIZE,          /* size */
    ENEVO_AUG_CENTER_CROP,     /* size */
    ENEVO_AUG_PADDING,         /* padding (zeros) */
    ENEVO_AUG_NORMALIZE,       /* mean[], std[] */
    ENEVO_AUG_RANDOM_CROP,     /* size, padding */
    ENEVO_AUG_HFLIP,           /* p */
    ENEVO_AUG_RESIZED_CROP,    /* size, a = scale lo, hi, ratio lo, hi */
    ENEVO_AUG_COLOR_JITTER,    /* a = brightness, contrast, saturation, hue */
    ENEVO_AUG_GRAYSCALE,       /* p */
    ENEVO_AUG_BLUR,            /* kernel, a = sigma lo, hi */
    ENEVO_AUG_SOLARIZE,        /* a[0] = threshold, p */
    ENEVO_AUG_KINDS
};
#define ENEVO_AUG_MAX 16

struct enevo_aug_op {
    int kind;
    int size, padding, kernel;
    double p;
    double a[4];
    int n_norm;
    float mean[ENEVO_MAX_CHANNELS], std[ENEVO_MAX_CHANNELS];
};

struct enevo_augment {
    int n;
    struct enevo_aug_op op[ENEVO_AUG_MAX];
    uint64_t seed;              /* set by the trainer's caller */
    int c;                      /* the normalisation the images carry */
    float mean[ENEVO_MAX_CHANNELS], std[ENEVO_MAX_CHANNELS];
};

/* The config key of a kind ("random_crop"), or -1 / NULL. */
ENEVO_API const char *enevo_aug_name(int kind);
ENEVO_API int enevo_aug_kind(const char *name);
/* Does the pipeline draw random numbers (test pipelines may not)? */
ENEVO_API int enevo_aug_is_random(int kind);
/* Checks the pipeline against c x h x w images: every op's size fits, the
 * result has the input's size, normalize has c (or 1) values. */
ENEVO_API int enevo_augment_check(const struct enevo_augment *a, int c, int h, int w, char *err,
                                  size_t errlen);
/* Floats of scratch enevo_augment_image needs for c x h x w images. */
ENEVO_API size_t enevo_augment_scratch(const struct enevo_augment *a, int c, int h, int w);
/* Augments one normalised image src ([c, h, w]) into dst, with the draws of
 * (a->seed, epoch, index). scratch: enevo_augment_scratch floats. */
ENEVO_API void enevo_augment_image(const struct enevo_augment *a, uint64_t epoch, uint64_t index,
                                   int c, int h, int w, const float *src, float *dst,
                                   float *scratch);

#endif
