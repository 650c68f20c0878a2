/* Readers beyond IDX, on files the tests write: CIFAR-10/100 binary,
 * NumPy .npy/.npz (stored, deflated, and numpy's own when python3-numpy is
 * installed), image folders (PNG and JPEG); every bad file the readers must
 * name; per-channel normalisation and its place in the model file. */
#include "tests.h"

/* Paths in fixed buffers: a cut path fails the test on its own. */
#pragma GCC diagnostic ignored "-Wformat-truncation"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <jpeglib.h> /* after stdio.h, which it needs */
#include <png.h>

#include "enevo/data.h"
#include "enevo/model.h"
#include "enevo/net.h"
#include "enevo/optim.h"
#include "enevo/phenotype.h"
#include "enevo/rng.h"
#include "enevo/train.h"

static void path_of(char *buf, size_t len, const char *name)
{
    snprintf(buf, len, "%s/%s", enevo_test_tmpdir(), name);
}

static void mkdirs(const char *p)
{
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", p, p);
    assert_int_equal(system(cmd), 0);
}

static void spit(const char *path, const void *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

/* The raw CIFAR pixel of image i (its global index), channel ch, pixel p. */
static uint8_t cifar_px(int i, int ch, int p) { return (uint8_t)((i * 7 + ch * 50 + p) % 256); }

/* Records [first, first + n) of a CIFAR file; label_bytes 1 or 2. */
static void write_cifar(const char *path, int first, int n, int label_bytes,
                        int (*label)(int i, int which))
{
    size_t rec = (size_t)label_bytes + 3072;
    unsigned char *b = malloc(rec * (size_t)n);
    assert_non_null(b);
    for (int i = 0; i < n; i++) {
        unsigned char *r = b + rec * (size_t)i;
        for (int k = 0; k < label_bytes; k++)
            r[k] = (unsigned char)label(first + i, k);
        for (int ch = 0; ch < 3; ch++)
            for (int p = 0; p < 1024; p++)
                r[label_bytes + ch * 1024 + p] = cifar_px(first + i, ch, p);
    }
    spit(path, b, rec * (size_t)n);
    free(b);
}

static int label10(int i, int which) { return (void)which, i % 10; }
static int label100(int i, int which) { return which == 0 ? i % 20 : (i * 3) % 100; }

/* Pixel values come back as ((raw / 255) - mean_c) / std_c, with the
 * channel statistics of the training images. */
static void check_normalised(const struct enevo_data *d, const struct enevo_dataset *s, int first,
                             uint8_t (*px)(int, int, int))
{
    for (int i = 0; i < s->n; i += 3)
        for (int ch = 0; ch < 3; ch++)
            for (int p = 0; p < 1024; p += 97) {
                float raw = px(first + i, ch, p) / 255.0f;
                float want = (raw - d->ch_mean[ch]) / d->ch_std[ch];
                assert_true(fabsf(s->x[((size_t)i * 3 + (size_t)ch) * 1024 + (size_t)p] - want) <
                            1e-4f);
            }
}

static void channel_stats(int n, int first, int ch, double *mean, double *sd)
{
    double s = 0, s2 = 0;
    for (int i = 0; i < n; i++)
        for (int p = 0; p < 1024; p++) {
            double v = cifar_px(first + i, ch, p) / 255.0;
            s += v;
            s2 += v * v;
        }
    *mean = s / (n * 1024.0);
    *sd = sqrt(s2 / (n * 1024.0) - *mean * *mean);
}

static void cifar10_reads_values_and_labels(void **state)
{
    (void)state;
    char dir[1024], p[1100], err[ENEVO_ERR_LEN];
    path_of(dir, sizeof dir, "cifar10");
    mkdirs(dir);
    snprintf(p, sizeof p, "%s/data_batch_1.bin", dir);
    write_cifar(p, 0, 5, 1, label10);
    snprintf(p, sizeof p, "%s/data_batch_2.bin", dir);
    write_cifar(p, 5, 7, 1, label10);
    snprintf(p, sizeof p, "%s/test_batch.bin", dir);
    write_cifar(p, 100, 4, 1, label10);
    struct enevo_data d;
    /* Detected from data_batch_1.bin; batch 2 follows batch 1. */
    assert_int_equal(enevo_data_open(dir, NULL, &d, err, sizeof err), 0);
    assert_int_equal(d.train.n, 12);
    assert_int_equal(d.test.n, 4);
    assert_int_equal(d.train.c, 3);
    assert_int_equal(d.train.h, 32);
    assert_int_equal(d.train.n_classes, 10);
    for (int i = 0; i < 12; i++)
        assert_int_equal(d.train.y[i], i % 10);
    for (int i = 0; i < 4; i++)
        assert_int_equal(d.test.y[i], (100 + i) % 10);
    for (int ch = 0; ch < 3; ch++) {
        double m, sd;
        channel_stats(12, 0, ch, &m, &sd);
        assert_true(fabs(d.ch_mean[ch] - m) < 1e-6);
        assert_true(fabs(d.ch_std[ch] - sd) < 1e-6);
    }
    check_normalised(&d, &d.train, 0, cifar_px);
    check_normalised(&d, &d.test, 100, cifar_px);
    enevo_data_free(&d);

    /* Named explicitly, resized on load. */
    struct enevo_data_opts o = enevo_data_opts_default();
    o.resize = 16;
    char spec[1100];
    snprintf(spec, sizeof spec, "cifar10:%s", dir);
    assert_int_equal(enevo_data_open(spec, &o, &d, err, sizeof err), 0);
    assert_int_equal(d.train.h, 16);
    assert_int_equal(d.test.w, 16);
    enevo_data_free(&d);
}

static void cifar100_fine_and_coarse(void **state)
{
    (void)state;
    char dir[1024], p[1100], err[ENEVO_ERR_LEN];
    path_of(dir, sizeof dir, "cifar100");
    mkdirs(dir);
    snprintf(p, sizeof p, "%s/train.bin", dir);
    write_cifar(p, 0, 9, 2, label100);
    snprintf(p, sizeof p, "%s/test.bin", dir);
    write_cifar(p, 50, 3, 2, label100);
    struct enevo_data d;
    assert_int_equal(enevo_data_open(dir, NULL, &d, err, sizeof err), 0);
    assert_int_equal(d.train.n, 9);
    assert_int_equal(d.train.n_classes, 100);
    for (int i = 0; i < 9; i++)
        assert_int_equal(d.train.y[i], (i * 3) % 100);
    check_normalised(&d, &d.train, 0, cifar_px);
    enevo_data_free(&d);
    struct enevo_data_opts o = enevo_data_opts_default();
    o.coarse = true;
    char spec[1100];
    snprintf(spec, sizeof spec, "cifar100:%s", dir);
    assert_int_equal(enevo_data_open(spec, &o, &d, err, sizeof err), 0);
    assert_int_equal(d.train.n_classes, 20);
    for (int i = 0; i < 9; i++)
        assert_int_equal(d.train.y[i], i % 20);
    for (int i = 0; i < 3; i++)
        assert_int_equal(d.test.y[i], (50 + i) % 20);
    enevo_data_free(&d);
    /* The same through the spec's option. */
    snprintf(spec, sizeof spec, "cifar100:%s,labels=coarse", dir);
    assert_int_equal(enevo_data_open(spec, NULL, &d, err, sizeof err), 0);
    assert_int_equal(d.train.y[7], 7);
    enevo_data_free(&d);
}

static int bad_label10(int i, int which) { return (void)which, i == 3 ? 10 : 1; }
static int bad_label100(int i, int which) { return which == 0 ? 1 : (i == 2 ? 100 : 5); }

static void cifar_bad_files_are_named(void **state)
{
    (void)state;
    char dir[1024], p[1100], err[ENEVO_ERR_LEN];
    struct enevo_data d;
    path_of(dir, sizeof dir, "cifar_bad");
    mkdirs(dir);
    snprintf(p, sizeof p, "%s/test_batch.bin", dir);
    write_cifar(p, 0, 2, 1, label10);
    /* A truncated last record. */
    snprintf(p, sizeof p, "%s/data_batch_1.bin", dir);
    write_cifar(p, 0, 3, 1, label10);
    assert_int_equal(truncate(p, 3 * 3073 - 100), 0);
    assert_int_equal(enevo_data_open(dir, NULL, &d, err, sizeof err), ENEVO_EFORMAT);
    assert_non_null(strstr(err, p));
    assert_non_null(strstr(err, "truncated record"));
    assert_null(d.train.x);
    /* An empty file. */
    assert_int_equal(truncate(p, 0), 0);
    assert_int_equal(enevo_data_open(dir, NULL, &d, err, sizeof err), ENEVO_EFORMAT);
    assert_non_null(strstr(err, "empty"));
    /* A label out of range: record 3 says class 10 of 10. */
    write_cifar(p, 0, 5, 1, bad_label10);
    assert_int_equal(enevo_data_open(dir, NULL, &d, err, sizeof err), ENEVO_EFORMAT);
    assert_non_null(strstr(err, p));
    assert_non_null(strstr(err, "record 3: label 10 out of range"));
    /* CIFAR-100's fine label 100. */
    snprintf(p, sizeof p, "%s/train.bin", dir);
    write_cifar(p, 0, 4, 2, bad_label100);
    char spec[1100];
    snprintf(spec, sizeof spec, "cifar100:%s", dir);
    assert_int_equal(enevo_data_open(spec, NULL, &d, err, sizeof err), ENEVO_EFORMAT);
    assert_non_null(strstr(err, "label 100 out of range (expected 0..99)"));
    /* A missing test file. */
    write_cifar(p, 0, 4, 2, label100);
    snprintf(p, sizeof p, "%s/test.bin", dir);
    unlink(p);
    assert_int_equal(enevo_data_open(spec, NULL, &d, err, sizeof err), ENEVO_EIO);
    assert_non_null(strstr(err, "test.bin"));
    /* Nothing recognisable. */
    path_of(dir, sizeof dir, "nothing_here");
    mkdirs(dir);
    assert_int_equal(enevo_data_open(dir, NULL, &d, err, sizeof err), ENEVO_EFORMAT);
    assert_non_null(strstr(err, "no known dataset"));
}

/* ---- NumPy ---- */

/* An .npy in memory: header for descr and shape, then len data bytes. */
static unsigned char *npy_bytes(const char *descr, const char *shape, const void *data,
                                size_t len, size_t *out_len)
{
    char h[256];
    int n = snprintf(h, sizeof h, "{'descr': '%s', 'fortran_order': False, 'shape': %s, }", descr,
                     shape);
    size_t total_h = 10 + (size_t)n + 1;
    size_t pad = (64 - total_h % 64) % 64;
    size_t hl = (size_t)n + pad + 1;
    unsigned char *b = malloc(10 + hl + len + 1);
    assert_non_null(b);
    memcpy(b, "\x93NUMPY\x01\x00", 8);
    b[8] = (unsigned char)(hl & 0xff);
    b[9] = (unsigned char)(hl >> 8);
    memcpy(b + 10, h, (size_t)n);
    memset(b + 10 + n, ' ', pad);
    b[10 + hl - 1] = '\n';
    if (len)
        memcpy(b + 10 + hl, data, len);
    *out_len = 10 + hl + len;
    return b;
}

static void put16(unsigned char *b, unsigned v) { b[0] = (unsigned char)v, b[1] = (unsigned char)(v >> 8); }
static void put32(unsigned char *b, uint32_t v) { put16(b, v & 0xffff), put16(b + 2, v >> 16); }

/* A zip of named members, each stored (deflate 0) or deflated (1). */
struct member {
    const char *name;
    const unsigned char *data;
    size_t len;
    int deflate;
};

static void write_zip(const char *path, const struct member *m, int n)
{
    size_t cap = 1024;
    for (int i = 0; i < n; i++)
        cap += 2 * m[i].len + 256;
    unsigned char *z = malloc(cap), *cd = malloc(4096);
    assert_non_null(z);
    size_t at = 0, cdl = 0;
    for (int i = 0; i < n; i++) {
        uint32_t crc = (uint32_t)crc32(0, m[i].data, (uInt)m[i].len);
        unsigned char *comp = (unsigned char *)m[i].data;
        size_t clen = m[i].len;
        if (m[i].deflate) {
            comp = malloc(m[i].len + 1024);
            z_stream s = {0};
            assert_int_equal(deflateInit2(&s, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY), Z_OK);
            s.next_in = (unsigned char *)m[i].data;
            s.avail_in = (uInt)m[i].len;
            s.next_out = comp;
            s.avail_out = (uInt)(m[i].len + 1024);
            assert_int_equal(deflate(&s, Z_FINISH), Z_STREAM_END);
            clen = s.total_out;
            deflateEnd(&s);
        }
        size_t nl = strlen(m[i].name);
        unsigned char *l = z + at;
        put32(l, 0x04034b50);
        put16(l + 4, 20);
        put16(l + 6, 0);
        put16(l + 8, m[i].deflate ? 8 : 0);
        put32(l + 10, 0);
        put32(l + 14, crc);
        put32(l + 18, (uint32_t)clen);
        put32(l + 22, (uint32_t)m[i].len);
        put16(l + 26, (unsigned)nl);
        put16(l + 28, 0);
        memcpy(l + 30, m[i].name, nl);
        memcpy(l + 30 + nl, comp, clen);
        unsigned char *c = cd + cdl;
        memset(c, 0, 46);
        put32(c, 0x02014b50);
        put16(c + 10, m[i].deflate ? 8 : 0);
        put32(c + 16, crc);
        put32(c + 20, (uint32_t)clen);
        put32(c + 24, (uint32_t)m[i].len);
        put16(c + 28, (unsigned)nl);
        put32(c + 42, (uint32_t)at);
        memcpy(c + 46, m[i].name, nl);
        cdl += 46 + nl;
        at += 30 + nl + clen;
        if (m[i].deflate)
            free(comp);
    }
    memcpy(z + at, cd, cdl);
    unsigned char *e = z + at + cdl;
    memset(e, 0, 22);
    put32(e, 0x06054b50);
    put16(e + 8, (unsigned)n);
    put16(e + 10, (unsigned)n);
    put32(e + 12, (uint32_t)cdl);
    put32(e + 16, (uint32_t)at);
    spit(path, z, at + cdl + 22);
    free(z);
    free(cd);
}

/* Images NHWC uint8, pixel (i, y, x, c) = (11 i + 5 y + 3 x + 40 c) % 256. */
static uint8_t nhwc_px(int i, int y, int x, int c) { return (uint8_t)((11 * i + 5 * y + 3 * x + 40 * c) % 256); }

static void write_npz_set(const char *path, int ntr, int nte, int h, int w, int deflate,
                          int test_h, const char *ydescr, const int64_t *ylabels)
{
    struct member m[4];
    unsigned char *bufs[4];
    size_t lens[4];
    for (int s = 0; s < 2; s++) {
        int n = s ? nte : ntr, hh = s ? test_h : h;
        uint8_t *x = malloc((size_t)n * (size_t)hh * (size_t)w * 3 + 1);
        for (int i = 0; i < n; i++)
            for (int y = 0; y < hh; y++)
                for (int xx = 0; xx < w; xx++)
                    for (int c = 0; c < 3; c++)
                        x[(((size_t)i * (size_t)hh + (size_t)y) * (size_t)w + (size_t)xx) * 3 +
                          (size_t)c] = nhwc_px(i + 1000 * s, y, xx, c);
        char shape[64];
        snprintf(shape, sizeof shape, "(%d, %d, %d, 3)", n, hh, w);
        bufs[2 * s] = npy_bytes("|u1", shape, x, (size_t)n * (size_t)hh * (size_t)w * 3,
                                &lens[2 * s]);
        free(x);
        int64_t *y = malloc(sizeof *y * (size_t)n + 8);
        for (int i = 0; i < n; i++)
            y[i] = ylabels ? ylabels[i] : (i + s) % 4;
        snprintf(shape, sizeof shape, "(%d,)", n);
        bufs[2 * s + 1] = npy_bytes(ydescr, shape, y, 8 * (size_t)n, &lens[2 * s + 1]);
        free(y);
    }
    static const char *const names[4] = {"x_train.npy", "y_train.npy", "x_test.npy", "y_test.npy"};
    for (int i = 0; i < 4; i++)
        m[i] = (struct member){names[i], bufs[i], lens[i], deflate};
    write_zip(path, m, 4);
    for (int i = 0; i < 4; i++)
        free(bufs[i]);
}

static void check_nhwc(const struct enevo_data *d, const struct enevo_dataset *s, int off, int h,
                       int w)
{
    for (int i = 0; i < s->n; i++)
        for (int c = 0; c < 3; c++)
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++) {
                    float raw = nhwc_px(i + off, y, x, c) / 255.0f;
                    float got = s->x[(((size_t)i * 3 + (size_t)c) * (size_t)h + (size_t)y) *
                                         (size_t)w + (size_t)x];
                    assert_true(fabsf(got - (raw - d->ch_mean[c]) / d->ch_std[c]) < 1e-4f);
                }
}

