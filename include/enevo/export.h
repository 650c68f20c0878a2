/* enevo/export.h — take a trained network out of enevo: ONNX, or one C99
 * file with no allocation and no library but libm.
 *
 *     struct enevo_model_file m;
 *     enevo_model_load("best/model.enevo", &m, err, sizeof err);
 *     int n;
 *     enevo_export_count(&m, &n, err, sizeof err);     // 2 with a model partition
 *     struct enevo_export_opts o = {.format = ENEVO_EXPORT_ONNX};
 *     struct enevo_export_info info;
 *     enevo_export_write(&m, 0, &o, "net.onnx", &info, err, sizeof err);
 *     o.format = ENEVO_EXPORT_C;                       // writes net.c and net.h
 *     enevo_export_write(&m, 0, &o, "net.c", &info, err, sizeof err);
 *     enevo_model_file_free(&m);
 *
 * Both formats take the input already normalised per channel, x = (pixel -
 * mean[c]) / std[c] with pixels in [0, 1] and the model file's per-channel
 * ch_mean/ch_std (its scalar mean/std for every channel when it has none),
 * not folded into the first layer: a "same" conv pads the normalised image
 * with zeros, which no folding into weights reproduces. ONNX states them in
 * the metadata (enevo.input_mean, enevo.input_std: comma-separated, one value
 * per channel, "%.9g" so a float reads back exactly), the C header as
 * brace-initialiser macros (<P>_INPUT_MEAN {m0, m1, m2}, <P>_INPUT_STD).
 * docs/FORMATS.md ("Export") describes both outputs.
 */
#ifndef ENEVO_EXPORT_H
#define ENEVO_EXPORT_H

#include "enevo/api.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "enevo/error.h"
#include "enevo/model.h"

enum enevo_export_format { ENEVO_EXPORT_ONNX, ENEVO_EXPORT_C };

struct enevo_export_opts {
    enum enevo_export_format format;
    bool logits;        /* leave out the output softmax: the outputs are logits */
    const char *prefix; /* C: prefix of the symbols (NULL: from the file name) */
    const char *source; /* named in the output's comments/metadata (may be NULL) */
};

/* What one exported model costs. */
struct enevo_export_info {
    size_t arena_bytes;  /* activations of one image, buffers reused by liveness */
    size_t weight_bytes; /* weights as stored in the output (fp32) */
    double flops;        /* forward FLOPs per image (a multiply-add counts 2) */
    int classes;
    size_t bytes_written; /* size of the main output file */
};

/* 1, or 2 when the model file holds a two-headed (partitioned) network:
 * model 0 is the full network, model 1 the early exit. */
ENEVO_API int enevo_export_count(const struct enevo_model_file *m, int *n, char *err,
                                 size_t errlen);

/* Export model `which` (0, or 1 for a partition's early exit) of m to
 * `path`. ONNX: one .onnx file (opset 13, IR version 7). C: `path` is the
 * .c file; the header goes beside it with the extension .h. A construct the
 * format cannot express is refused with a message naming the layer; nothing
 * is written then. Files are written atomically. */
ENEVO_API int enevo_export_write(const struct enevo_model_file *m, int which,
                                 const struct enevo_export_opts *o, const char *path,
                                 struct enevo_export_info *info, char *err, size_t errlen);

/* The same into memory: *out is malloc'd (caller frees), *len its size.
 * For ENEVO_EXPORT_C, *out is the .c text and *hdr (may be NULL) the .h
 * text, which includes "<header_name>" (the .c file's #include). */
ENEVO_API int enevo_export_buffer(const struct enevo_model_file *m, int which,
                                  const struct enevo_export_opts *o, const char *header_name,
                                  char **out, size_t *len, char **hdr,
                                  struct enevo_export_info *info, char *err, size_t errlen);

/* A small C99 main() for an exported C file with symbol prefix `prefix`,
 * including "<header_name>" (malloc'd text; caller frees):
 *     driver IN.f32 OUT.f32 N   runs N images (raw little-endian floats)
 *     driver --bench SECONDS    prints "latency_s <median single-image seconds>"
 * Build: cc -std=c99 -O2 net.c driver.c -lm. Returns NULL when out of memory. */
ENEVO_API char *enevo_export_c_driver(const char *prefix, const char *header_name);

/* The C prefix a file name gives: its base name without extension, every
 * character outside [A-Za-z0-9_] replaced by '_' (and a leading '_' before a
 * digit). Writes at most n bytes including the NUL. */
ENEVO_API void enevo_export_prefix_from_path(const char *path, char *prefix, size_t n);

#endif
