/* model inference: per-architecture fixtures (tiny random models whose logits are checked against
 * the naive float64 reference in tests/model_ref.c), KV-cache decoding against the full forward,
 * the analysis hooks, and the long-context workspace bound. */
#include "helpers.h"
#include "model_ref.h"
#include "ropelab/model.h"
#include "ropelab/util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The fixture of one architecture: a tiny config with its real layout flags. */
static rl_model *fixture(const char *arch, uint64_t seed) {
    rl_model_config c;
    cr_assert_eq(rl_model_config_preset(&c, arch), 0, "%s", rl_error());
    c.vocab_size = 19;
    c.d_model = 16;
    c.n_layers = 3;
    c.n_heads = 4;
    c.n_kv_heads = 2;
    c.head_dim = 8;
    c.d_ff = 20;
    c.max_seq = 16;
    c.bos_id = c.eos_id = -1;
    rl_arch a;
    rl_arch_from_name(arch, &a);
    switch (a) {
    case RL_ARCH_LLAMA: cr_assert_eq(rl_model_config_set_pe(&c, "rope:theta=100"), 0); break;
    case RL_ARCH_MISTRAL: c.sliding_window = 4; break; /* every layer, window shorter than the text */
    case RL_ARCH_QWEN2: break;                         /* q/k/v biases, theta 1e6 */
    case RL_ARCH_GEMMA:
        c.n_kv_heads = 1; /* MQA, as Gemma 2B */
        c.head_dim = 12;  /* != d_model / n_heads, as Gemma 7B */
        cr_assert_eq(rl_model_config_set_pe(&c, "rope:theta=100"), 0);
        break;
    case RL_ARCH_GEMMA2:
        c.attn_softcap = 2.0; /* small caps, so tanh is far from linear on these logits */
        c.final_softcap = 1.5;
        c.sliding_window = 3; /* even layers */
        c.query_pre_attn_scalar = 10;
        cr_assert_eq(rl_model_config_set_pe(&c, "rope:theta=100"), 0);
        break;
    case RL_ARCH_GPT_NEOX:
        c.n_kv_heads = 4;
        c.head_dim = 16; /* rotary_pct 0.25 -> 4 rotated dims */
        break;
    case RL_ARCH_LLAMA2C: cr_assert_eq(rl_model_config_set_pe(&c, "rope:theta=100,layout=interleaved"), 0); break;
    default: break;
    }
    rl_model *m = rl_model_new(&c, 1);
    cr_assert(m, "%s: %s", arch, rl_error());
    ref_randomize(m, seed, 0.35);
    return m;
}

static void tokens_for(int32_t *t, int n, int V, uint64_t seed) {
    rl_rng r;
    rl_rng_seed(&r, seed);
    for (int i = 0; i < n; i++) t[i] = (int32_t)rl_rng_below(&r, (uint64_t)V);
}

/* Float32 logits against float64: O(1 .. 5) logits after 3 layers; the float32 path carries about
 * 1e-6 relative error per layer (measured: below 2e-6 of the largest logit). We allow
 * 2e-5 * (1 + max|ref|), ten times that; a layout mistake (wrong pairs, biases, norms, residual
 * order, soft-cap) changes logits by O(0.1 .. 1). */
static void expect_logits(const float *got, const double *ref, size_t n, const char *what, const char *arch) {
    double scale = 0;
    for (size_t i = 0; i < n; i++) scale = fmax(scale, fabs(ref[i]));
    for (size_t i = 0; i < n; i++)
        cr_assert(fabs(got[i] - ref[i]) <= 2e-5 * (1 + scale), "%s %s [%zu]: got %.8g, reference %.8g", arch, what, i,
                  (double)got[i], ref[i]);
}

/* kind: the attention softmax, switched on the created model with rl_model_set_attn_softmax (the
 * inference override; the fixtures' configs say "softmax"). The reference reads m->cfg. */
