/* ropelab/experiments.h: the papers' experiments as library calls, each writing its CSV, figures and
 * verdicts under an output folder (`ropelab theory`, `ropelab maxret` and `ropelab reproduce`).
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

#include "ropelab/model.h" /* rl_attn_softmax: how the head's softmax is computed */
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

/* Random sets. items: [B][n][1+C]; query: [B]; target: [B] (class of the max); argmax: [B] or NULL. */
void rl_maxret_sample(float *items, float *query, int32_t *target, int32_t *argmax, int B, int n, int n_classes,
                      uint64_t seed);

/* Mean cross-entropy over B sets of n items, and (if grad != NULL) its gradient ADDED into grad
 * [n_params]. items: [B][n][1+C]; query: [B]; target: [B]. *correct (may be NULL) gets the number of sets
 * whose argmax prediction is right. Returns the mean loss, or NaN on allocation failure (rl_error()). */
double rl_maxret_loss_grad(const rl_maxret_model *m, float *grad, const float *items, const float *query,
                           const int32_t *target, int B, int n, rl_attn_softmax attn, int *correct);

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
    rl_attn_softmax train_attn; /* softmax used in training (plain by default, as in the paper) */
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

/* ================================================================================================
 * reproduce: the whole paper in one command (`ropelab reproduce`, docs/reproduce.md)
 *
 * Stages: the theory figures; the Table 2 grid (each variant x seed trained from scratch on the same
 * data and budget); every run evaluated at 1x..16x its training context with plain and adaptive
 * softmax; the analyser on every trained model and on the given pretrained models; then the report
 * (OUT/report/index.html, OUT/report/summary.json). Every stage lives in OUT/<kind>/<hash of its full
 * configuration>/ and is skipped when its done marker exists, so an interrupted run continues.
 * ================================================================================================ */

/* A scale: every size and budget of one reproduction, as data (docs/reproduce.md has the table). */
typedef struct {
    const char *name;          /* "micro", "tiny", "small", "paper" */
    const char *about;         /* one line: what it is for and how long it takes */
    int vocab;                 /* BPE vocabulary when the corpus is prepared by the run */
    int d_model, n_layers, n_heads, n_kv_heads, head_dim, d_ff;
    int ctx;                   /* training context T (tokens) */
    int batch;                 /* windows per optimizer step */
    int64_t steps, warmup;
    double lr, min_lr, weight_decay, clip;
    int seeds;                 /* seeds per variant */
    int n_mults, mults[6];     /* evaluation contexts as multiples of ctx (1 = the training context) */
    int64_t eval_tokens;       /* validation tokens scored per evaluation context */
    int64_t analysis_tokens;   /* validation tokens the analyser reads per trained model */
    int reduced_theory;        /* 1: the theory experiments at reduced sizes (seconds), 0: their defaults */
    int jobs;                  /* stages run in parallel: 0 = one per thread (each single-threaded) */
    int needs_data;            /* 1: the default corpus is too small; --data DIR is required */
} rl_repro_scale;

/* The scales, in order micro, tiny, small, paper; NULL for an unknown name. */
int rl_repro_scale_count(void);
const rl_repro_scale *rl_repro_scale_at(int i);
const rl_repro_scale *rl_repro_scale_find(const char *name);

/* One positional-encoding variant of the grid. */
typedef struct {
    char name[32];             /* short id used by --variants and in labels, e.g. "p0.75" */
    char label[64];            /* the paper's row name, e.g. "0.75-RoPE" */
    char pe[256];              /* librope spec, or a per-layer list (rl_model_config_set_pe) */
    double paper_wiki, paper_flan; /* Table 2 perplexities; NaN for variants not in the paper */
} rl_repro_variant;

/* The paper's Table 2 rows: nope, rope (theta 10k), rope500k, p0.25, p0.75, p0.75-rev, p0.75-partial.
 * Returns the count (7); writes at most max. */
int rl_repro_variants_default(rl_repro_variant *v, int max);
/* Parses --variants entries into v[*n ...] (appending, at most max in all). An entry is a default
 * variant's name, several names separated by commas, or NAME=SPEC for a new variant (SPEC: a librope
 * spec or per-layer list; NAME: letters, digits, '.', '-', '_'). Fails naming the entry. */
int rl_repro_variants_parse(const char *entry, rl_repro_variant *v, int max, int *n);

/* ---- claims: the paper's statements, each tested by a rule written in code ------------------- */

typedef enum { RL_VERDICT_INCONCLUSIVE = 0, RL_VERDICT_SUPPORTED = 1, RL_VERDICT_NOT_SUPPORTED = 2 } rl_verdict;
/* "inconclusive", "supported", "not supported". */
const char *rl_verdict_name(rl_verdict v);

typedef struct {
    char id[40];               /* stable key, e.g. "ppl.p075_vs_rope" */
    char claim[320];           /* the statement tested */
    char paper[96];            /* where the paper makes it */
    char statistic[640];       /* what this run computed, with its numbers */
    char rule[640];            /* the decision rule, verbatim from the code that applies it */
    rl_verdict verdict;
    int n;                     /* sample size (seeds) behind the statistic; 0 when not applicable */
    double estimate, lo, hi;   /* the statistic and its 95% interval (NaN when none) */
} rl_claim;

