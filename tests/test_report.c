/* tests/test_report.c — `enevo report`: the stats.csv reader, the front, and
 * a report over hand-made runs whose summary numbers are worked out below. */
#include "tests.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "enevo/report.h"
#include "report/report_internal.h"

#define NEW_HEADER                                                                                 \
    "generation,index,id,parent,mutations,valid,layers,params,flops,epochs,train_loss,"            \
    "val_loss,val_accuracy,accuracy,loss,test_accuracy,energy_j_per_inference,power_w,"            \
    "latency_s,energy_ci_low,energy_ci_high,accuracy_0,accuracy_1,test_accuracy_1,"                \
    "energy_0,energy_1,meter,fitness,fitness_mean,evaluations,reused_module,phenotype\n"
/* Runs written before energy was measured have no energy columns. */
#define OLD_HEADER                                                                                 \
    "generation,index,id,parent,mutations,valid,layers,params,flops,epochs,train_loss,"            \
    "val_loss,val_accuracy,accuracy,loss,test_accuracy,fitness,fitness_mean,evaluations,"          \
    "phenotype\n"
#define PHENO "\"layer:fc act:softmax out_features:10 bias:True input:-1 | learning:adam\""

static void row_new(FILE *f, int g, int i, double acc, double test, double energy)
{
    if (acc < 0) { /* invalid: not trained, worst fitness */
        fprintf(f,
                "%d,%d,%d-%d,-,none,0,3,5000,90000,0,,,,,,,,,,,,,,,,,,-1e+30,-1e+30,1,," PHENO "\n",
                g, i, g, i);
        return;
    }
    fprintf(f,
            "%d,%d,%d-%d,-,none,1,3,5000,90000,3,0.5,0.5,%.17g,%.17g,0.4,%.17g,%.17g,13,1e-05,"
            "%.17g,%.17g,%.17g,,,%.17g,,model-estimate,%.17g,%.17g,1,," PHENO "\n",
            g, i, g, i, acc, acc, test, energy, energy, energy, acc, energy, acc, acc);
}

static void row_old(FILE *f, int g, int i, double acc, double test)
{
    fprintf(
        f,
        "%d,%d,%d-%d,-,none,1,2,12000,250000,3,0.5,0.5,%.17g,%.17g,0.4,%.17g,%.17g,%.17g,1," PHENO
        "\n",
        g, i, g, i, acc, acc, test, acc, acc);
}

static FILE *open_stats(const char *root, const char *run)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", root, run);
    mkdir(p, 0700);
    snprintf(p, sizeof p, "%s/%s/stats.csv", root, run);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    return f;
}

/* A: two seeds with energies; B: one seed with energies; C: an old run
 * without; a missing directory, one without stats.csv, one with an empty
 * stats.csv.
 *   A bests: test 0.80 @ 200 µJ, 0.90 @ 400 µJ -> 85.00% ± 7.07 pp, 300 µJ ± 141.4 µJ
 *   B best:  test 0.70 @ 150 µJ -> reduction 1 - 150/300 = 50.0%, -15.00 pp
 *   C best:  test 0.87, no energy -> +2.00 pp */
