/* softmax streaming statistics: tile-by-tile β equals the full-row β (and a float64 direct entropy) for many
 * tile sizes and adversarial rows; the two-pass tiled attention equals full-row adaptive attention.
 *
 * Tolerances. Entropies are float64 sums of <= 300 terms in a different order: they agree to ~1e-13; we
 * allow 1e-10 (1 + H). β is returned as float32: the tiled and full values may round to neighbouring
 * floats, so 2 ulp (2.4e-7 relative). Attention outputs are float32 averages of O(1) values: 2e-5. */
#include "helpers.h"
#include "ropelab/softmax.h"
#include "ropelab/util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* direct float64 entropy of softmax(z[0..n)), written from the definition -Σ p log p */
static double direct_entropy(const float *z, int n) {
    double m = -INFINITY, s = 0, H = 0;
    for (int j = 0; j < n; j++)
        if (z[j] > m) m = z[j];
    if (m == -INFINITY) return 0;
    for (int j = 0; j < n; j++) s += exp((double)z[j] - m);
    for (int j = 0; j < n; j++) {
        double p = exp((double)z[j] - m) / s;
        if (p > 0) H -= p * log(p);
    }
    return H;
}

enum { NQ = 9, NK = 300 };

/* Adversarial rows: Gaussian at several scales, huge logits (1e4 + noise), huge spread (±3e4), -inf masked
 * entries (isolated, in a run longer than any tile, and leading), all-equal rows (H = log n exactly),
 * all masked, one valid entry. */
static void make_rows(float *z, int *nv) {
    rl_rng r;
    rl_rng_seed(&r, 3);
    for (int i = 0; i < NQ; i++) {
        float *zi = z + (size_t)i * NK;
        nv[i] = NK - 7 * i; /* causal-like prefix lengths */
        for (int j = 0; j < NK; j++) zi[j] = (float)rl_rng_normal(&r);
        switch (i) {
        case 0: break;
        case 1:
            for (int j = 0; j < NK; j++) zi[j] = 1e4f + 2.0f * zi[j];
            break;
        case 2:
            for (int j = 0; j < NK; j++) zi[j] *= 3e4f;
            break;
        case 3:
            for (int j = 0; j < NK; j += 3) zi[j] = -INFINITY;
            for (int j = 100; j < 260; j++) zi[j] = -INFINITY;
            zi[0] = -INFINITY;
            break;
        case 4:
            for (int j = 0; j < NK; j++) zi[j] = 7.25f;
            break;
        case 5:
            for (int j = 0; j < NK; j++) zi[j] = -INFINITY;
            break;
        case 6:
            for (int j = 0; j < NK; j++) zi[j] = -INFINITY;
            zi[nv[i] - 1] = -50.0f;
            break;
        case 7:
            for (int j = 0; j < NK; j++) zi[j] *= 0.4f; /* entropy inside the beta > 1 band */
            break;
        default:
            for (int j = 0; j < NK; j++) zi[j] *= 2.5f;
            break;
        }
    }
}

Test(softmax_stream, tiled_beta_equals_full_row) {
    float *z = malloc(sizeof(float) * NQ * NK), beta[NQ], q[NK];
    int nv[NQ];
    make_rows(z, nv);
    int tiles[] = {1, 2, 3, 5, 7, 16, 31, 64, 100, 128, 299, 300, 1000};
    int n_active = 0;
    for (int i = 0; i < NQ; i++) {
        rl_adaptive_row st;
        rl_adaptive_row_forward(q, &st, z + (size_t)i * NK, nv[i], NK);
        double H = direct_entropy(z + (size_t)i * NK, nv[i]);
        cr_assert(fabs(st.H - H) <= 1e-10 * (1 + H), "row %d: H %.17g vs direct %.17g", i, st.H, H);
        if (st.beta > 1) n_active++;
        if (i == 4) cr_assert(fabs(st.H - log(nv[i])) < 1e-12, "all-equal row: H must be log n");
        if (i == 5) cr_assert(st.H == 0 && st.beta == 1);
        if (i == 6) cr_assert(st.H == 0 && st.beta == 1);
        for (size_t t = 0; t < RL_ARRAY_LEN(tiles); t++) {
            rl_adaptive_beta_tiled(beta, z, nv, NQ, NK, tiles[t]);
            cr_assert(fabs(beta[i] - st.beta) <= 2.4e-7 * st.beta, "row %d tile %d: beta %.9g vs full %.9g", i,
                      tiles[t], (double)beta[i], st.beta);
        }
    }
    cr_assert(n_active >= 2, "some rows must have beta > 1 (got %d)", n_active);
    free(z);
}

