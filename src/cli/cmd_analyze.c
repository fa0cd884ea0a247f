/* `ropelab analyze MODEL --text FILE... --out DIR`: the analyser (docs/analysis.md) on any checkpoint. */
#include "cli.h"
#include "commands.h"
#include "ropelab/analysis.h"
#include "ropelab/formats.h"
#include "ropelab/util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The headline numbers on stdout (everything else is in the files). */
static void print_summary(const rl_analysis_summary *s, const rl_loaded *ld, const char *out) {
    const rl_model_config *c = &ld->model->cfg;
    printf("model %s (%s, %s): %d layers, %d heads / %d kv heads of dim %d (%d chunks)\n", ld->source, ld->format,
           rl_arch_name(c->arch), c->n_layers, c->n_heads, c->n_kv_heads, c->head_dim, c->head_dim / 2);
    printf("texts: %d, %lld tokens in %d windows; loss %.4f nats per token\n", s->n_texts, (long long)s->n_tokens,
           s->n_windows, s->loss);
    /* where the q/k norm sits: the chunk with the largest mean query norm, per layer */
    printf("largest mean |q chunk| per layer (chunk, 0 = highest frequency):");
    for (int l = 0; l < s->n_layers; l++) {
        int best = 0;
        for (int k = 1; k < s->n_chunks; k++)
            if (s->layer_q[l * s->n_chunks + k] > s->layer_q[l * s->n_chunks + best]) best = k;
        printf(" %d", best);
    }
    printf("\n");
    printf("role heads (score >= threshold): %d\n", s->n_roles);
    for (int i = 0; i < s->n_roles; i++) {
        const rl_analysis_head *r = &s->roles[i];
        printf("  layer %d head %d: %-8s score %.3f, top chunk %d (%.4g rad/token), high-band share %.2f", r->layer,
               r->head, rl_head_role_name(r->role), r->score, r->top_chunk,
               s->freq[r->layer * s->n_chunks + r->top_chunk], r->high_share);
        if (isfinite(r->ko_high_score))
            printf("; knock-out high band -> %.3f, low band -> %.3f", r->ko_high_score, r->ko_low_score);
        printf("\n");
    }
    if (s->n_ablations) {
        printf("ablations (loss change, nats per token):");
        for (int i = 0; i < s->n_ablations; i++)
            if (s->ablations[i].band < 0) printf(" %s %+.4f", s->ablations[i].name, s->ablations[i].dloss);
        printf(" (bands: %s/ablations.csv)\n", out);
    }
    printf("wrote %s/ (freq_usage.csv, heads.csv, summary.json, figures) in %.1f s\n", out, s->seconds);
}

