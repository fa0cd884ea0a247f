/* reproduce report machinery on fabricated evaluation and analysis stages (files in the trainer's
 * eval.json and the analyser's summary.json formats, with numbers chosen so that every trained-model
 * claim has a known verdict): summary.json sources re-read, aggregates recomputed, the HTML parsed
 * with every image embedded, and the claims' verdicts as designed. The real stages are tested by
 * test_repro_run.c. */
#include "helpers.h"
#include "repro_check.h"
#include "ropelab/experiments.h"
#include "ropelab/util.h"

#include "../src/reproduce/repro_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ppl(variant, seed, mult index): NoPE worst; 0.75-RoPE 5% below RoPE; RoPE grows 30% per doubling
 * of the context, 0.75-RoPE 5%; the adaptive softmax 3% below plain beyond 1x. Seed noise 0.1%. */
static double fake_ppl(const char *name, int seed, int m, int adaptive) {
    double base = strcmp(name, "nope") == 0 ? 40 : strcmp(name, "p0.75") == 0 ? 19 : 20;
    double growth = strcmp(name, "p0.75") == 0 ? 0.05 : 0.3;
    double v = base * (1 + growth * m) * (1 + 0.001 * ((seed * 7 + m) % 3 - 1));
    return adaptive && m > 0 ? v * 0.97 : v;
}

static int write_json(const char *dir, const char *sub, const char *name, cJSON *j) {
    char path[4400];
    snprintf(path, sizeof path, "%s/%s", dir, sub);
    if (rl_mkdirs(path) != 0) return -1;
    snprintf(path, sizeof path, "%s/%s/%s", dir, sub, name);
    char *t = cJSON_Print(j);
    int rc = rl_write_atomic(path, t, strlen(t));
    free(t);
    cJSON_Delete(j);
    return rc;
}

static int fake_eval(plan *p, plan_stage *s, const char *dir, void *user) {
    (void)p;
    rp_ctx *x = user;
    const char *name = x->variants[s->tag[0]].name;
    cJSON *j = cJSON_CreateObject(), *res = cJSON_AddArrayToObject(j, "results");
    cJSON_AddNumberToObject(j, "train_context", x->scale->ctx);
    for (int k = 0; k < 2; k++)
        for (int m = 0; m < x->scale->n_mults; m++) {
            cJSON *r = cJSON_CreateObject();
            cJSON_AddStringToObject(r, "pe", x->variants[s->tag[0]].pe);
            cJSON_AddBoolToObject(r, "overridden", 0);
            cJSON_AddStringToObject(r, "softmax", k ? "adaptive" : "softmax");
            cJSON_AddBoolToObject(r, "softmax_overridden", k);
            cJSON_AddNumberToObject(r, "context", x->scale->mults[m] * x->scale->ctx);
            double ppl = fake_ppl(name, s->tag[1], m, k);
            cJSON_AddNumberToObject(r, "loss", log(ppl));
            cJSON_AddNumberToObject(r, "ppl", ppl);
            cJSON_AddItemToArray(res, r);
        }
    return write_json(dir, ".", "eval.json", j);
}

static cJSON *matrix(int L, int C, double (*f)(int l, int c, int seed), int seed) {
    cJSON *m = cJSON_CreateArray();
    for (int l = 0; l < L; l++) {
        cJSON *row = cJSON_CreateArray();
        for (int c = 0; c < C; c++) cJSON_AddItemToArray(row, cJSON_CreateNumber(f(l, c, seed)));
        cJSON_AddItemToArray(m, row);
    }
    return m;
}

/* L = 3 layers, C = 8 chunks: the lowest quarter 3x the rest; the highest quarter 1.5x in layers 0 and 2 */
static double usage_f(int l, int c, int seed) {
    double v = 1 + 0.01 * ((seed + l + c) % 3);
    if (c >= 6) v *= 3;
    if (c < 2 && (l == 0 || l == 2)) v *= 1.5;
    return v;
}
static double freq_f(int l, int c, int seed) {
    (void)l;
    (void)seed;
    return pow(10000, -2.0 * c / 16);
}

static int fake_analysis(plan *p, plan_stage *s, const char *dir, void *user) {
    (void)p;
    (void)user;
    int L = 3, C = 8, seed = s->tag[1];
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "tool", "ropelab analyze");
    cJSON *model = cJSON_AddObjectToObject(j, "model");
    cJSON_AddNumberToObject(model, "n_layers", L);
    cJSON_AddNumberToObject(model, "n_chunks", C);
    cJSON *st = cJSON_AddObjectToObject(j, "settings");
    cJSON_AddNumberToObject(st, "edge_fraction", 0.25);
    cJSON_AddNumberToObject(j, "loss", 3.5 + 0.01 * seed);
    cJSON_AddItemToObject(j, "frequency", matrix(L, C, freq_f, seed));
    cJSON *u = cJSON_AddObjectToObject(j, "usage_per_layer");
    cJSON_AddItemToObject(u, "q", matrix(L, C, usage_f, seed));
    cJSON_AddItemToObject(u, "k", matrix(L, C, usage_f, seed + 1));
    cJSON_AddItemToObject(u, "v", matrix(L, C, usage_f, seed + 2));
    cJSON *roles = cJSON_AddArrayToObject(j, "role_heads");
    const char *role_names[2] = {"diagonal", "first"};
    for (int h = 0; h < 2; h++) {
        cJSON *r = cJSON_CreateObject();
        cJSON_AddNumberToObject(r, "layer", h * 2);
        cJSON_AddNumberToObject(r, "head", 1);
        cJSON_AddNumberToObject(r, "kv_head", 0);
        cJSON_AddStringToObject(r, "role", role_names[h]);
        cJSON_AddNumberToObject(r, "score", 0.9 - 0.1 * h);
        cJSON_AddNumberToObject(r, "gap", 2.0);
        cJSON_AddNumberToObject(r, "top_chunk", h ? 7 : 0);
        cJSON_AddNumberToObject(r, "high_share", h ? 0.1 : 0.8 + 0.02 * seed);
        cJSON *ko = cJSON_AddObjectToObject(r, "knockout");
        cJSON_AddNumberToObject(ko, "high_score", 0.2);
        cJSON_AddNumberToObject(ko, "high_dloss", 0.05);
        cJSON_AddNumberToObject(ko, "low_score", 0.88);
        cJSON_AddNullToObject(ko, "low_dloss");
        cJSON_AddItemToArray(roles, r);
    }
    cJSON *ab = cJSON_AddArrayToObject(j, "ablations");
    const char *names[2] = {"zero:high", "norotate:low"};
    for (int i = 0; i < 2; i++) {
        cJSON *a = cJSON_CreateObject();
        cJSON_AddStringToObject(a, "name", names[i]);
        cJSON_AddNumberToObject(a, "loss", 3.6 + i);
        cJSON_AddNumberToObject(a, "dloss", 0.1 + i + 0.01 * seed);
        cJSON_AddItemToArray(ab, a);
    }
    return write_json(dir, ".", "summary.json", j);
}

