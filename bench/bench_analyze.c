/* bench_analyze: the analyser's speed. Forward tokens/s of rl_model_infer on the trainer's reference
 * config (random weights) in windows of --tokens (1024), plain and as the measuring pass (q/k/v
 * captured and probabilities materialised in every layer), its achieved GFLOP/s against the
 * machine's OpenBLAS sgemm rate at the model's shape (measured in the same run), a whole
 * rl_analyze run (figures off), and peak memory (getrusage ru_maxrss). Each at --threads (1 and
 * 2: on a shared machine the spinning of idle OpenMP threads can make 2 threads slower than 1).
 * Then the same on the real model stories260K (../shared/models, or $ROPELAB_TEST_MODELS; skipped
 * with a message when absent): forward tokens/s at its 512-token context and the whole analysis of
 * the three stories of tests/data/stories.
 *
 * Forward FLOPs per token (docs/model.md): 2 (L (D QKV + H hd D + 3 D F) + V D) + 2 L H hd (n + 1). */
#include "bench_common.h"
#include "ropelab/analysis.h"
#include "ropelab/formats.h"
#include "ropelab/model.h"
#include "ropelab/util.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>


static double fwd_flops_per_token(const rl_model_config *c, int n) {
    double L = c->n_layers, D = c->d_model, F = c->d_ff, V = c->vocab_size, HD = (double)c->n_heads * c->head_dim;
    return 2 * (L * (D * rl_model_qkv_width(c) + HD * D + 3 * D * F) + V * D) + 2 * L * HD * (n + 1);
}


static void noop_probs(void *ctx, int layer, int head, int row, const float *p, int n) {
    (void)ctx, (void)layer, (void)head, (void)row, (void)p, (void)n;
}

/* Best of `reps` forwards of one window; with `measure`, the analyser's measuring-pass hooks. */
static double forward_seconds(rl_model *m, const int32_t *tok, const int32_t *tgt, int n, int measure, int reps) {
    const rl_model_config *c = &m->cfg;
    const int L = c->n_layers;
    float *loss = malloc((size_t)n * sizeof *loss);
    float *cap = measure ? malloc((size_t)L * n * rl_model_qkv_width(c) * sizeof *cap) : NULL;
    float *q[RL_MAX_LAYERS], *k[RL_MAX_LAYERS], *v[RL_MAX_LAYERS];
    uint8_t all[RL_MAX_LAYERS];
    memset(all, 1, sizeof all);
    rl_infer_hooks hk = {0};
    if (measure) {
        const size_t nq = (size_t)n * c->n_heads * c->head_dim, nk = (size_t)n * c->n_kv_heads * c->head_dim;
        for (int l = 0; l < L; l++) {
            q[l] = cap + (size_t)l * (nq + 2 * nk);
            k[l] = q[l] + nq;
            v[l] = k[l] + nk;
        }
        hk.q = q, hk.k = k, hk.v = v;
        hk.probs_layers = all;
        hk.probs_fn = noop_probs;
    }
    double best = 1e30;
    for (int r = 0; r < reps; r++) {
        double t0 = rl_now();
        if (rl_model_infer(m, tok, tgt, n, loss, NULL, measure ? &hk : NULL) != 0) {
            fprintf(stderr, "bench_analyze: %s\n", rl_error());
            exit(1);
        }
        best = fmin(best, rl_now() - t0);
    }
    free(loss);
    free(cap);
    return best;
}

/* stories260K: forward speed at 512 tokens and the documented worked example, at 1 and 2 threads. */
static void bench_stories(void) {
    const char *env = getenv("ROPELAB_TEST_MODELS"), *root = getenv("ROPELAB_ROOT");
    char dir[4096], model[4200], tok[4200];
    snprintf(dir, sizeof dir, "%s", env && *env ? env : "../shared/models");
    if (!(env && *env) && root && *root) snprintf(dir, sizeof dir, "%s/../shared/models", root);
    snprintf(model, sizeof model, "%s/stories260K.bin", dir);
    snprintf(tok, sizeof tok, "%s/tok512.bin", dir);
    if (!rl_file_exists(model)) {
        printf("stories260K: skipped (%s absent)\n", model);
        return;
    }
    rl_loaded ld;
    if (rl_load_model(model, tok, &ld) != 0) {
        printf("stories260K: %s\n", rl_error());
        return;
    }
    const int n = 512;
    int32_t *t = malloc((size_t)n * sizeof *t), *tg = malloc((size_t)n * sizeof *tg);
    rl_rng r;
    rl_rng_seed(&r, 3);
    for (int i = 0; i < n; i++) t[i] = 3 + (int32_t)rl_rng_below(&r, (uint64_t)(ld.model->cfg.vocab_size - 3));
    for (int i = 0; i < n; i++) tg[i] = i + 1 < n ? t[i + 1] : -1;
    char paths[3][4300];
    const char *names[3] = {"lily", "max", "cake"};
    const char *pp[3];
    for (int i = 0; i < 3; i++) {
        snprintf(paths[i], sizeof paths[i], "%s/tests/data/stories/%s.txt", root && *root ? root : ".", names[i]);
        pp[i] = paths[i];
    }
    rl_analysis_text *texts = NULL;
    if (rl_analysis_read_texts(pp, 3, &texts) != 0) printf("stories260K: %s\n", rl_error());
    printf("stories260K (%.0f k parameters):\n", ld.model->n_params / 1e3);
    for (int th = 1; th <= 2; th++) {
        omp_set_num_threads(th);
        openblas_set_num_threads(th);
        double tp = forward_seconds(ld.model, t, tg, n, 0, 5), tm = forward_seconds(ld.model, t, tg, n, 1, 5);
        printf("  %d thread%s: plain forward %.0f tok/s, measuring pass %.0f tok/s (512-token window)", th,
               th > 1 ? "s" : " ", n / tp, n / tm);
        if (texts) {
            rl_analysis_opts o;
            rl_analysis_opts_default(&o);
            o.progress = 0;
            o.threads = th;
            char out[64];
            snprintf(out, sizeof out, "/tmp/ropelab-bench-stories-%d", (int)getpid());
            rl_analysis_summary s;
            double t0 = rl_now();
            if (rl_analyze(ld.model, ld.tok, texts, 3, &o, out, &s) == 0) {
                double t1 = rl_now() - t0;
                printf(" | whole analysis of the 3 stories (%lld tokens, figures included) %.2f s", (long long)s.n_tokens, t1);
                rl_analysis_summary_free(&s);
            } else {
                printf(" | analysis failed: %s", rl_error());
            }
            char cmd[128];
            snprintf(cmd, sizeof cmd, "rm -rf '%s'", out);
            if (system(cmd) != 0) fprintf(stderr, "bench_analyze: could not remove %s\n", out);
        }
        printf("\n");
    }
    if (texts) rl_analysis_texts_free(texts, 3);
    free(t), free(tg);
    rl_loaded_free(&ld);
}

