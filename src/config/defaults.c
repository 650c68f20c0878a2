/* src/config/defaults.c — the built-in config and grammar texts.
 *
 * configs/default.yaml and configs/default.grammar are compiled in (the
 * Makefile turns them into enevo__default_config / enevo__default_grammar
 * with scripts/embed.sh), so enevo runs without any files beside it and the
 * files in configs/ stay the one place the defaults are written down.
 */
#include "enevo/config.h"

extern const char enevo__default_config[];
extern const char enevo__default_grammar[];

const char *enevo_default_config_text(void)
{
    return enevo__default_config;
}

const char *enevo_default_grammar_text(void)
{
    return enevo__default_grammar;
}
