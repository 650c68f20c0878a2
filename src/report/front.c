/* src/report/front.c — what the report reads and works out for the
 * multi-objective (NSGA-II) runs of issue 12, and for every other run where
 * it makes sense: generations.csv's hypervolume column, the archive
 * front/front.csv, each generation's front derived from stats.csv, the
 * hypervolume against one reference point shared by all runs of a report,
 * and the energy of the cheapest network at a given test accuracy.
 *
 * The fronts here are of (accuracy on the fitness split, maximised; energy
 * per inference, minimised), whatever objectives the search used: those two
 * are in every run's stats.csv, so runs of different strategies and
 * objectives compare on one footing. */
#include "report_internal.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "enevo/io.h"
#include "enevo/pareto.h"
#include "enevo/report.h"

#define SIDE_MAX_BYTES ((size_t)1 << 28)

/* A number, or empty (NaN: not available, as the writers leave it): true;
 * anything else false. */
static bool num_cell(const char *s, double *v)
{
    if (!*s) {
        *v = NAN;
        return true;
    }
    char *end;
    double x = strtod(s, &end);
    if (end == s || *end)
        return false;
    *v = x;
    return true;
}

/* Reads <run>/<file> into t. *found = false when it is absent (silently) or
 * unreadable (with a note). Returns ENEVO_ENOMEM or 0. */
static int read_table(const struct enevo__run *r, const char *file, struct enevo__csv *t,
                      bool *found, struct enevo__buf *notes)
{
    *found = false;
    char path[4096], msg[ENEVO_ERR_LEN];
    snprintf(path, sizeof path, "%s/%s", r->path, file);
    struct stat st;
    if (stat(path, &st) != 0) {
        if (errno != ENOENT)
            enevo__buf_printf(notes, "%s: %s: %s, not used\n", r->path, file, strerror(errno));
        return 0;
    }
    char *text;
    size_t len;
    int rc = enevo_read_file(path, SIDE_MAX_BYTES, &text, &len, msg, sizeof msg);
    if (rc == ENEVO_ENOMEM)
        return rc;
    if (rc) {
        enevo__buf_printf(notes, "%s: cannot read %s (%s), not used\n", r->path, file, msg);
        return 0;
    }
    for (size_t i = 0; i < len; i++)
        if (text[i] == '\0')
            text[i] = ' ';
    rc = enevo__csv_parse(text, t, msg, sizeof msg);
    if (rc == ENEVO_ENOMEM)
        return rc;
    if (rc) {
        enevo__buf_printf(notes, "%s: %s: %s, not used\n", r->path, file, msg);
        return 0;
    }
    *found = true;
    return 0;
}

static void note_bad(struct enevo__buf *notes, const struct enevo__run *r, const char *file,
                     const struct enevo__csv *t, size_t bad)
{
    bad += t->malformed;
    if (bad)
        enevo__buf_printf(notes, "%s: %zu malformed line%s of %s skipped\n", r->path, bad,
                          bad == 1 ? "" : "s", file);
}

double enevo__report_x(const struct enevo__run *r, const struct enevo__row *w)
{
    double x = r->has_energy ? w->energy : w->flops;
    return x > 0 && isfinite(x) ? x : NAN;
}

/* Each generation's front: the non-dominated set of the valid rows of
 * generations 0..g, grown from the previous one (a point off the front up
 * to g-1 stays off it). */
