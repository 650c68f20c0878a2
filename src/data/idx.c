/* IDX reading (raw or gzip), normalisation and bilinear resize. */
#include "enevo/data.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <zlib.h>

#include "data/alloc.h"
#include "data/data_internal.h"

#define IDX_MAGIC_IMAGES 0x00000803u
#define IDX_MAGIC_LABELS 0x00000801u
#define IDX_PATH_MAX 4096

void *enevo__data_alloc(size_t bytes)
{
    enum { HUGE = 1 << 21 };
    if (bytes < 8 * (size_t)HUGE)
        return malloc(bytes ? bytes : 1);
    /* Image arrays run to hundreds of MB and are filled once, front to back;
     * with 4 KiB pages the first-touch faults cost more than the gzip
     * decompression (seen on VMs), so ask for transparent huge pages. */
    size_t rounded = (bytes + HUGE - 1) / HUGE * HUGE;
    void *p = aligned_alloc(HUGE, rounded);
#ifdef MADV_HUGEPAGE
    if (p)
        madvise(p, rounded, MADV_HUGEPAGE);
#endif
    return p;
}

/* An open IDX file; `path` is the name actually opened, for messages. */
struct idx_file {
    gzFile gz;
    char path[IDX_PATH_MAX];
};

/* gzopen reads uncompressed files transparently, so one code path serves
 * both; `access` decides between `path` and `path.gz` so that the message
 * can name what was tried. */
static int idx_open(const char *path, struct idx_file *f, char *err, size_t errlen)
{
    char gzpath[IDX_PATH_MAX];
    if (snprintf(gzpath, sizeof gzpath, "%s.gz", path) >= (int)sizeof gzpath)
        return enevo_errf(err, errlen, ENEVO_EINVAL, "%s: path too long", path);
    const char *use = NULL;
    if (access(path, R_OK) == 0)
        use = path;
    else if (access(gzpath, R_OK) == 0)
        use = gzpath;
    if (!use)
        return enevo_errf(err, errlen, ENEVO_EIO, "cannot open %s (also tried %s)", path, gzpath);
    snprintf(f->path, sizeof f->path, "%s", use);
    f->gz = gzopen(use, "rb");
    if (!f->gz)
        return enevo_errf(err, errlen, ENEVO_EIO, "cannot open %s", use);
    /* Larger than zlib's 8 KiB default: the 47 MB training images then
     * decompress in a fraction of a second. */
    gzbuffer(f->gz, 1 << 18);
    return 0;
}

/* Reads up to len bytes; returns how many were read, or -1 on a gzip error
 * (a corrupt stream). gzread takes an unsigned count, hence the chunks. */
static long long idx_read(struct idx_file *f, void *buf, size_t len)
{
    unsigned char *p = buf;
    size_t got = 0;
    while (got < len) {
        size_t want = len - got;
        if (want > (1u << 30))
            want = 1u << 30;
        int k = gzread(f->gz, p + got, (unsigned)want);
        if (k < 0)
            return -1;
        if (k == 0)
            break;
        got += (size_t)k;
    }
    return (long long)got;
}

static int idx_read_exact(struct idx_file *f, void *buf, size_t len, const char *what, char *err,
                          size_t errlen)
{
    long long got = idx_read(f, buf, len);
    if (got < 0) {
        int zerr;
        const char *msg = gzerror(f->gz, &zerr);
        return enevo_errf(err, errlen, ENEVO_EFORMAT, "%s: cannot read %s: %s", f->path, what, msg);
    }
    if ((size_t)got != len)
        return enevo_errf(err, errlen, ENEVO_EFORMAT,
                          "%s: truncated %s: expected %zu bytes, got %lld", f->path, what, len,
                          got);
    return 0;
}

static uint32_t be32(const unsigned char *b)
{
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | (uint32_t)b[3];
}

/* Reads the magic and `ndims` dimensions; each dimension must fit an int. */
static int idx_header(struct idx_file *f, uint32_t magic, int ndims, int *dims, char *err,
                      size_t errlen)
{
    unsigned char b[16];
    int rc = idx_read_exact(f, b, 4 + 4 * (size_t)ndims, "header", err, errlen);
    if (rc)
        return rc;
    uint32_t found = be32(b);
    if (found != magic)
        return enevo_errf(err, errlen, ENEVO_EFORMAT, "%s: bad magic 0x%08x, expected 0x%08x",
                          f->path, found, magic);
    for (int i = 0; i < ndims; i++) {
        uint32_t d = be32(b + 4 + 4 * i);
        if (d > INT_MAX)
            return enevo_errf(err, errlen, ENEVO_EFORMAT, "%s: dimension %d is %u, too large",
                              f->path, i, d);
        dims[i] = (int)d;
    }
    return 0;
}

