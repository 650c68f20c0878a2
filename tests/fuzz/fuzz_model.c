/* fuzz_model: a model file (docs/FORMATS.md): the reader as is, then again
 * with the CRC made right so mutations reach the header, phenotype and
 * tensor checks behind it; a file that loads has its phenotype parsed,
 * shape-checked and planned for its input, and the plan's parameter and
 * statistic counts compared with the file's, as `enevo eval` does. */
#include "common.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "enevo/model.h"
#include "enevo/phenotype.h"
#include "nn/model_internal.h"
#include "nn/plan.h"

static void use(const struct enevo_model_file *m)
{
    char err[ENEVO_ERR_LEN];
    struct enevo_phenotype p;
    if (enevo_phenotype_parse(m->phenotype, "model", &p, err, sizeof err))
        return;
    struct enevo_shape in = {m->in_c, m->in_h, m->in_w};
    struct enevo_plan plan;
    if (enevo_plan_build(&p, in, m->n_classes, &plan, err, sizeof err) == 0) {
        volatile int same = plan.n_params == m->n_params && plan.n_stats == m->n_stats;
        (void)same;
        enevo_plan_free(&plan);
    }
    enevo_phenotype_free(&p);
}

static void load(const unsigned char *b, size_t n)
{
    char err[ENEVO_ERR_LEN];
    struct enevo_model_file m;
    if (enevo__model_parse_mem(b, n, "fuzz.enevo", &m, err, sizeof err) == 0) {
        use(&m);
        enevo_model_file_free(&m);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned char *b = fuzz_copy(data, size);
    if (!b)
        return 0;
    load(b, size);
    if (size >= 4) {
        uLong crc = crc32(0L, b, (uInt)(size - 4));
        for (int i = 0; i < 4; i++)
            b[size - 4 + (size_t)i] = (unsigned char)(crc >> (8 * i));
        if (memcmp(b, data, size))
            load(b, size);
    }
    free(b);
    return 0;
}
