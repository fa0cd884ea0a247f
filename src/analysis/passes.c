/* The analyser's forward passes over every window: the measuring pass (captures, probabilities,
 * loss), the model-wide band ablations, and the per-head knock-outs. */
#include "internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Layers captured per pass so that the q/k/v captures fit in capture_bytes. */
static int capture_group(const an_ctx *x) {
    const size_t per = (size_t)x->maxn * (x->d.H + 2 * x->d.KV) * x->d.hd * sizeof(float);
    size_t g = per ? x->o.capture_bytes / per : 1;
    if (g < 1) g = 1;
    return (int)RL_MIN(g, (size_t)x->d.L);
}

int an_n_bands(const an_ctx *x) {
    int most = 0, *order = malloc((size_t)x->d.C * sizeof *order);
    if (!order) return 0;
    for (int l = 0; l < x->d.L; l++) most = RL_MAX(most, rl_analysis_rotated_order(x->freq + (size_t)l * x->d.C, x->d.C, order));
    free(order);
    return RL_MIN(x->o.n_bands, most);
}

static int any_unrotated(const an_ctx *x) {
    for (size_t i = 0; i < (size_t)x->d.L * x->d.C; i++)
        if (!(x->freq[i] > 0)) return 1;
    return 0;
}

static int any_rotated(const an_ctx *x) {
    for (size_t i = 0; i < (size_t)x->d.L * x->d.C; i++)
        if (x->freq[i] > 0) return 1;
    return 0;
}

/* The ablations of this run, in order: for each mode, high, low, band 0 .. B-1; then
 * zero:unrotated when some chunk is never rotated. Returns the count; fills list when non-NULL. */
static int ablation_list(const an_ctx *x, rl_analysis_ablation *list) {
    if (!x->o.ablations) return 0;
    int n = 0;
    const int B = an_n_bands(x);
    if (any_rotated(x))
        for (int mode = 0; mode < 2; mode++)
            for (int b = -2; b < B; b++) {
                int band = b == -2 ? RL_BAND_HIGH : b == -1 ? RL_BAND_LOW : b;
                if (list) {
                    rl_analysis_ablation *a = &list[n];
                    memset(a, 0, sizeof *a);
                    a->mode = mode;
                    a->band = band;
                    if (band >= 0)
                        snprintf(a->name, sizeof a->name, "%s:band%d", mode ? "norotate" : "zero", band);
                    else
                        snprintf(a->name, sizeof a->name, "%s:%s", mode ? "norotate" : "zero",
                                 band == RL_BAND_HIGH ? "high" : "low");
                }
                n++;
            }
    if (any_unrotated(x)) {
        if (list) {
            rl_analysis_ablation *a = &list[n];
            memset(a, 0, sizeof *a);
            a->mode = RL_ABLATE_ZERO;
            a->band = RL_BAND_UNROTATED;
            snprintf(a->name, sizeof a->name, "zero:unrotated");
        }
        n++;
    }
    return n;
}

/* The plain pass (base loss for the ablations and knock-outs) runs when either does. */
static int plain_pass_needed(const an_ctx *x) { return x->o.ablations || x->o.knockouts; }

int64_t an_count_passes(const an_ctx *x, int n_knockout_heads) {
    int G = capture_group(x);
    return (x->d.L + G - 1) / G + plain_pass_needed(x) + ablation_list(x, NULL) + 2 * (int64_t)n_knockout_heads;
}

static void progress_step(an_ctx *x, const char *what) {
    x->prog_done++;
    if (x->o.progress) rl_progress_update(&x->prog, x->prog_done, what);
}

static int window_fail(const an_ctx *x, int w, const char *pass) {
    const rl_analysis_text *t = &x->texts[x->win[w].text];
    return rl_fail_prefix("%s, window %d (%s pass)", t->name ? t->name : "text", w, pass);
}

static double window_loss(const float *losses, const int32_t *tgt, int n) {
    double s = 0;
    for (int i = 0; i < n; i++)
        if (tgt[i] >= 0) s += losses[i];
    return s;
}

/* ---- the measuring pass -------------------------------------------------------------------- */

