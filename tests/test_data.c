#include "tests.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "enevo/data.h"
#include "enevo/rng.h"

/* Writes an IDX file: big-endian magic and dims, then `len` data bytes. */
static void write_idx(const char *path, uint32_t magic, const int *dims, int ndims,
                      const uint8_t *data, size_t len, int gz)
{
    unsigned char hdr[16];
    for (int i = 0; i <= ndims; i++) {
        uint32_t v = i == 0 ? magic : (uint32_t)dims[i - 1];
        hdr[4 * i] = (unsigned char)(v >> 24);
        hdr[4 * i + 1] = (unsigned char)(v >> 16);
        hdr[4 * i + 2] = (unsigned char)(v >> 8);
        hdr[4 * i + 3] = (unsigned char)v;
    }
    size_t hlen = 4 + 4 * (size_t)ndims;
    if (gz) {
        gzFile f = gzopen(path, "wb");
        assert_non_null(f);
        assert_int_equal(gzwrite(f, hdr, (unsigned)hlen), (int)hlen);
        if (len)
            assert_int_equal(gzwrite(f, data, (unsigned)len), (int)len);
        assert_int_equal(gzclose(f), Z_OK);
    } else {
        FILE *f = fopen(path, "wb");
        assert_non_null(f);
        assert_int_equal(fwrite(hdr, 1, hlen, f), hlen);
        if (len)
            assert_int_equal(fwrite(data, 1, len, f), len);
        assert_int_equal(fclose(f), 0);
    }
}

static void tmp_path(char *buf, size_t len, const char *name)
{
    snprintf(buf, len, "%s/%s", enevo_test_tmpdir(), name);
}

/* n images of h x w with pixel (i, j) = (7 i + 3 j + 1) mod 256. */
static uint8_t *make_pixels(int n, int h, int w)
{
    uint8_t *p = malloc((size_t)n * (size_t)h * (size_t)w);
    assert_non_null(p);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < h * w; j++)
            p[(size_t)i * (size_t)(h * w) + (size_t)j] = (uint8_t)((7 * i + 3 * j + 1) % 256);
    return p;
}

static void check_roundtrip(int gz)
{
    enum { N = 5, H = 3, W = 4 };
    char img[512], lab[512], err[ENEVO_ERR_LEN];
    tmp_path(img, sizeof img, gz ? "rt-gz-images" : "rt-raw-images");
    tmp_path(lab, sizeof lab, gz ? "rt-gz-labels" : "rt-raw-labels");
    uint8_t *px = make_pixels(N, H, W);
    uint8_t labels[N] = {3, 0, 12, 9, 1}; /* labels above 9 are allowed */
    int di[3] = {N, H, W}, dl[1] = {N};
    char img_file[520], lab_file[520];
    /* Gzipped files are written as NAME.gz and loaded as NAME. */
    snprintf(img_file, sizeof img_file, "%s%s", img, gz ? ".gz" : "");
    snprintf(lab_file, sizeof lab_file, "%s%s", lab, gz ? ".gz" : "");
    write_idx(img_file, 0x803, di, 3, px, N * H * W, gz);
    write_idx(lab_file, 0x801, dl, 1, labels, N, gz);
    struct enevo_dataset d;
    assert_int_equal(enevo_idx_load(img, lab, &d, err, sizeof err), 0);
    assert_int_equal(d.n, N);
    assert_int_equal(d.c, 1);
    assert_int_equal(d.h, H);
    assert_int_equal(d.w, W);
    assert_int_equal(d.n_classes, 13);
    for (int i = 0; i < N * H * W; i++)
        assert_true(d.x[i] == (float)px[i] * (1.0f / 255.0f));
    assert_memory_equal(d.y, labels, N);
    enevo_dataset_free(&d);
    free(px);
}

static void idx_raw_roundtrip(void **state)
{
    (void)state;
    check_roundtrip(0);
}

static void idx_gzip_roundtrip(void **state)
{
    (void)state;
    check_roundtrip(1);
}

static void write_labels(const char *path, int n)
{
    uint8_t *y = malloc((size_t)n + 1);
    assert_non_null(y);
    for (int i = 0; i < n; i++)
        y[i] = (uint8_t)(i % 10);
    int d[1] = {n};
    write_idx(path, 0x801, d, 1, y, (size_t)n, 0);
    free(y);
}

