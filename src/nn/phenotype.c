/* src/nn/phenotype.c — ENERGIZE phenotype strings: parse, format, shape check.
 *
 * The grammar is flat: whitespace-separated `key:value` tokens, split at the
 * first ':'. `layer:<kind>`, `learning:<optimizer>` and `model_partition:<x>`
 * open an entity; every other token belongs to the entity opened last. A '#'
 * at the start of a token comments out the rest of its line.
 *
 * Which keys an entity accepts is one table (keys[] below) with a bitmask of
 * entity classes, so "unknown key", "key of another kind" and "duplicate key"
 * are decided in one place and messages can list the keys that were allowed.
 */
#include "enevo/phenotype.h"

#include "enevo/io.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- name tables ---------------------------------------------------- */

static const char *const layer_kind_names[] = {
    [ENEVO_LAYER_CONV] = "conv",
    [ENEVO_LAYER_POOL_MAX] = "pool_max",
    [ENEVO_LAYER_POOL_AVG] = "pool_avg",
    [ENEVO_LAYER_DROPOUT] = "dropout",
    [ENEVO_LAYER_BATCH_NORM] = "batch_norm",
    [ENEVO_LAYER_FC] = "fc",
};
_Static_assert(sizeof layer_kind_names / sizeof layer_kind_names[0] == ENEVO_LAYER__COUNT,
               "layer_kind_names out of step with enum enevo_layer_kind");

static const char *const act_names[] = {
    [ENEVO_ACT_LINEAR] = "linear",
    [ENEVO_ACT_RELU] = "relu",
    [ENEVO_ACT_SIGMOID] = "sigmoid",
    [ENEVO_ACT_SOFTMAX] = "softmax",
};
_Static_assert(sizeof act_names / sizeof act_names[0] == ENEVO_ACT_SOFTMAX + 1,
               "act_names out of step with enum enevo_act");

static const char *const optimizer_names[] = {
    [ENEVO_OPT_SGD] = "gradient_descent",
    [ENEVO_OPT_ADAM] = "adam",
    [ENEVO_OPT_RMSPROP] = "rmsprop",
    [ENEVO_OPT_LARS] = "lars",
};
_Static_assert(sizeof optimizer_names / sizeof optimizer_names[0] == ENEVO_OPT_LARS + 1,
               "optimizer_names out of step with enum enevo_optimizer");

#define N_ACTS ((int)(sizeof act_names / sizeof act_names[0]))
#define N_OPTS ((int)(sizeof optimizer_names / sizeof optimizer_names[0]))

const char *enevo_layer_kind_name(enum enevo_layer_kind k)
{
    return (unsigned)k < ENEVO_LAYER__COUNT ? layer_kind_names[k] : "?";
}

const char *enevo_act_name(enum enevo_act a)
{
    return (unsigned)a < (unsigned)N_ACTS ? act_names[a] : "?";
}

const char *enevo_optimizer_name(enum enevo_optimizer o)
{
    return (unsigned)o < (unsigned)N_OPTS ? optimizer_names[o] : "?";
}

void enevo_learning_defaults(struct enevo_learning_spec *l)
{
    *l = (struct enevo_learning_spec){
        .optimizer = ENEVO_OPT_SGD,
        .lr = 0.01,
        .momentum = 0.0,
        .weight_decay = 0.0,
        .nesterov = false,
        .beta1 = 0.9,
        .beta2 = 0.999,
        .alpha = 0.99,
        .lr_weights = 0.2,
        .lr_biases = 0.0048,
        .early_stop = 5,
        .batch_size = 64,
        .epochs = 10,
    };
}

static void phenotype_empty(struct enevo_phenotype *p)
{
    memset(p, 0, sizeof *p);
    enevo_learning_defaults(&p->learning);
    p->partition_point = -1;
    p->partition_weight = 1.0;
}

void enevo_phenotype_free(struct enevo_phenotype *p)
{
    if (!p)
        return;
    free(p->layers);
    phenotype_empty(p);
}

/* ---- key table ------------------------------------------------------ */

/* Entity classes: one bit per layer kind, per optimizer, and the partition. */
#define C_LAYER(k) (1u << (k))
#define C_OPT(o) (1u << (ENEVO_LAYER__COUNT + (o)))
#define C_PARTITION (1u << (ENEVO_LAYER__COUNT + N_OPTS))

#define C_CONV C_LAYER(ENEVO_LAYER_CONV)
#define C_POOL (C_LAYER(ENEVO_LAYER_POOL_MAX) | C_LAYER(ENEVO_LAYER_POOL_AVG))
#define C_FC C_LAYER(ENEVO_LAYER_FC)
#define C_ALL_LAYERS ((1u << ENEVO_LAYER__COUNT) - 1u)
#define C_SGD C_OPT(ENEVO_OPT_SGD)
#define C_ADAM C_OPT(ENEVO_OPT_ADAM)
#define C_RMSPROP C_OPT(ENEVO_OPT_RMSPROP)
#define C_LARS C_OPT(ENEVO_OPT_LARS)
#define C_ALL_OPTS (C_SGD | C_ADAM | C_RMSPROP | C_LARS)

