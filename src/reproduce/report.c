/* OUT/report/index.html: one self-contained page (figures embedded) built from the gathered
 * results, plus the report's own figures (CSV + gnuplot + PNG + SVG) in OUT/report/figures/. */
#include "repro_internal.h"
#include "ropelab/report.h"
#include "ropelab/util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FIG_DIR "figures"

typedef struct {
    const rp_ctx *x;
    const rp_results *r;
    char dir[4200];     /* OUT/report */
    char figs[4300];    /* OUT/report/figures */
    rl_html h;
    int n_fig;
} rctx;

/* ---- cells ------------------------------------------------------------------------------------ */

/* A number cell holding one sourced value: title "FILE#POINTER" (the test re-reads it). */
static void cell_val(rctx *c, const rp_val *v, const char *fmt) {
    char text[64], title[200];
    if (isfinite(v->v)) snprintf(text, sizeof text, fmt, v->v);
    else snprintf(text, sizeof text, "n/a");
    snprintf(title, sizeof title, "%s#%s", v->src, v->ptr);
    rl_html_raw(&c->h, "<td class=\"num src\" title=\"");
    rl_html_text(&c->h, title);
    rl_html_raw(&c->h, "\">");
    rl_html_text(&c->h, text);
    rl_html_raw(&c->h, "</td>");
}

/* An aggregate cell "mean ± half-width (n)": title lists "FILE#POINTER=value" of every seed. */
static void cell_agg(rctx *c, const rp_val *vals, int n, const char *fmt) {
    rl_ci ci;
    rp_agg(vals, n, &ci);
    char text[128], m[48], hw[48];
    if (!isfinite(ci.mean)) snprintf(text, sizeof text, "n/a");
    else {
        snprintf(m, sizeof m, fmt, ci.mean);
        if (isfinite(ci.half)) {
            snprintf(hw, sizeof hw, fmt, ci.half);
            snprintf(text, sizeof text, "%s \xc2\xb1 %s", m, hw);
        } else {
            snprintf(text, sizeof text, "%s", m);
        }
    }
    size_t cap = 64 + (size_t)n * 200, k = 0;
    char *title = malloc(cap);
    if (!title) return;
    title[0] = '\0';
    for (int i = 0; i < n; i++)
        k += (size_t)snprintf(title + k, cap - k, "%s%s#%s=%.17g", i ? "; " : "", vals[i].src, vals[i].ptr, vals[i].v);
    rl_html_raw(&c->h, "<td class=\"num agg\" title=\"");
    rl_html_text(&c->h, title);
    rl_html_raw(&c->h, "\">");
    rl_html_text(&c->h, text);
    rl_html_raw(&c->h, "</td>");
    free(title);
}

static void cell(rctx *c, const char *text) { rl_html_cell(&c->h, "td", text, NULL); }

static void cellf(rctx *c, const char *fmt, double v) {
    char t[64];
    if (isfinite(v)) snprintf(t, sizeof t, fmt, v);
    else snprintf(t, sizeof t, "n/a");
    rl_html_raw(&c->h, "<td class=\"num\">");
    rl_html_text(&c->h, t);
    rl_html_raw(&c->h, "</td>");
}

static void header_row(rctx *c, const char *const *cols, int n) {
    rl_html_raw(&c->h, "<tr>");
    for (int i = 0; i < n; i++) rl_html_cell(&c->h, "th", cols[i], NULL);
    rl_html_raw(&c->h, "</tr>\n");
}

static void para(rctx *c, const char *cls, const char *text) {
    if (cls) rl_html_rawf(&c->h, "<p class=\"%s\">", cls);
    else rl_html_raw(&c->h, "<p>");
    rl_html_text(&c->h, text);
    rl_html_raw(&c->h, "</p>\n");
}

/* ---- figures ------------------------------------------------------------------------------------ */

/* Embeds DIR_REL/name.png (DIR_REL relative to the report) with links to its SVG, its data file
 * (name.DATA_EXT, when data_ext is not NULL) and its gnuplot script. */
static void embed(rctx *c, const char *dir_rel, const char *name, const char *data_ext, const char *caption) {
    char png[4500], svg[200], data[200], gp[200];
    snprintf(png, sizeof png, "%s/%s/%s.png", c->dir, dir_rel, name);
    snprintf(svg, sizeof svg, "%s/%s.svg", dir_rel, name);
    snprintf(gp, sizeof gp, "%s/%s.gp", dir_rel, name);
    snprintf(data, sizeof data, "%s/%s.%s", dir_rel, name, data_ext ? data_ext : "");
    const char *links[3][2] = {{svg, "SVG"}, {gp, "gnuplot script"}, {data, "data"}};
    c->n_fig++;
    char cap[1200];
    snprintf(cap, sizeof cap, "Figure %d. %s", c->n_fig, caption);
    rl_html_figure(&c->h, png, name, cap, links, data_ext ? 3 : 2);
}

