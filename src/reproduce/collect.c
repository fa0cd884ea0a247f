/* Gathering the report's numbers from the finished stage folders, each with its file and JSON pointer. */
#include "repro_internal.h"
#include "ropelab/util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const cJSON *rp_pointer(const cJSON *root, const char *ptr) {
    if (!root || !ptr) return NULL;
    if (!*ptr) return root;
    if (*ptr != '/') return NULL;
    const cJSON *cur = root;
    const char *p = ptr + 1;
    for (;;) {
        char tok[128];
        size_t k = 0;
        for (; *p && *p != '/'; p++) {
            if (k + 1 >= sizeof tok) return NULL;
            if (*p == '~' && (p[1] == '0' || p[1] == '1')) {
                tok[k++] = p[1] == '0' ? '~' : '/';
                p++;
            } else {
                tok[k++] = *p;
            }
        }
        tok[k] = '\0';
        if (cJSON_IsArray(cur)) {
            char *end;
            long i = strtol(tok, &end, 10);
            if (!*tok || *end || i < 0) return NULL;
            cur = cJSON_GetArrayItem(cur, (int)i);
        } else if (cJSON_IsObject(cur)) {
            cur = cJSON_GetObjectItemCaseSensitive(cur, tok);
        } else {
            return NULL;
        }
        if (!cur) return NULL;
        if (!*p) return cur;
        p++;
    }
}

cJSON *rp_val_json(const rp_val *v) {
    cJSON *o = cJSON_CreateObject();
    if (isfinite(v->v)) cJSON_AddNumberToObject(o, "value", v->v);
    else cJSON_AddNullToObject(o, "value");
    cJSON_AddStringToObject(o, "source", v->src);
    cJSON_AddStringToObject(o, "pointer", v->ptr);
    return o;
}

/* A parsed JSON file of a stage folder. */
typedef struct {
    char rel[96];
    cJSON *root;
} jfile;

static int jopen(jfile *f, const char *out, const char *rel) {
    char path[4300], *txt;
    memset(f, 0, sizeof *f);
    snprintf(f->rel, sizeof f->rel, "%s", rel);
    if (rl_path(path, sizeof path, "%s/%s", out, rel) != 0 || rl_read_file(path, &txt, NULL) != 0) return -1;
    f->root = cJSON_Parse(txt);
    free(txt);
    if (!f->root) return rl_fail("%s: not valid JSON", path);
    return 0;
}

static void jclose(jfile *f) {
    cJSON_Delete(f->root);
    f->root = NULL;
}

/* The number at ptr (null counts as NaN: the analyser writes non-finite values as null). */
static int jval(const jfile *f, const char *ptr, rp_val *v) {
    const cJSON *n = rp_pointer(f->root, ptr);
    snprintf(v->src, sizeof v->src, "%s", f->rel);
    snprintf(v->ptr, sizeof v->ptr, "%s", ptr);
    if (cJSON_IsNumber(n)) v->v = n->valuedouble;
    else if (cJSON_IsNull(n)) v->v = NAN;
    else return rl_fail("%s: %s is %s, expected a number", f->rel, ptr, n ? "not a number" : "missing");
    return 0;
}

int rp_read_val(const char *out, const char *rel, const char *ptr, rp_val *v) {
    jfile f;
    if (jopen(&f, out, rel) != 0) return -1;
    int rc = jval(&f, ptr, v);
    jclose(&f);
    return rc;
}

int rp_variant(const rp_ctx *x, const char *name) {
    for (int v = 0; v < x->n_variants; v++)
        if (strcmp(x->variants[v].name, name) == 0) return v;
    return -1;
}

static int stage_done(const rp_ctx *x, int i) { return i >= 0 && x->plan.st[i].state == 2; }

/* ---- theory ------------------------------------------------------------------------------------ */

