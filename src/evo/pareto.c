/* src/evo/pareto.c — non-dominated sorting, crowding distance, constrained
 * domination, NSGA-II's tournament and survivors, exact hypervolume.
 *
 * The sort is ENS-BS (Zhang et al. 2015): points in lexicographic order are
 * appended to the first front none of whose members dominates them, found by
 * a binary search over the fronts (a point dominated by front k+1 is also
 * dominated by front k). O(m n^2) comparisons at worst, O(n) memory, and in
 * 2-D one comparison per front probed, so an archive of 10^4 points sorts in
 * milliseconds.
 *
 * The hypervolume sweeps: 2-D along x; 3-D along z with the 2-D staircase
 * kept in a sorted array and its area updated per insertion (HV3D's idea);
 * 4-D slices along the fourth objective, one 3-D sweep per slice (HSO). */
#include "enevo/pareto.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "enevo/error.h"

/* A point with a NaN objective or violation, or without objectives, is
 * treated like an invalid network: nothing can be said of it. */
static bool usable(const struct enevo_pareto_point *p, int m)
{
    if (!p->valid || !p->obj || isnan(p->violation))
        return false;
    for (int j = 0; j < m; j++)
        if (isnan(p->obj[j]))
            return false;
    return true;
}

/* Pareto domination on the objectives alone (all minimised). */
static bool pareto_dom(const double *a, const double *b, int m)
{
    bool strict = false;
    for (int j = 0; j < m; j++) {
        if (a[j] > b[j])
            return false;
        strict |= a[j] < b[j];
    }
    return strict;
}

bool enevo_pareto_dominates(const struct enevo_pareto_point *a, const struct enevo_pareto_point *b,
                            int m)
{
    bool ua = usable(a, m), ub = usable(b, m);
    if (!ua || !ub)
        return ua && !ub; /* valid beats invalid; two invalid: neither */
    bool fa = a->violation <= 0, fb = b->violation <= 0;
    if (fa != fb)
        return fa;
    if (!fa)
        return a->violation < b->violation;
    return pareto_dom(a->obj, b->obj, m);
}

/* ---- non-dominated sort --------------------------------------------------- */

struct lex_key {
    double v[ENEVO_MAX_OBJECTIVES]; /* unused objectives are 0 */
    int i;
};

static int cmp_lex(const void *pa, const void *pb)
{
    const struct lex_key *a = pa, *b = pb;
    for (int j = 0; j < ENEVO_MAX_OBJECTIVES; j++) {
        if (a->v[j] < b->v[j])
            return -1;
        if (a->v[j] > b->v[j])
            return 1;
    }
    return (a->i > b->i) - (a->i < b->i);
}

struct one_key {
    double key;
    int i;
};

static int cmp_one(const void *pa, const void *pb)
{
    const struct one_key *a = pa, *b = pb;
    if (a->key < b->key)
        return -1;
    if (a->key > b->key)
        return 1;
    return (a->i > b->i) - (a->i < b->i);
}

/* Does some member of front k (members linked backwards from last[k] via
 * prev[]) dominate point `obj`? Members come earlier in lexicographic order,
 * so in 2-D the last one, of the front's smallest second objective, decides. */
static bool front_dominates(const struct lex_key *keys, const int *last, const int *prev, int k,
                            const double *obj, int m)
{
    for (int s = last[k]; s >= 0; s = prev[s]) {
        if (pareto_dom(keys[s].v, obj, m))
            return true;
        if (m <= 2)
            return false;
    }
    return false;
}

/* Crowding distance of the members mem[0..k) of one front (indices into p). */
static void crowding(const struct enevo_pareto_point *p, int m, const int *mem, int k,
                     struct one_key *tmp, double *crowd)
{
    for (int a = 0; a < k; a++)
        crowd[mem[a]] = 0;
    if (k <= 2) {
        for (int a = 0; a < k; a++)
            crowd[mem[a]] = INFINITY;
        return;
    }
    for (int j = 0; j < m; j++) {
        for (int a = 0; a < k; a++)
            tmp[a] = (struct one_key){p[mem[a]].obj[j], mem[a]};
        qsort(tmp, (size_t)k, sizeof *tmp, cmp_one);
        crowd[tmp[0].i] = INFINITY;
        crowd[tmp[k - 1].i] = INFINITY;
        double range = tmp[k - 1].key - tmp[0].key;
        /* All equal (or unbounded): this objective separates nobody. */
        if (!(range > 0) || !isfinite(range))
            continue;
        for (int a = 1; a + 1 < k; a++)
            crowd[tmp[a].i] += (tmp[a + 1].key - tmp[a - 1].key) / range;
    }
}

