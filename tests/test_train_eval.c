/* train/eval: the evaluation protocol against an independent float64 computation (windows of N+1
 * tokens, dropped tail, positions from 0 in every window, buckets), the 1x..16x default contexts,
 * encoding and softmax overrides, reports. */
#include "helpers.h"
#include "model_ref.h"
#include "ropelab/data.h"
#include "ropelab/train.h"
#include "ropelab/util.h"
#include "train_helpers.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#pragma GCC diagnostic ignored "-Wformat-truncation" /* short temp paths */

#define V 32
#define NTOK 300

/* Training context 4, so that the default contexts are 4, 8, 16, 32, 64; weights with spread 0.5
 * (sharp enough attention that context and position matter). */
static rl_model *tiny(void) { return tt_tiny_model(V, 4, 11, 0.5); }

/* A validation shard of NTOK seeded tokens; tail_seed changes only tokens from `keep` on. */
static void write_shard(const char *path, int keep, uint64_t tail_seed, int32_t *tok) {
    rl_rng r, t;
    rl_rng_seed(&r, 99);
    rl_rng_seed(&t, tail_seed);
    for (int i = 0; i < NTOK; i++) {
        int32_t a = (int32_t)rl_rng_below(&r, V), b = (int32_t)rl_rng_below(&t, V);
        tok[i] = i < keep ? a : b;
    }
    cr_assert_eq(rl_shard_write(path, V, tok, NTOK), 0, "%s", rl_error());
}

/* The model, and DIR/val.bin (its path in `path`) written and opened. */
static rl_model *setup(const char *dir, char *path, int32_t *tok, rl_shard *s) {
    snprintf(path, 4200, "%s/val.bin", dir);
    write_shard(path, NTOK, 1, tok);
    cr_assert_eq(rl_shard_open(s, path, V), 0, "%s", rl_error());
    return tiny();
}

/* The protocol written out plainly: windows [w (N+1), (w+1)(N+1)) of the first M tokens, each an
 * independent sequence at positions 0..N-1 through the float64 reference model; the loss of
 * prediction t is logsumexp(logits_t) - logits_t[token t+1]; buckets by a linear scan. */
typedef struct {
    int64_t windows, predictions;
    double loss;
    double bucket_sum[40];
    int64_t bucket_n[40];
} naive;

static int naive_bucket(int t) {
    int b = 0;
    while (t >= (1 << b)) b++; /* t = 0 -> 0; t in [2^(b-1), 2^b) -> b */
    return b;
}

static naive naive_eval(const rl_model *m, const int32_t *tok, int64_t M, int N) {
    naive z;
    memset(&z, 0, sizeof z);
    double *P = ref_params_from_model(m), *logits = malloc((size_t)N * V * sizeof *logits), sum = 0;
    for (int64_t start = 0; start + N + 1 <= M; start += N + 1) {
        ref_forward(m, P, tok + start, N, logits);
        for (int t = 0; t < N; t++) {
            const double *l = logits + (size_t)t * V;
            double mx = l[0], s = 0;
            for (int v = 1; v < V; v++) mx = fmax(mx, l[v]);
            for (int v = 0; v < V; v++) s += exp(l[v] - mx);
            double loss = mx + log(s) - l[tok[start + t + 1]];
            sum += loss;
            z.bucket_sum[naive_bucket(t)] += loss;
            z.bucket_n[naive_bucket(t)]++;
        }
        z.windows++;
    }
    z.predictions = z.windows * N;
    z.loss = sum / (double)z.predictions;
    free(P);
    free(logits);
    return z;
}

/* float32 inference vs the float64 reference: the model tests bound logits to 2e-5 of their scale;
 * mean losses of a few nats agree to 1e-5 relative. */
static void check_point(const rl_eval_point *p, const naive *z, const char *what) {
    cr_assert_eq(p->windows, z->windows, "%s: windows %lld vs %lld", what, (long long)p->windows, (long long)z->windows);
    cr_assert_eq(p->predictions, z->predictions, "%s", what);
    cr_assert(fabs(p->loss - z->loss) < 1e-5 * z->loss, "%s: loss %.9g vs naive %.9g", what, p->loss, z->loss);
    cr_assert(fabs(p->ppl - exp(z->loss)) < 2e-5 * exp(z->loss), "%s: ppl", what);
    for (int b = 0; b < p->n_buckets; b++) {
        cr_assert_eq(p->bucket_count[b], z->bucket_n[b], "%s: bucket %d count", what, b);
        double want = z->bucket_sum[b] / (double)z->bucket_n[b];
        cr_assert(fabs(p->bucket_loss[b] - want) < 1e-5 * want, "%s: bucket %d: %.9g vs %.9g", what, b, p->bucket_loss[b], want);
    }
    cr_assert_eq(z->bucket_n[p->n_buckets], 0, "%s: a bucket is missing", what);
}

