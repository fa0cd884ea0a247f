/* Shared by the analyser tests: models with known positional heads (the paper's Thm 5.3
 * construction placed into a real rl_model), random models, the window rule written again
 * independently, and a small CSV reader for the output files. */
#ifndef ROPELAB_TEST_ANALYSIS_FIXTURE_H
#define ROPELAB_TEST_ANALYSIS_FIXTURE_H

#include "ropelab/analysis.h"
#include "ropelab/model.h"

#include <stdint.h>

/* A 2-layer Llama-layout model, vocab 16 (BOS 1), d_model 16, 4 heads of dim 16 (MHA), RoPE
 * theta 10000 in `layout` ("half" or "interleaved"). Layer 0 is constructed (Thm 5.3):
 *   every embedding is +-1 (RMS exactly 1), dim 0 = +1 for every token, dim 1 = +1 for BOS and -1
 *   otherwise; layer 0's input norm is 1;
 *   head 0 (diagonal):  q = k = psi, psi = a in the first dim of chunks 0 and 1;
 *   head 1 (previous):  q = psi, k = rho(g) psi (chunk c rotated by +g_c);
 *   head 2 (first):     q = b in the first dim of chunk 7 (lowest frequency), k = +-b there (+ for BOS);
 *   head 3 and layer 1: random (sd 0.05), as are values, o_proj and the MLPs.
 * So the logits of layer 0 are, with u = 1/sqrt(1 + eps), s = 1/4:
 *   head 0: s a^2 u^2 (cos((j-i) g_0) + cos((j-i) g_1))
 *   head 1: s a^2 u^2 (cos((j+1-i) g_0) + cos((j+1-i) g_1))
 *   head 2: s b^2 u^2 sigma_j cos((j-i) g_7), sigma_0 = +1 (BOS), -1 elsewhere. */
rl_model *af_constructed(double a, double b, const char *layout, uint64_t seed);
/* The constructed logit of layer 0, head h (0..2), query i, key j (float64, closed form). */
double af_constructed_logit(const rl_model *m, double a, double b, int h, int i, int j);

/* A random Llama-layout model: 2 layers, d_model 16, 4 heads / 2 kv heads of dim 16, vocab 24
 * (BOS 1), encoding `pe`, weights ~ N(0, sd^2). */
rl_model *af_random(const char *pe, double sd, uint64_t seed);

/* Texts as token ids (no BOS): n_texts texts of lens[i] tokens in [2, V). Free with af_texts_free. */
rl_analysis_text *af_id_texts(int n_texts, const int *lens, int V, uint64_t seed);
void af_texts_free(rl_analysis_text *t, int n);

/* The documented window rule, written independently: text tokens cut into pieces of W-1, each
 * window = BOS + piece; targets = next token inside the window. Returns the number of windows;
 * tok/tgt: [n_windows][W] (row w holds lens[w] tokens). */
int af_windows(const rl_analysis_text *t, int n_texts, int W, int bos, int32_t *tok, int32_t *tgt, int *lens, int cap);

/* A CSV file: header and rows of fields (quotes removed, "" unescaped). */
typedef struct {
    char *header;
    int n_rows, n_cols;
    char ***rows;   /* [n_rows][n_cols] */
} af_csv;
int af_csv_load(const char *path, af_csv *c);
void af_csv_free(af_csv *c);
int af_csv_col(const af_csv *c, const char *name); /* column index or -1 */
double af_csv_num(const af_csv *c, int row, const char *name); /* NaN for an empty field */

/* Makes hooks ask for the probabilities of every layer (discarding them), as the analyser's
 * measuring pass does: then the layers run the same attention kernel (the row kernel) and captured
 * q/k/v are bit-identical to the analyser's, not just equal to float32 rounding. */
void af_probs_all(rl_infer_hooks *hk, int n_layers);

/* Mean loss of the model over windows (independent rl_model_infer calls) with optional hooks. */
double af_mean_loss(rl_model *m, const int32_t *tok, const int32_t *tgt, const int *lens, int n_win, int W,
                    const rl_infer_hooks *hk);

#endif
