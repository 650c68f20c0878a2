/* enevo/error.h — status codes and messages.
 *
 * Every library function returns an int: 0 on success or a negative
 * ENEVO_E* code. Details (file, line, key, what was expected) go into a
 * caller-owned buffer:
 *
 *     char err[ENEVO_ERR_LEN];
 *     int rc = enevo_data_load("/data", &d, err, sizeof err);
 *     if (rc) fprintf(stderr, "enevo: %s (%s)\n", err, enevo_strerror(rc));
 *
 * Only tools/ exits the process.
 */
#ifndef ENEVO_ERROR_H
#define ENEVO_ERROR_H

#include "enevo/api.h"

#include <stddef.h>

#define ENEVO_ERR_LEN 512

/* X(name, value, description) — one list generates the enum and strerror. */
#define ENEVO_ERRNO_MAP(X)                                              \
    X(NOMEM, -1, "out of memory")                                       \
    X(IO, -2, "input/output error")                                     \
    X(FORMAT, -3, "malformed input")                                    \
    X(SHAPE, -4, "impossible network shape")                            \
    X(INVAL, -5, "invalid argument")                                    \
    X(BACKEND, -6, "compute backend failure")                           \
    X(CORRUPT, -7, "corrupted file (checksum mismatch)")                \
    X(VERSION, -8, "unsupported file version")                          \
    X(UNSUPPORTED, -9, "not supported on this machine")                 \
    X(NUMERIC, -10, "numerical failure (NaN or infinity)")             \
    X(INTERRUPTED, -11, "interrupted (a stop was requested)")

enum enevo_status {
    ENEVO_OK = 0,
#define ENEVO__ERR_ENUM(name, value, desc) ENEVO_E##name = (value),
    ENEVO_ERRNO_MAP(ENEVO__ERR_ENUM)
#undef ENEVO__ERR_ENUM
};

/* Static description of a status code; never NULL. */
ENEVO_API const char *enevo_strerror(int status);

/* printf-style write into a caller-owned message buffer (err may be NULL).
 * Returns `status`, so callers can `return enevo_errf(err, n, ENEVO_EIO, ...)`. */
ENEVO_API int enevo_errf(char *err, size_t errlen, int status, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

#endif
