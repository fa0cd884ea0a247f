/* `ropelab reproduce` as a library call: resolve the options, build the plan, run what is not done,
 * gather the results and write the report. */
#include "repro_internal.h"
#include "ropelab/util.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void rl_repro_opts_default(rl_repro_opts *o) {
    memset(o, 0, sizeof *o);
    o->scale = "tiny";
    o->out_dir = "out/reproduce";
    o->progress = 1;
}

static int resolve(rp_ctx *x, const rl_repro_opts *o) {
    memset(x, 0, sizeof *x);
    x->o = *o;
    x->scale = rl_repro_scale_find(o->scale ? o->scale : "tiny");
    if (!x->scale) return rl_fail("unknown scale '%s' (known: micro tiny small paper)", o->scale);
    if (o->variants) {
        if (o->n_variants < 1 || o->n_variants > RP_MAX_VARIANTS)
            return rl_fail("give 1 to %d variants (got %d)", RP_MAX_VARIANTS, o->n_variants);
        memcpy(x->variants, o->variants, (size_t)o->n_variants * sizeof *x->variants);
        x->n_variants = o->n_variants;
    } else {
        x->n_variants = rl_repro_variants_default(x->variants, RP_MAX_VARIANTS);
    }
    x->seeds = o->seeds > 0 ? o->seeds : x->scale->seeds;
    if (x->seeds > RP_MAX_SEEDS) return rl_fail("--seeds %d: at most %d", x->seeds, RP_MAX_SEEDS);
    if (o->n_models < 0 || o->n_models > RP_MAX_MODELS) return rl_fail("at most %d --model", RP_MAX_MODELS);
    if (o->threads < 0 || o->jobs < 0) return rl_fail("threads and jobs must be >= 0");
    x->threads = o->threads > 0 ? o->threads : omp_get_num_procs();
    x->jobs = o->jobs > 0 ? o->jobs : x->scale->jobs > 0 ? x->scale->jobs : x->threads;
    if (x->jobs > x->threads) x->jobs = x->threads;
    x->threads_per_job = x->threads / x->jobs > 0 ? x->threads / x->jobs : 1;
    x->n_softmax = 2; /* plain, and adaptive temperature at inference */
    x->st_data = x->st_theory = -1;
    for (int v = 0; v < RP_MAX_VARIANTS; v++)
        for (int s = 0; s < RP_MAX_SEEDS; s++) x->st_train[v][s] = x->st_eval[v][s] = x->st_analysis[v][s] = -1;
    for (int m = 0; m < RP_MAX_MODELS; m++) x->st_pretrained[m] = -1;
    const char *out = o->out_dir && *o->out_dir ? o->out_dir : "out/reproduce";
    plan_init(&x->plan, out);
    x->plan.progress = o->progress;
    return 0;
}

/* trained = 0: only the data, pretrained and theory stages (the report tests add their own). */
static int build_plan(rp_ctx *x, int trained) {
    plan *p = &x->plan;
    x->st_data = plan_add(p, "data", x->data_prepared ? "data (prepared dataset)" : "data preparation",
                          rp_data_config(x), 1, rp_data_run, x);
    if (x->st_data < 0) return -1;
    if (!x->data_prepared && plan_dir(p, x->st_data, x->data_dir, sizeof x->data_dir) != 0) return -1;
    /* the pretrained models' analyses right after the data: they fail early on a bad --model */
    for (int m = 0; m < x->o.n_models && m < RP_MAX_MODELS; m++) {
        char label[128];
        const char *base = strrchr(x->o.models[m], '/');
        snprintf(label, sizeof label, "analyze %s", base ? base + 1 : x->o.models[m]);
        char *cfg = rp_pretrained_config(x, m);
        if (!cfg) return rl_fail_prefix("--model %s", x->o.models[m]);
        int i = x->st_pretrained[m] =
            plan_add(p, "pretrained", label, cfg, 1.1e-3 * (double)x->scale->analysis_tokens, rp_pretrained_run, x);
        if (i < 0 || plan_dep(p, i, x->st_data) != 0) return -1;
        p->st[i].tag[0] = m;
    }
    x->st_theory = plan_add(p, "theory", "theory experiments", rp_theory_config(x), x->scale->reduced_theory ? 1 : 7,
                            rp_theory_run, x);
    if (x->st_theory < 0) return -1;
    if (!trained) return 0;
    const rl_repro_scale *sc = x->scale;
    /* Estimated costs for the ETA, in seconds of one 2-core machine thread, measured at the tiny scale
     * (train 20 s per 500 steps, eval 2.3 s, analysis 1.4 s, theory 7 s) and scaled by the tokens processed and the
     * model's multiply-adds per token relative to tiny's. */
    double flops = (double)sc->n_layers * ((double)sc->d_model * (2 * sc->n_heads + 2 * sc->n_kv_heads) * sc->head_dim +
                                           3.0 * sc->d_model * sc->d_ff) +
                   (double)sc->vocab * sc->d_model,
           rel = flops / (4.0 * (64.0 * 12 * 16 + 3.0 * 64 * 256) + 512.0 * 64);
    double w_train = rel * 4e-5 * (double)sc->steps * sc->batch * sc->ctx,
           w_eval = rel * 2.8e-5 * (double)sc->eval_tokens * sc->n_mults * x->n_softmax,
           w_an = rel * 3.4e-4 * (double)sc->analysis_tokens;
    for (int v = 0; v < x->n_variants; v++)
        for (int s = 0; s < x->seeds; s++) {
            char label[128];
            snprintf(label, sizeof label, "train %s seed %d", x->variants[v].name, s);
            char *cfg = rp_train_config(x, v, s);
            if (!cfg) return -1;
            int t = x->st_train[v][s] = plan_add(p, "runs", label, cfg, w_train, rp_train_run, x);
            if (t < 0 || plan_dep(p, t, x->st_data) != 0) return -1;
            p->st[t].tag[0] = v;
            p->st[t].tag[1] = s;
            snprintf(label, sizeof label, "eval %s seed %d", x->variants[v].name, s);
            int e = x->st_eval[v][s] = plan_add(p, "evals", label, rp_eval_config(x, t), w_eval, rp_eval_run, x);
            snprintf(label, sizeof label, "analyze %s seed %d", x->variants[v].name, s);
            int a = x->st_analysis[v][s] =
                plan_add(p, "analyses", label, rp_analysis_config(x, t), w_an, rp_analysis_run, x);
            if (e < 0 || a < 0 || plan_dep(p, e, t) != 0 || plan_dep(p, a, t) != 0) return -1;
            for (int i = 0; i < 3; i++) p->st[e].tag[i] = p->st[a].tag[i] = i == 2 ? t : i == 0 ? v : s;
        }
    return 0;
}

