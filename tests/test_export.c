/* Export: every exported network is checked by the real consumers. ONNX
 * models pass onnx.checker (python3-onnx) and run in ONNX Runtime
 * (onnxruntime-node, installed into .cache/npm by scripts/deps.sh npm); C
 * files compile with cc -std=c99 -pedantic -Werror into the export's own
 * driver. Both must give enevo's logits on 256 images within 1e-4 (plus
 * 1e-4 relative), for every layer kind, padding, merge, batch norm,
 * partition model and the bench nets. */
#include "tests.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "enevo/data.h"
#include "enevo/export.h"
#include "enevo/io.h"
#include "enevo/model.h"
#include "enevo/net.h"
#include "enevo/phenotype.h"
#include "enevo/rng.h"
#include "export/export_internal.h"
#include "export/pb.h"
#include "nn/plan.h"

#define N_IMG 256
#define ATOL 1e-4
#define RTOL 1e-4
#define MEAN 0.2860f
#define STD 0.3530f

/* ------------------------------------------------------------------ */
/* External tools: probed once per test process. */

struct tools {
    bool probed, python, ort, cc;
    char py[64], ort_dir[1100], why_python[300], why_ort[300], why_cc[200];
};

/* Run a shell command; its output (stdout + stderr) into out. Exit code. */
static int sh(char *out, size_t outlen, const char *fmt, ...)
{
    char cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    char full[8300];
    snprintf(full, sizeof full, "(%s) 2>&1", cmd);
    FILE *p = popen(full, "r");
    if (!p)
        return -1;
    char sink[256];
    size_t n = 0;
    if (out && outlen)
        out[0] = 0;
    for (;;) {
        char *dst = out && n + 1 < outlen ? out + n : sink;
        size_t room = out && n + 1 < outlen ? outlen - 1 - n : sizeof sink;
        size_t got = fread(dst, 1, room, p);
        if (!got)
            break;
        if (dst != sink)
            n += got;
    }
    if (out && outlen)
        out[n] = 0;
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static bool probe_python(struct tools *t)
{
    const char *cands[] = {"/usr/bin/python3", "python3"};
    for (size_t i = 0; i < ENEVO_COUNT(cands); i++)
        if (sh(NULL, 0, "%s -c 'import onnx, onnx.checker' >/dev/null", cands[i]) == 0) {
            snprintf(t->py, sizeof t->py, "%s", cands[i]);
            return true;
        }
    return false;
}

static bool probe_ort(struct tools *t)
{
    char cwd[900];
    if (!getcwd(cwd, sizeof cwd))
        return false;
    snprintf(t->ort_dir, sizeof t->ort_dir, "%s/.cache/npm/node_modules/onnxruntime-node", cwd);
    return sh(NULL, 0, "node -e \"require('%s')\" >/dev/null", t->ort_dir) == 0;
}

/* The tools, installed by scripts/deps.sh (Debian packages as root, and
 * onnxruntime-node into .cache/npm) when missing; the why_ strings say what
 * could not be had. */
static struct tools *tools(void)
{
    static struct tools t;
    if (t.probed)
        return &t;
    t.probed = true;
    t.python = probe_python(&t);
    t.ort = probe_ort(&t);
    if (!t.python || !t.ort) {
        char log[4096];
        int rc = sh(log, sizeof log, "sh scripts/deps.sh npm");
        if (rc)
            print_message("scripts/deps.sh npm failed (%d): %.1500s\n", rc, log);
        t.python = t.python || probe_python(&t);
        t.ort = t.ort || probe_ort(&t);
        if (!t.python)
            snprintf(t.why_python, sizeof t.why_python,
                     "python3 with onnx (Debian python3-onnx) could not be installed: %.200s",
                     rc ? log : "installed, but 'import onnx' fails");
        if (!t.ort)
            snprintf(t.why_ort, sizeof t.why_ort,
                     "node with onnxruntime-node could not be had (scripts/deps.sh npm): %.200s",
                     rc ? log : "installed, but require() fails");
    }
    t.cc = sh(NULL, 0, "cc --version >/dev/null") == 0;
    if (!t.cc)
        snprintf(t.why_cc, sizeof t.why_cc, "no C compiler (cc)");
    return &t;
}

/* ------------------------------------------------------------------ */
/* Networks, their enevo logits, and model files in memory. */

struct xcase {
    const char *name;
    const char *phen; /* text, or "@bench/small.phen" */
    int c, h, w, classes;
};

struct built {
    struct enevo_model_file m;
    int n_models;
    float *x;      /* [N_IMG, c, h, w] */
    float *ref[2]; /* enevo's logits per model, [N_IMG, classes] */
};

/* The first 256 Fashion-MNIST test images when installed, else NULL. */
static const float *fashion(void)
{
    static bool tried;
    static struct enevo_dataset d;
    if (!tried) {
        tried = true;
        char err[ENEVO_ERR_LEN];
        if (enevo_idx_load(ENEVO_DEFAULT_DATASET "/t10k-images-idx3-ubyte",
                           ENEVO_DEFAULT_DATASET "/t10k-labels-idx1-ubyte", &d, err, sizeof err)) {
            print_message("Fashion-MNIST not available (%s): generated images instead\n", err);
            memset(&d, 0, sizeof d);
        } else {
            for (size_t i = 0; i < (size_t)N_IMG * 784; i++)
                d.x[i] = (d.x[i] - MEAN) / STD;
        }
    }
    return d.x;
}

static void build(const struct xcase *k, uint64_t seed, struct built *b)
{
    char err[ENEVO_ERR_LEN];
    memset(b, 0, sizeof *b);
    struct enevo_phenotype p;
    if (k->phen[0] == '@')
        assert_int_equal(enevo_phenotype_load(k->phen + 1, &p, err, sizeof err), 0);
    else if (enevo_phenotype_parse(k->phen, k->name, &p, err, sizeof err))
        fail_msg("%s: %s", k->name, err);
    struct enevo_net *net;
    struct enevo_net_opts o = {.batch = N_IMG, .training = false, .threads = 2};
    struct enevo_shape in = {k->c, k->h, k->w};
    if (enevo_net_create(&p, in, k->classes, &o, &net, err, sizeof err))
        fail_msg("%s: %s", k->name, err);
    enevo_rng r;
    enevo_rng_seed(&r, seed, ENEVO_STREAM_INIT);
    enevo_net_init_params(net, &r);
    /* Batch norm that is not the identity: random scale, shift and
     * running statistics. */
    const struct enevo_plan *plan = enevo__net_plan(net);
    float *par = enevo_net_params(net), *st = enevo_net_stats(net);
    for (int i = 0; i < plan->n; i++) {
        const struct enevo_plan_node *n = &plan->nodes[i];
        if (n->spec.kind != ENEVO_LAYER_BATCH_NORM)
            continue;
        size_t c = n->w_count;
        for (size_t j = 0; j < c; j++) {
            par[n->w_off + j] = 0.5f + (float)enevo_rng_uniform(&r);
            par[n->b_off + j] = (float)enevo_rng_uniform(&r) - 0.5f;
            st[n->s_off + j] = (float)enevo_rng_uniform(&r) - 0.5f;
            st[n->s_off + c + j] = 0.3f + 2.0f * (float)enevo_rng_uniform(&r);
        }
    }
    size_t img = (size_t)k->c * k->h * k->w;
    b->x = malloc(sizeof(float) * N_IMG * img);
    assert_non_null(b->x);
    const float *fm = k->c == 1 && k->h == 28 && k->w == 28 ? fashion() : NULL;
    if (fm) {
        memcpy(b->x, fm, sizeof(float) * N_IMG * img);
    } else {
        struct enevo_dataset d;
        assert_int_equal(enevo_dataset_synthetic(N_IMG, k->c, k->h, k->w, k->classes, seed, &d), 0);
        memcpy(b->x, d.x, sizeof(float) * N_IMG * img);
        enevo_dataset_free(&d);
    }
    assert_int_equal(enevo_net_forward(net, b->x, false, 0), 0);
    int heads = enevo_net_heads(net);
    for (int h = 0; h < heads; h++) {
        b->ref[h] = malloc(sizeof(float) * N_IMG * (size_t)k->classes);
        assert_non_null(b->ref[h]);
        memcpy(b->ref[h], h ? enevo_net_logits2(net) : enevo_net_logits(net),
               sizeof(float) * N_IMG * (size_t)k->classes);
    }
    b->m = (struct enevo_model_file){
        .in_c = k->c, .in_h = k->h, .in_w = k->w, .n_classes = k->classes, .mean = MEAN,
        .std = STD, .phenotype = enevo_phenotype_format(&p),
        .n_params = enevo_net_param_count(net), .n_stats = enevo_net_stats_count(net)};
    b->m.params = malloc(sizeof(float) * (b->m.n_params + 1));
    b->m.stats = malloc(sizeof(float) * (b->m.n_stats + 1));
    assert_non_null(b->m.phenotype);
    assert_non_null(b->m.params);
    assert_non_null(b->m.stats);
    memcpy(b->m.params, enevo_net_params(net), sizeof(float) * b->m.n_params);
    memcpy(b->m.stats, enevo_net_stats(net), sizeof(float) * b->m.n_stats);
    assert_int_equal(enevo_export_count(&b->m, &b->n_models, err, sizeof err), 0);
    assert_int_equal(b->n_models, heads);
    enevo_net_free(net);
    enevo_phenotype_free(&p);
}

static void built_free(struct built *b)
{
    enevo_model_file_free(&b->m);
    free(b->x);
    free(b->ref[0]);
    free(b->ref[1]);
    memset(b, 0, sizeof *b);
}

static void write_raw(const char *path, const float *v, size_t n)
{
    char err[ENEVO_ERR_LEN];
    if (enevo_write_atomic(path, v, sizeof(float) * n, err, sizeof err))
        fail_msg("%s", err);
}

/* Largest |got - want| over n values; fails past ATOL + RTOL |want|. */
static double compare(const char *what, const float *got, const float *want, size_t n)
{
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - (double)want[i]);
        if (!(d <= ATOL + RTOL * fabs((double)want[i])))
            fail_msg("%s: value %zu is %.9g, enevo gives %.9g (|diff| %.3g)", what, i, got[i],
                     want[i], d);
        worst = d > worst ? d : worst;
    }
    return worst;
}

