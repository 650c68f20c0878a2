/* enevo/pareto.h — multi-objective selection: non-dominated sorting,
 * crowding distance, constrained domination (Deb), exact hypervolume, and
 * NSGA-II's binary tournament and survivor selection.
 *
 *     // n points, m objectives, row-major obj[i*m + j], every objective to
 *     // be MINIMISED (callers negate the ones to maximise).
 *     struct enevo_pareto_point p[n];  // obj, violation (0 = feasible), valid
 *     int rank[n]; double crowd[n];
 *     enevo_pareto_rank(p, n, m, rank, crowd);
 *     int keep[mu];
 *     enevo_nsga2_survivors(p, n, m, mu, keep);
 *     double hv = enevo_hypervolume(obj, k, m, ref); // the points dominating ref
 *
 * Everything here is deterministic: ties are broken by index, never by a
 * random draw, so a run reproduces from its seed whatever the platform.
 */
#ifndef ENEVO_PARETO_H
#define ENEVO_PARETO_H

#include "enevo/api.h"

#include <stdbool.h>

#include "enevo/rng.h"

#define ENEVO_MAX_OBJECTIVES 4

struct enevo_pareto_point {
    const double *obj; /* m objectives, all minimised */
    double violation;  /* total constraint violation, 0 when feasible */
    bool valid;        /* false: an invalid network, dominated by every valid one */
};

/* Constrained domination (Deb 2000): a valid point beats an invalid one; a
 * feasible one beats an infeasible one; two infeasible ones compare by total
 * violation (smaller wins); two feasible ones by Pareto domination. Two
 * invalid ones: neither. A point with a NaN objective or violation, or
 * obj == NULL, counts as invalid. */
ENEVO_API bool enevo_pareto_dominates(const struct enevo_pareto_point *a,
                                      const struct enevo_pareto_point *b, int m);

/* Non-dominated sorting under constrained domination: rank[i] = 0 for the
 * first front, 1 for the next... and, when crowd != NULL, each point's
 * crowding distance within its front (INFINITY at a front's extremes of any
 * objective, ties by index; every point of a front of 1 or 2; an objective
 * constant over the front adds 0). The feasible points' fronts come first,
 * then one front per distinct violation, then the invalid points (one
 * front, crowding 0). rank and crowd are the caller's, n each. Exact for any
 * n (O(m n^2) comparisons at worst, O(n) memory; 10^4 points in 2-D take
 * milliseconds). Returns the number of fronts, or ENEVO_EINVAL (n < 0, m
 * outside 1..ENEVO_MAX_OBJECTIVES) or ENEVO_ENOMEM. */
ENEVO_API int enevo_pareto_rank(const struct enevo_pareto_point *p, int n, int m, int *rank,
                                double *crowd);

/* NSGA-II crowded comparison: true when i is preferred to j (lower rank,
 * then larger crowding distance, then lower index). */
ENEVO_API bool enevo_nsga2_better(const int *rank, const double *crowd, int i, int j);

/* Binary tournament: two distinct indices drawn from rng, the better wins.
 * n = 1: 0 without a draw; n <= 0: ENEVO_EINVAL. */
ENEVO_API int enevo_nsga2_tournament(const int *rank, const double *crowd, int n, enevo_rng *rng);

/* Survivors: the mu best of n points by fronts, the last front cut by
 * crowding distance (computed once over the whole front, as NSGA-II), ties
 * by index; keep[] (the caller's, mu) gets their indices in preference
 * order. Returns 0, ENEVO_EINVAL (mu < 0, mu > n, bad m) or ENEVO_ENOMEM. */
ENEVO_API int enevo_nsga2_survivors(const struct enevo_pareto_point *p, int n, int m, int mu,
                                    int *keep);

/* Exact hypervolume of the region dominated by the points and bounded by
 * the reference point ref (all objectives minimised; points that do not
 * strictly dominate ref, NaN ones included, add nothing; duplicates and
 * dominated points change nothing). m = 1..4: sweeps for 2-D (O(n log n))
 * and 3-D (O(n^2) at worst, 10^4 points in well under a second), slices
 * along the fourth objective for 4-D (one 3-D sweep per distinct value:
 * fine for hundreds of points). NaN for bad arguments or out of memory. */
ENEVO_API double enevo_hypervolume(const double *obj, int n, int m, const double *ref);

#endif
