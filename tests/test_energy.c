/* tests/test_energy.c — the energy meters: RAPL on a fake powercap tree
 * (accounting, wraparound, permissions), NVML absence (or, on a machine
 * with the driver, a live reading), `auto` selection, the model estimate,
 * the fake meter and the read wrapper's refusal of impossible readings. */
#include "tests.h"

#include <dlfcn.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "enevo/energy.h"

static void write_file(const char *path, const char *fmt, ...)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(f, fmt, ap);
    va_end(ap);
    assert_int_equal(fclose(f), 0);
}

static void pathf(char *out, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(out, n, fmt, ap);
    va_end(ap);
    assert_true(w > 0 && (size_t)w < n);
}

/* A zone directory dir with name, energy_uj and max_energy_range_uj. */
static void make_zone(const char *dir, const char *name, unsigned long long uj,
                      unsigned long long range)
{
    char p[512];
    assert_int_equal(mkdir(dir, 0755), 0);
    pathf(p, sizeof p, "%s/name", dir);
    write_file(p, "%s\n", name);
    pathf(p, sizeof p, "%s/energy_uj", dir);
    write_file(p, "%llu\n", uj);
    pathf(p, sizeof p, "%s/max_energy_range_uj", dir);
    write_file(p, "%llu\n", range);
}

/* A powercap tree laid out as the real sysfs: package-0 with core and dram
 * subzones inside it and linked at the top level, a psys zone and an mmio
 * zone that must both be ignored. Returns the root in root. */
static void make_tree(char *root, size_t n, const char *tag, bool dram, unsigned long long range)
{
    pathf(root, n, "%s/powercap-%s", enevo_test_tmpdir(), tag);
    assert_int_equal(mkdir(root, 0755), 0);
    char d[512], link[512];
    pathf(d, sizeof d, "%s/intel-rapl:0", root);
    make_zone(d, "package-0", 1000000, range);
    pathf(d, sizeof d, "%s/intel-rapl:0/intel-rapl:0:0", root);
    make_zone(d, "core", 777, range);
    pathf(link, sizeof link, "%s/intel-rapl:0:0", root);
    assert_int_equal(symlink("intel-rapl:0/intel-rapl:0:0", link), 0);
    if (dram) {
        pathf(d, sizeof d, "%s/intel-rapl:0/intel-rapl:0:1", root);
        make_zone(d, "dram", 500000, range);
        pathf(link, sizeof link, "%s/intel-rapl:0:1", root);
        assert_int_equal(symlink("intel-rapl:0/intel-rapl:0:1", link), 0);
    }
    pathf(d, sizeof d, "%s/intel-rapl:1", root);
    make_zone(d, "psys", 123456, range);
    pathf(d, sizeof d, "%s/intel-rapl-mmio:0", root);
    make_zone(d, "package-0", 999, range);
}

static void set_uj(const char *root, const char *zone, unsigned long long uj)
{
    char p[512];
    pathf(p, sizeof p, "%s/%s/energy_uj", root, zone);
    write_file(p, "%llu\n", uj);
}

static struct enevo_meter *open_rapl(const char *root)
{
    struct enevo_meter_cfg c = enevo_meter_defaults();
    c.rapl_root = root;
    struct enevo_meter *m = NULL;
    char err[ENEVO_ERR_LEN] = "";
    int rc = enevo_meter_open("rapl", &c, &m, NULL, 0, err, sizeof err);
    if (rc)
        fail_msg("rapl open: %s", err);
    return m;
}

