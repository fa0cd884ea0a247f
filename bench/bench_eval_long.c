/* bench_eval_long: the long-context evaluation forward of the reference model (6 layers,
 * d_model 256) at 16,384 tokens: its workspace (formula and measured peak memory) against the
 * 1 GiB budget and against what stored attention probabilities would need, and its speed against
 * the same number of tokens evaluated as 256-token windows (the training context). Then the same
 * forward with adaptive-temperature attention (attn_softmax "adaptive", switched on the same model
 * as `ropelab eval --softmax adaptive` does): its speed and memory against the plain forward, and
 * the tiled attention kernel alone on one layer's q/k/v (plain vs adaptive: the cost of the
 * statistics pass, which recomputes Q K^T and streams the entropy over the key tiles).
 * Options: --tokens N (16384), --threads N (2). */
#include "bench_common.h"
#include "ropelab/model.h"
#include "ropelab/util.h"

#include <cblas.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


int main(int argc, char **argv) {
    int n = 16384, threads = 2;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--tokens") && i + 1 < argc) n = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: bench_eval_long [--tokens N] [--threads N]\n");
            return 2;
        }
    }
    if (n < 256 || threads < 1) {
        fprintf(stderr, "bench_eval_long: --tokens must be >= 256 and --threads >= 1\n");
        return 2;
    }
    omp_set_num_threads(threads);
    openblas_set_num_threads(threads);
    rl_model_config c;
    rl_model_config_default(&c);
    rl_model *m = rl_model_new(&c, 1);
    if (!m) {
        fprintf(stderr, "bench_eval_long: %s\n", rl_error());
        return 1;
    }
    rl_model_init_weights(m, 1);
    int32_t *tok = malloc((size_t)(n + 1) * sizeof *tok);
    float *loss = malloc((size_t)n * sizeof *loss);
    rl_rng r;
    rl_rng_seed(&r, 1);
    for (int i = 0; i <= n; i++) tok[i] = (int32_t)rl_rng_below(&r, (uint64_t)c.vocab_size);

    /* the same tokens as 256-token windows first (this also warms up the rotation tables) */
    const int W = c.max_seq;
    double t0 = rl_now();
    for (int s = 0; s + W <= n; s += W)
        if (rl_model_infer(m, tok + s, tok + s + 1, W, loss + s, NULL, NULL) != 0) {
            fprintf(stderr, "bench_eval_long: %s\n", rl_error());
            return 1;
        }
    double t_short = rl_now() - t0;

    double rss0 = bench_peak_rss_mib();
    t0 = rl_now();
    if (rl_model_infer(m, tok, tok + 1, n, loss, NULL, NULL) != 0) {
        fprintf(stderr, "bench_eval_long: %s\n", rl_error());
        return 1;
    }
    double t_long = rl_now() - t0, rss1 = bench_peak_rss_mib();
    double sum = 0;
    for (int i = 0; i < n; i++) sum += loss[i];

    /* the same forward with adaptive temperature (same model, same workspace) */
    rl_model_set_attn_softmax(m, RL_ATTN_ADAPTIVE);
    size_t ws_bytes_plain = m->infer_ws_bytes;
    t0 = rl_now();
    if (rl_model_infer(m, tok, tok + 1, n, loss, NULL, NULL) != 0) {
        fprintf(stderr, "bench_eval_long: %s\n", rl_error());
        return 1;
    }
    double t_adapt = rl_now() - t0, rss2 = bench_peak_rss_mib(), sum_a = 0;
    for (int i = 0; i < n; i++) sum_a += loss[i];
    size_t ws_bytes_adapt = m->infer_ws_bytes;
    rl_model_set_attn_softmax(m, RL_ATTN_PLAIN);

    /* the tiled kernel alone on one layer's shapes (random q, k, v): plain, adaptive, plain again
     * (the better plain time is kept: the machine may be shared) */
    const int H = c.n_heads, KV = c.n_kv_heads, hd = c.head_dim, QKV = (H + 2 * KV) * hd;
    float *qkv = malloc((size_t)n * QKV * sizeof *qkv), *y = malloc((size_t)n * H * hd * sizeof *y);
    for (size_t i = 0; i < (size_t)n * QKV; i++) qkv[i] = (float)rl_rng_normal(&r);
    rl_attn_cfg ac = {0};
    ac.n_heads = H;
    ac.n_kv_heads = KV;
    ac.head_dim = hd;
    ac.scale = rl_model_attn_scale(&c);
    float *work = rl_alloc_aligned(rl_attention_tiled_work_floats(&ac) * sizeof(float), "attention work");
    if (!qkv || !y || !work) {
        fprintf(stderr, "bench_eval_long: out of memory\n");
        return 1;
    }
    double t_kernel[3];
    for (int k = 0; k < 3; k++) {
        ac.softmax = k == 1 ? RL_ATTN_ADAPTIVE : RL_ATTN_PLAIN;
        t0 = rl_now();
        rl_attention_tiled_forward(y, H * hd, qkv, QKV, qkv + H * hd, qkv + (H + KV) * hd, QKV, n, n, 0, &ac, work);
        t_kernel[k] = rl_now() - t0;
    }
    double t_kplain = t_kernel[0] < t_kernel[2] ? t_kernel[0] : t_kernel[2];
    free(qkv);
    free(y);
    free(work);

    double ws = (double)rl_model_infer_bytes(&c, n) / (1 << 20);
    double stored = 4.0 * n * n * c.n_heads / (1 << 20); /* one layer's probabilities */
    printf("eval forward, reference model (6 layers, d_model 256), %d tokens, %d threads: mean loss %.3f\n", n, threads,
           sum / n);
    printf("  workspace %.1f MiB (rl_model_infer_bytes); peak RSS %.1f MiB (+%.1f MiB during the long forward); "
           "ratio to the 1 GiB budget %.3f\n",
           ws, rss1, rss1 - rss0, (rss1) / 1024.0);
    printf("  stored probabilities would need %.0f MiB per layer: the tiled kernel uses %.4f of that\n", stored,
           ws / stored);
    printf("  speed: %.0f tokens/s at %d tokens in one sequence vs %.0f tokens/s as %d-token windows (ratio %.2f: "
           "attention grows with the context)\n",
           n / t_long, n, n / t_short, W, (n / t_long) / (n / t_short));
    printf("adaptive-temperature attention (attn_softmax adaptive, the paper's adaptive-at-inference setting), same "
           "model and tokens: mean loss %.3f (plain %.3f)\n",
           sum_a / n, sum / n);
    printf("  speed: %.0f tokens/s vs %.0f tokens/s plain (ratio adaptive/plain %.2f)\n", n / t_adapt, n / t_long,
           (n / t_adapt) / (n / t_long));
    printf("  memory: workspace %.1f MiB vs %.1f MiB plain (the statistics pass keeps 7 floats per query row of a "
           "tile: linear in the context); peak RSS %.1f MiB after it (+%.1f MiB)\n",
           ws_bytes_adapt / 1048576.0, ws_bytes_plain / 1048576.0, rss2, rss2 - rss1);
    printf("  tiled attention kernel alone, one layer (H %d, KV %d, hd %d, %d tokens): plain %.2f s, adaptive %.2f s "
           "(ratio %.2f: pass 1 recomputes Q K^T and streams the entropy)\n",
           H, KV, hd, n, t_kplain, t_kernel[1], t_kernel[1] / t_kplain);
    free(tok);
    free(loss);
    rl_model_free(m);
    return rss1 < 1024.0 ? 0 : 1;
}