static int load_images(const char *path, bool u8, struct enevo_dataset *d, char *used, char *err,
                       size_t errlen)
{
    struct idx_file f;
    int rc = idx_open(path, &f, err, errlen);
    if (rc)
        return rc;
    snprintf(used, IDX_PATH_MAX, "%s", f.path);
    int dims[3];
    rc = idx_header(&f, IDX_MAGIC_IMAGES, 3, dims, err, errlen);
    if (rc)
        goto done;
    if (dims[1] == 0 || dims[2] == 0) {
        rc = enevo_errf(err, errlen, ENEVO_EFORMAT, "%s: empty image size %dx%d", f.path, dims[1],
                        dims[2]);
        goto done;
    }
    size_t npix = (size_t)dims[0] * (size_t)dims[1] * (size_t)dims[2];
    if (npix / (size_t)dims[1] / (size_t)dims[2] != (size_t)dims[0] ||
        npix > SIZE_MAX / sizeof *d->x) {
        rc = enevo_errf(err, errlen, ENEVO_EFORMAT, "%s: %dx%dx%d pixels overflow", f.path, dims[0],
                        dims[1], dims[2]);
        goto done;
    }
    if (u8) { /* the bytes as they are; enevo_dataset_images maps them */
        d->u8 = enevo__data_alloc(npix);
        if (!d->u8) {
            rc = enevo_errf(err, errlen, ENEVO_ENOMEM, "%s: cannot allocate %zu pixels", f.path,
                            npix);
            goto done;
        }
        if ((rc = idx_read_exact(&f, d->u8, npix, "image data", err, errlen)))
            goto done;
        d->n = dims[0];
        d->c = 1;
        d->h = dims[1];
        d->w = dims[2];
        goto done;
    }
    d->x = enevo__data_alloc(npix * sizeof *d->x);
    if (!d->x) {
        rc = enevo_errf(err, errlen, ENEVO_ENOMEM, "%s: cannot allocate %zu pixels", f.path, npix);
        goto done;
    }
    /* One bulk read into the last quarter of the float array, then widen
     * front to back: float i is written over bytes [4i, 4i+4), which lie
     * below byte 3 npix + i being read until that byte has been used. This
     * saves a second 47 MB buffer and its page faults. */
    uint8_t *raw = (uint8_t *)d->x + 3 * npix;
    rc = idx_read_exact(&f, raw, npix, "image data", err, errlen);
    if (rc)
        goto done;
    for (size_t i = 0; i < npix; i++)
        d->x[i] = (float)raw[i] * (1.0f / 255.0f);
    d->n = dims[0];
    d->c = 1;
    d->h = dims[1];
    d->w = dims[2];
done:
    gzclose(f.gz);
    return rc;
}

static int load_labels(const char *path, struct enevo_dataset *d, int *n, char *used, char *err,
                       size_t errlen)
{
    struct idx_file f;
    int rc = idx_open(path, &f, err, errlen);
    if (rc)
        return rc;
    snprintf(used, IDX_PATH_MAX, "%s", f.path);
    rc = idx_header(&f, IDX_MAGIC_LABELS, 1, n, err, errlen);
    if (rc)
        goto done;
    d->y = malloc(*n ? (size_t)*n : 1);
    if (!d->y) {
        rc = enevo_errf(err, errlen, ENEVO_ENOMEM, "%s: cannot allocate %d labels", f.path, *n);
        goto done;
    }
    rc = idx_read_exact(&f, d->y, (size_t)*n, "label data", err, errlen);
done:
    gzclose(f.gz);
    return rc;
}

static int idx_load(const char *images_path, const char *labels_path, bool u8,
                    struct enevo_dataset *out, char *err, size_t errlen)
{
    struct enevo_dataset d = {0};
    char images_used[IDX_PATH_MAX], labels_used[IDX_PATH_MAX];
    int n_labels = 0;
    int rc = load_images(images_path, u8, &d, images_used, err, errlen);
    if (!rc)
        rc = load_labels(labels_path, &d, &n_labels, labels_used, err, errlen);
    if (!rc && n_labels != d.n)
        rc = enevo_errf(err, errlen, ENEVO_EFORMAT, "%s has %d images but %s has %d labels",
                        images_used, d.n, labels_used, n_labels);
    if (rc) {
        enevo_dataset_free(&d);
        *out = d;
        return rc;
    }
    int max_label = -1;
    for (int i = 0; i < d.n; i++)
        if (d.y[i] > max_label)
            max_label = d.y[i];
    d.n_classes = max_label + 1;
    *out = d;
    return 0;
}

int enevo_idx_load(const char *images_path, const char *labels_path, struct enevo_dataset *out,
                   char *err, size_t errlen)
{
    return idx_load(images_path, labels_path, false, out, err, errlen);
}