enum key_id {
    K_OUT_CHANNELS,
    K_OUT_FEATURES,
    K_KERNEL_SIZE,
    K_STRIDE,
    K_PADDING,
    K_ACT,
    K_BIAS,
    K_RATE,
    K_INPUT,
    K_LR,
    K_MOMENTUM,
    K_WEIGHT_DECAY,
    K_NESTEROV,
    K_BETA1,
    K_BETA2,
    K_ALPHA,
    K_LR_WEIGHTS,
    K_LR_BIASES,
    K_EARLY_STOP,
    K_BATCH_SIZE,
    K_EPOCHS,
    K_PARTITION_POINT,
    K_PARTITION_WEIGHT,
    K__COUNT
};

static const struct key_info {
    const char *name;
    unsigned classes;  /* entity classes that accept the key */
    unsigned required; /* entity classes that must give it */
} keys[] = {
    [K_OUT_CHANNELS] = {"out_channels", C_CONV, C_CONV},
    [K_OUT_FEATURES] = {"out_features", C_FC, C_FC},
    [K_KERNEL_SIZE] = {"kernel_size", C_CONV | C_POOL, C_CONV | C_POOL},
    [K_STRIDE] = {"stride", C_CONV | C_POOL, 0},
    [K_PADDING] = {"padding", C_CONV | C_POOL, 0},
    [K_ACT] = {"act", C_CONV | C_FC, 0},
    [K_BIAS] = {"bias", C_CONV | C_FC, 0},
    [K_RATE] = {"rate", C_LAYER(ENEVO_LAYER_DROPOUT), 0},
    [K_INPUT] = {"input", C_ALL_LAYERS, C_ALL_LAYERS},
    [K_LR] = {"lr", C_SGD | C_ADAM | C_RMSPROP, 0},
    [K_MOMENTUM] = {"momentum", C_SGD | C_LARS, 0},
    [K_WEIGHT_DECAY] = {"weight_decay", C_ALL_OPTS, 0},
    [K_NESTEROV] = {"nesterov", C_SGD, 0},
    [K_BETA1] = {"beta1", C_ADAM, 0},
    [K_BETA2] = {"beta2", C_ADAM, 0},
    [K_ALPHA] = {"alpha", C_RMSPROP, 0},
    [K_LR_WEIGHTS] = {"lr_weights", C_LARS, 0},
    [K_LR_BIASES] = {"lr_biases", C_LARS, 0},
    [K_EARLY_STOP] = {"early_stop", C_ALL_OPTS, 0},
    [K_BATCH_SIZE] = {"batch_size", C_ALL_OPTS, 0},
    [K_EPOCHS] = {"epochs", C_ALL_OPTS, 0},
    [K_PARTITION_POINT] = {"partition_point", C_PARTITION, C_PARTITION},
    [K_PARTITION_WEIGHT] = {"weight", C_PARTITION, 0},
};
_Static_assert(sizeof keys / sizeof keys[0] == K__COUNT, "keys[] out of step with enum key_id");
_Static_assert(K__COUNT <= 32, "seen-key bitmask is 32 bits");

/* ---- parser state --------------------------------------------------- */

#define TOK_MAX 256

enum entity_type { ENT_NONE, ENT_LAYER, ENT_LEARNING, ENT_PARTITION };

struct parser {
    const char *src; /* source name for messages */
    char *err;
    size_t errlen;
    struct enevo_phenotype *p;
    int cap; /* allocated layers */

    enum entity_type ent;
    unsigned ent_class; /* one C_* bit */
    uint32_t seen;      /* keys given in the current entity */
    int ent_line, ent_col;
    int learning_line, learning_col;
    int partition_line, partition_col;

    /* current token */
    char tok[TOK_MAX];
    int line, col;
};

/* "src:line:col: <entity>: <message>" */
static int perr(struct parser *ps, int line, int col, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

static int entity_label(const struct parser *ps, char *buf, size_t n)
{
    switch (ps->ent) {
    case ENT_LAYER: {
        int id = ps->p->n_layers - 1;
        return snprintf(buf, n, "layer %d (%s): ", id,
                        enevo_layer_kind_name(ps->p->layers[id].kind));
    }
    case ENT_LEARNING:
        return snprintf(buf, n, "learning (%s): ", enevo_optimizer_name(ps->p->learning.optimizer));
    case ENT_PARTITION:
        return snprintf(buf, n, "model_partition: ");
    case ENT_NONE:
        break;
    }
    buf[0] = '\0';
    return 0;
}

static int perr(struct parser *ps, int line, int col, const char *fmt, ...)
{
    if (!ps->err || !ps->errlen)
        return ENEVO_EFORMAT;
    char label[64], msg[ENEVO_ERR_LEN];
    entity_label(ps, label, sizeof label);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return enevo_errf(ps->err, ps->errlen, ENEVO_EFORMAT, "%s:%d:%d: %s%s", ps->src, line, col,
                      label, msg);
}

/* Comma-separated names of the keys `cls` accepts, for messages. */
static void keys_of_class(unsigned cls, char *buf, size_t n)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int k = 0; k < K__COUNT; k++) {
        if (!(keys[k].classes & cls))
            continue;
        int w = snprintf(buf + used, n - used, "%s%s", used ? ", " : "", keys[k].name);
        if (w < 0 || (size_t)w >= n - used)
            return;
        used += (size_t)w;
    }
    if (!used)
        snprintf(buf, n, "none");
}

