/* Applying the claim rules to this run's numbers: which runs feed each claim, and the sourced inputs. */
#include "repro_internal.h"
#include "ropelab/util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A claim that cannot be computed in this run (a variant or stage missing): inconclusive, saying why. */
static void untestable(rl_claim *c, const char *id, const char *claim, const char *paper, const char *why) {
    memset(c, 0, sizeof *c);
    snprintf(c->id, sizeof c->id, "%s", id);
    snprintf(c->claim, sizeof c->claim, "%s", claim);
    snprintf(c->paper, sizeof c->paper, "%s", paper);
    snprintf(c->statistic, sizeof c->statistic, "not testable in this run: %s", why);
    snprintf(c->rule, sizeof c->rule, "inconclusive when the runs it needs are not part of the plan");
    c->verdict = RL_VERDICT_INCONCLUSIVE;
    c->estimate = c->lo = c->hi = NAN;
}

static rl_claim *next(rp_results *r, cJSON **inputs) {
    int i = r->n_claims++;
    r->claim_inputs[i] = cJSON_CreateArray();
    *inputs = r->claim_inputs[i];
    return &r->claims[i];
}

/* Seeds at which every listed variant has an evaluation: their indices in seeds[]; returns how many. */
static int common_eval_seeds(const rp_ctx *x, const rp_results *r, const int *vs, int nv, int *seeds) {
    int n = 0;
    for (int s = 0; s < x->seeds; s++) {
        int ok = 1;
        for (int i = 0; i < nv; i++) ok &= vs[i] >= 0 && r->eval[vs[i]][s].have;
        if (ok) seeds[n++] = s;
    }
    return n;
}

static void add_input(cJSON *inputs, const rp_val *v) { cJSON_AddItemToArray(inputs, rp_val_json(v)); }

static void add_file_input(cJSON *inputs, const char *src, const char *ptr) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "source", src);
    cJSON_AddStringToObject(o, "pointer", ptr);
    cJSON_AddItemToArray(inputs, o);
}

