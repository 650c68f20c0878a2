/* tests/test_fault.c — a search that survives resource faults (issue 16):
 * a memory limit refuses candidates before anything is allocated, an
 * allocation that fails anyway fails one candidate and not the run, a
 * failed write (a full disk) stops the run with its checkpoint, stats.csv
 * and models intact so a resume finishes it exactly, and SIGTERM / SIGINT
 * stop the CLI cleanly with the exit codes 143 / 130. Faults are injected
 * through src/core/fault.h's hook, which only tests install. */
#include "tests.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/fault.h"
#include "enevo/config.h"
#include "enevo/grammar.h"
#include "enevo/net.h"
#include "enevo/phenotype.h"
#include "nn/plan.h"

/* ---- the hook ---- */

struct faults {
    enum enevo__fault_site site;
    int fail_at;     /* fail the fail_at-th call at `site` (1-based); 0 = never */
    int calls;       /* calls at `site` so far */
    int code;        /* errno to report */
    char what[1024]; /* what the failed call named */
};

static bool fault_hook(enum enevo__fault_site site, const char *what, int *code, void *ctx)
{
    struct faults *f = ctx;
    if (site != f->site)
        return false;
    if (++f->calls != f->fail_at)
        return false;
    *code = f->code;
    snprintf(f->what, sizeof f->what, "%s", what);
    return true;
}

/* ---- small runs ---- */

static void tiny_config(struct enevo_config *c)
{
    enevo_config_defaults(c);
    c->generations = 3;
    c->lambda = 2;
    c->seed = 23;
    c->default_train_epochs = 1;
    c->reevaluate_parent = true;
    c->n_terms = 0;
    snprintf(c->fitness_metric, sizeof c->fitness_metric, "accuracy");
    c->modules[0].n_init = 1;
    c->modules[0].init[0] = 2;
    c->modules[0].max = 4;
}

static int evolve(const struct enevo_config *c, const char *dir, struct enevo_test_evo_data *x,
                  char *err, size_t errlen)
{
    struct enevo_grammar *g;
    assert_int_equal(
        enevo_grammar_parse(enevo_default_grammar_text(), "default.grammar", &g, err, errlen), 0);
    struct enevo_evo_opts o = {.run_dir = dir, .threads = 2};
    struct enevo_evo_result res;
    int rc = enevo_evolve(c, "fault config", g, enevo_default_grammar_text(), &x->d, &o, &res,
                          err, errlen);
    free(res.best_phenotype);
    enevo_grammar_free(g);
    return rc;
}

static char *stats_of(const char *dir)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/stats.csv", dir);
    char *s = enevo_test_slurp(path);
    assert_non_null(s);
    return s;
}

/* ---- memory ---- */

/* The estimate that refuses candidates is an upper bound of what a
 * network really allocates (its activation arena and parameter blocks),
 * and not a wild one. */
static void plan_memory_estimate_bounds_the_allocation(void **state)
{
    (void)state;
    static const char *const nets[] = {"bench/small.phen", "bench/medium.phen",
                                       "bench/medium_partition.phen"};
    static const int batches[] = {1, 64};
    char err[ENEVO_ERR_LEN];
    for (size_t i = 0; i < ENEVO_COUNT(nets); i++) {
        struct enevo_phenotype p;
        if (enevo_phenotype_load(nets[i], &p, err, sizeof err))
            fail_msg("%s", err);
        for (size_t b = 0; b < ENEVO_COUNT(batches); b++) {
            for (int training = 0; training < 2; training++) {
                struct enevo_net_opts no = {.batch = batches[b], .training = training,
                                            .threads = 2};
                struct enevo_net *net;
                struct enevo_shape in = {1, 28, 28};
                if (enevo_net_create(&p, in, 10, &no, &net, err, sizeof err))
                    fail_msg("%s: %s", nets[i], err);
                struct enevo_plan plan;
                assert_int_equal(enevo_plan_build(&p, in, 10, &plan, err, sizeof err), 0);
                double np = (double)enevo_net_param_count(net);
                double real = (double)enevo_net_arena_bytes(net) +
                              4.0 * (np * (training ? 2 : 1) + (double)enevo_net_stats_count(net));
                if (training) /* the optimiser's state (momentum) */
                    real += 4.0 * np;
                double est = enevo__plan_memory(&plan, batches[b], training);
                printf("      %s batch %d %s: estimate %.1f MiB, allocated %.1f MiB (%.2fx)\n",
                       nets[i], batches[b], training ? "training" : "inference", est / 1048576,
                       real / 1048576, est / real);
                if (!(est >= real && est <= 6 * real + (2 << 20)))
                    fail_msg("%s batch %d: estimate %.0f bytes against %.0f allocated", nets[i],
                             batches[b], est, real);
                enevo_plan_free(&plan);
                enevo_net_free(net);
            }
        }
        enevo_phenotype_free(&p);
    }
}

