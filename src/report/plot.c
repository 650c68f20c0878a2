/* src/report/plot.c — the report's plots, drawn by gnuplot.
 *
 * Everything gnuplot needs goes into one script, plots.gp, with the data
 * inline as datablocks and output names relative to the report directory:
 * the report stays reproducible (`cd DIR && gnuplot plots.gp`) and no shell
 * quoting is needed beyond the one command that runs it. */
#include "report_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "enevo/io.h"
#include "enevo/report.h"

size_t enevo_report_front(const double *acc, const double *cost, size_t n, size_t *idx)
{
    size_t k = 0;
    /* Quadratic, but with no allocation and a few thousand evaluations at
     * most per run; that is well under a second. */
    for (size_t i = 0; i < n; i++) {
        if (isnan(acc[i]) || isnan(cost[i]))
            continue;
        bool dominated = false;
        for (size_t j = 0; j < n && !dominated; j++) {
            if (j == i || isnan(acc[j]) || isnan(cost[j]))
                continue;
            bool no_worse = acc[j] >= acc[i] && cost[j] <= cost[i];
            bool better = acc[j] > acc[i] || cost[j] < cost[i];
            dominated = no_worse && (better || j < i);
        }
        if (dominated)
            continue;
        /* Insertion keeps the front ordered by cost (and accuracy with it). */
        size_t p = k++;
        while (p > 0 && cost[idx[p - 1]] > cost[i]) {
            idx[p] = idx[p - 1];
            p--;
        }
        idx[p] = i;
    }
    return k;
}

/* A gnuplot double-quoted string. */
static void gp_str(struct enevo__buf *b, const char *s)
{
    enevo__buf_put(b, "\"", 1);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            enevo__buf_put(b, "\\", 1);
        if ((unsigned char)*s >= 0x20)
            enevo__buf_put(b, s, 1);
    }
    enevo__buf_put(b, "\"", 1);
}

static void gp_num(struct enevo__buf *b, double v)
{
    if (isfinite(v))
        enevo__buf_printf(b, " %.9g", v);
    else
        enevo__buf_put(b, " ?", 2);
}

/* The x of the accuracy plot: energy when the run measured it, else FLOPs
 * (a proxy that every row has). Log scale, so only positive values. */
static double front_x(const struct enevo__run *r, const struct enevo__row *w)
{
    return enevo__report_x(r, w);
}

/* Draws the plot command `plot` (described by the settings before it) as
 * PNG, then the same again as SVG. The terminal is set before the first
 * draw so that gnuplot never opens its default (interactive) one. */
static void gp_draw(struct enevo__buf *b, const char *stem, const char *kind, const char *plot)
{
    enevo__buf_printf(b, "set terminal @png_term\nset output \"%s-%s.png\"\n", stem, kind);
    enevo__buf_put(b, plot, strlen(plot));
    enevo__buf_printf(b, "set terminal @svg_term\nset output \"%s-%s.svg\"\nreplot\n", stem, kind);
    enevo__buf_printf(b, "unset output\n\n");
}

