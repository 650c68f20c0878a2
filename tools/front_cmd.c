/* `enevo front RUN_DIR`: the non-dominated individuals of a run. An NSGA-II
 * run keeps them in front/ (front.csv, model files, front.json with the
 * hypervolume); for a (1+λ) run the front is computed from stats.csv over
 * accuracy (max) and energy per inference (min; FLOPs when no energy was
 * measured), as `enevo report` plots it. Dispatched from tools/enevo.c's
 * command table. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "enevo/io.h"
#include "enevo/report.h"
#include "report/report_internal.h"

#define USAGE "front RUN_DIR [--json]"

static int usage(const char *msg, const char *what)
{
    fprintf(stderr, "enevo front: ");
    fprintf(stderr, msg, what);
    fprintf(stderr, "\nusage: enevo " USAGE "\n");
    return 2;
}

static int load(const char *path, struct enevo__csv *t)
{
    char *text, err[ENEVO_ERR_LEN];
    int rc = enevo_read_text(path, 256u << 20, &text, NULL, err, sizeof err);
    if (!rc)
        rc = enevo__csv_parse(text, t, err, sizeof err);
    if (rc)
        fprintf(stderr, "enevo front: %s (%s)\n", err, enevo_strerror(rc));
    return rc;
}

static bool number(const char *s, double *v)
{
    char *end;
    if (!*s)
        return false;
    *v = strtod(s, &end);
    return !*end;
}

/* Prints rows[0..n) of t: a table of the columns in cols, or JSON. */
static void show(const struct enevo__csv *t, const size_t *rows, size_t n, const char *const *cols,
                 int ncols, bool json, cJSON *o)
{
    if (json) {
        cJSON *arr = cJSON_AddArrayToObject(o, "members");
        for (size_t k = 0; k < n; k++) {
            cJSON *m = cJSON_CreateObject();
            for (size_t c = 0; c < t->ncols; c++) {
                const char *s = enevo__csv_cell(t, rows[k], (int)c);
                double v;
                if (number(s, &v))
                    cJSON_AddNumberToObject(m, t->names[c], v);
                else if (!*s)
                    cJSON_AddNullToObject(m, t->names[c]);
                else
                    cJSON_AddStringToObject(m, t->names[c], s);
            }
            cJSON_AddItemToArray(arr, m);
        }
        char *s = cJSON_PrintUnformatted(o);
        if (s)
            printf("%s\n", s);
        free(s);
        return;
    }
    /* Each column as wide as its name, at least 12. */
    for (int c = 0; c < ncols; c++)
        printf("%s%-12s", c ? "  " : "", cols[c]);
    printf("\n");
    for (size_t k = 0; k < n; k++) {
        for (int c = 0; c < ncols; c++) {
            const char *s = enevo__csv_cell(t, rows[k], enevo__csv_col(t, cols[c]));
            int w = strlen(cols[c]) > 12 ? (int)strlen(cols[c]) : 12;
            double v;
            if (number(s, &v) && strcmp(cols[c], "generation") && strcmp(cols[c], "index"))
                printf("%s%-*.6g", c ? "  " : "", w, v);
            else
                printf("%s%-*s", c ? "  " : "", w, *s ? s : "-");
        }
        printf("\n");
    }
}

/* front/front.csv of an NSGA-II run. */
static int from_front(const char *dir, bool json)
{
    char path[1200];
    struct enevo__csv t;
    snprintf(path, sizeof path, "%s/front/front.csv", dir);
    if (load(path, &t))
        return 1;
    /* Every column but the phenotype, in the file's order. */
    const char *cols[32];
    int nc = 0;
    for (size_t c = 0; c < t.ncols && nc < 32; c++)
        if (strcmp(t.names[c], "phenotype") && strcmp(t.names[c], "generation") &&
            strcmp(t.names[c], "index"))
            cols[nc++] = t.names[c];
    size_t *rows = malloc((t.nrows + 1) * sizeof *rows);
    if (!rows) {
        enevo__csv_free(&t);
        fprintf(stderr, "enevo front: out of memory\n");
        return 1;
    }
    for (size_t i = 0; i < t.nrows; i++)
        rows[i] = i;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "run_dir", dir);
    cJSON_AddStringToObject(o, "source", "front/front.csv");
    /* The hypervolume and objectives from front.json, when readable. */
    snprintf(path, sizeof path, "%s/front/front.json", dir);
    char *js = NULL;
    double hv = NAN;
    if (!enevo_read_text(path, 64u << 20, &js, NULL, NULL, 0)) {
        cJSON *j = cJSON_Parse(js);
        cJSON *h = cJSON_GetObjectItem(j, "hypervolume");
        if (cJSON_IsNumber(h))
            hv = h->valuedouble;
        cJSON *ob = cJSON_GetObjectItem(j, "objectives");
        if (ob)
            cJSON_AddItemToObject(o, "objectives", cJSON_Duplicate(ob, 1));
        cJSON_Delete(j);
        free(js);
    }
    if (isnan(hv))
        cJSON_AddNullToObject(o, "hypervolume");
    else
        cJSON_AddNumberToObject(o, "hypervolume", hv);
    if (!json) {
        printf("%s: %zu non-dominated individual%s (front/front.csv; model files in %s/front/)",
               dir, t.nrows, t.nrows == 1 ? "" : "s", dir);
        if (!isnan(hv))
            printf(", hypervolume %.6g", hv);
        printf("\n");
    }
    show(&t, rows, t.nrows, cols, nc, json, o);
    cJSON_Delete(o);
    free(rows);
    enevo__csv_free(&t);
    return 0;
}

