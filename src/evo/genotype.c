/* Genotypes: modules of DSGE layers with module-local connections, the
 * output rule and the macro rules; their phenotype text; serialisation.
 * Every copy is deep: mutating one individual never touches another. */
#include <stdlib.h>
#include <string.h>

#include "evo/evo_internal.h"
#include "evo/grammar_internal.h"

/* The engine fills a `_` bound only for partition_point (the number of
 * evolved layers minus one); any other one would fail every derivation
 * that reaches it, so it is refused before any work. */
static int check_dynamic_bounds(const struct enevo_grammar *g, char *err, size_t errlen)
{
    for (int r = 0; r < g->n_rules; r++)
        for (int p = 0; p < g->rules[r].n_prods; p++)
            for (int k = 0; k < g->rules[r].prods[p].n_syms; k++) {
                const struct enevo__sym *a = &g->rules[r].prods[p].syms[k];
                if (a->kind != ENEVO__SYM_ATTR || !(a->lo_dyn || a->hi_dyn) ||
                    !strcmp(a->text, "partition_point"))
                    continue;
                return enevo_errf(err, errlen, ENEVO_EINVAL,
                                  "grammar line %d, column %d: attribute '%s' of <%s> has a `_` "
                                  "bound, which enevo fills only for partition_point (the number "
                                  "of evolved layers minus one): give '%s' numeric bounds",
                                  a->line, a->col, a->text, g->rules[r].name, a->text);
            }
    return 0;
}

int enevo_space_init(struct enevo_evo_space *s, const struct enevo_config *c,
                     const struct enevo_grammar *g, char *err, size_t errlen)
{
    memset(s, 0, sizeof *s);
    int rc = check_dynamic_bounds(g, err, errlen);
    if (rc)
        return rc;
    s->cfg = c;
    s->g = g;
    if (c->n_modules < 1)
        return enevo_errf(err, errlen, ENEVO_EINVAL, "the config defines no modules");
    for (int i = 0; i < c->n_modules; i++) {
        s->module_sym[i] = enevo_grammar_symbol(g, c->modules[i].name);
        if (s->module_sym[i] < 0)
            return enevo_errf(err, errlen, ENEVO_EINVAL,
                              "module '%s' of the config is not a non-terminal of the grammar",
                              c->modules[i].name);
    }
    s->output_sym = enevo_grammar_symbol(g, c->output);
    if (s->output_sym < 0)
        return enevo_errf(err, errlen, ENEVO_EINVAL,
                          "output '%s' of the config is not a non-terminal of the grammar",
                          c->output);
    for (int i = 0; i < c->n_macro; i++) {
        s->macro_sym[i] = enevo_grammar_symbol(g, c->macro[i]);
        if (s->macro_sym[i] < 0)
            return enevo_errf(err, errlen, ENEVO_EINVAL,
                              "macro rule '%s' of the config is not a non-terminal of the grammar",
                              c->macro[i]);
    }
    return 0;
}

int enevo_genotype_layer_count(const struct enevo_genotype *gt)
{
    int n = 0;
    for (int m = 0; m < gt->n_modules; m++)
        n += gt->modules[m].n_layers;
    return n;
}

/* Dynamic bounds the grammar may ask for: partition_point in [0, L-1]. */
static int dyn_bounds(const struct enevo_genotype *gt, struct enevo_dyn_bound *d)
{
    int L = enevo_genotype_layer_count(gt);
    d[0] = (struct enevo_dyn_bound){"partition_point", 0, L > 1 ? L - 1 : 0};
    return 1;
}

static int module_reserve(struct enevo_module *m, int n)
{
    if (n <= m->cap)
        return 0;
    int cap = m->cap ? m->cap : 4;
    while (cap < n)
        cap *= 2;
    struct enevo_layer_gene *l = realloc(m->layers, sizeof *l * (size_t)cap);
    if (!l)
        return ENEVO_ENOMEM;
    m->layers = l;
    m->cap = cap;
    return 0;
}

static int genotype_reserve(struct enevo_genotype *gt, int n)
{
    if (n <= gt->cap)
        return 0;
    int cap = gt->cap ? gt->cap : 4;
    while (cap < n)
        cap *= 2;
    struct enevo_module *m = realloc(gt->modules, sizeof *m * (size_t)cap);
    if (!m)
        return ENEVO_ENOMEM;
    gt->modules = m;
    gt->cap = cap;
    return 0;
}

