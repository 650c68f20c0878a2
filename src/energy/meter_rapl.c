/* src/energy/meter_rapl.c — CPU energy from the Linux powercap interface.
 *
 * Domains: every top-level zone intel-rapl:N whose name starts with
 * "package" (AMD's zones are also called intel-rapl), plus its subzone
 * intel-rapl:N:M named "dram" where there is one; all are summed. A subzone
 * appears both as root/intel-rapl:N/intel-rapl:N:M and (as a link) as
 * root/intel-rapl:N:M in the real sysfs; it is counted once. "psys" and the
 * core/uncore subzones are left out: psys overlaps the packages, and core
 * and uncore are inside the package.
 *
 * Each zone's energy_uj is a counter in microjoules (not mJ as NVML) that
 * wraps to 0 after reaching max_energy_range_uj. On every read we take each
 * zone's delta since its previous raw value:
 *     delta = new - last                      when new >= last
 *     delta = (max_energy_range_uj - last) + new    when new < last (a wrap)
 * The real step from max_energy_range_uj to 0 is one hardware energy unit
 * (15-61 uJ), which the second formula leaves out: an error below 1e-4 J per
 * wrap. A wrap is seen only if the meter is read at least once per wrap
 * period (about 2^32 energy units: tens of kJ, several minutes at full
 * power); a longer gap between two reads loses whole wraps, but the result
 * still never goes down, and the protocol's windows (seconds) are short.
 */
#include "energy/meter_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define RAPL_MAX_ZONES 16

struct rapl_zone {
    char path[512];    /* .../energy_uj */
    char name[32];     /* package-0, dram */
    uint64_t range_uj; /* max_energy_range_uj */
    uint64_t last_uj;  /* raw value at the previous read */
};

struct rapl_priv {
    struct rapl_zone zones[RAPL_MAX_ZONES];
    int n;
    double j; /* accumulated since open */
};

/* Read a small sysfs file into buf (NUL-terminated, trailing newline cut).
 * Returns 0 or -errno. */
static int read_small(const char *path, char *buf, size_t len)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return -errno;
    ssize_t n = read(fd, buf, len - 1);
    int e = errno;
    close(fd);
    if (n < 0)
        return -e;
    buf[n] = '\0';
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
        buf[--n] = '\0';
    return 0;
}

/* The error for an unreadable energy file: permission gets its own message,
 * since it is the usual case on Linux >= 5.10 and has a known remedy. */
static int file_error(const char *path, int neg_errno, bool at_open, char *err, size_t errlen)
{
    if (neg_errno == -EACCES || neg_errno == -EPERM)
        return enevo_errf(err, errlen, ENEVO_EUNSUPPORTED,
                          "RAPL: cannot read %s: %s; energy_uj is readable only by root since "
                          "Linux 5.10 (CVE-2020-8694): run as root, or make it readable "
                          "(udev rule / chmod)",
                          path, strerror(-neg_errno));
    return enevo_errf(err, errlen, ENEVO_EIO, "RAPL: cannot read %s%s: %s", path,
                      at_open ? " while opening the meter" : "", strerror(-neg_errno));
}

static int read_u64(const char *path, uint64_t *v, bool at_open, char *err, size_t errlen)
{
    char buf[64];
    int e = read_small(path, buf, sizeof buf);
    if (e)
        return file_error(path, e, at_open, err, errlen);
    char *end;
    errno = 0;
    unsigned long long x = strtoull(buf, &end, 10);
    if (errno || end == buf || *end || buf[0] == '-')
        return enevo_errf(err, errlen, ENEVO_EIO,
                          "RAPL: %s holds '%s', not a non-negative integer (microjoules)", path,
                          buf);
    *v = (uint64_t)x;
    return 0;
}

