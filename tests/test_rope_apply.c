/* librope rotation: every kernel this CPU supports (portable, AVX2, AVX-512), both pair layouts,
 * every encoding and scaling type, head dims with SIMD tails, against a long-double naive reference;
 * plus the algebraic properties (norms, relative positions, backward = transpose = inverse), the
 * p=0 / p=1 / layout / p-RoPE-vs-partial identities, and accuracy at positions up to 2^31-1.
 *
 * Error bound used throughout (U = 2^-24, the float32 unit roundoff; a = attention factor):
 * each output of a chunk (x0, x1) is within 4U*a*(|x0|+|x1|) of the exact rotation for the
 * library's float64 frequency. Derivation: cos/sin are exact in float64 to ~1e-15 and rounded once
 * to float32 (<= U*a relative each, contributing U*a*(|x0|+|x1|)); the two products and the sum add
 * at most U*a*(|x0|+|x1|) each (one product is exact inside an FMA). 3U, plus margin for the
 * float64-level terms, gives 4U. It holds at ANY int32 position because the angle is formed and
 * reduced in float64; a float32 angle would be off by ~pos*6e-8 rad (checked below to fail it). */
#include "helpers.h"
#include "ropelab/rope.h"
#include "ropelab/util.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#define U 0x1p-24

static const char *const kernel_names[] = {"portable", "avx2", "avx512"};
enum { N_KERNELS = 3 };

/* Forces kernel i; 0 when this CPU cannot run it (the test then skips that kernel). */
static int use_kernel(int i) {
    if (!rl_rope_kernel_supported(kernel_names[i])) return 0;
    cr_assert_eq(rl_rope_set_kernel(kernel_names[i]), 0, "%s", rl_error());
    cr_assert_str_eq(rl_rope_kernel_name(), kernel_names[i]);
    return 1;
}

/* "base[,layout=interleaved]scale" */
static void spec_text(char *buf, size_t n, const char *base, const char *scale, rl_layout layout) {
    const char *lay = layout == RL_LAYOUT_HALF ? "" : strchr(base, ':') ? ",layout=interleaved" : ":layout=interleaved";
    snprintf(buf, n, "%s%s%s", base, lay, scale);
}

/* 0 when the spec cannot be applied at this head dim (partial with an odd rotated width, dynamic
 * NTK on a 2-dim rotated width, whose exponent w/(w-2) is undefined). */
static int make_rope(rl_rope *r, const char *text, int d, int max_pos, int64_t seq_len) {
    rl_rope_spec s;
    cr_assert_eq(rl_rope_parse(text, &s), 0, "%s: %s", text, rl_error());
    if (rl_rope_init(r, &s, d, max_pos, seq_len) != 0) {
        cr_assert(strstr(rl_error(), "odd") || strstr(rl_error(), "width > 2"), "%s d=%d: %s", text, d, rl_error());
        return 0;
    }
    return 1;
}

static float *randn(rl_rng *g, size_t n) {
    float *x = malloc(n * sizeof *x);
    for (size_t i = 0; i < n; i++) x[i] = (float)rl_rng_normal(g);
    return x;
}

static float *copy(const float *x, size_t n) {
    float *y = malloc(n * sizeof *y);
    memcpy(y, x, n * sizeof *y);
    return y;
}

/* The pairing, written out independently of rl_rope_chunk_dims: half pairs (k, k + R/2) for
 * k < R/2 (partial's pass-through dims pair (R+j, R+j+(d-R)/2)); interleaved (2k, 2k+1). */
static void pair_dims(rl_layout layout, int R, int d, int k, int *i0, int *i1) {
    if (layout == RL_LAYOUT_INTERLEAVED) *i0 = 2 * k, *i1 = 2 * k + 1;
    else if (k < R / 2) *i0 = k, *i1 = k + R / 2;
    else *i0 = R + (k - R / 2), *i1 = R + (k - R / 2) + (d - R) / 2;
}

/* Checks y = (forward if sgn > 0, else backward) of x against the long-double reference: rotated
 * dims within 4U*a*(|x0|+|x1|), every other dim bit-identical. freq: the frequencies to use. */
