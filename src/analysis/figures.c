/* The analyser's figures (gnuplot through rl_figure): usage heatmaps per layer and per head, head
 * scores, attribution of the role heads, attention patterns before/after knock-out, ablation and
 * knock-out bar charts. Each reads a fig_*.csv written here. */
#include "internal.h"
#include "ropelab/report.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int figure(an_ctx *x, const char *name, int w, int h, const char *body) {
    rl_figure_opts fo = {w, h};
    if (rl_figure(x->dir, name, body, &fo) != 0) return -1;
    const char *ext[3] = {"gp", "png", "svg"};
    for (int i = 0; i < 3; i++) {
        char fn[300];
        snprintf(fn, sizeof fn, "%s.%s", name, ext[i]);
        cJSON_AddItemToArray(x->files, cJSON_CreateString(fn));
    }
    return 0;
}

static void num(FILE *f, double v) {
    if (isfinite(v)) fprintf(f, "%.6g", v);
}

/* Integer tic steps for an axis of n cells: about 8 labels at most. */
static int tic_step(int n) {
    int st = 1;
    while (n / st > 8) st = st < 2 ? 2 : st < 5 ? 5 : st * 2;
    return st;
}

#define HEAT_HEAD                                                                                          \
    "  set key autotitle columnhead\n  set style fill solid 1.0 noborder\n  set palette rgb 33,13,10\n" \
    "  set tics out\n"

/* One heatmap panel: x = column 1, y = column 2 (cells 0 .. nx-1, 0 .. ny-1; y from the top when
 * yrev), colour = column `col` of csv. Appends to body at *off. */
static void heat_panel(char *body, size_t n, int *off, const char *csv, int col, const char *title, const char *xl,
                       const char *yl, int nx, int ny, int yrev) {
    int k = snprintf(body + *off, n - (size_t)*off,
                     "  set title \"%s\"\n  set xlabel \"%s\"\n  set ylabel \"%s\"\n"
                     "  set xrange [-0.5:%g]\n  set yrange [%g:%g]\n  set xtics 0,%d\n  set ytics 0,%d\n"
                     "  plot '%s' using 1:2:(0.5):(0.5):%d with boxxyerror fc palette notitle\n",
                     title, xl, yl, nx - 0.5, yrev ? ny - 0.5 : -0.5, yrev ? -0.5 : ny - 0.5, tic_step(nx), tic_step(ny),
                     csv, col);
    if (k > 0) *off = RL_MIN(*off + k, (int)n - 1);
}

/* Three heatmaps side by side from columns 3, 4, 5 of csv. */
static int heat_figure(an_ctx *x, const char *name, const char *csv, const char *const titles[3], const char *xl,
                       const char *const yl[3], int nx, const int ny[3], const char *extra, int height) {
    char body[8192];
    int off = snprintf(body, sizeof body, "  set multiplot layout 1,3\n" HEAT_HEAD "%s", extra);
    for (int k = 0; k < 3; k++) heat_panel(body, sizeof body, &off, csv, 3 + k, titles[k], xl, yl[k], nx, ny[k], 0);
    snprintf(body + off, sizeof body - off, "  unset multiplot\n");
    return figure(x, name, 1500, height, body);
}

/* Usage per layer (Fig. 3 as heatmaps). */
static int fig_layers(an_ctx *x) {
    const rl_analysis_summary *s = x->s;
    const int L = s->n_layers, C = s->n_chunks;
    rl_afile f;
    if (an_open(x, &f, "fig_usage_layers.csv") != 0) return -1;
    fprintf(f.fp, "chunk,layer,q,k,v\n");
    for (int l = 0; l < L; l++)
        for (int c = 0; c < C; c++) {
            size_t i = (size_t)l * C + c;
            fprintf(f.fp, "%d,%d,%.6g,%.6g,%.6g\n", c, l, s->layer_q[i], s->layer_k[i], s->layer_v[i]);
        }
    if (an_commit(&f) != 0) return -1;
    const char *const titles[3] = {"mean |query chunk| before rotation (over heads)",
                                   "mean |key chunk| before rotation (over heads)",
                                   "mean |value chunk| (over heads)"};
    const char *const yl[3] = {"layer", "layer", "layer"};
    const int ny[3] = {L, L, L};
    return heat_figure(x, "freq_usage_layers", "fig_usage_layers.csv", titles, "chunk (0 = highest frequency)", yl, C,
                       ny, "", 520);
}

