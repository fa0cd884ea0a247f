/* The analyser's numbers as files: freq_usage.csv, heads.csv, head_attribution.csv,
 * logit_tables.csv, ablations.csv, knockouts.csv and summary.json (written last). */
#include "internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int an_open(an_ctx *x, rl_afile *f, const char *name) {
    char path[4096];
    if (rl_path(path, sizeof path, "%s/%s", x->dir, name) != 0) return -1;
    if (rl_afile_open(f, path) != 0) return -1;
    cJSON_AddItemToArray(x->files, cJSON_CreateString(name));
    return 0;
}

int an_commit(rl_afile *f) {
    if (ferror(f->fp)) {
        rl_fail("%s: write error", f->path);
        rl_afile_abort(f);
        return -1;
    }
    return rl_afile_commit(f);
}

void an_chunk_list(const uint8_t *keep, int C, char *buf, size_t n) {
    size_t k = 0;
    buf[0] = '\0';
    for (int c = 0; c < C;) {
        if (keep[c]) {
            c++;
            continue;
        }
        int e = c;
        while (e + 1 < C && !keep[e + 1]) e++;
        int w = e > c ? snprintf(buf + k, n - k, "%s%d-%d", k ? " " : "", c, e) : snprintf(buf + k, n - k, "%s%d", k ? " " : "", c);
        if (w < 0 || (size_t)w >= n - k) break;
        k += (size_t)w;
        c = e + 1;
    }
}

/* A number for CSV: empty when not finite. */
static void num(FILE *f, double v) {
    if (isfinite(v)) fprintf(f, "%.9g", v);
}

static cJSON *jnum(double v) { return isfinite(v) ? cJSON_CreateNumber(v) : cJSON_CreateNull(); }

static cJSON *jarr(const double *v, int n) {
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; i < n; i++) cJSON_AddItemToArray(a, jnum(v[i]));
    return a;
}

/* A [rows][cols] matrix as an array of arrays. */
static cJSON *jmat(const double *v, int rows, int cols) {
    cJSON *a = cJSON_CreateArray();
    for (int r = 0; r < rows; r++) cJSON_AddItemToArray(a, jarr(v + (size_t)r * cols, cols));
    return a;
}

/* ---- CSV files ------------------------------------------------------------------------------- */

static int write_usage(an_ctx *x) {
    const rl_analysis_summary *s = x->s;
    const int L = s->n_layers, H = s->n_heads, KV = s->n_kv_heads, C = s->n_chunks;
    rl_afile f;
    if (an_open(x, &f, "freq_usage.csv") != 0) return -1;
    fprintf(f.fp, "layer,head,kind,chunk,frequency,mean_norm\n");
    for (int l = 0; l < L; l++)
        for (int kind = 0; kind < 3; kind++) {
            const int nh = kind == 0 ? H : KV;
            const double *u = kind == 0 ? s->usage_q : kind == 1 ? s->usage_k : s->usage_v;
            for (int h = 0; h < nh; h++)
                for (int c = 0; c < C; c++)
                    fprintf(f.fp, "%d,%d,%c,%d,%.17g,%.9g\n", l, h, "qkv"[kind], c, s->freq[(size_t)l * C + c],
                            u[((size_t)l * nh + h) * C + c]);
        }
    return an_commit(&f);
}

/* The role head record of (l, h), or NULL. */
static const rl_analysis_head *role_of(const rl_analysis_summary *s, int l, int h) {
    for (int i = 0; i < s->n_roles; i++)
        if (s->roles[i].layer == l && s->roles[i].head == h) return &s->roles[i];
    return NULL;
}

/* Mean margin of chunk c of head (l, h) for pattern p, and the pattern's whole gap. */
static double margin(const an_ctx *x, int l, int h, int p, int c) {
    const size_t hh = (size_t)l * x->d.H + h;
    const int64_t n = x->margin_cnt[hh * AN_NPAT + p];
    return n ? x->margin_sum[(hh * AN_NPAT + p) * x->d.C + c] / (double)n : NAN;
}
static double gap(const an_ctx *x, int l, int h, int p) {
    double g = 0;
    for (int c = 0; c < x->d.C; c++) g += margin(x, l, h, p, c);
    return g;
}

static int best_pattern(const double *sc) {
    int best = 0;
    for (int p = 1; p < AN_NPAT; p++)
        if (!(sc[p] <= sc[best]) && isfinite(sc[p])) best = p;
    return best;
}