static void idx_truncated_images_fail(void **state)
{
    (void)state;
    char img[512], lab[512], err[ENEVO_ERR_LEN] = "";
    tmp_path(img, sizeof img, "trunc-images");
    tmp_path(lab, sizeof lab, "trunc-labels");
    uint8_t *px = make_pixels(3, 2, 2);
    int di[3] = {5, 2, 2}; /* header promises 5 images, data holds 3 */
    write_idx(img, 0x803, di, 3, px, 3 * 4, 0);
    write_labels(lab, 5);
    struct enevo_dataset d;
    assert_int_equal(enevo_idx_load(img, lab, &d, err, sizeof err), ENEVO_EFORMAT);
    assert_non_null(strstr(err, img));
    assert_non_null(strstr(err, "expected 20 bytes, got 12"));
    assert_null(d.x);
    free(px);
}

static void idx_truncated_gzip_fails(void **state)
{
    (void)state;
    char img[512], lab[512], err[ENEVO_ERR_LEN] = "";
    tmp_path(img, sizeof img, "truncgz-images.gz");
    tmp_path(lab, sizeof lab, "truncgz-labels");
    enum { N = 200, H = 16, W = 16 };
    uint8_t *px = malloc(N * H * W);
    assert_non_null(px);
    enevo_rng r;
    enevo_rng_seed(&r, 1, 0);
    for (int i = 0; i < N * H * W; i++) /* incompressible, so the cut loses data */
        px[i] = (uint8_t)enevo_rng_below(&r, 256);
    int di[3] = {N, H, W};
    write_idx(img, 0x803, di, 3, px, N * H * W, 1);
    struct stat st;
    assert_int_equal(stat(img, &st), 0);
    assert_int_equal(truncate(img, st.st_size / 2), 0);
    write_labels(lab, N);
    struct enevo_dataset d;
    int rc = enevo_idx_load(img, lab, &d, err, sizeof err);
    assert_int_equal(rc, ENEVO_EFORMAT);
    assert_non_null(strstr(err, img));
    free(px);
}

static void idx_wrong_magic_fails(void **state)
{
    (void)state;
    char img[512], lab[512], err[ENEVO_ERR_LEN] = "";
    tmp_path(img, sizeof img, "magic-images");
    tmp_path(lab, sizeof lab, "magic-labels");
    uint8_t px[8] = {0};
    int di[3] = {2, 2, 2};
    write_idx(img, 0x801, di, 3, px, 8, 0); /* a label magic on an image file */
    write_labels(lab, 2);
    struct enevo_dataset d;
    assert_int_equal(enevo_idx_load(img, lab, &d, err, sizeof err), ENEVO_EFORMAT);
    assert_non_null(strstr(err, img));
    assert_non_null(strstr(err, "0x00000801"));
    assert_non_null(strstr(err, "0x00000803"));

    /* And the labels file checks its own magic. */
    write_idx(img, 0x803, di, 3, px, 8, 0);
    int dl[3] = {2, 1, 1};
    write_idx(lab, 0x803, dl, 3, px, 2, 0);
    assert_int_equal(enevo_idx_load(img, lab, &d, err, sizeof err), ENEVO_EFORMAT);
    assert_non_null(strstr(err, lab));
    assert_non_null(strstr(err, "expected 0x00000801"));
}

static void idx_count_mismatch_fails(void **state)
{
    (void)state;
    char img[512], lab[512], err[ENEVO_ERR_LEN] = "";
    tmp_path(img, sizeof img, "count-images");
    tmp_path(lab, sizeof lab, "count-labels");
    uint8_t *px = make_pixels(5, 2, 2);
    int di[3] = {5, 2, 2};
    write_idx(img, 0x803, di, 3, px, 20, 0);
    write_labels(lab, 4);
    struct enevo_dataset d;
    assert_int_equal(enevo_idx_load(img, lab, &d, err, sizeof err), ENEVO_EFORMAT);
    assert_non_null(strstr(err, img));
    assert_non_null(strstr(err, lab));
    assert_non_null(strstr(err, "5 images"));
    assert_non_null(strstr(err, "4 labels"));
    free(px);
}