/* ---- value parsers -------------------------------------------------- */

static int parse_int_str(const char *s, long lo, long hi, int *out)
{
    if (!*s)
        return -1;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (*end || errno == ERANGE || v < lo || v > hi)
        return -1;
    *out = (int)v;
    return 0;
}

static int parse_double_str(const char *s, double *out)
{
    if (!*s)
        return -1;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (*end || !isfinite(v))
        return -1;
    if (errno == ERANGE && fabs(v) > 1.0) /* overflow; gradual underflow is fine */
        return -1;
    *out = v;
    return 0;
}

static int parse_bool_str(const char *s, bool *out)
{
    if (!strcmp(s, "True") || !strcmp(s, "true") || !strcmp(s, "1")) {
        *out = true;
        return 0;
    }
    if (!strcmp(s, "False") || !strcmp(s, "false") || !strcmp(s, "0")) {
        *out = false;
        return 0;
    }
    return -1;
}

enum range { R_GT0, R_GE0, R_01_OPEN, R_01_CLOSED };

static int in_range(double v, enum range r)
{
    switch (r) {
    case R_GT0:
        return v > 0.0;
    case R_GE0:
        return v >= 0.0;
    case R_01_OPEN:
        return v >= 0.0 && v < 1.0;
    case R_01_CLOSED:
        return v >= 0.0 && v <= 1.0;
    }
    return 0;
}

static const char *range_text(enum range r)
{
    switch (r) {
    case R_GT0:
        return "> 0";
    case R_GE0:
        return ">= 0";
    case R_01_OPEN:
        return "in [0, 1)";
    case R_01_CLOSED:
        return "in [0, 1]";
    }
    return "?";
}

/* ---- token handlers ------------------------------------------------- */

static int value_int(struct parser *ps, const char *key, const char *val, int vcol, long lo,
                     int *out)
{
    if (parse_int_str(val, lo, INT_MAX, out))
        return perr(ps, ps->line, vcol, "expected an integer >= %ld for %s, got '%s'", lo, key,
                    val);
    return 0;
}

static int value_double(struct parser *ps, const char *key, const char *val, int vcol, enum range r,
                        double *out)
{
    double v;
    if (parse_double_str(val, &v) || !in_range(v, r))
        return perr(ps, ps->line, vcol, "expected a number %s for %s, got '%s'", range_text(r), key,
                    val);
    *out = v;
    return 0;
}

static int value_bool(struct parser *ps, const char *key, const char *val, int vcol, bool *out)
{
    if (parse_bool_str(val, out))
        return perr(ps, ps->line, vcol, "expected %s:True|False, got '%s:%s'", key, key, val);
    return 0;
}

static int value_inputs(struct parser *ps, const char *val, int vcol, struct enevo_layer_spec *l)
{
    char buf[TOK_MAX];
    snprintf(buf, sizeof buf, "%s", val);
    int n = 0;
    char *s = buf;
    for (;;) {
        char *comma = strchr(s, ',');
        if (comma)
            *comma = '\0';
        int id;
        if (parse_int_str(s, -1, INT_MAX, &id))
            return perr(ps, ps->line, vcol,
                        "expected a layer id >= -1 or a comma-separated list of them for input, "
                        "got '%s'",
                        val);
        if (n == ENEVO_MAX_INPUTS)
            return perr(ps, ps->line, vcol, "expected at most %d input ids, got '%s'",
                        ENEVO_MAX_INPUTS, val);
        for (int j = 0; j < n; j++)
            if (l->inputs[j] == id)
                return perr(ps, ps->line, vcol, "input %d listed twice in '%s'", id, val);
        l->inputs[n++] = id;
        if (!comma)
            break;
        s = comma + 1;
    }
    l->n_inputs = n;
    return 0;
}

