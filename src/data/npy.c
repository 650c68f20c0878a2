/* NumPy arrays: .npy files (format versions 1-3) and .npz archives (zip,
 * stored or deflated, zip64 as numpy writes it). Files are mapped, not
 * read: a stored .npz entry or an .npy is converted straight from the map,
 * and every size a header claims is checked against the bytes really there
 * before anything is allocated. */
#include <ctype.h>
#include <math.h>
#include <stdbool.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "data/alloc.h"
#include "data/data_internal.h"

#define NPY_MAX_DIMS 8
#define NPY_PATH 4096

/* A parsed array; data points into a map or buffer it does not own. */
struct npy {
    char kind;  /* 'u', 'i', 'f', 'b' */
    int size;   /* bytes per element */
    int ndim;
    size_t shape[NPY_MAX_DIMS];
    size_t count;
    const unsigned char *data;
};

static unsigned rd16(const unsigned char *b) { return (unsigned)b[0] | (unsigned)b[1] << 8; }
static uint32_t rd32(const unsigned char *b)
{
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}
static uint64_t rd64(const unsigned char *b) { return rd32(b) | (uint64_t)rd32(b + 4) << 32; }

/* Finds 'key': in the header dict and returns the text after the colon. */
static const char *dict_value(const char *h, const char *key)
{
    char pat[32];
    snprintf(pat, sizeof pat, "'%s'", key);
    const char *p = strstr(h, pat);
    if (!p)
        return NULL;
    p += strlen(pat);
    while (*p == ' ')
        p++;
    if (*p != ':')
        return NULL;
    p++;
    while (*p == ' ')
        p++;
    return p;
}

/* Parses an .npy held in buf[0..len) named `name` (for messages). */
static int npy_parse(const unsigned char *buf, size_t len, const char *name, struct npy *a,
                     char *err, size_t errlen)
{
    memset(a, 0, sizeof *a);
    if (len < 10 || memcmp(buf, "\x93NUMPY", 6))
        return enevo_errf(err, errlen, ENEVO_EFORMAT, "%s: not an .npy array (bad magic)", name);
    int major = buf[6];
    size_t hlen, hoff;
    if (major == 1) {
        hlen = rd16(buf + 8);
        hoff = 10;
    } else if (major == 2 || major == 3) {
        if (len < 12)
            return enevo_errf(err, errlen, ENEVO_EFORMAT, "%s: truncated header", name);
        hlen = rd32(buf + 8);
        hoff = 12;
    } else {
        return enevo_errf(err, errlen, ENEVO_EVERSION, "%s: .npy format version %d.%d unsupported",
                          name, major, buf[7]);
    }
    if (hlen > len - hoff || hlen > 65536)
        return enevo_errf(err, errlen, ENEVO_EFORMAT,
                          "%s: header of %zu bytes but the file has %zu after the preamble", name,
                          hlen, len - hoff);
    char h[65537];
    memcpy(h, buf + hoff, hlen);
    h[hlen] = 0;
    const char *v = dict_value(h, "descr");
    if (!v || *v != '\'')
        return enevo_errf(err, errlen, ENEVO_EFORMAT, "%s: header has no 'descr' string: %s", name,
                          h);
    char descr[16] = {0};
    size_t k = 0;
    for (v++; *v && *v != '\'' && k < sizeof descr - 1; v++)
        descr[k++] = *v;
    char order = descr[0], kind = descr[1];
    int size = atoi(descr + 2);
    bool known = (kind == 'u' || kind == 'i' || kind == 'b') ? (size == 1 || size == 2 ||
                                                                size == 4 || size == 8)
                 : kind == 'f'                             ? (size == 4 || size == 8)
                                                           : false;
    if (kind == 'b' && size != 1)
        known = false;
    if (!known || strlen(descr) < 3 || (order != '<' && order != '|' && order != '=') ||
        (order == '|' && size != 1))
        return enevo_errf(err, errlen, ENEVO_EFORMAT,
                          "%s: unsupported dtype '%s' (expected little-endian uint8, float32, "
                          "float64 or an integer type)",
                          name, descr);
    v = dict_value(h, "fortran_order");
    if (!v)
        return enevo_errf(err, errlen, ENEVO_EFORMAT, "%s: header has no 'fortran_order'", name);
    if (!strncmp(v, "True", 4))
        return enevo_errf(err, errlen, ENEVO_EFORMAT,
                          "%s: Fortran-ordered array unsupported (save np.ascontiguousarray(a))",
                          name);
    v = dict_value(h, "shape");
    if (!v || *v != '(')
        return enevo_errf(err, errlen, ENEVO_EFORMAT, "%s: header has no 'shape' tuple", name);
    v++;
    size_t count = 1;
    for (;;) {
        while (*v == ' ' || *v == ',')
            v++;
        if (*v == ')')
            break;
        if (!isdigit((unsigned char)*v) || a->ndim == NPY_MAX_DIMS)
            return enevo_errf(err, errlen, ENEVO_EFORMAT, "%s: bad shape in header: %s", name, h);
        char *end;
        errno = 0;
        unsigned long long d = strtoull(v, &end, 10);
        if (errno || d > (1ull << 40))
            return enevo_errf(err, errlen, ENEVO_EFORMAT, "%s: dimension too large in %s", name, h);
        v = end;
        a->shape[a->ndim++] = (size_t)d;
        if (d && count > SIZE_MAX / d / 8)
            return enevo_errf(err, errlen, ENEVO_EFORMAT, "%s: shape overflows in %s", name, h);
        count *= (size_t)d;
    }
    a->kind = kind;
    a->size = size;
    a->count = count;
    size_t have = len - hoff - hlen;
    if (count * (size_t)size != have)
        return enevo_errf(err, errlen, ENEVO_EFORMAT,
                          "%s: header says %zu elements of %d bytes (%zu bytes) but %zu bytes of "
                          "data follow it",
                          name, count, size, count * (size_t)size, have);
    a->data = buf + hoff + hlen;
    return 0;
}