/* DIR/{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz], pixels in [0, 1];
 * enevo_data_open checks shapes and labels and normalises. */
int enevo__idx_dir_load(const char *dir, bool u8, struct enevo_data *d, char *err, size_t errlen)
{
    static const char *const names[4] = {
        "train-images-idx3-ubyte",
        "train-labels-idx1-ubyte",
        "t10k-images-idx3-ubyte",
        "t10k-labels-idx1-ubyte",
    };
    char p[4][IDX_PATH_MAX];
    for (int i = 0; i < 4; i++)
        if (snprintf(p[i], sizeof p[i], "%s/%s", dir, names[i]) >= (int)sizeof p[i])
            return enevo_errf(err, errlen, ENEVO_EINVAL, "%s: path too long", dir);
    int rc = idx_load(p[0], p[1], u8, &d->train, err, errlen);
    if (!rc)
        rc = idx_load(p[2], p[3], false, &d->test, err, errlen);
    return rc;
}

int enevo_data_load(const char *dir, struct enevo_data *out, char *err, size_t errlen)
{
    return enevo_data_open(dir, NULL, out, err, errlen);
}

/* The taps of every output position (data_internal.h). */
static void bilinear_taps(int in, int out, int *i0, int *i1, float *l1)
{
    float scale = (float)in / (float)out;
    for (int o = 0; o < out; o++)
        enevo__bilinear_tap(scale, o, in, &i0[o], &i1[o], &l1[o]);
}

int enevo_dataset_resize(struct enevo_dataset *d, int size, char *err, size_t errlen)
{
    if (size <= 0)
        return enevo_errf(err, errlen, ENEVO_EINVAL, "resize: size %d must be positive", size);
    if (d->h == size && d->w == size)
        return 0;
    int rc0 = enevo_dataset_to_float(d, err, errlen); /* bilinear works on floats */
    if (rc0)
        return rc0;
    size_t planes = (size_t)d->n * (size_t)d->c;
    size_t plane_out = (size_t)size * (size_t)size;
    size_t total = planes * plane_out;
    float *x = enevo__data_alloc(total * sizeof *x);
    int *ri0 = malloc((size_t)size * sizeof *ri0), *ri1 = malloc((size_t)size * sizeof *ri1);
    int *ci0 = malloc((size_t)size * sizeof *ci0), *ci1 = malloc((size_t)size * sizeof *ci1);
    float *rl = malloc((size_t)size * sizeof *rl), *cl = malloc((size_t)size * sizeof *cl);
    int rc = 0;
    if (!x || !ri0 || !ri1 || !ci0 || !ci1 || !rl || !cl) {
        rc = enevo_errf(err, errlen, ENEVO_ENOMEM, "resize: cannot allocate %zu planes of %dx%d",
                        planes, size, size);
        free(x);
        goto done;
    }
    bilinear_taps(d->h, size, ri0, ri1, rl);
    bilinear_taps(d->w, size, ci0, ci1, cl);
    for (size_t p = 0; p < planes; p++) {
        const float *src = d->x + p * (size_t)d->h * (size_t)d->w; // [h, w]
        float *dst = x + p * plane_out;                            // [size, size]
        for (int oy = 0; oy < size; oy++) {
            const float *r0 = src + (size_t)ri0[oy] * (size_t)d->w;
            const float *r1 = src + (size_t)ri1[oy] * (size_t)d->w;
            float ly = rl[oy], hy = 1.0f - ly;
            for (int ox = 0; ox < size; ox++) {
                float lx = cl[ox], hx = 1.0f - lx;
                dst[(size_t)oy * (size_t)size + (size_t)ox] =
                    hy * (hx * r0[ci0[ox]] + lx * r0[ci1[ox]]) +
                    ly * (hx * r1[ci0[ox]] + lx * r1[ci1[ox]]);
            }
        }
    }
    free(d->x);
    d->x = x;
    d->h = size;
    d->w = size;
done:
    free(ri0);
    free(ri1);
    free(ci0);
    free(ci1);
    free(rl);
    free(cl);
    return rc;
}

void enevo_dataset_free(struct enevo_dataset *d)
{
    if (!d)
        return;
    if (!d->borrowed) {
        free(d->x);
        free(d->u8);
        free(d->y);
    }
    d->x = NULL;
    d->u8 = NULL;
    d->y = NULL;
    d->n = 0;
}

void enevo_data_free(struct enevo_data *d)
{
    if (!d)
        return;
    enevo_dataset_free(&d->train);
    enevo_dataset_free(&d->test);
    for (int i = 0; i < d->n_class_names; i++)
        free(d->class_names[i]);
    free(d->class_names);
    d->class_names = NULL;
    d->n_class_names = 0;
}
