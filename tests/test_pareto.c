/* tests/test_pareto.c — constrained domination, non-dominated sorting,
 * crowding distance, NSGA-II's tournament and survivors, and the exact
 * hypervolume against hand-computed boxes, counted unit cells and a seeded
 * Monte-Carlo estimate. */
#include "tests.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "enevo/error.h"
#include "enevo/pareto.h"
#include "enevo/rng.h"

#define PT(o) ((struct enevo_pareto_point){.obj = (o), .violation = 0, .valid = true})

static void dominance_follows_debs_rules(void **state)
{
    (void)state;
    const double a[] = {1, 2}, b[] = {2, 2}, c[] = {1, 3}, d[] = {2, 1}, worst[] = {9, 9},
                 best[] = {0, 0}, nan2[] = {NAN, 0};
    struct enevo_pareto_point pa = PT(a), pb = PT(b), pc = PT(c), pd = PT(d);
    /* Two feasible: Pareto domination, strict somewhere. */
    assert_true(enevo_pareto_dominates(&pa, &pb, 2));
    assert_false(enevo_pareto_dominates(&pb, &pa, 2));
    assert_true(enevo_pareto_dominates(&pa, &pc, 2));
    assert_false(enevo_pareto_dominates(&pa, &pa, 2)); /* equal: neither */
    assert_false(enevo_pareto_dominates(&pc, &pd, 2)); /* a trade-off */
    assert_false(enevo_pareto_dominates(&pd, &pc, 2));
    /* With m = 1 only the first objective counts: 1 < 2. */
    assert_true(enevo_pareto_dominates(&pc, &pd, 1));
    assert_false(enevo_pareto_dominates(&pd, &pc, 1));

    /* Valid beats invalid whatever the objectives; two invalid: neither. */
    struct enevo_pareto_point bad = {.obj = best, .valid = false};
    struct enevo_pareto_point bad2 = {.obj = worst, .valid = false};
    struct enevo_pareto_point pw = PT(worst);
    assert_true(enevo_pareto_dominates(&pw, &bad, 2));
    assert_false(enevo_pareto_dominates(&bad, &pw, 2));
    assert_false(enevo_pareto_dominates(&bad, &bad2, 2));
    assert_false(enevo_pareto_dominates(&bad2, &bad, 2));

    /* Feasible beats infeasible whatever the objectives. */
    struct enevo_pareto_point inf1 = {.obj = best, .violation = 0.5, .valid = true};
    struct enevo_pareto_point inf2 = {.obj = worst, .violation = 0.2, .valid = true};
    struct enevo_pareto_point inf3 = {.obj = best, .violation = 0.2, .valid = true};
    assert_true(enevo_pareto_dominates(&pw, &inf1, 2));
    assert_false(enevo_pareto_dominates(&inf1, &pw, 2));
    /* Two infeasible: the smaller violation wins, objectives aside. */
    assert_true(enevo_pareto_dominates(&inf2, &inf1, 2));
    assert_false(enevo_pareto_dominates(&inf1, &inf2, 2));
    assert_false(enevo_pareto_dominates(&inf2, &inf3, 2));
    assert_false(enevo_pareto_dominates(&inf3, &inf2, 2));
    /* Infeasible but valid still beats invalid. */
    assert_true(enevo_pareto_dominates(&inf1, &bad, 2));

    /* A NaN objective counts as invalid. */
    struct enevo_pareto_point pn = PT(nan2);
    assert_true(enevo_pareto_dominates(&pw, &pn, 2));
    assert_false(enevo_pareto_dominates(&pn, &pw, 2));
}

/* Front 0: (1,5) (2,3) (4,1) and a duplicate (2,3); front 1: (3,4) (4,2);
 * front 2: (5,5); then the infeasible by violation (0.1; then 0.3 twice)
 * and the invalid one.
 * Crowding of front 0 (ranges 3 and 4): (2,3) #1 sits between (1,5) and the
 * duplicate #5 on objective 0: 1/3, between (4,1) and #5 on objective 1:
 * 2/4 -> 5/6; #5 between #1 and (4,1): 2/3, between #1 and (1,5): 2/4
 * -> 7/6. */
