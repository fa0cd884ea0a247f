/* The command-line layer: one option parser for every `ropelab` command, so that flags,
 * errors and --help look the same everywhere. Commands live in src/cli/cmd_<name>.c. */
#ifndef ROPELAB_CLI_H
#define ROPELAB_CLI_H

#include <stdint.h>

typedef enum {
    CLI_STR,  /* const char **dst */
    CLI_INT,  /* int64_t *dst */
    CLI_DBL,  /* double *dst */
    CLI_FLAG, /* int *dst, set to 1 */
    CLI_STRS, /* cli_strs *dst: one or more values (--text a b c, or repeated --text a --text b) */
    CLI_INTS, /* cli_ints *dst: one or more integers */
} cli_type;

typedef struct {
    int n;
    const char **v; /* point into argv; free(v) when done */
} cli_strs;

typedef struct {
    int n;
    int64_t *v; /* free(v) when done */
} cli_ints;

typedef struct {
    const char *name;    /* long name without dashes, e.g. "head-dim" */
    cli_type type;
    void *dst;
    const char *metavar; /* e.g. "D" (ignored for flags) */
    const char *help;    /* one line; say the default */
    int seen;            /* set by the parser: the flag was given (so callers can tell flags from defaults) */
} cli_opt;

typedef struct {
    const char *usage;   /* "ropelab rope show SPEC --head-dim D [options]" */
    const char *about;   /* a paragraph printed by --help */
    cli_opt *opts;
    int n_opts;
    int min_pos, max_pos; /* positional argument counts (max_pos < 0: unlimited) */
} cli_spec;

/* Parses argv (argv[0] is the command name). Returns 0 on success, 1 when --help was printed
 * (exit 0), 2 on a usage error (message already printed to stderr; exit 2).
 * Positional arguments are returned in *pos (free(*pos)). */
int cli_parse(cli_spec *spec, int argc, char **argv, const char ***pos, int *npos);
void cli_print_help(const cli_spec *spec);
/* Looks up whether an option was given on the command line. */
int cli_given(const cli_spec *spec, const char *name);

/* Prints "ropelab CMD: <rl_error()>" and returns 1 (the exit code for runtime errors). */
int cli_report(const char *cmd);
/* Prints "ropelab CMD: <msg>" and returns 2 (usage errors). */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Each command: returns the process exit code. */
typedef int (*cli_command_fn)(int argc, char **argv);
typedef struct {
    const char *name;
    cli_command_fn fn;
    const char *summary;
} cli_command;

#endif
