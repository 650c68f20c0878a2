/* Model files: round trip, the exact byte layout, and every way a file can be
 * wrong (short, truncated, corrupted, foreign, from a newer enevo). */
#include "tests.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "enevo/model.h"

static const char PHEN[] =
    "layer:conv out_channels:8 kernel_size:3 stride:1 padding:same act:relu bias:True input:-1\n"
    "layer:fc act:softmax out_features:10 bias:True input:0\n"
    "learning:adam lr:0.001 beta1:0.9 beta2:0.999 weight_decay:0 early_stop:5 batch_size:64 epochs:10\n";

#define NP 37
#define NS 16

struct sample {
    float params[NP], stats[NS];
    char phen[sizeof PHEN];
    struct enevo_model_file m;
};

static void sample_init(struct sample *s)
{
    for (int i = 0; i < NP; i++)
        s->params[i] = (float)sin(i * 1.7) * (float)(i + 1) * 0.01f;
    s->params[3] = -0.0f;
    s->params[5] = 1e-40f; /* subnormal survives too */
    s->params[7] = 3.4e38f;
    for (int i = 0; i < NS; i++)
        s->stats[i] = (float)i * 0.25f + 1.0f;
    memcpy(s->phen, PHEN, sizeof PHEN);
    s->m = (struct enevo_model_file){
        .in_c = 1, .in_h = 28, .in_w = 28, .n_classes = 10, .mean = 0.2860f, .std = 0.3530f,
        .phenotype = s->phen, .params = s->params, .n_params = NP, .stats = s->stats, .n_stats = NS,
    };
}

static const char *tmp_path(const char *name)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", enevo_test_tmpdir(), name);
    return path;
}

static unsigned char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)n + 1);
    assert_non_null(b);
    assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return b;
}

static void spit(const char *path, const unsigned char *b, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b, 1, len, f), len);
    fclose(f);
}

static void put_le32(unsigned char *b, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        b[i] = (unsigned char)(v >> (8 * i));
}

static void fix_crc(unsigned char *b, size_t len)
{
    put_le32(b + len - 4, (uint32_t)crc32(0L, b, (uInt)(len - 4)));
}

/* Saves the sample to `name`, returns the file's bytes. */
static unsigned char *saved_sample(const char *name, size_t *len)
{
    struct sample s;
    sample_init(&s);
    char err[ENEVO_ERR_LEN];
    if (enevo_model_save(tmp_path(name), &s.m, err, sizeof err))
        fail_msg("save: %s", err);
    return slurp(tmp_path(name), len);
}

static void expect_load_error(const char *path, int code, const char *needle)
{
    struct enevo_model_file r;
    char err[ENEVO_ERR_LEN] = "";
    int rc = enevo_model_load(path, &r, err, sizeof err);
    if (rc != code)
        fail_msg("%s: expected %d, got %d (%s)", path, code, rc, err);
    if (!strstr(err, needle))
        fail_msg("message '%s' lacks '%s'", err, needle);
    if (!strstr(err, path))
        fail_msg("message '%s' does not name %s", err, path);
    assert_null(r.params);
    assert_null(r.phenotype);
    assert_null(r.stats);
}

static void model_round_trip_is_bit_exact(void **state)
{
    (void)state;
    struct sample s;
    sample_init(&s);
    char err[ENEVO_ERR_LEN];
    const char *path = tmp_path("rt.enevo");
    assert_int_equal(enevo_model_save(path, &s.m, err, sizeof err), 0);
    struct enevo_model_file r;
    if (enevo_model_load(path, &r, err, sizeof err))
        fail_msg("load: %s", err);
    assert_int_equal(r.in_c, 1);
    assert_int_equal(r.in_h, 28);
    assert_int_equal(r.in_w, 28);
    assert_int_equal(r.n_classes, 10);
    assert_memory_equal(&r.mean, &s.m.mean, sizeof(float));
    assert_memory_equal(&r.std, &s.m.std, sizeof(float));
    assert_string_equal(r.phenotype, PHEN);
    assert_int_equal(r.n_params, NP);
    assert_int_equal(r.n_stats, NS);
    assert_memory_equal(r.params, s.params, sizeof s.params);
    assert_memory_equal(r.stats, s.stats, sizeof s.stats);
    enevo_model_file_free(&r);
    assert_null(r.params);

    /* Saving again over the file gives the same bytes. */
    size_t len1, len2;
    unsigned char *a = slurp(path, &len1);
    assert_int_equal(enevo_model_save(path, &s.m, err, sizeof err), 0);
    unsigned char *b = slurp(path, &len2);
    assert_int_equal(len1, len2);
    assert_int_equal(len1, 16 + 48 + strlen(PHEN) + 4 * NP + 4 * NS + 4);
    assert_memory_equal(a, b, len1);
    free(a);
    free(b);
}