/* The confidence-interval rule every trained-model claim uses. x: [n] one value per seed of a
 * statistic whose sign decides the claim; sign = +1 when the claim says "> 0", -1 for "< 0".
 *   supported      when the whole 95% t-interval of mean(x) is on the claimed side of 0,
 *   not supported  when the whole interval is on the other side,
 *   inconclusive   otherwise, and always when n < 2 (no interval from one seed).
 * Fills n, estimate, lo, hi, verdict and rule (statement of the rule); not id/claim/statistic. */
void rl_claim_ci_rule(rl_claim *c, const double *x, int n, int sign);

/* The trained-model claims. Each takes per-seed numbers (index s = seed) and fills the whole claim.
 * ppl_*: [n] validation perplexities at the training context. */
/* "0.75-RoPE <= RoPE in perplexity" (Table 2): x_s = ppl(0.75-RoPE, s) - ppl(RoPE, s), claim x < 0. */
void rl_claim_p075_vs_rope(rl_claim *c, const double *ppl_p075, const double *ppl_rope, int n);
/* "NoPE is worst" (Table 2): for each other variant v, x_s = ppl(NoPE, s) - ppl(v, s). Supported when
 * every v's interval is above 0; not supported when some v's interval is below 0; else inconclusive.
 * ppl_others: [n_others][n]. names: [n_others] for the statistic text. */
void rl_claim_nope_worst(rl_claim *c, const double *ppl_nope, const double *const *ppl_others,
                         const char *const *names, int n_others, int n);
/* Frequency usage of the RoPE models (Fig. 3). usage: [n][L][C] mean q/k chunk norm per seed, layer and
 * chunk (chunk 0 = highest frequency, all chunks rotated). Bands: the lowest / highest
 * max(1, round(C / 4)) chunks.
 * "the lowest frequencies carry the largest q/k norms": x_s = log(mean over layers and the lowest band /
 * mean over layers and the other chunks), claim x > 0. */
void rl_claim_low_freq_norms(rl_claim *c, const double *usage, int n, int L, int C);
/* The same claim on one pretrained model (the paper's own setting, Gemma 7B): usage: [L][C] its mean
 * q/k chunk norms. x_l = log(mean of the lowest band / mean of the other chunks) in layer l.
 * Supported when x_l > 0 in every layer (the paper: "in every layer"); not supported when x_l < 0 in
 * more than half of the layers; inconclusive otherwise. name: the model, for the text. */
void rl_claim_low_freq_pretrained(rl_claim *c, const double *usage, int L, int C, const char *name);
/* "high-frequency usage is concentrated in the first and last layers": per layer l, h_l = mean of the
 * highest band / mean of all chunks; x_s = (h_0 + h_{L-1}) / 2 - mean(h_1 .. h_{L-2}), claim x > 0.
 * Needs L >= 3 (inconclusive otherwise). */
void rl_claim_high_freq_edges(rl_claim *c, const double *usage, int n, int L, int C);
/* "positional heads rely on the highest frequencies" (Sec. 5, Tables 3-5): share[s] = mean over the
 * RoPE model's diagonal / previous-token heads of seed s of the share of their logit margin carried by
 * the highest band, NaN when seed s has no such head; edge = the band's fraction of the chunks.
 * x_s = share[s] - edge over the seeds with heads, claim x > 0. */
void rl_claim_positional_high(rl_claim *c, const double *share, int n, double edge);
/* Long contexts (Thm 6.1's motivation; not measured in the paper): growth_v,s = log(ppl at the longest
 * context / ppl at the training context); x_s = growth(0.75-RoPE) - growth(RoPE), claim x < 0
 * ("0.75-RoPE degrades less beyond its training context"). long_*, short_*: [n]. mult: the longest
 * multiple, for the text. */
void rl_claim_long_context(rl_claim *c, const double *short_p075, const double *long_p075, const double *short_rope,
                           const double *long_rope, int n, int mult);
/* Adaptive temperature ("Softmax is not enough"): x_s = mean over variants of log(ppl adaptive /
 * ppl plain) at the longest context, claim x < 0. adaptive, plain: [n_variants][n]. */
void rl_claim_adaptive(rl_claim *c, const double *const *adaptive, const double *const *plain, int n_variants, int n,
                       int mult);

/* ---- running ---------------------------------------------------------------------------------- */

typedef struct {
    const char *scale;               /* default "tiny" */
    const char *out_dir;             /* default "out/reproduce" */
    const rl_repro_variant *variants;/* NULL: rl_repro_variants_default */
    int n_variants;
    int seeds;                       /* 0: the scale's */
    const char *data;                /* a prepared dataset folder (`ropelab data prepare`), or a folder
                                        of .txt files prepared by the run; default "data/corpus" */
    const char *const *models;       /* pretrained checkpoints to analyse (rl_load_model paths) */
    const char *const *tokenizers;   /* [n_models], entries may be NULL */
    int n_models;
    int threads;                     /* total threads; 0 = all cores */
    int jobs;                        /* stages in parallel; 0 = the scale's choice */
    int progress;                    /* 1: the plan's progress bar on stderr */
} rl_repro_opts;

void rl_repro_opts_default(rl_repro_opts *o);

typedef struct {
    int stages, skipped;             /* stages in the plan, and those already done */
    char report[4096];               /* path of index.html */
    char summary[4096];              /* path of summary.json */
    int verdicts[3];                 /* claims per verdict (index rl_verdict) */
} rl_repro_result;

/* Plans, runs what is not done, and writes the report. Returns 0, or -1 with the failing stage named. */
int rl_repro_run(const rl_repro_opts *o, rl_repro_result *res);

#ifdef __cplusplus
}
#endif
#endif