static int write_heads(an_ctx *x) {
    const rl_analysis_summary *s = x->s;
    const int L = s->n_layers, H = s->n_heads, C = s->n_chunks;
    uint8_t *keep = malloc((size_t)C);
    if (!keep) return rl_fail("out of memory");
    rl_afile f;
    if (an_open(x, &f, "heads.csv") != 0) {
        free(keep);
        return -1;
    }
    fprintf(f.fp, "layer,head,kv_head,diagonal,previous,first,role,positional,pattern,gap,top_chunk,top_frequency,"
                  "high_share,ko_high_score,ko_high_dloss,ko_low_score,ko_low_dloss\n");
    for (int l = 0; l < L; l++)
        for (int h = 0; h < H; h++) {
            const double *sc = s->scores + ((size_t)l * H + h) * AN_NPAT;
            const rl_analysis_head *r = role_of(s, l, h);
            const int p = r ? (int)r->role : best_pattern(sc);
            fprintf(f.fp, "%d,%d,%d,", l, h, h / x->d.rep);
            for (int k = 0; k < AN_NPAT; k++) num(f.fp, sc[k]), fputc(',', f.fp);
            fprintf(f.fp, "%s,%d,%s,", rl_head_role_name(r ? (int)r->role : -1),
                    r && (r->role == RL_ROLE_DIAGONAL || r->role == RL_ROLE_PREVIOUS), rl_head_role_name(p));
            double g = gap(x, l, h, p);
            int top = 0;
            for (int c = 1; c < C; c++)
                if (margin(x, l, h, p, c) > margin(x, l, h, p, top)) top = c;
            int k = rl_analysis_band_mask(s->freq + (size_t)l * C, C, RL_BAND_HIGH, 1, x->o.edge_fraction, keep);
            double hi = 0;
            for (int c = 0; c < C; c++)
                if (!keep[c]) hi += margin(x, l, h, p, c);
            num(f.fp, g);
            fprintf(f.fp, ",%d,%.17g,", top, s->freq[(size_t)l * C + top]);
            num(f.fp, k > 0 && g > 0 ? hi / g : NAN);
            fputc(',', f.fp);
            num(f.fp, r ? r->ko_high_score : NAN);
            fputc(',', f.fp);
            num(f.fp, r ? r->ko_high_dloss : NAN);
            fputc(',', f.fp);
            num(f.fp, r ? r->ko_low_score : NAN);
            fputc(',', f.fp);
            num(f.fp, r ? r->ko_low_dloss : NAN);
            fputc('\n', f.fp);
        }
    free(keep);
    return an_commit(&f);
}

static int write_attribution(an_ctx *x) {
    const rl_analysis_summary *s = x->s;
    const int L = s->n_layers, H = s->n_heads, C = s->n_chunks;
    rl_afile f;
    if (an_open(x, &f, "head_attribution.csv") != 0) return -1;
    fprintf(f.fp, "layer,head,pattern,chunk,frequency,margin,share\n");
    for (int l = 0; l < L; l++)
        for (int h = 0; h < H; h++)
            for (int p = 0; p < AN_NPAT; p++) {
                double g = gap(x, l, h, p);
                for (int c = 0; c < C; c++) {
                    double mg = margin(x, l, h, p, c);
                    fprintf(f.fp, "%d,%d,%s,%d,%.17g,", l, h, rl_head_role_name(p), c, s->freq[(size_t)l * C + c]);
                    num(f.fp, mg);
                    fputc(',', f.fp);
                    num(f.fp, g > 0 ? mg / g : NAN);
                    fputc('\n', f.fp);
                }
            }
    return an_commit(&f);
}

/* Token text for CSV: quoted, quotes doubled, control bytes as \n, \t, \xNN; control tokens
 * (BOS, EOS) as their stored text. */
static void token_text(FILE *f, const rl_tokenizer *tok, int prev, int id) {
    fputc('"', f);
    size_t len = 0;
    const char *p = NULL;
    if (tok && rl_tok_type_of(tok, id) == RL_TOKT_CONTROL)
        p = rl_tok_text(tok, id, &len); /* BOS / EOS: their stored text ("<s>") instead of nothing */
    else if (tok)
        p = rl_tok_piece(tok, prev, id, &len);
    for (size_t i = 0; p && i < len; i++) {
        unsigned char ch = (unsigned char)p[i];
        if (ch == '"') fputs("\"\"", f);
        else if (ch == '\n') fputs("\\n", f);
        else if (ch == '\t') fputs("\\t", f);
        else if (ch < 0x20 || ch == 0x7f) fprintf(f, "\\x%02x", ch);
        else fputc(ch, f);
    }
    fputc('"', f);
}