/* Distinguishable line colours (Tableau 10) for the figures with one line per variant. */
#define GP_COLOURS                                                                                                    \
    "set linetype 1 lc rgb \"#1f77b4\"\nset linetype 2 lc rgb \"#ff7f0e\"\nset linetype 3 lc rgb \"#2ca02c\"\n"        \
    "set linetype 4 lc rgb \"#d62728\"\nset linetype 5 lc rgb \"#9467bd\"\nset linetype 6 lc rgb \"#8c564b\"\n"        \
    "set linetype 7 lc rgb \"#e377c2\"\nset linetype 8 lc rgb \"#7f7f7f\"\nset linetype 9 lc rgb \"#bcbd22\"\n"        \
    "set linetype 10 lc rgb \"#17becf\"\nset linetype cycle 10\n"

/* "set ytics (...)" for a log axis over [lo, hi]: 1, 1.5, 2, 3, 5, 7 times powers of ten (gnuplot only
 * labels the decades by itself, often a single tick on a perplexity axis). */
static int log_tics(char *buf, size_t n, double lo, double hi) {
    static const double mant[] = {1, 1.5, 2, 3, 5, 7};
    if (!(lo > 0) || !(hi >= lo)) return snprintf(buf, n, "%s", "");
    int k = snprintf(buf, n, "set ytics (");
    int first = 1;
    for (int e = (int)floor(log10(lo)) - 1; e <= (int)ceil(log10(hi)) && k < (int)n - 32; e++)
        for (size_t i = 0; i < RL_ARRAY_LEN(mant); i++) {
            double t = mant[i] * pow(10, e);
            if (t < lo / 1.2 || t > hi * 1.2) continue;
            k += snprintf(buf + k, n - (size_t)k, "%s%g", first ? "" : ", ", t);
            first = 0;
        }
    return k + snprintf(buf + k, n - (size_t)k, ")\n");
}

/* gnuplot's word list of the variant names ("nope rope p0.75 ..."). */
static void name_words(const rp_ctx *x, char *buf, size_t n) {
    size_t k = 0;
    buf[0] = '\0';
    for (int v = 0; v < x->n_variants && k < n; v++)
        k += (size_t)snprintf(buf + k, n - k, "%s%s", v ? " " : "", x->variants[v].name);
}

static int open_csv(rctx *c, const char *name, rl_afile *f) {
    char path[4500];
    if (rl_path(path, sizeof path, "%s/%s.csv", c->figs, name) != 0) return -1;
    return rl_afile_open(f, path);
}

/* NAME.csv: one block per variant (gnuplot's `index`), rows context,mean,lo,hi,n of ci[v][m] (the mean
 * standing in for a missing bound), after a comment line. */
static int write_ci_blocks(rctx *c, const char *name, const char *comment, rl_ci ci[][RP_MAX_MULTS]) {
    const rp_ctx *x = c->x;
    const rl_repro_scale *sc = x->scale;
    rl_afile f;
    if (open_csv(c, name, &f) != 0) return -1;
    fprintf(f.fp, "# %s; one block per variant, in the order of the key\n", comment);
    for (int v = 0; v < x->n_variants; v++) {
        fprintf(f.fp, "# variant %s\ncontext,mean,lo,hi,n\n", x->variants[v].name);
        for (int m = 0; m < sc->n_mults; m++) {
            const rl_ci *q = &ci[v][m];
            if (!isfinite(q->mean)) continue;
            fprintf(f.fp, "%d,%.9g,%.9g,%.9g,%d\n", sc->mults[m] * sc->ctx, q->mean, isfinite(q->lo) ? q->lo : q->mean,
                    isfinite(q->hi) ? q->hi : q->mean, q->n);
        }
        fprintf(f.fp, "\n\n");
    }
    return rl_afile_commit(&f);
}

/* Perplexity against the evaluation context (mean and 95% interval over seeds), one line per variant;
 * softmax k. Returns 1 when drawn, 0 when there is nothing to draw, -1 on error. */