static void rank_and_crowding_of_a_hand_made_set(void **state)
{
    (void)state;
    const double o[][2] = {{1, 5}, {2, 3}, {4, 1}, {3, 4}, {5, 5}, {2, 3},
                           {4, 2}, {0, 0}, {9, 9}, {1, 1}, {0, 0}};
    struct enevo_pareto_point p[11];
    for (int i = 0; i < 11; i++)
        p[i] = PT(o[i]);
    p[7].violation = 0.3;
    p[8].violation = 0.1;
    p[9].violation = 0.3;
    p[10].valid = false;
    int rank[11];
    double crowd[11];
    assert_int_equal(enevo_pareto_rank(p, 11, 2, rank, crowd), 6);
    const int want[] = {0, 0, 0, 1, 2, 0, 1, 4, 3, 4, 5};
    for (int i = 0; i < 11; i++)
        assert_int_equal(rank[i], want[i]);
    assert_true(isinf(crowd[0]) && isinf(crowd[2]));
    assert_true(fabs(crowd[1] - 5.0 / 6) < 1e-12);
    assert_true(fabs(crowd[5] - 7.0 / 6) < 1e-12);
    /* Fronts of one or two points: all infinite; the invalid: 0. */
    for (int i = 3; i < 10; i++)
        if (i != 5)
            assert_true(isinf(crowd[i]) && crowd[i] > 0);
    assert_true(crowd[10] == 0);
    /* Without crowding, the same ranks. */
    int rank2[11];
    assert_int_equal(enevo_pareto_rank(p, 11, 2, rank2, NULL), 6);
    assert_memory_equal(rank, rank2, sizeof rank);
    /* Bad arguments. */
    assert_int_equal(enevo_pareto_rank(p, 11, 0, rank, crowd), ENEVO_EINVAL);
    assert_int_equal(enevo_pareto_rank(p, 11, 5, rank, crowd), ENEVO_EINVAL);
    assert_int_equal(enevo_pareto_rank(p, 0, 2, rank, crowd), 0);
}

/* Identical values must not divide by zero: three identical points are one
 * front, extremes (by index) infinite, the middle 0; a 3-D front constant in
 * its last objective gets 2/3 + 2/3 from the other two. */
static void crowding_survives_identical_values(void **state)
{
    (void)state;
    const double same[][2] = {{1, 1}, {1, 1}, {1, 1}};
    struct enevo_pareto_point p[4];
    for (int i = 0; i < 3; i++)
        p[i] = PT(same[i]);
    int rank[4];
    double crowd[4];
    assert_int_equal(enevo_pareto_rank(p, 3, 2, rank, crowd), 1);
    assert_true(isinf(crowd[0]) && isinf(crowd[2]));
    assert_true(crowd[1] == 0);

    const double flat[][3] = {{0, 3, 5}, {1, 2, 5}, {2, 1, 5}, {3, 0, 5}};
    for (int i = 0; i < 4; i++)
        p[i] = PT(flat[i]);
    assert_int_equal(enevo_pareto_rank(p, 4, 3, rank, crowd), 1);
    assert_true(isinf(crowd[0]) && isinf(crowd[3]));
    assert_true(fabs(crowd[1] - 4.0 / 3) < 1e-12);
    assert_true(fabs(crowd[2] - 4.0 / 3) < 1e-12);
}

/* rank[i] must be 0 without a dominator, else 1 + the highest rank of its
 * dominators: checked pair by pair against enevo_pareto_dominates. */
static void check_ranks_brute_force(const struct enevo_pareto_point *p, int n, int m,
                                    const int *rank)
{
    for (int i = 0; i < n; i++) {
        int want = 0;
        for (int j = 0; j < n; j++)
            if (enevo_pareto_dominates(&p[j], &p[i], m) && rank[j] + 1 > want)
                want = rank[j] + 1;
        assert_int_equal(rank[i], want);
    }
}