static void check_arch_kind(const char *arch, uint64_t seed, rl_attn_softmax kind) {
    rl_model *m = fixture(arch, seed);
    cr_assert_eq(rl_model_set_attn_softmax(m, kind), 0, "%s", rl_error());
    const int n = 11, V = m->cfg.vocab_size;
    int32_t tok[11], tgt[11];
    tokens_for(tok, n, V, seed + 1);
    for (int i = 0; i < n; i++) tgt[i] = i + 1 < n ? tok[i + 1] : -1;
    double *P = ref_params_from_model(m), *ref = malloc((size_t)n * V * sizeof *ref);
    ref_forward(m, P, tok, n, ref);
    float *lg = malloc((size_t)n * V * sizeof *lg), losses[11];
    cr_assert_eq(rl_model_infer(m, tok, tgt, n, losses, lg, NULL), 0, "%s", rl_error());
    expect_logits(lg, ref, (size_t)n * V, "full forward", arch);
    /* per-position losses from the reference logits */
    for (int i = 0; i < n; i++) {
        double want = 0;
        if (tgt[i] >= 0) {
            double mx = -INFINITY, s = 0;
            for (int j = 0; j < V; j++) mx = fmax(mx, ref[(size_t)i * V + j]);
            for (int j = 0; j < V; j++) s += exp(ref[(size_t)i * V + j] - mx);
            want = log(s) + mx - ref[(size_t)i * V + tgt[i]];
        }
        cr_assert(fabs(losses[i] - want) <= 1e-4 * (1 + want), "%s loss[%d] %g vs %g", arch, i, losses[i], want);
    }
    /* KV cache: a 4-token prompt, then one token at a time, against the full forward */
    rl_kv_cache kc;
    cr_assert_eq(rl_kv_cache_init(&kc, m, n), 0, "%s", rl_error());
    float *one = malloc((size_t)V * sizeof *one);
    cr_assert_eq(rl_model_decode(m, &kc, tok, 4, one), 0, "%s", rl_error());
    expect_logits(one, ref + (size_t)3 * V, (size_t)V, "decode after prompt", arch);
    for (int i = 4; i < n; i++) {
        cr_assert_eq(rl_model_decode(m, &kc, tok + i, 1, one), 0, "%s", rl_error());
        expect_logits(one, ref + (size_t)i * V, (size_t)V, "decode step", arch);
    }
    cr_assert_eq(kc.n, n);
    cr_assert_neq(rl_model_decode(m, &kc, tok, 1, one), 0, "overflowing the cache must fail");
    cr_assert(strstr(rl_error(), "overflow"), "%s", rl_error());
    rl_kv_cache_free(&kc);
    if (kind != RL_ATTN_PLAIN) { /* adaptive must change the logits here (rows of 3 .. 11 spread keys) */
        float *lp = malloc((size_t)n * V * sizeof *lp);
        cr_assert_eq(rl_model_set_attn_softmax(m, RL_ATTN_PLAIN), 0);
        cr_assert_eq(rl_model_infer(m, tok, NULL, n, NULL, lp, NULL), 0, "%s", rl_error());
        double d = 0;
        for (size_t i = 0; i < (size_t)n * V; i++) d = fmax(d, fabs(lp[i] - lg[i]));
        cr_assert(d > 1e-3, "%s: adaptive and plain logits differ by %g only", arch, d);
        free(lp);
    }
    free(one), free(P), free(ref), free(lg);
    rl_model_free(m);
}

static void check_arch(const char *arch, uint64_t seed) { check_arch_kind(arch, seed, RL_ATTN_PLAIN); }

