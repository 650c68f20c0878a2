/* The enevo binary end to end: exit codes, messages, --json, save and eval,
 * on an IDX dataset the test writes. */
#include "tests.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include "enevo/data.h"

static const char *tiny_phen(void)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/tiny.phen", enevo_test_tmpdir());
    FILE *f = fopen(path, "w");
    fputs("layer:conv out_channels:8 kernel_size:3 stride:1 padding:same act:relu bias:True "
          "input:-1\n"
          "layer:pool_max kernel_size:2 stride:2 padding:valid input:0\n"
          "layer:fc act:softmax out_features:4 bias:True input:1\n"
          "learning:gradient_descent lr:0.05 momentum:0.9 weight_decay:0 nesterov:False "
          "early_stop:3 batch_size:32 epochs:3\n",
          f);
    fclose(f);
    return path;
}

static void usage_errors_exit_2(void **state)
{
    (void)state;
    char out[8192];
    assert_int_equal(enevo_test_cli(out, sizeof out, "%s", ""), 2);
    assert_int_equal(enevo_test_cli(out, sizeof out, "frobnicate"), 2);
    assert_non_null(strstr(out, "unknown command 'frobnicate'"));
    assert_int_equal(enevo_test_cli(out, sizeof out, "train"), 2);
    assert_non_null(strstr(out, "missing argument"));
    assert_int_equal(enevo_test_cli(out, sizeof out, "train x.phen --epochs zero"), 2);
    assert_non_null(strstr(out, "--epochs expects an integer"));
    assert_int_equal(enevo_test_cli(out, sizeof out, "train x.phen --bogus"), 2);
    assert_non_null(strstr(out, "unknown option '--bogus'"));
    assert_int_equal(enevo_test_cli(out, sizeof out, "eval m.enevo --epochs 3"), 2);
    assert_int_equal(enevo_test_cli(out, sizeof out, "help train"), 0);
    assert_non_null(strstr(out, "--train-subset"));
}

static void data_and_phenotype_errors_exit_1(void **state)
{
    (void)state;
    char out[8192];
    assert_int_equal(enevo_test_cli(out, sizeof out, "train /nonexistent/x.phen"), 1);
    assert_non_null(strstr(out, "/nonexistent/x.phen"));
    char bad[512];
    snprintf(bad, sizeof bad, "%s/bad.phen", enevo_test_tmpdir());
    FILE *f = fopen(bad, "w");
    fputs("layer:conv out_channels:8 kernel_size:3 padding:sideways input:-1\n", f);
    fclose(f);
    assert_int_equal(enevo_test_cli(out, sizeof out, "train %s", bad), 1);
    assert_non_null(strstr(out, "bad.phen:1:"));
    assert_non_null(strstr(out, "padding"));
    assert_int_equal(enevo_test_cli(out, sizeof out, "train %s --dataset /nonexistent", tiny_phen()), 1);
    assert_non_null(strstr(out, "/nonexistent/train-images-idx3-ubyte"));
    assert_int_equal(enevo_test_cli(out, sizeof out, "eval %s", tiny_phen()), 1);
    assert_non_null(strstr(out, "not an enevo model"));
    assert_int_equal(enevo_test_cli(out, sizeof out, "eval %s", bad), 1);
    assert_non_null(strstr(out, "bad.phen"));
}

static void train_json_save_and_eval(void **state)
{
    (void)state;
    const char *dir = enevo_test_tmpdir();
    enevo_test_write_idx(dir, "train", 1000, 4, 1);
    enevo_test_write_idx(dir, "t10k", 200, 4, 2);
    char out[16384], model[512];
    snprintf(model, sizeof model, "%s/tiny.enevo", dir);
    int rc = enevo_test_cli(out, sizeof out, "train %s --dataset %s --seed 3 --threads 2 --save %s --json",
                 tiny_phen(), dir, model);
    if (rc)
        fail_msg("enevo train failed (%d): %s", rc, out);
    /* The last line is one JSON object with the documented keys. */
    size_t len = strlen(out);
    while (len && out[len - 1] == '\n')
        out[--len] = 0;
    char *last = strrchr(out, '\n');
    cJSON *j = cJSON_Parse(last ? last + 1 : out);
    assert_non_null(j);
    const char *keys[] = {"test_accuracy", "validation_loss", "epochs", "train_images_per_s",
                          "infer_images_per_s", "params", "flops_per_image", "seconds",
                          "device"};
    for (size_t i = 0; i < ENEVO_COUNT(keys); i++)
        assert_non_null(cJSON_GetObjectItem(j, keys[i]));
    double acc = cJSON_GetObjectItem(j, "test_accuracy")->valuedouble;
    assert_true(acc > 0.8);
    cJSON_Delete(j);
    rc = enevo_test_cli(out, sizeof out, "eval %s --dataset %s --json", model, dir);
    assert_int_equal(rc, 0);
    last = strrchr(out, '{');
    j = cJSON_Parse(last);
    assert_non_null(j);
    /* eval of the saved model reproduces train's test accuracy exactly. */
    assert_true(cJSON_GetObjectItem(j, "test_accuracy")->valuedouble == acc);
    cJSON_Delete(j);
    /* A flipped byte is caught by the checksum. */
    FILE *f = fopen(model, "r+b");
    fseek(f, 200, SEEK_SET);
    int c = fgetc(f);
    fseek(f, 200, SEEK_SET);
    fputc(c ^ 0x40, f);
    fclose(f);
    assert_int_equal(enevo_test_cli(out, sizeof out, "eval %s --dataset %s", model, dir), 1);
    assert_non_null(strstr(out, "checksum"));
}

