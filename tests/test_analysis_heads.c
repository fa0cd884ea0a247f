/* analysis: head roles, frequency attribution, Tables 3-5 and knock-outs on a model whose layer 0
 * holds the paper's Thm 5.3 construction (diagonal, previous-token and first-token heads), so every
 * number has a closed form. Both pair layouts. */
#include "analysis_fixture.h"
#include "helpers.h"

#include "ropelab/util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define A 4.0 /* |psi| of the diagonal / previous heads: s a^2 = 4, scores ~0.88 / ~0.79 */
#define B 4.0 /* the first-token head's norm */
#define W 16  /* window length */

/* Closed-form attention of layer 0 head h, query i, over keys 0..i (float64 softmax). */
static void closed_probs(const rl_model *m, int h, int i, double *p) {
    double mx = -INFINITY, z = 0;
    for (int j = 0; j <= i; j++) mx = fmax(mx, p[j] = af_constructed_logit(m, A, B, h, i, j));
    for (int j = 0; j <= i; j++) z += p[j] = exp(p[j] - mx);
    for (int j = 0; j <= i; j++) p[j] /= z;
}

static int target(int pattern, int i) { return pattern == 0 ? i : pattern == 1 ? i - 1 : 0; }
static int first_row(int pattern) { return pattern == 0 ? 1 : 2; }

static const rl_analysis_head *find_role(const rl_analysis_summary *s, int l, int h) {
    for (int i = 0; i < s->n_roles; i++)
        if (s->roles[i].layer == l && s->roles[i].head == h) return &s->roles[i];
    return NULL;
}

