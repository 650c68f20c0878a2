/* `enevo export`: a model file to ONNX or to one C file (+ header), with
 * what the result costs; --bench compiles the C file with a driver and
 * times one image. Dispatched from tools/enevo.c's command table. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "enevo/export.h"
#include "enevo/io.h"
#include "enevo/model.h"

#define USAGE                                                                                   \
    "export MODEL_FILE --format onnx|c [-o OUT [-o OUT2]] [--logits] [--prefix NAME]\n"         \
    "             [--bench] [--seconds S] [--json]"

static int usage(const char *msg, const char *what)
{
    fprintf(stderr, "enevo export: ");
    fprintf(stderr, msg, what);
    fprintf(stderr, "\nusage: enevo " USAGE "\n");
    return 2;
}

/* 'text' for sh, with ' inside escaped. */
static void quote(char *dst, size_t n, const char *s)
{
    size_t j = 0;
    if (j + 1 < n)
        dst[j++] = '\'';
    for (; *s && j + 5 < n; s++) {
        if (*s == '\'') {
            memcpy(dst + j, "'\\''", 4);
            j += 4;
        } else {
            dst[j++] = *s;
        }
    }
    if (j + 1 < n)
        dst[j++] = '\'';
    dst[j] = 0;
}

/* Compile `c_path` with the export's own driver and time one image: the
 * median of five windows after a warm-up. 0 and *latency, or 1 with a
 * message on stderr. */
static int bench_c(const char *c_path, const char *prefix, double seconds, double *latency)
{
    char dir[] = "/tmp/enevo-export-XXXXXX";
    if (!mkdtemp(dir)) {
        perror("enevo export: mkdtemp");
        return 1;
    }
    char drv[300], exe[300], err[ENEVO_ERR_LEN], hname[300];
    snprintf(drv, sizeof drv, "%s/driver.c", dir);
    snprintf(exe, sizeof exe, "%s/driver", dir);
    /* The header sits beside the .c file; the driver finds it with -I. */
    char inc[1100];
    if (strlen(c_path) >= sizeof inc) {
        fprintf(stderr, "enevo export: path too long: %s\n", c_path);
        rmdir(dir);
        return 1;
    }
    memcpy(inc, c_path, strlen(c_path) + 1);
    char *slash = strrchr(inc, '/');
    if (slash)
        *slash = 0;
    else
        snprintf(inc, sizeof inc, ".");
    const char *base = strrchr(c_path, '/');
    base = base ? base + 1 : c_path;
    size_t bl = strlen(base);
    int stem = (int)(bl > 2 && !strcmp(base + bl - 2, ".c") ? bl - 2 : bl);
    snprintf(hname, sizeof hname, "%.*s.h", stem, base);
    char *text = enevo_export_c_driver(prefix, hname);
    int rc = 1;
    if (!text || enevo_write_atomic(drv, text, strlen(text), err, sizeof err)) {
        fprintf(stderr, "enevo export: cannot write the driver: %s\n",
                text ? err : "out of memory");
        goto out;
    }
    const char *cc = getenv("CC");
    char qc[1200], qi[1200], qd[700], qe[700], cmd[4096];
    quote(qc, sizeof qc, c_path);
    quote(qi, sizeof qi, inc);
    quote(qd, sizeof qd, drv);
    quote(qe, sizeof qe, exe);
    snprintf(cmd, sizeof cmd, "%s -std=c99 -O2 -I%s -o %s %s %s -lm", cc && *cc ? cc : "cc", qi, qe,
             qc, qd);
    if (system(cmd) != 0) {
        fprintf(stderr, "enevo export: compiling failed: %s\n", cmd);
        goto out;
    }
    snprintf(cmd, sizeof cmd, "%s --bench %g", qe, seconds);
    FILE *p = popen(cmd, "r");
    char line[128] = "";
    if (p) {
        if (!fgets(line, sizeof line, p))
            line[0] = 0;
        pclose(p);
    }
    if (sscanf(line, "latency_s %lf", latency) != 1) {
        fprintf(stderr, "enevo export: the benchmark gave no result: %s\n", cmd);
        goto out;
    }
    rc = 0;
out:
    free(text);
    unlink(drv);
    unlink(exe);
    rmdir(dir);
    return rc;
}

