/* analysis: frequency usage against a naive recomputation from captured q/k/v, Tables 3-5 against
 * an independent float64 rotation, ablation deltas against independent rl_model_infer runs, the
 * output contract (headers, files, figures) and bad inputs. Random GQA models. */
#include "analysis_fixture.h"
#include "helpers.h"
#include "model_ref.h"
#include "ropelab/util.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define W 12

static rl_analysis_opts quiet_opts(void) {
    rl_analysis_opts o;
    rl_analysis_opts_default(&o);
    o.max_tokens = W;
    o.figures = 0;
    o.progress = 0;
    return o;
}

/* Frequency usage: per layer, head, kind and chunk, the mean over every token of every window of
 * the chunk's 2-norm before rotation, recomputed here from hook captures with the documented
 * window rule. Layer 0 is RoPE in the interleaved layout, layer 1 partial rotary (pass-through
 * chunks pair other dims), so the chunk-to-dims mapping is exercised. */
Test(analysis_measures, usage_matches_naive_recomputation) {
    rl_model *m = af_random("rope:theta=10000,layout=interleaved;partial:p=0.5,theta=500", 0.3, 5);
    const rl_model_config *c = &m->cfg;
    const int L = 2, H = 4, KV = 2, hd = 16, C = 8;
    const int lens[2] = {25, 7};
    rl_analysis_text *texts = af_id_texts(2, lens, c->vocab_size, 9);
    rl_analysis_opts o = quiet_opts();
    o.ablations = o.knockouts = 0;
    char *dir = rt_tmpdir();
    rl_analysis_summary s;
    cr_assert_eq(rl_analyze(m, NULL, texts, 2, &o, dir, &s), 0, "%s", rl_error());

    int32_t tok[8 * W], tgt[8 * W];
    int wl[8];
    const int nw = af_windows(texts, 2, W, 1, tok, tgt, wl, 8);
    double *want = calloc((size_t)L * (H + 2 * KV) * C, sizeof *want); /* [L][kind-major heads][C] */
    int64_t ntok = 0;
    float *q[2], *k[2], *v[2];
    for (int l = 0; l < L; l++) {
        q[l] = malloc((size_t)W * H * hd * sizeof(float));
        k[l] = malloc((size_t)W * KV * hd * sizeof(float));
        v[l] = malloc((size_t)W * KV * hd * sizeof(float));
    }
    rl_infer_hooks hk = {0};
    hk.q = q;
    hk.k = k;
    hk.v = v;
    af_probs_all(&hk, L);
    for (int w = 0; w < nw; w++) {
        cr_assert_eq(rl_model_infer(m, tok + w * W, NULL, wl[w], NULL, NULL, &hk), 0, "%s", rl_error());
        ntok += wl[w];
        for (int l = 0; l < L; l++) {
            rl_rope_freqs f;
            rl_rope_freqs_init(&f, &c->pe[l], hd, 0);
            for (int ch = 0; ch < C; ch++) {
                int i0, i1;
                rl_rope_chunk_dims(&f, ch, &i0, &i1);
                for (int t = 0; t < wl[w]; t++) {
                    for (int h = 0; h < H + 2 * KV; h++) {
                        const float *row = h < H ? q[l] + ((size_t)t * H + h) * hd
                                         : h < H + KV ? k[l] + ((size_t)t * KV + h - H) * hd
                                                      : v[l] + ((size_t)t * KV + h - H - KV) * hd;
                        want[((size_t)l * (H + 2 * KV) + h) * C + ch] += hypot(row[i0], row[i1]);
                    }
                }
            }
            rl_rope_freqs_free(&f);
        }
    }
    cr_assert_eq(ntok, s.n_tokens);
    /* summary arrays: the same float32 values summed in float64 in another order: 1e-12 relative */
    for (int l = 0; l < L; l++)
        for (int h = 0; h < H + 2 * KV; h++)
            for (int ch = 0; ch < C; ch++) {
                double e = want[((size_t)l * (H + 2 * KV) + h) * C + ch] / (double)ntok;
                double got = h < H ? s.usage_q[((size_t)l * H + h) * C + ch]
                           : h < H + KV ? s.usage_k[((size_t)l * KV + h - H) * C + ch]
                                        : s.usage_v[((size_t)l * KV + h - H - KV) * C + ch];
                cr_assert(fabs(got - e) <= 1e-12 * e, "layer %d head-slot %d chunk %d: %.15g vs %.15g", l, h, ch, got, e);
            }
    /* per-layer means over heads (Fig. 3) */
    for (int l = 0; l < L; l++)
        for (int ch = 0; ch < C; ch++) {
            double mq = 0;
            for (int h = 0; h < H; h++) mq += s.usage_q[((size_t)l * H + h) * C + ch] / H;
            cr_assert(fabs(s.layer_q[l * C + ch] - mq) <= 1e-14 * mq);
        }
    /* freq_usage.csv: the contract header, one row per (layer, kind, head, chunk), values printed
     * with 9 significant digits (so 1e-8 relative), frequencies with 17 */
    char path[4300];
    snprintf(path, sizeof path, "%s/freq_usage.csv", dir);
    af_csv t;
    cr_assert_eq(af_csv_load(path, &t), 0);
    cr_assert_str_eq(t.header, "layer,head,kind,chunk,frequency,mean_norm");
    cr_assert_eq(t.n_rows, L * (H + 2 * KV) * C);
    for (int r = 0; r < t.n_rows; r++) {
        int l = (int)af_csv_num(&t, r, "layer"), h = (int)af_csv_num(&t, r, "head"), ch = (int)af_csv_num(&t, r, "chunk");
        char kind = t.rows[r][2][0];
        cr_assert(kind == 'q' || kind == 'k' || kind == 'v');
        cr_assert(h < (kind == 'q' ? H : KV), "kind %c head %d: k and v are reported per kv head", kind, h);
        int slot = kind == 'q' ? h : kind == 'k' ? H + h : H + KV + h;
        double e = want[((size_t)l * (H + 2 * KV) + slot) * C + ch] / (double)ntok;
        cr_assert(fabs(af_csv_num(&t, r, "mean_norm") - e) <= 1e-8 * e, "row %d", r);
        rl_rope_freqs f;
        rl_rope_freqs_init(&f, &c->pe[l], hd, W);
        cr_assert(fabs(af_csv_num(&t, r, "frequency") - f.freq[ch]) <= 1e-15 * f.freq[ch], "row %d frequency", r);
        /* partial p=0.5 rotates chunks 0..3 only; the pass-through chunks report frequency 0 */
        if (l == 1 && ch >= 4) cr_assert_eq(af_csv_num(&t, r, "frequency"), 0.0);
        rl_rope_freqs_free(&f);
    }
    af_csv_free(&t);
    for (int l = 0; l < L; l++) free(q[l]), free(k[l]), free(v[l]);
    free(want);
    rl_analysis_summary_free(&s);
    rt_rmtree(dir);
    free(dir);
    af_texts_free(texts, 2);
    rl_model_free(m);
}