static int handle_layer_key(struct parser *ps, enum key_id k, const char *key, const char *val,
                            int vcol)
{
    struct enevo_layer_spec *l = &ps->p->layers[ps->p->n_layers - 1];
    switch (k) {
    case K_OUT_CHANNELS:
        return value_int(ps, key, val, vcol, 1, &l->out_channels);
    case K_OUT_FEATURES:
        return value_int(ps, key, val, vcol, 1, &l->out_features);
    case K_KERNEL_SIZE:
        return value_int(ps, key, val, vcol, 1, &l->kernel_size);
    case K_STRIDE:
        return value_int(ps, key, val, vcol, 1, &l->stride);
    case K_PADDING:
        if (!strcmp(val, "same"))
            l->padding = ENEVO_PAD_SAME;
        else if (!strcmp(val, "valid"))
            l->padding = ENEVO_PAD_VALID;
        else
            return perr(ps, ps->line, ps->col, "expected padding:same|valid, got '%s'", ps->tok);
        return 0;
    case K_ACT:
        for (int a = 0; a < N_ACTS; a++)
            if (!strcmp(val, act_names[a])) {
                l->act = (enum enevo_act)a;
                return 0;
            }
        return perr(ps, ps->line, ps->col, "expected act:linear|relu|sigmoid|softmax, got '%s'",
                    ps->tok);
    case K_BIAS:
        return value_bool(ps, key, val, vcol, &l->bias);
    case K_RATE: {
        double v;
        int rc = value_double(ps, key, val, vcol, R_01_OPEN, &v);
        if (rc)
            return rc;
        l->rate = (float)v;
        if (!(l->rate < 1.0f)) /* rounds up to 1 as a float */
            return perr(ps, ps->line, vcol, "expected a number in [0, 1) for rate, got '%s'", val);
        return 0;
    }
    case K_INPUT:
        return value_inputs(ps, val, vcol, l);
    default:
        break;
    }
    return perr(ps, ps->line, ps->col, "internal: key %s has no layer handler", key);
}

static int handle_learning_key(struct parser *ps, enum key_id k, const char *key, const char *val,
                               int vcol)
{
    struct enevo_learning_spec *l = &ps->p->learning;
    switch (k) {
    case K_LR:
        return value_double(ps, key, val, vcol, R_GT0, &l->lr);
    case K_MOMENTUM:
        return value_double(ps, key, val, vcol, R_01_OPEN, &l->momentum);
    case K_WEIGHT_DECAY:
        return value_double(ps, key, val, vcol, R_GE0, &l->weight_decay);
    case K_NESTEROV:
        return value_bool(ps, key, val, vcol, &l->nesterov);
    case K_BETA1:
        return value_double(ps, key, val, vcol, R_01_OPEN, &l->beta1);
    case K_BETA2:
        return value_double(ps, key, val, vcol, R_01_OPEN, &l->beta2);
    case K_ALPHA:
        return value_double(ps, key, val, vcol, R_01_CLOSED, &l->alpha);
    case K_LR_WEIGHTS:
        return value_double(ps, key, val, vcol, R_GT0, &l->lr_weights);
    case K_LR_BIASES:
        return value_double(ps, key, val, vcol, R_GT0, &l->lr_biases);
    case K_EARLY_STOP:
        return value_int(ps, key, val, vcol, 1, &l->early_stop);
    case K_BATCH_SIZE:
        return value_int(ps, key, val, vcol, 1, &l->batch_size);
    case K_EPOCHS:
        return value_int(ps, key, val, vcol, 1, &l->epochs);
    default:
        break;
    }
    return perr(ps, ps->line, ps->col, "internal: key %s has no learning handler", key);
}

/* Check the entity that just ended has every required key. */
static int close_entity(struct parser *ps)
{
    if (ps->ent == ENT_NONE)
        return 0;
    for (int k = 0; k < K__COUNT; k++)
        if ((keys[k].required & ps->ent_class) && !(ps->seen & (1u << k)))
            return perr(ps, ps->ent_line, ps->ent_col, "missing required key %s", keys[k].name);
    return 0;
}

static int open_layer(struct parser *ps, const char *val)
{
    int kind = -1;
    for (int k = 0; k < ENEVO_LAYER__COUNT; k++)
        if (!strcmp(val, layer_kind_names[k]))
            kind = k;
    if (kind < 0) {
        ps->ent = ENT_NONE; /* the message should not name the previous entity */
        return perr(ps, ps->line, ps->col,
                    "expected layer:conv|pool_max|pool_avg|dropout|batch_norm|fc, got '%s'",
                    ps->tok);
    }
    struct enevo_phenotype *p = ps->p;
    if (p->n_layers == ps->cap) {
        int cap = ps->cap ? ps->cap * 2 : 16;
        struct enevo_layer_spec *nl = realloc(p->layers, (size_t)cap * sizeof *nl);
        if (!nl)
            return enevo_errf(ps->err, ps->errlen, ENEVO_ENOMEM, "%s: out of memory", ps->src);
        p->layers = nl;
        ps->cap = cap;
    }
    p->layers[p->n_layers++] = (struct enevo_layer_spec){
        .kind = (enum enevo_layer_kind)kind,
        .stride = 1,
        .padding = ENEVO_PAD_VALID,
        .act = ENEVO_ACT_LINEAR,
        .bias = true,
        .rate = 0.5f,
        .line = ps->line,
        .col = ps->col,
    };
    ps->ent = ENT_LAYER;
    ps->ent_class = C_LAYER(kind);
    return 0;
}

