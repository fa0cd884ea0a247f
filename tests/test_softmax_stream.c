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

/* The form the model's tiled attention uses: ONE state per row updated tile after tile (the running max
 * grows between tiles, so the rebase path runs), against the direct float64 entropy, log-sum-exp and mean
 * logit. Same tolerances as above (float64 sums in another order). */
Test(softmax_stream, sequential_tiles_equal_direct_statistics) {
    float *z = malloc(sizeof(float) * NQ * NK);
    int nv[NQ];
    make_rows(z, nv);
    int tiles[] = {1, 3, 7, 64, 256, 1000};
    for (int i = 0; i < NQ; i++) {
        const float *zi = z + (size_t)i * NK;
        double H = direct_entropy(zi, nv[i]), m = -INFINITY, s = 0, mean = 0;
        for (int j = 0; j < nv[i]; j++) m = fmax(m, zi[j]);
        if (m > -INFINITY) {
            for (int j = 0; j < nv[i]; j++) s += exp((double)zi[j] - m);
            for (int j = 0; j < nv[i]; j++)
                if (zi[j] > -INFINITY) mean += exp((double)zi[j] - m) / s * zi[j];
        }
        for (size_t t = 0; t < RL_ARRAY_LEN(tiles); t++) {
            rl_smstat st;
            rl_smstat_init(&st);
            for (int j0 = 0; j0 < nv[i]; j0 += tiles[t]) rl_smstat_update(&st, zi + j0, RL_MIN(tiles[t], nv[i] - j0));
            cr_assert(fabs(rl_smstat_entropy(&st) - H) <= 1e-10 * (1 + H), "row %d tile %d: H %.17g vs %.17g", i,
                      tiles[t], rl_smstat_entropy(&st), H);
            if (m > -INFINITY) {
                double lse = m + log(s);
                cr_assert(fabs(rl_smstat_lse(&st) - lse) <= 1e-12 * (1 + fabs(lse)), "row %d tile %d: lse", i, tiles[t]);
                cr_assert(fabs(rl_smstat_mean(&st) - mean) <= 1e-10 * (1 + fabs(m)), "row %d tile %d: mean %.17g vs %.17g",
                          i, tiles[t], rl_smstat_mean(&st), mean);
            } else {
                cr_assert(rl_smstat_lse(&st) == -INFINITY && rl_smstat_mean(&st) == 0);
            }
        }
    }
    free(z);
}

/* The single-precision update (what the model's attention kernels fold with) against the float64 one on
 * the adversarial rows, at several tile sizes. Each term e^(z-m) is within 2 ulp (2.4e-7 relative) and the
 * sums are float64, so log S0 and S1/S0 carry ~2.4e-7 relative error: we allow 2e-6 (1 + H) on H,
 * 2e-6 (1 + |lse|) on log Σe^z and 2e-6 (1 + |m| + spread) on the mean logit; the empty and masked rows
 * must come out exactly as from the float64 update (measured worst: 3e-9, the per-term errors average
 * out). A wrong rebase or a NaN from a masked entry (-inf * 0) is off by O(1) or NaN. */