Test(model_infer, llama) { check_arch("LlamaForCausalLM", 1); }
Test(model_infer, mistral_sliding_window) { check_arch("MistralForCausalLM", 2); }
Test(model_infer, qwen2_qkv_bias) { check_arch("Qwen2ForCausalLM", 3); }
Test(model_infer, gemma_mqa_head_dim) { check_arch("GemmaForCausalLM", 4); }
Test(model_infer, gemma2_softcap_sandwich_alternating_window) { check_arch("Gemma2ForCausalLM", 5); }
Test(model_infer, gpt_neox_fused_parallel_partial) { check_arch("GPTNeoXForCausalLM", 6); }
Test(model_infer, llama2c_interleaved) { check_arch("llama2c", 7); }
/* adaptive temperature at inference on checkpoints configured with plain softmax: full forward and
 * KV-cache decoding (a decode step is one query row: exact) against the float64 reference */
Test(model_infer, adaptive_llama) { check_arch_kind("llama", 1, RL_ATTN_ADAPTIVE); }
Test(model_infer, adaptive_mistral_sliding_window) { check_arch_kind("mistral", 2, RL_ATTN_ADAPTIVE_CONST); }
/* Gemma 2: attention soft-capping, then the entropy and beta of the capped row */
Test(model_infer, adaptive_gemma2_softcap_alternating_window) { check_arch_kind("gemma2", 5, RL_ATTN_ADAPTIVE); }
Test(model_infer, adaptive_gpt_neox) { check_arch_kind("gpt_neox", 6, RL_ATTN_ADAPTIVE); }

/* 300 tokens: the prompt goes through decode chunks of 64 and the key tiles of 256 split, so the
 * statistics pass streams over two tiles; decoding (prompt of 290, then single steps) must equal the
 * full forward, which must equal the float64 reference. Same tolerance as expect_logits. */
Test(model_infer, adaptive_decode_long_context_matches_full_forward) {
    rl_model *m = fixture("llama", 13);
    cr_assert_eq(rl_model_set_attn_softmax(m, RL_ATTN_ADAPTIVE), 0);
    enum { n = 300, np = 290 };
    const int V = m->cfg.vocab_size;
    int32_t tok[n];
    tokens_for(tok, n, V, 14);
    float *lg = malloc((size_t)n * V * sizeof *lg), *one = malloc((size_t)V * sizeof *one);
    double *P = ref_params_from_model(m), *ref = malloc((size_t)n * V * sizeof *ref);
    ref_forward(m, P, tok, n, ref);
    cr_assert_eq(rl_model_infer(m, tok, NULL, n, NULL, lg, NULL), 0, "%s", rl_error());
    expect_logits(lg, ref, (size_t)n * V, "full forward, 300 tokens", "llama adaptive");
    rl_kv_cache kc;
    cr_assert_eq(rl_kv_cache_init(&kc, m, n), 0, "%s", rl_error());
    cr_assert_eq(rl_model_decode(m, &kc, tok, np, one), 0, "%s", rl_error());
    expect_logits(one, ref + (size_t)(np - 1) * V, (size_t)V, "decode after a 290-token prompt", "llama adaptive");
    for (int i = np; i < n; i++) {
        cr_assert_eq(rl_model_decode(m, &kc, tok + i, 1, one), 0, "%s", rl_error());
        expect_logits(one, ref + (size_t)i * V, (size_t)V, "decode step", "llama adaptive");
    }
    rl_kv_cache_free(&kc);
    free(lg), free(one), free(P), free(ref);
    rl_model_free(m);
}

Test(model_infer, set_attn_softmax_rejects_unknown_kinds) {
    rl_model *m = fixture("llama", 1);
    cr_assert_neq(rl_model_set_attn_softmax(m, (rl_attn_softmax)3), 0);
    cr_assert(strstr(rl_error(), "attn_softmax"), "%s", rl_error());
    cr_assert_eq(m->cfg.attn_softmax, RL_ATTN_PLAIN);
    rl_model_free(m);
}