static void npz_stored_and_deflated(void **state)
{
    (void)state;
    char p[1024], err[ENEVO_ERR_LEN];
    for (int deflate = 0; deflate < 2; deflate++) {
        path_of(p, sizeof p, deflate ? "set_z.npz" : "set.npz");
        write_npz_set(p, 10, 6, 5, 7, deflate, 5, "<i8", NULL);
        struct enevo_data d;
        if (enevo_data_open(p, NULL, &d, err, sizeof err))
            fail_msg("%s", err);
        assert_int_equal(d.train.n, 10);
        assert_int_equal(d.test.n, 6);
        assert_int_equal(d.train.c, 3);
        assert_int_equal(d.train.h, 5);
        assert_int_equal(d.train.w, 7);
        assert_int_equal(d.train.n_classes, 4);
        for (int i = 0; i < 10; i++)
            assert_int_equal(d.train.y[i], i % 4);
        for (int i = 0; i < 6; i++)
            assert_int_equal(d.test.y[i], (i + 1) % 4);
        check_nhwc(&d, &d.train, 0, 5, 7);
        check_nhwc(&d, &d.test, 1000, 5, 7);
        enevo_data_free(&d);
    }
}

static void npz_float_nchw_and_named_arrays(void **state)
{
    (void)state;
    /* float32 (N, C, H, W) with C = 3 and W = 6: the channel axis is found. */
    enum { N = 4, C = 3, H = 2, W = 6 };
    float x[N * C * H * W];
    for (int i = 0; i < N * C * H * W; i++)
        x[i] = (float)(i % 17) * 0.25f - 1.0f;
    uint8_t y[N] = {2, 0, 1, 2};
    size_t lx, ly;
    unsigned char *bx = npy_bytes("<f4", "(4, 3, 2, 6)", x, sizeof x, &lx);
    unsigned char *by = npy_bytes("|u1", "(4,)", y, sizeof y, &ly);
    struct member m[4] = {{"images.npy", bx, lx, 0}, {"labels.npy", by, ly, 0},
                          {"timg.npy", bx, lx, 1}, {"tlab.npy", by, ly, 1}};
    char p[1024], spec[1200], err[ENEVO_ERR_LEN];
    path_of(p, sizeof p, "named.npz");
    write_zip(p, m, 4);
    struct enevo_data d;
    /* Default names are missing: the message says how to name them. */
    assert_int_equal(enevo_data_open(p, NULL, &d, err, sizeof err), ENEVO_EFORMAT);
    assert_non_null(strstr(err, "no array 'x_train'"));
    snprintf(spec, sizeof spec, "npz:%s,x_train=images,y_train=labels,x_test=timg,y_test=tlab", p);
    if (enevo_data_open(spec, NULL, &d, err, sizeof err))
        fail_msg("%s", err);
    assert_int_equal(d.train.c, 3);
    assert_int_equal(d.train.h, 2);
    assert_int_equal(d.train.w, 6);
    assert_int_equal(d.train.y[0], 2);
    assert_int_equal(d.test.y[3], 2);
    assert_int_equal(d.train.n_classes, 3);
    for (int i = 0; i < N * C * H * W; i++) {
        int ch = (i / (H * W)) % C;
        assert_true(fabsf(d.train.x[i] - (x[i] - d.ch_mean[ch]) / d.ch_std[ch]) < 1e-5f);
    }
    enevo_data_free(&d);
    /* layout=nhwc overrides: now the last axis (6) is the channel axis. */
    snprintf(spec, sizeof spec,
             "npz:%s,x_train=images,y_train=labels,x_test=timg,y_test=tlab,layout=nhwc", p);
    if (enevo_data_open(spec, NULL, &d, err, sizeof err))
        fail_msg("%s", err);
    assert_int_equal(d.train.c, 6);
    assert_int_equal(d.train.h, 3);
    assert_int_equal(d.train.w, 2);
    enevo_data_free(&d);
    free(bx);
    free(by);
}

