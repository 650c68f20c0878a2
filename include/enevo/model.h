/* enevo/model.h — the model file: a trained network on disk.
 *
 *     struct enevo_model_file m = {.phenotype = text, .params = p, .n_params = n, ...};
 *     enevo_model_save("small.enevo", &m, err, sizeof err);
 *     struct enevo_model_file r;
 *     enevo_model_load("small.enevo", &r, err, sizeof err);  // r owns its buffers
 *     enevo_model_file_free(&r);
 *
 * Layout (little-endian), see docs/FORMATS.md:
 *   magic "ENEVOMDL" (8 bytes), u32 version (1), u32 header bytes,
 *   header: i32 in_c, in_h, in_w, n_classes; f32 mean, std;
 *           u64 phenotype bytes, u64 n_params, u64 n_stats;
 *   [optional, header bytes > 48: "NORM", u32 norm_c (= in_c), f32 ch_mean[norm_c],
 *    f32 ch_std[norm_c]: per-channel normalisation; older readers skip it]
 *   phenotype text (no NUL), f32 params[n_params], f32 stats[n_stats],
 *   u32 CRC32 (zlib) of everything before it.
 * Saved atomically: temp file, fsync, rename.
 */
#ifndef ENEVO_MODEL_H
#define ENEVO_MODEL_H

#include "enevo/api.h"

#include <stddef.h>
#include <stdint.h>

#include "enevo/data.h"
#include "enevo/error.h"
#include "enevo/io.h"

#define ENEVO_MODEL_MAGIC "ENEVOMDL"
#define ENEVO_MODEL_VERSION 1u

struct enevo_model_file {
    int in_c, in_h, in_w, n_classes;
    float mean, std;    /* input normalisation the model was trained with */
    /* Per channel: x = (raw - ch_mean[c]) / ch_std[c]. Save: norm_c 0 means
     * mean/std for every channel. Load: always filled (old files: mean/std). */
    int norm_c;
    float ch_mean[ENEVO_MAX_CHANNELS], ch_std[ENEVO_MAX_CHANNELS];
    char *phenotype;    /* NUL-terminated */
    float *params;      /* [n_params] flat parameter block */
    size_t n_params;
    float *stats;       /* [n_stats] batch-norm running statistics */
    size_t n_stats;
};

ENEVO_API int enevo_model_save(const char *path, const struct enevo_model_file *m, char *err,
                               size_t errlen);
/* Checks magic, version, sizes against the file length, and the CRC; says
 * which is wrong. On success *m owns phenotype, params, stats. */
ENEVO_API int enevo_model_load(const char *path, struct enevo_model_file *m, char *err,
                               size_t errlen);
ENEVO_API void enevo_model_file_free(struct enevo_model_file *m);
/* m's per-channel normalisation from the set the model was trained on
 * (d->norm_mean / norm_std; nothing when the set does not carry them). */
ENEVO_API void enevo_model_set_norm(struct enevo_model_file *m, const struct enevo_dataset *d);

#endif
