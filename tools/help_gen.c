/* tools/help_gen.c — `enevo help --man` and `enevo help --bash-completion`:
 * the man page and the bash completion script, printed from the command
 * table that `enevo help` prints (tools/enevo.c), so that neither can drift
 * from it. make writes them to BUILD/enevo.1 and BUILD/enevo.bash and
 * `make install` installs them; tests/test_install.c renders the page and
 * drives the completion. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "enevo/version.h"

/* ---- the man page ---- */

/* Text for roff: backslashes escaped, '-' as \- (an ASCII hyphen-minus
 * that can be copied into a shell), '`' as a grave accent, "—" as an em
 * dash, and \& before a '.' or '\'' that would start a request. */
static void roff_text(FILE *f, const char *s, size_t n)
{
    bool bol = true;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (bol && (ch == '.' || ch == '\''))
            fputs("\\&", f);
        bol = ch == '\n';
        if (ch == '\\')
            fputs("\\e", f);
        else if (ch == '-')
            fputs("\\-", f);
        else if (ch == '`')
            fputs("\\(ga", f);
        else if (!strncmp(s + i, "—", strlen("—"))) {
            fputs("\\(em", f);
            i += strlen("—") - 1;
        } else
            fputc(ch, f);
    }
}

static void roff_line(FILE *f, const char *s)
{
    roff_text(f, s, strlen(s));
    fputc('\n', f);
}

/* A help line that starts a new subject ("--device: ...", "DATA: ...")
 * starts a new paragraph; the other lines fill the current one. */
static bool starts_subject(const char *line, size_t n)
{
    size_t i = 0;
    if (n > 2 && line[0] == '-' && line[1] == '-')
        for (i = 2; i < n && ((line[i] >= 'a' && line[i] <= 'z') || line[i] == '-' ||
                              (line[i] >= '0' && line[i] <= '9'));
             i++)
            ;
    else
        for (; i < n && ((line[i] >= 'A' && line[i] <= 'Z') || line[i] == '_'); i++)
            ;
    return i > 0 && i < n && line[i] == ':';
}

static void man_command(FILE *f, const struct command *c)
{
    fprintf(f, ".SS %s\n.nf\n\\fBenevo %s\\fR", c->name, c->name);
    roff_line(f, c->usage + strlen(c->name));
    fputs(".fi\n.PP\n", f);
    for (const char *s = c->help; *s;) {
        const char *e = strchr(s, '\n');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        if (s != c->help && starts_subject(s, n))
            fputs(".PP\n", f);
        roff_text(f, s, n);
        fputc('\n', f);
        s += n + (e != NULL);
    }
}

int print_man(FILE *f, const struct command *cmds, size_t n)
{
    fprintf(f,
            ".\\\" enevo(1), printed by `enevo help --man` from the command table of\n"
            ".\\\" tools/enevo.c (the one `enevo help` prints). Do not edit.\n"
            ".TH ENEVO 1 \"\" \"enevo %s\" \"enevo manual\"\n"
            ".nh\n.ad l\n",
            enevo_version());
    fputs(".SH NAME\n"
          "enevo \\- energy\\-aware neuroevolution of convolutional networks\n"
          ".SH SYNOPSIS\n.nf\n",
          f);
    for (size_t i = 0; i < n; i++) {
        fprintf(f, "\\fBenevo %s\\fR", cmds[i].name);
        roff_line(f, cmds[i].usage + strlen(cmds[i].name));
    }
    fputs("\\fBenevo \\-\\-version\\fR\n\\fBenevo \\-\\-help\\fR\n.fi\n", f);
    fputs(".SH DESCRIPTION\n"
          "enevo evolves convolutional neural networks that are as accurate as possible while\n"
          "spending as little energy as possible per inference: grammar\\-based neuroevolution\n"
          "(ENERGIZE's phenotypes, grammars and configs are accepted unchanged), trained on\n"
          "its own engine (oneDNN on the CPU; cuDNN and cuBLAS on a GPU in a make CUDA=1\n"
          "build), with the energy of each network measured (NVML, RAPL) or estimated.\n"
          ".PP\n"
          "Each command below takes the flags its synopsis lists; \\fBenevo help\\fR\n"
          "\\fICOMMAND\\fR prints the same text as this page.\n"
          ".SH COMMANDS\n",
          f);
    for (size_t i = 0; i < n; i++)
        man_command(f, &cmds[i]);
    fputs(".SH OPTIONS\n"
          ".TP\n.B \\-\\-version\n"
          "Print the version of the enevo library and the compute backends this build has\n"
          "(cpu, and cuda for a make CUDA=1 build), then exit.\n"
          ".TP\n.BR \\-h \", \" \\-\\-help\n"
          "Print the list of commands (after a command: that command's usage), then exit.\n"
          ".SH EXIT STATUS\n"
          "0 on success; 1 for a data, phenotype, model or run error (the message names the\n"
          "file, line and what was expected); 2 for a usage error.\n"
          ".SH ENVIRONMENT\n"
          ".TP\n.B OMP_NUM_THREADS\n"
          "Threads when \\-\\-threads is not given.\n"
          ".TP\n.B ONEDNN_MAX_CPU_ISA\n"
          "Caps the instruction set oneDNN uses (SSE41, AVX, AVX2, AVX512_CORE).\n"
          ".TP\n.B ENEVO_POOL\n"
          "onednn: oneDNN's pooling in training networks instead of enevo's own loops.\n"
          ".TP\n.B ENEVO_QUIET_SLOW_PATH\n"
          "When set, no \"slow path\" line is printed for reference kernels.\n"
          ".SH FILES\n"
          ".TP\n.I share/enevo/default.yaml\n.TQ\n.I share/enevo/default.grammar\n"
          "Under the installation prefix (/usr/local by default): copies of the built\\-in\n"
          "config and grammar, which are compiled into the binary; start a config of your\n"
          "own from them (\\fBenevo evolve \\-\\-print\\-config\\fR shows every value and\n"
          "where it came from).\n"
          ".TP\n.I share/enevo/pareto.yaml\n"
          "A ready NSGA\\-II config (accuracy against energy per inference).\n"
          ".SH SEE ALSO\n"
          "The README, docs/FORMATS.md (phenotype, model, checkpoint and dataset formats) and\n"
          "docs/MEASUREMENT.md of the enevo sources. The library: the headers\n"
          "<enevo/*.h> (pkg\\-config \\-\\-cflags \\-\\-libs enevo).\n",
          f);
    return ferror(f) || fflush(f) ? 1 : 0;
}

