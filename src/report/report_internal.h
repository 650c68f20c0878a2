/* src/report/report_internal.h — what the report's files share: the
 * stats.csv parser and a text buffer. Not part of the public API. */
#ifndef ENEVO_REPORT_INTERNAL_H
#define ENEVO_REPORT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

/* A parsed CSV table. Cells point into `text`, which the parser owns and
 * cuts in place; quotes around a quoted field are removed. */
struct enevo__csv {
    char *text;
    char **names; /* [ncols] header names */
    size_t ncols;
    char **cells; /* [nrows * ncols] row-major */
    size_t *line; /* [nrows] 1-based source line of each row */
    size_t nrows;
    size_t malformed; /* lines skipped: wrong field count, unclosed quote */
    size_t first_bad; /* line number of the first of them, 0 if none */
    bool truncated;   /* the last line had no newline and was skipped */
};

/* Parses `text` (malloc'd, NUL-terminated; owned by the table from here on,
 * freed on error too). The first line is the header (plain names); a field
 * that starts with '"' runs to the next '"' (the format puts no quotes inside
 * one). Blank lines are ignored. Fails (ENEVO_EFORMAT) only on an empty
 * text or header. */
int enevo__csv_parse(char *text, struct enevo__csv *t, char *err, size_t errlen);

/* Index of the column named `name`, or -1. */
int enevo__csv_col(const struct enevo__csv *t, const char *name);

/* The cell of row r in column c; "" when c < 0 (column absent). */
const char *enevo__csv_cell(const struct enevo__csv *t, size_t r, int c);

void enevo__csv_free(struct enevo__csv *t);

/* A growable string; `failed` latches an allocation failure so writers can
 * append freely and check once. */
struct enevo__buf {
    char *s;
    size_t len, cap;
    bool failed;
};

void enevo__buf_printf(struct enevo__buf *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
void enevo__buf_put(struct enevo__buf *b, const char *s, size_t n);
void enevo__buf_free(struct enevo__buf *b);

/* One evaluation of stats.csv, the columns the report uses. NaN: empty. */
struct enevo__row {
    long gen;
    bool valid;
    double params, flops, acc, test_acc, energy, fitness; /* fitness: the running mean */
    double test_acc1, energy1;          /* model 1 of a model partition; NaN without one */
    const char *id, *meter, *phenotype; /* into the table's text */
};

/* A readable run directory. */
struct enevo__run {
    const char *path; /* as the caller gave it */
    char *name;       /* its last path component */
    char *group;      /* "<setting>" of "<setting>-seed<N>", else the name */
    int index;        /* 1-based position among the caller's directories */
    struct enevo__csv csv;
    struct enevo__row *rows;
    size_t nrows, nvalid;
    long best;                      /* row of the highest fitness among valid rows; -1: none */
    long generations;               /* highest generation + 1 */
    bool has_energy;                /* some valid row has an energy */
    bool estimate;                  /* some row's meter is model-estimate */
    char stem[96];                  /* file-name stem of its plots */
    bool progress_plot, front_plot; /* the PNGs exist */

    /* Multi-objective runs (issue 12) and the common hypervolume; front.c. */
    bool pareto;           /* generations.csv has a hypervolume column, or front/front.csv exists */
    bool front_csv;        /* front/front.csv was read */
    size_t front_csv_rows; /* its rows */
    double *search_hv; /* [generations] generations.csv's hypervolume (NaN: missing); NULL: none */
    double *arch_acc, *arch_x; /* [narch] front.csv's (accuracy, energy) when it has both */
    size_t narch;
    size_t *gf_idx;   /* the front up to generation g: rows gf_idx[gf_start[g] .. gf_start[g+1]) */
    size_t *gf_start; /* [generations + 1]; each front ordered by x ascending */
    double *hv;    /* [generations] common-reference hypervolume of those fronts; NULL: no energy */
    double hv_all; /* of every valid evaluation (hv of the last generation); NaN: none */
    bool gens_plot, hv_plot; /* the PNGs exist */
};

/* The stats.csv of run r (r->path names it in notes; its last component
 * becomes r->name) from text[0..len) (malloc'd, NUL-terminated; owned by
 * r from here on): the table and the rows the report uses. 1: skipped,
 * with the reason in notes (r freed); 0: usable (free with
 * enevo__report_run_free); < 0: out of memory. What the report runs on
 * each run's file, and the fuzzer (tests/fuzz/fuzz_stats.c) on bytes. */
int enevo__report_stats(struct enevo__run *r, char *text, size_t len, struct enevo__buf *notes);
void enevo__report_run_free(struct enevo__run *r);

/* front.c. The x of a run's fronts: energy per inference when the run
 * measured it, else FLOPs; NaN when not positive. */
double enevo__report_x(const struct enevo__run *r, const struct enevo__row *w);

/* After the rows are read: each generation's front (of accuracy on the
 * fitness split and x), generations.csv's hypervolume column and
 * front/front.csv when present. Problems with the two optional files are
 * notes, never errors. Returns 0 or ENEVO_ENOMEM. */
int enevo__report_load_pareto(struct enevo__run *r, struct enevo__buf *notes);
void enevo__report_free_pareto(struct enevo__run *r);

/* The common reference energy: 1.1 x the highest energy per inference of a
 * valid evaluation (with an accuracy) among the runs; NaN when none. */
double enevo__report_energy_ref(const struct enevo__run *runs, size_t n);

/* r->hv[g]: the hypervolume of (accuracy, energy / e_ref) of the front up to
 * g against (accuracy 0, energy e_ref), so in [0, 1]; r->hv_all the last.
 * Nothing without energy. Returns 0 or ENEVO_ENOMEM. */
int enevo__report_hv(struct enevo__run *r, double e_ref);

/* The energy of the cheapest valid evaluation whose test accuracy is at
 * least min_test_acc (its row in *row, -1 for none); NaN for none. */
double enevo__report_cheapest(const struct enevo__run *r, double min_test_acc, long *row);

/* Which of the plots over all runs gnuplot drew. */
struct enevo__plots {
    bool fronts;          /* all-fronts: every run's front */
    bool settings_hv;     /* settings-hypervolume: per setting, mean and range over seeds */
    bool settings_fronts; /* settings-fronts: each setting's front over its seeds */
};

/* Writes plots.gp into out_dir and runs gnuplot on it (`gnuplot` as a
 * command name or path); sets the runs' *_plot flags and *out's for the
 * plots over runs that exist. Reasons for missing plots go into `notes`, one
 * per line. Fails only when plots.gp cannot be written. */
int enevo__report_plots(struct enevo__run *runs, size_t n, const char *out_dir, const char *gnuplot,
                        struct enevo__plots *out, struct enevo__buf *notes, char *err,
                        size_t errlen);

#endif
