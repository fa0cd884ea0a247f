/* `ropelab reproduce`: the whole paper in one command (library: rl_repro_run, include/ropelab/experiments.h). */
#include "cli.h"
#include "commands.h"
#include "ropelab/experiments.h"
#include "ropelab/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cmd_reproduce(int argc, char **argv) {
    rl_repro_opts o;
    rl_repro_opts_default(&o);
    int64_t seeds = 0, threads = 0, jobs = 0;
    int quiet = 0;
    cli_strs variants = {0, NULL}, models = {0, NULL}, tokenizers = {0, NULL};
    cli_opt opts[] = {
        {"scale", CLI_STR, &o.scale, "NAME",
         "micro (seconds, tests), tiny (the demo, <= 10 min on 2 cores), small (hours), paper (Gemma 2B, 8k "
         "context; big machines, needs --data); default tiny", 0},
        {"out", CLI_STR, &o.out_dir, "DIR", "output folder (default out/reproduce); the report is DIR/report/index.html",
         0},
        {"variants", CLI_STRS, &variants, "LIST",
         "encodings to train, names or NAME=SPEC, comma- or space-separated (default: the paper's Table 2: nope rope "
         "rope500k p0.25 p0.75 p0.75-rev p0.75-partial)", 0},
        {"seeds", CLI_INT, &seeds, "N", "seeds per variant (default: the scale's; micro 1, tiny and small 3)", 0},
        {"data", CLI_STR, &o.data, "DIR",
         "a prepared dataset (`ropelab data prepare`) or a folder of .txt files to prepare (default data/corpus, "
         "fetched by scripts/fetch_corpus.sh)", 0},
        {"model", CLI_STRS, &models, "PATH",
         "a pretrained checkpoint (HF folder, GGUF, llama2.c) to analyse as well; repeatable", 0},
        {"tokenizer", CLI_STRS, &tokenizers, "FILE",
         "the tokenizer of the --model at the same position (needed for llama2.c checkpoints); repeatable", 0},
        {"threads", CLI_INT, &threads, "N", "threads in all (default: every core)", 0},
        {"jobs", CLI_INT, &jobs, "N",
         "stages run at the same time (default: one per thread for micro/tiny/small, each single-threaded, so the "
         "results do not depend on --threads; 1 for paper)", 0},
        {"quiet", CLI_FLAG, &quiet, NULL, "no progress bar (ROPELAB_QUIET=1 does the same)", 0},
    };
    cli_spec spec = {
        "ropelab reproduce [--scale micro|tiny|small|paper] [--out DIR] [--variants LIST] [--seeds N]\n"
        "                         [--model PATH [--tokenizer FILE]]... [--threads N] [--jobs N] [--data DIR]",
        "Reproduces \"Round and Round We Go! What makes Rotary Positional Encodings useful?\" (Barbero et al.,\n"
        "ICLR 2025) end to end, with error bars and long contexts:\n"
        "  1. the theory figures and verdicts (`ropelab theory`);\n"
        "  2. the paper's Table 2 grid trained from scratch on the same data and budget, several seeds each;\n"
        "  3. every run evaluated at 1x..16x its training context, with plain and adaptive-temperature softmax;\n"
        "  4. the analyser on every trained model (frequency usage, positional heads, ablations);\n"
        "  5. the analyser on each --model.\n"
        "Writes DIR/report/index.html (self-contained: figures embedded, no network), DIR/report/summary.json\n"
        "(every number with the stage file and JSON pointer it came from, and the claims with their rules and\n"
        "verdicts), the figures as PNG + SVG + CSV + gnuplot script in DIR/report/figures/, and one folder per\n"
        "stage, DIR/<kind>/<hash of its configuration>/. Rerunning skips finished stages and continues an\n"
        "interrupted training from its last checkpoint. Details: docs/reproduce.md.",
        opts, (int)RL_ARRAY_LEN(opts), 0, 0};
    int rc = cli_parse(&spec, argc, argv, NULL, NULL);
    rl_repro_variant *vs = NULL;
    const char **toks = NULL;
    if (rc) {
        rc = rc == 1 ? 0 : rc;
        goto out;
    }
    if (!rl_repro_scale_find(o.scale)) {
        rc = cli_usage_error("reproduce", "--scale %s: unknown (known: micro tiny small paper)", o.scale);
        goto out;
    }
    if (seeds < 0 || seeds > 32) {
        rc = cli_usage_error("reproduce", "--seeds %lld must be in [1, 32]", (long long)seeds);
        goto out;
    }
    if (threads < 0 || threads > 1024 || jobs < 0 || jobs > 1024) {
        rc = cli_usage_error("reproduce", "--threads and --jobs must be in [1, 1024]");
        goto out;
    }
    if (tokenizers.n > models.n) {
        rc = cli_usage_error("reproduce", "%d --tokenizer for %d --model: give each tokenizer after its model",
                             tokenizers.n, models.n);
        goto out;
    }
    if (models.n > 8) {
        rc = cli_usage_error("reproduce", "at most 8 --model");
        goto out;
    }
    if (variants.n > 0) {
        vs = calloc(32, sizeof *vs);
        int n = 0;
        for (int i = 0; i < variants.n; i++)
            if (rl_repro_variants_parse(variants.v[i], vs, 32, &n) != 0) {
                rc = cli_usage_error("reproduce", "%s", rl_error());
                goto out;
            }
        o.variants = vs;
        o.n_variants = n;
    }
    toks = calloc((size_t)(models.n > 0 ? models.n : 1), sizeof *toks);
    for (int i = 0; i < tokenizers.n; i++) toks[i] = tokenizers.v[i];
    o.models = models.v;
    o.tokenizers = toks;
    o.n_models = models.n;
    o.seeds = (int)seeds;
    o.threads = (int)threads;
    o.jobs = (int)jobs;
    o.progress = !quiet;
    rl_repro_result res;
    if (rl_repro_run(&o, &res) != 0) {
        rc = cli_report("reproduce");
        goto out;
    }
    printf("%d stages (%d already done); claims: %d supported, %d not supported, %d inconclusive\n", res.stages,
           res.skipped, res.verdicts[RL_VERDICT_SUPPORTED], res.verdicts[RL_VERDICT_NOT_SUPPORTED],
           res.verdicts[RL_VERDICT_INCONCLUSIVE]);
    printf("report:  %s\nsummary: %s\n", res.report, res.summary);
    rc = 0;
out:
    free(vs);
    free(toks);
    free(variants.v);
    free(models.v);
    free(tokenizers.v);
    return rc;
}
