/* model attention: the stored-probability kernel (forward + backward), the tiled online-softmax
 * kernel and the row kernel of the probability hook, plain and with adaptive temperature (both
 * beta modes), all against the naive float64 attention of tests/model_ref.c; the backward by
 * central finite differences of that float64 function; the tiled adaptive kernel also against
 * softmax.h's tiled reference. */
#include "helpers.h"
#include "model_ref.h"
#include "ropelab/model.h"
#include "ropelab/softmax.h"
#include "ropelab/util.h"

#include "../src/model/internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The float64 reference attention is tests/model_ref.c's ref_attention (plain and adaptive rows). */
static void naive(const rl_attn_cfg *a, const double *qkv, int T, double *out, double *P) {
    ref_attention(a, qkv, T, out, P, NULL, 0);
}

static rl_attn_cfg cfg(int H, int KV, int hd, int window, float softcap) {
    rl_attn_cfg a = {0};
    a.n_heads = H;
    a.n_kv_heads = KV;
    a.head_dim = hd;
    a.scale = (float)(1 / sqrt((double)hd));
    a.softcap = softcap;
    a.window = window;
    return a;
}

/* Random qkv rows ~ N(0, sd^2). sd 2 gives logits of spread ~4 (peaked, non-uniform attention);
 * sd 1 gives spread ~1, so that rows of 3 .. 300 keys have entropies inside the band where the
 * adaptive beta exceeds 1 (0.85 < H < 5.9 nats). */
static float *rand_qkv(rl_rng *r, int T, const rl_attn_cfg *a, double **as64, double sd) {
    size_t n = (size_t)T * (a->n_heads + 2 * a->n_kv_heads) * a->head_dim;
    float *x = malloc(n * sizeof *x);
    *as64 = malloc(n * sizeof **as64);
    for (size_t i = 0; i < n; i++) (*as64)[i] = x[i] = (float)(sd * rl_rng_normal(r));
    return x;
}


/* Float32 attention against float64: inputs O(2), logits O(10), rows up to 130 keys. A float32
 * logit of size 10 carries an absolute error of ~1e-6, which moves the probabilities and outputs by
 * about as much (measured: at most 2e-6). We allow 2e-5 * (1 + |ref|), ten times that, far below
 * the O(0.1 .. 1) error of a wrong mask, head mapping, tile boundary or normaliser. */
#define TOL 2e-5

static void expect_close(const float *got, const double *ref, size_t n, const char *what, int T) {
    for (size_t i = 0; i < n; i++)
        cr_assert(fabs(got[i] - ref[i]) <= TOL * (1 + fabs(ref[i])), "%s (T=%d) [%zu]: got %.8g, reference %.8g", what,
                  T, i, (double)got[i], ref[i]);
}

/* softmax.h's tiled reference (rl_adaptive_attention_tiled_ref) on one head's float logits, built
 * here from the float64 inputs: z [T][T] (-INFINITY at invisible keys), v [T][hd]. Returns the
 * outputs [T][hd] of head h for key tiles of tk. */
static void softmax_h_reference(const rl_attn_cfg *a, const double *qkv, int T, int h, int tk, float *out) {
    const int H = a->n_heads, KV = a->n_kv_heads, hd = a->head_dim, QKV = (H + 2 * KV) * hd, g = h / (H / KV);
    float *z = malloc((size_t)T * T * sizeof *z), *v = malloc((size_t)T * hd * sizeof *v);
    int *nv = malloc((size_t)T * sizeof *nv);
    for (int i = 0; i < T; i++) {
        nv[i] = i + 1;
        for (int j = 0; j < T; j++) {
            double d = 0;
            for (int e = 0; e < hd; e++) d += qkv[(size_t)i * QKV + h * hd + e] * qkv[(size_t)j * QKV + (H + g) * hd + e];
            d *= a->scale;
            if (a->softcap > 0) d = a->softcap * tanh(d / a->softcap);
            z[(size_t)i * T + j] = j > i || (a->window > 0 && i - j >= a->window) ? -INFINITY : (float)d;
        }
    }
    for (int j = 0; j < T; j++)
        for (int e = 0; e < hd; e++) v[(size_t)j * hd + e] = (float)qkv[(size_t)j * QKV + (H + KV + g) * hd + e];
    rl_adaptive_attention_tiled_ref(out, NULL, z, v, nv, T, T, hd, tk, a->softmax != RL_ATTN_PLAIN);
    free(z), free(v), free(nv);
}