/* Capturing one layer per pass (a memory budget too small for two) gives exactly the same numbers
 * as capturing every layer in one pass: the same forwards, bit for bit. */
Test(analysis_measures, layer_groups_change_nothing) {
    rl_model *m = af_random("rope:theta=10000", 0.3, 8);
    const int lens[2] = {17, 30};
    rl_analysis_text *texts = af_id_texts(2, lens, m->cfg.vocab_size, 12);
    rl_analysis_opts o = quiet_opts();
    o.ablations = o.knockouts = 0;
    o.threshold = 0.01;
    char *dir = rt_tmpdir();
    rl_analysis_summary a, b;
    cr_assert_eq(rl_analyze(m, NULL, texts, 2, &o, dir, &a), 0, "%s", rl_error());
    o.capture_bytes = 1;
    cr_assert_eq(rl_analyze(m, NULL, texts, 2, &o, dir, &b), 0, "%s", rl_error());
    const size_t nq = 2 * 4 * 8, nk = 2 * 2 * 8;
    cr_assert(memcmp(a.usage_q, b.usage_q, nq * sizeof(double)) == 0);
    cr_assert(memcmp(a.usage_k, b.usage_k, nk * sizeof(double)) == 0);
    cr_assert(memcmp(a.usage_v, b.usage_v, nk * sizeof(double)) == 0);
    cr_assert(memcmp(a.scores, b.scores, 2 * 4 * 3 * sizeof(double)) == 0);
    cr_assert_eq(a.n_roles, b.n_roles);
    for (int r = 0; r < a.n_roles; r++) cr_assert(memcmp(a.roles[r].margin, b.roles[r].margin, 8 * sizeof(double)) == 0);
    cr_assert_eq(a.loss, b.loss);
    rl_analysis_summary_free(&a);
    rl_analysis_summary_free(&b);
    rt_rmtree(dir);
    free(dir);
    af_texts_free(texts, 2);
    rl_model_free(m);
}