static void rapl_sums_package_and_dram_in_joules(void **state)
{
    (void)state;
    char root[512], err[ENEVO_ERR_LEN];
    make_tree(root, sizeof root, "sum", true, 262143328850ULL);
    struct enevo_meter *m = open_rapl(root);
    assert_string_equal(m->label, "rapl-package+dram");
    assert_false(m->estimate);
    assert_non_null(strstr(m->device, "package-0+dram"));
    double j, t, t0;
    assert_int_equal(enevo_meter_read(m, &j, &t0, err, sizeof err), 0);
    assert_true(j == 0.0);
    /* +2 J on the package, +0.5 J on dram (uJ, not mJ); core, psys and
     * mmio change too but are not counted. */
    set_uj(root, "intel-rapl:0", 3000000);
    set_uj(root, "intel-rapl:0/intel-rapl:0:1", 1000000);
    set_uj(root, "intel-rapl:0/intel-rapl:0:0", 9000000);
    set_uj(root, "intel-rapl:1", 99000000);
    set_uj(root, "intel-rapl-mmio:0", 99000000);
    assert_int_equal(enevo_meter_read(m, &j, &t, err, sizeof err), 0);
    assert_true(fabs(j - 2.5) < 1e-9);
    assert_true(t >= t0);
    /* accumulates across reads */
    set_uj(root, "intel-rapl:0", 4000000);
    assert_int_equal(enevo_meter_read(m, &j, &t, err, sizeof err), 0);
    assert_true(fabs(j - 3.5) < 1e-9);
    enevo_meter_close(m);

    /* without dram; the root from $ENEVO_POWERCAP_ROOT */
    make_tree(root, sizeof root, "nodram", false, 262143328850ULL);
    setenv("ENEVO_POWERCAP_ROOT", root, 1);
    m = open_rapl(NULL);
    unsetenv("ENEVO_POWERCAP_ROOT");
    assert_string_equal(m->label, "rapl-package");
    set_uj(root, "intel-rapl:0", 1250000);
    assert_int_equal(enevo_meter_read(m, &j, &t, err, sizeof err), 0);
    assert_true(fabs(j - 0.25) < 1e-9);
    enevo_meter_close(m);
}

static void rapl_handles_wraparound(void **state)
{
    (void)state;
    char root[512], err[ENEVO_ERR_LEN];
    const unsigned long long range = 10000000; /* wraps after 10 J */
    make_tree(root, sizeof root, "wrap", false, range);
    set_uj(root, "intel-rapl:0", 9500000);
    struct enevo_meter *m = open_rapl(root);
    double j, t;
    assert_int_equal(enevo_meter_read(m, &j, &t, err, sizeof err), 0);
    assert_true(j == 0.0);
    /* 9.5 J -> wrap -> 0.3 J: 0.5 J up to the range plus 0.3 J after it */
    set_uj(root, "intel-rapl:0", 300000);
    assert_int_equal(enevo_meter_read(m, &j, &t, err, sizeof err), 0);
    assert_true(fabs(j - 0.8) < 1e-9);
    /* and on from there without another wrap */
    set_uj(root, "intel-rapl:0", 1300000);
    assert_int_equal(enevo_meter_read(m, &j, &t, err, sizeof err), 0);
    assert_true(fabs(j - 1.8) < 1e-9);
    /* a value above the range is a broken counter, said so, not wrapped */
    set_uj(root, "intel-rapl:0", range + 5);
    assert_int_equal(enevo_meter_read(m, &j, &t, err, sizeof err), ENEVO_EIO);
    assert_non_null(strstr(err, "max_energy_range_uj"));
    enevo_meter_close(m);
}

static void rapl_missing_tree_is_unsupported(void **state)
{
    (void)state;
    struct enevo_meter_cfg c = enevo_meter_defaults();
    char root[512], err[ENEVO_ERR_LEN] = "";
    struct enevo_meter *m = NULL;
    pathf(root, sizeof root, "%s/no-such-powercap", enevo_test_tmpdir());
    c.rapl_root = root;
    assert_int_equal(enevo_meter_open("rapl", &c, &m, NULL, 0, err, sizeof err),
                     ENEVO_EUNSUPPORTED);
    assert_null(m);
    assert_non_null(strstr(err, "RAPL is not available"));
    assert_non_null(strstr(err, root));
    /* an existing but empty powercap directory (as in containers) */
    pathf(root, sizeof root, "%s/empty-powercap", enevo_test_tmpdir());
    assert_int_equal(mkdir(root, 0755), 0);
    assert_int_equal(enevo_meter_open("rapl", &c, &m, NULL, 0, err, sizeof err),
                     ENEVO_EUNSUPPORTED);
    assert_non_null(strstr(err, "RAPL is not available"));
    /* zones, but no package */
    char d[600];
    pathf(d, sizeof d, "%s/intel-rapl:0", root);
    make_zone(d, "psys", 1, 100);
    assert_int_equal(enevo_meter_open("rapl", &c, &m, NULL, 0, err, sizeof err),
                     ENEVO_EUNSUPPORTED);
    assert_non_null(strstr(err, "package"));
}