static double npy_get(const struct npy *a, size_t i)
{
    const unsigned char *p = a->data + i * (size_t)a->size;
    switch (a->kind) {
    case 'b':
    case 'u':
        switch (a->size) {
        case 1: return p[0];
        case 2: return rd16(p);
        case 4: return rd32(p);
        default: return (double)rd64(p);
        }
    case 'i':
        switch (a->size) {
        case 1: return (int8_t)p[0];
        case 2: return (int16_t)rd16(p);
        case 4: return (int32_t)rd32(p);
        default: return (double)(int64_t)rd64(p);
        }
    default:
        if (a->size == 4) {
            uint32_t u = rd32(p);
            float f;
            memcpy(&f, &u, 4);
            return f;
        } else {
            uint64_t u = rd64(p);
            double f;
            memcpy(&f, &u, 8);
            return f;
        }
    }
}

static void shape_text(const struct npy *a, char *s, size_t n)
{
    size_t k = (size_t)snprintf(s, n, "(");
    for (int i = 0; i < a->ndim && k < n; i++)
        k += (size_t)snprintf(s + k, n - k, i ? ", %zu" : "%zu", a->shape[i]);
    if (k < n)
        snprintf(s + k, n - k, ")");
}

/* Images from x (N,H,W), (N,H,W,C) or (N,C,H,W) and labels from y (N) or
 * (N,1) into d. uint8 pixels become [0, 1]; floats are kept as stored. */