static int fig_ppl_context(rctx *c, int k, const char *name) {
    const rp_ctx *x = c->x;
    const rl_repro_scale *sc = x->scale;
    rl_ci ci[RP_MAX_VARIANTS][RP_MAX_MULTS];
    int any = 0;
    for (int v = 0; v < x->n_variants; v++)
        for (int m = 0; m < sc->n_mults; m++) {
            rp_val vals[RP_MAX_SEEDS];
            rp_agg(vals, rp_seed_ppl(x, c->r, v, k, m, vals), &ci[v][m]);
            any |= isfinite(ci[v][m].mean);
        }
    if (!any) return 0;
    char comment[300];
    snprintf(comment, sizeof comment,
             "validation perplexity (%s softmax) per variant, mean and 95%% t-interval over seeds, read from the "
             "evals/*/eval.json files listed in report/summary.json",
             k == RP_PLAIN ? "plain" : "adaptive");
    if (write_ci_blocks(c, name, comment, ci) != 0) return -1;
    double lo = INFINITY, hi = 0;
    for (int v = 0; v < x->n_variants; v++)
        for (int m = 0; m < sc->n_mults; m++) {
            const rl_ci *q = &ci[v][m];
            if (!isfinite(q->mean)) continue;
            lo = fmin(lo, isfinite(q->lo) && q->lo > 0 ? q->lo : q->mean);
            hi = fmax(hi, isfinite(q->hi) ? q->hi : q->mean);
        }
    if (c->r->have_unigram) hi = fmax(hi, exp(c->r->unigram_loss.v));
    char words[1200], body[8192], tics[1024];
    name_words(x, words, sizeof words);
    log_tics(tics, sizeof tics, lo, hi);
    int n = snprintf(body, sizeof body,
                     GP_COLOURS "names = \"%s\"\n%s"
                     "set logscale x 2\nset logscale y\nset grid\nset autoscale yfix\n"
                     "set offsets graph 0.03, graph 0.03, graph 0.05, graph 0.05\n"
                     "set xlabel \"evaluation context (tokens); training context %d\"\n"
                     "set ylabel \"validation perplexity (%s softmax)\"\n"
                     "set key outside right top\n",
                     words, tics, sc->ctx, k == RP_PLAIN ? "plain" : "adaptive");
    if (c->r->have_unigram)
        n += snprintf(body + n, sizeof body - (size_t)n, "unigram = %.9g\n", exp(c->r->unigram_loss.v));
    snprintf(body + n, sizeof body - (size_t)n,
             "plot for [i=0:%d] \"%s.csv\" index i every ::1 using 1:2:3:4 with yerrorlines lw 1.5 pt 7 ps 0.6 "
             "title word(names, i+1)%s\n",
             x->n_variants - 1, name, c->r->have_unigram ? ", unigram with lines dt 3 lc rgb \"black\" title "
                                                           "\"unigram baseline\"" : "");
    rl_figure_opts fo = {900, 520};
    return rl_figure(c->figs, name, body, &fo) == 0 ? 1 : -1;
}

/* Adaptive / plain perplexity ratio per context (mean and interval over seeds of the per-seed ratio). */
static int fig_adaptive(rctx *c) {
    const rp_ctx *x = c->x;
    const rl_repro_scale *sc = x->scale;
    rl_ci ci[RP_MAX_VARIANTS][RP_MAX_MULTS];
    int any = 0;
    for (int v = 0; v < x->n_variants; v++)
        for (int m = 0; m < sc->n_mults; m++) {
            double ratio[RP_MAX_SEEDS];
            int n = 0;
            for (int s = 0; s < x->seeds; s++) {
                const rp_eval *e = &c->r->eval[v][s];
                if (e->have && e->n_softmax == 2) ratio[n++] = e->ppl[RP_ADAPTIVE][m].v / e->ppl[RP_PLAIN][m].v;
            }
            rl_ci_t(ratio, n, 0.95, &ci[v][m]);
            any |= isfinite(ci[v][m].mean);
        }
    if (!any) return 0;
    if (write_ci_blocks(c, "adaptive_ratio", "ppl(adaptive softmax) / ppl(plain softmax) per variant and context, "
                        "mean and 95% t-interval over seeds of the per-seed ratio", ci) != 0)
        return -1;
    char words[1200], body[4096];
    name_words(x, words, sizeof words);
    snprintf(body, sizeof body,
             GP_COLOURS "names = \"%s\"\nset logscale x 2\nset grid\nset autoscale yfix\n"
             "set offsets graph 0.03, graph 0.03, graph 0.05, graph 0.05\n"
             "set xlabel \"evaluation context (tokens); training context %d\"\n"
             "set ylabel \"perplexity ratio adaptive / plain (below 1: adaptive helps)\"\n"
             "set key outside right top\n"
             "plot for [i=0:%d] \"adaptive_ratio.csv\" index i every ::1 using 1:2:3:4 with yerrorlines lw 1.5 pt 7 "
             "ps 0.6 title word(names, i+1), 1 with lines dt 2 lc rgb \"black\" notitle\n",
             words, sc->ctx, x->n_variants - 1);
    rl_figure_opts fo = {900, 520};
    return rl_figure(c->figs, "adaptive_ratio", body, &fo) == 0 ? 1 : -1;
}

/* Mean (q+k)/2 chunk norm per layer and chunk of several analyses (seeds), averaged; usage: [L][C]. */
static int mean_usage(const rp_analysis *const *as, int n, double *usage, double *freq, int *L, int *C) {
    if (n == 0) return 0;
    *L = as[0]->L;
    *C = as[0]->C;
    size_t LC = (size_t)*L * *C;
    for (size_t i = 0; i < LC; i++) usage[i] = 0;
    memcpy(freq, as[0]->freq, LC * sizeof *freq);
    for (int s = 0; s < n; s++)
        for (size_t i = 0; i < LC; i++) usage[i] += as[s]->usage[i] / n;
    return 1;
}