static int collect_theory(const rp_ctx *x, rp_theory *t) {
    const plan_stage *s = &x->plan.st[x->st_theory];
    jfile f;
    snprintf(t->dir, sizeof t->dir, "%s", s->rel);
    snprintf(t->src, sizeof t->src, "%s/summary.json", s->rel);
    if (jopen(&f, x->plan.out_dir, t->src) != 0) return -1;
    const cJSON *ex = cJSON_GetObjectItemCaseSensitive(f.root, "experiments");
    int i = 0;
    for (const cJSON *e = ex ? ex->child : NULL; e && i < RL_THEORY_COUNT; e = e->next, i++) {
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(e, "name"),
                    *claim = cJSON_GetObjectItemCaseSensitive(e, "claim"),
                    *paper = cJSON_GetObjectItemCaseSensitive(e, "paper"),
                    *verdict = cJSON_GetObjectItemCaseSensitive(e, "verdict"),
                    *rule = cJSON_GetObjectItemCaseSensitive(e, "rule"),
                    *line = cJSON_GetObjectItemCaseSensitive(e, "summary"),
                    *files = cJSON_GetObjectItemCaseSensitive(e, "files");
        if (!cJSON_IsString(name) || !cJSON_IsString(claim) || !cJSON_IsString(verdict) || !cJSON_IsString(rule) ||
            !cJSON_IsString(line) || !cJSON_IsString(paper)) {
            jclose(&f);
            return rl_fail("%s: experiment %d lacks name/claim/paper/verdict/rule/summary", t->src, i);
        }
        snprintf(t->name[i], sizeof t->name[i], "%s", name->valuestring);
        rl_claim *c = &t->claim[i];
        memset(c, 0, sizeof *c);
        snprintf(c->id, sizeof c->id, "theory.%s", name->valuestring);
        snprintf(c->claim, sizeof c->claim, "%s", claim->valuestring);
        snprintf(c->paper, sizeof c->paper, "%s", paper->valuestring);
        snprintf(c->statistic, sizeof c->statistic, "%s", line->valuestring);
        snprintf(c->rule, sizeof c->rule, "%s", rule->valuestring);
        c->verdict = strcmp(verdict->valuestring, "supported") == 0 ? RL_VERDICT_SUPPORTED : RL_VERDICT_NOT_SUPPORTED;
        c->estimate = c->lo = c->hi = NAN;
        snprintf(t->verdict_ptr[i], sizeof t->verdict_ptr[i], "/experiments/%d/verdict", i);
        t->n_figures[i] = 0;
        for (const cJSON *fl = files ? files->child : NULL; fl; fl = fl->next) {
            if (!cJSON_IsString(fl)) continue;
            size_t k = strlen(fl->valuestring);
            if (k > 4 && k < 64 && strcmp(fl->valuestring + k - 4, ".png") == 0 && t->n_figures[i] < 8)
                snprintf(t->figures[i][t->n_figures[i]++], 64, "%.*s", (int)(k - 4), fl->valuestring);
        }
    }
    t->n = i;
    t->have = 1;
    jclose(&f);
    return 0;
}

/* ---- evaluations --------------------------------------------------------------------------------- */

/* The eval stage's eval.json (the trainer's report): one row per encoding, softmax and context; ours
 * are the checkpoint's own encoding (overridden false) with the plain softmax ("softmax", the one it
 * was trained with) and with "adaptive" (an inference-time override). */
static const char *const softmax_name[RP_NSOFTMAX] = {"softmax", "adaptive"};

static int collect_eval(const rp_ctx *x, int st, rp_eval *e) {
    const plan_stage *s = &x->plan.st[st];
    const rl_repro_scale *sc = x->scale;
    char rel[96];
    snprintf(rel, sizeof rel, "%s/%s", s->rel, RP_EVAL_FILE);
    jfile f;
    if (jopen(&f, x->plan.out_dir, rel) != 0) return -1;
    const cJSON *res = cJSON_GetObjectItemCaseSensitive(f.root, "results");
    e->n_softmax = x->n_softmax;
    for (int k = 0; k < x->n_softmax; k++)
        for (int m = 0; m < sc->n_mults; m++) {
            int want = sc->mults[m] * sc->ctx, found = -1, i = 0;
            for (const cJSON *r = res ? res->child : NULL; r; r = r->next, i++) {
                const cJSON *c = cJSON_GetObjectItemCaseSensitive(r, "context"),
                            *o = cJSON_GetObjectItemCaseSensitive(r, "overridden"),
                            *sm = cJSON_GetObjectItemCaseSensitive(r, "softmax");
                if (cJSON_IsNumber(c) && c->valueint == want && !cJSON_IsTrue(o) && cJSON_IsString(sm) &&
                    strcmp(sm->valuestring, softmax_name[k]) == 0) {
                    found = i;
                    break;
                }
            }
            if (found < 0) {
                jclose(&f);
                return rl_fail("%s/%s: no result for the model's own encoding with softmax \"%s\" at context %d",
                               x->plan.out_dir, rel, softmax_name[k], want);
            }
            char ptr[64];
            snprintf(ptr, sizeof ptr, "/results/%d/ppl", found);
            if (jval(&f, ptr, &e->ppl[k][m]) != 0) {
                jclose(&f);
                return -1;
            }
        }
    jclose(&f);
    e->have = 1;
    return 0;
}