static const char *make_runs(const char *name, const char **dirs)
{
    static char root[400];
    snprintf(root, sizeof root, "%s/%s", enevo_test_tmpdir(), name);
    mkdir(root, 0700);
    FILE *f = open_stats(root, "A-seed1");
    fputs(NEW_HEADER, f);
    row_new(f, 0, 0, 0.70, 0.68, 3e-4);
    row_new(f, 0, 1, -1, 0, 0);
    row_new(f, 0, 2, 0.75, 0.74, 1e-4);
    row_new(f, 1, 0, 0.82, 0.80, 2e-4);
    row_new(f, 1, 1, 0.78, 0.77, 5e-4);
    fclose(f);
    f = open_stats(root, "A-seed2");
    fputs(NEW_HEADER, f);
    row_new(f, 0, 0, 0.85, 0.84, 5e-4);
    row_new(f, 0, 1, 0.91, 0.90, 4e-4);
    row_new(f, 1, 0, -1, 0, 0);
    /* Cut mid-row, as a killed run leaves it; it would be the best if read. */
    fputs("1,1,1-1,-,none,1,3,5000,90000,3,0.5,0.5,0.99,0.99,0.4,0.99,1e-09,13", f);
    fclose(f);
    f = open_stats(root, "B-seed1");
    fputs(NEW_HEADER, f);
    row_new(f, 0, 0, 0.72, 0.70, 1.5e-4);
    row_new(f, 0, 1, -1, 0, 0);
    row_new(f, 0, 2, 0.60, 0.58, 1e-4);
    fclose(f);
    f = open_stats(root, "C-seed1");
    fputs(OLD_HEADER, f);
    row_old(f, 0, 0, 0.66, 0.65);
    fputs("garbage,line\n", f);
    row_old(f, 0, 1, 0.88, 0.87);
    fclose(f);
    fclose(open_stats(root, "empty-seed1"));
    static char paths[6][460];
    const char *names[] = {"A-seed1", "A-seed2", "nope-seed1", "B-seed1", "C-seed1", "nostats"};
    for (int i = 0; i < 6; i++) {
        snprintf(paths[i], sizeof paths[i], "%s/%s", root, names[i]);
        dirs[i] = paths[i];
    }
    mkdir(paths[5], 0700);
    return root;
}

static char *read_out(const char *dir, const char *file)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", dir, file);
    return enevo_test_slurp(p);
}

static bool has_gnuplot(void)
{
    return system("command -v gnuplot >/dev/null 2>&1") == 0;
}

static void assert_png(const char *dir, const char *file)
{
    char *png = read_out(dir, file);
    assert_non_null(png);
    assert_memory_equal(png, "\x89PNG\r\n\x1a\n", 8);
    free(png);
}

static void report_summarises_runs_and_settings(void **state)
{
    (void)state;
    const char *dirs[6];
    const char *root = make_runs("rep1", dirs);
    char out[512], err[ENEVO_ERR_LEN];
    snprintf(out, sizeof out, "%s/out/nested", root);
    struct enevo_report_opts o = {.out_dir = out};
    /* The empty stats.csv is a 7th directory. */
    char empty[512];
    snprintf(empty, sizeof empty, "%s/empty-seed1", root);
    const char *all[7] = {dirs[0], dirs[1], dirs[2], dirs[3], dirs[4], dirs[5], empty};
    assert_int_equal(enevo_report(all, 7, &o, err, sizeof err), 0);

    char *md = read_out(out, "report.md");
    char *html = read_out(out, "report.html");
    assert_non_null(md);
    assert_non_null(html);
    assert_non_null(strstr(md, "4 runs read, 3 skipped; baseline setting: A."));
    assert_non_null(strstr(md, "nope-seed1: no such directory, skipped"));
    assert_non_null(strstr(md, "nostats: no stats.csv, skipped"));
    assert_non_null(strstr(md, "empty-seed1: stats.csv is empty, skipped"));
    assert_non_null(strstr(md, "A-seed2: 1 malformed line of stats.csv skipped (first: line 5); "
                               "the last line is truncated"));
    assert_non_null(strstr(md, "C-seed1: 1 malformed line of stats.csv skipped (first: line 3)"));
    /* Bests (the truncated row of A-seed2 is not one); estimates marked. */
    assert_non_null(strstr(md, "| A-seed1 | A | 5 | 4 | 1-0 | 1 | 0.8200 | 80.00% | 200 µJ \\* |"));
    assert_non_null(strstr(md, "| A-seed2 | A | 3 | 2 | 0-1 | 0 | 0.9100 | 90.00% | 400 µJ \\* |"));
    assert_non_null(strstr(md, "| C-seed1 | C | 2 | 2 | 0-1 | 0 | 0.8800 | 87.00% | n/a | 12.0 k "
                               "| 250.0 k | none |"));
    assert_non_null(strstr(md, "energy / inference (\\* estimate)"));
    assert_non_null(strstr(md, "model estimates"));
    /* Settings: mean ± sample std over seeds, reduction against A. */
    assert_non_null(strstr(md, "| A | 2 | 85.00% | 7.07 pp | 300 µJ \\* | 141.4 µJ | 0.0% | "
                               "+0.00 pp |"));
    assert_non_null(strstr(md, "| B | 1 | 70.00% | n/a | 150 µJ \\* | n/a | 50.0% | -15.00 pp |"));
    assert_non_null(strstr(md, "| C | 1 | 87.00% | n/a | n/a | n/a | n/a | +2.00 pp |"));
    /* The HTML carries the same numbers. */
    assert_non_null(strstr(html, "<td>85.00%</td><td>7.07 pp</td><td>300 µJ *</td>"));
    assert_non_null(strstr(html, "nope-seed1: no such directory, skipped"));

    if (has_gnuplot()) {
        assert_png(out, "run1-A-seed1-progress.png");
        assert_png(out, "run1-A-seed1-front.png");
        assert_png(out, "run5-C-seed1-front.png");
        assert_png(out, "all-fronts.png");
        char *svg = read_out(out, "run1-A-seed1-front.svg");
        assert_non_null(svg);
        assert_non_null(strstr(svg, "<svg"));
        free(svg);
        assert_non_null(strstr(md, "![accuracy against energy per inference]"
                                   "(run1-A-seed1-front.png)"));
        assert_non_null(strstr(md, "(run5-C-seed1-front.png)"));
        assert_non_null(strstr(html, "<img src=\"run1-A-seed1-progress.png\""));
        assert_null(strstr(md, "No plots"));
    } else {
        assert_non_null(strstr(md, "No plots: gnuplot was not found"));
    }
    free(md);
    free(html);
}