/* Tables 3-5 of every head (threshold 0.01 gives every head a role) against an independent float64
 * computation from the captured q/k: rotation by pos * freq with the YaRN attention factor on
 * layer 1, the model's attention scale, and the softmax of those logits against attn_self. */
Test(analysis_measures, logit_tables_match_float64) {
    rl_model *m = af_random("rope:theta=10000;rope:theta=10000+yarn:factor=4,original=8", 0.5, 6);
    const rl_model_config *c = &m->cfg;
    const int H = 4, KV = 2, hd = 16, C = 8;
    const int lens[1] = {30};
    rl_analysis_text *texts = af_id_texts(1, lens, c->vocab_size, 10);
    rl_analysis_opts o = quiet_opts();
    o.ablations = o.knockouts = 0;
    o.threshold = 0.01;
    o.table_tokens = 10;
    char *dir = rt_tmpdir();
    rl_analysis_summary s;
    cr_assert_eq(rl_analyze(m, NULL, texts, 1, &o, dir, &s), 0, "%s", rl_error());
    cr_assert_eq(s.n_roles, 2 * H);

    int32_t tok[4 * W], tgt[4 * W];
    int wl[4];
    af_windows(texts, 1, W, 1, tok, tgt, wl, 4);
    float *q[2], *k[2];
    for (int l = 0; l < 2; l++) {
        q[l] = malloc((size_t)W * H * hd * sizeof(float));
        k[l] = malloc((size_t)W * KV * hd * sizeof(float));
    }
    rl_infer_hooks hk = {0};
    hk.q = q;
    hk.k = k;
    af_probs_all(&hk, 2);
    cr_assert_eq(rl_model_infer(m, tok, NULL, wl[0], NULL, NULL, &hk), 0);
    const double sc = 1.0 / sqrt(hd);
    /* rotated q and k of window 0: qr [2][W][H][hd], kr [2][W][KV][hd] */
    static double qr[2][W][4][16], kr[2][W][2][16];
    for (int l = 0; l < 2; l++) {
        rl_rope_freqs f;
        rl_rope_freqs_init(&f, &c->pe[l], hd, wl[0]);
        double af = rl_rope_yarn_attention_factor(&c->pe[l]);
        if (l == 0) cr_assert_eq(af, 1.0);
        else cr_assert(af > 1.1, "yarn factor %g", af); /* 0.1 ln 4 + 1 = 1.139 */
        for (int t = 0; t < wl[0]; t++)
            for (int ch = 0; ch < C; ch++) {
                int i0, i1;
                rl_rope_chunk_dims(&f, ch, &i0, &i1);
                double cs = cos(t * f.freq[ch]), sn = sin(t * f.freq[ch]);
                for (int h = 0; h < H + KV; h++) {
                    const float *x = h < H ? q[l] + ((size_t)t * H + h) * hd : k[l] + ((size_t)t * KV + h - H) * hd;
                    double *y = h < H ? qr[l][t][h] : kr[l][t][h - H];
                    y[i0] = af * (x[i0] * cs - x[i1] * sn);
                    y[i1] = af * (x[i0] * sn + x[i1] * cs);
                }
            }
        rl_rope_freqs_free(&f);
    }
    char path[4300];
    snprintf(path, sizeof path, "%s/logit_tables.csv", dir);
    af_csv t;
    cr_assert_eq(af_csv_load(path, &t), 0);
    cr_assert_eq(t.n_rows, 2 * H * 10);
    for (int r = 0; r < t.n_rows; r++) {
        int l = (int)af_csv_num(&t, r, "layer"), h = (int)af_csv_num(&t, r, "head"), i = (int)af_csv_num(&t, r, "position");
        int g = h / 2;
        double lg[W], qn = 0, kn = 0, mx = -INFINITY, z = 0;
        for (int j = 0; j <= i; j++) {
            double d = 0;
            for (int e = 0; e < hd; e++) d += qr[l][i][h][e] * kr[l][j][g][e];
            lg[j] = sc * d;
            mx = fmax(mx, lg[j]);
        }
        for (int j = 0; j <= i; j++) z += exp(lg[j] - mx);
        for (int e = 0; e < hd; e++) qn += qr[l][i][h][e] * qr[l][i][h][e], kn += kr[l][i][g][e] * kr[l][i][g][e];
        qn = sqrt(qn), kn = sqrt(kn);
        /* same float32 inputs, float64 on both sides, printed with 9 digits: 1e-7 relative + 1e-7 */
#define CLOSE(col, val) cr_assert(fabs(af_csv_num(&t, r, col) - (val)) <= 1e-7 * (1 + fabs(val)), \
                                  "L%d H%d row %d %s: %.9g vs %.9g", l, h, i, col, af_csv_num(&t, r, col), (double)(val))
        CLOSE("q_norm", qn);
        CLOSE("k_norm", kn);
        CLOSE("logit_self", lg[i]);
        CLOSE("bound_self", sc * qn * kn);
        CLOSE("logit_first", lg[0]);
        if (i >= 1) CLOSE("logit_prev", lg[i - 1]);
        /* the model's probabilities (float32 attention) against the float64 softmax: 1e-5 */
        cr_assert(fabs(af_csv_num(&t, r, "attn_self") - exp(lg[i] - mx) / z) < 1e-5, "L%d H%d row %d attn", l, h, i);
#undef CLOSE
    }
    af_csv_free(&t);
    for (int l = 0; l < 2; l++) free(q[l]), free(k[l]);
    rl_analysis_summary_free(&s);
    rt_rmtree(dir);
    free(dir);
    af_texts_free(texts, 1);
    rl_model_free(m);
}

