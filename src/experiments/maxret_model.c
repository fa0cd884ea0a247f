/* max-retrieval network: parameters, data sampling, training forward/backward, and plain-vs-adaptive eval. */
#include "ropelab/experiments.h"
#include "ropelab/model.h"
#include "ropelab/softmax.h"
#include "ropelab/util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int rl_maxret_model_init(rl_maxret_model *m, int width, int depth, int n_classes, uint64_t seed) {
    memset(m, 0, sizeof *m);
    if (width < 1 || depth < 1 || depth > RL_MAXRET_MAX_DEPTH || n_classes < 2)
        return rl_fail("maxret model: width %d, depth %d (1..%d), classes %d (>= 2) out of range", width, depth,
                       RL_MAXRET_MAX_DEPTH, n_classes);
    size_t W = (size_t)width, C = (size_t)n_classes, WW = W * W + W;
    size_t n = ((1 + C) * W + W) + (W + W) + 2 * (size_t)(depth - 1) * WW + 3 * WW + WW + (C * W + C);
    m->width = width;
    m->depth = depth;
    m->n_classes = n_classes;
    m->n_params = n;
    m->params = rl_alloc_aligned(n * sizeof(float), "maxret parameters");
    if (!m->params) return -1;
    rl_rng r;
    rl_rng_seed(&r, seed);
    float *p = m->params;
    /* one Linear(in, out): torch.nn.Linear's default init, U(-1/sqrt(in), 1/sqrt(in)) for w and b */
#define LINEAR(W_, B_, IN, OUT)                                                                          \
    do {                                                                                                 \
        double bound = 1.0 / sqrt((double)(IN));                                                         \
        (W_) = p;                                                                                        \
        for (size_t i_ = 0; i_ < (size_t)(IN) * (OUT); i_++) *p++ = (float)((2 * rl_rng_uniform(&r) - 1) * bound); \
        (B_) = p;                                                                                        \
        for (size_t i_ = 0; i_ < (size_t)(OUT); i_++) *p++ = (float)((2 * rl_rng_uniform(&r) - 1) * bound); \
    } while (0)
    for (int l = 0; l < depth; l++) LINEAR(m->xw[l], m->xb[l], l ? W : 1 + C, W);
    for (int l = 0; l < depth; l++) LINEAR(m->qw[l], m->qb[l], l ? W : 1, W);
    LINEAR(m->wq, m->bq, W, W);
    LINEAR(m->wk, m->bk, W, W);
    LINEAR(m->wv, m->bv, W, W);
    LINEAR(m->w1, m->b1, W, W);
    LINEAR(m->w2, m->b2, W, C);
#undef LINEAR
    if ((size_t)(p - m->params) != n) return rl_fail("maxret model: internal parameter count mismatch");
    return 0;
}

void rl_maxret_model_free(rl_maxret_model *m) {
    free(m->params);
    memset(m, 0, sizeof *m);
}

size_t rl_maxret_offset(const rl_maxret_model *m, const float *p) { return (size_t)(p - m->params); }

void rl_maxret_sample(float *items, float *query, int32_t *target, int32_t *argmax, int B, int n, int n_classes,
                      uint64_t seed) {
    rl_rng r;
    rl_rng_seed(&r, seed);
    int D = 1 + n_classes;
    for (int b = 0; b < B; b++) {
        float *x = items + (size_t)b * n * D;
        memset(x, 0, sizeof(float) * (size_t)n * D);
        int best = 0;
        for (int i = 0; i < n; i++) {
            x[(size_t)i * D] = (float)rl_rng_uniform(&r);
            x[(size_t)i * D + 1 + rl_rng_below(&r, (uint64_t)n_classes)] = 1.0f;
            if (x[(size_t)i * D] > x[(size_t)best * D]) best = i;
        }
        query[b] = (float)rl_rng_uniform(&r);
        int cls = 0;
        for (int c = 0; c < n_classes; c++)
            if (x[(size_t)best * D + 1 + c] > 0) cls = c;
        target[b] = cls;
        if (argmax) argmax[b] = best;
    }
}

/* Encoder MLP forward: `depth` layers of Linear+GELU. x: [N][in0]; pre[l], post[l]: [N][W].
 * Passing the same two buffers for every l (pre[l] = A, post[l] = B) gives a memory-light inference pass. */