/* In a child that dropped root (root reads any file whatever its mode),
 * open the tree and report the status and message through a pipe. Returns
 * false when privileges cannot be dropped here. */
static bool open_as_nobody(const char *root, int *rc, char *msg, size_t n)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        if (setgid(65534) != 0 || setuid(65534) != 0)
            _exit(77);
        struct enevo_meter_cfg c = enevo_meter_defaults();
        c.rapl_root = root;
        struct enevo_meter *m = NULL;
        char err[ENEVO_ERR_LEN] = "";
        int status = enevo_meter_open("rapl", &c, &m, NULL, 0, err, sizeof err);
        enevo_meter_close(m);
        ssize_t w = write(fds[1], err, strlen(err));
        (void)w;
        _exit(status == ENEVO_EUNSUPPORTED ? 0 : status == 0 ? 1 : 2);
    }
    close(fds[1]);
    size_t got = 0;
    ssize_t r;
    while (got + 1 < n && (r = read(fds[0], msg + got, n - 1 - got)) > 0)
        got += (size_t)r;
    msg[got] = '\0';
    close(fds[0]);
    int ws = 0;
    assert_int_equal(waitpid(pid, &ws, 0), pid);
    assert_true(WIFEXITED(ws));
    if (WEXITSTATUS(ws) == 77)
        return false;
    *rc = WEXITSTATUS(ws) == 0 ? ENEVO_EUNSUPPORTED : -1;
    return true;
}

static void rapl_unreadable_counter_names_the_file(void **state)
{
    (void)state;
    char root[512], file[600], err[ENEVO_ERR_LEN] = "";
    struct enevo_meter_cfg c = enevo_meter_defaults();
    struct enevo_meter *m = NULL;

    /* energy_uj that cannot be read (a directory: EISDIR, root or not) */
    make_tree(root, sizeof root, "isdir", false, 1000000000);
    pathf(file, sizeof file, "%s/intel-rapl:0/energy_uj", root);
    assert_int_equal(unlink(file), 0);
    assert_int_equal(mkdir(file, 0755), 0);
    c.rapl_root = root;
    assert_int_equal(enevo_meter_open("rapl", &c, &m, NULL, 0, err, sizeof err), ENEVO_EIO);
    assert_null(m);
    assert_non_null(strstr(err, file));

    /* a counter that disappears after open: a read error naming the file */
    make_tree(root, sizeof root, "vanish", false, 1000000000);
    m = open_rapl(root);
    pathf(file, sizeof file, "%s/intel-rapl:0/energy_uj", root);
    assert_int_equal(unlink(file), 0);
    assert_int_equal(symlink("no-such-target", file), 0); /* dangling: ENOENT */
    double j, t;
    assert_int_equal(enevo_meter_read(m, &j, &t, err, sizeof err), ENEVO_EIO);
    assert_non_null(strstr(err, file));
    enevo_meter_close(m);

    /* permission denied (Linux >= 5.10 makes energy_uj root-only). The tree
     * lives outside the 0700 test directory so that nobody can reach it. */
    char base[] = "/tmp/enevo-rapl-perm-XXXXXX";
    assert_non_null(mkdtemp(base));
    assert_int_equal(chmod(base, 0755), 0);
    pathf(root, sizeof root, "%s/powercap", base);
    assert_int_equal(mkdir(root, 0755), 0);
    char d[600];
    pathf(d, sizeof d, "%s/intel-rapl:0", root);
    make_zone(d, "package-0", 1, 1000000000);
    pathf(file, sizeof file, "%s/intel-rapl:0/energy_uj", root);
    assert_int_equal(chmod(file, 0400), 0);
    int rc = 0;
    bool ran = true;
    if (geteuid() != 0) {
        c.rapl_root = root;
        rc = enevo_meter_open("rapl", &c, &m, NULL, 0, err, sizeof err);
    } else {
        ran = open_as_nobody(root, &rc, err, sizeof err);
    }
    char cmd[128];
    pathf(cmd, sizeof cmd, "rm -rf '%s'", base);
    assert_int_equal(system(cmd), 0);
    if (!ran) {
        print_message("      (skipped the permission check: cannot drop root here)\n");
        return;
    }
    assert_int_equal(rc, ENEVO_EUNSUPPORTED);
    assert_non_null(strstr(err, file));
    assert_non_null(strstr(err, "CVE-2020-8694"));
}

