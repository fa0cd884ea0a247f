/* ropelab/analysis.h: the analyser, the paper's Sections 4-5 as a tool for any model
 * (`ropelab analyze`, and `ropelab reproduce` on every trained model).
 *
 * rl_analyze() runs a model (rl_model, from any loader or the trainer) over texts and measures:
 *   1. frequency usage: per layer, head and RoPE chunk, the mean 2-norm of the query, key and value
 *      chunk BEFORE rotation (the paper's Fig. 3 per layer, Fig. 4 per head);
 *   2. head roles: per query head a diagonal, previous-token and first-token (BOS sink) score; heads
 *      above a threshold get a role. For every head with a role: which chunks carry its pattern (an
 *      exact per-chunk decomposition of its logit margin) and the paper's Tables 3-5 (per token the
 *      Cauchy-Schwarz bound s*|q||k| beside the diagonal and previous-token logits);
 *   3. ablations the paper did not run: bands of chunks zeroed, or kept but no longer rotated, in
 *      every layer, with the change in loss; per role head, knock-outs of its layer's highest (and,
 *      as a control, lowest) band in that head alone, with its score before and after;
 *   4. figures (gnuplot: CSV + .gp + PNG + SVG), CSV files of every number and summary.json.
 * docs/analysis.md defines every number exactly (rows excluded, GQA, bands, p-RoPE) and the output
 * contract:
 *   DIR/freq_usage.csv   header `layer,head,kind,chunk,frequency,mean_norm` (kind q, k or v; layer,
 *                        head and chunk count from 0; chunk 0 is the highest frequency; for k and v
 *                        `head` is the kv head)
 *   DIR/heads.csv        one row per query head with its scores and role
 *   DIR/summary.json     everything below, for machines
 *
 * Conventions:
 *   - chunk c of a head pairs the two dims rl_rope_chunk_dims() gives for the layer's encoding (both
 *     pair layouts, partial rotary); its frequency is the layer's table (0 for NoPE chunks). Values
 *     are never rotated: their chunks pair the same dims as q/k and are reported with the q/k chunk's
 *     frequency, so that every kind shares one axis.
 *   - Logits are s * (R q) . (R k), s = the model's attention scale (1/sqrt(head_dim), or
 *     1/sqrt(query_pre_attn_scalar)), rotations with the model's own frequency table (YaRN's
 *     attention factor included), before soft-capping. Computed in float64 from the float32 q/k the
 *     model produced.
 */
#ifndef ROPELAB_ANALYSIS_H
#define ROPELAB_ANALYSIS_H

#include <stddef.h>
#include <stdint.h>

#include "ropelab/model.h"
#include "ropelab/tokenizer.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- inputs -------------------------------------------------------------------------------- */

/* One text. Either bytes (text, len; tokenized with the tokenizer) or token ids (ids, n_ids: the
 * text's tokens WITHOUT a leading BOS). Either way the analyser puts BOS first: see rl_analysis_opts
 * for the window rule. */
typedef struct {
    const char *name;     /* shown in messages and summary.json (e.g. the file path) */
    const char *text;     /* bytes, or NULL when ids are given */
    size_t len;
    const int32_t *ids;   /* used when text is NULL */
    int64_t n_ids;
} rl_analysis_text;

/* Reads text files (one text per file) into texts[0 .. n) (names point at paths). Fails for a
 * missing or unreadable file and for an empty one, naming the file. Free with rl_analysis_texts_free. */
int rl_analysis_read_texts(const char *const *paths, int n, rl_analysis_text **texts);
void rl_analysis_texts_free(rl_analysis_text *texts, int n);

typedef struct {
    int max_tokens;        /* window length (tokens, BOS included); 0 = min(max_seq, 1024). Each
                              text is [BOS] + its tokens; it is cut into windows, each starting with
                              BOS followed by the next max_tokens - 1 tokens of the text (without BOS
                              in the vocabulary: plain consecutive slices of max_tokens). Targets are
                              the next token inside the window: every text token is predicted once,
                              the last position of a window predicts nothing. */
    double threshold;      /* a head gets a role when its best score is >= this (default 0.5) */
    int n_bands;           /* equal bands of rotated chunks for "one band at a time" (default 8) */
    double edge_fraction;  /* size of the "highest" / "lowest" band, as a fraction of each layer's
                              rotated chunks (default 0.25; at least one chunk) */
    int ablations;         /* 1 (default): run the model-wide band ablations */
    int knockouts;         /* 1 (default): knock out each role head's high and low band */
    int max_knockout_heads;/* role heads knocked out, best scores first (default 8) */
    int top_heads;         /* heads with attention-pattern images (default 4) */
    int pattern_tokens;    /* tokens (rows and keys) in the pattern images (default 48) */
    int table_tokens;      /* tokens in the Tables 3-5 files (default 24) */
    int heads_layer;       /* layer of the per-head heatmaps; -1 (default) = the layer of the best
                              role head, else 0 */
    int figures;           /* 1 (default): render figures with gnuplot */
    int progress;          /* 1: progress bar on stderr (silenced by ROPELAB_QUIET=1) */
    size_t capture_bytes;  /* memory for captured q/k/v per pass; more layers than fit are captured
                              over extra passes, at least one layer per pass (default 512 MiB) */
    int threads;           /* OpenMP / OpenBLAS threads during the run, restored after; 0 (default) =
                              leave them as they are. On a busy machine 1 is often much faster
                              for small models (spinning threads wait on descheduled ones). */
    const char *model_name;/* for summary.json (e.g. the checkpoint path); may be NULL */
} rl_analysis_opts;

