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

/* Reads the records of one file into d after its d->n images (or, while
 * d->x is NULL, only counts them): the record
 * count comes from the file size, checked before anything is allocated. */
static int cifar_file(const char *path, int label_bytes, int label_at, int n_labels, size_t cap,
                      struct enevo_dataset *d, char *err, size_t errlen)
{
    size_t rec = (size_t)label_bytes + CIFAR_IMG, size = 0;
    int rc = enevo__file_size(path, &size, err, errlen);
    if (rc)
        return rc;
    if (size == 0)
        return enevo_errf(err, errlen, ENEVO_EFORMAT, "%s: empty file", path);
    if (size % rec)
        return enevo_errf(err, errlen, ENEVO_EFORMAT,
                          "%s: truncated record: %zu bytes is not a whole number of %zu-byte "
                          "records (record %zu has %zu bytes)",
                          path, size, rec, size / rec, size % rec);
    size_t m = size / rec;
    if (m > (size_t)(1 << 30) - (size_t)d->n)
        return enevo_errf(err, errlen, ENEVO_EFORMAT, "%s: too many records (%zu)", path, m);
    if (!d->x && !d->u8) { /* the sizing pass: count only */
        d->n += (int)m;
        return 0;
    }
    size_t n = (size_t)d->n + m;
    if (n > cap)
        return enevo_errf(err, errlen, ENEVO_EIO, "%s: file changed while reading", path);
    float *x = d->x;
    uint8_t *y = d->y;
    FILE *f = fopen(path, "rb");
    if (!f)
        return enevo_errf(err, errlen, ENEVO_EIO, "cannot open %s: %s", path, strerror(errno));
    unsigned char buf[2 + CIFAR_IMG];
    rc = 0;
    for (size_t i = 0; i < m && !rc; i++) {
        if (fread(buf, 1, rec, f) != rec) {
            rc = enevo_errf(err, errlen, ENEVO_EIO, "%s: read error in record %zu", path, i);
            break;
        }
        int lab = buf[label_at];
        if (lab >= n_labels) {
            rc = enevo_errf(err, errlen, ENEVO_EFORMAT,
                            "%s: record %zu: label %d out of range (expected 0..%d)", path, i, lab,
                            n_labels - 1);
            break;
        }
        size_t k = (size_t)d->n + i;
        y[k] = (uint8_t)lab;
        if (d->u8) { /* kept as bytes: enevo_dataset_images maps them */
            memcpy(d->u8 + k * CIFAR_IMG, buf + label_bytes, CIFAR_IMG);
            continue;
        }
        float *p = x + k * CIFAR_IMG; // [3, 32, 32]
        for (int j = 0; j < CIFAR_IMG; j++)
            p[j] = (float)buf[label_bytes + j] * (1.0f / 255.0f);
    }
    fclose(f);
    if (!rc)
        d->n = (int)n;
    return rc;
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