static void idx_missing_file_fails(void **state)
{
    (void)state;
    char img[512], lab[512], err[ENEVO_ERR_LEN] = "";
    tmp_path(img, sizeof img, "missing-images");
    tmp_path(lab, sizeof lab, "missing-labels");
    struct enevo_dataset d;
    assert_int_equal(enevo_idx_load(img, lab, &d, err, sizeof err), ENEVO_EIO);
    assert_non_null(strstr(err, img));
    char gz[520];
    snprintf(gz, sizeof gz, "%s.gz", img);
    assert_non_null(strstr(err, gz));

    /* A present images file does not hide a missing labels file. */
    uint8_t px[4] = {0};
    int di[3] = {1, 2, 2};
    write_idx(img, 0x803, di, 3, px, 4, 0);
    assert_int_equal(enevo_idx_load(img, lab, &d, err, sizeof err), ENEVO_EIO);
    assert_non_null(strstr(err, lab));
}

/* Writes DIR/{train,t10k}-* for enevo_data_load; train raw, test gzipped. */
static void write_dataset_dir(const char *dir, int n_train, int n_test, const uint8_t *px_train,
                              const uint8_t *y_train, const uint8_t *px_test, const uint8_t *y_test)
{
    char p[600];
    mkdir(dir, 0700);
    int di[3] = {n_train, 4, 4}, dl[1] = {n_train};
    snprintf(p, sizeof p, "%s/train-images-idx3-ubyte", dir);
    write_idx(p, 0x803, di, 3, px_train, (size_t)n_train * 16, 0);
    snprintf(p, sizeof p, "%s/train-labels-idx1-ubyte", dir);
    write_idx(p, 0x801, dl, 1, y_train, (size_t)n_train, 0);
    di[0] = dl[0] = n_test;
    snprintf(p, sizeof p, "%s/t10k-images-idx3-ubyte.gz", dir);
    write_idx(p, 0x803, di, 3, px_test, (size_t)n_test * 16, 1);
    snprintf(p, sizeof p, "%s/t10k-labels-idx1-ubyte.gz", dir);
    write_idx(p, 0x801, dl, 1, y_test, (size_t)n_test, 1);
}

static void data_load_normalises_with_train_stats(void **state)
{
    (void)state;
    enum { NTR = 300, NTE = 50 };
    uint8_t px[NTR * 16], pt[NTE * 16], y[NTR], yt[NTE];
    enevo_rng r;
    enevo_rng_seed(&r, 11, 0);
    for (int i = 0; i < NTR * 16; i++)
        px[i] = (uint8_t)(40 + enevo_rng_below(&r, 120));
    for (int i = 0; i < NTE * 16; i++)
        pt[i] = (uint8_t)enevo_rng_below(&r, 256);
    for (int i = 0; i < NTR; i++)
        y[i] = (uint8_t)(i % 4);
    for (int i = 0; i < NTE; i++)
        yt[i] = (uint8_t)(i % 3); /* test lacks class 3: n_classes comes from train */
    char dir[512], err[ENEVO_ERR_LEN] = "";
    tmp_path(dir, sizeof dir, "dataset");
    write_dataset_dir(dir, NTR, NTE, px, y, pt, yt);

    struct enevo_data d;
    assert_int_equal(enevo_data_load(dir, &d, err, sizeof err), 0);
    assert_int_equal(d.train.n, NTR);
    assert_int_equal(d.test.n, NTE);
    assert_int_equal(d.train.n_classes, 4);
    assert_int_equal(d.test.n_classes, 4);
    double s = 0, s2 = 0, rs = 0, rs2 = 0;
    for (int i = 0; i < NTR * 16; i++) {
        s += d.train.x[i];
        s2 += (double)d.train.x[i] * d.train.x[i];
        rs += px[i] / 255.0;
        rs2 += (px[i] / 255.0) * (px[i] / 255.0);
    }
    double m = s / (NTR * 16), sd = sqrt(s2 / (NTR * 16) - m * m);
    assert_true(fabs(m) < 1e-5);
    assert_true(fabs(sd - 1) < 1e-4);
    double rm = rs / (NTR * 16), rsd = sqrt(rs2 / (NTR * 16) - rm * rm);
    assert_true(fabs(d.mean - rm) < 1e-6);
    assert_true(fabs(d.std - rsd) < 1e-6);
    for (int i = 0; i < NTE * 16; i++)
        assert_true(fabs(d.test.x[i] - (pt[i] / 255.0 - rm) / rsd) < 1e-5);
    enevo_data_free(&d);

    /* A test label the training set never shows is an error naming the file. */
    yt[0] = 7;
    write_dataset_dir(dir, NTR, NTE, px, y, pt, yt);
    assert_int_equal(enevo_data_load(dir, &d, err, sizeof err), ENEVO_EFORMAT);
    assert_non_null(strstr(err, "t10k-labels-idx1-ubyte"));
    assert_null(d.train.x);
}

