/* enevo_data_open: which reader, then the checks every format shares,
 * resize and per-channel normalisation. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data/alloc.h"
#include "data/data_internal.h"

#define SPEC_LEN 4096

struct enevo_data_opts enevo_data_opts_default(void)
{
    struct enevo_data_opts o;
    memset(&o, 0, sizeof o);
    static const char *const keys[4] = {"x_train", "y_train", "x_test", "y_test"};
    for (int i = 0; i < 4; i++)
        snprintf(o.keys[i], sizeof o.keys[i], "%s", keys[i]);
    o.u8 = true;
    return o;
}

enum fmt { F_NONE, F_IDX, F_CIFAR10, F_CIFAR100, F_NPZ, F_NPY, F_FOLDER };
static const char *const fmt_names[] = {"", "idx", "cifar10", "cifar100", "npz", "npy", "folder"};

static bool exists(const char *dir, const char *name, bool want_dir)
{
    char p[SPEC_LEN];
    if (snprintf(p, sizeof p, "%s/%s", dir, name) >= (int)sizeof p)
        return false;
    struct stat st;
    return !stat(p, &st) && (want_dir ? S_ISDIR(st.st_mode) : S_ISREG(st.st_mode));
}

static int detect(const char *path, const struct enevo_data_opts *o, enum fmt *f, char *err,
                  size_t errlen)
{
    struct stat st;
    if (stat(path, &st))
        return *f = F_IDX, 0; /* the reader names the IDX files it looked for */
    size_t n = strlen(path);
    if (S_ISREG(st.st_mode)) {
        if (n >= 4 && !strcmp(path + n - 4, ".npz"))
            return *f = F_NPZ, 0;
        return enevo_errf(err, errlen, ENEVO_EFORMAT,
                          "dataset %s: a file, but not an .npz (name the format: npz:FILE)", path);
    }
    char key0[80];
    snprintf(key0, sizeof key0, "%s.npy", o->keys[0]);
    if (exists(path, "train-images-idx3-ubyte", false) ||
        exists(path, "train-images-idx3-ubyte.gz", false))
        *f = F_IDX;
    else if (exists(path, "data_batch_1.bin", false))
        *f = F_CIFAR10;
    else if (exists(path, "train.bin", false))
        *f = F_CIFAR100;
    else if (exists(path, key0, false))
        *f = F_NPY;
    else if (exists(path, "train", true))
        *f = F_FOLDER;
    else
        return enevo_errf(err, errlen, ENEVO_EFORMAT,
                          "dataset %s: no known dataset there (looked for "
                          "train-images-idx3-ubyte[.gz], data_batch_1.bin, train.bin, %s, "
                          "train/); name the format: idx:, cifar10:, cifar100:, npz:, npy:, "
                          "folder:",
                          path, key0);
    return 0;
}