/* --device: resolved once at the start of a command; a bad name or a
 * device this build lacks fails before any work, auto always runs. */
static void device_flag(void **state)
{
    (void)state;
    char out[16384];
    const char *phen = tiny_phen();
    assert_int_equal(enevo_test_cli(out, sizeof out, "train %s --device gpu", phen), 1);
    assert_non_null(strstr(out, "enevo train: unknown device 'gpu': expected cpu, cuda, cuda:N "
                                "or auto"));
    assert_int_equal(enevo_test_cli(out, sizeof out, "bench %s --device cuda:x", phen), 1);
    assert_non_null(strstr(out, "unknown device 'cuda:x'"));
    assert_int_equal(enevo_test_cli(out, sizeof out, "train %s --device", phen), 2);
    assert_non_null(strstr(out, "--device needs a value"));
    assert_int_equal(enevo_test_cli(out, sizeof out, "eval m.enevo --tf32"), 2);
    assert_non_null(strstr(out, "unknown option '--tf32'"));
    assert_int_equal(enevo_test_cli(out, sizeof out, "help bench"), 0);
    assert_non_null(strstr(out, "--device"));
    assert_non_null(strstr(out, "--tf32"));
#ifndef ENEVO_CUDA
    /* Before the dataset is even looked for. */
    assert_int_equal(enevo_test_cli(out, sizeof out, "train %s --device cuda --dataset /nonexistent", phen),
                     1);
    assert_non_null(strstr(out, "enevo train: device 'cuda': enevo was built without CUDA; "
                                "rebuild with make CUDA=1"));
    assert_null(strstr(out, "/nonexistent"));
    assert_int_equal(enevo_test_cli(out, sizeof out, "measure %s --device cuda:1", phen), 1);
    assert_non_null(strstr(out, "built without CUDA"));
#endif
    /* bench takes the real data shape: 10 classes. */
    char phen10[600];
    snprintf(phen10, sizeof phen10, "%s/tiny10.phen", enevo_test_tmpdir());
    FILE *f = fopen(phen10, "w");
    fputs("layer:conv out_channels:4 kernel_size:3 stride:2 padding:same act:relu bias:True "
          "input:-1\n"
          "layer:fc act:softmax out_features:10 bias:True input:0\n"
          "learning:adam lr:0.001 beta1:0.9 beta2:0.999 weight_decay:0 early_stop:3 "
          "batch_size:8 epochs:1\n",
          f);
    fclose(f);
    int rc = enevo_test_cli(out, sizeof out, "bench %s --device auto --seconds 0.1 --batch-size 8 --json",
                 phen10);
    if (rc)
        fail_msg("bench --device auto failed (%d): %s", rc, out);
    /* The JSON object is the last line (it holds nested objects). */
    char *last = out + strlen(out);
    while (last > out && last[-1] == '\n')
        *--last = '\0';
    while (last > out && last[-1] != '\n')
        last--;
    cJSON *j = cJSON_Parse(last);
    assert_non_null(j);
    const cJSON *dev = cJSON_GetObjectItem(j, "device");
    assert_true(cJSON_IsString(dev));
#ifdef ENEVO_CUDA
    assert_true(!strcmp(dev->valuestring, "cpu") || !strcmp(dev->valuestring, "cuda:0"));
#else
    assert_string_equal(dev->valuestring, "cpu");
#endif
    assert_true(cJSON_GetObjectItem(j, "train_images_per_s")->valuedouble > 0);
    assert_true(cJSON_GetObjectItem(j, "infer_images_per_s")->valuedouble > 0);
    cJSON_Delete(j);
    assert_non_null(strstr(out, "device cpu (CPU, ") || strstr(out, "device cuda:0 ("));
    /* A config's device is checked when it loads, with its place. */
    char cfg[600];
    snprintf(cfg, sizeof cfg, "%s/gpu.yaml", enevo_test_tmpdir());
    f = fopen(cfg, "w");
    fputs("threads: 1\ndevice: gpu\n", f);
    fclose(f);
    assert_int_equal(enevo_test_cli(out, sizeof out, "evolve %s --run-dir %s/gpu-run", cfg,
                         enevo_test_tmpdir()),
                     1);
    assert_non_null(strstr(out, "gpu.yaml:2:9: device: unknown device 'gpu'"));
}

