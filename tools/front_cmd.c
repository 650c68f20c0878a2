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
#include "enevo/model.h"
#include "enevo/report.h"
#include "report/report_internal.h"

#define USAGE "front RUN_DIR [--min-accuracy A] [--max-energy E] [--copy DIR] [--json]"

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

/* What to pick from the front: the cheapest member that meets both. */
struct want {
    double min_acc;  /* fitness-split accuracy, 0-1; -inf = any */
    double max_j;    /* energy per inference, J; inf = any */
    const char *copy; /* NULL, or where the pick's files go */
};

static bool wants(const struct want *w) { return w->min_acc > -INFINITY || w->max_j < INFINITY || w->copy; }

/* The phenotype cell (layers joined by " | ") back to one layer a line. */
static char *unjoin(const char *s)
{
    char *o = malloc(strlen(s) + 2), *d = o;
    if (!o)
        return NULL;
    for (; *s; s++) {
        if (!strncmp(s, " | ", 3)) {
            *d++ = '\n';
            s += 2;
        } else {
            *d++ = *s;
        }
    }
    *d++ = '\n';
    *d = 0;
    return o;
}

/* --copy: model.enevo (when the run kept it), phenotype.txt, metrics.json. */
static int copy_pick(const struct enevo__csv *t, size_t row, const char *dir, const char *model,
                     const char *to)
{
    char err[ENEVO_ERR_LEN], path[1400];
    int rc = enevo_mkdir_p(to, err, sizeof err);
    cJSON *m = cJSON_CreateObject();
    for (size_t c = 0; !rc && c < t->ncols; c++) {
        const char *s = enevo__csv_cell(t, row, (int)c);
        double v;
        if (number(s, &v))
            cJSON_AddNumberToObject(m, t->names[c], v);
        else if (*s)
            cJSON_AddStringToObject(m, t->names[c], s);
    }
    cJSON_AddStringToObject(m, "run_dir", dir);
    char *js = cJSON_Print(m);
    cJSON_Delete(m);
    snprintf(path, sizeof path, "%s/metrics.json", to);
    if (!rc)
        rc = js ? enevo_write_atomic(path, js, strlen(js), err, sizeof err) : ENEVO_ENOMEM;
    free(js);
    char *ph = unjoin(enevo__csv_cell(t, row, enevo__csv_col(t, "phenotype")));
    snprintf(path, sizeof path, "%s/phenotype.txt", to);
    if (!rc)
        rc = ph ? enevo_write_atomic(path, ph, strlen(ph), err, sizeof err) : ENEVO_ENOMEM;
    free(ph);
    if (!rc && model) {
        char *buf;
        size_t len;
        rc = enevo_read_file(model, 0, &buf, &len, err, sizeof err);
        snprintf(path, sizeof path, "%s/model.enevo", to);
        if (!rc)
            rc = enevo_write_atomic(path, buf, len, err, sizeof err);
        if (!rc)
            free(buf);
    }
    if (rc) {
        fprintf(stderr, "enevo front: --copy %s: %s (%s)\n", to, err, enevo_strerror(rc));
        return 1;
    }
    return 0;
}

/* Picks from rows[0..n) the cheapest member meeting w; prints it (or why
 * none does) and copies it. model_of gives a member's model file or NULL. */
static int pick(const struct enevo__csv *t, const size_t *rows, size_t n, const char *dir,
                const struct want *w, bool json, cJSON *o,
                const char *(*model_of)(const struct enevo__csv *, size_t, const char *, char *,
                                        size_t))
{
    int ca = enevo__csv_col(t, "accuracy"), ce = enevo__csv_col(t, "energy_j_per_inference");
    int ci = enevo__csv_col(t, "id");
    long best = -1;
    double best_e = INFINITY, best_a = -INFINITY;
    bool have_energy = false;
    for (size_t k = 0; k < n; k++) {
        double a, e;
        if (!number(enevo__csv_cell(t, rows[k], ca), &a))
            continue;
        bool he = number(enevo__csv_cell(t, rows[k], ce), &e);
        have_energy |= he;
        if (!he)
            e = NAN;
        if (a < w->min_acc || (w->max_j < INFINITY && !(e <= w->max_j)))
            continue;
        double key = he ? e : 0;
        if (best < 0 || key < best_e || (key == best_e && a > best_a)) {
            best = (long)rows[k];
            best_e = key;
            best_a = a;
        }
    }
    if (w->max_j < INFINITY && !have_energy) {
        fprintf(stderr, "enevo front: --max-energy: %s measured no energy per inference\n", dir);
        return 1;
    }
    char mpath[1400];
    const char *model = best >= 0 ? model_of(t, (size_t)best, dir, mpath, sizeof mpath) : NULL;
    if (json) {
        if (best < 0) {
            cJSON_AddNullToObject(o, "picked");
        } else {
            cJSON *p = cJSON_AddObjectToObject(o, "picked");
            cJSON_AddStringToObject(p, "id", enevo__csv_cell(t, (size_t)best, ci));
            cJSON_AddNumberToObject(p, "accuracy", best_a);
            if (have_energy)
                cJSON_AddNumberToObject(p, "energy_j_per_inference", best_e);
            if (model)
                cJSON_AddStringToObject(p, "model", model);
            else
                cJSON_AddNullToObject(p, "model");
        }
    } else if (best < 0) {
        printf("picked: none of the %zu members has accuracy >= %.4g and energy <= %.4g J\n", n,
               w->min_acc, w->max_j);
    } else {
        printf("picked: %s, accuracy %.4f (fitness split), ", enevo__csv_cell(t, (size_t)best, ci),
               best_a);
        if (have_energy)
            printf("%.4g mJ per inference", 1e3 * best_e);
        else
            printf("no energy measured");
        printf(", model %s\n", model ? model : "not kept by the run");
    }
    if (best < 0)
        return 1;
    if (w->copy) {
        if (copy_pick(t, (size_t)best, dir, model, w->copy))
            return 1;
        if (!json)
            printf("copied to %s/: %sphenotype.txt, metrics.json%s\n", w->copy,
                   model ? "model.enevo, " : "",
                   model ? "" : " (the run kept no model file of it: train the phenotype with "
                                "enevo train)");
    }
    return 0;
}