static void mlp_forward(const rl_maxret_model *m, float *const *w, float *const *b, const float *x, int N, int in0,
                        float **pre, float **post) {
    const float *in = x;
    int C = in0, W = m->width;
    for (int l = 0; l < m->depth; l++) {
        rl_linear_forward(pre[l], in, w[l], b[l], N, C, W);
        rl_gelu_forward(post[l], pre[l], (size_t)N * W);
        in = post[l];
        C = W;
    }
}

/* Encoder MLP backward. dpost: [N][W], gradient w.r.t. post[depth-1] (destroyed: used as scratch).
 * scratch: [N][W]. Input gradients are not needed (the inputs are data). */
static void mlp_backward(const rl_maxret_model *m, float *grad, float *const *w, float *const *b, const float *x,
                         int N, int in0, float **pre, float **post, float *dpost, float *scratch) {
    int W = m->width;
    for (int l = m->depth - 1; l >= 0; l--) {
        memset(scratch, 0, sizeof(float) * (size_t)N * W);
        rl_gelu_backward(scratch, dpost, pre[l], (size_t)N * W); /* scratch = d pre[l] */
        const float *in = l ? post[l - 1] : x;
        int C = l ? W : in0;
        if (l) memset(dpost, 0, sizeof(float) * (size_t)N * W);
        rl_linear_backward(l ? dpost : NULL, grad + rl_maxret_offset(m, w[l]), grad + rl_maxret_offset(m, b[l]),
                           scratch, in, w[l], N, C, W);
    }
}

/* Per-set attention with plain loops inside ONE parallel region over sets: thousands of tiny BLAS level-2
 * calls (each an OpenMP region in the OpenMP OpenBLAS) collapse on a loaded machine, 10-20x slower.
 * s = scale · K q (K: [n][W], q: [W], s: [n]) */
static void scores(float *s, const float *K, const float *q, float scale, int n, int W) {
    for (int j = 0; j < n; j++) {
        const float *kj = K + (size_t)j * W;
        float acc = 0;
        for (int d = 0; d < W; d++) acc += kj[d] * q[d];
        s[j] = acc * scale;
    }
}

/* o = Vᵀ a (V: [n][W], a: [n], o: [W]) */
static void mix(float *o, const float *V, const float *a, int n, int W) {
    for (int d = 0; d < W; d++) o[d] = 0;
    for (int j = 0; j < n; j++) {
        const float *vj = V + (size_t)j * W;
        float aj = a[j];
        if (aj == 0) continue;
        for (int d = 0; d < W; d++) o[d] += aj * vj[d];
    }
}

static int argmax_row(const float *x, int n) {
    int a = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[a]) a = i;
    return a;
}

