/* tests/support.c — what several test groups share: running the CLI, small
 * IDX data sets on disk, line counts. Declared in tests.h. */
#include "tests.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <zlib.h>

#include "enevo/data.h"

const char *enevo_test_bin(void)
{
    const char *b = getenv("ENEVO_BIN");
    return b ? b : "build/enevo";
}

int enevo_test_cli(char *out, size_t outlen, const char *fmt, ...)
{
    char args[2048], cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof cmd, "%s %s 2>&1", enevo_test_bin(), args);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t n = fread(out, 1, outlen - 1, p);
    out[n] = 0;
    /* Drain what did not fit, so the command never blocks on a full pipe. */
    char sink[4096];
    while (fread(sink, 1, sizeof sink, p) > 0)
        ;
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int enevo_test_count_lines(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    int n = 0, ch;
    while ((ch = fgetc(f)) != EOF)
        n += ch == '\n';
    fclose(f);
    return n;
}

static void put_be32(unsigned char *b, uint32_t v)
{
    b[0] = (unsigned char)(v >> 24);
    b[1] = (unsigned char)(v >> 16);
    b[2] = (unsigned char)(v >> 8);
    b[3] = (unsigned char)v;
}

void enevo_test_write_idx(const char *dir, const char *prefix, int n, int classes, uint64_t seed)
{
    struct enevo_dataset d;
    assert_int_equal(enevo_dataset_synthetic(n, 1, 12, 12, classes, seed, &d), 0);
    float lo = 1e30f, hi = -1e30f;
    for (size_t i = 0; i < (size_t)n * 144; i++) {
        lo = d.x[i] < lo ? d.x[i] : lo;
        hi = d.x[i] > hi ? d.x[i] : hi;
    }
    char path[1024];
    snprintf(path, sizeof path, "%s/%s-images-idx3-ubyte.gz", dir, prefix);
    gzFile f = gzopen(path, "wb");
    assert_non_null(f);
    unsigned char h[16];
    put_be32(h, 0x803);
    put_be32(h + 4, (uint32_t)n);
    put_be32(h + 8, 12);
    put_be32(h + 12, 12);
    gzwrite(f, h, 16);
    for (size_t i = 0; i < (size_t)n * 144; i++) {
        unsigned char px = (unsigned char)(255.0f * (d.x[i] - lo) / (hi - lo));
        gzwrite(f, &px, 1);
    }
    gzclose(f);
    snprintf(path, sizeof path, "%s/%s-labels-idx1-ubyte.gz", dir, prefix);
    f = gzopen(path, "wb");
    assert_non_null(f);
    put_be32(h, 0x801);
    put_be32(h + 4, (uint32_t)n);
    gzwrite(f, h, 8);
    gzwrite(f, d.y, (unsigned)n);
    gzclose(f);
    enevo_dataset_free(&d);
}

void enevo_test_evo_data_init(struct enevo_test_evo_data *x, int side, int n_train, int n_eval,
                              int n_test)
{
    assert_int_equal(enevo_dataset_synthetic(n_train, 1, side, side, 10, 1, &x->tr), 0);
    assert_int_equal(enevo_dataset_synthetic(n_eval, 1, side, side, 10, 2, &x->val), 0);
    assert_int_equal(enevo_dataset_synthetic(n_eval, 1, side, side, 10, 3, &x->fit), 0);
    assert_int_equal(enevo_dataset_synthetic(n_test, 1, side, side, 10, 4, &x->test), 0);
    x->d = (struct enevo_evo_data){&x->tr, &x->val, &x->fit, &x->test, 0.0f, 1.0f};
}

void enevo_test_evo_data_free(struct enevo_test_evo_data *x)
{
    enevo_dataset_free(&x->tr);
    enevo_dataset_free(&x->val);
    enevo_dataset_free(&x->fit);
    enevo_dataset_free(&x->test);
}
