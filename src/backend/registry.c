/* The backend registry: the only file that knows which backends were built,
 * and device-name resolution ("cpu", "cuda", "cuda:N", "auto"). */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend/backend.h"
#include "enevo/error.h"

#ifdef ENEVO_CUDA
extern const struct enevo_backend enevo_backend_cuda;
#endif

const struct enevo_backend *enevo_backend_get(const char *name)
{
    if (!name || !name[0] || !strcmp(name, "cpu"))
        return &enevo_backend_cpu;
#ifdef ENEVO_CUDA
    if (!strncmp(name, "cuda", 4))
        return &enevo_backend_cuda;
#endif
    return NULL;
}

/* "cuda" -> 0, "cuda:3" -> 3; -1 if not a cuda name. */
int enevo__cuda_index(const char *device)
{
    if (!device || strncmp(device, "cuda", 4))
        return -1;
    if (!device[4])
        return 0;
    if (device[4] != ':' || !device[5])
        return -1;
    char *end;
    long i = strtol(device + 5, &end, 10);
    return *end || i < 0 || i > 1023 ? -1 : (int)i;
}

static void put(char *dst, size_t len, const char *s)
{
    if (dst && len)
        snprintf(dst, len, "%s", s);
}

int enevo_device_resolve(const char *device, char *resolved, size_t rlen, char *desc,
                         size_t desclen, char *err, size_t errlen)
{
    char cpu_desc[96];
    snprintf(cpu_desc, sizeof cpu_desc, "CPU, %d threads, %s", omp_get_max_threads(),
             enevo_cpu_isa());
    if (!device || !device[0] || !strcmp(device, "cpu")) {
        put(resolved, rlen, "cpu");
        put(desc, desclen, cpu_desc);
        return 0;
    }
    bool is_auto = !strcmp(device, "auto");
    int index = is_auto ? 0 : enevo__cuda_index(device);
    if (index < 0)
        return enevo_errf(err, errlen, ENEVO_EINVAL,
                          "unknown device '%s': expected cpu, cuda, cuda:N or auto", device);
#ifdef ENEVO_CUDA
    char why[ENEVO_ERR_LEN];
    int rc = enevo_backend_cuda.probe(index, desc, desclen, why, sizeof why);
    if (!rc) {
        char name[32];
        snprintf(name, sizeof name, "cuda:%d", index);
        put(resolved, rlen, name);
        return 0;
    }
    if (!is_auto)
        return enevo_errf(err, errlen, rc, "%s", why);
#else
    if (!is_auto)
        return enevo_errf(err, errlen, ENEVO_EINVAL,
                          "device '%s': enevo was built without CUDA; rebuild with make CUDA=1",
                          device);
#endif
    put(resolved, rlen, "cpu");
    put(desc, desclen, cpu_desc);
    return 0;
}

double enevo__device_memory(const char *device, char *what, size_t len)
{
#ifdef ENEVO_CUDA
    int index = enevo__cuda_index(device);
    double free_b = 0, total_b = 0;
    if (index >= 0) {
        if (enevo_backend_cuda.memory && !enevo_backend_cuda.memory(index, &free_b, &total_b)) {
            snprintf(what, len, "the free memory of %s (%.0f of %.0f MiB)", device,
                     free_b / 1048576.0, total_b / 1048576.0);
            return free_b;
        }
        snprintf(what, len, "unknown (%s did not say)", device);
        return 0;
    }
#else
    (void)device;
#endif
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    double phys = pages > 0 && page > 0 ? (double)pages * (double)page : 0;
    /* A container's limit (cgroup v2), when it is lower. */
    double limit = phys;
    FILE *f = fopen("/sys/fs/cgroup/memory.max", "r");
    if (f) {
        double v;
        if (fscanf(f, "%lf", &v) == 1 && v > 0 && (limit <= 0 || v < limit))
            limit = v;
        fclose(f);
    }
    snprintf(what, len, "3/4 of %s (%.0f MiB)", limit < phys ? "the cgroup's memory limit"
                                                            : "the machine's memory",
             limit / 1048576.0);
    return 0.75 * limit;
}
