/* bench/meter_check.c — validate an energy meter the way
 * ../shared/reference/MEASUREMENT-PITFALLS.md asks: the energy of sleep(1)
 * and sleep(2) windows must grow with the window (monotonic, about
 * doubling), and the idle power it implies is reported. No network, no
 * oneDNN: it builds on a bare GPU machine.
 *
 *   cc -O2 -Iinclude -Isrc bench/meter_check.c src/energy/meter[a-z_]*.c src/core/[a-z]*.c \
 *      -ldl -lpthread -lm -o build/meter-check
 *   build/meter-check [nvml|rapl|auto] [--integral] [--rounds N]
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "enevo/energy.h"

static void sleep_s(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts))
        ;
}

int main(int argc, char **argv)
{
    const char *name = "auto";
    int rounds = 3;
    struct enevo_meter_cfg mc = enevo_meter_defaults();
    mc.on_gpu = true;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--integral"))
            mc.nvml_force_integral = true;
        else if (!strcmp(argv[i], "--rounds") && i + 1 < argc)
            rounds = atoi(argv[++i]);
        else
            name = argv[i];
    }
    char err[ENEVO_ERR_LEN], chosen[512] = "";
    struct enevo_meter *m;
    int rc = enevo_meter_open(name, &mc, &m, chosen, sizeof chosen, err, sizeof err);
    if (rc) {
        fprintf(stderr, "meter-check: %s\n", err);
        return 1;
    }
    printf("meter %s: %s %s\n", name, m->label, m->device);
    if (chosen[0])
        printf("%s\n", chosen);
    int bad = 0;
    double p_sum = 0;
    int p_n = 0;
    for (int r = 0; r < rounds; r++) {
        double e[2];
        for (int k = 0; k < 2; k++) {
            double e0, t0, e1, t1;
            if (enevo_meter_read(m, &e0, &t0, err, sizeof err) ||
                (sleep_s(k + 1.0), enevo_meter_read(m, &e1, &t1, err, sizeof err))) {
                fprintf(stderr, "meter-check: %s\n", err);
                enevo_meter_close(m);
                return 1;
            }
            e[k] = e1 - e0;
            printf("round %d: sleep(%d) window %.3f s: %.3f J, %.2f W\n", r + 1, k + 1, t1 - t0,
                   e[k], e[k] / (t1 - t0));
            p_sum += e[k] / (t1 - t0);
            p_n++;
        }
        bool ok = e[0] > 0 && e[1] > e[0];
        printf("round %d: sleep(2)/sleep(1) energy ratio %.3f: %s\n", r + 1, e[1] / e[0],
               ok ? "monotonic" : "NOT MONOTONIC");
        bad += !ok;
    }
    printf("idle power (mean of %d windows): %.2f W\n", p_n, p_sum / p_n);
    enevo_meter_close(m);
    printf("%s\n", bad ? "FAIL" : "PASS");
    return bad ? 1 : 0;
}