/* Heatmap of one usage matrix; boundaries between rotated and unrotated chunks (layer 0) drawn. */
static int fig_heatmap(rctx *c, const char *name, const char *title, const double *usage, const double *freq, int L,
                       int C, const char *sources) {
    rl_afile f;
    if (open_csv(c, name, &f) != 0) return -1;
    fprintf(f.fp, "# mean 2-norm of each query/key chunk before rotation ((q + k) / 2, averaged over heads and, for "
                  "trained variants, over seeds); chunk 0 = highest frequency. From: %s\nlayer,chunk,frequency,norm\n",
            sources);
    for (int l = 0; l < L; l++)
        for (int k = 0; k < C; k++)
            fprintf(f.fp, "%d,%d,%.9g,%.9g\n", l, k, freq[(size_t)l * C + k], usage[(size_t)l * C + k]);
    if (rl_afile_commit(&f) != 0) return -1;
    char body[8192], esc[512];
    rl_gp_escape(esc, sizeof esc, title);
    int n = snprintf(body, sizeof body,
                     "set title \"%s\"\nset xlabel \"chunk (0 = highest frequency)\"\nset ylabel \"layer\"\n"
                     "set cblabel \"mean q/k chunk norm\"\nset xrange [-0.5:%d.5]\nset yrange [-0.5:%d.5]\n"
                     "set xtics 1\nset ytics 1\n"
                     "set palette defined (0 \"white\", 1 \"#9ecae1\", 2 \"#3182bd\", 3 \"#08306b\")\n",
                     esc, C - 1, L - 1);
    for (int k = 1; k < C && n < (int)sizeof body - 200; k++)
        if ((freq[k] > 0) != (freq[k - 1] > 0))
            n += snprintf(body + n, sizeof body - (size_t)n,
                          "set arrow from %d.5, graph 0 to %d.5, graph 1 nohead lc rgb \"red\" lw 2 front\n", k - 1,
                          k - 1);
    snprintf(body + n, sizeof body - (size_t)n, "plot \"%s.csv\" every ::1 using 2:1:4 with image notitle\n", name);
    rl_figure_opts fo = {760, 60 + 40 * (L < 4 ? 4 : L > 24 ? 24 : L)};
    if (fo.height < 320) fo.height = 320;
    return rl_figure(c->figs, name, body, &fo);
}

/* Usage profile: the layer-averaged usage per chunk, divided by the variant's mean, one line per variant. */
static int fig_profile(rctx *c, double *const *usage, const int *have, int L, int C) {
    const rp_ctx *x = c->x;
    rl_afile f;
    if (open_csv(c, "usage_profile", &f) != 0) return -1;
    fprintf(f.fp, "# per variant: mean q/k chunk norm over layers (and seeds) divided by its mean over all chunks; "
                  "one block per variant\n");
    for (int v = 0; v < x->n_variants; v++) {
        fprintf(f.fp, "# variant %s\nchunk,relative_norm\n", x->variants[v].name);
        if (have[v]) {
            double all = 0;
            for (int i = 0; i < L * C; i++) all += usage[v][i] / (L * C);
            for (int k = 0; k < C; k++) {
                double m = 0;
                for (int l = 0; l < L; l++) m += usage[v][(size_t)l * C + k] / L;
                fprintf(f.fp, "%d,%.9g\n", k, m / all);
            }
        }
        fprintf(f.fp, "\n\n");
    }
    if (rl_afile_commit(&f) != 0) return -1;
    char words[1200], body[4096];
    name_words(x, words, sizeof words);
    snprintf(body, sizeof body,
             GP_COLOURS "names = \"%s\"\nset grid\nset xlabel \"chunk (0 = highest frequency)\"\n"
             "set ylabel \"mean q/k chunk norm / its mean over chunks\"\nset key outside right top\n"
             "plot for [i=0:%d] \"usage_profile.csv\" index i every ::1 using 1:2 with linespoints pt 7 ps 0.5 "
             "title word(names, i+1)\n",
             words, x->n_variants - 1);
    rl_figure_opts fo = {900, 480};
    return rl_figure(c->figs, "usage_profile", body, &fo);
}

/* ---- sections ----------------------------------------------------------------------------------- */

static const char *verdict_class(rl_verdict v) {
    return v == RL_VERDICT_SUPPORTED ? "supported" : v == RL_VERDICT_NOT_SUPPORTED ? "notsupported" : "inconclusive";
}

static void section_claims(rctx *c) {
    const rp_results *r = c->r;
    rl_html_elem(&c->h, "h2", "Claims");
    para(c, "note", "Each claim of the paper this run can test, the statistic computed for it from the run folders, "
                    "and the verdict that the rule beside it derives from those numbers (rules are code: "
                    "src/reproduce/claims.c and the theory experiments; nothing here is typed in by hand). "
                    "Hover a number in the tables below to see the file and JSON pointer it was read from.");
    int count[3] = {0, 0, 0};
    for (int i = 0; i < r->n_claims; i++) count[r->claims[i].verdict]++;
    char line[256];
    snprintf(line, sizeof line, "%d claims: %d supported, %d not supported, %d inconclusive.", r->n_claims,
             count[RL_VERDICT_SUPPORTED], count[RL_VERDICT_NOT_SUPPORTED], count[RL_VERDICT_INCONCLUSIVE]);
    para(c, NULL, line);
    rl_html_raw(&c->h, "<table>\n");
    const char *cols[] = {"claim", "paper", "statistic (this run)", "verdict", "rule"};
    header_row(c, cols, 5);
    for (int i = 0; i < r->n_claims; i++) {
        const rl_claim *cl = &r->claims[i];
        rl_html_raw(&c->h, "<tr>");
        rl_html_raw(&c->h, "<td>");
        rl_html_text(&c->h, cl->claim);
        rl_html_raw(&c->h, "<br><span class=\"note\">");
        rl_html_text(&c->h, cl->id);
        rl_html_raw(&c->h, "</span></td>");
        cell(c, cl->paper);
        cell(c, cl->statistic);
        rl_html_rawf(&c->h, "<td class=\"%s\">", verdict_class(cl->verdict));
        rl_html_text(&c->h, rl_verdict_name(cl->verdict));
        rl_html_raw(&c->h, "</td><td class=\"rule\">");
        rl_html_text(&c->h, cl->rule);
        rl_html_raw(&c->h, "</td></tr>\n");
    }
    rl_html_raw(&c->h, "</table>\n");
}

