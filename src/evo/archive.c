/* The module archive behind reuse_module (ENERGIZE.md §2.3, improved as its
 * §9.4 suggests): every module an evaluated network holds is stored with
 * its energy per inference measured in its real context (its actual input
 * shape in that network). Unlike ENERGIZE's history, the archive is kept
 * per module type, bounded (the most energy-hungry entry goes when a type is
 * full), deduplicated by a hash of the module's phenotype, and saved in the
 * checkpoint. reuse_module draws a module of a type with probability
 * proportional to 1/energy (or 1/power) and inserts a copy where the module
 * order by type is kept (a classification module never lands before the
 * features). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "evo/evo_internal.h"

uint64_t enevo_module_hash(const struct enevo_evo_space *s, const struct enevo_module *m)
{
    /* FNV-1a over the layers' phenotype text and connections. Stored
     * modules are repaired, so decoding draws nothing; the stream is a
     * formality. */
    enevo_rng r;
    enevo_rng_seed(&r, 0, 0);
    uint64_t h = 0xcbf29ce484222325ULL ^ (uint64_t)m->type;
    for (int i = 0; i < m->n_layers; i++) {
        char *t = NULL;
        if (enevo_dsge_decode(s->g, m->layers[i].dsge, NULL, 0, &r, &t) == 0 && t) {
            for (const char *p = t; *p; p++)
                h = (h ^ (unsigned char)*p) * 0x100000001b3ULL;
            free(t);
        }
        for (int k = 0; k < m->layers[i].n_in; k++)
            h = (h ^ (uint64_t)(m->layers[i].in[k] + 2)) * 0x100000001b3ULL;
        h = (h ^ 0xff) * 0x100000001b3ULL;
    }
    return h;
}

int enevo_archive_init(struct enevo_archive *a, int n_types, int cap)
{
    memset(a, 0, sizeof *a);
    a->n_types = n_types;
    a->cap = cap;
    for (int t = 0; t < n_types; t++) {
        a->e[t] = calloc((size_t)cap, sizeof *a->e[t]);
        if (!a->e[t]) {
            enevo_archive_free(a);
            return ENEVO_ENOMEM;
        }
    }
    return 0;
}

void enevo_archive_free(struct enevo_archive *a)
{
    for (int t = 0; t < ENEVO_MAX_MODULES; t++) {
        for (int i = 0; i < a->n[t]; i++)
            enevo_module_free(&a->e[t][i].mod);
        free(a->e[t]);
    }
    memset(a, 0, sizeof *a);
}

int enevo_archive_add(struct enevo_archive *a, const struct enevo_evo_space *s,
                      const struct enevo_module *m, double energy_j, double power_w)
{
    int t = m->type;
    if (t < 0 || t >= a->n_types || !(energy_j > 0) || !(power_w > 0) || m->n_layers == 0)
        return 0;
    uint64_t h = enevo_module_hash(s, m);
    for (int i = 0; i < a->n[t]; i++)
        if (a->e[t][i].hash == h)
            return 0; /* known: the first measurement stands */
    int slot = a->n[t];
    if (slot == a->cap) {
        /* Full: replace the most energy-hungry entry, if this one is better. */
        int worst = 0;
        for (int i = 1; i < a->n[t]; i++)
            if (a->e[t][i].energy_j > a->e[t][worst].energy_j)
                worst = i;
        if (a->e[t][worst].energy_j <= energy_j)
            return 0;
        enevo_module_free(&a->e[t][worst].mod);
        slot = worst;
    }
    struct enevo_archive_entry *e = &a->e[t][slot];
    if (enevo_module_copy(m, &e->mod))
        return ENEVO_ENOMEM;
    e->hash = h;
    e->energy_j = energy_j;
    e->power_w = power_w;
    if (slot == a->n[t])
        a->n[t]++;
    return 1;
}

const struct enevo_archive_entry *enevo_archive_draw(const struct enevo_archive *a, int type,
                                                     bool by_power, enevo_rng *r)
{
    if (type < 0 || type >= a->n_types || a->n[type] == 0)
        return NULL;
    double total = 0;
    for (int i = 0; i < a->n[type]; i++)
        total += 1.0 / (by_power ? a->e[type][i].power_w : a->e[type][i].energy_j);
    double u = enevo_rng_double(r) * total;
    for (int i = 0; i < a->n[type]; i++) {
        u -= 1.0 / (by_power ? a->e[type][i].power_w : a->e[type][i].energy_j);
        if (u < 0)
            return &a->e[type][i];
    }
    return &a->e[type][a->n[type] - 1];
}