/* Every ablation's loss change equals the difference of two independent rl_model_infer runs with
 * hooks built here from the documented band rule. p-RoPE p=0.5 on hd 16: chunks 0..3 rotated,
 * 4..7 never; 8 bands requested, 4 used (one per rotated chunk); high = chunk 0, low = chunk 3. */
Test(analysis_measures, ablation_deltas_match_independent_runs) {
    rl_model *m = af_random("prope:p=0.5,theta=100", 0.5, 7);
    const int L = 2, H = 4, C = 8;
    const int lens[2] = {22, 13};
    rl_analysis_text *texts = af_id_texts(2, lens, m->cfg.vocab_size, 11);
    rl_analysis_opts o = quiet_opts();
    o.knockouts = 0;
    char *dir = rt_tmpdir();
    rl_analysis_summary s;
    cr_assert_eq(rl_analyze(m, NULL, texts, 2, &o, dir, &s), 0, "%s", rl_error());
    cr_assert_eq(s.n_bands, 4);
    cr_assert_eq(s.n_ablations, 2 * (2 + 4) + 1);

    int32_t tok[8 * W], tgt[8 * W];
    int wl[8];
    const int nw = af_windows(texts, 2, W, 1, tok, tgt, wl, 8);
    const double base = af_mean_loss(m, tok, tgt, wl, nw, W, NULL);
    /* same forward, same float32 losses summed in float64 in the same order */
    cr_assert(fabs(s.loss - base) < 1e-9, "base loss %.12f vs %.12f", s.loss, base);
    rl_rope_freqs f;
    rl_rope_freqs_init(&f, &m->cfg.pe[0], 16, 0);
    int seen_unrot = 0;
    for (int a = 0; a < s.n_ablations; a++) {
        const rl_analysis_ablation *ab = &s.ablations[a];
        uint8_t band[8];
        memset(band, 1, sizeof band);
        const char *bn = strchr(ab->name, ':') + 1;
        if (!strcmp(bn, "high")) band[0] = 0;
        else if (!strcmp(bn, "low")) band[3] = 0;
        else if (!strcmp(bn, "unrotated")) memset(band + 4, 0, 4), seen_unrot = 1;
        else band[atoi(bn + 4)] = 0;
        uint8_t keep[4 * 8];
        double fr[8];
        for (int h = 0; h < H; h++) memcpy(keep + h * C, band, C);
        for (int ch = 0; ch < C; ch++) fr[ch] = band[ch] ? f.freq[ch] : 0;
        const uint8_t *keeps[2] = {keep, keep};
        const double *frs[2] = {fr, fr};
        rl_infer_hooks hk = {0};
        if (!strncmp(ab->name, "zero:", 5)) {
            cr_assert_eq(ab->mode, RL_ABLATE_ZERO);
            hk.qk_keep = keeps;
        } else {
            cr_assert_eq(ab->mode, RL_ABLATE_NOROTATE);
            hk.freq = frs;
        }
        double la = af_mean_loss(m, tok, tgt, wl, nw, W, &hk);
        cr_assert(fabs(ab->dloss - (la - base)) < 1e-9, "%s: %.12f vs %.12f", ab->name, ab->dloss, la - base);
        cr_assert(fabs(ab->dloss) > 1e-4, "%s changed nothing (%g)", ab->name, ab->dloss);
    }
    cr_assert(seen_unrot);
    rl_rope_freqs_free(&f);
    (void)L;
    /* ablations.csv: a 'none' row then one row per ablation, with the band's chunks */
    char path[4300];
    snprintf(path, sizeof path, "%s/ablations.csv", dir);
    af_csv t;
    cr_assert_eq(af_csv_load(path, &t), 0);
    cr_assert_str_eq(t.header, "ablation,mode,band,chunks,freq_max,freq_min,layers,loss,dloss");
    cr_assert_eq(t.n_rows, 1 + s.n_ablations);
    cr_assert_str_eq(t.rows[0][0], "none");
    for (int r = 1; r < t.n_rows; r++) {
        cr_assert_str_eq(t.rows[r][0], s.ablations[r - 1].name);
        cr_assert(fabs(af_csv_num(&t, r, "dloss") - s.ablations[r - 1].dloss) <= 1e-8 * (1 + fabs(s.ablations[r - 1].dloss)));
        cr_assert_eq((int)af_csv_num(&t, r, "layers"), 2);
    }
    cr_assert_str_eq(t.rows[1][af_csv_col(&t, "chunks")], "0");            /* zero:high */
    cr_assert_str_eq(t.rows[t.n_rows - 1][af_csv_col(&t, "chunks")], "4-7"); /* zero:unrotated */
    af_csv_free(&t);
    rl_analysis_summary_free(&s);
    rt_rmtree(dir);
    free(dir);
    af_texts_free(texts, 2);
    rl_model_free(m);
}