/* Every forward kernel against the float64 reference, for one softmax kind: the stored-probability
 * kernel (output and probabilities), the tiled kernel at several tile shapes (whole sequences and
 * continuations at pos0 > 0, as in decoding), and for the adaptive kinds the tiled kernel against
 * softmax.h's tiled reference at the same key tile. sd: the input scale (see rand_qkv_sd). */
static void forward_kernels_agree_kind(int H, int KV, int window, float softcap, rl_attn_softmax kind, double sd) {
    const int hd = 8, lens[] = {1, 2, 5, 8, 9, 63, 64, 65, 130};
    rl_rng r;
    rl_rng_seed(&r, (uint64_t)(100 + H * 10 + KV + window + 1000 * kind));
    int n_sharpened = 0;
    for (size_t li = 0; li < RL_ARRAY_LEN(lens); li++) {
        const int T = lens[li];
        rl_attn_cfg a = cfg(H, KV, hd, window, softcap);
        a.softmax = kind;
        const int QKV = (H + 2 * KV) * hd;
        double *q64;
        float *qkv = rand_qkv(&r, T, &a, &q64, sd);
        double *ref = malloc((size_t)T * H * hd * sizeof *ref), *P = malloc((size_t)H * T * T * sizeof *P);
        double *beta = malloc((size_t)H * T * sizeof *beta);
        ref_attention(&a, q64, T, ref, P, beta, 0);
        for (int i = 0; i < H * T; i++) n_sharpened += beta[i] > 1.05;
        float *out = malloc((size_t)T * H * hd * sizeof *out), *att = malloc((size_t)H * T * T * sizeof *att);
        float *st = malloc((size_t)H * T * RL_ATTN_ROW_STATS * sizeof *st), *ho = malloc((size_t)T * hd * sizeof *ho);

        /* stored probabilities (training kernel, B = 1); for the adaptive kinds the row state's beta */
        rl_attention_forward(out, att, st, qkv, 1, T, &a);
        expect_close(out, ref, (size_t)T * H * hd, "stored-probability output", T);
        expect_close(att, P, (size_t)H * T * T, "stored probabilities", T);
        if (kind != RL_ATTN_PLAIN)
            for (int i = 0; i < H * T; i++) /* float32 logits move H by ~1e-6, beta by ~2.5e-6 at most */
                cr_assert(fabs(st[(size_t)i * RL_ATTN_ROW_STATS] - beta[i]) <= 2e-5 * beta[i],
                          "row %d: beta %.8g, reference %.8g", i, (double)st[(size_t)i * RL_ATTN_ROW_STATS], beta[i]);

        /* tiled, with tiles that do and do not divide T, and the defaults */
        const int tiles[][2] = {{1, 1}, {3, 5}, {8, 8}, {4, 64}, {0, 0}};
        for (size_t ti = 0; ti < RL_ARRAY_LEN(tiles); ti++) {
            a.tile_q = tiles[ti][0];
            a.tile_k = tiles[ti][1];
            float *work = malloc(rl_attention_tiled_work_floats(&a) * sizeof *work);
            memset(out, 0, (size_t)T * H * hd * sizeof *out);
            rl_attention_tiled_forward(out, H * hd, qkv, QKV, qkv + H * hd, qkv + (H + KV) * hd, QKV, T, T, 0, &a, work);
            expect_close(out, ref, (size_t)T * H * hd, "tiled output", T);
            if (kind != RL_ATTN_PLAIN) { /* = softmax.h's two-pass reference at the same key tile */
                int tk = tiles[ti][1] > 0 ? tiles[ti][1] : 256;
                for (int h = 0; h < H; h++) {
                    softmax_h_reference(&a, q64, T, h, tk, ho);
                    for (int i = 0; i < T; i++)
                        for (int e = 0; e < hd; e++) {
                            float got = out[(size_t)i * H * hd + h * hd + e], want = ho[(size_t)i * hd + e];
                            cr_assert(fabsf(got - want) <= TOL * (1 + fabsf(want)),
                                      "T=%d tile %d head %d row %d: tiled %.8g, softmax.h reference %.8g", T, tk, h, i,
                                      (double)got, (double)want);
                        }
                }
            }
            /* the last rows as a continuation (queries at pos0 > 0 over all keys, as in decoding) */
            int pos0 = T / 2;
            memset(out, 0, (size_t)T * H * hd * sizeof *out);
            rl_attention_tiled_forward(out, H * hd, qkv + (size_t)pos0 * QKV, QKV, qkv + H * hd, qkv + (H + KV) * hd, QKV,
                                       T - pos0, T, pos0, &a, work);
            expect_close(out, ref + (size_t)pos0 * H * hd, (size_t)(T - pos0) * H * hd, "tiled continuation", T);
            free(work);
        }
        free(qkv), free(q64), free(ref), free(P), free(beta), free(out), free(att), free(st), free(ho);
    }
    /* the adaptive cases must exercise beta > 1 (else they would pass with the plain softmax) */
    if (kind != RL_ATTN_PLAIN) cr_assert(n_sharpened > 100, "only %d rows with beta > 1.05", n_sharpened);
}

