/* bench_eval_long: the long-context evaluation forward of the reference model (6 layers,
 * d_model 256) at 16,384 tokens: its workspace (formula and measured peak memory) against the
 * 1 GiB budget and against what stored attention probabilities would need, and its speed against
 * the same number of tokens evaluated as 256-token windows (the training context).
 * Options: --tokens N (16384), --threads N (2). */
#include "ropelab/model.h"
#include "ropelab/util.h"

#include <cblas.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

static double peak_rss_mib(void) {
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return u.ru_maxrss / 1024.0; /* KiB on Linux */
}

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

    double rss0 = peak_rss_mib();
    t0 = rl_now();
    if (rl_model_infer(m, tok, tok + 1, n, loss, NULL, NULL) != 0) {
        fprintf(stderr, "bench_eval_long: %s\n", rl_error());
        return 1;
    }
    double t_long = rl_now() - t0, rss1 = peak_rss_mib();
    double sum = 0;
    for (int i = 0; i < n; i++) sum += loss[i];

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
    free(tok);
    free(loss);
    rl_model_free(m);
    return rss1 < 1024.0 ? 0 : 1;
}
