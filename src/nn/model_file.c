/* The model file (layout in enevo/model.h) and the atomic file writer.
 *
 * Every field is written byte by byte in little-endian order, so the file is
 * the same on any host; structs are never written whole.
 */
#include "enevo/model.h"
#include "nn/model_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define MAGIC_LEN 8
#define PREAMBLE_LEN (MAGIC_LEN + 4 + 4) /* magic, version, header bytes */
#define HEADER_LEN (4 * 4 + 4 * 2 + 8 * 3)
#define CRC_LEN 4

static unsigned char *put_u32(unsigned char *b, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        b[i] = (unsigned char)(v >> (8 * i));
    return b + 4;
}

static unsigned char *put_u64(unsigned char *b, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)(v >> (8 * i));
    return b + 8;
}

static unsigned char *put_f32(unsigned char *b, float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return put_u32(b, u);
}

static uint32_t get_u32(const unsigned char *b)
{
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static uint64_t get_u64(const unsigned char *b)
{
    return (uint64_t)get_u32(b) | (uint64_t)get_u32(b + 4) << 32;
}

static float get_f32(const unsigned char *b)
{
    uint32_t u = get_u32(b);
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* zlib's crc32 takes a uInt length; feed large buffers in pieces. */
static uint32_t crc32_buf(const unsigned char *b, size_t n)
{
    uLong crc = crc32(0L, Z_NULL, 0);
    while (n > 0) {
        uInt k = n > (1u << 30) ? (1u << 30) : (uInt)n;
        crc = crc32(crc, b, k);
        b += k;
        n -= k;
    }
    return (uint32_t)crc;
}

/* Index of the first non-finite value, or n. */
static size_t first_nonfinite(const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i]))
            return i;
    return n;
}

/* a + b + c... in size_t, or SIZE_MAX on overflow. */
static size_t add_sz(size_t a, size_t b) { return a > SIZE_MAX - b ? SIZE_MAX : a + b; }
static size_t mul4_sz(uint64_t n) { return n > SIZE_MAX / 4 ? SIZE_MAX : (size_t)n * 4; }


/* What save refuses and load rejects: header values no network could have. */
static const char *check_header(const struct enevo_model_file *m)
{
    if (m->in_c < 1 || m->in_h < 1 || m->in_w < 1)
        return "input shape must be positive";
    if (m->n_classes < 1)
        return "n_classes must be positive";
    if (!isfinite(m->mean) || !isfinite(m->std) || !(m->std > 0))
        return "normalisation mean/std must be finite with std > 0";
    if (m->norm_c != 0 && m->norm_c != m->in_c)
        return "per-channel normalisation must have one value per input channel";
    if (m->in_c > ENEVO_MAX_CHANNELS && m->norm_c)
        return "too many channels for per-channel normalisation";
    for (int c = 0; c < m->norm_c; c++)
        if (!isfinite(m->ch_mean[c]) || !isfinite(m->ch_std[c]) || !(m->ch_std[c] > 0))
            return "per-channel mean/std must be finite with std > 0";
    return NULL;
}

