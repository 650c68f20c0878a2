/* IDX reading (raw or gzip, from memory; files are mapped), the large-array
 * allocator and file mapping the readers share, and bilinear resize. */
#include "enevo/data.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
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

/* ---- files mapped whole (data_internal.h) ---- */

int enevo__map_file(const char *path, struct enevo__map *m, char *err, size_t errlen)
{
    m->p = NULL;
    m->len = 0;
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return enevo_errf(err, errlen, ENEVO_EIO, "cannot open %s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
        close(fd);
        return enevo_errf(err, errlen, ENEVO_EIO, "%s: not a regular file", path);
    }
    if (st.st_size == 0) { /* mmap refuses an empty range; the readers say "empty" */
        close(fd);
        return 0;
    }
    void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (p == MAP_FAILED)
        return enevo_errf(err, errlen, ENEVO_EIO, "cannot map %s: %s", path, strerror(errno));
    m->p = p;
    m->len = (size_t)st.st_size;
    return 0;
}

void enevo__unmap(struct enevo__map *m)
{
    if (m->p)
        munmap(m->p, m->len);
    m->p = NULL;
    m->len = 0;
}

/* ---- IDX from memory: raw, or gzip (one or more members) ---- */

/* The bytes of an IDX file in order: `buf` itself, or its gzip stream
 * inflated on demand. `name` is the file, for messages. */
struct idx_src {
    const unsigned char *buf;
    size_t len, pos; /* raw: the next byte; gzip: the next compressed byte */
    bool gz, zinit, zend;
    z_stream zs;
    const char *name;
};

static bool is_gzip(const unsigned char *b, size_t len)
{
    return len >= 2 && b[0] == 0x1f && b[1] == 0x8b;
}

static void src_init(struct idx_src *s, const unsigned char *buf, size_t len, const char *name)
{
    memset(s, 0, sizeof *s);
    s->buf = buf;
    s->len = len;
    s->name = name;
    s->gz = is_gzip(buf, len);
}

static void src_end(struct idx_src *s)
{
    if (s->zinit)
        inflateEnd(&s->zs);
    s->zinit = false;
}

/* Up to want bytes into out; *got how many (fewer: the data ended). */
static int src_read(struct idx_src *s, unsigned char *out, size_t want, size_t *got, char *err,
                    size_t errlen)
{
    *got = 0;
    if (!s->gz) {
        size_t k = s->len - s->pos < want ? s->len - s->pos : want;
        if (k)
            memcpy(out, s->buf + s->pos, k);
        s->pos += k;
        *got = k;
        return 0;
    }
    if (!s->zinit) {
        if (inflateInit2(&s->zs, 16 + MAX_WBITS) != Z_OK)
            return enevo_errf(err, errlen, ENEVO_ENOMEM, "%s: cannot start zlib", s->name);
        s->zinit = true;
    }
    while (*got < want && !s->zend) {
        size_t in = s->len - s->pos, ow = want - *got;
        s->zs.next_in = (unsigned char *)s->buf + s->pos;
        s->zs.avail_in = in > (1u << 30) ? (1u << 30) : (uInt)in;
        s->zs.next_out = out + *got;
        s->zs.avail_out = ow > (1u << 30) ? (1u << 30) : (uInt)ow;
        uInt ai = s->zs.avail_in, ao = s->zs.avail_out;
        int zrc = inflate(&s->zs, Z_NO_FLUSH);
        s->pos += ai - s->zs.avail_in;
        *got += ao - s->zs.avail_out;
        if (zrc == Z_STREAM_END) {
            /* gzip allows members end to end (gzread reads them all); anything
             * else after a member is ignored, as gzread does. */
            if (is_gzip(s->buf + s->pos, s->len - s->pos))
                inflateReset(&s->zs);
            else
                s->zend = true;
        } else if (zrc == Z_BUF_ERROR && s->pos == s->len) {
            s->zend = true; /* the compressed data ends early: a truncated file */
        } else if (zrc != Z_OK) {
            return enevo_errf(err, errlen, ENEVO_EFORMAT, "%s: corrupt gzip data: %s", s->name,
                              s->zs.msg ? s->zs.msg : zError(zrc));
        }
    }
    return 0;
}