int an_base_pass(an_ctx *x) {
    const an_dims *d = &x->d;
    const int L = d->L, G = capture_group(x);
    const size_t nq = (size_t)x->maxn * d->H * d->hd, nk = (size_t)x->maxn * d->KV * d->hd;
    int rc = -1;
    float *cap = malloc((size_t)G * (nq + 2 * nk) * sizeof *cap);
    float *row3 = malloc((size_t)L * d->H * x->maxn * 3 * sizeof *row3);
    float *losses = malloc((size_t)x->maxn * sizeof *losses);
    float **qs = calloc((size_t)3 * L, sizeof *qs);
    uint8_t *all = malloc((size_t)L);
    if (!cap || !row3 || !losses || !qs || !all) {
        rl_fail("out of memory (captures of %d layers x %d tokens)", G, x->maxn);
        goto done;
    }
    float **ks = qs + L, **vs = qs + 2 * L;
    memset(all, 1, (size_t)L);
    an_probs pr = {d->H, x->maxn, x->P, -1, -1, row3, NULL};
    for (int w = 0; w < x->n_win; w++) {
        const an_window *win = &x->win[w];
        for (int g0 = 0; g0 < L; g0 += G) {
            memset(qs, 0, (size_t)3 * L * sizeof *qs);
            for (int l = g0; l < RL_MIN(L, g0 + G); l++) {
                float *base = cap + (size_t)(l - g0) * (nq + 2 * nk);
                qs[l] = base;
                ks[l] = base + nq;
                vs[l] = base + nq + nk;
            }
            rl_infer_hooks hk = {0};
            hk.q = qs;
            hk.k = ks;
            hk.v = vs;
            /* probabilities in every pass (kept from the first): every layer then runs the same
             * attention kernel in every pass, so the captures do not depend on the grouping */
            pr.pat = w == 0 && g0 == 0 ? x->pat : NULL;
            hk.probs_layers = all;
            hk.probs_fn = an_probs_fn;
            hk.probs_ctx = &pr;
            if (rl_model_infer(x->m, win->tok, win->tgt, win->n, g0 == 0 ? losses : NULL, NULL, &hk) != 0) {
                window_fail(x, w, "measuring");
                goto done;
            }
            if (g0 == 0) {
                x->loss_sum += window_loss(losses, win->tgt, win->n);
                an_add_scores(x, row3, win->n);
            }
            for (int l = g0; l < RL_MIN(L, g0 + G); l++)
                if (an_measure_layer(x, w, l, qs[l], ks[l], vs[l]) != 0) goto done;
            progress_step(x, "measuring");
        }
    }
    rc = 0;
done:
    free(cap), free(row3), free(losses), free(qs), free(all);
    return rc;
}

/* ---- ablations ------------------------------------------------------------------------------ */

/* The base loss of the ablations: a forward without hooks, so that it runs the same attention
 * kernels as the ablation passes and each loss change is an exact difference of two forwards (the
 * measuring pass materialises probabilities with the row kernel, whose float32 rounding differs
 * by ~1e-7). */
int an_plain_pass(an_ctx *x) {
    if (!plain_pass_needed(x)) return 0;
    float *losses = malloc((size_t)x->maxn * sizeof *losses);
    if (!losses) return rl_fail("out of memory");
    double sum = 0;
    for (int w = 0; w < x->n_win; w++) {
        const an_window *win = &x->win[w];
        if (rl_model_infer(x->m, win->tok, win->tgt, win->n, losses, NULL, NULL) != 0) {
            free(losses);
            return window_fail(x, w, "base loss");
        }
        sum += window_loss(losses, win->tgt, win->n);
        progress_step(x, "base loss");
    }
    free(losses);
    x->s->loss = x->n_targets ? sum / (double)x->n_targets : NAN;
    return 0;
}

int an_ablation_passes(an_ctx *x) {
    rl_analysis_summary *s = x->s;
    const an_dims *d = &x->d;
    const int L = d->L, H = d->H, C = d->C;
    s->n_bands = an_n_bands(x);
    s->n_ablations = ablation_list(x, NULL);
    if (s->n_ablations == 0) return 0;
    s->ablations = rl_calloc((size_t)s->n_ablations, sizeof *s->ablations, "ablations");
    if (!s->ablations) return -1;
    ablation_list(x, s->ablations);
    int rc = -1;
    uint8_t *keep = malloc((size_t)L * H * C), *band = malloc((size_t)L * C);
    double *freq = malloc((size_t)L * C * sizeof *freq);
    float *losses = malloc((size_t)x->maxn * sizeof *losses);
    const void **ptrs = calloc((size_t)2 * L, sizeof *ptrs);
    if (!keep || !band || !freq || !losses || !ptrs) {
        rl_fail("out of memory (ablation masks)");
        goto done;
    }
    const uint8_t **keeps = (const uint8_t **)ptrs;
    const double **freqs = (const double **)(ptrs + L);
    for (int ai = 0; ai < s->n_ablations; ai++) {
        rl_analysis_ablation *a = &s->ablations[ai];
        int nonempty = 0;
        for (int l = 0; l < L; l++) {
            int k = rl_analysis_band_mask(x->freq + (size_t)l * C, C, a->band, s->n_bands, x->o.edge_fraction,
                                          band + (size_t)l * C);
            keeps[l] = NULL;
            freqs[l] = NULL;
            if (k == 0) continue;
            nonempty = 1;
            if (a->mode == RL_ABLATE_ZERO) {
                for (int h = 0; h < H; h++) memcpy(keep + ((size_t)l * H + h) * C, band + (size_t)l * C, (size_t)C);
                keeps[l] = keep + (size_t)l * H * C;
            } else {
                freqs[l] = freq + (size_t)l * C;
            }
        }
        double sum = 0;
        for (int w = 0; w < x->n_win; w++) {
            const an_window *win = &x->win[w];
            rl_infer_hooks hk = {0};
            if (a->mode == RL_ABLATE_ZERO) {
                hk.qk_keep = keeps;
            } else {
                for (int l = 0; l < L; l++) {
                    if (!freqs[l]) continue;
                    double *fl = freq + (size_t)l * C;
                    if (an_layer_freqs(x, l, win->n, fl, NULL) != 0) goto done;
                    for (int c = 0; c < C; c++)
                        if (!band[(size_t)l * C + c]) fl[c] = 0;
                }
                hk.freq = freqs;
            }
            if (rl_model_infer(x->m, win->tok, win->tgt, win->n, losses, NULL, nonempty ? &hk : NULL) != 0) {
                window_fail(x, w, a->name);
                goto done;
            }
            sum += window_loss(losses, win->tgt, win->n);
            progress_step(x, a->name);
        }
        a->loss = x->n_targets ? sum / (double)x->n_targets : NAN;
        a->dloss = a->loss - s->loss;
    }
    rc = 0;
done:
    free(keep), free(band), free(freq), free(losses), free(ptrs);
    return rc;
}

