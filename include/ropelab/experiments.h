/* ropelab/experiments.h: the papers' experiments as library calls, each writing its CSV, figures and
 * verdicts under an output folder (`ropelab theory`, `ropelab maxret` and, later, `ropelab reproduce`).
 *
 * ==== theory: the claims of "Round and Round We Go!" (sections 3, 5, 6) as measured figures ====
 *
 * Conventions shared by every theory experiment (see docs/theory.md):
 *   - A query or key of head dim d is d/2 chunk pairs: v[2j], v[2j+1] is chunk j, rotating at
 *     freq[j] rad/token (chunk 0 = highest frequency). Which dims form a pair (half / interleaved
 *     layout) changes none of these statistics; the tests map this onto librope's layouts.
 *   - Frequency ladders come from librope (rl_rope_freqs_init of "rope:theta=T"), so the theory
 *     uses exactly the library's definition g_j = T^(-2j/d).
 *   - The logit at distance r >= 0 (query at position i, key at position i - r) is
 *         (R^i q)^T (R^(i-r) k) = sum_j a_j cos(r g_j) - b_j sin(r g_j),
 *         a_j = q0 k0 + q1 k1,  b_j = q1 k0 - q0 k1     (q0, q1 = chunk j of q; same for k),
 *     the paper's "q^T R^r k". Logits never include the 1/sqrt(d) factor (as in the paper's
 *     proofs); with it, every logit is divided by sqrt(d) and a required query norm grows by d^(1/4).
 *   - All experiment math is float64. Random numbers come from rl_rng streams keyed by
 *     (seed, experiment, block), so results do not depend on the number of threads.
 *   - Each experiment's verdict ("supported" / "not supported") is computed from its data by the
 *     rule documented next to it below; every rule can fail (the tests run each on a case where the
 *     claim does not hold).
 */
#ifndef ROPELAB_EXPERIMENTS_H
#define ROPELAB_EXPERIMENTS_H

#include <stddef.h>
#include <stdint.h>

#include "ropelab/report.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- theory: running everything ---------------------------------------------------------- */

typedef enum {
    RL_THEORY_DECAY,      /* Fig. 2 and Fig. 9: logit versus distance */
    RL_THEORY_PROP32,     /* Prop 3.2: E[q^T R^r k] = 0 for Gaussian q, k (Monte Carlo) */
    RL_THEORY_PROP31,     /* Prop 3.1: k = R^r q puts the arg-max at distance r */
    RL_THEORY_POSITIONAL, /* Prop 5.2 / Thm 5.3: NoPE cannot, RoPE can build positional heads */
    RL_THEORY_SEMANTIC,   /* Thm 6.1: N*(g), the length at which one frequency loses a semantic target */
    RL_THEORY_COUNT
} rl_theory_id;

/* "decay", "prop32", "prop31", "positional", "semantic". */
const char *rl_theory_name(int id);
/* Parses one experiment name or its number 1..5; returns the id or -1. */
int rl_theory_lookup(const char *name);

typedef struct {
    const char *out_dir;     /* output folder, created if needed (default "out/theory") */
    int dim;                 /* head dim d (default 256) */
    double theta;            /* RoPE base of experiments 1-5 (default 10000) */
    double theta_long;       /* second ladder of experiment 5 (default 500000) */
    int64_t samples;         /* Prop 3.2: Gaussian pairs, shared by every tested distance (default 100000) */
    int64_t decay_samples;   /* Fig. 2 (b): fresh Gaussian pairs per distance (default 100) */
    int64_t max_distance;    /* R: Fig. 2 distances 0..R, Prop 3.2 distances up to R (default 5000) */
    int64_t window;          /* Prop 3.1: positions searched for the arg-max (default 10000) */
    int64_t queries;         /* Prop 3.1: random queries (default 16) */
    int64_t heads;           /* Prop 5.2: random NoPE (and RoPE) heads evaluated on [bos, x, x] (default 4096) */
    int64_t lengths[8];      /* Thm 5.3: sequence lengths N (default 1024, 8192) */
    int n_lengths;
    double eps;              /* Thm 5.3: sharpness, alpha > 1 - eps (default 0.01) */
    double gamma_deg;        /* Thm 6.1: semantic angle between target and distractor keys (default 90) */
    int64_t nstar_cap;       /* Thm 6.1: longest N scanned for N*(g) (default 2^31 - 1) */
    uint64_t seed;           /* default 1234 */
    unsigned only;           /* bit (1 << id) selects an experiment; 0 = all */
    int threads;             /* OpenMP threads; 0 = OpenMP's default */
    int print;               /* print one summary line per experiment on stdout */
} rl_theory_opts;