int cmd_analyze(int argc, char **argv) {
    const char *tokenizer = NULL, *out = NULL;
    cli_strs texts = {0};
    int64_t max_tokens = 0, bands = 8, top = 4, ko_heads = 8, pattern = 48, table = 24, layer = -1, threads = 0,
            capture_mib = 512;
    double threshold = 0.5, edge = 0.25;
    int no_abl = 0, no_ko = 0, no_fig = 0;
    cli_opt opts[] = {
        {"tokenizer", CLI_STR, &tokenizer, "FILE", "tokenizer file (default: the checkpoint's own)", 0},
        {"text", CLI_STRS, &texts, "FILE", "text files, one text each (required)", 0},
        {"out", CLI_STR, &out, "DIR", "output folder (required; created)", 0},
        {"max-tokens", CLI_INT, &max_tokens, "N", "window length incl. BOS (default: min(context, 1024))", 0},
        {"threshold", CLI_DBL, &threshold, "X", "score that gives a head a role (default 0.5)", 0},
        {"bands", CLI_INT, &bands, "B", "equal bands of rotated chunks ablated one at a time (default 8)", 0},
        {"edge-fraction", CLI_DBL, &edge, "F", "size of the highest / lowest band (default 0.25)", 0},
        {"top", CLI_INT, &top, "N", "role heads drawn as attention patterns (default 4)", 0},
        {"knockout-heads", CLI_INT, &ko_heads, "N", "role heads knocked out, best first (default 8)", 0},
        {"pattern-tokens", CLI_INT, &pattern, "N", "tokens in the pattern images (default 48)", 0},
        {"table-tokens", CLI_INT, &table, "N", "tokens in logit_tables.csv (Tables 3-5) (default 24)", 0},
        {"layer", CLI_INT, &layer, "L", "layer of the per-head heatmaps (default: the best role head's)", 0},
        {"no-ablations", CLI_FLAG, &no_abl, NULL, "skip the band ablations", 0},
        {"no-knockouts", CLI_FLAG, &no_ko, NULL, "skip the head knock-outs", 0},
        {"no-figures", CLI_FLAG, &no_fig, NULL, "write the numbers only (no gnuplot)", 0},
        {"threads", CLI_INT, &threads, "N", "threads (default: OpenMP's; 1 is often faster on a busy machine)", 0},
        {"capture-mib", CLI_INT, &capture_mib, "N", "memory for captured q/k/v per pass (default 512)", 0},
    };
    cli_spec spec = {
        "ropelab analyze MODEL [--tokenizer FILE] --text FILE... --out DIR [options]",
        "Measures how a model uses its RoPE frequencies (the paper's Sections 4-5): mean 2-norm of every\n"
        "q/k/v chunk before rotation per layer and head; diagonal, previous-token and first-token (BOS)\n"
        "scores of every head and, for heads with a role, which chunks carry the pattern and the\n"
        "per-token logit tables (Tables 3-5); band ablations (zero the chunks, or stop rotating them) with\n"
        "the change in loss; knock-outs of each role head's high and low band. MODEL: a Hugging Face\n"
        "folder, a GGUF file or a llama2.c checkpoint. Output contract and definitions: docs/analysis.md.",
        opts, (int)RL_ARRAY_LEN(opts), 1, 1};
    const char **pos;
    int np, rc = cli_parse(&spec, argc, argv, &pos, &np);
    if (rc) {
        free(texts.v);
        return rc == 1 ? 0 : rc;
    }
    const char *model_path = pos[0];
    free(pos);
    rc = 2;
    if (texts.n == 0) {
        cli_usage_error("analyze", "--text FILE... is required");
        goto done;
    }
    if (!out || !*out) {
        cli_usage_error("analyze", "--out DIR is required");
        goto done;
    }
    if (max_tokens != 0 && (max_tokens < 2 || max_tokens > (1 << 20))) {
        cli_usage_error("analyze", "--max-tokens %lld must be in [2, 1048576]", (long long)max_tokens);
        goto done;
    }
    if (bands < 1 || bands > 4096 || top < 0 || top > 1024 || ko_heads < 0 || ko_heads > 4096 || pattern < 2 ||
        pattern > 1024 || table < 1 || table > 4096 || layer < -1 || layer > RL_MAX_LAYERS || threads < 0 ||
        threads > 1024 || capture_mib < 1 || capture_mib > (1 << 20)) {
        cli_usage_error("analyze", "an option is out of range: --bands [1, 4096], --top [0, 1024], --knockout-heads "
                                   "[0, 4096], --pattern-tokens [2, 1024], --table-tokens [1, 4096], --layer >= 0, "
                                   "--threads [0, 1024], --capture-mib >= 1");
        goto done;
    }
    if (!(threshold > 0 && threshold <= 1) || !(edge > 0 && edge <= 1)) {
        cli_usage_error("analyze", "--threshold and --edge-fraction must be in (0, 1]");
        goto done;
    }
    rc = 1;
    rl_analysis_text *tx;
    if (rl_analysis_read_texts(texts.v, texts.n, &tx) != 0) { /* before the (slow) model load */
        rc = cli_report("analyze");
        goto done;
    }
    rl_loaded ld;
    if (rl_load_model(model_path, tokenizer, &ld) != 0) {
        rc = cli_report("analyze");
        rl_analysis_texts_free(tx, texts.n);
        goto done;
    }
    if (layer >= ld.model->cfg.n_layers) {
        rc = cli_usage_error("analyze", "--layer %lld: the model has layers 0 .. %d", (long long)layer,
                             ld.model->cfg.n_layers - 1);
    } else {
        rl_analysis_opts o;
        rl_analysis_opts_default(&o);
        o.max_tokens = (int)max_tokens;
        o.threshold = threshold;
        o.n_bands = (int)bands;
        o.edge_fraction = edge;
        o.top_heads = (int)top;
        o.max_knockout_heads = (int)ko_heads;
        o.pattern_tokens = (int)pattern;
        o.table_tokens = (int)table;
        o.heads_layer = (int)layer;
        o.ablations = !no_abl;
        o.knockouts = !no_ko;
        o.figures = !no_fig;
        o.threads = (int)threads;
        o.capture_bytes = (size_t)capture_mib << 20;
        o.model_name = ld.source;
        rl_analysis_summary s;
        if (rl_analyze(ld.model, ld.tok, tx, texts.n, &o, out, &s) != 0) {
            rc = cli_report("analyze");
        } else {
            print_summary(&s, &ld, out);
            rl_analysis_summary_free(&s);
            rc = 0;
        }
    }
    rl_loaded_free(&ld);
    rl_analysis_texts_free(tx, texts.n);
done:
    free(texts.v);
    return rc;
}