static bool nvml_loads(void)
{
    void *h = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
    if (h)
        dlclose(h);
    return h != NULL;
}

static void sleep_s(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    nanosleep(&ts, NULL);
}

static void nvml_absent_is_unsupported_or_reads_live(void **state)
{
    (void)state;
    struct enevo_meter_cfg c = enevo_meter_defaults();
    struct enevo_meter *m = NULL;
    char err[ENEVO_ERR_LEN] = "";
    if (!nvml_loads()) {
        assert_int_equal(enevo_meter_open("nvml", &c, &m, NULL, 0, err, sizeof err),
                         ENEVO_EUNSUPPORTED);
        assert_null(m);
        assert_non_null(strstr(err, "libnvidia-ml.so.1"));
        return;
    }
    /* The driver is here: a live reading must grow, in joules, over 0.5 s
     * (an idle data-centre GPU draws tens of watts). */
    char chosen[ENEVO_ERR_LEN] = "";
    c.on_gpu = true;
    int rc = enevo_meter_open("auto", &c, &m, chosen, sizeof chosen, err, sizeof err);
    if (rc)
        fail_msg("nvml open: %s", err);
    print_message("      %s\n", chosen);
    assert_true(strcmp(m->label, "nvml-energy-counter") == 0 ||
                strcmp(m->label, "nvml-power-integral") == 0);
    double j0, t0, j1, t1;
    assert_int_equal(enevo_meter_read(m, &j0, &t0, err, sizeof err), 0);
    sleep_s(0.5);
    assert_int_equal(enevo_meter_read(m, &j1, &t1, err, sizeof err), 0);
    double w = (j1 - j0) / (t1 - t0);
    print_message("      %s: %.3f J over %.3f s = %.1f W\n", m->label, j1 - j0, t1 - t0, w);
    assert_true(j1 > j0);
    assert_true(w > 1 && w < 2000); /* W, not mW or kW: the units are right */
    enevo_meter_close(m);
    /* the power-integral fallback, forced: same units, same order of power */
    c.nvml_force_integral = true;
    rc = enevo_meter_open("nvml", &c, &m, NULL, 0, err, sizeof err);
    if (rc)
        fail_msg("nvml open (integral): %s", err);
    assert_string_equal(m->label, "nvml-power-integral");
    assert_false(m->ticks);
    assert_int_equal(enevo_meter_read(m, &j0, &t0, err, sizeof err), 0);
    sleep_s(0.5);
    assert_int_equal(enevo_meter_read(m, &j1, &t1, err, sizeof err), 0);
    double w2 = (j1 - j0) / (t1 - t0);
    print_message("      %s: %.3f J over %.3f s = %.1f W\n", m->label, j1 - j0, t1 - t0, w2);
    assert_true(t1 - t0 > 0.4);
    assert_true(w2 > 1 && w2 < 2000);
    enevo_meter_close(m);
    c.nvml_force_integral = false;
    /* a GPU index that does not exist */
    c.nvml_device = 999;
    assert_int_equal(enevo_meter_open("nvml", &c, &m, NULL, 0, err, sizeof err), ENEVO_EINVAL);
    assert_non_null(strstr(err, "999"));
}

static void auto_falls_back_to_model_and_says_why(void **state)
{
    (void)state;
    struct enevo_meter_cfg c = enevo_meter_defaults();
    char root[512], chosen[2 * ENEVO_ERR_LEN], err[ENEVO_ERR_LEN] = "";
    pathf(root, sizeof root, "%s/no-powercap-here", enevo_test_tmpdir());
    c.rapl_root = root;
    struct enevo_meter *m = NULL;
    assert_int_equal(enevo_meter_open("auto", &c, &m, chosen, sizeof chosen, err, sizeof err), 0);
    assert_string_equal(m->label, "model-estimate");
    assert_true(m->estimate);
    assert_non_null(strstr(chosen, "RAPL is not available"));
    assert_non_null(strstr(chosen, root));
    assert_non_null(strstr(chosen, "model-estimate"));
    enevo_meter_close(m);
    if (!nvml_loads()) {
        c.on_gpu = true;
        assert_int_equal(enevo_meter_open("auto", &c, &m, chosen, sizeof chosen, err, sizeof err),
                         0);
        assert_string_equal(m->label, "model-estimate");
        assert_non_null(strstr(chosen, "NVML is not available"));
        assert_non_null(strstr(chosen, "RAPL is not available"));
        enevo_meter_close(m);
    }
    /* and picks RAPL where there is a tree */
    make_tree(root, sizeof root, "auto", true, 1000000000);
    c.rapl_root = root;
    c.on_gpu = false;
    assert_int_equal(enevo_meter_open("auto", &c, &m, chosen, sizeof chosen, err, sizeof err), 0);
    assert_string_equal(m->label, "rapl-package+dram");
    assert_non_null(strstr(chosen, "rapl-package+dram"));
    enevo_meter_close(m);
}

