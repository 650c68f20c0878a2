/* fuzz_stats: a run's stats.csv as `enevo report` reads it: the table (a
 * last line cut anywhere, quotes, blank lines), the rows and their numbers,
 * then each generation's front, the hypervolume against the run's own
 * reference and the cheapest network at a test accuracy. The run directory
 * named does not exist, so the optional side files are absent. */
#include "common.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "report/report_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_text(data, size);
    if (!text)
        return 0;
    struct enevo__run r;
    memset(&r, 0, sizeof r);
    r.path = "/nonexistent/fuzz-run-seed1";
    r.index = 1;
    r.best = -1;
    struct enevo__buf notes = {0};
    int rc = enevo__report_stats(&r, text, size, &notes); /* owns text from here */
    if (rc == 0 && enevo__report_load_pareto(&r, &notes) == 0) {
        double e_ref = enevo__report_energy_ref(&r, 1);
        if (isfinite(e_ref))
            enevo__report_hv(&r, e_ref);
        long row;
        enevo__report_cheapest(&r, 0.5, &row);
    }
    enevo__report_run_free(&r);
    enevo__buf_free(&notes);
    return 0;
}
