/* fuzz_image: one image of an image folder, PNG or JPEG (libpng's and
 * libjpeg-turbo's decoders behind enevo's size checks and error handling),
 * decoded to 8-bit grey or RGB. */
#include "common.h"

#include <stdlib.h>

#include "data/data_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned char *b = fuzz_copy(data, size);
    if (!b)
        return 0;
    char err[ENEVO_ERR_LEN];
    unsigned char *px = NULL;
    int c, h, w;
    if (enevo__image_decode_mem(b, size, "fuzz.png", &px, &c, &h, &w, err, sizeof err) == 0) {
        /* Touch the last pixel: the buffer must hold h x w x c bytes. */
        volatile unsigned char last = px[(size_t)h * (size_t)w * (size_t)c - 1];
        (void)last;
        free(px);
    }
    free(b);
    return 0;
}