static char *slurp(const char *dir, const char *name) {
    char path[4300], *data;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    size_t n;
    if (rl_read_file(path, &data, &n) != 0) return NULL;
    return data;
}

/* The output contract with figures: headers, one heads.csv row per head, summary.json fields and
 * every listed file present, PNG and SVG for every figure. */
Test(analysis_measures, output_contract_and_figures) {
    rl_model *m = af_constructed(4.0, 4.0, "half", 21);
    const int lens[2] = {30, 10};
    rl_analysis_text *texts = af_id_texts(2, lens, 16, 3);
    rl_analysis_opts o = quiet_opts();
    o.max_tokens = 16;
    o.figures = 1;
    o.model_name = "constructed";
    char *dir = rt_tmpdir();
    cr_assert_eq(rl_analyze(m, NULL, texts, 2, &o, dir, NULL), 0, "%s", rl_error());
    char path[4300];
    af_csv t;
    snprintf(path, sizeof path, "%s/heads.csv", dir);
    cr_assert_eq(af_csv_load(path, &t), 0);
    cr_assert(strncmp(t.header, "layer,head,kv_head,diagonal,previous,first,role,positional,", 59) == 0, "%s", t.header);
    cr_assert_eq(t.n_rows, 2 * 4);
    cr_assert_str_eq(t.rows[0][af_csv_col(&t, "role")], "diagonal");
    cr_assert_str_eq(t.rows[0][af_csv_col(&t, "positional")], "1");
    cr_assert_str_eq(t.rows[2][af_csv_col(&t, "role")], "first");
    cr_assert_str_eq(t.rows[2][af_csv_col(&t, "positional")], "0");
    cr_assert_str_eq(t.rows[3][af_csv_col(&t, "role")], "none");
    af_csv_free(&t);

    char *js = slurp(dir, "summary.json");
    cr_assert_not_null(js);
    cJSON *j = cJSON_Parse(js);
    cr_assert_not_null(j, "summary.json does not parse");
    cr_assert_str_eq(cJSON_GetObjectItem(j, "tool")->valuestring, "ropelab analyze");
    cr_assert_str_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "model"), "source")->valuestring, "constructed");
    cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(j, "role_heads")), 3);
    cJSON *u = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "usage_per_layer"), "q");
    cr_assert_eq(cJSON_GetArraySize(u), 2);
    cr_assert_eq(cJSON_GetArraySize(cJSON_GetArrayItem(u, 0)), 8);
    cr_assert(cJSON_IsNumber(cJSON_GetObjectItem(j, "loss")));
    const char *must[] = {"freq_usage.csv", "heads.csv", "summary.json", "head_attribution.csv", "logit_tables.csv",
                          "ablations.csv", "knockouts.csv", "freq_usage_layers.png", "freq_usage_layers.svg",
                          "freq_usage_heads_L0.png", "head_scores.png", "attribution.png", "pattern_L0_H0.png",
                          "pattern_L0_H0.svg", "ablations.png", "knockouts.png"};
    cJSON *files = cJSON_GetObjectItem(j, "files");
    for (size_t i = 0; i < sizeof must / sizeof *must; i++) {
        int listed = 0;
        for (int k = 0; k < cJSON_GetArraySize(files); k++) listed |= !strcmp(cJSON_GetArrayItem(files, k)->valuestring, must[i]);
        cr_assert(listed, "%s is not listed in summary.json", must[i]);
    }
    for (int k = 0; k < cJSON_GetArraySize(files); k++) {
        snprintf(path, sizeof path, "%s/%s", dir, cJSON_GetArrayItem(files, k)->valuestring);
        cr_assert(rl_file_exists(path), "%s is listed but missing", path);
    }
    cJSON_Delete(j);
    free(js);
    rt_rmtree(dir);
    free(dir);
    af_texts_free(texts, 2);
    rl_model_free(m);
}