static void check_constructed(const char *layout) {
    rl_model *m = af_constructed(A, B, layout, 21);
    const int lens[3] = {20, 9, 31}, C = 8;
    rl_analysis_text *texts = af_id_texts(3, lens, 16, 3);
    int32_t tok[16 * W], tgt[16 * W];
    int wl[16];
    const int nw = af_windows(texts, 3, W, 1, tok, tgt, wl, 16);

    rl_analysis_opts o;
    rl_analysis_opts_default(&o);
    o.max_tokens = W;
    o.figures = 0;
    o.progress = 0;
    o.ablations = 0;
    char *dir = rt_tmpdir();
    rl_analysis_summary s;
    cr_assert_eq(rl_analyze(m, NULL, texts, 3, &o, dir, &s), 0, "%s", rl_error());

    /* the window rule: 2 + 1 + 3 windows; every text token once as a target */
    cr_assert_eq(s.n_windows, nw);
    cr_assert_eq(nw, 6);
    cr_assert_eq(s.n_tokens, 60 + 6);
    cr_assert_eq(s.n_targets, 60);

    /* closed-form scores, margins and knock-out scores over the same rows */
    double sc[3] = {0}, uni[3] = {0}, mg[3][8] = {{0}};
    int64_t cnt[3] = {0};
    const double u2 = 1.0 / (1.0 + m->cfg.norm_eps), s4 = 0.25;
    rl_rope_freqs f;
    rl_rope_freqs_init(&f, &m->cfg.pe[0], 16, 0);
    double p[W];
    for (int w = 0; w < nw; w++)
        for (int h = 0; h < 3; h++)
            for (int i = first_row(h); i < wl[w]; i++) {
                closed_probs(m, h, i, p);
                const int js = target(h, i);
                sc[h] += p[js];
                uni[h] += 1.0 / (i + 1);
                cnt[h]++;
                for (int c = 0; c < C; c++) { /* per-chunk logit of key j, from the construction */
                    double t = 0, others = 0;
                    for (int j = 0; j <= i; j++) {
                        double v = 0;
                        if (h == 0 && c < 2) v = s4 * A * A * u2 * cos((j - i) * f.freq[c]);
                        if (h == 1 && c < 2) v = s4 * A * A * u2 * cos((j + 1 - i) * f.freq[c]);
                        if (h == 2 && c == 7) v = s4 * B * B * u2 * (j == 0 ? 1 : -1) * cos((j - i) * f.freq[c]);
                        if (j == js) t = v;
                        else others += v;
                    }
                    mg[h][c] += t - others / i;
                }
            }
    rl_rope_freqs_free(&f);

    /* roles: exactly the three constructed heads (layer 1 and head 3 are random, near uniform) */
    cr_assert_eq(s.n_roles, 3, "%d role heads", s.n_roles);
    const rl_head_role want[3] = {RL_ROLE_DIAGONAL, RL_ROLE_PREVIOUS, RL_ROLE_FIRST};
    for (int h = 0; h < 3; h++) {
        const rl_analysis_head *r = find_role(&s, 0, h);
        cr_assert_not_null(r, "layer 0 head %d has no role", h);
        cr_assert_eq(r->role, want[h], "head %d: role %s", h, rl_head_role_name(r->role));
        /* scores: float32 weights and softmax against the float64 closed form; the logits are <= 8
         * in size, so probabilities agree to ~1e-6; 1e-4 leaves margin */
        double e = sc[h] / (double)cnt[h];
        cr_assert(fabs(s.scores[h * 3 + h] - e) < 1e-4, "head %d score %.7f, closed form %.7f", h, s.scores[h * 3 + h], e);
        cr_assert(fabs(r->score - e) < 1e-4);
        /* attribution: the construction's chunks carry the whole margin, the others exactly 0 (q is 0 there) */
        double gap = 0;
        for (int c = 0; c < C; c++) {
            double ec = mg[h][c] / (double)cnt[h];
            gap += ec;
            if (ec == 0)
                cr_assert(fabs(r->margin[c]) < 1e-12, "head %d chunk %d margin %g, expected 0", h, c, r->margin[c]);
            else /* float32 weights (a cos g rounded) and RMSNorm: 1e-5 relative */
                cr_assert(fabs(r->margin[c] - ec) < 1e-5 * fabs(ec), "head %d chunk %d margin %.8f, closed form %.8f",
                          h, c, r->margin[c], ec);
        }
        cr_assert(fabs(r->gap - gap) < 1e-5 * fabs(gap));
        cr_assert_eq(r->top_chunk, h < 2 ? 0 : 7, "head %d top chunk %d", h, r->top_chunk);
        /* high band = highest 25% of 8 rotated chunks = chunks 0, 1 */
        if (h < 2) cr_assert(fabs(r->high_share - 1) < 1e-9, "head %d high share %g", h, r->high_share);
        else cr_assert(fabs(r->high_share) < 1e-9, "head 2 high share %g", r->high_share);
        /* knock-outs: zeroing the chunks that hold the construction makes every logit 0, so the head
         * becomes uniform: score = mean of 1/(i+1) over its rows (float32 softmax of equal logits:
         * 1e-6); zeroing chunks that were already 0 changes nothing (same computation: 1e-9) */
        double uniform = uni[h] / (double)cnt[h];
        double collapsed = h < 2 ? r->ko_high_score : r->ko_low_score;
        double kept = h < 2 ? r->ko_low_score : r->ko_high_score;
        cr_assert(fabs(collapsed - uniform) < 1e-6, "head %d knock-out score %.8f, uniform %.8f", h, collapsed, uniform);
        cr_assert(fabs(kept - r->score) < 1e-9, "head %d: knocking out unused chunks moved the score %.9f -> %.9f", h,
                  r->score, kept);
    }
    /* the random heads stay below the threshold */
    for (int l = 0; l < 2; l++)
        for (int h = 0; h < 4; h++)
            if (l == 1 || h == 3)
                for (int k = 0; k < 3; k++) cr_assert(s.scores[(l * 4 + h) * 3 + k] < 0.5);

    /* Tables 3-5 (logit_tables.csv, window 0 = text 0's first 16 tokens) against the closed form */
    char path[4300];
    snprintf(path, sizeof path, "%s/logit_tables.csv", dir);
    af_csv t;
    cr_assert_eq(af_csv_load(path, &t), 0);
    cr_assert_eq(t.n_rows, 3 * 16, "%d table rows", t.n_rows);
    for (int r = 0; r < t.n_rows; r++) {
        int h = (int)af_csv_num(&t, r, "head"), i = (int)af_csv_num(&t, r, "position");
        cr_assert_eq((int)af_csv_num(&t, r, "token"), tok[i]);
        double ls = af_constructed_logit(m, A, B, h, i, i), lf = af_constructed_logit(m, A, B, h, i, 0);
        /* logits <= 8: float32 weights / RMSNorm give ~1e-6 absolute; printed with 9 digits */
        cr_assert(fabs(af_csv_num(&t, r, "logit_self") - ls) < 1e-5, "head %d row %d logit_self", h, i);
        cr_assert(fabs(af_csv_num(&t, r, "logit_first") - lf) < 1e-5, "head %d row %d logit_first", h, i);
        if (i >= 1) {
            double lp = af_constructed_logit(m, A, B, h, i, i - 1);
            cr_assert(fabs(af_csv_num(&t, r, "logit_prev") - lp) < 1e-5, "head %d row %d logit_prev", h, i);
        } else {
            cr_assert(isnan(af_csv_num(&t, r, "logit_prev")), "row 0 has no previous token");
        }
        /* Cauchy-Schwarz is tight on the construction: q = k (diagonal), q = R k_prev (previous) */
        if (h == 0) cr_assert(fabs(af_csv_num(&t, r, "bound_self") - ls) < 1e-5);
        if (h == 1 && i >= 1) cr_assert(fabs(af_csv_num(&t, r, "bound_prev") - af_csv_num(&t, r, "logit_prev")) < 1e-5);
        cr_assert(af_csv_num(&t, r, "logit_self") <= af_csv_num(&t, r, "bound_self") + 1e-6);
        closed_probs(m, h, i, p);
        cr_assert(fabs(af_csv_num(&t, r, "attn_self") - p[i]) < 1e-4, "head %d row %d attn_self", h, i);
        cr_assert(fabs(af_csv_num(&t, r, "attn_first") - p[0]) < 1e-4, "head %d row %d attn_first", h, i);
    }
    af_csv_free(&t);

    /* knockouts.csv repeats the knock-out scores */
    snprintf(path, sizeof path, "%s/knockouts.csv", dir);
    cr_assert_eq(af_csv_load(path, &t), 0);
    cr_assert_eq(t.n_rows, 6);
    for (int r = 0; r < t.n_rows; r++) {
        int h = (int)af_csv_num(&t, r, "head");
        const rl_analysis_head *hr = find_role(&s, 0, h);
        int high = strcmp(t.rows[r][af_csv_col(&t, "band")], "high") == 0;
        cr_assert_str_eq(t.rows[r][af_csv_col(&t, "chunks")], high ? "0-1" : "6-7");
        cr_assert(fabs(af_csv_num(&t, r, "score_after") - (high ? hr->ko_high_score : hr->ko_low_score)) < 1e-8);
    }
    af_csv_free(&t);

    rl_analysis_summary_free(&s);
    rt_rmtree(dir);
    free(dir);
    af_texts_free(texts, 3);
    rl_model_free(m);
}

