/* OUT/report/summary.json: every number of the report with the stage file and JSON pointer it came
 * from; aggregates list the per-seed values they were computed from. No timings (they go to
 * OUT/report/timing.json), so an interrupted and resumed run gives the same file. */
#include "repro_internal.h"
#include "ropelab/util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int rp_write_json(const char *path, cJSON *j) {
    char *txt = cJSON_Print(j);
    cJSON_Delete(j);
    if (!txt) return rl_fail("out of memory writing %s", path);
    int rc = rl_write_atomic(path, txt, strlen(txt));
    free(txt);
    return rc;
}

int rp_seed_ppl(const rp_ctx *x, const rp_results *r, int v, int k, int m, rp_val *vals) {
    int n = 0;
    for (int s = 0; s < x->seeds; s++)
        if (r->eval[v][s].have) vals[n++] = r->eval[v][s].ppl[k][m];
    return n;
}

void rp_agg(const rp_val *vals, int n, rl_ci *ci) {
    double x[RP_MAX_SEEDS];
    int m = 0;
    for (int i = 0; i < n && m < RP_MAX_SEEDS; i++)
        if (isfinite(vals[i].v)) x[m++] = vals[i].v;
    rl_ci_t(x, m, 0.95, ci);
}

static void num(cJSON *o, const char *key, double v) {
    if (isfinite(v)) cJSON_AddNumberToObject(o, key, v);
    else cJSON_AddNullToObject(o, key);
}

/* {"seeds": [sourced...], "n": n, "mean": m, "ci95": [lo, hi]} added to o. */
static void add_agg(cJSON *o, const rp_val *vals, int n) {
    cJSON *a = cJSON_AddArrayToObject(o, "seeds");
    for (int i = 0; i < n; i++) cJSON_AddItemToArray(a, rp_val_json(&vals[i]));
    rl_ci ci;
    rp_agg(vals, n, &ci);
    cJSON_AddNumberToObject(o, "n", ci.n);
    num(o, "mean", ci.mean);
    cJSON *b = cJSON_AddArrayToObject(o, "ci95");
    cJSON_AddItemToArray(b, isfinite(ci.lo) ? cJSON_CreateNumber(ci.lo) : cJSON_CreateNull());
    cJSON_AddItemToArray(b, isfinite(ci.hi) ? cJSON_CreateNumber(ci.hi) : cJSON_CreateNull());
}

static const char *const softmax_name[RP_NSOFTMAX] = {"plain", "adaptive"};

static cJSON *scale_json(const rl_repro_scale *s) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", s->name);
    cJSON_AddNumberToObject(o, "vocab", s->vocab);
    cJSON_AddNumberToObject(o, "d_model", s->d_model);
    cJSON_AddNumberToObject(o, "n_layers", s->n_layers);
    cJSON_AddNumberToObject(o, "n_heads", s->n_heads);
    cJSON_AddNumberToObject(o, "n_kv_heads", s->n_kv_heads);
    cJSON_AddNumberToObject(o, "head_dim", s->head_dim);
    cJSON_AddNumberToObject(o, "d_ff", s->d_ff);
    cJSON_AddNumberToObject(o, "ctx", s->ctx);
    cJSON_AddNumberToObject(o, "batch", s->batch);
    cJSON_AddNumberToObject(o, "steps", (double)s->steps);
    cJSON_AddNumberToObject(o, "warmup", (double)s->warmup);
    cJSON_AddNumberToObject(o, "lr", s->lr);
    cJSON_AddNumberToObject(o, "min_lr", s->min_lr);
    cJSON_AddNumberToObject(o, "weight_decay", s->weight_decay);
    cJSON_AddNumberToObject(o, "clip", s->clip);
    cJSON_AddNumberToObject(o, "eval_tokens", (double)s->eval_tokens);
    cJSON_AddNumberToObject(o, "analysis_tokens", (double)s->analysis_tokens);
    return o;
}

static cJSON *heads_json(const rp_analysis *a) {
    cJSON *hs = cJSON_CreateArray();
    for (int h = 0; h < a->n_heads; h++) {
        const rp_head *d = &a->heads[h];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "layer", d->layer);
        cJSON_AddNumberToObject(o, "head", d->head);
        cJSON_AddStringToObject(o, "role", d->role);
        cJSON_AddItemToObject(o, "score", rp_val_json(&d->score));
        cJSON_AddItemToObject(o, "high_share", rp_val_json(&d->high_share));
        cJSON_AddItemToObject(o, "top_chunk", rp_val_json(&d->top_chunk));
        cJSON_AddItemToObject(o, "knockout_high_score", rp_val_json(&d->ko_high));
        cJSON_AddItemToObject(o, "knockout_low_score", rp_val_json(&d->ko_low));
        cJSON_AddItemToArray(hs, o);
    }
    return hs;
}