Test(train_eval, protocol_matches_naive_computation) {
    char *dir = rt_tmpdir(), path[4200];
    int32_t tok[NTOK];
    rl_shard s;
    rl_model *m = setup(dir, path, tok, &s);
    /* contexts with and without a partial last window, and a token limit */
    const struct {
        int N;
        int64_t max_tokens;
    } cases[] = {{4, 0}, {7, 0}, {7, 150}, {16, 0}, {33, 100}, {64, 0}, {299, 0}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        rl_eval_point p;
        char what[64];
        snprintf(what, sizeof what, "N %d, max_tokens %lld", cases[i].N, (long long)cases[i].max_tokens);
        cr_assert_eq(rl_eval_context(m, &s, cases[i].N, cases[i].max_tokens, 0, &p), 0, "%s: %s", what, rl_error());
        int64_t M = cases[i].max_tokens ? cases[i].max_tokens : NTOK;
        cr_assert_eq(p.tokens_read, M);
        cr_assert_eq(p.windows, M / (cases[i].N + 1), "%s", what);
        naive z = naive_eval(m, tok, M, cases[i].N);
        check_point(&p, &z, what);
    }
    /* buckets: powers of two, the last one cut at N */
    rl_eval_point p;
    cr_assert_eq(rl_eval_context(m, &s, 7, 0, 0, &p), 0);
    const int64_t lo7[] = {0, 1, 2, 4}, hi7[] = {1, 2, 4, 7};
    cr_assert_eq(p.n_buckets, 4);
    for (int b = 0; b < 4; b++) cr_assert(p.bucket_lo[b] == lo7[b] && p.bucket_hi[b] == hi7[b], "bucket %d", b);
    cr_assert_eq(rl_eval_context(m, &s, 16, 0, 0, &p), 0);
    cr_assert_eq(p.n_buckets, 5);
    cr_assert(p.bucket_lo[4] == 8 && p.bucket_hi[4] == 16);
    /* the dropped tail: other tokens after the last whole window change nothing, bit for bit */
    rl_eval_point a, b2;
    cr_assert_eq(rl_eval_context(m, &s, 16, 0, 0, &a), 0); /* 17 windows of 17 = 289 tokens */
    rl_shard_close(&s);
    write_shard(path, 289, 2, tok);
    cr_assert_eq(rl_shard_open(&s, path, V), 0);
    cr_assert_eq(rl_eval_context(m, &s, 16, 0, 0, &b2), 0);
    cr_assert(a.loss == b2.loss, "the partial last window was read: %.17g vs %.17g", a.loss, b2.loss);
    /* ...while a change inside the last whole window does change the loss */
    rl_shard_close(&s);
    write_shard(path, 288, 2, tok);
    cr_assert_eq(rl_shard_open(&s, path, V), 0);
    cr_assert_eq(rl_eval_context(m, &s, 16, 0, 0, &b2), 0);
    cr_assert(a.loss != b2.loss, "the last whole window was not read");
    /* many windows run one per thread, each inference single-threaded: bit-identical to 1 thread */
    int threads = omp_get_max_threads();
    rl_eval_point one, two;
    omp_set_num_threads(1);
    cr_assert_eq(rl_eval_context(m, &s, 4, 0, 0, &one), 0);
    omp_set_num_threads(2);
    cr_assert_eq(rl_eval_context(m, &s, 4, 0, 0, &two), 0);
    omp_set_num_threads(threads);
    cr_assert(one.loss == two.loss, "%.17g vs %.17g", one.loss, two.loss);
    /* errors: a context longer than the tokens read */
    cr_assert_neq(rl_eval_context(m, &s, 300, 0, 0, &p), 0);
    cr_assert(strstr(rl_error(), "context 300 needs windows of 301 tokens") && strstr(rl_error(), "val.bin"), "%s", rl_error());
    cr_assert_neq(rl_eval_context(m, &s, 16, 10, 0, &p), 0);
    cr_assert(strstr(rl_error(), "only 10 validation tokens were read"), "%s", rl_error());
    rl_shard_close(&s);
    rl_model_free(m);
    rt_rmtree(dir);
    free(dir);
}

/* The plan: default contexts 1x..16x the training context, the model's own encoding and softmax
 * first, then each override (a view sharing the weights), each against the naive computation with
 * that config; then the reports. */