/* keep_u8: uint8 images stay bytes (d->u8, NCHW), as enevo_data_opts.u8 asks. */
static int npy_to_set(const struct npy *x, const struct npy *y, const char *xname,
                      const char *yname, int layout, bool keep_u8, struct enevo_dataset *d,
                      char *err, size_t errlen)
{
    char s[128];
    shape_text(x, s, sizeof s);
    if (x->kind != 'f' && !(x->kind == 'u' && x->size == 1))
        return enevo_errf(err, errlen, ENEVO_EFORMAT,
                          "%s: images must be uint8 or float (float32/float64), not %c%d", xname,
                          x->kind, x->size);
    size_t n = x->ndim ? x->shape[0] : 0, c, h, w;
    bool nhwc = true;
    if (x->ndim == 3) {
        c = 1;
        h = x->shape[1];
        w = x->shape[2];
    } else if (x->ndim == 4) {
        if (layout == ENEVO_LAYOUT_NHWC)
            nhwc = true;
        else if (layout == ENEVO_LAYOUT_NCHW)
            nhwc = false;
        else if (x->shape[3] == 1 || x->shape[3] == 3)
            nhwc = true;
        else if (x->shape[1] == 1 || x->shape[1] == 3)
            nhwc = false;
        else
            return enevo_errf(err, errlen, ENEVO_EFORMAT,
                              "%s: shape %s has no channel axis of 1 or 3; name the layout "
                              "(npz:FILE,layout=nhwc or layout=nchw)",
                              xname, s);
        c = nhwc ? x->shape[3] : x->shape[1];
        h = nhwc ? x->shape[1] : x->shape[2];
        w = nhwc ? x->shape[2] : x->shape[3];
    } else {
        return enevo_errf(err, errlen, ENEVO_EFORMAT,
                          "%s: images of shape %s: expected (N, H, W), (N, H, W, C) or (N, C, H, W)",
                          xname, s);
    }
    if (!n || !c || !h || !w || c > ENEVO_MAX_CHANNELS || h > 65536 || w > 65536 || n > INT32_MAX)
        return enevo_errf(err, errlen, ENEVO_EFORMAT,
                          "%s: images of shape %s: need at least one image, 1 to %d channels", xname,
                          s, ENEVO_MAX_CHANNELS);
    char ys[128];
    shape_text(y, ys, sizeof ys);
    if (y->kind == 'f' || !(y->ndim == 1 || (y->ndim == 2 && y->shape[1] == 1)) || y->shape[0] != n)
        return enevo_errf(err, errlen, ENEVO_EFORMAT,
                          "%s: labels of shape %s and dtype %c%d: expected %zu integers (one per "
                          "image of %s)",
                          yname, ys, y->kind, y->size, n, xname);
    size_t img = c * h * w;
    bool bytes = keep_u8 && x->kind == 'u';
    float *xf = bytes ? NULL : enevo__data_alloc(n * img * sizeof *xf);
    uint8_t *xb = bytes ? enevo__data_alloc(n * img) : NULL;
    uint8_t *yy = malloc(n);
    if ((!xf && !xb) || !yy) {
        free(xb);
        free(xf);
        free(yy);
        return enevo_errf(err, errlen, ENEVO_ENOMEM, "%s: cannot allocate %zu images", xname, n);
    }
    for (size_t i = 0; i < n; i++) {
        double v = npy_get(y, i);
        if (!(v >= 0 && v < 256)) {
            free(xf);
            free(xb);
            free(yy);
            return enevo_errf(err, errlen, ENEVO_EFORMAT,
                              "%s: label %.0f of image %zu out of range (expected 0..255)", yname,
                              v, i);
        }
        yy[i] = (uint8_t)v;
    }
    size_t plane = h * w;
    bool u8 = x->kind == 'u';
    bool f32 = x->kind == 'f' && x->size == 4;
    if (bytes) { /* to NCHW; enevo_dataset_images maps them to floats */
        for (size_t i = 0; i < n; i++) {
            uint8_t *dst = xb + i * img; // [c, h, w]
            const unsigned char *src = x->data + i * img;
            for (size_t ch = 0; ch < c; ch++)
                for (size_t p = 0; p < plane; p++)
                    dst[ch * plane + p] = src[nhwc ? p * c + ch : ch * plane + p];
        }
        *d = (struct enevo_dataset){.n = (int)n, .c = (int)c, .h = (int)h, .w = (int)w,
                                    .n_classes = enevo__max_label(yy, (int)n), .u8 = xb, .y = yy};
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        float *dst = xf + i * img; // [c, h, w]
        const unsigned char *src = x->data + i * img * (size_t)x->size;
        for (size_t ch = 0; ch < c; ch++)
            for (size_t p = 0; p < plane; p++) {
                size_t e = nhwc ? p * c + ch : ch * plane + p;
                float v;
                if (u8) {
                    v = (float)src[e] * (1.0f / 255.0f);
                } else if (f32) {
                    memcpy(&v, src + 4 * e, 4);
                } else {
                    double dv;
                    memcpy(&dv, src + 8 * e, 8);
                    v = (float)dv;
                }
                dst[ch * plane + p] = v;
            }
    }
    /* A NaN or infinity would poison the normalisation statistics. */
    for (size_t i = 0; i < n * img; i++)
        if (!isfinite(xf[i])) {
            free(xf);
            free(yy);
            return enevo_errf(err, errlen, ENEVO_EFORMAT, "%s: non-finite pixel in image %zu",
                              xname, i / img);
        }
    *d = (struct enevo_dataset){.n = (int)n, .c = (int)c, .h = (int)h, .w = (int)w,
                                .n_classes = enevo__max_label(yy, (int)n), .x = xf, .y = yy};
    return 0;
}

/* ---- .npz: the zip's central directory ---- */