static int write_tables(an_ctx *x) {
    const rl_analysis_summary *s = x->s;
    const an_window *w = &x->win[0];
    const int P = x->P;
    rl_afile f;
    if (an_open(x, &f, "logit_tables.csv") != 0) return -1;
    fprintf(f.fp, "layer,head,role,position,token,text,q_norm,k_norm,bound_self,logit_self,bound_prev,logit_prev,"
                  "logit_first,attn_self,attn_prev,attn_first\n");
    for (int r = 0; r < s->n_roles; r++) {
        const rl_analysis_head *hd = &s->roles[r];
        const size_t hh = (size_t)hd->layer * x->d.H + hd->head;
        const float *pat = x->pat + hh * P * P;
        for (int i = 0; i < x->T; i++) {
            const double *tb = x->tab + (hh * x->T + i) * TAB_N;
            fprintf(f.fp, "%d,%d,%s,%d,%d,", hd->layer, hd->head, rl_head_role_name(hd->role), i, w->tok[i]);
            token_text(f.fp, x->tok, i ? w->tok[i - 1] : -1, w->tok[i]);
            const double sc = x->d.scale;
            double v[10] = {tb[TAB_QNORM],
                            tb[TAB_KNORM_SELF],
                            sc * tb[TAB_QNORM] * tb[TAB_KNORM_SELF],
                            tb[TAB_LOGIT_SELF],
                            sc * tb[TAB_QNORM] * tb[TAB_KNORM_PREV],
                            tb[TAB_LOGIT_PREV],
                            tb[TAB_LOGIT_FIRST],
                            i < P ? pat[(size_t)i * P + i] : NAN,
                            i < P && i >= 1 ? pat[(size_t)i * P + i - 1] : NAN,
                            i < P ? pat[(size_t)i * P] : NAN};
            for (int k = 0; k < 10; k++) {
                fputc(',', f.fp);
                num(f.fp, v[k]);
            }
            fputc('\n', f.fp);
        }
    }
    return an_commit(&f);
}

/* The layer with the most rotated chunks (band labels describe it). */
static int widest_layer(const an_ctx *x) {
    int best = 0, most = -1;
    int *order = malloc((size_t)x->d.C * sizeof *order);
    if (!order) return 0;
    for (int l = 0; l < x->d.L; l++) {
        int n = rl_analysis_rotated_order(x->s->freq + (size_t)l * x->d.C, x->d.C, order);
        if (n > most) most = n, best = l;
    }
    free(order);
    return best;
}

/* Chunks of a band in layer l, as text, with its highest and lowest frequency. */
static int band_text(const an_ctx *x, int l, int band, char *buf, size_t n, double *hi_f, double *lo_f) {
    const int C = x->d.C;
    uint8_t keep[C];
    int k = rl_analysis_band_mask(x->s->freq + (size_t)l * C, C, band, x->s->n_bands, x->o.edge_fraction, keep);
    an_chunk_list(keep, C, buf, n);
    *hi_f = -INFINITY, *lo_f = INFINITY;
    for (int c = 0; c < C; c++)
        if (!keep[c]) {
            *hi_f = fmax(*hi_f, x->s->freq[(size_t)l * C + c]);
            *lo_f = fmin(*lo_f, x->s->freq[(size_t)l * C + c]);
        }
    return k;
}

static int write_ablations(an_ctx *x) {
    const rl_analysis_summary *s = x->s;
    const int wl = widest_layer(x);
    rl_afile f;
    if (an_open(x, &f, "ablations.csv") != 0) return -1;
    fprintf(f.fp, "ablation,mode,band,chunks,freq_max,freq_min,layers,loss,dloss\n");
    fprintf(f.fp, "none,none,,,,,0,");
    num(f.fp, s->loss);
    fprintf(f.fp, ",0\n");
    for (int i = 0; i < s->n_ablations; i++) {
        const rl_analysis_ablation *a = &s->ablations[i];
        char chunks[512];
        double fmax, fmin;
        band_text(x, wl, a->band, chunks, sizeof chunks, &fmax, &fmin);
        int layers = 0;
        for (int l = 0; l < x->d.L; l++) {
            char tmp[8];
            double u, v;
            layers += band_text(x, l, a->band, tmp, sizeof tmp, &u, &v) > 0;
        }
        const char *band = strchr(a->name, ':') + 1;
        fprintf(f.fp, "%s,%s,%s,%s,", a->name, a->mode == RL_ABLATE_ZERO ? "zero" : "norotate", band, chunks);
        num(f.fp, fmax);
        fputc(',', f.fp);
        num(f.fp, fmin);
        fprintf(f.fp, ",%d,", layers);
        num(f.fp, a->loss);
        fputc(',', f.fp);
        num(f.fp, a->dloss);
        fputc('\n', f.fp);
    }
    return an_commit(&f);
}