static void report_baseline_by_run_name(void **state)
{
    (void)state;
    const char *dirs[6];
    const char *root = make_runs("rep2", dirs);
    char out[512], err[ENEVO_ERR_LEN];
    snprintf(out, sizeof out, "%s/out", root);
    /* A run's name selects its setting; 1 - 300/150 = -100%. */
    struct enevo_report_opts o = {
        .out_dir = out, .baseline = "B-seed1", .gnuplot = "enevo-no-such-gnuplot"};
    assert_int_equal(enevo_report(dirs, 6, &o, err, sizeof err), 0);
    char *md = read_out(out, "report.md");
    assert_non_null(md);
    assert_non_null(strstr(md, "| A | 2 | 85.00% | 7.07 pp | 300 µJ \\* | 141.4 µJ | -100.0% | "
                               "+15.00 pp |"));
    assert_non_null(strstr(md, "energy reduction vs B"));
    /* Without gnuplot: a note, the script for later, no images. */
    assert_non_null(strstr(md, "No plots: enevo-no-such-gnuplot was not found"));
    assert_null(strstr(md, "!["));
    char *gp = read_out(out, "plots.gp");
    assert_non_null(gp);
    assert_non_null(strstr(gp, "run1-A-seed1-front.png"));
    free(gp);
    free(md);

    o.baseline = "Z";
    assert_int_equal(enevo_report(dirs, 6, &o, err, sizeof err), ENEVO_EINVAL);
    assert_non_null(strstr(err, "'Z'"));
}

static void report_fails_only_without_any_run(void **state)
{
    (void)state;
    char out[512], missing[512], err[ENEVO_ERR_LEN];
    snprintf(out, sizeof out, "%s/rep3", enevo_test_tmpdir());
    snprintf(missing, sizeof missing, "%s/rep3-missing", enevo_test_tmpdir());
    const char *dirs[] = {missing};
    struct enevo_report_opts o = {.out_dir = out};
    assert_int_equal(enevo_report(dirs, 1, &o, err, sizeof err), ENEVO_EIO);
    assert_non_null(strstr(err, "no such directory"));
    assert_int_equal(enevo_report(dirs, 0, &o, err, sizeof err), ENEVO_EINVAL);
}

static void report_reads_past_nul_bytes_of_a_crash(void **state)
{
    (void)state;
    char root[400], out[460], err[ENEVO_ERR_LEN];
    snprintf(root, sizeof root, "%s/rep4", enevo_test_tmpdir());
    snprintf(out, sizeof out, "%s/out", root);
    mkdir(root, 0700);
    FILE *f = open_stats(root, "D-seed1");
    fputs(NEW_HEADER, f);
    row_new(f, 0, 0, 0.5, 0.5, 1e-3);
    fwrite("\0\0\0\0\0\0\0\0", 1, 8, f);
    fclose(f);
    char dir[460];
    snprintf(dir, sizeof dir, "%s/D-seed1", root);
    const char *dirs[] = {dir};
    struct enevo_report_opts o = {.out_dir = out, .gnuplot = "enevo-no-such-gnuplot"};
    assert_int_equal(enevo_report(dirs, 1, &o, err, sizeof err), 0);
    char *md = read_out(out, "report.md");
    assert_non_null(md);
    assert_non_null(strstr(md, "D-seed1: 1 malformed line of stats.csv skipped (first: line 3)"));
    assert_non_null(strstr(md, "| D-seed1 | D | 1 | 1 | 0-0 | 0 | 0.5000 | 50.00% | 1 mJ \\* |"));
    free(md);
}