static void forward_kernels_agree(int H, int KV, int window, float softcap) {
    forward_kernels_agree_kind(H, KV, window, softcap, RL_ATTN_PLAIN, 2);
}

Test(model_attn, forward_gqa) { forward_kernels_agree(4, 2, 0, 0); }
Test(model_attn, forward_mqa) { forward_kernels_agree(4, 1, 0, 0); }
Test(model_attn, forward_mha_sliding_window) { forward_kernels_agree(2, 2, 4, 0); }
Test(model_attn, forward_softcap_window) { forward_kernels_agree(4, 2, 7, 3.0f); }
Test(model_attn, forward_adaptive_gqa) { forward_kernels_agree_kind(4, 2, 0, 0, RL_ATTN_ADAPTIVE, 1); }
Test(model_attn, forward_adaptive_window) { forward_kernels_agree_kind(2, 2, 9, 0, RL_ATTN_ADAPTIVE_CONST, 1); }
/* Gemma 2 composition: cap first (cap 1.5 on logits of spread ~1 bends them visibly), then the
 * entropy and beta of the capped row, then the softmax of beta times the capped logits */
Test(model_attn, forward_adaptive_softcap_window) { forward_kernels_agree_kind(4, 1, 20, 1.5f, RL_ATTN_ADAPTIVE, 1); }

/* ---- the probability hook's row kernel ------------------------------------------------------ */
typedef struct {
    int H, T;
    double *P;
    int calls;
} hook_ctx;

static void record(void *vc, int layer, int head, int row, const float *p, int n) {
    hook_ctx *c = vc;
    cr_assert_eq(layer, 3);
    cr_assert_eq(n, row + 1);
    for (int j = 0; j < n; j++) c->P[((size_t)head * c->T + row) * c->T + j] = p[j];
#pragma omp atomic
    c->calls++;
}

static void row_kernel_reports_probabilities(rl_attn_softmax kind, double sd) {
    const int H = 4, KV = 2, hd = 8, T = 70;
    rl_rng r;
    rl_rng_seed(&r, 7);
    rl_attn_cfg a = cfg(H, KV, hd, kind == RL_ATTN_PLAIN ? 5 : 40, 0);
    a.softmax = kind;
    const int QKV = (H + 2 * KV) * hd;
    double *q64;
    float *qkv = rand_qkv(&r, T, &a, &q64, sd);
    double *ref = malloc((size_t)T * H * hd * sizeof *ref), *P = malloc((size_t)H * T * T * sizeof *P);
    double *got = calloc((size_t)H * T * T, sizeof *got);
    naive(&a, q64, T, ref, P);
    float *out = malloc((size_t)T * H * hd * sizeof *out);
    float *work = malloc(rl_attention_rows_work_floats(&a, T) * sizeof *work);
    hook_ctx hc = {H, T, got, 0};
    rl_attention_rows_forward(out, H * hd, qkv, QKV, qkv + H * hd, qkv + (H + KV) * hd, QKV, T, T, 0, &a, work, record,
                              &hc, 3);
    cr_assert_eq(hc.calls, H * T);
    expect_close(out, ref, (size_t)T * H * hd, "row kernel output", T);
    for (size_t i = 0; i < (size_t)H * T * T; i++)
        cr_assert(fabs(got[i] - P[i]) <= TOL, "probability %zu: %g vs %g", i, got[i], P[i]);
    free(qkv), free(q64), free(ref), free(P), free(got), free(out), free(work);
}