/* A dataset of 1x1 images whose one pixel is the image's index (a tag that
 * survives copying), with class k holding counts[k] images. */
static void tagged_dataset(const int *counts, int K, struct enevo_dataset *d)
{
    int n = 0;
    for (int k = 0; k < K; k++)
        n += counts[k];
    *d = (struct enevo_dataset){.n = n, .c = 1, .h = 1, .w = 1, .n_classes = K};
    d->x = malloc(((size_t)n + 1) * sizeof *d->x);
    d->y = malloc((size_t)n + 1);
    assert_non_null(d->x);
    assert_non_null(d->y);
    int i = 0;
    /* Interleave classes so the source order is not already grouped. */
    int *left = calloc((size_t)K, sizeof *left);
    memcpy(left, counts, (size_t)K * sizeof *left);
    while (i < n)
        for (int k = 0; k < K; k++)
            if (left[k]) {
                left[k]--;
                d->x[i] = (float)i;
                d->y[i] = (uint8_t)k;
                i++;
            }
    free(left);
}

/* Each class of each set is within one of its exact proportional share and
 * no image appears twice across sets. */
static void check_stratified(const struct enevo_dataset *all, const struct enevo_dataset *sets,
                             int nsets, const int *sizes)
{
    unsigned char *seen = calloc((size_t)all->n + 1, 1);
    int K = all->n_classes;
    int *total = calloc((size_t)K, sizeof *total), *got = calloc((size_t)K, sizeof *got);
    for (int i = 0; i < all->n; i++)
        total[all->y[i]]++;
    for (int s = 0; s < nsets; s++) {
        assert_int_equal(sets[s].n, sizes[s]);
        if (sizes[s] == 0) {
            assert_null(sets[s].x);
            assert_null(sets[s].y);
        }
        memset(got, 0, (size_t)K * sizeof *got);
        for (int i = 0; i < sets[s].n; i++) {
            int tag = (int)sets[s].x[i];
            assert_in_range(tag, 0, all->n - 1);
            assert_false(seen[tag]);
            seen[tag] = 1;
            assert_int_equal(sets[s].y[i], all->y[tag]);
            got[sets[s].y[i]]++;
        }
        for (int k = 0; k < K; k++) {
            double share = all->n ? (double)total[k] * sizes[s] / all->n : 0;
            assert_true(got[k] >= floor(share) - 1e-9 && got[k] <= ceil(share) + 1e-9);
        }
    }
    free(seen);
    free(total);
    free(got);
}

static void split_default_sizes_are_exact_and_stratified(void **state)
{
    (void)state;
    int counts[10];
    for (int k = 0; k < 10; k++)
        counts[k] = 6000;
    struct enevo_dataset all;
    tagged_dataset(counts, 10, &all);
    struct enevo_split s;
    char err[ENEVO_ERR_LEN];
    assert_int_equal(enevo_data_split(&all, 42000, 12000, 6000, 42, &s, err, sizeof err), 0);
    struct enevo_dataset sets[3] = {s.train, s.validation, s.fitness};
    int sizes[3] = {42000, 12000, 6000};
    check_stratified(&all, sets, 3, sizes);
    enevo_split_free(&s);
    enevo_dataset_free(&all);
}