static void gp_progress(struct enevo__buf *b, const struct enevo__run *r)
{
    enevo__buf_printf(b,
                      "# %s: per generation: its best's fitness, the best accuracy, its "
                      "best's energy, the best fitness so far\n$p%d << EOD\n",
                      r->stem, r->index);
    double so_far = NAN;
    for (long g = 0; g < r->generations; g++) {
        const struct enevo__row *best = NULL;
        double acc = NAN;
        for (size_t i = 0; i < r->nrows; i++) {
            const struct enevo__row *w = &r->rows[i];
            if (w->gen != g || !w->valid)
                continue;
            if (!isnan(w->fitness) && (!best || w->fitness > best->fitness))
                best = w;
            if (!isnan(w->acc) && (isnan(acc) || w->acc > acc))
                acc = w->acc;
        }
        double fit = best ? best->fitness : NAN;
        if (!isnan(fit) && (isnan(so_far) || fit > so_far))
            so_far = fit;
        enevo__buf_printf(b, "%ld", g);
        gp_num(b, fit);
        gp_num(b, acc);
        gp_num(b, best ? best->energy : NAN);
        gp_num(b, so_far);
        enevo__buf_put(b, "\n", 1);
    }
    enevo__buf_printf(b, "EOD\nreset\nset datafile missing \"?\"\nset grid\n"
                         "set key below\nset xlabel \"generation\"\n"
                         "set ylabel \"fitness / accuracy (fitness split)\"\n");
    /* An explicit range: one generation alone would be an empty one. */
    enevo__buf_printf(b, "set xrange [-0.25:%.2f]\n", (double)r->generations - 0.75);
    if (r->generations < 12)
        enevo__buf_printf(b, "set xtics 1\n");
    enevo__buf_printf(b, "set title ");
    gp_str(b, r->name);
    enevo__buf_printf(b, " . \": progress per generation\"\n");
    if (r->has_energy)
        enevo__buf_printf(
            b,
            "set ytics nomirror\nset y2tics\nset logscale y2\n"
            "set format y2 \"%%.0s %%cJ\"\nset y2label \"energy per inference (J%s)\"\n",
            r->estimate ? ", model estimate" : "");
    struct enevo__buf plot = {0};
    enevo__buf_printf(&plot,
                      "plot $p%d using 1:2 with linespoints pt 7 lw 2 title \"fitness of "
                      "the generation's best\", \\\n"
                      "  $p%d using 1:5 with steps dt 2 lw 1.5 title \"best fitness so "
                      "far\", \\\n"
                      "  $p%d using 1:3 with linespoints pt 5 lw 2 title \"best accuracy\"",
                      r->index, r->index, r->index);
    if (r->has_energy)
        enevo__buf_printf(&plot,
                          ", \\\n  $p%d using 1:4 axes x1y2 with linespoints pt 9 lw 2 "
                          "title \"energy of the generation's best (right axis)\"",
                          r->index);
    enevo__buf_printf(&plot, "\n");
    if (plot.failed)
        b->failed = true;
    else
        gp_draw(b, r->stem, "progress", plot.s);
    enevo__buf_free(&plot);
}

/* The front of run r as an index list (caller frees), *k its length. */
static size_t *run_front(const struct enevo__run *r, size_t *k)
{
    double *acc = malloc((r->nrows + 1) * sizeof *acc);
    double *x = malloc((r->nrows + 1) * sizeof *x);
    size_t *idx = malloc((r->nrows + 1) * sizeof *idx);
    if (!acc || !x || !idx) {
        free(acc);
        free(x);
        free(idx);
        return NULL;
    }
    for (size_t i = 0; i < r->nrows; i++) {
        acc[i] = r->rows[i].valid ? r->rows[i].acc : NAN;
        x[i] = r->rows[i].valid ? front_x(r, &r->rows[i]) : NAN;
    }
    *k = enevo_report_front(acc, x, r->nrows, idx);
    free(acc);
    free(x);
    return idx;
}

static int gp_front(struct enevo__buf *b, const struct enevo__run *r)
{
    size_t k;
    size_t *idx = run_front(r, &k);
    if (!idx)
        return ENEVO_ENOMEM;
    enevo__buf_printf(b,
                      "# %s: every valid evaluation (x, accuracy), then the front\n"
                      "$a%d << EOD\n",
                      r->stem, r->index);
    size_t points = 0;
    for (size_t i = 0; i < r->nrows; i++) {
        const struct enevo__row *w = &r->rows[i];
        double x = front_x(r, w);
        if (!w->valid || isnan(x) || isnan(w->acc))
            continue;
        enevo__buf_printf(b, "%.9g %.9g\n", x, w->acc);
        points++;
    }
    enevo__buf_printf(b, "EOD\n$f%d << EOD\n", r->index);
    for (size_t j = 0; j < k; j++)
        enevo__buf_printf(b, "%.9g %.9g\n", front_x(r, &r->rows[idx[j]]), r->rows[idx[j]].acc);
    free(idx);
    enevo__buf_printf(b, "EOD\n");
    if (!points)
        return 1; /* nothing to draw */
    enevo__buf_printf(b, "reset\nset grid\nset key below\nset logscale x\n"
                         "set ylabel \"accuracy (fitness split)\"\n");
    /* SI prefixes: "20 µJ" reads better than "0.000020". */
    enevo__buf_printf(b, "set format x \"%%.0s %%c%s\"\n", r->has_energy ? "J" : "");
    if (r->has_energy)
        enevo__buf_printf(b, "set xlabel \"energy per inference (J%s, log scale)\"\n",
                          r->estimate ? ", model estimate" : "");
    else
        enevo__buf_printf(b, "set xlabel \"FLOPs per image (log scale; no energy measured)\"\n");
    enevo__buf_printf(b, "set title ");
    gp_str(b, r->name);
    enevo__buf_printf(b, " . \": accuracy against %s\"\n", r->has_energy ? "energy" : "FLOPs");
    char plot[512];
    snprintf(plot, sizeof plot,
             "plot $a%d using 1:2 with points pt 7 ps 0.8 lc rgb \"#8c8ca8\" "
             "title \"valid evaluations\", \\\n"
             "  $f%d using 1:2 with linespoints pt 7 ps 1.4 lw 2 lc rgb \"#d62728\" "
             "title \"non-dominated front\"\n",
             r->index, r->index);
    gp_draw(b, r->stem, "front", plot);
    return 0;
}