static void check_against_reference(const rl_rope *r, const double *freq, const float *x, const float *y, int T, int H,
                                    const int32_t *pos, int sgn, const char *what) {
    const rl_rope_freqs *f = &r->f;
    const int d = f->head_dim;
    const long double a = f->attn_factor;
    for (int t = 0; t < T; t++) {
        const long double p = pos ? pos[t] : t;
        for (int h = 0; h < H; h++) {
            const float *xh = x + ((size_t)t * H + h) * d, *yh = y + ((size_t)t * H + h) * d;
            char touched[4096] = {0};
            for (int k = f->chunk_lo; k < f->chunk_hi; k++) {
                int i0, i1;
                pair_dims(f->layout, f->rot_dims, d, k, &i0, &i1);
                touched[i0] = touched[i1] = 1;
                long double ang = p * (long double)freq[k], c = cosl(ang) * a, s = sgn * sinl(ang) * a;
                long double x0 = xh[i0], x1 = xh[i1];
                long double r0 = x0 * c - x1 * s, r1 = x0 * s + x1 * c;
                double bound = 4 * U * (double)a * (fabs(xh[i0]) + fabs(xh[i1])) + 1e-30;
                cr_assert(fabsl(yh[i0] - r0) <= bound && fabsl(yh[i1] - r1) <= bound,
                          "%s [%s] pos %.0Lf head %d chunk %d: got (%.9g, %.9g), want (%.9Lg, %.9Lg), bound %.3g", what,
                          rl_rope_kernel_name(), p, h, k, yh[i0], yh[i1], r0, r1, bound);
            }
            for (int i = 0; i < d; i++)
                if (!touched[i])
                    cr_assert(memcmp(&xh[i], &yh[i], sizeof(float)) == 0, "%s: untouched dim %d changed", what, i);
        }
    }
}

static const struct {
    const char *base, *scale;
    int64_t seq_len;
} variants[] = {
    {"nope", "", 0},
    {"rope:theta=10000", "", 0},
    {"prope:p=0.75,theta=10000", "", 0},
    {"prope-rev:p=0.5,theta=10000", "", 0},
    {"partial:p=0.5,theta=10000", "", 0},
    {"partial:p=0.25,theta=10000", "", 0},
    {"rope:theta=10000", "+linear:factor=4", 0},
    {"rope:theta=10000", "+dynamic:factor=2,original=64", 256},
    {"rope:theta=500000", "+llama3:factor=8,original=64", 0},
    {"prope:p=0.5,theta=10000", "+yarn:factor=4,original=64", 0},
    {"partial:p=0.5,theta=10000", "+yarn:factor=8,original=128,attention_factor=1.5", 0},
};

/* Dims with every SIMD tail length, and 520 (260 chunks) to cross the 256-chunk blocks. */
static const int head_dims[] = {2, 4, 6, 10, 18, 34, 62, 64, 66, 130, 256, 520};

/* Positions in the table (max_pos 16), beyond it, negative, and the int32 extremes. */
static const int32_t positions[] = {0, 3, 15, 16, 1000003, 2147483647, -77, -2147483647 - 1};
enum { T = 8, H = 3, MAX_POS = 16 };

Test(rope_apply, every_kernel_layout_variant_and_dim_matches_reference) {
    rl_rng g;
    rl_rng_seed(&g, 11);
    int kernels_run = 0;
    for (int ki = 0; ki < N_KERNELS; ki++) {
        if (!use_kernel(ki)) continue;
        kernels_run++;
        for (int l = 0; l < 2; l++)
            for (size_t v = 0; v < RL_ARRAY_LEN(variants); v++)
                for (size_t di = 0; di < RL_ARRAY_LEN(head_dims); di++) {
                    const int d = head_dims[di];
                    char text[256], what[300];
                    spec_text(text, sizeof text, variants[v].base, variants[v].scale, (rl_layout)l);
                    snprintf(what, sizeof what, "%s d=%d", text, d);
                    rl_rope r;
                    if (!make_rope(&r, text, d, MAX_POS, variants[v].seq_len)) continue;
                    const size_t n = (size_t)T * H * d;
                    float *x = randn(&g, n), *y = copy(x, n);
                    rl_rope_forward(&r, y, T, H, positions);
                    check_against_reference(&r, r.f.freq, x, y, T, H, positions, +1, what);
                    memcpy(y, x, n * sizeof *y);
                    rl_rope_backward(&r, y, T, H, positions);
                    check_against_reference(&r, r.f.freq, x, y, T, H, positions, -1, what);
                    free(x);
                    free(y);
                    rl_rope_free(&r);
                }
    }
#if defined(__x86_64__)
    cr_assert(kernels_run >= 1 + rl_rope_kernel_supported("avx2") + rl_rope_kernel_supported("avx512"));
#endif
}