static void random_points(enevo_rng *r, double *o, int n, int m, int grid)
{
    for (int i = 0; i < n * m; i++)
        o[i] = grid ? (double)enevo_rng_below(r, (uint32_t)grid) : enevo_rng_double(r);
}

static void rank_matches_brute_force_and_is_fast(void **state)
{
    (void)state;
    enum { N = 1200, BIG = 10000 };
    enevo_rng r;
    enevo_rng_seed(&r, 12, 0);
    double *o = malloc((size_t)BIG * 4 * sizeof *o);
    struct enevo_pareto_point *p = malloc(BIG * sizeof *p);
    int *rank = malloc(BIG * sizeof *rank);
    double *crowd = malloc(BIG * sizeof *crowd);
    assert_non_null(o);
    assert_non_null(p);
    assert_non_null(rank);
    assert_non_null(crowd);
    for (int m = 1; m <= 4; m++) {
        /* On a coarse grid (many ties and duplicates), then continuous,
         * with some infeasible and invalid points mixed in. */
        for (int grid = 6; grid >= 0; grid -= 6) {
            random_points(&r, o, N, m, grid);
            for (int i = 0; i < N; i++) {
                p[i] = PT(o + (size_t)i * (size_t)m);
                if (i % 17 == 3)
                    p[i].violation = (double)(i % 5) * 0.25;
                if (i % 23 == 4)
                    p[i].valid = false;
            }
            int f = enevo_pareto_rank(p, N, m, rank, crowd);
            assert_true(f > 0);
            check_ranks_brute_force(p, N, m, rank);
            for (int i = 0; i < N; i++)
                assert_true(rank[i] < f && crowd[i] >= 0);
        }
    }
    /* 10^4 random 2-D points: well under a second (one comparison per
     * front probed). */
    random_points(&r, o, BIG, 2, 0);
    for (int i = 0; i < BIG; i++)
        p[i] = PT(o + 2 * i);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int f = enevo_pareto_rank(p, BIG, 2, rank, crowd);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double s = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    print_message("pareto: 10^4 random 2-D points: %d fronts sorted in %.3f s\n", f, s);
    assert_true(f > 1);
    assert_true(s < 0.5);
    /* Spot check: members of front 1 are dominated by some of front 0 and
     * by none of front 1. */
    for (int i = 0; i < BIG; i += 97) {
        bool by_prev = rank[i] == 0;
        for (int j = 0; j < BIG; j++) {
            if (!enevo_pareto_dominates(&p[j], &p[i], 2))
                continue;
            assert_true(rank[j] < rank[i]);
            by_prev |= rank[j] == rank[i] - 1;
        }
        assert_true(by_prev);
    }
    free(o);
    free(p);
    free(rank);
    free(crowd);
}

static void tournament_picks_two_distinct_and_the_better_wins(void **state)
{
    (void)state;
    enevo_rng r;
    enevo_rng_seed(&r, 3, ENEVO_STREAM_EVO);
    /* With two points both are always drawn: the better (index 1) wins. */
    const int rank2[] = {1, 0};
    for (int t = 0; t < 200; t++)
        assert_int_equal(enevo_nsga2_tournament(rank2, NULL, 2, &r), 1);
    /* Ranks 2, 1, 0: #0 never wins (only against itself could it), #2
     * wins every pair it is in (2/3), #1 the pair {0, 1} (1/3). */
    const int rank3[] = {2, 1, 0};
    int wins[3] = {0};
    for (int t = 0; t < 3000; t++) {
        int w = enevo_nsga2_tournament(rank3, NULL, 3, &r);
        assert_true(w >= 0 && w < 3);
        wins[w]++;
    }
    assert_int_equal(wins[0], 0);
    assert_in_range(wins[2], 1850, 2150);
    assert_in_range(wins[1], 850, 1150);
    /* Equal ranks: the larger crowding distance, then the lower index. */
    const int flat[] = {0, 0, 0};
    const double crowd[] = {0.5, INFINITY, 0.5};
    assert_true(enevo_nsga2_better(flat, crowd, 1, 0));
    assert_false(enevo_nsga2_better(flat, crowd, 0, 1));
    assert_true(enevo_nsga2_better(flat, crowd, 0, 2));
    assert_false(enevo_nsga2_better(flat, crowd, 2, 0));
    assert_false(enevo_nsga2_better(flat, crowd, 2, 2));
    assert_int_equal(enevo_nsga2_tournament(rank2, NULL, 1, &r), 0);
    assert_int_equal(enevo_nsga2_tournament(rank2, NULL, 0, &r), ENEVO_EINVAL);
}