static void npy_directory(void **state)
{
    (void)state;
    char dir[1024], p[1100], err[ENEVO_ERR_LEN];
    path_of(dir, sizeof dir, "npydir");
    mkdirs(dir);
    /* (N, H, W) grey uint8 with int16 labels. */
    uint8_t x[6 * 4 * 4];
    for (int i = 0; i < 96; i++)
        x[i] = (uint8_t)(i * 13 % 251);
    int16_t y[6] = {0, 1, 2, 1, 0, 2};
    size_t l;
    unsigned char *b;
    const char *names[4] = {"x_train", "y_train", "x_test", "y_test"};
    for (int k = 0; k < 4; k++) {
        b = k % 2 ? npy_bytes("<i2", "(6,)", y, sizeof y, &l)
                  : npy_bytes("|u1", "(6, 4, 4)", x, sizeof x, &l);
        snprintf(p, sizeof p, "%s/%s.npy", dir, names[k]);
        spit(p, b, l);
        free(b);
    }
    struct enevo_data d;
    if (enevo_data_open(dir, NULL, &d, err, sizeof err))
        fail_msg("%s", err);
    assert_int_equal(d.train.c, 1);
    assert_int_equal(d.train.h, 4);
    assert_int_equal(d.train.n_classes, 3);
    for (int i = 0; i < 6; i++)
        assert_int_equal(d.train.y[i], y[i]);
    /* One channel: the scalar statistics are the channel's. */
    assert_true(d.mean == d.ch_mean[0] && d.std == d.ch_std[0]);
    for (int i = 0; i < 96; i++)
        assert_true(fabsf(d.train.x[i] - (x[i] / 255.0f - d.mean) / d.std) < 1e-5f);
    enevo_data_free(&d);
}

