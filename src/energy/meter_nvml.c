/* src/energy/meter_nvml.c — NVIDIA GPU energy through NVML, loaded with
 * dlopen at open, so enevo builds and runs without the NVIDIA driver.
 *
 * Preferred: nvmlDeviceGetTotalEnergyConsumption, a counter in millijoules
 * (not uJ as RAPL) since the driver loaded, Volta and newer. It updates
 * every ~10-100 ms, hence ticks = true. Where it is not supported (older
 * cards, some vGPUs) a background thread integrates nvmlDeviceGetPowerUsage
 * (milliwatts) every 10 ms with the trapezoid rule. Note that on GA100 and
 * newer that power is a 1 s moving average, so the integral lags the work
 * by up to a second; the label nvml-power-integral says which method ran.
 */
#include "energy/meter_internal.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The few NVML types used, declared here to need no nvml.h at build time. */
typedef int nvmlReturn_t;
typedef struct nvml_device *nvmlDevice_t;
#define NVML_SUCCESS 0
#define NVML_ERROR_NOT_SUPPORTED 3

struct nvml_api {
    void *lib;
    nvmlReturn_t (*init)(void);
    nvmlReturn_t (*shutdown)(void);
    nvmlReturn_t (*count)(unsigned int *n); /* optional, for the error message */
    nvmlReturn_t (*handle)(unsigned int index, nvmlDevice_t *dev);
    nvmlReturn_t (*energy)(nvmlDevice_t dev, unsigned long long *mj);
    nvmlReturn_t (*power)(nvmlDevice_t dev, unsigned int *mw);
    const char *(*errstr)(nvmlReturn_t r);
    nvmlReturn_t (*name)(nvmlDevice_t dev, char *name, unsigned int len);
};

#define SAMPLE_NS 10000000L /* 10 ms between power samples */

struct nvml_priv {
    struct nvml_api api;
    bool inited;
    nvmlDevice_t dev;
    bool counter;               /* the energy counter works */
    unsigned long long mj_open; /* counter at open (mJ) */
    /* power integral: the sampler thread owns these under mu */
    pthread_t thread;
    bool thread_started;
    pthread_mutex_t mu;
    bool stop;
    double j, t_last, w_last;  /* integral so far, time and power of the last sample */
    nvmlReturn_t sample_error; /* first failed sample, reported by read */
};

static const char *nvml_str(const struct nvml_api *a, nvmlReturn_t r)
{
    const char *s = a->errstr ? a->errstr(r) : NULL;
    return s ? s : "unknown NVML error";
}

static int load_api(struct nvml_api *a, char *err, size_t errlen)
{
    a->lib = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!a->lib)
        return enevo_errf(err, errlen, ENEVO_EUNSUPPORTED,
                          "NVML is not available: libnvidia-ml.so.1 not found (no NVIDIA driver "
                          "on this machine)");
    /* dlsym returns void *; POSIX guarantees it converts to a function
     * pointer, which ISO C does not say, hence the memcpy. */
    struct {
        const char *sym;
        void *dst;
        size_t size;
        bool required;
    } syms[] = {
        {"nvmlInit_v2", &a->init, sizeof a->init, true},
        {"nvmlShutdown", &a->shutdown, sizeof a->shutdown, true},
        {"nvmlDeviceGetCount_v2", &a->count, sizeof a->count, false},
        {"nvmlDeviceGetHandleByIndex_v2", &a->handle, sizeof a->handle, true},
        {"nvmlDeviceGetTotalEnergyConsumption", &a->energy, sizeof a->energy, false},
        {"nvmlDeviceGetPowerUsage", &a->power, sizeof a->power, true},
        {"nvmlErrorString", &a->errstr, sizeof a->errstr, true},
        {"nvmlDeviceGetName", &a->name, sizeof a->name, false},
    };
    for (size_t i = 0; i < sizeof syms / sizeof syms[0]; i++) {
        void *f = dlsym(a->lib, syms[i].sym);
        if (!f && syms[i].required) {
            dlclose(a->lib);
            a->lib = NULL;
            return enevo_errf(err, errlen, ENEVO_EUNSUPPORTED,
                              "NVML is not usable: libnvidia-ml.so.1 has no %s (driver too old?)",
                              syms[i].sym);
        }
        memcpy(syms[i].dst, &f, syms[i].size);
    }
    return 0;
}

static void sleep_ns(long ns)
{
    struct timespec ts = {ns / 1000000000L, ns % 1000000000L};
    nanosleep(&ts, NULL);
}

static void *sampler(void *arg)
{
    struct nvml_priv *p = arg;
    for (;;) {
        sleep_ns(SAMPLE_NS);
        unsigned int mw = 0;
        nvmlReturn_t r = p->api.power(p->dev, &mw);
        double now = enevo_now();
        pthread_mutex_lock(&p->mu);
        bool stop = p->stop;
        if (!stop && r == NVML_SUCCESS) {
            double w = mw * 1e-3; /* mW -> W */
            p->j += 0.5 * (w + p->w_last) * (now - p->t_last);
            p->w_last = w;
            p->t_last = now;
        } else if (!stop && !p->sample_error) {
            p->sample_error = r;
        }
        pthread_mutex_unlock(&p->mu);
        if (stop || r != NVML_SUCCESS)
            return NULL;
    }
}

static void nvml_close(struct enevo_meter *m)
{
    struct nvml_priv *p = m->priv;
    if (!p)
        return;
    if (p->thread_started) {
        pthread_mutex_lock(&p->mu);
        p->stop = true;
        pthread_mutex_unlock(&p->mu);
        pthread_join(p->thread, NULL);
        pthread_mutex_destroy(&p->mu);
    }
    if (p->inited)
        p->api.shutdown();
    if (p->api.lib)
        dlclose(p->api.lib);
    free(p);
    m->priv = NULL;
}

