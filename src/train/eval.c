/* The evaluation protocol: validation loss at one context over consecutive non-overlapping
 * windows, with power-of-two position buckets; and encoding overrides sharing the weights. */
#include "ropelab/train.h"
#include "ropelab/util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
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
    int32_t *tok = rl_malloc(((size_t)N + 1) * sizeof *tok, "evaluation window");
    float *loss = rl_malloc((size_t)N * sizeof *loss, "evaluation losses");
    double bsum[RL_EVAL_MAX_BUCKETS] = {0}, total = 0;
    int rc = tok && loss ? 0 : -1;
    rl_progress pr;
    if (show_progress) {
        char label[48];
        snprintf(label, sizeof label, "eval context %d", N);
        rl_progress_start(&pr, label, W, "window");
    }
    for (int64_t w = 0; rc == 0 && w < W; w++) {
        /* window w = tokens [w (N+1), (w+1)(N+1)): inputs its first N, targets its last N */
        rl_shard_read(val, w * ((int64_t)N + 1), (int64_t)N + 1, tok);
        if (rl_model_infer(m, tok, tok + 1, N, loss, NULL, NULL) != 0) {
            rc = rl_fail_prefix("evaluation at context %d, window %lld", N, (long long)w);
            break;
        }
        double ws = 0;
        for (int b = 0; b < out->n_buckets; b++) {
            double s = 0;
            for (int64_t t = out->bucket_lo[b]; t < out->bucket_hi[b]; t++) s += loss[t];
            bsum[b] += s;
            ws += s;
        }
        total += ws;
        if (show_progress) rl_progress_update(&pr, w + 1, NULL);
    }
    if (show_progress && rc == 0) rl_progress_finish(&pr, NULL);
    free(tok);
    free(loss);
    if (rc != 0) return rc;
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