Test(train_eval, plan_with_overrides_and_reports) {
    char *dir = rt_tmpdir(), path[4200];
    int32_t tok[NTOK];
    rl_shard s;
    rl_model *m = setup(dir, path, tok, &s);
    const char *pe[] = {"nope", "rope:theta=10000+yarn:factor=4,original=4"};
    const char *sm[] = {"adaptive", "softmax"}; /* "softmax" is the model's own: not repeated */
    rl_eval_opts o = {0};
    o.pe = pe;
    o.n_pe = 2;
    o.softmax = sm;
    o.n_softmax = 2;
    o.quiet = 1;
    rl_eval_report r;
    cr_assert_eq(rl_eval_model(m, &s, dir, &o, &r), 0, "%s", rl_error());
    cr_assert_eq(r.n_rows, 3 * 2 * 5, "3 encodings x 2 softmax kinds x 5 contexts");
    cr_assert_eq(r.train_context, 4);
    const int ctx[] = {4, 8, 16, 32, 64};
    double own64 = 0, nope64 = 0;
    for (int i = 0; i < r.n_rows; i++) {
        const rl_eval_row *w = &r.rows[i];
        int v = i / 10, k = (i / 5) % 2;
        cr_assert_eq(w->pt.context, ctx[i % 5], "row %d", i);
        cr_assert_eq(w->overridden, v > 0);
        cr_assert_str_eq(w->softmax, k ? "adaptive" : "softmax");
        cr_assert_eq(w->softmax_overridden, k);
        rl_model *view = rl_model_with_pe(m, v == 0 ? "rope:theta=10000" : pe[v - 1]);
        cr_assert_not_null(view, "%s", rl_error());
        cr_assert_eq(rl_model_set_attn_softmax(view, k ? RL_ATTN_ADAPTIVE : RL_ATTN_PLAIN), 0);
        char want_pe[256];
        rl_model_config_pe_string(&view->cfg, want_pe, sizeof want_pe);
        cr_assert_str_eq(w->pe, want_pe);
        naive z = naive_eval(view, tok, NTOK, w->pt.context);
        char what[300];
        snprintf(what, sizeof what, "%s / %s @ %d", w->pe, w->softmax, w->pt.context);
        check_point(&w->pt, &z, what);
        rl_model_free(view);
        if (w->pt.context == 64 && k == 0) {
            if (v == 0) own64 = w->pt.loss;
            if (v == 1) nope64 = w->pt.loss;
        }
    }
    cr_assert(fabs(own64 - nope64) > 1e-4, "the nope override did not change the loss (%g vs %g)", own64, nope64);
    cr_assert_eq(m->cfg.attn_softmax, RL_ATTN_PLAIN, "the caller's model keeps its softmax");
    /* reports */
    char out[4200], p[4300];
    snprintf(out, sizeof out, "%s/report", dir);
    cr_assert_eq(rl_eval_report_write(&r, out), 0, "%s", rl_error());
    snprintf(p, sizeof p, "%s/eval.json", out);
    char *js;
    size_t n;
    cr_assert_eq(rl_read_file(p, &js, &n), 0);
    cJSON *j = cJSON_Parse(js);
    cr_assert_not_null(j);
    const cJSON *res = cJSON_GetObjectItem(j, "results");
    cr_assert_eq(cJSON_GetArraySize(res), 30);
    const cJSON *last = cJSON_GetArrayItem(res, 29);
    cr_assert_eq(cJSON_GetObjectItem(last, "context")->valuedouble, 64);
    cr_assert_eq(cJSON_GetObjectItem(last, "context_factor")->valuedouble, 16);
    cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(last, "buckets")), 7);
    cr_assert(fabs(cJSON_GetObjectItem(last, "loss")->valuedouble - r.rows[29].pt.loss) < 1e-12);
    cJSON_Delete(j);
    free(js);
    char cmd[4400], *lines;
    snprintf(cmd, sizeof cmd, "wc -l < '%s/eval.csv'; wc -l < '%s/buckets.csv'; sed -n 2p '%s/eval.csv'", out, out, out);
    rt_sh(cmd, &lines);
    int nb = 0;
    for (int i = 0; i < r.n_rows; i++) nb += r.rows[i].pt.n_buckets;
    char want[512];
    snprintf(want, sizeof want, "31\n%d\n\"rope:theta=10000\",0,softmax,4,1,300,60,240,", nb + 1);
    cr_assert(strncmp(lines, want, strlen(want)) == 0, "%s\nvs\n%s", lines, want);
    free(lines);
    /* figures: one gnuplot block per variant (6), the images rendered */
    cr_assert_eq(rl_eval_report_figures(&r, out), 0, "%s", rl_error());
    snprintf(cmd, sizeof cmd, "cd '%s' && ls eval_context.png eval_context.svg eval_positions.png eval_positions.svg | wc -l; "
             "grep -c '^$' eval_context.csv; grep -c '^256,' eval_positions.csv", out);
    rt_sh(cmd, &lines);
    cr_assert_str_eq(lines, "4\n10\n0\n", "%s", lines); /* 5 double blank lines; buckets end at 64 */
    free(lines);
    rl_eval_report_free(&r);
    /* a bad override is an error naming it */
    const char *badpe[] = {"rope:theta=0"};
    o.pe = badpe;
    o.n_pe = 1;
    o.n_softmax = 0;
    cr_assert_neq(rl_eval_model(m, &s, dir, &o, &r), 0);
    cr_assert(strstr(rl_error(), "rope:theta=0"), "%s", rl_error());
    const char *badsm[] = {"sparsemax"};
    o.n_pe = 0;
    o.softmax = badsm;
    o.n_softmax = 1;
    cr_assert_neq(rl_eval_model(m, &s, dir, &o, &r), 0);
    cr_assert(strstr(rl_error(), "sparsemax"), "%s", rl_error());
    rl_shard_close(&s);
    rl_model_free(m);
    rt_rmtree(dir);
    free(dir);
}