int enevo_model_save(const char *path, const struct enevo_model_file *m, char *err, size_t errlen)
{
    const char *bad = check_header(m);
    if (bad)
        return enevo_errf(err, errlen, ENEVO_EINVAL,
                          "%s: %s (in %dx%dx%d, %d classes, mean %g, std %g)", path, bad, m->in_c,
                          m->in_h, m->in_w, m->n_classes, m->mean, m->std);
    if (!m->phenotype || (m->n_params && !m->params) || (m->n_stats && !m->stats))
        return enevo_errf(err, errlen, ENEVO_EINVAL, "%s: model has missing buffers", path);
    size_t i = first_nonfinite(m->params, m->n_params);
    if (i < m->n_params)
        return enevo_errf(err, errlen, ENEVO_ENUMERIC, "%s: parameter %zu is %g, not saving", path, i,
                          m->params[i]);
    i = first_nonfinite(m->stats, m->n_stats);
    if (i < m->n_stats)
        return enevo_errf(err, errlen, ENEVO_ENUMERIC, "%s: statistic %zu is %g, not saving", path, i,
                          m->stats[i]);

    /* The per-channel extension only where it says more than mean/std, so
     * grey models stay byte for byte as before. */
    bool ext = false;
    for (int c = 0; c < m->norm_c; c++)
        ext |= m->ch_mean[c] != m->mean || m->ch_std[c] != m->std;
    size_t hlen = HEADER_LEN + (ext ? 8 + 8 * (size_t)m->norm_c : 0);
    size_t plen = strlen(m->phenotype);
    size_t total = add_sz(PREAMBLE_LEN + hlen + CRC_LEN, plen);
    total = add_sz(total, mul4_sz(m->n_params));
    total = add_sz(total, mul4_sz(m->n_stats));
    unsigned char *buf = total == SIZE_MAX ? NULL : malloc(total);
    if (!buf)
        return enevo_errf(err, errlen, ENEVO_ENOMEM, "%s: out of memory for a %zu-parameter model",
                          path, m->n_params);

    unsigned char *b = buf;
    memcpy(b, ENEVO_MODEL_MAGIC, MAGIC_LEN);
    b += MAGIC_LEN;
    b = put_u32(b, ENEVO_MODEL_VERSION);
    b = put_u32(b, (uint32_t)hlen);
    b = put_u32(b, (uint32_t)m->in_c);
    b = put_u32(b, (uint32_t)m->in_h);
    b = put_u32(b, (uint32_t)m->in_w);
    b = put_u32(b, (uint32_t)m->n_classes);
    b = put_f32(b, m->mean);
    b = put_f32(b, m->std);
    b = put_u64(b, plen);
    b = put_u64(b, m->n_params);
    b = put_u64(b, m->n_stats);
    if (ext) {
        memcpy(b, "NORM", 4); /* a tagged extension: readers skip tags they do not know */
        b += 4;
        b = put_u32(b, (uint32_t)m->norm_c);
        for (int c = 0; c < m->norm_c; c++)
            b = put_f32(b, m->ch_mean[c]);
        for (int c = 0; c < m->norm_c; c++)
            b = put_f32(b, m->ch_std[c]);
    }
    memcpy(b, m->phenotype, plen);
    b += plen;
    for (size_t k = 0; k < m->n_params; k++)
        b = put_f32(b, m->params[k]);
    for (size_t k = 0; k < m->n_stats; k++)
        b = put_f32(b, m->stats[k]);
    b = put_u32(b, crc32_buf(buf, (size_t)(b - buf)));

    int rc = enevo_write_atomic(path, buf, total, err, errlen);
    free(buf);
    return rc;
}