Test(model_infer, gpt_neox_sequential_residual_gelu_tanh) {
    /* NeoX with use_parallel_residual = false and a tanh GELU: the other residual order */
    rl_model *m0 = fixture("gpt_neox", 8);
    rl_model_config c = m0->cfg;
    rl_model_free(m0);
    c.parallel_residual = 0;
    c.mlp = RL_MLP_GELU_TANH;
    rl_model *m = rl_model_new(&c, 1);
    ref_randomize(m, 8, 0.35);
    int32_t tok[9];
    tokens_for(tok, 9, c.vocab_size, 9);
    double *P = ref_params_from_model(m), *ref = malloc((size_t)9 * c.vocab_size * sizeof *ref);
    float *lg = malloc((size_t)9 * c.vocab_size * sizeof *lg);
    ref_forward(m, P, tok, 9, ref);
    cr_assert_eq(rl_model_infer(m, tok, NULL, 9, NULL, lg, NULL), 0, "%s", rl_error());
    expect_logits(lg, ref, (size_t)9 * c.vocab_size, "full forward", "gpt_neox sequential");
    free(P), free(ref), free(lg);
    rl_model_free(m);
}

/* Loaded weights need not live in our arena: pointing every slot at separate buffers (as a loader
 * mapping a file does) gives the same logits, through the non-adjacent q/k/v and gate/up paths. */
Test(model_infer, external_weights_not_adjacent) {
    rl_model *a = fixture("qwen2", 10);
    rl_model *b = rl_model_new(&a->cfg, 0);
    cr_assert(b);
    cr_assert_neq(rl_model_check_params(b), 0, "unset slots must be reported");
    float **bufs = calloc((size_t)b->n_tensors, sizeof *bufs);
    for (int i = 0; i < b->n_tensors; i++) {
        bufs[i] = malloc(b->table[i].numel * sizeof(float));
        memcpy(bufs[i], *a->table[i].slot, b->table[i].numel * sizeof(float));
        *b->table[i].slot = bufs[i];
    }
    cr_assert_eq(rl_model_check_params(b), 0, "%s", rl_error());
    int32_t tok[10];
    tokens_for(tok, 10, a->cfg.vocab_size, 3);
    const size_t nl = (size_t)10 * a->cfg.vocab_size;
    float *la = malloc(nl * sizeof *la), *lb = malloc(nl * sizeof *lb);
    cr_assert_eq(rl_model_infer(a, tok, NULL, 10, NULL, la, NULL), 0);
    cr_assert_eq(rl_model_infer(b, tok, NULL, 10, NULL, lb, NULL), 0);
    /* one product vs three over the same inputs: identical sums up to float32 reassociation */
    for (size_t i = 0; i < nl; i++) cr_assert(fabs(la[i] - lb[i]) <= 1e-5 * (1 + fabs(la[i])), "%zu", i);
    for (int i = 0; i < b->n_tensors; i++) free(bufs[i]);
    free(bufs), free(la), free(lb);
    rl_model_free(a);
    rl_model_free(b);
}

/* ---- hooks ---------------------------------------------------------------------------------- */

typedef struct {
    int T, H;
    float *P; /* [H][T][T] */
} probs_ctx;

static void keep_probs(void *vc, int layer, int head, int row, const float *p, int n) {
    probs_ctx *c = vc;
    (void)layer;
    memcpy(c->P + ((size_t)head * c->T + row) * c->T, p, (size_t)n * sizeof *p);
}