static void section_theory(rctx *c) {
    const rp_theory *t = &c->r->theory;
    rl_html_elem(&c->h, "h2", "1. Theory");
    if (!t->have) {
        para(c, "note", "The theory stage has not run.");
        return;
    }
    char note[300];
    snprintf(note, sizeof note, "Measured by `ropelab theory` (docs/theory.md) into %s; its summary.json holds every "
                                "statistic.", t->dir);
    para(c, "note", note);
    for (int i = 0; i < t->n; i++) {
        char h3[200];
        snprintf(h3, sizeof h3, "%s (%s): %s", t->name[i], t->claim[i].paper, rl_verdict_name(t->claim[i].verdict));
        rl_html_elem(&c->h, "h3", h3);
        para(c, NULL, t->claim[i].claim);
        para(c, "note", t->claim[i].statistic);
        char rel[128];
        snprintf(rel, sizeof rel, "../%s", t->dir);
        for (int f = 0; f < t->n_figures[i]; f++) {
            char cap[300];
            snprintf(cap, sizeof cap, "%s, %s: %s.png of the theory experiment %s (docs/theory.md explains it).",
                     t->claim[i].paper, t->name[i], t->figures[i][f], t->name[i]);
            embed(c, rel, t->figures[i][f], NULL, cap);
        }
    }
}

static void section_ppl(rctx *c) {
    const rp_ctx *x = c->x;
    const rp_results *r = c->r;
    rl_html_elem(&c->h, "h2", "2. Perplexity: the Table 2 grid");
    char note[800];
    snprintf(note, sizeof note,
             "Each variant trained from scratch %d time(s) (seeds 0..%d: initialisation and batch order) on the same "
             "data with the same budget (%lld steps of %d x %d tokens), evaluated on the held-out split at its "
             "training context %d. Ours: mean \xc2\xb1 half-width of the 95%% Student-t interval over seeds. The "
             "paper's numbers are single runs of Gemma 2B at 8k context on Wiki and FlanV2, so only the ordering "
             "is comparable, not the values.",
             x->seeds, x->seeds - 1, (long long)x->scale->steps, x->scale->batch, x->scale->ctx, x->scale->ctx);
    para(c, "note", note);
    if (r->have_unigram) {
        char u[300];
        snprintf(u, sizeof u, "Unigram baseline (token frequencies only): perplexity %.3f; every trained model should "
                              "be far below it.", exp(r->unigram_loss.v));
        para(c, NULL, u);
    }
    /* ranks (1 = lowest perplexity): the paper's Wiki column among the variants it has, and ours */
    double ours[RP_MAX_VARIANTS];
    for (int v = 0; v < x->n_variants; v++) {
        rp_val vals[RP_MAX_SEEDS];
        rl_ci ci;
        rp_agg(vals, rp_seed_ppl(x, r, v, RP_PLAIN, 0, vals), &ci);
        ours[v] = ci.mean;
    }
    rl_html_raw(&c->h, "<table>\n");
    const char *cols[] = {"variant", "encoding", "paper Wiki", "paper FlanV2", "paper rank (Wiki)", "ours (ppl)",
                          "our rank", "per seed"};
    header_row(c, cols, 8);
    for (int v = 0; v < x->n_variants; v++) {
        rp_val vals[RP_MAX_SEEDS];
        int n = rp_seed_ppl(x, r, v, RP_PLAIN, 0, vals);
        int prank = 1, orank = 1;
        for (int w = 0; w < x->n_variants; w++) {
            prank += x->variants[w].paper_wiki < x->variants[v].paper_wiki;
            orank += ours[w] < ours[v];
        }
        rl_html_raw(&c->h, "<tr>");
        cell(c, x->variants[v].label);
        rl_html_raw(&c->h, "<td><code>");
        rl_html_text(&c->h, x->variants[v].pe);
        rl_html_raw(&c->h, "</code></td>");
        cellf(c, "%.4f", x->variants[v].paper_wiki);
        cellf(c, "%.4f", x->variants[v].paper_flan);
        cellf(c, "%.0f", isnan(x->variants[v].paper_wiki) ? NAN : prank);
        cell_agg(c, vals, n, "%.3f");
        cellf(c, "%.0f", isnan(ours[v]) ? NAN : orank);
        rl_html_raw(&c->h, "<td><table>");
        for (int i = 0; i < n; i++) {
            rl_html_raw(&c->h, "<tr>");
            cell_val(c, &vals[i], "%.3f");
            rl_html_raw(&c->h, "</tr>");
        }
        rl_html_raw(&c->h, "</table></td></tr>\n");
    }
    rl_html_raw(&c->h, "</table>\n");
}