/* A partitioned setting gets a "(model 1)" row from test_accuracy_1 and
 * energy_1: A at 80% and 400 µJ; D's model 1 at 79% and 100 µJ ->
 * 75.0% less energy, -1.00 pp. */
static void report_adds_model_1_of_partitioned_settings(void **state)
{
    (void)state;
    char root[400];
    snprintf(root, sizeof root, "%s/partition", enevo_test_tmpdir());
    mkdir(root, 0700);
    FILE *f = open_stats(root, "A-seed1");
    fputs(NEW_HEADER, f);
    row_new(f, 0, 0, 0.81, 0.80, 4e-4);
    fclose(f);
    f = open_stats(root, "D-seed1");
    fputs(NEW_HEADER, f);
    /* ...,accuracy_0,accuracy_1,test_accuracy_1,energy_0,energy_1,meter,fitness,... */
    fputs("0,0,0-0,-,none,1,3,5000,90000,3,0.5,0.5,0.8,0.8,0.4,0.78,3e-4,13,1e-05,3e-4,3e-4,"
          "0.79,0.8,0.79,2.5e-4,1e-4,model-estimate,0.9,0.9,1,," PHENO "\n",
          f);
    fclose(f);
    char a[460], d[460], out[460], err[ENEVO_ERR_LEN];
    snprintf(a, sizeof a, "%s/A-seed1", root);
    snprintf(d, sizeof d, "%s/D-seed1", root);
    snprintf(out, sizeof out, "%s/out", root);
    const char *dirs[] = {a, d};
    struct enevo_report_opts o = {.out_dir = out, .baseline = "A", .gnuplot = "no-such-gnuplot"};
    assert_int_equal(enevo_report(dirs, 2, &o, err, sizeof err), 0);
    char *md = read_out(out, "report.md");
    assert_non_null(md);
    char *row = strstr(md, "| D (model 1) |");
    assert_non_null(row);
    char *eol = strchr(row, '\n');
    assert_non_null(eol);
    *eol = 0;
    assert_non_null(strstr(row, "79.00%"));
    assert_non_null(strstr(row, "75.0%"));
    assert_non_null(strstr(row, "-1.00 pp"));
    /* The A row has no model 1. */
    assert_null(strstr(md, "| A (model 1) |"));
    free(md);
}

static void write_file(const char *root, const char *rel, const char *text)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", root, rel);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* Issue 12: multi-objective runs. Energies below in units of 100 µJ; the
 * highest of any valid network is A's 10, so the common reference is
 * energy 11 (1.1 mJ) and accuracy 0, and a front's hypervolume is
 * sum(accuracy x energy step) / 11:
 *   A-seed1: (1, .70) (4, .80) [(10, .65) dominated] -> (.7x3 + .8x7)/11 = 0.7
 *   P-seed1: gen 0 (1, .60) (3, .78)            -> 7.44/11  = 0.676363636
 *            gen 1 (1, .60) (1.5, .75) (2, .82) -> 8.055/11 = 0.732272727
 *   P-seed2: gen 0 (0.5, .50) (4.5, .85)            -> 7.525/11 = 0.684090909
 *            gen 1 (0.5, .50) (2.5, .70) (4.5, .85) -> 7.925/11 = 0.720454545
 * P: 0.7264 ± |8.055 - 7.925| / 11 / sqrt 2 = 0.0084.
 * Energy at equal accuracy: A's best has test accuracy 80% at 400 µJ, so
 * at least 79.5%: A 400 µJ (0.0%); P-seed1 150 µJ (test .80 beats .81 at
 * 200), P-seed2 450 µJ -> 300 µJ ± 212.1 µJ, 25.0% below 400 µJ; C has no
 * energy: n/a. */
