/* model attention: the stored-probability kernel (forward + backward), the tiled online-softmax
 * kernel and the row kernel of the probability hook, all against a naive float64 attention
 * written here; the backward by central finite differences of that float64 function. */
#include "helpers.h"
#include "ropelab/model.h"
#include "ropelab/util.h"

#include "../src/model/internal.h"
#include "../src/model/rowsoftmax.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Naive causal attention of one sequence in float64 over qkv rows (see model.h).
 * out: [T][H*hd]; P (may be NULL): [H][T][T]. */
static void naive(const rl_attn_cfg *a, const double *qkv, int T, double *out, double *P) {
    const int H = a->n_heads, KV = a->n_kv_heads, hd = a->head_dim, QKV = (H + 2 * KV) * hd;
    double *p = malloc((size_t)T * sizeof *p);
    for (int h = 0; h < H; h++) {
        int g = h / (H / KV);
        for (int i = 0; i < T; i++) {
            double mx = -INFINITY, s = 0;
            for (int j = 0; j < T; j++) {
                p[j] = -INFINITY;
                if (j > i || (a->window > 0 && i - j >= a->window)) continue;
                double d = 0;
                for (int e = 0; e < hd; e++) d += qkv[(size_t)i * QKV + h * hd + e] * qkv[(size_t)j * QKV + (H + g) * hd + e];
                d *= a->scale;
                if (a->softcap > 0) d = a->softcap * tanh(d / a->softcap);
                p[j] = d;
                mx = fmax(mx, d);
            }
            for (int j = 0; j < T; j++) s += (p[j] = exp(p[j] - mx));
            for (int j = 0; j < T; j++) p[j] /= s;
            if (P)
                for (int j = 0; j < T; j++) P[((size_t)h * T + i) * T + j] = p[j];
            for (int e = 0; e < hd; e++) {
                double acc = 0;
                for (int j = 0; j <= i; j++) acc += p[j] * qkv[(size_t)j * QKV + (H + KV + g) * hd + e];
                out[(size_t)i * H * hd + h * hd + e] = acc;
            }
        }
    }
    free(p);
}

static rl_attn_cfg cfg(int H, int KV, int hd, int window, float softcap) {
    rl_attn_cfg a = {H, KV, hd, (float)(1 / sqrt((double)hd)), softcap, window, 0, 0};
    return a;
}