int enevo_tool_export(int argc, char **argv)
{
    const char *model = NULL, *format = NULL, *outs[2] = {NULL, NULL}, *prefix = NULL;
    int n_out = 0;
    bool logits = false, bench = false, json = false;
    double seconds = 2;
    for (int i = 0; i < argc; i++) {
        const char *f = argv[i];
        bool has_val = i + 1 < argc;
        if (!strcmp(f, "--logits")) {
            logits = true;
        } else if (!strcmp(f, "--bench")) {
            bench = true;
        } else if (!strcmp(f, "--json")) {
            json = true;
        } else if (!strcmp(f, "--format") || !strcmp(f, "-o") || !strcmp(f, "--output") ||
                   !strcmp(f, "--prefix") || !strcmp(f, "--seconds")) {
            if (!has_val)
                return usage("%s needs a value", f);
            const char *v = argv[++i];
            if (!strcmp(f, "--format")) {
                format = v;
            } else if (!strcmp(f, "--prefix")) {
                prefix = v;
            } else if (!strcmp(f, "--seconds")) {
                char *end;
                seconds = strtod(v, &end);
                if (*end || !(seconds > 0 && seconds <= 600))
                    return usage("--seconds: expected a number in (0, 600], got '%s'", v);
            } else {
                if (n_out == 2)
                    return usage("at most two outputs (-o), got a third: '%s'", v);
                outs[n_out++] = v;
            }
        } else if (!strcmp(f, "-h") || !strcmp(f, "--help")) {
            printf("usage: enevo " USAGE "\n");
            return 0;
        } else if (f[0] == '-' && f[1]) {
            return usage("unknown flag '%s'", f);
        } else if (model) {
            return usage("unexpected argument '%s'", f);
        } else {
            model = f;
        }
    }
    if (!model)
        return usage("%s", "missing MODEL_FILE");
    if (!format)
        return usage("%s", "missing --format onnx|c");
    struct enevo_export_opts o = {.logits = logits, .prefix = prefix, .source = model};
    if (!strcmp(format, "onnx"))
        o.format = ENEVO_EXPORT_ONNX;
    else if (!strcmp(format, "c"))
        o.format = ENEVO_EXPORT_C;
    else
        return usage("--format: expected onnx or c, got '%s'", format);
    if (bench && o.format != ENEVO_EXPORT_C)
        return usage("%s", "--bench times the C file: use it with --format c");
    const char *ext = o.format == ENEVO_EXPORT_ONNX ? ".onnx" : ".c";

    char err[ENEVO_ERR_LEN];
    struct enevo_model_file m;
    int rc = enevo_model_load(model, &m, err, sizeof err);
    int n_models = 0;
    if (!rc)
        rc = enevo_export_count(&m, &n_models, err, sizeof err);
    if (rc) {
        fprintf(stderr, "enevo export: %s: %s\n", model, err);
        enevo_model_file_free(&m); /* zeroed when the load failed */
        return 1;
    }
    if (n_out == 2 && n_models == 1) {
        enevo_model_file_free(&m);
        return usage("%s holds one model: give one output", model);
    }
    /* Output paths: given; or for a partition, PREFIX.model0/1 + ext from
     * one -o (its extension dropped) or from the model file's name. */
    char paths[2][1100];
    for (int k = 0; k < n_models; k++) {
        if (n_out == n_models) {
            snprintf(paths[k], sizeof paths[k], "%s", outs[k]);
            continue;
        }
        const char *b = n_out ? outs[0] : model;
        size_t len = strlen(b);
        const char *dot = strrchr(b, '.'), *sl = strrchr(b, '/');
        if (dot && (!sl || dot > sl) && dot != b)
            len = (size_t)(dot - b);
        if (n_models == 1)
            snprintf(paths[k], sizeof paths[k], "%.*s%s", (int)len, b, ext);
        else
            snprintf(paths[k], sizeof paths[k], "%.*s.model%d%s", (int)len, b, k, ext);
    }
    cJSON *arr = json ? cJSON_CreateArray() : NULL;
    int status = 0;
    for (int k = 0; k < n_models && !status; k++) {
        /* Two models from one --prefix get _model0/_model1, so both link
         * into one program. */
        char pfx[80];
        if (prefix && n_models == 2)
            snprintf(pfx, sizeof pfx, "%.50s_model%d", prefix, k);
        else if (prefix)
            snprintf(pfx, sizeof pfx, "%.50s", prefix);
        else
            enevo_export_prefix_from_path(paths[k], pfx, sizeof pfx);
        struct enevo_export_opts ok = o;
        ok.prefix = pfx;
        struct enevo_export_info info;
        if ((rc = enevo_export_write(&m, k, &ok, paths[k], &info, err, sizeof err))) {
            fprintf(stderr, "enevo export: %s: %s\n", model, err);
            status = 1;
            break;
        }
        double lat = 0;
        if (bench && bench_c(paths[k], pfx, seconds, &lat)) {
            status = 1;
            break;
        }
        FILE *log = json ? stderr : stdout;
        fprintf(log, "%s%s: %s, %d classes (%s); arena %zu bytes (%.1f KiB), weights %zu bytes "
                     "(%.2f MiB), %.3f MFLOP/image",
                paths[k], o.format == ENEVO_EXPORT_C ? " (+ .h)" : "",
                n_models == 1 ? "the model" : (k ? "model 1 (early exit)" : "model 0 (full)"),
                info.classes, logits ? "logits" : "softmax", info.arena_bytes,
                info.arena_bytes / 1024.0, info.weight_bytes, info.weight_bytes / 1048576.0,
                info.flops / 1e6);
        if (bench)
            fprintf(log, "; single-image latency %.3f ms (cc -O2, this machine)", lat * 1e3);
        fprintf(log, "\n");
        if (arr) {
            cJSON *e = cJSON_CreateObject();
            cJSON_AddStringToObject(e, "file", paths[k]);
            cJSON_AddStringToObject(e, "format", format);
            cJSON_AddNumberToObject(e, "model", k);
            cJSON_AddNumberToObject(e, "arena_bytes", (double)info.arena_bytes);
            cJSON_AddNumberToObject(e, "weight_bytes", (double)info.weight_bytes);
            cJSON_AddNumberToObject(e, "flops_per_image", info.flops);
            cJSON_AddNumberToObject(e, "bytes_written", (double)info.bytes_written);
            if (bench)
                cJSON_AddNumberToObject(e, "latency_s", lat);
            cJSON_AddItemToArray(arr, e);
        }
    }
    if (arr) {
        if (!status) {
            char *s = cJSON_Print(arr);
            if (s)
                printf("%s\n", s);
            free(s);
        }
        cJSON_Delete(arr);
    }
    enevo_model_file_free(&m);
    return status;
}