static const char *make_pareto_runs(const char **dirs)
{
    static char root[400];
    static char paths[4][460];
    snprintf(root, sizeof root, "%s/pareto", enevo_test_tmpdir());
    mkdir(root, 0700);
    FILE *f = open_stats(root, "A-seed1");
    fputs(NEW_HEADER, f);
    row_new(f, 0, 0, 0.80, 0.80, 4e-4);
    row_new(f, 0, 1, 0.70, 0.70, 1e-4);
    row_new(f, 1, 0, 0.65, 0.65, 10e-4);
    fclose(f);
    f = open_stats(root, "P-seed1");
    fputs(NEW_HEADER, f);
    row_new(f, 0, 0, 0.60, 0.60, 1e-4);
    row_new(f, 0, 1, 0.78, 0.79, 3e-4);
    row_new(f, 0, 2, -1, 0, 0);
    row_new(f, 1, 0, 0.82, 0.81, 2e-4);
    row_new(f, 1, 1, 0.75, 0.80, 1.5e-4);
    fclose(f);
    write_file(root, "P-seed1/generations.csv",
               "generation,evaluations,hypervolume\n0,3,0.25\nx,4,1\n1,5,0.5\n");
    char p[600];
    snprintf(p, sizeof p, "%s/P-seed1/front", root);
    mkdir(p, 0700);
    /* As the NSGA-II strategy writes it: objectives under their metric
     * names, then the fixed columns that are not objectives. */
    write_file(root, "P-seed1/front/front.csv",
               "id,generation,index,accuracy,energy,violation,test_accuracy,params,flops,model,"
               "phenotype\n"
               "1-0,1,0,0.82,2e-4,0,0.81,5000,90000,1-0.enevo," PHENO "\n"
               "1-1,1,1,0.75,1.5e-4,0,0.80,5000,90000,1-1.enevo," PHENO "\n"
               "0-0,0,0,0.6,1e-4,0,0.6,5000,90000,0-0.enevo," PHENO "\n");
    f = open_stats(root, "P-seed2");
    fputs(NEW_HEADER, f);
    row_new(f, 0, 0, 0.85, 0.84, 4.5e-4);
    row_new(f, 0, 1, 0.50, 0.50, 0.5e-4);
    row_new(f, 1, 0, 0.70, 0.70, 2.5e-4);
    fclose(f);
    snprintf(p, sizeof p, "%s/P-seed2/front", root);
    mkdir(p, 0700);
    write_file(root, "P-seed2/front/front.csv",
               "id,generation,index,accuracy,energy,violation,test_accuracy,params,flops,model,"
               "phenotype\n");
    /* No hypervolume_reference: the column is there, empty. */
    write_file(root, "P-seed2/generations.csv", "generation,hypervolume\n0,\n1,\n");
    f = open_stats(root, "C-seed1");
    fputs(OLD_HEADER, f);
    row_old(f, 0, 0, 0.88, 0.87);
    fclose(f);
    const char *names[] = {"A-seed1", "P-seed1", "P-seed2", "C-seed1"};
    for (int i = 0; i < 4; i++) {
        snprintf(paths[i], sizeof paths[i], "%s/%s", root, names[i]);
        dirs[i] = paths[i];
    }
    return root;
}

