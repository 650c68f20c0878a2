/* The library's version and the backends it was built with. The backend
 * list asks the registry (src/backend/registry.c, the only file that knows
 * whether CUDA was compiled in) instead of testing ENEVO_CUDA here. */
#include "enevo/version.h"

#include "backend/backend.h"

const char *enevo_version(void)
{
    return ENEVO_VERSION_STRING;
}

const char *enevo_backends(void)
{
    return enevo_backend_get("cuda") ? "cpu cuda" : "cpu";
}
