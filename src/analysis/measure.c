/* The analyser's measurements on one window: frequency usage from the captured q/k/v, the
 * per-chunk decomposition of each head's logit margins and the per-token logit tables (float64
 * rotations with the model's own frequency table), and the attention-pattern scores. */
#include "internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int an_layer_freqs(const an_ctx *x, int l, int n, double *freq, double *af) {
    rl_rope_freqs f;
    if (rl_rope_freqs_init(&f, &x->m->cfg.pe[l], x->d.hd, n) != 0) return rl_fail_prefix("layer %d", l);
    for (int c = 0; c < x->d.C; c++) {
        freq[c] = f.freq[c];
        if (af) af[c] = c >= f.chunk_lo && c < f.chunk_hi ? f.attn_factor : 1.0;
    }
    rl_rope_freqs_free(&f);
    return 0;
}

/* The two dims of every chunk of layer l. i0, i1: [C]. */
static int layer_dims(const an_ctx *x, int l, int *i0, int *i1) {
    rl_rope_freqs f;
    if (rl_rope_freqs_init(&f, &x->m->cfg.pe[l], x->d.hd, 0) != 0) return rl_fail_prefix("layer %d", l);
    for (int c = 0; c < x->d.C; c++) rl_rope_chunk_dims(&f, c, &i0[c], &i1[c]);
    rl_rope_freqs_free(&f);
    return 0;
}

/* ---- attention patterns ------------------------------------------------------------------- */

void an_probs_fn(void *ctx, int layer, int head, int row, const float *p, int n) {
    an_probs *pr = ctx;
    float *r3, *pat = NULL;
    if (pr->only_layer >= 0) {
        if (layer != pr->only_layer || head != pr->only_head) return;
        r3 = pr->row3 + (size_t)row * 3;
        if (pr->pat) pat = pr->pat;
    } else {
        const size_t hh = (size_t)layer * pr->H + head;
        r3 = pr->row3 + (hh * pr->maxn + row) * 3;
        if (pr->pat) pat = pr->pat + hh * pr->P * pr->P;
    }
    r3[0] = p[row];
    r3[1] = row >= 1 ? p[row - 1] : 0.0f;
    r3[2] = p[0];
    if (pat && row < pr->P) {
        float *dst = pat + (size_t)row * pr->P;
        int k = RL_MIN(n, pr->P);
        memcpy(dst, p, (size_t)k * sizeof *p);
        for (int j = k; j < pr->P; j++) dst[j] = 0.0f;
    }
}

/* Rows that count for a pattern: the diagonal from row 1 (row 0 has only itself), the previous
 * token and the first token from row 2 (in row 1 they are the same key). */
static inline int first_row(int pattern) { return pattern == RL_ROLE_DIAGONAL ? 1 : 2; }

void an_score_rows(const float *row3, int n, int pattern, double *sum, int64_t *cnt) {
    double s = 0;
    int64_t k = 0;
    for (int i = first_row(pattern); i < n; i++, k++) s += row3[(size_t)i * 3 + pattern];
    *sum += s;
    *cnt += k;
}

void an_add_scores(an_ctx *x, const float *row3, int n) {
    const an_dims *d = &x->d;
    for (int l = 0; l < d->L; l++)
        for (int h = 0; h < d->H; h++) {
            const size_t hh = (size_t)l * d->H + h;
            for (int p = 0; p < AN_NPAT; p++)
                an_score_rows(row3 + hh * x->maxn * 3, n, p, &x->score_sum[hh * AN_NPAT + p],
                              &x->score_cnt[hh * AN_NPAT + p]);
        }
}

/* ---- one layer of one window ---------------------------------------------------------------- */

/* Rotates one head vector src [hd] at position pos into dst [hd] (float64). */
static void rotate(double *dst, const float *src, int pos, const double *freq, const double *af, const int *i0,
                   const int *i1, int C) {
    for (int c = 0; c < C; c++) {
        double a = src[i0[c]], b = src[i1[c]], ang = (double)pos * freq[c];
        double cs = freq[c] != 0 ? cos(ang) : 1.0, sn = freq[c] != 0 ? sin(ang) : 0.0;
        dst[i0[c]] = af[c] * (a * cs - b * sn);
        dst[i1[c]] = af[c] * (a * sn + b * cs);
    }
}