static int gen_fronts(struct enevo__run *r)
{
    size_t G = (size_t)r->generations, n = r->nrows;
    size_t *bucket = calloc(G + 1, sizeof *bucket);
    size_t *order = malloc((n + 1) * sizeof *order);
    size_t *cand = malloc((n + 1) * sizeof *cand);
    size_t *pick = malloc((n + 1) * sizeof *pick);
    double *acc = malloc((n + 1) * sizeof *acc), *x = malloc((n + 1) * sizeof *x);
    r->gf_start = calloc(G + 1, sizeof *r->gf_start);
    size_t cap = 64, len = 0;
    r->gf_idx = malloc(cap * sizeof *r->gf_idx);
    int rc =
        bucket && order && cand && pick && acc && x && r->gf_start && r->gf_idx ? 0 : ENEVO_ENOMEM;
    if (!rc) {
        /* Rows by generation, in file order within one (a counting sort). */
        for (size_t i = 0; i < n; i++)
            bucket[r->rows[i].gen + 1]++;
        for (size_t g = 0; g < G; g++)
            bucket[g + 1] += bucket[g];
        for (size_t i = 0; i < n; i++)
            order[bucket[r->rows[i].gen]++] = i;
        /* bucket[g] is now the end of generation g. */
    }
    size_t prev = 0, from = 0; /* the previous front: gf_idx[prev, len) */
    for (size_t g = 0; g < G && !rc; g++) {
        size_t k = 0;
        for (size_t j = prev; j < len; j++)
            cand[k++] = r->gf_idx[j];
        for (; from < bucket[g]; from++) {
            const struct enevo__row *w = &r->rows[order[from]];
            if (w->valid && isfinite(w->acc) && !isnan(enevo__report_x(r, w)))
                cand[k++] = order[from];
        }
        for (size_t j = 0; j < k; j++) {
            acc[j] = r->rows[cand[j]].acc;
            x[j] = enevo__report_x(r, &r->rows[cand[j]]);
        }
        size_t f = enevo_report_front(acc, x, k, pick);
        if (len + f > cap) {
            while (len + f > cap)
                cap *= 2;
            size_t *p = realloc(r->gf_idx, cap * sizeof *p);
            if (!p) {
                rc = ENEVO_ENOMEM;
                break;
            }
            r->gf_idx = p;
        }
        prev = len;
        for (size_t j = 0; j < f; j++)
            r->gf_idx[len++] = cand[pick[j]];
        r->gf_start[g + 1] = len;
    }
    free(bucket);
    free(order);
    free(cand);
    free(pick);
    free(acc);
    free(x);
    return rc;
}

int enevo__report_load_pareto(struct enevo__run *r, struct enevo__buf *notes)
{
    int rc = gen_fronts(r);
    if (rc)
        return rc;
    struct enevo__csv t;
    bool found;
    rc = read_table(r, "generations.csv", &t, &found, notes);
    if (rc)
        return rc;
    if (found) {
        int cg = enevo__csv_col(&t, "generation"), ch = enevo__csv_col(&t, "hypervolume");
        if (cg >= 0 && ch >= 0) {
            r->pareto = true;
            r->search_hv = malloc(((size_t)r->generations + 1) * sizeof *r->search_hv);
            if (!r->search_hv) {
                enevo__csv_free(&t);
                return ENEVO_ENOMEM;
            }
            for (long g = 0; g < r->generations; g++)
                r->search_hv[g] = NAN;
            size_t bad = 0;
            for (size_t i = 0; i < t.nrows; i++) {
                double g, hv;
                /* An empty hypervolume: the run has no reference point. */
                if (!num_cell(enevo__csv_cell(&t, i, cg), &g) || !(g >= 0) || g != floor(g) ||
                    !num_cell(enevo__csv_cell(&t, i, ch), &hv)) {
                    bad++;
                    continue;
                }
                /* Generations past stats.csv's last (still running) wait. */
                if (g < (double)r->generations)
                    r->search_hv[(long)g] = hv;
            }
            note_bad(notes, r, "generations.csv", &t, bad);
            bool any = false;
            for (long g = 0; g < r->generations; g++)
                any |= !isnan(r->search_hv[g]);
            if (!any) { /* nothing to draw */
                free(r->search_hv);
                r->search_hv = NULL;
            }
        }
        enevo__csv_free(&t);
    }
    rc = read_table(r, "front/front.csv", &t, &found, notes);
    if (rc || !found)
        return rc;
    r->pareto = true;
    r->front_csv = true;
    r->front_csv_rows = t.nrows;
    int ca = enevo__csv_col(&t, "accuracy");
    int ce = enevo__csv_col(&t, "energy_j_per_inference");
    if (ce < 0)
        ce = enevo__csv_col(&t, "energy");
    if (ca >= 0 && ce >= 0) {
        r->arch_acc = malloc((t.nrows + 1) * sizeof *r->arch_acc);
        r->arch_x = malloc((t.nrows + 1) * sizeof *r->arch_x);
        if (!r->arch_acc || !r->arch_x) {
            enevo__csv_free(&t);
            return ENEVO_ENOMEM;
        }
        size_t bad = 0;
        for (size_t i = 0; i < t.nrows; i++) {
            double a, e;
            if (!num_cell(enevo__csv_cell(&t, i, ca), &a) ||
                !num_cell(enevo__csv_cell(&t, i, ce), &e)) {
                bad++;
                continue;
            }
            if (!isfinite(a) || !(e > 0) || !isfinite(e))
                continue;
            r->arch_acc[r->narch] = a;
            r->arch_x[r->narch++] = e;
        }
        note_bad(notes, r, "front/front.csv", &t, bad);
    }
    enevo__csv_free(&t);
    return 0;
}