/* All runs' fronts on one plot, for the runs with energy. */
static void gp_fronts(struct enevo__buf *b, const struct enevo__run *runs, size_t n, bool estimate)
{
    enevo__buf_printf(b,
                      "# the fronts of every run with energy\nreset\nset grid\n"
                      "set key below\nset logscale x\n"
                      "set ylabel \"accuracy (fitness split)\"\n"
                      "set xlabel \"energy per inference (J%s, log scale)\"\n"
                      "set format x \"%%.0s %%cJ\"\n"
                      "set title \"non-dominated fronts of all runs\"\n",
                      estimate ? ", model estimate" : "");
    struct enevo__buf plot = {0};
    enevo__buf_printf(&plot, "plot ");
    const char *sep = "";
    for (size_t i = 0; i < n; i++) {
        if (!runs[i].front_plot || !runs[i].has_energy)
            continue;
        enevo__buf_printf(&plot, "%s$f%d using 1:2 with linespoints pt 7 lw 2 title ", sep,
                          runs[i].index);
        gp_str(&plot, runs[i].name);
        sep = ", \\\n  ";
    }
    enevo__buf_printf(&plot, "\n");
    if (plot.failed)
        b->failed = true;
    else
        gp_draw(b, "all", "fronts", plot.s);
    enevo__buf_free(&plot);
}

/* ---- multi-objective runs (issue 12) and settings -------------------------- */

static void gp_xaxis(struct enevo__buf *b, bool energy, bool estimate)
{
    enevo__buf_printf(b, "set logscale x\nset format x \"%%.0s %%c%s\"\n", energy ? "J" : "");
    if (energy)
        enevo__buf_printf(b, "set xlabel \"energy per inference (J%s, log scale)\"\n",
                          estimate ? ", model estimate" : "");
    else
        enevo__buf_printf(b, "set xlabel \"FLOPs per image (log scale; no energy measured)\"\n");
}

/* The front of each generation of a multi-objective run, light (early) to
 * dark (late), with front/front.csv's points over them. */