static int nvml_open(struct enevo_meter *m, char *err, size_t errlen)
{
    struct nvml_priv *p = calloc(1, sizeof *p);
    if (!p)
        return enevo_errf(err, errlen, ENEVO_ENOMEM, "out of memory opening the NVML meter");
    m->priv = p;
    int status = load_api(&p->api, err, errlen);
    if (status)
        goto fail;
    nvmlReturn_t r = p->api.init();
    if (r != NVML_SUCCESS) {
        status = enevo_errf(err, errlen, ENEVO_EUNSUPPORTED, "NVML is not available: nvmlInit: %s",
                            nvml_str(&p->api, r));
        goto fail;
    }
    p->inited = true;
    int idx = m->cfg.nvml_device;
    unsigned int ngpu = 0;
    if (idx < 0 || (p->api.count && p->api.count(&ngpu) == NVML_SUCCESS && (unsigned)idx >= ngpu)) {
        status = enevo_errf(err, errlen, ENEVO_EINVAL,
                            "NVML: no GPU with index %d (this machine has %u)", idx, ngpu);
        goto fail;
    }
    r = p->api.handle((unsigned)idx, &p->dev);
    if (r != NVML_SUCCESS) {
        status = enevo_errf(err, errlen, ENEVO_EINVAL, "NVML: no GPU with index %d: %s", idx,
                            nvml_str(&p->api, r));
        goto fail;
    }
    char name[96] = "unknown GPU";
    if (p->api.name && p->api.name(p->dev, name, sizeof name) != NVML_SUCCESS)
        snprintf(name, sizeof name, "unknown GPU");
    snprintf(m->device, sizeof m->device, "GPU %d (%s)", idx, name);
    m->estimate = false;

    nvmlReturn_t re = p->api.energy ? p->api.energy(p->dev, &p->mj_open) : NVML_ERROR_NOT_SUPPORTED;
    if (re == NVML_SUCCESS && !m->cfg.nvml_force_integral) {
        p->counter = true;
        snprintf(m->label, sizeof m->label, "nvml-energy-counter");
        m->ticks = true;
        return 0;
    }
    /* No counter (pre-Volta, vGPU, or refused): integrate power instead,
     * and say so in the label; never report the missing counter as 0 J. */
    unsigned int mw = 0;
    r = p->api.power(p->dev, &mw);
    if (r != NVML_SUCCESS) {
        status =
            enevo_errf(err, errlen, ENEVO_EUNSUPPORTED,
                       "NVML on %s: no energy counter (%s) and no power reading (%s)", m->device,
                       re ? nvml_str(&p->api, re) : "not used", nvml_str(&p->api, r));
        goto fail;
    }
    p->w_last = mw * 1e-3; /* mW -> W */
    p->t_last = enevo_now();
    if (pthread_mutex_init(&p->mu, NULL) != 0) {
        status = enevo_errf(err, errlen, ENEVO_ENOMEM, "NVML: pthread_mutex_init failed");
        goto fail;
    }
    if (pthread_create(&p->thread, NULL, sampler, p) != 0) {
        pthread_mutex_destroy(&p->mu);
        status = enevo_errf(err, errlen, ENEVO_ENOMEM, "NVML: cannot start the power sampler");
        goto fail;
    }
    p->thread_started = true;
    snprintf(m->label, sizeof m->label, "nvml-power-integral");
    m->ticks = false;
    return 0;
fail:
    nvml_close(m);
    return status;
}

static int nvml_read(struct enevo_meter *m, double *joules, double *t, char *err, size_t errlen)
{
    struct nvml_priv *p = m->priv;
    if (p->counter) {
        unsigned long long mj = 0;
        nvmlReturn_t r = p->api.energy(p->dev, &mj);
        *t = enevo_now();
        if (r != NVML_SUCCESS)
            return enevo_errf(err, errlen, ENEVO_EIO,
                              "NVML on %s: nvmlDeviceGetTotalEnergyConsumption: %s", m->device,
                              nvml_str(&p->api, r));
        /* A counter below its value at open means the driver reloaded:
         * report it as an error rather than a huge unsigned difference. */
        if (mj < p->mj_open)
            return enevo_errf(err, errlen, ENEVO_EIO,
                              "NVML on %s: the energy counter went back from %llu mJ to %llu mJ "
                              "(driver reloaded?)",
                              m->device, p->mj_open, mj);
        *joules = (double)(mj - p->mj_open) * 1e-3; /* mJ -> J */
        return 0;
    }
    pthread_mutex_lock(&p->mu);
    nvmlReturn_t bad = p->sample_error;
    /* The integral refers to the last sample's time, so J and t agree. */
    *joules = p->j;
    *t = p->t_last;
    pthread_mutex_unlock(&p->mu);
    if (bad)
        return enevo_errf(err, errlen, ENEVO_EIO, "NVML on %s: nvmlDeviceGetPowerUsage: %s",
                          m->device, nvml_str(&p->api, bad));
    return 0;
}

/* A counter meter measures whatever ran; the work done does not enter. */
static void nvml_account(struct enevo_meter *m, double flops, double bytes)
{
    (void)m;
    (void)flops;
    (void)bytes;
}

const struct enevo_meter_ops enevo_meter_nvml = {
    .name = "nvml",
    .open = nvml_open,
    .read = nvml_read,
    .close = nvml_close,
    .account = nvml_account,
};