/* Random qkv rows with logits large enough (scale 2) for peaked, non-uniform attention. */
static float *rand_qkv(rl_rng *r, int T, const rl_attn_cfg *a, double **as64) {
    size_t n = (size_t)T * (a->n_heads + 2 * a->n_kv_heads) * a->head_dim;
    float *x = malloc(n * sizeof *x);
    *as64 = malloc(n * sizeof **as64);
    for (size_t i = 0; i < n; i++) (*as64)[i] = x[i] = (float)(2 * rl_rng_normal(r));
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

static void forward_kernels_agree(int H, int KV, int window, float softcap) {
    const int hd = 8, lens[] = {1, 2, 5, 8, 9, 63, 64, 65, 130};
    rl_rng r;
    rl_rng_seed(&r, (uint64_t)(100 + H * 10 + KV + window));
    for (size_t li = 0; li < RL_ARRAY_LEN(lens); li++) {
        const int T = lens[li];
        rl_attn_cfg a = cfg(H, KV, hd, window, softcap);
        const int QKV = (H + 2 * KV) * hd;
        double *q64;
        float *qkv = rand_qkv(&r, T, &a, &q64);
        double *ref = malloc((size_t)T * H * hd * sizeof *ref), *P = malloc((size_t)H * T * T * sizeof *P);
        naive(&a, q64, T, ref, P);
        float *out = malloc((size_t)T * H * hd * sizeof *out), *att = malloc((size_t)H * T * T * sizeof *att);

        /* stored probabilities (training kernel, B = 1) */
        rl_attention_forward(out, att, qkv, 1, T, &a);
        expect_close(out, ref, (size_t)T * H * hd, "stored-probability output", T);
        expect_close(att, P, (size_t)H * T * T, "stored probabilities", T);

        /* tiled, with tiles that do and do not divide T, and the defaults */
        const int tiles[][2] = {{1, 1}, {3, 5}, {8, 8}, {4, 64}, {0, 0}};
        for (size_t ti = 0; ti < RL_ARRAY_LEN(tiles); ti++) {
            a.tile_q = tiles[ti][0];
            a.tile_k = tiles[ti][1];
            float *work = malloc(rl_attention_tiled_work_floats(&a) * sizeof *work);
            memset(out, 0, (size_t)T * H * hd * sizeof *out);
            rl_attention_tiled_forward(out, H * hd, qkv, QKV, qkv + H * hd, qkv + (H + KV) * hd, QKV, T, T, 0, &a, work);
            expect_close(out, ref, (size_t)T * H * hd, "tiled output", T);
            /* the last rows as a continuation (queries at pos0 > 0 over all keys, as in decoding) */
            int pos0 = T / 2;
            memset(out, 0, (size_t)T * H * hd * sizeof *out);
            rl_attention_tiled_forward(out, H * hd, qkv + (size_t)pos0 * QKV, QKV, qkv + H * hd, qkv + (H + KV) * hd, QKV,
                                       T - pos0, T, pos0, &a, work);
            expect_close(out, ref + (size_t)pos0 * H * hd, (size_t)(T - pos0) * H * hd, "tiled continuation", T);
            free(work);
        }
        free(qkv);
        free(q64);
        free(ref);
        free(P);
        free(out);
        free(att);
    }
}

Test(model_attn, forward_gqa) { forward_kernels_agree(4, 2, 0, 0); }
Test(model_attn, forward_mqa) { forward_kernels_agree(4, 1, 0, 0); }
Test(model_attn, forward_mha_sliding_window) { forward_kernels_agree(2, 2, 4, 0); }
Test(model_attn, forward_softcap_window) { forward_kernels_agree(4, 2, 7, 3.0f); }

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

Test(model_attn, row_kernel_reports_probabilities) {
    const int H = 4, KV = 2, hd = 8, T = 70;
    rl_rng r;
    rl_rng_seed(&r, 7);
    rl_attn_cfg a = cfg(H, KV, hd, 5, 0);
    const int QKV = (H + 2 * KV) * hd;
    double *q64;
    float *qkv = rand_qkv(&r, T, &a, &q64);
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

/* ---- backward -------------------------------------------------------------------------------- */

/* d/d(qkv) of sum(dout * naive(qkv)) by central differences (float64, h = 1e-6: error ~1e-10). */
static void check_backward(int B, int T, int H, int KV, int window) {
    const int hd = 4;
    rl_attn_cfg a = cfg(H, KV, hd, window, 0);
    const int QKV = (H + 2 * KV) * hd;
    rl_rng r;
    rl_rng_seed(&r, (uint64_t)(T * 31 + H + KV + window));
    double *q64;
    float *qkv = rand_qkv(&r, B * T, &a, &q64);
    size_t nout = (size_t)B * T * H * hd, nin = (size_t)B * T * QKV;
    float *dout = malloc(nout * sizeof *dout), *out = malloc(nout * sizeof *out);
    float *att = malloc((size_t)B * H * T * T * sizeof *att), *dqkv = calloc(nin, sizeof *dqkv);
    double *d64 = malloc(nout * sizeof *d64), *o64 = malloc((size_t)T * H * hd * sizeof *o64);
    for (size_t i = 0; i < nout; i++) d64[i] = dout[i] = (float)rl_rng_normal(&r);
    rl_attention_forward(out, att, qkv, B, T, &a);
    float *scratch = malloc(rl_attention_scratch_floats(T) * sizeof *scratch);
    rl_attention_backward(dqkv, dout, att, qkv, B, T, &a, scratch);
    /* each sequence separately: the function of that sequence's qkv rows */
    double gmax = 0, *fd = malloc(nin * sizeof *fd);
    for (int b = 0; b < B; b++) {
        double *x = q64 + (size_t)b * T * QKV;
        for (size_t i = 0; i < (size_t)T * QKV; i++) {
            double x0 = x[i], h = 1e-6, f[2];
            for (int sgn = 0; sgn < 2; sgn++) {
                x[i] = x0 + (sgn ? -h : h);
                naive(&a, x, T, o64, NULL);
                f[sgn] = 0;
                for (size_t j = 0; j < (size_t)T * H * hd; j++) f[sgn] += d64[(size_t)b * T * H * hd + j] * o64[j];
            }
            x[i] = x0;
            fd[(size_t)b * T * QKV + i] = (f[0] - f[1]) / (2 * h);
            gmax = fmax(gmax, fabs(fd[(size_t)b * T * QKV + i]));
        }
    }
    /* float32 backward vs float64: relative errors ~1e-6 of the gradient scale (measured); allow
     * 1e-4 of the scale plus 1e-4 relative */
    for (size_t i = 0; i < nin; i++)
        cr_assert(fabs(dqkv[i] - fd[i]) <= 1e-4 * gmax + 1e-4 * fabs(fd[i]),
                  "T=%d H=%d KV=%d window=%d: dqkv[%zu] (token %zu, column %zu) = %.8g, finite differences %.8g", T, H,
                  KV, window, i, i / QKV, i % QKV, (double)dqkv[i], fd[i]);
    /* the backward adds: a second call doubles the gradient */
    float *first = malloc(nin * sizeof *first);
    memcpy(first, dqkv, nin * sizeof *first);
    rl_attention_backward(dqkv, dout, att, qkv, B, T, &a, scratch);
    for (size_t i = 0; i < nin; i++) cr_assert(fabs(dqkv[i] - 2 * first[i]) <= 1e-6 * (1 + fabs(first[i])));
    free(qkv), free(q64), free(dout), free(out), free(att), free(dqkv), free(d64), free(o64), free(scratch), free(fd);
    free(first);
}

Test(model_attn, backward_gqa) { check_backward(2, 9, 4, 2, 0); }
Test(model_attn, backward_mqa_two_row_blocks) { check_backward(1, 70, 2, 1, 0); }
Test(model_attn, backward_mha_window) { check_backward(2, 9, 2, 2, 3); }

/* ---- the statistics pass adaptive temperature will use -------------------------------------- */
Test(model_attn, streaming_entropy_matches_direct) {
    rl_rng r;
    rl_rng_seed(&r, 9);
    enum { n = 300 };
    float z[n];
    for (int i = 0; i < n; i++) z[i] = (float)(3 * rl_rng_normal(&r));
    z[17] = -INFINITY; /* a masked key */
    double mx = -INFINITY, s = 0, H = 0;
    for (int i = 0; i < n; i++) mx = fmax(mx, z[i]);
    for (int i = 0; i < n; i++) s += exp(z[i] - mx);
    for (int i = 0; i < n; i++) {
        double p = exp(z[i] - mx) / s;
        if (p > 0) H -= p * log(p);
    }
    /* tiles of 7, so the running max changes between tiles */
    rowsm_stats st;
    rl_rowsm_stats_begin(&st);
    for (int i = 0; i < n; i += 7) rl_rowsm_stats_step(&st, z + i, RL_MIN(7, n - i));
    /* both in float64 over float32 inputs: agreement to 1e-12 relative */
    cr_assert(fabs(rl_rowsm_stats_entropy(&st) - H) <= 1e-12 * H, "streaming %.15g, direct %.15g", rl_rowsm_stats_entropy(&st),
              H);
}