static int src_read_exact(struct idx_src *s, unsigned char *out, size_t len, const char *what,
                          char *err, size_t errlen)
{
    size_t got;
    int rc = src_read(s, out, len, &got, err, errlen);
    if (!rc && got != len)
        rc = enevo_errf(err, errlen, ENEVO_EFORMAT, "%s: truncated %s: expected %zu bytes, got %zu",
                        s->name, what, len, got);
    return rc;
}

/* The `need` bytes after the header. Raw: a pointer into the buffer, its
 * length checked before anything is allocated. Gzip: the stream has no
 * size to check against, so the bytes are inflated into *owned, grown as
 * they really arrive (the first block from the compressed size, enough for
 * real files; then doubling): a header's claim alone never gets memory. */
static int src_payload(struct idx_src *s, size_t need, const char *what, const unsigned char **data,
                       unsigned char **owned, char *err, size_t errlen)
{
    *owned = NULL;
    *data = NULL;
    if (!s->gz) {
        size_t have = s->len - s->pos;
        if (have < need)
            return enevo_errf(err, errlen, ENEVO_EFORMAT,
                              "%s: truncated %s: expected %zu bytes, got %zu", s->name, what, need,
                              have);
        *data = s->buf + s->pos;
        s->pos += need;
        return 0;
    }
    size_t cap = s->len > (SIZE_MAX - 65536) / 8 ? need : 8 * s->len + 65536;
    if (cap > need)
        cap = need;
    unsigned char *b = enevo__data_alloc(cap);
    if (!b)
        return enevo_errf(err, errlen, ENEVO_ENOMEM, "%s: cannot allocate %zu bytes", s->name, cap);
    size_t got = 0;
    for (;;) {
        size_t k;
        int rc = src_read(s, b + got, cap - got, &k, err, errlen);
        got += k;
        if (rc || got < cap || cap == need) {
            if (!rc && got != need)
                rc = enevo_errf(err, errlen, ENEVO_EFORMAT,
                                "%s: truncated %s: expected %zu bytes, got %zu", s->name, what,
                                need, got);
            if (rc) {
                free(b);
                return rc;
            }
            break;
        }
        size_t ncap = cap > need / 2 ? need : 2 * cap;
        unsigned char *nb = realloc(b, ncap);
        if (!nb) {
            free(b);
            return enevo_errf(err, errlen, ENEVO_ENOMEM, "%s: cannot allocate %zu bytes",
                              s->name, ncap);
        }
        b = nb;
        cap = ncap;
    }
    *owned = b;
    *data = b;
    return 0;
}

static uint32_t be32(const unsigned char *b)
{
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | (uint32_t)b[3];
}

/* Reads the magic and `ndims` dimensions; each dimension must fit an int. */
static int idx_header(struct idx_src *s, uint32_t magic, int ndims, int *dims, char *err,
                      size_t errlen)
{
    unsigned char b[16];
    int rc = src_read_exact(s, b, 4 + 4 * (size_t)ndims, "header", err, errlen);
    if (rc)
        return rc;
    uint32_t found = be32(b);
    if (found != magic)
        return enevo_errf(err, errlen, ENEVO_EFORMAT, "%s: bad magic 0x%08x, expected 0x%08x",
                          s->name, found, magic);
    for (int i = 0; i < ndims; i++) {
        uint32_t d = be32(b + 4 + 4 * i);
        if (d > INT_MAX)
            return enevo_errf(err, errlen, ENEVO_EFORMAT, "%s: dimension %d is %u, too large",
                              s->name, i, d);
        dims[i] = (int)d;
    }
    return 0;
}