/* Usage per head of one layer (Fig. 4): q per query head, k and v per kv head. */
static int fig_heads(an_ctx *x, int l) {
    const rl_analysis_summary *s = x->s;
    const int H = s->n_heads, KV = s->n_kv_heads, C = s->n_chunks;
    char csv[64], name[64];
    snprintf(csv, sizeof csv, "fig_usage_heads_L%d.csv", l);
    snprintf(name, sizeof name, "freq_usage_heads_L%d", l);
    rl_afile f;
    if (an_open(x, &f, csv) != 0) return -1;
    fprintf(f.fp, "chunk,head,q,k,v\n");
    for (int h = 0; h < H; h++)
        for (int c = 0; c < C; c++) {
            fprintf(f.fp, "%d,%d,%.6g,", c, h, s->usage_q[((size_t)l * H + h) * C + c]);
            if (h < KV)
                fprintf(f.fp, "%.6g,%.6g\n", s->usage_k[((size_t)l * KV + h) * C + c], s->usage_v[((size_t)l * KV + h) * C + c]);
            else
                fprintf(f.fp, ",\n");
        }
    if (an_commit(&f) != 0) return -1;
    char t[3][96];
    snprintf(t[0], sizeof t[0], "layer %d: mean |query chunk|", l);
    snprintf(t[1], sizeof t[1], "layer %d: mean |key chunk|", l);
    snprintf(t[2], sizeof t[2], "layer %d: mean |value chunk|", l);
    const char *const titles[3] = {t[0], t[1], t[2]};
    const char *const yl[3] = {"query head", "kv head", "kv head"};
    const int ny[3] = {H, KV, KV};
    return heat_figure(x, name, csv, titles, "chunk (0 = highest frequency)", yl, C, ny, "", 520);
}

/* Diagonal / previous / first scores of every head. */
static int fig_scores(an_ctx *x) {
    const rl_analysis_summary *s = x->s;
    const int L = s->n_layers, H = s->n_heads;
    rl_afile f;
    if (an_open(x, &f, "fig_head_scores.csv") != 0) return -1;
    fprintf(f.fp, "head,layer,diagonal,previous,first\n");
    for (int l = 0; l < L; l++)
        for (int h = 0; h < H; h++) {
            fprintf(f.fp, "%d,%d", h, l);
            for (int p = 0; p < AN_NPAT; p++) {
                fputc(',', f.fp);
                num(f.fp, s->scores[((size_t)l * H + h) * AN_NPAT + p]);
            }
            fputc('\n', f.fp);
        }
    if (an_commit(&f) != 0) return -1;
    const char *const titles[3] = {"diagonal score (mean attention on itself)", "previous-token score",
                                   "first-token (BOS sink) score"};
    const char *const yl[3] = {"layer", "layer", "layer"};
    const int ny[3] = {L, L, L};
    return heat_figure(x, "head_scores", "fig_head_scores.csv", titles, "head", yl, H, ny, "  set cbrange [0:1]\n",
                       480);
}