/* ---- analyses ------------------------------------------------------------------------------------ */

/* A [L][C] matrix of numbers at key `key` (nulls become NaN). */
static int matrix(const jfile *f, const char *ptr, int L, int C, double *out) {
    const cJSON *m = rp_pointer(f->root, ptr);
    if (!cJSON_IsArray(m) || cJSON_GetArraySize(m) != L) return rl_fail("%s: %s is not a %d-row matrix", f->rel, ptr, L);
    int l = 0;
    for (const cJSON *row = m->child; row; row = row->next, l++) {
        if (!cJSON_IsArray(row) || cJSON_GetArraySize(row) != C)
            return rl_fail("%s: %s/%d does not have %d columns", f->rel, ptr, l, C);
        int c = 0;
        for (const cJSON *v = row->child; v; v = v->next, c++) out[(size_t)l * C + c] = cJSON_IsNumber(v) ? v->valuedouble : NAN;
    }
    return 0;
}

static int collect_analysis(const rp_ctx *x, int st, rp_analysis *a) {
    const plan_stage *s = &x->plan.st[st];
    snprintf(a->dir, sizeof a->dir, "%s", s->rel);
    snprintf(a->src, sizeof a->src, "%s/%s", s->rel, RP_ANALYSIS);
    jfile f;
    if (jopen(&f, x->plan.out_dir, a->src) != 0) return -1;
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(f.root, "model"),
                *nl = cJSON_GetObjectItemCaseSensitive(model, "n_layers"),
                *nc = cJSON_GetObjectItemCaseSensitive(model, "n_chunks");
    int rc = -1;
    if (!cJSON_IsNumber(nl) || !cJSON_IsNumber(nc) || nl->valueint < 1 || nc->valueint < 1) {
        rl_fail("%s: /model/n_layers or /model/n_chunks missing", a->src);
        goto out;
    }
    a->L = nl->valueint;
    a->C = nc->valueint;
    size_t LC = (size_t)a->L * a->C;
    double *q = malloc(LC * sizeof *q), *k = malloc(LC * sizeof *k);
    a->usage = malloc(LC * sizeof *a->usage);
    a->freq = malloc(LC * sizeof *a->freq);
    if (!q || !k || !a->usage || !a->freq) {
        free(q);
        free(k);
        rl_fail("out of memory reading %s", a->src);
        goto out;
    }
    if (matrix(&f, "/usage_per_layer/q", a->L, a->C, q) != 0 || matrix(&f, "/usage_per_layer/k", a->L, a->C, k) != 0 ||
        matrix(&f, "/frequency", a->L, a->C, a->freq) != 0) {
        free(q);
        free(k);
        goto out;
    }
    for (size_t i = 0; i < LC; i++) a->usage[i] = (q[i] + k[i]) / 2;
    free(q);
    free(k);
    if (jval(&f, "/loss", &a->loss) != 0 || jval(&f, "/settings/edge_fraction", &a->edge) != 0) goto out;
    const cJSON *roles = cJSON_GetObjectItemCaseSensitive(f.root, "role_heads");
    int nr = cJSON_GetArraySize(roles);
    a->heads = calloc((size_t)(nr > 0 ? nr : 1), sizeof *a->heads);
    if (!a->heads) goto out;
    int i = 0;
    for (const cJSON *h = roles ? roles->child : NULL; h; h = h->next, i++) {
        rp_head *d = &a->heads[a->n_heads];
        const cJSON *role = cJSON_GetObjectItemCaseSensitive(h, "role"), *l = cJSON_GetObjectItemCaseSensitive(h, "layer"),
                    *hh = cJSON_GetObjectItemCaseSensitive(h, "head");
        if (!cJSON_IsString(role) || !cJSON_IsNumber(l) || !cJSON_IsNumber(hh)) {
            rl_fail("%s: /role_heads/%d lacks role/layer/head", a->src, i);
            goto out;
        }
        d->layer = l->valueint;
        d->head = hh->valueint;
        snprintf(d->role, sizeof d->role, "%s", role->valuestring);
        char p[64];
#define GET(field, name)                                                                                             \
    snprintf(p, sizeof p, "/role_heads/%d/%s", i, name);                                                              \
    if (jval(&f, p, &d->field) != 0) goto out;
        GET(score, "score");
        GET(high_share, "high_share");
        GET(top_chunk, "top_chunk");
        GET(ko_high, "knockout/high_score");
        GET(ko_low, "knockout/low_score");
#undef GET
        a->n_heads++;
    }
    const cJSON *abl = cJSON_GetObjectItemCaseSensitive(f.root, "ablations");
    int na = cJSON_GetArraySize(abl);
    a->ablation_name = calloc((size_t)(na > 0 ? na : 1), sizeof *a->ablation_name);
    a->dloss = calloc((size_t)(na > 0 ? na : 1), sizeof *a->dloss);
    if (!a->ablation_name || !a->dloss) goto out;
    i = 0;
    for (const cJSON *ab = abl ? abl->child : NULL; ab; ab = ab->next, i++) {
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(ab, "name");
        if (!cJSON_IsString(name)) {
            rl_fail("%s: /ablations/%d lacks a name", a->src, i);
            goto out;
        }
        snprintf(a->ablation_name[i], sizeof a->ablation_name[i], "%s", name->valuestring);
        char p[64];
        snprintf(p, sizeof p, "/ablations/%d/dloss", i);
        if (jval(&f, p, &a->dloss[i]) != 0) goto out;
        a->n_ablations++;
    }
    a->have = 1;
    rc = 0;
out:
    jclose(&f);
    return rc;
}

