/* enevo/enevo.h — every public header of the enevo library in one include.
 *
 *     #include <enevo/enevo.h>
 *     printf("enevo %s (%s)\n", enevo_version(), enevo_backends());
 *
 * Build and link against an installed enevo with pkg-config:
 *     cc app.c $(pkg-config --cflags --libs enevo)
 * (README "Use from C"; examples/ has two programs). Each header below
 * starts with a worked example of its part. A C++ program may include this
 * header: it gives the declarations C linkage.
 */
#ifndef ENEVO_ENEVO_H
#define ENEVO_ENEVO_H

#ifdef __cplusplus
extern "C" {
#endif

#include "enevo/api.h"
#include "enevo/config.h"
#include "enevo/data.h"
#include "enevo/energy.h"
#include "enevo/error.h"
#include "enevo/evo.h"
#include "enevo/export.h"
#include "enevo/grammar.h"
#include "enevo/io.h"
#include "enevo/model.h"
#include "enevo/net.h"
#include "enevo/optim.h"
#include "enevo/pareto.h"
#include "enevo/partition.h"
#include "enevo/phenotype.h"
#include "enevo/report.h"
#include "enevo/rng.h"
#include "enevo/train.h"
#include "enevo/version.h"

#ifdef __cplusplus
}
#endif

#endif