/* Bad inputs: one clear message naming the file / text / option, never a crash. */
Test(analysis_measures, bad_inputs) {
    char *dir = rt_tmpdir(), p[3][4300];
    snprintf(p[0], sizeof p[0], "%s/a.txt", dir);
    snprintf(p[1], sizeof p[1], "%s/missing.txt", dir);
    snprintf(p[2], sizeof p[2], "%s/empty.txt", dir);
    cr_assert_eq(rl_write_atomic(p[0], "Once upon a time", 16), 0);
    cr_assert_eq(rl_write_atomic(p[2], "", 0), 0);
    rl_analysis_text *t;
    const char *paths1[2] = {p[0], p[1]};
    cr_assert_eq(rl_analysis_read_texts(paths1, 2, &t), -1);
    cr_assert(strstr(rl_error(), "missing.txt") && strstr(rl_error(), "cannot open"), "%s", rl_error());
    const char *paths2[2] = {p[0], p[2]};
    cr_assert_eq(rl_analysis_read_texts(paths2, 2, &t), -1);
    cr_assert(strstr(rl_error(), "empty.txt") && strstr(rl_error(), "empty text"), "%s", rl_error());
    const char *paths3[1] = {dir};
    cr_assert_eq(rl_analysis_read_texts(paths3, 1, &t), -1);
    cr_assert(strstr(rl_error(), "folder"), "%s", rl_error());
    cr_assert_eq(rl_analysis_read_texts(paths1, 0, &t), -1);

    /* a text but no tokenizer */
    const char *paths4[1] = {p[0]};
    cr_assert_eq(rl_analysis_read_texts(paths4, 1, &t), 0, "%s", rl_error());
    rl_model *m = af_random("rope:theta=10000", 0.1, 1);
    rl_analysis_opts o = quiet_opts();
    char out[8700];
    snprintf(out, sizeof out, "%s/out", dir);
    cr_assert_eq(rl_analyze(m, NULL, t, 1, &o, out, NULL), -1);
    cr_assert(strstr(rl_error(), "a.txt") && strstr(rl_error(), "tokenizer"), "%s", rl_error());
    rl_analysis_texts_free(t, 1);

    /* ids outside the vocabulary */
    int32_t ids[3] = {3, 99, 4};
    rl_analysis_text bad = {"bad ids", NULL, 0, ids, 3};
    cr_assert_eq(rl_analyze(m, NULL, &bad, 1, &o, out, NULL), -1);
    cr_assert(strstr(rl_error(), "bad ids") && strstr(rl_error(), "99"), "%s", rl_error());

    /* options */
    rl_analysis_text good = {"good", NULL, 0, ids, 1};
    o.threshold = 0;
    cr_assert_eq(rl_analyze(m, NULL, &good, 1, &o, out, NULL), -1);
    cr_assert(strstr(rl_error(), "threshold"), "%s", rl_error());
    o = quiet_opts();
    o.heads_layer = 2;
    cr_assert_eq(rl_analyze(m, NULL, &good, 1, &o, out, NULL), -1);
    cr_assert(strstr(rl_error(), "layer 2"), "%s", rl_error());
    o = quiet_opts();
    o.max_tokens = 1;
    cr_assert_eq(rl_analyze(m, NULL, &good, 1, &o, out, NULL), -1);
    cr_assert(strstr(rl_error(), "max tokens"), "%s", rl_error());
    /* an output folder that cannot be created (a file is in the way) */
    o = quiet_opts();
    snprintf(out, sizeof out, "%s/out", p[0]);
    cr_assert_eq(rl_analyze(m, NULL, &good, 1, &o, out, NULL), -1);
    cr_assert(strstr(rl_error(), "a.txt"), "%s", rl_error());
    /* a single token text still works: [BOS, t], one target */
    snprintf(out, sizeof out, "%s/out1", dir);
    rl_analysis_summary s;
    cr_assert_eq(rl_analyze(m, NULL, &good, 1, &o, out, &s), 0, "%s", rl_error());
    cr_assert_eq(s.n_tokens, 2);
    cr_assert_eq(s.n_targets, 1);
    rl_analysis_summary_free(&s);
    rl_model_free(m);
    rt_rmtree(dir);
    free(dir);
}