/* ---- knock-outs ---------------------------------------------------------------------------- */

int an_knockout_passes(an_ctx *x) {
    rl_analysis_summary *s = x->s;
    const an_dims *d = &x->d;
    const int L = d->L, H = d->H, C = d->C, P = x->P;
    for (int r = 0; r < s->n_roles; r++) {
        rl_analysis_head *hd = &s->roles[r];
        hd->ko_high_score = hd->ko_high_dloss = hd->ko_low_score = hd->ko_low_dloss = NAN;
    }
    const int nko = x->o.knockouts ? RL_MIN(s->n_roles, x->o.max_knockout_heads) : 0;
    if (nko == 0) return 0;
    int rc = -1;
    uint8_t *keep = malloc((size_t)H * C), *want = calloc((size_t)L, 1);
    float *row3 = malloc((size_t)x->maxn * 3 * sizeof *row3), *losses = malloc((size_t)x->maxn * sizeof *losses);
    const uint8_t **keeps = calloc((size_t)L, sizeof *keeps);
    x->ko_pat = calloc((size_t)nko * P * P, sizeof *x->ko_pat);
    if (!keep || !want || !row3 || !losses || !keeps || !x->ko_pat) {
        rl_fail("out of memory (knock-outs)");
        goto done;
    }
    for (int r = 0; r < nko; r++) {
        rl_analysis_head *hd = &s->roles[r];
        const int l = hd->layer;
        for (int which = 0; which < 2; which++) {
            const int band = which == 0 ? RL_BAND_HIGH : RL_BAND_LOW;
            memset(keep, 1, (size_t)H * C);
            int k = rl_analysis_band_mask(x->freq + (size_t)l * C, C, band, 1, x->o.edge_fraction,
                                          keep + (size_t)hd->head * C);
            if (k == 0) { /* a layer without rotated chunks: nothing to knock out */
                for (int w = 0; w < x->n_win; w++) progress_step(x, "knock-out");
                continue;
            }
            memset(keeps, 0, (size_t)L * sizeof *keeps);
            keeps[l] = keep;
            memset(want, 0, (size_t)L);
            want[l] = 1;
            an_probs pr = {H, x->maxn, P, l, hd->head, row3, NULL};
            double lsum = 0, ssum = 0;
            int64_t scnt = 0;
            for (int w = 0; w < x->n_win; w++) {
                const an_window *win = &x->win[w];
                pr.pat = w == 0 && which == 0 ? x->ko_pat + (size_t)r * P * P : NULL;
                rl_infer_hooks hk = {0};
                hk.qk_keep = keeps;
                hk.probs_layers = want;
                hk.probs_fn = an_probs_fn;
                hk.probs_ctx = &pr;
                if (rl_model_infer(x->m, win->tok, win->tgt, win->n, losses, NULL, &hk) != 0) {
                    window_fail(x, w, "knock-out");
                    goto done;
                }
                lsum += window_loss(losses, win->tgt, win->n);
                an_score_rows(row3, win->n, hd->role, &ssum, &scnt);
                progress_step(x, "knock-out");
            }
            double score = scnt ? ssum / (double)scnt : NAN, dl = lsum / (double)x->n_targets - s->loss;
            if (which == 0) {
                hd->ko_high_score = score;
                hd->ko_high_dloss = dl;
            } else {
                hd->ko_low_score = score;
                hd->ko_low_dloss = dl;
            }
        }
    }
    rc = 0;
done:
    free(keep), free(want), free(row3), free(losses), free(keeps);
    return rc;
}
