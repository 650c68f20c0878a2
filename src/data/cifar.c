/* CIFAR-10 and CIFAR-100, binary version: fixed-size records of a label
 * byte (CIFAR-100: coarse then fine) and a 3 x 32 x 32 image, R then G then
 * B planes, each row-major (already NCHW). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "data/alloc.h"
#include "data/data_internal.h"

#define CIFAR_SIDE 32
#define CIFAR_IMG (3 * CIFAR_SIDE * CIFAR_SIDE)
#define CIFAR_PATH 4096

int enevo__file_size(const char *path, size_t *size, char *err, size_t errlen)
{
    struct stat st;
    if (stat(path, &st))
        return enevo_errf(err, errlen, ENEVO_EIO, "cannot open %s: %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return enevo_errf(err, errlen, ENEVO_EIO, "%s: not a regular file", path);
    *size = (size_t)st.st_size;
    return 0;
}

int enevo__max_label(const uint8_t *y, int n)
{
    int m = -1;
    for (int i = 0; i < n; i++)
        if (y[i] > m)
            m = y[i];
    return m + 1;
}

/* The m records of buf (m * rec bytes) into d after its d->n images, whose
 * arrays (x or u8, and y) hold at least d->n + m; d->n grows on success. */
static int cifar_records(const unsigned char *buf, size_t m, const char *name, int label_bytes,
                         int label_at, int n_labels, struct enevo_dataset *d, char *err,
                         size_t errlen)
{
    size_t rec = (size_t)label_bytes + CIFAR_IMG;
    for (size_t i = 0; i < m; i++) {
        const unsigned char *r = buf + i * rec;
        int lab = r[label_at];
        if (lab >= n_labels)
            return enevo_errf(err, errlen, ENEVO_EFORMAT,
                              "%s: record %zu: label %d out of range (expected 0..%d)", name, i,
                              lab, n_labels - 1);
        size_t k = (size_t)d->n + i;
        d->y[k] = (uint8_t)lab;
        if (d->u8) { /* kept as bytes: enevo_dataset_images maps them */
            memcpy(d->u8 + k * CIFAR_IMG, r + label_bytes, CIFAR_IMG);
            continue;
        }
        float *p = d->x + k * CIFAR_IMG; // [3, 32, 32]
        for (int j = 0; j < CIFAR_IMG; j++)
            p[j] = (float)r[label_bytes + j] * (1.0f / 255.0f);
    }
    d->n += (int)m;
    return 0;
}

/* The record count of a file of `size` bytes, or an error naming it. */
static int cifar_count(size_t size, const char *name, int label_bytes,
                       const struct enevo_dataset *d, size_t *m, char *err, size_t errlen)
{
    size_t rec = (size_t)label_bytes + CIFAR_IMG;
    if (size == 0)
        return enevo_errf(err, errlen, ENEVO_EFORMAT, "%s: empty file", name);
    if (size % rec)
        return enevo_errf(err, errlen, ENEVO_EFORMAT,
                          "%s: truncated record: %zu bytes is not a whole number of %zu-byte "
                          "records (record %zu has %zu bytes)",
                          name, size, rec, size / rec, size % rec);
    *m = size / rec;
    if (*m > (size_t)(1 << 30) - (size_t)d->n)
        return enevo_errf(err, errlen, ENEVO_EFORMAT, "%s: too many records (%zu)", name, *m);
    return 0;
}

/* Reads the records of one file into d after its d->n images (or, while
 * d->x is NULL, only counts them): the record count comes from the file
 * size, checked before anything is allocated. */
static int cifar_file(const char *path, int label_bytes, int label_at, int n_labels, size_t cap,
                      struct enevo_dataset *d, char *err, size_t errlen)
{
    size_t size = 0, m = 0;
    int rc = enevo__file_size(path, &size, err, errlen);
    if (!rc)
        rc = cifar_count(size, path, label_bytes, d, &m, err, errlen);
    if (rc)
        return rc;
    if (!d->x && !d->u8) { /* the sizing pass: count only */
        d->n += (int)m;
        return 0;
    }
    struct enevo__map map;
    if ((rc = enevo__map_file(path, &map, err, errlen)))
        return rc;
    if (map.len != size || (size_t)d->n + m > cap)
        rc = enevo_errf(err, errlen, ENEVO_EIO, "%s: file changed while reading", path);
    if (!rc)
        rc = cifar_records(map.p, m, path, label_bytes, label_at, n_labels, d, err, errlen);
    enevo__unmap(&map);
    return rc;
}