/* Front 0: (0,5) #2, (5,0) #5; front 1: (1,9) #6, (3,7) #1, (4,6) #3,
 * (9,1) #4; front 2: (10,10) #0. Front 1's crowding (ranges 8 and 8):
 * #1 = 3/8 + 3/8 = 0.75, #3 = 6/8 + 6/8 = 1.5, #6 and #4 infinite. */
static void survivors_cut_the_last_front_by_crowding(void **state)
{
    (void)state;
    const double o[][2] = {{10, 10}, {3, 7}, {0, 5}, {4, 6}, {9, 1}, {5, 0}, {1, 9}};
    struct enevo_pareto_point p[9];
    for (int i = 0; i < 7; i++)
        p[i] = PT(o[i]);
    int keep[9];
    assert_int_equal(enevo_nsga2_survivors(p, 7, 2, 5, keep), 0);
    const int want5[] = {2, 5, 4, 6, 3};
    assert_memory_equal(keep, want5, sizeof want5);
    assert_int_equal(enevo_nsga2_survivors(p, 7, 2, 7, keep), 0);
    const int want7[] = {2, 5, 4, 6, 3, 1, 0};
    assert_memory_equal(keep, want7, sizeof want7);
    assert_int_equal(enevo_nsga2_survivors(p, 7, 2, 3, keep), 0);
    const int want3[] = {2, 5, 4};
    assert_memory_equal(keep, want3, sizeof want3);
    assert_int_equal(enevo_nsga2_survivors(p, 7, 2, 8, keep), ENEVO_EINVAL);
    /* An invalid network and an infeasible one come after every feasible
     * one, the infeasible first. */
    const double good[] = {0, 0};
    p[7] = (struct enevo_pareto_point){.obj = good, .valid = false};
    p[8] = (struct enevo_pareto_point){.obj = good, .violation = 1, .valid = true};
    assert_int_equal(enevo_nsga2_survivors(p, 9, 2, 9, keep), 0);
    assert_int_equal(keep[6], 0);
    assert_int_equal(keep[7], 8);
    assert_int_equal(keep[8], 7);
}