static void ppl_claims(const rp_ctx *x, rp_results *r) {
    const int last = x->scale->n_mults - 1;
    int rope = rp_variant(x, "rope"), p075 = rp_variant(x, "p0.75"), nope = rp_variant(x, "nope");
    int seeds[RP_MAX_SEEDS], n;
    double a[RP_MAX_SEEDS], b[RP_MAX_SEEDS], c2[RP_MAX_SEEDS], d[RP_MAX_SEEDS];
    cJSON *in;

    /* 0.75-RoPE vs RoPE at the training context */
    rl_claim *c = next(r, &in);
    int pair[2] = {p075, rope};
    n = common_eval_seeds(x, r, pair, 2, seeds);
    if (p075 < 0 || rope < 0 || n == 0) {
        untestable(c, "ppl.p075_vs_rope", "0.75-RoPE reaches a perplexity at most RoPE's (theta 10k)", "Table 2",
                   "needs the variants p0.75 and rope, evaluated");
    } else {
        for (int i = 0; i < n; i++) {
            a[i] = r->eval[p075][seeds[i]].ppl[RP_PLAIN][0].v;
            b[i] = r->eval[rope][seeds[i]].ppl[RP_PLAIN][0].v;
            add_input(in, &r->eval[p075][seeds[i]].ppl[RP_PLAIN][0]);
            add_input(in, &r->eval[rope][seeds[i]].ppl[RP_PLAIN][0]);
        }
        rl_claim_p075_vs_rope(c, a, b, n);
    }

    /* NoPE worst */
    c = next(r, &in);
    int all[RP_MAX_VARIANTS], na = 0;
    for (int v = 0; v < x->n_variants; v++) all[na++] = v;
    n = common_eval_seeds(x, r, all, na, seeds);
    if (nope < 0 || x->n_variants < 2 || n == 0) {
        untestable(c, "ppl.nope_worst", "NoPE has the highest perplexity of all encodings", "Table 2",
                   "needs the variant nope and at least one other, evaluated");
    } else {
        double others[RP_MAX_VARIANTS][RP_MAX_SEEDS];
        const double *rows[RP_MAX_VARIANTS];
        const char *names[RP_MAX_VARIANTS];
        int k = 0;
        for (int i = 0; i < n; i++) {
            a[i] = r->eval[nope][seeds[i]].ppl[RP_PLAIN][0].v;
            add_input(in, &r->eval[nope][seeds[i]].ppl[RP_PLAIN][0]);
        }
        for (int v = 0; v < x->n_variants; v++) {
            if (v == nope) continue;
            for (int i = 0; i < n; i++) {
                others[k][i] = r->eval[v][seeds[i]].ppl[RP_PLAIN][0].v;
                add_input(in, &r->eval[v][seeds[i]].ppl[RP_PLAIN][0]);
            }
            rows[k] = others[k];
            names[k] = x->variants[v].name;
            k++;
        }
        rl_claim_nope_worst(c, a, rows, names, k, n);
    }

    /* long contexts */
    c = next(r, &in);
    n = common_eval_seeds(x, r, pair, 2, seeds);
    if (p075 < 0 || rope < 0 || n == 0 || last == 0) {
        untestable(c, "long.p075_degrades_less", "beyond the training context, 0.75-RoPE's perplexity grows less than "
                   "RoPE's", "motivated by Thm 6.1", "needs p0.75 and rope evaluated beyond 1x");
    } else {
        for (int i = 0; i < n; i++) {
            const rp_eval *ep = &r->eval[p075][seeds[i]], *er = &r->eval[rope][seeds[i]];
            a[i] = ep->ppl[RP_PLAIN][0].v;
            b[i] = ep->ppl[RP_PLAIN][last].v;
            c2[i] = er->ppl[RP_PLAIN][0].v;
            d[i] = er->ppl[RP_PLAIN][last].v;
            add_input(in, &ep->ppl[RP_PLAIN][0]);
            add_input(in, &ep->ppl[RP_PLAIN][last]);
            add_input(in, &er->ppl[RP_PLAIN][0]);
            add_input(in, &er->ppl[RP_PLAIN][last]);
        }
        rl_claim_long_context(c, a, b, c2, d, n, x->scale->mults[last]);
    }

    /* adaptive temperature, every variant, at the longest context */
    c = next(r, &in);
    n = common_eval_seeds(x, r, all, na, seeds);
    if (x->n_softmax < 2 || n == 0) {
        untestable(c, "softmax.adaptive_helps_long", "adaptive-temperature softmax lowers perplexity beyond the "
                   "training context", "\"Softmax is not enough\"",
                   x->n_softmax < 2 ? "this build has no adaptive-temperature attention in the model" :
                                      "no evaluated runs");
    } else {
        double ad[RP_MAX_VARIANTS][RP_MAX_SEEDS], pl[RP_MAX_VARIANTS][RP_MAX_SEEDS];
        const double *ra[RP_MAX_VARIANTS], *rp[RP_MAX_VARIANTS];
        for (int v = 0; v < x->n_variants; v++) {
            for (int i = 0; i < n; i++) {
                ad[v][i] = r->eval[v][seeds[i]].ppl[RP_ADAPTIVE][last].v;
                pl[v][i] = r->eval[v][seeds[i]].ppl[RP_PLAIN][last].v;
                add_input(in, &r->eval[v][seeds[i]].ppl[RP_ADAPTIVE][last]);
                add_input(in, &r->eval[v][seeds[i]].ppl[RP_PLAIN][last]);
            }
            ra[v] = ad[v];
            rp[v] = pl[v];
        }
        rl_claim_adaptive(c, ra, rp, x->n_variants, n, x->scale->mults[last]);
    }
}