Test(model_attn, row_kernel_reports_probabilities) { row_kernel_reports_probabilities(RL_ATTN_PLAIN, 2); }
/* the hook sees the probabilities the output averages with: softmax(beta z) */
Test(model_attn, row_kernel_reports_adaptive_probabilities) { row_kernel_reports_probabilities(RL_ATTN_ADAPTIVE, 1); }

/* ---- backward -------------------------------------------------------------------------------- */

/* d/d(qkv) of sum(dout * naive(qkv)) by central differences (float64, h = 1e-6: error ~1e-10).
 * For RL_ATTN_ADAPTIVE_CONST the reference's betas are frozen at the unperturbed values, which is
 * what treating beta as a constant means. Returns dqkv (malloc'ed) for comparisons. */
static float *check_backward_kind(int B, int T, int H, int KV, int window, rl_attn_softmax kind, double sd) {
    const int hd = 4;
    rl_attn_cfg a = cfg(H, KV, hd, window, 0);
    a.softmax = kind;
    const int QKV = (H + 2 * KV) * hd;
    rl_rng r;
    rl_rng_seed(&r, (uint64_t)(T * 31 + H + KV + window));
    double *q64;
    float *qkv = rand_qkv(&r, B * T, &a, &q64, sd);
    size_t nout = (size_t)B * T * H * hd, nin = (size_t)B * T * QKV;
    float *dout = malloc(nout * sizeof *dout), *out = malloc(nout * sizeof *out);
    float *att = malloc((size_t)B * H * T * T * sizeof *att), *dqkv = calloc(nin, sizeof *dqkv);
    float *st = kind == RL_ATTN_PLAIN ? NULL : malloc((size_t)B * H * T * RL_ATTN_ROW_STATS * sizeof *st);
    double *d64 = malloc(nout * sizeof *d64), *o64 = malloc((size_t)T * H * hd * sizeof *o64);
    double *beta = malloc((size_t)H * T * sizeof *beta);
    for (size_t i = 0; i < nout; i++) d64[i] = dout[i] = (float)rl_rng_normal(&r);
    rl_attention_forward(out, att, st, qkv, B, T, &a);
    float *scratch = malloc(rl_attention_scratch_floats(&a, T) * sizeof *scratch);
    rl_attention_backward(dqkv, dout, att, st, qkv, B, T, &a, scratch);
    /* each sequence separately: the function of that sequence's qkv rows */
    double gmax = 0, *fd = malloc(nin * sizeof *fd);
    int n_slope = 0;
    for (int b = 0; b < B; b++) {
        double *x = q64 + (size_t)b * T * QKV;
        ref_attention(&a, x, T, o64, NULL, beta, 0); /* the unperturbed betas */
        for (int i = 0; i < H * T; i++) n_slope += beta[i] > 1;
        for (size_t i = 0; i < (size_t)T * QKV; i++) {
            double x0 = x[i], h = 1e-6, f[2];
            for (int sgn = 0; sgn < 2; sgn++) {
                x[i] = x0 + (sgn ? -h : h);
                ref_attention(&a, x, T, o64, NULL, beta, kind == RL_ATTN_ADAPTIVE_CONST);
                f[sgn] = 0;
                for (size_t j = 0; j < (size_t)T * H * hd; j++) f[sgn] += d64[(size_t)b * T * H * hd + j] * o64[j];
            }
            x[i] = x0;
            fd[(size_t)b * T * QKV + i] = (f[0] - f[1]) / (2 * h);
            gmax = fmax(gmax, fabs(fd[(size_t)b * T * QKV + i]));
        }
    }
    if (kind != RL_ATTN_PLAIN) cr_assert(n_slope >= B * H * T / 3, "only %d rows with beta > 1", n_slope);
    /* float32 backward vs float64: relative errors ~1e-6 of the gradient scale (measured); allow
     * 1e-4 of the scale plus 1e-4 relative */
    for (size_t i = 0; i < nin; i++)
        cr_assert(fabs(dqkv[i] - fd[i]) <= 1e-4 * gmax + 1e-4 * fabs(fd[i]),
                  "%s T=%d H=%d KV=%d window=%d: dqkv[%zu] (token %zu, column %zu) = %.8g, finite differences %.8g",
                  rl_attn_softmax_name(kind), T, H, KV, window, i, i / QKV, i % QKV, (double)dqkv[i], fd[i]);
    /* the backward adds: a second call doubles the gradient */
    float *first = malloc(nin * sizeof *first);
    memcpy(first, dqkv, nin * sizeof *first);
    rl_attention_backward(dqkv, dout, att, st, qkv, B, T, &a, scratch);
    for (size_t i = 0; i < nin; i++) cr_assert(fabs(dqkv[i] - 2 * first[i]) <= 1e-6 * (1 + fabs(first[i])));
    free(qkv), free(q64), free(dout), free(out), free(att), free(dqkv), free(d64), free(o64), free(scratch), free(fd);
    free(st), free(beta);
    return first;
}

