/* src/report/report.c — `enevo report`: read run directories, pick each
 * run's best, aggregate seeds per setting, write report.md and report.html.
 *
 * Both documents are written side by side by one set of emitters (doc_*), so
 * they cannot drift apart. */
#include "enevo/report.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "enevo/io.h"
#include "report_internal.h"

#define STATS_MAX_BYTES ((size_t)1 << 30)

/* ---- documents ---------------------------------------------------------- */

struct doc {
    struct enevo__buf md, html;
};

static void md_text(struct enevo__buf *b, const char *s)
{
    /* Run names like `a_b_c` must not turn italic, nor `|` end a cell. */
    for (; *s; s++) {
        if (strchr("\\`*_[]<>|#", *s))
            enevo__buf_put(b, "\\", 1);
        enevo__buf_put(b, s, 1);
    }
}

static void html_text(struct enevo__buf *b, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&':
            enevo__buf_put(b, "&amp;", 5);
            break;
        case '<':
            enevo__buf_put(b, "&lt;", 4);
            break;
        case '>':
            enevo__buf_put(b, "&gt;", 4);
            break;
        case '"':
            enevo__buf_put(b, "&quot;", 6);
            break;
        default:
            enevo__buf_put(b, s, 1);
        }
    }
}

static void doc_begin(struct doc *d, const char *title)
{
    enevo__buf_printf(&d->md, "# ");
    md_text(&d->md, title);
    enevo__buf_printf(&d->md, "\n\n");
    enevo__buf_printf(
        &d->html, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>");
    html_text(&d->html, title);
    enevo__buf_printf(
        &d->html,
        "</title>\n<style>\n"
        "body{font-family:system-ui,sans-serif;max-width:72em;margin:2em auto;padding:0 1em;"
        "color:#222;line-height:1.45}\n"
        "table{border-collapse:collapse;margin:1em 0}\n"
        "th,td{border:1px solid #ccc;padding:.3em .6em;text-align:right}\n"
        "th{background:#f2f2f2}\ntd:first-child,th:first-child{text-align:left}\n"
        "pre{background:#f6f6f6;padding:.6em;overflow-x:auto;white-space:pre-wrap}\n"
        "img{max-width:100%%;border:1px solid #ddd;margin:.5em 0}\n"
        "</style>\n</head>\n<body>\n<h1>");
    html_text(&d->html, title);
    enevo__buf_printf(&d->html, "</h1>\n");
}

static void doc_end(struct doc *d)
{
    enevo__buf_printf(&d->html, "</body>\n</html>\n");
}

static void doc_heading(struct doc *d, int level, const char *text)
{
    enevo__buf_printf(&d->md, "%.*s ", level, "######");
    md_text(&d->md, text);
    enevo__buf_printf(&d->md, "\n\n");
    enevo__buf_printf(&d->html, "<h%d>", level);
    html_text(&d->html, text);
    enevo__buf_printf(&d->html, "</h%d>\n", level);
}

static void doc_para(struct doc *d, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
static void doc_para(struct doc *d, const char *fmt, ...)
{
    char text[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    md_text(&d->md, text);
    enevo__buf_printf(&d->md, "\n\n");
    enevo__buf_printf(&d->html, "<p>");
    html_text(&d->html, text);
    enevo__buf_printf(&d->html, "</p>\n");
}

/* A bulleted list of the lines of `lines` (one item per '\n'-ended line). */
static void doc_list(struct doc *d, const char *lines)
{
    if (!lines)
        return;
    enevo__buf_printf(&d->html, "<ul>\n");
    char item[2048];
    while (*lines) {
        size_t n = strcspn(lines, "\n");
        snprintf(item, sizeof item, "%.*s", (int)n, lines);
        enevo__buf_printf(&d->md, "- ");
        md_text(&d->md, item);
        enevo__buf_printf(&d->md, "\n");
        enevo__buf_printf(&d->html, "<li>");
        html_text(&d->html, item);
        enevo__buf_printf(&d->html, "</li>\n");
        lines += n + (lines[n] == '\n');
    }
    enevo__buf_printf(&d->md, "\n");
    enevo__buf_printf(&d->html, "</ul>\n");
}

/* `align`: one 'l' or 'r' per column, for the Markdown header rule. */
static void doc_row(struct doc *d, const char *const *cells, size_t n, const char *align)
{
    enevo__buf_printf(&d->md, "|");
    enevo__buf_printf(&d->html, "<tr>");
    for (size_t i = 0; i < n; i++) {
        enevo__buf_printf(&d->md, " ");
        md_text(&d->md, cells[i]);
        enevo__buf_printf(&d->md, " |");
        enevo__buf_printf(&d->html, align ? "<th>" : "<td>");
        html_text(&d->html, cells[i]);
        enevo__buf_printf(&d->html, align ? "</th>" : "</td>");
    }
    enevo__buf_printf(&d->md, "\n");
    enevo__buf_printf(&d->html, "</tr>\n");
    if (align) {
        enevo__buf_printf(&d->md, "|");
        for (size_t i = 0; i < n; i++)
            enevo__buf_printf(&d->md, align[i] == 'l' ? ":---|" : "---:|");
        enevo__buf_printf(&d->md, "\n");
    }
}

static void doc_table_begin(struct doc *d, const char *const *head, size_t n, const char *align)
{
    enevo__buf_printf(&d->html, "<table>\n");
    doc_row(d, head, n, align);
}

static void doc_table_end(struct doc *d)
{
    enevo__buf_printf(&d->md, "\n");
    enevo__buf_printf(&d->html, "</table>\n");
}

static void doc_pre(struct doc *d, const char *text)
{
    enevo__buf_printf(&d->md, "```\n%s\n```\n\n", text);
    enevo__buf_printf(&d->html, "<pre>");
    html_text(&d->html, text);
    enevo__buf_printf(&d->html, "</pre>\n");
}

/* The PNG, linked to its SVG; names are relative to the report. */
static void doc_image(struct doc *d, const char *stem, const char *kind, const char *alt)
{
    enevo__buf_printf(&d->md, "![");
    md_text(&d->md, alt);
    enevo__buf_printf(&d->md, "](%s-%s.png) ([SVG](%s-%s.svg))\n\n", stem, kind, stem, kind);
    enevo__buf_printf(&d->html, "<p><a href=\"%s-%s.svg\"><img src=\"%s-%s.png\" alt=\"", stem,
                      kind, stem, kind);
    html_text(&d->html, alt);
    enevo__buf_printf(&d->html, "\"></a></p>\n");
}

/* ---- numbers ------------------------------------------------------------ */

static const char *fmt_pct(char *s, size_t n, double frac)
{
    if (isnan(frac))
        snprintf(s, n, "n/a");
    else
        snprintf(s, n, "%.2f%%", 100 * frac);
    return s;
}

/* Joules with a unit that keeps 4 significant digits readable. */
static const char *fmt_joules(char *s, size_t n, double j)
{
    static const struct {
        double scale;
        const char *unit;
    } units[] = {{1, "J"}, {1e-3, "mJ"}, {1e-6, "µJ"}, {1e-9, "nJ"}};
    if (isnan(j)) {
        snprintf(s, n, "n/a");
        return s;
    }
    size_t u = 0;
    while (u + 1 < sizeof units / sizeof units[0] && fabs(j) < units[u].scale)
        u++;
    snprintf(s, n, "%.4g %s", j / units[u].scale, units[u].unit);
    return s;
}

static const char *fmt_count(char *s, size_t n, double v)
{
    if (isnan(v))
        snprintf(s, n, "n/a");
    else if (v >= 1e9)
        snprintf(s, n, "%.3f G", v / 1e9);
    else if (v >= 1e6)
        snprintf(s, n, "%.3f M", v / 1e6);
    else if (v >= 1e4)
        snprintf(s, n, "%.1f k", v / 1e3);
    else
        snprintf(s, n, "%.0f", v);
    return s;
}

/* Mean and sample standard deviation (n - 1) of the finite values. */
static size_t mean_std(const double *v, size_t n, double *mean, double *sd)
{
    size_t k = 0;
    double s = 0;
    for (size_t i = 0; i < n; i++)
        if (isfinite(v[i])) {
            s += v[i];
            k++;
        }
    *mean = k ? s / (double)k : NAN;
    double q = 0;
    for (size_t i = 0; i < n; i++)
        if (isfinite(v[i]))
            q += (v[i] - *mean) * (v[i] - *mean);
    *sd = k > 1 ? sqrt(q / (double)(k - 1)) : NAN;
    return k;
}

/* ---- reading runs --------------------------------------------------------- */

/* Empty: NaN. A number: *v. Anything else: false (the line is malformed). */
static bool parse_num(const char *s, double *v)
{
    if (!*s) {
        *v = NAN;
        return true;
    }
    char *end;
    errno = 0;
    double x = strtod(s, &end);
    if (end == s || *end)
        return false;
    *v = isfinite(x) ? x : NAN;
    return true;
}

static char *path_name(const char *path)
{
    size_t n = strlen(path);
    while (n > 1 && path[n - 1] == '/')
        n--;
    size_t b = n;
    while (b > 0 && path[b - 1] != '/')
        b--;
    char *s = malloc(n - b + 1);
    if (s) {
        memcpy(s, path + b, n - b);
        s[n - b] = '\0';
    }
    return s;
}

/* "<setting>-seed<N>" gives "<setting>"; any other name is its own group. */
static char *group_name(const char *name)
{
    size_t n = strlen(name), d = n;
    while (d > 0 && name[d - 1] >= '0' && name[d - 1] <= '9')
        d--;
    size_t keep = n;
    if (d < n && d > 5 && !strncmp(name + d - 5, "-seed", 5))
        keep = d - 5;
    char *s = malloc(keep + 1);
    if (s) {
        memcpy(s, name, keep);
        s[keep] = '\0';
    }
    return s;
}

static void free_run(struct enevo__run *r)
{
    enevo__report_free_pareto(r);
    enevo__csv_free(&r->csv);
    free(r->rows);
    free(r->name);
    free(r->group);
    memset(r, 0, sizeof *r);
}

void enevo__report_run_free(struct enevo__run *r) { free_run(r); }

/* Loads one run. 1: skipped, with the reason in notes; 0: usable; < 0: out
 * of memory. */
static int load_run(const char *path, int index, struct enevo__run *r, struct enevo__buf *notes)
{
    memset(r, 0, sizeof *r);
    r->path = path;
    r->index = index;
    r->best = -1;
    struct stat st;
    if (stat(path, &st) != 0) {
        enevo__buf_printf(notes, "%s: %s, skipped\n", path,
                          errno == ENOENT ? "no such directory" : strerror(errno));
        return 1;
    }
    if (!S_ISDIR(st.st_mode)) {
        enevo__buf_printf(notes, "%s: not a directory, skipped\n", path);
        return 1;
    }
    char csv_path[4096];
    snprintf(csv_path, sizeof csv_path, "%s/stats.csv", path);
    if (stat(csv_path, &st) != 0) {
        enevo__buf_printf(notes, "%s: %s, skipped\n", path,
                          errno == ENOENT ? "no stats.csv" : strerror(errno));
        return 1;
    }
    if (st.st_size == 0) {
        enevo__buf_printf(notes, "%s: stats.csv is empty, skipped\n", path);
        return 1;
    }
    char *text, msg[ENEVO_ERR_LEN];
    size_t len;
    int rc = enevo_read_file(csv_path, STATS_MAX_BYTES, &text, &len, msg, sizeof msg);
    if (rc == ENEVO_ENOMEM)
        return rc;
    if (rc) {
        enevo__buf_printf(notes, "%s: cannot read stats.csv (%s), skipped\n", path, msg);
        return 1;
    }
    rc = enevo__report_stats(r, text, len, notes);
    if (rc)
        return rc;
    /* File names of the plots: index first so two runs of one name differ. */
    int k = snprintf(r->stem, sizeof r->stem, "run%d-", index);
    for (const char *p = r->name; *p && k + 1 < (int)sizeof r->stem; p++)
        r->stem[k++] = (strchr("._-", *p) || (*p >= '0' && *p <= '9') ||
                        ((*p | 32) >= 'a' && (*p | 32) <= 'z'))
                           ? *p
                           : '_';
    r->stem[k] = '\0';
    rc = enevo__report_load_pareto(r, notes);
    if (rc) {
        free_run(r);
        return rc;
    }
    return 0;
}

int enevo__report_stats(struct enevo__run *r, char *text, size_t len, struct enevo__buf *notes)
{
    const char *path = r->path;
    char msg[ENEVO_ERR_LEN];
    /* A crash can leave NUL bytes where the last rows were to be; as spaces
     * they make those lines malformed (counted) instead of ending the text. */
    for (size_t i = 0; i < len; i++)
        if (text[i] == '\0')
            text[i] = ' ';
    int rc = enevo__csv_parse(text, &r->csv, msg, sizeof msg);
    if (rc == ENEVO_ENOMEM)
        return rc;
    if (rc) {
        enevo__buf_printf(notes, "%s: stats.csv: %s, skipped\n", path, msg);
        return 1;
    }
    const struct enevo__csv *t = &r->csv;
    int c_gen = enevo__csv_col(t, "generation"), c_valid = enevo__csv_col(t, "valid");
    int c_fit = enevo__csv_col(t, "fitness_mean");
    if (c_fit < 0)
        c_fit = enevo__csv_col(t, "fitness");
    if (c_gen < 0 || c_fit < 0) {
        enevo__buf_printf(notes, "%s: stats.csv has no '%s' column, skipped\n", path,
                          c_gen < 0 ? "generation" : "fitness_mean");
        free_run(r);
        return 1;
    }
    int c_params = enevo__csv_col(t, "params"), c_flops = enevo__csv_col(t, "flops");
    int c_acc = enevo__csv_col(t, "accuracy"), c_test = enevo__csv_col(t, "test_accuracy");
    int c_energy = enevo__csv_col(t, "energy_j_per_inference");
    int c_test1 = enevo__csv_col(t, "test_accuracy_1"), c_e1 = enevo__csv_col(t, "energy_1");
    int c_id = enevo__csv_col(t, "id"), c_meter = enevo__csv_col(t, "meter");
    int c_pheno = enevo__csv_col(t, "phenotype");

    r->name = path_name(path);
    r->group = r->name ? group_name(r->name) : NULL;
    r->rows = malloc((t->nrows + 1) * sizeof *r->rows);
    if (!r->name || !r->group || !r->rows) {
        free_run(r);
        return ENEVO_ENOMEM;
    }
    size_t bad = 0, first_bad = 0;
    for (size_t i = 0; i < t->nrows; i++) {
        struct enevo__row *w = &r->rows[r->nrows];
        double gen, valid;
        bool ok = parse_num(enevo__csv_cell(t, i, c_gen), &gen) &&
                  parse_num(enevo__csv_cell(t, i, c_valid), &valid) &&
                  parse_num(enevo__csv_cell(t, i, c_params), &w->params) &&
                  parse_num(enevo__csv_cell(t, i, c_flops), &w->flops) &&
                  parse_num(enevo__csv_cell(t, i, c_acc), &w->acc) &&
                  parse_num(enevo__csv_cell(t, i, c_test), &w->test_acc) &&
                  parse_num(enevo__csv_cell(t, i, c_energy), &w->energy) &&
                  parse_num(enevo__csv_cell(t, i, c_test1), &w->test_acc1) &&
                  parse_num(enevo__csv_cell(t, i, c_e1), &w->energy1) &&
                  parse_num(enevo__csv_cell(t, i, c_fit), &w->fitness);
        /* A generation number bounds the per-generation tables: reject
         * what no run writes rather than allocate for it. */
        ok = ok && gen >= 0 && gen <= 1e7 && gen == floor(gen);
        if (!ok) {
            bad++;
            if (!first_bad)
                first_bad = t->line[i];
            continue;
        }
        w->gen = (long)gen;
        /* Old runs without `valid` mark invalid networks by the worst fitness. */
        w->valid = c_valid >= 0 ? valid == 1 : !isnan(w->fitness) && w->fitness > -1e29;
        w->id = enevo__csv_cell(t, i, c_id);
        w->meter = enevo__csv_cell(t, i, c_meter);
        w->phenotype = enevo__csv_cell(t, i, c_pheno);
        r->nvalid += w->valid;
        if (w->gen + 1 > r->generations)
            r->generations = w->gen + 1;
        r->has_energy |= w->valid && w->energy > 0;
        r->estimate |= !strcmp(w->meter, "model-estimate");
        if (w->valid && !isnan(w->fitness) &&
            (r->best < 0 || w->fitness > r->rows[r->best].fitness))
            r->best = (long)r->nrows;
        r->nrows++;
    }
    size_t malformed = t->malformed + bad;
    if (malformed) {
        size_t first =
            t->first_bad && (!first_bad || t->first_bad < first_bad) ? t->first_bad : first_bad;
        enevo__buf_printf(notes,
                          "%s: %zu malformed line%s of stats.csv skipped (first: line "
                          "%zu)%s\n",
                          path, malformed, malformed == 1 ? "" : "s", first,
                          t->truncated ? "; the last line is truncated (run still writing or "
                                         "killed)"
                                       : "");
    }
    if (r->nrows == 0) {
        enevo__buf_printf(notes, "%s: stats.csv has no rows, skipped\n", path);
        free_run(r);
        return 1;
    }
    return 0;
}

/* ---- the report ---------------------------------------------------------- */

struct group {
    const char *name;
    size_t nruns, nbest; /* runs; runs with a valid best */
    double acc_mean, acc_sd, e_mean, e_sd;
    size_t n_acc, n_e;
    /* model 1 (the early exit) of partitioned runs */
    double acc1_mean, acc1_sd, e1_mean, e1_sd;
    size_t n_acc1, n_e1;
    bool estimate;
};

/* Groups in order of their first run; each run's group is g[run_group[i]]. */
static size_t make_groups(const struct enevo__run *runs, size_t n, struct group *g,
                          size_t *run_group, double *scratch_a, double *scratch_e,
                          double *scratch_a1, double *scratch_e1)
{
    size_t ng = 0;
    for (size_t i = 0; i < n; i++) {
        size_t k = 0;
        while (k < ng && strcmp(g[k].name, runs[i].group))
            k++;
        if (k == ng)
            g[ng++] = (struct group){.name = runs[i].group};
        run_group[i] = k;
        g[k].nruns++;
    }
    for (size_t k = 0; k < ng; k++) {
        size_t m = 0;
        for (size_t i = 0; i < n; i++) {
            if (run_group[i] != k || runs[i].best < 0)
                continue;
            const struct enevo__row *b = &runs[i].rows[runs[i].best];
            scratch_a[m] = b->test_acc;
            scratch_e[m] = b->energy;
            scratch_a1[m] = b->test_acc1;
            scratch_e1[m] = b->energy1;
            g[k].estimate |= !strcmp(b->meter, "model-estimate");
            m++;
        }
        g[k].nbest = m;
        g[k].n_acc = mean_std(scratch_a, m, &g[k].acc_mean, &g[k].acc_sd);
        g[k].n_e = mean_std(scratch_e, m, &g[k].e_mean, &g[k].e_sd);
        g[k].n_acc1 = mean_std(scratch_a1, m, &g[k].acc1_mean, &g[k].acc1_sd);
        g[k].n_e1 = mean_std(scratch_e1, m, &g[k].e1_mean, &g[k].e1_sd);
    }
    return ng;
}

static void summary_table(struct doc *d, const struct enevo__run *runs, size_t n, bool estimate)
{
    const char *head[] = {"run",
                          "setting",
                          "rows",
                          "valid",
                          "best",
                          "generation",
                          "fitness",
                          "test accuracy",
                          estimate ? "energy / inference (* estimate)" : "energy / inference",
                          "params",
                          "FLOPs",
                          "meter"};
    doc_table_begin(d, head, sizeof head / sizeof head[0], "llrrlrrrrrrl");
    for (size_t i = 0; i < n; i++) {
        const struct enevo__run *r = &runs[i];
        char rows[32], valid[32], gen[32], fit[32], acc[32], e[40], par[32], fl[32];
        snprintf(rows, sizeof rows, "%zu", r->nrows);
        snprintf(valid, sizeof valid, "%zu", r->nvalid);
        const char *cells[12] = {r->name, r->group, rows, valid, "none", "",
                                 "",      "",       "",   "",    "",     ""};
        if (r->best >= 0) {
            const struct enevo__row *b = &r->rows[r->best];
            snprintf(gen, sizeof gen, "%ld", b->gen);
            snprintf(fit, sizeof fit, "%.4f", b->fitness);
            fmt_joules(e, sizeof e - 2, b->energy);
            if (!isnan(b->energy) && !strcmp(b->meter, "model-estimate"))
                strcat(e, " *");
            cells[4] = b->id[0] ? b->id : "?";
            cells[5] = gen;
            cells[6] = fit;
            cells[7] = fmt_pct(acc, sizeof acc, b->test_acc);
            cells[8] = e;
            cells[9] = fmt_count(par, sizeof par, b->params);
            cells[10] = fmt_count(fl, sizeof fl, b->flops);
            cells[11] = b->meter[0] ? b->meter : "none";
        }
        doc_row(d, cells, 12, NULL);
    }
    doc_table_end(d);
}

static void group_table(struct doc *d, const struct group *g, size_t ng, size_t base, bool estimate)
{
    char red_head[160], diff_head[160];
    snprintf(red_head, sizeof red_head, "energy reduction vs %s", g[base].name);
    snprintf(diff_head, sizeof diff_head, "accuracy difference vs %s", g[base].name);
    const char *head[] = {"setting",
                          "runs",
                          "test accuracy (mean)",
                          "± std",
                          estimate ? "energy / inference (mean, * estimate)"
                                   : "energy / inference (mean)",
                          "± std",
                          red_head,
                          diff_head};
    doc_table_begin(d, head, sizeof head / sizeof head[0], "lrrrrrrr");
    for (size_t k = 0; k < ng; k++) {
        /* A partitioned setting gets a second row: its model 1. */
        for (int m1 = 0; m1 < 2; m1++) {
            if (m1 && g[k].n_e1 == 0 && g[k].n_acc1 == 0)
                break;
            double a_mean = m1 ? g[k].acc1_mean : g[k].acc_mean;
            double a_sd = m1 ? g[k].acc1_sd : g[k].acc_sd;
            double e_mean = m1 ? g[k].e1_mean : g[k].e_mean;
            double e_sd = m1 ? g[k].e1_sd : g[k].e_sd;
            char name[160], runs[32], am[32], as[32], em[48], es[40], red[32], diff[32];
            snprintf(name, sizeof name, "%s%s", g[k].name, m1 ? " (model 1)" : "");
            snprintf(runs, sizeof runs, "%zu", g[k].nbest);
            fmt_pct(am, sizeof am, a_mean);
            if (isnan(a_sd))
                snprintf(as, sizeof as, "n/a");
            else
                snprintf(as, sizeof as, "%.2f pp", 100 * a_sd);
            fmt_joules(em, sizeof em - 2, e_mean);
            if (g[k].estimate && !isnan(e_mean))
                strcat(em, " *");
            fmt_joules(es, sizeof es, e_sd);
            double r = 100 * (1 - e_mean / g[base].e_mean);
            if (isfinite(r))
                snprintf(red, sizeof red, "%.1f%%", r);
            else
                snprintf(red, sizeof red, "n/a");
            double dpp = 100 * (a_mean - g[base].acc_mean);
            if (isfinite(dpp))
                snprintf(diff, sizeof diff, "%+.2f pp", dpp);
            else
                snprintf(diff, sizeof diff, "n/a");
            const char *cells[] = {name, runs, am, as, em, es, red, diff};
            doc_row(d, cells, 8, NULL);
        }
    }
    doc_table_end(d);
}

static void run_section(struct doc *d, const struct enevo__run *r)
{
    doc_heading(d, 3, r->name);
    doc_para(d, "Directory %s: %zu evaluations, %zu valid, %ld generation%s%s.", r->path, r->nrows,
             r->nvalid, r->generations, r->generations == 1 ? "" : "s",
             r->has_energy ? "" : "; no energy measured");
    if (r->best >= 0) {
        const struct enevo__row *b = &r->rows[r->best];
        char acc[32], tacc[32], e[40];
        doc_para(d,
                 "Best: %s (generation %ld), fitness %.4f, accuracy %s (fitness split), "
                 "test accuracy %s, %s per inference%s.",
                 b->id[0] ? b->id : "?", b->gen, b->fitness, fmt_pct(acc, sizeof acc, b->acc),
                 fmt_pct(tacc, sizeof tacc, b->test_acc), fmt_joules(e, sizeof e, b->energy),
                 !isnan(b->energy) && !strcmp(b->meter, "model-estimate") ? " (model estimate)"
                                                                          : "");
        if (b->phenotype[0])
            doc_pre(d, b->phenotype);
    } else {
        doc_para(d, "No valid individual.");
    }
    if (r->progress_plot)
        doc_image(d, r->stem, "progress", "progress per generation");
    if (r->front_plot)
        doc_image(d, r->stem, "front",
                  r->has_energy ? "accuracy against energy per inference"
                                : "accuracy against FLOPs (no energy measured)");
    if (r->pareto) {
        char rows[96] = "", shv[96] = "", hv[32] = "n/a";
        if (r->front_csv)
            snprintf(rows, sizeof rows, "front/front.csv holds %zu network%s; ", r->front_csv_rows,
                     r->front_csv_rows == 1 ? "" : "s");
        double last = NAN;
        for (long g = 0; r->search_hv && g < r->generations; g++)
            if (!isnan(r->search_hv[g]))
                last = r->search_hv[g];
        if (!isnan(last))
            snprintf(shv, sizeof shv, "the search's last hypervolume (generations.csv) %.6g; ",
                     last);
        if (!isnan(r->hv_all))
            snprintf(hv, sizeof hv, "%.4f", r->hv_all);
        doc_para(d, "Multi-objective run: %s%scommon hypervolume of its valid evaluations %s.",
                 rows, shv, hv);
    }
    if (r->gens_plot)
        doc_image(d, r->stem, "generations", "the front of each generation, light to dark");
    if (r->hv_plot)
        doc_image(d, r->stem, "hypervolume", "hypervolume per generation");
}

/* Per setting: the cheapest evaluated network at the baseline's accuracy,
 * and the hypervolume of everything it evaluated. */
static void equal_accuracy(struct doc *d, const struct enevo__run *runs, size_t n,
                           const struct group *g, size_t ng, const size_t *run_group, size_t base,
                           double e_ref, double *scratch_e, double *scratch_h)
{
    const struct group *b = &g[base];
    double thr = b->acc_mean - 0.005;
    char acc[32], tacc[32], be[48], er[48];
    fmt_pct(acc, sizeof acc, b->acc_mean);
    fmt_pct(tacc, sizeof tacc, thr);
    fmt_joules(be, sizeof be, b->e_mean);
    fmt_joules(er, sizeof er, e_ref);
    doc_para(d,
             "Energy at equal accuracy: per setting, the energy per inference of the cheapest "
             "valid network it evaluated (any generation, so a network of its front) whose test "
             "accuracy is at least %s, the baseline %s's best test accuracy (%s, mean over "
             "seeds) less 0.5 points; mean over the seeds that have one, and how far below the "
             "baseline's best network's energy (%s, mean over seeds) it is. Test accuracy is "
             "only reported here; no search sees it.",
             tacc, b->name, acc, be);
    doc_para(d,
             "Hypervolume: of (accuracy on the fitness split, maximised; energy per inference, "
             "minimised) over all valid evaluations of a run, against the common reference "
             "point accuracy 0, energy %s (1.1 x the highest energy per inference of any valid "
             "network read), divided by that energy, so that 1 would be 100%% accuracy at no "
             "energy; mean and std over seeds.",
             er);
    char red_head[160];
    snprintf(red_head, sizeof red_head, "below %s's best", b->name);
    const char *head[] = {
        "setting", "seeds",  "seeds at the accuracy", "energy at equal accuracy (mean)",
        "± std",   red_head, "hypervolume (mean)",    "± std"};
    doc_table_begin(d, head, sizeof head / sizeof head[0], "lrrrrrrr");
    for (size_t k = 0; k < ng; k++) {
        size_t m = 0;
        for (size_t i = 0; i < n; i++) {
            if (run_group[i] != k)
                continue;
            scratch_e[m] = isnan(thr) ? NAN : enevo__report_cheapest(&runs[i], thr, NULL);
            scratch_h[m++] = runs[i].hv_all;
        }
        double em, es, hm, hs;
        size_t reach = mean_std(scratch_e, m, &em, &es);
        size_t nh = mean_std(scratch_h, m, &hm, &hs);
        char seeds[32], at[32], ems[48], ess[40], red[32], hms[32], hss[32];
        snprintf(seeds, sizeof seeds, "%zu", m);
        snprintf(at, sizeof at, "%zu", reach);
        fmt_joules(ems, sizeof ems - 2, em);
        if (g[k].estimate && !isnan(em))
            strcat(ems, " *");
        fmt_joules(ess, sizeof ess, es);
        double r = 100 * (1 - em / b->e_mean);
        if (isfinite(r))
            snprintf(red, sizeof red, "%.1f%%", r);
        else
            snprintf(red, sizeof red, "n/a");
        if (nh)
            snprintf(hms, sizeof hms, "%.4f", hm);
        else
            snprintf(hms, sizeof hms, "n/a");
        if (isnan(hs))
            snprintf(hss, sizeof hss, "n/a");
        else
            snprintf(hss, sizeof hss, "%.4f", hs);
        const char *cells[] = {g[k].name, seeds, at, ems, ess, red, hms, hss};
        doc_row(d, cells, 8, NULL);
    }
    doc_table_end(d);
}

/* Finds the baseline group: a setting's name, else a run's name or path. */
static int find_baseline(const char *want, const struct enevo__run *runs, size_t n,
                         const struct group *g, size_t ng, const size_t *run_group, size_t *base)
{
    *base = 0;
    if (!want)
        return 0;
    for (size_t k = 0; k < ng; k++)
        if (!strcmp(g[k].name, want)) {
            *base = k;
            return 0;
        }
    for (size_t i = 0; i < n; i++)
        if (!strcmp(runs[i].name, want) || !strcmp(runs[i].path, want)) {
            *base = run_group[i];
            return 0;
        }
    return -1;
}

static int write_doc(const char *out_dir, const char *file, const struct enevo__buf *b, FILE *log,
                     char *err, size_t errlen)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", out_dir, file);
    int rc = enevo_write_atomic(path, b->s, b->len, err, errlen);
    if (!rc && log)
        fprintf(log, "report: wrote %s\n", path);
    return rc;
}

int enevo_report(const char *const *run_dirs, int n, const struct enevo_report_opts *o, char *err,
                 size_t errlen)
{
    if (!o || !o->out_dir || n < 0 || (n > 0 && !run_dirs))
        return enevo_errf(err, errlen, ENEVO_EINVAL, "report: no output directory or runs");
    if (n == 0)
        return enevo_errf(err, errlen, ENEVO_EINVAL, "report: no run directories given");
    size_t un = (size_t)n;
    struct enevo__run *runs = calloc(un, sizeof *runs);
    struct group *groups = calloc(un, sizeof *groups);
    size_t *run_group = calloc(un, sizeof *run_group);
    double *sa = calloc(un, sizeof *sa), *se = calloc(un, sizeof *se);
    double *sa1 = calloc(un, sizeof *sa1), *se1 = calloc(un, sizeof *se1);
    struct enevo__buf notes = {0};
    struct doc d = {{0}, {0}};
    size_t nr = 0;
    int rc = runs && groups && run_group && sa && se && sa1 && se1 ? 0 : ENEVO_ENOMEM;
    for (size_t i = 0; i < un && !rc; i++) {
        size_t before = notes.len;
        int st = load_run(run_dirs[i], (int)i + 1, &runs[nr], &notes);
        if (st < 0)
            rc = st;
        else if (st == 0)
            nr++;
        if (o->log && notes.len > before)
            fprintf(o->log, "report: %s", notes.s + before);
    }
    if (rc == ENEVO_ENOMEM)
        enevo_errf(err, errlen, rc, "report: out of memory");
    if (!rc && nr == 0)
        rc = enevo_errf(err, errlen, ENEVO_EIO, "report: no readable run among %d: %.*s", n,
                        (int)strcspn(notes.s ? notes.s : "", "\n"), notes.s ? notes.s : "");
    size_t ng = 0, base = 0;
    if (!rc) {
        ng = make_groups(runs, nr, groups, run_group, sa, se, sa1, se1);
        if (find_baseline(o->baseline, runs, nr, groups, ng, run_group, &base))
            rc = enevo_errf(err, errlen, ENEVO_EINVAL,
                            "report: baseline '%s' is neither a setting nor a run read",
                            o->baseline);
    }
    if (!rc)
        rc = enevo_mkdir_p(o->out_dir, err, errlen);
    double e_ref = enevo__report_energy_ref(runs, nr);
    for (size_t i = 0; i < nr && !rc; i++)
        if (enevo__report_hv(&runs[i], e_ref))
            rc = enevo_errf(err, errlen, ENEVO_ENOMEM, "report: out of memory");
    struct enevo__plots plots = {0};
    if (!rc)
        rc = enevo__report_plots(runs, nr, o->out_dir, o->gnuplot ? o->gnuplot : "gnuplot", &plots,
                                 &notes, err, errlen);
    bool estimate = false, any_energy = false;
    for (size_t i = 0; i < nr; i++) {
        estimate |= runs[i].estimate;
        any_energy |= runs[i].has_energy;
    }
    if (!rc) {
        if (estimate)
            enevo__buf_printf(&notes, "* Energies marked * are model estimates (meter "
                                      "model-estimate: from FLOPs, bytes moved and static "
                                      "power), not measurements.\n");
        if (!any_energy)
            enevo__buf_printf(&notes, "No run has energy measurements; accuracy is plotted "
                                      "against FLOPs.\n");
        enevo__buf_printf(&notes, "A run's best is its valid evaluation of highest fitness "
                                  "(running mean; ties: the first). Standard deviations are over "
                                  "seeds (sample, n - 1); energy reduction = 1 - mean energy / "
                                  "baseline mean energy.\n");

        doc_begin(&d, "enevo report");
        doc_para(&d, "%zu run%s read, %zu skipped; baseline setting: %s.", nr, nr == 1 ? "" : "s",
                 un - nr, groups[base].name);
        doc_heading(&d, 2, "Notes");
        doc_list(&d, notes.s);
        doc_heading(&d, 2, "Best individual of each run");
        summary_table(&d, runs, nr, estimate);
        doc_heading(&d, 2, "Settings (mean over seeds)");
        group_table(&d, groups, ng, base, estimate);
        doc_heading(&d, 2, "Energy at equal accuracy and hypervolume");
        equal_accuracy(&d, runs, nr, groups, ng, run_group, base, e_ref, se, sa);
        if (plots.settings_hv)
            doc_image(&d, "settings", "hypervolume", "hypervolume per generation of each setting");
        if (plots.settings_fronts) {
            doc_heading(&d, 2, "Fronts of all settings");
            doc_image(&d, "settings", "fronts", "each setting's front over its seeds");
        }
        if (plots.fronts) {
            doc_heading(&d, 2, "Fronts of all runs");
            doc_image(&d, "all", "fronts", "non-dominated fronts of all runs");
        }
        doc_heading(&d, 2, "Runs");
        for (size_t i = 0; i < nr; i++)
            run_section(&d, &runs[i]);
        doc_end(&d);
        if (d.md.failed || d.html.failed || notes.failed)
            rc = enevo_errf(err, errlen, ENEVO_ENOMEM, "report: out of memory");
    }
    if (!rc)
        rc = write_doc(o->out_dir, "report.md", &d.md, o->log, err, errlen);
    if (!rc)
        rc = write_doc(o->out_dir, "report.html", &d.html, o->log, err, errlen);
    for (size_t i = 0; runs && i < nr; i++)
        free_run(&runs[i]);
    free(runs);
    free(groups);
    free(run_group);
    free(sa);
    free(se);
    free(sa1);
    free(se1);
    enevo__buf_free(&notes);
    enevo__buf_free(&d.md);
    enevo__buf_free(&d.html);
    return rc;
}
