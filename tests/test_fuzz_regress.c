/* tests/test_fuzz_regress.c — one test per bug the fuzzers (tests/fuzz/)
 * found or that their campaign brought to light, each on the reproducer
 * kept in tests/fuzz/corpus/<harness>/regress-* or on a file made here.
 *
 * Several bugs were allocations a small file only claimed (a header's size
 * taken at its word). Those tests run the reader in a child process whose
 * address space is capped 1 GiB above the parent's (RLIMIT_AS): the old code
 * failed there with "cannot allocate" instead of naming what is wrong with
 * the file. Under AddressSanitizer (whose shadow memory needs terabytes of
 * address space) the cap is left out and only the result is checked. */
#include "tests.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <png.h>

#include "data/data_internal.h"
#include "enevo/config.h"
#include "enevo/data.h"
#include "enevo/grammar.h"
#include "enevo/io.h"
#include "enevo/rng.h"
#include "evo/run_internal.h"
#include "report/report_internal.h"

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#ifndef UNDER_ASAN
#define UNDER_ASAN 0
#endif

/* ---- helpers ---- */

/* Runs fn(arg) in a child with at most 1 GiB more address space than this
 * process has now; returns fn's result (0..125), 126 when the child died.
 * fn must not use cmocka's asserts (they would jump inside the child). */
static int capped(int (*fn)(void *), void *arg)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        return 127;
    if (pid == 0) {
        if (!UNDER_ASAN) {
            long pages = 0;
            FILE *f = fopen("/proc/self/statm", "r");
            if (!f || fscanf(f, "%ld", &pages) != 1)
                _exit(125);
            fclose(f);
            rlim_t cap = (rlim_t)pages * (rlim_t)sysconf(_SC_PAGESIZE) + ((rlim_t)1 << 30);
            struct rlimit rl = {cap, cap};
            if (setrlimit(RLIMIT_AS, &rl))
                _exit(125);
        }
        _exit(fn(arg));
    }
    int st = 0;
    if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
        return 126;
    return WEXITSTATUS(st);
}

