/* enevo — the command-line tool. Commands come from one table; each parses
 * its own flags. Usage errors exit 2; data, phenotype and model errors 1.
 * This file: the flags, the table, help and main; the commands are in
 * tools/cmd_*.c and the *_cmd.c files, their shared helpers in tools/cli.c. */
#include <errno.h>
#include <limits.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "enevo/data.h"
#include "enevo/version.h"

static const struct command *find_command(const char *name);

static int usage_error(const struct command *c, const char *fmt, const char *what)
{
    fprintf(stderr, "enevo %s: ", c->name);
    fprintf(stderr, fmt, what);
    fprintf(stderr, "\nusage: enevo %s\n", c->usage);
    return EXIT_USAGE;
}

static bool parse_int(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

static int parse_args(const struct command *c, int argc, char **argv, struct args *a)
{
    memset(a, 0, sizeof *a);
    a->dataset = ENEVO_DEFAULT_DATASET;
    a->seed = 42;
    a->seconds = 3;
    static const struct {
        const char *name;
        unsigned bit;
        long lo, hi;
    } ints[] = {
        {"--epochs", F_EPOCHS, 1, 100000},      {"--batch-size", F_BATCH, 1, 65536},
        {"--train-subset", F_SUBSET, 1, INT_MAX}, {"--threads", F_THREADS, 1, 1024},
        {"--resize", F_RESIZE, 4, 1024},        {"--generations", F_GENERATIONS, 1, 1000000},
        {"--lambda", F_LAMBDA, 1, 64},           {"--repetitions", F_REPS, 1, 1000},
        {"--networks", F_NETWORKS, 3, 1000},    {"--population", F_POPULATION, 2, 64},
    };
    for (int i = 0; i < argc; i++) {
        const char *f = argv[i];
        if (f[0] != '-' || !f[1]) {
            if (a->positional)
                return usage_error(c, "unexpected argument '%s'", f);
            a->positional = f;
            continue;
        }
        if (!strcmp(f, "--json") && (c->flags & F_JSON)) {
            a->json = true;
            continue;
        }
        if (!strcmp(f, "--tf32") && (c->flags & F_TF32)) {
            a->tf32 = true;
            continue;
        }
        if (!strcmp(f, "--print-config") && !strcmp(c->name, "evolve")) {
            a->print_config = true;
            continue;
        }
        if (!strcmp(f, "-h") || !strcmp(f, "--help")) {
            printf("usage: enevo %s\n\n%s\n", c->usage, c->help);
            exit(0);
        }
        bool known = false;
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        for (size_t k = 0; k < sizeof ints / sizeof ints[0]; k++) {
            if (strcmp(f, ints[k].name) || !(c->flags & ints[k].bit))
                continue;
            long x;
            if (!v)
                return usage_error(c, "%s needs a value", f);
            if (!parse_int(v, ints[k].lo, ints[k].hi, &x)) {
                fprintf(stderr, "enevo %s: %s expects an integer in [%ld, %ld], got '%s'\n",
                        c->name, f, ints[k].lo, ints[k].hi, v);
                return EXIT_USAGE;
            }
            int *dst = ints[k].bit == F_EPOCHS        ? &a->epochs
                       : ints[k].bit == F_BATCH       ? &a->batch_size
                       : ints[k].bit == F_SUBSET      ? &a->train_subset
                       : ints[k].bit == F_THREADS     ? &a->threads
                       : ints[k].bit == F_GENERATIONS ? &a->generations
                       : ints[k].bit == F_LAMBDA      ? &a->lambda
                       : ints[k].bit == F_REPS        ? &a->repetitions
                       : ints[k].bit == F_NETWORKS    ? &a->networks
                       : ints[k].bit == F_POPULATION  ? &a->population
                                                      : &a->resize;
            *dst = (int)x;
            known = true;
            i++;
            break;
        }
        if (known)
            continue;
        if (!v && ((!strcmp(f, "--seed") && (c->flags & F_SEED)) ||
                   (!strcmp(f, "--dataset") && (c->flags & F_DATASET)) ||
                   (!strcmp(f, "--labels") && (c->flags & F_DATASET)) ||
                   (!strcmp(f, "--save") && (c->flags & F_SAVE)) ||
                   (!strcmp(f, "--grammar") && (c->flags & F_GRAMMAR)) ||
                   (!strcmp(f, "--run-dir") && (c->flags & F_RUNDIR)) ||
                   (!strcmp(f, "--meter") && (c->flags & F_METER)) ||
                   (!strcmp(f, "--device") && (c->flags & F_DEVICE)) ||
                   (!strcmp(f, "--window") && (c->flags & F_WINDOW)) ||
                   (!strcmp(f, "--seconds") && (c->flags & F_SECONDS))))
            return usage_error(c, "%s needs a value", f);
        if (!strcmp(f, "--seed") && (c->flags & F_SEED)) {
            char *end;
            errno = 0;
            unsigned long long s = strtoull(v, &end, 10);
            if (errno || end == v || *end || v[0] == '-')
                return usage_error(c, "--seed expects a non-negative integer, got '%s'", v);
            a->seed = s;
            a->seed_set = true;
            i++;
        } else if (!strcmp(f, "--dataset") && (c->flags & F_DATASET)) {
            a->dataset = argv[++i];
        } else if (!strcmp(f, "--labels") && (c->flags & F_DATASET)) {
            if (strcmp(v, "fine") && strcmp(v, "coarse"))
                return usage_error(c, "--labels expects fine or coarse, got '%s'", v);
            a->labels = argv[++i];
        } else if (!strcmp(f, "--save") && (c->flags & F_SAVE)) {
            a->save = argv[++i];
        } else if (!strcmp(f, "--grammar") && (c->flags & F_GRAMMAR)) {
            a->grammar = argv[++i];
        } else if (!strcmp(f, "--run-dir") && (c->flags & F_RUNDIR)) {
            a->run_dir = argv[++i];
        } else if (!strcmp(f, "--meter") && (c->flags & F_METER)) {
            a->meter = argv[++i];
        } else if (!strcmp(f, "--device") && (c->flags & F_DEVICE)) {
            a->device = argv[++i];
        } else if (!strcmp(f, "--window") && (c->flags & F_WINDOW)) {
            char *end;
            a->window = strtod(v, &end);
            if (end == v || *end || !(a->window > 0) || a->window > 600)
                return usage_error(c, "--window expects seconds in (0, 600], got '%s'", v);
            i++;
        } else if (!strcmp(f, "--seconds") && (c->flags & F_SECONDS)) {
            char *end;
            a->seconds = strtod(v, &end);
            if (end == v || *end || !(a->seconds > 0) || a->seconds > 3600)
                return usage_error(c, "--seconds expects a number in (0, 3600], got '%s'", v);
            i++;
        } else {
            return usage_error(c, "unknown option '%s'", f);
        }
    }
    if (!a->positional && !(c->flags & F_OPTIONAL))
        return usage_error(c, "%s", "missing argument");
    if (a->threads > 0)
        omp_set_num_threads(a->threads);
    return 0;
}

/* enevo export: its own flags (tools/export_cmd.c), dispatched from main. */
static int cmd_export(const struct args *a)
{
    (void)a;
    return 0;
}

/* enevo front: tools/front_cmd.c, dispatched from main. */
static int cmd_front(const struct args *a)
{
    (void)a;
    return 0;
}

/* enevo report: tools/report_cmd.c, dispatched from main. */
static int cmd_report(const struct args *a)
{
    (void)a;
    return 0;
}

static int cmd_help(const struct args *a);

#define DEVICE_HELP                                                                            \
    "--device: cpu (the default), cuda (= cuda:0), cuda:N, or auto (cuda:0 when enevo was\n"  \
    "built with make CUDA=1 and a GPU is usable, else cpu)."
#define TF32_HELP                                                                              \
    "\n--tf32: on a GPU, convolutions may use TF32 tensor cores (~1e-3 relative error; off:\n" \
    "strict fp32)."

#define DATA_HELP                                                                          \
    "DATA: an IDX, CIFAR-10/100 (binary) or NumPy (x_train.npy, ...) directory, an .npz, an\n" \
    "image folder (train/<class>/*.png|jpg, test/...), or FORMAT:PATH with FORMAT idx,\n"      \
    "cifar10, cifar100, npz, npy or folder (README \"Your own data\").\n"

static const struct command commands[] = {
    {"train", cmd_train,
     "train PHENOTYPE_FILE [--dataset DATA] [--labels fine|coarse] [--epochs N] [--batch-size N]\n"
     "             [--train-subset N] [--seed N] [--threads N] [--device D] [--tf32] [--resize S]\n"
     "             [--save FILE] [--json]",
     "Train the network a phenotype describes on the train split (42,000 images), with early\n"
     "stopping on the validation split (12,000), then report accuracy on the fitness split\n"
     "(6,000) and the official test set. Flags override the phenotype's learning values.\n"
     DATA_HELP DEVICE_HELP TF32_HELP,
     F_DATASET | F_EPOCHS | F_BATCH | F_SUBSET | F_SEED | F_THREADS | F_SAVE | F_JSON | F_RESIZE |
         F_DEVICE | F_TF32},
    {"eval", cmd_eval,
     "eval MODEL_FILE [--dataset DATA] [--labels fine|coarse] [--batch-size N] [--threads N]\n"
     "             [--device D] [--json]",
     "Test accuracy and loss of a saved model on the dataset's test images.\n" DATA_HELP
     DEVICE_HELP,
     F_DATASET | F_BATCH | F_THREADS | F_JSON | F_DEVICE},
    {"bench", cmd_bench,
     "bench PHENOTYPE_FILE [--batch-size N] [--threads N] [--device D] [--tf32] [--seconds S]\n"
     "             [--resize S] [--json]",
     "Training and inference images/s on the real data shape (1x28x28, 10 classes), median of\n"
     "three windows after a warm-up. Training steps run over 16 batches of random images bound\n"
     "to the net (on a GPU: in device memory), at learning rate 0; inference reruns one batch.\n"
     "--json adds cpu_isa (the instruction set oneDNN uses, after any ONEDNN_MAX_CPU_ISA cap)\n"
     "and, per layer, the implementation of every primitive of the training and inference\n"
     "nets (kernels_training, kernels_inference); a reference kernel is a slow path.\n"
     DEVICE_HELP TF32_HELP,
     F_BATCH | F_THREADS | F_SECONDS | F_JSON | F_SEED | F_RESIZE | F_DEVICE | F_TF32},
    {"evolve", cmd_evolve,
     "evolve [CONFIG] [--grammar FILE] [--run-dir DIR] [--seed N] [--generations N]\n"
     "             [--lambda N] [--population N] [--train-subset N] [--epochs N] [--meter M]\n"
     "             [--threads N] [--device D] [--tf32] [--dataset DIR] [--print-config] [--json]",
     "Grammar-based neuroevolution: the (1+lambda) strategy, or NSGA-II with\n"
     "evolutionary.strategy: nsga2 (configs/pareto.yaml; --population sets its survivors,\n"
     "--lambda its children per generation). CONFIG is YAML or JSON (ENERGIZE's\n"
     "keys; the built-in default when left out); the grammar defaults to the built-in one.\n"
     "The run directory (default runs/seed<N>) gets config.used.yaml, grammar.used,\n"
     "stats.csv, timing.csv, stats/generation_<g>.json, best/ and a checkpoint after every\n"
     "evaluation; if it already holds a checkpoint of the same config, the run resumes.\n"
     "--device and --tf32 set the config's device and tf32 keys (default cpu, false).\n"
     "A CONFIG file is read as ENERGIZE reads it: without energize.seed_model, generation 0\n"
     "is random networks of the grammar (README \"Config\" lists what a file inherits).\n"
     "--print-config prints the effective config, each value with where it came from\n"
     "(file, built-in default, ENERGIZE's meaning of a left-out key, command line), and exits.\n"
     DEVICE_HELP TF32_HELP,
     F_GRAMMAR | F_RUNDIR | F_SEED | F_GENERATIONS | F_LAMBDA | F_SUBSET | F_THREADS | F_JSON |
         F_DATASET | F_OPTIONAL | F_METER | F_EPOCHS | F_DEVICE | F_TF32 | F_POPULATION},
    {"resume", cmd_resume, "resume RUN_DIR [--threads N] [--device D] [--json]",
     "Continue a killed or stopped run where its checkpoint left it; the result is the one\n"
     "an uninterrupted run gives. Refused if config.used.yaml or grammar.used changed.\n"
     "The run keeps the device its config records; --threads and --device override them\n"
     "for this process only (another device gives slightly different numbers).",
     F_THREADS | F_JSON | F_DEVICE},
    {"measure", cmd_measure,
     "measure MODEL_FILE|PHENOTYPE_FILE [--meter M] [--batch-size N] [--repetitions R]\n"
     "             [--window S] [--threads N] [--device D] [--json]",
     "Energy per inference with the measurement protocol (docs/MEASUREMENT.md): idle\n"
     "baseline, warm-up, R windows of at least S seconds, median and 95% CI. Meters: auto\n"
     "(nvml on the GPU of a cuda device; for cpu rapl, else model), nvml, rapl, model (an\n"
     "estimate, labelled so).\n" DEVICE_HELP,
     F_METER | F_BATCH | F_REPS | F_WINDOW | F_THREADS | F_JSON | F_SEED | F_DEVICE},
    {"calibrate", cmd_calibrate,
     "calibrate [--meter M] [--networks N] [--batch-size N] [--repetitions R] [--window S]\n"
     "             [--device D] [--json]",
     "Fit the model meter's coefficients (energy.model) by least squares to real measurements\n"
     "of N random networks; needs a real meter (rapl or nvml).\n" DEVICE_HELP,
     F_METER | F_NETWORKS | F_BATCH | F_REPS | F_WINDOW | F_THREADS | F_JSON | F_SEED |
         F_OPTIONAL | F_DEVICE},
    {"report", cmd_report, "report RUN_DIR... [--out DIR] [--baseline SETTING] [--json]",
     "A report (report.md, report.html, gnuplot PNG and SVG plots) over run directories:\n"
     "progress per generation, accuracy against energy per inference with the\n"
     "non-dominated front, and for runs named <setting>-seed<N> the mean and std over seeds\n"
     "of each setting's best, with the energy reduction against the baseline setting.",
     0},
    {"export", cmd_export,
     "export MODEL_FILE --format onnx|c [-o OUT [-o OUT2]] [--logits] [--prefix NAME]\n"
     "             [--bench] [--seconds S] [--json]",
     "Export a saved model (train --save, a run's best/ or models/) to ONNX (opset 13) or to\n"
     "one dependency-free C99 file plus header (static const weights, one static arena, no\n"
     "malloc). Prints the arena size, weight bytes and FLOPs per image; --bench compiles the\n"
     "C file with cc -O2 and times one image. A two-headed (partitioned) model gives two\n"
     "files: OUT.model0 and OUT.model1 (or two -o). The input is normalised, not folded in:\n"
     "(pixel - mean) / std, stated in the ONNX metadata and the C header. --logits leaves\n"
     "out the output softmax. See README.md (\"Export\") and docs/FORMATS.md.",
     0},
    {"front", cmd_front, "front RUN_DIR [--min-accuracy A] [--max-energy E] [--copy DIR] [--json]",
     "The non-dominated individuals of a run. An NSGA-II run (evolutionary.strategy: nsga2)\n"
     "keeps them in RUN_DIR/front/: front.csv (objectives, constraint violation, test\n"
     "accuracy, model file), the model files and front.json (with the hypervolume); for a\n"
     "(1+lambda) run they are computed from stats.csv (accuracy max, energy per inference\n"
     "min, FLOPs when no energy was measured). --json prints one JSON object.\n"
     "--min-accuracy A (fitness-split accuracy, 0.87 or 87) and --max-energy E (joules per\n"
     "inference: 0.0002, 200uJ, 0.2mJ) pick the cheapest member that meets both (exit 1 if\n"
     "none does); --copy DIR writes its model.enevo (when the run kept it), phenotype.txt\n"
     "and metrics.json there.",
     0},
    {"help", cmd_help, "help [COMMAND] [--man] [--bash-completion]",
     "Show the commands, or one command's flags. --man prints this manual as a man page\n"
     "(roff), --bash-completion a bash completion script; both are made from the table\n"
     "'enevo help' prints, and make install installs them.",
     0},
};
#define N_COMMANDS (sizeof commands / sizeof commands[0])

static const struct command *find_command(const char *name)
{
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (!strcmp(commands[i].name, name))
            return &commands[i];
    return NULL;
}

static void print_usage(FILE *f)
{
    fprintf(f, "enevo %s — energy-aware neuroevolution\n\nusage:\n", enevo_version());
    for (size_t i = 0; i < N_COMMANDS; i++)
        fprintf(f, "  enevo %s\n", commands[i].usage);
    fprintf(f, "\n'enevo help COMMAND' explains one command.\n");
}

static int cmd_help(const struct args *a)
{
    const struct command *c = a->positional ? find_command(a->positional) : NULL;
    if (!c) {
        print_usage(stdout);
        return 0;
    }
    printf("usage: enevo %s\n\n%s\n", c->usage, c->help);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        print_usage(stderr);
        return EXIT_USAGE;
    }
    if (!strcmp(argv[1], "--version")) {
        /* The library's version and the backends this build has (cuda
         * with make CUDA=1), so a bug report says which enevo ran. */
        printf("enevo %s\nbackends: %s\n", enevo_version(), enevo_backends());
        return 0;
    }
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        print_usage(stdout);
        return 0;
    }
    const struct command *c = find_command(argv[1]);
    if (!c) {
        fprintf(stderr, "enevo: unknown command '%s'\n", argv[1]);
        print_usage(stderr);
        return EXIT_USAGE;
    }
    struct args a;
    if (c->run == cmd_report)
        return enevo_tool_report(argc - 2, argv + 2);
    if (c->run == cmd_export)
        return enevo_tool_export(argc - 2, argv + 2);
    if (c->run == cmd_front)
        return enevo_tool_front(argc - 2, argv + 2);
    if (c->run == cmd_help) {
        if (argc == 3 && !strcmp(argv[2], "--man"))
            return print_man(stdout, commands, N_COMMANDS);
        if (argc == 3 && !strcmp(argv[2], "--bash-completion"))
            return print_bash_completion(stdout, commands, N_COMMANDS);
        if (argc > 3 || (argc == 3 && argv[2][0] == '-' && strcmp(argv[2], "-h") &&
                         strcmp(argv[2], "--help")))
            return usage_error(c, "unexpected argument '%s'", argv[argc - 1]);
        memset(&a, 0, sizeof a);
        a.positional = argc > 2 ? argv[2] : NULL;
        return cmd_help(&a);
    }
    int rc = parse_args(c, argc - 2, argv + 2, &a);
    if (rc)
        return rc;
    return c->run(&a);
}
