/* `ropelab maxret`: the max-retrieval experiment of "Softmax is not enough", plain vs adaptive temperature. */
#include "cli.h"
#include "commands.h"
#include "ropelab/experiments.h"
#include "ropelab/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cmd_maxret(int argc, char **argv) {
    rl_maxret_config c;
    rl_maxret_default(&c);
    int64_t width = c.width, depth = c.depth, classes = c.n_classes, train_size = c.train_size, batch = c.batch,
            steps = c.steps, warmup = c.warmup, seeds = c.seeds, seed = (int64_t)c.seed0, test_sets = c.test_sets;
    double lr = c.lr, lr_min = c.lr_min, wd = c.wd, clip = c.clip;
    const char *out = c.out_dir, *train_softmax = "softmax";
    int quick = 0, no_fig = 0;
    cli_ints sizes = {0, NULL};
    cli_opt opts[] = {
        {"out", CLI_STR, &out, "DIR", "output folder (default out/maxret)", 0},
        {"seeds", CLI_INT, &seeds, "S", "independent trainings (default 5)", 0},
        {"seed", CLI_INT, &seed, "N", "base seed; seed s uses a hash of (N, s) (default 1)", 0},
        {"steps", CLI_INT, &steps, "N", "training steps per seed (default 3000)", 0},
        {"batch", CLI_INT, &batch, "B", "sets per training step (default 128)", 0},
        {"train-size", CLI_INT, &train_size, "N", "items per training set (default 16, as in the paper)", 0},
        {"lr", CLI_DBL, &lr, "X", "AdamW peak learning rate (default 1e-3)", 0},
        {"lr-min", CLI_DBL, &lr_min, "X", "final learning rate of the cosine decay (default 1e-4)", 0},
        {"warmup", CLI_INT, &warmup, "N", "linear warm-up steps (default 100)", 0},
        {"wd", CLI_DBL, &wd, "X", "AdamW weight decay (default 1e-3)", 0},
        {"clip", CLI_DBL, &clip, "X", "clip the global gradient norm to X; 0 = off (default 1)", 0},
        {"width", CLI_INT, &width, "W", "width of every MLP and of q/k/v (default 64)", 0},
        {"depth", CLI_INT, &depth, "L", "Linear+GELU layers in each encoder MLP (default 2)", 0},
        {"classes", CLI_INT, &classes, "C", "number of item classes (default 10)", 0},
        {"test-sets", CLI_INT, &test_sets, "N", "test sets per size per seed (default 500)", 0},
        {"sizes", CLI_INTS, &sizes, "N", "test set sizes (default 16 64 256 1024 4096 16384)", 0},
        {"train-softmax", CLI_STR, &train_softmax, "KIND",
         "softmax used in training: softmax (default, the paper's setting), adaptive, adaptive-const", 0},
        {"no-figures", CLI_FLAG, &no_fig, NULL, "skip the gnuplot figures", 0},
        {"quick", CLI_FLAG, &quick, NULL,
         "a few-second smoke run: 2 seeds, 400 steps, width 32, 200 test sets, sizes 16..1024 (flags given override)", 0},
    };
    cli_spec spec = {
        "ropelab maxret [--out DIR] [--seeds S] [--steps N] [--quick] [options]",
        "Max-retrieval (Veličković et al., \"Softmax is not enough\", arXiv 2410.01104): items with a priority in\n"
        "U(0,1) and one of C classes, deep MLP encoders, one attention head, an MLP predicting the class of the\n"
        "highest-priority item. Trained on sets of 16 items; tested on larger sets with the plain softmax and with\n"
        "adaptive temperature at inference (same weights). Writes DIR/maxret.csv (per seed and size),\n"
        "maxret_summary.csv, maxret_sets.csv (every test set), maxret_train.csv, summary.json, and the figures\n"
        "maxret_accuracy.png (with the paper's numbers) and maxret_dispersion.png. See docs/maxret.md.",
        opts, (int)RL_ARRAY_LEN(opts), 0, 0};
    const char **pos = NULL;
    int np = 0, rc = cli_parse(&spec, argc, argv, &pos, &np);
    if (rc == 0) free(pos);
    if (rc) {
        free(sizes.v);
        return rc == 1 ? 0 : rc;
    }
    if (quick) {
        if (!cli_given(&spec, "seeds")) seeds = 2;
        if (!cli_given(&spec, "steps")) steps = 400;
        if (!cli_given(&spec, "width")) width = 32;
        if (!cli_given(&spec, "test-sets")) test_sets = 200;
        if (!cli_given(&spec, "warmup")) warmup = 20;
        if (!cli_given(&spec, "lr")) lr = 3e-3;
        if (!cli_given(&spec, "sizes")) {
            int q[] = {16, 64, 256, 1024};
            c.n_sizes = 4;
            memcpy(c.sizes, q, sizeof q);
        }
    }
    /* range checks on the 64-bit values before narrowing; rl_maxret_run checks the rest */
    int64_t *ints[] = {&width, &depth, &classes, &train_size, &batch, &steps, &warmup, &seeds, &test_sets};
    const char *names[] = {"width", "depth", "classes", "train-size", "batch", "steps", "warmup", "seeds", "test-sets"};
    for (size_t i = 0; i < RL_ARRAY_LEN(ints); i++)
        if (*ints[i] < 0 || *ints[i] > 100000000) {
            free(sizes.v);
            return cli_usage_error("maxret", "--%s %lld is out of range", names[i], (long long)*ints[i]);
        }
    if (seed < 0) {
        free(sizes.v);
        return cli_usage_error("maxret", "--seed %lld must be >= 0", (long long)seed);
    }
    if (sizes.n > 0) {
        if (sizes.n > (int)RL_ARRAY_LEN(c.sizes)) {
            free(sizes.v);
            return cli_usage_error("maxret", "at most %d --sizes", (int)RL_ARRAY_LEN(c.sizes));
        }
        for (int i = 0; i < sizes.n; i++) {
            if (sizes.v[i] < 1 || sizes.v[i] > (1 << 20)) {
                int64_t bad = sizes.v[i];
                free(sizes.v);
                return cli_usage_error("maxret", "--sizes %lld must be in 1..1048576", (long long)bad);
            }
            c.sizes[i] = (int)sizes.v[i];
        }
        c.n_sizes = sizes.n;
    }
    free(sizes.v);
    if (rl_attn_softmax_from_name(train_softmax, &c.train_attn) != 0)
        return cli_usage_error("maxret", "--train-softmax '%s': expected softmax, adaptive or adaptive-const",
                               train_softmax);
    c.width = (int)width;
    c.depth = (int)depth;
    c.n_classes = (int)classes;
    c.train_size = (int)train_size;
    c.batch = (int)batch;
    c.steps = (int)steps;
    c.warmup = (int)warmup;
    c.seeds = (int)seeds;
    c.seed0 = (uint64_t)seed;
    c.test_sets = (int)test_sets;
    c.lr = lr;
    c.lr_min = lr_min < lr ? lr_min : (cli_given(&spec, "lr-min") ? lr_min : lr / 10);
    c.wd = wd;
    c.clip = clip;
    c.out_dir = out;
    c.figures = !no_fig;
    if (rl_maxret_run(&c) != 0) return cli_report("maxret");
    return 0;
}
