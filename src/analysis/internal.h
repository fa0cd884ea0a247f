/* Internal declarations shared by the analyser's source files (not part of the public API). */
#ifndef ROPELAB_ANALYSIS_INTERNAL_H
#define ROPELAB_ANALYSIS_INTERNAL_H

#include "ropelab/analysis.h"
#include "ropelab/util.h"

#include <cjson/cJSON.h>

/* The three attention patterns, in the order of rl_head_role. */
#define AN_NPAT 3
/* Columns of the per-token logit table (Tables 3-5), before the bounds are formed. */
enum { TAB_QNORM, TAB_KNORM_SELF, TAB_KNORM_PREV, TAB_LOGIT_SELF, TAB_LOGIT_PREV, TAB_LOGIT_FIRST, TAB_N };

/* One window of one text: BOS + up to max_tokens - 1 text tokens. */
typedef struct {
    int text;       /* index into the texts */
    int n;          /* tokens */
    int32_t *tok;   /* [n] */
    int32_t *tgt;   /* [n] next token inside the window, -1 at the end */
} an_window;

typedef struct {
    int L, H, KV, hd, C, rep;
    double scale;   /* the model's attention scale */
} an_dims;

/* What the probability hook keeps for one pass. row3 holds, per (layer, head, query row), the
 * attention on the row itself, on the previous position and on position 0; pat (window 0 only)
 * the top-left P x P block of each head's pattern. With only_layer >= 0 the pass concerns one
 * (layer, head) and the arrays are that head's alone. */
typedef struct {
    int H, maxn, P;
    int only_layer, only_head;
    float *row3;    /* [L][H][maxn][3], or [maxn][3] */
    float *pat;     /* [L][H][P][P], or [P][P]; NULL = not kept */
} an_probs;
void an_probs_fn(void *ctx, int layer, int head, int row, const float *p, int n);

/* The whole run's state. */
typedef struct {
    rl_model *m;
    const rl_tokenizer *tok;
    rl_analysis_opts o;
    const char *dir;
    an_dims d;
    const rl_analysis_text *texts;
    int n_texts;
    an_window *win;
    int n_win, maxn;
    int64_t *text_tokens;   /* [n_texts] tokens of each text (BOS not counted) */
    int *text_windows;      /* [n_texts] */
    int64_t n_tokens, n_targets;
    int bos;                /* BOS id used, -1 = none */
    int window_len;         /* the max_tokens in force */
    /* frequency tables at the longest window length (dynamic scaling depends on it) */
    double *freq;           /* [L][C] */
    /* accumulators over all windows (sums; divided at the end) */
    double *sum_q, *sum_k, *sum_v;   /* [L][H][C], [L][KV][C], [L][KV][C] */
    double *score_sum;               /* [L][H][3] */
    int64_t *score_cnt;              /* [L][H][3] */
    double *margin_sum;              /* [L][H][3][C] */
    int64_t *margin_cnt;             /* [L][H][3] */
    int T, P;                        /* table rows, pattern size (window 0) */
    double *tab;                     /* [L][H][T][TAB_N] */
    float *pat;                      /* [L][H][P][P] base patterns of window 0 */
    double loss_sum;
    /* results */
    rl_analysis_summary *s;
    float *ko_pat;                   /* [n_roles][P][P] pattern after the high knock-out (window 0) */
    cJSON *files;
    rl_progress prog;
    int64_t prog_done;
    double t0;
} an_ctx;

/* texts.c: tokenises every text and cuts the windows (fills win, n_win, maxn, counts). */
int an_make_windows(an_ctx *x);
void an_free_windows(an_ctx *x);

/* measure.c */
/* Frequency table and per-chunk attention factor of layer l for a window of n tokens.
 * freq, af: [C]. */
int an_layer_freqs(const an_ctx *x, int l, int n, double *freq, double *af);
/* Accumulates one layer's measurements of one window from captured q [n][H][hd], k, v [n][KV][hd]. */
int an_measure_layer(an_ctx *x, int w, int l, const float *q, const float *k, const float *v);
/* Adds the per-row attention statistics of one pass (row3 [L][H][n][3]) to the score sums. */
void an_add_scores(an_ctx *x, const float *row3, int n);
/* The score of one pattern from one head's row statistics ([n][3]): adds to *sum, *cnt. */
void an_score_rows(const float *row3, int n, int pattern, double *sum, int64_t *cnt);

/* passes.c */
int an_base_pass(an_ctx *x);
int an_plain_pass(an_ctx *x);
int an_ablation_passes(an_ctx *x);
int an_knockout_passes(an_ctx *x);
/* Total forward passes over all windows the run will make (for the progress bar). */
int64_t an_count_passes(const an_ctx *x, int n_knockout_heads);
int an_n_bands(const an_ctx *x);

/* write.c */
int an_write_all(an_ctx *x);
/* "0-3 7 9-10" from a keep-mask (chunks with keep 0). */
void an_chunk_list(const uint8_t *keep, int C, char *buf, size_t n);
/* Opens DIR/name for writing, registering it in the file list. */
int an_open(an_ctx *x, rl_afile *f, const char *name);
int an_commit(rl_afile *f);

/* figures.c */
int an_figures(an_ctx *x);

#endif
