/* No slow paths: every primitive of every layer configuration the grammar
 * can produce resolves to an optimised oneDNN kernel, never a reference one.
 *
 * kernel_table_has_no_reference builds training and inference nets for a
 * table of layer configurations (conv with kernels 1-7, strides 1-3,
 * same/valid, 1, 3 and many input channels; pooling max/avg with every
 * padding; fc on conv, on fc and on the image; batch norm; dropout;
 * sum-merges with shape-fix convs; partition heads; the bench nets) in this
 * process, at the machine's own ISA. oneDNN reads ONEDNN_MAX_CPU_ISA once,
 * before its first primitive, so isa_caps_rerun_the_kernel_table reruns that
 * test, with the layers' gradient checks, in a fresh process under each cap
 * the machine supports (SSE41, AVX, AVX2, AVX512_CORE): an AVX-512 machine
 * checks AVX2 as well, and the formats chosen there compute correctly. */
#define _POSIX_C_SOURCE 200809L
#include "tests.h"

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "enevo/net.h"
#include "enevo/phenotype.h"

#define LEARNING                                                                              \
    "learning:gradient_descent lr:0.01 momentum:0.9 weight_decay:0 nesterov:False early_stop:5 " \
    "batch_size:64 epochs:10\n"

struct table {
    char *text;
    size_t len, cap;
    int nets, kernels, slow;
};

static void appendf(char **buf, size_t *len, size_t *cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char tmp[512];
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    assert_true(n >= 0 && (size_t)n < sizeof tmp);
    if (*len + (size_t)n + 1 > *cap) {
        *cap = (*cap + (size_t)n + 1) * 2;
        *buf = realloc(*buf, *cap);
        assert_non_null(*buf);
    }
    memcpy(*buf + *len, tmp, (size_t)n + 1);
    *len += (size_t)n;
}

/* Build the phenotype's training and inference nets; count the reference
 * kernels and describe each in t->text. */
static void check_net(struct table *t, const char *name, const char *phen, struct enevo_shape in,
                      int batch)
{
    struct enevo_phenotype p;
    char err[ENEVO_ERR_LEN];
    int rc = enevo_phenotype_parse(phen, name, &p, err, sizeof err);
    if (rc)
        fail_msg("%s: %s\n%s", name, err, phen);
    for (int training = 0; training < 2; training++) {
        struct enevo_net_opts o = {.batch = batch, .training = training, .threads = 2};
        struct enevo_net *net;
        if ((rc = enevo_net_create(&p, in, 10, &o, &net, err, sizeof err)))
            fail_msg("%s: %s\n%s", name, err, phen);
        int n = enevo_net_kernels(net, NULL, 0);
        assert_true(n > 0);
        struct enevo_kernel *k = calloc((size_t)n, sizeof *k);
        assert_non_null(k);
        assert_int_equal(enevo_net_kernels(net, k, n), n);
        for (int i = 0; i < n; i++) {
            assert_true(k[i].impl[0] != '\0');
            if (!k[i].reference)
                continue;
            char where[96];
            enevo_net_describe_node(net, k[i].node, where, sizeof where);
            appendf(&t->text, &t->len, &t->cap, "  %s (%s net, batch %d, input %dx%dx%d): %s: %s runs %s\n",
                    name, training ? "training" : "inference", batch, in.c, in.h, in.w, where,
                    k[i].op, k[i].impl);
            t->slow++;
        }
        t->kernels += n;
        t->nets++;
        free(k);
        enevo_net_free(net);
    }
    enevo_phenotype_free(&p);
}

static void check_file(struct table *t, const char *path, struct enevo_shape in, int batch)
{
    char *text = enevo_test_slurp(path);
    assert_non_null(text);
    check_net(t, path, text, in, batch);
    free(text);
}

/* A chain of three convs with kernel k, stride s and padding pad: 1 -> 3
 * channels (the image), 3 -> 37 (a 3-channel input, with backward data),
 * 37 -> 64 (same padding, so the chain fits 28x28); then fc. Odd channel counts exercise oneDNN's padded blocks. */
static void conv_chains(struct table *t, struct enevo_shape in)
{
    char phen[1024], name[64];
    for (int k = 1; k <= 7; k++)
        for (int pad = 0; pad < 2; pad++)
            for (int s = 1; s <= 3; s++) {
                if (pad == 0 && s > 1)
                    continue; /* same padding runs at stride 1 whatever its gene */
                const char *pd = pad ? "valid" : "same";
                snprintf(phen, sizeof phen,
                         "layer:conv out_channels:3 kernel_size:%d stride:%d padding:%s act:relu bias:True input:-1\n"
                         "layer:conv out_channels:37 kernel_size:%d stride:%d padding:%s act:sigmoid bias:False input:0\n"
                         "layer:conv out_channels:64 kernel_size:%d stride:1 padding:same act:linear bias:True input:1\n"
                         "layer:fc act:softmax out_features:10 bias:True input:2\n" LEARNING,
                         k, s, pd, k, s, pd, k);
                snprintf(name, sizeof name, "conv k%d s%d %s", k, s, pd);
                check_net(t, name, phen, in, 64);
            }
}