int rp_write_summary(const rp_ctx *x, const rp_results *r, const char *path) {
    const rl_repro_scale *sc = x->scale;
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "tool", "ropelab reproduce");
    cJSON_AddNumberToObject(j, "format", 1);
    cJSON_AddStringToObject(j, "about",
                            "every number is {value, source, pointer}: the file (relative to the output folder) and the "
                            "RFC 6901 JSON pointer it was read from; aggregates give the per-seed values, their mean "
                            "and the 95% Student-t interval");
    cJSON_AddItemToObject(j, "scale", scale_json(sc));
    cJSON_AddNumberToObject(j, "seeds", x->seeds);
    cJSON *vs = cJSON_AddArrayToObject(j, "variants");
    for (int v = 0; v < x->n_variants; v++) {
        const rl_repro_variant *w = &x->variants[v];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", w->name);
        cJSON_AddStringToObject(o, "label", w->label);
        cJSON_AddStringToObject(o, "pe", w->pe);
        num(o, "paper_wiki_ppl", w->paper_wiki);
        num(o, "paper_flan_ppl", w->paper_flan);
        cJSON_AddItemToArray(vs, o);
    }
    cJSON *sm = cJSON_AddArrayToObject(j, "softmax");
    for (int k = 0; k < x->n_softmax; k++) cJSON_AddItemToArray(sm, cJSON_CreateString(softmax_name[k]));
    cJSON *ctxs = cJSON_AddArrayToObject(j, "eval_contexts");
    for (int m = 0; m < sc->n_mults; m++) cJSON_AddItemToArray(ctxs, cJSON_CreateNumber(sc->mults[m] * sc->ctx));

    cJSON *data = cJSON_AddObjectToObject(j, "data");
    if (x->st_data >= 0) cJSON_AddStringToObject(data, "folder", x->plan.st[x->st_data].rel);
    if (r->have_unigram) {
        cJSON_AddItemToObject(data, "unigram_val_loss", rp_val_json(&r->unigram_loss));
        cJSON_AddItemToObject(data, "train_tokens", rp_val_json(&r->train_tokens));
        cJSON_AddItemToObject(data, "val_tokens", rp_val_json(&r->val_tokens));
    }

    if (r->theory.have) {
        cJSON *t = cJSON_AddObjectToObject(j, "theory");
        cJSON_AddStringToObject(t, "folder", r->theory.dir);
        cJSON *ex = cJSON_AddArrayToObject(t, "experiments");
        for (int i = 0; i < r->theory.n; i++) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "name", r->theory.name[i]);
            cJSON *v = cJSON_AddObjectToObject(o, "verdict");
            cJSON_AddStringToObject(v, "value", rl_verdict_name(r->theory.claim[i].verdict));
            cJSON_AddStringToObject(v, "source", r->theory.src);
            cJSON_AddStringToObject(v, "pointer", r->theory.verdict_ptr[i]);
            cJSON_AddItemToArray(ex, o);
        }
    }

    cJSON *ppl = cJSON_AddArrayToObject(j, "perplexity");
    for (int v = 0; v < x->n_variants; v++)
        for (int k = 0; k < x->n_softmax; k++)
            for (int m = 0; m < sc->n_mults; m++) {
                rp_val vals[RP_MAX_SEEDS];
                int n = rp_seed_ppl(x, r, v, k, m, vals);
                if (n == 0) continue;
                cJSON *o = cJSON_CreateObject();
                cJSON_AddStringToObject(o, "variant", x->variants[v].name);
                cJSON_AddStringToObject(o, "softmax", softmax_name[k]);
                cJSON_AddNumberToObject(o, "mult", sc->mults[m]);
                cJSON_AddNumberToObject(o, "context", sc->mults[m] * sc->ctx);
                add_agg(o, vals, n);
                cJSON_AddItemToArray(ppl, o);
            }

    cJSON *usage = cJSON_AddArrayToObject(j, "frequency_usage");
    cJSON *heads = cJSON_AddArrayToObject(j, "role_heads");
    cJSON *abl = cJSON_AddArrayToObject(j, "ablations");
    for (int v = 0; v < x->n_variants; v++) {
        cJSON *runs = cJSON_CreateArray();
        const rp_analysis *first = NULL;
        for (int s = 0; s < x->seeds; s++) {
            const rp_analysis *a = &r->an[v][s];
            if (!a->have) continue;
            if (!first) first = a;
            cJSON *o = cJSON_CreateObject();
            cJSON_AddNumberToObject(o, "seed", s);
            cJSON_AddStringToObject(o, "source", a->src);
            cJSON_AddStringToObject(o, "q_pointer", "/usage_per_layer/q");
            cJSON_AddStringToObject(o, "k_pointer", "/usage_per_layer/k");
            cJSON_AddItemToArray(runs, o);
            cJSON *h = cJSON_CreateObject();
            cJSON_AddStringToObject(h, "variant", x->variants[v].name);
            cJSON_AddNumberToObject(h, "seed", s);
            cJSON_AddStringToObject(h, "source", a->src);
            cJSON_AddItemToObject(h, "heads", heads_json(a));
            cJSON_AddItemToArray(heads, h);
        }
        if (!first) {
            cJSON_Delete(runs);
            continue;
        }
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "variant", x->variants[v].name);
        cJSON_AddItemToObject(o, "runs", runs);
        cJSON_AddItemToArray(usage, o);
        for (int i = 0; i < first->n_ablations; i++) {
            rp_val vals[RP_MAX_SEEDS];
            int n = 0;
            for (int s = 0; s < x->seeds; s++) {
                const rp_analysis *a = &r->an[v][s];
                if (a->have && i < a->n_ablations && strcmp(a->ablation_name[i], first->ablation_name[i]) == 0)
                    vals[n++] = a->dloss[i];
            }
            cJSON *ab = cJSON_CreateObject();
            cJSON_AddStringToObject(ab, "variant", x->variants[v].name);
            cJSON_AddStringToObject(ab, "ablation", first->ablation_name[i]);
            cJSON_AddStringToObject(ab, "statistic", "increase of the mean loss (nats) with the ablation");
            add_agg(ab, vals, n);
            cJSON_AddItemToArray(abl, ab);
        }
    }

    cJSON *pre = cJSON_AddArrayToObject(j, "pretrained");
    for (int m = 0; m < x->o.n_models && m < RP_MAX_MODELS; m++) {
        const rp_analysis *a = &r->pre[m];
        if (!a->have) continue;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "model", x->o.models[m]);
        cJSON_AddStringToObject(o, "source", a->src);
        cJSON_AddItemToObject(o, "loss", rp_val_json(&a->loss));
        cJSON_AddItemToObject(o, "heads", heads_json(a));
        cJSON *ab = cJSON_AddArrayToObject(o, "ablations");
        for (int i = 0; i < a->n_ablations; i++) {
            cJSON *y = cJSON_CreateObject();
            cJSON_AddStringToObject(y, "ablation", a->ablation_name[i]);
            cJSON_AddItemToObject(y, "dloss", rp_val_json(&a->dloss[i]));
            cJSON_AddItemToArray(ab, y);
        }
        cJSON_AddItemToArray(pre, o);
    }

    cJSON *cl = cJSON_AddArrayToObject(j, "claims");
    for (int i = 0; i < r->n_claims; i++) {
        const rl_claim *c = &r->claims[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "id", c->id);
        cJSON_AddStringToObject(o, "claim", c->claim);
        cJSON_AddStringToObject(o, "paper", c->paper);
        cJSON_AddStringToObject(o, "statistic", c->statistic);
        cJSON_AddStringToObject(o, "rule", c->rule);
        cJSON_AddStringToObject(o, "verdict", rl_verdict_name(c->verdict));
        cJSON_AddNumberToObject(o, "n", c->n);
        num(o, "estimate", c->estimate);
        cJSON *b = cJSON_AddArrayToObject(o, "ci95");
        cJSON_AddItemToArray(b, isfinite(c->lo) ? cJSON_CreateNumber(c->lo) : cJSON_CreateNull());
        cJSON_AddItemToArray(b, isfinite(c->hi) ? cJSON_CreateNumber(c->hi) : cJSON_CreateNull());
        cJSON_AddItemToObject(o, "inputs", cJSON_Duplicate(r->claim_inputs[i], 1));
        cJSON_AddItemToArray(cl, o);
    }

    cJSON *st = cJSON_AddArrayToObject(j, "stages");
    for (int i = 0; i < x->plan.n; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "stage", x->plan.st[i].label);
        cJSON_AddStringToObject(o, "folder", x->plan.st[i].rel);
        cJSON_AddItemToArray(st, o);
    }

    return rp_write_json(path, j);
}
