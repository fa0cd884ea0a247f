/* `ropelab theory [options]`: the paper's claims (Fig. 2/9, Props 3.1, 3.2, 5.2, Thms 5.3, 6.1) as measured
 * figures with data-driven verdicts (library: rl_theory_run in include/ropelab/experiments.h). */
#include "cli.h"
#include "commands.h"
#include "ropelab/experiments.h"
#include "ropelab/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --only: names or numbers, separated by commas and/or given as several values. */
static int parse_only(const cli_strs *list, unsigned *mask) {
    *mask = 0;
    for (int i = 0; i < list->n; i++) {
        char buf[256];
        snprintf(buf, sizeof buf, "%s", list->v[i]);
        for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
            int id = rl_theory_lookup(tok);
            if (id < 0)
                return cli_usage_error("theory", "--only: unknown experiment '%s' (known: decay prop32 prop31 "
                                                 "positional semantic, or 1-5)", tok);
            *mask |= 1u << id;
        }
    }
    return 0;
}

int cmd_theory(int argc, char **argv) {
    rl_theory_opts o;
    rl_theory_opts_default(&o);
    int64_t dim = o.dim, threads = 0, seed = (int64_t)o.seed;
    cli_strs only = {0, NULL};
    cli_ints lengths = {0, NULL};
    cli_opt opts[] = {
        {"out", CLI_STR, &o.out_dir, "DIR", "output folder (default out/theory)", 0},
        {"dim", CLI_INT, &dim, "D", "head dimension d, even (default 256)", 0},
        {"theta", CLI_DBL, &o.theta, "T", "RoPE base wavelength for every experiment (default 10000)", 0},
        {"theta-long", CLI_DBL, &o.theta_long, "T", "second ladder of the N*(g) experiment (default 500000)", 0},
        {"samples", CLI_INT, &o.samples, "N", "Prop 3.2: Gaussian (q, k) pairs, shared by every tested distance "
                                              "(default 100000, at most 1e8)", 0},
        {"decay-samples", CLI_INT, &o.decay_samples, "N", "decay (b): fresh Gaussian pairs per distance (default 100, <= 1e5)",
         0},
        {"max-distance", CLI_INT, &o.max_distance, "R", "decay curves over r = 0..R; Prop 3.2 tests r up to R "
                                                        "(default 5000, 50 to 1e6)", 0},
        {"window", CLI_INT, &o.window, "W", "Prop 3.1: positions searched for the arg-max (default 10000, <= 1e6)", 0},
        {"queries", CLI_INT, &o.queries, "N", "Prop 3.1: random Gaussian queries (default 16)", 0},
        {"heads", CLI_INT, &o.heads, "N", "Prop 5.2: random heads evaluated on [bos, x, x] (default 4096)", 0},
        {"lengths", CLI_INTS, &lengths, "N", "Thm 5.3: up to 8 sequence lengths for the norm-per-band "
                                             "figure (default 1024 8192, each <= 1048576)", 0},
        {"eps", CLI_DBL, &o.eps, "E", "Thm 5.3: sharpness, heads must reach alpha > 1 - E (default 0.01)", 0},
        {"gamma", CLI_DBL, &o.gamma_deg, "DEG", "Thm 6.1: semantic angle between target and distractor keys, "
                                                "degrees (default 90)", 0},
        {"nstar-cap", CLI_INT, &o.nstar_cap, "N", "Thm 6.1: longest context scanned for N*(g) (default 2147483647)",
         0},
        {"seed", CLI_INT, &seed, "S", "random seed, >= 0 (default 1234); same seed, same numbers", 0},
        {"only", CLI_STRS, &only, "LIST", "run a subset: decay prop32 prop31 positional semantic, or 1-5, "
                                          "comma- or space-separated (default: all)", 0},
        {"threads", CLI_INT, &threads, "N", "OpenMP threads (default 0 = all cores); results do not depend on it",
         0},
    };
    cli_spec spec = {
        "ropelab theory [--out DIR] [--only LIST] [options]",
        "Measures the claims of \"Round and Round We Go! What makes Rotary Positional Encodings useful?\"\n"
        "(Barbero et al., ICLR 2025) and writes, under --out, one CSV + gnuplot script (.gp) + PNG + SVG per\n"
        "figure and summary.json (per experiment: statistics, verdict, and the rule that produced it):\n"
        "  1 decay       Fig. 2/9: logit q^T R^r k versus r for all-ones, fresh Gaussian, fixed Gaussian q, k\n"
        "  2 prop32      Prop 3.2: Monte-Carlo mean of q^T R^r k is 0 for Gaussian q, k (worst z-score)\n"
        "  3 prop31      Prop 3.1: k = R^r q makes distance r the arg-max over a window (margin)\n"
        "  4 positional  Prop 5.2 / Thm 5.3: NoPE alpha_33 < 1/2 on [bos, x, x]; query norm a RoPE\n"
        "                diagonal / previous-token head needs, per frequency band\n"
        "  5 semantic    Thm 6.1: N*(g), the context length at which a distractor can beat the target\n"
        "Prints one line per experiment: name, verdict, statistics. Logits exclude the 1/sqrt(d) factor.\n"
        "Exit status 0 when everything ran (whatever the verdicts), 1 on an error, 2 on a bad option.\n"
        "Re-render or restyle a figure: edit NAME.gp in the output folder and run `gnuplot NAME.gp` there.\n"
        "Details: docs/theory.md.",
        opts, (int)RL_ARRAY_LEN(opts), 0, 0};
    int rc = cli_parse(&spec, argc, argv, NULL, NULL);
    if (rc) {
        free(only.v);
        free(lengths.v);
        return rc == 1 ? 0 : rc;
    }
    if (dim < 2 || dim % 2 || dim > 65536) {
        rc = cli_usage_error("theory", "--dim %lld must be an even number in [2, 65536]", (long long)dim);
        goto out;
    }
    if (threads < 0 || threads > 1024) {
        rc = cli_usage_error("theory", "--threads %lld must be in [0, 1024]", (long long)threads);
        goto out;
    }
    if (seed < 0) {
        rc = cli_usage_error("theory", "--seed %lld must be >= 0", (long long)seed);
        goto out;
    }
    if (lengths.n > 8) {
        rc = cli_usage_error("theory", "--lengths takes at most 8 values (got %d)", lengths.n);
        goto out;
    }
    if (lengths.n > 0) {
        o.n_lengths = lengths.n;
        memcpy(o.lengths, lengths.v, (size_t)lengths.n * sizeof(int64_t));
    }
    if (only.n > 0 && (rc = parse_only(&only, &o.only)) != 0) goto out;
    o.dim = (int)dim;
    o.threads = (int)threads;
    o.seed = (uint64_t)seed;
    o.print = 1;
    if (rl_theory_check(&o) != 0) {
        rc = cli_usage_error("theory", "%s", rl_error());
        goto out;
    }
    rc = rl_theory_run(&o, NULL) == 0 ? 0 : cli_report("theory");
    if (rc == 0) printf("figures, CSV and summary.json: %s/\n", o.out_dir);
out:
    free(only.v);
    free(lengths.v);
    return rc;
}