static int open_learning(struct parser *ps, const char *val)
{
    ps->ent = ENT_NONE;
    if (ps->p->has_learning)
        return perr(ps, ps->line, ps->col,
                    "expected one learning entity, got a second '%s' (the first is at %d:%d)",
                    ps->tok, ps->learning_line, ps->learning_col);
    int opt = -1;
    for (int o = 0; o < N_OPTS; o++)
        if (!strcmp(val, optimizer_names[o]))
            opt = o;
    if (opt < 0)
        return perr(ps, ps->line, ps->col,
                    "expected learning:gradient_descent|adam|rmsprop|lars, got '%s'", ps->tok);
    ps->p->has_learning = true;
    ps->p->learning.optimizer = (enum enevo_optimizer)opt;
    ps->learning_line = ps->line;
    ps->learning_col = ps->col;
    ps->ent = ENT_LEARNING;
    ps->ent_class = C_OPT(opt);
    return 0;
}

static int open_partition(struct parser *ps)
{
    ps->ent = ENT_NONE;
    if (ps->p->has_partition)
        return perr(ps, ps->line, ps->col,
                    "expected one model_partition entity, got a second '%s' (the first is at "
                    "%d:%d)",
                    ps->tok, ps->partition_line, ps->partition_col);
    ps->p->has_partition = true;
    ps->partition_line = ps->line;
    ps->partition_col = ps->col;
    ps->ent = ENT_PARTITION;
    ps->ent_class = C_PARTITION;
    return 0;
}

/* One `key:value` token in ps->tok at ps->line:ps->col. */
static int handle_token(struct parser *ps)
{
    char *colon = strchr(ps->tok, ':');
    if (!colon)
        return perr(ps, ps->line, ps->col, "expected key:value, got '%s'", ps->tok);
    char key[TOK_MAX];
    size_t klen = (size_t)(colon - ps->tok);
    memcpy(key, ps->tok, klen);
    key[klen] = '\0';
    const char *val = colon + 1;
    int vcol = ps->col + (int)klen + 1;

    int is_layer = !strcmp(key, "layer"), is_learning = !strcmp(key, "learning");
    int is_partition = !strcmp(key, "model_partition");
    if (is_layer || is_learning || is_partition) {
        int rc = close_entity(ps);
        if (rc)
            return rc;
        ps->seen = 0;
        ps->ent_line = ps->line;
        ps->ent_col = ps->col;
        if (is_layer)
            return open_layer(ps, val);
        if (is_learning)
            return open_learning(ps, val);
        return open_partition(ps);
    }

    if (ps->ent == ENT_NONE)
        return perr(ps, ps->line, ps->col,
                    "expected layer:, learning: or model_partition: to start an entity, got '%s'",
                    ps->tok);

    int k = -1;
    for (int i = 0; i < K__COUNT; i++)
        if (!strcmp(key, keys[i].name))
            k = i;
    char allowed[400];
    keys_of_class(ps->ent_class, allowed, sizeof allowed);
    if (k < 0)
        return perr(ps, ps->line, ps->col, "unknown key '%s' (expected one of: %s)", key, allowed);
    if (!(keys[k].classes & ps->ent_class))
        return perr(ps, ps->line, ps->col, "key '%s' does not belong here (expected one of: %s)",
                    key, allowed);
    if (ps->seen & (1u << k))
        return perr(ps, ps->line, ps->col, "duplicate key '%s'", key);
    ps->seen |= 1u << k;

    switch (ps->ent) {
    case ENT_LAYER:
        return handle_layer_key(ps, (enum key_id)k, key, val, vcol);
    case ENT_LEARNING:
        return handle_learning_key(ps, (enum key_id)k, key, val, vcol);
    case ENT_PARTITION:
        if (k == K_PARTITION_WEIGHT) {
            ps->p->has_partition_weight = true;
            return value_double(ps, key, val, vcol, R_GE0, &ps->p->partition_weight);
        }
        return value_int(ps, key, val, vcol, 0, &ps->p->partition_point);
    case ENT_NONE:
        break;
    }
    return 0;
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

int enevo_phenotype_parse(const char *text, const char *source, struct enevo_phenotype *out,
                          char *err, size_t errlen)
{
    if (!out)
        return enevo_errf(err, errlen, ENEVO_EINVAL, "enevo_phenotype_parse: out is NULL");
    phenotype_empty(out);
    if (!text)
        return enevo_errf(err, errlen, ENEVO_EINVAL, "enevo_phenotype_parse: text is NULL");
    struct parser ps = {
        .src = source ? source : "<phenotype>",
        .err = err,
        .errlen = errlen,
        .p = out,
    };
    int line = 1, col = 1, rc = 0;
    const char *s = text;
    while (*s) {
        if (is_space(*s)) {
            if (*s == '\n') {
                line++;
                col = 1;
            } else {
                col++;
            }
            s++;
            continue;
        }
        if (*s == '#') { /* comment to end of line */
            while (*s && *s != '\n')
                s++;
            continue;
        }
        const char *start = s;
        while (*s && !is_space(*s))
            s++;
        size_t len = (size_t)(s - start);
        ps.line = line;
        ps.col = col;
        if (len >= TOK_MAX) {
            rc = perr(&ps, line, col, "expected a token of at most %d characters, got '%.40s...'",
                      TOK_MAX - 1, start);
            break;
        }
        memcpy(ps.tok, start, len);
        ps.tok[len] = '\0';
        col += (int)len;
        rc = handle_token(&ps);
        if (rc)
            break;
    }
    if (!rc)
        rc = close_entity(&ps);
    if (rc)
        enevo_phenotype_free(out);
    return rc;
}

int enevo_phenotype_load(const char *path, struct enevo_phenotype *out, char *err, size_t errlen)
{
    if (out)
        phenotype_empty(out);
    if (!path || !out)
        return enevo_errf(err, errlen, ENEVO_EINVAL, "enevo_phenotype_load: NULL argument");
    char *buf;
    int rc = enevo_read_text(path, 0, &buf, NULL, err, errlen);
    if (rc)
        return rc;
    rc = enevo_phenotype_parse(buf, path, out, err, errlen);
    free(buf);
    return rc;
}

/* ---- geometry ------------------------------------------------------- */

int enevo_layer_effective_stride(const struct enevo_layer_spec *l)
{
    if (l->kind == ENEVO_LAYER_CONV && l->padding == ENEVO_PAD_SAME)
        return 1;
    return l->stride;
}

int enevo_layer_out_size(const struct enevo_layer_spec *l, int n, int *pad_l, int *pad_r)
{
    int pl = 0, pr = 0, o;
    int k = l->kernel_size, s = enevo_layer_effective_stride(l);
    switch (l->kind) {
    case ENEVO_LAYER_CONV:
    case ENEVO_LAYER_POOL_MAX:
    case ENEVO_LAYER_POOL_AVG:
        if (n < 1 || k < 1 || s < 1) {
            o = 0;
        } else if (l->padding == ENEVO_PAD_VALID) {
            o = k > n ? 0 : (n - k) / s + 1;
        } else if (l->kind == ENEVO_LAYER_CONV) {
            /* PyTorch padding='same': total k-1, the extra one on the right */
            o = n;
            pl = (k - 1) / 2;
            pr = k - 1 - pl;
        } else {
            /* TensorFlow "same" pooling: ceil(n/s), the extra pad on the right */
            o = n / s + (n % s != 0);
            int total = (o - 1) * s + k - n;
            if (total < 0)
                total = 0;
            pl = total / 2;
            pr = total - pl;
        }
        break;
    case ENEVO_LAYER_FC:
        o = 1; /* fc flattens to {F, 1, 1} */
        break;
    default:
        o = n;
        break;
    }
    if (pad_l)
        *pad_l = pl;
    if (pad_r)
        *pad_r = pr;
    return o;
}

/* ---- shape check ---------------------------------------------------- */

#define LAYER_FMT "layer %d (%s): "
#define LAYER_ARGS(p, i) (i), enevo_layer_kind_name((p)->layers[i].kind)

static int append_ids(char *buf, size_t n, const int *ids, int count)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < count; i++) {
        const char *sep = i == 0 ? "" : (i == count - 1 ? " and " : ", ");
        int w = snprintf(buf + used, n - used, "%s%d", sep, ids[i]);
        if (w < 0 || (size_t)w >= n - used)
            return -1;
        used += (size_t)w;
    }
    return 0;
}

