/* src/report/csv.c — the stats.csv reader and the report's text buffer.
 *
 * stats.csv is written one row at a time by a process that may be killed, so
 * the reader expects a last line cut anywhere and counts a bad line instead
 * of giving up on the run. */
#include "report_internal.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "enevo/error.h"

/* Splits one line (NUL-terminated, no newline) into at most `max` fields,
 * in place. Returns the field count, or -1 for an unclosed quote or text
 * after a closing quote. */
static long split_line(char *s, char **fields, size_t max)
{
    size_t n = 0;
    for (;;) {
        if (n == max)
            return -1;
        char *end;
        if (*s == '"') {
            char *q = strchr(s + 1, '"');
            if (!q)
                return -1;
            if (q[1] != ',' && q[1] != '\0')
                return -1;
            fields[n++] = s + 1;
            *q = '\0';
            end = q + 1;
        } else {
            fields[n++] = s;
            end = s + strcspn(s, ",");
        }
        if (*end == '\0') {
            break;
        }
        *end = '\0';
        s = end + 1;
    }
    return (long)n;
}

/* Room for one more row: cells and line numbers grow with the rows really
 * read (doubling), never with the line count a text merely has. */
static int csv_grow(struct enevo__csv *t, size_t *cap)
{
    if (t->nrows < *cap)
        return 0;
    size_t ncap = *cap ? 2 * *cap : 64;
    if (ncap > SIZE_MAX / sizeof *t->cells / t->ncols)
        return ENEVO_ENOMEM;
    char **cells = realloc(t->cells, ncap * t->ncols * sizeof *cells);
    if (!cells)
        return ENEVO_ENOMEM;
    t->cells = cells;
    size_t *line = realloc(t->line, ncap * sizeof *line);
    if (!line)
        return ENEVO_ENOMEM;
    t->line = line;
    *cap = ncap;
    return 0;
}

int enevo__csv_parse(char *text, struct enevo__csv *t, char *err, size_t errlen)
{
    memset(t, 0, sizeof *t);
    t->text = text;

    char *line = text;
    char *nl = strchr(line, '\n');
    if (nl)
        *nl = '\0';
    size_t hl = strlen(line);
    if (hl && line[hl - 1] == '\r')
        line[--hl] = '\0';
    if (hl == 0) {
        enevo__csv_free(t);
        return enevo_errf(err, errlen, ENEVO_EFORMAT, "empty file or header");
    }
    t->ncols = 1;
    for (const char *p = line; *p; p++)
        t->ncols += *p == ',';
    t->names = calloc(t->ncols, sizeof *t->names);
    /* A row's field pointers are split into a scratch row first, so a
     * malformed line costs nothing. */
    char **scratch = calloc(t->ncols, sizeof *scratch);
    if (!t->names || !scratch) {
        free(scratch);
        enevo__csv_free(t);
        return enevo_errf(err, errlen, ENEVO_ENOMEM, "out of memory");
    }
    /* Header names never carry quotes or commas; the same splitter serves. */
    if (split_line(line, t->names, t->ncols) != (long)t->ncols) {
        free(scratch);
        enevo__csv_free(t);
        return enevo_errf(err, errlen, ENEVO_EFORMAT, "line 1: malformed header");
    }

    size_t lineno = 1, cap = 0;
    while (nl) {
        line = nl + 1;
        lineno++;
        nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        size_t len = strlen(line);
        if (len && line[len - 1] == '\r')
            line[--len] = '\0';
        if (len == 0)
            continue;
        if (split_line(line, scratch, t->ncols) != (long)t->ncols) {
            t->malformed++;
            if (!t->first_bad)
                t->first_bad = lineno;
            /* No newline after a bad last line: the writer was cut off. */
            if (!nl)
                t->truncated = true;
            continue;
        }
        if (csv_grow(t, &cap)) {
            free(scratch);
            enevo__csv_free(t);
            return enevo_errf(err, errlen, ENEVO_ENOMEM, "out of memory");
        }
        memcpy(t->cells + t->nrows * t->ncols, scratch, t->ncols * sizeof *scratch);
        t->line[t->nrows++] = lineno;
    }
    free(scratch);
    return 0;
}

int enevo__csv_col(const struct enevo__csv *t, const char *name)
{
    for (size_t c = 0; c < t->ncols; c++)
        if (!strcmp(t->names[c], name))
            return (int)c;
    return -1;
}

const char *enevo__csv_cell(const struct enevo__csv *t, size_t r, int c)
{
    return c < 0 ? "" : t->cells[r * t->ncols + (size_t)c];
}

void enevo__csv_free(struct enevo__csv *t)
{
    free(t->text);
    free(t->names);
    free(t->cells);
    free(t->line);
    memset(t, 0, sizeof *t);
}

void enevo__buf_put(struct enevo__buf *b, const char *s, size_t n)
{
    if (b->failed)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->s, cap);
        if (!p) {
            b->failed = true;
            return;
        }
        b->s = p;
        b->cap = cap;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}

void enevo__buf_printf(struct enevo__buf *b, const char *fmt, ...)
{
    char small[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->failed = true;
        return;
    }
    if ((size_t)n < sizeof small) {
        enevo__buf_put(b, small, (size_t)n);
        return;
    }
    char *big = malloc((size_t)n + 1);
    if (!big) {
        b->failed = true;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    enevo__buf_put(b, big, (size_t)n);
    free(big);
}

void enevo__buf_free(struct enevo__buf *b)
{
    free(b->s);
    memset(b, 0, sizeof *b);
}
