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
    double x = r->has_energy ? w->energy : w->flops;
    return x > 0 ? x : NAN;
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
                        bool *fronts, struct enevo__buf *notes, char *err, size_t errlen)
{
    *fronts = false;
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
    bool *want_progress = calloc(n + 1, sizeof *want_progress);
    bool *want_front = calloc(n + 1, sizeof *want_front);
    if (!want_progress || !want_front) {
        free(want_progress);
        free(want_front);
        enevo__buf_free(&gp);
        return enevo_errf(err, errlen, ENEVO_ENOMEM, "out of memory");
    }
    size_t with_energy = 0;
    bool estimate = false;
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        want_progress[i] = runs[i].nvalid > 0;
        want_front[i] = false;
        if (!want_progress[i])
            continue;
        gp_progress(&gp, &runs[i]);
        int f = gp_front(&gp, &runs[i]);
        if (f < 0)
            rc = enevo_errf(err, errlen, f, "out of memory");
        want_front[i] = f == 0;
        /* Marked now so the combined plot knows which datablocks to use;
         * corrected below from what gnuplot actually wrote. */
        runs[i].front_plot = want_front[i];
        if (want_front[i] && runs[i].has_energy) {
            with_energy++;
            estimate |= runs[i].estimate;
        }
    }
    if (!rc && with_energy >= 2)
        gp_fronts(&gp, runs, n, estimate);
    char path[4096];
    snprintf(path, sizeof path, "%s/plots.gp", out_dir);
    if (!rc && gp.failed)
        rc = enevo_errf(err, errlen, ENEVO_ENOMEM, "out of memory");
    if (!rc)
        rc = enevo_write_atomic(path, gp.s, gp.len, err, errlen);
    enevo__buf_free(&gp);
    for (size_t i = 0; i < n; i++)
        runs[i].front_plot = runs[i].progress_plot = false;
    if (rc) {
        free(want_progress);
        free(want_front);
        return rc;
    }

    /* Stale images of an earlier report would otherwise pass for new ones. */
    for (size_t i = 0; i < n; i++) {
        remove_outputs(out_dir, runs[i].stem, "progress");
        remove_outputs(out_dir, runs[i].stem, "front");
    }
    remove_outputs(out_dir, "all", "fronts");

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
        free(want_progress);
        free(want_front);
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
        runs[i].progress_plot = want_progress[i] && png_exists(out_dir, runs[i].stem, "progress");
        runs[i].front_plot = want_front[i] && png_exists(out_dir, runs[i].stem, "front");
        missing +=
            (want_progress[i] && !runs[i].progress_plot) + (want_front[i] && !runs[i].front_plot);
    }
    *fronts = with_energy >= 2 && png_exists(out_dir, "all", "fronts");
    missing += with_energy >= 2 && !*fronts;
    if (st != 0 || missing)
        enevo__buf_printf(notes,
                          "gnuplot %s (exit status %d); %zu plot(s) missing, see "
                          "gnuplot.log.\n",
                          st ? "failed" : "ran", st, missing);
    free(want_progress);
    free(want_front);
    return 0;
}