Test(model_infer, hooks_capture_probabilities_and_prerotation_qkv) {
    rl_model *m = fixture("llama", 11);
    const rl_model_config *c = &m->cfg;
    const int n = 12, D = c->d_model, H = c->n_heads, KV = c->n_kv_heads, hd = c->head_dim, V = c->vocab_size;
    int32_t tok[12];
    tokens_for(tok, n, V, 4);
    float *q0 = malloc((size_t)n * H * hd * sizeof *q0), *k0 = malloc((size_t)n * KV * hd * sizeof *k0);
    float *v0 = malloc((size_t)n * KV * hd * sizeof *v0);
    float *qs[3] = {q0, NULL, NULL}, *ks[3] = {k0, NULL, NULL}, *vs[3] = {v0, NULL, NULL};
    uint8_t want[3] = {0, 1, 0};
    probs_ctx pc = {n, H, calloc((size_t)H * n * n, sizeof(float))};
    rl_infer_hooks hk = {0};
    hk.q = qs;
    hk.k = ks;
    hk.v = vs;
    hk.probs_layers = want;
    hk.probs_fn = keep_probs;
    hk.probs_ctx = &pc;
    float *lg = malloc((size_t)n * V * sizeof *lg), *lg0 = malloc((size_t)n * V * sizeof *lg0);
    cr_assert_eq(rl_model_infer(m, tok, NULL, n, NULL, lg, &hk), 0, "%s", rl_error());
    cr_assert_eq(rl_model_infer(m, tok, NULL, n, NULL, lg0, NULL), 0);
    /* observing changes nothing (the row kernel and the tiled kernel agree) */
    for (size_t i = 0; i < (size_t)n * V; i++) cr_assert(fabs(lg[i] - lg0[i]) <= 1e-5 * (1 + fabs(lg0[i])));
    /* layer 0's q/k/v before rotation = RMSNorm(embedding) . W^T, computed here in float64 */
    for (int t = 0; t < n; t++) {
        double x[16], ms = 0;
        for (int i = 0; i < D; i++) x[i] = m->p.wte[(size_t)tok[t] * D + i];
        for (int i = 0; i < D; i++) ms += x[i] * x[i] / D;
        for (int i = 0; i < D; i++) x[i] *= m->p.layer[0].attn_norm[i] / sqrt(ms + c->norm_eps);
        for (int o = 0; o < H * hd; o++) {
            double s = 0;
            for (int i = 0; i < D; i++) s += x[i] * m->p.layer[0].wq[(size_t)o * D + i];
            cr_assert(fabs(q0[(size_t)t * H * hd + o] - s) <= 1e-5 * (1 + fabs(s)), "q[%d][%d]", t, o);
        }
        for (int o = 0; o < KV * hd; o++) {
            double s = 0, u = 0;
            for (int i = 0; i < D; i++) s += x[i] * m->p.layer[0].wk[(size_t)o * D + i];
            for (int i = 0; i < D; i++) u += x[i] * m->p.layer[0].wv[(size_t)o * D + i];
            cr_assert(fabs(k0[(size_t)t * KV * hd + o] - s) <= 1e-5 * (1 + fabs(s)), "k[%d][%d]", t, o);
            cr_assert(fabs(v0[(size_t)t * KV * hd + o] - u) <= 1e-5 * (1 + fabs(u)), "v[%d][%d]", t, o);
        }
    }
    /* probabilities: causal rows that sum to 1 */
    for (int h = 0; h < H; h++)
        for (int i = 0; i < n; i++) {
            double s = 0;
            for (int j = 0; j < n; j++) {
                float p = pc.P[((size_t)h * n + i) * n + j];
                if (j > i) cr_assert_eq(p, 0.0f);
                s += p;
            }
            cr_assert(fabs(s - 1) < 1e-5, "head %d row %d sums to %g", h, i, s);
        }
    free(q0), free(k0), free(v0), free(pc.P), free(lg), free(lg0);
    rl_model_free(m);
}

/* Zeroing a band of q/k chunks of one head must equal a model whose q rows (and k rows, when the
 * whole kv group is masked) for those dims are zero; a frequency override with the spec's own
 * table changes nothing, and an all-zero table equals the NoPE model. */