/* The device the work runs on decides auto: a cpu device never gets nvml
 * (it would measure an idle GPU), a cuda:N device gets nvml on GPU N. */
static void auto_follows_the_compute_device(void **state)
{
    (void)state;
    struct enevo_meter_cfg c = enevo_meter_defaults();
    char root[512], chosen[2 * ENEVO_ERR_LEN], err[ENEVO_ERR_LEN] = "";
    pathf(root, sizeof root, "%s/no-powercap-for-devices", enevo_test_tmpdir());
    c.rapl_root = root;
    struct enevo_meter *m = NULL;
    /* cpu wins over a stale on_gpu */
    c.on_gpu = true;
    snprintf(c.compute_device, sizeof c.compute_device, "cpu");
    assert_int_equal(enevo_meter_open("auto", &c, &m, chosen, sizeof chosen, err, sizeof err), 0);
    assert_string_equal(m->label, "model-estimate");
    assert_false(m->cfg.on_gpu);
    assert_non_null(strstr(chosen, "nvml not tried: the work runs on the CPU"));
    assert_null(strstr(chosen, "NVML is not available"));
    enevo_meter_close(m);
    m = NULL;
    /* and picks RAPL where there is a tree, saying why not nvml */
    char tree[512];
    make_tree(tree, sizeof tree, "device", false, 1000000000);
    c.rapl_root = tree;
    assert_int_equal(enevo_meter_open("auto", &c, &m, chosen, sizeof chosen, err, sizeof err), 0);
    assert_string_equal(m->label, "rapl-package");
    assert_non_null(strstr(chosen, "nvml not tried"));
    enevo_meter_close(m);
    m = NULL;
    c.rapl_root = root;
    /* an explicit nvml stays allowed with a cpu device */
    int rc = enevo_meter_open("nvml", &c, &m, NULL, 0, err, sizeof err);
    if (!nvml_loads())
        assert_int_equal(rc, ENEVO_EUNSUPPORTED);
    if (rc)
        assert_null(strstr(err, "compute device"));
    enevo_meter_close(m);
    m = NULL;
    /* cuda:N: nvml on GPU N (a GPU that does not exist is an error, not a
     * reason to measure something else; no driver falls back with reasons) */
    c.on_gpu = false;
    c.nvml_device = 0;
    snprintf(c.compute_device, sizeof c.compute_device, "cuda:999");
    rc = enevo_meter_open("auto", &c, &m, chosen, sizeof chosen, err, sizeof err);
    if (rc) {
        assert_true(nvml_loads());
        assert_non_null(strstr(err, "999"));
    } else {
        assert_true(m->cfg.on_gpu);
        assert_int_equal(m->cfg.nvml_device, 999);
        assert_string_equal(m->label, "model-estimate");
        assert_non_null(strstr(chosen, "NVML is not available"));
        enevo_meter_close(m);
    }
    m = NULL;
    /* a name that is no device */
    snprintf(c.compute_device, sizeof c.compute_device, "gpu");
    assert_int_equal(enevo_meter_open("auto", &c, &m, chosen, sizeof chosen, err, sizeof err),
                     ENEVO_EINVAL);
    assert_null(m);
    assert_non_null(strstr(err, "unknown compute device 'gpu'"));
}