/* Pooling of every kind, kernel 1-5, stride 1-3, same/valid, on the image
 * (plain 1-channel), on a blocked conv output and after an fc-free chain. */
static void pools(struct table *t, struct enevo_shape in)
{
    char phen[1024], name[64];
    const char *kinds[] = {"pool_max", "pool_avg"};
    for (int kind = 0; kind < 2; kind++)
        for (int k = 1; k <= 5; k++)
            for (int s = 1; s <= 3; s++)
                for (int pad = 0; pad < 2; pad++) {
                    const char *pd = pad ? "valid" : "same";
                    snprintf(phen, sizeof phen,
                             "layer:%s kernel_size:%d stride:%d padding:%s input:-1\n"
                             "layer:conv out_channels:32 kernel_size:3 stride:1 padding:same act:relu bias:True input:0\n"
                             "layer:%s kernel_size:%d stride:%d padding:%s input:1\n"
                             "layer:conv out_channels:5 kernel_size:1 stride:1 padding:valid act:relu bias:True input:2\n"
                             "layer:%s kernel_size:%d stride:1 padding:same input:3\n"
                             "layer:fc act:softmax out_features:10 bias:True input:4\n" LEARNING,
                             kinds[kind], k, s, pd, kinds[kind], k, s, pd, kinds[kind], k);
                    snprintf(name, sizeof name, "%s k%d s%d %s", kinds[kind], k, s, pd);
                    check_net(t, name, phen, in, 64);
                }
}

static void others(struct table *t, struct enevo_shape in)
{
    static const struct {
        const char *name, *phen;
    } nets[] = {
        {"batch norm and dropout on the image, fc on the image",
         "layer:batch_norm input:-1\n"
         "layer:dropout rate:0.3 input:0\n"
         "layer:fc act:relu out_features:130 bias:True input:1\n"
         "layer:batch_norm input:2\n"
         "layer:dropout rate:0.5 input:3\n"
         "layer:fc act:sigmoid out_features:17 bias:False input:4\n"
         "layer:fc act:linear out_features:33 bias:True input:5\n"
         "layer:fc act:softmax out_features:10 bias:True input:6\n" LEARNING},
        {"batch norm and dropout between convs, fc on conv",
         "layer:conv out_channels:64 kernel_size:5 stride:1 padding:same act:relu bias:True input:-1\n"
         "layer:batch_norm input:0\n"
         "layer:dropout rate:0.2 input:1\n"
         "layer:conv out_channels:45 kernel_size:3 stride:2 padding:valid act:relu bias:True input:2\n"
         "layer:batch_norm input:3\n"
         "layer:pool_avg kernel_size:3 stride:2 padding:same input:4\n"
         "layer:dropout rate:0.4 input:5\n"
         "layer:fc act:relu out_features:128 bias:True input:6\n"
         "layer:batch_norm input:7\n"
         "layer:fc act:softmax out_features:10 bias:True input:8\n" LEARNING},
        {"batch norm on plain few-channel maps, pooled and unpooled",
         "layer:conv out_channels:4 kernel_size:3 stride:1 padding:same act:linear bias:True input:-1\n"
         "layer:batch_norm input:0\n"
         "layer:pool_max kernel_size:2 stride:2 padding:valid input:1\n"
         "layer:batch_norm input:2\n"
         "layer:conv out_channels:3 kernel_size:3 stride:2 padding:valid act:sigmoid bias:True input:3\n"
         "layer:batch_norm input:4\n"
         "layer:pool_avg kernel_size:2 stride:1 padding:same input:5\n"
         "layer:batch_norm input:6\n"
         "layer:fc act:softmax out_features:10 bias:True input:7\n" LEARNING},
        {"sum-merges with shape-fix convs (channels and size)",
         "layer:conv out_channels:6 kernel_size:3 stride:1 padding:same act:relu bias:True input:-1\n"
         "layer:conv out_channels:8 kernel_size:3 stride:2 padding:valid act:relu bias:True input:0\n"
         "layer:conv out_channels:6 kernel_size:3 stride:1 padding:same act:relu bias:True input:0,1\n"
         "layer:pool_max kernel_size:2 stride:2 padding:valid input:2\n"
         "layer:conv out_channels:32 kernel_size:1 stride:1 padding:valid act:sigmoid bias:True input:3,1\n"
         "layer:batch_norm input:4\n"
         "layer:conv out_channels:32 kernel_size:3 stride:1 padding:same act:relu bias:True input:5,4\n"
         "layer:fc act:relu out_features:64 bias:True input:6\n"
         "layer:fc act:relu out_features:64 bias:True input:7\n"
         "layer:fc act:softmax out_features:10 bias:True input:8,7\n" LEARNING},
        {"partition head after a pooling layer",
         "layer:conv out_channels:32 kernel_size:3 stride:1 padding:same act:relu bias:True input:-1\n"
         "layer:pool_max kernel_size:2 stride:2 padding:valid input:0\n"
         "layer:conv out_channels:64 kernel_size:3 stride:1 padding:same act:relu bias:True input:1\n"
         "layer:pool_avg kernel_size:2 stride:2 padding:valid input:2\n"
         "layer:fc act:relu out_features:128 bias:True input:3\n"
         "layer:fc act:softmax out_features:10 bias:True input:4\n" LEARNING
         "model_partition:True partition_point:1\n"},
        {"partition head after an fc layer",
         "layer:conv out_channels:16 kernel_size:3 stride:1 padding:same act:relu bias:True input:-1\n"
         "layer:fc act:relu out_features:64 bias:True input:0\n"
         "layer:fc act:relu out_features:64 bias:True input:1\n"
         "layer:fc act:softmax out_features:10 bias:True input:2\n" LEARNING
         "model_partition:True partition_point:1\n"},
    };
    for (size_t i = 0; i < ENEVO_COUNT(nets); i++)
        check_net(t, nets[i].name, nets[i].phen, in, 64);
}