Test(model_infer, hooks_ablations_match_edited_models) {
    rl_model *m = fixture("llama", 12);
    rl_model_config c = m->cfg;
    const int n = 10, D = c.d_model, H = c.n_heads, hd = c.head_dim, nc = hd / 2, V = c.vocab_size;
    int32_t tok[10];
    tokens_for(tok, n, V, 5);
    const size_t nl = (size_t)n * V;
    float *la = malloc(nl * sizeof *la), *lb = malloc(nl * sizeof *lb);

    /* (1) chunk mask on layer 1: head 2 keeps only chunks 0, 1; heads 0 and 1 (kv group 0) drop chunk 3 */
    uint8_t keep[4 * 4];
    memset(keep, 1, sizeof keep);
    keep[2 * nc + 2] = keep[2 * nc + 3] = 0;
    keep[0 * nc + 3] = keep[1 * nc + 3] = 0;
    const uint8_t *keeps[3] = {NULL, keep, NULL};
    rl_infer_hooks hk = {0};
    hk.qk_keep = keeps;
    cr_assert_eq(rl_model_infer(m, tok, NULL, n, NULL, la, &hk), 0, "%s", rl_error());
    rl_model *e = rl_model_new(&c, 1);
    memcpy(e->params, m->params, m->n_params * sizeof(float));
    rl_rope_freqs f;
    rl_rope_freqs_init(&f, &c.pe[1], hd, 0);
    for (int h = 0; h < H; h++)
        for (int k = 0; k < nc; k++) {
            if (keep[h * nc + k]) continue;
            int i0, i1;
            rl_rope_chunk_dims(&f, k, &i0, &i1);
            memset(e->p.layer[1].wq + (size_t)(h * hd + i0) * D, 0, (size_t)D * sizeof(float));
            memset(e->p.layer[1].wq + (size_t)(h * hd + i1) * D, 0, (size_t)D * sizeof(float));
            if (k == 3) { /* kv group 0 = heads 0, 1: both drop chunk 3, so k does too */
                memset(e->p.layer[1].wk + (size_t)i0 * D, 0, (size_t)D * sizeof(float));
                memset(e->p.layer[1].wk + (size_t)i1 * D, 0, (size_t)D * sizeof(float));
            }
        }
    rl_rope_freqs_free(&f);
    cr_assert_eq(rl_model_infer(e, tok, NULL, n, NULL, lb, NULL), 0);
    for (size_t i = 0; i < nl; i++) cr_assert(fabs(la[i] - lb[i]) <= 1e-5 * (1 + fabs(lb[i])), "mask: %zu", i);
    /* and the mask did something */
    cr_assert_eq(rl_model_infer(m, tok, NULL, n, NULL, lb, NULL), 0);
    double diff = 0;
    for (size_t i = 0; i < nl; i++) diff = fmax(diff, fabs(la[i] - lb[i]));
    cr_assert(diff > 1e-3, "the mask changed nothing (%g)", diff);
    rl_model_free(e);

    /* (2) frequency override: the spec's own table is a no-op; zeros everywhere = NoPE */
    rl_rope_freqs_init(&f, &c.pe[0], hd, 0);
    double zeros[4] = {0};
    const double *same[3] = {f.freq, f.freq, f.freq}, *none[3] = {zeros, zeros, zeros};
    memset(&hk, 0, sizeof hk);
    hk.freq = same;
    cr_assert_eq(rl_model_infer(m, tok, NULL, n, NULL, la, &hk), 0, "%s", rl_error());
    for (size_t i = 0; i < nl; i++) cr_assert(la[i] == lb[i], "own table: %zu", i);
    hk.freq = none;
    cr_assert_eq(rl_model_infer(m, tok, NULL, n, NULL, la, &hk), 0, "%s", rl_error());
    rl_model_config cn = c;
    cr_assert_eq(rl_model_config_set_pe(&cn, "nope"), 0);
    rl_model *np = rl_model_new(&cn, 1);
    memcpy(np->params, m->params, m->n_params * sizeof(float));
    cr_assert_eq(rl_model_infer(np, tok, NULL, n, NULL, lb, NULL), 0);
    for (size_t i = 0; i < nl; i++) cr_assert(la[i] == lb[i], "zero table vs nope: %zu", i);
    rl_rope_freqs_free(&f);
    rl_model_free(np);
    /* a frequency outside the rotated width fails: partial p=0.5 rotates chunks 0, 1 only */
    cr_assert_eq(rl_model_config_set_pe(&cn, "partial:p=0.5,theta=100"), 0);
    np = rl_model_new(&cn, 1);
    memcpy(np->params, m->params, m->n_params * sizeof(float));
    double bad[4] = {1, 0.5, 0, 0.1};
    const double *bads[3] = {NULL, bad, NULL};
    hk.freq = bads;
    cr_assert_neq(rl_model_infer(np, tok, NULL, n, NULL, la, &hk), 0);
    cr_assert(strstr(rl_error(), "chunk 3") && strstr(rl_error(), "layer 1"), "%s", rl_error());
    rl_model_free(np);
    free(la), free(lb);
    rl_model_free(m);
}