/* ---- the bash completion ---- */

enum arg_kind { ARG_NONE, ARG_FILE, ARG_DIR, ARG_WORDS, ARG_COMMAND };

/* What a metavariable of a usage string completes to. */
static enum arg_kind arg_kind(const char *flag, const char *meta, size_t n, const char **words)
{
    /* The names enevo_device_resolve and enevo_meter_open take (the
     * meter "fake" is for tests). */
    static const struct {
        const char *flag, *words;
    } lists[] = {
        {"--device", "cpu cuda cuda:0 auto"},
        {"--meter", "auto nvml rapl model"},
    };
    for (size_t i = 0; flag && i < sizeof lists / sizeof lists[0]; i++)
        if (!strcmp(flag, lists[i].flag)) {
            *words = lists[i].words;
            return ARG_WORDS;
        }
    if (memchr(meta, '|', n) && meta[0] >= 'a' && meta[0] <= 'z')
        return ARG_WORDS; /* fine|coarse: the words themselves */
    if (n == 7 && !strncmp(meta, "COMMAND", 7))
        return ARG_COMMAND;
    for (size_t i = 0; i + 3 <= n; i++)
        if (!strncmp(meta + i, "DIR", 3))
            return ARG_DIR;
    static const char *const files[] = {"FILE", "DATA", "OUT", "CONFIG"};
    for (size_t k = 0; k < sizeof files / sizeof files[0]; k++)
        for (size_t i = 0; i + strlen(files[k]) <= n; i++)
            if (!strncmp(meta + i, files[k], strlen(files[k])))
                return ARG_FILE;
    return ARG_NONE; /* N, S, NAME, SETTING: nothing to offer */
}

/* One token of a usage string, without its brackets and trailing dots. */
struct tok {
    const char *s;
    size_t n;
    bool open, close; /* began with '[', ended with ']' */
};

static size_t tokens(const char *usage, struct tok *t, size_t max)
{
    size_t k = 0;
    for (const char *s = usage; *s && k < max;) {
        while (*s == ' ' || *s == '\n')
            s++;
        if (!*s)
            break;
        const char *b = s;
        while (*s && *s != ' ' && *s != '\n')
            s++;
        const char *e = s;
        struct tok x = {.open = *b == '['};
        while (b < e && *b == '[')
            b++;
        x.close = e > b && e[-1] == ']';
        while (e > b && (e[-1] == ']' || e[-1] == '.'))
            e--;
        x.s = b;
        x.n = (size_t)(e - b);
        if (x.n && !(x.n == 1 && *b == '|'))
            t[k++] = x;
    }
    return k;
}