/* Share of each role head's margin carried by each chunk. */
static int fig_attribution(an_ctx *x) {
    const rl_analysis_summary *s = x->s;
    const int C = s->n_chunks, n = RL_MIN(s->n_roles, RL_MAX(x->o.top_heads, 1));
    if (n == 0) return 0;
    rl_afile f;
    if (an_open(x, &f, "fig_attribution.csv") != 0) return -1;
    fprintf(f.fp, "chunk");
    for (int r = 0; r < n; r++)
        fprintf(f.fp, ",L%d H%d %s", s->roles[r].layer, s->roles[r].head, rl_head_role_name(s->roles[r].role));
    fputc('\n', f.fp);
    for (int c = 0; c < C; c++) {
        fprintf(f.fp, "%d", c);
        for (int r = 0; r < n; r++) {
            fputc(',', f.fp);
            num(f.fp, s->roles[r].gap > 0 ? s->roles[r].margin[c] / s->roles[r].gap : NAN);
        }
        fputc('\n', f.fp);
    }
    if (an_commit(&f) != 0) return -1;
    char body[4096];
    int off = snprintf(body, sizeof body,
                       "  set key autotitle columnhead top right\n  set title \"which chunks carry each role head's "
                       "pattern (margin of the attended key over the mean of the others)\"\n"
                       "  set xlabel \"chunk (0 = highest frequency)\"\n  set ylabel \"share of the logit margin\"\n"
                       "  set xrange [-0.5:%g]\n  set xtics 0,%d\n  set grid\n  plot ",
                       C - 0.5, tic_step(C));
    for (int r = 0; r < n; r++)
        off += snprintf(body + off, sizeof body - off, "%s'fig_attribution.csv' using 1:%d with linespoints lw 2",
                        r ? ", " : "", r + 2);
    snprintf(body + off, sizeof body - off, "\n");
    return figure(x, "attribution", 900, 520, body);
}

/* Attention pattern of a role head on the first window, before and after its high-band knock-out. */
static int fig_pattern(an_ctx *x, int r) {
    const rl_analysis_summary *s = x->s;
    const rl_analysis_head *hd = &s->roles[r];
    const int P = x->P, H = s->n_heads;
    const float *before = x->pat + ((size_t)hd->layer * H + hd->head) * P * P;
    const float *after = x->ko_pat && isfinite(hd->ko_high_score) ? x->ko_pat + (size_t)r * P * P : NULL;
    char csv[64], name[64];
    snprintf(csv, sizeof csv, "fig_pattern_L%d_H%d.csv", hd->layer, hd->head);
    snprintf(name, sizeof name, "pattern_L%d_H%d", hd->layer, hd->head);
    rl_afile f;
    if (an_open(x, &f, csv) != 0) return -1;
    fprintf(f.fp, "key,query,before,after\n");
    for (int i = 0; i < P; i++)
        for (int j = 0; j <= i; j++) {
            fprintf(f.fp, "%d,%d,%.6g,", j, i, before[(size_t)i * P + j]);
            if (after) fprintf(f.fp, "%.6g", after[(size_t)i * P + j]);
            fputc('\n', f.fp);
        }
    if (an_commit(&f) != 0) return -1;
    char body[4096], chunks[256] = "";
    if (after) {
        uint8_t keep[s->n_chunks];
        rl_analysis_band_mask(s->freq + (size_t)hd->layer * s->n_chunks, s->n_chunks, RL_BAND_HIGH, 1,
                              x->o.edge_fraction, keep);
        an_chunk_list(keep, s->n_chunks, chunks, sizeof chunks);
    }
    int off = snprintf(body, sizeof body, "  set multiplot layout 1,%d\n" HEAT_HEAD "  set cbrange [0:1]\n", after ? 2 : 1);
    for (int k = 0; k < (after ? 2 : 1); k++) {
        char title[300];
        if (k == 0)
            snprintf(title, sizeof title, "layer %d head %d (%s, score %.3f)", hd->layer, hd->head,
                     rl_head_role_name(hd->role), hd->score);
        else
            snprintf(title, sizeof title, "high band (chunks %s) zeroed in this head: score %.3f", chunks,
                     hd->ko_high_score);
        heat_panel(body, sizeof body, &off, csv, 3 + k, title, "key position", "query position", P, P, 1);
    }
    snprintf(body + off, sizeof body - off, "  unset multiplot\n");
    return figure(x, name, after ? 1100 : 600, 520, body);
}