static bool gp_gen_fronts(struct enevo__buf *b, const struct enevo__run *r)
{
    if (!r->pareto || !r->gf_start || r->gf_start[r->generations] == 0)
        return false;
    enevo__buf_printf(b,
                      "# %s: the front of the valid evaluations up to each generation "
                      "(x, accuracy, generation)\n$g%d << EOD\n",
                      r->stem, r->index);
    for (long g = 0; g < r->generations; g++) {
        for (size_t j = r->gf_start[g]; j < r->gf_start[g + 1]; j++) {
            const struct enevo__row *w = &r->rows[r->gf_idx[j]];
            enevo__buf_printf(b, "%.9g %.9g %ld\n", enevo__report_x(r, w), w->acc, g);
        }
        enevo__buf_printf(b, "\n"); /* one blank line: a new line of points */
    }
    enevo__buf_printf(b, "EOD\n");
    if (r->narch) {
        enevo__buf_printf(b, "$ar%d << EOD\n", r->index);
        for (size_t j = 0; j < r->narch; j++)
            enevo__buf_printf(b, "%.9g %.9g\n", r->arch_x[j], r->arch_acc[j]);
        enevo__buf_printf(b, "EOD\n");
    }
    enevo__buf_printf(b,
                      "reset\nset grid\nset key below\nset ylabel \"accuracy (fitness split)\"\n");
    gp_xaxis(b, r->has_energy, r->estimate);
    enevo__buf_printf(b,
                      "set palette defined (0 \"#c6dbef\", 1 \"#4292c6\", 2 \"#08306b\")\n"
                      "set cbrange [0:%ld]\nset cblabel \"generation\"\nset title ",
                      r->generations > 1 ? r->generations - 1 : 1);
    gp_str(b, r->name);
    enevo__buf_printf(b, " . \": the front of each generation (light: early, dark: late)\"\n");
    if (r->generations < 12)
        enevo__buf_printf(b, "set cbtics 1\n");
    struct enevo__buf plot = {0};
    enevo__buf_printf(&plot,
                      "plot $g%d using 1:2:3 with linespoints pt 7 ps 0.8 lw 1.5 lc palette "
                      "title \"front of the valid evaluations up to the generation\"",
                      r->index);
    if (r->narch && r->has_energy)
        enevo__buf_printf(&plot,
                          ", \\\n  $ar%d using 1:2 with points pt 6 ps 1.8 lc rgb \"#000000\" "
                          "title \"front/front.csv (the search's archive)\"",
                          r->index);
    enevo__buf_printf(&plot, "\n");
    if (plot.failed)
        b->failed = true;
    else
        gp_draw(b, r->stem, "generations", plot.s);
    enevo__buf_free(&plot);
    return true;
}

/* A multi-objective run's hypervolume per generation: the report's common
 * one (left axis) and the search's own from generations.csv (right). */
static bool gp_hv_run(struct enevo__buf *b, const struct enevo__run *r)
{
    if (!r->pareto || (!r->hv && !r->search_hv))
        return false;
    enevo__buf_printf(b,
                      "# %s: per generation: common hypervolume, the search's own\n$h%d << EOD\n",
                      r->stem, r->index);
    for (long g = 0; g < r->generations; g++) {
        enevo__buf_printf(b, "%ld", g);
        gp_num(b, r->hv ? r->hv[g] : NAN);
        gp_num(b, r->search_hv ? r->search_hv[g] : NAN);
        enevo__buf_put(b, "\n", 1);
    }
    enevo__buf_printf(b, "EOD\nreset\nset datafile missing \"?\"\nset grid\nset key below\n"
                         "set xlabel \"generation\"\n");
    enevo__buf_printf(b, "set xrange [-0.25:%.2f]\n", (double)r->generations - 0.75);
    if (r->generations < 12)
        enevo__buf_printf(b, "set xtics 1\n");
    enevo__buf_printf(b, "set title ");
    gp_str(b, r->name);
    enevo__buf_printf(b, " . \": hypervolume per generation\"\n");
    struct enevo__buf plot = {0};
    const char *sep = "plot ";
    if (r->hv) {
        enevo__buf_printf(b,
                          "set ylabel \"hypervolume of (accuracy, energy), common reference\"\n");
        enevo__buf_printf(&plot,
                          "%s$h%d using 1:2 with linespoints pt 7 lw 2 title \"hypervolume of "
                          "(accuracy, energy), the report's common reference\"",
                          sep, r->index);
        sep = ", \\\n  ";
    }
    if (r->search_hv) {
        if (r->hv)
            enevo__buf_printf(b, "set ytics nomirror\nset y2tics\n"
                                 "set y2label \"the search's hypervolume (generations.csv)\"\n");
        else
            enevo__buf_printf(b, "set ylabel \"the search's hypervolume (generations.csv)\"\n");
        enevo__buf_printf(&plot,
                          "%s$h%d using 1:3 %swith linespoints pt 5 lw 2 dt 2 title \"the search's "
                          "hypervolume: its objectives and reference point (generations.csv%s)\"",
                          sep, r->index, r->hv ? "axes x1y2 " : "", r->hv ? ", right axis" : "");
    }
    enevo__buf_printf(&plot, "\n");
    if (plot.failed)
        b->failed = true;
    else
        gp_draw(b, r->stem, "hypervolume", plot.s);
    enevo__buf_free(&plot);
    return true;
}