static double dot(const double *a, const double *b, int n) {
    double s = 0;
    for (int i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

int an_measure_layer(an_ctx *x, int w, int l, const float *q, const float *k, const float *v) {
    const an_dims *d = &x->d;
    const int n = x->win[w].n, C = d->C, hd = d->hd, H = d->H, KV = d->KV;
    const rl_model_config *cfg = &x->m->cfg;
    const int window = cfg->sliding[l] ? cfg->sliding_window : 0;
    const double s = d->scale;
    double *freq = malloc((size_t)C * 2 * sizeof *freq);
    int *i0 = malloc((size_t)C * 2 * sizeof *i0);
    if (!freq || !i0) {
        free(freq);
        free(i0);
        return rl_fail("out of memory (layer tables)");
    }
    double *af = freq + C;
    int *i1 = i0 + C;
    if (an_layer_freqs(x, l, n, freq, af) != 0 || layer_dims(x, l, i0, i1) != 0) {
        free(freq);
        free(i0);
        return -1;
    }

    /* 1. frequency usage: the 2-norm of every chunk of every head, summed over the window's tokens
     * (one task per head and kind; each sums its tokens in order, so the result is deterministic) */
#pragma omp parallel for schedule(dynamic, 1)
    for (int task = 0; task < H + 2 * KV; task++) {
        const float *src;
        int nh, h;
        double *acc;
        if (task < H) {
            src = q, nh = H, h = task, acc = x->sum_q + ((size_t)l * H + h) * C;
        } else if (task < H + KV) {
            src = k, nh = KV, h = task - H, acc = x->sum_k + ((size_t)l * KV + h) * C;
        } else {
            src = v, nh = KV, h = task - H - KV, acc = x->sum_v + ((size_t)l * KV + h) * C;
        }
        for (int c = 0; c < C; c++) {
            double sum = 0;
            for (int t = 0; t < n; t++) {
                const float *row = src + ((size_t)t * nh + h) * hd;
                double a = row[i0[c]], b = row[i1[c]];
                sum += sqrt(a * a + b * b);
            }
            acc[c] += sum;
        }
    }

    /* 2. margins and logit tables, one task per kv head (its query heads share the rotated keys) */
    int fail = 0;
#pragma omp parallel for schedule(dynamic, 1) reduction(| : fail)
    for (int g = 0; g < KV; g++) {
        double *Kt = malloc(((size_t)2 * n + 1) * hd * sizeof *Kt), *qt = malloc((size_t)hd * (AN_NPAT + 1) * sizeof *qt);
        double *msum = malloc((size_t)AN_NPAT * C * sizeof *msum);
        if (!Kt || !qt || !msum) {
            free(Kt), free(qt), free(msum);
            fail = 1;
            continue;
        }
        double *Ps = Kt + (size_t)n * hd; /* [n+1][hd] prefix sums of the rotated keys */
        for (int t = 0; t < n; t++) rotate(Kt + (size_t)t * hd, k + ((size_t)t * KV + g) * hd, t, freq, af, i0, i1, C);
        memset(Ps, 0, (size_t)hd * sizeof *Ps);
        for (int t = 0; t < n; t++)
            for (int i = 0; i < hd; i++) Ps[(size_t)(t + 1) * hd + i] = Ps[(size_t)t * hd + i] + Kt[(size_t)t * hd + i];
        for (int h = g * d->rep; h < (g + 1) * d->rep; h++) {
            const size_t hh = (size_t)l * H + h;
            int64_t mcnt[AN_NPAT] = {0};
            memset(msum, 0, (size_t)AN_NPAT * C * sizeof *msum);
            for (int i = 0; i < n; i++) {
                rotate(qt, q + ((size_t)i * H + h) * hd, i, freq, af, i0, i1, C);
                const int lo = window > 0 && i - window + 1 > 0 ? i - window + 1 : 0, nvis = i - lo + 1;
                const double *Si = Ps + (size_t)(i + 1) * hd, *Slo = Ps + (size_t)lo * hd;
                for (int p = 0; p < AN_NPAT; p++) {
                    const int js = p == RL_ROLE_DIAGONAL ? i : p == RL_ROLE_PREVIOUS ? i - 1 : 0;
                    if (i < first_row(p) || js < lo || nvis < 2) continue;
                    const double *kj = Kt + (size_t)js * hd;
                    double *ms = msum + (size_t)p * C;
                    for (int c = 0; c < C; c++) {
                        const int a = i0[c], b = i1[c];
                        double tgt = s * (qt[a] * kj[a] + qt[b] * kj[b]);
                        double all = s * (qt[a] * (Si[a] - Slo[a]) + qt[b] * (Si[b] - Slo[b]));
                        ms[c] += tgt - (all - tgt) / (nvis - 1);
                    }
                    mcnt[p]++;
                }
                if (w == 0 && i < x->T) {
                    double *tb = x->tab + (hh * x->T + i) * TAB_N;
                    const double *ki = Kt + (size_t)i * hd;
                    tb[TAB_QNORM] = sqrt(dot(qt, qt, hd));
                    tb[TAB_KNORM_SELF] = sqrt(dot(ki, ki, hd));
                    tb[TAB_LOGIT_SELF] = s * dot(qt, ki, hd);
                    tb[TAB_LOGIT_FIRST] = lo == 0 ? s * dot(qt, Kt, hd) : NAN;
                    if (i >= 1 && i - 1 >= lo) {
                        const double *kp = ki - hd;
                        tb[TAB_KNORM_PREV] = sqrt(dot(kp, kp, hd));
                        tb[TAB_LOGIT_PREV] = s * dot(qt, kp, hd);
                    } else {
                        tb[TAB_KNORM_PREV] = tb[TAB_LOGIT_PREV] = NAN;
                    }
                }
            }
            for (int p = 0; p < AN_NPAT; p++) {
                for (int c = 0; c < C; c++) x->margin_sum[(hh * AN_NPAT + p) * C + c] += msum[(size_t)p * C + c];
                x->margin_cnt[hh * AN_NPAT + p] += mcnt[p];
            }
        }
        free(Kt), free(qt), free(msum);
    }
    free(freq);
    free(i0);
    return fail ? rl_fail("out of memory (rotated keys of layer %d)", l) : 0;
}