int enevo_phenotype_check(const struct enevo_phenotype *p, struct enevo_shape input, int n_classes,
                          struct enevo_shape *out, char *err, size_t errlen)
{
    if (!p || !out)
        return enevo_errf(err, errlen, ENEVO_EINVAL, "enevo_phenotype_check: NULL argument");
    if (input.c < 1 || input.h < 1 || input.w < 1 || n_classes < 1)
        return enevo_errf(err, errlen, ENEVO_EINVAL,
                          "input shape %dx%dx%d and %d classes: expected all >= 1", input.c,
                          input.h, input.w, n_classes);
    int n = p->n_layers;
    if (n < 1 || !p->layers)
        return enevo_errf(err, errlen, ENEVO_ESHAPE, "expected at least one layer, got none");

    /* Inputs point backwards: ids are a topological order. */
    for (int i = 0; i < n; i++) {
        const struct enevo_layer_spec *l = &p->layers[i];
        if (l->n_inputs < 1 || l->n_inputs > ENEVO_MAX_INPUTS)
            return enevo_errf(err, errlen, ENEVO_ESHAPE, LAYER_FMT "expected 1..%d inputs, got %d",
                              LAYER_ARGS(p, i), ENEVO_MAX_INPUTS, l->n_inputs);
        for (int j = 0; j < l->n_inputs; j++) {
            int id = l->inputs[j];
            if (id < -1 || id >= i)
                return enevo_errf(err, errlen, ENEVO_ESHAPE,
                                  LAYER_FMT "input %d is not an earlier layer (expected -1..%d)",
                                  LAYER_ARGS(p, i), id, i - 1);
        }
    }

    /* flat[i]: layer i's output is an fc output (possibly through dropout /
     * batch_norm), i.e. a vector rather than a map. */
    bool *flat = calloc((size_t)n, sizeof *flat);
    bool *used = calloc((size_t)n, sizeof *used);
    int *ids = malloc((size_t)n * sizeof *ids);
    int rc = 0;
    if (!flat || !used || !ids) {
        rc = enevo_errf(err, errlen, ENEVO_ENOMEM, "enevo_phenotype_check: out of memory");
        goto done;
    }