/* Settings in order of their first run; run i belongs to setting of[i]. */
static size_t settings(const struct enevo__run *runs, size_t n, size_t *of, size_t *first)
{
    size_t ns = 0;
    for (size_t i = 0; i < n; i++) {
        size_t k = 0;
        while (k < ns && strcmp(runs[first[k]].group, runs[i].group))
            k++;
        if (k == ns)
            first[ns++] = i;
        of[i] = k;
    }
    return ns;
}

/* Per setting and generation: mean, min and max over its seeds of the
 * common hypervolume (the seeds that reached the generation). */
static bool gp_settings_hv(struct enevo__buf *b, const struct enevo__run *runs, size_t n,
                           const size_t *of, const size_t *first, size_t ns)
{
    struct enevo__buf plot = {0};
    const char *sep = "plot ";
    for (size_t k = 0; k < ns; k++) {
        long G = 0;
        size_t seeds = 0;
        for (size_t i = 0; i < n; i++)
            if (of[i] == k && runs[i].hv) {
                seeds++;
                G = runs[i].generations > G ? runs[i].generations : G;
            }
        if (!seeds)
            continue;
        enevo__buf_printf(b, "# setting %s: generation, mean, min, max, seeds\n$hs%zu << EOD\n",
                          runs[first[k]].group, k);
        for (long g = 0; g < G; g++) {
            double s = 0, lo = INFINITY, hi = -INFINITY;
            int c = 0;
            for (size_t i = 0; i < n; i++)
                if (of[i] == k && runs[i].hv && g < runs[i].generations) {
                    double v = runs[i].hv[g];
                    s += v;
                    lo = v < lo ? v : lo;
                    hi = v > hi ? v : hi;
                    c++;
                }
            enevo__buf_printf(b, "%ld %.9g %.9g %.9g %d\n", g, s / c, lo, hi, c);
        }
        enevo__buf_printf(b, "EOD\n");
        enevo__buf_printf(&plot,
                          "%s$hs%zu using 1:3:4 with filledcurves fs transparent solid 0.15 "
                          "noborder lc %zu notitle, \\\n"
                          "  $hs%zu using 1:2 with linespoints pt 7 lw 2 lc %zu title ",
                          sep, k, k + 1, k, k + 1);
        char t[200];
        snprintf(t, sizeof t, "%s (mean%s over %zu seed%s)", runs[first[k]].group,
                 seeds > 1 ? "; band: min to max" : "", seeds, seeds == 1 ? "" : "s");
        gp_str(&plot, t);
        sep = ", \\\n  ";
    }
    bool any = plot.len > 0;
    if (any) {
        enevo__buf_printf(&plot, "\n");
        enevo__buf_printf(b, "reset\nset grid\nset key below\nset xlabel \"generation\"\n"
                             "set ylabel \"hypervolume of (accuracy, energy), common reference\"\n"
                             "set title \"hypervolume per generation of each setting\"\n");
        if (plot.failed)
            b->failed = true;
        else
            gp_draw(b, "settings", "hypervolume", plot.s);
    }
    enevo__buf_free(&plot);
    return any;
}

/* Each setting's front: the non-dominated valid evaluations of all its
 * seeds together, on energy per inference. */