static void model_estimate_grows_and_is_deterministic(void **state)
{
    (void)state;
    struct enevo_meter_cfg c = enevo_meter_defaults();
    c.e_flop_pj = 20, c.e_byte_pj = 10, c.static_w = 10, c.peak_gflops = 150, c.bandwidth_gbs = 20;
    struct enevo_estimate a, b, f2, b2;
    enevo_energy_estimate(&c, 1.5e9, 1e6, &a);
    enevo_energy_estimate(&c, 1.5e9, 1e6, &b);
    assert_memory_equal(&a, &b, sizeof a);
    /* compute-bound: 1.5 GFLOP at 150 GFLOP/s = 10 ms; 0.03 J + 10 uJ
     * dynamic, 0.1 J static */
    assert_true(fabs(a.latency_s - 0.01) < 1e-12);
    assert_true(fabs(a.dynamic_j - (0.03 + 1e-5)) < 1e-12);
    assert_true(fabs(a.static_j - 0.1) < 1e-12);
    assert_true(fabs(a.j_per_inference - 0.13001) < 1e-12);
    assert_true(fabs(a.power_w - 13.001) < 1e-9);
    enevo_energy_estimate(&c, 3e9, 1e6, &f2);
    enevo_energy_estimate(&c, 1.5e9, 2e6, &b2);
    assert_true(f2.j_per_inference > a.j_per_inference);
    assert_true(b2.j_per_inference > a.j_per_inference);
    /* memory-bound: 1 GB at 20 GB/s = 50 ms */
    enevo_energy_estimate(&c, 1e6, 1e9, &b2);
    assert_true(fabs(b2.latency_s - 0.05) < 1e-12);
    enevo_energy_estimate(&c, 0, 0, &b2);
    assert_true(b2.j_per_inference == 0 && b2.power_w == 0);
}

static void model_meter_matches_the_estimate(void **state)
{
    (void)state;
    struct enevo_meter_cfg c = enevo_meter_defaults();
    struct enevo_meter *m = NULL;
    char err[ENEVO_ERR_LEN] = "";
    assert_int_equal(enevo_meter_open("model", &c, &m, NULL, 0, err, sizeof err), 0);
    assert_string_equal(m->label, "model-estimate");
    assert_true(m->estimate);
    assert_false(m->ticks);
    double j, t0, t;
    /* idle reads 0 J by definition, and that is not an error for the model */
    assert_int_equal(enevo_meter_read(m, &j, &t0, err, sizeof err), 0);
    assert_true(j == 0.0);
    sleep_s(0.01);
    assert_int_equal(enevo_meter_read(m, &j, &t, err, sizeof err), 0);
    assert_true(j == 0.0 && t > t0);
    struct enevo_estimate e;
    enevo_energy_estimate(&c, 2e8, 3e6, &e);
    m->ops->account(m, 2e8, 3e6);
    m->ops->account(m, 2e8, 3e6);
    assert_int_equal(enevo_meter_read(m, &j, &t, err, sizeof err), 0);
    assert_true(j > 0);
    assert_true(fabs(j - 2 * e.j_per_inference) <= 1e-15 * j);
    enevo_meter_close(m);
    /* coefficients that would make the estimate meaningless */
    c.peak_gflops = 0;
    assert_int_equal(enevo_meter_open("model", &c, &m, NULL, 0, err, sizeof err), ENEVO_EINVAL);
    assert_non_null(strstr(err, "peak_gflops"));
    c = enevo_meter_defaults();
    c.e_byte_pj = NAN;
    assert_int_equal(enevo_meter_open("model", &c, &m, NULL, 0, err, sizeof err), ENEVO_EINVAL);
}

static void fake_meter_arithmetic(void **state)
{
    (void)state;
    struct enevo_meter_cfg c = enevo_meter_defaults();
    c.fake_idle_w = 0;
    c.fake_j_per_flop = 1e-9;
    struct enevo_meter *m = NULL;
    char err[ENEVO_ERR_LEN] = "";
    assert_int_equal(enevo_meter_open("fake", &c, &m, NULL, 0, err, sizeof err), 0);
    assert_string_equal(m->label, "fake");
    double j, t, j1, t1;
    m->ops->account(m, 2e9, 123);
    assert_int_equal(enevo_meter_read(m, &j, &t, err, sizeof err), 0);
    assert_true(fabs(j - 2.0) < 1e-12);
    enevo_meter_close(m);

    c.fake_idle_w = 100;
    c.fake_j_per_flop = 0;
    assert_int_equal(enevo_meter_open("fake", &c, &m, NULL, 0, err, sizeof err), 0);
    assert_int_equal(enevo_meter_read(m, &j, &t, err, sizeof err), 0);
    sleep_s(0.02);
    assert_int_equal(enevo_meter_read(m, &j1, &t1, err, sizeof err), 0);
    assert_true(t1 - t >= 0.02);
    assert_true(fabs((j1 - j) - 100 * (t1 - t)) < 1e-6);
    enevo_meter_close(m);

    c.fake_zero = true;
    assert_int_equal(enevo_meter_open("fake", &c, &m, NULL, 0, err, sizeof err), 0);
    m->ops->account(m, 1e9, 0);
    assert_int_equal(enevo_meter_read(m, &j, &t, err, sizeof err), 0);
    assert_true(j == 0.0);
    enevo_meter_close(m);
}