static int write_knockouts(an_ctx *x) {
    const rl_analysis_summary *s = x->s;
    rl_afile f;
    if (an_open(x, &f, "knockouts.csv") != 0) return -1;
    fprintf(f.fp, "layer,head,role,band,chunks,score_before,score_after,dloss\n");
    for (int r = 0; r < s->n_roles; r++) {
        const rl_analysis_head *hd = &s->roles[r];
        for (int which = 0; which < 2; which++) {
            double after = which ? hd->ko_low_score : hd->ko_high_score;
            if (!isfinite(after)) continue;
            char chunks[512];
            double fmax, fmin;
            band_text(x, hd->layer, which ? RL_BAND_LOW : RL_BAND_HIGH, chunks, sizeof chunks, &fmax, &fmin);
            fprintf(f.fp, "%d,%d,%s,%s,%s,%.9g,%.9g,", hd->layer, hd->head, rl_head_role_name(hd->role),
                    which ? "low" : "high", chunks, hd->score, after);
            num(f.fp, which ? hd->ko_low_dloss : hd->ko_high_dloss);
            fputc('\n', f.fp);
        }
    }
    return an_commit(&f);
}

/* ---- summary.json ---------------------------------------------------------------------------- */

static cJSON *model_json(const an_ctx *x) {
    const rl_model_config *c = &x->m->cfg;
    cJSON *j = cJSON_CreateObject();
    if (x->o.model_name) cJSON_AddStringToObject(j, "source", x->o.model_name);
    cJSON_AddStringToObject(j, "arch", rl_arch_name(c->arch));
    cJSON_AddNumberToObject(j, "n_layers", c->n_layers);
    cJSON_AddNumberToObject(j, "n_heads", c->n_heads);
    cJSON_AddNumberToObject(j, "n_kv_heads", c->n_kv_heads);
    cJSON_AddNumberToObject(j, "head_dim", c->head_dim);
    cJSON_AddNumberToObject(j, "n_chunks", c->head_dim / 2);
    cJSON_AddNumberToObject(j, "d_model", c->d_model);
    cJSON_AddNumberToObject(j, "vocab_size", c->vocab_size);
    cJSON_AddNumberToObject(j, "attn_scale", x->d.scale);
    char pe[4096];
    rl_model_config_pe_string(c, pe, sizeof pe);
    cJSON_AddStringToObject(j, "pe", pe);
    return j;
}

static cJSON *head_json(const an_ctx *x, const rl_analysis_head *r) {
    cJSON *h = cJSON_CreateObject();
    cJSON_AddNumberToObject(h, "layer", r->layer);
    cJSON_AddNumberToObject(h, "head", r->head);
    cJSON_AddNumberToObject(h, "kv_head", r->kv_head);
    cJSON_AddStringToObject(h, "role", rl_head_role_name(r->role));
    cJSON_AddItemToObject(h, "score", jnum(r->score));
    cJSON_AddItemToObject(h, "gap", jnum(r->gap));
    cJSON_AddNumberToObject(h, "top_chunk", r->top_chunk);
    cJSON_AddItemToObject(h, "top_frequency", jnum(x->s->freq[(size_t)r->layer * x->d.C + r->top_chunk]));
    cJSON_AddItemToObject(h, "high_share", jnum(r->high_share));
    cJSON_AddItemToObject(h, "margin", jarr(r->margin, x->d.C));
    cJSON *ko = cJSON_AddObjectToObject(h, "knockout");
    cJSON_AddItemToObject(ko, "high_score", jnum(r->ko_high_score));
    cJSON_AddItemToObject(ko, "high_dloss", jnum(r->ko_high_dloss));
    cJSON_AddItemToObject(ko, "low_score", jnum(r->ko_low_score));
    cJSON_AddItemToObject(ko, "low_dloss", jnum(r->ko_low_dloss));
    return h;
}