void rl_theory_opts_default(rl_theory_opts *o);
/* Checks every option (ranges, counts); -1 with a message naming the option when one is bad. */
int rl_theory_check(const rl_theory_opts *o);

typedef struct {
    int ran;                 /* 0 when not selected */
    int supported;           /* the verdict */
    double seconds;          /* wall time */
    char line[640];          /* the one-line summary (statistics and verdict) */
} rl_theory_verdict;

/* Runs the selected experiments, writing under o->out_dir, for each experiment NAME: its CSV, NAME*.gp,
 * NAME*.png, NAME*.svg, then summary.json (name, claim, statistics, verdict, rule, files of every
 * experiment run). Returns 0 when everything was computed and written (whatever the verdicts),
 * -1 with a message otherwise. out[RL_THEORY_COUNT] receives the verdicts (may be NULL). */
int rl_theory_run(const rl_theory_opts *o, rl_theory_verdict *out);

/* ---- theory: the shared math ------------------------------------------------------------- */

/* The RoPE ladder g_j = theta^(-2j/d), j < d/2, through librope. *freq is malloc'd (free it). */
int rl_theory_ladder(double theta, int dim, double **freq);
/* The logit at distance r (see the conventions above). freq: [n]; q, k: [n][2]. */
double rl_theory_logit(const double *freq, int n, const double *q, const double *k, double r);
/* Su et al. (RoFormer, sec. 3.4.3) bound on |logit| at distance r by Abel summation, with
 * h_j = (q0 + i q1)(k0 - i k1), h_n = 0 and S_j(r) = sum_{l<j} e^{i r g_l}:
 *     |logit(r)| <= max_j |h_(j+1) - h_j| * sum_{j=1..n} |S_j(r)|.
 * For q = k = all-ones, h_j = 2, so the bound is 2 sum_j |S_j(r)|. */
double rl_theory_su_bound(const double *freq, int n, const double *q, const double *k, double r);
/* z such that P(|Z| > z) = erfc(3/sqrt 2) / m for a standard normal Z: the 3-sigma threshold
 * Bonferroni-corrected for m simultaneous tests (exactly 3 when m = 1). */
double rl_theory_z_threshold(int m);

/* ---- 1. decay (Fig. 2, Fig. 9) ------------------------------------------------------------ */

/* Verdict rule: a curve "decays" when its RMS over the far window r in [ceil(0.8 R), R] is below
 * RL_THEORY_DECAY_RATIO times its RMS over the near window r in [0, 9]. Supported when (a) decays and
 * (b), (c) do not. Needs R >= 50 so that the windows are disjoint. */
#define RL_THEORY_DECAY_RATIO 0.25
#define RL_THEORY_NEAR 10

typedef struct {
    int64_t max_distance;    /* R: every array has R + 1 entries, index = distance */
    int64_t samples;         /* (b): fresh pairs per distance */
    double *ones;            /* (a) q = k = all-ones */
    double *su;              /* (a) Su et al.'s bound 2 sum_j |S_j(r)| */
    double *mean, *sd;       /* (b) q, k ~ N(0, I) fresh at every r: mean and standard deviation */
    double *fixed;           /* (c) one Gaussian pair for all r */
    double ratio[3];         /* far/near RMS of (a), (b)'s mean, (c) */
    int decays[3];
    int supported;
} rl_theory_decay_res;