static void expect_npy_error(const char *name, const unsigned char *b, size_t l, const char *want)
{
    char dir[1024], p[1100], err[ENEVO_ERR_LEN];
    path_of(dir, sizeof dir, "npybad");
    mkdirs(dir);
    uint8_t x[2 * 3 * 3] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18};
    uint8_t y[2] = {0, 1};
    size_t lx, ly;
    unsigned char *bx = npy_bytes("|u1", "(2, 3, 3)", x, sizeof x, &lx);
    unsigned char *by = npy_bytes("|u1", "(2,)", y, sizeof y, &ly);
    const char *names[4] = {"x_train", "y_train", "x_test", "y_test"};
    for (int k = 0; k < 4; k++) {
        snprintf(p, sizeof p, "%s/%s.npy", dir, names[k]);
        if (!strcmp(names[k], name))
            spit(p, b, l);
        else
            spit(p, k % 2 ? by : bx, k % 2 ? ly : lx);
    }
    free(bx);
    free(by);
    struct enevo_data d;
    int rc = enevo_data_open(dir, NULL, &d, err, sizeof err);
    if (rc == 0)
        fail_msg("%s: loaded, expected an error with '%s'", name, want);
    snprintf(p, sizeof p, "%s.npy", name);
    if (!strstr(err, p) || !strstr(err, want))
        fail_msg("error '%s' should name %s and say '%s'", err, p, want);
    assert_null(d.train.x);
}

static void npy_bad_files_are_named(void **state)
{
    (void)state;
    size_t l;
    uint8_t x[2 * 3 * 3] = {0};
    unsigned char *b = npy_bytes("<c8", "(2, 3, 3)", x, 18 * 1, &l);
    expect_npy_error("x_train", b, l, "unsupported dtype '<c8'");
    free(b);
    b = npy_bytes(">f4", "(2, 3, 3)", x, 18, &l);
    expect_npy_error("x_test", b, l, "unsupported dtype");
    free(b);
    /* A header claiming a billion images over 18 bytes: refused before
     * any allocation. */
    b = npy_bytes("|u1", "(1000000000, 3, 3)", x, 18, &l);
    expect_npy_error("x_train", b, l, "header says 9000000000 elements");
    free(b);
    /* Fewer bytes than the shape. */
    b = npy_bytes("|u1", "(2, 3, 3)", x, 17, &l);
    expect_npy_error("x_train", b, l, "but 17 bytes of data follow");
    free(b);
    /* Truncated inside the header. */
    b = npy_bytes("|u1", "(2, 3, 3)", x, 18, &l);
    expect_npy_error("x_train", b, 40, "header of");
    memcpy(b, "\x93NUMPZ", 6);
    expect_npy_error("x_train", b, l, "bad magic");
    free(b);
    /* Labels: out of range, negative, float, wrong count. */
    int32_t y32[2] = {0, 300};
    b = npy_bytes("<i4", "(2,)", y32, 8, &l);
    expect_npy_error("y_train", b, l, "label 300 of image 1 out of range");
    free(b);
    y32[1] = -1;
    b = npy_bytes("<i4", "(2,)", y32, 8, &l);
    expect_npy_error("y_test", b, l, "label -1 of image 1 out of range");
    free(b);
    float yf[2] = {0, 1};
    b = npy_bytes("<f4", "(2,)", yf, 8, &l);
    expect_npy_error("y_train", b, l, "expected 2 integers");
    free(b);
    uint8_t y3[3] = {0, 1, 1};
    b = npy_bytes("|u1", "(3,)", y3, 3, &l);
    expect_npy_error("y_train", b, l, "expected 2 integers");
    free(b);
}

static void npz_bad_archives(void **state)
{
    (void)state;
    char p[1024], err[ENEVO_ERR_LEN];
    struct enevo_data d;
    /* Test images 6 rows high, training images 5: a clear shape error. */
    path_of(p, sizeof p, "shapes.npz");
    write_npz_set(p, 4, 2, 5, 5, 0, 6, "<i8", NULL);
    assert_int_equal(enevo_data_open(p, NULL, &d, err, sizeof err), ENEVO_EFORMAT);
    assert_non_null(strstr(err, "test images are 3x6x5"));
    assert_non_null(strstr(err, "training images are 3x5x5"));
    /* Cut in the middle: the directory is gone. */
    path_of(p, sizeof p, "cut.npz");
    write_npz_set(p, 4, 2, 5, 5, 0, 5, "<i8", NULL);
    struct stat st;
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(truncate(p, st.st_size / 2), 0);
    assert_int_equal(enevo_data_open(p, NULL, &d, err, sizeof err), ENEVO_EFORMAT);
    assert_non_null(strstr(err, p));
    /* A flipped data byte: the CRC says so. */
    path_of(p, sizeof p, "flip.npz");
    write_npz_set(p, 4, 2, 5, 5, 0, 5, "<i8", NULL);
    FILE *f = fopen(p, "r+b");
    fseek(f, 200, SEEK_SET);
    int c = fgetc(f);
    fseek(f, 200, SEEK_SET);
    fputc(c ^ 0x5a, f);
    fclose(f);
    int rc = enevo_data_open(p, NULL, &d, err, sizeof err);
    assert_true(rc == ENEVO_ECORRUPT || rc == ENEVO_EFORMAT);
    assert_non_null(strstr(err, p));
    /* Not a zip at all. */
    path_of(p, sizeof p, "text.npz");
    spit(p, "hello, world", 12);
    assert_int_equal(enevo_data_open(p, NULL, &d, err, sizeof err), ENEVO_EFORMAT);
    assert_non_null(strstr(err, "not an .npz"));
}

