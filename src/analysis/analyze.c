/* rl_analyze: options, the run (windows, passes, results, files) and the summary it returns. */
#include "internal.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

void rl_analysis_opts_default(rl_analysis_opts *o) {
    memset(o, 0, sizeof *o);
    o->threshold = 0.5;
    o->n_bands = 8;
    o->edge_fraction = 0.25;
    o->ablations = 1;
    o->knockouts = 1;
    o->max_knockout_heads = 8;
    o->top_heads = 4;
    o->pattern_tokens = 48;
    o->table_tokens = 24;
    o->heads_layer = -1;
    o->figures = 1;
    o->progress = 1;
    o->capture_bytes = (size_t)512 << 20;
}

const char *rl_head_role_name(int role) {
    switch (role) {
    case RL_ROLE_DIAGONAL: return "diagonal";
    case RL_ROLE_PREVIOUS: return "previous";
    case RL_ROLE_FIRST: return "first";
    default: return "none";
    }
}

void rl_analysis_summary_free(rl_analysis_summary *s) {
    if (!s) return;
    free(s->freq);
    free(s->usage_q);
    free(s->usage_k);
    free(s->usage_v);
    free(s->layer_q);
    free(s->layer_k);
    free(s->layer_v);
    free(s->scores);
    for (int i = 0; i < s->n_roles; i++) free(s->roles[i].margin);
    free(s->roles);
    free(s->ablations);
    memset(s, 0, sizeof *s);
}

static int check_opts(const rl_analysis_opts *o, const rl_model *m) {
    if (o->max_tokens != 0 && (o->max_tokens < 2 || o->max_tokens > (1 << 20)))
        return rl_fail("analyze: max tokens %d must be in [2, 1048576] (or 0 for the model's context)", o->max_tokens);
    if (!(o->threshold > 0 && o->threshold <= 1)) return rl_fail("analyze: threshold %g must be in (0, 1]", o->threshold);
    if (o->n_bands < 1 || o->n_bands > 4096) return rl_fail("analyze: bands %d must be in [1, 4096]", o->n_bands);
    if (!(o->edge_fraction > 0 && o->edge_fraction <= 1))
        return rl_fail("analyze: edge fraction %g must be in (0, 1]", o->edge_fraction);
    if (o->max_knockout_heads < 0 || o->top_heads < 0)
        return rl_fail("analyze: knock-out heads %d and top heads %d must be >= 0", o->max_knockout_heads, o->top_heads);
    if (o->pattern_tokens < 2 || o->pattern_tokens > 1024)
        return rl_fail("analyze: pattern tokens %d must be in [2, 1024]", o->pattern_tokens);
    if (o->table_tokens < 1 || o->table_tokens > 4096)
        return rl_fail("analyze: table tokens %d must be in [1, 4096]", o->table_tokens);
    if (o->heads_layer < -1 || o->heads_layer >= m->cfg.n_layers)
        return rl_fail("analyze: layer %d does not exist (the model has layers 0 .. %d)", o->heads_layer,
                       m->cfg.n_layers - 1);
    if (o->threads < 0 || o->threads > 1024) return rl_fail("analyze: threads %d must be in [0, 1024]", o->threads);
    if (o->capture_bytes < 1) return rl_fail("analyze: capture memory must be > 0 bytes");
    return 0;
}

