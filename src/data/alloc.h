/* Private to src/data: allocation of large image arrays. */
#ifndef ENEVO_DATA_ALLOC_H
#define ENEVO_DATA_ALLOC_H

#include <stddef.h>

/* Like malloc (the result is released with free), but large blocks are
 * aligned to 2 MiB and marked for transparent huge pages. Never returns NULL
 * for bytes == 0 unless out of memory. */
void *enevo__data_alloc(size_t bytes);

#endif