/* Rows of stats.csv whose note (the last column) contains `why`; a valid
 * row must have an empty note, an invalid one a reason. */
static int count_notes(const char *stats, const char *why)
{
    int found = 0;
    const char *line = strchr(stats, '\n') + 1;
    for (; *line; line = strchr(line, '\n') + 1) {
        const char *end = strchr(line, '\n');
        assert_non_null(end);
        const char *f = line; /* valid is the 6th field */
        for (int k = 0; k < 5; k++)
            f = strchr(f, ',') + 1;
        const char *note = end - 1;
        assert_true(*note == '"');
        while (note[-1] != '"')
            note--;
        char buf[1024];
        snprintf(buf, sizeof buf, "%.*s", (int)(end - 1 - note), note);
        if (*f == '1' && buf[0])
            fail_msg("a valid row has the note '%s'", buf);
        if (*f == '0' && !buf[0])
            fail_msg("an invalid row has no note");
        found += strstr(buf, why) != NULL;
    }
    return found;
}

/* A limit below every candidate's estimate: all are refused, the run ends
 * normally, nothing was allocated for them, stats.csv says why. */
static void memory_limit_refuses_candidates_before_allocating(void **state)
{
    (void)state;
    struct enevo_test_evo_data x;
    enevo_test_evo_data_init(&x, 12, 320, 80, 80);
    struct enevo_config c;
    tiny_config(&c);
    c.generations = 2;
    c.max_memory_mb = 0.5;
    struct faults f = {.site = ENEVO__FAULT_ALLOC};
    enevo__fault_set(fault_hook, &f);
    char dir[512], err[ENEVO_ERR_LEN];
    snprintf(dir, sizeof dir, "%s/fault-memlimit", enevo_test_tmpdir());
    int rc = evolve(&c, dir, &x, err, sizeof err);
    enevo__fault_set(NULL, NULL);
    if (rc)
        fail_msg("%s", err);
    assert_int_equal(f.calls, 0); /* no network was created */
    char *s = stats_of(dir);
    int rows = enevo_test_count_lines(strcat(strcpy(err, dir), "/stats.csv")) - 1;
    assert_true(rows >= 2);
    assert_int_equal(count_notes(s, "> the memory limit 0.5 MiB (evolutionary.max_memory_mb)"),
                     rows);
    assert_non_null(strstr(s, "MiB (estimate, batch"));
    free(s);
    /* The default (0) is 3/4 of this machine's memory: nothing refused. */
    c.max_memory_mb = 0;
    snprintf(dir, sizeof dir, "%s/fault-memauto", enevo_test_tmpdir());
    if (evolve(&c, dir, &x, err, sizeof err))
        fail_msg("%s", err);
    s = stats_of(dir);
    assert_int_equal(count_notes(s, "memory"), 0);
    free(s);
    enevo_test_evo_data_free(&x);
}

/* An allocation that fails although the estimate allowed it: that
 * candidate is invalid (out of memory, in its note), the run goes on. */