/* The bash command that completes an argument of kind k into COMPREPLY. */
static void complete_kind(char *buf, size_t len, enum arg_kind k, const char *meta, size_t n,
                          const char *words, const struct command *cmds, size_t nc)
{
    size_t at = 0;
#define PUT(...)                                                                                   \
    (at += (size_t)snprintf(at < len ? buf + at : NULL, at < len ? len - at : 0, __VA_ARGS__))
    switch (k) {
    case ARG_FILE:
    case ARG_DIR:
        PUT("mapfile -t COMPREPLY < <(compgen -%c -- \"$cur\")", k == ARG_FILE ? 'f' : 'd');
        break;
    case ARG_WORDS:
    case ARG_COMMAND:
        PUT("mapfile -t COMPREPLY < <(compgen -W '");
        if (k == ARG_COMMAND)
            for (size_t i = 0; i < nc; i++)
                PUT("%s%s", i ? " " : "", cmds[i].name);
        else if (words)
            PUT("%s", words);
        else
            for (size_t i = 0; i < n; i++)
                PUT("%c", meta[i] == '|' ? ' ' : meta[i]);
        PUT("' -- \"$cur\")");
        break;
    case ARG_NONE:
        PUT(":");
        break;
    }
#undef PUT
}

/* One command's branch: the flags that take a value (grouped by how the
 * value completes), then its flags after a '-', else its positional
 * argument. */
static void completion_command(FILE *f, const struct command *c, const struct command *cmds,
                               size_t nc)
{
    struct tok t[96];
    size_t n = tokens(c->usage, t, sizeof t / sizeof t[0]);
    struct {
        char flag[48], action[512];
        bool done;
    } v[48];
    size_t nv = 0;
    char flags[1024] = "";
    size_t fl = 0;
    const struct tok *positional = NULL;
    for (size_t i = 1; i < n; i++) {
        if (t[i].s[0] != '-') {
            if (!positional)
                positional = &t[i];
            continue;
        }
        bool has_value = !t[i].close && i + 1 < n && t[i + 1].s[0] != '-' && !t[i + 1].open;
        bool seen = false; /* -o OUT [-o OUT2]: one flag, listed once */
        for (size_t j = 1; j < i; j++)
            seen |= t[j].n == t[i].n && !strncmp(t[j].s, t[i].s, t[i].n);
        if (!seen && fl < sizeof flags)
            fl += (size_t)snprintf(flags + fl, sizeof flags - fl, "%s%.*s", fl ? " " : "",
                                   (int)t[i].n, t[i].s);
        if (has_value && !seen && nv < sizeof v / sizeof v[0]) {
            snprintf(v[nv].flag, sizeof v[nv].flag, "%.*s", (int)t[i].n, t[i].s);
            const char *words = NULL;
            enum arg_kind k = arg_kind(v[nv].flag, t[i + 1].s, t[i + 1].n, &words);
            complete_kind(v[nv].action, sizeof v[nv].action, k, t[i + 1].s, t[i + 1].n, words, cmds,
                          nc);
            v[nv++].done = false;
        }
        i += has_value;
    }
    fprintf(f, "    %s)\n", c->name);
    if (nv)
        fputs("        case $prev in\n", f);
    for (size_t i = 0; i < nv; i++) {
        if (v[i].done)
            continue;
        fprintf(f, "        %s", v[i].flag);
        for (size_t j = i + 1; j < nv; j++)
            if (!v[j].done && !strcmp(v[j].action, v[i].action)) {
                fprintf(f, "|%s", v[j].flag);
                v[j].done = true;
            }
        fprintf(f, ") %s; return 0 ;;\n", v[i].action);
    }
    if (nv)
        fputs("        esac\n", f);
    char pos[512] = ":";
    if (positional) {
        const char *words = NULL;
        enum arg_kind k = arg_kind(NULL, positional->s, positional->n, &words);
        complete_kind(pos, sizeof pos, k, positional->s, positional->n, words, cmds, nc);
    }
    fprintf(f,
            "        if [[ $cur == -* ]]; then\n"
            "            mapfile -t COMPREPLY < <(compgen -W '%s' -- \"$cur\")\n"
            "        else\n"
            "            %s\n"
            "        fi ;;\n",
            flags, pos);
}

int print_bash_completion(FILE *f, const struct command *cmds, size_t n)
{
    fprintf(f,
            "# bash completion for enevo(1) %s, printed by `enevo help --bash-completion`\n"
            "# from the command table of tools/enevo.c (the one `enevo help` prints). Do not\n"
            "# edit. Installed as share/bash-completion/completions/enevo; or: source it.\n"
            "_enevo()\n{\n"
            "    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}\n"
            "    COMPREPLY=()\n"
            "    if [ \"$COMP_CWORD\" -eq 1 ]; then\n"
            "        mapfile -t COMPREPLY < <(compgen -W '",
            enevo_version());
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%s ", cmds[i].name);
    fputs("--version --help' -- \"$cur\")\n"
          "        return 0\n"
          "    fi\n"
          "    case ${COMP_WORDS[1]} in\n",
          f);
    for (size_t i = 0; i < n; i++)
        completion_command(f, &cmds[i], cmds, n);
    fputs("    esac\n"
          "    return 0\n"
          "}\n"
          "complete -o filenames -F _enevo enevo\n",
          f);
    return ferror(f) || fflush(f) ? 1 : 0;
}
