/* fuzz_npz: an .npz archive (zip: stored or deflated members, zip64 as
 * numpy writes it) holding x_train, y_train, x_test, y_test, read as the
 * npz: reader does, with u8 and the layout drawn from the input's length. */
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
    struct enevo_data_opts o = enevo_data_opts_default();
    o.u8 = size & 1;
    o.layout = (int)((size >> 1) % 3);
    struct enevo_data d;
    memset(&d, 0, sizeof d);
    enevo__npz_mem(b, size, "fuzz.npz", &o, &d, err, sizeof err);
    enevo_data_free(&d);
    free(b);
    return 0;
}