static int write_summary(an_ctx *x) {
    const rl_analysis_summary *s = x->s;
    const int L = s->n_layers, H = s->n_heads, C = s->n_chunks;
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "tool", "ropelab analyze");
    cJSON_AddItemToObject(j, "model", model_json(x));
    cJSON *st = cJSON_AddObjectToObject(j, "settings");
    cJSON_AddNumberToObject(st, "max_tokens", x->window_len);
    cJSON_AddNumberToObject(st, "bos", x->bos);
    cJSON_AddNumberToObject(st, "threshold", x->o.threshold);
    cJSON_AddNumberToObject(st, "n_bands", s->n_bands);
    cJSON_AddNumberToObject(st, "edge_fraction", x->o.edge_fraction);
    cJSON_AddNumberToObject(st, "table_tokens", x->T);
    cJSON_AddNumberToObject(st, "pattern_tokens", x->P);
    cJSON *tx = cJSON_AddArrayToObject(j, "texts");
    for (int i = 0; i < x->n_texts; i++) {
        cJSON *t = cJSON_CreateObject();
        cJSON_AddStringToObject(t, "name", x->texts[i].name ? x->texts[i].name : "");
        cJSON_AddNumberToObject(t, "tokens", (double)x->text_tokens[i]);
        cJSON_AddNumberToObject(t, "windows", x->text_windows[i]);
        cJSON_AddItemToArray(tx, t);
    }
    cJSON_AddNumberToObject(j, "n_windows", s->n_windows);
    cJSON_AddNumberToObject(j, "n_tokens", (double)s->n_tokens);
    cJSON_AddNumberToObject(j, "n_targets", (double)s->n_targets);
    cJSON_AddItemToObject(j, "loss", jnum(s->loss));
    cJSON_AddItemToObject(j, "frequency", jmat(s->freq, L, C));
    cJSON *u = cJSON_AddObjectToObject(j, "usage_per_layer");
    cJSON_AddItemToObject(u, "q", jmat(s->layer_q, L, C));
    cJSON_AddItemToObject(u, "k", jmat(s->layer_k, L, C));
    cJSON_AddItemToObject(u, "v", jmat(s->layer_v, L, C));
    cJSON *sc = cJSON_AddObjectToObject(j, "scores");
    for (int p = 0; p < AN_NPAT; p++) {
        cJSON *m = cJSON_CreateArray();
        for (int l = 0; l < L; l++) {
            cJSON *row = cJSON_CreateArray();
            for (int h = 0; h < H; h++) cJSON_AddItemToArray(row, jnum(s->scores[((size_t)l * H + h) * AN_NPAT + p]));
            cJSON_AddItemToArray(m, row);
        }
        cJSON_AddItemToObject(sc, rl_head_role_name(p), m);
    }
    cJSON *roles = cJSON_AddArrayToObject(j, "role_heads");
    for (int i = 0; i < s->n_roles; i++) cJSON_AddItemToArray(roles, head_json(x, &s->roles[i]));
    cJSON *ab = cJSON_AddArrayToObject(j, "ablations");
    for (int i = 0; i < s->n_ablations; i++) {
        cJSON *a = cJSON_CreateObject();
        cJSON_AddStringToObject(a, "name", s->ablations[i].name);
        cJSON_AddItemToObject(a, "loss", jnum(s->ablations[i].loss));
        cJSON_AddItemToObject(a, "dloss", jnum(s->ablations[i].dloss));
        cJSON_AddItemToArray(ab, a);
    }
    cJSON_AddNumberToObject(j, "seconds", s->seconds);
    cJSON_AddItemToArray(x->files, cJSON_CreateString("summary.json"));
    cJSON_AddItemToObject(j, "files", cJSON_Duplicate(x->files, 1));
    char *text = cJSON_Print(j);
    cJSON_Delete(j);
    if (!text) return rl_fail("out of memory (summary.json)");
    char path[4096];
    int rc = rl_path(path, sizeof path, "%s/summary.json", x->dir);
    if (rc == 0) {
        size_t n = strlen(text);
        text[n] = '\n'; /* replaces the NUL: the buffer is written with its length */
        rc = rl_write_atomic(path, text, n + 1);
    }
    free(text);
    return rc;
}

int an_write_all(an_ctx *x) {
    if (write_usage(x) != 0 || write_heads(x) != 0 || write_attribution(x) != 0 || write_tables(x) != 0) return -1;
    if (x->s->n_ablations && write_ablations(x) != 0) return -1;
    if (x->o.knockouts && write_knockouts(x) != 0) return -1;
    return write_summary(x);
}