Test(repro_report, fabricated_stages_end_to_end, .timeout = 120) {
    char *corpus = rt_repro_corpus(), *out = rt_tmpdir();
    rl_repro_opts o;
    rl_repro_opts_default(&o);
    o.scale = "micro";
    o.out_dir = out;
    o.data = corpus;
    o.seeds = 3;
    o.progress = 0;
    rp_ctx *x = calloc(1, sizeof *x);
    cr_assert_eq(rp_prepare_stages(x, &o, 0), 0, "%s", rl_error());
    x->n_softmax = 2;
    for (int v = 0; v < x->n_variants; v++)
        for (int s = 0; s < x->seeds; s++) {
            char cfg[128], label[96];
            snprintf(cfg, sizeof cfg, "{\"fake\": \"eval\", \"variant\": %d, \"seed\": %d}", v, s);
            snprintf(label, sizeof label, "eval %s seed %d", x->variants[v].name, s);
            int e = plan_add(&x->plan, "evals", label, rl_strdup(cfg), 1, fake_eval, x);
            x->plan.st[e].tag[0] = v;
            x->plan.st[e].tag[1] = s;
            x->st_eval[v][s] = e;
            snprintf(cfg, sizeof cfg, "{\"fake\": \"analysis\", \"variant\": %d, \"seed\": %d}", v, s);
            snprintf(label, sizeof label, "analyze %s seed %d", x->variants[v].name, s);
            int a = plan_add(&x->plan, "analyses", label, rl_strdup(cfg), 1, fake_analysis, x);
            x->plan.st[a].tag[0] = v;
            x->plan.st[a].tag[1] = s;
            x->st_analysis[v][s] = a;
        }
    cr_assert_eq(plan_scan(&x->plan), 0, "%s", rl_error());
    cr_assert_eq(plan_execute(&x->plan, 2, 1), 0, "%s", rl_error());
    rl_repro_result res;
    cr_assert_eq(rp_finish(x, rl_now(), &res), 0, "%s", rl_error());
    rp_ctx_free(x);
    free(x);

    rt_repro_counts n;
    rt_repro_check(out, &n);
    /* 7 variants x 3 seeds x 3 contexts x 2 softmax perplexities, plus heads and ablations */
    cr_assert(n.sourced >= 7 * 3 * 3 * 2, "only %d sourced numbers", n.sourced);
    cr_assert(n.aggregates >= 7 * 3 * 2, "only %d aggregates", n.aggregates);
    cr_assert(n.images >= 5 + 7 + 3, "only %d images (theory, heatmaps, ppl/adaptive/profile)", n.images);
    cr_assert(n.cells > 0 && n.agg_cells >= 7 * 3, "%d cells, %d aggregate cells", n.cells, n.agg_cells);

    /* the claims come out as the fabricated numbers were designed */
    char *txt = rt_repro_summary(out);
    cJSON *j = cJSON_Parse(txt);
    const char *expect[][2] = {{"ppl.p075_vs_rope", "supported"},         {"ppl.nope_worst", "supported"},
                               {"long.p075_degrades_less", "supported"},  {"softmax.adaptive_helps_long", "supported"},
                               {"usage.low_freq_largest", "supported"},   {"usage.high_freq_edges", "supported"},
                               {"heads.positional_high_freq", "supported"}};
    for (size_t i = 0; i < RL_ARRAY_LEN(expect); i++) {
        int found = 0;
        for (const cJSON *c = cJSON_GetObjectItem(j, "claims")->child; c; c = c->next)
            if (strcmp(cJSON_GetObjectItem(c, "id")->valuestring, expect[i][0]) == 0) {
                found = 1;
                cr_assert_str_eq(cJSON_GetObjectItem(c, "verdict")->valuestring, expect[i][1], "%s: %s", expect[i][0],
                                 cJSON_GetObjectItem(c, "statistic")->valuestring);
            }
        cr_assert(found, "claim %s missing", expect[i][0]);
    }
    cJSON_Delete(j);
    free(txt);
    rt_rmtree(out);
    rt_rmtree(corpus);
    free(out);
    free(corpus);
}