static void spit(const char *path, const void *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

static const char *tmp(const char *name)
{
    static char p[4][1024];
    static int k;
    k = (k + 1) % 4;
    snprintf(p[k], sizeof p[k], "%s/%s", enevo_test_tmpdir(), name);
    return p[k];
}

static void be32(unsigned char *b, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        b[i] = (unsigned char)(v >> (24 - 8 * i));
}

/* What a child reports: the status and the message, through a pipe-free
 * file (the child's memory is gone when it exits). */
struct outcome {
    const char *path; /* where the child writes "<rc>\n<message>" */
    const char *a, *b;
};

static int report(const struct outcome *o, int rc, const char *msg)
{
    FILE *f = fopen(o->path, "w");
    if (!f)
        return 124;
    fprintf(f, "%d\n%s", rc, msg);
    fclose(f);
    return 0;
}

/* The child's status and message (static buffer). */
static int outcome_read(const struct outcome *o, const char **msg)
{
    char *t = enevo_test_slurp(o->path);
    assert_non_null(t);
    static char m[ENEVO_ERR_LEN + 64];
    int rc = atoi(t);
    const char *nl = strchr(t, '\n');
    snprintf(m, sizeof m, "%s", nl ? nl + 1 : "");
    free(t);
    *msg = m;
    return rc;
}

/* ---- IDX: a 28-byte file claiming 4 Gi pixels (tests/fuzz/corpus/idx) ---- */

static int idx_child(void *arg)
{
    const struct outcome *o = arg;
    char err[ENEVO_ERR_LEN] = "";
    struct enevo_dataset d;
    memset(&d, 0, sizeof d);
    int rc = enevo_idx_load(o->a, o->b, &d, err, sizeof err);
    enevo_dataset_free(&d);
    return report(o, rc, err);
}

static void idx_claim(bool gz)
{
    unsigned char h[28] = {0};
    be32(h, 0x803);
    be32(h + 4, 65536); /* 65536 images of 256 x 256: 4 GiB of bytes, 16 GiB as floats */
    be32(h + 8, 256);
    be32(h + 12, 256);
    const char *img = tmp(gz ? "claim-images.gz" : "claim-images");
    if (gz) {
        gzFile z = gzopen(img, "wb");
        assert_non_null(z);
        assert_int_equal(gzwrite(z, h, sizeof h), (int)sizeof h);
        assert_int_equal(gzclose(z), Z_OK);
    } else {
        spit(img, h, sizeof h);
    }
    unsigned char lab[9] = {0};
    be32(lab, 0x801);
    be32(lab + 4, 1);
    const char *labels = tmp("claim-labels");
    spit(labels, lab, sizeof lab);
    struct outcome o = {tmp("claim-outcome"), img, labels};
    assert_int_equal(capped(idx_child, &o), 0);
    const char *msg;
    assert_int_equal(outcome_read(&o, &msg), ENEVO_EFORMAT);
    assert_non_null(strstr(msg, img));
    assert_non_null(strstr(msg, "truncated image data: expected 4294967296 bytes, got 12"));
}

/* load_images allocated dims product x 4 bytes before checking the file
 * held them: 16 GiB for this 28-byte file. */
static void idx_raw_header_claim_is_not_allocated(void **state)
{
    (void)state;
    idx_claim(false);
}

/* A .gz has no size to check against: the buffer grows as data arrives. */
static void idx_gzip_header_claim_is_not_allocated(void **state)
{
    (void)state;
    idx_claim(true);
}

/* The in-memory reader on the reproducers kept in the corpus. */
static void idx_corpus_reproducers(void **state)
{
    (void)state;
    const char *names[2] = {"tests/fuzz/corpus/idx/regress-claims-4gib",
                            "tests/fuzz/corpus/idx/regress-claims-4gib.gz"};
    for (int i = 0; i < 2; i++) {
        char *b;
        size_t n;
        assert_int_equal(enevo_read_file(names[i], 0, &b, &n, NULL, 0), 0);
        char err[ENEVO_ERR_LEN] = "";
        struct enevo_dataset d;
        memset(&d, 0, sizeof d);
        assert_int_equal(enevo__idx_images_mem((unsigned char *)b, n, names[i], i, &d, err,
                                               sizeof err),
                         ENEVO_EFORMAT);
        assert_non_null(strstr(err, "expected 4294967296 bytes, got 12"));
        assert_null(d.x);
        assert_null(d.u8);
        free(b);
    }
}

/* ---- stats.csv: cells were allocated for every line x every column ---- */

static int csv_child(void *arg)
{
    const struct outcome *o = arg;
    /* 16,400 commas in the header and 16,400 newlines: a 33 kB file for
     * which the table reserved 16,401 x 16,401 cell pointers (2.15 GB). */
    char *text;
    size_t n;
    if (enevo_read_file("tests/fuzz/corpus/stats/regress-header-commas-blank-lines.csv", 0, &text,
                        &n, NULL, 0))
        return 123;
    struct enevo__run r;
    memset(&r, 0, sizeof r);
    r.path = "regress/run";
    struct enevo__buf notes = {0};
    int rc = enevo__report_stats(&r, text, n, &notes);
    report(o, rc, notes.s ? notes.s : "");
    enevo__report_run_free(&r);
    enevo__buf_free(&notes);
    return 0;
}

static void stats_csv_lines_times_columns_not_reserved(void **state)
{
    (void)state;
    struct outcome o = {tmp("csv-outcome"), NULL, NULL};
    assert_int_equal(capped(csv_child, &o), 0);
    const char *msg;
    assert_int_equal(outcome_read(&o, &msg), 1); /* skipped, with a reason */
    assert_non_null(strstr(msg, "regress/run: stats.csv has no 'generation' column"));
}

/* A table keeps every well-formed row however many are malformed. */
static void stats_csv_rows_grow(void **state)
{
    (void)state;
    struct enevo__buf b = {0};
    enevo__buf_printf(&b, "generation,fitness\n");
    for (int i = 0; i < 1000; i++)
        if (i % 3)
            enevo__buf_printf(&b, "%d,%d\n", i, i);
        else
            enevo__buf_printf(&b, "bad\n");
    struct enevo__csv t;
    char err[ENEVO_ERR_LEN];
    assert_int_equal(enevo__csv_parse(b.s, &t, err, sizeof err), 0);
    assert_int_equal(t.nrows, 666);
    assert_int_equal(t.malformed, 334);
    assert_string_equal(enevo__csv_cell(&t, 665, 0), "998");
    assert_int_equal(t.line[665], 1000);
    enevo__csv_free(&t); /* frees b.s too */
}

/* ---- checkpoints: leaks on malformed files, messages without the file ---- */

struct ckpt_env {
    struct enevo_config cfg;
    struct enevo_grammar *g;
};

/* Loads tests/fuzz/corpus/checkpoint/<name> as fuzz_checkpoint.c does
 * (hashes and CRC made right), into a run of strategy `strategy`. */
static int load_archive_size(const char *name, int strategy, int archive_size, char *err,
                             size_t errlen)
{
    char path[512];
    snprintf(path, sizeof path, "tests/fuzz/corpus/checkpoint/%s", name);
    char *b;
    size_t n;
    assert_int_equal(enevo_read_file(path, 0, &b, &n, NULL, 0), 0);
    assert_true(n >= 32);
    uint64_t h[2] = {0x5eed5eed5eed5eedULL, 0x6a6a6a6a6a6a6a6aULL};
    memcpy(b + 12, h, sizeof h);
    uint32_t crc = (uint32_t)crc32(0L, (const unsigned char *)b, (uInt)(n - 4));
    memcpy(b + n - 4, &crc, 4);

    struct ckpt_env *e = calloc(1, sizeof *e);
    assert_non_null(e);
    enevo_config_defaults(&e->cfg);
    e->cfg.strategy = strategy;
    if (archive_size)
        e->cfg.archive_size = archive_size;
    assert_int_equal(enevo_grammar_parse(enevo_default_grammar_text(), "default.grammar", &e->g,
                                         err, errlen),
                     0);
    struct run *r = calloc(1, sizeof *r);
    assert_non_null(r);
    r->c = &e->cfg;
    r->cfg_hash = h[0];
    r->gram_hash = h[1];
    assert_int_equal(enevo_space_init(&r->space, &e->cfg, e->g, err, errlen), 0);
    assert_int_equal(enevo_archive_init(&r->archive, e->cfg.n_modules,
                                        e->cfg.archive_size > 0 ? e->cfg.archive_size : 1),
                     0);
    err[0] = 0;
    int rc = enevo__load_checkpoint_mem(r, path, (unsigned char *)b, n, err, errlen);
    enevo__indiv_free(&r->parent);
    for (size_t i = 0; i < sizeof r->pop / sizeof r->pop[0]; i++)
        enevo__indiv_free(&r->pop[i]);
    for (int i = 0; i < ENEVO__POP_MAX; i++)
        enevo__indiv_free(&r->surv[i]);
    for (int i = 0; i < r->n_front; i++)
        enevo__indiv_free(&r->front[i]);
    free(r->front);
    enevo_archive_free(&r->archive);
    free(r);
    enevo_grammar_free(e->g);
    free(e);
    free(b);
    return rc;
}

static int load_reproducer(const char *name, int strategy, char *err, size_t errlen)
{
    return load_archive_size(name, strategy, 0, err, errlen);
}

/* An NSGA-II front entry cut off inside its genotype: the half-read entry
 * was not counted in n_front, so nothing freed it (LeakSanitizer in `make
 * asan`), and the error had no message. */
static void checkpoint_cut_front_entry(void **state)
{
    (void)state;
    char err[ENEVO_ERR_LEN];
    int rc = load_reproducer("regress-leak-front-entry.ckpt", ENEVO_STRATEGY_NSGA2, err,
                             sizeof err);
    assert_int_equal(rc, ENEVO_EFORMAT);
    assert_non_null(strstr(err, "regress-leak-front-entry.ckpt: malformed checkpoint: "));
    assert_true(strlen(err) > strlen("regress-leak-front-entry.ckpt: malformed checkpoint: ") + 40);
}

/* An archived module of the wrong type: read, refused, never freed. */
static void checkpoint_archive_entry_of_another_type(void **state)
{
    (void)state;
    char err[ENEVO_ERR_LEN];
    int rc = load_reproducer("regress-leak-archive-type.ckpt", ENEVO_STRATEGY_ONE_PLUS_LAMBDA,
                             err, sizeof err);
    assert_int_equal(rc, ENEVO_EFORMAT);
    assert_non_null(strstr(err, "regress-leak-archive-type.ckpt: malformed checkpoint: "));
    assert_non_null(strstr(err, "module archive"));
}

/* The generated seeds load: the reader accepts what the writer writes. */
static void checkpoint_seeds_load(void **state)
{
    (void)state;
    char err[ENEVO_ERR_LEN];
    assert_int_equal(load_reproducer("es-2.ckpt", ENEVO_STRATEGY_ONE_PLUS_LAMBDA, err, sizeof err),
                     0);
    assert_int_equal(load_reproducer("es-1-v1.ckpt", ENEVO_STRATEGY_ONE_PLUS_LAMBDA, err,
                                     sizeof err),
                     0);
    assert_int_equal(load_reproducer("nsga2-2.ckpt", ENEVO_STRATEGY_NSGA2, err, sizeof err), 0);
    /* A checkpoint of the other strategy is refused: the config decides. */
    assert_int_equal(load_reproducer("es-2.ckpt", ENEVO_STRATEGY_NSGA2, err, sizeof err),
                     ENEVO_EINVAL);
}

/* The module archive's capacity was read from the file (up to a million
 * entries for each of 8 types: 384 MB reserved on a 4-byte claim); it is
 * the config's archive_size, which the config hash already guards. */
static void checkpoint_archive_capacity_is_the_configs(void **state)
{
    (void)state;
    char err[ENEVO_ERR_LEN];
    struct enevo_config c;
    enevo_config_defaults(&c);
    int rc = load_archive_size("es-2.ckpt", ENEVO_STRATEGY_ONE_PLUS_LAMBDA, c.archive_size + 1,
                               err, sizeof err);
    assert_int_equal(rc, ENEVO_EFORMAT);
    char want[160];
    snprintf(want, sizeof want, "%d entries each, the config says %d and %d", c.archive_size,
             c.n_modules, c.archive_size + 1);
    assert_non_null(strstr(err, want));
}

/* ---- image folders: one large image reserved room for 256 ---- */

/* enevo_data_open(o->a) with floats; the outcome says the train set's shape. */
static int folder_child(void *arg)
{
    const struct outcome *o = arg;
    char err[ENEVO_ERR_LEN] = "";
    struct enevo_data d;
    memset(&d, 0, sizeof d);
    struct enevo_data_opts opts = enevo_data_opts_default();
    opts.u8 = false;
    int rc = enevo_data_open(o->a, &opts, &d, err, sizeof err);
    if (!rc)
        snprintf(err, sizeof err, "%d images of %dx%dx%d", d.train.n, d.train.c, d.train.h,
                 d.train.w);
    enevo_data_free(&d);
    return report(o, rc, err);
}

static void write_png(const char *path, int w, int h)
{
    png_image im;
    memset(&im, 0, sizeof im);
    im.version = PNG_IMAGE_VERSION;
    im.width = (png_uint_32)w;
    im.height = (png_uint_32)h;
    im.format = PNG_FORMAT_RGB;
    unsigned char *px = malloc(PNG_IMAGE_SIZE(im));
    assert_non_null(px);
    for (size_t i = 0; i < PNG_IMAGE_SIZE(im); i++)
        px[i] = (unsigned char)(i % 251);
    assert_true(png_image_write_to_file(&im, path, 0, px, 0, NULL));
    free(px);
}

/* The folder reader grew its image array from room for 256 images: one
 * 1024 x 1024 colour image asked for 256 x 12 MiB = 3 GiB at once. */
static void folder_large_image_reserves_little(void **state)
{
    (void)state;
    const char *root = tmp("bigimg");
    char p[1200];
    snprintf(p, sizeof p, "rm -rf '%s' && mkdir -p '%s/train/a' '%s/test/a'", root, root, root);
    assert_int_equal(system(p), 0);
    snprintf(p, sizeof p, "%s/train/a/0.png", root);
    write_png(p, 1024, 1024);
    snprintf(p, sizeof p, "%s/test/a/0.png", root);
    write_png(p, 1024, 1024);
    char spec[1200];
    snprintf(spec, sizeof spec, "folder:%s", root);
    struct outcome o = {tmp("folder-outcome"), spec, NULL};
    assert_int_equal(capped(folder_child, &o), 0);
    const char *msg;
    int rc = outcome_read(&o, &msg);
    if (rc)
        print_message("%s\n", msg);
    assert_int_equal(rc, 0);
    assert_string_equal(msg, "1 images of 3x1024x1024");
}

/* A PNG header claiming 16384 x 16000 pixels and no data: refused by size
 * before its 786 MB buffer is allocated. */
static void image_size_claim_refused(void **state)
{
    (void)state;
    static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    unsigned char b[8 + 25 + 12];
    memcpy(b, sig, 8);
    unsigned char *c = b + 8;
    be32(c, 13);
    memcpy(c + 4, "IHDR", 4);
    be32(c + 8, 16384);
    be32(c + 12, 16000);
    c[16] = 8; /* depth */
    c[17] = 2; /* RGB */
    c[18] = c[19] = c[20] = 0;
    be32(c + 21, (uint32_t)crc32(0L, c + 4, 17));
    unsigned char *idat = c + 25; /* an empty IDAT: the header ends, no data follows */
    be32(idat, 0);
    memcpy(idat + 4, "IDAT", 4);
    be32(idat + 8, (uint32_t)crc32(0L, idat + 4, 4));
    char err[ENEVO_ERR_LEN] = "";
    unsigned char *px = NULL;
    int ch, h, w;
    assert_int_equal(enevo__image_decode_mem(b, sizeof b, "huge.png", &px, &ch, &h, &w, err,
                                             sizeof err),
                     ENEVO_EFORMAT);
    assert_non_null(strstr(err, "huge.png: 16384x16000 pixels is too large"));
    assert_null(px);
}

/* ---- .npz: a deflated member's claimed size was allocated up front ---- */

static int npz_child(void *arg)
{
    const struct outcome *o = arg;
    char *b;
    size_t n;
    if (enevo_read_file(o->a, 0, &b, &n, NULL, 0))
        return 122;
    char err[ENEVO_ERR_LEN] = "";
    struct enevo_data d;
    memset(&d, 0, sizeof d);
    struct enevo_data_opts opts = enevo_data_opts_default();
    int rc = enevo__npz_mem((unsigned char *)b, n, o->a, &opts, &d, err, sizeof err);
    enevo_data_free(&d);
    free(b);
    return report(o, rc, err);
}

static void put16(unsigned char *b, unsigned v)
{
    b[0] = (unsigned char)v;
    b[1] = (unsigned char)(v >> 8);
}
static void put32(unsigned char *b, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        b[i] = (unsigned char)(v >> (8 * i));
}

/* 2 MB of a deflate stream that ends after a few bytes, claiming the most
 * the ratio check lets through (1032 x 2 MB = 2 GB). */
static void npz_deflate_claim_is_not_allocated(void **state)
{
    (void)state;
    size_t csize = (size_t)2 << 20;
    uint64_t usize = 1032 * (uint64_t)csize;
    const char *name = "x_train.npy";
    size_t nl = strlen(name), total = 30 + nl + csize + 46 + nl + 22;
    unsigned char *b = calloc(total, 1);
    assert_non_null(b);
    unsigned char *h = b;
    put32(h, 0x04034b50u);
    put16(h + 4, 20);
    put16(h + 8, 8);
    put32(h + 18, (uint32_t)csize);
    put32(h + 22, (uint32_t)usize);
    put16(h + 26, (unsigned)nl);
    memcpy(h + 30, name, nl);
    /* A stored deflate block of 5 bytes, final: the stream ends there. */
    unsigned char *d = h + 30 + nl;
    d[0] = 1;
    put16(d + 1, 5);
    put16(d + 3, 0xfffa);
    memcpy(d + 5, "hello", 5);
    unsigned char *c = d + csize;
    put32(c, 0x02014b50u);
    put16(c + 10, 8);
    put32(c + 20, (uint32_t)csize);
    put32(c + 24, (uint32_t)usize);
    put16(c + 28, (unsigned)nl);
    memcpy(c + 46, name, nl);
    unsigned char *e = c + 46 + nl;
    put32(e, 0x06054b50u);
    put16(e + 8, 1);
    put16(e + 10, 1);
    put32(e + 12, (uint32_t)(46 + nl));
    put32(e + 16, (uint32_t)(c - b));
    const char *path = tmp("claim.npz");
    spit(path, b, total);
    free(b);
    struct outcome o = {tmp("npz-outcome"), path, NULL};
    assert_int_equal(capped(npz_child, &o), 0);
    const char *msg;
    assert_int_equal(outcome_read(&o, &msg), ENEVO_EFORMAT);
    char want[128];
    snprintf(want, sizeof want, "x_train.npy: corrupt deflate data (5 of %llu bytes)",
             (unsigned long long)usize);
    assert_non_null(strstr(msg, want));
}

/* A zip64 locator in a file shorter than the 56-byte zip64 record: the
 * bound `z > len - 56` wrapped around and the record was read anywhere
 * (a SEGV under ASan). The reader runs in a child, so a regression fails
 * this test instead of killing the suite. */
static void npz_zip64_locator_in_short_file(void **state)
{
    (void)state;
    char spec[600];
    snprintf(spec, sizeof spec, "npz:%s",
             "tests/fuzz/corpus/npz/regress-zip64-locator-short-file.npz");
    struct outcome o = {tmp("zip64-outcome"), spec, NULL};
    assert_int_equal(capped(folder_child, &o), 0); /* enevo_data_open on the spec */
    const char *msg;
    assert_int_equal(outcome_read(&o, &msg), ENEVO_EFORMAT);
    assert_non_null(
        strstr(msg, "regress-zip64-locator-short-file.npz: bad zip64 directory record"));
}

/* ---- config: the canonical YAML must read back ---- */

/* parse(text) over the defaults, format, parse again: the same config
 * text both times. */
static void config_round_trip(const char *text, const char *want_in_canonical)
{
    char err[ENEVO_ERR_LEN];
    struct enevo_config *c = malloc(sizeof *c), *d = malloc(sizeof *d);
    assert_non_null(c);
    assert_non_null(d);
    enevo_config_defaults(c);
    if (enevo_config_parse(text, "in.yaml", c, NULL, err, sizeof err))
        fail_msg("%s", err);
    char *f = enevo_config_format(c);
    assert_non_null(f);
    if (want_in_canonical && !strstr(f, want_in_canonical))
        fail_msg("'%s' not in:\n%s", want_in_canonical, f);
    enevo_config_defaults(d);
    if (enevo_config_parse(f, "canonical", d, NULL, err, sizeof err))
        fail_msg("the canonical text does not parse back: %s\n%s", err, f);
    char *g = enevo_config_format(d);
    assert_non_null(g);
    assert_string_equal(f, g);
    free(g);
    free(f);
    free(d);
    free(c);
}

/* A macro_structure name with a ']' was written bare into a flow list
 * ([l]arning, ...]): config.used.yaml could not be read back, so such a
 * run could not resume. Names YAML cannot take bare are quoted now. */
static void config_names_are_quoted_when_needed(void **state)
{
    (void)state;
    char *t = enevo_test_slurp("tests/fuzz/corpus/config/regress-macro-name-bracket.yaml");
    assert_non_null(t);
    config_round_trip(t, "macro_structure: [\"l]arning\", model_partition]");
    free(t);
    config_round_trip("network:\n  architecture:\n    output: \"out # put\"\n"
                      "    modules:\n      - name: \"a, \\\"b\\\": c\\u00e9\\t\"\n"
                      "        network_structure_init: [1]\n        network_structure: [1, 2]\n"
                      "        levels_back: 1\n",
                      "name: \"a, \\\"b\\\": c\\u00e9\\u0009\"");
    /* Every name of the default config stays bare: its canonical text, and
     * the hash a resume checks, are what they were. */
    config_round_trip("threads: 1\n", "macro_structure: [learning]\n    output: softmax\n");
}

/* A seed phenotype whose first line starts with a space broke the literal
 * block it was written in; it is written double-quoted instead. */
static void config_seed_phenotype_leading_space(void **state)
{
    (void)state;
    config_round_trip("energize:\n  seed_model:\n    phenotype: \"  layer:fc act:softmax "
                      "out_features:10 bias:True input:-1\\nlearning:adam\"\n",
                      "phenotype: \"  layer:fc");
    config_round_trip("energize:\n  seed_model:\n    phenotype: \"layer:fc act:softmax "
                      "out_features:10 bias:True input:-1\\n  learning:adam\"\n",
                      "    phenotype: |\n      layer:fc");
}

/* ---- grammars: every value a derivation draws must survive a checkpoint ---- */

static int grammar_error(const char *text, char *err, size_t errlen)
{
    struct enevo_grammar *g = NULL;
    int rc = enevo_grammar_parse(text, "g", &g, err, errlen);
    enevo_grammar_free(g);
    return rc;
}

/* An int bound of 20e48 was accepted, derivations drew values the
 * checkpoint reader refuses (ints beyond 9e15), so a run could checkpoint
 * but not resume. Bounds a checkpoint cannot hold are refused at parse. */
static void grammar_bounds_a_checkpoint_can_hold(void **state)
{
    (void)state;
    char err[ENEVO_ERR_LEN];
    char *t = enevo_test_slurp("tests/fuzz/corpus/grammar/regress-int-bound-beyond-9e15.grammar");
    assert_non_null(t);
    assert_int_equal(grammar_error(t, err, sizeof err), ENEVO_EFORMAT);
    assert_non_null(strstr(err, "max bound '20e48' is beyond +-9e15 for type int"));
    free(t);
    assert_int_equal(grammar_error("<a> ::= [x,int,1,-1e16,0]\n", err, sizeof err), ENEVO_EFORMAT);
    assert_non_null(strstr(err, "g:1:"));
    assert_int_equal(grammar_error("<a> ::= [x,int_power2,1,0,2000]\n", err, sizeof err),
                     ENEVO_EFORMAT);
    assert_non_null(strstr(err, "beyond +-1023"));
    assert_int_equal(grammar_error("<a> ::= [x,float,1,-1e308,1e308]\n", err, sizeof err),
                     ENEVO_EFORMAT);
    assert_non_null(strstr(err, "too wide"));

    /* At the limits, a derivation's encoding reads back. */
    const char *ok = "<a> ::= [x,int,2,-9e15,9e15] [y,int_power2,1,-1023,1023] "
                     "[z,inv_power2,1,-1023,1023] [w,float,1,-1e307,1e307]\n";
    struct enevo_grammar *g = NULL;
    assert_int_equal(enevo_grammar_parse(ok, "g", &g, err, sizeof err), 0);
    enevo_rng r;
    enevo_rng_seed(&r, 3, 0);
    for (int i = 0; i < 50; i++) {
        struct enevo_dsge *d = NULL, *back = NULL;
        assert_int_equal(enevo_dsge_random(g, 0, NULL, 0, &r, &d), 0);
        unsigned char *buf = NULL;
        size_t len = 0, cap = 0, pos = 0;
        assert_int_equal(enevo_dsge_write(d, &buf, &len, &cap), 0);
        if (enevo_dsge_read(g, buf, len, &pos, &back, err, sizeof err))
            fail_msg("%s", err);
        enevo_dsge_free(back);
        enevo_dsge_free(d);
        free(buf);
    }
    enevo_grammar_free(g);
}

const struct CMUnitTest enevo_tests_fuzz_regress[] = {
    cmocka_unit_test(idx_raw_header_claim_is_not_allocated),
    cmocka_unit_test(idx_gzip_header_claim_is_not_allocated),
    cmocka_unit_test(idx_corpus_reproducers),
    cmocka_unit_test(stats_csv_lines_times_columns_not_reserved),
    cmocka_unit_test(stats_csv_rows_grow),
    cmocka_unit_test(checkpoint_cut_front_entry),
    cmocka_unit_test(checkpoint_archive_entry_of_another_type),
    cmocka_unit_test(checkpoint_seeds_load),
    cmocka_unit_test(checkpoint_archive_capacity_is_the_configs),
    cmocka_unit_test(folder_large_image_reserves_little),
    cmocka_unit_test(image_size_claim_refused),
    cmocka_unit_test(npz_deflate_claim_is_not_allocated),
    cmocka_unit_test(npz_zip64_locator_in_short_file),
    cmocka_unit_test(config_names_are_quoted_when_needed),
    cmocka_unit_test(config_seed_phenotype_leading_space),
    cmocka_unit_test(grammar_bounds_a_checkpoint_can_hold),
};
const size_t enevo_tests_fuzz_regress_count = ENEVO_COUNT(enevo_tests_fuzz_regress);