/* ||R x|| = a ||x|| per head, at positions near and far. Bound: the per-output bound above gives
 * ||Rx - exact|| <= 8U a ||x||. */
Test(rope_apply, rotation_preserves_norms) {
    rl_rng g;
    rl_rng_seed(&g, 12);
    const char *specs[] = {"rope:theta=10000", "rope:theta=10000,layout=interleaved", "prope:p=0.25",
                           "partial:p=0.5,layout=interleaved", "rope+yarn:factor=4,original=64"};
    for (int ki = 0; ki < N_KERNELS; ki++) {
        if (!use_kernel(ki)) continue;
        for (size_t i = 0; i < RL_ARRAY_LEN(specs); i++) {
            rl_rope r;
            make_rope(&r, specs[i], 128, MAX_POS, 0);
            const size_t n = (size_t)T * H * 128;
            float *x = randn(&g, n), *y = copy(x, n);
            rl_rope_forward(&r, y, T, H, positions);
            for (int th = 0; th < T * H; th++) {
                double nx = 0, ny = 0, a = r.f.attn_factor;
                for (int j = 0; j < 128; j++) {
                    int i0, i1, k = j / 2;
                    pair_dims(r.f.layout, r.f.rot_dims, 128, k, &i0, &i1);
                    /* the attention factor scales the active chunks only */
                    double s = k >= r.f.chunk_lo && k < r.f.chunk_hi ? a : 1.0;
                    double xi = x[(size_t)th * 128 + (j % 2 ? i1 : i0)];
                    nx += s * s * xi * xi;
                }
                for (int j = 0; j < 128; j++) ny += (double)y[(size_t)th * 128 + j] * y[(size_t)th * 128 + j];
                nx = sqrt(nx);
                ny = sqrt(ny);
                cr_assert(fabs(ny - nx) <= 8 * U * a * nx, "%s [%s]: |Rx| %.9g vs a|x| %.9g", specs[i],
                          rl_rope_kernel_name(), ny, nx);
            }
            free(x);
            free(y);
            rl_rope_free(&r);
        }
    }
}

