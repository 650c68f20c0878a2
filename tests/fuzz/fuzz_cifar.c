/* fuzz_cifar: one CIFAR binary batch (data_batch_1.bin, train.bin): read
 * as CIFAR-10 and as CIFAR-100 (fine and coarse labels), as bytes or as
 * floats by the input's first byte. */
#include "common.h"

#include <stdlib.h>
#include <string.h>

#include "data/data_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned char *b = fuzz_copy(data, size);
    if (!b)
        return 0;
    char err[ENEVO_ERR_LEN];
    bool u8 = size && (data[0] & 1);
    for (int kind = 0; kind < 3; kind++) {
        struct enevo_dataset d;
        enevo__cifar_mem(b, size, "fuzz_batch.bin", kind > 0, kind == 2, u8, &d, err, sizeof err);
        enevo_dataset_free(&d);
    }
    free(b);
    return 0;
}