/* ---- long-context memory -------------------------------------------------------------------- */

/* The eval forward of the reference model (6 layers, d_model 256) at 16,384 tokens must stay well
 * under 1 GiB: its whole workspace is about n * (3 D + QKV + H hd) floats plus fixed-size chunks
 * (no n x n attention matrix, no n x V logits). We assert < 160 MiB for the formula, and that a
 * real run allocates exactly what the formula says (bench/bench_eval_long runs the 16k forward).
 * Adaptive temperature adds nothing that grows with n: its statistics pass keeps a few scalars per
 * query row of a tile, inside the fixed per-thread attention work; the formula is the same for
 * every softmax kind and at every length, and a real adaptive run allocates exactly it too. */
Test(model_infer, long_context_workspace_is_linear) {
    rl_model_config c;
    rl_model_config_default(&c);
    size_t b16k = rl_model_infer_bytes(&c, 16384), b8k = rl_model_infer_bytes(&c, 8192);
    cr_assert(b16k < (size_t)160 << 20, "workspace at 16k tokens: %zu bytes", b16k);
    /* linear: doubling n adds at most n * (3D + QKV + H hd) * 4 bytes plus the row-kernel strip */
    size_t per_token = (size_t)(3 * c.d_model + rl_model_qkv_width(&c) + c.n_heads * c.head_dim) * sizeof(float);
    cr_assert(b16k - b8k <= 8192 * per_token + ((size_t)64 * 8192 * 64 * sizeof(float)),
              "grows faster than linearly: %zu -> %zu", b8k, b16k);
    for (int kind = 1; kind < RL_ATTN_KIND_COUNT; kind++) {
        rl_model_config ca = c;
        ca.attn_softmax = (rl_attn_softmax)kind;
        for (int n = 1; n <= 65536; n *= 4) cr_assert_eq(rl_model_infer_bytes(&ca, n), rl_model_infer_bytes(&c, n));
        rl_attn_cfg a = {0}, ap;
        a.n_heads = c.n_heads;
        a.n_kv_heads = c.n_kv_heads;
        a.head_dim = c.head_dim;
        ap = a;
        a.softmax = (rl_attn_softmax)kind;
        cr_assert_eq(rl_attention_tiled_work_floats(&a), rl_attention_tiled_work_floats(&ap));
    }
    /* a small real run allocates exactly the formula's bytes */
    c.n_layers = 1;
    c.vocab_size = 300;
    rl_model *m = rl_model_new(&c, 1);
    rl_model_init_weights(m, 1);
    int32_t tok[300];
    for (int i = 0; i < 300; i++) tok[i] = i;
    float loss[300];
    cr_assert_eq(rl_model_infer(m, tok, tok, 300, loss, NULL, NULL), 0, "%s", rl_error());
    cr_assert_eq(m->infer_ws_bytes, rl_model_infer_bytes(&c, 300));
    float loss_a[300];
    cr_assert_eq(rl_model_set_attn_softmax(m, RL_ATTN_ADAPTIVE), 0);
    cr_assert_eq(rl_model_infer(m, tok, tok, 300, loss_a, NULL, NULL), 0, "%s", rl_error());
    cr_assert_eq(m->infer_ws_bytes, rl_model_infer_bytes(&c, 300));
    rl_model_free(m);
}