void enevo_module_free(struct enevo_module *m)
{
    for (int i = 0; i < m->n_layers; i++)
        enevo_dsge_free(m->layers[i].dsge);
    free(m->layers);
    memset(m, 0, sizeof *m);
}

int enevo_module_copy(const struct enevo_module *src, struct enevo_module *dst)
{
    memset(dst, 0, sizeof *dst);
    dst->type = src->type;
    if (module_reserve(dst, src->n_layers > 0 ? src->n_layers : 1))
        return ENEVO_ENOMEM;
    for (int i = 0; i < src->n_layers; i++) {
        dst->layers[i] = src->layers[i];
        dst->layers[i].dsge = enevo_dsge_copy(src->layers[i].dsge);
        if (!dst->layers[i].dsge) {
            dst->n_layers = i;
            enevo_module_free(dst);
            return ENEVO_ENOMEM;
        }
    }
    dst->n_layers = src->n_layers;
    return 0;
}

int enevo_module_insert(struct enevo_genotype *gt, int pos, struct enevo_module *m)
{
    if (genotype_reserve(gt, gt->n_modules + 1))
        return ENEVO_ENOMEM;
    memmove(gt->modules + pos + 1, gt->modules + pos,
            sizeof *gt->modules * (size_t)(gt->n_modules - pos));
    gt->modules[pos] = *m;
    gt->n_modules++;
    memset(m, 0, sizeof *m);
    return 0;
}

/* Insert a layer at position pos of module m, taking ownership of dsge;
 * connections after it are shifted and repaired. */
int enevo_module_insert_layer(struct enevo_module *m, int pos, struct enevo_dsge *dsge,
                              int levels_back)
{
    if (module_reserve(m, m->n_layers + 1))
        return ENEVO_ENOMEM;
    memmove(m->layers + pos + 1, m->layers + pos, sizeof *m->layers * (size_t)(m->n_layers - pos));
    m->n_layers++;
    m->layers[pos] = (struct enevo_layer_gene){.dsge = dsge, .n_in = 1, .in = {pos - 1}};
    for (int i = pos + 1; i < m->n_layers; i++) {
        struct enevo_layer_gene *l = &m->layers[i];
        for (int k = 0; k < l->n_in; k++)
            if (l->in[k] >= pos)
                l->in[k]++;
    }
    enevo_module_repair(m, levels_back);
    return 0;
}

void enevo_module_remove_layer(struct enevo_module *m, int pos, int levels_back)
{
    enevo_dsge_free(m->layers[pos].dsge);
    memmove(m->layers + pos, m->layers + pos + 1,
            sizeof *m->layers * (size_t)(m->n_layers - pos - 1));
    m->n_layers--;
    for (int i = pos; i < m->n_layers; i++) {
        struct enevo_layer_gene *l = &m->layers[i];
        int w = 0;
        for (int k = 0; k < l->n_in; k++) {
            int x = l->in[k];
            if (x == pos)
                continue; /* the removed layer; the sequential link is restored below */
            l->in[w++] = x > pos ? x - 1 : x;
        }
        l->n_in = w;
    }
    enevo_module_repair(m, levels_back);
}

/* Every layer i reads layer i-1 (the sequential backbone, as Fast-DENSER);
 * extra inputs stay only inside the levels_back window, without duplicates. */
void enevo_module_repair(struct enevo_module *m, int levels_back)
{
    for (int i = 0; i < m->n_layers; i++) {
        struct enevo_layer_gene *l = &m->layers[i];
        int keep[ENEVO_MAX_INPUTS], w = 0;
        keep[w++] = i - 1;
        for (int k = 0; k < l->n_in; k++) {
            int x = l->in[k];
            bool dup = false;
            for (int j = 0; j < w; j++)
                dup |= keep[j] == x;
            if (!dup && x >= 0 && x < i - 1 && x >= i - levels_back && w < ENEVO_MAX_INPUTS)
                keep[w++] = x;
        }
        memcpy(l->in, keep, sizeof(int) * (size_t)w);
        l->n_in = w;
    }
}

