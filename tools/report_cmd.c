/* `enevo report RUN_DIR...`: a report over run directories (src/report/).
 * It takes several run directories, so it parses its own arguments.
 * Dispatched from tools/enevo.c's command table. */
#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "enevo/error.h"
#include "enevo/report.h"

int enevo_tool_report(int argc, char **argv)
{
    const char *out = "report", *baseline = NULL;
    const char **runs = calloc((size_t)argc + 1, sizeof *runs);
    int n = 0;
    bool json = false;
    for (int i = 0; i < argc; i++) {
        if ((!strcmp(argv[i], "--out") || !strcmp(argv[i], "--baseline")) && i + 1 < argc) {
            *(argv[i][2] == 'o' ? &out : &baseline) = argv[i + 1];
            i++;
        } else if (!strcmp(argv[i], "--json")) {
            json = true;
        } else if (argv[i][0] == '-') {
            fprintf(stderr, "enevo report: unknown option '%s'\nusage: enevo report RUN_DIR... "
                            "[--out DIR] [--baseline SETTING] [--json]\n",
                    argv[i]);
            free(runs);
            return EXIT_USAGE;
        } else {
            runs[n++] = argv[i];
        }
    }
    if (n == 0) {
        fprintf(stderr, "enevo report: no run directory given\nusage: enevo report RUN_DIR... "
                        "[--out DIR] [--baseline SETTING] [--json]\n");
        free(runs);
        return EXIT_USAGE;
    }
    char err[ENEVO_ERR_LEN];
    struct enevo_report_opts o = {.out_dir = out, .baseline = baseline,
                                  .log = json ? stderr : stdout};
    int rc = enevo_report(runs, n, &o, err, sizeof err);
    free(runs);
    if (rc)
        return fail("report", err, rc);
    fprintf(json ? stderr : stdout, "report: %s/report.md and %s/report.html\n", out, out);
    if (json) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "report_md", out);
        cJSON_AddNumberToObject(j, "runs", n);
        print_json(j);
    }
    return 0;
}