int enevo_archive_reuse(void *ctx, const struct enevo_evo_space *s, struct enevo_genotype *gt,
                        enevo_rng *r)
{
    (void)s;
    struct enevo_archive_ctx *c = ctx;
    const struct enevo_archive *a = c->archive;
    /* A type that has entries, uniformly: energies of different module types
     * are not comparable (ENERGIZE mixes them). */
    int types[ENEVO_MAX_MODULES], nt = 0;
    for (int t = 0; t < a->n_types; t++)
        if (a->n[t] > 0)
            types[nt++] = t;
    if (nt == 0)
        return 0;
    int t = types[enevo_rng_below(r, (uint32_t)nt)];
    const struct enevo_archive_entry *e = enevo_archive_draw(a, t, c->by_power, r);
    /* Positions that keep the modules ordered by type. */
    int lo = 0, hi = gt->n_modules;
    while (lo < gt->n_modules && gt->modules[lo].type < t)
        lo++;
    hi = lo;
    while (hi < gt->n_modules && gt->modules[hi].type <= t)
        hi++;
    int pos = lo + (int)enevo_rng_below(r, (uint32_t)(hi - lo + 1));
    struct enevo_module copy;
    if (enevo_module_copy(&e->mod, &copy))
        return 0;
    if (enevo_module_insert(gt, pos, &copy)) {
        enevo_module_free(&copy);
        return 0;
    }
    c->last = *e;
    c->last.mod = (struct enevo_module){.type = e->mod.type};
    return 1;
}

/* ---- checkpoint ---- */

static int put_raw(unsigned char **buf, size_t *len, size_t *cap, const void *p, size_t n)
{
    if (*len + n > *cap) {
        size_t c = *cap ? *cap * 2 : 1024;
        while (c < *len + n)
            c *= 2;
        unsigned char *b = realloc(*buf, c);
        if (!b)
            return ENEVO_ENOMEM;
        *buf = b;
        *cap = c;
    }
    memcpy(*buf + *len, p, n);
    *len += n;
    return 0;
}

int enevo_archive_write(const struct enevo_archive *a, unsigned char **buf, size_t *len,
                        size_t *cap)
{
    int32_t hdr[2] = {a->n_types, a->cap};
    int rc = put_raw(buf, len, cap, hdr, sizeof hdr);
    for (int t = 0; !rc && t < a->n_types; t++) {
        int32_t n = a->n[t];
        rc = put_raw(buf, len, cap, &n, sizeof n);
        for (int i = 0; !rc && i < a->n[t]; i++) {
            const struct enevo_archive_entry *e = &a->e[t][i];
            rc = put_raw(buf, len, cap, &e->hash, sizeof e->hash);
            if (!rc)
                rc = put_raw(buf, len, cap, &e->energy_j, sizeof e->energy_j);
            if (!rc)
                rc = put_raw(buf, len, cap, &e->power_w, sizeof e->power_w);
            if (!rc)
                rc = enevo_module_write(&e->mod, buf, len, cap);
        }
    }
    return rc;
}

static int get_raw(const unsigned char *buf, size_t len, size_t *pos, void *p, size_t n)
{
    if (*pos + n > len)
        return ENEVO_EFORMAT;
    memcpy(p, buf + *pos, n);
    *pos += n;
    return 0;
}

int enevo_archive_read(struct enevo_archive *a, const struct enevo_evo_space *s,
                       const unsigned char *buf, size_t len, size_t *pos, char *err,
                       size_t errlen)
{
    if (err && errlen)
        err[0] = 0;
    int32_t hdr[2];
    int rc = get_raw(buf, len, pos, hdr, sizeof hdr);
    /* The capacity is the config's archive_size (the config hash guards
     * it), never a number to allocate for on the file's word. */
    int cap = s->cfg->archive_size > 0 ? s->cfg->archive_size : 1;
    if (!rc && (hdr[0] != s->cfg->n_modules || hdr[1] != cap))
        rc = enevo_errf(err, errlen, ENEVO_EFORMAT,
                        "module archive of %d types and %d entries each, the config says %d and %d",
                        hdr[0], hdr[1], s->cfg->n_modules, cap);
    if (!rc)
        rc = enevo_archive_init(a, hdr[0], hdr[1]);
    for (int t = 0; !rc && t < a->n_types; t++) {
        int32_t n;
        rc = get_raw(buf, len, pos, &n, sizeof n);
        if (!rc && (n < 0 || n > a->cap))
            rc = ENEVO_EFORMAT;
        for (int i = 0; !rc && i < n; i++) {
            struct enevo_archive_entry *e = &a->e[t][i];
            rc = get_raw(buf, len, pos, &e->hash, sizeof e->hash);
            if (!rc)
                rc = get_raw(buf, len, pos, &e->energy_j, sizeof e->energy_j);
            if (!rc)
                rc = get_raw(buf, len, pos, &e->power_w, sizeof e->power_w);
            if (!rc)
                rc = enevo_module_read(s, buf, len, pos, &e->mod, err, errlen);
            if (!rc && e->mod.type != t) {
                /* Not yet counted in a->n[t]: freed here or never. */
                int type = e->mod.type;
                enevo_module_free(&e->mod);
                rc = enevo_errf(err, errlen, ENEVO_EFORMAT,
                                "module archive: an entry of type %d among type %d's", type, t);
            }
            if (!rc)
                a->n[t] = i + 1;
        }
    }
    if (rc) {
        enevo_archive_free(a);
        if (err && errlen && !err[0])
            enevo_errf(err, errlen, rc, "malformed module archive in checkpoint");
    }
    return rc;
}