struct zip_entry {
    size_t name_len;
    const char *name;
    unsigned method;
    uint32_t crc;
    uint64_t csize, usize, offset;
};

static int zip_find(const struct enevo__map *m, const char *path, const char *want,
                    struct zip_entry *e, char *err, size_t errlen)
{
    const unsigned char *p = m->p;
    size_t len = m->len;
    if (len < 22 || memcmp(p, "PK\3\4", 4))
        return enevo_errf(err, errlen, ENEVO_EFORMAT, "%s: not an .npz (zip) file", path);
    size_t eocd = SIZE_MAX;
    size_t lo = len > 22 + 65535 ? len - 22 - 65535 : 0;
    for (size_t i = len - 22 + 1; i-- > lo;)
        if (rd32(p + i) == 0x06054b50u) {
            eocd = i;
            break;
        }
    if (eocd == SIZE_MAX)
        return enevo_errf(err, errlen, ENEVO_EFORMAT,
                          "%s: no zip end-of-directory record (truncated?)", path);
    uint64_t entries = rd16(p + eocd + 10), cd_off = rd32(p + eocd + 16);
    if ((entries == 0xffff || cd_off == 0xffffffffu) && eocd >= 20 &&
        rd32(p + eocd - 20) == 0x07064b50u) {
        uint64_t z = rd64(p + eocd - 20 + 8);
        if (len < 56 || z > len - 56 || rd32(p + z) != 0x06064b50u)
            return enevo_errf(err, errlen, ENEVO_EFORMAT, "%s: bad zip64 directory record", path);
        entries = rd64(p + z + 32);
        cd_off = rd64(p + z + 48);
    }
    size_t q = (size_t)cd_off;
    if (cd_off > len)
        return enevo_errf(err, errlen, ENEVO_EFORMAT, "%s: zip directory beyond the end", path);
    for (uint64_t i = 0; i < entries; i++) {
        if (q + 46 > len || rd32(p + q) != 0x02014b50u)
            return enevo_errf(err, errlen, ENEVO_EFORMAT, "%s: corrupt zip directory entry %llu",
                              path, (unsigned long long)i);
        size_t nl = rd16(p + q + 28), xl = rd16(p + q + 30), cl = rd16(p + q + 32);
        if (q + 46 + nl + xl + cl > len)
            return enevo_errf(err, errlen, ENEVO_EFORMAT, "%s: corrupt zip directory entry %llu",
                              path, (unsigned long long)i);
        struct zip_entry z = {nl, (const char *)p + q + 46, rd16(p + q + 10), rd32(p + q + 16),
                              rd32(p + q + 20), rd32(p + q + 24), rd32(p + q + 42)};
        /* zip64 extra: the 0xffffffff fields, in the order usize, csize, offset. */
        const unsigned char *x = p + q + 46 + nl, *xe = x + xl;
        while (x + 4 <= xe) {
            unsigned id = rd16(x), sz = rd16(x + 2);
            if (x + 4 + sz > xe)
                break;
            if (id == 1) {
                const unsigned char *f = x + 4, *fe = f + sz;
                if (z.usize == 0xffffffffu && f + 8 <= fe)
                    z.usize = rd64(f), f += 8;
                if (z.csize == 0xffffffffu && f + 8 <= fe)
                    z.csize = rd64(f), f += 8;
                if (z.offset == 0xffffffffu && f + 8 <= fe)
                    z.offset = rd64(f);
            }
            x += 4 + sz;
        }
        q += 46 + nl + xl + cl;
        if (nl == strlen(want) && !memcmp(z.name, want, nl)) {
            *e = z;
            return 0;
        }
    }
    return ENEVO_EINVAL; /* not found: the caller says what was looked for */
}