/* corr: k = corr q + sqrt(1 - corr^2) z for (b) and (c) (0 = the claim's independent q, k;
 * 1 = q = k, which does decay in expectation). */
int rl_theory_decay(rl_theory_decay_res *res, const double *freq, int n, int64_t max_distance, int64_t samples,
                    double corr, uint64_t seed);
void rl_theory_decay_free(rl_theory_decay_res *res);
/* RMS over [ceil(0.8 R), R] / RMS over [0, RL_THEORY_NEAR - 1]. curve: [R + 1]. */
double rl_theory_decay_ratio(const double *curve, int64_t max_distance);

/* ---- 2. Prop 3.2 by Monte Carlo ---------------------------------------------------------- */

/* Verdict rule: supported when every tested distance has |z| = |mean| / se < rl_theory_z_threshold(m),
 * m = the number of tested distances (the 3-sigma rule with a Bonferroni correction; the false-alarm
 * probability of the whole family stays at 0.27% whatever the dependence between distances). */
typedef struct {
    int64_t r;               /* the distance (input) */
    double mean, sd, se, z;  /* over the pairs: se = sd / sqrt(n_pairs), z = mean / se */
} rl_theory_mc_point;

/* The same n_pairs Gaussian pairs (k = corr q + sqrt(1 - corr^2) z) are evaluated at every distance
 * pts[i].r. Returns -1 for n_pairs < 2 or a bad corr. */
int rl_theory_mc(rl_theory_mc_point *pts, int n_pts, const double *freq, int n, int64_t n_pairs, double corr,
                 uint64_t seed);

/* ---- 3. Prop 3.1: any distance can be the arg-max ------------------------------------------ */

/* Verdict rule: supported when, for every query and every target r, s = r is the unique arg-max of
 * logit(s) over the window s in [0, window - 1] (margin > 0). */
typedef struct {
    int64_t r;               /* the target distance (input) */
    int64_t argmax;          /* r when it is the unique arg-max, else the runner-up (logit >= logit(r)) */
    int64_t runner_up;       /* the best s != r */
    double peak;             /* logit(r) = |q|^2 */
    double margin;           /* logit(r) - logit(runner_up); > 0 iff r is the unique arg-max */
} rl_theory_argmax_point;

/* For one query q ([n][2]) and the key k = R^r q, for every pts[i].r < window. O(window * n). */
int rl_theory_argmax(rl_theory_argmax_point *pts, int n_pts, const double *freq, int n, const double *q,
                     int64_t window);

/* ---- 4. Prop 5.2 / Thm 5.3: positional heads --------------------------------------------- */

/* NoPE on [bos, x, x]: the two x tokens have identical keys, so any NoPE head's logits for the last
 * query are (a_bos, a_x, a_x) and alpha_33 = 1 / (2 + exp(-delta)), delta = a_x - a_bos: the single
 * free parameter. The best head is the supremum over delta, 1/2, never reached. */
double rl_theory_nope_alpha33(double delta);
/* 1/2 - alpha_33, computed without cancellation: exp(-delta) / (2 (2 + exp(-delta))) > 0. */
double rl_theory_nope_gap(double delta);

/* One random head on [bos, x, x] (positions 0, 1, 2): embeddings and W_q, W_k Gaussian, logits
 * scaled by a log-uniform factor; evaluated without (NoPE) and with the rotation of `freq`. */
typedef struct {
    double scale;            /* the logit scale factor of this head */
    double delta;            /* NoPE: a_x - a_bos */
    double alpha_nope;       /* NoPE alpha_33 by a naive softmax over the three logits */
    double rope_delta;       /* RoPE: a_33 - max(a_31, a_32) */
    double alpha_rope;       /* RoPE alpha_33 */
} rl_theory_head_sample;
int rl_theory_random_heads(rl_theory_head_sample *out, int64_t n_heads, const double *freq, int n, int d_model,
                           uint64_t seed);