/* Divides the accumulators into the summary's means and finds the role heads. */
static int results(an_ctx *x) {
    rl_analysis_summary *s = x->s;
    const an_dims *d = &x->d;
    const int L = d->L, H = d->H, KV = d->KV, C = d->C;
    s->loss = x->n_targets ? x->loss_sum / (double)x->n_targets : NAN;
    s->usage_q = malloc((size_t)L * H * C * sizeof(double));
    s->usage_k = malloc((size_t)L * KV * C * sizeof(double));
    s->usage_v = malloc((size_t)L * KV * C * sizeof(double));
    s->layer_q = calloc((size_t)L * C, sizeof(double));
    s->layer_k = calloc((size_t)L * C, sizeof(double));
    s->layer_v = calloc((size_t)L * C, sizeof(double));
    s->scores = malloc((size_t)L * H * AN_NPAT * sizeof(double));
    s->roles = calloc((size_t)L * H, sizeof *s->roles);
    if (!s->usage_q || !s->usage_k || !s->usage_v || !s->layer_q || !s->layer_k || !s->layer_v || !s->scores || !s->roles)
        return rl_fail("out of memory (results)");
    const double nt = (double)x->n_tokens;
    for (int l = 0; l < L; l++)
        for (int c = 0; c < C; c++) {
            for (int h = 0; h < H; h++) {
                size_t i = ((size_t)l * H + h) * C + c;
                s->usage_q[i] = x->sum_q[i] / nt;
                s->layer_q[(size_t)l * C + c] += s->usage_q[i] / H;
            }
            for (int g = 0; g < KV; g++) {
                size_t i = ((size_t)l * KV + g) * C + c;
                s->usage_k[i] = x->sum_k[i] / nt;
                s->usage_v[i] = x->sum_v[i] / nt;
                s->layer_k[(size_t)l * C + c] += s->usage_k[i] / KV;
                s->layer_v[(size_t)l * C + c] += s->usage_v[i] / KV;
            }
        }
    for (size_t i = 0; i < (size_t)L * H * AN_NPAT; i++)
        s->scores[i] = x->score_cnt[i] ? x->score_sum[i] / (double)x->score_cnt[i] : NAN;

    uint8_t *keep = malloc((size_t)C);
    if (!keep) return rl_fail("out of memory");
    for (int l = 0; l < L; l++)
        for (int h = 0; h < H; h++) {
            const size_t hh = (size_t)l * H + h;
            int best = -1;
            for (int p = 0; p < AN_NPAT; p++)
                if (isfinite(s->scores[hh * AN_NPAT + p]) && (best < 0 || s->scores[hh * AN_NPAT + p] > s->scores[hh * AN_NPAT + best]))
                    best = p;
            if (best < 0 || s->scores[hh * AN_NPAT + best] < x->o.threshold) continue;
            rl_analysis_head *r = &s->roles[s->n_roles];
            r->layer = l;
            r->head = h;
            r->kv_head = h / d->rep;
            r->role = (rl_head_role)best;
            r->score = s->scores[hh * AN_NPAT + best];
            r->margin = calloc((size_t)C, sizeof(double));
            if (!r->margin) {
                free(keep);
                return rl_fail("out of memory");
            }
            s->n_roles++;
            const int64_t cnt = x->margin_cnt[hh * AN_NPAT + best];
            r->gap = 0;
            r->top_chunk = 0;
            for (int c = 0; c < C; c++) {
                r->margin[c] = cnt ? x->margin_sum[(hh * AN_NPAT + best) * C + c] / (double)cnt : NAN;
                r->gap += r->margin[c];
                if (r->margin[c] > r->margin[r->top_chunk]) r->top_chunk = c;
            }
            int k = rl_analysis_band_mask(x->freq + (size_t)l * C, C, RL_BAND_HIGH, 1, x->o.edge_fraction, keep);
            double hi = 0;
            for (int c = 0; c < C; c++)
                if (!keep[c]) hi += r->margin[c];
            r->high_share = k > 0 && r->gap > 0 ? hi / r->gap : NAN;
        }
    free(keep);
    /* best score first; ties in (layer, head) order (insertion sort keeps it stable) */
    for (int i = 1; i < s->n_roles; i++) {
        rl_analysis_head v = s->roles[i];
        int j = i;
        while (j > 0 && s->roles[j - 1].score < v.score) {
            s->roles[j] = s->roles[j - 1];
            j--;
        }
        s->roles[j] = v;
    }
    return 0;
}

static void free_ctx(an_ctx *x) {
    an_free_windows(x);
    free(x->freq);
    free(x->sum_q);
    free(x->sum_k);
    free(x->sum_v);
    free(x->score_sum);
    free(x->score_cnt);
    free(x->margin_sum);
    free(x->margin_cnt);
    free(x->tab);
    free(x->pat);
    free(x->ko_pat);
    cJSON_Delete(x->files);
}