int main(int argc, char **argv) {
    int n = 1024, n_texts = 2;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--tokens") && i + 1 < argc) n = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--texts") && i + 1 < argc) n_texts = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: bench_analyze [--tokens N (1024)] [--texts N (2)]\n");
            return 2;
        }
    }
    if (n < 16 || n > 65536 || n_texts < 1 || n_texts > 64) {
        fprintf(stderr, "bench_analyze: --tokens in [16, 65536], --texts in [1, 64]\n");
        return 2;
    }
    rl_model_config c;
    rl_model_config_default(&c);
    c.max_seq = n;
    rl_model *m = rl_model_new(&c, 1);
    if (!m) {
        fprintf(stderr, "bench_analyze: %s\n", rl_error());
        return 1;
    }
    rl_model_init_weights(m, 1);
    const int V = c.vocab_size;
    int32_t *tok = malloc((size_t)n_texts * n * sizeof *tok), *tgt = malloc((size_t)n * sizeof *tgt);
    rl_rng r;
    rl_rng_seed(&r, 7);
    for (int i = 0; i < n_texts * n; i++) tok[i] = 3 + (int32_t)rl_rng_below(&r, (uint64_t)(V - 3));
    for (int i = 0; i < n; i++) tgt[i] = i + 1 < n ? tok[i + 1] : -1;
    rl_analysis_text *texts = calloc((size_t)n_texts, sizeof *texts);
    for (int t = 0; t < n_texts; t++) {
        texts[t].name = "random";
        texts[t].ids = tok + (size_t)t * n;
        texts[t].n_ids = n - 1; /* + BOS = one window of n */
    }
    const double fpt = fwd_flops_per_token(&c, n);
    printf("analyzer forward, reference model (6 layers, d_model 256, 4 heads / 1 kv of dim 64, vocab 4096), "
           "windows of %d tokens, %.1f MFLOP per token\n", n, fpt / 1e6);
    const int threads[2] = {1, 2};
    for (int ti = 0; ti < 2; ti++) {
        const int th = threads[ti];
        omp_set_num_threads(th);
        openblas_set_num_threads(th);
        const double gemm = bench_sgemm_gflops(n, 4 * c.d_model, c.d_model, 5);
        const double tp = forward_seconds(m, tok, tgt, n, 0, 3), tm = forward_seconds(m, tok, tgt, n, 1, 3);
        printf("  %d thread%s: sgemm %dx%dx%d %.1f GFLOP/s | plain forward %.0f tok/s (%.1f GFLOP/s, %.2f of sgemm) | "
               "measuring pass %.0f tok/s (%.2f of plain)\n",
               th, th > 1 ? "s" : " ", n, 4 * c.d_model, c.d_model, gemm, n / tp, fpt * n / tp / 1e9,
               fpt * n / tp / 1e9 / gemm, n / tm, tp / tm);
        rl_analysis_opts o;
        rl_analysis_opts_default(&o);
        o.figures = 0;
        o.progress = 0;
        o.max_tokens = n;
        o.threads = th;
        char dir[64];
        snprintf(dir, sizeof dir, "/tmp/ropelab-bench-analyze-%d", (int)getpid());
        rl_analysis_summary s;
        double t0 = rl_now();
        if (rl_analyze(m, NULL, texts, n_texts, &o, dir, &s) != 0) {
            fprintf(stderr, "bench_analyze: %s\n", rl_error());
            return 1;
        }
        double dt = rl_now() - t0;
        /* passes: measuring, base loss, ablations, 2 per knocked-out head */
        int passes = 2 + s.n_ablations + 2 * RL_MIN(s.n_roles, o.max_knockout_heads);
        printf("  %d thread%s: whole analysis of %d x %d tokens: %.2f s, %d passes, %.0f tok/s over all passes "
               "(%d role heads, %d ablations)\n",
               th, th > 1 ? "s" : " ", n_texts, n, dt, passes, (double)passes * s.n_tokens / dt, s.n_roles,
               s.n_ablations);
        rl_analysis_summary_free(&s);
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        if (system(cmd) != 0) fprintf(stderr, "bench_analyze: could not remove %s\n", dir);
    }
    bench_stories();
    printf("  peak RSS %.1f MiB (model %.1f MiB, inference workspace at %d tokens %.1f MiB)\n", bench_peak_rss_mib(),
           m->n_params * 4.0 / (1 << 20), n, rl_model_infer_bytes(&c, n) / (double)(1 << 20));
    free(texts);
    free(tok);
    free(tgt);
    rl_model_free(m);
    return 0;
}