double rl_maxret_loss_grad(const rl_maxret_model *m, float *grad, const float *items, const float *query,
                           const int32_t *target, int B, int n, rl_attn_softmax attn, int *correct) {
    const int W = m->width, C = m->n_classes, D = 1 + C, L = m->depth, Ni = B * n;
    const float scale = 1.0f / sqrtf((float)W);
    size_t NW = (size_t)Ni * W, BW = (size_t)B * W;
    /* one allocation for every activation: item encoder 2L·NW, k, v, dk, dv, dh, scratch 6·NW;
     * query side 2L·BW + qv, o, a1, g1, dqv, do, da1, dg, scratch 9·BW; attention 4·B·n; logits B·C */
    size_t total = 2 * L * NW + 6 * NW + 2 * L * BW + 9 * BW + 4 * (size_t)B * n + (size_t)B * C;
    float *buf = rl_calloc(total, sizeof(float), "maxret activations");
    rl_adaptive_row *st = rl_calloc((size_t)B, sizeof *st, "maxret attention rows");
    if (!buf || !st) {
        free(buf);
        free(st);
        return NAN;
    }
    float *p = buf, *xpre[RL_MAXRET_MAX_DEPTH], *xpost[RL_MAXRET_MAX_DEPTH], *qpre[RL_MAXRET_MAX_DEPTH],
          *qpost[RL_MAXRET_MAX_DEPTH];
    for (int l = 0; l < L; l++) xpre[l] = p, p += NW, xpost[l] = p, p += NW;
    float *k = p, *v = (p += NW), *dk = (p += NW), *dv = (p += NW), *dh = (p += NW), *scr = (p += NW);
    p += NW;
    for (int l = 0; l < L; l++) qpre[l] = p, p += BW, qpost[l] = p, p += BW;
    float *qv = p, *o = (p += BW), *a1 = (p += BW), *g1 = (p += BW), *dqv = (p += BW), *dO = (p += BW),
          *da1 = (p += BW), *dg = (p += BW), *qscr = (p += BW);
    p += BW;
    float *s = p, *alpha = (p += (size_t)B * n), *dalpha = (p += (size_t)B * n), *ds = (p += (size_t)B * n);
    p += (size_t)B * n;
    float *logits = p;

    /* ---- forward ---- */
    mlp_forward(m, m->xw, m->xb, items, Ni, D, xpre, xpost);
    mlp_forward(m, m->qw, m->qb, query, B, 1, qpre, qpost);
    rl_linear_forward(k, xpost[L - 1], m->wk, m->bk, Ni, W, W);
    rl_linear_forward(v, xpost[L - 1], m->wv, m->bv, Ni, W, W);
    rl_linear_forward(qv, qpost[L - 1], m->wq, m->bq, B, W, W);
#pragma omp parallel for schedule(static) if ((size_t)B * n * W > 32768)
    for (int b = 0; b < B; b++) {
        const float *kb = k + (size_t)b * n * W, *vb = v + (size_t)b * n * W;
        float *sb = s + (size_t)b * n, *ab = alpha + (size_t)b * n;
        scores(sb, kb, qv + (size_t)b * W, scale, n, W);
        if (attn == RL_ATTN_PLAIN) rl_softmax_row_forward(ab, sb, n, n);
        else rl_adaptive_row_forward(ab, &st[b], sb, n, n);
        mix(o + (size_t)b * W, vb, ab, n, W);
    }
    rl_linear_forward(a1, o, m->w1, m->b1, B, W, W);
    rl_gelu_forward(g1, a1, BW);
    rl_linear_forward(logits, g1, m->w2, m->b2, B, W, C);
    if (correct) {
        *correct = 0;
        for (int b = 0; b < B; b++) *correct += argmax_row(logits + (size_t)b * C, C) == target[b];
    }
    double loss = rl_xent_forward_backward(logits, target, B, C, grad ? 1.0f / (float)B : 0.0f, NULL) / B;

    /* ---- backward (logits now holds d loss / d logits) ---- */
    if (grad) {
        rl_linear_backward(dg, grad + rl_maxret_offset(m, m->w2), grad + rl_maxret_offset(m, m->b2), logits, g1,
                           m->w2, B, W, C);
        rl_gelu_backward(da1, dg, a1, BW);
        rl_linear_backward(dO, grad + rl_maxret_offset(m, m->w1), grad + rl_maxret_offset(m, m->b1), da1, o, m->w1,
                           B, W, W);
#pragma omp parallel for schedule(static) if ((size_t)B * n * W > 32768)
        for (int b = 0; b < B; b++) {
            const float *kb = k + (size_t)b * n * W, *vb = v + (size_t)b * n * W, *dob = dO + (size_t)b * W;
            const float *qb = qv + (size_t)b * W;
            float *dab = dalpha + (size_t)b * n, *dsb = ds + (size_t)b * n, *ab = alpha + (size_t)b * n;
            float *dvb = dv + (size_t)b * n * W, *dkb = dk + (size_t)b * n * W;
            /* o = Vᵀ α: dα = V do, dV += α doᵀ */
            scores(dab, vb, dob, 1.0f, n, W);
            for (int j = 0; j < n; j++)
                for (int d = 0; d < W; d++) dvb[(size_t)j * W + d] += ab[j] * dob[d];
            if (attn == RL_ATTN_PLAIN) rl_softmax_row_backward(dsb, dab, ab, n);
            else
                rl_adaptive_row_backward(dsb, dab, ab, s + (size_t)b * n, &st[b],
                                         attn == RL_ATTN_ADAPTIVE ? RL_BETA_THROUGH : RL_BETA_CONST, n);
            /* s = scale K q: dq = scale Kᵀ ds, dK += scale ds qᵀ */
            mix(dqv + (size_t)b * W, kb, dsb, n, W);
            for (int d = 0; d < W; d++) dqv[(size_t)b * W + d] *= scale;
            for (int j = 0; j < n; j++)
                for (int d = 0; d < W; d++) dkb[(size_t)j * W + d] += scale * dsb[j] * qb[d];
        }
        rl_linear_backward(dh, grad + rl_maxret_offset(m, m->wk), grad + rl_maxret_offset(m, m->bk), dk,
                           xpost[L - 1], m->wk, Ni, W, W);
        rl_linear_backward(dh, grad + rl_maxret_offset(m, m->wv), grad + rl_maxret_offset(m, m->bv), dv,
                           xpost[L - 1], m->wv, Ni, W, W);
        mlp_backward(m, grad, m->xw, m->xb, items, Ni, D, xpre, xpost, dh, scr);
        float *dgq = dg; /* reuse: [B][W] gradient w.r.t. the query encoder output */
        memset(dgq, 0, sizeof(float) * BW);
        rl_linear_backward(dgq, grad + rl_maxret_offset(m, m->wq), grad + rl_maxret_offset(m, m->bq), dqv,
                           qpost[L - 1], m->wq, B, W, W);
        mlp_backward(m, grad, m->qw, m->qb, query, B, 1, qpre, qpost, dgq, qscr);
    }
    free(buf);
    free(st);
    return loss;
}