/* Thm 5.3's construction, logit scale c = |psi|^2 = |q| |k|, psi's energy split evenly over the bands
 * g[0..nb-1] the head uses (nb = 1 is the theorem's one-band head):
 *   diagonal:       q_i = k_j = psi,               a_ij = c mean_b cos((j - i) g_b),      target j = i;
 *   previous-token: q_i = psi, k_j = rho(g_b) psi_b, a_ij = c mean_b cos((j + 1 - i) g_b), target j = i - 1;
 * causal softmax over keys j <= i (positions 1..N). */
typedef enum { RL_THEORY_DIAGONAL, RL_THEORY_PREVIOUS } rl_theory_head_kind;

/* min over i <= N (i >= 2 for previous-token) of the target's alpha, and the i where it occurs. O(N nb). */
double rl_theory_head_min_alpha(const double *g, int nb, int64_t N, double c, rl_theory_head_kind kind,
                                int64_t *worst_i);
/* The smallest c with min_i alpha >= 1 - eps (relative accuracy 1e-10), INFINITY when no finite c
 * works (all g = 0, or some competitor has exactly the target's logit). The required query norm is
 * sqrt(c). Exact up to that accuracy: alpha only falls as i grows (each new key adds a positive term
 * to the denominator), so i = N is the worst case, and its denominator is decreasing in c. */
double rl_theory_head_scale(const double *g, int nb, int64_t N, double eps, rl_theory_head_kind kind);
/* Lower bound on c for any one-band diagonal head (Dirichlet): some r < N has |r g mod 2 pi| <= 2 pi / N,
 * so c >= log((1 - eps) / eps) / (1 - cos(2 pi / N)) whatever g is. */
double rl_theory_head_scale_bound(int64_t N, double eps);

/* Bands per head in the multi-band comparison: psi spread over bands j .. j + RL_THEORY_MULTIBAND - 1. */
#define RL_THEORY_MULTIBAND 8

/* Verdict rule: supported when (1) every NoPE head (scan over delta and the random heads) has
 * alpha_33 <= 1/2, with 1/2 - alpha_33 > 0 at every finite delta; (2) for every band (g > 0) and every N,
 * the constructed one-band diagonal and previous-token heads reach min_i alpha >= 1 - eps at a finite
 * norm (re-checked by rl_theory_head_min_alpha); (3) "the higher g, the smaller the norm", tested where
 * a band does not wrap around within the context (wavelength 2 pi / g >= N): there the required one-band
 * norm strictly decreases as g increases, for every N and both kinds. (Bands that wrap around are
 * reported, not judged: near-returns r g ~ 2 pi m make their cost erratic.) */

/* ---- 5. Thm 6.1: a single frequency eventually loses a semantic target --------------------- */

#define RL_THEORY_NEVER (-1)

/* N*(g): the smallest N such that, with the target and a distractor placed anywhere at distinct
 * distances in [0, N - 1], the distractor's logit >= the target's. The query is aligned with the
 * target's key (logit cos(r g) at distance r, unit norms), the distractor's key has the same norm at
 * angle +gamma or -gamma from it (logit cos(gamma -+ r g)). Exact (no sampling): an O(N*) scan that
 * at each new distance compares it with the best placement among the shorter ones (see the source).
 * Returns RL_THEORY_NEVER when the distractor provably never wins (g = 0 and cos(gamma) < 1 in float64:
 * the logits do not depend on position), 0 when not found up to cap. */
int64_t rl_theory_nstar(double g, double gamma, int64_t cap);

/* Verdict rule: supported when (1) every g > 0 of both ladders has a finite N*(g) <= cap, (2) g = 0
 * never fails, and (3) lower frequencies postpone the failure: on each ladder, the lowest frequency
 * has the largest N*. */
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

/* The statistics it uses (paired t-test, exact McNemar) are in ropelab/report.h. */

#ifdef __cplusplus
}
#endif
#endif
