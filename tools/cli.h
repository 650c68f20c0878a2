/* tools/cli.h — what the files of the command-line tool share: the parsed
 * flags, the device a command runs on, the helpers every command uses
 * (tools/cli.c) and the commands tools/enevo.c's table dispatches to. Not
 * part of the library: only tools/ includes it. */
#ifndef ENEVO_TOOLS_CLI_H
#define ENEVO_TOOLS_CLI_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "enevo/config.h"
#include "enevo/data.h"
#include "enevo/energy.h"

enum { EXIT_USAGE = 2 };

/* Flags every command may take; each command says which it accepts. */
struct args {
    const char *positional;
    const char *dataset;
    const char *labels; /* --labels fine|coarse (CIFAR-100) */
    const struct enevo_augment *norm_from; /* a config's pipeline: its normalize */
    const char *save;
    const char *grammar;
    const char *run_dir;
    const char *meter;
    const char *device; /* NULL: cpu, or the config's for evolve and resume */
    int repetitions, networks;
    double window;
    int generations, lambda, population;
    bool positional_optional;
    int epochs, batch_size, train_subset, threads, resize;
    double seconds;
    uint64_t seed;
    bool json;
    bool tf32;
    bool seed_set;
    bool print_config; /* evolve --print-config */
};

enum flag_bit {
    F_DATASET = 1 << 0,
    F_EPOCHS = 1 << 1,
    F_BATCH = 1 << 2,
    F_SUBSET = 1 << 3,
    F_SEED = 1 << 4,
    F_THREADS = 1 << 5,
    F_SAVE = 1 << 6,
    F_JSON = 1 << 7,
    F_SECONDS = 1 << 8,
    F_RESIZE = 1 << 9,
    F_GRAMMAR = 1 << 10,
    F_RUNDIR = 1 << 11,
    F_GENERATIONS = 1 << 12,
    F_LAMBDA = 1 << 13,
    F_OPTIONAL = 1 << 14, /* the positional argument may be left out */
    F_METER = 1 << 15,
    F_REPS = 1 << 16,
    F_WINDOW = 1 << 17,
    F_NETWORKS = 1 << 18,
    F_DEVICE = 1 << 19,
    F_TF32 = 1 << 20,
    F_POPULATION = 1 << 21,
};

/* The device a command runs on, resolved once at its start so that a bad
 * name or a missing GPU fails before any work. */
struct device {
    char name[16];  /* canonical: "cpu", "cuda:0"; what the nets are given */
    char desc[256]; /* "CPU, 2 threads", "NVIDIA H100 80GB HBM3" */
};

/* One row of the command table (tools/enevo.c): `enevo help`, the man page
 * and the bash completion are all printed from it. */
struct command {
    const char *name;
    int (*run)(const struct args *a);
    const char *usage; /* without the leading "enevo " */
    const char *help;
    unsigned flags;
};

/* tools/help_gen.c: the man page (roff) and the bash completion script of
 * the commands cmds[0..n-1]; return the exit status (1 if stdout failed). */
int print_man(FILE *f, const struct command *cmds, size_t n);
int print_bash_completion(FILE *f, const struct command *cmds, size_t n);

/* Helpers (tools/cli.c). Each that can fail prints "enevo CMD: ..." on
 * stderr and returns 1 (the exit status), 0 on success. */
int fail(const char *cmd, const char *err, int rc);
int resolve_device(const char *cmd, const char *want, struct device *dv);
void print_json(cJSON *o); /* prints o on stdout and frees it */
int load_data(const char *cmd, const struct args *a, struct enevo_data *d);
void carry_norm(struct enevo_dataset *s, const struct enevo_data *d);
char *slurp(const char *cmd, const char *path); /* the caller frees it; NULL on error */
int open_meter(const char *cmd, const char *name, const struct enevo_config *c,
               const char *device, struct enevo_meter **m, FILE *log);

/* Commands with the shared flags, parsed by tools/enevo.c: the exit status. */
int cmd_train(const struct args *a);     /* tools/cmd_train.c */
int cmd_eval(const struct args *a);      /* tools/cmd_train.c */
int cmd_bench(const struct args *a);     /* tools/cmd_train.c */
int cmd_evolve(const struct args *a);    /* tools/cmd_evolve.c */
int cmd_resume(const struct args *a);    /* tools/cmd_evolve.c */
int cmd_measure(const struct args *a);   /* tools/cmd_energy.c */
int cmd_calibrate(const struct args *a); /* tools/cmd_energy.c */

/* Commands that parse their own flags (argv after the command name). */
int enevo_tool_report(int argc, char **argv); /* tools/report_cmd.c */
int enevo_tool_export(int argc, char **argv); /* tools/export_cmd.c */
int enevo_tool_front(int argc, char **argv);  /* tools/front_cmd.c */

#endif