int enevo_pareto_rank(const struct enevo_pareto_point *p, int n, int m, int *rank, double *crowd)
{
    if (n < 0 || m < 1 || m > ENEVO_MAX_OBJECTIVES || (n > 0 && (!p || !rank)))
        return ENEVO_EINVAL;
    if (n == 0)
        return 0;
    size_t un = (size_t)n;
    struct lex_key *keys = malloc(un * sizeof *keys);
    int *last = malloc(un * sizeof *last), *prev = malloc(un * sizeof *prev);
    struct one_key *viol = malloc(un * sizeof *viol);
    if (!keys || !last || !prev || !viol) {
        free(keys);
        free(last);
        free(prev);
        free(viol);
        return ENEVO_ENOMEM;
    }
    /* Classes: feasible (Pareto fronts), infeasible (by violation), invalid. */
    int nf = 0, ni = 0, ninv = 0;
    for (int i = 0; i < n; i++) {
        if (!usable(&p[i], m)) {
            ninv++;
            continue;
        }
        if (p[i].violation > 0) {
            viol[ni++] = (struct one_key){p[i].violation, i};
            continue;
        }
        struct lex_key *k = &keys[nf++];
        memset(k, 0, sizeof *k);
        memcpy(k->v, p[i].obj, (size_t)m * sizeof *k->v);
        k->i = i;
    }
    qsort(keys, (size_t)nf, sizeof *keys, cmp_lex);
    int fronts = 0;
    for (int s = 0; s < nf; s++) {
        int lo = 0, hi = fronts;
        while (lo < hi) {
            int mid = lo + (hi - lo) / 2;
            if (front_dominates(keys, last, prev, mid, keys[s].v, m))
                lo = mid + 1;
            else
                hi = mid;
        }
        if (lo == fronts)
            last[fronts++] = -1;
        prev[s] = last[lo];
        last[lo] = s;
        rank[keys[s].i] = lo;
    }
    /* Infeasible points: one front per distinct violation, smallest first. */
    qsort(viol, (size_t)ni, sizeof *viol, cmp_one);
    for (int s = 0; s < ni; s++) {
        if (s == 0 || viol[s].key > viol[s - 1].key)
            fronts++;
        rank[viol[s].i] = fronts - 1;
    }
    if (ninv) {
        for (int i = 0; i < n; i++)
            if (!usable(&p[i], m))
                rank[i] = fronts;
        fronts++;
    }

    if (crowd) {
        /* Members of each front in index order: a counting sort by rank. */
        int *start = calloc((size_t)fronts + 1, sizeof *start);
        int *mem = malloc(un * sizeof *mem);
        struct one_key *tmp = malloc(un * sizeof *tmp);
        if (!start || !mem || !tmp) {
            free(start);
            free(mem);
            free(tmp);
            free(keys);
            free(last);
            free(prev);
            free(viol);
            return ENEVO_ENOMEM;
        }
        for (int i = 0; i < n; i++)
            start[rank[i] + 1]++;
        for (int f = 0; f < fronts; f++)
            start[f + 1] += start[f];
        int *fill = last; /* free again: room for n >= fronts counters */
        for (int f = 0; f < fronts; f++)
            fill[f] = start[f];
        for (int i = 0; i < n; i++)
            mem[fill[rank[i]]++] = i;
        for (int f = 0; f < fronts; f++) {
            const int *fm = mem + start[f];
            int k = start[f + 1] - start[f];
            if (usable(&p[fm[0]], m)) {
                crowding(p, m, fm, k, tmp, crowd);
            } else {
                /* Invalid networks have no objectives to spread over. */
                for (int a = 0; a < k; a++)
                    crowd[fm[a]] = 0;
            }
        }
        free(start);
        free(mem);
        free(tmp);
    }
    free(keys);
    free(last);
    free(prev);
    free(viol);
    return fronts;
}

/* ---- NSGA-II -------------------------------------------------------------- */

bool enevo_nsga2_better(const int *rank, const double *crowd, int i, int j)
{
    if (rank[i] != rank[j])
        return rank[i] < rank[j];
    if (crowd && crowd[i] != crowd[j])
        return crowd[i] > crowd[j];
    return i < j;
}