Test(softmax_stream, merge_is_order_independent) {
    float *z = malloc(sizeof(float) * NQ * NK);
    int nv[NQ];
    make_rows(z, nv);
    for (int i = 0; i < NQ; i++) {
        const float *zi = z + (size_t)i * NK;
        rl_smstat seq, tree[8], rev;
        rl_smstat_init(&seq);
        rl_smstat_update(&seq, zi, nv[i]);
        /* 8 chunks merged pairwise as a tree, and merged in reverse order */
        int chunk = (nv[i] + 7) / 8;
        for (int c = 0; c < 8; c++) {
            rl_smstat_init(&tree[c]);
            int lo = c * chunk, hi = RL_MIN(nv[i], lo + chunk);
            if (lo < hi) rl_smstat_update(&tree[c], zi + lo, hi - lo);
        }
        rl_smstat_init(&rev);
        for (int c = 7; c >= 0; c--) rl_smstat_merge(&rev, &tree[c]);
        for (int w = 1; w < 8; w *= 2)
            for (int c = 0; c + w < 8; c += 2 * w) rl_smstat_merge(&tree[c], &tree[c + w]);
        double H = rl_smstat_entropy(&seq);
        cr_assert(fabs(rl_smstat_entropy(&tree[0]) - H) <= 1e-10 * (1 + H), "row %d tree", i);
        cr_assert(fabs(rl_smstat_entropy(&rev) - H) <= 1e-10 * (1 + H), "row %d reverse", i);
        double lse = rl_smstat_lse(&seq);
        if (isfinite(lse)) cr_assert(fabs(rl_smstat_lse(&rev) - lse) <= 1e-12 * (1 + fabs(lse)));
        else cr_assert(rl_smstat_lse(&rev) == -INFINITY);
    }
    free(z);
}

Test(softmax_stream, tiled_attention_equals_full_row_attention) {
    enum { DV = 5 };
    float *z = malloc(sizeof(float) * NQ * NK), *v = malloc(sizeof(float) * NK * DV), out[NQ * DV], q[NK];
    float bt[NQ];
    int nv[NQ];
    make_rows(z, nv);
    rl_rng r;
    rl_rng_seed(&r, 8);
    for (int j = 0; j < NK * DV; j++) v[j] = (float)rl_rng_normal(&r);
    int tiles[] = {1, 7, 64, 300};
    for (int adaptive = 0; adaptive < 2; adaptive++)
        for (size_t t = 0; t < RL_ARRAY_LEN(tiles); t++) {
            rl_adaptive_attention_tiled_ref(out, bt, z, v, nv, NQ, NK, DV, tiles[t], adaptive);
            for (int i = 0; i < NQ; i++) {
                rl_adaptive_row st;
                if (adaptive) rl_adaptive_row_forward(q, &st, z + (size_t)i * NK, nv[i], NK);
                else rl_softmax_row_forward(q, z + (size_t)i * NK, nv[i], NK);
                for (int d = 0; d < DV; d++) {
                    double ref = 0;
                    for (int j = 0; j < nv[i]; j++) ref += (double)q[j] * v[(size_t)j * DV + d];
                    cr_assert(fabs(out[i * DV + d] - ref) <= 2e-5 * (1 + fabs(ref)),
                              "adaptive %d tile %d row %d: %g vs %g", adaptive, tiles[t], i, out[i * DV + d], ref);
                }
                if (adaptive) cr_assert(fabs(bt[i] - st.beta) <= 2.4e-7 * st.beta);
                else cr_assert_eq(bt[i], 1.0f);
            }
        }
    free(z);
    free(v);
}
