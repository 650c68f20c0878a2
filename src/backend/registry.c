/* The backend registry: the only file that knows which backends were built. */
#include <string.h>

#include "backend/backend.h"

#ifdef ENEVO_CUDA
extern const struct enevo_backend enevo_backend_cuda;
#endif

const struct enevo_backend *enevo_backend_get(const char *name)
{
    if (!name || !strcmp(name, "cpu"))
        return &enevo_backend_cpu;
#ifdef ENEVO_CUDA
    if (!strncmp(name, "cuda", 4))
        return &enevo_backend_cuda;
#endif
    return NULL;
}
