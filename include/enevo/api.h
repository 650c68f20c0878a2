/* enevo/api.h — ENEVO_API, the mark of a public function.
 *
 * libenevo.so is built with -fvisibility=hidden, so only the declarations
 * marked ENEVO_API (every function of include/enevo/, none of src/) are in
 * its dynamic symbol table; the internal enevo__* helpers stay inside.
 * Nothing to do for a caller: each public header includes this one.
 *
 *     ENEVO_API const char *enevo_version(void);
 */
#ifndef ENEVO_API_H
#define ENEVO_API_H

#if defined(__GNUC__) || defined(__clang__)
#define ENEVO_API __attribute__((visibility("default")))
#else
#define ENEVO_API
#endif

#endif