/* numpy's own writer (zip64 extras, its header padding), when installed. */
static void npz_written_by_numpy(void **state)
{
    (void)state;
    /* Debian's python3-numpy lives with /usr/bin/python3 (a python3 found
     * first on PATH may lack it). */
    const char *py = "/usr/bin/python3";
    if (system("/usr/bin/python3 -c 'import numpy' >/dev/null 2>&1")) {
        py = "python3";
        if (system("python3 -c 'import numpy' >/dev/null 2>&1")) {
            print_message("python3-numpy not installed: numpy's own .npz not checked\n");
            skip();
        }
    }
    char p[1024], pc[1024], cmd[4096], err[ENEVO_ERR_LEN];
    path_of(p, sizeof p, "numpy.npz");
    path_of(pc, sizeof pc, "numpy_c.npz");
    snprintf(cmd, sizeof cmd,
             "%s -c \"import numpy as np\n"
             "x = (np.arange(20*8*8*3) %% 251).astype(np.uint8).reshape(20, 8, 8, 3)\n"
             "y = (np.arange(20) %% 5).astype(np.int64)\n"
             "np.savez('%s', x_train=x, y_train=y, x_test=x[:7], y_test=y[:7])\n"
             "np.savez_compressed('%s', x_train=x.astype(np.float32) / 255, y_train=y.astype(np.uint8),"
             " x_test=x[:7].astype(np.float32) / 255, y_test=y[:7].astype(np.int32))\"",
             py, p, pc);
    assert_int_equal(system(cmd), 0);
    struct enevo_data a, b;
    if (enevo_data_open(p, NULL, &a, err, sizeof err) || enevo_data_open(pc, NULL, &b, err, sizeof err))
        fail_msg("%s", err);
    assert_int_equal(a.train.n, 20);
    assert_int_equal(a.test.n, 7);
    assert_int_equal(a.train.c, 3);
    assert_int_equal(a.train.h, 8);
    assert_int_equal(a.train.n_classes, 5);
    for (int i = 0; i < 20; i++)
        assert_int_equal(a.train.y[i], i % 5);
    /* uint8 / 255 and float32 / 255 normalise to the same images. */
    for (size_t i = 0; i < 20 * 192; i++)
        assert_true(fabsf(a.train.x[i] - b.train.x[i]) < 1e-4f);
    /* Pixel (i, y, x, c) of NHWC is element ((i*8 + y)*8 + x)*3 + c. */
    int i = 3, yy = 5, xx = 2, c = 1;
    float raw = (float)((((i * 8 + yy) * 8 + xx) * 3 + c) % 251) / 255.0f;
    float got = a.train.x[(((size_t)i * 3 + (size_t)c) * 8 + (size_t)yy) * 8 + (size_t)xx];
    assert_true(fabsf(got - (raw - a.ch_mean[c]) / a.ch_std[c]) < 1e-4f);
    enevo_data_free(&a);
    enevo_data_free(&b);
}

/* ---- image folders ---- */

static void write_png(const char *path, int c, int h, int w, int seed)
{
    png_image im;
    memset(&im, 0, sizeof im);
    im.version = PNG_IMAGE_VERSION;
    im.width = (png_uint_32)w;
    im.height = (png_uint_32)h;
    im.format = c == 3 ? PNG_FORMAT_RGB : PNG_FORMAT_GRAY;
    unsigned char *b = malloc((size_t)(c * h * w));
    for (int i = 0; i < c * h * w; i++)
        b[i] = (unsigned char)((i * 7 + seed * 31) % 256);
    assert_true(png_image_write_to_file(&im, path, 0, b, 0, NULL));
    free(b);
}

static void write_jpeg(const char *path, int h, int w, unsigned char value)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    struct jpeg_compress_struct ci;
    struct jpeg_error_mgr jerr;
    ci.err = jpeg_std_error(&jerr);
    jpeg_create_compress(&ci);
    jpeg_stdio_dest(&ci, f);
    ci.image_width = (JDIMENSION)w;
    ci.image_height = (JDIMENSION)h;
    ci.input_components = 3;
    ci.in_color_space = JCS_RGB;
    jpeg_set_defaults(&ci);
    jpeg_set_quality(&ci, 95, TRUE);
    jpeg_start_compress(&ci, TRUE);
    unsigned char *row = malloc((size_t)w * 3);
    memset(row, value, (size_t)w * 3);
    while (ci.next_scanline < ci.image_height)
        jpeg_write_scanlines(&ci, &row, 1);
    jpeg_finish_compress(&ci);
    jpeg_destroy_compress(&ci);
    fclose(f);
    free(row);
}

static void make_folder(const char *root)
{
    char p[1200];
    mkdirs(root);
    const char *classes[3] = {"dog", "ant", "cat"}; /* sorted: ant 0, cat 1, dog 2 */
    for (int s = 0; s < 2; s++)
        for (int k = 0; k < 3; k++) {
            snprintf(p, sizeof p, "%s/%s/%s", root, s ? "test" : "train", classes[k]);
            mkdirs(p);
            for (int i = 0; i < (s ? 1 : 2); i++) {
                snprintf(p, sizeof p, "%s/%s/%s/img%d.png", root, s ? "test" : "train",
                         classes[k], i);
                write_png(p, 3, 6, 5, 10 * k + i + 100 * s);
            }
        }
    snprintf(p, sizeof p, "%s/train/cat/notes.txt", root); /* not an image: skipped */
    spit(p, "x", 1);
}

static void folder_reads_png_and_jpeg(void **state)
{
    (void)state;
    char root[1024], p[1200], err[ENEVO_ERR_LEN];
    path_of(root, sizeof root, "folder");
    make_folder(root);
    struct enevo_data d;
    if (enevo_data_open(root, NULL, &d, err, sizeof err))
        fail_msg("%s", err);
    assert_int_equal(d.train.n, 6);
    assert_int_equal(d.test.n, 3);
    assert_int_equal(d.train.c, 3);
    assert_int_equal(d.train.h, 6);
    assert_int_equal(d.train.w, 5);
    assert_int_equal(d.n_class_names, 3);
    assert_string_equal(d.class_names[0], "ant");
    assert_string_equal(d.class_names[1], "cat");
    assert_string_equal(d.class_names[2], "dog");
    /* Sorted classes, then sorted files: ant/img0, ant/img1, cat/img0, ... */
    const int labels[6] = {0, 0, 1, 1, 2, 2};
    const int seeds[6] = {10, 11, 20, 21, 0, 1}; /* dog was written first (k = 0) */
    for (int i = 0; i < 6; i++) {
        assert_int_equal(d.train.y[i], labels[i]);
        /* PNG is lossless: every pixel back exactly (HWC -> CHW). */
        for (int y = 0; y < 6; y++)
            for (int x = 0; x < 5; x++)
                for (int c = 0; c < 3; c++) {
                    int k = (y * 5 + x) * 3 + c;
                    float raw = (float)((k * 7 + seeds[i] * 31) % 256) / 255.0f;
                    float got = d.train.x[(((size_t)i * 3 + (size_t)c) * 6 + (size_t)y) * 5 +
                                          (size_t)x];
                    assert_true(fabsf(got - (raw - d.ch_mean[c]) / d.ch_std[c]) < 1e-4f);
                }
    }
    enevo_data_free(&d);

    /* A JPEG of another size: refused without a resize, naming both files. */
    snprintf(p, sizeof p, "%s/train/cat/big.jpg", root);
    write_jpeg(p, 12, 12, 200);
    assert_int_equal(enevo_data_open(root, NULL, &d, err, sizeof err), ENEVO_EFORMAT);
    assert_non_null(strstr(err, "big.jpg is 12x12"));
    assert_non_null(strstr(err, "need --resize"));
    /* With --resize every image is 8x8; the JPEG's flat colour survives. */
    struct enevo_data_opts o = enevo_data_opts_default();
    o.resize = 8;
    char spec[1200];
    snprintf(spec, sizeof spec, "folder:%s", root);
    if (enevo_data_open(spec, &o, &d, err, sizeof err))
        fail_msg("%s", err);
    assert_int_equal(d.train.n, 7);
    assert_int_equal(d.train.h, 8);
    int big = 2; /* ant/img0, ant/img1, then cat/big.jpg (before cat/img0.png) */
    assert_int_equal(d.train.y[big], 1);
    for (int c = 0; c < 3; c++) {
        float raw = 200 / 255.0f;
        float got = d.train.x[((size_t)big * 3 + (size_t)c) * 64 + 27];
        assert_true(fabsf(got * d.ch_std[c] + d.ch_mean[c] - raw) < 3 / 255.0f);
    }
    enevo_data_free(&d);
    unlink(p);
}

