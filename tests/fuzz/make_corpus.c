/* tests/fuzz/make_corpus.c — writes the binary seeds of the fuzz corpora
 * with the project's own writers (and libpng, libjpeg, zlib for the data
 * formats enevo only reads): small IDX files raw and gzipped, CIFAR batches,
 * .npy pairs and .npz archives, PNG and JPEG images, model files and
 * checkpoints. Run by tests/fuzz/make_corpus.sh (`make fuzz-corpus`); the
 * results are checked in, so a change here shows in the corpus diff.
 *
 *     make_corpus OUT_DIR    (writes OUT_DIR/<harness>/<seed>)
 *
 * Every value comes from a fixed seed: the files are the same bytes on
 * every run. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include <jpeglib.h> /* after stdio.h, which it needs */
#include <png.h>

#include "enevo/config.h"
#include "enevo/grammar.h"
#include "enevo/model.h"
#include "enevo/phenotype.h"
#include "enevo/rng.h"
#include "evo/evo_internal.h"
#include "evo/run_internal.h"
#include "nn/plan.h"

static const char *out_dir;

static void die(const char *what, const char *detail)
{
    fprintf(stderr, "make_corpus: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
    exit(1);
}

static const char *path(const char *harness, const char *name)
{
    static char p[4096];
    snprintf(p, sizeof p, "%s/%s", out_dir, harness);
    mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/%s/%s", out_dir, harness, name);
    return p;
}

static void spit(const char *harness, const char *name, const void *b, size_t n)
{
    FILE *f = fopen(path(harness, name), "wb");
    if (!f || fwrite(b, 1, n, f) != n || fclose(f))
        die("cannot write", name);
}

/* The gzip stream of b[0..n) (malloc'd) in *len. */
static unsigned char *gzip(const unsigned char *b, size_t n, size_t *len)
{
    z_stream zs = {0};
    if (deflateInit2(&zs, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        die("deflateInit2", NULL);
    size_t cap = deflateBound(&zs, (uLong)n);
    unsigned char *out = malloc(cap);
    zs.next_in = (unsigned char *)b;
    zs.avail_in = (uInt)n;
    zs.next_out = out;
    zs.avail_out = (uInt)cap;
    if (deflate(&zs, Z_FINISH) != Z_STREAM_END)
        die("deflate", NULL);
    *len = zs.total_out;
    deflateEnd(&zs);
    return out;
}

/* Raw deflate (a zip member's data). */
static unsigned char *deflate_raw(const unsigned char *b, size_t n, size_t *len)
{
    z_stream zs = {0};
    if (deflateInit2(&zs, 9, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        die("deflateInit2", NULL);
    size_t cap = deflateBound(&zs, (uLong)n);
    unsigned char *out = malloc(cap);
    zs.next_in = (unsigned char *)b;
    zs.avail_in = (uInt)n;
    zs.next_out = out;
    zs.avail_out = (uInt)cap;
    if (deflate(&zs, Z_FINISH) != Z_STREAM_END)
        die("deflate", NULL);
    *len = zs.total_out;
    deflateEnd(&zs);
    return out;
}

static void be32(unsigned char *b, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        b[i] = (unsigned char)(v >> (24 - 8 * i));
}

/* ---- IDX ---- */

static void idx(void)
{
    enevo_rng r;
    enevo_rng_seed(&r, 1, 0);
    enum { N = 3, H = 6, W = 5 };
    unsigned char img[16 + N * H * W], lab[8 + N];
    be32(img, 0x803);
    be32(img + 4, N);
    be32(img + 8, H);
    be32(img + 12, W);
    for (int i = 0; i < N * H * W; i++)
        img[16 + i] = (unsigned char)enevo_rng_below(&r, 256);
    be32(lab, 0x801);
    be32(lab + 4, N);
    for (int i = 0; i < N; i++)
        lab[8 + i] = (unsigned char)i;
    spit("idx", "images-3x6x5", img, sizeof img);
    spit("idx", "labels-3", lab, sizeof lab);
    size_t n;
    unsigned char *z = gzip(img, sizeof img, &n);
    spit("idx", "images-3x6x5.gz", z, n);
    /* Two gzip members end to end: what gzread (and enevo) reads as one. */
    size_t n2;
    unsigned char *z1 = gzip(img, 20, &n), *z2 = gzip(img + 20, sizeof img - 20, &n2);
    unsigned char *both = malloc(n + n2);
    memcpy(both, z1, n);
    memcpy(both + n, z2, n2);
    spit("idx", "images-two-members.gz", both, n + n2);
    free(both);
    free(z1);
    free(z2);
    free(z);
    z = gzip(lab, sizeof lab, &n);
    spit("idx", "labels-3.gz", z, n);
    free(z);
    /* One 28x28 image of zeros, compressed (the Fashion-MNIST shape). */
    unsigned char one[16 + 28 * 28] = {0};
    be32(one, 0x803);
    be32(one + 4, 1);
    be32(one + 8, 28);
    be32(one + 12, 28);
    z = gzip(one, sizeof one, &n);
    spit("idx", "images-1x28x28.gz", z, n);
    free(z);
}

/* ---- CIFAR ---- */

static void cifar(void)
{
    for (int lb = 1; lb <= 2; lb++) {
        size_t rec = (size_t)lb + 3072;
        unsigned char *b = malloc(2 * rec);
        for (int i = 0; i < 2; i++) {
            unsigned char *p = b + (size_t)i * rec;
            p[0] = (unsigned char)(i + 3);
            if (lb == 2)
                p[1] = (unsigned char)(i * 40 + 7);
            for (int k = 0; k < 3072; k++)
                p[lb + k] = (unsigned char)((k * 7 + i * 13) & 255);
        }
        spit("cifar", lb == 1 ? "cifar10-2-records.bin" : "cifar100-2-records.bin", b, 2 * rec);
        free(b);
    }
}

/* ---- NumPy ---- */

/* An .npy (version 1) of `descr` and `shape` with n data bytes. */
static unsigned char *npy(const char *descr, const char *shape, const void *data, size_t n,
                          size_t *len)
{
    char h[256];
    int k = snprintf(h, sizeof h, "{'descr': '%s', 'fortran_order': False, 'shape': %s, }",
                     descr, shape);
    size_t hl = (size_t)k + 1;
    while ((10 + hl) % 64)
        hl++;
    unsigned char *b = malloc(10 + hl + n);
    memcpy(b, "\x93NUMPY\x01\x00", 8);
    b[8] = (unsigned char)(hl & 255);
    b[9] = (unsigned char)(hl >> 8);
    memset(b + 10, ' ', hl);
    memcpy(b + 10, h, (size_t)k);
    b[10 + hl - 1] = '\n';
    memcpy(b + 10 + hl, data, n);
    *len = 10 + hl + n;
    return b;
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

struct member {
    const char *name;
    const unsigned char *data;
    size_t len;
};

/* A zip of the members, stored or deflated, as numpy's savez writes. */
static unsigned char *zip(const struct member *m, int n, bool deflated, size_t *len)
{
    size_t cap = 1024;
    for (int i = 0; i < n; i++)
        cap += 2 * m[i].len + 200;
    unsigned char *b = calloc(1, cap), *cd = calloc(1, 1024);
    size_t pos = 0, cdl = 0;
    for (int i = 0; i < n; i++) {
        size_t zl = m[i].len;
        unsigned char *z = deflated ? deflate_raw(m[i].data, m[i].len, &zl) : NULL;
        const unsigned char *d = z ? z : m[i].data;
        uint32_t crc = (uint32_t)crc32(0L, m[i].data, (uInt)m[i].len);
        size_t nl = strlen(m[i].name), off = pos;
        unsigned char *h = b + pos;
        put32(h, 0x04034b50u);
        put16(h + 4, 20);
        put16(h + 8, deflated ? 8 : 0);
        put32(h + 14, crc);
        put32(h + 18, (uint32_t)zl);
        put32(h + 22, (uint32_t)m[i].len);
        put16(h + 26, (unsigned)nl);
        memcpy(h + 30, m[i].name, nl);
        memcpy(h + 30 + nl, d, zl);
        pos += 30 + nl + zl;
        unsigned char *c = cd + cdl;
        put32(c, 0x02014b50u);
        put16(c + 4, 20);
        put16(c + 6, 20);
        put16(c + 10, deflated ? 8 : 0);
        put32(c + 16, crc);
        put32(c + 20, (uint32_t)zl);
        put32(c + 24, (uint32_t)m[i].len);
        put16(c + 28, (unsigned)nl);
        put32(c + 42, (uint32_t)off);
        memcpy(c + 46, m[i].name, nl);
        cdl += 46 + nl;
        free(z);
    }
    memcpy(b + pos, cd, cdl);
    unsigned char *e = b + pos + cdl;
    put32(e, 0x06054b50u);
    put16(e + 8, (unsigned)n);
    put16(e + 10, (unsigned)n);
    put32(e + 12, (uint32_t)cdl);
    put32(e + 16, (uint32_t)pos);
    *len = pos + cdl + 22;
    free(cd);
    return b;
}

static void numpy(void)
{
    unsigned char x[2 * 4 * 4], y[2] = {1, 0};
    for (size_t i = 0; i < sizeof x; i++)
        x[i] = (unsigned char)(i * 9);
    float xf[2 * 3 * 2 * 2];
    for (size_t i = 0; i < sizeof xf / sizeof xf[0]; i++)
        xf[i] = (float)i / 7.0f;
    int64_t y8[2] = {3, 1};
    size_t lx, ly, lf, l8;
    unsigned char *bx = npy("|u1", "(2, 4, 4)", x, sizeof x, &lx);
    unsigned char *by = npy("|u1", "(2,)", y, sizeof y, &ly);
    unsigned char *bf = npy("<f4", "(2, 3, 2, 2)", xf, sizeof xf, &lf);
    unsigned char *b8 = npy("<i8", "(2, 1)", y8, sizeof y8, &l8);
    /* The npy harness reads images then labels, end to end. */
    unsigned char *pair = malloc(lx + ly + lf + l8);
    memcpy(pair, bx, lx);
    memcpy(pair + lx, by, ly);
    spit("npy", "u1-nhw+u1", pair, lx + ly);
    memcpy(pair, bf, lf);
    memcpy(pair + lf, b8, l8);
    spit("npy", "f4-nchw+i8", pair, lf + l8);
    free(pair);
    struct member m[4] = {{"x_train.npy", bx, lx}, {"y_train.npy", by, ly},
                          {"x_test.npy", bx, lx}, {"y_test.npy", by, ly}};
    size_t n;
    unsigned char *z = zip(m, 4, false, &n);
    spit("npz", "stored.npz", z, n);
    free(z);
    struct member mf[4] = {{"x_train.npy", bf, lf}, {"y_train.npy", b8, l8},
                           {"x_test.npy", bf, lf}, {"y_test.npy", b8, l8}};
    z = zip(mf, 4, true, &n);
    spit("npz", "deflated-f4.npz", z, n);
    free(z);
    free(bx);
    free(by);
    free(bf);
    free(b8);
}

/* ---- PNG and JPEG ---- */

static void png(const char *name, int w, int h, png_uint_32 format)
{
    png_image im;
    memset(&im, 0, sizeof im);
    im.version = PNG_IMAGE_VERSION;
    im.width = (png_uint_32)w;
    im.height = (png_uint_32)h;
    im.format = format;
    size_t n = PNG_IMAGE_SIZE(im);
    unsigned char *px = malloc(n);
    for (size_t i = 0; i < n; i++)
        px[i] = (unsigned char)(i * 37 + (i / 3) * 5);
    png_alloc_size_t len = 0;
    if (!png_image_write_to_memory(&im, NULL, &len, 0, px, 0, NULL))
        die("png size", im.message);
    unsigned char *out = malloc(len);
    if (!png_image_write_to_memory(&im, out, &len, 0, px, 0, NULL))
        die("png write", im.message);
    spit("image", name, out, len);
    free(out);
    free(px);
}

static void jpeg(const char *name, int w, int h, int comps, bool progressive)
{
    struct jpeg_compress_struct ci;
    struct jpeg_error_mgr je;
    ci.err = jpeg_std_error(&je);
    jpeg_create_compress(&ci);
    unsigned char *out = NULL;
    unsigned long len = 0;
    jpeg_mem_dest(&ci, &out, &len);
    ci.image_width = (JDIMENSION)w;
    ci.image_height = (JDIMENSION)h;
    ci.input_components = comps;
    ci.in_color_space = comps == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(&ci);
    jpeg_set_quality(&ci, 50, TRUE);
    if (progressive)
        jpeg_simple_progression(&ci);
    jpeg_start_compress(&ci, TRUE);
    unsigned char *row = malloc((size_t)w * (size_t)comps);
    while (ci.next_scanline < ci.image_height) {
        for (int i = 0; i < w * comps; i++)
            row[i] = (unsigned char)(i * 11 + (int)ci.next_scanline * 17);
        JSAMPROW r = row;
        jpeg_write_scanlines(&ci, &r, 1);
    }
    jpeg_finish_compress(&ci);
    jpeg_destroy_compress(&ci);
    spit("image", name, out, len);
    free(row);
    free(out);
}

static void images(void)
{
    png("grey-8x6.png", 8, 6, PNG_FORMAT_GRAY);
    png("rgb-5x7.png", 5, 7, PNG_FORMAT_RGB);
    png("rgba-4x4.png", 4, 4, PNG_FORMAT_RGBA);
    png("grey-alpha-3x3.png", 3, 3, PNG_FORMAT_GA);
    jpeg("grey-8x8.jpg", 8, 8, 1, false);
    jpeg("rgb-16x9.jpg", 16, 9, 3, false);
    jpeg("rgb-12x12-progressive.jpg", 12, 12, 3, true);
}

/* ---- model files ---- */

static void model(const char *name, const char *phen, int c, int h, int w, int classes,
                  bool per_channel)
{
    char err[ENEVO_ERR_LEN];
    struct enevo_phenotype p;
    if (enevo_phenotype_parse(phen, name, &p, err, sizeof err))
        die("phenotype", err);
    struct enevo_plan plan;
    if (enevo_plan_build(&p, (struct enevo_shape){c, h, w}, classes, &plan, err, sizeof err))
        die("plan", err);
    struct enevo_model_file m;
    memset(&m, 0, sizeof m);
    m.in_c = c;
    m.in_h = h;
    m.in_w = w;
    m.n_classes = classes;
    m.mean = 0.25f;
    m.std = 0.5f;
    if (per_channel) {
        m.norm_c = c;
        for (int k = 0; k < c; k++) {
            m.ch_mean[k] = 0.1f * (float)(k + 1);
            m.ch_std[k] = 0.2f * (float)(k + 1);
        }
    }
    m.phenotype = (char *)phen;
    m.n_params = plan.n_params;
    m.n_stats = plan.n_stats;
    m.params = calloc(m.n_params + 1, sizeof(float));
    m.stats = calloc(m.n_stats + 1, sizeof(float));
    for (size_t i = 0; i < m.n_params; i++)
        m.params[i] = (float)((int)(i % 17) - 8) / 16.0f;
    for (size_t i = 0; i < m.n_stats; i++)
        m.stats[i] = 1.0f;
    if (enevo_model_save(path("model", name), &m, err, sizeof err))
        die("model", err);
    free(m.params);
    free(m.stats);
    enevo_plan_free(&plan);
    enevo_phenotype_free(&p);
}

static void models(void)
{
    model("conv-pool-fc.enevo",
          "layer:conv out_channels:4 kernel_size:3 stride:1 padding:same act:relu bias:True "
          "input:-1\nlayer:pool_max kernel_size:2 stride:2 padding:valid input:0\n"
          "layer:fc act:softmax out_features:10 bias:True input:1\n"
          "learning:gradient_descent lr:0.01 momentum:0.9 weight_decay:0 nesterov:False "
          "early_stop:5 batch_size:64 epochs:10\n",
          1, 8, 8, 10, false);
    model("bn-dropout-merge-rgb.enevo",
          "layer:conv out_channels:3 kernel_size:2 stride:2 padding:valid act:linear bias:False "
          "input:-1\nlayer:batch_norm input:0\nlayer:conv out_channels:2 kernel_size:1 stride:1 "
          "padding:same act:sigmoid bias:True input:1,-1\nlayer:pool_avg kernel_size:2 stride:2 "
          "padding:same input:2\nlayer:dropout rate:0.5 input:3\n"
          "layer:fc act:linear out_features:4 bias:True input:4\n"
          "learning:adam lr:0.001 beta1:0.9 beta2:0.999 weight_decay:0 early_stop:3 "
          "batch_size:32 epochs:2\n",
          3, 6, 6, 4, true);
    model("partition.enevo",
          "layer:conv out_channels:2 kernel_size:3 stride:1 padding:valid act:relu bias:True "
          "input:-1\nlayer:fc act:relu out_features:6 bias:True input:0\n"
          "layer:fc act:softmax out_features:10 bias:True input:1\n"
          "model_partition:True partition_point:0 weight:0.5\n",
          1, 5, 5, 10, false);
}

/* ---- checkpoints ---- */

static void checkpoint(const char *name, int strategy, int n_indiv, bool v1)
{
    char err[ENEVO_ERR_LEN];
    struct enevo_config *c = malloc(sizeof *c);
    enevo_config_defaults(c);
    c->strategy = strategy;
    struct enevo_grammar *g;
    if (enevo_grammar_parse(enevo_default_grammar_text(), "default.grammar", &g, err, sizeof err))
        die("grammar", err);
    struct run *r = calloc(1, sizeof *r);
    r->c = c;
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/checkpoint.tmp", out_dir);
    mkdir(dir, 0755);
    r->dir = dir;
    r->cfg_hash = 0x5eed5eed5eed5eedULL; /* what fuzz_checkpoint.c sets */
    r->gram_hash = 0x6a6a6a6a6a6a6a6aULL;
    if (enevo_space_init(&r->space, c, g, err, sizeof err))
        die("space", err);
    if (enevo_archive_init(&r->archive, c->n_modules, c->archive_size > 0 ? c->archive_size : 1))
        die("archive", NULL);
    enevo_rng rng;
    enevo_rng_seed(&rng, 7, 0);
    struct indiv *xs = strategy == ENEVO_STRATEGY_NSGA2 ? r->surv : r->pop;
    for (int i = 0; i < n_indiv; i++) {
        struct indiv *x = &xs[i];
        if (enevo_genotype_random(&r->space, &rng, &x->gt))
            die("genotype", NULL);
        if (enevo_genotype_phenotype(&r->space, &x->gt, &rng, &x->phenotype))
            die("phenotype", NULL);
        x->gen = 0;
        x->idx = i;
        x->parent_gen = x->parent_idx = -1;
        x->m.accuracy = 0.5 + 0.1 * i;
        x->m.energy = 1e-3 * (i + 1);
        x->m.valid = true;
        x->fitness = x->fitness_mean = x->m.accuracy;
        x->n_evals = 1;
        snprintf(x->meter, sizeof x->meter, "model-estimate");
    }
    if (strategy == ENEVO_STRATEGY_NSGA2) {
        r->n_surv = n_indiv;
        r->front = calloc((size_t)n_indiv, sizeof *r->front);
        r->n_front = r->cap_front = 1;
        enevo_genotype_copy(&r->surv[0].gt, &r->front[0].gt);
        r->front[0].phenotype = strdup(r->surv[0].phenotype);
        r->gen = 1;
    } else {
        r->pop_n = n_indiv;
        r->has_parent = n_indiv > 0;
        if (n_indiv > 0) {
            enevo_genotype_copy(&r->pop[0].gt, &r->parent.gt);
            r->parent.phenotype = strdup(r->pop[0].phenotype);
        }
        r->next = n_indiv;
    }
    /* One archived module, so the archive's encoding is in the seed. */
    if (n_indiv > 0 && r->pop[0].gt.n_modules > 0) {
        struct enevo_archive_entry *e = &r->archive.e[r->pop[0].gt.modules[0].type][0];
        enevo_module_copy(&r->pop[0].gt.modules[0], &e->mod);
        e->hash = 42;
        e->energy_j = 1e-4;
        r->archive.n[r->pop[0].gt.modules[0].type] = 1;
    }
    r->stats_len = 100;
    r->timing_len = 50;
    r->evaluations = n_indiv;
    if (enevo__save_checkpoint(r, err, sizeof err))
        die("checkpoint", err);
    char from[4200];
    snprintf(from, sizeof from, "%s/checkpoint.bin", dir);
    FILE *f = fopen(from, "rb");
    unsigned char *b = malloc(1 << 22);
    size_t n = f ? fread(b, 1, 1 << 22, f) : 0;
    if (f)
        fclose(f);
    remove(from);
    rmdir(dir);
    if (v1) { /* version 1: no strategy tail (4 x i64 with no survivors or front) */
        uint32_t one = 1;
        memcpy(b + 8, &one, 4);
        n -= 4 + 32;
        uint32_t crc = (uint32_t)crc32(0L, b, (uInt)n);
        memcpy(b + n, &crc, 4);
        n += 4;
    }
    spit("checkpoint", name, b, n);
    free(b);
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
    enevo_grammar_free(g);
    free(c);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: make_corpus OUT_DIR\n");
        return 2;
    }
    out_dir = argv[1];
    mkdir(out_dir, 0755);
    idx();
    cifar();
    numpy();
    images();
    models();
    checkpoint("es-2.ckpt", ENEVO_STRATEGY_ONE_PLUS_LAMBDA, 2, false);
    checkpoint("es-empty.ckpt", ENEVO_STRATEGY_ONE_PLUS_LAMBDA, 0, false);
    checkpoint("es-1-v1.ckpt", ENEVO_STRATEGY_ONE_PLUS_LAMBDA, 1, true);
    checkpoint("nsga2-2.ckpt", ENEVO_STRATEGY_NSGA2, 2, false);
    return 0;
}