static void report_pareto_runs_energy_at_equal_accuracy(void **state)
{
    (void)state;
    const char *dirs[4];
    const char *root = make_pareto_runs(dirs);
    char out[512], err[ENEVO_ERR_LEN];
    snprintf(out, sizeof out, "%s/out", root);
    struct enevo_report_opts o = {.out_dir = out, .baseline = "A"};
    assert_int_equal(enevo_report(dirs, 4, &o, err, sizeof err), 0);
    char *md = read_out(out, "report.md");
    char *gp = read_out(out, "plots.gp");
    assert_non_null(md);
    assert_non_null(gp);
    assert_non_null(strstr(md, "## Energy at equal accuracy and hypervolume"));
    assert_non_null(strstr(md, "test accuracy is at least 79.50%, the baseline A's best test "
                               "accuracy (80.00%, mean over seeds) less 0.5 points"));
    assert_non_null(strstr(md, "(400 µJ, mean over seeds)"));
    assert_non_null(strstr(md, "accuracy 0, energy 1.1 mJ (1.1 x the highest"));
    assert_non_null(strstr(md, "| A | 1 | 1 | 400 µJ \\* | n/a | 0.0% | 0.7000 | n/a |"));
    assert_non_null(strstr(md, "| P | 2 | 2 | 300 µJ \\* | 212.1 µJ | 25.0% | 0.7264 | 0.0084 |"));
    assert_non_null(strstr(md, "| C | 1 | 0 | n/a | n/a | n/a | n/a | n/a |"));
    assert_non_null(strstr(md, "P-seed1: 1 malformed line of generations.csv skipped"));
    assert_null(strstr(md, "P-seed2: 1 malformed"));
    assert_non_null(strstr(md, "Multi-objective run: front/front.csv holds 3 networks; the "
                               "search's last hypervolume (generations.csv) 0.5; common "
                               "hypervolume of its valid evaluations 0.7323."));
    assert_non_null(strstr(md, "Multi-objective run: front/front.csv holds 0 networks; common "
                               "hypervolume of its valid evaluations 0.7205."));
    /* A (1+lambda) run gets no multi-objective paragraph. */
    char *sec_a = strstr(md, "### A-seed1"), *sec_p = strstr(md, "### P-seed1");
    assert_non_null(sec_a);
    assert_non_null(sec_p);
    assert_true(sec_a < sec_p && strstr(sec_a, "Multi-objective") > sec_p);
    /* Each generation's front, then the hypervolumes per generation. */
    assert_non_null(strstr(gp, "$g2 << EOD\n0.0001 0.6 0\n0.0003 0.78 0\n\n"
                               "0.0001 0.6 1\n0.00015 0.75 1\n0.0002 0.82 1\n\nEOD\n"));
    assert_non_null(strstr(gp, "$h2 << EOD\n0 0.676363636 0.25\n1 0.732272727 0.5\nEOD\n"));
    assert_non_null(strstr(gp, "$h3 << EOD\n0 0.684090909 ?\n1 0.720454545 ?\nEOD\n"));
    assert_non_null(strstr(gp, "$ar2 << EOD\n0.0002 0.82\n0.00015 0.75\n0.0001 0.6\nEOD\n"));
    assert_null(strstr(gp, "$ar3 <<")); /* an empty front.csv */
    assert_null(strstr(gp, "$g1 <<"));  /* not for A, a (1+lambda) run */
    assert_null(strstr(gp, "$g4 <<"));
    /* Per setting: mean, min, max, seeds. */
    assert_non_null(strstr(gp, "0 0.7 0.7 0.7 1\n1 0.7 0.7 0.7 1\n"));
    assert_non_null(strstr(gp, "0 0.680227273 0.676363636 0.684090909 2\n"
                               "1 0.726363636 0.720454545 0.732272727 2\n"));
    /* Each setting's front over its seeds: P's is (0.5, .5) (1, .6)
     * (1.5, .75) (2, .82) (4.5, .85). */
    assert_non_null(strstr(gp, "5e-05 0.5\n0.0001 0.6\n0.00015 0.75\n0.0002 0.82\n"
                               "0.00045 0.85\nEOD\n"));
    if (has_gnuplot()) {
        assert_png(out, "run2-P-seed1-generations.png");
        assert_png(out, "run2-P-seed1-hypervolume.png");
        assert_png(out, "run3-P-seed2-generations.png");
        assert_png(out, "settings-hypervolume.png");
        assert_png(out, "settings-fronts.png");
        assert_non_null(strstr(md, "(run2-P-seed1-generations.png)"));
        assert_non_null(strstr(md, "(settings-hypervolume.png)"));
        assert_non_null(strstr(md, "(settings-fronts.png)"));
        assert_null(strstr(md, "run1-A-seed1-generations"));
        assert_null(strstr(md, "plot(s) missing"));
    }
    free(md);
    free(gp);
}

/* "Within 0.5 points": at least the baseline's accuracy less 0.005, the
 * boundary included; invalid rows and rows without energy never count. */