static void kernel_table_has_no_reference(void **state)
{
    (void)state;
    setenv("ENEVO_QUIET_SLOW_PATH", "1", 1);
    struct table t = {0};
    struct enevo_shape gray = {1, 28, 28}, colour = {3, 32, 32};
    conv_chains(&t, gray);
    pools(&t, gray);
    others(&t, gray);
    others(&t, colour);
    const char *bench[] = {"bench/small.phen", "bench/medium.phen", "bench/medium_partition.phen"};
    int batches[] = {64, 1, 37, 256};
    for (size_t i = 0; i < ENEVO_COUNT(bench); i++)
        for (size_t b = 0; b < ENEVO_COUNT(batches); b++)
            check_file(&t, bench[i], gray, batches[b]);
    check_file(&t, "bench/small.phen", colour, 64);
    unsetenv("ENEVO_QUIET_SLOW_PATH");
    const char *isa = getenv("ONEDNN_MAX_CPU_ISA");
    printf("kernel table (ISA cap %s): %d nets, %d primitives, %d reference\n", isa ? isa : "none",
           t.nets, t.kernels, t.slow);
    if (t.slow) {
        printf("%s", t.text); /* cmocka truncates long messages */
        fail_msg("%d reference kernels (listed above)", t.slow);
    }
    free(t.text);
}

/* The ISA caps this machine can check: each one it supports. */
static int supported_caps(const char **caps)
{
    int n = 0;
    __builtin_cpu_init();
    if (__builtin_cpu_supports("sse4.1"))
        caps[n++] = "SSE41";
    if (__builtin_cpu_supports("avx"))
        caps[n++] = "AVX";
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        caps[n++] = "AVX2";
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq"))
        caps[n++] = "AVX512_CORE";
    return n;
}

static void isa_caps_rerun_the_kernel_table(void **state)
{
    (void)state;
    char exe[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    assert_true(len > 0);
    exe[len] = '\0';
    const char *caps[8];
    int n = supported_caps(caps);
    assert_true(n > 0);
    int failed = 0;
    for (int i = 0; i < n; i++) {
        char cmd[PATH_MAX + 128];
        snprintf(cmd, sizeof cmd,
                 "ONEDNN_MAX_CPU_ISA=%s DNNL_MAX_CPU_ISA=%s '%s' kernel_table_has_no_reference "
                 "'gradcheck_*' forward_matches_reference 2>&1",
                 caps[i], caps[i], exe);
        FILE *f = popen(cmd, "r");
        assert_non_null(f);
        char line[1024], summary[1024] = "";
        int passed = 0, failed_here = -1;
        while (fgets(line, sizeof line, f)) {
            if (strstr(line, "kernel table"))
                snprintf(summary, sizeof summary, "%s", line);
            if (sscanf(line, "%d passed, %d failed", &passed, &failed_here) == 2)
                continue;
            if (strstr(line, "FAILED") || strstr(line, "ERROR") || strstr(line, " runs ") ||
                strstr(line, "analytic"))
                fputs(line, stdout); /* the failure's details */
        }
        int st = pclose(f);
        printf("ISA cap %-12s %d passed, %d failed (kernel table, gradient checks); %s", caps[i],
               passed, failed_here, summary[0] ? summary : "no kernel table summary\n");
        /* the table, 10 gradient checks and the forward reference */
        if (st != 0 || failed_here != 0 || passed < 12)
            failed++;
    }
    assert_int_equal(failed, 0);
}

const struct CMUnitTest enevo_tests_kernels[] = {
    cmocka_unit_test(kernel_table_has_no_reference),
    cmocka_unit_test(isa_caps_rerun_the_kernel_table),
};
const size_t enevo_tests_kernels_count = ENEVO_COUNT(enevo_tests_kernels);