/* OUT/report/timing.json: wall time of each stage run by this process (kept out of summary.json so
 * that summaries compare exactly). */
static int write_timing(const rp_ctx *x, const char *path, double total) {
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "seconds_this_process", total);
    cJSON_AddNumberToObject(j, "threads", x->threads);
    cJSON_AddNumberToObject(j, "jobs", x->jobs);
    cJSON *a = cJSON_AddArrayToObject(j, "stages");
    for (int i = 0; i < x->plan.n; i++) {
        const plan_stage *s = &x->plan.st[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "stage", s->label);
        cJSON_AddStringToObject(o, "folder", s->rel);
        cJSON_AddBoolToObject(o, "skipped", s->skipped);
        cJSON_AddNumberToObject(o, "seconds", s->skipped ? 0 : s->seconds);
        cJSON_AddNumberToObject(o, "threads", s->threads);
        cJSON_AddItemToArray(a, o);
    }
    return rp_write_json(path, j);
}

int rp_prepare_stages(rp_ctx *x, const rl_repro_opts *o, int trained) {
    if (resolve(x, o) != 0 || rp_data_resolve(x) != 0 || build_plan(x, trained) != 0) return -1;
    return rl_mkdirs(x->plan.out_dir);
}

int rp_prepare(rp_ctx *x, const rl_repro_opts *o) { return rp_prepare_stages(x, o, 1); }

int rp_finish(rp_ctx *x, double t0, rl_repro_result *res) {
    int skipped = 0;
    for (int i = 0; i < x->plan.n; i++) skipped += x->plan.st[i].skipped;
    rp_results *r = calloc(1, sizeof *r);
    if (!r) return rl_fail("out of memory");
    char report[4200], path[4400];
    int rc = rl_path(report, sizeof report, "%s/report", x->plan.out_dir);
    if (rc == 0) rc = rl_mkdirs(report);
    if (rc == 0) rc = rp_collect(x, r);
    if (rc == 0) {
        rp_claims(x, r);
        rc = rl_path(path, sizeof path, "%s/summary.json", report);
    }
    if (rc == 0) rc = rp_write_summary(x, r, path);
    if (rc == 0 && res) rc = rl_path(res->summary, sizeof res->summary, "%s", path);
    if (rc == 0) rc = rp_write_report(x, r, report);
    if (rc == 0) rc = rl_path(path, sizeof path, "%s/timing.json", report);
    if (rc == 0) rc = write_timing(x, path, rl_now() - t0);
    if (rc == 0 && res) {
        res->stages = x->plan.n;
        res->skipped = skipped;
        rc = rl_path(res->report, sizeof res->report, "%s/index.html", report);
        for (int i = 0; i < r->n_claims; i++) res->verdicts[r->claims[i].verdict]++;
    }
    rp_results_free(r);
    free(r);
    return rc;
}

void rp_ctx_free(rp_ctx *x) {
    for (int i = 0; i < x->n_files; i++) free(x->files[i]);
    x->n_files = 0;
    plan_free(&x->plan);
}

int rl_repro_run(const rl_repro_opts *o, rl_repro_result *res) {
    double t0 = rl_now();
    if (res) memset(res, 0, sizeof *res);
    rp_ctx *x = calloc(1, sizeof *x);
    if (!x) return rl_fail("out of memory");
    int rc = rp_prepare(x, o);
    if (rc == 0) rc = plan_scan(&x->plan);
    if (rc == 0) rc = plan_execute(&x->plan, x->jobs, x->threads_per_job);
    if (rc == 0) rc = rp_finish(x, t0, res);
    rp_ctx_free(x);
    free(x);
    return rc;
}