static void analysis_free(rp_analysis *a) {
    free(a->usage);
    free(a->freq);
    free(a->heads);
    free(a->ablation_name);
    free(a->dloss);
    memset(a, 0, sizeof *a);
}

void rp_results_free(rp_results *r) {
    for (int v = 0; v < RP_MAX_VARIANTS; v++)
        for (int s = 0; s < RP_MAX_SEEDS; s++) analysis_free(&r->an[v][s]);
    for (int m = 0; m < RP_MAX_MODELS; m++) analysis_free(&r->pre[m]);
    for (int i = 0; i < r->n_claims; i++) cJSON_Delete(r->claim_inputs[i]);
    memset(r, 0, sizeof *r);
}

int rp_collect(const rp_ctx *x, rp_results *r) {
    memset(r, 0, sizeof *r);
    const char *out = x->plan.out_dir;
    if (stage_done(x, x->st_data)) {
        char rel[96];
        snprintf(rel, sizeof rel, "%s/%s", x->plan.st[x->st_data].rel, RP_UNIGRAM);
        jfile f;
        if (jopen(&f, out, rel) != 0) return -1;
        int rc = jval(&f, "/loss", &r->unigram_loss);
        if (rc == 0) rc = jval(&f, "/train_tokens", &r->train_tokens);
        if (rc == 0) rc = jval(&f, "/val_tokens", &r->val_tokens);
        jclose(&f);
        if (rc != 0) return -1;
        r->have_unigram = 1;
    }
    if (stage_done(x, x->st_theory) && collect_theory(x, &r->theory) != 0) return -1;
    for (int v = 0; v < x->n_variants; v++)
        for (int s = 0; s < x->seeds; s++) {
            if (stage_done(x, x->st_eval[v][s]) && collect_eval(x, x->st_eval[v][s], &r->eval[v][s]) != 0) return -1;
            if (stage_done(x, x->st_analysis[v][s]) && collect_analysis(x, x->st_analysis[v][s], &r->an[v][s]) != 0)
                return -1;
        }
    for (int m = 0; m < x->o.n_models && m < RP_MAX_MODELS; m++)
        if (stage_done(x, x->st_pretrained[m]) && collect_analysis(x, x->st_pretrained[m], &r->pre[m]) != 0) return -1;
    return 0;
}