static void allocation_failure_fails_the_candidate_not_the_run(void **state)
{
    (void)state;
    struct enevo_test_evo_data x;
    enevo_test_evo_data_init(&x, 12, 320, 80, 80);
    struct enevo_config c;
    tiny_config(&c);
    c.generations = 2;
    struct faults f = {.site = ENEVO__FAULT_ALLOC, .fail_at = 2, .code = ENOMEM};
    enevo__fault_set(fault_hook, &f);
    char dir[512], err[ENEVO_ERR_LEN];
    snprintf(dir, sizeof dir, "%s/fault-alloc", enevo_test_tmpdir());
    int rc = evolve(&c, dir, &x, err, sizeof err);
    enevo__fault_set(NULL, NULL);
    if (rc)
        fail_msg("the run failed: %s", err);
    assert_true(f.calls > 2);
    char *s = stats_of(dir);
    assert_int_equal(count_notes(s, "out of memory allocating the network's buffers"), 1);
    free(s);
    enevo_test_evo_data_free(&x);
}

/* ---- disk ---- */

/* The n-th file write of a run fails as on a full disk: the run stops
 * with an I/O error naming the file, and a resume once the disk is back
 * ends with the stats.csv of a run that never failed. Every
 * fifth write of the run is failed in turn (stats.csv and timing.csv
 * appends, which leave half a row, models, the checkpoint, best/, the
 * generation files). */
static void write_failure_stops_cleanly_and_resumes_exactly(void **state)
{
    (void)state;
    struct enevo_test_evo_data x;
    enevo_test_evo_data_init(&x, 12, 320, 80, 80);
    struct enevo_config c;
    tiny_config(&c);
    char ref[512], dir[512], err[ENEVO_ERR_LEN];
    snprintf(ref, sizeof ref, "%s/fault-disk-ref", enevo_test_tmpdir());
    struct faults count = {.site = ENEVO__FAULT_WRITE};
    enevo__fault_set(fault_hook, &count);
    int rc = evolve(&c, ref, &x, err, sizeof err);
    enevo__fault_set(NULL, NULL);
    if (rc)
        fail_msg("%s", err);
    char *want = stats_of(ref);
    int writes = count.calls, tried = 0;
    assert_true(writes > 20);
    /* Every fifth write: each kind of file is hit several times. */
    for (int n = 1; n <= writes; n += 5, tried++) {
        snprintf(dir, sizeof dir, "%s/fault-disk-%d", enevo_test_tmpdir(), n);
        struct faults f = {.site = ENEVO__FAULT_WRITE, .fail_at = n, .code = ENOSPC};
        enevo__fault_set(fault_hook, &f);
        rc = evolve(&c, dir, &x, err, sizeof err);
        enevo__fault_set(NULL, NULL);
        if (rc != ENEVO_EIO)
            fail_msg("write %d of %d (%s): expected an I/O error, got %d: %s", n, writes, f.what,
                     rc, err);
        if (!strstr(err, "No space left on device") || !strstr(err, dir))
            fail_msg("write %d: the error does not name the file and the cause: %s", n, err);
        /* The disk is back: resume. */
        if ((rc = evolve(&c, dir, &x, err, sizeof err)))
            fail_msg("write %d of %d (%s): the resume failed: %s", n, writes, f.what, err);
        char *got = stats_of(dir);
        if (strcmp(got, want))
            fail_msg("write %d of %d (%s): the resumed run's stats.csv differs", n, writes,
                     f.what);
        free(got);
    }
    printf("      %d writes in the run; %d failed one at a time, each resumed exactly\n", writes,
           tried);
    free(want);
    enevo_test_evo_data_free(&x);
}

/* ---- signals (the CLI) ---- */

static void write_config(const char *dir, char *cfg, size_t len)
{
    snprintf(cfg, len, "%s/fault.yaml", dir);
    FILE *f = fopen(cfg, "w");
    assert_non_null(f);
    fprintf(f,
            "defaults: builtin\n"
            "evolutionary:\n  generations: 3\n  lambda: 2\n  max_mflops: 5\n"
            "network:\n  learning:\n    default_train_epochs: 1\n    dataset: %s\n"
            "energy:\n  meter: model\n",
            dir);
    fclose(f);
}