/* Softmax rows of enevo's logits, for checking the probability outputs. */
static void softmax_rows(const float *in, float *out, int rows, int n)
{
    for (int r = 0; r < rows; r++) {
        const float *x = in + (size_t)r * n;
        double m = x[0], s = 0;
        for (int i = 1; i < n; i++)
            m = x[i] > m ? x[i] : m;
        for (int i = 0; i < n; i++)
            s += exp(x[i] - m);
        for (int i = 0; i < n; i++)
            out[(size_t)r * n + i] = (float)(exp(x[i] - m) / s);
    }
}

/* Buffers live at the same time never share arena space. */
static void check_arena(const struct enevo_model_file *m, int which)
{
    char err[ENEVO_ERR_LEN];
    struct enevo__xnet x;
    assert_int_equal(enevo__xnet_init(&x, m, which, err, sizeof err), 0);
    for (int i = 0; i < x.n_t; i++)
        for (int j = i + 1; j < x.n_t; j++) {
            const struct enevo__xtensor *a = &x.t[i], *b = &x.t[j];
            bool time = a->first <= b->last && b->first <= a->last;
            bool space = a->off < b->off + b->elems && b->off < a->off + a->elems;
            assert_false(time && space);
        }
    for (int i = 0; i < x.n_t; i++)
        assert_true(x.t[i].off + x.t[i].elems <= x.arena_floats);
    enevo__xnet_free(&x);
}