int enevo_module_random(const struct enevo_evo_space *s, int type, int n_layers, enevo_rng *rng,
                        struct enevo_module *out)
{
    memset(out, 0, sizeof *out);
    out->type = type;
    if (module_reserve(out, n_layers > 0 ? n_layers : 1))
        return ENEVO_ENOMEM;
    for (int i = 0; i < n_layers; i++) {
        struct enevo_dsge *d = NULL;
        /* ENERGIZE's reuse_layer at initialisation: a copy of an earlier
         * layer of the module (a copy, where ENERGIZE shares the object). */
        if (i > 0 && enevo_rng_double(rng) < s->cfg->reuse_layer)
            d = enevo_dsge_copy(out->layers[enevo_rng_below(rng, (uint32_t)i)].dsge);
        else if (enevo_dsge_random(s->g, s->module_sym[type], NULL, 0, rng, &d))
            d = NULL;
        if (!d) {
            enevo_module_free(out);
            return ENEVO_ENOMEM;
        }
        out->layers[i] = (struct enevo_layer_gene){.dsge = d, .n_in = 1, .in = {i - 1}};
        out->n_layers = i + 1;
    }
    return 0;
}

int enevo_genotype_random(const struct enevo_evo_space *s, enevo_rng *rng,
                          struct enevo_genotype *out)
{
    const struct enevo_config *c = s->cfg;
    memset(out, 0, sizeof *out);
    int rc = genotype_reserve(out, c->n_modules);
    for (int t = 0; !rc && t < c->n_modules; t++) {
        const struct enevo_module_cfg *mc = &c->modules[t];
        int n = mc->n_init ? mc->init[enevo_rng_below(rng, (uint32_t)mc->n_init)] : mc->min;
        struct enevo_module m;
        rc = enevo_module_random(s, t, n, rng, &m);
        if (!rc && m.n_layers == 0) {
            enevo_module_free(&m); /* an empty module adds nothing */
            continue;
        }
        if (!rc)
            rc = enevo_module_insert(out, out->n_modules, &m);
    }
    if (!rc)
        rc = enevo_dsge_random(s->g, s->output_sym, NULL, 0, rng, &out->output);
    struct enevo_dyn_bound dyn[1];
    int nd = dyn_bounds(out, dyn);
    for (int i = 0; !rc && i < c->n_macro; i++) {
        rc = enevo_dsge_random(s->g, s->macro_sym[i], dyn, nd, rng, &out->macro[i]);
        if (!rc)
            out->n_macro = i + 1;
    }
    if (rc)
        enevo_genotype_free(out);
    return rc;
}

int enevo_genotype_copy(const struct enevo_genotype *src, struct enevo_genotype *dst)
{
    memset(dst, 0, sizeof *dst);
    if (genotype_reserve(dst, src->n_modules > 0 ? src->n_modules : 1))
        return ENEVO_ENOMEM;
    for (int i = 0; i < src->n_modules; i++) {
        if (enevo_module_copy(&src->modules[i], &dst->modules[i])) {
            enevo_genotype_free(dst);
            return ENEVO_ENOMEM;
        }
        dst->n_modules = i + 1;
    }
    dst->output = src->output ? enevo_dsge_copy(src->output) : NULL;
    for (int i = 0; i < src->n_macro; i++) {
        dst->macro[i] = enevo_dsge_copy(src->macro[i]);
        dst->n_macro = i + 1;
        if (!dst->macro[i]) {
            enevo_genotype_free(dst);
            return ENEVO_ENOMEM;
        }
    }
    if (src->output && !dst->output) {
        enevo_genotype_free(dst);
        return ENEVO_ENOMEM;
    }
    return 0;
}

void enevo_genotype_free(struct enevo_genotype *gt)
{
    for (int i = 0; i < gt->n_modules; i++)
        enevo_module_free(&gt->modules[i]);
    free(gt->modules);
    enevo_dsge_free(gt->output);
    for (int i = 0; i < gt->n_macro; i++)
        enevo_dsge_free(gt->macro[i]);
    memset(gt, 0, sizeof *gt);
}

/* A growable string. */
struct sbuf {
    char *s;
    size_t len, cap;
    bool oom;
};

