/* fuzz_config: a config file, YAML or JSON (configs/, experiments/,
 * ENERGIZE's .json and .yaml): read as an overlay on the built-in defaults
 * (enevo_config_parse) and as a user's file (enevo_config_parse_user, with
 * where each value came from); a parsed config's canonical YAML must parse
 * back. The defaults are parsed once, not per input. */
#include "common.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "enevo/config.h"

static struct enevo_config defaults;
static bool have_defaults;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!have_defaults) {
        enevo_config_defaults(&defaults);
        have_defaults = true;
    }
    char *text = fuzz_text(data, size);
    if (!text)
        return 0;
    char err[ENEVO_ERR_LEN];
    struct enevo_config *c = malloc(sizeof *c), *back = malloc(sizeof *back);
    struct enevo_config_origin *o = malloc(sizeof *o);
    if (!c || !back || !o)
        goto out;
    *c = defaults;
    if (enevo_config_parse(text, "fuzz.yaml", c, NULL, err, sizeof err) == 0) {
        char *f = enevo_config_format(c);
        if (f) {
            *back = defaults;
            if (enevo_config_parse(f, "canonical", back, NULL, err, sizeof err))
                fuzz_fail("the canonical config does not parse back", err);
            free(f);
        }
    }
    /* The user's path lays the file over the defaults itself (and reads
     * the built-in text each time): every eighth input, to keep the rate. */
    if ((fuzz_hash(data, size) & 7) == 0) {
        memset(o, 0, sizeof *o);
        if (enevo_config_parse_user(text, "fuzz.json", c, o, NULL, err, sizeof err) == 0) {
            char *f = enevo_config_format_origin(c, o);
            free(f);
        }
    }
out:
    free(o);
    free(back);
    free(c);
    free(text);
    return 0;
}