enum { F_ONNX = 1, F_C = 2 };

/* Export every model of every case in the formats asked, run them with
 * the real consumers, compare with enevo. `report` prints the figures. */
static void run_cases(const struct xcase *cases, int n, unsigned formats, bool logits, bool report)
{
    struct tools *t = tools();
    if ((formats & F_ONNX) && (!t->python || !t->ort)) {
        print_message("skipped: %s\n", !t->python ? t->why_python : t->why_ort);
        skip();
    }
    if ((formats & F_C) && !t->cc) {
        print_message("skipped: %s\n", t->why_cc);
        skip();
    }
    const char *dir = enevo_test_tmpdir();
    char err[ENEVO_ERR_LEN], log[8192];
    struct built *b = calloc((size_t)n, sizeof *b);
    assert_non_null(b);
    char list[600], onnx_files[16384] = "", compile[16600] = "", lane[2][8192] = {"", ""};
    int n_jobs = 0;
    snprintf(list, sizeof list, "%s/ort_jobs.txt", dir);
    FILE *jobs = fopen(list, "w");
    assert_non_null(jobs);
    struct enevo_export_info info[16][2];
    for (int i = 0; i < n; i++) {
        build(&cases[i], 100 + (uint64_t)i, &b[i]);
        char in[600];
        snprintf(in, sizeof in, "%s/%s.in.f32", dir, cases[i].name);
        write_raw(in, b[i].x, (size_t)N_IMG * cases[i].c * cases[i].h * cases[i].w);
        for (int k = 0; k < b[i].n_models; k++) {
            check_arena(&b[i].m, k);
            char path[600];
            struct enevo_export_opts o = {.logits = logits, .source = cases[i].name};
            if (formats & F_ONNX) {
                o.format = ENEVO_EXPORT_ONNX;
                snprintf(path, sizeof path, "%s/%s_m%d.onnx", dir, cases[i].name, k);
                if (enevo_export_write(&b[i].m, k, &o, path, &info[i][k], err, sizeof err))
                    fail_msg("%s model %d: %s", cases[i].name, k, err);
                snprintf(onnx_files + strlen(onnx_files), sizeof onnx_files - strlen(onnx_files),
                         " %s", path);
                fprintf(jobs, "%s %s %s/%s_m%d.ort.f32 %d %d %d %d\n", path, in, dir,
                        cases[i].name, k, N_IMG, cases[i].c, cases[i].h, cases[i].w);
            }
            if (formats & F_C) {
                o.format = ENEVO_EXPORT_C;
                snprintf(path, sizeof path, "%s/%s_m%d.c", dir, cases[i].name, k);
                if (enevo_export_write(&b[i].m, k, &o, path, &info[i][k], err, sizeof err))
                    fail_msg("%s model %d: %s", cases[i].name, k, err);
                char prefix[64], hname[128], drv[600];
                enevo_export_prefix_from_path(path, prefix, sizeof prefix);
                snprintf(hname, sizeof hname, "%s_m%d.h", cases[i].name, k);
                snprintf(drv, sizeof drv, "%s/%s_m%d_driver.c", dir, cases[i].name, k);
                char *text = enevo_export_c_driver(prefix, hname);
                assert_non_null(text);
                assert_int_equal(enevo_write_atomic(drv, text, strlen(text), err, sizeof err), 0);
                free(text);
                /* Two compilers at a time: jobs alternate between two lanes. */
                char *l = lane[n_jobs++ % 2];
                snprintf(l + strlen(l), sizeof lane[0] - strlen(l),
                         "cc -std=c99 -O2 -Wall -Wextra -Werror -pedantic -o %s/%s_m%d.exe %s %s "
                         "-lm; ",
                         dir, cases[i].name, k, path, drv);
            }
        }
    }
    fclose(jobs);
    if (formats & F_ONNX) {
        if (sh(log, sizeof log, "%s tests/export/check_onnx.py%s", t->py, onnx_files))
            fail_msg("onnx.checker: %s", log);
        if (sh(log, sizeof log, "node tests/export/ort_run.js '%s' %s", t->ort_dir, list))
            fail_msg("ONNX Runtime: %s", log);
    }
    if (formats & F_C) {
        snprintf(compile, sizeof compile, "(%s true) & (%s true) & wait", lane[0], lane[1]);
        /* Each compile's failure is caught by its executable missing below. */
        sh(log, sizeof log, "%s", compile);
    }
    for (int i = 0; i < n; i++) {
        size_t rows = (size_t)N_IMG * (size_t)cases[i].classes;
        float *got = malloc(sizeof(float) * rows), *want = malloc(sizeof(float) * rows);
        assert_non_null(got);
        assert_non_null(want);
        for (int k = 0; k < b[i].n_models; k++) {
            if (logits)
                memcpy(want, b[i].ref[k], sizeof(float) * rows);
            else
                softmax_rows(b[i].ref[k], want, N_IMG, cases[i].classes);
            char path[600], what[200];
            double d_onnx = NAN, d_c = NAN;
            if (formats & F_ONNX) {
                snprintf(path, sizeof path, "%s/%s_m%d.ort.f32", dir, cases[i].name, k);
                char *raw;
                size_t len;
                if (enevo_read_file(path, 0, &raw, &len, err, sizeof err))
                    fail_msg("%s", err);
                assert_int_equal(len, sizeof(float) * rows);
                memcpy(got, raw, len);
                free(raw);
                snprintf(what, sizeof what, "%s model %d, ONNX Runtime", cases[i].name, k);
                d_onnx = compare(what, got, want, rows);
            }
            if (formats & F_C) {
                char out[600];
                snprintf(out, sizeof out, "%s/%s_m%d.c.f32", dir, cases[i].name, k);
                if (sh(log, sizeof log, "%s/%s_m%d.exe %s/%s.in.f32 %s %d", dir, cases[i].name,
                       k, dir, cases[i].name, out, N_IMG))
                    fail_msg("%s model %d: the C file did not compile or run: %s\ncompile: %s",
                             cases[i].name, k, log, compile);
                char *raw;
                size_t len;
                if (enevo_read_file(out, 0, &raw, &len, err, sizeof err))
                    fail_msg("%s", err);
                assert_int_equal(len, sizeof(float) * rows);
                memcpy(got, raw, len);
                free(raw);
                snprintf(what, sizeof what, "%s model %d, C file", cases[i].name, k);
                d_c = compare(what, got, want, rows);
            }
            if (report)
                print_message("%-22s model %d: max |diff| ONNX Runtime %.3g, C %.3g; arena %zu "
                              "bytes, weights %zu bytes, %.3f MFLOP/image\n",
                              cases[i].name, k, d_onnx, d_c, info[i][k].arena_bytes,
                              info[i][k].weight_bytes, info[i][k].flops / 1e6);
        }
        free(got);
        free(want);
        built_free(&b[i]);
    }
    free(b);
}

