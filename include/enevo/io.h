/* enevo/io.h — whole files, directories and the monotonic clock.
 *
 *     char *text; size_t n;
 *     if (enevo_read_text("run.yaml", 1 << 20, &text, &n, err, sizeof err)) ...
 *     ... free(text);
 */
#ifndef ENEVO_IO_H
#define ENEVO_IO_H

#include "enevo/api.h"

#include <stddef.h>

#include "enevo/error.h"

/* Read a whole text file into a NUL-terminated malloc'd buffer (caller
 * frees). Errors name the file: cannot open (ENEVO_EIO, with the system's
 * reason), read error, larger than max_bytes (ENEVO_EFORMAT; 0 = no limit),
 * a NUL byte inside ("path:line:col: expected text, got a NUL byte"). */
ENEVO_API int enevo_read_text(const char *path, size_t max_bytes, char **out, size_t *len,
                              char *err, size_t errlen);

/* The same for any file (binary too): NUL-terminated for convenience,
 * *len holds the byte count. */
ENEVO_API int enevo_read_file(const char *path, size_t max_bytes, char **out, size_t *len,
                              char *err, size_t errlen);

/* Write `size` bytes to `path` atomically (temp file in the same directory,
 * fsync, rename, fsync of the directory). */
ENEVO_API int enevo_write_atomic(const char *path, const void *data, size_t size, char *err,
                                 size_t errlen);

/* Create a directory and its missing parents (like mkdir -p); an existing
 * one is fine, anything else in the way is an error naming it. */
ENEVO_API int enevo_mkdir_p(const char *dir, char *err, size_t errlen);

/* Monotonic seconds, for durations. */
ENEVO_API double enevo_now(void);

/* A stop request, as from SIGINT or SIGTERM. The CLI's signal handler
 * calls enevo_request_stop (async-signal-safe: it only sets a flag);
 * training checks the flag between batches and returns ENEVO_EINTERRUPTED,
 * and an evolution run returns it before its next candidate, so the run's
 * last checkpoint is what a resume starts from. The flag is process-wide,
 * like a signal; enevo_clear_stop resets it. */
ENEVO_API void enevo_request_stop(int signo);
/* The signal number given to enevo_request_stop (or 1 if it was 0); 0 = none. */
ENEVO_API int enevo_stop_requested(void);
ENEVO_API void enevo_clear_stop(void);

#endif
