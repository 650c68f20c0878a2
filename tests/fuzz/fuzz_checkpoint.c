/* fuzz_checkpoint: a run's checkpoint.bin (rundir.c; versions 1 and 2),
 * loaded into a run of the built-in config and grammar, once as a (1+λ)
 * run and once as an NSGA-II run. The input's config and grammar hashes
 * and its CRC are made right first (a fuzzer cannot guess them), so every
 * input reaches the genotypes, individuals, module archive, survivors and
 * front behind them; the input as it is is read too. */
#include "common.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "enevo/config.h"
#include "enevo/grammar.h"
#include "evo/run_internal.h"

#define CFG_HASH 0x5eed5eed5eed5eedULL
#define GRAM_HASH 0x6a6a6a6a6a6a6a6aULL

static struct enevo_config cfg[2];
static struct enevo_grammar *gram;
static bool ready;

static void setup(void)
{
    char err[ENEVO_ERR_LEN];
    enevo_config_defaults(&cfg[0]);
    cfg[1] = cfg[0];
    cfg[0].strategy = ENEVO_STRATEGY_ONE_PLUS_LAMBDA;
    cfg[1].strategy = ENEVO_STRATEGY_NSGA2;
    if (enevo_grammar_parse(enevo_default_grammar_text(), "default.grammar", &gram, err,
                            sizeof err))
        fuzz_fail("the built-in grammar does not parse", err);
    ready = true;
}

static void load(const struct enevo_config *c, const unsigned char *b, size_t n)
{
    char err[ENEVO_ERR_LEN];
    struct run *r = calloc(1, sizeof *r);
    if (!r)
        return;
    r->c = c;
    r->dir = "fuzz-run";
    r->cfg_hash = CFG_HASH;
    r->gram_hash = GRAM_HASH;
    r->best_gen = r->best_idx = -1;
    r->best_fitness = -INFINITY;
    if (enevo_space_init(&r->space, c, gram, err, sizeof err))
        fuzz_fail("the built-in config and grammar do not fit", err);
    if (enevo_archive_init(&r->archive, c->n_modules, c->archive_size > 0 ? c->archive_size : 1)) {
        free(r);
        return;
    }
    enevo__load_checkpoint_mem(r, "fuzz/checkpoint.bin", b, n, err, sizeof err);
    /* What enevo_evolve frees at the end of a run. */
    enevo__indiv_free(&r->parent);
    for (size_t i = 0; i < sizeof r->pop / sizeof r->pop[0]; i++)
        enevo__indiv_free(&r->pop[i]);
    for (int i = 0; i < ENEVO__POP_MAX; i++)
        enevo__indiv_free(&r->surv[i]);
    for (int i = 0; i < r->n_front; i++)
        enevo__indiv_free(&r->front[i]);
    free(r->front);
    enevo_archive_free(&r->archive);
    free(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!ready)
        setup();
    unsigned char *b = fuzz_copy(data, size);
    if (!b)
        return 0;
    load(&cfg[0], b, size);
    if (size >= 32) {
        /* magic (8), version (4), config hash (8), grammar hash (8), ..., CRC (4) */
        uint64_t h[2] = {CFG_HASH, GRAM_HASH};
        memcpy(b + 12, h, sizeof h);
        uint32_t crc = (uint32_t)crc32(0L, b, (uInt)(size - 4));
        memcpy(b + size - 4, &crc, 4);
        load(&cfg[0], b, size);
        load(&cfg[1], b, size);
    }
    free(b);
    return 0;
}