static void sb_add(struct sbuf *b, const char *t)
{
    size_t n = strlen(t);
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *s = realloc(b->s, cap);
        if (!s) {
            b->oom = true;
            return;
        }
        b->s = s;
        b->cap = cap;
    }
    memcpy(b->s + b->len, t, n + 1);
    b->len += n;
}

int enevo_genotype_phenotype(const struct enevo_evo_space *s, struct enevo_genotype *gt,
                             enevo_rng *rng, char **text)
{
    *text = NULL;
    struct sbuf b = {0};
    int offset = 0, last = -1, rc = 0;
    char num[32];
    for (int m = 0; m < gt->n_modules && !rc; m++) {
        const struct enevo_module *mod = &gt->modules[m];
        for (int i = 0; i < mod->n_layers && !rc; i++) {
            char *t;
            if ((rc = enevo_dsge_decode(s->g, mod->layers[i].dsge, NULL, 0, rng, &t)))
                break;
            sb_add(&b, t);
            free(t);
            sb_add(&b, " input:");
            const struct enevo_layer_gene *l = &mod->layers[i];
            for (int k = 0; k < l->n_in; k++) {
                /* Module-local -1 is the previous module's last layer. */
                int id = l->in[k] < 0 ? offset - 1 : offset + l->in[k];
                snprintf(num, sizeof num, "%s%d", k ? "," : "", id < 0 ? -1 : id);
                sb_add(&b, num);
            }
            sb_add(&b, "\n");
        }
        offset += mod->n_layers;
    }
    last = offset - 1;
    if (!rc) {
        char *t;
        rc = enevo_dsge_decode(s->g, gt->output, NULL, 0, rng, &t);
        if (!rc) {
            sb_add(&b, t);
            free(t);
            snprintf(num, sizeof num, " input:%d\n", last);
            sb_add(&b, num);
        }
    }
    struct enevo_dyn_bound dyn[1];
    int nd = dyn_bounds(gt, dyn);
    for (int i = 0; i < gt->n_macro && !rc; i++) {
        char *t;
        if ((rc = enevo_dsge_decode(s->g, gt->macro[i], dyn, nd, rng, &t)))
            break;
        sb_add(&b, t);
        free(t);
        sb_add(&b, i + 1 < gt->n_macro ? " " : "\n");
    }
    if (!rc && b.oom)
        rc = ENEVO_ENOMEM;
    if (rc) {
        free(b.s);
        return rc;
    }
    *text = b.s;
    return 0;
}

/* ---- serialisation: little-endian i32 counts, then DSGE blobs ---- */

static int put_i32(unsigned char **buf, size_t *len, size_t *cap, int32_t v)
{
    if (*len + 4 > *cap) {
        size_t c = *cap ? *cap * 2 : 1024;
        while (c < *len + 4)
            c *= 2;
        unsigned char *b = realloc(*buf, c);
        if (!b)
            return ENEVO_ENOMEM;
        *buf = b;
        *cap = c;
    }
    uint32_t u = (uint32_t)v;
    for (int i = 0; i < 4; i++)
        (*buf)[(*len)++] = (unsigned char)(u >> (8 * i));
    return 0;
}

static int get_i32(const unsigned char *buf, size_t len, size_t *pos, int32_t *v)
{
    if (*pos + 4 > len)
        return ENEVO_EFORMAT;
    uint32_t u = 0;
    for (int i = 0; i < 4; i++)
        u |= (uint32_t)buf[*pos + (size_t)i] << (8 * i);
    *pos += 4;
    *v = (int32_t)u;
    return 0;
}

int enevo_module_write(const struct enevo_module *mod, unsigned char **buf, size_t *len,
                       size_t *cap)
{
    int rc = put_i32(buf, len, cap, mod->type);
    if (!rc)
        rc = put_i32(buf, len, cap, mod->n_layers);
    for (int i = 0; !rc && i < mod->n_layers; i++) {
        const struct enevo_layer_gene *l = &mod->layers[i];
        rc = put_i32(buf, len, cap, l->n_in);
        for (int k = 0; !rc && k < l->n_in; k++)
            rc = put_i32(buf, len, cap, l->in[k]);
        if (!rc)
            rc = enevo_dsge_write(l->dsge, buf, len, cap);
    }
    return rc;
}