/* The entry's bytes: in the map when stored, else inflated into *owned. */
static int zip_data(const struct enevo__map *m, const char *path, const struct zip_entry *e,
                    const unsigned char **data, unsigned char **owned, char *err, size_t errlen)
{
    *owned = NULL;
    const unsigned char *p = m->p;
    if (m->len < 30 || e->offset > m->len - 30 || rd32(p + e->offset) != 0x04034b50u)
        return enevo_errf(err, errlen, ENEVO_EFORMAT, "%s: %.*s: bad local header", path,
                          (int)e->name_len, e->name);
    uint64_t start = e->offset + 30 + rd16(p + e->offset + 26) + rd16(p + e->offset + 28);
    if (start > m->len || e->csize > m->len - start)
        return enevo_errf(err, errlen, ENEVO_EFORMAT,
                          "%s: %.*s: %llu compressed bytes claimed but the file ends first", path,
                          (int)e->name_len, e->name, (unsigned long long)e->csize);
    const unsigned char *src = p + start;
    if (e->method == 0) {
        if (e->usize != e->csize)
            return enevo_errf(err, errlen, ENEVO_EFORMAT, "%s: %.*s: stored entry sizes differ",
                              path, (int)e->name_len, e->name);
        *data = src;
    } else if (e->method == 8) {
        /* Deflate expands at most ~1032:1; a larger claim is a lie. Even
         * a plausible claim gets memory only as inflated bytes arrive: the
         * first block from the compressed size (enough for real files),
         * then doubling, so a small entry never reserves what it only
         * claims. */
        if (e->usize > 1032 * e->csize + 1024 || e->usize > SIZE_MAX / 2)
            return enevo_errf(err, errlen, ENEVO_EFORMAT,
                              "%s: %.*s: claims %llu bytes from %llu compressed", path,
                              (int)e->name_len, e->name, (unsigned long long)e->usize,
                              (unsigned long long)e->csize);
        uint64_t want = e->usize + 1; /* one more: data beyond the claim is an error */
        uint64_t cap = 8 * e->csize + 65536 < want ? 8 * e->csize + 65536 : want;
        unsigned char *out = enevo__data_alloc((size_t)cap);
        if (!out)
            return enevo_errf(err, errlen, ENEVO_ENOMEM, "%s: cannot allocate %llu bytes", path,
                              (unsigned long long)cap);
        z_stream zs = {0};
        int zrc = inflateInit2(&zs, -MAX_WBITS);
        uint64_t in_left = e->csize, out_done = 0;
        const unsigned char *in = src;
        while (zrc == Z_OK) {
            if (out_done == cap && cap < want) {
                uint64_t ncap = cap > want / 2 ? want : 2 * cap;
                unsigned char *nb = realloc(out, (size_t)ncap);
                if (!nb) {
                    zrc = Z_MEM_ERROR;
                    break;
                }
                out = nb;
                cap = ncap;
            }
            unsigned ci = in_left > (1u << 30) ? (1u << 30) : (unsigned)in_left;
            uint64_t ol = cap - out_done;
            unsigned co = ol > (1u << 30) ? (1u << 30) : (unsigned)ol;
            zs.next_in = (unsigned char *)in;
            zs.avail_in = ci;
            zs.next_out = out + out_done;
            zs.avail_out = co;
            zrc = inflate(&zs, Z_NO_FLUSH);
            in += ci - zs.avail_in;
            in_left -= ci - zs.avail_in;
            out_done += co - zs.avail_out;
            if (zrc == Z_OK && ci == zs.avail_in && co == zs.avail_out)
                zrc = Z_BUF_ERROR;
        }
        inflateEnd(&zs);
        if (zrc == Z_MEM_ERROR) {
            free(out);
            return enevo_errf(err, errlen, ENEVO_ENOMEM, "%s: %.*s: out of memory inflating",
                              path, (int)e->name_len, e->name);
        }
        if (zrc != Z_STREAM_END || out_done != e->usize) {
            free(out);
            return enevo_errf(err, errlen, ENEVO_EFORMAT,
                              "%s: %.*s: corrupt deflate data (%llu of %llu bytes)", path,
                              (int)e->name_len, e->name, (unsigned long long)out_done,
                              (unsigned long long)e->usize);
        }
        *owned = out;
        *data = out;
    } else {
        return enevo_errf(err, errlen, ENEVO_EFORMAT,
                          "%s: %.*s: zip compression method %u unsupported (numpy writes 0 or 8)",
                          path, (int)e->name_len, e->name, e->method);
    }
    uLong crc = crc32(0L, Z_NULL, 0);
    for (uint64_t off = 0; off < e->usize; off += 1u << 30) {
        uint64_t k = e->usize - off > (1u << 30) ? (1u << 30) : e->usize - off;
        crc = crc32(crc, *data + off, (uInt)k);
    }
    if ((uint32_t)crc != e->crc) {
        free(*owned);
        *owned = NULL;
        return enevo_errf(err, errlen, ENEVO_ECORRUPT, "%s: %.*s: CRC mismatch (corrupt file)",
                          path, (int)e->name_len, e->name);
    }
    return 0;
}

