/* The option parser shared by all commands. */
#include "cli.h"
#include "ropelab/util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cli_report(const char *cmd) {
    fprintf(stderr, "ropelab %s: %s\n", cmd, *rl_error() ? rl_error() : "failed");
    return 1;
}

int cli_usage_error(const char *cmd, const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, "ropelab %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (see --help)\n");
    return 2;
}

void cli_print_help(const cli_spec *spec) {
    printf("usage: %s\n", spec->usage);
    if (spec->about) printf("\n%s\n", spec->about);
    if (spec->n_opts) printf("\noptions:\n");
    for (int i = 0; i < spec->n_opts; i++) {
        const cli_opt *o = &spec->opts[i];
        char left[64];
        const char *mv = o->metavar ? o->metavar : "X";
        switch (o->type) {
        case CLI_FLAG: snprintf(left, sizeof left, "--%s", o->name); break;
        case CLI_STRS:
        case CLI_INTS: snprintf(left, sizeof left, "--%s %s...", o->name, mv); break;
        default: snprintf(left, sizeof left, "--%s %s", o->name, mv); break;
        }
        printf("  %-28s %s\n", left, o->help ? o->help : "");
    }
    printf("  %-28s %s\n", "--help", "show this help");
}

static cli_opt *find(cli_spec *spec, const char *name, size_t len) {
    for (int i = 0; i < spec->n_opts; i++)
        if (strlen(spec->opts[i].name) == len && strncmp(spec->opts[i].name, name, len) == 0) return &spec->opts[i];
    return NULL;
}

int cli_given(const cli_spec *spec, const char *name) {
    for (int i = 0; i < spec->n_opts; i++)
        if (strcmp(spec->opts[i].name, name) == 0) return spec->opts[i].seen;
    return 0;
}

static int push_str(cli_strs *l, const char *s) {
    const char **v = realloc(l->v, (size_t)(l->n + 1) * sizeof *v);
    if (!v) return -1;
    l->v = v;
    l->v[l->n++] = s;
    return 0;
}

static int push_int(cli_ints *l, int64_t x) {
    int64_t *v = realloc(l->v, (size_t)(l->n + 1) * sizeof *v);
    if (!v) return -1;
    l->v = v;
    l->v[l->n++] = x;
    return 0;
}

/* A value-looking argument: anything not starting with "--" (so negative numbers pass). */
static int is_value(const char *a) { return !(a[0] == '-' && a[1] == '-'); }

int cli_parse(cli_spec *spec, int argc, char **argv, const char ***pos, int *npos) {
    const char *cmd = argv[0];
    const char **p = calloc((size_t)argc + 1, sizeof *p);
    int np = 0;
    if (!p) return cli_usage_error(cmd, "out of memory");
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            cli_print_help(spec);
            free(p);
            return 1;
        }
        if (!(a[0] == '-' && a[1] == '-') || strcmp(a, "--") == 0) {
            if (strcmp(a, "--") == 0) {
                for (i++; i < argc; i++) p[np++] = argv[i];
                break;
            }
            p[np++] = a;
            continue;
        }
        const char *name = a + 2, *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        cli_opt *o = find(spec, name, len);
        if (!o) {
            free(p);
            return cli_usage_error(cmd, "unknown option '--%.*s'", (int)len, name);
        }
        o->seen = 1;
        if (o->type == CLI_FLAG) {
            if (eq) {
                free(p);
                return cli_usage_error(cmd, "--%s takes no value", o->name);
            }
            *(int *)o->dst = 1;
            continue;
        }
        /* gather the value(s) */
        const char *vals[4096];
        int nv = 0;
        if (eq) vals[nv++] = eq + 1;
        else if (i + 1 < argc && is_value(argv[i + 1]))
            vals[nv++] = argv[++i];
        if (nv == 0) {
            free(p);
            return cli_usage_error(cmd, "--%s needs a value (%s)", o->name, o->metavar ? o->metavar : "X");
        }
        if (o->type == CLI_STRS || o->type == CLI_INTS)
            while (!eq && i + 1 < argc && is_value(argv[i + 1]) && nv < (int)RL_ARRAY_LEN(vals)) vals[nv++] = argv[++i];
        for (int k = 0; k < nv; k++) {
            const char *v = vals[k];
            int bad = 0;
            switch (o->type) {
            case CLI_STR: *(const char **)o->dst = v; break;
            case CLI_INT: bad = rl_parse_int64(v, (int64_t *)o->dst); break;
            case CLI_DBL: bad = rl_parse_double(v, (double *)o->dst); break;
            case CLI_STRS: bad = push_str(o->dst, v); break;
            case CLI_INTS: {
                int64_t x;
                bad = rl_parse_int64(v, &x) || push_int(o->dst, x);
                break;
            }
            case CLI_FLAG: break;
            }
            if (bad) {
                free(p);
                return cli_usage_error(cmd, "--%s: '%s' is not a valid %s", o->name, v,
                                       o->type == CLI_DBL ? "number" : o->type == CLI_STR || o->type == CLI_STRS
                                                                           ? "value" : "integer");
            }
        }
    }
    if (np < spec->min_pos || (spec->max_pos >= 0 && np > spec->max_pos)) {
        if (np < spec->min_pos) {
            free(p);
            return cli_usage_error(cmd, "missing argument; usage: %s", spec->usage);
        }
        int rc = cli_usage_error(cmd, "unexpected argument '%s'; usage: %s", p[spec->max_pos], spec->usage);
        free(p);
        return rc;
    }
    if (pos) *pos = p;
    else free(p);
    if (npos) *npos = np;
    return 0;
}