/* Perplexity per variant (rows; one per softmax when n_softmax > 1) and context multiple (columns). */
static void ppl_table(rctx *c, int n_softmax) {
    const rp_ctx *x = c->x;
    const rl_repro_scale *sc = x->scale;
    rl_html_rawf(&c->h, "<table>\n<tr><th>variant</th>%s", n_softmax > 1 ? "<th>softmax</th>" : "");
    for (int m = 0; m < sc->n_mults; m++) rl_html_rawf(&c->h, "<th>%dx (%d)</th>", sc->mults[m], sc->mults[m] * sc->ctx);
    rl_html_raw(&c->h, "</tr>\n");
    for (int v = 0; v < x->n_variants; v++)
        for (int k = 0; k < n_softmax; k++) {
            rl_html_raw(&c->h, "<tr>");
            cell(c, k == 0 ? x->variants[v].label : "");
            if (n_softmax > 1) cell(c, k == RP_PLAIN ? "plain" : "adaptive");
            for (int m = 0; m < sc->n_mults; m++) {
                rp_val vals[RP_MAX_SEEDS];
                cell_agg(c, vals, rp_seed_ppl(x, c->r, v, k, m, vals), "%.3f");
            }
            rl_html_raw(&c->h, "</tr>\n");
        }
    rl_html_raw(&c->h, "</table>\n");
}

static int section_long(rctx *c) {
    rl_html_elem(&c->h, "h2", "3. Long contexts");
    para(c, "note", "Every run evaluated at multiples of its training context (positions restart at 0 in every "
                    "window; the same validation tokens cut into longer windows): the question the paper could not "
                    "afford. Mean \xc2\xb1 95% interval over seeds.");
    int rc = fig_ppl_context(c, RP_PLAIN, "ppl_context");
    if (rc < 0) return -1;
    if (rc > 0) embed(c, FIG_DIR, "ppl_context", "csv", "Validation perplexity against the evaluation context (log "
                                                        "scales); the first point is the training context.");
    ppl_table(c, 1);
    return 0;
}

static int section_adaptive(rctx *c) {
    const rp_ctx *x = c->x;
    rl_html_elem(&c->h, "h2", "4. Plain versus adaptive-temperature softmax");
    if (x->n_softmax < 2) {
        para(c, "note", "Not run: this build's model has no adaptive-temperature attention.");
        return 0;
    }
    para(c, "note", "Each trained model evaluated twice on the same windows: with its plain softmax, and with the "
                    "adaptive temperature of \"Softmax is not enough\" applied at inference (each attention row "
                    "sharpened by beta(entropy)). Ratio below 1: adaptive lowers perplexity.");
    int rc = fig_adaptive(c);
    if (rc < 0) return -1;
    if (rc > 0) embed(c, FIG_DIR, "adaptive_ratio", "csv", "Perplexity with adaptive temperature divided by plain, per "
                                                           "variant and evaluation context (mean and 95% interval over "
                                                           "seeds of the per-seed ratio).");
    ppl_table(c, RP_NSOFTMAX);
    return 0;
}

static int section_usage(rctx *c) {
    const rp_ctx *x = c->x;
    const rp_results *r = c->r;
    rl_html_elem(&c->h, "h2", "5. Frequency usage");
    para(c, "note", "The paper's Fig. 3 for every trained variant: the mean 2-norm of each query/key chunk before "
                    "rotation, per layer, averaged over heads, seeds and the analysed validation tokens. Chunk 0 is "
                    "the highest frequency. Red lines separate rotated from unrotated (frequency 0) chunks.");
    double *usage[RP_MAX_VARIANTS] = {0};
    int have[RP_MAX_VARIANTS] = {0}, L = 0, C = 0, rc = 0;
    for (int v = 0; v < x->n_variants && rc == 0; v++) {
        const rp_analysis *as[RP_MAX_SEEDS];
        int n = 0;
        size_t k = 0;
        char sources[2048] = "";
        for (int s = 0; s < x->seeds; s++)
            if (r->an[v][s].have) {
                as[n++] = &r->an[v][s];
                if (k < sizeof sources)
                    k += (size_t)snprintf(sources + k, sizeof sources - k, "%s%s", k ? " " : "", r->an[v][s].src);
            }
        if (n == 0) continue;
        size_t LC = (size_t)as[0]->L * as[0]->C;
        usage[v] = malloc(LC * sizeof(double));
        double *fq = malloc(LC * sizeof(double));
        if (!usage[v] || !fq) {
            free(fq);
            rc = rl_fail("out of memory");
            break;
        }
        mean_usage(as, n, usage[v], fq, &L, &C);
        have[v] = 1;
        char name[64], title[160], cap[400];
        snprintf(name, sizeof name, "usage_%s", x->variants[v].name);
        snprintf(title, sizeof title, "%s: q/k chunk norms (%d seed%s)", x->variants[v].label, n, n > 1 ? "s" : "");
        if (fig_heatmap(c, name, title, usage[v], fq, L, C, sources) != 0) rc = -1;
        else {
            snprintf(cap, sizeof cap, "%s (%s): mean q/k chunk norm per layer and chunk.", x->variants[v].label,
                     x->variants[v].pe);
            embed(c, FIG_DIR, name, "csv", cap);
        }
        free(fq);
    }
    int any = 0;
    for (int v = 0; v < x->n_variants; v++) any |= have[v];
    if (rc == 0 && any) {
        if (fig_profile(c, usage, have, L, C) != 0) rc = -1;
        else embed(c, FIG_DIR, "usage_profile", "csv", "Usage profile of every variant: the layer-averaged chunk norm "
                                                       "relative to its mean. RoPE models are expected to rise toward "
                                                       "the lowest frequencies (right).");
    }
    if (!any) para(c, "note", "No analysis has run.");
    for (int v = 0; v < x->n_variants; v++) free(usage[v]);
    return rc;
}