/* The acceptance check of a killed run: SIGKILL while it works, resume, and
 * compare stats.csv with an uninterrupted run's, byte for byte. */
static void evolve_killed_with_sigkill_resumes_exactly(void **state)
{
    (void)state;
    char dir[512], cfg[600], out[16384];
    snprintf(dir, sizeof dir, "%s/evodata", enevo_test_tmpdir());
    mkdir(dir, 0755);
    enevo_test_write_idx(dir, "train", 600, 10, 5);
    enevo_test_write_idx(dir, "t10k", 100, 10, 6);
    snprintf(cfg, sizeof cfg, "%s/tiny.yaml", dir);
    FILE *f = fopen(cfg, "w");
    fprintf(f, "evolutionary:\n  generations: 3\n  lambda: 3\n  reevaluate_parent: true\n"
               "  max_mflops: 5\n"
               "network:\n  learning:\n    default_train_epochs: 1\n    dataset: %s\n",
            dir);
    fclose(f);
    int rc = enevo_test_cli(out, sizeof out, "evolve %s --seed 3 --threads 2 --run-dir %s/a", cfg, dir);
    if (rc)
        fail_msg("evolve failed (%d): %s", rc, out);
    /* The same run in the background, killed once it has 4 rows. */
    char stats[700], rundir[600];
    snprintf(stats, sizeof stats, "%s/b/stats.csv", dir);
    snprintf(rundir, sizeof rundir, "%s/b", dir);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* enevo itself, no shell in between, so the SIGKILL reaches it. */
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 1);
        dup2(null, 2);
        execl(enevo_test_bin(), enevo_test_bin(), "evolve", cfg, "--seed", "3", "--threads", "2", "--run-dir", rundir,
              (char *)NULL);
        _exit(127);
    }
    int killed = 0;
    for (int i = 0; i < 6000 && !killed; i++) {
        if (enevo_test_count_lines(stats) >= 5) {
            kill(pid, SIGKILL);
            killed = 1;
        }
        usleep(10000);
    }
    int st;
    waitpid(pid, &st, 0);
    assert_true(killed);
    assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
    rc = enevo_test_cli(out, sizeof out, "resume %s/b --threads 2", dir);
    if (rc)
        fail_msg("resume failed (%d): %s", rc, out);
    assert_non_null(strstr(out, "resuming"));
    char pa[700];
    snprintf(pa, sizeof pa, "%s/a/stats.csv", dir);
    char *a = enevo_test_slurp(pa), *b = enevo_test_slurp(stats);
    assert_non_null(a);
    assert_non_null(b);
    if (strcmp(a, b)) {
        size_t i = 0;
        while (a[i] == b[i])
            i++;
        fail_msg("stats.csv differ at byte %zu:\n--- uninterrupted: %.300s\n--- resumed: %.300s", i,
                 a + (i > 100 ? i - 100 : 0), b + (i > 100 ? i - 100 : 0));
    }
    free(a);
    free(b);
    /* A config changed under a run is refused. */
    snprintf(pa, sizeof pa, "%s/b/config.used.yaml", dir);
    f = fopen(pa, "a");
    fputs("threads: 1\n", f);
    fclose(f);
    rc = enevo_test_cli(out, sizeof out, "resume %s/b", dir);
    assert_int_equal(rc, 1);
}

const struct CMUnitTest enevo_tests_cli[] = {
    cmocka_unit_test(evolve_killed_with_sigkill_resumes_exactly),
    cmocka_unit_test(usage_errors_exit_2),
    cmocka_unit_test(data_and_phenotype_errors_exit_1),
    cmocka_unit_test(train_json_save_and_eval),
    cmocka_unit_test(device_flag),
};
const size_t enevo_tests_cli_count = ENEVO_COUNT(enevo_tests_cli);
