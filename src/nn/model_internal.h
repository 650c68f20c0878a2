/* src/nn/model_internal.h — the model file reader on bytes in memory, for
 * the fuzzer (tests/fuzz/fuzz_model.c) and any caller holding a file
 * already. Internal. */
#ifndef ENEVO_MODEL_INTERNAL_H
#define ENEVO_MODEL_INTERNAL_H

#include <stddef.h>

#include "enevo/model.h"

/* enevo_model_load on buf[0..len) (what the file would hold); `name`
 * names it in messages. Every size in the header is checked against len
 * before anything is allocated. On success *m owns its buffers; on failure
 * *m is empty. */
int enevo__model_parse_mem(const unsigned char *buf, size_t len, const char *name,
                           struct enevo_model_file *m, char *err, size_t errlen);

#endif
