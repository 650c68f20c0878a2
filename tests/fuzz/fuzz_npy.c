/* fuzz_npy: images and labels as two .npy arrays end to end (x_train.npy
 * then y_train.npy; the second starts at the next "\x93NUMPY"), read as a
 * set as the npy: reader does, with the layout and u8 drawn from the
 * input's length. A lone array is read as both. */
#include "common.h"

#include <stdlib.h>
#include <string.h>

#include "data/data_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned char *b = fuzz_copy(data, size);
    if (!b)
        return 0;
    size_t split = size;
    for (size_t i = 10; i + 6 <= size; i++)
        if (!memcmp(b + i, "\x93NUMPY", 6)) {
            split = i;
            break;
        }
    /* Separate buffers, so a read past either array's end is caught. */
    unsigned char *x = fuzz_copy(b, split);
    unsigned char *y = split < size ? fuzz_copy(b + split, size - split) : fuzz_copy(b, size);
    size_t ylen = split < size ? size - split : size;
    char err[ENEVO_ERR_LEN];
    if (x && y) {
        struct enevo_dataset d;
        memset(&d, 0, sizeof d);
        enevo__npy_set_mem(x, split, "x_train.npy", y, ylen, "y_train.npy", (int)(size % 3),
                           (size >> 2) & 1, &d, err, sizeof err);
        enevo_dataset_free(&d);
    }
    free(x);
    free(y);
    free(b);
    return 0;
}
