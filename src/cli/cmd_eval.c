/* `ropelab eval`: validation loss and perplexity of a checkpoint at several contexts and encodings. */
#include "cli.h"
#include "commands.h"
#include "ropelab/train.h"
#include "ropelab/util.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void print_table(const rl_eval_report *r) {
    printf("checkpoint %s (training context %d), data %s, %s\n", r->checkpoint, r->train_context, r->data,
           r->max_tokens > 0 ? "first --max-tokens of the validation split" : "whole validation split");
    printf("%8s %8s %12s %9s %10s  %-14s %s\n", "context", "windows", "predictions", "loss", "ppl", "softmax", "encoding");
    for (int i = 0; i < r->n_rows; i++) {
        const rl_eval_row *w = &r->rows[i];
        printf("%8d %8lld %12lld %9.4f %10.3f  %-14s %s\n", w->pt.context, (long long)w->pt.windows,
               (long long)w->pt.predictions, w->pt.loss, w->pt.ppl, w->softmax, w->pe);
    }
    printf("\nmean loss by position bucket [lo, hi):\n");
    for (int i = 0; i < r->n_rows; i++) {
        const rl_eval_row *w = &r->rows[i];
        printf("%s, %s @ %d:", w->pe, w->softmax, w->pt.context);
        for (int b = 0; b < w->pt.n_buckets; b++)
            printf(" [%lld,%lld) %.3f", (long long)w->pt.bucket_lo[b], (long long)w->pt.bucket_hi[b], w->pt.bucket_loss[b]);
        printf("\n");
    }
}

int cmd_eval(int argc, char **argv) {
    const char *data = NULL, *out = NULL;
    cli_ints ctx = {0};
    cli_strs pe = {0}, sm = {0};
    int64_t max_tokens = 0, threads = 0;
    int json = 0;
    cli_opt opts[] = {
        {"data", CLI_STR, &data, "DIR", "prepared dataset folder; its validation split is read (required)", 0},
        {"context", CLI_INTS, &ctx, "N", "contexts (default: the training context x 1, 2, 4, 8, 16)", 0},
        {"pe", CLI_STRS, &pe, "SPEC", "also evaluate with this encoding (a librope spec or a ';' per-layer list)", 0},
        {"softmax", CLI_STRS, &sm, "KIND", "also evaluate with this attention softmax: softmax, adaptive, adaptive-const", 0},
        {"max-tokens", CLI_INT, &max_tokens, "M", "read only the first M validation tokens (default: all)", 0},
        {"threads", CLI_INT, &threads, "N", "OpenMP threads (default: OpenMP's)", 0},
        {"json", CLI_FLAG, &json, NULL, "print the report as JSON on stdout", 0},
        {"out", CLI_STR, &out, "DIR", "write DIR/eval.json, eval.csv, buckets.csv and the figures eval_context, eval_positions", 0},
    };
    cli_spec spec = {
        "ropelab eval CHECKPOINT --data DIR [--context N...] [--pe SPEC...] [--softmax KIND...] [--max-tokens M]\n"
        "                    [--json] [--out DIR]",
        "Validation loss and perplexity of a checkpoint (a ckpt-NNNNNNN folder, or a run folder: its newest\n"
        "checkpoint) at each context, with its own encoding and attention softmax and each --pe / --softmax\n"
        "override (e.g. another theta, 'rope:theta=10000+yarn:factor=4,original=256', or adaptive temperature).\nProtocol (docs/train.md): at context N the validation\n"
        "tokens are cut into consecutive non-overlapping windows of N + 1 tokens (a last partial window is\n"
        "dropped), positions restart at 0 in every window, and the loss is the mean next-token cross-entropy\n"
        "over all N predictions of all windows. Also the mean loss per position bucket [0,1), [1,2), [2,4), ...",
        opts, (int)RL_ARRAY_LEN(opts), 1, 1};
    const char **pos;
    int np, rc = cli_parse(&spec, argc, argv, &pos, &np);
    if (rc) {
        free(ctx.v);
        free(pe.v);
        free(sm.v);
        return rc == 1 ? 0 : rc;
    }
    const char *ckpt = pos[0];
    free(pos);
    int *contexts = NULL;
    rl_eval_opts o = {0};
    if (!data) rc = cli_usage_error("eval", "--data DIR is required");
    else if (max_tokens < 0) rc = cli_usage_error("eval", "--max-tokens %lld must be >= 0", (long long)max_tokens);
    else if (threads < 0 || threads > 4096) rc = cli_usage_error("eval", "--threads %lld must be in [0, 4096]", (long long)threads);
    else if (ctx.n > 0 && !(contexts = malloc((size_t)ctx.n * sizeof *contexts))) rc = cli_usage_error("eval", "out of memory");
    for (int i = 0; rc == 0 && i < sm.n; i++) {
        rl_attn_softmax k;
        if (rl_attn_softmax_from_name(sm.v[i], &k) != 0)
            rc = cli_usage_error("eval", "--softmax %s: expected softmax, adaptive or adaptive-const", sm.v[i]);
    }
    for (int i = 0; rc == 0 && i < ctx.n; i++) {
        if (ctx.v[i] < 1 || ctx.v[i] > INT_MAX / 2)
            rc = cli_usage_error("eval", "--context %lld must be in [1, %d]", (long long)ctx.v[i], INT_MAX / 2);
        else
            contexts[i] = (int)ctx.v[i];
    }
    if (rc == 0) {
        o.contexts = contexts;
        o.n_contexts = ctx.n;
        o.pe = pe.v;
        o.n_pe = pe.n;
        o.softmax = sm.v;
        o.n_softmax = sm.n;
        o.max_tokens = max_tokens;
        o.threads = (int)threads;
        o.quiet = json;
        rl_eval_report r;
        if (rl_eval_run(ckpt, data, &o, &r) != 0) {
            rc = cli_report("eval");
        } else {
            if (out && rl_eval_report_write(&r, out) != 0) rc = cli_report("eval");
            if (out && rc == 0 && rl_eval_report_figures(&r, out) != 0)
                fprintf(stderr, "ropelab eval: warning: %s (no figures)\n", rl_error());
            if (json) {
                char *s = rl_eval_report_json(&r);
                if (s) printf("%s\n", s);
                else rc = cli_report("eval");
                free(s);
            } else {
                print_table(&r);
                if (out && rc == 0)
                    printf("\nwrote %s/eval.json, %s/eval.csv, %s/buckets.csv, %s/eval_context.png, %s/eval_positions.png\n", out,
                           out, out, out, out);
            }
            rl_eval_report_free(&r);
        }
    }
    free(contexts);
    free(ctx.v);
    free(pe.v);
    free(sm.v);
    return rc;
}