/* "FORMAT:PATH,key=value,...": fills f, path and the options. */
static int parse_spec(const char *spec, enum fmt *f, char *path, struct enevo_data_opts *o,
                      char *err, size_t errlen)
{
    *f = F_NONE;
    const char *colon = strchr(spec, ':');
    if (colon) {
        for (int k = 1; k < (int)(sizeof fmt_names / sizeof fmt_names[0]); k++)
            if ((size_t)(colon - spec) == strlen(fmt_names[k]) &&
                !strncmp(spec, fmt_names[k], strlen(fmt_names[k]))) {
                *f = (enum fmt)k;
                spec = colon + 1;
                break;
            }
    }
    if (snprintf(path, SPEC_LEN, "%s", spec) >= SPEC_LEN)
        return enevo_errf(err, errlen, ENEVO_EINVAL, "dataset %.60s...: path too long", spec);
    /* Options follow the last path component's first comma. */
    char *slash = strrchr(path, '/');
    char *comma = strchr(slash ? slash : path, ',');
    if (!comma)
        return 0;
    *comma = 0;
    char *save = NULL;
    for (char *kv = strtok_r(comma + 1, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(kv, '=');
        if (!eq || eq == kv || !eq[1])
            return enevo_errf(err, errlen, ENEVO_EINVAL,
                              "dataset %s: option '%s': expected key=value", path, kv);
        *eq = 0;
        const char *v = eq + 1;
        int slot = -1;
        static const char *const keys[4] = {"x_train", "y_train", "x_test", "y_test"};
        for (int i = 0; i < 4; i++)
            if (!strcmp(kv, keys[i]))
                slot = i;
        if (slot >= 0) {
            if (snprintf(o->keys[slot], sizeof o->keys[slot], "%s", v) >=
                (int)sizeof o->keys[slot])
                return enevo_errf(err, errlen, ENEVO_EINVAL, "dataset %s: %s: name too long",
                                  path, kv);
        } else if (!strcmp(kv, "layout") && (!strcmp(v, "nhwc") || !strcmp(v, "nchw"))) {
            o->layout = !strcmp(v, "nhwc") ? ENEVO_LAYOUT_NHWC : ENEVO_LAYOUT_NCHW;
        } else if (!strcmp(kv, "labels") && (!strcmp(v, "fine") || !strcmp(v, "coarse"))) {
            o->coarse = !strcmp(v, "coarse");
        } else {
            return enevo_errf(err, errlen, ENEVO_EINVAL,
                              "dataset %s: unknown option %s=%s (expected layout=nhwc|nchw, "
                              "labels=fine|coarse, x_train=, y_train=, x_test=, y_test=)",
                              path, kv, v);
        }
    }
    return 0;
}

/* Per-channel statistics of the training images (double sums: millions of
 * floats), then (x - mean) / std for both sets. */
static int normalise(struct enevo_data *d, const struct enevo_data_opts *o, const char *name,
                     char *err, size_t errlen)
{
    int c = d->train.c;
    size_t plane = (size_t)d->train.h * (size_t)d->train.w;
    double all = 0, all2 = 0, inv[ENEVO_MAX_CHANNELS];
    for (int ch = 0; ch < c; ch++) {
        double s = 0, s2 = 0;
        for (int i = 0; i < d->train.n; i++) {
            size_t at = ((size_t)i * (size_t)c + (size_t)ch) * plane;
            if (d->train.u8) {
                /* The float each byte stood for when sets were read as floats. */
                const uint8_t *p = d->train.u8 + at;
                for (size_t k = 0; k < plane; k++) {
                    double v = (float)p[k] * (1.0f / 255.0f);
                    s += v;
                    s2 += v * v;
                }
                continue;
            }
            const float *p = d->train.x + at;
            for (size_t k = 0; k < plane; k++) {
                double v = p[k];
                s += v;
                s2 += v * v;
            }
        }
        all += s;
        all2 += s2;
        double cnt = (double)d->train.n * (double)plane;
        double mean = s / cnt, var = s2 / cnt - mean * mean;
        d->ch_mean[ch] = (float)mean;
        double sd = var > 0 ? sqrt(var) : 0;
        d->ch_std[ch] = (float)sd;
        inv[ch] = sd > 1e-12 ? 1.0 / sd : 1.0;
    }
    double cnt = (double)d->train.n * (double)plane * c;
    double mean = all / cnt, var = all2 / cnt - mean * mean, sd = var > 0 ? sqrt(var) : 0;
    if (!(sd > 1e-12))
        return enevo_errf(err, errlen, ENEVO_EFORMAT,
                          "%s: all training pixels are equal; cannot normalise", name);
    d->mean = (float)mean;
    d->std = (float)sd;
    for (int ch = 0; ch < c; ch++)
        if (!(d->ch_std[ch] > 1e-12))
            d->ch_std[ch] = 1; /* a constant channel: only centred */
    if (o->norm_c > 0) {
        if (o->norm_c != c && o->norm_c != 1)
            return enevo_errf(err, errlen, ENEVO_EINVAL,
                              "%s: normalize has %d values but the images have %d channels", name,
                              o->norm_c, c);
        for (int ch = 0; ch < c; ch++) {
            d->ch_mean[ch] = o->norm_mean[o->norm_c == 1 ? 0 : ch];
            d->ch_std[ch] = o->norm_std[o->norm_c == 1 ? 0 : ch];
        }
    }
    if (c == 1 && o->norm_c == 0) {
        /* As before per-channel statistics: one channel is all pixels. */
        d->ch_mean[0] = d->mean;
        d->ch_std[0] = d->std;
        inv[0] = 1.0 / sd;
    }
    if (o->norm_c > 0) {
        for (int ch = 0; ch < c; ch++)
            inv[ch] = 1.0 / d->ch_std[ch];
        if (c == 1) {
            d->mean = d->ch_mean[0];
            d->std = d->ch_std[0];
        }
    }
    struct enevo_dataset *sets[2] = {&d->train, &d->test};
    for (int s = 0; s < 2; s++) {
        if (sets[s]->u8) { /* applied per batch, enevo_dataset_images */
            for (int ch = 0; ch < c; ch++) {
                sets[s]->u8_mean[ch] = d->ch_mean[ch];
                sets[s]->u8_inv[ch] = (float)inv[ch];
            }
            continue;
        }
        for (int i = 0; i < sets[s]->n; i++)
            for (int ch = 0; ch < c; ch++) {
                float *p = sets[s]->x + ((size_t)i * (size_t)c + (size_t)ch) * plane;
                float m = d->ch_mean[ch], iv = (float)inv[ch];
                for (size_t k = 0; k < plane; k++)
                    p[k] = (p[k] - m) * iv;
            }
    }
    return 0;
}

/* One image's bytes as normalised floats: the float a reader made of each
 * byte, then normalise()'s (p - m) * iv. */
static void u8_image(const struct enevo_dataset *d, int k, float *dst)
{
    size_t plane = (size_t)d->h * (size_t)d->w;
    const uint8_t *src = d->u8 + (size_t)k * (size_t)d->c * plane;
    for (int ch = 0; ch < d->c; ch++) {
        float m = d->u8_mean[ch], iv = d->u8_inv[ch];
        for (size_t j = 0; j < plane; j++) {
            float v = (float)src[j] * (1.0f / 255.0f);
            dst[j] = (v - m) * iv;
        }
        src += plane;
        dst += plane;
    }
}

void enevo_dataset_images(const struct enevo_dataset *d, int first, int n, float *dst)
{
    size_t img = (size_t)d->c * (size_t)d->h * (size_t)d->w;
    if (!d->u8) {
        memcpy(dst, d->x + (size_t)first * img, sizeof(float) * img * (size_t)n);
        return;
    }
    for (int i = 0; i < n; i++)
        u8_image(d, first + i, dst + (size_t)i * img);
}

void enevo_dataset_gather(const struct enevo_dataset *d, const int *idx, int n, float *dst)
{
    size_t img = (size_t)d->c * (size_t)d->h * (size_t)d->w;
    for (int i = 0; i < n; i++) {
        if (d->u8)
            u8_image(d, idx[i], dst + (size_t)i * img);
        else
            memcpy(dst + (size_t)i * img, d->x + (size_t)idx[i] * img, sizeof(float) * img);
    }
}

int enevo_dataset_to_float(struct enevo_dataset *d, char *err, size_t errlen)
{
    if (!d->u8)
        return 0;
    size_t img = (size_t)d->c * (size_t)d->h * (size_t)d->w;
    float *x = enevo__data_alloc(sizeof(float) * img * (size_t)d->n + 1);
    uint8_t *y = d->borrowed ? malloc((size_t)d->n + 1) : d->y;
    if (!x || !y) {
        free(x);
        if (y != d->y)
            free(y);
        return enevo_errf(err, errlen, ENEVO_ENOMEM, "out of memory for %d float images", d->n);
    }
    enevo_dataset_images(d, 0, d->n, x);
    if (d->borrowed) {
        memcpy(y, d->y, (size_t)d->n);
        d->y = y;
        d->borrowed = false;
    } else {
        free(d->u8);
    }
    d->u8 = NULL;
    d->x = x;
    return 0;
}

int enevo_data_open(const char *spec, const struct enevo_data_opts *opts, struct enevo_data *out,
                    char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    struct enevo_data_opts o = opts ? *opts : enevo_data_opts_default();
    if (!opts)
        o.u8 = false;
    bool u8 = o.u8 && o.resize <= 0; /* resizing works on floats */
    o.u8 = u8;                           /* what the NumPy readers look at */
    char path[SPEC_LEN];
    enum fmt f;
    int rc = parse_spec(spec, &f, path, &o, err, errlen);
    if (!rc && f == F_NONE)
        rc = detect(path, &o, &f, err, errlen);
    if (rc)
        return rc;
    struct enevo_data d = {0};
    switch (f) {
    case F_IDX:
        rc = enevo__idx_dir_load(path, u8, &d, err, errlen);
        break;
    case F_CIFAR10:
    case F_CIFAR100:
        rc = enevo__cifar_load(path, f == F_CIFAR100, o.coarse, u8, &d, err, errlen);
        break;
    case F_NPZ:
        rc = enevo__npz_load(path, &o, &d, err, errlen);
        break;
    case F_NPY:
        rc = enevo__npy_dir_load(path, &o, &d, err, errlen);
        break;
    default:
        rc = enevo__folder_load(path, &o, &d, err, errlen);
        break;
    }
    if (rc)
        goto fail;
    if (d.train.n == 0) {
        rc = enevo_errf(err, errlen, ENEVO_EFORMAT, "%s: no training images", path);
        goto fail;
    }
    if (d.train.c > ENEVO_MAX_CHANNELS) {
        rc = enevo_errf(err, errlen, ENEVO_EFORMAT, "%s: %d channels (at most %d)", path,
                        d.train.c, ENEVO_MAX_CHANNELS);
        goto fail;
    }
    if (d.test.c != d.train.c || d.test.h != d.train.h || d.test.w != d.train.w) {
        rc = enevo_errf(err, errlen, ENEVO_EFORMAT,
                        "%s: test images are %dx%dx%d (CxHxW) but training images are %dx%dx%d",
                        path, d.test.c, d.test.h, d.test.w, d.train.c, d.train.h, d.train.w);
        goto fail;
    }
    /* A class the network has no output for cannot be scored. */
    if (d.test.n_classes > d.train.n_classes) {
        char lab[SPEC_LEN + 80];
        switch (f) {
        case F_IDX: snprintf(lab, sizeof lab, "%s/t10k-labels-idx1-ubyte", path); break;
        case F_CIFAR10: snprintf(lab, sizeof lab, "%s/test_batch.bin", path); break;
        case F_CIFAR100: snprintf(lab, sizeof lab, "%s/test.bin", path); break;
        case F_NPZ: snprintf(lab, sizeof lab, "%s: %s.npy", path, o.keys[3]); break;
        case F_NPY: snprintf(lab, sizeof lab, "%s/%s.npy", path, o.keys[3]); break;
        default: snprintf(lab, sizeof lab, "%s/test", path); break;
        }
        rc = enevo_errf(err, errlen, ENEVO_EFORMAT,
                        "%s: label %d but the training labels stop at %d", lab,
                        d.test.n_classes - 1, d.train.n_classes - 1);
        goto fail;
    }
    d.test.n_classes = d.train.n_classes;
    if ((rc = normalise(&d, &o, path, err, errlen)))
        goto fail;
    if (o.resize > 0 &&
        ((rc = enevo_dataset_resize(&d.train, o.resize, err, errlen)) ||
         (rc = enevo_dataset_resize(&d.test, o.resize, err, errlen))))
        goto fail;
    *out = d;
    return 0;
fail:
    enevo_data_free(&d);
    return rc;
}