/* Starts `enevo evolve CFG --run-dir DIR` with its output to DIR.log. */
static pid_t start_evolve(const char *cfg, const char *dir)
{
    char log[1100];
    snprintf(log, sizeof log, "%s.log", dir);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(fd, 1);
        dup2(fd, 2);
        execl(enevo_test_bin(), enevo_test_bin(), "evolve", cfg, "--seed", "5", "--threads", "2",
              "--run-dir", dir, (char *)NULL);
        _exit(127);
    }
    return pid;
}

/* Waits until DIR/stats.csv has `rows` rows, then sends the signals. */
static int interrupt(pid_t pid, const char *dir, int rows, const int *sigs, int nsig)
{
    char stats[1100];
    snprintf(stats, sizeof stats, "%s/stats.csv", dir);
    int sent = 0;
    for (int i = 0; i < 12000 && !sent; i++) {
        if (enevo_test_count_lines(stats) >= rows + 1) {
            for (int k = 0; k < nsig; k++)
                kill(pid, sigs[k]);
            sent = 1;
        }
        usleep(5000);
    }
    int st;
    waitpid(pid, &st, 0);
    assert_true(sent);
    return st;
}

static void signals_stop_cleanly_and_resume_exactly(void **state)
{
    (void)state;
    char dir[512], cfg[600], ref[600], run[600], out[16384], log[700];
    snprintf(dir, sizeof dir, "%s/fault-signals", enevo_test_tmpdir());
    mkdir(dir, 0755);
    enevo_test_write_idx(dir, "train", 400, 10, 5);
    enevo_test_write_idx(dir, "t10k", 100, 10, 6);
    write_config(dir, cfg, sizeof cfg);
    snprintf(ref, sizeof ref, "%s/ref", dir);
    int rc = enevo_test_cli(out, sizeof out, "evolve %s --seed 5 --threads 2 --run-dir %s", cfg,
                            ref);
    if (rc)
        fail_msg("evolve failed (%d): %s", rc, out);
    char *want = stats_of(ref);
    struct {
        const char *name;
        int sigs[2], nsig, status;
    } cases[] = {
        {"sigterm", {SIGTERM, 0}, 1, 143},
        {"sigint", {SIGINT, 0}, 1, 130},
        /* the second one exits at once, without the message */
        {"sigint-twice", {SIGINT, SIGINT}, 2, 130},
    };
    for (size_t k = 0; k < ENEVO_COUNT(cases); k++) {
        snprintf(run, sizeof run, "%s/%s", dir, cases[k].name);
        pid_t pid = start_evolve(cfg, run);
        int st = interrupt(pid, run, 3, cases[k].sigs, cases[k].nsig);
        snprintf(log, sizeof log, "%s.log", run);
        char *text = enevo_test_slurp(log);
        assert_non_null(text);
        if (!WIFEXITED(st) || WEXITSTATUS(st) != cases[k].status)
            fail_msg("%s: expected exit status %d, got %s %d; output:\n%s", cases[k].name,
                     cases[k].status, WIFEXITED(st) ? "exit" : "signal",
                     WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st), text);
        assert_non_null(strstr(text, "enevo: stopping"));
        if (cases[k].nsig == 1 && !strstr(text, "enevo resume "))
            fail_msg("%s: no resume hint in the output:\n%s", cases[k].name, text);
        free(text);
        rc = enevo_test_cli(out, sizeof out, "resume %s --threads 2", run);
        if (rc)
            fail_msg("%s: resume failed (%d): %s", cases[k].name, rc, out);
        char *got = stats_of(run);
        if (strcmp(got, want))
            fail_msg("%s: the resumed run's stats.csv differs from the uninterrupted one",
                     cases[k].name);
        free(got);
    }
    free(want);
}

const struct CMUnitTest enevo_tests_fault[] = {
    cmocka_unit_test(plan_memory_estimate_bounds_the_allocation),
    cmocka_unit_test(memory_limit_refuses_candidates_before_allocating),
    cmocka_unit_test(allocation_failure_fails_the_candidate_not_the_run),
    cmocka_unit_test(write_failure_stops_cleanly_and_resumes_exactly),
    cmocka_unit_test(signals_stop_cleanly_and_resume_exactly),
};
const size_t enevo_tests_fault_count = ENEVO_COUNT(enevo_tests_fault);