int enevo_nsga2_tournament(const int *rank, const double *crowd, int n, enevo_rng *rng)
{
    if (n <= 0 || !rank || !rng)
        return ENEVO_EINVAL;
    if (n == 1)
        return 0;
    int a = (int)enevo_rng_below(rng, (uint32_t)n);
    int b = (int)enevo_rng_below(rng, (uint32_t)n - 1);
    if (b >= a)
        b++;
    return enevo_nsga2_better(rank, crowd, a, b) ? a : b;
}

struct pref_key {
    int rank;
    double crowd;
    int i;
};

static int cmp_pref(const void *pa, const void *pb)
{
    const struct pref_key *a = pa, *b = pb;
    if (a->rank != b->rank)
        return a->rank < b->rank ? -1 : 1;
    if (a->crowd != b->crowd)
        return a->crowd > b->crowd ? -1 : 1;
    return (a->i > b->i) - (a->i < b->i);
}

int enevo_nsga2_survivors(const struct enevo_pareto_point *p, int n, int m, int mu, int *keep)
{
    if (n < 0 || mu < 0 || mu > n || (mu > 0 && !keep))
        return ENEVO_EINVAL;
    if (n == 0 || mu == 0)
        return m >= 1 && m <= ENEVO_MAX_OBJECTIVES ? 0 : ENEVO_EINVAL;
    size_t un = (size_t)n;
    int *rank = malloc(un * sizeof *rank);
    double *crowd = malloc(un * sizeof *crowd);
    struct pref_key *k = malloc(un * sizeof *k);
    int rc = rank && crowd && k ? 0 : ENEVO_ENOMEM;
    if (!rc) {
        int f = enevo_pareto_rank(p, n, m, rank, crowd);
        rc = f < 0 ? f : 0;
    }
    if (!rc) {
        /* Whole fronts first; the front that does not fit whole is cut by
         * crowding distance (larger first), ties by index. */
        for (int i = 0; i < n; i++)
            k[i] = (struct pref_key){rank[i], crowd[i], i};
        qsort(k, un, sizeof *k, cmp_pref);
        for (int i = 0; i < mu; i++)
            keep[i] = k[i].i;
    }
    free(rank);
    free(crowd);
    free(k);
    return rc;
}

/* ---- hypervolume ---------------------------------------------------------- */

struct hv_pt {
    double x[ENEVO_MAX_OBJECTIVES];
};

static int cmp_x0(const void *pa, const void *pb)
{
    const struct hv_pt *a = pa, *b = pb;
    if (a->x[0] != b->x[0])
        return a->x[0] < b->x[0] ? -1 : 1;
    return (a->x[1] > b->x[1]) - (a->x[1] < b->x[1]);
}

static int cmp_x2(const void *pa, const void *pb)
{
    const struct hv_pt *a = pa, *b = pb;
    return (a->x[2] > b->x[2]) - (a->x[2] < b->x[2]);
}

static int cmp_x3(const void *pa, const void *pb)
{
    const struct hv_pt *a = pa, *b = pb;
    return (a->x[3] > b->x[3]) - (a->x[3] < b->x[3]);
}

/* 2-D: along x, each point adds the strip between its y and the lowest y
 * seen so far, from its x to the reference. */
static double hv2(struct hv_pt *q, int n, const double *ref)
{
    qsort(q, (size_t)n, sizeof *q, cmp_x0);
    double v = 0, low = ref[1];
    for (int i = 0; i < n; i++)
        if (q[i].x[1] < low) {
            v += (ref[0] - q[i].x[0]) * (low - q[i].x[1]);
            low = q[i].x[1];
        }
    return v;
}

/* The 2-D staircase of the 3-D sweep: non-dominated (x, y), x ascending and
 * y strictly descending, and the area it dominates up to the reference. */
struct stair {
    double *x, *y;
    int k;
    double area;
};

/* Adds (px, py) to the staircase, dropping the points it dominates and
 * growing the area by what it alone dominates. */