int enevo_genotype_write(const struct enevo_genotype *gt, unsigned char **buf, size_t *len,
                         size_t *cap)
{
    int rc = put_i32(buf, len, cap, gt->n_modules);
    for (int m = 0; !rc && m < gt->n_modules; m++)
        rc = enevo_module_write(&gt->modules[m], buf, len, cap);
    if (!rc)
        rc = enevo_dsge_write(gt->output, buf, len, cap);
    if (!rc)
        rc = put_i32(buf, len, cap, gt->n_macro);
    for (int i = 0; !rc && i < gt->n_macro; i++)
        rc = enevo_dsge_write(gt->macro[i], buf, len, cap);
    return rc;
}

int enevo_module_read(const struct enevo_evo_space *s, const unsigned char *buf, size_t len,
                      size_t *pos, struct enevo_module *out, char *err, size_t errlen)
{
    int32_t type = 0, nl = 0;
    memset(out, 0, sizeof *out);
    int rc = get_i32(buf, len, pos, &type);
    if (!rc)
        rc = get_i32(buf, len, pos, &nl);
    /* A layer takes at least 20 bytes (input count, one input, a DSGE
     * header): a count the bytes left cannot hold is refused before the
     * layers are allocated. */
    if (!rc && (type < 0 || type >= s->cfg->n_modules || nl < 0 || nl > 100000 ||
                (size_t)nl > (len - *pos) / 20))
        rc = ENEVO_EFORMAT;
    out->type = type;
    if (!rc)
        rc = module_reserve(out, nl > 0 ? nl : 1);
    for (int i = 0; !rc && i < nl; i++) {
        struct enevo_layer_gene *l = &out->layers[i];
        int32_t n_in = 0, x = 0;
        memset(l, 0, sizeof *l);
        rc = get_i32(buf, len, pos, &n_in);
        if (!rc && (n_in < 1 || n_in > ENEVO_MAX_INPUTS))
            rc = ENEVO_EFORMAT;
        for (int k = 0; !rc && k < n_in; k++) {
            rc = get_i32(buf, len, pos, &x);
            if (!rc && (x < -1 || x >= i))
                rc = ENEVO_EFORMAT;
            l->in[k] = x;
        }
        l->n_in = n_in;
        if (!rc)
            rc = enevo_dsge_read(s->g, buf, len, pos, &l->dsge, err, errlen);
        if (!rc)
            out->n_layers = i + 1;
    }
    if (rc)
        enevo_module_free(out);
    return rc;
}

int enevo_genotype_read(const struct enevo_evo_space *s, const unsigned char *buf, size_t len,
                        size_t *pos, struct enevo_genotype *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (err && errlen)
        err[0] = 0;
    int32_t nm;
    int rc = get_i32(buf, len, pos, &nm);
    if (!rc && (nm < 0 || nm > 4096 || (size_t)nm > (len - *pos) / 8)) /* 8 bytes a module */
        rc = ENEVO_EFORMAT;
    if (!rc)
        rc = genotype_reserve(out, nm > 0 ? nm : 1);
    for (int m = 0; !rc && m < nm; m++) {
        rc = enevo_module_read(s, buf, len, pos, &out->modules[m], err, errlen);
        if (!rc)
            out->n_modules = m + 1;
    }
    if (!rc)
        rc = enevo_dsge_read(s->g, buf, len, pos, &out->output, err, errlen);
    int32_t nmac = 0;
    if (!rc)
        rc = get_i32(buf, len, pos, &nmac);
    if (!rc && (nmac < 0 || nmac > ENEVO_MAX_MACRO))
        rc = ENEVO_EFORMAT;
    for (int i = 0; !rc && i < nmac; i++) {
        rc = enevo_dsge_read(s->g, buf, len, pos, &out->macro[i], err, errlen);
        if (!rc)
            out->n_macro = i + 1;
    }
    if (rc) {
        enevo_genotype_free(out);
        if (rc == ENEVO_EFORMAT && err && errlen && !err[0])
            enevo_errf(err, errlen, rc, "malformed genotype in checkpoint");
    }
    return rc;
}