static void split_uneven_classes_stay_within_one(void **state)
{
    (void)state;
    /* Random class sizes and set sizes, including the awkward cases where
     * rounding each set on its own would overdraw a class. */
    char err[ENEVO_ERR_LEN];
    /* Three singleton classes into three sets of one: every set's share of
     * every class is 1/3, and only a joint rounding gives each set its own. */
    int ones[3] = {1, 1, 1}, sizes1[3] = {1, 1, 1};
    struct enevo_dataset all1;
    tagged_dataset(ones, 3, &all1);
    struct enevo_split sp1;
    assert_int_equal(enevo_data_split(&all1, 1, 1, 1, 0, &sp1, err, sizeof err), 0);
    struct enevo_dataset sets1[3] = {sp1.train, sp1.validation, sp1.fitness};
    check_stratified(&all1, sets1, 3, sizes1);
    enevo_split_free(&sp1);
    enevo_dataset_free(&all1);

    enevo_rng r;
    enevo_rng_seed(&r, 5, 0);
    for (int trial = 0; trial < 300; trial++) {
        int K = 1 + (int)enevo_rng_below(&r, 12);
        int counts[12];
        int n = 0;
        for (int k = 0; k < K; k++) {
            counts[k] = (int)enevo_rng_below(&r, trial < 100 ? 4 : 60);
            n += counts[k];
        }
        struct enevo_dataset all;
        tagged_dataset(counts, K, &all);
        int sizes[3];
        int left = n;
        for (int s = 0; s < 3; s++) {
            sizes[s] =
                (trial % 3 == 0 && s == 2) ? left : (int)enevo_rng_below(&r, (uint32_t)left + 1);
            left -= sizes[s];
        }
        struct enevo_split sp;
        assert_int_equal(enevo_data_split(&all, sizes[0], sizes[1], sizes[2], (uint64_t)trial, &sp,
                                          err, sizeof err),
                         0);
        struct enevo_dataset sets[3] = {sp.train, sp.validation, sp.fitness};
        check_stratified(&all, sets, 3, sizes);
        enevo_split_free(&sp);
        enevo_dataset_free(&all);
    }
}

static void split_is_seeded(void **state)
{
    (void)state;
    int counts[5] = {100, 80, 120, 60, 140};
    struct enevo_dataset all;
    tagged_dataset(counts, 5, &all);
    struct enevo_split a, b, c;
    char err[ENEVO_ERR_LEN];
    assert_int_equal(enevo_data_split(&all, 300, 150, 50, 7, &a, err, sizeof err), 0);
    assert_int_equal(enevo_data_split(&all, 300, 150, 50, 7, &b, err, sizeof err), 0);
    assert_int_equal(enevo_data_split(&all, 300, 150, 50, 8, &c, err, sizeof err), 0);
    assert_memory_equal(a.train.x, b.train.x, 300 * sizeof(float));
    assert_memory_equal(a.validation.x, b.validation.x, 150 * sizeof(float));
    assert_memory_equal(a.fitness.x, b.fitness.x, 50 * sizeof(float));
    assert_memory_equal(a.train.y, b.train.y, 300);
    assert_true(memcmp(a.train.x, c.train.x, 300 * sizeof(float)) != 0);
    assert_true(memcmp(a.validation.x, c.validation.x, 150 * sizeof(float)) != 0);
    /* The order is shuffled, not grouped by class. */
    int runs = 0;
    for (int i = 1; i < 300; i++)
        runs += a.train.y[i] != a.train.y[i - 1];
    assert_true(runs > 100);
    enevo_split_free(&a);
    enevo_split_free(&b);
    enevo_split_free(&c);
    enevo_dataset_free(&all);
}

static void split_rejects_bad_sizes_and_allows_empty_sets(void **state)
{
    (void)state;
    int counts[2] = {10, 10};
    struct enevo_dataset all;
    tagged_dataset(counts, 2, &all);
    struct enevo_split s;
    char err[ENEVO_ERR_LEN] = "";
    assert_int_equal(enevo_data_split(&all, 15, 5, 1, 1, &s, err, sizeof err), ENEVO_EINVAL);
    assert_non_null(strstr(err, "20"));
    assert_int_equal(enevo_data_split(&all, 5, -1, 1, 1, &s, err, sizeof err), ENEVO_EINVAL);
    assert_int_equal(enevo_data_split(&all, 12, 0, 0, 1, &s, err, sizeof err), 0);
    assert_int_equal(s.train.n, 12);
    assert_int_equal(s.validation.n, 0);
    assert_null(s.validation.x);
    assert_null(s.fitness.y);
    assert_int_equal(s.fitness.n_classes, 2);
    enevo_split_free(&s);
    enevo_split_free(&s); /* freeing twice is harmless */
    enevo_dataset_free(&all);
}

