/* fuzz_phenotype: a phenotype text (the .phen files, stats.csv's phenotype
 * column, a model file's text): parse, the symbolic shape check and the
 * plan for two input shapes, and the canonical text, which must parse back
 * to the same canonical text. */
#include "common.h"

#include <stdlib.h>
#include <string.h>

#include "enevo/phenotype.h"
#include "nn/plan.h"

static void check_and_plan(const struct enevo_phenotype *p, struct enevo_shape in, int classes)
{
    char err[ENEVO_ERR_LEN];
    struct enevo_shape *shapes = malloc(sizeof *shapes * (size_t)(p->n_layers + 1));
    if (!shapes)
        return;
    if (enevo_phenotype_check(p, in, classes, shapes, err, sizeof err) == 0) {
        struct enevo_plan plan;
        if (enevo_plan_build(p, in, classes, &plan, err, sizeof err) == 0)
            enevo_plan_free(&plan);
    }
    free(shapes);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_text(data, size);
    if (!text)
        return 0;
    char err[ENEVO_ERR_LEN];
    struct enevo_phenotype p;
    if (enevo_phenotype_parse(text, "fuzz.phen", &p, err, sizeof err) == 0) {
        check_and_plan(&p, (struct enevo_shape){1, 28, 28}, 10);
        check_and_plan(&p, (struct enevo_shape){3, 32, 32}, 100);
        char *f = enevo_phenotype_format(&p);
        if (f) {
            struct enevo_phenotype q;
            if (enevo_phenotype_parse(f, "canonical", &q, err, sizeof err))
                fuzz_fail("the canonical text does not parse back", err);
            char *g = enevo_phenotype_format(&q);
            if (g && strcmp(f, g))
                fuzz_fail("the canonical text changes when parsed back", g);
            free(g);
            enevo_phenotype_free(&q);
            free(f);
        }
        enevo_phenotype_free(&p);
    }
    free(text);
    return 0;
}