static void folder_bad_files_are_named(void **state)
{
    (void)state;
    char root[1024], p[1200], err[ENEVO_ERR_LEN];
    struct enevo_data d;
    path_of(root, sizeof root, "folder_bad");
    make_folder(root);
    /* A corrupt PNG: the file is named. */
    snprintf(p, sizeof p, "%s/train/ant/img1.png", root);
    assert_int_equal(truncate(p, 40), 0);
    assert_int_equal(enevo_data_open(root, NULL, &d, err, sizeof err), ENEVO_EFORMAT);
    assert_non_null(strstr(err, p));
    assert_non_null(strstr(err, "PNG"));
    write_png(p, 3, 6, 5, 11);
    /* Not an image at all, under an image's name. */
    snprintf(p, sizeof p, "%s/train/ant/fake.jpg", root);
    spit(p, "GIF89a....", 10);
    assert_int_equal(enevo_data_open(root, NULL, &d, err, sizeof err), ENEVO_EFORMAT);
    assert_non_null(strstr(err, "fake.jpg"));
    unlink(p);
    /* A corrupt JPEG. */
    snprintf(p, sizeof p, "%s/train/ant/cut.jpg", root);
    write_jpeg(p, 6, 5, 90);
    assert_int_equal(truncate(p, 200), 0);
    assert_int_equal(enevo_data_open(root, NULL, &d, err, sizeof err), ENEVO_EFORMAT);
    assert_non_null(strstr(err, "cut.jpg"));
    unlink(p);
    /* An empty class folder. */
    snprintf(p, sizeof p, "%s/train/bee", root);
    mkdirs(p);
    assert_int_equal(enevo_data_open(root, NULL, &d, err, sizeof err), ENEVO_EFORMAT);
    assert_non_null(strstr(err, p));
    assert_non_null(strstr(err, "empty class folder"));
    rmdir(p);
    /* A test class the training set lacks. */
    snprintf(p, sizeof p, "%s/test/eel", root);
    mkdirs(p);
    snprintf(p, sizeof p, "%s/test/eel/a.png", root);
    write_png(p, 3, 6, 5, 1);
    assert_int_equal(enevo_data_open(root, NULL, &d, err, sizeof err), ENEVO_EFORMAT);
    assert_non_null(strstr(err, "'eel' is not among the training classes"));
    assert_null(d.train.x);
    assert_null(d.class_names);
}

/* ---- the model file's per-channel normalisation ---- */

static void model_file_keeps_channel_statistics(void **state)
{
    (void)state;
    char p[1024], err[ENEVO_ERR_LEN];
    float params[3] = {1, 2, 3};
    struct enevo_model_file m = {.in_c = 3, .in_h = 32, .in_w = 32, .n_classes = 10,
                                 .mean = 0.47f, .std = 0.25f, .phenotype = "layer:fc",
                                 .params = params, .n_params = 3};
    const float mean[3] = {0.49f, 0.48f, 0.45f}, sd[3] = {0.25f, 0.24f, 0.26f};
    struct enevo_dataset carrier = {.c = 3, .norm_mean = mean, .norm_std = sd};
    enevo_model_set_norm(&m, &carrier);
    path_of(p, sizeof p, "colour.enevo");
    assert_int_equal(enevo_model_save(p, &m, err, sizeof err), 0);
    struct enevo_model_file r;
    if (enevo_model_load(p, &r, err, sizeof err))
        fail_msg("%s", err);
    assert_int_equal(r.norm_c, 3);
    assert_int_equal(r.in_c, 3);
    for (int c = 0; c < 3; c++) {
        assert_true(r.ch_mean[c] == mean[c]);
        assert_true(r.ch_std[c] == sd[c]);
    }
    assert_true(r.mean == 0.47f);
    enevo_model_file_free(&r);

    /* A grey model's file is as before (no extension) and reads back with
     * its mean/std as the one channel's. */
    struct enevo_model_file g = m;
    g.in_c = 1;
    g.norm_c = 1;
    g.ch_mean[0] = g.mean;
    g.ch_std[0] = g.std;
    path_of(p, sizeof p, "grey.enevo");
    assert_int_equal(enevo_model_save(p, &g, err, sizeof err), 0);
    struct stat st;
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_size, 16 + 48 + 8 + 12 + 4);
    assert_int_equal(enevo_model_load(p, &r, err, sizeof err), 0);
    assert_int_equal(r.norm_c, 1);
    assert_true(r.ch_mean[0] == 0.47f && r.ch_std[0] == 0.25f);
    enevo_model_file_free(&r);

    /* A lying extension: 3 channels claimed for a 1-channel input. */
    g.norm_c = 3;
    assert_int_equal(enevo_model_save(p, &g, err, sizeof err), ENEVO_EINVAL);
    assert_non_null(strstr(err, "one value per input channel"));
}

/* Taking the images in place gives the sets a copying split gives. */
static void split_take_equals_split(void **state)
{
    (void)state;
    char err[ENEVO_ERR_LEN];
    struct enevo_dataset all, all2;
    assert_int_equal(enevo_dataset_synthetic(1003, 3, 4, 5, 7, 9, &all), 0);
    assert_int_equal(enevo_dataset_synthetic(1003, 3, 4, 5, 7, 9, &all2), 0);
    struct enevo_split a, b;
    assert_int_equal(enevo_data_split(&all, 600, 200, 150, 42, &a, err, sizeof err), 0);
    assert_int_equal(enevo_data_split_take(&all2, 600, 200, 150, 42, &b, err, sizeof err), 0);
    assert_null(all2.x);
    const struct enevo_dataset *sa[3] = {&a.train, &a.validation, &a.fitness};
    const struct enevo_dataset *sb[3] = {&b.train, &b.validation, &b.fitness};
    for (int s = 0; s < 3; s++) {
        assert_int_equal(sa[s]->n, sb[s]->n);
        assert_int_equal(sb[s]->c, 3);
        assert_memory_equal(sa[s]->y, sb[s]->y, (size_t)sa[s]->n);
        assert_memory_equal(sa[s]->x, sb[s]->x, sizeof(float) * 60 * (size_t)sa[s]->n);
    }
    assert_false(b.train.borrowed);
    assert_true(b.validation.borrowed && b.fitness.borrowed);
    enevo_split_free(&a);
    enevo_split_free(&b);
    enevo_dataset_free(&all);
    /* Too many asked for: refused, the images stay. */
    assert_int_equal(enevo_dataset_synthetic(10, 1, 2, 2, 2, 1, &all), 0);
    assert_int_equal(enevo_data_split_take(&all, 8, 2, 1, 1, &b, err, sizeof err), ENEVO_EINVAL);
    assert_non_null(all.x);
    enevo_dataset_free(&all);
}