/* ------------------------------------------------------------------ */
/* The table: every layer kind and padding, merges with shape-fix convs
 * (up and down) and fcs, batch norm on maps and on flat tensors, dropout
 * (also as a merge), relu/sigmoid/linear, 3-channel input, a partition. */

static const struct xcase TABLE[] = {
    {"conv_pool_kinds",
     "layer:conv out_channels:6 kernel_size:3 stride:1 padding:same act:relu bias:True input:-1\n"
     "layer:pool_max kernel_size:2 stride:2 padding:valid input:0\n"
     "layer:conv out_channels:5 kernel_size:4 stride:1 padding:same act:sigmoid bias:False "
     "input:1\n"
     "layer:pool_avg kernel_size:3 stride:2 padding:same input:2\n"
     "layer:fc act:softmax out_features:4 bias:True input:3\n",
     1, 12, 12, 4},
    {"strided_valid",
     "layer:conv out_channels:4 kernel_size:3 stride:2 padding:valid act:linear bias:True "
     "input:-1\n"
     "layer:pool_max kernel_size:2 stride:2 padding:same input:0\n"
     "layer:conv out_channels:6 kernel_size:2 stride:1 padding:valid act:relu bias:True input:1\n"
     "layer:fc act:linear out_features:4 bias:False input:2\n",
     1, 12, 12, 4},
    {"pool_paddings",
     "layer:conv out_channels:3 kernel_size:2 stride:1 padding:valid act:relu bias:True input:-1\n"
     "layer:pool_max kernel_size:4 stride:3 padding:same input:0\n"
     "layer:pool_avg kernel_size:2 stride:1 padding:same input:1\n"
     "layer:pool_avg kernel_size:3 stride:2 padding:valid input:2\n"
     "layer:fc act:softmax out_features:4 bias:True input:3\n",
     1, 12, 12, 4},
    {"bn_dropout_fc_chain",
     "layer:pool_avg kernel_size:3 stride:2 padding:same input:-1\n"
     "layer:batch_norm input:0\n"
     "layer:conv out_channels:8 kernel_size:5 stride:1 padding:same act:relu bias:True input:1\n"
     "layer:batch_norm input:2\n"
     "layer:dropout rate:0.5 input:3\n"
     "layer:fc act:relu out_features:16 bias:True input:4\n"
     "layer:batch_norm input:5\n"
     "layer:dropout rate:0.3 input:6\n"
     "layer:fc act:sigmoid out_features:12 bias:True input:7\n"
     "layer:fc act:softmax out_features:4 bias:True input:8\n",
     1, 12, 12, 4},
    {"merges_shape_fix",
     "layer:conv out_channels:8 kernel_size:3 stride:1 padding:same act:relu bias:True input:-1\n"
     "layer:pool_max kernel_size:2 stride:2 padding:valid input:0\n"
     "layer:conv out_channels:4 kernel_size:3 stride:1 padding:same act:relu bias:True input:1\n"
     "layer:conv out_channels:8 kernel_size:1 stride:1 padding:same act:relu bias:True input:2,0\n"
     "layer:conv out_channels:6 kernel_size:3 stride:1 padding:valid act:linear bias:True "
     "input:1,3,-1\n"
     "layer:dropout rate:0.2 input:4\n"
     "layer:pool_avg kernel_size:2 stride:2 padding:valid input:5\n"
     "layer:conv out_channels:6 kernel_size:3 stride:1 padding:same act:relu bias:True "
     "input:2,4,6\n"
     "layer:fc act:relu out_features:10 bias:True input:7\n"
     "layer:fc act:relu out_features:6 bias:True input:7\n"
     "layer:fc act:softmax out_features:4 bias:True input:8,9\n",
     1, 12, 12, 4},
    {"three_channels",
     "layer:conv out_channels:4 kernel_size:2 stride:1 padding:same act:relu bias:True input:-1\n"
     "layer:conv out_channels:4 kernel_size:3 stride:1 padding:same act:sigmoid bias:True "
     "input:-1\n"
     "layer:dropout rate:0.5 input:0,1\n"
     "layer:pool_max kernel_size:3 stride:2 padding:valid input:2\n"
     "layer:fc act:softmax out_features:5 bias:True input:3\n",
     3, 9, 9, 5},
    {"partition",
     "layer:conv out_channels:20 kernel_size:3 stride:1 padding:same act:relu bias:True input:-1\n"
     "layer:batch_norm input:0\n"
     "layer:conv out_channels:16 kernel_size:3 stride:1 padding:same act:relu bias:True input:1\n"
     "layer:pool_max kernel_size:2 stride:2 padding:valid input:2\n"
     "layer:conv out_channels:24 kernel_size:3 stride:1 padding:same act:relu bias:True "
     "input:3,2\n"
     "layer:fc act:relu out_features:32 bias:True input:4\n"
     "layer:fc act:softmax out_features:4 bias:True input:5\n"
     "model_partition:True partition_point:2\n",
     1, 12, 12, 4},
};