static void hypervolume_of_hand_computed_boxes(void **state)
{
    (void)state;
    /* 1-D: the reference minus the best. */
    const double o1[] = {3, 1, 2, 6}, r1[] = {5};
    assert_true(enevo_hypervolume(o1, 4, 1, r1) == 4);
    /* 2-D staircase (1,3) (2,2) (3,1) under (4,4): strips 3 + 2 + 1 = 6;
     * a duplicate, a dominated point, points on or past the reference
     * and a NaN change nothing. */
    const double o2[] = {1, 3, 2, 2, 3, 1, 2, 2, 3, 3, 0, 4, 5, 0, NAN, 0}, r2[] = {4, 4};
    assert_true(enevo_hypervolume(o2, 3, 2, r2) == 6);
    assert_true(enevo_hypervolume(o2, 8, 2, r2) == 6);
    assert_true(enevo_hypervolume(o2 + 10, 3, 2, r2) == 0);
    assert_true(enevo_hypervolume(o2, 0, 2, r2) == 0);
    /* 3-D: one box 1 x 2 x 3; two boxes 4 + 2 - 1 = 5; three unit-offset
     * boxes in [0,2]^3: all but the cube [0,1)^3, 8 - 1 = 7. */
    const double a3[] = {0, 0, 0}, ra3[] = {1, 2, 3};
    assert_true(enevo_hypervolume(a3, 1, 3, ra3) == 6);
    const double b3[] = {0, 0, 1, 1, 1, 0}, r3[] = {2, 2, 2};
    assert_true(enevo_hypervolume(b3, 2, 3, r3) == 5);
    const double c3[] = {1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 1, 1, 0, 1, 0};
    assert_true(enevo_hypervolume(c3, 3, 3, r3) == 7);
    assert_true(enevo_hypervolume(c3, 5, 3, r3) == 7); /* + dominated, + duplicate */
    /* 4-D: one box 1 x 2 x 3 x 4 = 24; 8 + 2 - 1 = 9; the four unit
     * offsets in [0,2]^4: 16 - 1 = 15. */
    const double a4[] = {0, 0, 0, 0}, ra4[] = {1, 2, 3, 4}, r4[] = {2, 2, 2, 2};
    assert_true(enevo_hypervolume(a4, 1, 4, ra4) == 24);
    const double b4[] = {0, 0, 0, 1, 1, 1, 1, 0};
    assert_true(enevo_hypervolume(b4, 2, 4, r4) == 9);
    const double c4[] = {1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 1, 1, 1, 1};
    assert_true(enevo_hypervolume(c4, 4, 4, r4) == 15);
    assert_true(enevo_hypervolume(c4, 5, 4, r4) == 15);
    /* Bad arguments: NaN. */
    assert_true(isnan(enevo_hypervolume(c4, 4, 5, r4)));
    assert_true(isnan(enevo_hypervolume(c4, 4, 0, r4)));
}

/* Integer points in [0,G)^m under the reference (G,...,G): the volume is the
 * number of unit cells [c, c+1) some point p <= c dominates, counted cell by
 * cell, an independent and exact check. */
static double cells_dominated(const double *o, int n, int m, int g)
{
    int cells = 1;
    for (int j = 0; j < m; j++)
        cells *= g;
    double count = 0;
    for (int c = 0; c < cells; c++) {
        int coord[ENEVO_MAX_OBJECTIVES], rest = c;
        for (int j = 0; j < m; j++) {
            coord[j] = rest % g;
            rest /= g;
        }
        for (int i = 0; i < n; i++) {
            bool dom = true;
            for (int j = 0; j < m && dom; j++)
                dom = o[i * m + j] <= coord[j];
            if (dom) {
                count++;
                break;
            }
        }
    }
    return count;
}

static void hypervolume_counts_unit_cells_exactly(void **state)
{
    (void)state;
    enevo_rng r;
    enevo_rng_seed(&r, 5, 0);
    double o[40 * 4];
    const double ref[] = {6, 6, 6, 6};
    for (int m = 2; m <= 4; m++)
        for (int t = 0; t < 60; t++) {
            int n = 1 + (int)enevo_rng_below(&r, 40);
            random_points(&r, o, n, m, 6);
            assert_true(enevo_hypervolume(o, n, m, ref) == cells_dominated(o, n, m, 6));
        }
}

/* The non-dominated subset (by the sort) has the same volume, a superset
 * never less, and a Monte-Carlo estimate agrees within 5 sigma. */