/* Add the zone whose directory is dir (energy_uj, max_energy_range_uj). */
static int add_zone(struct rapl_priv *p, const char *dir, const char *name, char *err,
                    size_t errlen)
{
    if (p->n == RAPL_MAX_ZONES)
        return enevo_errf(err, errlen, ENEVO_EUNSUPPORTED,
                          "RAPL: more than %d package/dram zones; not supported", RAPL_MAX_ZONES);
    struct rapl_zone *z = &p->zones[p->n];
    char range_path[600];
    int w1 = snprintf(z->path, sizeof z->path, "%s/energy_uj", dir);
    snprintf(range_path, sizeof range_path, "%s/max_energy_range_uj", dir);
    if (w1 < 0 || (size_t)w1 >= sizeof z->path)
        return enevo_errf(err, errlen, ENEVO_EINVAL, "RAPL: path too long: %s", dir);
    snprintf(z->name, sizeof z->name, "%s", name);
    int status = read_u64(z->path, &z->last_uj, true, err, errlen);
    if (status)
        return status;
    status = read_u64(range_path, &z->range_uj, true, err, errlen);
    if (status)
        return status;
    if (z->range_uj == 0 || z->last_uj > z->range_uj)
        return enevo_errf(err, errlen, ENEVO_EIO,
                          "RAPL: %s reads %llu uj, outside max_energy_range_uj %llu", z->path,
                          (unsigned long long)z->last_uj, (unsigned long long)z->range_uj);
    p->n++;
    return 0;
}

/* Is s "intel-rapl:<digits>" (parts == 1) or "intel-rapl:<d>:<d>" (parts
 * == 2) with the first number equal to pkg (pkg < 0: any)? */
static bool zone_name(const char *s, int parts, long pkg)
{
    const char *pre = "intel-rapl:";
    if (strncmp(s, pre, strlen(pre)) != 0)
        return false;
    s += strlen(pre);
    for (int i = 0; i < parts; i++) {
        if (i > 0) {
            if (*s != ':')
                return false;
            s++;
        }
        char *end;
        if (*s < '0' || *s > '9')
            return false;
        long v = strtol(s, &end, 10);
        if (i == 0 && pkg >= 0 && v != pkg)
            return false;
        s = end;
    }
    return *s == '\0';
}

/* Find the dram subzone of package pkg: inside the package directory first,
 * then at the top level; the same entry name is one zone (counted once). */
static int add_dram(struct rapl_priv *p, const char *root, const char *pkg_dir, long pkg,
                    bool *found, char *err, size_t errlen)
{
    const char *dirs[2] = {pkg_dir, root};
    for (int d = 0; d < 2 && !*found; d++) {
        DIR *dh = opendir(dirs[d]);
        if (!dh)
            continue;
        struct dirent *e;
        while ((e = readdir(dh)) && !*found) {
            if (!zone_name(e->d_name, 2, pkg))
                continue;
            char dir[512], name_path[600], name[64];
            snprintf(dir, sizeof dir, "%s/%s", dirs[d], e->d_name);
            snprintf(name_path, sizeof name_path, "%s/name", dir);
            if (read_small(name_path, name, sizeof name) || strcmp(name, "dram") != 0)
                continue;
            int status = add_zone(p, dir, name, err, errlen);
            if (status) {
                closedir(dh);
                return status;
            }
            *found = true;
        }
        closedir(dh);
    }
    return 0;
}