int enevo__cifar_mem(const unsigned char *buf, size_t len, const char *name, int cifar100,
                     int coarse, bool u8, struct enevo_dataset *d, char *err, size_t errlen)
{
    int label_bytes = cifar100 ? 2 : 1, at = cifar100 && !coarse ? 1 : 0;
    int n_labels = cifar100 ? (coarse ? 20 : 100) : 10;
    *d = (struct enevo_dataset){.c = 3, .h = CIFAR_SIDE, .w = CIFAR_SIDE};
    size_t m = 0;
    int rc = cifar_count(len, name, label_bytes, d, &m, err, errlen);
    if (rc)
        return rc;
    if (u8)
        d->u8 = enevo__data_alloc(m * CIFAR_IMG);
    else
        d->x = enevo__data_alloc(m * CIFAR_IMG * sizeof *d->x);
    d->y = malloc(m);
    if ((!d->x && !d->u8) || !d->y)
        rc = enevo_errf(err, errlen, ENEVO_ENOMEM, "%s: cannot allocate %zu images", name, m);
    if (!rc)
        rc = cifar_records(buf, m, name, label_bytes, at, n_labels, d, err, errlen);
    if (rc) {
        enevo_dataset_free(d);
        return rc;
    }
    d->n_classes = n_labels;
    return 0;
}

static int cifar_set(const char *dir, const char *const *names, int n_names, int required,
                     int label_bytes, int label_at, int n_labels, bool u8, struct enevo_dataset *d,
                     char *err, size_t errlen)
{
    *d = (struct enevo_dataset){.c = 3, .h = CIFAR_SIDE, .w = CIFAR_SIDE};
    /* Two passes: the file sizes give the record count, so the images are
     * allocated once (no growing copy of a 600 MB array). */
    size_t total = 0;
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1) {
            total = (size_t)d->n;
            d->n = 0;
            if (u8)
                d->u8 = enevo__data_alloc(total * CIFAR_IMG + 1);
            else
                d->x = enevo__data_alloc(total * CIFAR_IMG * sizeof *d->x + 1);
            d->y = malloc(total + 1);
            if ((!d->x && !d->u8) || !d->y)
                return enevo_errf(err, errlen, ENEVO_ENOMEM, "%s: cannot allocate %zu images",
                                  dir, total);
        }
        for (int i = 0; i < n_names; i++) {
            char p[CIFAR_PATH];
            if (snprintf(p, sizeof p, "%s/%s", dir, names[i]) >= (int)sizeof p)
                return enevo_errf(err, errlen, ENEVO_EINVAL, "%s: path too long", dir);
            struct stat st;
            if (i >= required && stat(p, &st))
                continue; /* data_batch_2..5 may be left out */
            int rc = cifar_file(p, label_bytes, label_at, n_labels, total, d, err, errlen);
            if (rc)
                return rc;
        }
    }
    d->n_classes = enevo__max_label(d->y, d->n);
    return 0;
}

int enevo__cifar_load(const char *dir, int cifar100, int coarse, bool u8, struct enevo_data *out,
                      char *err, size_t errlen)
{
    static const char *const train10[] = {"data_batch_1.bin", "data_batch_2.bin",
                                          "data_batch_3.bin", "data_batch_4.bin",
                                          "data_batch_5.bin"};
    static const char *const test10[] = {"test_batch.bin"};
    static const char *const train100[] = {"train.bin"};
    static const char *const test100[] = {"test.bin"};
    int label_bytes = cifar100 ? 2 : 1, at = cifar100 && !coarse ? 1 : 0;
    int n_labels = cifar100 ? (coarse ? 20 : 100) : 10;
    int rc = cifar_set(dir, cifar100 ? train100 : train10, cifar100 ? 1 : 5, 1, label_bytes, at,
                       n_labels, u8, &out->train, err, errlen);
    if (!rc)
        rc = cifar_set(dir, cifar100 ? test100 : test10, 1, 1, label_bytes, at, n_labels, false,
                       &out->test, err, errlen);
    if (!rc) {
        /* The format fixes the class count (a small subset may lack some). */
        out->train.n_classes = n_labels;
        out->test.n_classes = n_labels;
    }
    return rc;
}