static int gp_settings_fronts(struct enevo__buf *b, const struct enevo__run *runs, size_t n,
                              const size_t *of, const size_t *first, size_t ns, bool estimate)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += runs[i].nrows;
    double *acc = malloc((total + 1) * sizeof *acc), *x = malloc((total + 1) * sizeof *x);
    size_t *idx = malloc((total + 1) * sizeof *idx);
    if (!acc || !x || !idx) {
        free(acc);
        free(x);
        free(idx);
        return ENEVO_ENOMEM;
    }
    struct enevo__buf plot = {0};
    const char *sep = "plot ";
    for (size_t k = 0; k < ns; k++) {
        size_t m = 0;
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; of[i] == k && runs[i].has_energy && j < runs[i].nrows; j++) {
                const struct enevo__row *w = &runs[i].rows[j];
                acc[m] = w->valid ? w->acc : NAN;
                x[m++] = w->valid ? enevo__report_x(&runs[i], w) : NAN;
            }
        size_t f = enevo_report_front(acc, x, m, idx);
        if (!f)
            continue;
        enevo__buf_printf(b, "# setting %s: its front over all seeds\n$sf%zu << EOD\n",
                          runs[first[k]].group, k);
        for (size_t j = 0; j < f; j++)
            enevo__buf_printf(b, "%.9g %.9g\n", x[idx[j]], acc[idx[j]]);
        enevo__buf_printf(b, "EOD\n");
        enevo__buf_printf(&plot, "%s$sf%zu using 1:2 with linespoints pt 7 lw 2 lc %zu title ", sep,
                          k, k + 1);
        gp_str(&plot, runs[first[k]].group);
        sep = ", \\\n  ";
    }
    free(acc);
    free(x);
    free(idx);
    int any = plot.len > 0;
    if (any) {
        enevo__buf_printf(&plot, "\n");
        enevo__buf_printf(b, "reset\nset grid\nset key below\n"
                             "set ylabel \"accuracy (fitness split)\"\n"
                             "set title \"each setting's front (all its seeds' valid "
                             "evaluations)\"\n");
        gp_xaxis(b, true, estimate);
        if (plot.failed)
            b->failed = true;
        else
            gp_draw(b, "settings", "fronts", plot.s);
    }
    enevo__buf_free(&plot);
    return any;
}

/* A shell single-quoted word. */
static void sh_word(struct enevo__buf *b, const char *s)
{
    enevo__buf_put(b, "'", 1);
    for (; *s; s++) {
        if (*s == '\'')
            enevo__buf_put(b, "'\\''", 4);
        else
            enevo__buf_put(b, s, 1);
    }
    enevo__buf_put(b, "'", 1);
}

static bool png_exists(const char *out_dir, const char *stem, const char *kind)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s-%s.png", out_dir, stem, kind);
    return access(path, R_OK) == 0;
}

static void remove_outputs(const char *out_dir, const char *stem, const char *kind)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s-%s.png", out_dir, stem, kind);
    unlink(path);
    snprintf(path, sizeof path, "%s/%s-%s.svg", out_dir, stem, kind);
    unlink(path);
}