int rl_maxret_eval(const rl_maxret_model *m, const float *items, const float *query, const int32_t *argmax, int B,
                   int n, int32_t *pred_plain, int32_t *pred_adapt, float *w_plain, float *w_adapt, float *H,
                   float *beta) {
    const int W = m->width, C = m->n_classes, D = 1 + C, L = m->depth, Ni = B * n;
    const float scale = 1.0f / sqrtf((float)W);
    size_t NW = (size_t)Ni * W, BW = (size_t)B * W;
    size_t total = 4 * NW + 2 * BW + 3 * (size_t)B * n + 6 * BW + 2 * (size_t)B * C;
    float *buf = rl_malloc(total * sizeof(float), "maxret evaluation buffers");
    if (!buf) return -1;
    /* s, plain and adaptive attention rows: three [B][n] blocks starting at s */
    float *A = buf, *Bf = A + NW, *k = Bf + NW, *v = k + NW, *qa = v + NW, *qb = qa + BW, *s = qb + BW,
          *o = s + 3 * (size_t)B * n, *a1 = o + 2 * BW, *g1 = a1 + 2 * BW, *logits = g1 + 2 * BW;
    float *pre[RL_MAXRET_MAX_DEPTH], *post[RL_MAXRET_MAX_DEPTH];
    for (int l = 0; l < L; l++) pre[l] = A, post[l] = Bf;
    mlp_forward(m, m->xw, m->xb, items, Ni, D, pre, post);
    rl_linear_forward(k, Bf, m->wk, m->bk, Ni, W, W);
    rl_linear_forward(v, Bf, m->wv, m->bv, Ni, W, W);
    for (int l = 0; l < L; l++) pre[l] = qa, post[l] = qb;
    mlp_forward(m, m->qw, m->qb, query, B, 1, pre, post);
    rl_linear_forward(qa, qb, m->wq, m->bq, B, W, W); /* qa = query vectors */
#pragma omp parallel for schedule(dynamic, 1) if ((size_t)B * n * W > 32768)
    for (int b = 0; b < B; b++) {
        const float *kb = k + (size_t)b * n * W, *vb = v + (size_t)b * n * W;
        float *sb = s + (size_t)b * n, *ap = sb + (size_t)B * n, *aa = ap + (size_t)B * n;
        scores(sb, kb, qa + (size_t)b * W, scale, n, W);
        rl_adaptive_row st;
        rl_softmax_row_forward(ap, sb, n, n);
        rl_adaptive_row_forward(aa, &st, sb, n, n);
        /* rows 0..B-1 of o: plain; rows B..2B-1: adaptive */
        mix(o + (size_t)b * W, vb, ap, n, W);
        mix(o + (size_t)(B + b) * W, vb, aa, n, W);
        if (w_plain) w_plain[b] = ap[argmax[b]];
        if (w_adapt) w_adapt[b] = aa[argmax[b]];
        if (H) H[b] = (float)st.H;
        if (beta) beta[b] = (float)st.beta;
    }
    rl_linear_forward(a1, o, m->w1, m->b1, 2 * B, W, W);
    rl_gelu_forward(g1, a1, 2 * BW);
    rl_linear_forward(logits, g1, m->w2, m->b2, 2 * B, W, C);
    for (int b = 0; b < B; b++) {
        pred_plain[b] = argmax_row(logits + (size_t)b * C, C);
        pred_adapt[b] = argmax_row(logits + (size_t)(B + b) * C, C);
    }
    free(buf);
    return 0;
}