int rl_analyze(rl_model *m, const rl_tokenizer *tok, const rl_analysis_text *texts, int n_texts,
               const rl_analysis_opts *opts, const char *out_dir, rl_analysis_summary *summary) {
    rl_analysis_summary local;
    rl_analysis_summary *s = summary ? summary : &local;
    memset(s, 0, sizeof *s);
    rl_analysis_opts o;
    if (opts)
        o = *opts;
    else
        rl_analysis_opts_default(&o);
    if (!out_dir || !*out_dir) return rl_fail("analyze: no output folder");
    if (n_texts < 1 || !texts) return rl_fail("analyze: no text given");
    if (check_opts(&o, m) != 0) return -1;

    const rl_model_config *c = &m->cfg;
    an_ctx x;
    memset(&x, 0, sizeof x);
    x.t0 = rl_now();
    x.m = m;
    x.tok = tok;
    x.o = o;
    x.dir = out_dir;
    x.texts = texts;
    x.n_texts = n_texts;
    x.s = s;
    x.d.L = c->n_layers;
    x.d.H = c->n_heads;
    x.d.KV = c->n_kv_heads;
    x.d.hd = c->head_dim;
    x.d.C = c->head_dim / 2;
    x.d.rep = c->n_heads / c->n_kv_heads;
    x.d.scale = rl_model_attn_scale(c);
    x.window_len = o.max_tokens ? o.max_tokens : RL_MAX(2, RL_MIN(c->max_seq, 1024));
    x.bos = tok ? rl_tok_bos(tok) : -1;
    if (x.bos < 0 && c->bos_id >= 0 && c->bos_id < c->vocab_size) x.bos = c->bos_id;
    x.files = cJSON_CreateArray();
    const int saved_threads = omp_get_max_threads();
    if (o.threads > 0) {
        omp_set_num_threads(o.threads);
        openblas_set_num_threads(o.threads);
    }
    const int L = x.d.L, H = x.d.H, KV = x.d.KV, C = x.d.C;
    int rc = -1;

    if (an_make_windows(&x) != 0) goto done;
    x.T = RL_MIN(o.table_tokens, x.win[0].n);
    x.P = RL_MIN(o.pattern_tokens, x.win[0].n);
    x.freq = malloc((size_t)L * C * sizeof *x.freq);
    x.sum_q = calloc((size_t)L * H * C, sizeof(double));
    x.sum_k = calloc((size_t)L * KV * C, sizeof(double));
    x.sum_v = calloc((size_t)L * KV * C, sizeof(double));
    x.score_sum = calloc((size_t)L * H * AN_NPAT, sizeof(double));
    x.score_cnt = calloc((size_t)L * H * AN_NPAT, sizeof(int64_t));
    x.margin_sum = calloc((size_t)L * H * AN_NPAT * C, sizeof(double));
    x.margin_cnt = calloc((size_t)L * H * AN_NPAT, sizeof(int64_t));
    x.tab = calloc((size_t)L * H * x.T * TAB_N, sizeof(double));
    x.pat = calloc((size_t)L * H * x.P * x.P, sizeof(float));
    if (!x.freq || !x.sum_q || !x.sum_k || !x.sum_v || !x.score_sum || !x.score_cnt || !x.margin_sum || !x.margin_cnt ||
        !x.tab || !x.pat) {
        rl_fail("out of memory (analysis accumulators)");
        goto done;
    }
    for (int l = 0; l < L; l++)
        if (an_layer_freqs(&x, l, x.maxn, x.freq + (size_t)l * C, NULL) != 0) goto done;
    s->n_layers = L;
    s->n_heads = H;
    s->n_kv_heads = KV;
    s->n_chunks = C;
    s->n_texts = n_texts;
    s->n_windows = x.n_win;
    s->n_tokens = x.n_tokens;
    s->n_targets = x.n_targets;
    s->freq = malloc((size_t)L * C * sizeof *s->freq);
    if (!s->freq) {
        rl_fail("out of memory");
        goto done;
    }
    memcpy(s->freq, x.freq, (size_t)L * C * sizeof *s->freq);
    if (rl_mkdirs(out_dir) != 0) goto done;

    if (o.progress && !rl_quiet())
        rl_progress_start(&x.prog, "analyze", (int64_t)x.n_win * an_count_passes(&x, 0), "window");
    else
        x.o.progress = 0;
    if (an_base_pass(&x) != 0 || results(&x) != 0) goto done;
    if (x.o.progress)
        x.prog.total = (int64_t)x.n_win *
                       an_count_passes(&x, o.knockouts ? RL_MIN(s->n_roles, o.max_knockout_heads) : 0);
    if (an_plain_pass(&x) != 0 || an_ablation_passes(&x) != 0 || an_knockout_passes(&x) != 0) goto done;
    if (x.o.progress) rl_progress_finish(&x.prog, NULL);
    s->seconds = rl_now() - x.t0;
    if (o.figures && an_figures(&x) != 0) goto done;
    if (an_write_all(&x) != 0) goto done;
    s->seconds = rl_now() - x.t0;
    rc = 0;
done:
    if (o.threads > 0) {
        omp_set_num_threads(saved_threads);
        openblas_set_num_threads(saved_threads);
    }
    free_ctx(&x);
    if (rc != 0 || !summary) rl_analysis_summary_free(s);
    return rc;
}