/* Every inference architecture goes through the analyser: fused q/k/v and partial rotary
 * (GPT-NeoX: 4 of 16 dims rotated = 2 chunks, so 2 one-chunk bands and an unrotated band), biases
 * (Qwen2), MQA with head_dim != d/H (Gemma), soft-capping, alternating sliding windows and
 * query_pre_attn_scalar (Gemma 2), sliding windows everywhere (Mistral: the first token leaves the
 * window, so logit_first is undefined there). */
Test(analysis_measures, every_architecture) {
    const char *arch[5] = {"gpt_neox", "qwen2", "gemma", "gemma2", "mistral"};
    for (int a = 0; a < 5; a++) {
        rl_model_config c;
        cr_assert_eq(rl_model_config_preset(&c, arch[a]), 0, "%s", rl_error());
        c.vocab_size = 19, c.d_model = 16, c.n_layers = 2, c.n_heads = 4, c.n_kv_heads = 2, c.head_dim = 8;
        c.d_ff = 20, c.max_seq = 16, c.bos_id = 1, c.eos_id = 2;
        if (a == 0) c.n_kv_heads = 4, c.head_dim = 16;
        if (a == 2) c.n_kv_heads = 1, c.head_dim = 12;
        if (a == 3) c.attn_softcap = 2.0, c.sliding_window = 3, c.query_pre_attn_scalar = 10;
        if (a == 4) c.sliding_window = 4;
        rl_model *m = rl_model_new(&c, 1);
        cr_assert_not_null(m, "%s: %s", arch[a], rl_error());
        ref_randomize(m, 30 + a, 0.35);
        const int lens[2] = {20, 9};
        rl_analysis_text *texts = af_id_texts(2, lens, c.vocab_size, 40 + a);
        rl_analysis_opts o = quiet_opts();
        o.threshold = 0.2;
        char *dir = rt_tmpdir();
        rl_analysis_summary s;
        cr_assert_eq(rl_analyze(m, NULL, texts, 2, &o, dir, &s), 0, "%s: %s", arch[a], rl_error());
        const int C = c.head_dim / 2;
        for (int i = 0; i < c.n_layers * c.n_heads * 3; i++)
            cr_assert(s.scores[i] >= 0 && s.scores[i] <= 1 + 1e-6, "%s score %g", arch[a], s.scores[i]);
        for (int i = 0; i < c.n_layers * c.n_kv_heads * C; i++) cr_assert(isfinite(s.usage_k[i]) && s.usage_k[i] >= 0);
        if (a == 0) {
            cr_assert_eq(s.n_bands, 2);
            cr_assert_eq(s.n_ablations, 2 * (2 + 2) + 1, "%d", s.n_ablations);
            cr_assert_str_eq(s.ablations[s.n_ablations - 1].name, "zero:unrotated");
        }
        char path[4300];
        snprintf(path, sizeof path, "%s/summary.json", dir);
        char *js;
        cr_assert_eq(rl_read_file(path, &js, NULL), 0);
        cJSON *j = cJSON_Parse(js);
        double sc = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "model"), "attn_scale")->valuedouble;
        cr_assert(fabs(sc - (a == 3 ? 1 / sqrt(10.0) : 1 / sqrt((double)c.head_dim))) < 1e-7, "%s scale %g", arch[a], sc);
        cJSON_Delete(j);
        free(js);
        if (a == 4 && s.n_roles > 0) { /* Mistral, window 4: key 0 is outside it from row 4 on */
            snprintf(path, sizeof path, "%s/logit_tables.csv", dir);
            af_csv t;
            cr_assert_eq(af_csv_load(path, &t), 0);
            for (int r = 0; r < t.n_rows; r++) {
                int i = (int)af_csv_num(&t, r, "position");
                cr_assert_eq(isnan(af_csv_num(&t, r, "logit_first")), i >= 4, "row %d", i);
            }
            af_csv_free(&t);
        }
        cr_assert(a != 4 || s.n_roles > 0, "mistral: no role head to check the window on");
        rl_analysis_summary_free(&s);
        rt_rmtree(dir);
        free(dir);
        af_texts_free(texts, 2);
        rl_model_free(m);
    }
}
