/* ropelab/experiments.h: the paper experiments that ropelab reproduces, one section each.
 * (Sections are written by different parts in parallel; the lead merges them.)
 */
#ifndef ROPELAB_EXPERIMENTS_H
#define ROPELAB_EXPERIMENTS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ================================================================================================
 * max-retrieval ("Softmax is not enough", Veličković et al., arXiv 2410.01104, Section 2 / Table 1)
 *
 * A set of n items; item i has a priority π_i ~ U(0,1) and a class c_i ~ U{0..C-1}; its input vector is
 * x_i = [π_i, onehot(c_i)] (1 + C numbers). A query scalar ρ ~ U(0,1) (carries no information; it makes
 * the head a real query-key lookup, as in the paper's setup). The network:
 *     h_i = ψ_x(x_i)        deep MLP: `depth` layers Linear+GELU, 1+C -> W -> ... -> W
 *     g   = ψ_q(ρ)          deep MLP, same shape, 1 -> W -> ... -> W
 *     q = Wq g + bq,  k_i = Wk h_i + bk,  v_i = Wv h_i + bv          (all W x W)
 *     α = softmax(q·k_i / sqrt(W))  (one head; plain, or adaptive temperature)
 *     o = Σ α_i v_i;  logits = W2 GELU(W1 o + b1) + b2               (W -> W -> C)
 * trained with cross-entropy on the class of the highest-priority item.
 * ================================================================================================ */

/* The parameters, one contiguous array, in this order (weights [out][in], PyTorch layout):
 *   item encoder  layer l: w [W][in_l], b [W]   (in_0 = 1 + C, then W), l = 0 .. depth-1
 *   query encoder layer l: w [W][in_l], b [W]   (in_0 = 1, then W)
 *   wq [W][W], bq [W], wk [W][W], bk [W], wv [W][W], bv [W]
 *   w1 [W][W], b1 [W], w2 [C][W], b2 [C]
 * The pointers below point into `params` (and the same offsets index a gradient array). */
#define RL_MAXRET_MAX_DEPTH 8
typedef struct {
    int width, depth, n_classes;
    size_t n_params;
    float *params;
    float *xw[RL_MAXRET_MAX_DEPTH], *xb[RL_MAXRET_MAX_DEPTH]; /* item encoder */
    float *qw[RL_MAXRET_MAX_DEPTH], *qb[RL_MAXRET_MAX_DEPTH]; /* query encoder */
    float *wq, *bq, *wk, *bk, *wv, *bv, *w1, *b1, *w2, *b2;
} rl_maxret_model;

/* Allocates and initialises like torch.nn.Linear (weights and biases U(-1/sqrt(in), 1/sqrt(in))). */
int rl_maxret_model_init(rl_maxret_model *m, int width, int depth, int n_classes, uint64_t seed);
void rl_maxret_model_free(rl_maxret_model *m);
/* Offset of a pointer into m->params (so that grad + offset is the matching gradient). */
size_t rl_maxret_offset(const rl_maxret_model *m, const float *p);

/* How the head's softmax is computed. */
typedef enum {
    RL_ATTN_PLAIN = 0,          /* softmax */
    RL_ATTN_ADAPTIVE = 1,       /* adaptive temperature, gradient through β */
    RL_ATTN_ADAPTIVE_CONST = 2, /* adaptive temperature, β treated as a constant in the backward */
} rl_attn_kind;

/* Random sets. items: [B][n][1+C]; query: [B]; target: [B] (class of the max); argmax: [B] or NULL. */
void rl_maxret_sample(float *items, float *query, int32_t *target, int32_t *argmax, int B, int n, int n_classes,
                      uint64_t seed);

/* Mean cross-entropy over B sets of n items, and (if grad != NULL) its gradient ADDED into grad
 * [n_params]. items: [B][n][1+C]; query: [B]; target: [B]. *correct (may be NULL) gets the number of sets
 * whose argmax prediction is right. Returns the mean loss, or NaN on allocation failure (rl_error()). */
double rl_maxret_loss_grad(const rl_maxret_model *m, float *grad, const float *items, const float *query,
                           const int32_t *target, int B, int n, rl_attn_kind attn, int *correct);

/* Evaluation of B sets of n items, plain and adaptive on the same forward pass (they share the encoders).
 * Per set: pred_plain/pred_adapt [B] (predicted classes), w_plain/w_adapt [B] (attention weight on the
 * true maximum, given argmax [B]), H [B] (entropy of the plain attention row), beta [B].
 * Memory: O(B·n·W) floats; callers bound B·n. Returns 0, or -1 on allocation failure. */
int rl_maxret_eval(const rl_maxret_model *m, const float *items, const float *query, const int32_t *argmax, int B,
                   int n, int32_t *pred_plain, int32_t *pred_adapt, float *w_plain, float *w_adapt, float *H,
                   float *beta);

/* The whole experiment (`ropelab maxret`). */
typedef struct {
    int width, depth, n_classes;
    int train_size;     /* items per training set (16) */
    int batch;          /* sets per step */
    int steps, warmup;
    double lr, lr_min, wd, clip;
    int seeds;          /* number of seeds (independent trainings) */
    uint64_t seed0;     /* seed s uses seed0 + s */
    int test_sets;      /* test sets per size per seed */
    int n_sizes;
    int sizes[24];      /* test set sizes */
    rl_attn_kind train_attn; /* softmax used in training (plain by default, as in the paper) */
    const char *out_dir;
    int figures;        /* 1: render figures with gnuplot */
} rl_maxret_config;

void rl_maxret_default(rl_maxret_config *c);
/* Trains `seeds` models, evaluates, writes OUT/maxret.csv, OUT/maxret_sets.csv, OUT/summary.json,
 * figures, and prints the table beside the paper's numbers to stdout. */
int rl_maxret_run(const rl_maxret_config *c);

/* The paper's Table (accuracy %, baseline and adaptive) at sizes 16, 64, ..., 16384; NAN elsewhere. */
double rl_maxret_paper_acc(int size, int adaptive);

/* ---- statistics used by the experiment ----------------------------------------------------------- */
/* Two-sided p-value of the paired t-test of mean(d) = 0 over n >= 2 differences; *t (may be NULL) gets
 * the statistic. Returns 1 when every difference is 0, and 0 when they are equal but non-zero. */
double rl_paired_t_pvalue(const double *d, int n, double *t);
/* Student t CDF survival, two-sided: P(|T_df| >= |t|). */
double rl_t_two_sided(double t, double df);
/* Exact two-sided McNemar (sign) test: b and c discordant pairs, p = min(1, 2 P(Bin(b+c, 1/2) <= min(b,c))). */
double rl_mcnemar_exact(int64_t b, int64_t c);

#ifdef __cplusplus
}
#endif
#endif