void rl_analysis_opts_default(rl_analysis_opts *o);

/* ---- results -------------------------------------------------------------------------------- */

typedef enum { RL_ROLE_NONE = -1, RL_ROLE_DIAGONAL = 0, RL_ROLE_PREVIOUS = 1, RL_ROLE_FIRST = 2 } rl_head_role;
/* "none", "diagonal", "previous", "first". */
const char *rl_head_role_name(int role);

/* A head with a role. */
typedef struct {
    int layer, head, kv_head;
    rl_head_role role;
    double score;          /* its role's score */
    double gap;            /* mean logit margin of the role's target over the mean of the other
                              visible keys (= the sum of margin[]) */
    double *margin;        /* [n_chunks] per-chunk contribution to that margin (sums to gap) */
    int top_chunk;         /* the chunk with the largest margin */
    double high_share;     /* share of gap carried by the layer's high band (NaN when gap <= 0) */
    /* knock-outs (NaN when not run): score of the same pattern with the band zeroed in this head's
       query, and the change in mean loss */
    double ko_high_score, ko_high_dloss;
    double ko_low_score, ko_low_dloss;
} rl_analysis_head;

typedef enum { RL_ABLATE_ZERO = 0, RL_ABLATE_NOROTATE = 1 } rl_ablate_mode;

typedef struct {
    char name[40];         /* "zero:high", "norotate:band3", "zero:unrotated", ... */
    rl_ablate_mode mode;
    int band;              /* 0 .. n_bands-1, or RL_BAND_HIGH / RL_BAND_LOW / RL_BAND_UNROTATED */
    double loss, dloss;    /* mean loss (nats per target) with the ablation, and minus the base */
} rl_analysis_ablation;
#define RL_BAND_HIGH (-1)
#define RL_BAND_LOW (-2)
#define RL_BAND_UNROTATED (-3)

typedef struct {
    int n_layers, n_heads, n_kv_heads, n_chunks;
    int n_texts, n_windows;
    int64_t n_tokens, n_targets;
    double loss;           /* mean loss, nats per target, no ablation */
    double *freq;          /* [L][C] rad/token of each chunk (0 = not rotated) */
    double *usage_q;       /* [L][H][C] mean 2-norm of each query chunk before rotation */
    double *usage_k;       /* [L][KV][C] per kv head */
    double *usage_v;       /* [L][KV][C] */
    double *layer_q, *layer_k, *layer_v; /* [L][C] the same averaged over heads (Fig. 3) */
    double *scores;        /* [L][H][3] diagonal, previous, first */
    int n_roles;
    rl_analysis_head *roles; /* heads with a role, best score first */
    int n_ablations;
    rl_analysis_ablation *ablations;
    int n_bands;           /* equal bands actually used (<= opts.n_bands) */
    double seconds;
} rl_analysis_summary;

void rl_analysis_summary_free(rl_analysis_summary *s);

/* ---- running ---------------------------------------------------------------------------------- */

/* Runs the whole analysis and writes every file under out_dir (created). tok may be NULL when
 * every text is given as ids. summary may be NULL; otherwise it is filled (free it). Returns 0, or
 * -1 with a message naming the text / option / file at fault. The model's inference workspace
 * is reused (one analysis at a time per model). */
int rl_analyze(rl_model *m, const rl_tokenizer *tok, const rl_analysis_text *texts, int n_texts,
               const rl_analysis_opts *opts, const char *out_dir, rl_analysis_summary *summary);

/* ---- building blocks (also used by the tests) ----------------------------------------------- */

/* The rotated chunks of a frequency table (freq[c] > 0), highest frequency first (ties: lower
 * chunk first). order: [n_chunks]. Returns how many. */
int rl_analysis_rotated_order(const double *freq, int n_chunks, int *order);
/* The chunks of one band of a layer, as a keep-mask: keep[c] = 0 for the band's chunks, 1 else.
 * band: 0 .. n_bands-1 (equal bands over the rotated chunks, highest first: band b is
 * order[floor(b n / B) .. floor((b+1) n / B)), n = rotated chunks, B = n_bands), RL_BAND_HIGH /
 * RL_BAND_LOW (the first / last max(1, round(edge_fraction n)) of order), or RL_BAND_UNROTATED
 * (every chunk with frequency 0). Returns the number of chunks in the band. */
int rl_analysis_band_mask(const double *freq, int n_chunks, int band, int n_bands, double edge_fraction,
                          uint8_t *keep);

#ifdef __cplusplus
}
#endif
#endif