static void heads_header(rctx *c) {
    const char *cols[] = {"model", "layer", "head", "role", "score", "high-band share of its margin", "top chunk",
                          "score, high band knocked out", "score, low band knocked out"};
    header_row(c, cols, 9);
}

/* One row per role head of analysis a; the first row names the model. */
static void heads_rows(rctx *c, const rp_analysis *a, const char *label) {
    for (int h = 0; h < a->n_heads; h++) {
        const rp_head *d = &a->heads[h];
        char l[16], hh[16];
        snprintf(l, sizeof l, "%d", d->layer);
        snprintf(hh, sizeof hh, "%d", d->head);
        rl_html_raw(&c->h, "<tr>");
        cell(c, h == 0 ? label : "");
        cell(c, l);
        cell(c, hh);
        cell(c, d->role);
        cell_val(c, &d->score, "%.3f");
        cell_val(c, &d->high_share, "%.3f");
        cell_val(c, &d->top_chunk, "%.0f");
        cell_val(c, &d->ko_high, "%.3f");
        cell_val(c, &d->ko_low, "%.3f");
        rl_html_raw(&c->h, "</tr>\n");
    }
}

static void heads_table(rctx *c, const rp_analysis *a, const char *label) {
    if (a->n_heads == 0) return;
    rl_html_raw(&c->h, "<table>\n");
    heads_header(c);
    heads_rows(c, a, label);
    rl_html_raw(&c->h, "</table>\n");
}

static void section_heads(rctx *c) {
    const rp_ctx *x = c->x;
    rl_html_elem(&c->h, "h2", "6. Positional heads and their frequencies");
    para(c, "note", "Heads the analyser gave a role (diagonal, previous-token, first-token), the share of the role's "
                    "logit margin carried by the highest-frequency band (exact per-chunk decomposition), and the "
                    "role score after knocking that band (or, as a control, the lowest band) out of the head's "
                    "query. The paper's claim: positional heads are built from the highest frequencies.");
    int any = 0;
    for (int v = 0; v < x->n_variants; v++)
        for (int s = 0; s < x->seeds; s++) {
            const rp_analysis *a = &c->r->an[v][s];
            if (!a->have || a->n_heads == 0) continue;
            char label[96];
            snprintf(label, sizeof label, "%s, seed %d", x->variants[v].label, s);
            if (!any) {
                rl_html_raw(&c->h, "<table>\n");
                heads_header(c);
            }
            heads_rows(c, a, label);
            any = 1;
        }
    if (any) rl_html_raw(&c->h, "</table>\n");
    else para(c, "note", "No head reached the role threshold in any analysed model.");
}

static void section_ablations(rctx *c) {
    const rp_ctx *x = c->x;
    rl_html_elem(&c->h, "h2", "7. Frequency ablations at inference");
    para(c, "note", "Increase of the mean validation loss (nats per token) when a band of chunks is zeroed or kept "
                    "but no longer rotated, in every layer (the analyser's ablations); mean \xc2\xb1 95% interval over "
                    "seeds.");
    int any = 0;
    for (int v = 0; v < x->n_variants; v++) {
        const rp_analysis *first = NULL;
        for (int s = 0; s < x->seeds && !first; s++)
            if (c->r->an[v][s].have) first = &c->r->an[v][s];
        if (!first || first->n_ablations == 0) continue;
        if (!any) {
            rl_html_raw(&c->h, "<table>\n");
            const char *cols[] = {"variant", "ablation", "loss increase (nats)"};
            header_row(c, cols, 3);
            any = 1;
        }
        for (int i = 0; i < first->n_ablations; i++) {
            rp_val vals[RP_MAX_SEEDS];
            int n = 0;
            for (int s = 0; s < x->seeds; s++) {
                const rp_analysis *a = &c->r->an[v][s];
                if (a->have && i < a->n_ablations && strcmp(a->ablation_name[i], first->ablation_name[i]) == 0)
                    vals[n++] = a->dloss[i];
            }
            rl_html_raw(&c->h, "<tr>");
            cell(c, i == 0 ? x->variants[v].label : "");
            cell(c, first->ablation_name[i]);
            cell_agg(c, vals, n, "%.4f");
            rl_html_raw(&c->h, "</tr>\n");
        }
    }
    if (any) rl_html_raw(&c->h, "</table>\n");
    else para(c, "note", "No ablation has run.");
}

