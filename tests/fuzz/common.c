/* tests/fuzz/common.c — helpers of the harnesses (common.h). */
#include "common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *fuzz_text(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        return NULL;
    if (size)
        memcpy(s, data, size);
    s[size] = 0;
    return s;
}

unsigned char *fuzz_copy(const uint8_t *data, size_t size)
{
    unsigned char *b = malloc(size ? size : 1);
    if (b && size)
        memcpy(b, data, size);
    return b;
}

uint64_t fuzz_hash(const uint8_t *data, size_t size)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < size; i++)
        h = (h ^ data[i]) * 0x100000001b3ULL;
    return h;
}

void fuzz_fail(const char *what, const char *detail)
{
    fprintf(stderr, "fuzz oracle failed: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
    abort();
}
