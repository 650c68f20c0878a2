/* src/core/fault.c — the fault-injection hook (fault.h). */
#include "core/fault.h"

#include <stddef.h>

static enevo__fault_fn hook;
static void *hook_ctx;

void enevo__fault_set(enevo__fault_fn fn, void *ctx)
{
    hook = fn;
    hook_ctx = ctx;
}

bool enevo__fault(enum enevo__fault_site site, const char *what, int *code)
{
    return hook && hook(site, what, code, hook_ctx);
}