static void subset_is_stratified_and_seeded(void **state)
{
    (void)state;
    int counts[4] = {500, 250, 150, 100};
    struct enevo_dataset all;
    tagged_dataset(counts, 4, &all);
    struct enevo_dataset a, b;
    char err[ENEVO_ERR_LEN];
    assert_int_equal(enevo_dataset_subset(&all, 99, 3, &a, err, sizeof err), 0);
    assert_int_equal(enevo_dataset_subset(&all, 99, 3, &b, err, sizeof err), 0);
    int size = 99;
    check_stratified(&all, &a, 1, &size);
    assert_memory_equal(a.x, b.x, 99 * sizeof(float));
    enevo_dataset_free(&b);
    assert_int_equal(enevo_dataset_subset(&all, 99, 4, &b, err, sizeof err), 0);
    assert_true(memcmp(a.x, b.x, 99 * sizeof(float)) != 0);
    enevo_dataset_free(&b);
    assert_int_equal(enevo_dataset_subset(&all, 1001, 4, &b, err, sizeof err), ENEVO_EINVAL);
    assert_null(b.x);
    enevo_dataset_free(&a);
    enevo_dataset_free(&all);
}

static void resize_keeps_constant_images_constant(void **state)
{
    (void)state;
    struct enevo_dataset d = {.n = 3, .c = 2, .h = 28, .w = 28, .n_classes = 1};
    d.x = malloc(3 * 2 * 28 * 28 * sizeof *d.x);
    d.y = calloc(3, 1);
    for (int i = 0; i < 3 * 2 * 28 * 28; i++)
        d.x[i] = 0.1f * (float)(1 + i / (28 * 28)); /* one value per plane */
    char err[ENEVO_ERR_LEN];
    assert_int_equal(enevo_dataset_resize(&d, 32, err, sizeof err), 0);
    assert_int_equal(d.h, 32);
    assert_int_equal(d.w, 32);
    for (int i = 0; i < 3 * 2 * 32 * 32; i++)
        assert_true(fabsf(d.x[i] - 0.1f * (float)(1 + i / (32 * 32))) < 1e-6f);
    assert_int_equal(enevo_dataset_resize(&d, 0, err, sizeof err), ENEVO_EINVAL);
    enevo_dataset_free(&d);
}

static void resize_matches_torch_bilinear(void **state)
{
    (void)state;
    /* torch.nn.functional.interpolate(x, size=4, mode="bilinear",
     * align_corners=False) of [[1, 2], [3, 4]]. */
    static const float up[16] = {1.00f, 1.25f, 1.75f, 2.00f, 1.50f, 1.75f, 2.25f, 2.50f,
                                 2.50f, 2.75f, 3.25f, 3.50f, 3.00f, 3.25f, 3.75f, 4.00f};
    struct enevo_dataset d = {.n = 1, .c = 1, .h = 2, .w = 2, .n_classes = 1};
    d.x = malloc(4 * sizeof *d.x);
    d.y = calloc(1, 1);
    for (int i = 0; i < 4; i++)
        d.x[i] = (float)(i + 1);
    char err[ENEVO_ERR_LEN];
    assert_int_equal(enevo_dataset_resize(&d, 4, err, sizeof err), 0);
    for (int i = 0; i < 16; i++)
        assert_true(fabsf(d.x[i] - up[i]) < 1e-6f);
    enevo_dataset_free(&d);

    /* Downsampling without antialias: 4x4 of 0..15 to 2x2 samples at 0.5 and
     * 2.5, the mean of each 2x2 block. */
    static const float down[4] = {2.5f, 4.5f, 10.5f, 12.5f};
    d = (struct enevo_dataset){.n = 1, .c = 1, .h = 4, .w = 4, .n_classes = 1};
    d.x = malloc(16 * sizeof *d.x);
    d.y = calloc(1, 1);
    for (int i = 0; i < 16; i++)
        d.x[i] = (float)i;
    assert_int_equal(enevo_dataset_resize(&d, 2, err, sizeof err), 0);
    for (int i = 0; i < 4; i++)
        assert_true(fabsf(d.x[i] - down[i]) < 1e-6f);
    enevo_dataset_free(&d);
}

/* Nearest class mean on fresh data: if that separates the classes, a small
 * CNN will too. */