/* ------------------------------------------------------------------ */
/* Training sets held as bytes (enevo_data_opts.u8). */

static void write_idx_file(const char *path, uint32_t magic, const int *dims, int ndims,
                           const uint8_t *data, size_t len)
{
    unsigned char *b = malloc(4 + 4 * (size_t)ndims + len);
    assert_non_null(b);
    for (int i = 0; i <= ndims; i++) {
        uint32_t v = i == 0 ? magic : (uint32_t)dims[i - 1];
        for (int k = 0; k < 4; k++)
            b[4 * i + k] = (unsigned char)(v >> (24 - 8 * k));
    }
    memcpy(b + 4 + 4 * ndims, data, len);
    spit(path, b, 4 + 4 * (size_t)ndims + len);
    free(b);
}

/* A small IDX directory of n training and m test images of 8x8. */
static void write_idx_dir(const char *dir, int n, int m)
{
    mkdirs(dir);
    const char *names[2][2] = {{"train-images-idx3-ubyte", "train-labels-idx1-ubyte"},
                               {"t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"}};
    for (int s = 0; s < 2; s++) {
        int k = s ? m : n, di[3] = {k, 8, 8}, dl[1] = {k};
        uint8_t *px = malloc((size_t)k * 64 + 1), *y = malloc((size_t)k + 1);
        assert_non_null(px);
        assert_non_null(y);
        for (int i = 0; i < k * 64; i++)
            px[i] = (uint8_t)((i * 37 + s * 11 + (i / 64) * (i / 64)) % 256);
        for (int i = 0; i < k; i++)
            y[i] = (uint8_t)((i * 3 + s) % 10);
        char p[1200];
        snprintf(p, sizeof p, "%s/%s", dir, names[s][0]);
        write_idx_file(p, 0x803, di, 3, px, (size_t)k * 64);
        snprintf(p, sizeof p, "%s/%s", dir, names[s][1]);
        write_idx_file(p, 0x801, dl, 1, y, (size_t)k);
        free(px);
        free(y);
    }
}

static float *all_images(const struct enevo_dataset *d)
{
    size_t img = (size_t)d->c * (size_t)d->h * (size_t)d->w;
    float *x = malloc(sizeof(float) * img * (size_t)d->n + 1);
    assert_non_null(x);
    enevo_dataset_images(d, 0, d->n, x);
    return x;
}

/* The floats a u8 set gives are the float set's, bit for bit. */
static void same_images(const struct enevo_dataset *f, const struct enevo_dataset *b)
{
    assert_int_equal(f->n, b->n);
    assert_int_equal(f->c, b->c);
    assert_non_null(f->x);
    assert_memory_equal(f->y, b->y, (size_t)f->n);
    float *x = all_images(b);
    assert_memory_equal(f->x, x, sizeof(float) * (size_t)f->n * f->c * f->h * f->w);
    free(x);
}

/* One epoch of a small net on each set, same seeds: the same weights. */
static void same_training(const struct enevo_dataset *fa, const struct enevo_dataset *fb,
                          const struct enevo_dataset *val, const struct enevo_augment *aug)
{
    static const char *phen =
        "layer:conv out_channels:4 kernel_size:3 stride:2 padding:same act:relu bias:True "
        "input:-1\n"
        "layer:fc act:softmax out_features:10 bias:True input:0\n"
        "learning:adam lr:0.01 beta1:0.9 beta2:0.999 weight_decay:0 early_stop:4 "
        "batch_size:8 epochs:2\n";
    char err[ENEVO_ERR_LEN];
    float *w[2];
    size_t np = 0;
    for (int k = 0; k < 2; k++) {
        struct enevo_dataset tr = k ? *fb : *fa;
        tr.augment = aug;
        struct enevo_phenotype p;
        assert_int_equal(enevo_phenotype_parse(phen, "u8", &p, err, sizeof err), 0);
        struct enevo_net_opts o = {.batch = 8, .training = true, .threads = 2};
        struct enevo_net *net;
        if (enevo_net_create(&p, (struct enevo_shape){tr.c, tr.h, tr.w}, 10, &o, &net, err,
                             sizeof err))
            fail_msg("%s", err);
        enevo_rng r;
        enevo_rng_seed(&r, 5, ENEVO_STREAM_INIT);
        enevo_net_init_params(net, &r);
        int nseg;
        const struct enevo_param_seg *segs = enevo_net_segments(net, &nseg);
        struct enevo_optim opt;
        assert_int_equal(enevo_optim_init(&opt, &p.learning, enevo_net_param_count(net), segs,
                                          nseg, err, sizeof err),
                         0);
        struct enevo_train_opts to = enevo_train_defaults();
        to.epochs = 2;
        to.seed = 3;
        struct enevo_train_result res;
        if (enevo_train(net, &opt, &tr, val, &to, &res, err, sizeof err))
            fail_msg("train: %s", err);
        np = enevo_net_param_count(net);
        w[k] = malloc(sizeof(float) * np);
        assert_non_null(w[k]);
        memcpy(w[k], enevo_net_params(net), sizeof(float) * np);
        double acc[2];
        assert_int_equal(enevo_evaluate(net, &tr, &acc[k], NULL, NULL), 0);
        enevo_optim_free(&opt);
        enevo_net_free(net);
        enevo_phenotype_free(&p);
    }
    assert_memory_equal(w[0], w[1], sizeof(float) * np);
    free(w[0]);
    free(w[1]);
}

/* IDX, CIFAR, uint8 NumPy and image-folder training sets kept as bytes: a quarter of the memory, and
 * every float a batch, a split, a subset, augmentation or training sees is
 * the float set's, bit for bit (the reproducibility the suite relies on). */
