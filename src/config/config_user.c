/* src/config/config_user.c — a user's config file, read as ENERGIZE reads
 * it, and where each value of the result came from.
 *
 * enevo_config_parse lays a text over a struct: right for config.used.yaml
 * (complete) and for callers that build configs. A file a user passes to
 * `enevo evolve` is different: ENERGIZE gives a key's absence a meaning
 * (no seed_model: random networks), and enevo's own guards and budgets must
 * not slip in from configs/default.yaml where ENERGIZE has none. The rule
 * and the list of keys are in README "Config" and docs/ENERGIZE.md.
 */
#include <stdlib.h>
#include <string.h>

#include "config/config_internal.h"
#include "enevo/config.h"
#include "enevo/io.h"

void enevo_config_origin_mark(struct enevo_config_origin *o, const char *path, int from)
{
    if (!o)
        return;
    int i = 0;
    while (i < o->n && strcmp(o->keys[i].path, path))
        i++;
    if (i == o->n) {
        if (o->n == ENEVO_ORIGIN_MAX || strlen(path) >= sizeof o->keys[0].path) {
            o->full = true;
            return;
        }
        snprintf(o->keys[o->n++].path, sizeof o->keys[0].path, "%s", path);
    }
    o->keys[i].from = from;
}

int enevo_config_origin_of(const struct enevo_config_origin *o, const char *path)
{
    if (!o)
        return ENEVO_FROM_DEFAULT;
    /* The longest recorded path that is `path` or a parent of it. */
    size_t best = 0;
    int from = o->full ? ENEVO_FROM_FILE : ENEVO_FROM_DEFAULT;
    for (int i = 0; i < o->n; i++) {
        size_t n = strlen(o->keys[i].path);
        if (n > best && !strncmp(o->keys[i].path, path, n) && (path[n] == 0 || path[n] == '.')) {
            best = n;
            from = o->keys[i].from;
        }
    }
    return from;
}

/* What a key ENERGIZE's configs may leave out means when they do (README
 * "Config" lists every key and the rule). */
static void energize_absent(struct enevo_config *c, struct enevo_config_origin *o)
{
    memset(c->seed_phenotype, 0, sizeof c->seed_phenotype);
    c->reevaluate_parent = false;
    c->max_mflops = 0;
    enevo_config_origin_mark(o, "energize.seed_model", ENEVO_FROM_ENERGIZE);
    enevo_config_origin_mark(o, "evolutionary.reevaluate_parent", ENEVO_FROM_ENERGIZE);
    enevo_config_origin_mark(o, "evolutionary.max_mflops", ENEVO_FROM_ENERGIZE);
}

int enevo_config_parse_user(const char *text, const char *source, struct enevo_config *c,
                            struct enevo_config_origin *origin, FILE *warnings, char *err,
                            size_t errlen)
{
    if (!c)
        return enevo_errf(err, errlen, ENEVO_EINVAL, "no config to fill");
    struct enevo_config *tmp = malloc(sizeof *tmp);
    struct enevo_config_origin *o = malloc(sizeof *o);
    if (!tmp || !o) {
        free(tmp);
        free(o);
        return enevo_errf(err, errlen, ENEVO_ENOMEM, "out of memory");
    }
    memset(o, 0, sizeof *o);
    enevo_config_defaults(tmp);
    energize_absent(tmp, o);
    bool builtin = false;
    int rc = enevo__config_parse(text, source, tmp, o, &builtin, warnings, err, errlen);
    if (!rc && builtin) {
        /* An overlay on the whole default: read again (quietly, the
         * warnings are out) without ENERGIZE's absences. */
        enevo_config_defaults(tmp);
        memset(o, 0, sizeof *o);
        rc = enevo__config_parse(text, source, tmp, o, NULL, NULL, err, errlen);
    } else if (!rc && tmp->default_train_time > 0 &&
               enevo_config_origin_of(o, "network.learning.default_train_epochs") !=
                   ENEVO_FROM_FILE) {
        /* ENERGIZE's caps are the time, early stopping and the phenotype's
         * epochs: no epoch budget of ours on top. */
        tmp->default_train_epochs = 0;
        enevo_config_origin_mark(o, "network.learning.default_train_epochs", ENEVO_FROM_ENERGIZE);
    }
    if (!rc) {
        memcpy(c, tmp, sizeof *tmp);
        if (origin)
            memcpy(origin, o, sizeof *o);
    }
    free(tmp);
    free(o);
    return rc;
}

int enevo_config_load_user(const char *path, struct enevo_config *c,
                           struct enevo_config_origin *origin, FILE *warnings, char *err,
                           size_t errlen)
{
    char *buf;
    int rc = enevo_read_text(path, (size_t)ENEVO__CONFIG_MAX_BYTES, &buf, NULL, err, errlen);
    if (rc)
        return rc;
    rc = enevo_config_parse_user(buf, path, c, origin, warnings, err, errlen);
    free(buf);
    return rc;
}

static const char *from_text(int from)
{
    switch (from) {
    case ENEVO_FROM_FILE:
        return "file";
    case ENEVO_FROM_ENERGIZE:
        return "ENERGIZE (not in the file)";
    case ENEVO_FROM_CLI:
        return "command line";
    default:
        return "built-in default";
    }
}

/* The canonical text, each value line followed by where it came from. The
 * key path of a line comes from the indentation (list items belong to
 * their list's key); a literal block's lines are copied as they are. */
char *enevo_config_format_origin(const struct enevo_config *c, const struct enevo_config_origin *o)
{
    char *canon = enevo_config_format(c);
    if (!canon)
        return NULL;
    size_t cap = 2 * strlen(canon) + 4096, len = 0;
    char *out = malloc(cap);
    if (!out) {
        free(canon);
        return NULL;
    }
    struct {
        int indent;
        char key[48];
    } stack[16];
    int depth = 0, block = -1; /* block: indent of a literal block's key, or -1 */
    for (char *line = canon, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = 0;
        int indent = (int)strspn(line, " ");
        const char *p = line + indent;
        char note[160] = "";
        if (block >= 0 && indent > block) {
            /* inside the literal block */
        } else if (*p && *p != '#') {
            block = -1;
            if (!strncmp(p, "- ", 2)) {
                p += 2;
                indent += 2;
            }
            while (depth > 0 && stack[depth - 1].indent >= indent)
                depth--;
            size_t klen = strcspn(p, ":");
            if (depth < 16) {
                stack[depth].indent = indent;
                snprintf(stack[depth].key, sizeof stack[depth].key, "%.*s", (int)klen, p);
                depth++;
            }
            const char *val = p[klen] ? p + klen + 1 : "";
            val += strspn(val, " ");
            if (*val) {
                char path[256] = "";
                size_t n = 0;
                for (int i = 0; i < depth && n < sizeof path; i++)
                    n += (size_t)snprintf(path + n, sizeof path - n, "%s%s", i ? "." : "",
                                          stack[i].key);
                snprintf(note, sizeof note, "  # %s", from_text(enevo_config_origin_of(o, path)));
                if (!strcmp(val, "|"))
                    block = indent;
            }
        }
        size_t need = strlen(line) + strlen(note) + 2;
        if (len + need >= cap) {
            cap = 2 * (len + need);
            char *t = realloc(out, cap);
            if (!t) {
                free(out);
                free(canon);
                return NULL;
            }
            out = t;
        }
        len += (size_t)sprintf(out + len, "%s%s\n", line, note);
    }
    free(canon);
    return out;
}