    for (int i = 0; i < n && !rc; i++) {
        const struct enevo_layer_spec *l = &p->layers[i];
        /* The sum of several inputs takes the shape of the lowest id; the
         * others are fixed to it (a 1x1 linear conv for maps). */
        int target = l->inputs[0];
        for (int j = 1; j < l->n_inputs; j++)
            if (l->inputs[j] < target)
                target = l->inputs[j];
        struct enevo_shape in = target < 0 ? input : out[target];
        bool in_flat = target >= 0 && flat[target];
        for (int j = 0; j < l->n_inputs; j++) {
            int id = l->inputs[j];
            bool f = id >= 0 && flat[id];
            if (id >= 0)
                used[id] = true;
            if (f != in_flat) {
                rc =
                    enevo_errf(err, errlen, ENEVO_ESHAPE,
                               LAYER_FMT "cannot sum input %d (%s) with input %d (%s): expected "
                                         "all feature maps or all fc outputs",
                               LAYER_ARGS(p, i), target, in_flat ? "an fc output" : "a feature map",
                               id, f ? "an fc output" : "a feature map");
                goto done;
            }
        }

        struct enevo_shape o = in;
        switch (l->kind) {
        case ENEVO_LAYER_CONV:
        case ENEVO_LAYER_POOL_MAX:
        case ENEVO_LAYER_POOL_AVG: {
            if (in_flat) {
                rc = enevo_errf(err, errlen, ENEVO_ESHAPE,
                                LAYER_FMT "conv after fc: input %d is an fc output (%dx1x1), "
                                          "expected a feature map",
                                LAYER_ARGS(p, i), target, in.c);
                goto done;
            }
            int oh = enevo_layer_out_size(l, in.h, NULL, NULL);
            int ow = enevo_layer_out_size(l, in.w, NULL, NULL);
            if (oh < 1 || ow < 1) {
                rc = enevo_errf(err, errlen, ENEVO_ESHAPE,
                                LAYER_FMT "kernel %dx%d (stride %d, %s) does not fit a %dx%d input",
                                LAYER_ARGS(p, i), l->kernel_size, l->kernel_size,
                                enevo_layer_effective_stride(l),
                                l->padding == ENEVO_PAD_SAME ? "same" : "valid", in.h, in.w);
                goto done;
            }
            o.c = l->kind == ENEVO_LAYER_CONV ? l->out_channels : in.c;
            o.h = oh;
            o.w = ow;
            flat[i] = false;
            break;
        }
        case ENEVO_LAYER_FC:
            o = (struct enevo_shape){l->out_features, 1, 1};
            flat[i] = true;
            break;
        default: /* dropout, batch_norm keep the shape */
            flat[i] = in_flat;
            break;
        }
        out[i] = o;
    }

    /* Exactly one output: the one layer nobody consumes. */
    int n_out = 0;
    for (int i = 0; i < n; i++)
        if (!used[i])
            ids[n_out++] = i;
    if (n_out != 1) {
        char list[256];
        if (append_ids(list, sizeof list, ids, n_out))
            snprintf(list, sizeof list, "%d, %d, ... (%d in all)", ids[0], ids[1], n_out);
        rc = enevo_errf(err, errlen, ENEVO_ESHAPE,
                        "layers %s are %sunused outputs (expected exactly one output layer)", list,
                        n_out == 2 ? "both " : "all ");
        goto done;
    }
    int o = ids[0];

    for (int i = 0; i < n; i++)
        if (i != o && p->layers[i].act == ENEVO_ACT_SOFTMAX &&
            (p->layers[i].kind == ENEVO_LAYER_CONV || p->layers[i].kind == ENEVO_LAYER_FC)) {
            rc = enevo_errf(err, errlen, ENEVO_ESHAPE,
                            LAYER_FMT "act:softmax is only allowed on the output layer (layer %d)",
                            LAYER_ARGS(p, i), o);
            goto done;
        }

    const struct enevo_layer_spec *ol = &p->layers[o];
    if (ol->kind != ENEVO_LAYER_FC) {
        rc = enevo_errf(err, errlen, ENEVO_ESHAPE,
                        LAYER_FMT "the output layer must be an fc, got %s", LAYER_ARGS(p, o),
                        enevo_layer_kind_name(ol->kind));
        goto done;
    }
    if (ol->act != ENEVO_ACT_SOFTMAX && ol->act != ENEVO_ACT_LINEAR) {
        rc = enevo_errf(err, errlen, ENEVO_ESHAPE,
                        LAYER_FMT "the output layer must have act softmax or linear, got act:%s",
                        LAYER_ARGS(p, o), enevo_act_name(ol->act));
        goto done;
    }
    if (ol->out_features != n_classes) {
        rc = enevo_errf(err, errlen, ENEVO_ESHAPE,
                        LAYER_FMT "the output layer has out_features:%d, expected %d (the number "
                                  "of classes)",
                        LAYER_ARGS(p, o), ol->out_features, n_classes);
        goto done;
    }

