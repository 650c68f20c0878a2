/*
 * bench/sgemm.c — OpenBLAS SGEMM throughput, the reference "peak" that
 * bench/run.sh compares enevo's achieved GFLOP/s with.
 *
 * Build: cc -O2 bench/sgemm.c -lopenblas -o build/bench-sgemm
 * Usage: build/bench-sgemm [--threads T] [--seconds S] [--json]
 *
 * Each shape is C[MxN] = A[MxK] * B[KxN] (row-major, no transposes, beta 0),
 * 2*M*N*K FLOPs per call.  After a warm-up call, calls are repeated in a
 * window of at least S seconds (default 1); the result is the median of 3
 * windows.  Shapes: a large square problem and the im2col GEMMs of the
 * reference networks (bench/small.phen, bench/medium.phen) at batch 64,
 * with the batch folded into N (M = out channels, K = in channels * k * k,
 * N = out pixels * 64), plus one per-image conv GEMM (N = out pixels).
 */
#define _POSIX_C_SOURCE 200809L
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Some cblas.h variants (netlib's) lack the OpenBLAS extensions. */
void openblas_set_num_threads(int num_threads);

struct shape {
    const char *name; /* JSON key: sgemm_gflops_<name> */
    const char *what;
    int m, n, k;
};

static const struct shape SHAPES[] = {
    {"large", "square 2048^3", 2048, 2048, 2048},
    {"small_conv2", "small conv2 3x3 32->64 @14x14, batch 64", 64, 196 * 64, 32 * 9},
    {"medium_conv2", "medium conv2 3x3 64->64 @28x28, batch 64", 64, 784 * 64, 64 * 9},
    {"medium_conv3", "medium conv3 3x3 64->128 @14x14, batch 64", 128, 196 * 64, 64 * 9},
    {"medium_conv2_img", "medium conv2 per image (N=784)", 64, 784, 64 * 9},
};
#define NSHAPES (sizeof SHAPES / sizeof SHAPES[0])
#define NWIN 3

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static float *alloc_fill(size_t n, unsigned *seed)
{
    float *p = NULL;
    if (posix_memalign((void **)&p, 64, n * sizeof *p) != 0) {
        fprintf(stderr, "bench-sgemm: out of memory (%zu floats)\n", n);
        exit(1);
    }
    for (size_t i = 0; i < n; i++) {
        *seed = *seed * 1664525u + 1013904223u;
        p[i] = (float)((*seed >> 8) & 0xffff) / 65536.0f - 0.5f;
    }
    return p;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median GFLOP/s over NWIN windows of >= seconds each. */
static double bench_shape(const struct shape *s, double seconds, double win[NWIN])
{
    unsigned seed = 12345u;
    int m = s->m, n = s->n, k = s->k;
    float *a = alloc_fill((size_t)m * k, &seed);
    float *b = alloc_fill((size_t)k * n, &seed);
    float *c = alloc_fill((size_t)m * n, &seed);
    double flop = 2.0 * m * n * k;

    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1.0f, a, k, b, n, 0.0f, c, n);
    for (int w = 0; w < NWIN; w++) {
        long calls = 0;
        double t0 = now(), el;
        do {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1.0f, a, k, b, n, 0.0f,
                        c, n);
            calls++;
            el = now() - t0;
        } while (el < seconds);
        win[w] = flop * (double)calls / el / 1e9;
    }
    free(a);
    free(b);
    free(c);
    double sorted[NWIN];
    memcpy(sorted, win, sizeof sorted);
    qsort(sorted, NWIN, sizeof sorted[0], cmp_double);
    return sorted[NWIN / 2];
}

static void usage(FILE *f)
{
    fprintf(f, "usage: bench-sgemm [--threads T] [--seconds S] [--json]\n"
               "  --threads T   openblas_set_num_threads(T) (default 2)\n"
               "  --seconds S   length of one timing window, 3 windows per shape (default 1)\n"
               "  --json        print one JSON object as the last line\n");
}

int main(int argc, char **argv)
{
    int threads = 2, json = 0;
    double seconds = 1.0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
            threads = atoi(argv[++i]);
        } else if (!strcmp(argv[i], "--seconds") && i + 1 < argc) {
            seconds = atof(argv[++i]);
        } else if (!strcmp(argv[i], "--json")) {
            json = 1;
        } else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            return 0;
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (threads < 1 || seconds <= 0) {
        usage(stderr);
        return 2;
    }
    openblas_set_num_threads(threads);

    double res[NSHAPES];
    printf("OpenBLAS SGEMM, %d thread(s), median of %d windows of >= %.2f s\n", threads, NWIN,
           seconds);
    printf("  %-18s %6s %6s %6s %10s   %s\n", "shape", "M", "N", "K", "GFLOP/s", "windows");
    for (size_t i = 0; i < NSHAPES; i++) {
        double win[NWIN];
        res[i] = bench_shape(&SHAPES[i], seconds, win);
        printf("  %-18s %6d %6d %6d %10.2f   %.2f %.2f %.2f  (%s)\n", SHAPES[i].name, SHAPES[i].m,
               SHAPES[i].n, SHAPES[i].k, res[i], win[0], win[1], win[2], SHAPES[i].what);
        fflush(stdout);
    }
    if (json) {
        printf("{\"threads\": %d, \"seconds\": %g", threads, seconds);
        for (size_t i = 0; i < NSHAPES; i++)
            printf(", \"sgemm_gflops_%s\": %.3f", SHAPES[i].name, res[i]);
        printf("}\n");
    }
    return 0;
}