static void hypervolume_properties_and_monte_carlo(void **state)
{
    (void)state;
    enum { N = 60, SAMPLES = 200000 };
    enevo_rng r;
    enevo_rng_seed(&r, 9, 0);
    double o[N * 4], nd[N * 4];
    struct enevo_pareto_point p[N];
    int rank[N];
    for (int m = 2; m <= 4; m++) {
        const double ref[] = {1, 1, 1, 1};
        for (int t = 0; t < 20; t++) {
            random_points(&r, o, N, m, 0);
            for (int i = 0; i < N; i++)
                p[i] = PT(o + i * m);
            assert_true(enevo_pareto_rank(p, N, m, rank, NULL) >= 1);
            int k = 0;
            for (int i = 0; i < N; i++)
                if (rank[i] == 0)
                    memcpy(nd + (k++) * m, o + i * m, (size_t)m * sizeof *o);
            double all = enevo_hypervolume(o, N, m, ref);
            double front = enevo_hypervolume(nd, k, m, ref);
            assert_true(fabs(all - front) <= 1e-12 * all);
            double prev = 0;
            for (int n = 1; n <= N; n++) {
                double v = enevo_hypervolume(o, n, m, ref);
                assert_true(v >= prev - 1e-12);
                prev = v;
            }
        }
        if (m == 2)
            continue;
        /* Monte-Carlo in 3-D and 4-D: 20 points, 2e5 uniform samples. */
        random_points(&r, o, 20, m, 0);
        double exact = enevo_hypervolume(o, 20, m, ref);
        long hit = 0;
        for (long s = 0; s < SAMPLES; s++) {
            double x[4];
            for (int j = 0; j < m; j++)
                x[j] = enevo_rng_double(&r);
            for (int i = 0; i < 20; i++) {
                bool dom = true;
                for (int j = 0; j < m && dom; j++)
                    dom = o[i * m + j] <= x[j];
                if (dom) {
                    hit++;
                    break;
                }
            }
        }
        double est = (double)hit / SAMPLES;
        double sigma = sqrt(exact * (1 - exact) / SAMPLES);
        print_message("pareto: %d-D hypervolume %.5f, Monte-Carlo %.5f (sigma %.5f)\n", m, exact,
                      est, sigma);
        assert_true(exact > 0.05 && exact < 0.95);
        assert_true(fabs(est - exact) < 5 * sigma);
    }
}

static void hypervolume_of_large_sets_is_fast(void **state)
{
    (void)state;
    enum { BIG = 10000 };
    enevo_rng r;
    enevo_rng_seed(&r, 11, 0);
    double *o = malloc((size_t)BIG * 3 * sizeof *o);
    assert_non_null(o);
    /* Points on the simplex x + y + z = 1: all non-dominated, the worst
     * case of the staircase. */
    for (int i = 0; i < BIG; i++) {
        double a = enevo_rng_double(&r), b = enevo_rng_double(&r);
        if (a + b > 1) {
            a = 1 - a;
            b = 1 - b;
        }
        o[3 * i] = a;
        o[3 * i + 1] = b;
        o[3 * i + 2] = 1 - a - b;
    }
    const double ref[] = {1, 1, 1};
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    double v3 = enevo_hypervolume(o, BIG, 3, ref);
    double v2 = enevo_hypervolume(o, BIG, 2, ref); /* the same numbers read as pairs */
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double s = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    print_message("pareto: hypervolume of 10^4 points in 3-D and 2-D: %.3f s\n", s);
    /* Dense on the simplex: the volume approaches 1 - 1/6. */
    assert_true(v3 > 0.80 && v3 < 5.0 / 6);
    assert_true(v2 > 0.9 && v2 < 1);
    assert_true(s < 2);
    free(o);
}

const struct CMUnitTest enevo_tests_pareto[] = {
    cmocka_unit_test(dominance_follows_debs_rules),
    cmocka_unit_test(rank_and_crowding_of_a_hand_made_set),
    cmocka_unit_test(crowding_survives_identical_values),
    cmocka_unit_test(rank_matches_brute_force_and_is_fast),
    cmocka_unit_test(tournament_picks_two_distinct_and_the_better_wins),
    cmocka_unit_test(survivors_cut_the_last_front_by_crowding),
    cmocka_unit_test(hypervolume_of_hand_computed_boxes),
    cmocka_unit_test(hypervolume_counts_unit_cells_exactly),
    cmocka_unit_test(hypervolume_properties_and_monte_carlo),
    cmocka_unit_test(hypervolume_of_large_sets_is_fast),
};
const size_t enevo_tests_pareto_count = ENEVO_COUNT(enevo_tests_pareto);