static void check_backward(int B, int T, int H, int KV, int window) {
    free(check_backward_kind(B, T, H, KV, window, RL_ATTN_PLAIN, 2));
}

Test(model_attn, backward_gqa) { check_backward(2, 9, 4, 2, 0); }
Test(model_attn, backward_mqa_two_row_blocks) { check_backward(1, 70, 2, 1, 0); }
Test(model_attn, backward_mha_window) { check_backward(2, 9, 2, 2, 3); }

/* Adaptive temperature, both beta modes, on the same inputs; the through-beta gradient must differ
 * from the constant-beta one by far more than the tolerance (else the entropy term is missing). */
static void check_backward_adaptive(int B, int T, int H, int KV, int window) {
    const size_t nin = (size_t)B * T * (H + 2 * KV) * 4;
    float *through = check_backward_kind(B, T, H, KV, window, RL_ATTN_ADAPTIVE, 1);
    float *cnst = check_backward_kind(B, T, H, KV, window, RL_ATTN_ADAPTIVE_CONST, 1);
    double rel = rt_max_rel_diff(through, cnst, nin);
    cr_assert(rel > 0.02, "through-beta and constant-beta gradients differ by %g of the scale only", rel);
    free(through);
    free(cnst);
}

Test(model_attn, backward_adaptive_gqa) { check_backward_adaptive(2, 9, 4, 2, 0); }
Test(model_attn, backward_adaptive_mqa_two_row_blocks) { check_backward_adaptive(1, 70, 2, 1, 0); }
Test(model_attn, backward_adaptive_mha_window) { check_backward_adaptive(2, 12, 2, 2, 5); }

/* ---- adaptive temperature is wired in, and only where it should act ------------------------- */

/* A 300-token head where even query rows point at one key (peaked rows, H <= 0.5: beta = 1) and
 * odd rows are small (near-uniform over up to 300 keys, H in the band where beta > 1). Every kernel
 * with the adaptive kind must give bit-identical outputs to plain softmax on the peaked rows and
 * clearly different ones on the spread rows (a wiring that ignored the kind would fail here). */