/* Change in loss of every ablation: bars per band, one colour per mode. */
static int fig_ablations(an_ctx *x) {
    const rl_analysis_summary *s = x->s;
    if (s->n_ablations == 0) return 0;
    rl_afile f;
    if (an_open(x, &f, "fig_ablations.csv") != 0) return -1;
    fprintf(f.fp, "band,zero the chunks,stop rotating them\n");
    for (int i = 0; i < s->n_ablations; i++) {
        const rl_analysis_ablation *a = &s->ablations[i];
        if (a->mode != RL_ABLATE_ZERO) continue;
        const char *band = strchr(a->name, ':') + 1;
        fprintf(f.fp, "%s,", band);
        num(f.fp, a->dloss);
        fputc(',', f.fp);
        for (int j = 0; j < s->n_ablations; j++)
            if (s->ablations[j].mode == RL_ABLATE_NOROTATE && s->ablations[j].band == a->band) num(f.fp, s->ablations[j].dloss);
        fputc('\n', f.fp);
    }
    if (an_commit(&f) != 0) return -1;
    char body[2048];
    snprintf(body, sizeof body,
             "  set key autotitle columnhead top left\n  set style data histograms\n"
             "  set style histogram clustered gap 1\n  set style fill solid 0.8 border -1\n"
             "  set title \"change in loss when a band of chunks is ablated in every layer (base %.4f nats)\"\n"
             "  set ylabel \"loss change (nats per token)\"\n  set xlabel \"band (high/low = %g%% of the rotated "
             "chunks; band0 = highest frequencies)\"\n"
             "  set grid ytics\n  set xtics rotate by -30\n"
             "  plot 'fig_ablations.csv' using 2:xtic(1), '' using 3\n",
             s->loss, 100 * x->o.edge_fraction);
    return figure(x, "ablations", 1000, 540, body);
}

/* Score of each knocked-out head before and after. */
static int fig_knockouts(an_ctx *x) {
    const rl_analysis_summary *s = x->s;
    int any = 0;
    for (int r = 0; r < s->n_roles; r++) any |= isfinite(s->roles[r].ko_high_score) || isfinite(s->roles[r].ko_low_score);
    if (!any) return 0;
    rl_afile f;
    if (an_open(x, &f, "fig_knockouts.csv") != 0) return -1;
    fprintf(f.fp, "head,score,high band zeroed,low band zeroed\n");
    for (int r = 0; r < s->n_roles; r++) {
        const rl_analysis_head *hd = &s->roles[r];
        if (!isfinite(hd->ko_high_score) && !isfinite(hd->ko_low_score)) continue;
        fprintf(f.fp, "L%d H%d %s,%.6g,", hd->layer, hd->head, rl_head_role_name(hd->role), hd->score);
        num(f.fp, hd->ko_high_score);
        fputc(',', f.fp);
        num(f.fp, hd->ko_low_score);
        fputc('\n', f.fp);
    }
    if (an_commit(&f) != 0) return -1;
    char body[2048];
    snprintf(body, sizeof body,
             "  set key autotitle columnhead top right\n  set style data histograms\n"
             "  set style histogram clustered gap 1\n  set style fill solid 0.8 border -1\n"
             "  set title \"role heads: score of their pattern before and after zeroing a band in that head\"\n"
             "  set ylabel \"score (mean attention on the pattern)\"\n  set yrange [0:1.05]\n"
             "  set grid ytics\n  set xtics rotate by -30\n"
             "  plot 'fig_knockouts.csv' using 2:xtic(1), '' using 3, '' using 4\n");
    return figure(x, "knockouts", 1000, 540, body);
}

int an_figures(an_ctx *x) {
    const rl_analysis_summary *s = x->s;
    int hl = x->o.heads_layer >= 0 ? x->o.heads_layer : s->n_roles ? s->roles[0].layer : 0;
    if (fig_layers(x) != 0 || fig_heads(x, hl) != 0 || fig_scores(x) != 0 || fig_attribution(x) != 0) return -1;
    for (int r = 0; r < RL_MIN(s->n_roles, x->o.top_heads); r++)
        if (fig_pattern(x, r) != 0) return -1;
    if (fig_ablations(x) != 0 || fig_knockouts(x) != 0) return -1;
    return 0;
}