static const struct xcase BENCH[] = {
    {"bench_small", "@bench/small.phen", 1, 28, 28, 10},
    {"bench_medium", "@bench/medium.phen", 1, 28, 28, 10},
    {"bench_medium_partition", "@bench/medium_partition.phen", 1, 28, 28, 10},
};

static void export_onnx_matches_enevo_on_every_layer_kind(void **state)
{
    (void)state;
    run_cases(TABLE, (int)ENEVO_COUNT(TABLE), F_ONNX, true, true);
}

static void export_c_file_matches_enevo_on_every_layer_kind(void **state)
{
    (void)state;
    run_cases(TABLE, (int)ENEVO_COUNT(TABLE), F_C, true, true);
}

static void export_bench_nets_match_in_onnx_and_c(void **state)
{
    (void)state;
    run_cases(BENCH, (int)ENEVO_COUNT(BENCH), F_ONNX | F_C, true, true);
}

/* Without --logits both formats end in a softmax. */
static void export_softmax_output_matches(void **state)
{
    (void)state;
    run_cases(TABLE + 4, 2, F_ONNX | F_C, false, true);
}

/* ------------------------------------------------------------------ */

static void export_protobuf_wire_format(void **state)
{
    (void)state;
    /* The examples of protobuf's encoding guide. */
    struct enevo_pb b = {0};
    enevo__pb_int(&b, 1, 150);
    static const uint8_t e1[] = {0x08, 0x96, 0x01};
    assert_int_equal(b.n, sizeof e1);
    assert_memory_equal(b.p, e1, sizeof e1);
    enevo__pb_free(&b);
    enevo__pb_str(&b, 2, "testing");
    static const uint8_t e2[] = {0x12, 0x07, 't', 'e', 's', 't', 'i', 'n', 'g'};
    assert_int_equal(b.n, sizeof e2);
    assert_memory_equal(b.p, e2, sizeof e2);
    enevo__pb_free(&b);
    struct enevo_pb sub = {0};
    enevo__pb_int(&sub, 1, 150);
    enevo__pb_msg(&b, 3, &sub);
    static const uint8_t e3[] = {0x1a, 0x03, 0x08, 0x96, 0x01};
    assert_int_equal(b.n, sizeof e3);
    assert_memory_equal(b.p, e3, sizeof e3);
    assert_null(sub.p);
    enevo__pb_free(&b);
    /* Negative int64: ten bytes; floats little-endian. */
    enevo__pb_int(&b, 1, -1);
    static const uint8_t e4[] = {0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
    assert_int_equal(b.n, sizeof e4);
    assert_memory_equal(b.p, e4, sizeof e4);
    enevo__pb_free(&b);
    enevo__pb_float(&b, 2, 1.0f);
    float two[2] = {1.0f, -2.0f};
    enevo__pb_floats_le(&b, 9, two, 2);
    static const uint8_t e5[] = {0x15, 0x00, 0x00, 0x80, 0x3f, 0x4a, 0x08, 0x00, 0x00,
                                 0x80, 0x3f, 0x00, 0x00, 0x00, 0xc0};
    assert_int_equal(b.n, sizeof e5);
    assert_memory_equal(b.p, e5, sizeof e5);
    enevo__pb_free(&b);
    /* 300 as a varint, and a large one. */
    enevo__pb_varint(&b, 300);
    enevo__pb_varint(&b, 1ull << 35);
    static const uint8_t e6[] = {0xac, 0x02, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01};
    assert_int_equal(b.n, sizeof e6);
    assert_memory_equal(b.p, e6, sizeof e6);
    enevo__pb_free(&b);
}

/* bench/small: the arena holds the largest pair of buffers live at once
 * (conv 0's output and pool 1's: 32x28x28 + 32x14x14 floats), far less than
 * all activations together. */
static void export_arena_reuses_buffers(void **state)
{
    (void)state;
    struct built b;
    build(&BENCH[0], 1, &b);
    char err[ENEVO_ERR_LEN];
    struct enevo__xnet x;
    assert_int_equal(enevo__xnet_init(&x, &b.m, 0, err, sizeof err), 0);
    size_t all = 0;
    for (int i = 0; i < x.n_t; i++)
        all += x.t[i].elems;
    assert_int_equal(x.arena_floats, 32 * 28 * 28 + 32 * 14 * 14);
    assert_true(x.arena_floats < all);
    enevo__xnet_free(&x);
    char *text, *hdr;
    size_t len;
    struct enevo_export_info info;
    struct enevo_export_opts o = {.format = ENEVO_EXPORT_C, .prefix = "small"};
    assert_int_equal(
        enevo_export_buffer(&b.m, 0, &o, "small.h", &text, &len, &hdr, &info, err, sizeof err), 0);
    assert_int_equal(info.arena_bytes, 4 * (32 * 28 * 28 + 32 * 14 * 14));
    assert_non_null(strstr(hdr, "#define SMALL_ARENA_BYTES 125440"));
    assert_non_null(strstr(hdr, "int small_predict(const float *input, float *output);"));
    assert_non_null(strstr(text, "static float small_arena[31360];"));
    assert_null(strstr(text, "malloc"));
    /* Weights: 288+32, 18432+64, 401408+128, 1280+10 floats. */
    assert_int_equal(info.weight_bytes, 4 * (320 + 18496 + 401536 + 1290));
    free(text);
    free(hdr);
    built_free(&b);
}

/* A construct a format cannot express is refused, naming the layer; bad
 * requests get clear errors, never a wrong model. */
static void export_refuses_what_a_format_cannot_express(void **state)
{
    (void)state;
    const struct xcase k = {"pool_same",
                            "layer:conv out_channels:2 kernel_size:3 stride:1 padding:same "
                            "act:relu input:-1\n"
                            "layer:pool_avg kernel_size:3 stride:2 padding:same input:0\n"
                            "layer:fc act:softmax out_features:3 input:1\n",
                            1, 8, 8, 3};
    struct built b;
    build(&k, 3, &b);
    char err[ENEVO_ERR_LEN];
    struct enevo__xnet x;
    assert_int_equal(enevo__xnet_init(&x, &b.m, 0, err, sizeof err), 0);
    assert_int_equal(enevo__onnx_check_node(&x, 1, err, sizeof err), 0);
    /* Padding as wide as the window: ONNX Runtime's pooling refuses it. */
    x.plan.nodes[1].pad_r = 3;
    assert_int_equal(enevo__onnx_check_node(&x, 1, err, sizeof err), ENEVO_EUNSUPPORTED);
    assert_non_null(strstr(err, "layer 1 (pool_avg)"));
    assert_non_null(strstr(err, "smaller than the window"));
    enevo__xnet_free(&x);

    char *out;
    size_t len;
    struct enevo_export_opts o = {.format = ENEVO_EXPORT_ONNX};
    assert_int_equal(enevo_export_buffer(&b.m, 1, &o, NULL, &out, &len, NULL, NULL, err,
                                         sizeof err),
                     ENEVO_EINVAL);
    assert_non_null(strstr(err, "one model"));
    assert_null(out);
    o.format = ENEVO_EXPORT_C;
    o.prefix = "9net";
    assert_int_equal(enevo_export_buffer(&b.m, 0, &o, "x.h", &out, &len, NULL, NULL, err,
                                         sizeof err),
                     ENEVO_EINVAL);
    assert_non_null(strstr(err, "C identifier"));
    /* Parameters that do not fit the phenotype. */
    b.m.n_params--;
    o.prefix = NULL;
    assert_int_equal(enevo_export_buffer(&b.m, 0, &o, "x.h", &out, &len, NULL, NULL, err,
                                         sizeof err),
                     ENEVO_EFORMAT);
    assert_non_null(strstr(err, "parameters"));
    b.m.n_params++;
    char prefix[64];
    enevo_export_prefix_from_path("dir/9 best.model1.c", prefix, sizeof prefix);
    assert_string_equal(prefix, "_9_best_model1");
    built_free(&b);
}

/* enevo export end to end: a partitioned model file gives two files, the C
 * file's latency is measured, usage errors exit 2 and bad files 1. */
static void export_cli_exports_model_files(void **state)
{
    (void)state;
    const char *bin = getenv("ENEVO_BIN") ? getenv("ENEVO_BIN") : "build/enevo";
    const char *dir = enevo_test_tmpdir();
    struct built b;
    build(&TABLE[6], 5, &b);
    char model[600], err[ENEVO_ERR_LEN], out[8192], path[700];
    snprintf(model, sizeof model, "%s/cli.enevo", dir);
    assert_int_equal(enevo_model_save(model, &b.m, err, sizeof err), 0);
    assert_int_equal(sh(out, sizeof out, "%s export %s --format onnx -o %s/cli.onnx", bin, model,
                        dir),
                     0);
    assert_non_null(strstr(out, "model 1 (early exit)"));
    assert_non_null(strstr(out, "arena"));
    for (int k = 0; k < 2; k++) {
        snprintf(path, sizeof path, "%s/cli.model%d.onnx", dir, k);
        assert_int_equal(access(path, R_OK), 0);
    }
    if (tools()->cc) {
        assert_int_equal(sh(out, sizeof out,
                            "%s export %s --format c -o %s/a.c -o %s/b.c --bench --seconds 0.2 "
                            "--json",
                            bin, model, dir, dir),
                         0);
        assert_non_null(strstr(out, "single-image latency"));
        assert_non_null(strstr(out, "\"latency_s\""));
        snprintf(path, sizeof path, "%s/b.h", dir);
        char *h = enevo_test_slurp(path);
        assert_non_null(h);
        assert_non_null(strstr(h, "int b_predict(const float *input, float *output);"));
        free(h);
    }
    /* One -o and --prefix for two models: OUT.model0/1, prefixes NAME_model0/1. */
    assert_int_equal(sh(out, sizeof out, "%s export %s --format c -o %s/d.c --prefix net", bin,
                        model, dir),
                     0);
    snprintf(path, sizeof path, "%s/d.model1.h", dir);
    char *h1 = enevo_test_slurp(path);
    assert_non_null(h1);
    assert_non_null(strstr(h1, "int net_model1_predict(const float *input, float *output);"));
    free(h1);
    assert_int_equal(sh(out, sizeof out, "%s export %s --format tflite", bin, model), 2);
    assert_non_null(strstr(out, "expected onnx or c"));
    assert_int_equal(sh(out, sizeof out, "%s export %s/missing.enevo --format onnx", bin, dir), 1);
    assert_non_null(strstr(out, "missing.enevo"));
    assert_int_equal(sh(out, sizeof out, "%s export %s --format onnx --bench", bin, model), 2);
    built_free(&b);
}

/* ------------------------------------------------------------------ */
/* Per-channel normalisation: what the exports state. */

/* The value of ONNX metadata entry `key` in a serialised ModelProto (a
 * StringStringEntryProto is field 1 = key, field 2 = value), copied into
 * out; false when missing. */
static bool onnx_meta(const char *pb, size_t n, const char *key, char *out, size_t outlen)
{
    size_t kl = strlen(key);
    for (size_t i = 0; i + 2 + kl < n; i++) {
        if ((uint8_t)pb[i] != 0x0a || (uint8_t)pb[i + 1] != kl || memcmp(pb + i + 2, key, kl))
            continue;
        size_t j = i + 2 + kl, len = 0;
        if (j >= n || (uint8_t)pb[j++] != 0x12)
            continue;
        for (int shift = 0; j < n; shift += 7) {
            uint8_t b = (uint8_t)pb[j++];
            len |= (size_t)(b & 0x7f) << shift;
            if (!(b & 0x80))
                break;
        }
        if (j + len > n || len + 1 > outlen)
            return false;
        memcpy(out, pb + j, len);
        out[len] = 0;
        return true;
    }
    return false;
}

/* Parse up to max floats separated by ',' / ", " / "f, " (C literals) from s
 * (stopping at '}' or the end); the count. */
static int parse_floats(const char *s, float *v, int max)
{
    int n = 0;
    while (*s && *s != '}' && n < max) {
        char *end;
        v[n++] = strtof(s, &end);
        if (end == s)
            return -1;
        s = end;
        while (*s == 'f' || *s == ',' || *s == ' ')
            s++;
    }
    return n;
}

/* The array a brace-initialiser macro "#define NAME {...}" in hdr gives. */
static int header_floats(const char *hdr, const char *name, float *v, int max)
{
    char pat[128];
    snprintf(pat, sizeof pat, "#define %s {", name);
    const char *p = strstr(hdr, pat);
    if (!p)
        fail_msg("the header has no '%s'", pat);
    return parse_floats(p + strlen(pat), v, max);
}

/* A colour model with distinct per-channel statistics (one channel's are 0
 * and 1, integers a C literal must still print with a point), saved and
 * loaded back: the ONNX metadata lists and the C macros state the model
 * file's per-channel floats exactly (not its scalar mean/std), and the
 * macros initialise arrays in a -pedantic -Werror C99 program. A model
 * without per-channel values states its scalar pair for every channel. */
static void export_states_per_channel_normalisation(void **state)
{
    (void)state;
    const char *dir = enevo_test_tmpdir();
    char err[ENEVO_ERR_LEN], path[600];
    struct built b;
    build(&TABLE[5], 7, &b);
    assert_int_equal(b.m.in_c, 3);
    b.m.mean = 0.5f;
    b.m.std = 0.25f;
    b.m.norm_c = 3;
    const float mu[3] = {0.4914f, 0.0f, 0.4465f}, sd[3] = {0.2470f, 0.2435f, 1.0f};
    memcpy(b.m.ch_mean, mu, sizeof mu);
    memcpy(b.m.ch_std, sd, sizeof sd);
    snprintf(path, sizeof path, "%s/norm3.enevo", dir);
    assert_int_equal(enevo_model_save(path, &b.m, err, sizeof err), 0);
    struct enevo_model_file m;
    if (enevo_model_load(path, &m, err, sizeof err))
        fail_msg("%s", err);
    assert_int_equal(m.norm_c, 3);

    for (int scalar = 0; scalar < 2; scalar++) {
        /* scalar: the same model without per-channel values (norm_c 0). */
        float want_m[3], want_s[3];
        for (int c = 0; c < 3; c++) {
            want_m[c] = scalar ? m.mean : m.ch_mean[c];
            want_s[c] = scalar ? m.std : m.ch_std[c];
        }
        if (scalar)
            m.norm_c = 0;
        else
            for (int c = 0; c < 3; c++) {
                assert_true(want_m[c] == mu[c]); /* what was saved */
                assert_true(want_s[c] == sd[c]);
            }
        struct enevo_export_opts o = {.format = ENEVO_EXPORT_ONNX};
        char *out, *hdr, val[512];
        size_t len;
        float got[8];
        if (enevo_export_buffer(&m, 0, &o, NULL, &out, &len, NULL, NULL, err, sizeof err))
            fail_msg("%s", err);
        assert_true(onnx_meta(out, len, "enevo.input_mean", val, sizeof val));
        assert_int_equal(parse_floats(val, got, 8), 3);
        for (int c = 0; c < 3; c++)
            if (got[c] != want_m[c])
                fail_msg("enevo.input_mean '%s': channel %d is %.9g, the model file's %.9g", val,
                         c, (double)got[c], (double)want_m[c]);
        assert_true(onnx_meta(out, len, "enevo.input_std", val, sizeof val));
        assert_int_equal(parse_floats(val, got, 8), 3);
        for (int c = 0; c < 3; c++)
            if (got[c] != want_s[c])
                fail_msg("enevo.input_std '%s': channel %d is %.9g, the model file's %.9g", val,
                         c, (double)got[c], (double)want_s[c]);
        free(out);

        o.format = ENEVO_EXPORT_C;
        o.prefix = "cn";
        if (enevo_export_buffer(&m, 0, &o, "cn.h", &out, &len, &hdr, NULL, err, sizeof err))
            fail_msg("%s", err);
        assert_int_equal(header_floats(hdr, "CN_INPUT_MEAN", got, 8), 3);
        for (int c = 0; c < 3; c++)
            assert_true(got[c] == want_m[c]);
        assert_int_equal(header_floats(hdr, "CN_INPUT_STD", got, 8), 3);
        for (int c = 0; c < 3; c++)
            assert_true(got[c] == want_s[c]);
        if (!scalar && tools()->cc) {
            char hpath[700], cpath[700], exe[700], log[2048];
            snprintf(hpath, sizeof hpath, "%s/cn.h", dir);
            assert_int_equal(enevo_write_atomic(hpath, hdr, strlen(hdr), err, sizeof err), 0);
            const char *prog =
                "#include <stdio.h>\n#include \"cn.h\"\n"
                "static const float mean[CN_IN_C] = CN_INPUT_MEAN, sd[CN_IN_C] = CN_INPUT_STD;\n"
                "int main(void)\n{\n    int c;\n    for (c = 0; c < CN_IN_C; c++)\n"
                "        printf(\"%a,%a,\", (double)mean[c], (double)sd[c]);\n    return 0;\n}\n";
            snprintf(cpath, sizeof cpath, "%s/cn_norm.c", dir);
            snprintf(exe, sizeof exe, "%s/cn_norm.exe", dir);
            assert_int_equal(enevo_write_atomic(cpath, prog, strlen(prog), err, sizeof err), 0);
            if (sh(log, sizeof log, "cc -std=c99 -Wall -Wextra -Werror -pedantic -o %s %s && %s",
                   exe, cpath, exe))
                fail_msg("the header's macros do not initialise arrays: %s", log);
            float pairs[6];
            assert_int_equal(parse_floats(log, pairs, 6), 6);
            for (int c = 0; c < 3; c++) {
                assert_true(pairs[2 * c] == want_m[c]);
                assert_true(pairs[2 * c + 1] == want_s[c]);
            }
        }
        free(out);
        free(hdr);
    }
    enevo_model_file_free(&m);
    built_free(&b);
}

const struct CMUnitTest enevo_tests_export[] = {
    cmocka_unit_test(export_protobuf_wire_format),
    cmocka_unit_test(export_arena_reuses_buffers),
    cmocka_unit_test(export_refuses_what_a_format_cannot_express),
    cmocka_unit_test(export_states_per_channel_normalisation),
    cmocka_unit_test(export_onnx_matches_enevo_on_every_layer_kind),
    cmocka_unit_test(export_c_file_matches_enevo_on_every_layer_kind),
    cmocka_unit_test(export_softmax_output_matches),
    cmocka_unit_test(export_bench_nets_match_in_onnx_and_c),
    cmocka_unit_test(export_cli_exports_model_files),
};
const size_t enevo_tests_export_count = ENEVO_COUNT(enevo_tests_export);