    if (p->has_partition && (p->partition_point < 0 || p->partition_point > n - 2)) {
        if (n < 2)
            rc = enevo_errf(err, errlen, ENEVO_ESHAPE,
                            "model_partition: partition_point %d, but there is no evolved layer "
                            "besides the output",
                            p->partition_point);
        else
            rc = enevo_errf(err, errlen, ENEVO_ESHAPE,
                            "model_partition: expected partition_point in [0, %d], got %d", n - 2,
                            p->partition_point);
        goto done;
    }

done:
    free(flat);
    free(used);
    free(ids);
    return rc;
}

/* ---- format --------------------------------------------------------- */

struct sbuf {
    char *s;
    size_t len, cap;
    int failed;
};

static void sb_printf(struct sbuf *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static void sb_printf(struct sbuf *b, const char *fmt, ...)
{
    if (b->failed)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int w = vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (w < 0) {
            b->failed = 1;
            return;
        }
        if ((size_t)w < b->cap - b->len) {
            b->len += (size_t)w;
            return;
        }
        size_t cap = b->cap * 2;
        while (cap - b->len <= (size_t)w)
            cap *= 2;
        char *ns = realloc(b->s, cap);
        if (!ns) {
            b->failed = 1;
            return;
        }
        b->s = ns;
        b->cap = cap;
    }
}

static const char *tf(bool v)
{
    return v ? "True" : "False";
}

static void format_inputs(struct sbuf *b, const struct enevo_layer_spec *l)
{
    sb_printf(b, " input:");
    for (int j = 0; j < l->n_inputs; j++)
        sb_printf(b, "%s%d", j ? "," : "", l->inputs[j]);
}

char *enevo_phenotype_format(const struct enevo_phenotype *p)
{
    if (!p)
        return NULL;
    struct sbuf b = {.s = malloc(256), .cap = 256};
    if (!b.s)
        return NULL;
    b.s[0] = '\0';
    for (int i = 0; i < p->n_layers; i++) {
        const struct enevo_layer_spec *l = &p->layers[i];
        const char *pad = l->padding == ENEVO_PAD_SAME ? "same" : "valid";
        sb_printf(&b, "layer:%s", enevo_layer_kind_name(l->kind));
        switch (l->kind) {
        case ENEVO_LAYER_CONV:
            sb_printf(&b, " out_channels:%d kernel_size:%d stride:%d padding:%s act:%s bias:%s",
                      l->out_channels, l->kernel_size, l->stride, pad, enevo_act_name(l->act),
                      tf(l->bias));
            break;
        case ENEVO_LAYER_POOL_MAX:
        case ENEVO_LAYER_POOL_AVG:
            sb_printf(&b, " kernel_size:%d stride:%d padding:%s", l->kernel_size, l->stride, pad);
            break;
        case ENEVO_LAYER_DROPOUT:
            sb_printf(&b, " rate:%.9g", (double)l->rate); /* 9 digits round-trip a float */
            break;
        case ENEVO_LAYER_FC:
            sb_printf(&b, " act:%s out_features:%d bias:%s", enevo_act_name(l->act),
                      l->out_features, tf(l->bias));
            break;
        default:
            break;
        }
        format_inputs(&b, l);
        sb_printf(&b, "\n");
    }
    if (p->has_learning) {
        const struct enevo_learning_spec *l = &p->learning;
        sb_printf(&b, "learning:%s", enevo_optimizer_name(l->optimizer));
        switch (l->optimizer) {
        case ENEVO_OPT_SGD:
            sb_printf(&b, " lr:%.17g momentum:%.17g weight_decay:%.17g nesterov:%s", l->lr,
                      l->momentum, l->weight_decay, tf(l->nesterov));
            break;
        case ENEVO_OPT_ADAM:
            sb_printf(&b, " lr:%.17g beta1:%.17g beta2:%.17g weight_decay:%.17g", l->lr, l->beta1,
                      l->beta2, l->weight_decay);
            break;
        case ENEVO_OPT_RMSPROP:
            sb_printf(&b, " lr:%.17g alpha:%.17g weight_decay:%.17g", l->lr, l->alpha,
                      l->weight_decay);
            break;
        case ENEVO_OPT_LARS:
            sb_printf(&b, " lr_weights:%.17g lr_biases:%.17g momentum:%.17g weight_decay:%.17g",
                      l->lr_weights, l->lr_biases, l->momentum, l->weight_decay);
            break;
        }
        sb_printf(&b, " early_stop:%d batch_size:%d epochs:%d\n", l->early_stop, l->batch_size,
                  l->epochs);
    }
    if (p->has_partition) {
        sb_printf(&b, "model_partition:True partition_point:%d", p->partition_point);
        if (p->has_partition_weight)
            sb_printf(&b, " weight:%.17g", p->partition_weight);
        sb_printf(&b, "\n");
    }
    if (b.failed) {
        free(b.s);
        return NULL;
    }
    return b.s;
}