static int rapl_open(struct enevo_meter *m, char *err, size_t errlen)
{
    const char *root = m->cfg.rapl_root;
    if (!root || !root[0])
        root = getenv("ENEVO_POWERCAP_ROOT");
    if (!root || !root[0])
        root = "/sys/class/powercap";

    struct rapl_priv *p = calloc(1, sizeof *p);
    if (!p)
        return enevo_errf(err, errlen, ENEVO_ENOMEM, "out of memory opening the RAPL meter");
    int status = 0, zones_seen = 0, packages = 0, drams = 0;
    DIR *dh = opendir(root);
    if (!dh) {
        free(p);
        if (errno == EACCES)
            return enevo_errf(err, errlen, ENEVO_EUNSUPPORTED,
                              "RAPL is not available here: cannot list %s: %s", root,
                              strerror(errno));
        return enevo_errf(err, errlen, ENEVO_EUNSUPPORTED,
                          "RAPL is not available here: no %s/intel-rapl:* (virtual machines and "
                          "most containers have none; use --meter model for an estimate)",
                          root);
    }
    /* Sorted order would be nicer for the device string, but readdir order
     * does not change the sum. */
    struct dirent *e;
    size_t dlen = 0;
    m->device[0] = '\0';
    while ((e = readdir(dh))) {
        if (!zone_name(e->d_name, 1, -1))
            continue;
        zones_seen++;
        char dir[512], name_path[600], name[64];
        snprintf(dir, sizeof dir, "%s/%s", root, e->d_name);
        snprintf(name_path, sizeof name_path, "%s/name", dir);
        if (read_small(name_path, name, sizeof name) || strncmp(name, "package", 7) != 0)
            continue;
        status = add_zone(p, dir, name, err, errlen);
        if (status)
            break;
        packages++;
        bool dram = false;
        long pkg = strtol(e->d_name + strlen("intel-rapl:"), NULL, 10);
        status = add_dram(p, root, dir, pkg, &dram, err, errlen);
        if (status)
            break;
        drams += dram;
        int w = snprintf(m->device + dlen, sizeof m->device - dlen, "%s%s%s", dlen ? ", " : "",
                         name, dram ? "+dram" : "");
        if (w > 0 && dlen + (size_t)w < sizeof m->device)
            dlen += (size_t)w;
    }
    closedir(dh);
    if (!status && zones_seen == 0)
        status = enevo_errf(err, errlen, ENEVO_EUNSUPPORTED,
                            "RAPL is not available here: no %s/intel-rapl:* (virtual machines and "
                            "most containers have none; use --meter model for an estimate)",
                            root);
    else if (!status && packages == 0)
        status = enevo_errf(err, errlen, ENEVO_EUNSUPPORTED,
                            "RAPL is not available here: %s has %d intel-rapl:* zones but none "
                            "named package-*",
                            root, zones_seen);
    if (status) {
        free(p);
        return status;
    }
    char zones[sizeof m->device];
    snprintf(zones, sizeof zones, "%s", m->device);
    if (snprintf(m->device, sizeof m->device, "%s: %s", root, zones) >= (int)sizeof m->device)
        m->device[sizeof m->device - 2] = '~'; /* truncated: the string is for people only */
    snprintf(m->label, sizeof m->label, drams ? "rapl-package+dram" : "rapl-package");
    m->estimate = false;
    /* energy_uj advances about every millisecond: fine-grained enough to
     * need no tick alignment. */
    m->ticks = false;
    m->priv = p;
    return 0;
}

static int rapl_read(struct enevo_meter *m, double *joules, double *t, char *err, size_t errlen)
{
    struct rapl_priv *p = m->priv;
    uint64_t now[RAPL_MAX_ZONES];
    /* Read all zones before updating any, so a failure leaves the state as
     * it was and a later read still adds up. */
    for (int i = 0; i < p->n; i++) {
        int status = read_u64(p->zones[i].path, &now[i], false, err, errlen);
        if (status)
            return status == ENEVO_EUNSUPPORTED ? ENEVO_EIO : status;
        if (now[i] > p->zones[i].range_uj)
            return enevo_errf(err, errlen, ENEVO_EIO,
                              "RAPL: %s reads %llu uj, above max_energy_range_uj %llu",
                              p->zones[i].path, (unsigned long long)now[i],
                              (unsigned long long)p->zones[i].range_uj);
    }
    *t = enevo_now();
    for (int i = 0; i < p->n; i++) {
        struct rapl_zone *z = &p->zones[i];
        uint64_t delta =
            now[i] >= z->last_uj ? now[i] - z->last_uj : (z->range_uj - z->last_uj) + now[i];
        p->j += (double)delta * 1e-6; /* uJ -> J */
        z->last_uj = now[i];
    }
    *joules = p->j;
    return 0;
}

/* A counter meter measures whatever ran; the work done does not enter. */
static void rapl_account(struct enevo_meter *m, double flops, double bytes)
{
    (void)m;
    (void)flops;
    (void)bytes;
}

static void rapl_close(struct enevo_meter *m)
{
    free(m->priv);
    m->priv = NULL;
}

const struct enevo_meter_ops enevo_meter_rapl = {
    .name = "rapl",
    .open = rapl_open,
    .read = rapl_read,
    .close = rapl_close,
    .account = rapl_account,
};
