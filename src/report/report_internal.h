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
    double test_acc1, energy1; /* model 1 of a model partition; NaN without one */
    const char *id, *meter, *phenotype;                   /* into the table's text */
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
};

/* Writes plots.gp into out_dir and runs gnuplot on it (`gnuplot` as a
 * command name or path); sets the runs' *_plot flags and *fronts when the
 * combined front plot exists. Reasons for missing plots go into `notes`, one
 * per line. Fails only when plots.gp cannot be written. */
int enevo__report_plots(struct enevo__run *runs, size_t n, const char *out_dir, const char *gnuplot,
                        bool *fronts, struct enevo__buf *notes, char *err, size_t errlen);

#endif