Test(analysis_heads, constructed_half_layout) { check_constructed("half"); }
Test(analysis_heads, constructed_interleaved_layout) { check_constructed("interleaved"); }

/* The band rule: rotated chunks in frequency order, edges of round(f n) >= 1 chunks, equal bands. */
Test(analysis_heads, band_masks) {
    /* p-RoPE-like table: chunks 0..4 rotated (decreasing), 5..7 at 0 */
    double freq[8] = {1, 0.5, 0.25, 0.125, 0.0625, 0, 0, 0};
    uint8_t keep[8];
    int order[8];
    cr_assert_eq(rl_analysis_rotated_order(freq, 8, order), 5);
    for (int i = 0; i < 5; i++) cr_assert_eq(order[i], i);
    cr_assert_eq(rl_analysis_band_mask(freq, 8, RL_BAND_HIGH, 8, 0.25, keep), 1); /* round(1.25) = 1 */
    cr_assert(!keep[0] && keep[1]);
    cr_assert_eq(rl_analysis_band_mask(freq, 8, RL_BAND_LOW, 8, 0.5, keep), 3); /* round(2.5) = 3 */
    cr_assert(keep[1] && !keep[2] && !keep[3] && !keep[4] && keep[5]);
    cr_assert_eq(rl_analysis_band_mask(freq, 8, RL_BAND_UNROTATED, 8, 0.25, keep), 3);
    cr_assert(keep[4] && !keep[5] && !keep[6] && !keep[7]);
    /* 5 rotated chunks in 2 bands: [0, 2) and [2, 5) */
    cr_assert_eq(rl_analysis_band_mask(freq, 8, 0, 2, 0.25, keep), 2);
    cr_assert_eq(rl_analysis_band_mask(freq, 8, 1, 2, 0.25, keep), 3);
    cr_assert(keep[1] && !keep[2] && !keep[4] && keep[5]);
    /* reversed p-RoPE: the rotated chunks are the last ones; order still highest first */
    double rev[4] = {0, 0, 0.1, 0.01};
    cr_assert_eq(rl_analysis_rotated_order(rev, 4, order), 2);
    cr_assert(order[0] == 2 && order[1] == 3);
    cr_assert_eq(rl_analysis_band_mask(rev, 4, RL_BAND_HIGH, 8, 0.25, keep), 1);
    cr_assert(!keep[2] && keep[3]);
    /* NoPE: no band but the unrotated one */
    double none[4] = {0};
    cr_assert_eq(rl_analysis_band_mask(none, 4, RL_BAND_HIGH, 8, 0.25, keep), 0);
    cr_assert_eq(rl_analysis_band_mask(none, 4, 0, 8, 0.25, keep), 0);
    cr_assert_eq(rl_analysis_band_mask(none, 4, RL_BAND_UNROTATED, 8, 0.25, keep), 4);
}
