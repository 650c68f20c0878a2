/* enevo/version.h — which enevo this is, at compile time and at run time.
 *
 *     printf("built against %s, running %s (%s)\n", ENEVO_VERSION_STRING,
 *            enevo_version(), enevo_backends());   // "0.1.0", "cpu" or "cpu cuda"
 *
 * The Makefile reads ENEVO_VERSION_STRING from this file for the shared
 * library's name (libenevo.so.0.1.0, soname libenevo.so.0: the major
 * number) and for enevo.pc, so the version is written once, here.
 */
#ifndef ENEVO_VERSION_H
#define ENEVO_VERSION_H

#include "enevo/api.h"

#define ENEVO_VERSION_MAJOR 0
#define ENEVO_VERSION_MINOR 1
#define ENEVO_VERSION_PATCH 0
#define ENEVO_VERSION_STRING "0.1.0"

/* The library's version, "MAJOR.MINOR.PATCH" (static string): a program
 * linked against libenevo.so may run with a newer one than its headers. */
ENEVO_API const char *enevo_version(void);
/* The compute backends this build of the library has, space-separated:
 * "cpu", or "cpu cuda" for make CUDA=1 (static string). Whether a GPU is
 * usable on this machine is another question: enevo_device_resolve. */
ENEVO_API const char *enevo_backends(void);

#endif