static void u8_training_sets_give_the_float_values(void **state)
{
    (void)state;
    char dirs[3][1024], p[1100], err[ENEVO_ERR_LEN];
    path_of(dirs[2], sizeof dirs[2], "u8.npz"); /* NHWC uint8, made NCHW */
    write_npz_set(dirs[2], 120, 30, 8, 8, 1, 8, "<i8", NULL);
    path_of(dirs[0], sizeof dirs[0], "u8_idx");
    write_idx_dir(dirs[0], 120, 30);
    path_of(dirs[1], sizeof dirs[1], "u8_cifar");
    mkdirs(dirs[1]);
    snprintf(p, sizeof p, "%s/data_batch_1.bin", dirs[1]);
    write_cifar(p, 0, 70, 1, label10);
    snprintf(p, sizeof p, "%s/data_batch_2.bin", dirs[1]);
    write_cifar(p, 70, 50, 1, label10);
    snprintf(p, sizeof p, "%s/test_batch.bin", dirs[1]);
    write_cifar(p, 500, 20, 1, label10);
    for (int k = 0; k < 3; k++) {
        struct enevo_data a, b;
        assert_int_equal(enevo_data_load(dirs[k], &a, err, sizeof err), 0); /* floats */
        struct enevo_data_opts o = enevo_data_opts_default();
        assert_true(o.u8);
        if (enevo_data_open(dirs[k], &o, &b, err, sizeof err))
            fail_msg("%s", err);
        assert_non_null(a.train.x);
        assert_null(a.train.u8);
        assert_null(b.train.x);
        assert_non_null(b.train.u8);
        assert_non_null(b.test.x); /* the test set stays floats */
        assert_true(a.mean == b.mean && a.std == b.std);
        assert_memory_equal(a.ch_mean, b.ch_mean, sizeof a.ch_mean);
        assert_memory_equal(a.ch_std, b.ch_std, sizeof a.ch_std);
        same_images(&a.train, &b.train);
        same_images(&a.test, &b.test);
        /* Gathered in any order. */
        int idx[5] = {119, 0, 7, 7, 64};
        size_t img = (size_t)a.train.c * a.train.h * a.train.w;
        float *g = malloc(sizeof(float) * 5 * img);
        assert_non_null(g);
        enevo_dataset_gather(&b.train, idx, 5, g);
        for (int i = 0; i < 5; i++)
            assert_memory_equal(g + (size_t)i * img, a.train.x + (size_t)idx[i] * img,
                                sizeof(float) * img);
        free(g);
        /* Training, plain and augmented (crop and flip un-normalise and
         * normalise again), gives the same weights. */
        struct enevo_augment aug = {.n = 2, .c = a.train.c};
        aug.op[0] = (struct enevo_aug_op){.kind = ENEVO_AUG_RANDOM_CROP,
                                          .size = a.train.h, .padding = 2};
        aug.op[1] = (struct enevo_aug_op){.kind = ENEVO_AUG_HFLIP, .p = 0.5};
        memcpy(aug.mean, a.ch_mean, sizeof aug.mean);
        memcpy(aug.std, a.ch_std, sizeof aug.std);
        same_training(&a.train, &b.train, &a.test, NULL);
        same_training(&a.train, &b.train, &a.test, &aug);
        /* A subset keeps the bytes. */
        struct enevo_dataset sa, sb;
        assert_int_equal(enevo_dataset_subset(&a.train, 40, 7, &sa, err, sizeof err), 0);
        assert_int_equal(enevo_dataset_subset(&b.train, 40, 7, &sb, err, sizeof err), 0);
        assert_non_null(sb.u8);
        same_images(&sa, &sb);
        enevo_dataset_free(&sa);
        enevo_dataset_free(&sb);
        /* Copying and in-place splits: train and validation stay bytes, the
         * fitness set (read directly by energy measurement) is floats. */
        struct enevo_split c, t, f;
        assert_int_equal(enevo_data_split(&b.train, 60, 30, 20, 42, &c, err, sizeof err), 0);
        assert_int_equal(enevo_data_split(&a.train, 60, 30, 20, 42, &f, err, sizeof err), 0);
        assert_int_equal(enevo_data_split_take(&b.train, 60, 30, 20, 42, &t, err, sizeof err), 0);
        assert_null(b.train.u8);
        const struct enevo_dataset *sf[3] = {&f.train, &f.validation, &f.fitness};
        const struct enevo_dataset *sc[3] = {&c.train, &c.validation, &c.fitness};
        const struct enevo_dataset *st[3] = {&t.train, &t.validation, &t.fitness};
        for (int s = 0; s < 3; s++) {
            same_images(sf[s], sc[s]);
            same_images(sf[s], st[s]);
            if (s == 2)
                assert_true(sc[s]->x && st[s]->x && !st[s]->u8);
            else
                assert_true(sc[s]->u8 && st[s]->u8);
        }
        assert_false(t.fitness.borrowed);
        assert_true(t.validation.borrowed);
        /* To floats in place, borrowed or not. */
        assert_int_equal(enevo_dataset_to_float(&t.validation, err, sizeof err), 0);
        assert_false(t.validation.borrowed);
        assert_memory_equal(t.validation.x, f.validation.x,
                            sizeof(float) * img * (size_t)f.validation.n);
        assert_int_equal(enevo_dataset_to_float(&t.train, err, sizeof err), 0);
        assert_null(t.train.u8);
        assert_memory_equal(t.train.x, f.train.x, sizeof(float) * img * (size_t)f.train.n);
        enevo_split_free(&c);
        enevo_split_free(&t);
        enevo_split_free(&f);
        enevo_data_free(&a);
        enevo_data_free(&b);
    }
    /* Image folders (PNG) too. */
    char root[1100];
    path_of(root, sizeof root, "u8_folder");
    make_folder(root);
    struct enevo_data fa, fb;
    struct enevo_data_opts fo = enevo_data_opts_default();
    assert_int_equal(enevo_data_load(root, &fa, err, sizeof err), 0);
    if (enevo_data_open(root, &fo, &fb, err, sizeof err))
        fail_msg("%s", err);
    assert_non_null(fb.train.u8);
    assert_null(fb.train.x);
    assert_memory_equal(fa.ch_mean, fb.ch_mean, sizeof fa.ch_mean);
    assert_memory_equal(fa.ch_std, fb.ch_std, sizeof fa.ch_std);
    same_images(&fa.train, &fb.train);
    same_images(&fa.test, &fb.test);
    enevo_data_free(&fa);
    enevo_data_free(&fb);
    /* Resizing needs floats: a resized set is never bytes. */
    struct enevo_data_opts o = enevo_data_opts_default();
    o.resize = 16;
    struct enevo_data d;
    assert_int_equal(enevo_data_open(dirs[1], &o, &d, err, sizeof err), 0);
    assert_non_null(d.train.x);
    assert_null(d.train.u8);
    enevo_data_free(&d);
}

const struct CMUnitTest enevo_tests_data2[] = {
    cmocka_unit_test(split_take_equals_split),
    cmocka_unit_test(u8_training_sets_give_the_float_values),
    cmocka_unit_test(cifar10_reads_values_and_labels),
    cmocka_unit_test(cifar100_fine_and_coarse),
    cmocka_unit_test(cifar_bad_files_are_named),
    cmocka_unit_test(npz_stored_and_deflated),
    cmocka_unit_test(npz_float_nchw_and_named_arrays),
    cmocka_unit_test(npy_directory),
    cmocka_unit_test(npy_bad_files_are_named),
    cmocka_unit_test(npz_bad_archives),
    cmocka_unit_test(npz_written_by_numpy),
    cmocka_unit_test(folder_reads_png_and_jpeg),
    cmocka_unit_test(folder_bad_files_are_named),
    cmocka_unit_test(model_file_keeps_channel_statistics),
};
const size_t enevo_tests_data2_count = ENEVO_COUNT(enevo_tests_data2);
