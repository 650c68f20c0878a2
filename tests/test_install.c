/* enevo installed and embedded like a C library (issue 17): the version,
 * the man page and the bash completion against the command table, then a
 * staged `make install DESTDIR=... PREFIX=/usr` of the build under test:
 * only enevo_* symbols exported, the examples built through pkg-config and
 * run against the installed libenevo.so, and `make uninstall` leaving the
 * stage empty.
 *
 * The build under test is the directory of ENEVO_TEST_BIN (build/ by
 * default), with CUDA=1 when the library has the cuda backend; `make
 * install` of it only links and copies when `make test` built it. A
 * sanitizer build (make asan) skips the staged checks: its objects need
 * the sanitizer runtime, which a plain program linking libenevo.so lacks;
 * so does a build made with other flags (BUILD/flags.txt), which make
 * install would recompile. A missing tool (make, cc, pkg-config, nm, man,
 * bash) is a skip that says which. */
#include "tests.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include "enevo/config.h"
#include "enevo/data.h"
#include "enevo/version.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define SANITIZED 1
#endif
#endif
#ifndef SANITIZED
#define SANITIZED 0
#endif

/* The build directory of the test binary: where make's BUILD points. */
static const char *build_dir(void)
{
    static char dir[512];
    const char *t = getenv("ENEVO_TEST_BIN");
    snprintf(dir, sizeof dir, "%s", t ? t : "build/enevo-tests");
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = 0;
    else
        snprintf(dir, sizeof dir, ".");
    return dir;
}