int enevo__report_plots(struct enevo__run *runs, size_t n, const char *out_dir, const char *gnuplot,
                        struct enevo__plots *out, struct enevo__buf *notes, char *err,
                        size_t errlen)
{
    memset(out, 0, sizeof *out);
    struct enevo__buf gp = {0};
    enevo__buf_printf(&gp, "# Written by `enevo report`; run it again with "
                           "`gnuplot plots.gp` in this directory.\n"
                           "terms = exists(\"GPVAL_TERMINALS\") ? GPVAL_TERMINALS : \"\"\n"
                           "if (strstrt(terms, \"pngcairo\") > 0) {\n"
                           "    png_term = \"pngcairo noenhanced size 960,640 font 'Sans,11'\"\n"
                           "} else {\n"
                           "    png_term = \"png noenhanced size 960,640\"\n"
                           "}\n"
                           "svg_term = \"svg noenhanced size 960,640 dynamic font 'Sans,11'\"\n"
                           "set encoding utf8\nset micro\n\n");
    /* Per run: progress, front, generations, hypervolume. */
    enum { P_PROGRESS, P_FRONT, P_GENS, P_HV, P_KINDS };
    static const char *const kinds[P_KINDS] = {"progress", "front", "generations", "hypervolume"};
    bool *want = calloc(P_KINDS * (n + 1), sizeof *want);
    size_t *of = calloc(n + 1, sizeof *of), *first = calloc(n + 1, sizeof *first);
    if (!want || !of || !first) {
        free(want);
        free(of);
        free(first);
        enevo__buf_free(&gp);
        return enevo_errf(err, errlen, ENEVO_ENOMEM, "out of memory");
    }
    size_t with_energy = 0;
    bool estimate = false;
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        bool *w = want + P_KINDS * i;
        w[P_PROGRESS] = runs[i].nvalid > 0;
        if (!w[P_PROGRESS])
            continue;
        gp_progress(&gp, &runs[i]);
        int f = gp_front(&gp, &runs[i]);
        if (f < 0)
            rc = enevo_errf(err, errlen, f, "out of memory");
        w[P_FRONT] = f == 0;
        w[P_GENS] = gp_gen_fronts(&gp, &runs[i]);
        w[P_HV] = gp_hv_run(&gp, &runs[i]);
        /* Marked now so the combined plot knows which datablocks to use;
         * corrected below from what gnuplot actually wrote. */
        runs[i].front_plot = w[P_FRONT];
        if (w[P_FRONT] && runs[i].has_energy) {
            with_energy++;
            estimate |= runs[i].estimate;
        }
    }
    if (!rc && with_energy >= 2)
        gp_fronts(&gp, runs, n, estimate);
    size_t ns = settings(runs, n, of, first);
    bool want_shv = false, want_sfr = false;
    if (!rc) {
        want_shv = gp_settings_hv(&gp, runs, n, of, first, ns);
        int f = gp_settings_fronts(&gp, runs, n, of, first, ns, estimate);
        if (f < 0)
            rc = enevo_errf(err, errlen, f, "out of memory");
        want_sfr = f > 0;
    }
    free(of);
    free(first);
    char path[4096];
    snprintf(path, sizeof path, "%s/plots.gp", out_dir);
    if (!rc && gp.failed)
        rc = enevo_errf(err, errlen, ENEVO_ENOMEM, "out of memory");
    if (!rc)
        rc = enevo_write_atomic(path, gp.s, gp.len, err, errlen);
    enevo__buf_free(&gp);
    for (size_t i = 0; i < n; i++)
        runs[i].front_plot = runs[i].progress_plot = runs[i].gens_plot = runs[i].hv_plot = false;
    if (rc) {
        free(want);
        return rc;
    }

    /* Stale images of an earlier report would otherwise pass for new ones. */
    for (size_t i = 0; i < n; i++)
        for (int k = 0; k < P_KINDS; k++)
            remove_outputs(out_dir, runs[i].stem, kinds[k]);
    remove_outputs(out_dir, "all", "fronts");
    remove_outputs(out_dir, "settings", "hypervolume");
    remove_outputs(out_dir, "settings", "fronts");

    struct enevo__buf cmd = {0};
    enevo__buf_printf(&cmd, "command -v ");
    sh_word(&cmd, gnuplot);
    enevo__buf_printf(&cmd, " >/dev/null 2>&1");
    int found = cmd.failed ? -1 : system(cmd.s);
    enevo__buf_free(&cmd);
    if (found != 0) {
        enevo__buf_printf(notes,
                          "No plots: %s was not found (Debian: apt-get install "
                          "gnuplot-nox); plots.gp is written, run `gnuplot plots.gp` in "
                          "this directory once it is installed.\n",
                          gnuplot);
        free(want);
        return 0;
    }
    enevo__buf_printf(&cmd, "cd ");
    sh_word(&cmd, out_dir);
    enevo__buf_printf(&cmd, " && ");
    sh_word(&cmd, gnuplot);
    enevo__buf_printf(&cmd, " plots.gp >gnuplot.log 2>&1");
    int st = cmd.failed ? -1 : system(cmd.s);
    enevo__buf_free(&cmd);

    size_t missing = 0;
    for (size_t i = 0; i < n; i++) {
        bool got[P_KINDS];
        for (int k = 0; k < P_KINDS; k++) {
            got[k] = want[P_KINDS * i + k] && png_exists(out_dir, runs[i].stem, kinds[k]);
            missing += want[P_KINDS * i + k] && !got[k];
        }
        runs[i].progress_plot = got[P_PROGRESS];
        runs[i].front_plot = got[P_FRONT];
        runs[i].gens_plot = got[P_GENS];
        runs[i].hv_plot = got[P_HV];
    }
    out->fronts = with_energy >= 2 && png_exists(out_dir, "all", "fronts");
    out->settings_hv = want_shv && png_exists(out_dir, "settings", "hypervolume");
    out->settings_fronts = want_sfr && png_exists(out_dir, "settings", "fronts");
    missing += (with_energy >= 2 && !out->fronts) + (want_shv && !out->settings_hv) +
               (want_sfr && !out->settings_fronts);
    if (st != 0 || missing)
        enevo__buf_printf(notes,
                          "gnuplot %s (exit status %d); %zu plot(s) missing, see "
                          "gnuplot.log.\n",
                          st ? "failed" : "ran", st, missing);
    free(want);
    return 0;
}
