/* src/core/fault.h — fault injection for the tests. Internal.
 *
 * The places where enevo meets the outside world's failures (a file write,
 * a network's memory) ask enevo__fault() whether to fail on purpose. No hook
 * is installed in a normal run, so the call is one load and a compare; the
 * test suite installs one to fail, say, the 7th write of a run with ENOSPC
 * and check that the run stops cleanly and resumes exactly. The hook is
 * process-wide, like the failures it stands for; it is not part of the
 * public API and nothing outside the tests sets it.
 */
#ifndef ENEVO_FAULT_H
#define ENEVO_FAULT_H

#include <stdbool.h>

enum enevo__fault_site {
    ENEVO__FAULT_WRITE, /* a file write (atomic replace or append): what = the path */
    ENEVO__FAULT_ALLOC, /* a network's buffers (host or device): what = "net" */
};

/* Returns true to make that operation fail; errno-like code in *code
 * (ENOSPC, EACCES, ENOMEM...), which the caller reports as it would the
 * real failure. */
typedef bool (*enevo__fault_fn)(enum enevo__fault_site site, const char *what, int *code,
                                void *ctx);

/* Install (or, with NULL, remove) the hook. */
void enevo__fault_set(enevo__fault_fn fn, void *ctx);

/* Whether the operation at `site` should fail now; *code set when it should. */
bool enevo__fault(enum enevo__fault_site site, const char *what, int *code);

#endif