static void synthetic_is_balanced_seeded_and_separable(void **state)
{
    (void)state;
    enum { N = 600, C = 3, H = 12, W = 12, K = 10, IMG = C * H * W };
    struct enevo_dataset a, b, t;
    assert_int_equal(enevo_dataset_synthetic(N, C, H, W, K, 9, &a), 0);
    assert_int_equal(enevo_dataset_synthetic(N, C, H, W, K, 9, &b), 0);
    assert_int_equal(enevo_dataset_synthetic(N, C, H, W, K, 10, &t), 0);
    assert_memory_equal(a.x, b.x, (size_t)N * IMG * sizeof(float));
    assert_memory_equal(a.y, b.y, N);
    assert_int_equal(a.n_classes, K);
    int hist[K] = {0};
    for (int i = 0; i < N; i++)
        hist[a.y[i]]++;
    for (int k = 0; k < K; k++)
        assert_int_equal(hist[k], N / K);
    static float mean[K][IMG];
    memset(mean, 0, sizeof mean);
    for (int i = 0; i < N; i++)
        for (int j = 0; j < IMG; j++)
            mean[a.y[i]][j] += a.x[(size_t)i * IMG + (size_t)j] / (float)(N / K);
    int correct = 0;
    for (int i = 0; i < N; i++) {
        int best = -1;
        double bd = 0;
        for (int k = 0; k < K; k++) {
            double dist = 0;
            for (int j = 0; j < IMG; j++) {
                double e = t.x[(size_t)i * IMG + (size_t)j] - mean[k][j];
                dist += e * e;
            }
            if (best < 0 || dist < bd) {
                best = k;
                bd = dist;
            }
        }
        correct += best == t.y[i];
    }
    assert_true(correct > N * 9 / 10);
    enevo_dataset_free(&a);
    enevo_dataset_free(&b);
    enevo_dataset_free(&t);
    assert_int_equal(enevo_dataset_synthetic(4, 0, 2, 2, 2, 1, &t), ENEVO_EINVAL);
}

static void fashion_mnist_loads(void **state)
{
    (void)state;
    char probe[600];
    snprintf(probe, sizeof probe, "%s/train-images-idx3-ubyte.gz", ENEVO_DEFAULT_DATASET);
    if (access(probe, R_OK) != 0) {
        snprintf(probe, sizeof probe, "%s/train-images-idx3-ubyte", ENEVO_DEFAULT_DATASET);
        if (access(probe, R_OK) != 0)
            skip();
    }
    struct enevo_data d;
    char err[ENEVO_ERR_LEN] = "";
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc = enevo_data_load(ENEVO_DEFAULT_DATASET, &d, err, sizeof err);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (rc)
        fail_msg("%s", err);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    print_message("fashion-mnist loaded in %.2f s (mean %.4f, std %.4f)\n", secs, d.mean, d.std);
    assert_int_equal(d.train.n, 60000);
    assert_int_equal(d.test.n, 10000);
    assert_int_equal(d.train.c, 1);
    assert_int_equal(d.train.h, 28);
    assert_int_equal(d.train.w, 28);
    assert_int_equal(d.test.h, 28);
    assert_int_equal(d.train.n_classes, 10);
    assert_int_equal(d.test.n_classes, 10);
    int hist[10] = {0};
    for (int i = 0; i < d.train.n; i++)
        hist[d.train.y[i]]++;
    for (int k = 0; k < 10; k++)
        assert_int_equal(hist[k], 6000);
    /* The published statistics of Fashion-MNIST's training pixels. */
    assert_true(fabsf(d.mean - 0.2860f) < 1e-3f);
    assert_true(fabsf(d.std - 0.3530f) < 1e-3f);
    enevo_data_free(&d);
}

const struct CMUnitTest enevo_tests_data[] = {
    cmocka_unit_test(idx_raw_roundtrip),
    cmocka_unit_test(idx_gzip_roundtrip),
    cmocka_unit_test(idx_truncated_images_fail),
    cmocka_unit_test(idx_truncated_gzip_fails),
    cmocka_unit_test(idx_wrong_magic_fails),
    cmocka_unit_test(idx_count_mismatch_fails),
    cmocka_unit_test(idx_missing_file_fails),
    cmocka_unit_test(data_load_normalises_with_train_stats),
    cmocka_unit_test(split_default_sizes_are_exact_and_stratified),
    cmocka_unit_test(split_uneven_classes_stay_within_one),
    cmocka_unit_test(split_is_seeded),
    cmocka_unit_test(split_rejects_bad_sizes_and_allows_empty_sets),
    cmocka_unit_test(subset_is_stratified_and_seeded),
    cmocka_unit_test(resize_keeps_constant_images_constant),
    cmocka_unit_test(resize_matches_torch_bilinear),
    cmocka_unit_test(synthetic_is_balanced_seeded_and_separable),
    cmocka_unit_test(fashion_mnist_loads),
};
const size_t enevo_tests_data_count = ENEVO_COUNT(enevo_tests_data);