Test(model_attn, adaptive_changes_spread_rows_only) {
    const int H = 2, KV = 1, hd = 16, T = 300, QKV = (H + 2 * KV) * hd, HD = H * hd;
    rl_attn_cfg a = cfg(H, KV, hd, 0, 0);
    rl_rng r;
    rl_rng_seed(&r, 21);
    double *x = malloc((size_t)T * QKV * sizeof *x);
    float *qkv = malloc((size_t)T * QKV * sizeof *qkv);
    for (int t = 0; t < T; t++)
        for (int c = 0; c < QKV; c++) x[(size_t)t * QKV + c] = rl_rng_normal(&r);
    for (int t = 0; t < T; t++)
        for (int h = 0; h < H; h++)
            for (int e = 0; e < hd; e++) { /* even rows: 3 x the own key (logit ~ 3 |k|^2 / 4 ~ 12 above the rest) */
                double kv = x[(size_t)t * QKV + H * hd + e];
                x[(size_t)t * QKV + h * hd + e] = t % 2 == 0 ? 3 * kv : 0.15 * x[(size_t)t * QKV + h * hd + e];
            }
    for (size_t i = 0; i < (size_t)T * QKV; i++) qkv[i] = (float)x[i];
    /* classify rows by the float64 reference */
    double *ref = malloc((size_t)T * HD * sizeof *ref), *P = malloc((size_t)H * T * T * sizeof *P);
    double *beta = malloc((size_t)H * T * sizeof *beta), *z = malloc((size_t)T * sizeof *z);
    double *prow = malloc((size_t)T * sizeof *prow);
    a.softmax = RL_ATTN_ADAPTIVE;
    ref_attention(&a, x, T, ref, P, beta, 0);
    uint8_t *peaked = calloc((size_t)H * T, 1), *spread = calloc((size_t)H * T, 1);
    int np = 0, ns = 0;
    for (int h = 0; h < H; h++)
        for (int i = 0; i < T; i++) {
            double Hent = 0; /* entropy of the plain row, from the float64 logits */
            for (int j = 0; j < T; j++) {
                double d = 0;
                for (int e = 0; e < hd; e++) d += x[(size_t)i * QKV + h * hd + e] * x[(size_t)j * QKV + H * hd + e];
                z[j] = j > i ? -INFINITY : d * a.scale;
            }
            double b = ref_softmax_row(prow, z, T, RL_ATTN_ADAPTIVE, NULL, &Hent);
            if (Hent <= 0.5 && i > 0) peaked[h * T + i] = 1, np++;
            if (b > 1.3) spread[h * T + i] = 1, ns++;
        }
    cr_assert(np > 100 && ns > 100, "test setup: %d peaked rows, %d rows with beta > 1.3", np, ns);

    float *plain = malloc((size_t)T * HD * sizeof *plain), *adapt = malloc((size_t)T * HD * sizeof *adapt);
    float *att = malloc((size_t)H * T * T * sizeof *att), *st = malloc((size_t)H * T * RL_ATTN_ROW_STATS * sizeof *st);
    size_t wn = RL_MAX(rl_attention_tiled_work_floats(&a), rl_attention_rows_work_floats(&a, T));
    float *work = malloc(wn * sizeof *work);
    for (int kernel = 0; kernel < 3; kernel++) {
        for (int pass = 0; pass < 2; pass++) {
            a.softmax = pass ? RL_ATTN_ADAPTIVE : RL_ATTN_PLAIN;
            float *o = pass ? adapt : plain;
            if (kernel == 0) rl_attention_forward(o, att, st, qkv, 1, T, &a);
            else if (kernel == 1)
                rl_attention_tiled_forward(o, HD, qkv, QKV, qkv + HD, qkv + HD + KV * hd, QKV, T, T, 0, &a, work);
            else
                rl_attention_rows_forward(o, HD, qkv, QKV, qkv + HD, qkv + HD + KV * hd, QKV, T, T, 0, &a, work, NULL,
                                          NULL, 0);
        }
        const char *name = kernel == 0 ? "stored" : kernel == 1 ? "tiled" : "row";
        double min_change = INFINITY;
        for (int h = 0; h < H; h++)
            for (int i = 0; i < T; i++) {
                const float *pa = plain + (size_t)i * HD + h * hd, *aa = adapt + (size_t)i * HD + h * hd;
                if (peaked[h * T + i])
                    cr_assert(memcmp(pa, aa, (size_t)hd * sizeof(float)) == 0, "%s kernel: peaked row %d head %d changed",
                              name, i, h);
                if (spread[h * T + i]) {
                    double d = 0;
                    for (int e = 0; e < hd; e++) d = fmax(d, fabs(aa[e] - pa[e]));
                    min_change = fmin(min_change, d);
                    /* and the change is the right one: the float64 adaptive reference */
                    for (int e = 0; e < hd; e++) {
                        double want = ref[(size_t)i * HD + h * hd + e];
                        cr_assert(fabs(aa[e] - want) <= TOL * (1 + fabs(want)), "%s kernel row %d: %g vs %g", name, i,
                                  (double)aa[e], want);
                    }
                }
            }
        /* outputs are averages of ~N(0,1) values over many keys; sharpening by beta > 1.3 moves each
         * row's output by >= 1e-3 (measured minimum 5.8e-3), far above float32 noise (~1e-6) */
        cr_assert(min_change > 1e-3, "%s kernel: a spread row moved by only %g", name, min_change);
    }
    free(x), free(qkv), free(ref), free(P), free(beta), free(z), free(prow), free(peaked), free(spread), free(plain), free(adapt);
    free(att), free(st), free(work);
}