static void model_empty_blocks_round_trip(void **state)
{
    (void)state;
    char phen[] = "";
    struct enevo_model_file m = {.in_c = 3, .in_h = 32, .in_w = 32, .n_classes = 100,
                                 .mean = 0, .std = 1, .phenotype = phen};
    char err[ENEVO_ERR_LEN];
    const char *path = tmp_path("empty.enevo");
    assert_int_equal(enevo_model_save(path, &m, err, sizeof err), 0);
    struct enevo_model_file r;
    if (enevo_model_load(path, &r, err, sizeof err))
        fail_msg("load: %s", err);
    assert_string_equal(r.phenotype, "");
    assert_int_equal(r.n_params, 0);
    assert_int_equal(r.n_stats, 0);
    assert_int_equal(r.n_classes, 100);
    enevo_model_file_free(&r);
}

/* The layout of model.h, byte for byte, for a one-parameter model. */
static void model_layout_is_little_endian_as_documented(void **state)
{
    (void)state;
    char phen[] = "ab";
    float p[1] = {1.0f}, st[1] = {-2.0f};
    struct enevo_model_file m = {.in_c = 1, .in_h = 2, .in_w = 0x0102, .n_classes = 10,
                                 .mean = 0.5f, .std = 0.25f, .phenotype = phen,
                                 .params = p, .n_params = 1, .stats = st, .n_stats = 1};
    char err[ENEVO_ERR_LEN];
    const char *path = tmp_path("layout.enevo");
    assert_int_equal(enevo_model_save(path, &m, err, sizeof err), 0);
    static const unsigned char want[] = {
        'E', 'N', 'E', 'V', 'O', 'M', 'D', 'L', /* magic */
        1, 0, 0, 0,                             /* version */
        48, 0, 0, 0,                            /* header bytes */
        1, 0, 0, 0, 2, 0, 0, 0, 2, 1, 0, 0, 10, 0, 0, 0, /* in_c, in_h, in_w, n_classes */
        0, 0, 0, 0x3f, 0, 0, 0x80, 0x3e,                 /* mean 0.5, std 0.25 */
        2, 0, 0, 0, 0, 0, 0, 0,                          /* phenotype bytes */
        1, 0, 0, 0, 0, 0, 0, 0,                          /* n_params */
        1, 0, 0, 0, 0, 0, 0, 0,                          /* n_stats */
        'a', 'b',                                        /* phenotype */
        0, 0, 0x80, 0x3f,                                /* 1.0f */
        0, 0, 0, 0xc0,                                   /* -2.0f */
    };
    size_t len;
    unsigned char *b = slurp(path, &len);
    assert_int_equal(len, sizeof want + 4);
    assert_memory_equal(b, want, sizeof want);
    uint32_t crc = (uint32_t)crc32(0L, want, sizeof want);
    assert_int_equal(b[len - 4] | b[len - 3] << 8 | b[len - 2] << 16 | (uint32_t)b[len - 1] << 24, crc);
    free(b);
}

static void model_flipped_byte_is_corrupt(void **state)
{
    (void)state;
    size_t len;
    unsigned char *b = saved_sample("flip.enevo", &len);
    b[len - 4 * NS - 4 * (NP / 2)] ^= 0x10; /* inside the parameters */
    const char *path = tmp_path("flip.enevo");
    spit(path, b, len);
    expect_load_error(path, ENEVO_ECORRUPT, "checksum mismatch: file is corrupted");
    /* ...and in the phenotype text. */
    b[len - 4 * NS - 4 * (NP / 2)] ^= 0x10;
    b[16 + 48 + 5] ^= 0x01;
    spit(path, b, len);
    expect_load_error(path, ENEVO_ECORRUPT, "checksum mismatch");
    free(b);
}