static void unknown_meter_is_einval(void **state)
{
    (void)state;
    struct enevo_meter_cfg c = enevo_meter_defaults();
    struct enevo_meter *m = NULL;
    char err[ENEVO_ERR_LEN] = "";
    assert_int_equal(enevo_meter_open("joulemeter", &c, &m, NULL, 0, err, sizeof err),
                     ENEVO_EINVAL);
    assert_null(m);
    assert_non_null(strstr(err, "joulemeter"));
    assert_non_null(strstr(err, "auto, nvml, rapl, model, fake"));
    assert_int_equal(enevo_meter_open(NULL, &c, &m, NULL, 0, err, sizeof err), ENEVO_EINVAL);
    enevo_meter_close(NULL); /* a no-op, like free */
}

/* A scripted meter: read returns the next value of a list. */
struct script {
    const double *v;
    int i;
};

static int script_read(struct enevo_meter *m, double *joules, double *t, char *err, size_t n)
{
    (void)err;
    (void)n;
    struct script *s = m->priv;
    *joules = s->v[s->i];
    *t = s->i++;
    return 0;
}

static void read_rejects_decreasing_nan_and_negative(void **state)
{
    (void)state;
    static const struct enevo_meter_ops ops = {.name = "script", .read = script_read};
    const double v[] = {1.0, 2.0, 2.0, 1.5, NAN, -1.0};
    struct script s = {v, 0};
    struct enevo_meter m = {.ops = &ops, .priv = &s};
    snprintf(m.label, sizeof m.label, "script");
    char err[ENEVO_ERR_LEN] = "";
    double j, t;
    assert_int_equal(enevo_meter_read(&m, &j, &t, err, sizeof err), 0);
    assert_int_equal(enevo_meter_read(&m, &j, &t, err, sizeof err), 0);
    assert_int_equal(enevo_meter_read(&m, &j, &t, err, sizeof err), 0); /* equal is fine */
    assert_true(j == 2.0);
    assert_int_equal(enevo_meter_read(&m, &j, &t, err, sizeof err), ENEVO_EIO);
    assert_non_null(strstr(err, "went down"));
    assert_true(j == 2.0); /* outputs untouched on error */
    assert_int_equal(enevo_meter_read(&m, &j, &t, err, sizeof err), ENEVO_ENUMERIC);
    assert_int_equal(enevo_meter_read(&m, &j, &t, err, sizeof err), ENEVO_EIO);
    assert_non_null(strstr(err, "negative"));
}

const struct CMUnitTest enevo_tests_energy[] = {
    cmocka_unit_test(rapl_sums_package_and_dram_in_joules),
    cmocka_unit_test(rapl_handles_wraparound),
    cmocka_unit_test(rapl_missing_tree_is_unsupported),
    cmocka_unit_test(rapl_unreadable_counter_names_the_file),
    cmocka_unit_test(nvml_absent_is_unsupported_or_reads_live),
    cmocka_unit_test(auto_falls_back_to_model_and_says_why),
    cmocka_unit_test(auto_follows_the_compute_device),
    cmocka_unit_test(model_estimate_grows_and_is_deterministic),
    cmocka_unit_test(model_meter_matches_the_estimate),
    cmocka_unit_test(fake_meter_arithmetic),
    cmocka_unit_test(unknown_meter_is_einval),
    cmocka_unit_test(read_rejects_decreasing_nan_and_negative),
};
const size_t enevo_tests_energy_count = ENEVO_COUNT(enevo_tests_energy);