struct npz_arr {
    struct npy a;
    unsigned char *owned;
    char name[NPY_PATH];
};

static int npz_array(const struct enevo__map *m, const char *path, const char *key,
                     struct npz_arr *out, char *err, size_t errlen)
{
    char want[256];
    snprintf(want, sizeof want, "%s.npy", key);
    snprintf(out->name, sizeof out->name, "%s: %s", path, want);
    out->owned = NULL;
    struct zip_entry e = {0};
    int rc = zip_find(m, path, want, &e, err, errlen);
    if (rc == ENEVO_EINVAL)
        return enevo_errf(err, errlen, ENEVO_EFORMAT,
                          "%s: no array '%s' (name others with npz:FILE,%s=NAME)", path, key,
                          key);
    if (rc)
        return rc;
    const unsigned char *data = NULL;
    if ((rc = zip_data(m, path, &e, &data, &out->owned, err, errlen)))
        return rc;
    rc = npy_parse(data, (size_t)e.usize, out->name, &out->a, err, errlen);
    if (rc) {
        free(out->owned);
        out->owned = NULL;
    }
    return rc;
}

int enevo__npz_mem(const unsigned char *buf, size_t len, const char *path,
                   const struct enevo_data_opts *o, struct enevo_data *out, char *err,
                   size_t errlen)
{
    const struct enevo__map m = {(unsigned char *)buf, len};
    struct npz_arr a[4] = {0};
    int rc = 0;
    for (int i = 0; i < 4 && !rc; i++)
        rc = npz_array(&m, path, o->keys[i], &a[i], err, errlen);
    if (!rc)
        rc = npy_to_set(&a[0].a, &a[1].a, a[0].name, a[1].name, o->layout, o->u8, &out->train,
                        err, errlen);
    if (!rc)
        rc = npy_to_set(&a[2].a, &a[3].a, a[2].name, a[3].name, o->layout, false, &out->test,
                        err, errlen);
    for (int i = 0; i < 4; i++)
        free(a[i].owned);
    return rc;
}

int enevo__npz_load(const char *path, const struct enevo_data_opts *o, struct enevo_data *out,
                    char *err, size_t errlen)
{
    struct enevo__map m;
    int rc = enevo__map_file(path, &m, err, errlen);
    if (!rc && !m.len)
        rc = enevo_errf(err, errlen, ENEVO_EFORMAT, "%s: empty file", path);
    if (!rc)
        rc = enevo__npz_mem(m.p, m.len, path, o, out, err, errlen);
    enevo__unmap(&m);
    return rc;
}

int enevo__npy_set_mem(const unsigned char *x, size_t xlen, const char *xname,
                       const unsigned char *y, size_t ylen, const char *yname, int layout,
                       bool u8, struct enevo_dataset *d, char *err, size_t errlen)
{
    struct npy a, b;
    int rc = npy_parse(x, xlen, xname, &a, err, errlen);
    if (!rc)
        rc = npy_parse(y, ylen, yname, &b, err, errlen);
    if (!rc)
        rc = npy_to_set(&a, &b, xname, yname, layout, u8, d, err, errlen);
    return rc;
}

int enevo__npy_dir_load(const char *dir, const struct enevo_data_opts *o, struct enevo_data *out,
                        char *err, size_t errlen)
{
    struct enevo__map m[4] = {0};
    char names[4][NPY_PATH];
    int rc = 0;
    for (int i = 0; i < 4 && !rc; i++) {
        if (snprintf(names[i], sizeof names[i], "%s/%s.npy", dir, o->keys[i]) >=
            (int)sizeof names[i])
            rc = enevo_errf(err, errlen, ENEVO_EINVAL, "%s: path too long", dir);
        if (!rc)
            rc = enevo__map_file(names[i], &m[i], err, errlen);
        if (!rc && !m[i].len)
            rc = enevo_errf(err, errlen, ENEVO_EFORMAT, "%s: empty file", names[i]);
    }
    if (!rc)
        rc = enevo__npy_set_mem(m[0].p, m[0].len, names[0], m[1].p, m[1].len, names[1], o->layout,
                                o->u8, &out->train, err, errlen);
    if (!rc)
        rc = enevo__npy_set_mem(m[2].p, m[2].len, names[2], m[3].p, m[3].len, names[3], o->layout,
                                false, &out->test, err, errlen);
    for (int i = 0; i < 4; i++)
        enevo__unmap(&m[i]);
    return rc;
}
