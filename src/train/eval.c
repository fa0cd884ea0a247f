/* The evaluation protocol: validation loss at one context over consecutive non-overlapping
 * windows, with power-of-two position buckets; and encoding overrides sharing the weights. */
#include "ropelab/train.h"
#include "ropelab/util.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

/* Bucket of position t: 0 for t = 0, else 1 + floor(log2 t), i.e. [2^(b-1), 2^b). */
static int bucket_of(int64_t t) {
    int b = 0;
    while (t > 0) {
        b++;
        t >>= 1;
    }
    return b;
}

int rl_eval_context(rl_model *m, const rl_shard *val, int context, int64_t max_tokens, int show_progress,
                    rl_eval_point *out) {
    const int N = context;
    memset(out, 0, sizeof *out);
    if (N < 1) return rl_fail("context %d must be at least 1", N);
    if (val->vocab_size > m->cfg.vocab_size)
        return rl_fail("%s: vocabulary %d is larger than the model's %d: this data was not made with the model's tokenizer",
                       val->path, val->vocab_size, m->cfg.vocab_size);
    int64_t avail = val->n_tokens, read = max_tokens > 0 && max_tokens < avail ? max_tokens : avail;
    int64_t W = read / ((int64_t)N + 1);
    if (W < 1)
        return rl_fail("%s: context %d needs windows of %d tokens, but only %lld validation tokens were read%s", val->path, N,
                       N + 1, (long long)read, read < avail ? " (raise the token limit)" : "");
    out->context = N;
    out->tokens_read = read;
    out->windows = W;
    out->predictions = W * N;
    out->n_buckets = bucket_of(N - 1) + 1;
    for (int b = 0; b < out->n_buckets; b++) {
        out->bucket_lo[b] = b == 0 ? 0 : (int64_t)1 << (b - 1);
        out->bucket_hi[b] = b == 0 ? 1 : RL_MIN((int64_t)1 << b, (int64_t)N);
        out->bucket_count[b] = W * (out->bucket_hi[b] - out->bucket_lo[b]);
    }
    /* per-window bucket sums, reduced in window order at the end: the result does not depend on
     * which thread ran which window */
    const int nb = out->n_buckets;
    double *wsum = rl_calloc((size_t)W * nb, sizeof *wsum, "evaluation sums");
    if (!wsum) return -1;
    /* many windows: one window per thread, each inference single-threaded (4x faster than
     * splitting every 256-token window over 2 threads on a busy 2-core machine, and the result is
     * then the 1-thread result exactly); few or very long windows thread inside the inference */
    const int nt = omp_get_max_threads(), by_window = nt > 1 && W >= 4 * nt && N <= 16384;
    const int nv = by_window ? nt : 1;
    rl_model *view[64] = {m};
    char pe[RL_MAX_LAYERS * 160];
    rl_model_config_pe_string(&m->cfg, pe, sizeof pe);
    int rc = 0;
    for (int i = 1; i < nv && i < 64 && rc == 0; i++)
        if (!(view[i] = rl_model_with_pe(m, pe))) rc = -1; /* same weights, own workspace */
    rl_progress pr;
    if (show_progress && rc == 0) {
        char label[48];
        snprintf(label, sizeof label, "eval context %d", N);
        rl_progress_start(&pr, label, W, "window");
    }
    int64_t done = 0;
    char err[1024] = "";
#pragma omp parallel num_threads(RL_MIN(nv, 64)) if (nv > 1)
    {
        const int tid = omp_get_thread_num(), n_thr = omp_get_num_threads();
        int32_t *tok = rl_malloc(((size_t)N + 1) * sizeof *tok, "evaluation window");
        float *loss = rl_malloc((size_t)N * sizeof *loss, "evaluation losses");
        int ok = rc == 0 && tok && loss;
        if (!ok && rc == 0) {
#pragma omp critical(rl_eval_err)
            snprintf(err, sizeof err, "%s", rl_error());
        }
        for (int64_t w = tid; ok && w < W; w += n_thr) {
            /* window w = tokens [w (N+1), (w+1)(N+1)): inputs its first N, targets its last N */
            rl_shard_read(val, w * ((int64_t)N + 1), (int64_t)N + 1, tok);
            if (rl_model_infer(view[tid], tok, tok + 1, N, loss, NULL, NULL) != 0) {
                rl_fail_prefix("evaluation at context %d, window %lld", N, (long long)w);
#pragma omp critical(rl_eval_err)
                snprintf(err, sizeof err, "%s", rl_error());
                ok = 0;
                break;
            }
            for (int b = 0; b < nb; b++) {
                double sb = 0;
                for (int64_t t = out->bucket_lo[b]; t < out->bucket_hi[b]; t++) sb += loss[t];
                wsum[w * nb + b] = sb;
            }
            if (tid == 0 && show_progress) {
                int64_t d;
#pragma omp atomic read
                d = done;
                rl_progress_update(&pr, d + 1, NULL);
            }
#pragma omp atomic
            done++;
        }
        if (!ok) {
#pragma omp atomic write
            rc = -1;
        }
        free(tok);
        free(loss);
    }
    for (int i = 1; i < nv && i < 64; i++) rl_model_free(view[i]);
    if (rc != 0) {
        free(wsum);
        return err[0] ? rl_fail("%s", err) : -1;
    }
    if (show_progress) {
        pr.done = W;
        rl_progress_finish(&pr, NULL);
    }
    double bsum[RL_EVAL_MAX_BUCKETS] = {0}, total = 0;
    for (int64_t w = 0; w < W; w++) {
        double ws = 0;
        for (int b = 0; b < nb; b++) {
            bsum[b] += wsum[w * nb + b];
            ws += wsum[w * nb + b];
        }
        total += ws;
    }
    free(wsum);
    out->loss = total / (double)out->predictions;
    out->ppl = exp(out->loss);
    for (int b = 0; b < out->n_buckets; b++) out->bucket_loss[b] = bsum[b] / (double)out->bucket_count[b];
    return 0;
}

rl_model *rl_model_with_pe(const rl_model *m, const char *pe_list) {
    rl_model_config c = m->cfg;
    if (rl_model_config_set_pe(&c, pe_list) != 0) {
        rl_fail_prefix("encoding \"%s\"", pe_list);
        return NULL;
    }
    rl_model *n = rl_model_new(&c, 0);
    if (!n) {
        rl_fail_prefix("encoding \"%s\"", pe_list);
        return NULL;
    }
    if (n->n_tensors != m->n_tensors) { /* the encoding never changes the tensors; guard anyway */
        rl_model_free(n);
        rl_fail("encoding \"%s\": the parameter table changed", pe_list);
        return NULL;
    }
    for (int i = 0; i < n->n_tensors; i++) *n->table[i].slot = *m->table[i].slot;
    if (rl_model_check_params(n) != 0) {
        rl_model_free(n);
        return NULL;
    }
    return n;
}
