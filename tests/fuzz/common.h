/* tests/fuzz/common.h — what the libFuzzer harnesses share. Each
 * tests/fuzz/fuzz_<name>.c defines LLVMFuzzerTestOneInput for one reader;
 * tests/fuzz/fuzz.mk builds them, tests/fuzz/run.sh runs them. */
#ifndef ENEVO_FUZZ_COMMON_H
#define ENEVO_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A NUL-terminated copy of data (malloc'd; the caller frees); NULL only
 * when out of memory. Text readers get the bytes as a file would give them,
 * embedded NULs included (they end the text, as for a C string). */
char *fuzz_text(const uint8_t *data, size_t size);

/* A copy of data (malloc'd, at least one byte): readers must never see the
 * fuzzer's own buffer past `size`, and some harnesses patch their copy. */
unsigned char *fuzz_copy(const uint8_t *data, size_t size);

/* FNV-1a of the bytes: a seed for the draws a harness makes, so an input
 * always replays the same way. */
uint64_t fuzz_hash(const uint8_t *data, size_t size);

/* Aborts (a crash libFuzzer records) with a message: an oracle failed. */
void fuzz_fail(const char *what, const char *detail) __attribute__((noreturn));

#endif