static void stair_add(struct stair *s, double px, double py, const double *ref)
{
    /* lo = the first point with x > px. */
    int lo = 0, hi = s->k;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (s->x[mid] <= px)
            lo = mid + 1;
        else
            hi = mid;
    }
    double h = lo > 0 ? s->y[lo - 1] : ref[1];
    if (h <= py)
        return; /* dominated (or a duplicate) */
    /* A point at the same x and a larger y is dominated by the new one. */
    int from = lo > 0 && s->x[lo - 1] == px ? lo - 1 : lo;
    double xc = px;
    int j = lo;
    for (;; j++) {
        double next = j < s->k ? s->x[j] : ref[0];
        s->area += (next - xc) * (h - py);
        if (j == s->k || s->y[j] < py)
            break;
        xc = next;
        h = s->y[j];
    }
    /* Points [from, j) are replaced by the new one. */
    int shift = 1 - (j - from);
    if (shift != 0) {
        memmove(s->x + j + shift, s->x + j, (size_t)(s->k - j) * sizeof *s->x);
        memmove(s->y + j + shift, s->y + j, (size_t)(s->k - j) * sizeof *s->y);
    }
    s->x[from] = px;
    s->y[from] = py;
    s->k += shift;
}

/* 3-D: q sorted by x[2] ascending; only the points with x[3] <= wmax take
 * part (the 4-D slices pass their level; 3-D passes INFINITY). Between two
 * successive z, the volume is the staircase's area times the z step. */
static double hv3_sorted(const struct hv_pt *q, int n, const double *ref, double wmax,
                         struct stair *s)
{
    s->k = 0;
    s->area = 0;
    double v = 0, z = 0;
    bool started = false;
    for (int i = 0; i < n; i++) {
        if (q[i].x[3] > wmax)
            continue;
        if (started)
            v += s->area * (q[i].x[2] - z);
        started = true;
        z = q[i].x[2];
        stair_add(s, q[i].x[0], q[i].x[1], ref);
    }
    if (started)
        v += s->area * (ref[2] - z);
    return v;
}

double enevo_hypervolume(const double *obj, int n, int m, const double *ref)
{
    if (n < 0 || m < 1 || m > ENEVO_MAX_OBJECTIVES || !ref || (n > 0 && !obj))
        return NAN;
    struct hv_pt *q = malloc(((size_t)n + 1) * sizeof *q);
    if (!q)
        return NAN;
    /* Only points strictly inside the reference box count (NaN fails too). */
    int k = 0;
    for (int i = 0; i < n; i++) {
        bool in = true;
        for (int j = 0; j < m; j++)
            in &= obj[(size_t)i * (size_t)m + (size_t)j] < ref[j];
        if (!in)
            continue;
        memset(&q[k], 0, sizeof q[k]);
        memcpy(q[k].x, obj + (size_t)i * (size_t)m, (size_t)m * sizeof(double));
        k++;
    }
    double v = 0;
    if (k == 0) {
        v = 0;
    } else if (m == 1) {
        double lo = q[0].x[0];
        for (int i = 1; i < k; i++)
            lo = q[i].x[0] < lo ? q[i].x[0] : lo;
        v = ref[0] - lo;
    } else if (m == 2) {
        v = hv2(q, k, ref);
    } else {
        struct stair s = {malloc((size_t)k * sizeof(double)), malloc((size_t)k * sizeof(double)), 0,
                          0};
        if (!s.x || !s.y) {
            v = NAN;
        } else if (m == 3) {
            for (int i = 0; i < k; i++)
                q[i].x[3] = 0;
            qsort(q, (size_t)k, sizeof *q, cmp_x2);
            v = hv3_sorted(q, k, ref, INFINITY, &s);
        } else {
            /* Slices along x[3]: between levels w_i and w_{i+1} the points
             * with x[3] <= w_i dominate a 3-D volume. */
            double *w = malloc((size_t)k * sizeof *w);
            if (!w) {
                v = NAN;
            } else {
                qsort(q, (size_t)k, sizeof *q, cmp_x3);
                for (int i = 0; i < k; i++)
                    w[i] = q[i].x[3];
                qsort(q, (size_t)k, sizeof *q, cmp_x2);
                for (int i = 0; i < k; i++) {
                    if (i + 1 < k && w[i + 1] == w[i])
                        continue; /* one slice per distinct level */
                    double top = i + 1 < k ? w[i + 1] : ref[3];
                    v += hv3_sorted(q, k, ref, w[i], &s) * (top - w[i]);
                }
                free(w);
            }
        }
        free(s.x);
        free(s.y);
    }
    free(q);
    return v;
}