/* A (1+λ) run: the front of stats.csv's valid rows. */
static int from_stats(const char *dir, bool json)
{
    char path[1200];
    struct enevo__csv t;
    snprintf(path, sizeof path, "%s/stats.csv", dir);
    if (load(path, &t))
        return 1;
    int cv = enevo__csv_col(&t, "valid"), ca = enevo__csv_col(&t, "accuracy"),
        ce = enevo__csv_col(&t, "energy_j_per_inference"), cf = enevo__csv_col(&t, "flops");
    if (ca < 0) {
        enevo__csv_free(&t);
        fprintf(stderr, "enevo front: %s has no accuracy column\n", path);
        return 1;
    }
    double *acc = calloc(t.nrows + 1, sizeof *acc), *cost = calloc(t.nrows + 1, sizeof *cost);
    size_t *idx = calloc(t.nrows + 1, sizeof *idx);
    if (!acc || !cost || !idx) {
        free(acc);
        free(cost);
        free(idx);
        enevo__csv_free(&t);
        fprintf(stderr, "enevo front: out of memory\n");
        return 1;
    }
    bool energy = false;
    for (size_t i = 0; i < t.nrows && ce >= 0; i++) {
        double v;
        energy |= number(enevo__csv_cell(&t, i, ce), &v);
    }
    int cc = energy ? ce : cf;
    for (size_t i = 0; i < t.nrows; i++) {
        double a, e;
        bool ok = strcmp(enevo__csv_cell(&t, i, cv), "0") != 0 &&
                  number(enevo__csv_cell(&t, i, ca), &a) &&
                  number(enevo__csv_cell(&t, i, cc), &e);
        acc[i] = ok ? a : NAN;
        cost[i] = ok ? e : NAN;
    }
    size_t n = enevo_report_front(acc, cost, t.nrows, idx);
    const char *cols[] = {"id", "accuracy", energy ? "energy_j_per_inference" : "flops",
                          "test_accuracy", "params", "generation"};
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "run_dir", dir);
    cJSON_AddStringToObject(o, "source", "stats.csv");
    cJSON_AddStringToObject(o, "cost", energy ? "energy_j_per_inference" : "flops");
    if (!json)
        printf("%s: %zu non-dominated evaluation%s of %zu (no front/: computed from stats.csv, "
               "accuracy max vs %s min)\n",
               dir, n, n == 1 ? "" : "s", t.nrows, energy ? "energy per inference" : "FLOPs");
    show(&t, idx, n, cols, 6, json, o);
    cJSON_Delete(o);
    free(acc);
    free(cost);
    free(idx);
    enevo__csv_free(&t);
    return 0;
}

int enevo_tool_front(int argc, char **argv)
{
    const char *dir = NULL;
    bool json = false;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--json"))
            json = true;
        else if (argv[i][0] == '-')
            return usage("unknown flag '%s'", argv[i]);
        else if (dir)
            return usage("unexpected argument '%s'", argv[i]);
        else
            dir = argv[i];
    }
    if (!dir)
        return usage("%s", "no run directory given");
    char path[1200];
    snprintf(path, sizeof path, "%s/front/front.csv", dir);
    if (access(path, R_OK) == 0)
        return from_front(dir, json);
    snprintf(path, sizeof path, "%s/stats.csv", dir);
    if (access(path, R_OK) == 0)
        return from_stats(dir, json);
    fprintf(stderr, "enevo front: %s: neither front/front.csv nor stats.csv: not a run directory\n",
            dir);
    return 1;
}