/* `sh -c CMD` with stdout and stderr into out (may be NULL); the exit code. */
static int sh(char *out, size_t outlen, const char *fmt, ...)
{
    char cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    char full[8300];
    snprintf(full, sizeof full, "(%s) 2>&1", cmd);
    FILE *p = popen(full, "r");
    assert_non_null(p);
    char sink[4096];
    size_t n = 0;
    if (out) {
        n = fread(out, 1, outlen - 1, p);
        out[n] = 0;
    }
    while (fread(sink, 1, sizeof sink, p) > 0)
        ;
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static bool have(const char *tool)
{
    return sh(NULL, 0, "command -v %s >/dev/null", tool) == 0;
}

/* Skips (saying why) unless every tool named is on PATH. */
#define NEED(...)                                                                                  \
    do {                                                                                           \
        const char *tools_[] = {__VA_ARGS__};                                                      \
        for (size_t i_ = 0; i_ < ENEVO_COUNT(tools_); i_++)                                        \
            if (!have(tools_[i_])) {                                                               \
                print_message("%s not found: this check needs it (scripts/deps.sh lists the "      \
                              "packages)\n",                                                       \
                              tools_[i_]);                                                         \
                skip();                                                                            \
            }                                                                                      \
    } while (0)

#define NEED_PLAIN_BUILD()                                                                         \
    do {                                                                                           \
        if (SANITIZED) {                                                                           \
            print_message("sanitizer build: the staged install is checked by make test "           \
                          "(an ASan libenevo.so cannot be loaded by a plain program)\n");          \
            skip();                                                                                \
        }                                                                                          \
    } while (0)

static int by_name(const void *a, const void *b)
{
    return strcmp(a, b);
}

/* Whitespace runs become one space, the ends trimmed (in place). */
static char *squeeze(char *s)
{
    char *w = s;
    bool space = true;
    for (const char *r = s; *r; r++) {
        if (isspace((unsigned char)*r)) {
            if (!space)
                *w++ = ' ';
            space = true;
        } else {
            *w++ = *r;
            space = false;
        }
    }
    if (w > s && w[-1] == ' ')
        w--;
    *w = 0;
    return s;
}

/* The command names `enevo help` lists ("  enevo NAME ..." lines). */
static int help_commands(char names[][32], int max)
{
    static char out[65536];
    int rc = sh(out, sizeof out, "%s help", enevo_test_bin());
    assert_int_equal(rc, 0);
    int n = 0;
    for (char *l = strtok(out, "\n"); l && n < max; l = strtok(NULL, "\n"))
        if (!strncmp(l, "  enevo ", 8) && sscanf(l + 8, "%31s", names[n]) == 1)
            n++;
    assert_true(n >= 10);
    return n;
}

/* make -s [CUDA=1] BUILD=<the build under test> ARGS, with the parent make's
 * flags (jobserver, level) left out. */
static int make(char *out, size_t outlen, const char *args)
{
    return sh(out, outlen,
              "env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s --no-print-directory BUILD=%s%s %s",
              build_dir(), strstr(enevo_backends(), "cuda") ? " CUDA=1" : "", args);
}

/* Skips when the build under test was compiled with flags other than
 * make's defaults (CFLAGS=... on make's command line): `make install` would
 * rebuild it with the defaults. */
static void need_default_flags(void)
{
    char flags[700], args[800], log[4096];
    snprintf(flags, sizeof flags, "%s/flags.txt", build_dir());
    snprintf(args, sizeof args, "print-flags | cmp -s - %s", flags);
    if (!access(flags, R_OK) && make(log, sizeof log, args)) {
        print_message("%s was built with other flags than make's defaults (%s); the staged "
                      "install is checked on a default build (make test)\n",
                      build_dir(), flags);
        skip();
    }
}

/* A staged install, made once per process: tmp/stage/usr/... */
static const char *stage(void)
{
    static char dir[600];
    static int state; /* 0 not tried, 1 made, -1 failed */
    static char log[8192];
    need_default_flags();
    if (!state) {
        snprintf(dir, sizeof dir, "%s/stage", enevo_test_tmpdir());
        char args[800];
        snprintf(args, sizeof args, "install DESTDIR=%s PREFIX=/usr", dir);
        state = make(log, sizeof log, args) ? -1 : 1;
    }
    if (state < 0)
        fail_msg("make install DESTDIR=%s PREFIX=/usr failed:\n%.4000s", dir, log);
    return dir;
}

/* ---- the version ---- */

static void install_version_and_backends(void **state)
{
    (void)state;
    assert_string_equal(enevo_version(), ENEVO_VERSION_STRING);
    char want[32];
    snprintf(want, sizeof want, "%d.%d.%d", ENEVO_VERSION_MAJOR, ENEVO_VERSION_MINOR,
             ENEVO_VERSION_PATCH);
    assert_string_equal(enevo_version(), want);
    const char *b = enevo_backends();
    assert_true(!strcmp(b, "cpu") || !strcmp(b, "cpu cuda"));
    char out[4096], expect[256];
    assert_int_equal(sh(out, sizeof out, "%s --version", enevo_test_bin()), 0);
    snprintf(expect, sizeof expect, "enevo %s\nbackends: %s\n", ENEVO_VERSION_STRING, b);
    assert_string_equal(out, expect);
}

/* ---- the man page ---- */

/* `enevo help --man`, rendered by man, holds every command's usage and
 * help text as `enevo help COMMAND` prints them (words and order; the
 * line breaks are man's). */
static void install_man_page_matches_help(void **state)
{
    (void)state;
    NEED("man", "groff");
    char page[600];
    snprintf(page, sizeof page, "%s/enevo.1", enevo_test_tmpdir());
    static char out[262144], one[65536];
    assert_int_equal(sh(out, sizeof out, "%s help --man >%s", enevo_test_bin(), page), 0);
    /* groff -ww: every warning (bad escapes, unknown macros) is printed. */
    assert_int_equal(sh(out, sizeof out, "groff -man -Tascii -ww -z %s", page), 0);
    if (out[0])
        fail_msg("groff warns about %s:\n%s", page, out);
    char *roff = enevo_test_slurp(page);
    assert_non_null(roff);
    char th[128];
    snprintf(th, sizeof th, ".TH ENEVO 1 \"\" \"enevo %s\"", enevo_version());
    assert_non_null(strstr(roff, th));
    char names[32][32];
    int n = help_commands(names, 32);
    int sections = 0;
    for (const char *s = roff; (s = strstr(s, "\n.SS ")); s++)
        sections++;
    assert_int_equal(sections, n); /* one section per command, no more */
    free(roff);
    assert_int_equal(sh(out, sizeof out, "MANWIDTH=100 man -E ascii -l %s", page), 0);
    squeeze(out);
    assert_non_null(strstr(out, "NAME enevo - energy-aware neuroevolution"));
    for (int i = 0; i < n; i++) {
        assert_int_equal(sh(one, sizeof one, "%s help %s", enevo_test_bin(), names[i]), 0);
        assert_true(!strncmp(one, "usage: ", 7));
        squeeze(one);
        if (!strstr(out, one + 7))
            fail_msg("the man page lacks or differs from `enevo help %s`:\n%s", names[i], one + 7);
    }
}

/* ---- the bash completion ---- */

/* Completions bash gives for the words of a command line (shell words; the
 * last is the one being completed), one per line, sorted. */
static void complete(const char *script, const char *cwd, const char *words, char *out,
                     size_t outlen)
{
    char driver[600];
    snprintf(driver, sizeof driver, "%s/complete.sh", enevo_test_tmpdir());
    if (access(driver, R_OK)) {
        FILE *f = fopen(driver, "w");
        assert_non_null(f);
        fputs("source \"$1\"; shift; COMP_WORDS=(\"$@\"); COMP_CWORD=$(($# - 1)); _enevo\n"
              "printf '%s\\n' \"${COMPREPLY[@]}\" | sed '/^$/d' | sort\n",
              f);
        fclose(f);
    }
    int rc = sh(out, outlen, "cd '%s' && bash '%s' '%s' %s", cwd, driver, script, words);
    if (rc)
        fail_msg("completing '%s' failed (%d): %s", words, rc, out);
}

/* The flags of a command's usage as `enevo help COMMAND` prints it, each
 * once, sorted, one per line. */
static void usage_flags(const char *cmd, char *out, size_t outlen)
{
    char one[16384];
    assert_int_equal(sh(one, sizeof one, "%s help %s", enevo_test_bin(), cmd), 0);
    char *end = strstr(one, "\n\n"); /* the usage ends at the blank line */
    assert_non_null(end);
    *end = 0;
    char list[64][48];
    int n = 0;
    for (char *t = strtok(one + 7, " \n[]"); t; t = strtok(NULL, " \n[]")) {
        if (t[0] != '-' || n == 64)
            continue;
        bool dup = false;
        for (int i = 0; i < n; i++)
            dup |= !strcmp(list[i], t);
        if (!dup)
            snprintf(list[n++], sizeof list[0], "%s", t);
    }
    qsort(list, (size_t)n, sizeof list[0], by_name);
    size_t at = 0;
    out[0] = 0;
    for (int i = 0; i < n; i++)
        at += (size_t)snprintf(out + at, outlen - at, "%s\n", list[i]);
}

static void install_bash_completion_matches_help(void **state)
{
    (void)state;
    NEED("bash", "sort");
    const char *tmp = enevo_test_tmpdir();
    char script[600], dir[600];
    snprintf(script, sizeof script, "%s/enevo.bash", tmp);
    snprintf(dir, sizeof dir, "%s/compl", tmp);
    static char out[65536], want[65536];
    assert_int_equal(
        sh(out, sizeof out, "%s help --bash-completion >%s && bash -n %s", enevo_test_bin(), script, script),
        0);
    /* Files and directories to complete from. */
    assert_int_equal(sh(out, sizeof out,
                        "mkdir -p %s/runs/r1 %s/runs/r2 && touch %s/model.enevo %s/net.phen "
                        "'%s/my data.npz'",
                        dir, dir, dir, dir, dir),
                     0);

    /* The first word: every command of `enevo help`, and the two options. */
    char names[32][32];
    int n = help_commands(names, 32);
    complete(script, dir, "enevo ''", out, sizeof out);
    for (int i = 0; i < n; i++) {
        char line[40];
        snprintf(line, sizeof line, "%.31s\n", names[i]);
        if (!strstr(out, line))
            fail_msg("'enevo <TAB>' lacks %s: %s", names[i], out);
    }
    assert_non_null(strstr(out, "--version\n"));
    complete(script, dir, "enevo ev", out, sizeof out);
    assert_string_equal(out, "eval\nevolve\n");

    /* After a command and '-': exactly the flags its usage lists. */
    for (int i = 0; i < n; i++) {
        char words[64];
        snprintf(words, sizeof words, "enevo %.31s -", names[i]);
        complete(script, dir, words, out, sizeof out);
        usage_flags(names[i], want, sizeof want);
        if (strcmp(out, want))
            fail_msg("'enevo %s -<TAB>' gives\n%s\nits usage lists\n%s", names[i], out, want);
    }

    /* Values: word lists, files, directories, nothing for numbers. */
    complete(script, dir, "enevo train x.phen --labels ''", out, sizeof out);
    assert_string_equal(out, "coarse\nfine\n");
    complete(script, dir, "enevo eval m --device ''", out, sizeof out);
    assert_string_equal(out, "auto\ncpu\ncuda\ncuda:0\n");
    complete(script, dir, "enevo measure m --meter ''", out, sizeof out);
    assert_string_equal(out, "auto\nmodel\nnvml\nrapl\n");
    complete(script, dir, "enevo export m --format ''", out, sizeof out);
    assert_string_equal(out, "c\nonnx\n");
    complete(script, dir, "enevo train x.phen --epochs ''", out, sizeof out);
    assert_string_equal(out, "");
    complete(script, dir, "enevo eval mo", out, sizeof out);
    assert_string_equal(out, "model.enevo\n");
    complete(script, dir, "enevo train x --dataset my", out, sizeof out);
    assert_string_equal(out, "my data.npz\n"); /* a name with a space stays one */
    complete(script, dir, "enevo report runs/", out, sizeof out);
    assert_string_equal(out, "runs/r1\nruns/r2\n"); /* directories only */
    complete(script, dir, "enevo help tr", out, sizeof out);
    assert_string_equal(out, "train\n");
}

/* ---- the staged install ---- */

/* Every function a public header declares ENEVO_API, into names[]. A
 * declaration at the start of a line without the mark (it would be hidden
 * in libenevo.so) fails the test, naming the header and line. */
static int api_functions(char names[][64], int max)
{
    int n = 0;
    DIR *d = opendir("include/enevo");
    assert_non_null(d);
    for (struct dirent *e; (e = readdir(d));) {
        size_t len = strlen(e->d_name);
        if (len < 3 || strcmp(e->d_name + len - 2, ".h"))
            continue;
        char path[600];
        snprintf(path, sizeof path, "include/enevo/%.300s", e->d_name);
        char *text = enevo_test_slurp(path);
        assert_non_null(text);
        bool marked = false; /* the line before began with ENEVO_API */
        int line = 1;
        for (char *l = text; *l; line++) {
            char *nl = strchr(l, '\n');
            if (nl)
                *nl = 0;
            const char *paren = strchr(l, '(');
            bool decl = (isalpha((unsigned char)l[0]) || l[0] == '_') && strncmp(l, "typedef", 7) &&
                        strncmp(l, "static", 6) && strncmp(l, "struct", 6) && strncmp(l, "enum", 4);
            if (decl && paren) {
                const char *b = paren;
                while (b > l && (isalnum((unsigned char)b[-1]) || b[-1] == '_'))
                    b--;
                if (!strncmp(b, "enevo_", 6)) {
                    if (strncmp(l, "ENEVO_API ", 10) && !marked)
                        fail_msg("%s:%d: a public function without ENEVO_API (hidden in "
                                 "libenevo.so): %s",
                                 path, line, l);
                    assert_true(n < max);
                    snprintf(names[n++], 64, "%.*s", (int)(paren - b), b);
                }
            }
            marked = !strncmp(l, "ENEVO_API ", 10) && !paren;
            l = nl ? nl + 1 : l + strlen(l);
        }
        free(text);
    }
    closedir(d);
    return n;
}

/* libenevo.so exports the public API and nothing else: no enevo__*
 * helper, no symbol of another name, and every ENEVO_API function. */
static void install_exports_only_public_api(void **state)
{
    (void)state;
    NEED_PLAIN_BUILD();
    NEED("make", "nm", "readelf");
    const char *st = stage();
    static char out[262144];
    char lib[800];
    snprintf(lib, sizeof lib, "%s/usr/lib/libenevo.so.%s", st, ENEVO_VERSION_STRING);
    assert_int_equal(sh(out, sizeof out, "nm -D --defined-only %s | awk '{print $3}'", lib), 0);
    int exported = 0, bad = 0;
    char badlist[2048] = "";
    for (char *l = strtok(out, "\n"); l; l = strtok(NULL, "\n")) {
        char *at = strchr(l, '@'); /* versioned names: NAME@@VERSION */
        if (at)
            *at = 0;
        if (strncmp(l, "enevo_", 6) || !strncmp(l, "enevo__", 7)) {
            if (bad++ < 20)
                snprintf(badlist + strlen(badlist), sizeof badlist - strlen(badlist), " %s", l);
        } else {
            exported++;
        }
    }
    if (bad)
        fail_msg("libenevo.so exports %d symbols outside the public API:%s", bad, badlist);
    static char names[512][64];
    int n = api_functions(names, 512);
    assert_true(n > 100);
    assert_int_equal(
        sh(out, sizeof out, "nm -D --defined-only %s | awk '{print \" \" $3 \" \"}'", lib), 0);
    for (int i = 0; i < n; i++) {
        char key[80];
        snprintf(key, sizeof key, " %.63s \n", names[i]);
        if (!strstr(out, key))
            fail_msg("%s is declared ENEVO_API but libenevo.so does not export it", names[i]);
    }
    assert_int_equal(exported, n);
    /* The soname carries the major version; the links point at it. */
    assert_int_equal(sh(out, sizeof out, "readelf -d %s | grep SONAME", lib), 0);
    char soname[64];
    snprintf(soname, sizeof soname, "[libenevo.so.%d]", ENEVO_VERSION_MAJOR);
    assert_non_null(strstr(out, soname));
    assert_int_equal(sh(out, sizeof out, "readlink %s/usr/lib/libenevo.so", st), 0);
    snprintf(soname, sizeof soname, "libenevo.so.%d\n", ENEVO_VERSION_MAJOR);
    assert_string_equal(out, soname);
    /* The static library has the same API. */
    assert_int_equal(sh(out, sizeof out,
                        "nm --defined-only %s/usr/lib/libenevo.a | grep -c ' T enevo_version$'",
                        st),
                     0);
}

/* The number after `key` in text, or NAN. */
static double number_after(const char *text, const char *key)
{
    const char *s = strstr(text, key);
    return s ? strtod(s + strlen(key), NULL) : NAN;
}

/* The two examples, compiled with `pkg-config --cflags --libs enevo`
 * pointed at the stage, linked to its libenevo.so: train_epoch trains a
 * network for one epoch and saves it; classify reads it back and
 * classifies the test images; the installed enevo's eval agrees. */
static void install_examples_build_and_run(void **state)
{
    (void)state;
    NEED_PLAIN_BUILD();
    NEED("make", "cc", "pkg-config", "readelf");
    const char *st = stage();
    const char *tmp = enevo_test_tmpdir();
    static char out[65536];
    char pc[1500];
    snprintf(pc, sizeof pc, "PKG_CONFIG_PATH=%s/usr/lib/pkgconfig PKG_CONFIG_SYSROOT_DIR=%s", st,
             st);
    assert_int_equal(sh(out, sizeof out, "%s pkg-config --modversion enevo", pc), 0);
    assert_string_equal(squeeze(out), ENEVO_VERSION_STRING);
    const char *ex[] = {"classify", "train_epoch"};
    for (size_t i = 0; i < ENEVO_COUNT(ex); i++)
        if (sh(out, sizeof out,
               "cc -std=c11 -Wall -Wextra -Werror -pedantic -O1 examples/%s.c -o %s/%s "
               "$(%s pkg-config --cflags --libs enevo)",
               ex[i], tmp, ex[i], pc))
            fail_msg("examples/%s.c does not build against the staged install:\n%s", ex[i], out);
    /* They link the shared library (the soname), not a copy of it. */
    assert_int_equal(sh(out, sizeof out, "readelf -d %s/classify", tmp), 0);
    char needed[64];
    snprintf(needed, sizeof needed, "[libenevo.so.%d]", ENEVO_VERSION_MAJOR);
    assert_non_null(strstr(out, needed));
    /* The umbrella header includes every public header and compiles as C++. */
    char *umbrella = enevo_test_slurp("include/enevo/enevo.h");
    assert_non_null(umbrella);
    DIR *d = opendir("include/enevo");
    assert_non_null(d);
    for (struct dirent *e; (e = readdir(d));) {
        char inc[300];
        snprintf(inc, sizeof inc, "#include \"enevo/%s\"", e->d_name);
        if (strstr(e->d_name, ".h") && strcmp(e->d_name, "enevo.h") && !strstr(umbrella, inc))
            fail_msg("include/enevo/enevo.h does not include enevo/%s", e->d_name);
    }
    closedir(d);
    free(umbrella);
    if (have("c++")) {
        if (sh(out, sizeof out,
               "echo '#include <enevo/enevo.h>' | c++ -x c++ -fsyntax-only -Wall -Werror - "
               "$(%s pkg-config --cflags enevo)",
               pc))
            fail_msg("<enevo/enevo.h> does not compile as C++:\n%s", out);
    } else {
        print_message("c++ not found: the C++ include check is left out\n");
    }

    char data[600], model[700], run_env[900];
    snprintf(data, sizeof data, "%s/idx", tmp);
    mkdir(data, 0700);
    enevo_test_write_idx(data, "train", 400, 4, 11);
    enevo_test_write_idx(data, "t10k", 400, 4, 12);
    snprintf(model, sizeof model, "%s/epoch.enevo", tmp);
    snprintf(run_env, sizeof run_env, "LD_LIBRARY_PATH=%s/usr/lib OMP_NUM_THREADS=2", st);
    /* A slow learning rate: one epoch leaves some test images wrong (~96%
     * right), so the three accuracies below are compared on a result that
     * depends on every weight, not on an all-correct one. */
    char phen[700];
    snprintf(phen, sizeof phen, "%s/net.phen", tmp);
    FILE *f = fopen(phen, "w");
    assert_non_null(f);
    fputs("layer:conv out_channels:8 kernel_size:3 stride:1 padding:same act:relu bias:True "
          "input:-1\n"
          "layer:pool_max kernel_size:2 stride:2 padding:valid input:0\n"
          "layer:fc act:softmax out_features:4 bias:True input:1\n"
          "learning:gradient_descent lr:0.002 momentum:0 weight_decay:0 nesterov:False "
          "early_stop:3 batch_size:16 epochs:5\n",
          f);
    fclose(f);
    int rc = sh(out, sizeof out, "%s %s/train_epoch %s %s %s", run_env, tmp, phen, data, model);
    if (rc)
        fail_msg("train_epoch failed (%d):\n%s", rc, out);
    assert_non_null(strstr(out, "epoch 1/1"));
    double trained = number_after(out, "test accuracy ");
    rc = sh(out, sizeof out,
            "%s %s/classify %s %s/t10k-images-idx3-ubyte.gz "
            "%s/t10k-labels-idx1-ubyte.gz",
            run_env, tmp, model, data, data);
    if (rc)
        fail_msg("classify failed (%d):\n%s", rc, out);
    double classified = number_after(out, "accuracy ");
    assert_non_null(strstr(out, "of 400 images)"));
    rc = sh(out, sizeof out,
            "%s %s/usr/bin/enevo eval %s --dataset %s --json 2>/dev/null | tail -n 1", run_env, st,
            model, data);
    if (rc)
        fail_msg("the installed enevo eval failed (%d):\n%s", rc, out);
    cJSON *j = cJSON_Parse(out);
    assert_non_null(j);
    double evaluated = cJSON_GetObjectItem(j, "test_accuracy")->valuedouble;
    cJSON_Delete(j);
    print_message("one epoch: test accuracy %.4f (train_epoch), %.4f (classify), %.4f (enevo "
                  "eval)\n",
                  trained, classified, evaluated);
    assert_true(evaluated > 0.5); /* 4 classes: chance is 0.25 */
    /* The same weights and normalisation; the float operations of the
     * normalisation differ in the last bit, so an image may flip. */
    assert_true(fabs(classified - evaluated) <= 2.0 / 400);
    assert_true(fabs(trained - evaluated) <= 2.0 / 400);
}

/* make install puts exactly the documented files in the stage, the man
 * page, the completion and the config copies as the binary prints and
 * holds them; make uninstall leaves the stage empty. */
static void install_then_uninstall_leaves_stage_empty(void **state)
{
    (void)state;
    NEED_PLAIN_BUILD();
    NEED("make", "find", "sort", "man");
    need_default_flags();
    char st[600], args[800];
    snprintf(st, sizeof st, "%s/stage2", enevo_test_tmpdir());
    mkdir(st, 0700);
    static char out[65536], want[8192];
    snprintf(args, sizeof args, "install DESTDIR=%s PREFIX=/usr", st);
    if (make(out, sizeof out, args))
        fail_msg("make %s failed:\n%s", args, out);
    assert_int_equal(sh(out, sizeof out, "cd %s && find . ! -type d | sort", st), 0);
    size_t at = 0;
#define WANT(...) (at += (size_t)snprintf(want + at, sizeof want - at, __VA_ARGS__))
    WANT("./usr/bin/enevo\n");
    DIR *d = opendir("include/enevo");
    assert_non_null(d);
    char headers[32][64];
    int nh = 0;
    for (struct dirent *e; (e = readdir(d)) && nh < 32;)
        if (strstr(e->d_name, ".h"))
            snprintf(headers[nh++], 64, "%.63s", e->d_name);
    closedir(d);
    qsort(headers, (size_t)nh, sizeof headers[0], by_name);
    for (int i = 0; i < nh; i++)
        WANT("./usr/include/enevo/%s\n", headers[i]);
    WANT("./usr/lib/libenevo.a\n./usr/lib/libenevo.so\n./usr/lib/libenevo.so.%d\n"
         "./usr/lib/libenevo.so.%s\n./usr/lib/pkgconfig/enevo.pc\n"
         "./usr/share/bash-completion/completions/enevo\n"
         "./usr/share/enevo/default.grammar\n./usr/share/enevo/default.yaml\n"
         "./usr/share/enevo/pareto.yaml\n./usr/share/man/man1/enevo.1\n",
         ENEVO_VERSION_MAJOR, ENEVO_VERSION_STRING);
#undef WANT
    assert_string_equal(out, want);
    /* The installed copies are what the binary prints and holds. */
    assert_int_equal(sh(out, sizeof out,
                        "%s help --man | cmp - %s/usr/share/man/man1/enevo.1 && "
                        "%s help --bash-completion | cmp - "
                        "%s/usr/share/bash-completion/completions/enevo",
                        enevo_test_bin(), st, enevo_test_bin(), st),
                     0);
    char path[800];
    snprintf(path, sizeof path, "%s/usr/share/enevo/default.yaml", st);
    char *text = enevo_test_slurp(path);
    assert_non_null(text);
    assert_string_equal(text, enevo_default_config_text());
    free(text);
    snprintf(path, sizeof path, "%s/usr/share/enevo/default.grammar", st);
    text = enevo_test_slurp(path);
    assert_non_null(text);
    assert_string_equal(text, enevo_default_grammar_text());
    free(text);
    /* man renders the installed page. */
    assert_int_equal(sh(out, sizeof out, "MANWIDTH=80 man -l %s/usr/share/man/man1/enevo.1", st),
                     0);
    assert_non_null(strstr(out, "SYNOPSIS"));
    /* The installed binary runs (its libraries are the system's). */
    assert_int_equal(sh(out, sizeof out, "%s/usr/bin/enevo --version", st), 0);
    assert_non_null(strstr(out, ENEVO_VERSION_STRING));

    snprintf(args, sizeof args, "uninstall DESTDIR=%s PREFIX=/usr", st);
    if (make(out, sizeof out, args))
        fail_msg("make %s failed:\n%s", args, out);
    assert_int_equal(sh(out, sizeof out, "cd %s && find . -mindepth 1", st), 0);
    if (out[0])
        fail_msg("make uninstall left in the stage:\n%s", out);
}

const struct CMUnitTest enevo_tests_install[] = {
    cmocka_unit_test(install_version_and_backends),
    cmocka_unit_test(install_man_page_matches_help),
    cmocka_unit_test(install_bash_completion_matches_help),
    cmocka_unit_test(install_exports_only_public_api),
    cmocka_unit_test(install_examples_build_and_run),
    cmocka_unit_test(install_then_uninstall_leaves_stage_empty),
};
const size_t enevo_tests_install_count = ENEVO_COUNT(enevo_tests_install);
