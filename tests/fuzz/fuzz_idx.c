/* fuzz_idx: an IDX file, raw or gzip (Fashion-MNIST's train-images-idx3-
 * ubyte[.gz], ...): read as an image file (as bytes or as floats, by the
 * input's length) and as a label file. */
#include "common.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "data/data_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned char *b = fuzz_copy(data, size);
    if (!b)
        return 0;
    char err[ENEVO_ERR_LEN];
    struct enevo_dataset d;
    memset(&d, 0, sizeof d);
    enevo__idx_images_mem(b, size, "fuzz-images-idx3-ubyte", size & 1, &d, err, sizeof err);
    enevo_dataset_free(&d);
    int n = 0;
    memset(&d, 0, sizeof d);
    enevo__idx_labels_mem(b, size, "fuzz-labels-idx1-ubyte", &d, &n, err, sizeof err);
    enevo_dataset_free(&d);
    free(b);
    return 0;
}