static void model_truncated_and_short_files(void **state)
{
    (void)state;
    size_t len;
    unsigned char *b = saved_sample("trunc.enevo", &len);
    const char *path = tmp_path("trunc.enevo");
    assert_int_equal(truncate(path, (off_t)(len - 10)), 0);
    char want[128];
    snprintf(want, sizeof want, "truncated: expected %zu bytes, file has %zu", len, len - 10);
    expect_load_error(path, ENEVO_EFORMAT, want);

    spit(path, b, 12);
    expect_load_error(path, ENEVO_EFORMAT, "too short to be an enevo model (12 bytes)");
    spit(path, b, 0);
    expect_load_error(path, ENEVO_EFORMAT, "(0 bytes)");

    /* Extra bytes after the CRC are refused too. */
    unsigned char *longer = calloc(len + 3, 1);
    memcpy(longer, b, len);
    spit(path, longer, len + 3);
    expect_load_error(path, ENEVO_EFORMAT, "trailing bytes");
    free(longer);

    /* Size fields claiming more parameters than the file holds. */
    b[16 + 32] = NP + 1;
    fix_crc(b, len);
    spit(path, b, len);
    snprintf(want, sizeof want, "truncated: expected %zu bytes, file has %zu", len + 4, len);
    expect_load_error(path, ENEVO_EFORMAT, want);
    b[16 + 32 + 7] = 0x7f;
    fix_crc(b, len);
    spit(path, b, len);
    expect_load_error(path, ENEVO_EFORMAT, "impossible sizes");
    free(b);
}

static void model_wrong_magic_and_version(void **state)
{
    (void)state;
    size_t len;
    unsigned char *b = saved_sample("magic.enevo", &len);
    const char *path = tmp_path("magic.enevo");
    memcpy(b, "PK\x03\x04xxxx", 8);
    spit(path, b, len);
    expect_load_error(path, ENEVO_EFORMAT, "not an enevo model file (magic \"PK\\x03\\x04xxxx\"");
    free(b);

    b = saved_sample("version.enevo", &len);
    path = tmp_path("version.enevo");
    put_le32(b + 8, 7);
    fix_crc(b, len);
    spit(path, b, len);
    expect_load_error(path, ENEVO_EVERSION, "model format version 7, this enevo reads 1");
    free(b);
}

/* The header-bytes field lets a later writer append header fields: a reader
 * skips what it does not know, and refuses a header shorter than its own. */
static void model_header_length_field(void **state)
{
    (void)state;
    size_t len;
    unsigned char *b = saved_sample("hdr.enevo", &len);
    const char *path = tmp_path("hdr.enevo");
    unsigned char *c = malloc(len + 8);
    memcpy(c, b, 16 + 48);
    memcpy(c + 16 + 48, "EXTRA!!!", 8);
    memcpy(c + 16 + 48 + 8, b + 16 + 48, len - 16 - 48);
    put_le32(c + 12, 56);
    fix_crc(c, len + 8);
    spit(path, c, len + 8);
    struct enevo_model_file r;
    char err[ENEVO_ERR_LEN];
    if (enevo_model_load(path, &r, err, sizeof err))
        fail_msg("load: %s", err);
    assert_string_equal(r.phenotype, PHEN);
    assert_int_equal(r.n_params, NP);
    enevo_model_file_free(&r);

    put_le32(b + 12, 40);
    fix_crc(b, len);
    spit(path, b, len);
    expect_load_error(path, ENEVO_EFORMAT, "header is 40 bytes, expected at least 48");
    free(b);
    free(c);
}

static void model_missing_file_names_the_path(void **state)
{
    (void)state;
    const char *path = tmp_path("no-such-dir/none.enevo");
    expect_load_error(path, ENEVO_EIO, "No such file");
    expect_load_error(enevo_test_tmpdir(), ENEVO_EIO, "not a regular file");
}