static int images_from(struct idx_src *s, bool u8, struct enevo_dataset *d, char *err,
                       size_t errlen)
{
    int dims[3];
    int rc = idx_header(s, IDX_MAGIC_IMAGES, 3, dims, err, errlen);
    if (rc)
        return rc;
    if (dims[1] == 0 || dims[2] == 0)
        return enevo_errf(err, errlen, ENEVO_EFORMAT, "%s: empty image size %dx%d", s->name,
                          dims[1], dims[2]);
    size_t npix = (size_t)dims[0] * (size_t)dims[1] * (size_t)dims[2];
    if (npix / (size_t)dims[1] / (size_t)dims[2] != (size_t)dims[0] ||
        npix > SIZE_MAX / sizeof *d->x)
        return enevo_errf(err, errlen, ENEVO_EFORMAT, "%s: %dx%dx%d pixels overflow", s->name,
                          dims[0], dims[1], dims[2]);
    const unsigned char *px;
    unsigned char *owned;
    if ((rc = src_payload(s, npix, "image data", &px, &owned, err, errlen)))
        return rc;
    if (u8) { /* the bytes as they are; enevo_dataset_images maps them */
        d->u8 = owned;
        if (!owned && (d->u8 = enevo__data_alloc(npix)))
            memcpy(d->u8, px, npix);
        if (!d->u8)
            return enevo_errf(err, errlen, ENEVO_ENOMEM, "%s: cannot allocate %zu pixels",
                              s->name, npix);
    } else {
        d->x = enevo__data_alloc(npix * sizeof *d->x);
        if (!d->x) {
            free(owned);
            return enevo_errf(err, errlen, ENEVO_ENOMEM, "%s: cannot allocate %zu pixels",
                              s->name, npix);
        }
        for (size_t i = 0; i < npix; i++)
            d->x[i] = (float)px[i] * (1.0f / 255.0f);
        free(owned);
    }
    d->n = dims[0];
    d->c = 1;
    d->h = dims[1];
    d->w = dims[2];
    return 0;
}

static int labels_from(struct idx_src *s, struct enevo_dataset *d, int *n, char *err,
                       size_t errlen)
{
    int rc = idx_header(s, IDX_MAGIC_LABELS, 1, n, err, errlen);
    if (rc)
        return rc;
    const unsigned char *y;
    unsigned char *owned;
    if ((rc = src_payload(s, (size_t)*n, "label data", &y, &owned, err, errlen)))
        return rc;
    d->y = owned ? owned : malloc(*n ? (size_t)*n : 1);
    if (!d->y)
        return enevo_errf(err, errlen, ENEVO_ENOMEM, "%s: cannot allocate %d labels", s->name,
                          *n);
    if (!owned && *n)
        memcpy(d->y, y, (size_t)*n);
    return 0;
}

int enevo__idx_images_mem(const unsigned char *buf, size_t len, const char *name, bool u8,
                          struct enevo_dataset *d, char *err, size_t errlen)
{
    struct idx_src s;
    src_init(&s, buf, len, name);
    int rc = images_from(&s, u8, d, err, errlen);
    src_end(&s);
    return rc;
}

int enevo__idx_labels_mem(const unsigned char *buf, size_t len, const char *name,
                          struct enevo_dataset *d, int *n, char *err, size_t errlen)
{
    struct idx_src s;
    src_init(&s, buf, len, name);
    int rc = labels_from(&s, d, n, err, errlen);
    src_end(&s);
    return rc;
}

/* `path`, else `path.gz` (the message names both when neither exists),
 * mapped whole; `used` gets the name opened. The format (raw or gzip) is
 * read from the bytes, not the name. */
static int idx_map(const char *path, struct enevo__map *m, char *used, char *err, size_t errlen)
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
    snprintf(used, IDX_PATH_MAX, "%s", use);
    return enevo__map_file(use, m, err, errlen);
}

static int load_images(const char *path, bool u8, struct enevo_dataset *d, char *used, char *err,
                       size_t errlen)
{
    struct enevo__map m;
    int rc = idx_map(path, &m, used, err, errlen);
    if (!rc)
        rc = enevo__idx_images_mem(m.p, m.len, used, u8, d, err, errlen);
    enevo__unmap(&m);
    return rc;
}

static int load_labels(const char *path, struct enevo_dataset *d, int *n, char *used, char *err,
                       size_t errlen)
{
    struct enevo__map m;
    int rc = idx_map(path, &m, used, err, errlen);
    if (!rc)
        rc = enevo__idx_labels_mem(m.p, m.len, used, d, n, err, errlen);
    enevo__unmap(&m);
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