static const char *front_model(const struct enevo__csv *t, size_t row, const char *dir, char *buf,
                               size_t len)
{
    const char *m = enevo__csv_cell(t, row, enevo__csv_col(t, "model"));
    if (!*m)
        return NULL;
    snprintf(buf, len, "%s/front/%s", dir, m);
    return access(buf, R_OK) == 0 ? buf : NULL;
}

/* A (1+λ) run keeps the parent's model in models/ and the best in best/. */
static const char *stats_model(const struct enevo__csv *t, size_t row, const char *dir, char *buf,
                               size_t len)
{
    const char *g = enevo__csv_cell(t, row, enevo__csv_col(t, "generation"));
    const char *i = enevo__csv_cell(t, row, enevo__csv_col(t, "index"));
    snprintf(buf, len, "%s/models/g%s-i%s.enevo", dir, g, i);
    if (access(buf, R_OK) == 0)
        return buf;
    char path[1400], *js = NULL;
    snprintf(path, sizeof path, "%s/best/metrics.json", dir);
    const char *out = NULL;
    if (!enevo_read_text(path, 64u << 20, &js, NULL, NULL, 0)) {
        cJSON *j = cJSON_Parse(js);
        cJSON *id = cJSON_GetObjectItem(j, "id");
        if (cJSON_IsString(id) &&
            !strcmp(id->valuestring, enevo__csv_cell(t, row, enevo__csv_col(t, "id")))) {
            snprintf(buf, len, "%s/best/model.enevo", dir);
            out = access(buf, R_OK) == 0 ? buf : NULL;
        }
        cJSON_Delete(j);
        free(js);
    }
    return out;
}

/* front/front.csv of an NSGA-II run. */
static int from_front(const char *dir, bool json, const struct want *w)
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
    int rc = 0;
    if (wants(w)) {
        if (!json)
            show(&t, rows, t.nrows, cols, nc, false, NULL);
        rc = pick(&t, rows, t.nrows, dir, w, json, o, front_model);
        if (json)
            show(&t, rows, t.nrows, cols, nc, true, o);
    } else {
        show(&t, rows, t.nrows, cols, nc, json, o);
    }
    cJSON_Delete(o);
    free(rows);
    enevo__csv_free(&t);
    return rc;
}

/* A (1+λ) run: the front of stats.csv's valid rows. */
static int from_stats(const char *dir, bool json, const struct want *w)
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
    int rc = 0;
    if (wants(w)) {
        if (!json)
            show(&t, idx, n, cols, 6, false, NULL);
        rc = pick(&t, idx, n, dir, w, json, o, stats_model);
        if (json)
            show(&t, idx, n, cols, 6, true, o);
    } else {
        show(&t, idx, n, cols, 6, json, o);
    }
    cJSON_Delete(o);
    free(acc);
    free(cost);
    free(idx);
    enevo__csv_free(&t);
    return rc;
}

/* An energy: joules, or with a unit (J, mJ, uJ, µJ). */
static bool parse_energy(const char *s, double *j)
{
    char *end;
    *j = strtod(s, &end);
    if (end == s || !(*j >= 0))
        return false;
    double scale = !*end || !strcmp(end, "J")                         ? 1
                   : !strcmp(end, "mJ")                               ? 1e-3
                   : !strcmp(end, "uJ") || !strcmp(end, "\xc2\xb5J") ? 1e-6
                                                                      : -1;
    *j *= scale;
    return scale > 0;
}

int enevo_tool_front(int argc, char **argv)
{
    const char *dir = NULL;
    bool json = false;
    struct want w = {-INFINITY, INFINITY, NULL};
    for (int i = 0; i < argc; i++) {
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(argv[i], "--json")) {
            json = true;
        } else if (!strcmp(argv[i], "--min-accuracy")) {
            char *end;
            if (!val || (w.min_acc = strtod(val, &end), end == val || *end) ||
                !(w.min_acc >= 0 && w.min_acc <= 100))
                return usage("--min-accuracy: expected an accuracy, 0-1 or a percentage, got "
                             "'%s'",
                             val ? val : "nothing");
            if (w.min_acc > 1) /* 87.5 means 87.5% */
                w.min_acc /= 100;
            i++;
        } else if (!strcmp(argv[i], "--max-energy")) {
            if (!val || !parse_energy(val, &w.max_j))
                return usage("--max-energy: expected joules per inference (0.0002, 200uJ, "
                             "0.2mJ), got '%s'",
                             val ? val : "nothing");
            i++;
        } else if (!strcmp(argv[i], "--copy")) {
            if (!val)
                return usage("%s", "--copy: expected a directory");
            w.copy = val;
            i++;
        } else if (argv[i][0] == '-')
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
        return from_front(dir, json, &w);
    snprintf(path, sizeof path, "%s/stats.csv", dir);
    if (access(path, R_OK) == 0)
        return from_stats(dir, json, &w);
    fprintf(stderr, "enevo front: %s: neither front/front.csv nor stats.csv: not a run directory\n",
            dir);
    return 1;
}