void enevo__report_free_pareto(struct enevo__run *r)
{
    free(r->gf_idx);
    free(r->gf_start);
    free(r->search_hv);
    free(r->hv);
    free(r->arch_acc);
    free(r->arch_x);
}

double enevo__report_energy_ref(const struct enevo__run *runs, size_t n)
{
    double hi = NAN;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; runs[i].has_energy && j < runs[i].nrows; j++) {
            const struct enevo__row *w = &runs[i].rows[j];
            if (w->valid && isfinite(w->acc) && w->energy > 0 && isfinite(w->energy) &&
                !(w->energy <= hi))
                hi = w->energy;
        }
    return 1.1 * hi;
}

/* The normalised hypervolume of rows idx[0..k): points (-accuracy,
 * energy / e_ref) against (0, 1). */
static double hv_of(const struct enevo__run *r, const size_t *idx, size_t k, double e_ref,
                    double *pts)
{
    for (size_t j = 0; j < k; j++) {
        pts[2 * j] = -r->rows[idx[j]].acc;
        pts[2 * j + 1] = r->rows[idx[j]].energy / e_ref;
    }
    const double ref[2] = {0, 1};
    return enevo_hypervolume(pts, (int)k, 2, ref);
}

int enevo__report_hv(struct enevo__run *r, double e_ref)
{
    free(r->hv);
    r->hv = NULL;
    r->hv_all = NAN;
    if (!r->has_energy || !(e_ref > 0) || !r->gf_start)
        return 0;
    size_t G = (size_t)r->generations, most = 1;
    for (size_t g = 0; g < G; g++)
        if (r->gf_start[g + 1] - r->gf_start[g] > most)
            most = r->gf_start[g + 1] - r->gf_start[g];
    double *pts = malloc(2 * most * sizeof *pts);
    r->hv = malloc((G + 1) * sizeof *r->hv);
    if (!pts || !r->hv) {
        free(pts);
        free(r->hv);
        r->hv = NULL;
        return ENEVO_ENOMEM;
    }
    for (size_t g = 0; g < G; g++)
        r->hv[g] =
            hv_of(r, r->gf_idx + r->gf_start[g], r->gf_start[g + 1] - r->gf_start[g], e_ref, pts);
    r->hv_all = G ? r->hv[G - 1] : NAN;
    free(pts);
    return 0;
}

double enevo__report_cheapest(const struct enevo__run *r, double min_test_acc, long *row)
{
    double best = NAN;
    if (row)
        *row = -1;
    for (size_t i = 0; i < r->nrows; i++) {
        const struct enevo__row *w = &r->rows[i];
        /* 1e-9: "at least 0.795" must not miss a 0.795 printed as %.17g. */
        if (!w->valid || !(w->test_acc >= min_test_acc - 1e-9) || !(w->energy > 0) ||
            !isfinite(w->energy) || w->energy >= best)
            continue;
        best = w->energy;
        if (row)
            *row = (long)i;
    }
    return best;
}