static void cheapest_at_accuracy_counts_the_boundary(void **state)
{
    (void)state;
    struct enevo__row rows[5] = {
        {.valid = true, .test_acc = 0.795, .energy = 3e-4},
        {.valid = true, .test_acc = 0.80, .energy = 4e-4},
        {.valid = true, .test_acc = 0.79, .energy = 1e-4},
        {.valid = false, .test_acc = 0.9, .energy = 1e-5},
        {.valid = true, .test_acc = 0.95, .energy = NAN},
    };
    struct enevo__run r = {.rows = rows, .nrows = 5};
    long row;
    assert_true(enevo__report_cheapest(&r, 0.80 - 0.005, &row) == 3e-4);
    assert_int_equal(row, 0);
    assert_true(enevo__report_cheapest(&r, 0.79, &row) == 1e-4);
    assert_int_equal(row, 2);
    assert_true(isnan(enevo__report_cheapest(&r, 0.96, &row)));
    assert_int_equal(row, -1);
}

static void front_keeps_non_dominated_points_by_cost(void **state)
{
    (void)state;
    /* 3 is beaten by 0; 4 and 6 repeat 0 and 1 (the first counts); 5 has
     * no accuracy; 7 costs what 1 costs for less accuracy. */
    const double acc[] = {0.9, 0.8, 0.95, 0.7, 0.9, NAN, 0.8, 0.75};
    const double cost[] = {2, 1, 5, 3, 2, 0.5, 1, 1};
    size_t idx[8];
    assert_int_equal(enevo_report_front(acc, cost, 8, idx), 3);
    assert_int_equal(idx[0], 1);
    assert_int_equal(idx[1], 0);
    assert_int_equal(idx[2], 2);
    assert_int_equal(enevo_report_front(acc, cost, 0, idx), 0);
    /* One point is its own front. */
    assert_int_equal(enevo_report_front(acc + 3, cost + 3, 1, idx), 1);
    assert_int_equal(idx[0], 0);
}

static void csv_reader_skips_and_counts_bad_lines(void **state)
{
    (void)state;
    const char *src = "a,b,c\r\n"
                      "1,2,\"x | y\"\r\n"
                      "\n"
                      "1,2\n"        /* too few fields */
                      "1,2,\"open\n" /* unclosed quote */
                      "1,2,3,4\n"    /* too many */
                      "1,\"q\"x,3\n" /* text after a closing quote */
                      ",,\n"         /* empty fields are fine */
                      "5,6,\"cut";   /* truncated last line */
    char *text = strdup(src), err[ENEVO_ERR_LEN];
    struct enevo__csv t;
    assert_int_equal(enevo__csv_parse(text, &t, err, sizeof err), 0);
    assert_int_equal(t.ncols, 3);
    assert_int_equal(enevo__csv_col(&t, "c"), 2);
    assert_int_equal(enevo__csv_col(&t, "d"), -1);
    assert_int_equal(t.nrows, 2);
    assert_string_equal(enevo__csv_cell(&t, 0, 2), "x | y");
    assert_string_equal(enevo__csv_cell(&t, 1, 0), "");
    assert_string_equal(enevo__csv_cell(&t, 0, -1), "");
    assert_int_equal(t.line[1], 8);
    assert_int_equal(t.malformed, 5);
    assert_int_equal(t.first_bad, 4);
    assert_true(t.truncated);
    enevo__csv_free(&t);

    text = strdup("\n1,2\n");
    assert_int_equal(enevo__csv_parse(text, &t, err, sizeof err), ENEVO_EFORMAT);
}

const struct CMUnitTest enevo_tests_report[] = {
    cmocka_unit_test(report_summarises_runs_and_settings),
    cmocka_unit_test(report_baseline_by_run_name),
    cmocka_unit_test(report_fails_only_without_any_run),
    cmocka_unit_test(report_reads_past_nul_bytes_of_a_crash),
    cmocka_unit_test(report_adds_model_1_of_partitioned_settings),
    cmocka_unit_test(report_pareto_runs_energy_at_equal_accuracy),
    cmocka_unit_test(cheapest_at_accuracy_counts_the_boundary),
    cmocka_unit_test(front_keeps_non_dominated_points_by_cost),
    cmocka_unit_test(csv_reader_skips_and_counts_bad_lines),
};
const size_t enevo_tests_report_count = ENEVO_COUNT(enevo_tests_report);