/* Whole file into memory. */
static int read_all(const char *path, unsigned char **out, size_t *len, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return enevo_errf(err, errlen, ENEVO_EIO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0) {
        int e = errno;
        fclose(f);
        return enevo_errf(err, errlen, ENEVO_EIO, "%s: cannot stat: %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        fclose(f);
        return enevo_errf(err, errlen, ENEVO_EIO, "%s: not a regular file", path);
    }
    if ((uint64_t)st.st_size > SIZE_MAX - 1) {
        fclose(f);
        return enevo_errf(err, errlen, ENEVO_ENOMEM, "%s: too large to read", path);
    }
    size_t n = (size_t)st.st_size;
    unsigned char *buf = malloc(n ? n : 1);
    if (!buf) {
        fclose(f);
        return enevo_errf(err, errlen, ENEVO_ENOMEM, "%s: out of memory for %zu bytes", path, n);
    }
    size_t got = fread(buf, 1, n, f);
    if (got != n || ferror(f)) {
        int e = errno;
        free(buf);
        fclose(f);
        return enevo_errf(err, errlen, ENEVO_EIO, "%s: read failed after %zu of %zu bytes: %s", path,
                          got, n, e ? strerror(e) : "file changed while reading");
    }
    fclose(f);
    *out = buf;
    *len = n;
    return 0;
}

static int parse(const char *path, const unsigned char *buf, size_t len, struct enevo_model_file *m,
                 char *err, size_t errlen)
{
    if (len < PREAMBLE_LEN + HEADER_LEN + CRC_LEN)
        return enevo_errf(err, errlen, ENEVO_EFORMAT, "%s: too short to be an enevo model (%zu bytes)",
                          path, len);
    if (memcmp(buf, ENEVO_MODEL_MAGIC, MAGIC_LEN) != 0) {
        char shown[MAGIC_LEN * 4 + 1], *s = shown;
        for (int i = 0; i < MAGIC_LEN; i++) {
            unsigned char c = buf[i];
            if (c >= 0x20 && c < 0x7f && c != '\\')
                *s++ = (char)c;
            else
                s += sprintf(s, "\\x%02x", c);
        }
        *s = 0;
        return enevo_errf(err, errlen, ENEVO_EFORMAT,
                          "%s: not an enevo model file (magic \"%s\", expected \"%s\")", path, shown,
                          ENEVO_MODEL_MAGIC);
    }
    uint32_t version = get_u32(buf + MAGIC_LEN);
    if (version != ENEVO_MODEL_VERSION)
        return enevo_errf(err, errlen, ENEVO_EVERSION, "%s: model format version %u, this enevo reads %u",
                          path, (unsigned)version, (unsigned)ENEVO_MODEL_VERSION);
    /* A longer header is a future extension within the same version: skip the rest. */
    uint32_t hlen = get_u32(buf + MAGIC_LEN + 4);
    if (hlen < HEADER_LEN)
        return enevo_errf(err, errlen, ENEVO_EFORMAT, "%s: header is %u bytes, expected at least %d",
                          path, (unsigned)hlen, HEADER_LEN);
    if (hlen > len - PREAMBLE_LEN - CRC_LEN)
        return enevo_errf(err, errlen, ENEVO_EFORMAT,
                          "%s: truncated: header of %u bytes does not fit in a %zu-byte file", path,
                          (unsigned)hlen, len);

    const unsigned char *h = buf + PREAMBLE_LEN;
    m->in_c = (int32_t)get_u32(h);
    m->in_h = (int32_t)get_u32(h + 4);
    m->in_w = (int32_t)get_u32(h + 8);
    m->n_classes = (int32_t)get_u32(h + 12);
    m->mean = get_f32(h + 16);
    m->std = get_f32(h + 20);
    uint64_t plen = get_u64(h + 24), np = get_u64(h + 32), ns = get_u64(h + 40);

    size_t expect = add_sz(PREAMBLE_LEN + CRC_LEN, hlen);
    expect = add_sz(expect, plen > SIZE_MAX ? SIZE_MAX : (size_t)plen);
    expect = add_sz(expect, mul4_sz(np));
    expect = add_sz(expect, mul4_sz(ns));
    if (expect == SIZE_MAX)
        return enevo_errf(err, errlen, ENEVO_EFORMAT,
                          "%s: impossible sizes (phenotype %llu bytes, %llu params, %llu stats)", path,
                          (unsigned long long)plen, (unsigned long long)np, (unsigned long long)ns);
    if (expect > len)
        return enevo_errf(err, errlen, ENEVO_EFORMAT, "%s: truncated: expected %zu bytes, file has %zu",
                          path, expect, len);
    if (expect < len)
        return enevo_errf(err, errlen, ENEVO_EFORMAT,
                          "%s: %zu trailing bytes: expected %zu bytes, file has %zu", path,
                          len - expect, expect, len);

    uint32_t stored = get_u32(buf + len - CRC_LEN), actual = crc32_buf(buf, len - CRC_LEN);
    if (stored != actual)
        return enevo_errf(err, errlen, ENEVO_ECORRUPT,
                          "%s: checksum mismatch: file is corrupted (stored %08x, computed %08x)", path,
                          (unsigned)stored, (unsigned)actual);

    if (hlen >= HEADER_LEN + 8 && !memcmp(h + HEADER_LEN, "NORM", 4)) {
        uint32_t nc = get_u32(h + HEADER_LEN + 4);
        if (nc > ENEVO_MAX_CHANNELS || (int)nc != m->in_c || hlen < HEADER_LEN + 8 + 8 * nc)
            return enevo_errf(err, errlen, ENEVO_EFORMAT,
                              "%s: per-channel normalisation of %u channels for a %d-channel "
                              "input in a %u-byte header",
                              path, (unsigned)nc, m->in_c, (unsigned)hlen);
        m->norm_c = (int)nc;
        for (uint32_t c = 0; c < nc; c++) {
            m->ch_mean[c] = get_f32(h + HEADER_LEN + 8 + 4 * c);
            m->ch_std[c] = get_f32(h + HEADER_LEN + 8 + 4 * nc + 4 * c);
        }
    } else if (m->in_c >= 1 && m->in_c <= ENEVO_MAX_CHANNELS) {
        m->norm_c = m->in_c;
        for (int c = 0; c < m->in_c; c++) {
            m->ch_mean[c] = m->mean;
            m->ch_std[c] = m->std;
        }
    }
    const char *bad = check_header(m);
    if (bad)
        return enevo_errf(err, errlen, ENEVO_EFORMAT, "%s: %s (in %dx%dx%d, %d classes, mean %g, std %g)",
                          path, bad, m->in_c, m->in_h, m->in_w, m->n_classes, m->mean, m->std);

    const unsigned char *ptext = h + hlen;
    const void *nul = memchr(ptext, 0, (size_t)plen);
    if (nul)
        return enevo_errf(err, errlen, ENEVO_EFORMAT, "%s: phenotype text has a NUL byte at offset %zu",
                          path, (size_t)((const unsigned char *)nul - ptext));
    const unsigned char *pp = ptext + plen, *sp = pp + 4 * (size_t)np;

    m->phenotype = malloc((size_t)plen + 1);
    m->params = malloc(np ? (size_t)np * sizeof(float) : 1);
    m->stats = malloc(ns ? (size_t)ns * sizeof(float) : 1);
    if (!m->phenotype || !m->params || !m->stats)
        return enevo_errf(err, errlen, ENEVO_ENOMEM, "%s: out of memory for %llu parameters", path,
                          (unsigned long long)np);
    memcpy(m->phenotype, ptext, (size_t)plen);
    m->phenotype[plen] = 0;
    m->n_params = (size_t)np;
    m->n_stats = (size_t)ns;
    for (size_t i = 0; i < m->n_params; i++)
        m->params[i] = get_f32(pp + 4 * i);
    for (size_t i = 0; i < m->n_stats; i++)
        m->stats[i] = get_f32(sp + 4 * i);
    size_t i = first_nonfinite(m->params, m->n_params);
    if (i < m->n_params)
        return enevo_errf(err, errlen, ENEVO_EFORMAT, "%s: parameter %zu is %g (not finite)", path, i,
                          m->params[i]);
    i = first_nonfinite(m->stats, m->n_stats);
    if (i < m->n_stats)
        return enevo_errf(err, errlen, ENEVO_EFORMAT, "%s: statistic %zu is %g (not finite)", path, i,
                          m->stats[i]);
    return 0;
}

int enevo__model_parse_mem(const unsigned char *buf, size_t len, const char *name,
                           struct enevo_model_file *m, char *err, size_t errlen)
{
    memset(m, 0, sizeof *m);
    int rc = parse(name, buf, len, m, err, errlen);
    if (rc)
        enevo_model_file_free(m);
    return rc;
}

int enevo_model_load(const char *path, struct enevo_model_file *m, char *err, size_t errlen)
{
    memset(m, 0, sizeof *m);
    unsigned char *buf = NULL;
    size_t len = 0;
    int rc = read_all(path, &buf, &len, err, errlen);
    if (rc)
        return rc;
    rc = enevo__model_parse_mem(buf, len, path, m, err, errlen);
    free(buf);
    return rc;
}

void enevo_model_file_free(struct enevo_model_file *m)
{
    if (!m)
        return;
    free(m->phenotype);
    free(m->params);
    free(m->stats);
    memset(m, 0, sizeof *m);
}

void enevo_model_set_norm(struct enevo_model_file *m, const struct enevo_dataset *d)
{
    if (!d || !d->norm_mean || !d->norm_std || d->c < 1 || d->c > ENEVO_MAX_CHANNELS)
        return;
    m->norm_c = d->c;
    for (int c = 0; c < d->c; c++) {
        m->ch_mean[c] = d->norm_mean[c];
        m->ch_std[c] = d->norm_std[c];
    }
}
