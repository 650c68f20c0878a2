/* enevo/report.h — a report over one or more run directories.
 *
 *     const char *runs[] = {"runs/A-seed1", "runs/A-seed2", "runs/B-seed1"};
 *     struct enevo_report_opts o = {.out_dir = "report", .baseline = "A", .log = stderr};
 *     char err[ENEVO_ERR_LEN];
 *     if (enevo_report(runs, 3, &o, err, sizeof err)) ...   // nothing readable, bad baseline
 *     // report/: report.md, report.html, plots.gp, run1-A-seed1-progress.png and .svg,
 *     //   run1-A-seed1-front.png and .svg, ... (one pair per run and plot)
 *
 * What it reads: each run's stats.csv (docs/FORMATS.md), columns found by
 * header name, so older runs without energy columns and later runs with more
 * columns both work. Missing, empty or partly written run directories are
 * named in the report and skipped; malformed lines are skipped and counted.
 *
 * What it writes: per run, the progress per generation (best fitness, best
 * accuracy, energy of the best) and accuracy against energy per inference of
 * every valid evaluation with the non-dominated front (against FLOPs when no
 * energy was measured); over runs, a table of each run's best individual and,
 * for runs named "<setting>-seed<N>", per-setting mean and standard deviation
 * over seeds, with the energy reduction and accuracy difference against the
 * baseline setting. Runs with front/front.csv or a hypervolume column in
 * generations.csv (NSGA-II) also get the front of each generation (light to
 * dark) and the hypervolume per generation; over runs, each setting's
 * hypervolume per generation (mean, min-max band over seeds), all settings'
 * fronts on one plot, and per setting the "energy at equal accuracy" (the
 * cheapest network whose test accuracy is within 0.5 points of the
 * baseline's best) with the hypervolume of its evaluated set against one
 * common reference point. Plots are drawn by gnuplot when it is installed; without
 * it the report says so and is written without plots.
 */
#ifndef ENEVO_REPORT_H
#define ENEVO_REPORT_H

#include "enevo/api.h"

#include <stddef.h>
#include <stdio.h>

#include "enevo/error.h"

struct enevo_report_opts {
    const char *out_dir;  /* created (with parents) when missing */
    const char *baseline; /* a setting ("A"), run name or run path; NULL: the first setting */
    FILE *log;            /* one line per skipped run and per file written; NULL: silent */
    const char *gnuplot;  /* the command to run; NULL: "gnuplot" (tests name a missing one) */
};

/* Reads run_dirs[0..n), writes the report into o->out_dir. Fails only when
 * no run is readable (ENEVO_EIO), the baseline names nothing (ENEVO_EINVAL)
 * or the output cannot be written (ENEVO_EIO); a missing gnuplot or a
 * failed plot is a note in the report, never an error. */
ENEVO_API int enevo_report(const char *const *run_dirs, int n, const struct enevo_report_opts *o,
                           char *err, size_t errlen);

/* The non-dominated points of (acc[i], cost[i]): no other point has at least
 * the accuracy at no more cost with one of them strictly better. Points with
 * a NaN are left out; of identical points the first counts. Writes their
 * indices into idx (room for n) ordered by cost ascending, returns how many. */
ENEVO_API size_t enevo_report_front(const double *acc, const double *cost, size_t n, size_t *idx);

#endif
