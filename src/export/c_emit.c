/* C export: one C99 file (+ header) that runs the network on one image
 * with no allocation and no library but libm. Weights are `static const`
 * (they stay in flash on a microcontroller); activations live in one
 * static arena whose layout export.c planned by liveness. Batch norm is
 * folded into a per-channel scale and shift at export time. */
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "export/export_internal.h"

#define BN_EPS 1e-5 /* src/backend/cpu/layers/batch_norm.c */

static void put(struct enevo_pb *s, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static void put(struct enevo_pb *s, const char *fmt, ...)
{
    char small[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof small) {
        enevo__pb_raw(s, small, (size_t)n);
        return;
    }
    char *big = malloc((size_t)n + 1);
    if (!big) {
        s->oom = true;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    enevo__pb_raw(s, big, (size_t)n);
    free(big);
}

/* Hex floats: exact, and C99. */
static void put_array(struct enevo_pb *s, const char *name, const float *v, size_t n)
{
    put(s, "static const float %s[%zu] = {", name, n);
    for (size_t i = 0; i < n; i++)
        put(s, "%s%af,", i % 6 ? " " : "\n    ", (double)v[i]);
    put(s, "\n};\n");
}

enum helper { H_CONV, H_POOL, H_AFFINE, H_FC, H_RELU, H_SIGMOID, H_COPY, H_ADD, H_SOFTMAX, H__N };

static const char *const HELPERS[H__N] = {
    /* H_CONV */
    "/* y[O][OH][OW] = b + w[O][C][K][K] * x[C][H][W], stride S, zero padding P on\n"
    " * the top/left (the bottom/right padding is implied by OH, OW). */\n"
    "static void conv2d(const float *x, int C, int H, int W, const float *w, const float *b,\n"
    "                   int O, int K, int S, int P, int OH, int OW, float *y)\n"
    "{\n"
    "    for (int o = 0; o < O; o++) {\n"
    "        float *yo = y + (long)o * OH * OW;\n"
    "        for (int i = 0; i < OH * OW; i++)\n"
    "            yo[i] = b ? b[o] : 0.0f;\n"
    "        for (int c = 0; c < C; c++) {\n"
    "            const float *xc = x + (long)c * H * W;\n"
    "            for (int ky = 0; ky < K; ky++) {\n"
    "                for (int kx = 0; kx < K; kx++) {\n"
    "                    const float wv = w[(((long)o * C + c) * K + ky) * K + kx];\n"
    "                    int lo, hi;\n"
    "                    if (W - 1 + P - kx < 0)\n"
    "                        continue;\n"
    "                    lo = P - kx > 0 ? (P - kx + S - 1) / S : 0;\n"
    "                    hi = (W - 1 + P - kx) / S;\n"
    "                    if (hi > OW - 1)\n"
    "                        hi = OW - 1;\n"
    "                    for (int oy = 0; oy < OH; oy++) {\n"
    "                        const int iy = oy * S - P + ky;\n"
    "                        const long base = (long)iy * W - P + kx;\n"
    "                        float *yr = yo + (long)oy * OW;\n"
    "                        if (iy < 0 || iy >= H)\n"
    "                            continue;\n"
    "                        if (S == 1)\n"
    "                            for (int ox = lo; ox <= hi; ox++)\n"
    "                                yr[ox] += wv * xc[base + ox];\n"
    "                        else\n"
    "                            for (int ox = lo; ox <= hi; ox++)\n"
    "                                yr[ox] += wv * xc[base + (long)ox * S];\n"
    "                    }\n"
    "                }\n"
    "            }\n"
    "        }\n"
    "    }\n"
    "}\n\n",
    /* H_POOL */
    "/* Max or average pooling; the padding never takes part (the mean divides\n"
    " * by the window's pixels inside the image). */\n"
    "static void pool2d(const float *x, int C, int H, int W, int K, int S, int P, int OH, int OW,\n"
    "                   int avg, float *y)\n"
    "{\n"
    "    for (int c = 0; c < C; c++) {\n"
    "        const float *xc = x + (long)c * H * W;\n"
    "        for (int oy = 0; oy < OH; oy++) {\n"
    "            int y0 = oy * S - P, y1 = y0 + K;\n"
    "            y0 = y0 < 0 ? 0 : y0;\n"
    "            y1 = y1 > H ? H : y1;\n"
    "            for (int ox = 0; ox < OW; ox++) {\n"
    "                int x0 = ox * S - P, x1 = x0 + K;\n"
    "                float acc = avg ? 0.0f : -INFINITY;\n"
    "                x0 = x0 < 0 ? 0 : x0;\n"
    "                x1 = x1 > W ? W : x1;\n"
    "                for (int iy = y0; iy < y1; iy++)\n"
    "                    for (int ix = x0; ix < x1; ix++) {\n"
    "                        const float v = xc[(long)iy * W + ix];\n"
    "                        if (avg)\n"
    "                            acc += v;\n"
    "                        else if (v > acc)\n"
    "                            acc = v;\n"
    "                    }\n"
    "                y[((long)c * OH + oy) * OW + ox] =\n"
    "                    avg ? acc / (float)((y1 - y0) * (x1 - x0)) : acc;\n"
    "            }\n"
    "        }\n"
    "    }\n"
    "}\n\n",
    /* H_AFFINE */
    "/* Batch norm at inference, folded: y = x * a[c] + b[c]. */\n"
    "static void affine(const float *x, int C, int HW, const float *a, const float *b, float *y)\n"
    "{\n"
    "    for (int c = 0; c < C; c++)\n"
    "        for (int i = 0; i < HW; i++)\n"
    "            y[(long)c * HW + i] = x[(long)c * HW + i] * a[c] + b[c];\n"
    "}\n\n",
    /* H_FC */
    "/* y[O] = b + w[O][N] x[N] (x in NCHW order). */\n"
    "static void dense(const float *x, int N, const float *w, const float *b, int O, float *y)\n"
    "{\n"
    "    for (int o = 0; o < O; o++) {\n"
    "        const float *wo = w + (long)o * N;\n"
    "        float s[8] = {0, 0, 0, 0, 0, 0, 0, 0};\n"
    "        int i = 0;\n"
    "        for (; i + 8 <= N; i += 8)\n"
    "            for (int j = 0; j < 8; j++)\n"
    "                s[j] += wo[i + j] * x[i + j];\n"
    "        for (; i < N; i++)\n"
    "            s[0] += wo[i] * x[i];\n"
    "        y[o] = (b ? b[o] : 0.0f) +\n"
    "               (((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7])));\n"
    "    }\n"
    "}\n\n",
    /* H_RELU */
    "static void relu(float *x, long n)\n"
    "{\n"
    "    for (long i = 0; i < n; i++)\n"
    "        x[i] = x[i] > 0.0f ? x[i] : 0.0f;\n"
    "}\n\n",
    /* H_SIGMOID */
    "static void sigmoid(float *x, long n)\n"
    "{\n"
    "    for (long i = 0; i < n; i++)\n"
    "        x[i] = 1.0f / (1.0f + expf(-x[i]));\n"
    "}\n\n",
    /* H_COPY */
    "static void copy(float *y, const float *x, long n)\n"
    "{\n"
    "    for (long i = 0; i < n; i++)\n"
    "        y[i] = x[i];\n"
    "}\n\n",
    /* H_ADD */
    "static void add(float *y, const float *x, long n)\n"
    "{\n"
    "    for (long i = 0; i < n; i++)\n"
    "        y[i] += x[i];\n"
    "}\n\n",
    /* H_SOFTMAX */
    "static void softmax(const float *x, int n, float *y)\n"
    "{\n"
    "    float m = x[0], s = 0.0f;\n"
    "    for (int i = 1; i < n; i++)\n"
    "        m = x[i] > m ? x[i] : m;\n"
    "    for (int i = 0; i < n; i++)\n"
    "        s += (y[i] = expf(x[i] - m));\n"
    "    for (int i = 0; i < n; i++)\n"
    "        y[i] /= s;\n"
    "}\n\n",
};

/* The C expression of a tensor: "input" or "a + OFF". */
static void texpr(const struct enevo__xnet *x, int t, char *buf, size_t n)
{
    if (t == ENEVO_EXPORT_IMAGE)
        snprintf(buf, n, "input");
    else
        snprintf(buf, n, "a + %zu", x->t[t].off);
}

static size_t elems(struct enevo_shape s)
{
    return (size_t)s.c * (size_t)s.h * (size_t)s.w;
}

/* The body of predict(); marks the helpers it uses. Weights go to `w`. */
static void emit_body(const struct enevo__xnet *x, const struct enevo_export_opts *o,
                      struct enevo_pb *body, struct enevo_pb *w, bool *used, size_t *wfloats)
{
    const float *par = x->m->params, *st = x->m->stats;
    for (int i = 0; i < x->plan.n; i++) {
        if (!x->keep[i])
            continue;
        const struct enevo_plan_node *p = &x->plan.nodes[i];
        char name[96], src[48], dst[48], wn[32], bn[32];
        enevo__xnet_node_name(x, i, name, sizeof name);
        put(body, "    /* %s: [%d,%d,%d] -> [%d,%d,%d] */\n", name, p->in_shape.c, p->in_shape.h,
            p->in_shape.w, p->out_shape.c, p->out_shape.h, p->out_shape.w);
        texpr(x, enevo__xnet_src(x, i, 0), src, sizeof src);
        if (p->n_in > 1) {
            char s[48];
            texpr(x, x->sum[i], s, sizeof s);
            used[H_COPY] = used[H_ADD] = true;
            put(body, "    copy(%s, %s, %zu);\n", s, src, elems(p->in_shape));
            for (int k = 1; k < p->n_in; k++) {
                char sk[48];
                texpr(x, enevo__xnet_src(x, i, k), sk, sizeof sk);
                put(body, "    add(%s, %s, %zu);\n", s, sk, elems(p->in_shape));
            }
            snprintf(src, sizeof src, "%s", s);
        }
        texpr(x, x->dst[i], dst, sizeof dst);
        snprintf(wn, sizeof wn, "n%d_w", i);
        snprintf(bn, sizeof bn, "n%d_b", i);
        const struct enevo_shape *is = &p->in_shape, *os = &p->out_shape;
        switch (p->spec.kind) {
        case ENEVO_LAYER_CONV:
            used[H_CONV] = true;
            put_array(w, wn, par + p->w_off, p->w_count);
            if (p->b_count)
                put_array(w, bn, par + p->b_off, p->b_count);
            *wfloats += p->w_count + p->b_count;
            put(body, "    conv2d(%s, %d, %d, %d, %s, %s, %d, %d, %d, %d, %d, %d, %s);\n", src,
                is->c, is->h, is->w, wn, p->b_count ? bn : "NULL", os->c, p->spec.kernel_size,
                p->stride, p->pad_l, os->h, os->w, dst);
            break;
        case ENEVO_LAYER_POOL_MAX:
        case ENEVO_LAYER_POOL_AVG:
            used[H_POOL] = true;
            put(body, "    pool2d(%s, %d, %d, %d, %d, %d, %d, %d, %d, %d, %s);\n", src, is->c,
                is->h, is->w, p->spec.kernel_size, p->stride, p->pad_l, os->h, os->w,
                p->spec.kind == ENEVO_LAYER_POOL_AVG, dst);
            break;
        case ENEVO_LAYER_BATCH_NORM: {
            int c = is->c;
            float *ab = malloc(sizeof(float) * 2 * (size_t)(c ? c : 1));
            if (!ab) {
                w->oom = true;
                break;
            }
            for (int j = 0; j < c; j++) {
                double mean = st[p->s_off + (size_t)j], var = st[p->s_off + (size_t)c + (size_t)j];
                double a = (double)par[p->w_off + (size_t)j] / sqrt(var + BN_EPS);
                ab[j] = (float)a;
                ab[c + j] = (float)((double)par[p->b_off + (size_t)j] - mean * a);
            }
            snprintf(wn, sizeof wn, "n%d_scale", i);
            snprintf(bn, sizeof bn, "n%d_shift", i);
            put_array(w, wn, ab, (size_t)c);
            put_array(w, bn, ab + c, (size_t)c);
            free(ab);
            *wfloats += 2 * (size_t)c;
            used[H_AFFINE] = true;
            put(body, "    affine(%s, %d, %d, %s, %s, %s);\n", src, c, is->h * is->w, wn, bn, dst);
            break;
        }
        case ENEVO_LAYER_DROPOUT:
            put(body, "    /* identity at inference */\n");
            break;
        case ENEVO_LAYER_FC:
            used[H_FC] = true;
            put_array(w, wn, par + p->w_off, p->w_count);
            if (p->b_count)
                put_array(w, bn, par + p->b_off, p->b_count);
            *wfloats += p->w_count + p->b_count;
            put(body, "    dense(%s, %zu, %s, %s, %d, %s);\n", src, elems(*is), wn,
                p->b_count ? bn : "NULL", os->c, dst);
            break;
        case ENEVO_LAYER__COUNT:
            break;
        }
        if (p->spec.kind == ENEVO_LAYER_CONV || p->spec.kind == ENEVO_LAYER_FC) {
            if (p->spec.act == ENEVO_ACT_RELU) {
                used[H_RELU] = true;
                put(body, "    relu(%s, %zu);\n", dst, elems(*os));
            } else if (p->spec.act == ENEVO_ACT_SIGMOID) {
                used[H_SIGMOID] = true;
                put(body, "    sigmoid(%s, %zu);\n", dst, elems(*os));
            }
        }
    }
    char out[48];
    texpr(x, x->dst[x->out], out, sizeof out);
    if (o->logits) {
        used[H_COPY] = true;
        put(body, "    copy(output, %s, %d);\n", out, x->m->n_classes);
    } else {
        used[H_SOFTMAX] = true;
        put(body, "    softmax(%s, %d, output);\n", out, x->m->n_classes);
    }
}

static char *finish(struct enevo_pb *s)
{
    enevo__pb_raw(s, "", 1);
    if (s->oom) {
        enevo__pb_free(s);
        return NULL;
    }
    return (char *)s->p;
}

int enevo__c_write(const struct enevo__xnet *x, const struct enevo_export_opts *o,
                   const char *prefix, const char *header_name, char **c_text, char **h_text,
                   struct enevo_export_info *info, char *err, size_t errlen)
{
    *c_text = *h_text = NULL;
    char up[64];
    size_t j = 0;
    for (; prefix[j] && j + 1 < sizeof up; j++)
        up[j] = (char)toupper((unsigned char)prefix[j]);
    up[j] = 0;
    struct enevo_pb body = {0}, w = {0}, c = {0}, h = {0};
    bool used[H__N] = {0};
    size_t wfloats = 0;
    emit_body(x, o, &body, &w, used, &wfloats);
    size_t arena = x->arena_floats ? x->arena_floats : 1;
    info->weight_bytes = 4 * wfloats;
    char what[160];
    snprintf(what, sizeof what, "%s%s", o->source ? o->source : "an enevo model",
             x->plan.output2 < 0 ? "" : (x->which ? ", model 1 (early exit)" : ", model 0 (full)"));
    const char *out_kind = o->logits ? "logits" : "softmax probabilities";

    char *mean = enevo__xnet_norm_list(x->m, false, ", ", "f"),
         *std = enevo__xnet_norm_list(x->m, true, ", ", "f");
    if (!mean || !std)
        h.oom = true;
    put(&h,
        "/* %s — generated by enevo 0.1.0 from %s. Do not edit.\n"
        " *\n"
        " *     float out[%s_CLASSES];\n"
        " *     if (%s_predict(image, out) == 0) ...   // image: [%s_IN_C][%s_IN_H][%s_IN_W]\n"
        " *\n"
        " * The image is normalised first, per channel c: (pixel - mean[c]) / std[c],\n"
        " * pixels in [0, 1], with\n"
        " *     static const float mean[%s_IN_C] = %s_INPUT_MEAN, std[%s_IN_C] = %s_INPUT_STD;\n"
        " * The output is %d %s. One static arena, so not reentrant.\n"
        " */\n"
        "#ifndef %s_H\n#define %s_H\n\n"
        "#ifdef __cplusplus\nextern \"C\" {\n#endif\n\n"
        "#define %s_IN_C %d\n#define %s_IN_H %d\n#define %s_IN_W %d\n#define %s_CLASSES %d\n",
        header_name, what, up, prefix, up, up, up, up, up, up, up, x->m->n_classes, out_kind, up,
        up, up, x->m->in_c, up, x->m->in_h, up, x->m->in_w, up, x->m->n_classes);
    /* Brace initialisers, one value per input channel (an array's
     * initialiser, not an expression). */
    put(&h, "#define %s_INPUT_MEAN {%s}\n", up, mean ? mean : "");
    put(&h, "#define %s_INPUT_STD {%s}\n", up, std ? std : "");
    free(mean);
    free(std);
    put(&h,
        "#define %s_OUTPUT_IS_LOGITS %d\n"
        "#define %s_ARENA_BYTES %zu\n#define %s_WEIGHT_BYTES %zu\n#define %s_FLOPS %.0f\n\n"
        "/* Returns 0, or -1 when input or output is NULL. */\n"
        "int %s_predict(const float *input, float *output);\n\n"
        "#ifdef __cplusplus\n}\n#endif\n\n#endif\n",
        up, o->logits ? 1 : 0, up, 4 * arena, up, 4 * wfloats, up, x->flops, prefix);

    put(&c,
        "/* %s.c — generated by enevo 0.1.0 from %s. Do not edit.\n"
        " * C99, no allocation, no library but libm. Weights: %zu bytes (static const,\n"
        " * so they stay in flash); activations: one static arena of %zu bytes, buffers\n"
        " * reused by liveness; %.0f FLOPs per image. */\n"
        "#include \"%s\"\n\n#include <math.h>\n#include <stddef.h>\n\n",
        prefix, what, 4 * wfloats, 4 * arena, x->flops, header_name);
    for (int k = 0; k < H__N; k++)
        if (used[k])
            put(&c, "%s", HELPERS[k]);
    enevo__pb_raw(&c, w.p, w.n);
    if (w.oom)
        c.oom = true;
    enevo__pb_free(&w);
    put(&c, "\nstatic float %s_arena[%zu];\n\n", prefix, arena);
    put(&c,
        "int %s_predict(const float *input, float *output)\n{\n"
        "    float *const a = %s_arena;\n"
        "    if (!input || !output)\n        return -1;\n",
        prefix, prefix);
    enevo__pb_raw(&c, body.p, body.n);
    if (body.oom)
        c.oom = true;
    enevo__pb_free(&body);
    put(&c, "    return 0;\n}\n");
    *c_text = finish(&c);
    *h_text = finish(&h);
    if (!*c_text || !*h_text) {
        free(*c_text);
        free(*h_text);
        *c_text = *h_text = NULL;
        return enevo_errf(err, errlen, ENEVO_ENOMEM, "out of memory writing the C file");
    }
    return 0;
}

char *enevo_export_c_driver(const char *prefix, const char *header_name)
{
    char up[64];
    size_t j = 0;
    for (; prefix[j] && j + 1 < sizeof up; j++)
        up[j] = (char)toupper((unsigned char)prefix[j]);
    up[j] = 0;
    struct enevo_pb s = {0};
    put(&s,
        "/* A driver for %s: `driver IN OUT N` runs N images (native floats) and\n"
        " * writes their outputs; `driver --bench SECONDS` prints the median\n"
        " * single-image latency of five windows after a warm-up. */\n"
        "#define _POSIX_C_SOURCE 199309L\n"
        "#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>\n#include <time.h>\n\n"
        "#include \"%s\"\n\n"
        "static float in_buf[%s_IN_C * %s_IN_H * %s_IN_W];\n"
        "static float out_buf[%s_CLASSES];\n\n"
        "static double now(void)\n{\n    struct timespec t;\n"
        "    clock_gettime(CLOCK_MONOTONIC, &t);\n"
        "    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;\n}\n\n"
        "static int cmp(const void *a, const void *b)\n{\n"
        "    double x = *(const double *)a, y = *(const double *)b;\n"
        "    return (x > y) - (x < y);\n}\n\n"
        "int main(int argc, char **argv)\n{\n"
        "    if (argc == 3 && !strcmp(argv[1], \"--bench\")) {\n"
        "        double secs = atof(argv[2]), w[5];\n"
        "        for (size_t i = 0; i < sizeof in_buf / sizeof in_buf[0]; i++)\n"
        "            in_buf[i] = (float)((double)(i * 7919 %% 1000) / 1000.0 - 0.5);\n"
        "        for (int i = 0; i < 3; i++)\n"
        "            %s_predict(in_buf, out_buf);\n"
        "        for (int r = 0; r < 5; r++) {\n"
        "            double t0 = now(), t;\n            long n = 0;\n"
        "            do {\n                %s_predict(in_buf, out_buf);\n                n++;\n"
        "            } while ((t = now() - t0) < secs / 5);\n"
        "            w[r] = t / (double)n;\n        }\n"
        "        qsort(w, 5, sizeof w[0], cmp);\n"
        "        printf(\"latency_s %%.9g\\n\", w[2]);\n        return 0;\n    }\n"
        "    if (argc != 4) {\n"
        "        fprintf(stderr, \"usage: %%s IN OUT N | --bench SECONDS\\n\", argv[0]);\n"
        "        return 2;\n    }\n"
        "    FILE *fi = fopen(argv[1], \"rb\"), *fo = fopen(argv[2], \"wb\");\n"
        "    long n = atol(argv[3]);\n"
        "    if (!fi || !fo) {\n"
        "        fprintf(stderr, \"cannot open %%s or %%s\\n\", argv[1], argv[2]);\n"
        "        return 1;\n    }\n"
        "    for (long k = 0; k < n; k++) {\n"
        "        if (fread(in_buf, sizeof in_buf, 1, fi) != 1) {\n"
        "            fprintf(stderr, \"%%s: image %%ld: short read\\n\", argv[1], k);\n"
        "            return 1;\n        }\n"
        "        if (%s_predict(in_buf, out_buf) != 0 ||\n"
        "            fwrite(out_buf, sizeof out_buf, 1, fo) != 1) {\n"
        "            fprintf(stderr, \"image %%ld failed\\n\", k);\n"
        "            return 1;\n        }\n"
        "    }\n"
        "    fclose(fi);\n    return fclose(fo) != 0;\n}\n",
        header_name, header_name, up, up, up, up, prefix, prefix, prefix);
    return finish(&s);
}