static double dot(const float *a, const float *b, int n) {
    double s = 0;
    for (int i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}

/* <R_i q, R_j k> = a <q, R_(j-i) k> (exact for the same float64 frequencies: angles i*g, j*g and
 * (j-i)*g are exact multiples of one g). Bound: each rotated vector is within 8U a |.| of exact, so
 * the two sides differ by at most 24U a^2 |q||k|. */
Test(rope_apply, relative_position_property) {
    rl_rng g;
    rl_rng_seed(&g, 13);
    const char *specs[] = {"rope:theta=10000", "rope:theta=10000,layout=interleaved", "prope:p=0.75",
                           "prope-rev:p=0.5,layout=interleaved", "partial:p=0.25", "rope+llama3:factor=8,original=64",
                           "prope:p=0.5+yarn:factor=4,original=64"};
    const int32_t pairs[][2] = {{0, 0},       {3, 10},         {10, 3},     {100, 5000},
                                {1000000, 1000007}, {5, 2147483647}, {-9, 40}, {123456789, 12345}};
    const int d = 64;
    for (int ki = 0; ki < N_KERNELS; ki++) {
        if (!use_kernel(ki)) continue;
        for (size_t i = 0; i < RL_ARRAY_LEN(specs); i++) {
            rl_rope r;
            make_rope(&r, specs[i], d, 256, 0);
            const double a = r.f.attn_factor;
            for (size_t pi = 0; pi < RL_ARRAY_LEN(pairs); pi++) {
                float *q = randn(&g, d), *k = randn(&g, d), *rq = copy(q, d), *rk = copy(k, d), *rd = copy(k, d);
                int32_t pi_ = pairs[pi][0], pj = pairs[pi][1], diff = pj - pi_;
                rl_rope_forward(&r, rq, 1, 1, &pi_);
                rl_rope_forward(&r, rk, 1, 1, &pj);
                rl_rope_forward(&r, rd, 1, 1, &diff);
                double lhs = dot(rq, rk, d), rhs = a * dot(q, rd, d);
                double bound = 24 * U * a * a * sqrt(dot(q, q, d) * dot(k, k, d));
                cr_assert(fabs(lhs - rhs) <= bound, "%s [%s] i=%d j=%d: %.9g vs %.9g (bound %.3g)", specs[i],
                          rl_rope_kernel_name(), pi_, pj, lhs, rhs, bound);
                free(q), free(k), free(rq), free(rk), free(rd);
            }
            rl_rope_free(&r);
        }
    }
}

/* backward(forward(x)) = a^2 x, and backward is the transpose: <Fx, y> = <x, By>.
 * Bounds: 14U a^2 (|x0|+|x1|) per output (forward error 4U carried through a rotation, plus the
 * backward's own 4U on outputs of norm <= sqrt(2) a (|x0|+|x1|)); 24U a |x||y| for the dots. */
Test(rope_apply, backward_is_inverse_and_transpose) {
    rl_rng g;
    rl_rng_seed(&g, 14);
    for (int ki = 0; ki < N_KERNELS; ki++) {
        if (!use_kernel(ki)) continue;
        for (int l = 0; l < 2; l++)
            for (size_t v = 0; v < RL_ARRAY_LEN(variants); v++) {
                const int d = 66;
                char text[256];
                spec_text(text, sizeof text, variants[v].base, variants[v].scale, (rl_layout)l);
                rl_rope r;
                if (!make_rope(&r, text, d, MAX_POS, variants[v].seq_len)) continue;
                const double a = r.f.attn_factor;
                const size_t n = (size_t)T * H * d;
                float *x = randn(&g, n), *y = copy(x, n), *w = randn(&g, n), *bw = copy(w, n);
                rl_rope_forward(&r, y, T, H, positions);
                double fx_w = dot(y, w, (int)n);
                rl_rope_backward(&r, y, T, H, positions);
                for (size_t th = 0; th < (size_t)T * H; th++)
                    for (int k = 0; k < d / 2; k++) {
                        int i0, i1;
                        pair_dims(r.f.layout, r.f.rot_dims, d, k, &i0, &i1);
                        double s = k >= r.f.chunk_lo && k < r.f.chunk_hi ? a * a : 1.0;
                        const float *xh = x + th * d, *yh = y + th * d;
                        double bound = 14 * U * a * a * (fabs(xh[i0]) + fabs(xh[i1]));
                        cr_assert(fabs(yh[i0] - s * xh[i0]) <= bound && fabs(yh[i1] - s * xh[i1]) <= bound,
                                  "%s [%s]: B(F(x)) != a^2 x at chunk %d", text, rl_rope_kernel_name(), k);
                    }
                rl_rope_backward(&r, bw, T, H, positions);
                double x_bw = dot(x, bw, (int)n);
                double bound = 24 * U * a * sqrt(dot(x, x, (int)n) * dot(w, w, (int)n));
                cr_assert(fabs(fx_w - x_bw) <= bound, "%s [%s]: <Fx,w> %.9g vs <x,Bw> %.9g", text,
                          rl_rope_kernel_name(), fx_w, x_bw);
                free(x), free(y), free(w), free(bw);
                rl_rope_free(&r);
            }
    }
}

/* Applies `text` forward to a copy of x. */
static float *rotated(const char *text, const float *x, int d, const int32_t *pos) {
    rl_rope r;
    cr_assert(make_rope(&r, text, d, MAX_POS, 0));
    float *y = copy(x, (size_t)T * H * d);
    rl_rope_forward(&r, y, T, H, pos);
    rl_rope_free(&r);
    return y;
}

/* p = 0 leaves x bit-identical (NoPE); p = 1 gives bit-identically plain RoPE (same float64
 * frequencies, same chunk range, same kernel). */
Test(rope_apply, p0_is_nope_and_p1_is_rope) {
    rl_rng g;
    rl_rng_seed(&g, 15);
    const int d = 64;
    const size_t n = (size_t)T * H * d;
    for (int ki = 0; ki < N_KERNELS; ki++) {
        if (!use_kernel(ki)) continue;
        for (int l = 0; l < 2; l++) {
            const char *kinds[] = {"prope", "prope-rev", "partial"};
            float *x = randn(&g, n);
            char text[128];
            spec_text(text, sizeof text, "rope:theta=10000", "", (rl_layout)l);
            float *ref = rotated(text, x, d, positions);
            for (size_t i = 0; i < RL_ARRAY_LEN(kinds); i++) {
                char base[64];
                snprintf(base, sizeof base, "%s:p=0", kinds[i]);
                spec_text(text, sizeof text, base, "", (rl_layout)l);
                float *y = rotated(text, x, d, positions);
                cr_assert(memcmp(x, y, n * sizeof *y) == 0, "%s must be NoPE", text);
                free(y);
                snprintf(base, sizeof base, "%s:p=1,theta=10000", kinds[i]);
                spec_text(text, sizeof text, base, "", (rl_layout)l);
                y = rotated(text, x, d, positions);
                cr_assert(memcmp(ref, y, n * sizeof *y) == 0, "%s must be RoPE [%s]", text, rl_rope_kernel_name());
                free(y);
            }
            free(x);
            free(ref);
        }
    }
}

/* Permutes every head: out[perm[i]] = in[i]. */
static float *permuted(const float *x, const int *perm, int d) {
    float *y = malloc((size_t)T * H * d * sizeof *y);
    for (int th = 0; th < T * H; th++)
        for (int i = 0; i < d; i++) y[(size_t)th * d + perm[i]] = x[(size_t)th * d + i];
    return y;
}

/* The same encoding in the two layouts: interleaved(P x) = P half(x), with P sending half's pair
 * (k, k+R/2) to (2k, 2k+1) and partial's pass-through dims to themselves. Each side is within 4U
 * of the same exact value, so they agree within 8U a (|x0|+|x1|). */
Test(rope_apply, layouts_agree_up_to_permutation) {
    rl_rng g;
    rl_rng_seed(&g, 16);
    for (int ki = 0; ki < N_KERNELS; ki++) {
        if (!use_kernel(ki)) continue;
        for (size_t v = 0; v < RL_ARRAY_LEN(variants); v++) {
            const int d = 40;
            char th[256], ti[256];
            spec_text(th, sizeof th, variants[v].base, variants[v].scale, RL_LAYOUT_HALF);
            spec_text(ti, sizeof ti, variants[v].base, variants[v].scale, RL_LAYOUT_INTERLEAVED);
            rl_rope rh, ri;
            cr_assert(make_rope(&rh, th, d, MAX_POS, variants[v].seq_len));
            cr_assert(make_rope(&ri, ti, d, MAX_POS, variants[v].seq_len));
            const int R = rh.f.rot_dims;
            int perm[40];
            for (int i = R; i < d; i++) perm[i] = i;
            for (int k = 0; k < R / 2; k++) perm[k] = 2 * k, perm[k + R / 2] = 2 * k + 1;
            const size_t n = (size_t)T * H * d;
            float *x = randn(&g, n), *yh = copy(x, n), *xi = permuted(x, perm, d);
            rl_rope_forward(&rh, yh, T, H, positions);
            rl_rope_forward(&ri, xi, T, H, positions);
            float *pyh = permuted(yh, perm, d), *px = permuted(x, perm, d);
            const double a = rh.f.attn_factor;
            for (size_t t = 0; t < n; t += 2) { /* (t, t+1) is one interleaved pair */
                double bound = 8 * U * a * (fabs(px[t]) + fabs(px[t + 1]));
                cr_assert(fabs(xi[t] - pyh[t]) <= bound && fabs(xi[t + 1] - pyh[t + 1]) <= bound,
                          "%s vs %s [%s] at %zu: %.9g %.9g vs %.9g %.9g", th, ti, rl_rope_kernel_name(), t, xi[t],
                          xi[t + 1], pyh[t], pyh[t + 1]);
            }
            free(x), free(yh), free(xi), free(pyh), free(px);
            rl_rope_free(&rh);
            rl_rope_free(&ri);
        }
    }
}

/* The paper's identity: p-RoPE keeping m chunks = partial rotary over r = 2m dims with base
 * theta^(2m/d), up to a permutation Q. Half layout: prope pairs (k, k+d/2), partial (k, k+m), so Q
 * sends k -> k and k+d/2 -> k+m for k < m, and the 0-frequency dims after them in order;
 * interleaved: both pair (2k, 2k+1), Q = identity. The two frequency tables differ by a few ulp
 * (different pow arguments), i.e. angles by < 1e-11 rad at these positions: bound 8U (|x0|+|x1|). */
Test(rope_apply, prope_equals_partial_up_to_permutation) {
    rl_rng g;
    rl_rng_seed(&g, 17);
    const int32_t pos[T] = {0, 1, 7, 100, 4095, 9999, 50000, 77777};
    static const struct {
        int d, m;
    } cases[] = {{128, 48}, {64, 5}, {32, 16}};
    for (int ki = 0; ki < N_KERNELS; ki++) {
        if (!use_kernel(ki)) continue;
        for (size_t c = 0; c < RL_ARRAY_LEN(cases); c++)
            for (int l = 0; l < 2; l++) {
                const int d = cases[c].d, m = cases[c].m;
                char pb[128], qb[128], tp[160], tq[160];
                snprintf(pb, sizeof pb, "prope:p=%.17g,theta=10000", 2.0 * m / d);
                snprintf(qb, sizeof qb, "partial:p=%.17g,theta=%.17g", 2.0 * m / d, pow(10000.0, 2.0 * m / d));
                spec_text(tp, sizeof tp, pb, "", (rl_layout)l);
                spec_text(tq, sizeof tq, qb, "", (rl_layout)l);
                int perm[128], next = 2 * m;
                for (int i = 0; i < d; i++) {
                    if (l == RL_LAYOUT_INTERLEAVED) perm[i] = i;
                    else if (i < m) perm[i] = i;
                    else if (i >= d / 2 && i < d / 2 + m) perm[i] = i - d / 2 + m;
                    else perm[i] = next++;
                }
                const size_t n = (size_t)T * H * d;
                float *x = randn(&g, n), *yp = rotated(tp, x, d, pos), *qx = permuted(x, perm, d);
                float *yq = rotated(tq, qx, d, pos), *qyp = permuted(yp, perm, d);
                for (size_t i = 0; i < n; i++) {
                    const int j = (int)(i % d);
                    int partner = j; /* j's pair partner in the partial layout; itself if not rotated */
                    if (l == RL_LAYOUT_INTERLEAVED) partner = j < 2 * m ? j ^ 1 : j;
                    else if (j < 2 * m) partner = j < m ? j + m : j - m;
                    const size_t pi = i - (size_t)j + (size_t)partner;
                    double bound = 8 * U * (fabs(qx[i]) + (partner != j ? fabs(qx[pi]) : 0));
                    cr_assert(fabs(yq[i] - qyp[i]) <= bound, "%s vs %s [%s] dim %d: %.9g vs %.9g", tp, tq,
                              rl_rope_kernel_name(), j, yq[i], qyp[i]);
                }
                free(x), free(yp), free(qx), free(yq), free(qyp);
            }
    }
}

/* Positions far beyond any training length, against a reference that recomputes each frequency
 * from the closed form theta^(-2k/d) in long double (independent of the library's table) at
 * positions 1e6 .. 1e6+T: the 4U bound holds (the two frequencies differ by ~1e-16 relative, i.e.
 * ~1e-10 rad at 1e6, far below U). A float32 angle (what p*g in float32 gives) is checked to break
 * the same bound by orders of magnitude, so this test can tell the two apart. */
Test(rope_apply, positions_near_1e6_stay_accurate) {
    rl_rng g;
    rl_rng_seed(&g, 18);
    const int d = 128;
    int32_t pos[T];
    for (int t = 0; t < T; t++) pos[t] = 1000000 + 37 * t;
    double freq[64];
    for (int k = 0; k < 64; k++) freq[k] = (double)expl(-2.0L * k / d * logl(10000.0L));
    for (int ki = 0; ki < N_KERNELS; ki++) {
        if (!use_kernel(ki)) continue;
        for (int l = 0; l < 2; l++) {
            char text[64];
            spec_text(text, sizeof text, "rope:theta=10000", "", (rl_layout)l);
            /* no table, then a 4096-row table: positions 1e6 are beyond it either way (a table that
             * reached them would take 512 MB; table rows equal on-the-fly values bit for bit, see
             * table_and_on_the_fly_are_bit_identical) */
            for (int max_pos = 0; max_pos <= 4096; max_pos += 4096) {
                rl_rope r;
                cr_assert(make_rope(&r, text, d, max_pos, 0));
                const size_t n = (size_t)T * H * d;
                float *x = randn(&g, n), *y = copy(x, n);
                rl_rope_forward(&r, y, T, H, pos);
                check_against_reference(&r, freq, x, y, T, H, pos, +1, text);
                free(x), free(y);
                rl_rope_free(&r);
            }
        }
    }
    /* the float32-angle strawman on the same data */
    double worst_ratio = 0;
    for (int t = 0; t < T; t++)
        for (int k = 0; k < 64; k++) {
            float ang32 = (float)pos[t] * (float)freq[k];
            long double ang = (long double)pos[t] * freq[k];
            double err = fabs(cosf(ang32) - (double)cosl(ang)) + fabs(sinf(ang32) - (double)sinl(ang));
            worst_ratio = fmax(worst_ratio, err / (4 * U));
        }
    cr_assert(worst_ratio > 1000, "a float32 angle should miss the bound by far (ratio %g)", worst_ratio);
}

/* cos/sin(p*g) with the angle formed exactly: g = gh + gl with gh = g rounded to 24 bits, so p*gh
 * (31 + 24 bits) and p*gl (31 + 29 bits) are both exact in long double's 64-bit mantissa, and the
 * sum is taken by the angle-addition formula. Error ~1e-19 at any int32 p. */
static void exact_cos_sin(int32_t p, double g, long double *c, long double *s) {
    double gh = (float)g, gl = g - gh;
    long double A = (long double)p * gh, B = (long double)p * gl;
    *c = cosl(A) * cosl(B) - sinl(A) * sinl(B);
    *s = sinl(A) * cosl(B) + cosl(A) * sinl(B);
}

/* Rotating unit vectors (x0, x1) = (1, 0) returns the float32 cos and sin the kernel used, exactly
 * (1*c - 0*s = c in float32). Each must be the float32 rounding of the exact value for the float64
 * frequency: |c32 - c| <= U|c| + 1e-14 (rounding, plus the float64 work's ~1e-15), at positions up
 * to the int32 extremes, from the table and on the fly. A plain float64 angle fl(p*g) would be off by
 * up to 2^-23 rad at 2^31 and fail this. */
Test(rope_apply, cos_sin_are_float32_roundings_of_exact_values) {
    const int32_t pos[] = {0, 1, 63, 64, 65, 4095, 1000000, 123456789, 2147483647, 2147483583, -1, -2147483647 - 1};
    enum { NP = sizeof pos / sizeof pos[0] };
    const char *specs[] = {"rope:theta=10000", "rope:theta=1000000,layout=interleaved", "rope+llama3:factor=8,original=64"};
    for (int ki = 0; ki < N_KERNELS; ki++) {
        if (!use_kernel(ki)) continue;
        for (size_t i = 0; i < RL_ARRAY_LEN(specs); i++)
            for (int max_pos = 0; max_pos <= 5000; max_pos += 5000) {
                const int d = 128;
                rl_rope r;
                cr_assert(make_rope(&r, specs[i], d, max_pos, 0));
                float *x = calloc((size_t)NP * d, sizeof *x);
                for (int t = 0; t < NP; t++)
                    for (int k = 0; k < d / 2; k++) {
                        int i0, i1;
                        pair_dims(r.f.layout, d, d, k, &i0, &i1);
                        x[(size_t)t * d + i0] = 1;
                    }
                rl_rope_forward(&r, x, NP, 1, pos);
                for (int t = 0; t < NP; t++)
                    for (int k = 0; k < d / 2; k++) {
                        int i0, i1;
                        pair_dims(r.f.layout, d, d, k, &i0, &i1);
                        long double c, s;
                        exact_cos_sin(pos[t], r.f.freq[k], &c, &s);
                        float c32 = x[(size_t)t * d + i0], s32 = x[(size_t)t * d + i1];
                        cr_assert(fabsl(c32 - c) <= U * fabsl(c) + 1e-14 && fabsl(s32 - s) <= U * fabsl(s) + 1e-14,
                                  "%s [%s] max_pos %d pos %d chunk %d: (%.9g, %.9g) vs exact (%.12Lg, %.12Lg)", specs[i],
                                  rl_rope_kernel_name(), max_pos, pos[t], k, c32, s32, c, s);
                    }
                free(x);
                rl_rope_free(&r);
            }
    }
}

/* A row of the table and the same position computed on the fly are bit-identical (one function
 * computes both), for every kernel and layout, over several 64-position blocks. */
Test(rope_apply, table_and_on_the_fly_are_bit_identical) {
    rl_rng g;
    rl_rng_seed(&g, 19);
    const int d = 96, n_tok = 300;
    int32_t *pos = malloc(n_tok * sizeof *pos);
    for (int t = 0; t < n_tok; t++) pos[t] = t < 200 ? t : (int32_t)rl_rng_below(&g, 300);
    for (int ki = 0; ki < N_KERNELS; ki++) {
        if (!use_kernel(ki)) continue;
        for (int l = 0; l < 2; l++) {
            char text[128];
            spec_text(text, sizeof text, "prope:p=0.5,theta=10000", "+yarn:factor=4,original=64", (rl_layout)l);
            rl_rope with, without;
            cr_assert(make_rope(&with, text, d, 300, 0));
            cr_assert(make_rope(&without, text, d, 0, 0));
            const size_t n = (size_t)n_tok * 2 * d;
            float *x = randn(&g, n), *a = copy(x, n), *b = copy(x, n);
            rl_rope_forward(&with, a, n_tok, 2, pos);
            rl_rope_forward(&without, b, n_tok, 2, pos);
            cr_assert(memcmp(a, b, n * sizeof *a) == 0, "%s [%s]: table and on-the-fly differ", text,
                      rl_rope_kernel_name());
            free(x), free(a), free(b);
            rl_rope_free(&with);
            rl_rope_free(&without);
        }
    }
    free(pos);
}

/* Results do not depend on the number of OpenMP threads (each token is computed on its own), and
 * pos = NULL means pos[t] = t. 64 tokens x 4 heads x 128 dims is above the threading threshold. */
Test(rope_apply, thread_count_and_null_positions) {
    rl_rng g;
    rl_rng_seed(&g, 20);
    const int n_tok = 64, n_heads = 4, d = 128;
    const size_t n = (size_t)n_tok * n_heads * d;
    int32_t pos[64], far[64];
    for (int t = 0; t < n_tok; t++) pos[t] = t, far[t] = 5000000 + 3 * t;
    rl_rope r;
    cr_assert(make_rope(&r, "rope:theta=10000", d, 32, 0)); /* half the tokens from the table */
    float *x = randn(&g, n), *a = copy(x, n), *b = copy(x, n), *c = copy(x, n);
    omp_set_num_threads(1);
    rl_rope_forward(&r, a, n_tok, n_heads, far);
    omp_set_num_threads(2);
    rl_rope_forward(&r, b, n_tok, n_heads, far);
    cr_assert(memcmp(a, b, n * sizeof *a) == 0, "1 thread and 2 threads differ");
    memcpy(a, x, n * sizeof *a);
    rl_rope_forward(&r, a, n_tok, n_heads, NULL);
    rl_rope_forward(&r, c, n_tok, n_heads, pos);
    cr_assert(memcmp(a, c, n * sizeof *a) == 0, "pos = NULL must mean pos[t] = t");
    memcpy(a, x, n * sizeof *a);
    rl_rope_forward(&r, a, 0, n_heads, NULL); /* empty calls change nothing */
    rl_rope_forward(&r, a, n_tok, 0, NULL);
    cr_assert(memcmp(a, x, n * sizeof *a) == 0);
    free(x), free(a), free(b), free(c);
    rl_rope_free(&r);
}

Test(rope_apply, kernel_selection) {
    cr_assert_eq(rl_rope_kernel_supported("portable"), 1);
    cr_assert_eq(rl_rope_kernel_supported("sse9"), 0);
    cr_assert_eq(rl_rope_set_kernel("sse9"), -1);
    cr_assert(strstr(rl_error(), "'sse9'") != NULL, "%s", rl_error());
    for (int i = 0; i < N_KERNELS; i++) {
        if (rl_rope_kernel_supported(kernel_names[i])) {
            cr_assert_eq(rl_rope_set_kernel(kernel_names[i]), 0);
            cr_assert_str_eq(rl_rope_kernel_name(), kernel_names[i]);
        } else {
            cr_assert_eq(rl_rope_set_kernel(kernel_names[i]), -1);
            cr_assert(strstr(rl_error(), "not supported") != NULL, "%s", rl_error());
        }
    }
    cr_assert_eq(rl_rope_set_kernel(NULL), 0); /* back to automatic: the best supported one */
    const char *best = rl_rope_kernel_supported("avx512") ? "avx512" : rl_rope_kernel_supported("avx2") ? "avx2" : "portable";
    cr_assert_str_eq(rl_rope_kernel_name(), best);
}