static void model_rejects_nonfinite_and_nul(void **state)
{
    (void)state;
    size_t len;
    unsigned char *b = saved_sample("nan.enevo", &len);
    const char *path = tmp_path("nan.enevo");
    size_t p0 = 16 + 48 + strlen(PHEN);
    put_le32(b + p0 + 4 * 11, 0x7fc00000u); /* NaN in parameter 11 */
    fix_crc(b, len);
    spit(path, b, len);
    expect_load_error(path, ENEVO_EFORMAT, "parameter 11");
    free(b);

    b = saved_sample("inf.enevo", &len);
    path = tmp_path("inf.enevo");
    put_le32(b + len - 4 - 4 * NS + 4 * 2, 0x7f800000u); /* +inf in statistic 2 */
    fix_crc(b, len);
    spit(path, b, len);
    expect_load_error(path, ENEVO_EFORMAT, "statistic 2");
    free(b);

    b = saved_sample("nul.enevo", &len);
    path = tmp_path("nul.enevo");
    b[16 + 48 + 4] = 0;
    fix_crc(b, len);
    spit(path, b, len);
    expect_load_error(path, ENEVO_EFORMAT, "NUL");
    free(b);

    /* save refuses to write what load would refuse. */
    struct sample s;
    sample_init(&s);
    s.params[4] = NAN;
    char err[ENEVO_ERR_LEN];
    assert_int_equal(enevo_model_save(tmp_path("bad.enevo"), &s.m, err, sizeof err), ENEVO_ENUMERIC);
    assert_non_null(strstr(err, "parameter 4"));
    sample_init(&s);
    s.m.std = 0;
    assert_int_equal(enevo_model_save(tmp_path("bad.enevo"), &s.m, err, sizeof err), ENEVO_EINVAL);
    assert_int_equal(access(tmp_path("bad.enevo"), F_OK), -1);
}

static int count_entries(const char *dir, const char *prefix)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strncmp(e->d_name, prefix, strlen(prefix)) == 0)
            n++;
    closedir(d);
    return n;
}

static void write_atomic_leaves_no_temp_file(void **state)
{
    (void)state;
    char dir[512];
    snprintf(dir, sizeof dir, "%s/atomic", enevo_test_tmpdir());
    assert_int_equal(mkdir(dir, 0700), 0);
    char path[600];
    snprintf(path, sizeof path, "%s/ckpt.bin", dir);
    char err[ENEVO_ERR_LEN];
    assert_int_equal(enevo_write_atomic(path, "first", 5, err, sizeof err), 0);
    assert_int_equal(enevo_write_atomic(path, "second!", 7, err, sizeof err), 0);
    assert_int_equal(count_entries(dir, "ckpt.bin"), 1);
    size_t len;
    unsigned char *b = slurp(path, &len);
    assert_int_equal(len, 7);
    assert_memory_equal(b, "second!", 7);
    free(b);

    struct sample s;
    sample_init(&s);
    snprintf(path, sizeof path, "%s/m.enevo", dir);
    assert_int_equal(enevo_model_save(path, &s.m, err, sizeof err), 0);
    assert_int_equal(count_entries(dir, "m.enevo"), 1);

    /* A directory that does not exist: an I/O error naming the path. */
    snprintf(path, sizeof path, "%s/missing/x.bin", dir);
    assert_int_equal(enevo_write_atomic(path, "x", 1, err, sizeof err), ENEVO_EIO);
    assert_non_null(strstr(err, path));
    assert_non_null(strstr(err, "No such file"));
    /* Renaming onto a directory fails after the temp file exists: it is removed. */
    snprintf(path, sizeof path, "%s/sub", dir);
    assert_int_equal(mkdir(path, 0700), 0);
    char inner[700];
    snprintf(inner, sizeof inner, "%s/keep", path);
    spit(inner, (const unsigned char *)"k", 1);
    assert_int_equal(enevo_write_atomic(path, "x", 1, err, sizeof err), ENEVO_EIO);
    assert_non_null(strstr(err, "rename"));
    assert_int_equal(count_entries(dir, "sub"), 1);
}

const struct CMUnitTest enevo_tests_model[] = {
    cmocka_unit_test(model_round_trip_is_bit_exact),
    cmocka_unit_test(model_empty_blocks_round_trip),
    cmocka_unit_test(model_layout_is_little_endian_as_documented),
    cmocka_unit_test(model_flipped_byte_is_corrupt),
    cmocka_unit_test(model_truncated_and_short_files),
    cmocka_unit_test(model_wrong_magic_and_version),
    cmocka_unit_test(model_header_length_field),
    cmocka_unit_test(model_missing_file_names_the_path),
    cmocka_unit_test(model_rejects_nonfinite_and_nul),
    cmocka_unit_test(write_atomic_leaves_no_temp_file),
};
const size_t enevo_tests_model_count = ENEVO_COUNT(enevo_tests_model);