static void usage_claims(const rp_ctx *x, rp_results *r) {
    int rope = rp_variant(x, "rope");
    int seeds[RP_MAX_SEEDS], n = 0;
    for (int s = 0; rope >= 0 && s < x->seeds; s++)
        if (r->an[rope][s].have) seeds[n++] = s;
    cJSON *in;
    rl_claim *c1 = next(r, &in);
    cJSON *in1 = in;
    rl_claim *c2 = next(r, &in);
    cJSON *in2 = in;
    rl_claim *c3 = next(r, &in);
    cJSON *in3 = in;
    if (n == 0) {
        const char *why = "needs the variant rope, analysed";
        untestable(c1, "usage.low_freq_largest", "RoPE models put their largest q/k norms on the lowest frequencies",
                   "Sec. 4, Fig. 3", why);
        untestable(c2, "usage.high_freq_edges", "high-frequency usage is concentrated in the first and last layers",
                   "Sec. 4, Fig. 3", why);
        untestable(c3, "heads.positional_high_freq", "positional (diagonal, previous-token) heads rely on the highest "
                   "frequencies", "Sec. 5, Tables 3-5", why);
        return;
    }
    const rp_analysis *a0 = &r->an[rope][seeds[0]];
    int L = a0->L, C = a0->C;
    double *usage = malloc((size_t)n * L * C * sizeof *usage), share[RP_MAX_SEEDS];
    if (!usage) return;
    for (int i = 0; i < n; i++) {
        const rp_analysis *a = &r->an[rope][seeds[i]];
        memcpy(usage + (size_t)i * L * C, a->usage, (size_t)L * C * sizeof *usage);
        add_file_input(in1, a->src, "/usage_per_layer/q");
        add_file_input(in1, a->src, "/usage_per_layer/k");
        add_file_input(in2, a->src, "/usage_per_layer/q");
        add_file_input(in2, a->src, "/usage_per_layer/k");
        double sum = 0;
        int cnt = 0;
        for (int h = 0; h < a->n_heads; h++) {
            const rp_head *hd = &a->heads[h];
            if (strcmp(hd->role, "diagonal") != 0 && strcmp(hd->role, "previous") != 0) continue;
            add_input(in3, &hd->high_share);
            if (isnan(hd->high_share.v)) continue;
            sum += hd->high_share.v;
            cnt++;
        }
        share[i] = cnt ? sum / cnt : NAN;
    }
    rl_claim_low_freq_norms(c1, usage, n, L, C);
    rl_claim_high_freq_edges(c2, usage, n, L, C);
    add_input(in3, &a0->edge);
    rl_claim_positional_high(c3, share, n, a0->edge.v);
    free(usage);
}

static void pretrained_claims(const rp_ctx *x, rp_results *r) {
    for (int m = 0; m < x->o.n_models && m < RP_MAX_MODELS; m++) {
        const rp_analysis *a = &r->pre[m];
        if (!a->have) continue;
        cJSON *in;
        rl_claim *c = next(r, &in);
        rl_claim_low_freq_pretrained(c, a->usage, a->L, a->C, x->o.models[m]);
        snprintf(c->id, sizeof c->id, "usage.low_freq_largest.pretrained%d", m);
        add_file_input(in, a->src, "/usage_per_layer/q");
        add_file_input(in, a->src, "/usage_per_layer/k");
    }
}

void rp_claims(const rp_ctx *x, rp_results *r) {
    for (int i = 0; i < r->theory.n; i++) {
        cJSON *in;
        rl_claim *c = next(r, &in);
        *c = r->theory.claim[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "value", rl_verdict_name(c->verdict));
        cJSON_AddStringToObject(o, "source", r->theory.src);
        cJSON_AddStringToObject(o, "pointer", r->theory.verdict_ptr[i]);
        cJSON_AddItemToArray(in, o);
    }
    ppl_claims(x, r);
    usage_claims(x, r);
    pretrained_claims(x, r);
}