Test(softmax_stream, f32_update_matches_float64_update) {
    float *z = malloc(sizeof(float) * NQ * NK);
    int nv[NQ];
    make_rows(z, nv);
    int tiles[] = {1, 5, 64, 256, 1000};
    for (int i = 0; i < NQ; i++) {
        const float *zi = z + (size_t)i * NK;
        rl_smstat ref;
        rl_smstat_init(&ref);
        rl_smstat_update(&ref, zi, nv[i]);
        double H = rl_smstat_entropy(&ref), lse = rl_smstat_lse(&ref), mean = rl_smstat_mean(&ref);
        for (size_t t = 0; t < RL_ARRAY_LEN(tiles); t++) {
            rl_smstat st;
            rl_smstat_init(&st);
            for (int j0 = 0; j0 < nv[i]; j0 += tiles[t])
                rl_smstat_update_f32(&st, zi + j0, RL_MIN(tiles[t], nv[i] - j0));
            double h = rl_smstat_entropy(&st);
            cr_assert(fabs(h - H) <= 2e-6 * (1 + H), "row %d tile %d: H %.10g vs float64 %.10g", i, tiles[t], h, H);
            cr_assert(rl_smstat_beta(&st) == rl_adaptive_beta(h, NULL));
            if (isfinite(lse)) {
                cr_assert(fabs(rl_smstat_lse(&st) - lse) <= 2e-6 * (1 + fabs(lse)), "row %d tile %d: lse", i, tiles[t]);
                double spread = fabs(mean - ref.m);
                cr_assert(fabs(rl_smstat_mean(&st) - mean) <= 2e-6 * (1 + fabs(ref.m) + spread),
                          "row %d tile %d: mean %.10g vs %.10g", i, tiles[t], rl_smstat_mean(&st), mean);
            } else {
                cr_assert(rl_smstat_lse(&st) == -INFINITY && h == 0 && rl_smstat_mean(&st) == 0, "row %d", i);
            }
        }
    }
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

/* The tiled backward equals the full-row backward (dz through rl_*_row_backward with dq_j = dout·v_j, and
 * dv_j = Σ_i q_ij dout_i), for plain attention and both adaptive modes, on the adversarial rows.
 * Tolerance 2e-5 (1 + |ref|): float32 results of float64 sums, as for the forward. */
Test(softmax_stream, tiled_backward_equals_full_row_backward) {
    enum { DV = 4 };
    float *z = malloc(sizeof(float) * NQ * NK), *v = malloc(sizeof(float) * NK * DV), out[NQ * DV], dout[NQ * DV];
    float *dz = malloc(sizeof(float) * NQ * NK), *dzr = malloc(sizeof(float) * NQ * NK);
    float *dv = malloc(sizeof(float) * NK * DV), *dvr = malloc(sizeof(float) * NK * DV), q[NK], dq[NK];
    int nv[NQ];
    make_rows(z, nv);
    for (int j = 0; j < NK; j++) /* tame the huge rows so the gradients are O(1) and comparable */
        for (int i = 0; i < NQ; i++)
            if (isfinite(z[i * NK + j]) && (i == 1 || i == 2)) z[i * NK + j] = i == 1 ? z[i * NK + j] - 1e4f : z[i * NK + j] * 1e-4f;
    rl_rng r;
    rl_rng_seed(&r, 12);
    for (int j = 0; j < NK * DV; j++) v[j] = (float)rl_rng_normal(&r);
    for (int j = 0; j < NQ * DV; j++) dout[j] = (float)rl_rng_normal(&r);
    int cases[3][2] = {{0, RL_BETA_THROUGH}, {1, RL_BETA_THROUGH}, {1, RL_BETA_CONST}};
    for (int cs = 0; cs < 3; cs++) {
        int adaptive = cases[cs][0];
        rl_beta_grad mode = (rl_beta_grad)cases[cs][1];
        rl_adaptive_attention_tiled_ref(out, NULL, z, v, nv, NQ, NK, DV, 64, adaptive);
        memset(dzr, 0, sizeof(float) * NQ * NK);
        memset(dvr, 0, sizeof(float) * NK * DV);
        for (int i = 0; i < NQ; i++) {
            rl_adaptive_row st;
            const float *zi = z + (size_t)i * NK;
            if (adaptive) rl_adaptive_row_forward(q, &st, zi, nv[i], NK);
            else rl_softmax_row_forward(q, zi, nv[i], NK);
            for (int j = 0; j < nv[i]; j++) {
                double s = 0;
                for (int d = 0; d < DV; d++) s += (double)dout[i * DV + d] * v[j * DV + d];
                dq[j] = (float)s;
                for (int d = 0; d < DV; d++) dvr[j * DV + d] += q[j] * dout[i * DV + d];
            }
            if (adaptive) rl_adaptive_row_backward(dzr + (size_t)i * NK, dq, q, zi, &st, mode, nv[i]);
            else rl_softmax_row_backward(dzr + (size_t)i * NK, dq, q, nv[i]);
        }
        int tiles[] = {1, 7, 64, 300};
        for (size_t t = 0; t < RL_ARRAY_LEN(tiles); t++) {
            memset(dz, 0, sizeof(float) * NQ * NK);
            memset(dv, 0, sizeof(float) * NK * DV);
            rl_adaptive_attention_tiled_backward_ref(dz, dv, z, v, out, dout, nv, NQ, NK, DV, tiles[t], adaptive, mode);
            for (int k = 0; k < NQ * NK; k++)
                cr_assert(fabs(dz[k] - dzr[k]) <= 2e-5 * (1 + fabs(dzr[k])), "case %d tile %d dz[%d]: %g vs %g", cs,
                          tiles[t], k, (double)dz[k], (double)dzr[k]);
            for (int k = 0; k < NK * DV; k++)
                cr_assert(fabs(dv[k] - dvr[k]) <= 2e-5 * (1 + fabs(dvr[k])), "case %d tile %d dv[%d]", cs, tiles[t], k);
        }
        if (cs == 2) { /* the through-beta term must matter: its result differs from this constant-beta one */
            double diff = 0;
            memset(dz, 0, sizeof(float) * NQ * NK);
            rl_adaptive_attention_tiled_backward_ref(dz, dv, z, v, out, dout, nv, NQ, NK, DV, 7, 1, RL_BETA_THROUGH);
            for (int k = 0; k < NQ * NK; k++) diff = fmax(diff, fabs(dz[k] - dzr[k]));
            cr_assert(diff > 1e-3, "through-beta and constant-beta backward differ by only %g", diff);
        }
    }
    free(z), free(v), free(dz), free(dzr), free(dv), free(dvr);
}