static int section_pretrained(rctx *c) {
    const rp_ctx *x = c->x;
    rl_html_elem(&c->h, "h2", "8. Pretrained models");
    if (x->o.n_models == 0) {
        para(c, "note", "None given (--model PATH).");
        return 0;
    }
    for (int m = 0; m < x->o.n_models && m < RP_MAX_MODELS; m++) {
        const rp_analysis *a = &c->r->pre[m];
        rl_html_elem(&c->h, "h3", x->o.models[m]);
        if (!a->have) {
            para(c, "note", "Not analysed.");
            continue;
        }
        char name[32], cap[4300];
        snprintf(name, sizeof name, "usage_pretrained%d", m);
        const rp_analysis *as[1] = {a};
        int L, C;
        double *u = malloc((size_t)a->L * a->C * sizeof *u), *fq = malloc((size_t)a->L * a->C * sizeof *fq);
        if (!u || !fq) {
            free(u);
            free(fq);
            return rl_fail("out of memory");
        }
        mean_usage(as, 1, u, fq, &L, &C);
        int rc = fig_heatmap(c, name, x->o.models[m], u, fq, L, C, a->src);
        free(u);
        free(fq);
        if (rc != 0) return -1;
        snprintf(cap, sizeof cap, "%s: mean q/k chunk norm per layer and chunk (analysis in %s).", x->o.models[m],
                 a->dir);
        embed(c, FIG_DIR, name, "csv", cap);
        rl_html_raw(&c->h, "<table>\n<tr><th>held-out text (the data's validation tokens, decoded)</th><th>mean loss "
                           "(nats per token of the model's tokenizer)</th></tr>\n<tr>");
        cell(c, "no ablation");
        cell_val(c, &a->loss, "%.4f");
        rl_html_raw(&c->h, "</tr>\n</table>\n");
        heads_table(c, a, "this model");
        if (a->n_ablations) {
            rl_html_raw(&c->h, "<table>\n<tr><th>ablation</th><th>loss increase (nats)</th></tr>\n");
            for (int i = 0; i < a->n_ablations; i++) {
                rl_html_raw(&c->h, "<tr>");
                cell(c, a->ablation_name[i]);
                cell_val(c, &a->dloss[i], "%.4f");
                rl_html_raw(&c->h, "</tr>\n");
            }
            rl_html_raw(&c->h, "</table>\n");
        }
    }
    return 0;
}

static void section_setup(rctx *c) {
    const rp_ctx *x = c->x;
    const rl_repro_scale *s = x->scale;
    char t[1600];
    snprintf(t, sizeof t,
             "Scale %s (%s). Model: ropelab's Gemma, d_model %d, %d layers, %d query heads and %d key/value head(s) "
             "of dim %d, MLP %d, vocabulary %s; training context %d, batch %d, %lld steps (warm-up %lld, peak lr "
             "%g, cosine to %g, weight decay %g, clip %g); %d seed(s) per variant; evaluation on %lld validation "
             "tokens per context. Everything in this report is read from the stage folders under the output folder "
             "(listed in summary.json); rerunning `ropelab reproduce` with the same options skips what is done.",
             s->name, s->about, s->d_model, s->n_layers, s->n_heads, s->n_kv_heads, s->head_dim, s->d_ff,
             x->data_prepared ? "from the given dataset" : "trained by the data stage", s->ctx, s->batch,
             (long long)s->steps, (long long)s->warmup, s->lr, s->min_lr, s->weight_decay, s->clip, x->seeds,
             (long long)s->eval_tokens);
    para(c, NULL, t);
    if (c->r->have_unigram) {
        snprintf(t, sizeof t, "Data: %.0f training and %.0f validation tokens (%s).", c->r->train_tokens.v,
                 c->r->val_tokens.v, x->st_data >= 0 ? x->plan.st[x->st_data].rel : "");
        para(c, "note", t);
    }
    rl_html_raw(&c->h, "<p class=\"note\">Machine-readable: <a href=\"summary.json\">summary.json</a> (every number "
                       "with its source file and JSON pointer). Figures' data and gnuplot scripts: <a href=\"" FIG_DIR
                       "/\">" FIG_DIR "/</a>.</p>\n");
}

int rp_write_report(const rp_ctx *x, const rp_results *r, const char *report_dir) {
    rctx c;
    memset(&c, 0, sizeof c);
    c.x = x;
    c.r = r;
    snprintf(c.dir, sizeof c.dir, "%s", report_dir);
    if (rl_path(c.figs, sizeof c.figs, "%s/%s", report_dir, FIG_DIR) != 0 || rl_mkdirs(c.figs) != 0) return -1;
    rl_html_begin(&c.h, "Round and Round We Go! \xe2\x80\x94 reproduced by ropelab");
    section_setup(&c);
    section_claims(&c);
    section_theory(&c);
    section_ppl(&c);
    int rc = section_long(&c);
    if (rc == 0) rc = section_adaptive(&c);
    if (rc == 0) rc = section_usage(&c);
    if (rc == 0) {
        section_heads(&c);
        section_ablations(&c);
        rc = section_pretrained(&c);
    }
    char path[4400];
    if (rc == 0 && rl_path(path, sizeof path, "%s/index.html", report_dir) == 0) rc = rl_html_write(&c.h, path);
    else rc = -1;
    rl_html_free(&c.h);
    return rc;
}
